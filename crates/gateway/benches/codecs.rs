//! Converter benchmarks: a Claude-Code-sized request through every decode → encode pair, and a
//! 200-event stream through every upstream → client translator. `cargo bench -p switchyard-gateway`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value};
use std::hint::black_box;
use switchyard_gateway::formats::{self, Format, StreamTranslator};

const FORMATS: [Format; 4] = [
    Format::Chat,
    Format::Messages,
    Format::Responses,
    Format::Gemini,
];

/// A coding-agent turn: system prompt, 30 turns with tool calls and results, 10 tools.
fn request(f: Format) -> Value {
    let tools: Vec<Value> = (0..10)
        .map(|i| json!({"name": format!("tool_{i}"), "description": "Does a thing to a file",
                        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}, "n": {"type": "integer"}}}}))
        .collect();
    let mut messages = Vec::new();
    for i in 0..30 {
        messages.push(json!({"role": "user", "content": format!("Step {i}: please look at src/lib.rs and fix the bug in the parser. {}", "x".repeat(400))}));
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": "Reading the file."},
            {"type": "tool_use", "id": format!("toolu_{i}"), "name": "tool_1", "input": {"path": "src/lib.rs", "n": i}}]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": format!("toolu_{i}"), "content": "fn main() {}\n".repeat(40)}]}));
    }
    messages.push(json!({"role": "user", "content": "Now run the tests."}));
    let messages_req = json!({"model": "m", "max_tokens": 8192, "stream": true, "system": "You are a coding agent.",
                              "tools": tools, "messages": messages});
    let ir = formats::decode_request(Format::Messages, &messages_req).expect("valid request");
    formats::encode_request(f, &ir)
}

/// 200 upstream events: a text answer streamed in small pieces, then a tool call.
fn stream(f: Format) -> Vec<u8> {
    let mut t = StreamTranslator::new(Format::Chat, f, "m", true);
    let chat = |d: Value| format!("data: {d}\n\n");
    let mut upstream = String::new();
    upstream += &chat(
        json!({"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
    );
    for i in 0..190 {
        upstream += &chat(
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": format!("token{i} ")}}]}),
        );
    }
    upstream += &chat(
        json!({"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": ""}}]}}]}),
    );
    for _ in 0..6 {
        upstream += &chat(
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":1}"}}]}}]}),
        );
    }
    upstream += &chat(
        json!({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
    );
    upstream += &chat(
        json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 200}}),
    );
    upstream += "data: [DONE]\n\n";
    if f == Format::Chat {
        return upstream.into_bytes();
    }
    // Produce the same answer in format `f` as the upstream stream for the other directions.
    let mut out = String::new();
    for chunk in upstream.as_bytes().chunks(512) {
        out += &t.feed(chunk);
    }
    out += &t.end("bench");
    out.into_bytes()
}

fn requests(c: &mut Criterion) {
    let mut g = c.benchmark_group("request");
    for from in FORMATS {
        let body = request(from);
        for to in FORMATS {
            g.bench_with_input(
                BenchmarkId::new(format!("{from:?}"), format!("{to:?}")),
                &body,
                |b, body| {
                    b.iter(|| {
                        let ir = formats::decode_request(from, black_box(body)).unwrap();
                        black_box(formats::encode_request(to, &ir))
                    })
                },
            );
        }
    }
    g.finish();
}

fn streams(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream_200_events");
    for from in [Format::Chat, Format::Messages, Format::Responses] {
        let bytes = stream(from);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        for to in FORMATS {
            if from == to {
                continue;
            }
            g.bench_with_input(
                BenchmarkId::new(format!("{from:?}"), format!("{to:?}")),
                &bytes,
                |b, bytes| {
                    b.iter(|| {
                        let mut t = StreamTranslator::new(from, to, "m", true);
                        let mut n = 0;
                        // Network-sized chunks, as they arrive from an upstream.
                        for chunk in bytes.chunks(1024) {
                            n += t.feed(black_box(chunk)).len();
                        }
                        n + t.end("bench").len()
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, requests, streams);
criterion_main!(benches);
