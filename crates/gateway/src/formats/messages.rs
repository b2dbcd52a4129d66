//! Anthropic Messages codec.

use super::chat::json_str;
use super::ir::{self, Event, FinishReason, Image, Message, Part, Request, Role, Usage};
use super::sse::{frame, frame_value};
use super::{StreamDecoder, StreamEncoder};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// `max_tokens` is required by Messages; used when the client did not say (docs/formats.md #33).
pub const DEFAULT_MAX_TOKENS: u64 = 64000;

// ---------- requests ----------

fn blocks_to_parts(content: &Value) -> Result<Vec<Part>, String> {
    let blocks = match content {
        Value::String(s) => return Ok(vec![Part::Text(s.clone())]),
        Value::Array(b) => b,
        Value::Null => return Ok(vec![]),
        _ => return Err("message content must be a string or an array of blocks".into()),
    };
    let mut parts = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str).unwrap_or("") {
            "text" => {
                let t = b.get("text").and_then(Value::as_str).unwrap_or("");
                parts.push(Part::Text(t.into()));
            }
            "image" => {
                let src = b.get("source").unwrap_or(&Value::Null);
                let img = match src.get("type").and_then(Value::as_str) {
                    Some("base64") => Image::Base64 {
                        media_type: src
                            .get("media_type")
                            .and_then(Value::as_str)
                            .unwrap_or("image/png")
                            .into(),
                        data: src
                            .get("data")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .into(),
                    },
                    Some("url") => Image::Url(
                        src.get("url")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .into(),
                    ),
                    other => return Err(format!("image source type {other:?} is not supported")),
                };
                parts.push(Part::Image(img));
            }
            "tool_use" => {
                let name = b.get("name").and_then(Value::as_str).unwrap_or("").trim();
                if name.is_empty() {
                    continue;
                }
                parts.push(Part::ToolCall {
                    id: b
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    name: name.into(),
                    arguments: b.get("input").cloned().unwrap_or(json!({})).to_string(),
                });
            }
            "tool_result" => parts.push(Part::ToolResult {
                call_id: b
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
                content: blocks_to_parts(b.get("content").unwrap_or(&Value::Null))?,
                is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
            }),
            "thinking" => parts.push(Part::Thinking {
                text: b
                    .get("thinking")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
                signature: b.get("signature").and_then(Value::as_str).map(Into::into),
            }),
            // Opaque to every other format; it only means something to Anthropic itself.
            "redacted_thinking" => {}
            other => return Err(format!("content block type {other:?} is not supported")),
        }
    }
    Ok(parts)
}

fn system_text(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str).map(Into::into))
            .collect(),
        _ => vec![],
    }
}

