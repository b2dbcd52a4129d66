//! OpenAI Responses codec (what Codex CLI speaks).

use super::ir::{self, Event, FinishReason, Image, Message, Part, Request, Role, Usage};
use super::sse::frame_value;
use super::{StreamDecoder, StreamEncoder};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

// ---------- requests ----------

fn content_parts(content: &Value) -> Vec<Part> {
    match content {
        Value::String(s) => vec![Part::Text(s.clone())],
        Value::Array(items) => items
            .iter()
            .filter_map(|c| match c.get("type").and_then(Value::as_str) {
                Some("input_text" | "output_text" | "text") => c
                    .get("text")
                    .and_then(Value::as_str)
                    .map(|t| Part::Text(t.into())),
                Some("input_image") => c
                    .get("image_url")
                    .and_then(Value::as_str)
                    .map(|u| Part::Image(super::chat::image_from_url(u))),
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

fn push(messages: &mut Vec<Message>, role: Role, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    match messages.last_mut() {
        Some(last) if last.role == role => last.parts.extend(parts),
        _ => messages.push(Message { role, parts }),
    }
}

fn output_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.get("text").and_then(Value::as_str))
            .collect(),
        other => other.to_string(),
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
        max_tokens: obj.get("max_output_tokens").and_then(Value::as_u64),
        temperature: obj.get("temperature").and_then(Value::as_f64),
        top_p: obj.get("top_p").and_then(Value::as_f64),
        parallel_tool_calls: obj.get("parallel_tool_calls").and_then(Value::as_bool),
        user: obj.get("user").and_then(Value::as_str).map(Into::into),
        ..Default::default()
    };
    if let Some(i) = obj.get("instructions").and_then(Value::as_str) {
        req.system.push(i.into());
    }
    // `input` may be a string, one item, or a list of items (docs/formats.md #12).
    let items = match obj.get("input") {
        Some(Value::String(s)) => vec![json!({"role": "user", "content": s})],
        Some(Value::Array(a)) => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        None | Some(Value::Null) => vec![],
        Some(_) => return Err("`input` must be a string or a list of items".into()),
    };
    for it in &items {
        let kind = it.get("type").and_then(Value::as_str).unwrap_or("message");
        match kind {
            "message" => {
                let content = it.get("content").unwrap_or(&Value::Null);
                match it.get("role").and_then(Value::as_str) {
                    Some("system" | "developer") => req.system.push(output_text(content)),
                    Some("assistant") => {
                        push(&mut req.messages, Role::Assistant, content_parts(content))
                    }
                    _ => push(&mut req.messages, Role::User, content_parts(content)),
                }
            }
            "function_call" | "custom_tool_call" => {
                let name = it.get("name").and_then(Value::as_str).unwrap_or("").trim();
                if name.is_empty() {
                    continue;
                }
                let arguments = match it.get("arguments").or(it.get("input")) {
                    Some(Value::String(s)) if kind == "custom_tool_call" => {
                        json!({"input": s}).to_string()
                    }
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => "{}".into(),
                };
                push(
                    &mut req.messages,
                    Role::Assistant,
                    vec![Part::ToolCall {
                        id: it
                            .get("call_id")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .into(),
                        name: name.into(),
                        arguments,
                    }],
                );
            }
            "function_call_output" | "custom_tool_call_output" => push(
                &mut req.messages,
                Role::User,
                vec![Part::ToolResult {
                    call_id: it
                        .get("call_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    content: vec![Part::Text(output_text(
                        it.get("output").unwrap_or(&Value::Null),
                    ))],
                    is_error: false,
                }],
            ),
            // Reasoning items are bound to the account that produced them: not replayed elsewhere.
            "reasoning" => {}
            other => return Err(format!("input item type {other:?} is not supported")),
        }
    }
    for t in obj
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match t.get("type").and_then(Value::as_str) {
            Some("function") => {
                let Some(name) = t.get("name").and_then(Value::as_str) else {
                    continue;
                };
                req.tools.push(ir::Tool {
                    name: name.into(),
                    description: t.get("description").and_then(Value::as_str).map(Into::into),
                    parameters: t
                        .get("parameters")
                        .cloned()
                        .unwrap_or(json!({"type": "object"})),
                    kind: ir::ToolKind::Function,
                });
            }
            // Freeform tools (Codex `apply_patch`) become a function taking one string (#16).
            Some("custom") => {
                let Some(name) = t.get("name").and_then(Value::as_str) else {
                    continue;
                };
                req.tools.push(ir::Tool {
                    name: name.into(),
                    description: t.get("description").and_then(Value::as_str).map(Into::into),
                    parameters: ir::freeform_schema(),
                    kind: ir::ToolKind::Freeform {
                        format: t.get("format").cloned(),
                    },
                });
            }
            // Built-in tools (web_search…) exist only on OpenAI itself (#15).
            Some(builtin) => req.server_tools.push(builtin.into()),
            None => {}
        }
    }
    req.tool_choice = match obj.get("tool_choice") {
        Some(Value::String(s)) => match s.as_str() {
            "none" => Some(ir::ToolChoice::None),
            "required" => Some(ir::ToolChoice::Required),
            _ => Some(ir::ToolChoice::Auto),
        },
        // `{type: function|custom, name}`, or `{type: <built-in>}` forcing a built-in tool.
        Some(v @ Value::Object(_)) => v
            .get("name")
            .or_else(|| {
                v.get("type")
                    .filter(|t| !matches!(t.as_str(), Some("function" | "custom")))
            })
            .and_then(Value::as_str)
            .map(|n| ir::ToolChoice::Tool(n.into())),
        _ => None,
    };
    req.response_format =
        body.pointer("/text/format")
            .and_then(|f| match f.get("type").and_then(Value::as_str) {
                Some("json_object") => Some(ir::ResponseFormat::JsonObject),
                Some("json_schema") => Some(ir::ResponseFormat::JsonSchema {
                    name: f
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("response")
                        .into(),
                    schema: f.get("schema").cloned().unwrap_or(json!({})),
                    strict: f.get("strict").and_then(Value::as_bool),
                }),
                Some("text") => Some(ir::ResponseFormat::Text),
                _ => None,
            });
    req.reasoning = body
        .pointer("/reasoning/effort")
        .and_then(Value::as_str)
        .map(|e| ir::Reasoning::Effort(e.into()));
    Ok(req)
}

