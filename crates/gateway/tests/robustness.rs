//! Property-style robustness: thousands of random and malformed bodies and SSE streams go through
//! every parser and converter. Whatever comes in, nothing panics, and translated client streams
//! keep their framing promises. Deterministic (seeded) so a failure reproduces.

use serde_json::{json, Map, Value};
use switchyard_gateway::formats::{
    self, framing::Framing, sse::SseParser, Format, StreamTranslator,
};

const FORMATS: [Format; 4] = [
    Format::Chat,
    Format::Messages,
    Format::Responses,
    Format::Gemini,
];

/// xorshift64*: small, deterministic, good enough to shake parsers.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Field names the codecs look at, so random documents reach deep into the code paths.
const KEYS: &[&str] = &[
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "tools",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "input",
    "id",
    "tool_call_id",
    "tool_use_id",
    "parts",
    "contents",
    "functionCall",
    "functionResponse",
    "args",
    "response",
    "system",
    "systemInstruction",
    "instructions",
    "stream",
    "max_tokens",
    "tool_choice",
    "thinking",
    "budget_tokens",
    "reasoning",
    "effort",
    "image_url",
    "url",
    "source",
    "data",
    "media_type",
    "inlineData",
    "call_id",
    "output",
    "choices",
    "delta",
    "index",
    "finish_reason",
    "usage",
    "candidates",
    "finishReason",
    "usageMetadata",
    "stop",
    "generationConfig",
    "thinkingConfig",
    "stream_options",
    "include_usage",
    "n",
    "item",
    "message",
    "content_block",
    "partial_json",
    "signature",
    "thought",
    "summary",
    "status",
    "error",
    "reasoning_content",
];
const STRINGS: &[&str] = &[
    "user",
    "assistant",
    "system",
    "tool",
    "model",
    "developer",
    "text",
    "image",
    "tool_use",
    "tool_result",
    "thinking",
    "function",
    "function_call",
    "function_call_output",
    "message",
    "input_text",
    "output_text",
    "auto",
    "none",
    "required",
    "any",
    "enabled",
    "STOP",
    "MAX_TOKENS",
    "SAFETY",
    "tool_calls",
    "length",
    "",
    "{",
    "{\"a\":",
    "[DONE]",
    "data:image/png;base64,AAAA",
    "\u{0}",
    "é🙂",
    "<think>",
    "</think>",
];

fn value(r: &mut Rng, depth: usize) -> Value {
    match r.below(if depth > 4 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(r.below(2) == 0),
        2 => json!(r.next() as i64 % 100_000),
        3 => json!(-(r.below(5) as f64) / 3.0),
        4 => json!(r.pick(STRINGS)),
        5 | 6 => {
            let mut m = Map::new();
            for _ in 0..r.below(6) {
                m.insert(r.pick(KEYS).to_string(), value(r, depth + 1));
            }
            Value::Object(m)
        }
        _ => Value::Array((0..r.below(5)).map(|_| value(r, depth + 1)).collect()),
    }
}

#[test]
fn random_requests_and_responses_never_panic() {
    let mut r = Rng(0x5eed_1234_abcd_0001);
    for _ in 0..6000 {
        let v = value(&mut r, 0);
        for from in FORMATS {
            if let Ok(ir) = formats::decode_request(from, &v) {
                for to in FORMATS.iter().copied().chain([Format::Kiro]) {
                    let out = formats::encode_request(to, &ir);
                    assert!(out.is_object(), "an encoded request is always an object");
                }
            }
            if let Ok(ir) = formats::decode_response(from, &v) {
                for to in FORMATS {
                    formats::encode_response(to, &ir);
                }
            }
        }
    }
}

/// One Kiro (AWS event-stream) frame.
fn aws(event: &str, payload: Value) -> Vec<u8> {
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
    let h = |n: &'static str, v: &str| Header::new(n, HeaderValue::String(v.to_string().into()));
    let m = Message::new(payload.to_string().into_bytes())
        .add_header(h(":message-type", "event"))
        .add_header(h(":event-type", event));
    let mut out = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&m, &mut out).unwrap();
    out
}

/// Real upstream frames of every format and framing, to be shuffled, cut and corrupted.
fn frames() -> Vec<(Format, Framing, Vec<Vec<u8>>)> {
    let mut all: Vec<(Format, Framing, Vec<Vec<u8>>)> = sse_frames()
        .into_iter()
        .map(|(f, v)| {
            (
                f,
                Framing::Sse,
                v.into_iter().map(String::into_bytes).collect(),
            )
        })
        .collect();
    // Gemini without alt=sse: the same chunks as one JSON array.
    let gemini = all
        .iter()
        .find(|(f, _, _)| *f == Format::Gemini)
        .map(|(_, _, v)| v.clone())
        .unwrap();
    let n = gemini.len();
    let array = gemini
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let obj = String::from_utf8_lossy(c);
            let obj = obj.trim().trim_start_matches("data: ");
            let (open, close) = (
                if i == 0 { "[" } else { ",\r\n" },
                if i + 1 == n { "]" } else { "" },
            );
            format!("{open}{obj}{close}").into_bytes()
        })
        .collect();
    all.push((Format::Gemini, Framing::JsonArray, array));
    all.push((
        Format::Kiro,
        Framing::EventStream,
        vec![
            aws("assistantResponseEvent", json!({"content": "hi"})),
            aws(
                "toolUseEvent",
                json!({"toolUseId": "t", "name": "f", "input": "{\"a\":"}),
            ),
            aws(
                "toolUseEvent",
                json!({"toolUseId": "t", "name": "f", "input": "1}", "stop": true}),
            ),
            aws("meteringEvent", json!({"unit": "credit", "usage": 0.1})),
        ],
    ));
    all
}

