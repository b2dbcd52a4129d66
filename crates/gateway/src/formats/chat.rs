//! OpenAI Chat Completions codec.

use super::ir::{self, Event, FinishReason, Image, Message, Part, Request, Role, Usage};
use super::sse::{frame, frame_value};
use super::{StreamDecoder, StreamEncoder};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;

// ---------- requests ----------

/// Separates text blocks that become one string: glued, the end of one block and the start of
/// the next run together (`</system-reminder>ping`) and the model reads them as one word
/// (docs/formats.md #36).
const BLOCK_SEPARATOR: &str = "\n\n";

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(BLOCK_SEPARATOR),
        _ => String::new(),
    }
}

/// The text parts of a message as one string, blocks kept apart.
fn joined_text(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(BLOCK_SEPARATOR)
}

fn content_parts(content: &Value) -> Result<Vec<Part>, String> {
    match content {
        Value::Null => Ok(vec![]),
        Value::String(s) => Ok(vec![Part::Text(s.clone())]),
        Value::Array(items) => items
            .iter()
            .filter_map(|it| match it.get("type").and_then(Value::as_str) {
                Some("text") | Some("input_text") => it
                    .get("text")
                    .and_then(Value::as_str)
                    .map(|t| Ok(Part::Text(t.into()))),
                Some("image_url") => {
                    let url = it
                        .get("image_url")
                        .and_then(|u| u.get("url").or(Some(u)))
                        .and_then(Value::as_str)?;
                    Some(Ok(Part::Image(image_from_url(url))))
                }
                Some(other) => Some(Err(format!("content part type {other:?} is not supported"))),
                None => None,
            })
            .collect(),
        _ => Err("message content must be a string or an array of parts".into()),
    }
}

pub(super) fn image_from_url(url: &str) -> Image {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((meta, data)) = rest.split_once(',') {
            let media_type = meta.trim_end_matches(";base64").to_string();
            return Image::Base64 {
                media_type,
                data: data.to_string(),
            };
        }
    }
    Image::Url(url.into())
}

/// Appends parts to the last message when it has the same role (formats need alternation).
fn push(messages: &mut Vec<Message>, role: Role, parts: Vec<Part>) {
    match messages.last_mut() {
        Some(last) if last.role == role => last.parts.extend(parts),
        _ => messages.push(Message { role, parts }),
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
        ..Default::default()
    };
    let msgs = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("missing required field `messages` (an array)")?;
    for m in msgs {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let content = m.get("content").unwrap_or(&Value::Null);
        match role {
            "system" | "developer" => req.system.push(text_of(content)),
            "user" => push(&mut req.messages, Role::User, content_parts(content)?),
            "assistant" => {
                let mut parts = Vec::new();
                if let Some(r) = m.get("reasoning_content").and_then(Value::as_str) {
                    if !r.is_empty() {
                        parts.push(Part::Thinking {
                            text: r.into(),
                            signature: None,
                        });
                    }
                }
                parts.extend(content_parts(content)?);
                for (i, tc) in m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let f = tc.get("function").unwrap_or(&Value::Null);
                    let name = f.get("name").and_then(Value::as_str).unwrap_or("").trim();
                    if name.is_empty() {
                        continue; // blank names cause tool loops upstream
                    }
                    parts.push(Part::ToolCall {
                        id: id_string(tc.get("id")).unwrap_or_else(|| format!("call_{i}")),
                        name: name.into(),
                        arguments: match f.get("arguments") {
                            Some(Value::String(s)) => s.clone(),
                            Some(v @ Value::Object(_)) => v.to_string(),
                            _ => "{}".into(),
                        },
                    });
                }
                push(&mut req.messages, Role::Assistant, parts);
            }
            "tool" | "function" => {
                let call_id = id_string(m.get("tool_call_id")).unwrap_or_default();
                push(
                    &mut req.messages,
                    Role::User,
                    vec![Part::ToolResult {
                        call_id,
                        content: content_parts(content)?,
                        is_error: false,
                    }],
                );
            }
            other => return Err(format!("message role {other:?} is not supported")),
        }
    }
    for t in obj
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = t.get("function").unwrap_or(t);
        let Some(name) = f.get("name").and_then(Value::as_str) else {
            continue;
        };
        req.tools.push(ir::Tool {
            name: name.into(),
            description: f.get("description").and_then(Value::as_str).map(Into::into),
            parameters: f
                .get("parameters")
                .cloned()
                .unwrap_or(json!({"type": "object"})),
            kind: ir::ToolKind::Function,
        });
    }
    req.tool_choice = match obj.get("tool_choice") {
        Some(Value::String(s)) => match s.as_str() {
            "none" => Some(ir::ToolChoice::None),
            "required" => Some(ir::ToolChoice::Required),
            _ => Some(ir::ToolChoice::Auto),
        },
        Some(v @ Value::Object(_)) => v
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(|n| ir::ToolChoice::Tool(n.into())),
        _ => None,
    };
    req.parallel_tool_calls = obj.get("parallel_tool_calls").and_then(Value::as_bool);
    req.max_tokens = obj
        .get("max_completion_tokens")
        .or(obj.get("max_tokens"))
        .and_then(Value::as_u64);
    req.temperature = obj.get("temperature").and_then(Value::as_f64);
    req.top_p = obj.get("top_p").and_then(Value::as_f64);
    req.stop = match obj.get("stop") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(Into::into).collect(),
        _ => vec![],
    };
    req.reasoning = obj
        .get("reasoning_effort")
        .and_then(Value::as_str)
        .map(|e| ir::Reasoning::Effort(e.into()));
    req.include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    req.user = obj.get("user").and_then(Value::as_str).map(Into::into);
    req.response_format =
        obj.get("response_format")
            .and_then(|f| match f.get("type").and_then(Value::as_str) {
                Some("json_object") => Some(ir::ResponseFormat::JsonObject),
                Some("json_schema") => {
                    let js = f.get("json_schema").unwrap_or(&Value::Null);
                    Some(ir::ResponseFormat::JsonSchema {
                        name: js
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("response")
                            .into(),
                        schema: js.get("schema").cloned().unwrap_or(json!({})),
                        strict: js.get("strict").and_then(Value::as_bool),
                    })
                }
                Some("text") => Some(ir::ResponseFormat::Text),
                _ => None,
            });
    if obj.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        return Err("n > 1 is not supported when translating to another API format".into());
    }
    Ok(req)
}

