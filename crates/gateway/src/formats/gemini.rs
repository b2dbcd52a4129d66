//! Google Gemini codec (`generateContent` / `streamGenerateContent`; what Gemini CLI and the
//! google-genai SDK speak). The model lives in the URL, not the body.

use super::ir::{self, Event, FinishReason, Image, Message, Part, Request, Role, Usage};
use super::sse::frame_value;
use super::{StreamDecoder, StreamEncoder};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

// ---------- requests ----------

/// Gemini schemas may use OpenAPI-style upper-case types (`OBJECT`); JSON Schema wants lower case.
fn lower_types(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("type", Value::String(t)) => (k.clone(), json!(t.to_ascii_lowercase())),
                    _ => (k.clone(), lower_types(v)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(lower_types).collect()),
        other => other.clone(),
    }
}

fn text_of_response(v: &Value) -> String {
    match v {
        Value::Object(o)
            if o.len() == 1 && (o.contains_key("output") || o.contains_key("result")) =>
        {
            match o.values().next() {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            }
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn decode_request(body: &Value) -> Result<Request, String> {
    let obj = body
        .as_object()
        .ok_or("request body must be a JSON object")?;
    let gen = obj.get("generationConfig").cloned().unwrap_or(Value::Null);
    let mut req = Request {
        model: obj
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        max_tokens: gen.get("maxOutputTokens").and_then(Value::as_u64),
        temperature: gen.get("temperature").and_then(Value::as_f64),
        top_p: gen.get("topP").and_then(Value::as_f64),
        top_k: gen.get("topK").and_then(Value::as_u64),
        stop: gen
            .get("stopSequences")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(Into::into).collect())
            .unwrap_or_default(),
        ..Default::default()
    };
    let sys = obj
        .get("systemInstruction")
        .or(obj.get("system_instruction"));
    for p in sys
        .and_then(|s| s.get("parts"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(t) = p.get("text").and_then(Value::as_str) {
            req.system.push(t.into());
        }
    }
    // Calls often have no id: give them stable ones and pair results by name, in order.
    let mut pending: HashMap<String, VecDeque<String>> = HashMap::new();
    let mut n = 0;
    for c in obj
        .get("contents")
        .and_then(Value::as_array)
        .ok_or("contents: field required")?
    {
        let role = match c.get("role").and_then(Value::as_str) {
            Some("model") => Role::Assistant,
            _ => Role::User,
        };
        let mut parts = Vec::new();
        for p in c
            .get("parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(t) = p.get("text").and_then(Value::as_str) {
                if p.get("thought").and_then(Value::as_bool) == Some(true) {
                    parts.push(Part::Thinking {
                        text: t.into(),
                        signature: None,
                    });
                } else {
                    parts.push(Part::Text(t.into()));
                }
            } else if let Some(d) = p.get("inlineData").or(p.get("inline_data")) {
                parts.push(Part::Image(Image::Base64 {
                    media_type: d
                        .get("mimeType")
                        .and_then(Value::as_str)
                        .unwrap_or("image/png")
                        .into(),
                    data: d
                        .get("data")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                }));
            } else if let Some(f) = p.get("fileData").or(p.get("file_data")) {
                parts.push(Part::Image(Image::Url(
                    f.get("fileUri")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                )));
            } else if let Some(fc) = p.get("functionCall") {
                let name = fc
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if name.trim().is_empty() {
                    continue;
                }
                let id = fc
                    .get("id")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .unwrap_or_else(|| {
                        n += 1;
                        format!("call_{name}_{n}")
                    });
                pending
                    .entry(name.clone())
                    .or_default()
                    .push_back(id.clone());
                parts.push(Part::ToolCall {
                    id,
                    name,
                    arguments: fc.get("args").cloned().unwrap_or(json!({})).to_string(),
                });
            } else if let Some(fr) = p.get("functionResponse") {
                let name = fr
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let queued = pending.get_mut(&name).and_then(VecDeque::pop_front);
                let call_id = fr
                    .get("id")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .or(queued)
                    .unwrap_or_default();
                parts.push(Part::ToolResult {
                    call_id,
                    content: vec![Part::Text(text_of_response(
                        fr.get("response").unwrap_or(&Value::Null),
                    ))],
                    is_error: false,
                });
            }
        }
        match req.messages.last_mut() {
            Some(last) if last.role == role => last.parts.extend(parts),
            _ => req.messages.push(Message { role, parts }),
        }
    }
    for t in obj
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let decls = t
            .get("functionDeclarations")
            .or(t.get("function_declarations"));
        for d in decls.and_then(Value::as_array).into_iter().flatten() {
            let Some(name) = d.get("name").and_then(Value::as_str) else {
                continue;
            };
            let schema = d
                .get("parametersJsonSchema")
                .or(d.get("parameters"))
                .map(lower_types)
                .unwrap_or(json!({"type": "object"}));
            req.tools.push(ir::Tool {
                name: name.into(),
                description: d.get("description").and_then(Value::as_str).map(Into::into),
                parameters: schema,
                kind: ir::ToolKind::Function,
            });
        }
    }
    if let Some(cfg) = body.pointer("/toolConfig/functionCallingConfig") {
        let allowed: Vec<&str> = cfg
            .get("allowedFunctionNames")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        req.tool_choice = match cfg.get("mode").and_then(Value::as_str) {
            Some("NONE") => Some(ir::ToolChoice::None),
            Some("ANY") if allowed.len() == 1 => Some(ir::ToolChoice::Tool(allowed[0].into())),
            Some("ANY") => Some(ir::ToolChoice::Required),
            Some(_) => Some(ir::ToolChoice::Auto),
            None => None,
        };
    }
    if gen.get("responseMimeType").and_then(Value::as_str) == Some("application/json") {
        let schema = gen
            .get("responseJsonSchema")
            .or(gen.get("responseSchema"))
            .map(lower_types);
        req.response_format = Some(match schema {
            Some(schema) => ir::ResponseFormat::JsonSchema {
                name: "response".into(),
                schema,
                strict: None,
            },
            None => ir::ResponseFormat::JsonObject,
        });
    }
    if let Some(t) = gen.get("thinkingConfig") {
        req.reasoning = match (
            t.get("thinkingBudget").and_then(Value::as_i64),
            t.get("thinkingLevel").and_then(Value::as_str),
        ) {
            (Some(0), _) => Some(ir::Reasoning::Disabled),
            (Some(b), _) if b > 0 => Some(ir::Reasoning::Budget(b as u64)),
            (_, Some(level)) => Some(ir::Reasoning::Effort(level.to_ascii_lowercase())),
            _ => None,
        };
    }
    Ok(req)
}

/// A tool schema whose `required` lists name only properties the schema has, at every level:
/// Gemini refuses the whole request over one that names a missing property (docs/formats.md
/// #38), where other APIs let it pass. Borrowed when nothing needs pruning.
fn known_required(schema: &Value) -> Cow<'_, Value> {
    fn prune(v: &mut Value) {
        match v {
            Value::Object(o) => {
                if let (Some(Value::Object(props)), Some(Value::Array(req))) =
                    (o.get("properties"), o.get("required"))
                {
                    let kept: Vec<Value> = req
                        .iter()
                        .filter(|r| r.as_str().is_some_and(|k| props.contains_key(k)))
                        .cloned()
                        .collect();
                    o.insert("required".into(), Value::Array(kept));
                }
                o.values_mut().for_each(prune);
            }
            Value::Array(a) => a.iter_mut().for_each(prune),
            _ => {}
        }
    }
    fn needs(v: &Value) -> bool {
        match v {
            Value::Object(o) => {
                let dangling = match (o.get("properties"), o.get("required")) {
                    (Some(Value::Object(props)), Some(Value::Array(req))) => req
                        .iter()
                        .any(|r| !r.as_str().is_some_and(|k| props.contains_key(k))),
                    _ => false,
                };
                dangling || o.values().any(needs)
            }
            Value::Array(a) => a.iter().any(needs),
            _ => false,
        }
    }
    if !needs(schema) {
        return Cow::Borrowed(schema);
    }
    let mut out = schema.clone();
    prune(&mut out);
    Cow::Owned(out)
}