pub fn decode_request(body: &Value) -> Result<Request, String> {
    let obj = body
        .as_object()
        .ok_or("request body must be a JSON object")?;
    let mut req = Request {
        model: obj
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        stream: obj.get("stream").and_then(Value::as_bool).unwrap_or(false),
        system: obj.get("system").map(system_text).unwrap_or_default(),
        max_tokens: obj.get("max_tokens").and_then(Value::as_u64),
        temperature: obj.get("temperature").and_then(Value::as_f64),
        top_p: obj.get("top_p").and_then(Value::as_f64),
        top_k: obj.get("top_k").and_then(Value::as_u64),
        ..Default::default()
    };
    let msgs = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages: field required (an array)")?;
    // After a mid-conversation system entry the next user turn is not merged into the previous
    // one, so the entry keeps its place between them. (Assistant turns are still merged: a
    // tool-call turn must stay whole for its results to follow it.)
    let mut after_system = false;
    for m in msgs {
        let content = m.get("content").unwrap_or(&Value::Null);
        let role = match m.get("role").and_then(Value::as_str) {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            // Claude Code's mid-conversation system entries (docs/formats.md §3, #29): kept at their
            // position for Chat/Responses targets, appended to the system prompt for the others.
            Some("system") => {
                let at = req.messages.len();
                req.system_inline
                    .extend(system_text(content).into_iter().map(|t| (at, t)));
                after_system = true;
                continue;
            }
            other => return Err(format!("messages: role {other:?} is not supported")),
        };
        let parts = blocks_to_parts(content)?;
        match req.messages.last_mut() {
            Some(last) if last.role == role && (!after_system || role == Role::Assistant) => {
                last.parts.extend(parts)
            }
            _ => req.messages.push(Message { role, parts }),
        }
        after_system = false;
    }
    req.stop = obj
        .get("stop_sequences")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(Into::into).collect())
        .unwrap_or_default();
    for t in obj
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // Server tools (web_search_…) have a `type` and no schema; they are not functions.
        if t.get("type")
            .and_then(Value::as_str)
            .is_some_and(|ty| ty != "custom")
        {
            if let Some(name) = t.get("name").and_then(Value::as_str) {
                req.server_tools.push(name.into());
            }
            continue;
        }
        let Some(name) = t.get("name").and_then(Value::as_str) else {
            continue;
        };
        req.tools.push(ir::Tool {
            name: name.into(),
            description: t.get("description").and_then(Value::as_str).map(Into::into),
            parameters: t
                .get("input_schema")
                .cloned()
                .unwrap_or(json!({"type": "object"})),
            kind: ir::ToolKind::Function,
        });
    }
    if let Some(tc) = obj.get("tool_choice") {
        req.tool_choice = match tc.get("type").and_then(Value::as_str) {
            Some("none") => Some(ir::ToolChoice::None),
            Some("any") => Some(ir::ToolChoice::Required),
            Some("tool") => tc
                .get("name")
                .and_then(Value::as_str)
                .map(|n| ir::ToolChoice::Tool(n.into())),
            _ => Some(ir::ToolChoice::Auto),
        };
        if let Some(d) = tc.get("disable_parallel_tool_use").and_then(Value::as_bool) {
            req.parallel_tool_calls = Some(!d);
        }
    }
    req.reasoning = match obj
        .get("thinking")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
    {
        Some("enabled") => body
            .pointer("/thinking/budget_tokens")
            .and_then(Value::as_u64)
            .map(ir::Reasoning::Budget),
        Some("disabled") => Some(ir::Reasoning::Disabled),
        Some("adaptive") => Some(ir::Reasoning::Effort(
            body.pointer("/output_config/effort")
                .and_then(Value::as_str)
                .unwrap_or("high")
                .into(),
        )),
        _ => None,
    };
    if let Some(f) = body.pointer("/output_config/format") {
        if f.get("type").and_then(Value::as_str) == Some("json_schema") {
            req.response_format = Some(ir::ResponseFormat::JsonSchema {
                name: "response".into(),
                schema: f.get("schema").cloned().unwrap_or(json!({})),
                strict: None,
            });
        }
    }
    req.user = body
        .pointer("/metadata/user_id")
        .and_then(Value::as_str)
        .map(Into::into);
    Ok(req)
}

fn image_block(img: &Image) -> Value {
    match img {
        Image::Base64 { media_type, data } => {
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
        }
        Image::Url(u) => json!({"type": "image", "source": {"type": "url", "url": u}}),
    }
}

/// Blocks for one message; empty text is removed (Anthropic rejects it), also inside results.
fn parts_to_blocks(parts: &[Part], role: Role) -> Vec<Value> {
    let mut results = Vec::new();
    let mut rest = Vec::new();
    for p in parts {
        match p {
            Part::Text(t) if t.trim().is_empty() => {}
            Part::Text(t) => rest.push(json!({"type": "text", "text": t})),
            Part::Image(i) => rest.push(image_block(i)),
            Part::ToolCall {
                id,
                name,
                arguments,
            } if role == Role::Assistant => rest.push(json!({
                "type": "tool_use", "id": id, "name": name, "input": ir::arguments_object(arguments)
            })),
            Part::ToolCall { .. } => {}
            Part::ToolResult {
                call_id,
                content,
                is_error,
            } => {
                let inner = parts_to_blocks(content, Role::User);
                let mut b = json!({"type": "tool_result", "tool_use_id": call_id});
                if !inner.is_empty() {
                    b["content"] = Value::Array(inner);
                }
                if *is_error {
                    b["is_error"] = json!(true);
                }
                results.push(b);
            }
            // Only a signature Anthropic itself produced may be replayed; never invent one.
            Part::Thinking {
                text,
                signature: Some(sig),
            } if role == Role::Assistant && !sig.starts_with("sy1:") => rest.insert(
                0,
                json!({"type": "thinking", "thinking": text, "signature": sig}),
            ),
            Part::Thinking { .. } => {}
        }
    }
    // Tool results answering the previous turn come first in the user message.
    results.extend(rest);
    results
}