fn id_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn image_url(img: &Image) -> String {
    match img {
        Image::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        Image::Url(u) => u.clone(),
    }
}

fn parts_content(parts: &[Part]) -> Value {
    let only_text = parts.iter().all(|p| matches!(p, Part::Text(_)));
    if only_text {
        return Value::String(joined_text(parts));
    }
    Value::Array(
        parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(json!({"type": "text", "text": t})),
                Part::Image(i) => {
                    Some(json!({"type": "image_url", "image_url": {"url": image_url(i)}}))
                }
                _ => None,
            })
            .collect(),
    )
}

pub fn encode_request(req: &Request) -> Value {
    let mut messages = Vec::new();
    if !req.system.is_empty() {
        messages.push(json!({"role": "system", "content": req.system.join("\n\n")}));
    }
    // Mid-conversation system entries keep their place (docs/formats.md §3, #29), after the tool
    // messages that must directly follow the assistant turn they answer.
    let system_at = |i: usize, messages: &mut Vec<Value>| {
        for (_, text) in req.system_inline.iter().filter(|(at, _)| *at == i) {
            messages.push(json!({"role": "system", "content": text}));
        }
    };
    for (i, m) in req.messages.iter().enumerate() {
        if m.role == Role::Assistant {
            system_at(i, &mut messages);
        }
        match m.role {
            Role::User => {
                // Tool results become `tool` messages, placed before the user's own content.
                let mut rest = Vec::new();
                for p in &m.parts {
                    match p {
                        Part::ToolResult {
                            call_id, content, ..
                        } => messages.push(json!({
                            "role": "tool", "tool_call_id": call_id,
                            "content": text_of(&parts_content(content)),
                        })),
                        Part::Thinking { .. } | Part::ToolCall { .. } => {}
                        other => rest.push(other.clone()),
                    }
                }
                system_at(i, &mut messages);
                if !rest.is_empty() {
                    messages.push(json!({"role": "user", "content": parts_content(&rest)}));
                }
            }
            Role::Assistant => {
                let text = joined_text(&m.parts);
                let calls: Vec<Value> = m
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::ToolCall {
                            id,
                            name,
                            arguments,
                        } => Some(json!({
                            "id": id, "type": "function",
                            "function": {"name": name, "arguments": arguments},
                        })),
                        _ => None,
                    })
                    .collect();
                let mut msg = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) }});
                if !calls.is_empty() {
                    msg["tool_calls"] = Value::Array(calls);
                }
                messages.push(msg);
            }
        }
    }
    system_at(req.messages.len(), &mut messages);
    let mut out = Map::new();
    out.insert("model".into(), json!(req.model));
    out.insert("messages".into(), Value::Array(messages));
    if let Some(n) = req.max_tokens {
        out.insert("max_tokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        out.insert("temperature".into(), json!(t));
    }
    if let Some(t) = req.top_p {
        out.insert("top_p".into(), json!(t));
    }
    if !req.stop.is_empty() {
        out.insert("stop".into(), json!(req.stop));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut f = json!({"name": t.name, "parameters": t.parameters});
                if let Some(d) = &t.description {
                    f["description"] = json!(d);
                }
                json!({"type": "function", "function": f})
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(tc) = &req.tool_choice {
        out.insert(
            "tool_choice".into(),
            match tc {
                ir::ToolChoice::Auto => json!("auto"),
                ir::ToolChoice::None => json!("none"),
                ir::ToolChoice::Required => json!("required"),
                ir::ToolChoice::Tool(n) => json!({"type": "function", "function": {"name": n}}),
            },
        );
    }
    if let Some(p) = req.parallel_tool_calls {
        out.insert("parallel_tool_calls".into(), json!(p));
    }
    if let Some(e) = req.reasoning.as_ref().and_then(ir::Reasoning::effort) {
        out.insert("reasoning_effort".into(), json!(e));
    }
    if let Some(u) = &req.user {
        out.insert("user".into(), json!(u));
    }
    if let Some(f) = &req.response_format {
        out.insert(
            "response_format".into(),
            match f {
                ir::ResponseFormat::Text => json!({"type": "text"}),
                ir::ResponseFormat::JsonObject => json!({"type": "json_object"}),
                ir::ResponseFormat::JsonSchema {
                    name,
                    schema,
                    strict,
                } => {
                    let mut js = json!({"name": name, "schema": schema});
                    if let Some(st) = strict {
                        js["strict"] = json!(st);
                    }
                    json!({"type": "json_schema", "json_schema": js})
                }
            },
        );
    }
    out.insert("stream".into(), json!(req.stream));
    if req.stream {
        // Always ask for usage; the encoder drops the chunk if the client did not ask.
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Value::Object(out)
}

// ---------- responses ----------

pub fn finish_str(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

fn finish_of(s: &str) -> FinishReason {
    match s {
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

fn usage_of(u: &Value) -> Usage {
    usage_from(
        u.get("prompt_tokens").and_then(Value::as_u64),
        u.pointer("/prompt_tokens_details/cached_tokens")
            .and_then(Value::as_u64),
        u.get("completion_tokens").and_then(Value::as_u64),
        u.pointer("/completion_tokens_details/reasoning_tokens")
            .and_then(Value::as_u64),
    )
}

/// Chat counts cached tokens inside `prompt_tokens`; the IR keeps them apart.
fn usage_from(
    prompt: Option<u64>,
    cached: Option<u64>,
    completion: Option<u64>,
    reasoning: Option<u64>,
) -> Usage {
    Usage {
        input: prompt.map(|p| p.saturating_sub(cached.unwrap_or(0))),
        output: completion,
        cache_read: cached,
        cache_write: None,
        reasoning,
    }
}

fn usage_json(u: &Usage) -> Value {
    let prompt = u.total_input();
    let completion = u.output.unwrap_or(0);
    let mut v = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
    if let Some(c) = u.cache_read {
        v["prompt_tokens_details"] = json!({"cached_tokens": c});
    }
    if let Some(r) = u.reasoning {
        v["completion_tokens_details"] = json!({"reasoning_tokens": r});
    }
    v
}

pub fn decode_response(body: &Value) -> Result<ir::Response, String> {
    let choice = body
        .pointer("/choices/0")
        .ok_or("upstream response has no choices")?;
    let msg = choice.get("message").unwrap_or(&Value::Null);
    let mut parts = Vec::new();
    if let Some(r) = msg.get("reasoning_content").and_then(Value::as_str) {
        if !r.is_empty() {
            parts.push(Part::Thinking {
                text: r.into(),
                signature: None,
            });
        }
    }
    let text = text_of(msg.get("content").unwrap_or(&Value::Null));
    let mut split = ThinkSplitter::default();
    let mut events = Vec::new();
    split.push(&text, &mut events);
    split.flush(&mut events);
    for e in events {
        match e {
            Event::ThinkingDelta(t) => parts.push(Part::Thinking {
                text: t,
                signature: None,
            }),
            Event::TextDelta(t) => parts.push(Part::Text(t)),
            _ => {}
        }
    }
    for tc in msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = tc.get("function").unwrap_or(&Value::Null);
        parts.push(Part::ToolCall {
            id: id_string(tc.get("id")).unwrap_or_else(|| ir::new_id("call_")),
            name: f
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            arguments: f
                .get("arguments")
                .and_then(Value::as_str)
                .unwrap_or("{}")
                .into(),
        });
    }
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
        parts,
        finish: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(finish_of),
        usage: body.get("usage").map(usage_of).unwrap_or_default(),
    })
}

/// Whether a Chat answer says something (text, reasoning or a tool call) and its usage, read
/// without a `Value` tree of the whole answer or an IR. `None` for anything off the common shape
/// (no choices, content parts, `<think>` tags to split): the caller decodes it fully, which
/// gives the same verdict for the shapes read here.
pub fn summarise_answer(body: &[u8]) -> Option<(bool, Usage)> {
    let peek: CommonChunk = serde_json::from_slice(body).ok()?;
    let msg = peek.choices.into_iter().next()?.message?;
    if msg.content.as_deref().is_some_and(|c| c.contains("<think")) {
        return None;
    }
    // Whitespace alone is no answer: the full decode's think splitter drops it too.
    let says = msg.content.is_some_and(|c| !c.trim().is_empty())
        || msg.reasoning_content.is_some_and(|r| !r.is_empty())
        || msg.tool_calls.is_some_and(|t| !t.is_empty());
    Some((
        says,
        peek.usage
            .as_ref()
            .map(CommonUsage::usage)
            .unwrap_or_default(),
    ))
}

pub fn encode_response(r: &ir::Response) -> Value {
    let text: String = r
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    let reasoning: String = r
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Thinking { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let calls: Vec<Value> = r
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::ToolCall {
                id,
                name,
                arguments,
            } => Some(json!({
                "id": id, "type": "function", "function": {"name": name, "arguments": arguments}
            })),
            _ => None,
        })
        .collect();
    let mut message = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) }});
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let finish = r.finish.unwrap_or(FinishReason::Stop);
    json!({
        "id": chat_id(&r.id), "object": "chat.completion", "created": now_secs(), "model": r.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_str(finish)}],
        "usage": usage_json(&r.usage),
    })
}