pub fn encode_request(req: &Request) -> Value {
    let mut names: HashMap<&str, &str> = HashMap::new();
    for m in &req.messages {
        for p in &m.parts {
            if let Part::ToolCall { id, name, .. } = p {
                names.insert(id, name);
            }
        }
    }
    let mut contents: Vec<Value> = Vec::new();
    for m in &req.messages {
        let parts: Vec<Value> = m
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) if t.is_empty() => None,
                Part::Text(t) => Some(json!({"text": t})),
                Part::Image(Image::Base64 { media_type, data }) => Some(json!({"inlineData": {"mimeType": media_type, "data": data}})),
                Part::Image(Image::Url(u)) => Some(json!({"fileData": {"fileUri": u}})),
                Part::ToolCall { id, name, arguments } => {
                    Some(json!({"functionCall": {"name": name, "args": ir::arguments_object(arguments), "id": id}}))
                }
                Part::ToolResult { call_id, content, .. } => {
                    let text: String = content
                        .iter()
                        .filter_map(|p| match p {
                            Part::Text(t) => Some(t.as_str()),
                            _ => None,
                        })
                        .collect();
                    // `response` must be an object; the function name comes from the call.
                    let response = match serde_json::from_str::<Value>(&text) {
                        Ok(v @ Value::Object(_)) => v,
                        _ => json!({"output": text}),
                    };
                    let name = names.get(call_id.as_str()).copied().unwrap_or("tool");
                    Some(json!({"functionResponse": {"name": name, "response": response, "id": call_id}}))
                }
                Part::Thinking { .. } => None,
            })
            .collect();
        if parts.is_empty() {
            continue;
        }
        let role = if m.role == Role::User {
            "user"
        } else {
            "model"
        };
        // Consecutive turns of one role are merged (the IR keeps a user turn split around a
        // mid-conversation system entry, which Gemini moves to the system instruction).
        match contents.last_mut() {
            Some(last) if last["role"] == role => last["parts"]
                .as_array_mut()
                .expect("parts is an array")
                .extend(parts),
            _ => contents.push(json!({"role": role, "parts": parts})),
        }
    }
    // Gemini 3 rejects a functionCall in history without its thoughtSignature. History that reaches
    // this encoder came from another format, so no real signature exists: Google's documented
    // sentinel marks the first call of each turn as foreign (docs/formats.md #25). Never a forged value.
    if req.model.contains("gemini-3") {
        for c in contents.iter_mut().filter(|c| c["role"] == "model") {
            if let Some(first) = c["parts"]
                .as_array_mut()
                .and_then(|ps| ps.iter_mut().find(|p| p.get("functionCall").is_some()))
            {
                first["thoughtSignature"] = json!("skip_thought_signature_validator");
            }
        }
    }
    let mut out = Map::new();
    out.insert("contents".into(), Value::Array(contents));
    // Mid-conversation system entries are appended to the system instruction (docs/formats.md §3).
    let system: Vec<&str> = req
        .system
        .iter()
        .chain(req.system_inline.iter().map(|(_, t)| t))
        .map(String::as_str)
        .collect();
    if !system.is_empty() {
        out.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system.join("\n\n")}]}),
        );
    }
    if !req.tools.is_empty() {
        let decls: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut d =
                    json!({"name": t.name, "parametersJsonSchema": known_required(&t.parameters)});
                if let Some(desc) = &t.description {
                    d["description"] = json!(desc);
                }
                d
            })
            .collect();
        out.insert("tools".into(), json!([{"functionDeclarations": decls}]));
    }
    if let Some(tc) = &req.tool_choice {
        let cfg = match tc {
            ir::ToolChoice::Auto => json!({"mode": "AUTO"}),
            ir::ToolChoice::None => json!({"mode": "NONE"}),
            ir::ToolChoice::Required => json!({"mode": "ANY"}),
            ir::ToolChoice::Tool(n) => json!({"mode": "ANY", "allowedFunctionNames": [n]}),
        };
        out.insert("toolConfig".into(), json!({"functionCallingConfig": cfg}));
    }
    let mut gen = Map::new();
    if let Some(n) = req.max_tokens {
        gen.insert("maxOutputTokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        gen.insert("temperature".into(), json!(t));
    }
    if let Some(t) = req.top_p {
        gen.insert("topP".into(), json!(t));
    }
    if let Some(k) = req.top_k {
        gen.insert("topK".into(), json!(k));
    }
    if !req.stop.is_empty() {
        gen.insert("stopSequences".into(), json!(req.stop));
    }
    match &req.reasoning {
        Some(ir::Reasoning::Disabled) => {
            gen.insert("thinkingConfig".into(), json!({"thinkingBudget": 0}));
        }
        Some(r) => {
            if let Some(b) = r.budget() {
                gen.insert(
                    "thinkingConfig".into(),
                    json!({"thinkingBudget": b.min(32768), "includeThoughts": true}),
                );
            }
        }
        None => {}
    }
    match &req.response_format {
        Some(ir::ResponseFormat::JsonObject) => {
            gen.insert("responseMimeType".into(), json!("application/json"));
        }
        Some(ir::ResponseFormat::JsonSchema { schema, .. }) => {
            gen.insert("responseMimeType".into(), json!("application/json"));
            gen.insert("responseJsonSchema".into(), schema.clone());
        }
        Some(ir::ResponseFormat::Text) | None => {}
    }
    if !gen.is_empty() {
        out.insert("generationConfig".into(), Value::Object(gen));
    }
    Value::Object(out)
}

