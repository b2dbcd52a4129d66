//! Tool names and tool-call ids across formats (docs/formats.md §4): names a target would reject are
//! shortened/sanitised by a pure function and restored in the answer; duplicate call ids are
//! de-duplicated with the results following the same mapping; freeform (Responses `custom`)
//! calls are turned back into text for the client.
//!
//! Everything here is derived from the IR request alone, so the response side can rebuild the
//! mapping from the request it answers: [`ToolNames::new`] with the request and the upstream
//! format gives the reverse map that [`crate::formats::StreamTranslator::with_tool_names`] and
//! [`crate::formats::encode_response_for`] use.

use super::ir::{self, Part, Request, Role, ToolKind};
use super::Format;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};

/// Longest tool name we send to any target: the portable limit (OpenAI, Anthropic, Gemini and
/// Kiro all accept 64).
pub const MAX_TOOL_NAME: usize = 64;

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The name a tool gets at `target`: unchanged when the target accepts it, otherwise invalid
/// characters become `_`, the name is cut to fit, and `_` + 8 hex digits of a hash of the whole
/// original name are appended (so two long names sharing a prefix stay distinct). Pure: the same
/// name always maps to the same upstream name.
pub fn upstream_name(name: &str, target: Format) -> Cow<'_, str> {
    let gemini = target == Format::Gemini;
    let ok = |c: char| {
        c.is_ascii_alphanumeric() || c == '_' || c == '-' || (gemini && (c == '.' || c == ':'))
    };
    // Gemini: must start with a letter or an underscore.
    let first_ok = !gemini
        || name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !name.is_empty() && name.len() <= MAX_TOOL_NAME && first_ok && name.chars().all(ok) {
        return Cow::Borrowed(name);
    }
    let mut clean: String = name.chars().map(|c| if ok(c) { c } else { '_' }).collect();
    if !first_ok {
        clean.insert(0, '_');
    }
    let h = fnv1a(name);
    let suffix = format!("_{:08x}", (h ^ (h >> 32)) as u32);
    clean.truncate(MAX_TOOL_NAME - suffix.len()); // ASCII only by now
    Cow::Owned(clean + &suffix)
}

/// Per-request tool facts the response side needs: upstream name → the client's name, and the
/// client's freeform tools. Built from the IR request (the client's names) and the upstream
/// format, exactly as the request encoder renamed them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolNames {
    restore: HashMap<String, String>,
    freeform: HashSet<String>,
}

impl ToolNames {
    pub fn new(req: &Request, upstream: Format) -> Self {
        let mut names = Self::default();
        let history = req
            .messages
            .iter()
            .flat_map(|m| &m.parts)
            .filter_map(|p| match p {
                Part::ToolCall { name, .. } => Some(name.as_str()),
                _ => None,
            });
        for name in req.tools.iter().map(|t| t.name.as_str()).chain(history) {
            if let Cow::Owned(u) = upstream_name(name, upstream) {
                names.restore.insert(u, name.to_string());
            }
        }
        names.freeform = req
            .tools
            .iter()
            .filter(|t| matches!(t.kind, ToolKind::Freeform { .. }))
            .map(|t| t.name.clone())
            .collect();
        names
    }

    /// The client's name for a name the upstream used (unknown names are kept as they are).
    pub fn client_name<'a>(&'a self, upstream: &'a str) -> &'a str {
        self.restore.get(upstream).map_or(upstream, String::as_str)
    }

    /// Whether the client declared `name` (its own name) as a freeform tool.
    pub fn is_freeform(&self, name: &str) -> bool {
        self.freeform.contains(name)
    }

    pub fn freeform(&self) -> &HashSet<String> {
        &self.freeform
    }

    /// Whether there is anything to do on the response side.
    pub fn is_empty(&self) -> bool {
        self.restore.is_empty() && self.freeform.is_empty()
    }

    /// Restores the client's names in a whole response.
    pub fn restore_response(&self, resp: &mut ir::Response) {
        for p in &mut resp.parts {
            if let Part::ToolCall { name, .. } = p {
                if let Some(orig) = self.restore.get(name.as_str()) {
                    *name = orig.clone();
                }
            }
        }
    }
}