fn chat_id(id: &str) -> String {
    if id.starts_with("chatcmpl-") {
        id.into()
    } else {
        format!("chatcmpl-{id}")
    }
}

fn now_secs() -> u64 {
    crate::clock::now_unix()
}

// ---------- streams ----------

/// Splits `<think>…</think>` at the start of an answer (DeepSeek/Qwen style) into reasoning,
/// across chunk boundaries; the tags themselves never leak as text (docs/formats.md #3).
#[derive(Default)]
pub struct ThinkSplitter {
    /// Text that may be the beginning of a tag, held until the next chunk decides.
    pending: String,
    in_think: bool,
    /// Once real text has been emitted, `<think>` is just text.
    text_seen: bool,
    /// The line break after `</think>` is part of the tag, even when it comes in the next chunk.
    after_close: bool,
}

impl ThinkSplitter {
    pub fn push(&mut self, delta: &str, out: &mut Vec<Event>) {
        let mut s = std::mem::take(&mut self.pending) + delta;
        loop {
            if self.in_think {
                if let Some(i) = s.find("</think>") {
                    if i > 0 {
                        out.push(Event::ThinkingDelta(s[..i].into()));
                    }
                    self.in_think = false;
                    self.after_close = true;
                    s = s[i + "</think>".len()..].to_string();
                    continue;
                }
                let keep = partial_suffix(&s, "</think>");
                if s.len() > keep {
                    out.push(Event::ThinkingDelta(s[..s.len() - keep].into()));
                }
                self.pending = s[s.len() - keep..].into();
                return;
            }
            if !self.text_seen {
                let trimmed = s.trim_start();
                if let Some(rest) = trimmed.strip_prefix("<think>") {
                    self.in_think = true;
                    s = rest.to_string();
                    continue;
                }
                if "<think>".starts_with(trimmed) && !trimmed.is_empty() || trimmed.is_empty() {
                    self.pending = s; // could still become `<think>`
                    return;
                }
            }
            if self.after_close {
                s = s.trim_start_matches(['\n', '\r']).to_string();
                if s.is_empty() {
                    return;
                }
                self.after_close = false;
            }
            if !s.is_empty() {
                self.text_seen = true;
                out.push(Event::TextDelta(s));
            }
            return;
        }
    }

