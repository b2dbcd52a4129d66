//! Stream translation: upstream stream bytes in (SSE, a JSON array or event-stream frames),
//! client SSE bytes out, one event at a time.

use super::framing::{Framer, Framing};
use super::{ir, stream_decoder, stream_encoder, Format, StreamDecoder, StreamEncoder, ToolNames};

/// Upstream bytes → IR events: the stream's framing plus its format's decoder. The one place
/// that knows how a stream ends: an event left without its terminator is flushed, and a stream
/// that stopped between events (not inside one) lets the decoder finish the answer.
pub struct EventReader {
    framer: Framer,
    decoder: Box<dyn StreamDecoder>,
    /// The framer gave up on an oversized event, and the error was handed out.
    broken: bool,
}

impl EventReader {
    pub fn new(upstream: Format, framing: Framing) -> Self {
        Self {
            framer: Framer::new(framing),
            decoder: stream_decoder(upstream),
            broken: false,
        }
    }

    /// The IR events completed by `bytes`.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<ir::Event> {
        self.feed_where(bytes, |_| true)
    }

    /// As [`Self::feed`], but events whose raw data `wanted` rejects are not decoded at all.
    pub fn feed_where(&mut self, bytes: &[u8], wanted: impl Fn(&str) -> bool) -> Vec<ir::Event> {
        let mut out = Vec::new();
        for ev in self.framer.feed(bytes) {
            if wanted(&ev.data) {
                out.extend(self.decoder.event(ev.event.as_deref(), &ev.data));
            }
        }
        if let (false, Some(why)) = (self.broken, self.framer.overflow()) {
            self.broken = true;
            out.push(ir::Event::Error {
                status: 502,
                message: why.to_string(),
            });
        }
        out
    }

    /// Why the stream can no longer be read (an oversized event), once that was reported; the
    /// caller ends the stream.
    pub fn broken(&self) -> Option<&str> {
        self.framer.overflow().filter(|_| self.broken)
    }

    /// The upstream closed the connection.
    pub fn end(&mut self) -> Vec<ir::Event> {
        let mut out = Vec::new();
        if let Some(ev) = self.framer.finish() {
            out = self.decoder.event(ev.event.as_deref(), &ev.data);
        }
        if self.framer.ended_cleanly() {
            out.extend(self.decoder.end());
        }
        out
    }
}

/// Upstream stream → client SSE, one event at a time.
pub struct StreamTranslator {
    reader: EventReader,
    encoder: Box<dyn StreamEncoder>,
    finished: bool,
    /// Upstream tool names → the client's (docs/formats.md §4).
    names: ToolNames,
    /// What the router and the request log need to know about the stream so far.
    pub seen: Seen,
}

/// What a stream has carried so far: content (text, thinking, a tool call), usage, an error.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub content: bool,
    pub usage: ir::Usage,
    pub error: Option<String>,
    /// The status the in-stream error stands for, when the upstream said (AWS exceptions,
    /// Gemini's `code`); 502 means it did not.
    pub error_status: Option<u16>,
    pub finished: bool,
}

impl Seen {
    pub fn note(&mut self, e: &ir::Event) {
        match e {
            ir::Event::TextDelta(t) | ir::Event::ThinkingDelta(t) if !t.is_empty() => {
                self.content = true
            }
            ir::Event::ToolCallStart { .. } | ir::Event::ToolArgsDelta { .. } => {
                self.content = true
            }
            ir::Event::Usage(u) => self.usage.merge(u),
            ir::Event::Error { message, status } if self.error.is_none() => {
                self.error = Some(message.clone());
                self.error_status = Some(*status);
            }
            ir::Event::Finish(_) => self.finished = true,
            _ => {}
        }
    }
}

/// Watches a stream passed through untouched: the same decoding as translation, but nothing is
/// encoded. Before the first content it decodes every event (readiness); after that only events
/// that can carry usage or an error, so passthrough stays cheap.
pub struct StreamWatch {
    reader: EventReader,
    pub seen: Seen,
}

/// Substring finders built once: the passthrough watch asks four of them of every event.
struct Needles {
    usage: memchr::memmem::Finder<'static>,
    error: memchr::memmem::Finder<'static>,
    finish_reason: memchr::memmem::Finder<'static>,
    finish_reason_gemini: memchr::memmem::Finder<'static>,
}

static NEEDLES: std::sync::LazyLock<Needles> = std::sync::LazyLock::new(|| Needles {
    usage: memchr::memmem::Finder::new("usage"),
    error: memchr::memmem::Finder::new("error"),
    finish_reason: memchr::memmem::Finder::new("\"finish_reason\""),
    finish_reason_gemini: memchr::memmem::Finder::new("\"finishReason\""),
});

/// Whether a passthrough event must be decoded once the answer has content: it may carry usage,
/// an error or the end of the answer.
fn worth_decoding(data: &str) -> bool {
    let n = &*NEEDLES;
    let d = data.as_bytes();
    n.usage.find(d).is_some() || n.error.find(d).is_some() || says_finished(n, d)
}

