//! How an upstream's stream is cut into events before its codec reads them. Three framings
//! exist on the wire: Server-Sent Events (almost everyone), one JSON array delivered piece by
//! piece (Gemini without `alt=sse`, docs/formats.md #32) and binary AWS event-stream frames (Kiro).
//! Each turns bytes, as they arrive, into complete events `(name, data)`, so the codecs stay the
//! same whatever the framing and nothing waits for the end of the stream.

use super::sse::{SseEvent, SseParser, MAX_EVENT_BYTES};
use super::Format;
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::{Buf, BytesMut};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Sse,
    /// `[{…},{…}]`, each top-level object one event.
    JsonArray,
    /// AWS event stream: `(:event-type, payload)` per frame.
    EventStream,
}

/// Event name given to an AWS exception frame: `exception:<:exception-type>`.
pub const EXCEPTION_PREFIX: &str = "exception:";

/// A frame longer than this is refused instead of being buffered (real frames are a few KiB).
const MAX_FRAME: usize = 16 * 1024 * 1024;

impl Framing {
    /// The framing of a streamed answer from its format and `Content-Type`; `None` when the
    /// answer is not a stream at all (one JSON document).
    pub fn of_answer(upstream: Format, content_type: Option<&str>) -> Option<Self> {
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if ct.starts_with("text/event-stream") {
            Some(Self::Sse)
        } else if ct.starts_with("application/vnd.amazon.eventstream") || upstream == Format::Kiro {
            Some(Self::EventStream)
        } else {
            None
        }
    }

    /// The framing a stream of this format has when nothing else says otherwise.
    pub fn default_for(upstream: Format) -> Self {
        match upstream {
            Format::Kiro => Self::EventStream,
            _ => Self::Sse,
        }
    }
}

/// Bytes in, complete events out, for any [`Framing`].
#[derive(Debug)]
pub enum Framer {
    Sse(SseParser),
    JsonArray(JsonArraySplitter),
    EventStream(EventStreamSplitter),
}