/// Anthropic rejects a top-level `oneOf`/`anyOf`/`allOf` in `input_schema` (docs/formats.md §4): the
/// branches' properties are merged into one object (an `allOf` also keeps its required keys).
fn flatten_top_level_combinators(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    for key in ["anyOf", "oneOf", "allOf"] {
        let Some(Value::Array(branches)) = obj.remove(key) else {
            continue;
        };
        for b in &branches {
            if let Some(Value::Object(props)) = b.get("properties") {
                let into = obj.entry("properties").or_insert_with(|| json!({}));
                if let Some(into) = into.as_object_mut() {
                    for (k, v) in props {
                        into.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            if key == "allOf" {
                if let Some(Value::Array(req)) = b.get("required") {
                    let into = obj.entry("required").or_insert_with(|| json!([]));
                    if let Some(into) = into.as_array_mut() {
                        for r in req {
                            if !into.contains(r) {
                                into.push(r.clone());
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn encode_request(req: &Request) -> Value {
    let mut messages: Vec<Value> = Vec::new();
    let mut answered: std::collections::HashSet<String> = Default::default();
    let mut known_calls: std::collections::HashSet<String> = Default::default();
    for m in &req.messages {
        for p in &m.parts {
            if let Part::ToolCall { id, .. } = p {
                known_calls.insert(id.clone());
            }
        }
    }
    for (i, m) in req.messages.iter().enumerate() {
        let mut blocks = parts_to_blocks(&m.parts, m.role);
        // Orphan results (no matching call) make Anthropic answer 400: drop them.
        blocks.retain(|b| {
            b.get("type") != Some(&json!("tool_result"))
                || b.get("tool_use_id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| known_calls.contains(id) && answered.insert(id.to_string()))
        });
        // Every call needs an answer before the next user turn: add empty results for missing
        // ones, and keep results in the order of the calls.
        if m.role == Role::User && i > 0 {
            if let Some(prev) = req
                .messages
                .get(i - 1)
                .filter(|p| p.role == Role::Assistant)
            {
                let order: Vec<&str> = prev
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::ToolCall { id, .. } => Some(id.as_str()),
                        _ => None,
                    })
                    .collect();
                for id in &order {
                    if answered.insert(id.to_string()) {
                        blocks.push(json!({"type": "tool_result", "tool_use_id": id}));
                    }
                }
                let rank = |b: &Value| {
                    b.get("tool_use_id")
                        .and_then(Value::as_str)
                        .and_then(|id| order.iter().position(|o| *o == id))
                        .unwrap_or(usize::MAX)
                };
                let (mut results, rest): (Vec<Value>, Vec<Value>) = blocks
                    .into_iter()
                    .partition(|b| b.get("type") == Some(&json!("tool_result")));
                results.sort_by_key(rank);
                results.extend(rest);
                blocks = results;
            }
        }
        if blocks.is_empty() {
            continue; // an empty turn is rejected
        }
        let role = match m.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        match messages.last_mut() {
            Some(last) if last["role"] == role => last["content"]
                .as_array_mut()
                .expect("array")
                .extend(blocks),
            _ => messages.push(json!({"role": role, "content": blocks})),
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(req.model));
    let mut max_tokens = req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    let budget = req.reasoning.as_ref().and_then(ir::Reasoning::budget);
    // Anthropic rejects thinking together with a forced tool choice: thinking goes, the tool stays.
    let forced = matches!(
        req.tool_choice,
        Some(ir::ToolChoice::Required | ir::ToolChoice::Tool(_))
    );
    // With thinking on, Anthropic wants the final assistant turn of a tool loop to start with a
    // thinking block; history from another provider has none (and signatures are never invented),
    // so such a request goes without thinking (docs/formats.md #26).
    let last_assistant = messages.iter().rev().find(|m| m["role"] == "assistant");
    let unsigned_tool_turn = last_assistant.is_some_and(|m| {
        let blocks = m["content"].as_array();
        let has_tool = blocks.is_some_and(|b| b.iter().any(|x| x["type"] == "tool_use"));
        let starts_thinking = blocks
            .and_then(|b| b.first())
            .is_some_and(|x| x["type"] == "thinking");
        has_tool && !starts_thinking
    });
    if let Some(b) = budget.filter(|_| !forced && !unsigned_tool_turn) {
        let b = b.max(1024);
        if b >= max_tokens {
            max_tokens = b + 8192;
        }
        out.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": b}),
        );
    }
    out.insert("max_tokens".into(), json!(max_tokens));
    let mut system = req.system.clone();
    system.extend(req.system_inline.iter().map(|(_, t)| t.clone()));
    // Structured output as an instruction: understood by every Claude model, where the native
    // `output_config.format` is rejected by older ones (docs/formats.md §11, last resort, made first).
    match &req.response_format {
        Some(ir::ResponseFormat::JsonObject) => {
            system.push("Respond with a single JSON object only, no prose and no code fences.".into())
        }
        Some(ir::ResponseFormat::JsonSchema { schema, .. }) => system.push(format!(
            "Respond with a single JSON object only, no prose and no code fences, that validates against this JSON Schema: {schema}"
        )),
        _ => {}
    }
    if !system.is_empty() {
        out.insert("system".into(), json!(system.join("\n\n")));
    }
    out.insert("messages".into(), Value::Array(messages));
    if let Some(t) = req.temperature {
        if !out.contains_key("thinking") {
            out.insert("temperature".into(), json!(t.min(1.0)));
        }
    }
    if let Some(t) = req.top_p {
        out.insert("top_p".into(), json!(t));
    }
    if let Some(k) = req.top_k {
        out.insert("top_k".into(), json!(k));
    }
    if !req.stop.is_empty() {
        out.insert("stop_sequences".into(), json!(req.stop));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut schema = t.parameters.clone();
                if !schema.is_object() {
                    schema = json!({});
                }
                flatten_top_level_combinators(&mut schema);
                schema["type"] = json!("object");
                if schema.get("properties").is_none() {
                    schema["properties"] = json!({});
                }
                let mut v = json!({"name": t.name, "input_schema": schema});
                if let Some(d) = &t.description {
                    v["description"] = json!(d);
                }
                v
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    let mut choice = match &req.tool_choice {
        Some(ir::ToolChoice::Auto) => Some(json!({"type": "auto"})),
        Some(ir::ToolChoice::None) => Some(json!({"type": "none"})),
        Some(ir::ToolChoice::Required) => Some(json!({"type": "any"})),
        Some(ir::ToolChoice::Tool(n)) => Some(json!({"type": "tool", "name": n})),
        None => None,
    };
    if req.parallel_tool_calls == Some(false) && !req.tools.is_empty() {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        if c["type"] != "none" {
            c["disable_parallel_tool_use"] = json!(true);
        }
    }
    if let Some(c) = choice.filter(|_| !req.tools.is_empty()) {
        out.insert("tool_choice".into(), c);
    }
    if let Some(u) = &req.user {
        out.insert("metadata".into(), json!({"user_id": u}));
    }
    out.insert("stream".into(), json!(req.stream));
    Value::Object(out)
}

// ---------- responses ----------

pub fn stop_str(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
    }
}

fn finish_of(s: &str) -> FinishReason {
    match s {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

fn usage_of(u: &Value) -> Usage {
    let get = |k: &str| u.get(k).and_then(Value::as_u64);
    Usage {
        input: get("input_tokens"),
        output: get("output_tokens"),
        cache_read: get("cache_read_input_tokens"),
        cache_write: get("cache_creation_input_tokens"),
        reasoning: None,
    }
}

/// [`usage_json`] written as text, for the stream frames.
fn usage_text(u: &Usage) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "{{\"input_tokens\":{},\"output_tokens\":{}",
        u.input.unwrap_or(0),
        u.output.unwrap_or(0)
    );
    if let Some(c) = u.cache_read {
        let _ = write!(out, ",\"cache_read_input_tokens\":{c}");
    }
    if let Some(c) = u.cache_write {
        let _ = write!(out, ",\"cache_creation_input_tokens\":{c}");
    }
    out.push('}');
    out
}

fn usage_json(u: &Usage) -> Value {
    let mut v =
        json!({"input_tokens": u.input.unwrap_or(0), "output_tokens": u.output.unwrap_or(0)});
    if let Some(c) = u.cache_read {
        v["cache_read_input_tokens"] = json!(c);
    }
    if let Some(c) = u.cache_write {
        v["cache_creation_input_tokens"] = json!(c);
    }
    v
}

pub fn decode_response(body: &Value) -> Result<ir::Response, String> {
    let blocks = body
        .get("content")
        .ok_or("upstream response has no content")?;
    Ok(ir::Response {
        id: body
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        parts: blocks_to_parts(blocks)?,
        finish: body
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(finish_of),
        usage: body.get("usage").map(usage_of).unwrap_or_default(),
    })
}

fn msg_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.into()
    } else if id.is_empty() {
        ir::new_id("msg_")
    } else {
        format!("msg_{id}")
    }
}

pub fn encode_response(r: &ir::Response) -> Value {
    let content: Vec<Value> = r
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) if !t.is_empty() => Some(json!({"type": "text", "text": t})),
            Part::ToolCall { id, name, arguments } => Some(json!({
                "type": "tool_use", "id": id, "name": name, "input": ir::arguments_object(arguments)
            })),
            Part::Thinking { text, signature } => Some(json!({
                "type": "thinking", "thinking": text, "signature": signature.clone().unwrap_or_default()
            })),
            _ => None,
        })
        .collect();
    let finish = r.finish.unwrap_or(FinishReason::Stop);
    json!({
        "id": msg_id(&r.id), "type": "message", "role": "assistant", "model": r.model,
        "content": content, "stop_reason": stop_str(finish), "stop_sequence": null,
        "usage": usage_json(&r.usage),
    })
}

// ---------- streams ----------

/// Anthropic SSE (upstream) → IR events.
#[derive(Default)]
pub struct MessagesStreamDecoder {
    /// content block index → tool ordinal.
    tools: HashMap<u64, usize>,
    next_tool: usize,
    finish: Option<FinishReason>,
    done: bool,
}

impl StreamDecoder for MessagesStreamDecoder {
    fn event(&mut self, name: Option<&str>, data: &str) -> Vec<Event> {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return vec![];
        };
        let kind = v.get("type").and_then(Value::as_str).or(name).unwrap_or("");
        match kind {
            "message_start" => {
                let m = v.get("message").unwrap_or(&Value::Null);
                let mut out = vec![Event::Start {
                    id: m
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    model: m
                        .get("model")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                }];
                if let Some(u) = m.get("usage") {
                    out.push(Event::Usage(usage_of(u)));
                }
                out
            }
            "content_block_start" => {
                let idx = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let b = v.get("content_block").unwrap_or(&Value::Null);
                match b.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let ordinal = self.next_tool;
                        self.next_tool += 1;
                        self.tools.insert(idx, ordinal);
                        vec![Event::ToolCallStart {
                            index: ordinal,
                            id: b
                                .get("id")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .into(),
                            name: b
                                .get("name")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .into(),
                        }]
                    }
                    Some("text") => match b.get("text").and_then(Value::as_str) {
                        Some(t) if !t.is_empty() => vec![Event::TextDelta(t.into())],
                        _ => vec![],
                    },
                    _ => vec![],
                }
            }
            "content_block_delta" => {
                let idx = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let d = v.get("delta").unwrap_or(&Value::Null);
                let s = |k: &str| {
                    d.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                match d.get("type").and_then(Value::as_str) {
                    Some("text_delta") => vec![Event::TextDelta(s("text"))],
                    Some("thinking_delta") => vec![Event::ThinkingDelta(s("thinking"))],
                    Some("signature_delta") => vec![Event::SignatureDelta(s("signature"))],
                    Some("input_json_delta") => match self.tools.get(&idx) {
                        Some(&ordinal) if !s("partial_json").is_empty() => {
                            vec![Event::ToolArgsDelta {
                                index: ordinal,
                                fragment: s("partial_json"),
                            }]
                        }
                        _ => vec![],
                    },
                    _ => vec![],
                }
            }
            "message_delta" => {
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.finish = Some(finish_of(r));
                }
                v.get("usage")
                    .map(|u| vec![Event::Usage(usage_of(u))])
                    .unwrap_or_default()
            }
            "message_stop" if !self.done => {
                self.done = true;
                vec![Event::Finish(self.finish.unwrap_or(FinishReason::Stop))]
            }
            "error" => vec![Event::Error {
                status: 502,
                message: super::error_message(&v).unwrap_or_else(|| data.to_string()),
            }],
            _ => vec![],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    Tool(usize),
}

/// IR events → Anthropic SSE (client). Dense block indexes; every opened block is closed before
/// `message_delta`.
pub struct MessagesStreamEncoder {
    model: String,
    started: bool,
    open: Option<Open>,
    next_index: usize,
    usage: Usage,
}

impl MessagesStreamEncoder {
    pub fn new(model: &str) -> Self {
        Self {
            model: model.into(),
            started: false,
            open: None,
            next_index: 0,
            usage: Usage::default(),
        }
    }

    fn ev(kind: &str, v: Value) -> String {
        frame_value(Some(kind), &v)
    }

    fn start(&mut self, id: &str) -> String {
        if self.started {
            return String::new();
        }
        self.started = true;
        // Written as text (one frame per stream, but a `Value` tree of it cost more than all
        // the text deltas of a short answer); the same bytes `json!` would give.
        format!(
            "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":{},\"type\":\"message\",\"role\":\"assistant\",\"model\":{},\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{}}}}}\n\n",
            json_str(&msg_id(id)),
            json_str(&self.model),
            usage_text(&self.usage)
        )
    }

    fn close(&mut self) -> String {
        match self.open.take() {
            Some(_) => format!(
                "event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":{}}}\n\n",
                self.next_index - 1
            ),
            None => String::new(),
        }
    }

    /// Opens a block of `kind` unless it is the open one; `block` is only built when needed.
    fn open(&mut self, kind: Open, block: impl FnOnce() -> Value) -> String {
        if self.open == Some(kind) {
            return String::new();
        }
        let mut out = self.close();
        out += &Self::ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": self.next_index, "content_block": block()}),
        );
        self.next_index += 1;
        self.open = Some(kind);
        out
    }

    fn delta(&self, delta: Value) -> String {
        self.delta_raw(&serde_json::to_string(&delta).expect("a JSON value serialises"))
    }

    /// A `content_block_delta` around `delta`, already JSON: written out directly because one
    /// goes out per token.
    fn delta_raw(&self, delta: &str) -> String {
        frame(
            Some("content_block_delta"),
            &format!(
                "{{\"type\":\"content_block_delta\",\"index\":{},\"delta\":{delta}}}",
                self.next_index - 1
            ),
        )
    }

    /// A text or thinking delta (`kind` = `text_delta` / `thinking_delta`, `field` = the key),
    /// written into one buffer: one goes out per token.
    fn text_delta(&self, kind: &str, field: &str, text: &str) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(text.len() + 128);
        let _ = write!(
            out,
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":{},\"delta\":{{\"type\":\"{kind}\",\"{field}\":",
            self.next_index - 1
        );
        out.push_str(&json_str(text));
        out.push_str("}}\n\n");
        out
    }
}