// ---------- responses ----------

fn finish_of(reason: &str, has_calls: bool) -> FinishReason {
    match reason {
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishReason::ContentFilter
        }
        _ if has_calls => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

fn finish_str(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ContentFilter => "SAFETY",
        _ => "STOP",
    }
}

fn usage_of(u: &Value) -> Usage {
    let get = |k: &str| u.get(k).and_then(Value::as_u64);
    let prompt = get("promptTokenCount");
    let cached = get("cachedContentTokenCount");
    let thoughts = get("thoughtsTokenCount");
    let candidates = get("candidatesTokenCount").or_else(|| {
        Some(get("totalTokenCount")?.saturating_sub(prompt.unwrap_or(0) + thoughts.unwrap_or(0)))
    });
    Usage {
        input: prompt.map(|p| p.saturating_sub(cached.unwrap_or(0))),
        output: candidates.map(|c| c + thoughts.unwrap_or(0)),
        cache_read: cached,
        cache_write: None,
        reasoning: thoughts,
    }
}

fn usage_json(u: &Usage) -> Value {
    let prompt = u.total_input();
    let thoughts = u.reasoning.unwrap_or(0);
    let output = u.output.unwrap_or(0);
    let mut v = json!({"promptTokenCount": prompt, "candidatesTokenCount": output.saturating_sub(thoughts),
                       "totalTokenCount": prompt + output});
    if let Some(c) = u.cache_read {
        v["cachedContentTokenCount"] = json!(c);
    }
    if thoughts > 0 {
        v["thoughtsTokenCount"] = json!(thoughts);
    }
    v
}