/// Responses limits `call_id` to 64 characters. Longer ids (some providers issue long ones) are
/// shortened by a pure function, so a call and its output always map to the same id (#7).
pub fn call_id(id: &str) -> String {
    if id.len() <= 64 {
        return id.to_string();
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut cut = 47;
    while !id.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{h:016x}", &id[..cut])
}

pub fn encode_request(req: &Request) -> Value {
    // Freeform tools stay freeform here: their calls and outputs are replayed as custom items.
    let freeform: std::collections::HashSet<&str> = req
        .tools
        .iter()
        .filter(|t| matches!(t.kind, ir::ToolKind::Freeform { .. }))
        .map(|t| t.name.as_str())
        .collect();
    let custom_calls: std::collections::HashSet<&str> = req
        .messages
        .iter()
        .flat_map(|m| &m.parts)
        .filter_map(|p| match p {
            Part::ToolCall { id, name, .. } if freeform.contains(name.as_str()) => {
                Some(id.as_str())
            }
            _ => None,
        })
        .collect();
    let mut input = Vec::new();
    let system_at = |i: usize, input: &mut Vec<Value>| {
        for (_, text) in req.system_inline.iter().filter(|(at, _)| *at == i) {
            input.push(json!({"type": "message", "role": "developer",
                              "content": [{"type": "input_text", "text": text}]}));
        }
    };
    for (i, m) in req.messages.iter().enumerate() {
        // A mid-conversation system entry keeps its place, after the tool outputs that must
        // directly answer the previous turn (docs/formats.md §3, #29).
        let mut system_pending = true;
        if m.role == Role::Assistant {
            system_at(i, &mut input);
            system_pending = false;
        }
        let mut content = Vec::new();
        let flush = |content: &mut Vec<Value>, input: &mut Vec<Value>| {
            if !content.is_empty() {
                let role = if m.role == Role::User {
                    "user"
                } else {
                    "assistant"
                };
                input.push(
                    json!({"type": "message", "role": role, "content": std::mem::take(content)}),
                );
            }
        };
        for p in &m.parts {
            if system_pending && !matches!(p, Part::ToolResult { .. }) {
                system_at(i, &mut input);
                system_pending = false;
            }
            match p {
                Part::Text(t) if t.is_empty() => {}
                Part::Text(t) => content.push(match m.role {
                    Role::User => json!({"type": "input_text", "text": t}),
                    Role::Assistant => json!({"type": "output_text", "text": t}),
                }),
                Part::Image(i) => content.push(json!({"type": "input_image", "image_url": match i {
                    Image::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
                    Image::Url(u) => u.clone(),
                }})),
                Part::ToolCall { id, name, arguments } => {
                    flush(&mut content, &mut input);
                    if freeform.contains(name.as_str()) {
                        input.push(json!({"type": "custom_tool_call", "call_id": call_id(id), "name": name, "input": ir::freeform_input(arguments)}));
                    } else {
                        input.push(json!({"type": "function_call", "call_id": call_id(id), "name": name, "arguments": arguments}));
                    }
                }
                Part::ToolResult { call_id, content: c, .. } => {
                    flush(&mut content, &mut input);
                    let text: String = c
                        .iter()
                        .filter_map(|p| match p {
                            Part::Text(t) => Some(t.as_str()),
                            _ => None,
                        })
                        .collect();
                    let kind = if custom_calls.contains(call_id.as_str()) {
                        "custom_tool_call_output"
                    } else {
                        "function_call_output"
                    };
                    input.push(json!({"type": kind, "call_id": self::call_id(call_id), "output": text}));
                }
                Part::Thinking { .. } => {}
            }
        }
        flush(&mut content, &mut input);
        if system_pending {
            system_at(i, &mut input);
        }
    }
    system_at(req.messages.len(), &mut input);
    let mut out = Map::new();
    out.insert("model".into(), json!(req.model));
    if !req.system.is_empty() {
        out.insert("instructions".into(), json!(req.system.join("\n\n")));
    }
    out.insert("input".into(), Value::Array(input));
    if let Some(n) = req.max_tokens {
        out.insert("max_output_tokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        out.insert("temperature".into(), json!(t));
    }
    if let Some(t) = req.top_p {
        out.insert("top_p".into(), json!(t));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut v = match &t.kind {
                    ir::ToolKind::Freeform { format } => {
                        let mut v = json!({"type": "custom", "name": t.name});
                        if let Some(f) = format {
                            v["format"] = f.clone();
                        }
                        v
                    }
                    ir::ToolKind::Function => {
                        json!({"type": "function", "name": t.name, "parameters": t.parameters})
                    }
                };
                if let Some(d) = &t.description {
                    v["description"] = json!(d);
                }
                v
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
                ir::ToolChoice::Tool(n) if freeform.contains(n.as_str()) => {
                    json!({"type": "custom", "name": n})
                }
                ir::ToolChoice::Tool(n) => json!({"type": "function", "name": n}),
            },
        );
    }
    if let Some(p) = req.parallel_tool_calls {
        out.insert("parallel_tool_calls".into(), json!(p));
    }
    if let Some(e) = req.reasoning.as_ref().and_then(ir::Reasoning::effort) {
        out.insert("reasoning".into(), json!({"effort": e}));
    }
    if let Some(u) = &req.user {
        out.insert("user".into(), json!(u));
    }
    if let Some(f) = &req.response_format {
        let format = match f {
            ir::ResponseFormat::Text => json!({"type": "text"}),
            ir::ResponseFormat::JsonObject => json!({"type": "json_object"}),
            ir::ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            } => {
                let mut v = json!({"type": "json_schema", "name": name, "schema": schema});
                if let Some(st) = strict {
                    v["strict"] = json!(st);
                }
                v
            }
        };
        out.insert("text".into(), json!({"format": format}));
    }
    // Switchyard keeps no conversation state upstream: every request carries its full history.
    out.insert("store".into(), json!(false));
    out.insert("stream".into(), json!(req.stream));
    Value::Object(out)
}

