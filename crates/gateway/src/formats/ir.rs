//! The canonical internal representation of a request, a response and a stream event.
//! Every codec maps its wire format to and from these types.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    pub model: String,
    /// System prompt pieces, in order.
    pub system: Vec<String>,
    /// System entries inside the conversation (Claude Code's mid-conversation `role: system`,
    /// docs/formats.md §3, #29): `(index of the message they precede, text)`. Chat and Responses
    /// targets keep them at that position; Messages and Gemini append them to the system prompt.
    pub system_inline: Vec<(usize, String)>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    /// Server tools the client declared (Anthropic `web_search_*`, Responses built-ins): only
    /// their own family runs them, so they are not in `tools` (never turned into functions,
    /// docs/formats.md #15). Anthropic: the tool's name; Responses: its type.
    pub server_tools: Vec<String>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    pub stop: Vec<String>,
    pub stream: bool,
    pub reasoning: Option<Reasoning>,
    /// Chat clients: whether they asked for the usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    pub user: Option<String>,
    pub response_format: Option<ResponseFormat>,
}

/// Structured output (docs/formats.md §11).
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        schema: Value,
        strict: Option<bool>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Image(Image),
    /// `arguments` is a JSON text (what Chat sends); codecs that want an object parse it.
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    ToolResult {
        call_id: String,
        content: Vec<Part>,
        is_error: bool,
    },
    /// Reasoning. `signature` is only ever one an upstream gave us; never invented.
    Thinking {
        text: String,
        signature: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Image {
    Base64 { media_type: String, data: String },
    Url(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    pub parameters: Value,
    pub kind: ToolKind,
}

/// What kind of tool a client declared.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ToolKind {
    #[default]
    Function,
    /// A Responses freeform tool (`type: "custom"`, e.g. Codex `apply_patch`): the model writes
    /// plain text, not JSON. In the IR it is a function taking `{input: string}` (docs/formats.md §4,
    /// #16); calls carry `{"input": "<text>"}` as their arguments. `format` is the client's
    /// grammar/format object, replayed only to Responses upstreams.
    Freeform { format: Option<Value> },
}

/// The schema a freeform tool gets on targets that only know functions.
pub fn freeform_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]})
}

/// The text of a freeform call from its IR arguments (`{"input": "…"}`); anything else is kept
/// as it came rather than dropped.
pub fn freeform_input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(o)) => match o.get("input").or(o.get("_raw")) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None if o.is_empty() => String::new(),
            None => Value::Object(o).to_string(),
        },
        Ok(Value::String(s)) => s,
        _ => arguments.to_string(),
    }
}