fn parts_of(candidate: &Value, calls_seen: &mut usize) -> Vec<Part> {
    let mut parts = Vec::new();
    for p in candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(fc) = p.get("functionCall") {
            *calls_seen += 1;
            let name = fc
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            parts.push(Part::ToolCall {
                id: fc
                    .get("id")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .unwrap_or_else(|| ir::new_id("call_")),
                name,
                arguments: fc.get("args").cloned().unwrap_or(json!({})).to_string(),
            });
        } else if let Some(t) = p.get("text").and_then(Value::as_str) {
            if p.get("thought").and_then(Value::as_bool) == Some(true) {
                parts.push(Part::Thinking {
                    text: t.into(),
                    signature: None,
                });
            } else if !t.is_empty() {
                parts.push(Part::Text(t.into()));
            }
        }
    }
    parts
}

pub fn decode_response(body: &Value) -> Result<ir::Response, String> {
    let mut calls = 0;
    let (parts, finish) = match body.pointer("/candidates/0") {
        Some(c) => {
            let parts = parts_of(c, &mut calls);
            let reason = c
                .get("finishReason")
                .and_then(Value::as_str)
                .unwrap_or("STOP");
            (parts, finish_of(reason, calls > 0))
        }
        None if body.pointer("/promptFeedback/blockReason").is_some() => {
            (vec![], FinishReason::ContentFilter)
        }
        None => return Err("upstream response has no candidates".into()),
    };
    Ok(ir::Response {
        id: body
            .get("responseId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        model: body
            .get("modelVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        parts,
        finish: Some(finish),
        usage: body.get("usageMetadata").map(usage_of).unwrap_or_default(),
    })
}

pub fn encode_response(r: &ir::Response) -> Value {
    let parts: Vec<Value> = r
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(json!({"text": t})),
            Part::Thinking { text, .. } => Some(json!({"text": text, "thought": true})),
            Part::ToolCall { id, name, arguments } => {
                Some(json!({"functionCall": {"name": name, "args": ir::arguments_object(arguments), "id": id}}))
            }
            _ => None,
        })
        .collect();
    json!({
        "candidates": [{"content": {"role": "model", "parts": parts},
                        "finishReason": finish_str(r.finish.unwrap_or(FinishReason::Stop)), "index": 0}],
        "usageMetadata": usage_json(&r.usage),
        "modelVersion": r.model,
        "responseId": r.id,
    })
}