// ---------- responses ----------

fn usage_of(u: &Value) -> Usage {
    let input = u.get("input_tokens").and_then(Value::as_u64);
    let cached = u
        .pointer("/input_tokens_details/cached_tokens")
        .and_then(Value::as_u64);
    Usage {
        input: input.map(|i| i.saturating_sub(cached.unwrap_or(0))),
        output: u.get("output_tokens").and_then(Value::as_u64),
        cache_read: cached,
        cache_write: None,
        reasoning: u
            .pointer("/output_tokens_details/reasoning_tokens")
            .and_then(Value::as_u64),
    }
}

fn usage_json(u: &Usage) -> Value {
    let input = u.total_input();
    let output = u.output.unwrap_or(0);
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": u.cache_read.unwrap_or(0)},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning.unwrap_or(0)},
        "total_tokens": input + output,
    })
}

fn finish_of(status: &str, incomplete_reason: Option<&str>, has_calls: bool) -> FinishReason {
    match (status, incomplete_reason) {
        ("incomplete", Some("content_filter")) => FinishReason::ContentFilter,
        ("incomplete", _) => FinishReason::Length,
        _ if has_calls => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

pub fn decode_response(body: &Value) -> Result<ir::Response, String> {
    let output = body
        .get("output")
        .and_then(Value::as_array)
        .ok_or("upstream response has no output")?;
    let mut parts = Vec::new();
    for item in output {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                parts.extend(content_parts(item.get("content").unwrap_or(&Value::Null)))
            }
            Some(kind @ ("function_call" | "custom_tool_call")) => {
                let text = |k: &str| item.get(k).and_then(Value::as_str);
                parts.push(Part::ToolCall {
                    id: text("call_id").unwrap_or_default().into(),
                    name: text("name").unwrap_or_default().into(),
                    // Freeform (Codex) calls carry raw `input`; functions JSON `arguments`.
                    arguments: if kind == "custom_tool_call" {
                        ir::freeform_arguments(text("input").unwrap_or_default())
                    } else {
                        text("arguments").unwrap_or("{}").into()
                    },
                })
            }
            Some("reasoning") => {
                let text: String = item
                    .get("summary")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.get("text").and_then(Value::as_str))
                    .collect();
                if !text.is_empty() {
                    parts.push(Part::Thinking {
                        text,
                        signature: None,
                    });
                }
            }
            _ => {}
        }
    }
    let has_calls = parts.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("completed");
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
        finish: Some(finish_of(
            status,
            body.pointer("/incomplete_details/reason")
                .and_then(Value::as_str),
            has_calls,
        )),
        usage: body.get("usage").map(usage_of).unwrap_or_default(),
        parts,
    })
}

