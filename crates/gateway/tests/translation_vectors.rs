//! Translation vectors as data: each file under `tests/vectors/` is one case, so a new case is a
//! new file. `request/*.json`: a client request and the exact upstream request it must become.
//! `stream/*.json`: upstream SSE chunks (fed one by one, as they would arrive) and the client
//! events that must come out (ids and timestamps, which are generated, are not compared); an
//! optional `request` (the client's request) gives the translator the request's tool names.
//! Kiro cases give `upstream_frames` instead (`{"event"|"exception": name, "payload": json}`,
//! encoded as AWS event-stream frames and fed in two halves each, `cut_last` feeding only half
//! of the last); `upstream_framing: "json-array"` reads `upstream_sse` as Gemini's unframed
//! stream (docs/formats.md #32).
//! Run with `BLESS=1` to print the actual output of a failing case for review.

use serde_json::Value;
use std::path::{Path, PathBuf};
use switchyard_gateway::formats::{
    self, framing::Framing, sse::SseParser, Format, StreamTranslator,
};

/// One AWS event-stream frame, as Kiro sends it.
fn aws_frame(spec: &Value) -> Vec<u8> {
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
    let h =
        |name: &'static str, v: &str| Header::new(name, HeaderValue::String(v.to_string().into()));
    let payload = spec["payload"].to_string().into_bytes();
    let m = match (spec["event"].as_str(), spec["exception"].as_str()) {
        (Some(event), _) => Message::new(payload)
            .add_header(h(":message-type", "event"))
            .add_header(h(":event-type", event)),
        (None, Some(kind)) => Message::new(payload)
            .add_header(h(":message-type", "exception"))
            .add_header(h(":exception-type", kind)),
        _ => panic!("a frame needs event or exception: {spec}"),
    };
    let mut out = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&m, &mut out).unwrap();
    out
}

/// The upstream bytes of a stream case, in the pieces they arrive in.
fn upstream_chunks(case: &Value) -> Vec<Vec<u8>> {
    if let Some(frames) = case["upstream_frames"].as_array() {
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let bytes = aws_frame(f);
            let half = bytes.len() / 2;
            out.push(bytes[..half].to_vec());
            if !(case["cut_last"] == true && i + 1 == frames.len()) {
                out.push(bytes[half..].to_vec());
            }
        }
        return out;
    }
    case["upstream_sse"]
        .as_array()
        .expect("upstream_sse is an array of chunks")
        .iter()
        .map(|c| c.as_str().unwrap().as_bytes().to_vec())
        .collect()
}

fn files(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(dir);
    let mut v: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no vectors in {}", root.display());
    v
}