// ---------- streams ----------

/// Gemini SSE or JSON-array chunks (upstream) → IR events. Gemini has no terminal marker: the
/// chunk with `finishReason` ends the answer.
#[derive(Default)]
pub struct GeminiStreamDecoder {
    started: bool,
    next_tool: usize,
    done: bool,
}

impl StreamDecoder for GeminiStreamDecoder {
    fn event(&mut self, _name: Option<&str>, data: &str) -> Vec<Event> {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return vec![];
        };
        let v = v.get("response").cloned().unwrap_or(v); // Cloud Code envelope
        let mut out = Vec::new();
        if let Some(e) = v.get("error") {
            let status = e.get("code").and_then(Value::as_u64).unwrap_or(502) as u16;
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("upstream error")
                .to_string();
            return vec![Event::Error { status, message }];
        }
        if self.done {
            return out;
        }
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: v
                    .get("responseId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
                model: v
                    .get("modelVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
            });
        }
        let candidate = v.pointer("/candidates/0");
        let mut calls = 0;
        for p in candidate
            .map(|c| parts_of(c, &mut calls))
            .unwrap_or_default()
        {
            match p {
                Part::Text(t) => out.push(Event::TextDelta(t)),
                Part::Thinking { text, .. } => out.push(Event::ThinkingDelta(text)),
                Part::ToolCall {
                    id,
                    name,
                    arguments,
                } => {
                    // Gemini sends each call whole: start + one delta with all arguments.
                    let index = self.next_tool;
                    self.next_tool += 1;
                    out.push(Event::ToolCallStart { index, id, name });
                    out.push(Event::ToolArgsDelta {
                        index,
                        fragment: arguments,
                    });
                }
                _ => {}
            }
        }
        if let Some(u) = v.get("usageMetadata") {
            out.push(Event::Usage(usage_of(u)));
        }
        let reason = candidate
            .and_then(|c| c.get("finishReason"))
            .and_then(Value::as_str);
        let blocked = candidate.is_none() && v.pointer("/promptFeedback/blockReason").is_some();
        if let Some(r) = reason {
            self.done = true;
            out.push(Event::Finish(finish_of(r, self.next_tool > 0)));
        } else if blocked {
            self.done = true;
            out.push(Event::Finish(FinishReason::ContentFilter));
        }
        out
    }
}