fn resp_id(id: &str) -> String {
    if id.starts_with("resp_") {
        id.into()
    } else if id.is_empty() {
        ir::new_id("resp_")
    } else {
        format!("resp_{id}")
    }
}

fn now_secs() -> u64 {
    crate::clock::now_unix()
}

/// The `status` and `incomplete_details` of a finished response.
fn status_of(f: FinishReason) -> (&'static str, Value) {
    match f {
        FinishReason::Length => ("incomplete", json!({"reason": "max_output_tokens"})),
        FinishReason::ContentFilter => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

fn response_object(
    id: &str,
    model: &str,
    created: u64,
    status: &str,
    output: Vec<Value>,
    usage: Option<Value>,
    extra: Value,
) -> Value {
    let mut v = json!({
        "id": id, "object": "response", "created_at": created, "status": status, "model": model,
        "output": output, "parallel_tool_calls": true, "tool_choice": "auto", "tools": [],
        "error": null, "incomplete_details": null, "instructions": null, "metadata": {},
        "temperature": null, "top_p": null, "usage": usage,
    });
    if let Value::Object(e) = extra {
        for (k, val) in e {
            v[k] = val;
        }
    }
    v
}

pub fn encode_response(r: &ir::Response) -> Value {
    encode_response_with(r, &Default::default())
}

/// Calls of the client's freeform tools (`freeform`, by the client's names) become
/// `custom_tool_call` items carrying the text as `input` (docs/formats.md §4, #16).
pub fn encode_response_with(
    r: &ir::Response,
    freeform: &std::collections::HashSet<String>,
) -> Value {
    let mut output = Vec::new();
    let reasoning: String = r
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Thinking { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    if !reasoning.is_empty() {
        output.push(json!({"type": "reasoning", "id": ir::new_id("rs_"), "summary": [{"type": "summary_text", "text": reasoning}]}));
    }
    let text: String = r
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    if !text.is_empty() {
        output.push(json!({"type": "message", "id": ir::new_id("msg_"), "status": "completed", "role": "assistant",
                           "content": [{"type": "output_text", "text": text, "annotations": []}]}));
    }
    for p in &r.parts {
        if let Part::ToolCall {
            id,
            name,
            arguments,
        } = p
        {
            output.push(if freeform.contains(name) {
                json!({"type": "custom_tool_call", "id": format!("ctc_{id}"), "call_id": id,
                       "name": name, "input": ir::freeform_input(arguments), "status": "completed"})
            } else {
                json!({"type": "function_call", "id": format!("fc_{id}"), "call_id": id,
                       "name": name, "arguments": arguments, "status": "completed"})
            });
        }
    }
    let (status, incomplete) = status_of(r.finish.unwrap_or(FinishReason::Stop));
    response_object(
        &resp_id(&r.id),
        &r.model,
        now_secs(),
        status,
        output,
        Some(usage_json(&r.usage)),
        json!({"incomplete_details": incomplete}),
    )
}

// ---------- streams ----------

/// Responses SSE (upstream) → IR events.
#[derive(Default)]
pub struct ResponsesStreamDecoder {
    /// output_index → tool ordinal.
    tools: HashMap<u64, usize>,
    /// Freeform calls by output_index: their text is re-encoded as `{"input": "…"}` arguments,
    /// opened at the start and closed when the item is done.
    custom: HashMap<u64, CustomCall>,
    next_tool: usize,
    done: bool,
}

#[derive(Default)]
struct CustomCall {
    ordinal: usize,
    input: String,
    closed: bool,
}

impl ResponsesStreamDecoder {
    /// Closes the `{"input": "` arguments of a freeform call, adding text it did not stream.
    fn close_custom(&mut self, idx: u64, full: Option<&str>) -> Vec<Event> {
        let Some(c) = self.custom.get_mut(&idx).filter(|c| !c.closed) else {
            return vec![];
        };
        c.closed = true;
        let mut fragment = String::new();
        if let Some(rest) = full.and_then(|f| f.strip_prefix(c.input.as_str())) {
            fragment += &super::tools::json_escape(rest);
        }
        fragment += "\"}";
        vec![Event::ToolArgsDelta {
            index: c.ordinal,
            fragment,
        }]
    }
}

impl StreamDecoder for ResponsesStreamDecoder {
    fn event(&mut self, name: Option<&str>, data: &str) -> Vec<Event> {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return vec![];
        };
        let kind = v.get("type").and_then(Value::as_str).or(name).unwrap_or("");
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match kind {
            "response.created" => vec![Event::Start {
                id: v
                    .pointer("/response/id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
                model: v
                    .pointer("/response/model")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
            }],
            "response.output_item.added" => {
                let item = v.get("item").unwrap_or(&Value::Null);
                let kind = item.get("type").and_then(Value::as_str);
                if kind != Some("function_call") && kind != Some("custom_tool_call") {
                    return vec![];
                }
                let ordinal = self.next_tool;
                self.next_tool += 1;
                let idx = v.get("output_index").and_then(Value::as_u64).unwrap_or(0);
                self.tools.insert(idx, ordinal);
                let mut out = vec![Event::ToolCallStart {
                    index: ordinal,
                    id: item
                        .get("call_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    name: item
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                }];
                if kind == Some("custom_tool_call") {
                    let input = item.get("input").and_then(Value::as_str).unwrap_or("");
                    self.custom.insert(
                        idx,
                        CustomCall {
                            ordinal,
                            input: input.into(),
                            closed: false,
                        },
                    );
                    out.push(Event::ToolArgsDelta {
                        index: ordinal,
                        fragment: format!("{{\"input\":\"{}", super::tools::json_escape(input)),
                    });
                    return out;
                }
                if let Some(a) = item
                    .get("arguments")
                    .and_then(Value::as_str)
                    .filter(|a| !a.is_empty())
                {
                    out.push(Event::ToolArgsDelta {
                        index: ordinal,
                        fragment: a.into(),
                    });
                }
                out
            }
            "response.output_text.delta" => vec![Event::TextDelta(s("delta"))],
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                vec![Event::ThinkingDelta(s("delta"))]
            }
            "response.function_call_arguments.delta" => {
                let idx = v.get("output_index").and_then(Value::as_u64).unwrap_or(0);
                match self.tools.get(&idx) {
                    Some(&ordinal) => vec![Event::ToolArgsDelta {
                        index: ordinal,
                        fragment: s("delta"),
                    }],
                    None => vec![],
                }
            }
            "response.custom_tool_call_input.delta" => {
                let idx = v.get("output_index").and_then(Value::as_u64).unwrap_or(0);
                let delta = s("delta");
                match self.custom.get_mut(&idx).filter(|c| !c.closed) {
                    Some(c) if !delta.is_empty() => {
                        c.input.push_str(&delta);
                        vec![Event::ToolArgsDelta {
                            index: c.ordinal,
                            fragment: super::tools::json_escape(&delta),
                        }]
                    }
                    _ => vec![],
                }
            }
            "response.output_item.done" => {
                let idx = v.get("output_index").and_then(Value::as_u64).unwrap_or(0);
                let full = v.pointer("/item/input").and_then(Value::as_str);
                self.close_custom(idx, full)
            }
            "response.completed" | "response.incomplete" if !self.done => {
                self.done = true;
                let r = v.get("response").unwrap_or(&Value::Null);
                let mut out = Vec::new();
                let mut open: Vec<u64> = self.custom.keys().copied().collect();
                open.sort_unstable();
                for idx in open {
                    out.extend(self.close_custom(idx, None));
                }
                if let Some(u) = r.get("usage").filter(|u| u.is_object()) {
                    out.push(Event::Usage(usage_of(u)));
                }
                out.push(Event::Finish(finish_of(
                    r.get("status")
                        .and_then(Value::as_str)
                        .unwrap_or("completed"),
                    r.pointer("/incomplete_details/reason")
                        .and_then(Value::as_str),
                    self.next_tool > 0,
                )));
                out
            }
            "response.failed" | "error" => {
                let message = v
                    .pointer("/response/error/message")
                    .or(v.get("message"))
                    .or(v.pointer("/error/message"))
                    .and_then(Value::as_str)
                    .unwrap_or("the upstream reported a failure")
                    .to_string();
                vec![Event::Error {
                    status: 502,
                    message,
                }]
            }
            _ => vec![],
        }
    }
}

enum Item {
    Message {
        text: String,
    },
    Reasoning {
        text: String,
    },
    Function {
        ordinal: usize,
        call_id: String,
        name: String,
        args: String,
    },
    /// A freeform call: the `{"input": "…"}` arguments are streamed as the text itself.
    Custom {
        ordinal: usize,
        call_id: String,
        name: String,
        unwrap: super::tools::InputUnwrapper,
    },
}

/// IR events → Responses SSE (client): `response.created`, items opened and closed in order,
/// `response.completed` (or `incomplete`/`failed`), `sequence_number` on every event.
pub struct ResponsesStreamEncoder {
    id: String,
    model: String,
    created: u64,
    seq: u64,
    started: bool,
    open: Option<(usize, String, Item)>,
    output: Vec<Value>,
    usage: Usage,
    /// The client's freeform tools: their calls become `custom_tool_call` items.
    freeform: std::collections::HashSet<String>,
}

impl ResponsesStreamEncoder {
    pub fn new(model: &str) -> Self {
        Self {
            freeform: Default::default(),
            id: ir::new_id("resp_"),
            model: model.into(),
            created: now_secs(),
            seq: 0,
            started: false,
            open: None,
            output: Vec::new(),
            usage: Usage::default(),
        }
    }

    fn ev(&mut self, kind: &str, mut v: Value) -> String {
        v["type"] = json!(kind);
        v["sequence_number"] = json!(self.seq);
        self.seq += 1;
        frame_value(Some(kind), &v)
    }

    fn start(&mut self, id: Option<&str>) -> String {
        if self.started {
            return String::new();
        }
        self.started = true;
        if let Some(id) = id.filter(|i| !i.is_empty()) {
            self.id = resp_id(id);
        }
        let r = response_object(
            &self.id,
            &self.model,
            self.created,
            "in_progress",
            vec![],
            None,
            Value::Null,
        );
        let mut out = self.ev("response.created", json!({"response": r}));
        out += &self.ev("response.in_progress", json!({"response": r}));
        out
    }

    fn close(&mut self) -> String {
        let Some((idx, item_id, item)) = self.open.take() else {
            return String::new();
        };
        let mut out = String::new();
        let done_item = match item {
            Item::Message { text } => {
                let part = json!({"type": "output_text", "text": text, "annotations": []});
                out += &self.ev("response.output_text.done", json!({"item_id": item_id, "output_index": idx, "content_index": 0, "text": text}));
                out += &self.ev("response.content_part.done", json!({"item_id": item_id, "output_index": idx, "content_index": 0, "part": part}));
                json!({"type": "message", "id": item_id, "status": "completed", "role": "assistant", "content": [part]})
            }
            Item::Reasoning { text } => {
                let part = json!({"type": "summary_text", "text": text});
                out += &self.ev("response.reasoning_summary_text.done", json!({"item_id": item_id, "output_index": idx, "summary_index": 0, "text": text}));
                out += &self.ev("response.reasoning_summary_part.done", json!({"item_id": item_id, "output_index": idx, "summary_index": 0, "part": part}));
                json!({"type": "reasoning", "id": item_id, "summary": [part]})
            }
            Item::Function {
                call_id,
                name,
                args,
                ..
            } => {
                out += &self.ev(
                    "response.function_call_arguments.done",
                    json!({"item_id": item_id, "output_index": idx, "arguments": args}),
                );
                json!({"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": args, "status": "completed"})
            }
            Item::Custom {
                call_id,
                name,
                mut unwrap,
                ..
            } => {
                let rest = unwrap.finish();
                if !rest.is_empty() {
                    out += &self.ev(
                        "response.custom_tool_call_input.delta",
                        json!({"item_id": item_id, "output_index": idx, "delta": rest}),
                    );
                }
                let input = unwrap.input().to_string();
                out += &self.ev(
                    "response.custom_tool_call_input.done",
                    json!({"item_id": item_id, "output_index": idx, "input": input}),
                );
                json!({"type": "custom_tool_call", "id": item_id, "call_id": call_id, "name": name, "input": input, "status": "completed"})
            }
        };
        out += &self.ev(
            "response.output_item.done",
            json!({"output_index": idx, "item": done_item}),
        );
        self.output.push(done_item);
        out
    }

    fn open_item(&mut self, item: Item) -> String {
        let mut out = self.close();
        let idx = self.output.len();
        let (item_id, added) = match &item {
            Item::Message { .. } => {
                let id = ir::new_id("msg_");
                (
                    id.clone(),
                    json!({"type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": []}),
                )
            }
            Item::Reasoning { .. } => {
                let id = ir::new_id("rs_");
                (
                    id.clone(),
                    json!({"type": "reasoning", "id": id, "summary": []}),
                )
            }
            Item::Function { call_id, name, .. } => {
                let id = format!("fc_{call_id}");
                (
                    id.clone(),
                    json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": "", "status": "in_progress"}),
                )
            }
            Item::Custom { call_id, name, .. } => {
                let id = format!("ctc_{call_id}");
                (
                    id.clone(),
                    json!({"type": "custom_tool_call", "id": id, "call_id": call_id, "name": name, "input": "", "status": "in_progress"}),
                )
            }
        };
        out += &self.ev(
            "response.output_item.added",
            json!({"output_index": idx, "item": added}),
        );
        match &item {
            Item::Message { .. } => {
                out += &self.ev(
                    "response.content_part.added",
                    json!({"item_id": item_id, "output_index": idx, "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": []}}),
                );
            }
            Item::Reasoning { .. } => {
                out += &self.ev(
                    "response.reasoning_summary_part.added",
                    json!({"item_id": item_id, "output_index": idx, "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""}}),
                );
            }
            Item::Function { .. } | Item::Custom { .. } => {}
        }
        self.open = Some((idx, item_id, item));
        out
    }
}

impl StreamEncoder for ResponsesStreamEncoder {
    fn set_freeform_tools(&mut self, names: &std::collections::HashSet<String>) {
        self.freeform = names.clone();
    }

    fn encode(&mut self, event: &Event) -> String {
        match event {
            Event::Start { id, .. } => self.start(Some(id)),
            Event::TextDelta(t) => {
                let mut out = self.start(None);
                if !matches!(self.open, Some((_, _, Item::Message { .. }))) {
                    out += &self.open_item(Item::Message {
                        text: String::new(),
                    });
                }
                let (idx, item_id) = match &mut self.open {
                    Some((idx, id, Item::Message { text })) => {
                        text.push_str(t);
                        (*idx, id.clone())
                    }
                    _ => unreachable!("a message item was just opened"),
                };
                out + &self.ev("response.output_text.delta", json!({"item_id": item_id, "output_index": idx, "content_index": 0, "delta": t}))
            }
            Event::ThinkingDelta(t) => {
                let mut out = self.start(None);
                if !matches!(self.open, Some((_, _, Item::Reasoning { .. }))) {
                    out += &self.open_item(Item::Reasoning {
                        text: String::new(),
                    });
                }
                let (idx, item_id) = match &mut self.open {
                    Some((idx, id, Item::Reasoning { text })) => {
                        text.push_str(t);
                        (*idx, id.clone())
                    }
                    _ => unreachable!("a reasoning item was just opened"),
                };
                out + &self.ev("response.reasoning_summary_text.delta", json!({"item_id": item_id, "output_index": idx, "summary_index": 0, "delta": t}))
            }
            Event::SignatureDelta(_) => String::new(),
            Event::ToolCallStart { index, id, name } => {
                let out = self.start(None);
                let item = if self.freeform.contains(name) {
                    Item::Custom {
                        ordinal: *index,
                        call_id: id.clone(),
                        name: name.clone(),
                        unwrap: Default::default(),
                    }
                } else {
                    Item::Function {
                        ordinal: *index,
                        call_id: id.clone(),
                        name: name.clone(),
                        args: String::new(),
                    }
                };
                out + &self.open_item(item)
            }
            Event::ToolArgsDelta { index, fragment } => {
                let (idx, item_id) = match &mut self.open {
                    Some((idx, id, Item::Function { ordinal, args, .. })) if ordinal == index => {
                        args.push_str(fragment);
                        (*idx, id.clone())
                    }
                    Some((
                        idx,
                        id,
                        Item::Custom {
                            ordinal, unwrap, ..
                        },
                    )) if ordinal == index => {
                        let text = unwrap.feed(fragment);
                        if text.is_empty() {
                            return String::new();
                        }
                        let v = json!({"item_id": id, "output_index": idx, "delta": text});
                        return self.ev("response.custom_tool_call_input.delta", v);
                    }
                    _ => return String::new(),
                };
                self.ev(
                    "response.function_call_arguments.delta",
                    json!({"item_id": item_id, "output_index": idx, "delta": fragment}),
                )
            }
            Event::Usage(u) => {
                self.usage.merge(u);
                String::new()
            }
            Event::Finish(f) => {
                let mut out = self.start(None);
                out += &self.close();
                let (status, incomplete) = status_of(*f);
                let r = response_object(
                    &self.id,
                    &self.model,
                    self.created,
                    status,
                    self.output.clone(),
                    Some(usage_json(&self.usage)),
                    json!({"incomplete_details": incomplete}),
                );
                let kind = if status == "completed" {
                    "response.completed"
                } else {
                    "response.incomplete"
                };
                out + &self.ev(kind, json!({"response": r}))
            }
            Event::Error { message, .. } => {
                let mut out = self.start(None);
                let r = response_object(
                    &self.id,
                    &self.model,
                    self.created,
                    "failed",
                    self.output.clone(),
                    None,
                    json!({"error": {"code": "upstream_error", "message": message}}),
                );
                out += &self.ev("response.failed", json!({"response": r}));
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_call_ids_are_shortened_alike_for_calls_and_outputs() {
        let long = "toolu_".to_string() + &"x".repeat(90);
        let req = crate::formats::messages::decode_request(&json!({
            "model": "m", "max_tokens": 10,
            "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": long, "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": long, "content": "ok"}]}
            ]
        }))
        .unwrap();
        let out = encode_request(&req);
        let call = out["input"][1]["call_id"].as_str().unwrap();
        assert!(call.len() <= 64, "{call}");
        assert_eq!(out["input"][2]["call_id"], call);
        assert_eq!(call_id("call_short"), "call_short");
        assert_ne!(
            call_id(&(long.clone() + "a")),
            call_id(&(long + "b")),
            "distinct ids stay distinct"
        );
    }
}