impl Framer {
    pub fn new(f: Framing) -> Self {
        match f {
            Framing::Sse => Self::Sse(SseParser::default()),
            Framing::JsonArray => Self::JsonArray(JsonArraySplitter::default()),
            Framing::EventStream => Self::EventStream(EventStreamSplitter::default()),
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        match self {
            Self::Sse(p) => p.feed(bytes),
            Self::JsonArray(p) => p.feed(bytes),
            Self::EventStream(p) => p.feed(bytes),
        }
    }

    /// The stream ended: an event left without its terminator (SSE only) is flushed.
    pub fn finish(&mut self) -> Option<SseEvent> {
        match self {
            Self::Sse(p) => p.finish(),
            _ => None,
        }
    }

    /// Why the stream can no longer be read: an event outgrew the limit (the buffer was let go).
    pub fn overflow(&self) -> Option<&str> {
        match self {
            Self::Sse(p) => p.overflow(),
            Self::JsonArray(p) => p.overflow.then_some(OVERSIZED_OBJECT),
            Self::EventStream(_) => None,
        }
    }

    /// Whether the stream ended between two events (not in the middle of one). Formats without
    /// a terminal event (Kiro) finish cleanly only then; a cut frame is a cut stream.
    pub fn ended_cleanly(&self) -> bool {
        match self {
            Self::Sse(p) => p.overflow().is_none(),
            Self::JsonArray(p) => p.depth == 0 && !p.overflow,
            Self::EventStream(p) => p.buf.is_empty() && !p.broken,
        }
    }
}

/// Splits a JSON array streamed in pieces into its top-level objects, tracking string, escape
/// and brace state byte by byte. Structural characters are ASCII, so splitting bytes never cuts
/// a UTF-8 sequence.
#[derive(Debug, Default)]
pub struct JsonArraySplitter {
    current: Vec<u8>,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// An object outgrew [`MAX_EVENT_BYTES`]; nothing more is read.
    overflow: bool,
}

const OVERSIZED_OBJECT: &str =
    "the provider sent a stream object larger than 16 MiB; the stream was ended";

impl JsonArraySplitter {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if self.overflow {
            return out;
        }
        if self.current.len() + bytes.len() > MAX_EVENT_BYTES {
            self.overflow = true;
            self.current = Vec::new();
            return out;
        }
        for &b in bytes {
            if self.depth == 0 {
                // Between objects: `[`, `,`, `]` and whitespace carry nothing.
                if b == b'{' {
                    self.depth = 1;
                    self.current.push(b);
                }
                continue;
            }
            self.current.push(b);
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        let object = std::mem::take(&mut self.current);
                        out.push(SseEvent {
                            event: None,
                            data: String::from_utf8_lossy(&object).into_owned(),
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// Splits AWS event-stream bytes into messages; the frame (prelude, headers, both CRC32s) is
/// decoded and checked by `aws-smithy-eventstream`. An event frame becomes
/// `(:event-type, payload)`, an exception or error frame `(exception:<type>, payload)`. A frame
/// that fails its checks ends the stream with an `exception:InvalidFrame` event: nothing after a
/// corrupt frame can be trusted.
#[derive(Debug, Default)]
pub struct EventStreamSplitter {
    buf: BytesMut,
    broken: bool,
}

impl EventStreamSplitter {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        if self.broken {
            return Vec::new();
        }
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while self.buf.len() >= 4 {
            let total =
                u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
            if !(16..=MAX_FRAME).contains(&total) {
                out.push(self.fail(format!("a frame claims {total} bytes")));
                break;
            }
            if self.buf.len() < total {
                break;
            }
            let mut frame = self.buf.split_to(total).freeze();
            match aws_smithy_eventstream::frame::read_message_from(&mut frame) {
                Ok(m) if frame.remaining() == 0 => out.push(event_of(&m)),
                Ok(_) => out.push(self.fail("a frame has trailing bytes".into())),
                Err(e) => out.push(self.fail(e.to_string())),
            }
            if self.broken {
                break;
            }
        }
        out
    }

    fn fail(&mut self, why: String) -> SseEvent {
        self.broken = true;
        self.buf.clear();
        SseEvent {
            event: Some(format!("{EXCEPTION_PREFIX}InvalidFrame")),
            data: serde_json::json!({ "message": format!("corrupt event-stream frame: {why}") })
                .to_string(),
        }
    }
}

fn header<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

fn event_of(m: &Message) -> SseEvent {
    let data = String::from_utf8_lossy(m.payload()).into_owned();
    let event = match header(m, ":message-type") {
        Some("exception") => Some(format!(
            "{EXCEPTION_PREFIX}{}",
            header(m, ":exception-type").unwrap_or("Exception")
        )),
        Some("error") => Some(format!(
            "{EXCEPTION_PREFIX}{}",
            header(m, ":error-code").unwrap_or("Error")
        )),
        _ => header(m, ":event-type").map(str::to_owned),
    };
    SseEvent { event, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::event_stream::Header;

    fn header(name: &'static str, value: &str) -> Header {
        Header::new(name, HeaderValue::String(value.to_string().into()))
    }

    fn frame(event: &str, payload: &str) -> Vec<u8> {
        let m = Message::new(payload.as_bytes().to_vec())
            .add_header(header(":message-type", "event"))
            .add_header(header(":event-type", event))
            .add_header(header(":content-type", "application/json"));
        let mut out = Vec::new();
        aws_smithy_eventstream::frame::write_message_to(&m, &mut out).unwrap();
        out
    }

    #[test]
    fn json_array_objects_come_out_as_they_complete() {
        let mut s = JsonArraySplitter::default();
        assert!(s.feed(b"[{\"a\":\"x}\\\"{\",").is_empty());
        let ev = s
            .feed(b"\"b\":[1,{\"c\":2}]}\r\n,\r\n{\"d\":\"\xc3")
            .to_vec();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].data, "{\"a\":\"x}\\\"{\",\"b\":[1,{\"c\":2}]}");
        let ev = s.feed(b"\xa9\"}]");
        assert_eq!(ev[0].data, "{\"d\":\"é\"}");
        assert_eq!(s.depth, 0);
    }

    #[test]
    fn event_stream_frames_split_anywhere() {
        let mut bytes = frame("assistantResponseEvent", r#"{"content":"Hi"}"#);
        bytes.extend(frame(
            "toolUseEvent",
            r#"{"toolUseId":"t1","name":"f","input":"{"}"#,
        ));
        let mut f = Framer::new(Framing::EventStream);
        let mut out = Vec::new();
        for b in &bytes {
            out.extend(f.feed(std::slice::from_ref(b)));
        }
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].event.as_deref(), Some("assistantResponseEvent"));
        assert_eq!(out[0].data, r#"{"content":"Hi"}"#);
        assert_eq!(out[1].event.as_deref(), Some("toolUseEvent"));
        assert!(f.ended_cleanly());
        // Half a frame left at the end is a cut stream.
        f.feed(&bytes[..10]);
        assert!(!f.ended_cleanly());
    }

    #[test]
    fn a_corrupt_frame_ends_the_stream_with_an_exception() {
        let mut bytes = frame("assistantResponseEvent", r#"{"content":"Hi"}"#);
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff; // message CRC no longer matches
        let mut f = Framer::new(Framing::EventStream);
        let out = f.feed(&bytes);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].event.as_deref(), Some("exception:InvalidFrame"));
        assert!(f.feed(&frame("assistantResponseEvent", "{}")).is_empty());
        assert!(!f.ended_cleanly());
    }

    #[test]
    fn exception_frames_keep_their_type() {
        let m = Message::new(br#"{"message":"slow down"}"#.to_vec())
            .add_header(header(":message-type", "exception"))
            .add_header(header(":exception-type", "ThrottlingException"));
        let mut bytes = Vec::new();
        aws_smithy_eventstream::frame::write_message_to(&m, &mut bytes).unwrap();
        let out = Framer::new(Framing::EventStream).feed(&bytes);
        assert_eq!(
            out[0].event.as_deref(),
            Some("exception:ThrottlingException")
        );
    }
}