    /// Whatever was held back, at the end of the answer.
    pub fn flush(&mut self, out: &mut Vec<Event>) {
        let s = std::mem::take(&mut self.pending);
        if s.is_empty() {
            return;
        }
        if self.in_think {
            out.push(Event::ThinkingDelta(s));
        } else if !s.trim().is_empty() {
            out.push(Event::TextDelta(s));
        }
    }
}

/// Length of the longest suffix of `s` that is a proper prefix of `tag`.
fn partial_suffix(s: &str, tag: &str) -> usize {
    (1..tag.len())
        .rev()
        .find(|&n| {
            s.len() >= n && s.is_char_boundary(s.len() - n) && tag.starts_with(&s[s.len() - n..])
        })
        .unwrap_or(0)
}

/// Chat SSE (upstream) → IR events.
#[derive(Default)]
pub struct ChatStreamDecoder {
    think: ThinkSplitter,
    started: bool,
    /// Chat tool-call `index` → (our ordinal, upstream id).
    tools: HashMap<u64, (usize, String)>,
    next_tool: usize,
    finish: Option<FinishReason>,
    done: bool,
}

/// The shape of almost every Chat stream chunk and non-stream answer, read into borrowed fields
/// instead of a `Value` tree (one map allocation per object otherwise). A chunk carries `delta`,
/// an answer `message`.
#[derive(serde::Deserialize)]
struct CommonChunk<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    choices: Vec<CommonChoice<'a>>,
    #[serde(default)]
    usage: Option<CommonUsage>,
}