/// Whether an event may end the answer: a Chat `finish_reason` that is not `null`, or a
/// Gemini `finishReason`. Every Chat chunk carries `"finish_reason": null`, so a plain
/// substring test would decode every chunk of a passthrough stream.
fn says_finished(n: &Needles, data: &[u8]) -> bool {
    if n.finish_reason_gemini.find(data).is_some() {
        return true;
    }
    let mut rest = data;
    while let Some(at) = n.finish_reason.find(rest) {
        rest = rest[at + "\"finish_reason\"".len()..].trim_ascii_start();
        rest = rest.strip_prefix(b":").unwrap_or(rest).trim_ascii_start();
        if !rest.starts_with(b"null") {
            return true;
        }
    }
    false
}

impl StreamWatch {
    pub fn new(upstream: Format, framing: Framing) -> Self {
        Self {
            reader: EventReader::new(upstream, framing),
            seen: Seen::default(),
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        let all = !self.seen.content;
        for e in self
            .reader
            .feed_where(bytes, |data| all || worth_decoding(data))
        {
            self.seen.note(&e);
        }
    }

    pub fn end(&mut self) {
        for e in self.reader.end() {
            self.seen.note(&e);
        }
    }

    /// Why the stream must end, if the upstream sent an event too large to read.
    pub fn broken(&self) -> Option<&str> {
        self.reader.broken()
    }
}

impl StreamTranslator {
    pub fn new(upstream: Format, client: Format, model: &str, include_usage: bool) -> Self {
        Self::with_encoder(upstream, stream_encoder(client, model, include_usage))
    }

    /// For the answer to `req` (the client's IR request): tool names shortened for the upstream
    /// are restored and freeform calls reach a Responses client as `custom_tool_call` items.
    pub fn for_request(upstream: Format, client: Format, model: &str, req: &ir::Request) -> Self {
        Self::new(upstream, client, model, req.include_usage)
            .with_tool_names(ToolNames::new(req, upstream))
    }

    /// Adds the request's tool facts ([`ToolNames::new`]) to a translator built another way
    /// (e.g. [`Self::with_encoder`]).
    pub fn with_tool_names(mut self, names: ToolNames) -> Self {
        self.encoder.set_freeform_tools(names.freeform());
        self.names = names;
        self
    }

    /// The upstream's stream is framed otherwise than its format's default (a Gemini upstream
    /// answering with a JSON array, docs/formats.md #32).
    pub fn with_framing(mut self, framing: Framing) -> Self {
        self.reader.framer = Framer::new(framing);
        self
    }

    /// With a specific client encoder (e.g. Gemini's JSON-array framing).
    pub fn with_encoder(upstream: Format, encoder: Box<dyn StreamEncoder>) -> Self {
        Self {
            reader: EventReader::new(upstream, Framing::default_for(upstream)),
            encoder,
            finished: false,
            names: ToolNames::default(),
            seen: Seen::default(),
        }
    }

    fn emit(&mut self, events: Vec<ir::Event>) -> String {
        let mut out = String::new();
        for mut e in events {
            if self.finished {
                break;
            }
            if let ir::Event::ToolCallStart { name, .. } = &mut e {
                *name = self.names.client_name(name).to_string();
            }
            self.seen.note(&e);
            if matches!(e, ir::Event::Finish(_) | ir::Event::Error { .. }) {
                self.finished = true;
            }
            out += &self.encoder.encode(&e);
        }
        out
    }

    pub fn feed(&mut self, bytes: &[u8]) -> String {
        let events = self.reader.feed(bytes);
        self.emit(events)
    }

    /// The upstream closed the connection.
    pub fn end(&mut self, provider: &str) -> String {
        let last = self.reader.end();
        let mut out = self.emit(last);
        if !self.finished {
            // A cut stream must not look like a clean finish (docs/formats.md #21).
            out += &self.fail(format!(
                "the stream from provider {provider:?} ended before it was complete"
            ));
        }
        out
    }

    /// A keepalive for the client, unless the stream is already over.
    /// Whether the upstream sent an event too large to read: the stream must end (its error
    /// event was already encoded into the client's format).
    pub fn broken(&self) -> bool {
        self.reader.broken().is_some()
    }

    pub fn keepalive(&mut self) -> String {
        if self.finished {
            String::new()
        } else {
            self.encoder.keepalive()
        }
    }

    pub fn fail(&mut self, message: String) -> String {
        if self.finished {
            return String::new();
        }
        self.finished = true;
        self.encoder.encode(&ir::Event::Error {
            status: 502,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::worth_decoding;

    #[test]
    fn only_a_real_finish_usage_or_error_is_decoded() {
        assert!(!worth_decoding(
            r#"{"choices":[{"delta":{"content":"a"},"finish_reason":null}]}"#
        ));
        assert!(!worth_decoding(r#"{"choices":[{"finish_reason" : null}]}"#));
        assert!(worth_decoding(
            r#"{"choices":[{"delta":{},"finish_reason": "stop"}]}"#
        ));
        assert!(worth_decoding(
            r#"{"candidates":[{"finishReason":"STOP"}]}"#
        ));
        assert!(!worth_decoding(r#"{"type":"content_block_delta"}"#));
        assert!(worth_decoding(
            r#"{"choices":[],"usage":{"prompt_tokens":3}}"#
        ));
        assert!(worth_decoding(r#"{"error":{"message":"overloaded"}}"#));
    }
}
