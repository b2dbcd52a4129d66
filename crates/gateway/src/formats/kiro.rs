//! Kiro (AWS CodeWhisperer `generateAssistantResponse`), an upstream-only format
//! (docs/providers.md "Kiro"): JSON `conversationState` in, AWS event-stream frames out. No client
//! speaks it, so only the request encoder and the stream decoder exist.
//!
//! Kiro's rules that shape the request: the current message must be a user turn; history
//! alternates user/assistant; tools travel only on the current message; there is no system
//! field (the system prompt is folded into the first user turn). Its stream has no terminal
//! event: a stream that ends between frames is a finished answer, one cut inside a frame is not.

use super::ir::{self, Event, FinishReason, Image, Part, Request, Role};
use super::StreamDecoder;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// What `origin` says about the caller; the documented value for editor agents.
const ORIGIN: &str = "AI_EDITOR";

/// Text for a user turn that carries only tool results or is needed to end on a user turn:
/// Kiro rejects empty `content`.
const TOOL_RESULTS_TEXT: &str = "Tool results are attached.";
const CONTINUE_TEXT: &str = "Continue.";

/// One turn on its way to Kiro's shape, consecutive same-role turns already merged.
struct Turn {
    role: Role,
    text: String,
    images: Vec<Value>,
    tool_uses: Vec<Value>,
    tool_results: Vec<Value>,
}

fn image(img: &Image) -> Option<Value> {
    match img {
        Image::Base64 { media_type, data } => Some(json!({
            "format": media_type.strip_prefix("image/").unwrap_or(media_type),
            "source": {"bytes": data},
        })),
        // Kiro takes image bytes only; a URL is given to the model as text instead.
        Image::Url(_) => None,
    }
}

fn result_text(content: &[Part]) -> String {
    content
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Turn {
    fn new(role: Role) -> Self {
        Self {
            role,
            text: String::new(),
            images: Vec::new(),
            tool_uses: Vec::new(),
            tool_results: Vec::new(),
        }
    }

    fn user(text: String) -> Self {
        Self {
            text,
            ..Self::new(Role::User)
        }
    }

    fn push_text(&mut self, s: &str) {
        if !s.is_empty() {
            if !self.text.is_empty() {
                self.text.push_str("\n\n");
            }
            self.text.push_str(s);
        }
    }

    fn of(m: &ir::Message) -> Self {
        let mut t = Self::new(m.role);
        for p in &m.parts {
            match p {
                Part::Text(s) => t.push_text(s),
                Part::Image(img) => match (image(img), img) {
                    (Some(v), _) => t.images.push(v),
                    (None, Image::Url(u)) => t.push_text(&format!("[image: {u}]")),
                    (None, _) => {}
                },
                Part::ToolCall {
                    id,
                    name,
                    arguments,
                } => t.tool_uses.push(json!({
                    "toolUseId": id,
                    "name": name,
                    "input": ir::arguments_object(arguments),
                })),
                Part::ToolResult {
                    call_id,
                    content,
                    is_error,
                } => t.tool_results.push(json!({
                    "toolUseId": call_id,
                    "content": [{"text": result_text(content)}],
                    "status": if *is_error { "error" } else { "success" },
                })),
                // Reasoning from another provider is never replayed (docs/formats.md #26).
                Part::Thinking { .. } => {}
            }
        }
        t
    }
}

/// Adds `t`, merged into the last turn when both have the same role: Kiro wants strict
/// user/assistant alternation.
fn push_turn(out: &mut Vec<Turn>, mut t: Turn) {
    match out.last_mut() {
        Some(last) if last.role == t.role => {
            last.push_text(&t.text);
            last.images.append(&mut t.images);
            last.tool_uses.append(&mut t.tool_uses);
            last.tool_results.append(&mut t.tool_results);
        }
        _ => out.push(t),
    }
}

fn turns(req: &Request) -> Vec<Turn> {
    let mut out: Vec<Turn> = Vec::new();
    // Mid-conversation system entries stay where they were, as user text (merged into the
    // neighbouring user turn): Kiro has no system role.
    let inline = |i: usize| req.system_inline.iter().filter(move |(at, _)| *at == i);
    for i in 0..=req.messages.len() {
        for (_, text) in inline(i) {
            push_turn(&mut out, Turn::user(text.clone()));
        }
        if let Some(m) = req.messages.get(i) {
            push_turn(&mut out, Turn::of(m));
        }
    }
    out
}

fn user_message(t: &Turn, model: &str, context: Map<String, Value>) -> Value {
    let text = if !t.text.is_empty() {
        t.text.clone()
    } else if !t.tool_results.is_empty() {
        TOOL_RESULTS_TEXT.into()
    } else {
        CONTINUE_TEXT.into()
    };
    let mut m = Map::new();
    m.insert("content".into(), Value::String(text));
    m.insert("modelId".into(), Value::String(model.into()));
    m.insert("origin".into(), Value::String(ORIGIN.into()));
    if !t.images.is_empty() {
        m.insert("images".into(), Value::Array(t.images.clone()));
    }
    if !context.is_empty() {
        m.insert("userInputMessageContext".into(), Value::Object(context));
    }
    json!({ "userInputMessage": m })
}

fn results_context(t: &Turn) -> Map<String, Value> {
    let mut c = Map::new();
    if !t.tool_results.is_empty() {
        c.insert("toolResults".into(), Value::Array(t.tool_results.clone()));
    }
    c
}

fn assistant_message(t: &Turn) -> Value {
    let mut m = Map::new();
    let text = if t.text.is_empty() && t.tool_uses.is_empty() {
        CONTINUE_TEXT.to_string()
    } else {
        t.text.clone()
    };
    m.insert("content".into(), Value::String(text));
    if !t.tool_uses.is_empty() {
        m.insert("toolUses".into(), Value::Array(t.tool_uses.clone()));
    }
    json!({ "assistantResponseMessage": m })
}

/// The `generateAssistantResponse` body for `req`.
pub fn encode_request(req: &Request) -> Value {
    let mut turns = turns(req);
    // The system prompt opens the first user turn: Kiro has no system field.
    let system: Vec<&str> = req
        .system
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    if !system.is_empty() {
        let system = system.join("\n\n");
        match turns.iter_mut().find(|t| t.role == Role::User) {
            Some(first) if first.text.is_empty() => first.text = system,
            Some(first) => first.text = format!("{system}\n\n{}", first.text),
            None => turns.insert(0, Turn::user(system)),
        }
    }
    // History must open with a user turn and the current message must be one.
    if turns.first().is_some_and(|t| t.role == Role::Assistant) {
        turns.insert(0, Turn::user(CONTINUE_TEXT.into()));
    }
    if turns.last().is_none_or(|t| t.role == Role::Assistant) {
        turns.push(Turn::user(String::new()));
    }
    let current = turns.pop().expect("a user turn was ensured");
    let history: Vec<Value> = turns
        .iter()
        .map(|t| match t.role {
            Role::User => user_message(t, &req.model, results_context(t)),
            Role::Assistant => assistant_message(t),
        })
        .collect();
    let mut context = results_context(&current);
    if !req.tools.is_empty() && req.tool_choice != Some(ir::ToolChoice::None) {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                json!({"toolSpecification": {
                    "name": t.name,
                    // Kiro refuses an empty description.
                    "description": t.description.as_deref().filter(|d| !d.trim().is_empty()).unwrap_or(&t.name),
                    "inputSchema": {"json": kiro_schema(&t.parameters)},
                }})
            })
            .collect();
        context.insert("tools".into(), Value::Array(tools));
    }
    let mut state = Map::new();
    state.insert("chatTriggerType".into(), json!("MANUAL"));
    state.insert("conversationId".into(), json!(ir::new_id("conv_")));
    state.insert(
        "currentMessage".into(),
        user_message(&current, &req.model, context),
    );
    if !history.is_empty() {
        state.insert("history".into(), Value::Array(history));
    }
    json!({ "conversationState": state })
}