/// Chat's `usage` object, read without a tree (a `Value` map hashes every key). A count of
/// another type fails the whole common shape, and the general path reads it instead.
#[derive(serde::Deserialize)]
struct CommonUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<TokenDetails>,
    #[serde(default)]
    completion_tokens_details: Option<TokenDetails>,
}

#[derive(serde::Deserialize)]
struct TokenDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl CommonUsage {
    fn usage(&self) -> Usage {
        usage_from(
            self.prompt_tokens,
            self.prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens),
            self.completion_tokens,
            self.completion_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens),
        )
    }
}

#[derive(serde::Deserialize)]
struct CommonChoice<'a> {
    #[serde(borrow, default)]
    delta: Option<CommonDelta<'a>>,
    #[serde(borrow, default)]
    message: Option<CommonDelta<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct CommonDelta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning: Option<Cow<'a, str>>,
    /// Counted, not read: the stream path sends chunks with tool calls the general way.
    #[serde(default)]
    tool_calls: Option<Vec<serde::de::IgnoredAny>>,
}

impl ChatStreamDecoder {
    /// A chunk of the common shape (text or reasoning deltas, a finish reason, usage) decoded
    /// without a `Value` tree. Anything else (tool calls, errors, fields of unexpected types)
    /// gives `None` and takes the general path, which yields the same events for these chunks.
    fn common_chunk(&mut self, data: &str) -> Option<Vec<Event>> {
        // Asked of every chunk: finders built once (`str::contains` rebuilds its searcher).
        static OFF_SHAPE: std::sync::LazyLock<[memchr::memmem::Finder<'static>; 2]> =
            std::sync::LazyLock::new(|| {
                [
                    memchr::memmem::Finder::new("\"tool_calls\""),
                    memchr::memmem::Finder::new("\"error\""),
                ]
            });
        if OFF_SHAPE.iter().any(|f| f.find(data.as_bytes()).is_some()) {
            return None;
        }
        let chunk: CommonChunk = serde_json::from_str(data).ok()?;
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: chunk.id.unwrap_or_default().into_owned(),
                model: chunk.model.unwrap_or_default().into_owned(),
            });
        }
        if let Some(choice) = chunk.choices.first() {
            if let Some(delta) = &choice.delta {
                for r in [&delta.reasoning_content, &delta.reasoning]
                    .into_iter()
                    .flatten()
                {
                    if !r.is_empty() {
                        out.push(Event::ThinkingDelta(r.to_string()));
                    }
                }
                if let Some(t) = delta.content.as_deref().filter(|t| !t.is_empty()) {
                    self.think.push(t, &mut out);
                }
            }
            if let Some(f) = &choice.finish_reason {
                self.finish = Some(finish_of(f));
            }
        }
        if let Some(u) = &chunk.usage {
            out.push(Event::Usage(u.usage()));
        }
        Some(out)
    }
}