/// Makes every tool-call id unique across the conversation (docs/formats.md §4, #7): the second and
/// later uses of an id get `_2`, `_3`…; empty ids get `call_<n>`. Each result takes the id of
/// the earliest unanswered call with its original id in the latest turn that used it, so results
/// follow the calls in order. With `strict` (Anthropic accepts only `[A-Za-z0-9_-]` in ids), a
/// character outside that set becomes `_` first, on calls and results alike. Deterministic;
/// returns whether anything changed.
pub fn dedupe_call_ids(messages: &mut [ir::Message], strict: bool) -> bool {
    let mut used: HashSet<String> = HashSet::new();
    // Original id → renamed ids of calls not yet answered (of the latest turn using that id).
    let mut pending: HashMap<String, VecDeque<String>> = HashMap::new();
    let mut generated = 0usize;
    let mut changed = false;
    for m in messages.iter_mut() {
        let mut this_turn: HashSet<String> = HashSet::new();
        for p in &mut m.parts {
            match p {
                Part::ToolCall { id, .. } if m.role == Role::Assistant => {
                    let original = id.clone();
                    let base = if original.trim().is_empty() {
                        generated += 1;
                        format!("call_{generated}")
                    } else if strict {
                        strict_id(&original)
                    } else {
                        original.clone()
                    };
                    let mut fresh = base.clone();
                    let mut n = 2;
                    while used.contains(&fresh) {
                        fresh = format!("{base}_{n}");
                        n += 1;
                    }
                    used.insert(fresh.clone());
                    let queue = pending.entry(original.clone()).or_default();
                    if this_turn.insert(original.clone()) {
                        queue.clear(); // a new turn reusing the id: results answer this one
                    }
                    queue.push_back(fresh.clone());
                    if fresh != *id {
                        *id = fresh;
                        changed = true;
                    }
                }
                Part::ToolResult { call_id, .. } => {
                    if let Some(fresh) = pending
                        .get_mut(call_id.as_str())
                        .and_then(VecDeque::pop_front)
                    {
                        if fresh != *call_id {
                            *call_id = fresh;
                            changed = true;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    changed
}

/// An id in the characters Anthropic accepts; others become `_` (uniqueness is kept by the
/// caller's suffixes).
pub fn strict_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The request as `target` gets it: unique call ids, tool names the target accepts (in the
/// tool list, the forced tool choice and the history). Borrowed when nothing changes.
pub fn prepare(req: &Request, target: Format) -> Cow<'_, Request> {
    let mut out = Cow::Borrowed(req);
    let mut messages = req.messages.clone();
    if dedupe_call_ids(&mut messages, target == Format::Messages) {
        out.to_mut().messages = messages;
    }
    let needs_rename = req
        .tools
        .iter()
        .map(|t| t.name.as_str())
        .chain(
            req.messages
                .iter()
                .flat_map(|m| &m.parts)
                .filter_map(|p| match p {
                    Part::ToolCall { name, .. } => Some(name.as_str()),
                    _ => None,
                }),
        )
        .chain(match &req.tool_choice {
            Some(ir::ToolChoice::Tool(n)) => Some(n.as_str()),
            _ => None,
        })
        .any(|n| matches!(upstream_name(n, target), Cow::Owned(_)));
    if needs_rename {
        let r = out.to_mut();
        for t in &mut r.tools {
            t.name = upstream_name(&t.name, target).into_owned();
        }
        if let Some(ir::ToolChoice::Tool(n)) = &mut r.tool_choice {
            *n = upstream_name(n, target).into_owned();
        }
        for p in r.messages.iter_mut().flat_map(|m| &mut m.parts) {
            if let Part::ToolCall { name, .. } = p {
                *name = upstream_name(name, target).into_owned();
            }
        }
    }
    out
}

/// Incrementally turns the JSON arguments of a freeform call (`{"input": "…"}`, arriving in
/// fragments) into the text of `input`, so the client sees the text as it is written. Arguments
/// of another shape are collected and converted at the end.
#[derive(Debug, Default)]
pub struct InputUnwrapper {
    raw: String,
    /// Byte position in `raw` up to which the string has been decoded.
    pos: usize,
    state: Unwrap,
    emitted: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum Unwrap {
    #[default]
    Seek,
    InString,
    Done,
    Fallback,
}

impl InputUnwrapper {
    /// Feeds an arguments fragment; returns the new input text, if any.
    pub fn feed(&mut self, fragment: &str) -> String {
        self.raw.push_str(fragment);
        if self.state == Unwrap::Seek {
            match seek_input(&self.raw) {
                Ok(Some(at)) => {
                    self.pos = at;
                    self.state = Unwrap::InString;
                }
                Ok(None) => return String::new(),
                Err(()) => {
                    self.state = Unwrap::Fallback;
                    return String::new();
                }
            }
        }
        if self.state != Unwrap::InString {
            return String::new();
        }
        let text = self.scan();
        self.emitted.push_str(&text);
        text
    }

    /// The arguments are complete; returns the input text not returned by `feed` yet.
    pub fn finish(&mut self) -> String {
        match self.state {
            Unwrap::Seek | Unwrap::Fallback => {
                let text = ir::freeform_input(&self.raw);
                self.state = Unwrap::Done;
                self.emitted.push_str(&text);
                text
            }
            Unwrap::InString | Unwrap::Done => String::new(),
        }
    }

    /// All the input text so far.
    pub fn input(&self) -> &str {
        &self.emitted
    }

    fn scan(&mut self) -> String {
        let s = &self.raw[self.pos..];
        let mut out = String::new();
        let mut at = 0;
        while let Some(c) = s[at..].chars().next() {
            match c {
                '"' => {
                    at += 1;
                    self.state = Unwrap::Done;
                    break;
                }
                '\\' => {
                    let rest = &s[at..];
                    let Some(e) = rest[1..].chars().next() else {
                        break; // the escape continues in the next fragment
                    };
                    if e == 'u' {
                        match unicode_escape(rest) {
                            Some((ch, len)) => {
                                out.push(ch);
                                at += len;
                            }
                            None => break,
                        }
                        continue;
                    }
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        other => other,
                    });
                    at += 1 + e.len_utf8();
                }
                c => {
                    out.push(c);
                    at += c.len_utf8();
                }
            }
        }
        self.pos += at;
        out
    }
}

/// `{ "input" : "` at the start of `raw`: `Ok(Some(position after the quote))`, `Ok(None)` when
/// `raw` is still a prefix of that, `Err` when the arguments have another shape.
fn seek_input(raw: &str) -> Result<Option<usize>, ()> {
    let b = raw.as_bytes();
    let mut i = 0;
    for tok in ["{", "\"input\"", ":", "\""] {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        for &t in tok.as_bytes() {
            if i == b.len() {
                return Ok(None);
            }
            if b[i] != t {
                return Err(());
            }
            i += 1;
        }
    }
    Ok(Some(i))
}

/// A `\uXXXX` escape (or a surrogate pair) at the start of `s`: the character and the bytes it
/// took, or `None` when more text is needed. Invalid escapes become U+FFFD.
fn unicode_escape(s: &str) -> Option<(char, usize)> {
    let hex = |from: usize| -> Option<Option<u32>> {
        if s.len() < from + 4 {
            return None;
        }
        Some(
            s.get(from..from + 4)
                .and_then(|h| u32::from_str_radix(h, 16).ok()),
        )
    };
    let Some(hi) = hex(2)? else {
        return Some(('\u{fffd}', 2));
    };
    if (0xD800..0xDC00).contains(&hi) {
        if s.len() < 12 {
            // A high surrogate needs its low half; wait unless it clearly is not coming.
            let tail = &s.as_bytes()[6..];
            return if b"\\u".starts_with(&tail[..tail.len().min(2)]) {
                None
            } else {
                Some(('\u{fffd}', 6))
            };
        }
        if s.as_bytes()[6..8] == *b"\\u" {
            if let Some(Some(lo)) = hex(8) {
                if (0xDC00..0xE000).contains(&lo) {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return Some((char::from_u32(c).unwrap_or('\u{fffd}'), 12));
                }
            }
        }
        return Some(('\u{fffd}', 6));
    }
    Some((char::from_u32(hi).unwrap_or('\u{fffd}'), 6))
}

/// JSON-escapes text for splicing into a JSON string (no surrounding quotes).
pub(super) fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_and_invalid_names_are_shortened_with_a_hash_and_restored() {
        let long = "mcp__my_very_long_server_name__".to_string() + &"do_something_".repeat(5);
        assert!(long.len() > 64);
        let short = upstream_name(&long, Format::Chat).into_owned();
        assert_eq!(short.len(), 64, "{short}");
        assert!(short
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        assert_eq!(short, upstream_name(&long, Format::Chat), "deterministic");
        assert_ne!(
            short,
            upstream_name(&(long.clone() + "x"), Format::Chat),
            "same prefix, different names"
        );
        assert_eq!(upstream_name("Read", Format::Chat), "Read");
        assert_eq!(upstream_name("ns.tool", Format::Gemini), "ns.tool");
        let dotted = upstream_name("ns.tool", Format::Chat).into_owned();
        assert!(dotted.starts_with("ns_tool_"), "{dotted}");
        assert!(upstream_name("9lives", Format::Gemini).starts_with("_9lives_"));
        let unicode = upstream_name("outil_é", Format::Messages).into_owned();
        assert!(
            unicode.is_ascii() && unicode.starts_with("outil__"),
            "{unicode}"
        );

        let req = crate::formats::decode_request(
            Format::Messages,
            &json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}],
                    "tools": [{"name": long, "input_schema": {"type": "object"}},
                              {"name": "Read", "input_schema": {"type": "object"}}]}),
        )
        .unwrap();
        let names = ToolNames::new(&req, Format::Chat);
        assert_eq!(names.client_name(&short), long);
        assert_eq!(names.client_name("Read"), "Read");
        assert!(ToolNames::new(&req, Format::Messages).client_name(&short) == long);
    }

    #[test]
    fn duplicate_ids_in_one_turn_get_suffixes_and_results_follow() {
        let call = |id: &str| Part::ToolCall {
            id: id.into(),
            name: "f".into(),
            arguments: "{}".into(),
        };
        let result = |id: &str, t: &str| Part::ToolResult {
            call_id: id.into(),
            content: vec![Part::Text(t.into())],
            is_error: false,
        };
        let mut msgs = vec![
            ir::Message {
                role: Role::Assistant,
                parts: vec![call("x"), call("x"), call(""), call("")],
            },
            ir::Message {
                role: Role::User,
                parts: vec![result("x", "a"), result("x", "b"), result("", "c")],
            },
            ir::Message {
                role: Role::Assistant,
                parts: vec![call("x")],
            },
            ir::Message {
                role: Role::User,
                parts: vec![result("x", "d")],
            },
        ];
        assert!(dedupe_call_ids(&mut msgs, false));
        let ids: Vec<&str> = msgs
            .iter()
            .flat_map(|m| &m.parts)
            .map(|p| match p {
                Part::ToolCall { id, .. } => id.as_str(),
                Part::ToolResult { call_id, .. } => call_id.as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(
            ids,
            ["x", "x_2", "call_1", "call_2", "x", "x_2", "call_1", "x_3", "x_3"]
        );
        let mut again = msgs.clone();
        assert!(!dedupe_call_ids(&mut again, false), "idempotent");
    }

    #[test]
    fn non_stream_answers_restore_names_and_freeform_calls() {
        use crate::formats::{decode_response, encode_response_for};
        let long = "x".repeat(80);
        let codex = crate::formats::decode_request(
            Format::Responses,
            &json!({"model": "m", "input": "go", "tools": [
                {"type": "custom", "name": "apply_patch"},
                {"type": "function", "name": long, "parameters": {"type": "object"}}]}),
        )
        .unwrap();
        let names = ToolNames::new(&codex, Format::Chat);
        let short = upstream_name(&long, Format::Chat).into_owned();
        let upstream = json!({"id": "c1", "model": "m", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "apply_patch",
                 "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": short, "arguments": "{}"}}]}}]});
        let resp = decode_response(Format::Chat, &upstream).unwrap();
        let out = encode_response_for(Format::Responses, &resp, &names);
        assert_eq!(
            out["output"][0],
            json!({"type": "custom_tool_call", "id": "ctc_call_a", "call_id": "call_a", "name": "apply_patch",
                   "input": "*** Begin Patch\n*** End Patch", "status": "completed"})
        );
        assert_eq!(out["output"][1]["type"], "function_call");
        assert_eq!(out["output"][1]["name"], long);
        // Same request, a Messages upstream answering with a tool_use block.
        let upstream = json!({"id": "msg_1", "model": "m", "stop_reason": "tool_use", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "apply_patch", "input": {"input": "patch"}}]});
        let resp = decode_response(Format::Messages, &upstream).unwrap();
        let names = ToolNames::new(&codex, Format::Messages);
        let out = encode_response_for(Format::Responses, &resp, &names);
        assert_eq!(out["output"][0]["type"], "custom_tool_call");
        assert_eq!(out["output"][0]["input"], "patch");
        // A Responses upstream's own custom_tool_call, translated to a Chat client.
        let upstream = json!({"id": "resp_1", "model": "m", "status": "completed", "output": [
            {"type": "custom_tool_call", "call_id": "call_c", "name": "apply_patch", "input": "p"}]});
        let resp = decode_response(Format::Responses, &upstream).unwrap();
        let out = encode_response_for(Format::Chat, &resp, &ToolNames::default());
        let call = &out["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["arguments"], "{\"input\":\"p\"}");
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
        // A Messages client gets the long name back from a Chat upstream.
        let req = crate::formats::decode_request(
            Format::Messages,
            &json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}],
                    "tools": [{"name": long, "input_schema": {"type": "object"}}]}),
        )
        .unwrap();
        let upstream = json!({"id": "c1", "model": "m", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "tool_calls": [
                {"id": "call_b", "type": "function", "function": {"name": short, "arguments": "{}"}}]}}]});
        let resp = decode_response(Format::Chat, &upstream).unwrap();
        let out = encode_response_for(Format::Messages, &resp, &ToolNames::new(&req, Format::Chat));
        assert_eq!(out["content"][0]["name"], long);
    }

    #[test]
    fn freeform_input_is_unwrapped_across_any_fragment_boundary() {
        let text = "*** Begin Patch\n\"quoted\" \\ tab\t é 😀\n*** End Patch";
        let args = ir::freeform_arguments(text);
        for cut in 0..=args.len() {
            if !args.is_char_boundary(cut) {
                continue;
            }
            let mut u = InputUnwrapper::default();
            let mut got = u.feed(&args[..cut]);
            got += &u.feed(&args[cut..]);
            got += &u.finish();
            assert_eq!(got, text, "cut at {cut}");
            assert_eq!(u.input(), text);
        }
        // One character at a time, including escaped surrogate pairs.
        let escaped = r#"{"input": "a\ud83d\ude00b\n"}"#;
        let mut u = InputUnwrapper::default();
        let mut got = String::new();
        for c in escaped.chars() {
            got += &u.feed(&c.to_string());
        }
        got += &u.finish();
        assert_eq!(got, "a😀b\n");
        // Another shape: converted at the end.
        let mut u = InputUnwrapper::default();
        assert_eq!(u.feed(r#"{"patch": 1}"#), "");
        assert_eq!(u.finish(), r#"{"patch":1}"#);
        let mut u = InputUnwrapper::default();
        u.feed("not json");
        assert_eq!(u.finish(), "not json");
    }
}