impl StreamEncoder for MessagesStreamEncoder {
    /// Anthropic SDKs ignore SSE comments but understand `ping`.
    fn keepalive(&mut self) -> String {
        if self.started {
            Self::ev("ping", json!({"type": "ping"}))
        } else {
            ": keepalive\n\n".into()
        }
    }

    fn encode(&mut self, event: &Event) -> String {
        use std::fmt::Write;
        match event {
            Event::Start { id, .. } => self.start(id),
            Event::TextDelta(t) => {
                let mut out = self.start("");
                out += &self.open(Open::Text, || json!({"type": "text", "text": ""}));
                out + &self.text_delta("text_delta", "text", t)
            }
            Event::ThinkingDelta(t) => {
                let mut out = self.start("");
                out += &self.open(
                    Open::Thinking,
                    || json!({"type": "thinking", "thinking": "", "signature": ""}),
                );
                out + &self.text_delta("thinking_delta", "thinking", t)
            }
            Event::SignatureDelta(s) if self.open == Some(Open::Thinking) => {
                self.delta(json!({"type": "signature_delta", "signature": s}))
            }
            Event::SignatureDelta(_) => String::new(),
            Event::ToolCallStart { index, id, name } => {
                let mut out = self.start("");
                let open = Open::Tool(*index);
                out += &self.close();
                out + &self.open(
                    open,
                    || json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                )
            }
            Event::ToolArgsDelta { index, fragment } => {
                if self.open == Some(Open::Tool(*index)) {
                    self.delta(json!({"type": "input_json_delta", "partial_json": fragment}))
                } else {
                    // Blocks cannot interleave; arguments of a closed call cannot be added.
                    tracing::warn!("dropping arguments for tool call {index}: its block is closed");
                    String::new()
                }
            }
            Event::Usage(u) => {
                self.usage.merge(u);
                String::new()
            }
            Event::Finish(f) => {
                let mut out = self.start("");
                out += &self.close();
                let _ = write!(
                    out,
                    "event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"{}\",\"stop_sequence\":null}},\"usage\":{}}}\n\n",
                    stop_str(*f),
                    usage_text(&self.usage)
                );
                out + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
            }
            Event::Error { status, message } => Self::ev(
                "error",
                json!({"type": "error", "error": {"type": error_type(*status), "message": message}}),
            ),
        }
    }
}