impl StreamDecoder for ChatStreamDecoder {
    fn event(&mut self, _name: Option<&str>, data: &str) -> Vec<Event> {
        let data = data.trim();
        if data == "[DONE]" {
            if self.done {
                return vec![]; // a duplicate [DONE] is tolerated
            }
            self.done = true;
            let mut out = Vec::new();
            self.think.flush(&mut out);
            let f = self.finish.unwrap_or(if self.next_tool > 0 {
                FinishReason::ToolCalls
            } else {
                FinishReason::Stop
            });
            out.push(Event::Finish(f));
            return out;
        }
        match self.common_chunk(data) {
            Some(out) => out,
            None => self.general_chunk(data),
        }
    }
}

impl ChatStreamDecoder {
    /// Any chunk, read as a `Value`.
    fn general_chunk(&mut self, data: &str) -> Vec<Event> {
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return vec![]; // non-JSON lines are tolerated
        };
        let mut out = Vec::new();
        if let Some(err) = chunk.get("error") {
            out.push(Event::Error {
                status: 502,
                message: super::error_message(&chunk).unwrap_or_else(|| err.to_string()),
            });
            return out;
        }
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: chunk
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
                model: chunk
                    .get("model")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
            });
        }
        if let Some(choice) = chunk.pointer("/choices/0") {
            let delta = choice.get("delta").unwrap_or(&Value::Null);
            for key in ["reasoning_content", "reasoning"] {
                if let Some(r) = delta.get(key).and_then(Value::as_str) {
                    if !r.is_empty() {
                        out.push(Event::ThinkingDelta(r.into()));
                    }
                }
            }
            if let Some(t) = delta.get("content").and_then(Value::as_str) {
                if !t.is_empty() {
                    self.think.push(t, &mut out);
                }
            }
            if delta.get("tool_calls").is_some() {
                self.think.flush(&mut out);
            }
            for tc in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let idx = tc.get("index").and_then(Value::as_u64).unwrap_or(0);
                let id = id_string(tc.get("id"));
                let name = tc
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let is_new = match (self.tools.get(&idx), &id) {
                    (None, _) => true,
                    (Some((_, seen)), Some(id)) => seen != id,
                    (Some(_), None) => false,
                };
                if is_new {
                    let ordinal = self.next_tool;
                    self.next_tool += 1;
                    let id = id.unwrap_or_else(|| format!("call_{ordinal}"));
                    self.tools.insert(idx, (ordinal, id.clone()));
                    out.push(Event::ToolCallStart {
                        index: ordinal,
                        id,
                        name: name.into(),
                    });
                }
                if let Some(args) = tc.pointer("/function/arguments").and_then(Value::as_str) {
                    if !args.is_empty() {
                        out.push(Event::ToolArgsDelta {
                            index: self.tools[&idx].0,
                            fragment: args.into(),
                        });
                    }
                }
            }
            if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish = Some(finish_of(f));
            }
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            out.push(Event::Usage(usage_of(u)));
        }
        out
    }
}

/// IR events → Chat SSE (client).
pub struct ChatStreamEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    usage: Usage,
    started: bool,
}

