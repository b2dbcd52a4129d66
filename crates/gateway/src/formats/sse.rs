//! Incremental Server-Sent Events framing: bytes in as they arrive, complete events out.
//! Accepts `\n`, `\r\n` and `\r` line endings, comments and multi-line data.

/// The largest SSE event (or unfinished line) an upstream may send. A whole Responses answer
/// arrives as one `response.completed` event, so this is generous; it exists so that an
/// upstream sending one endless line cannot grow the gateway without bound.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct SseParser {
    buf: String,
    /// How far into `buf` no line end was found (scanning resumes there, not at the start).
    scanned: usize,
    pending: Vec<u8>,
    event: Option<String>,
    /// The event's data lines so far, joined with `\n` (`None`: no data line yet).
    data: Option<String>,
    /// Set when an event outgrew [`MAX_EVENT_BYTES`]; everything after it is dropped.
    overflow: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseParser {
    /// Feeds bytes; returns every event completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        if self.overflow.is_some() {
            return Vec::new();
        }
        // Only decode up to the last complete UTF-8 sequence; keep the rest for the next chunk.
        // The common case (no pending partial character, valid UTF-8) appends without copying
        // through an intermediate buffer.
        if self.pending.is_empty() {
            match std::str::from_utf8(bytes) {
                Ok(text) => self.buf.push_str(text),
                Err(e) if e.error_len().is_none() => {
                    let valid = e.valid_up_to();
                    self.buf
                        .push_str(std::str::from_utf8(&bytes[..valid]).unwrap_or_default());
                    self.pending.extend_from_slice(&bytes[valid..]);
                }
                Err(_) => self.buf.push_str(&String::from_utf8_lossy(bytes)),
            }
        } else {
            self.pending.extend_from_slice(bytes);
            let valid = match std::str::from_utf8(&self.pending) {
                Ok(_) => self.pending.len(),
                Err(e) if e.error_len().is_none() => e.valid_up_to(),
                Err(_) => self.pending.len(),
            };
            let text = String::from_utf8_lossy(&self.pending[..valid]).into_owned();
            self.pending.drain(..valid);
            self.buf.push_str(&text);
        }
        let mut out = Vec::new();
        // Walk the lines with a cursor and drop the consumed prefix once: draining per line
        // would shift the rest of the buffer for every line (quadratic on big chunks).
        let mut buf = std::mem::take(&mut self.buf);
        let mut start = 0;
        // The unfinished line was scanned before: only the new bytes can hold its end.
        let mut from = self.scanned;
        let mut stopped_at = None;
        while let Some(rel) = memchr::memchr2(b'\n', b'\r', &buf.as_bytes()[from..]) {
            let pos = from + rel;
            let mut skip = 1;
            if buf[pos..].starts_with("\r\n") {
                skip = 2;
            } else if buf[pos..].starts_with('\r') && pos + 1 == buf.len() {
                // A lone CR at the end might be the first half of CRLF: wait for more.
                stopped_at = Some(pos);
                break;
            }
            if let Some(ev) = self.line(&buf[start..pos]) {
                out.push(ev);
            }
            start = pos + skip;
            from = start;
        }
        self.scanned = stopped_at.unwrap_or(buf.len()) - start;
        buf.drain(..start);
        self.buf = buf;
        let held = self.buf.len() + self.data.as_ref().map_or(0, String::len);
        if held > MAX_EVENT_BYTES {
            self.overflow = Some(format!(
                "the provider sent an event larger than {} MiB; the stream was ended",
                MAX_EVENT_BYTES >> 20
            ));
            self.buf = String::new();
            self.data = None;
            self.scanned = 0;
        }
        out
    }

    /// Why the stream can no longer be read, if an event outgrew the limit.
    pub fn overflow(&self) -> Option<&str> {
        self.overflow.as_deref()
    }

    /// Flushes an event left without its blank line when the stream ends.
    pub fn finish(&mut self) -> Option<SseEvent> {
        self.scanned = 0;
        let rest = std::mem::take(&mut self.buf);
        if !rest.is_empty() {
            if let Some(ev) = self.line(&rest) {
                return Some(ev);
            }
        }
        self.dispatch()
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let Some(data) = self.data.take() else {
            self.event = None;
            return None;
        };
        Some(SseEvent {
            event: self.event.take(),
            data,
        })
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {}
        }
        None
    }
}