fn load(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn format(v: &Value, key: &str) -> Format {
    Format::parse(v[key].as_str().unwrap()).unwrap_or_else(|| panic!("bad format in {key}"))
}

fn report(p: &Path, actual: &Value, expected: &Value) -> Option<String> {
    if actual == expected {
        return None;
    }
    if std::env::var_os("BLESS").is_some() {
        eprintln!(
            "{}:\n{}",
            p.display(),
            serde_json::to_string_pretty(actual).unwrap()
        );
    }
    Some(format!(
        "{}\n  expected: {expected}\n  actual:   {actual}",
        p.file_name().unwrap().to_string_lossy()
    ))
}

#[test]
fn request_vectors() {
    let mut failures = Vec::new();
    for p in files("request") {
        let case = load(&p);
        let ir = formats::decode_request(format(&case, "client"), &case["request"]);
        let mut actual = match ir {
            Ok(ir) => formats::encode_request(format(&case, "upstream"), &ir),
            Err(e) => serde_json::json!({ "error": e }),
        };
        scrub(&mut actual);
        failures.extend(report(&p, &actual, &case["expect"]));
    }
    assert!(
        failures.is_empty(),
        "{} vector(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Replaces generated ids (`msg_<hex>`, `resp_<hex>`…) and timestamps, which differ per run.
fn scrub(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("created");
            o.remove("created_at");
            o.values_mut().for_each(scrub);
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        Value::String(s) => {
            for prefix in ["msg_", "rs_", "resp_", "chatcmpl-", "conv_"] {
                if let Some(rest) = s.strip_prefix(prefix) {
                    if rest.len() >= 16 && rest.chars().all(|c| c.is_ascii_hexdigit()) {
                        *s = format!("{prefix}<generated>");
                    }
                }
            }
        }
        _ => {}
    }
}

/// Client SSE → comparable events: `{"event"?, "data"}` with generated ids/timestamps removed.
fn normalise(sse: &str) -> Value {
    let mut parser = SseParser::default();
    let mut events = parser.feed(sse.as_bytes());
    events.extend(parser.finish());
    Value::Array(
        events
            .into_iter()
            .map(|ev| {
                let mut data: Value =
                    serde_json::from_str(&ev.data).unwrap_or(Value::String(ev.data.clone()));
                if let Some(o) = data.as_object_mut() {
                    o.remove("id");
                    o.remove("created");
                }
                if let Some(m) = data.get_mut("message").and_then(Value::as_object_mut) {
                    m.remove("id");
                }
                scrub(&mut data);
                match ev.event {
                    Some(e) => serde_json::json!({"event": e, "data": data}),
                    None => serde_json::json!({"data": data}),
                }
            })
            .collect(),
    )
}

#[test]
fn stream_vectors() {
    let mut failures = Vec::new();
    for p in files("stream") {
        let case = load(&p);
        let mut t = StreamTranslator::new(
            format(&case, "upstream"),
            format(&case, "client"),
            case["model"].as_str().unwrap_or("m"),
            case["include_usage"].as_bool().unwrap_or(false),
        );
        // With the client's request, the translator knows its tools as the proxy does
        // (shortened names restored, freeform calls for Responses clients).
        if let Some(request) = case.get("request") {
            let ir = formats::decode_request(format(&case, "client"), request)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            t = t.with_tool_names(formats::ToolNames::new(&ir, format(&case, "upstream")));
        }
        if case["upstream_framing"] == "json-array" {
            t = t.with_framing(Framing::JsonArray);
        }
        let mut out = String::new();
        for chunk in upstream_chunks(&case) {
            // Every chunk produces its client bytes at once: nothing waits for the end.
            out += &t.feed(&chunk);
        }
        out += &t.end("mock");
        failures.extend(report(&p, &normalise(&out), &case["expect"]));
    }
    assert!(
        failures.is_empty(),
        "{} vector(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// docs/formats.md #11: an answer without content must look empty to the proxy (which then fails
/// over while nothing has reached the client), so the decoders report no content for it.
#[test]
fn answers_without_content_report_no_content() {
    use serde_json::json;
    // Non-streamed: Chat `choices: []` is an error; Gemini candidates without parts decode to
    // an answer with no parts (the proxy's "200 without any content").
    assert!(formats::decode_response(Format::Chat, &json!({"choices": []})).is_err());
    let gemini = json!({"candidates": [{"finishReason": "STOP", "index": 0}]});
    let r = formats::decode_response(Format::Gemini, &gemini).unwrap();
    assert!(r.parts.is_empty(), "{:?}", r.parts);
    let gemini = json!({"candidates": [{"content": {"role": "model", "parts": []}}]});
    assert!(formats::decode_response(Format::Gemini, &gemini)
        .unwrap()
        .parts
        .is_empty());
    // Streamed: such chunks carry no content, and nothing a client could take for an answer.
    let cases: [(Format, &[&str]); 3] = [
        (
            Format::Chat,
            &[
                "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[]}\n\n",
                "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[]}\n\n",
            ],
        ),
        (
            Format::Gemini,
            &["data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[]},\"index\":0}]}\n\n"],
        ),
        (
            Format::Gemini,
            &["data: {\"candidates\":[{\"content\":{\"role\":\"model\"},\"index\":0}]}\n\n"],
        ),
    ];
    for (upstream, chunks) in cases {
        let mut t = StreamTranslator::new(upstream, Format::Messages, "m", false);
        let mut out = String::new();
        for c in chunks {
            out += &t.feed(c.as_bytes());
        }
        assert!(!t.seen.content, "{upstream:?}: {out}");
        assert!(!t.seen.finished, "{upstream:?}: {out}");
        assert!(!out.contains("content_block"), "{upstream:?}: {out}");
    }
}