impl ChatStreamEncoder {
    pub fn new(model: &str, include_usage: bool) -> Self {
        Self {
            id: ir::new_id("chatcmpl-"),
            model: model.into(),
            created: now_secs(),
            include_usage,
            usage: Usage::default(),
            started: false,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<FinishReason>) -> String {
        self.chunk_raw(
            &serde_json::to_string(&delta).expect("a JSON value serialises"),
            finish,
        )
    }

    /// A chunk around `delta`, already JSON. Written out directly: a chunk is sent for every
    /// token, and building it as a `Value` tree cost an allocation per field.
    fn chunk_raw(&self, delta: &str, finish: Option<FinishReason>) -> String {
        let finish = match finish {
            Some(f) => format!("\"{}\"", finish_str(f)),
            None => "null".into(),
        };
        frame(
            None,
            &format!(
                "{{\"id\":{},\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},\"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":{finish}}}]}}",
                json_str(&self.id),
                self.created,
                json_str(&self.model),
            ),
        )
    }

    fn ensure_started(&mut self) -> String {
        if self.started {
            return String::new();
        }
        self.started = true;
        self.chunk(json!({"role": "assistant", "content": ""}), None)
    }
}

/// `s` as a JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

impl StreamEncoder for ChatStreamEncoder {
    fn encode(&mut self, event: &Event) -> String {
        match event {
            Event::Start { id, .. } => {
                if !id.is_empty() {
                    self.id = chat_id(id);
                }
                self.ensure_started()
            }
            Event::TextDelta(t) => {
                self.ensure_started()
                    + &self.chunk_raw(&format!("{{\"content\":{}}}", json_str(t)), None)
            }
            Event::ThinkingDelta(t) => {
                self.ensure_started() + &self.chunk(json!({"reasoning_content": t}), None)
            }
            Event::SignatureDelta(_) => String::new(),
            Event::ToolCallStart { index, id, name } => {
                self.ensure_started()
                    + &self.chunk(
                        json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                                               "function": {"name": name, "arguments": ""}}]}),
                        None,
                    )
            }
            Event::ToolArgsDelta { index, fragment } => self.chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}),
                None,
            ),
            Event::Usage(u) => {
                self.usage.merge(u);
                String::new()
            }
            Event::Finish(f) => {
                let mut out = self.ensure_started() + &self.chunk(json!({}), Some(*f));
                if self.include_usage {
                    let v = json!({
                        "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                        "model": self.model, "choices": [], "usage": usage_json(&self.usage),
                    });
                    out += &frame_value(None, &v);
                }
                out + "data: [DONE]\n\n"
            }
            Event::Error { status, message } => {
                let v = json!({"error": {"message": message, "type": "server_error", "code": "upstream_error", "status": status}});
                frame_value(None, &v)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed fast path and the general `Value` path give the same events, chunk after
    /// chunk, for every chunk the fast path takes; the others it leaves to the general path.
    #[test]
    fn the_common_chunk_path_agrees_with_the_general_path() {
        let stream = [
            r#"{"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            r#"{"id":"c1","model":"m","choices":[{"index":0,"delta":{"reasoning_content":"hm"},"finish_reason":null}]}"#,
            r#"{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"<think>a</th"}}]}"#,
            r#"{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"ink>Hi \"q\" \u00e9"}}]}"#,
            r#"{"id":"c1","model":"m","choices":[{"index":0,"delta":{"reasoning":"r"},"finish_reason":"length"}]}"#,
            r#"{"id":"c1","model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":1}}}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":null,"completion_tokens":3,"completion_tokens_details":{"reasoning_tokens":2,"audio_tokens":0},"prompt_tokens_details":null}}"#,
            r#"{"choices":[{"delta":null,"finish_reason":"stop"}],"usage":null}"#,
        ];
        let (mut fast, mut general) = (ChatStreamDecoder::default(), ChatStreamDecoder::default());
        for chunk in stream {
            let a = fast
                .common_chunk(chunk)
                .unwrap_or_else(|| panic!("not common: {chunk}"));
            assert_eq!(a, general.general_chunk(chunk), "{chunk}");
        }
        assert_eq!(fast.finish, general.finish);
        for other in [
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f"}}]}}]}"#,
            r#"{"error":{"message":"boom"}}"#,
            r#"{"id":7,"choices":[]}"#,
            r#"{"choices":[{"delta":{"content":["not","a","string"]}}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":1.5,"completion_tokens":2}}"#,
            r#"{"choices":[],"usage":"none"}"#,
        ] {
            assert!(
                ChatStreamDecoder::default().common_chunk(other).is_none(),
                "{other}"
            );
        }
    }

    fn split(chunks: &[&str]) -> Vec<Event> {
        let mut s = ThinkSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        s.flush(&mut out);
        out
    }

    fn joined(events: &[Event]) -> (String, String) {
        let mut think = String::new();
        let mut text = String::new();
        for e in events {
            match e {
                Event::ThinkingDelta(t) => think.push_str(t),
                Event::TextDelta(t) => text.push_str(t),
                _ => {}
            }
        }
        (think, text)
    }

    #[test]
    fn think_tags_split_across_any_chunk_boundary() {
        let whole = "<think>plan it</think>\nThe answer.";
        for cut in 1..whole.len() {
            let (a, b) = whole.split_at(cut);
            let (think, text) = joined(&split(&[a, b]));
            assert_eq!(think, "plan it", "cut at {cut}");
            assert_eq!(text, "The answer.", "cut at {cut}");
        }
        let (think, text) = joined(&split(&["<", "th", "ink>", "a", "</th", "ink>", "b"]));
        assert_eq!((think.as_str(), text.as_str()), ("a", "b"));
    }

    #[test]
    fn think_tags_later_in_the_text_are_just_text() {
        let (think, text) = joined(&split(&["Use <think> tags like this: <think>x</think>"]));
        assert_eq!(think, "");
        assert_eq!(text, "Use <think> tags like this: <think>x</think>");
        let (_, text) = joined(&split(&["<t", "able>"]));
        assert_eq!(text, "<table>");
    }

    #[test]
    fn closing_tag_never_leaks_before_a_tool_call() {
        let mut d = ChatStreamDecoder::default();
        let chunk = |delta: Value| {
            json!({"id": "c", "choices": [{"index": 0, "delta": delta}]}).to_string()
        };
        let mut ev = d.event(None, &chunk(json!({"content": "<think>hmm</thi"})));
        ev.extend(d.event(None, &chunk(json!({"content": "nk>"}))));
        ev.extend(d.event(None, &chunk(json!({"tool_calls": [{"index": 0, "id": "t", "function": {"name": "f", "arguments": "{}"}}]}))));
        ev.extend(d.event(None, "[DONE]"));
        assert!(
            !ev.iter()
                .any(|e| matches!(e, Event::TextDelta(t) if t.contains("think"))),
            "{ev:?}"
        );
        assert_eq!(joined(&ev).0, "hmm");
    }

    /// The borrowed summary of an answer agrees with decoding it (does it say something, what
    /// usage) for every answer it reads, and declines the shapes it does not read.
    #[test]
    fn answer_summary_agrees_with_the_full_decode() {
        let usage = json!({"prompt_tokens": 12, "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 2}});
        let read = [
            json!({"choices": [{"message": {"role": "assistant", "content": "hi"}}], "usage": usage}),
            json!({"choices": [{"message": {"content": ""}}], "usage": usage}),
            json!({"choices": [{"message": {"content": "\n \n"}}], "usage": usage}),
            json!({"choices": [{"message": {"content": "  x "}}]}),
            json!({"choices": [{"message": {"content": null}}]}),
            json!({"choices": [{"message": {"content": null, "reasoning_content": "hmm"}}]}),
            json!({"choices": [{"message": {"content": "", "reasoning_content": ""}}]}),
            json!({"choices": [{"message": {"content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}]}),
            json!({"choices": [{"message": {"content": null, "tool_calls": []}}]}),
            json!({"choices": [{"message": {"content": "x"}}], "usage": null}),
        ];
        for body in &read {
            let (says, u) = summarise_answer(body.to_string().as_bytes()).expect("read");
            let ir = decode_response(body).unwrap();
            assert_eq!(says, ir.says_something(), "{body}");
            assert_eq!(u, ir.usage, "{body}");
        }
        let declined = [
            json!({"choices": []}),
            json!({"error": {"message": "no"}}),
            json!({"choices": [{"message": {"content": [{"type": "text", "text": "parts"}]}}]}),
            json!({"choices": [{"message": {"content": "<think>a</think>b"}}]}),
            json!([1]),
        ];
        for body in &declined {
            assert!(
                summarise_answer(body.to_string().as_bytes()).is_none(),
                "{body}"
            );
        }
    }
}