/// Frames one SSE event whose data is a JSON value, serialised straight into the frame
/// (`Value`'s `Display` goes through the formatter machinery and was a visible cost per event).
pub fn frame_value(event: Option<&str>, data: &serde_json::Value) -> String {
    let mut out = Vec::with_capacity(128);
    if let Some(e) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(e.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    serde_json::to_writer(&mut out, data).expect("a JSON value serialises");
    out.extend_from_slice(b"\n\n");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Frames one SSE event.
pub fn frame(event: Option<&str>, data: &str) -> String {
    match event {
        Some(e) => format!("event: {e}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_line_endings() {
        let mut p = SseParser::default();
        assert!(p.feed(b"event: message_start\r\nda").is_empty());
        let ev = p.feed(b"ta: {\"a\":1}\r\n\r\n: comment\n\ndata: [DONE]\n\n");
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].event.as_deref(), Some("message_start"));
        assert_eq!(ev[0].data, "{\"a\":1}");
        assert_eq!(ev[1].data, "[DONE]");
    }

    #[test]
    fn multibyte_characters_split_across_chunks() {
        let mut p = SseParser::default();
        let bytes = "data: héllo\n\n".as_bytes();
        let mut out = p.feed(&bytes[..8]);
        out.extend(p.feed(&bytes[8..]));
        assert_eq!(out[0].data, "héllo");
    }

    #[test]
    fn data_lines_join_and_an_event_without_data_is_dropped() {
        let mut p = SseParser::default();
        let ev = p.feed(b"data: a\ndata:\ndata: c\n\nevent: ping\n\nevent: x\ndata: y\n\n");
        assert_eq!(ev.len(), 2);
        assert_eq!(
            (ev[0].event.as_deref(), ev[0].data.as_str()),
            (None, "a\n\nc")
        );
        assert_eq!(
            (ev[1].event.as_deref(), ev[1].data.as_str()),
            (Some("x"), "y")
        );
    }

    #[test]
    fn a_value_frame_is_the_text_frame_of_its_json() {
        let v = serde_json::json!({"type": "ping", "t": "é\"\n"});
        assert_eq!(
            frame_value(Some("ping"), &v),
            frame(Some("ping"), &v.to_string())
        );
        assert_eq!(frame_value(None, &v), frame(None, &v.to_string()));
    }

    #[test]
    fn an_endless_line_is_cut_off_at_the_limit_and_nothing_after_it_is_kept() {
        let mut p = SseParser::default();
        assert_eq!(p.feed(b"data: {\"ok\":1}\n\n").len(), 1);
        let chunk = vec![b'x'; 1 << 20];
        assert!(p.feed(b"data: ").is_empty());
        // "data: " plus 15 MiB is under the limit; one more MiB is over it.
        for _ in 0..(MAX_EVENT_BYTES >> 20) - 1 {
            assert!(p.feed(&chunk).is_empty());
            assert!(p.overflow().is_none(), "not over the limit yet");
        }
        assert!(p.feed(&chunk).is_empty());
        assert!(p.overflow().unwrap().contains("larger than 16 MiB"));
        assert!(
            p.buf.capacity() == 0 && p.data.is_none(),
            "the line is let go"
        );
        // What follows the overflow is dropped, even a well-formed event.
        assert!(p.feed(b"\n\ndata: late\n\n").is_empty());
    }

    #[test]
    fn many_data_lines_count_toward_the_limit_too() {
        let mut p = SseParser::default();
        let line = format!("data: {}\n", "y".repeat(1 << 20));
        for _ in 0..=(MAX_EVENT_BYTES >> 20) {
            p.feed(line.as_bytes());
        }
        assert!(p.overflow().is_some());
    }

    #[test]
    fn a_line_split_over_many_chunks_is_scanned_once() {
        // Byte by byte, with CRLF split between chunks: the resume point must not skip a line end.
        let text = b"event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n";
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for b in text.iter() {
            out.extend(p.feed(std::slice::from_ref(b)));
        }
        let data: Vec<_> = out.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["1", "2"]);
        assert_eq!(out[0].event.as_deref(), Some("a"));
    }

    #[test]
    fn unterminated_last_event_is_flushed() {
        let mut p = SseParser::default();
        assert!(p.feed(b"data: x").is_empty());
        assert_eq!(p.finish().unwrap().data, "x");
    }
}