fn sse_frames() -> Vec<(Format, Vec<String>)> {
    let chat = |d: Value| format!("data: {d}\n\n");
    let ev = |k: &str, d: Value| format!("event: {k}\ndata: {d}\n\n");
    vec![
        (
            Format::Chat,
            vec![
                chat(
                    json!({"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
                ),
                chat(json!({"choices": [{"index": 0, "delta": {"content": "Hi"}}]})),
                chat(json!({"choices": [{"index": 0, "delta": {"reasoning_content": "hm"}}]})),
                chat(
                    json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{\"x\""}}]}}]}),
                ),
                chat(
                    json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": ":1}"}}]}}]}),
                ),
                chat(
                    json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
                ),
                chat(json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}})),
                "data: [DONE]\n\n".into(),
            ],
        ),
        (
            Format::Messages,
            vec![
                ev(
                    "message_start",
                    json!({"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 2}}}),
                ),
                ev(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "x"}}),
                ),
                ev(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "f"}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
                ),
                ev(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 1}),
                ),
                ev(
                    "message_delta",
                    json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}),
                ),
                ev("message_stop", json!({"type": "message_stop"})),
            ],
        ),
        (
            Format::Responses,
            vec![
                ev(
                    "response.created",
                    json!({"type": "response.created", "response": {"id": "r"}}),
                ),
                ev(
                    "response.output_item.added",
                    json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "function_call", "call_id": "c", "name": "f"}}),
                ),
                ev(
                    "response.function_call_arguments.delta",
                    json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{}"}),
                ),
                ev(
                    "response.output_text.delta",
                    json!({"type": "response.output_text.delta", "delta": "t"}),
                ),
                ev(
                    "response.completed",
                    json!({"type": "response.completed", "response": {"status": "completed", "usage": {"input_tokens": 1}}}),
                ),
            ],
        ),
        (
            Format::Gemini,
            vec![
                chat(
                    json!({"candidates": [{"content": {"parts": [{"text": "a"}, {"text": "b", "thought": true}]}}]}),
                ),
                chat(
                    json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {"x": 1}}}]}}]}),
                ),
                chat(
                    json!({"candidates": [{"content": {"parts": []}, "finishReason": "STOP"}], "usageMetadata": {"totalTokenCount": 3}}),
                ),
            ],
        ),
    ]
}

#[test]
fn random_and_broken_streams_never_panic_and_keep_framing() {
    let mut r = Rng(0x5eed_5678_0000_0002);
    let all = frames();
    for round in 0..3000 {
        let (upstream, framing, base) = r.pick(&all).clone();
        // Shuffle some frames, drop some, duplicate some, inject garbage.
        let mut stream: Vec<u8> = Vec::new();
        for _ in 0..r.below(base.len() + 4) {
            match r.below(10) {
                0 => stream.extend((0..r.below(40)).map(|_| r.next() as u8)),
                1 => stream.extend_from_slice(b"data: {\"truncated\": \n\n"),
                _ => {
                    let frame: &Vec<u8> = r.pick(&base);
                    stream.extend_from_slice(frame)
                }
            }
        }
        if round % 2 == 0 {
            // In order, whole: the common case must also hold up.
            stream = base.concat();
        }
        for client in FORMATS {
            let mut t =
                StreamTranslator::new(upstream, client, "m", r.below(2) == 0).with_framing(framing);
            let mut out = String::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let n = 1 + r.below(rest.len().min(64));
                out += &t.feed(&rest[..n]);
                rest = &rest[n..];
            }
            out += &t.end("mock");
            let mut p = SseParser::default();
            let mut events = p.feed(out.as_bytes());
            events.extend(p.finish());
            assert!(
                !events.is_empty(),
                "a client always hears how the stream ended"
            );
            let done = events.iter().filter(|e| e.data == "[DONE]").count();
            assert!(done <= 1, "[DONE] at most once");
            let terminal = events
                .iter()
                .filter(|e| {
                    matches!(
                        e.event.as_deref(),
                        Some(
                            "message_stop"
                                | "response.completed"
                                | "response.incomplete"
                                | "response.failed"
                                | "error"
                        )
                    )
                })
                .count();
            assert!(
                terminal <= 1,
                "{client:?} got {terminal} terminal events:\n{out}"
            );
            for e in &events {
                if e.data != "[DONE]" {
                    serde_json::from_str::<Value>(&e.data).unwrap_or_else(|err| {
                        panic!("client event is not JSON ({err}): {:?}", e.data)
                    });
                }
            }
        }
    }
}