/// IR events → Gemini chunks (client), as SSE (`alt=sse`) or as one JSON array streamed
/// incrementally. Tool calls are buffered until complete (Gemini clients expect whole calls).
pub struct GeminiStreamEncoder {
    model: String,
    id: String,
    array: bool,
    first: bool,
    calls: Vec<(String, String, String)>,
    usage: Usage,
}

impl GeminiStreamEncoder {
    pub fn new(model: &str, array: bool) -> Self {
        Self {
            model: model.into(),
            id: ir::new_id(""),
            array,
            first: true,
            calls: Vec::new(),
            usage: Usage::default(),
        }
    }

    fn emit(&mut self, v: Value) -> String {
        if !self.array {
            return frame_value(None, &v);
        }
        let prefix = if std::mem::take(&mut self.first) {
            "["
        } else {
            ",\r\n"
        };
        format!("{prefix}{v}")
    }

    fn chunk(&mut self, parts: Vec<Value>, finish: Option<FinishReason>) -> String {
        let mut cand = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        let mut v = json!({"modelVersion": self.model, "responseId": self.id});
        if let Some(f) = finish {
            cand["finishReason"] = json!(finish_str(f));
            v["usageMetadata"] = usage_json(&self.usage);
        }
        v["candidates"] = json!([cand]);
        self.emit(v)
    }

    fn flush_calls(&mut self) -> String {
        if self.calls.is_empty() {
            return String::new();
        }
        let parts: Vec<Value> = std::mem::take(&mut self.calls)
            .into_iter()
            .map(|(id, name, args)| json!({"functionCall": {"name": name, "args": ir::arguments_object(&args), "id": id}}))
            .collect();
        self.chunk(parts, None)
    }
}

impl StreamEncoder for GeminiStreamEncoder {
    /// SSE: a comment. JSON array: whitespace between elements is valid JSON.
    fn keepalive(&mut self) -> String {
        if self.array {
            if self.first {
                String::new()
            } else {
                "\r\n".into()
            }
        } else {
            ": keepalive\n\n".into()
        }
    }

    fn encode(&mut self, event: &Event) -> String {
        match event {
            Event::Start { id, .. } => {
                if !id.is_empty() {
                    self.id = id.clone();
                }
                String::new()
            }
            Event::TextDelta(t) => self.flush_calls() + &self.chunk(vec![json!({"text": t})], None),
            Event::ThinkingDelta(t) => {
                self.flush_calls() + &self.chunk(vec![json!({"text": t, "thought": true})], None)
            }
            Event::SignatureDelta(_) => String::new(),
            Event::ToolCallStart { id, name, .. } => {
                self.calls.push((id.clone(), name.clone(), String::new()));
                String::new()
            }
            Event::ToolArgsDelta { fragment, .. } => {
                if let Some(last) = self.calls.last_mut() {
                    last.2.push_str(fragment);
                }
                String::new()
            }
            Event::Usage(u) => {
                self.usage.merge(u);
                String::new()
            }
            Event::Finish(f) => {
                let mut out = self.flush_calls();
                out += &self.chunk(vec![], Some(*f));
                if self.array {
                    out.push(']');
                }
                out
            }
            Event::Error { status, message } => {
                let v = json!({"error": {"code": status, "message": message, "status": status_name(*status)}});
                let mut out = self.emit(v);
                if self.array {
                    out.push(']');
                }
                out
            }
        }
    }
}

/// Google's status name for an HTTP status (docs/api-surface.md §8).
pub fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        413 => "INVALID_ARGUMENT",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}