/// Kiro validates tool schemas and rejects keywords outside the plain JSON Schema core it
/// knows; these are dropped at every level (the model still sees types, properties and
/// descriptions).
fn kiro_schema(v: &Value) -> Value {
    const DROP: [&str; 4] = ["$schema", "additionalProperties", "$id", "$comment"];
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| !DROP.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), kiro_schema(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(kiro_schema).collect()),
        other => other.clone(),
    }
}

/// Kiro events (from [`super::framing::EventStreamSplitter`]) → IR events.
#[derive(Default)]
pub struct KiroStreamDecoder {
    started: bool,
    /// toolUseId → stream tool index.
    tools: HashMap<String, usize>,
    done: bool,
}

/// HTTP-like status of an AWS exception, so the router classifies it like the same error
/// answered as a status (throttling → rate limited, validation → the request's fault).
fn exception_status(kind: &str) -> u16 {
    match kind {
        "ThrottlingException" | "ServiceQuotaExceededException" => 429,
        "ValidationException" => 400,
        "AccessDeniedException" => 403,
        "ResourceNotFoundException" => 404,
        _ => 502,
    }
}

impl StreamDecoder for KiroStreamDecoder {
    fn event(&mut self, name: Option<&str>, data: &str) -> Vec<Event> {
        if self.done {
            return Vec::new();
        }
        let name = name.unwrap_or_default();
        let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
        if let Some(kind) = name.strip_prefix(super::framing::EXCEPTION_PREFIX) {
            self.done = true;
            let message = v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("upstream exception");
            return vec![Event::Error {
                status: exception_status(kind),
                message: format!("{kind}: {message}"),
            }];
        }
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: ir::new_id("msg_"),
                model: String::new(),
            });
        }
        match name {
            "assistantResponseEvent" => {
                if let Some(t) = v.get("content").and_then(Value::as_str) {
                    if !t.is_empty() {
                        out.push(Event::TextDelta(t.into()));
                    }
                }
            }
            "reasoningContentEvent" => {
                if let Some(t) = v.get("text").and_then(Value::as_str) {
                    out.push(Event::ThinkingDelta(t.into()));
                }
            }
            "toolUseEvent" => {
                let id = v.get("toolUseId").and_then(Value::as_str).unwrap_or("");
                let next = self.tools.len();
                let index = match self.tools.get(id) {
                    Some(i) => *i,
                    None => {
                        self.tools.insert(id.to_string(), next);
                        out.push(Event::ToolCallStart {
                            index: next,
                            id: id.into(),
                            name: v
                                .get("name")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .into(),
                        });
                        next
                    }
                };
                let fragment = match v.get("input") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                if !fragment.is_empty() {
                    out.push(Event::ToolArgsDelta { index, fragment });
                }
            }
            // contextUsageEvent, meteringEvent (credits, not tokens), messageMetadataEvent and
            // unknown events carry nothing for the client.
            _ => {}
        }
        out
    }

    /// The stream ended between frames: the answer is complete. Kiro sends no stop reason, so
    /// the reason is what the answer did (a tool call means `tool_calls`, docs/formats.md #14).
    fn end(&mut self) -> Vec<Event> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        let mut out = Vec::new();
        if !self.started {
            return out;
        }
        out.push(Event::Finish(if self.tools.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(messages: Vec<ir::Message>) -> Request {
        Request {
            model: "claude-sonnet-4.5".into(),
            system: vec!["Be brief.".into()],
            messages,
            ..Default::default()
        }
    }

    fn msg(role: Role, parts: Vec<Part>) -> ir::Message {
        ir::Message { role, parts }
    }

    #[test]
    fn system_opens_the_first_user_turn_and_history_alternates() {
        let r = req(vec![
            msg(Role::User, vec![Part::Text("hi".into())]),
            msg(Role::User, vec![Part::Text("there".into())]),
            msg(
                Role::Assistant,
                vec![Part::ToolCall {
                    id: "t1".into(),
                    name: "ls".into(),
                    arguments: "{\"d\":\".\"}".into(),
                }],
            ),
            msg(
                Role::User,
                vec![Part::ToolResult {
                    call_id: "t1".into(),
                    content: vec![Part::Text("a.txt".into())],
                    is_error: false,
                }],
            ),
        ]);
        let body = encode_request(&r);
        let s = &body["conversationState"];
        let history = s["history"].as_array().unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(
            history[0]["userInputMessage"]["content"],
            "Be brief.\n\nhi\n\nthere"
        );
        assert_eq!(
            history[1]["assistantResponseMessage"]["toolUses"][0]["input"],
            json!({"d": "."})
        );
        let current = &s["currentMessage"]["userInputMessage"];
        assert_eq!(current["content"], TOOL_RESULTS_TEXT);
        assert_eq!(current["modelId"], "claude-sonnet-4.5");
        assert_eq!(
            current["userInputMessageContext"]["toolResults"][0]["toolUseId"],
            "t1"
        );
        assert!(s.get("systemPrompt").is_none());
    }

    #[test]
    fn a_conversation_ending_on_the_assistant_still_sends_a_user_turn() {
        let r = req(vec![
            msg(Role::User, vec![Part::Text("hi".into())]),
            msg(Role::Assistant, vec![Part::Text("Hel".into())]),
        ]);
        let body = encode_request(&r);
        assert_eq!(
            body["conversationState"]["currentMessage"]["userInputMessage"]["content"],
            CONTINUE_TEXT
        );
        assert_eq!(
            body["conversationState"]["history"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn tool_use_fragments_become_one_call_and_finish_as_tool_calls() {
        let mut d = KiroStreamDecoder::default();
        let mut ev = d.event(
            Some("assistantResponseEvent"),
            r#"{"content":"Let me look."}"#,
        );
        ev.extend(d.event(
            Some("toolUseEvent"),
            r#"{"toolUseId":"tooluse_1","name":"ls","input":"{\"d\":"}"#,
        ));
        ev.extend(d.event(
            Some("toolUseEvent"),
            r#"{"toolUseId":"tooluse_1","name":"ls","input":"\".\"}"}"#,
        ));
        ev.extend(d.event(
            Some("toolUseEvent"),
            r#"{"toolUseId":"tooluse_1","name":"ls","stop":true}"#,
        ));
        ev.extend(d.event(Some("meteringEvent"), r#"{"unit":"credit","usage":0.1}"#));
        ev.extend(d.end());
        let starts = ev
            .iter()
            .filter(|e| matches!(e, Event::ToolCallStart { .. }))
            .count();
        assert_eq!(starts, 1);
        let args: String = ev
            .iter()
            .filter_map(|e| match e {
                Event::ToolArgsDelta { fragment, .. } => Some(fragment.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(args, "{\"d\":\".\"}");
        assert_eq!(ev.last(), Some(&Event::Finish(FinishReason::ToolCalls)));
    }

    #[test]
    fn exceptions_become_errors_with_a_status() {
        let mut d = KiroStreamDecoder::default();
        let ev = d.event(
            Some("exception:ThrottlingException"),
            r#"{"message":"Too many requests"}"#,
        );
        assert!(
            matches!(&ev[0], Event::Error { status: 429, message } if message.contains("Too many"))
        );
        assert!(d.end().is_empty());
    }
}