/// A freeform call's text as IR arguments.
pub fn freeform_arguments(input: &str) -> String {
    serde_json::json!({ "input": input }).to_string()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    Required,
    Tool(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reasoning {
    /// `none|minimal|low|medium|high|xhigh|max`
    Effort(String),
    Budget(u64),
    Disabled,
}

impl Reasoning {
    /// A token budget for targets that want a number (docs/formats.md §10).
    pub fn budget(&self) -> Option<u64> {
        match self {
            Self::Budget(b) => Some(*b),
            Self::Disabled => None,
            Self::Effort(e) => match e.as_str() {
                "none" | "minimal" => None,
                "low" => Some(1024),
                "medium" => Some(10240),
                "high" => Some(32768),
                _ => Some(65536),
            },
        }
    }

    /// An effort level for targets that want a word.
    pub fn effort(&self) -> Option<String> {
        match self {
            Self::Effort(e) => Some(e.clone()),
            Self::Disabled => None,
            Self::Budget(b) => Some(
                match b {
                    0..=1024 => "low",
                    1025..=10240 => "medium",
                    10241..=131071 => "high",
                    _ => "xhigh",
                }
                .into(),
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

/// Token usage. `input` excludes cache reads and writes; `output` includes reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input: Option<u64>,
    pub output: Option<u64>,
    pub cache_read: Option<u64>,
    pub cache_write: Option<u64>,
    pub reasoning: Option<u64>,
}

impl Usage {
    /// Later values win field by field (Anthropic's message_start + message_delta are merged,
    /// never summed).
    pub fn merge(&mut self, later: &Usage) {
        self.input = later.input.or(self.input);
        self.output = later.output.or(self.output);
        self.cache_read = later.cache_read.or(self.cache_read);
        self.cache_write = later.cache_write.or(self.cache_write);
        self.reasoning = later.reasoning.or(self.reasoning);
    }

    /// All input tokens, cached or not.
    pub fn total_input(&self) -> u64 {
        self.input.unwrap_or(0) + self.cache_read.unwrap_or(0) + self.cache_write.unwrap_or(0)
    }
}

/// A whole (non-stream) response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    pub id: String,
    pub model: String,
    pub parts: Vec<Part>,
    pub finish: Option<FinishReason>,
    pub usage: Usage,
}

impl Response {
    /// An answer counts when it says something: text that is not empty, thinking, or a tool
    /// call (an empty 200 is a failure to move on from, docs/routing.md §7).
    pub fn says_something(&self) -> bool {
        self.parts.iter().any(|part| match part {
            Part::Text(t) => !t.is_empty(),
            _ => true,
        })
    }
}

/// One step of a streamed response. Tool calls are numbered 0, 1, 2… in the order they start.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Start {
        id: String,
        model: String,
    },
    TextDelta(String),
    ThinkingDelta(String),
    SignatureDelta(String),
    ToolCallStart {
        index: usize,
        id: String,
        name: String,
    },
    ToolArgsDelta {
        index: usize,
        fragment: String,
    },
    Usage(Usage),
    /// The upstream finished cleanly; the encoder closes the client stream properly.
    Finish(FinishReason),
    Error {
        status: u16,
        message: String,
    },
}

/// Parses a tool call's JSON arguments into an object; text that is not JSON is kept, not dropped.
pub fn arguments_object(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(Default::default());
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        Ok(other) => serde_json::json!({ "_raw": other }),
        Err(_) => serde_json::json!({ "_raw": arguments }),
    }
}

/// JSON Schema keywords that must be numbers; clients sometimes send them as strings
/// (`"maxLength": "64"`), and upstreams that validate the schema reject that (docs/formats.md #34).
const NUMERIC_KEYWORDS: [&str; 11] = [
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "multipleOf",
    "minProperties",
    "maxProperties",
];

/// A tool schema with numeric keywords coerced to numbers, recursively.
pub fn clean_schema(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, val)| {
                    let fixed = match val {
                        Value::String(s) if NUMERIC_KEYWORDS.contains(&k.as_str()) => s
                            .trim()
                            .parse::<i64>()
                            .map(Value::from)
                            .or_else(|_| s.trim().parse::<f64>().map(Value::from))
                            .unwrap_or_else(|_| val.clone()),
                        other => clean_schema(other),
                    };
                    (k.clone(), fixed)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(clean_schema).collect()),
        other => other.clone(),
    }
}

/// A fresh id with a prefix (`msg_`, `call_`…), unique within the process.
pub fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = crate::clock::now_nanos() as u64;
    format!(
        "{prefix}{:x}{:04x}",
        t,
        N.fetch_add(1, Ordering::Relaxed) & 0xffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_merges_start_and_delta() {
        // docs/formats.md §9 worked check.
        let mut u = Usage {
            input: Some(12),
            ..Default::default()
        };
        u.merge(&Usage {
            output: Some(20),
            cache_read: Some(100),
            ..Default::default()
        });
        assert_eq!(u.total_input(), 112);
        assert_eq!(u.output, Some(20));
    }

    #[test]
    fn arguments_that_are_not_json_are_kept() {
        assert_eq!(arguments_object(r#"{"a":1}"#), serde_json::json!({"a":1}));
        assert_eq!(arguments_object(""), serde_json::json!({}));
        assert_eq!(
            arguments_object("{oops"),
            serde_json::json!({"_raw":"{oops"})
        );
    }

    #[test]
    fn numeric_schema_keywords_given_as_strings_become_numbers() {
        let s = serde_json::json!({"type": "object", "properties": {
            "name": {"type": "string", "maxLength": "64", "description": "maxLength 64"},
            "n": {"type": "number", "minimum": " 0.5 "}, "odd": {"type": "string", "maxLength": "lots"}}});
        let c = clean_schema(&s);
        assert_eq!(c["properties"]["name"]["maxLength"], 64);
        assert_eq!(c["properties"]["name"]["description"], "maxLength 64");
        assert_eq!(c["properties"]["n"]["minimum"], 0.5);
        assert_eq!(
            c["properties"]["odd"]["maxLength"], "lots",
            "unparseable values are left alone"
        );
    }

    #[test]
    fn effort_and_budget_map_both_ways() {
        assert_eq!(Reasoning::Effort("low".into()).budget(), Some(1024));
        assert_eq!(Reasoning::Effort("none".into()).budget(), None);
        assert_eq!(Reasoning::Budget(10240).effort().as_deref(), Some("medium"));
        assert_eq!(
            Reasoning::Budget(200_000).effort().as_deref(),
            Some("xhigh")
        );
    }
}