/// Anthropic's `error.type` for a status (docs/api-surface.md §8).
pub fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stream frames written as text are the frames a `Value` tree would give, byte for
    /// byte, with and without cache counts and with characters that need escaping.
    #[test]
    fn text_frames_match_their_json_trees() {
        for usage in [
            Usage::default(),
            Usage {
                input: Some(10),
                output: Some(3),
                cache_read: Some(7),
                cache_write: Some(2),
                reasoning: None,
            },
        ] {
            let mut e = MessagesStreamEncoder::new("claude-\"q\"/é");
            e.usage = usage;
            let start = e.start("abc");
            let want = frame_value(
                Some("message_start"),
                &json!({"type": "message_start", "message": {
                    "id": "msg_abc", "type": "message", "role": "assistant", "model": "claude-\"q\"/é",
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": usage_json(&usage),
                }}),
            );
            assert_eq!(start, want);
            let text = e.encode(&Event::TextDelta("hi".into()));
            assert!(text.contains("\"text_delta\""), "{text}");
            let end = e.encode(&Event::Finish(FinishReason::ToolCalls));
            let want_end = frame_value(
                Some("content_block_stop"),
                &json!({"type": "content_block_stop", "index": 0}),
            ) + &frame_value(
                Some("message_delta"),
                &json!({"type": "message_delta",
                       "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                       "usage": usage_json(&usage)}),
            ) + &frame_value(Some("message_stop"), &json!({"type": "message_stop"}));
            assert_eq!(end, want_end);
        }
    }
}
