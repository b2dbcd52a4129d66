//! Stream-only upstreams (Codex's backend streams whatever the request says) answering a client
//! that asked for one JSON answer: the upstream's events are collected into one IR response,
//! which the client's codec then encodes (docs/formats.md #8).

use crate::formats::framing::Framing;
use crate::formats::{ir, EventReader, Format, Seen};
use std::collections::HashMap;

pub struct Aggregator {
    reader: EventReader,
    pub response: ir::Response,
    /// Stream tool-call index → position in `response.parts`.
    tools: HashMap<usize, usize>,
    /// Errors, usage and the finish, as for a stream.
    pub seen: Seen,
}

impl Aggregator {
    pub fn new(upstream: Format, framing: Framing) -> Self {
        Self {
            reader: EventReader::new(upstream, framing),
            response: ir::Response::default(),
            tools: HashMap::new(),
            seen: Seen::default(),
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        for e in self.reader.feed(bytes) {
            self.apply(e);
        }
    }

    pub fn finish(mut self) -> Self {
        for e in self.reader.end() {
            self.apply(e);
        }
        self
    }

    fn apply(&mut self, e: ir::Event) {
        self.seen.note(&e);
        let parts = &mut self.response.parts;
        match e {
            ir::Event::Start { id, model } => {
                self.response.id = id;
                self.response.model = model;
            }
            ir::Event::TextDelta(t) => match parts.last_mut() {
                Some(ir::Part::Text(s)) => s.push_str(&t),
                _ => parts.push(ir::Part::Text(t)),
            },
            ir::Event::ThinkingDelta(t) => match parts.last_mut() {
                Some(ir::Part::Thinking { text, .. }) => text.push_str(&t),
                _ => parts.push(ir::Part::Thinking {
                    text: t,
                    signature: None,
                }),
            },
            ir::Event::SignatureDelta(sig) => {
                if let Some(ir::Part::Thinking { signature, .. }) = parts
                    .iter_mut()
                    .rev()
                    .find(|p| matches!(p, ir::Part::Thinking { .. }))
                {
                    signature.get_or_insert_with(String::new).push_str(&sig);
                }
            }
            ir::Event::ToolCallStart { index, id, name } => {
                self.tools.insert(index, parts.len());
                parts.push(ir::Part::ToolCall {
                    id,
                    name,
                    arguments: String::new(),
                });
            }
            ir::Event::ToolArgsDelta { index, fragment } => {
                if let Some(ir::Part::ToolCall { arguments, .. }) =
                    self.tools.get(&index).and_then(|i| parts.get_mut(*i))
                {
                    arguments.push_str(&fragment);
                }
            }
            ir::Event::Usage(u) => self.response.usage.merge(&u),
            ir::Event::Finish(r) => self.response.finish = Some(r),
            ir::Event::Error { .. } => {} // kept in `seen`
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_stream_becomes_one_response() {
        let mut a = Aggregator::new(Format::Chat, Framing::Sse);
        a.feed(br#"data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}

data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"lo"}}]}

data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}}]}

data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]}

data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}

data: [DONE]

"#);
        let a = a.finish();
        assert!(a.seen.error.is_none());
        let r = a.response;
        assert_eq!(r.parts[0], ir::Part::Text("Hello".into()));
        assert_eq!(
            r.parts[1],
            ir::Part::ToolCall {
                id: "call_1".into(),
                name: "f".into(),
                arguments: "{\"a\":1}".into()
            }
        );
        assert_eq!(r.finish, Some(ir::FinishReason::ToolCalls));
        assert_eq!((r.usage.input, r.usage.output), (Some(3), Some(4)));
    }
}
