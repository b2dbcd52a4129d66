//! Wire formats. One canonical internal representation ([`ir`]) and one codec per wire format
//! (request decode/encode, response decode/encode, incremental stream decode/encode). Translation
//! between two formats is always "decode with one codec, encode with the other": no pairwise
//! translators. When client and upstream speak the same format the proxy does not come here at
//! all: the bytes pass through.

pub mod chat;
pub mod framing;
pub mod gemini;
pub mod ir;
pub mod kiro;
pub mod messages;
pub mod responses;
pub mod sse;
pub mod tools;
mod translate;

pub use tools::ToolNames;
pub use translate::{EventReader, Seen, StreamTranslator, StreamWatch};

/// The wire formats are part of the vocabulary the dashboard shares (`switchyard-types`).
pub use switchyard_types::Format;

/// Upstream events (cut out of the bytes by [`framing::Framer`]) → IR events.
pub trait StreamDecoder: Send {
    /// Feeds one event (its name, e.g. SSE `event:`, if any, and its data), returns IR events.
    fn event(&mut self, name: Option<&str>, data: &str) -> Vec<ir::Event>;

    /// The stream ended between two events. Formats with a terminal event need nothing here;
    /// one without (Kiro) finishes its answer now.
    fn end(&mut self) -> Vec<ir::Event> {
        Vec::new()
    }
}

pub trait StreamEncoder: Send {
    /// Renders IR events as client bytes (complete SSE frames).
    fn encode(&mut self, event: &ir::Event) -> String;

    /// The client's freeform tools (Responses `custom`): their calls are rendered as
    /// `custom_tool_call` items. Only the Responses encoder cares.
    fn set_freeform_tools(&mut self, _names: &std::collections::HashSet<String>) {}

    /// A keepalive in this client's framing: an SSE comment by default, never data that strict
    /// clients would try to parse.
    fn keepalive(&mut self) -> String {
        ": keepalive\n\n".into()
    }
}

pub fn stream_decoder(f: Format) -> Box<dyn StreamDecoder> {
    match f {
        Format::Chat => Box::new(chat::ChatStreamDecoder::default()),
        Format::Messages => Box::new(messages::MessagesStreamDecoder::default()),
        Format::Responses => Box::new(responses::ResponsesStreamDecoder::default()),
        Format::Gemini => Box::new(gemini::GeminiStreamDecoder::default()),
        Format::Kiro => Box::new(kiro::KiroStreamDecoder::default()),
    }
}

/// `include_usage`: whether a Chat client asked for the final usage chunk.
pub fn stream_encoder(f: Format, model: &str, include_usage: bool) -> Box<dyn StreamEncoder> {
    match f {
        Format::Chat | Format::Kiro => Box::new(chat::ChatStreamEncoder::new(model, include_usage)),
        Format::Messages => Box::new(messages::MessagesStreamEncoder::new(model)),
        Format::Responses => Box::new(responses::ResponsesStreamEncoder::new(model)),
        Format::Gemini => Box::new(gemini::GeminiStreamEncoder::new(model, false)),
    }
}

pub fn decode_request(f: Format, body: &serde_json::Value) -> Result<ir::Request, String> {
    let mut req = match f {
        Format::Chat => chat::decode_request(body),
        Format::Messages => messages::decode_request(body),
        Format::Responses => responses::decode_request(body),
        Format::Gemini => gemini::decode_request(body),
        Format::Kiro => Err("no client speaks the Kiro format".to_string()),
    }?;
    for t in &mut req.tools {
        t.parameters = ir::clean_schema(&t.parameters);
    }
    drop_hollow(&mut req);
    Ok(req)
}

/// Drops what no upstream can use and several refuse (docs/formats.md #37): empty system
/// entries, and assistant turns that held only thinking without a signature, or blank text (nothing to replay,
/// and an empty assistant message in its place is an error on Anthropic and noise elsewhere).
/// Mid-conversation system entries keep their place among the turns that remain.
fn drop_hollow(req: &mut ir::Request) {
    req.system.retain(|s| !s.trim().is_empty());
    req.system_inline.retain(|(_, s)| !s.trim().is_empty());
    let hollow = |m: &ir::Message| {
        m.role == ir::Role::Assistant
            && !m.parts.is_empty()
            && m.parts.iter().all(|p| match p {
                ir::Part::Thinking { signature, .. } => signature.is_none(),
                ir::Part::Text(t) => t.trim().is_empty(),
                _ => false,
            })
    };
    if !req.messages.iter().any(hollow) {
        return;
    }
    // Where each old index lands once the hollow turns are gone (one past the end included).
    let mut landing = Vec::with_capacity(req.messages.len() + 1);
    let mut kept = Vec::with_capacity(req.messages.len());
    for m in req.messages.drain(..) {
        landing.push(kept.len());
        if !hollow(&m) {
            kept.push(m);
        }
    }
    landing.push(kept.len());
    for (at, _) in &mut req.system_inline {
        *at = landing[(*at).min(landing.len() - 1)];
    }
    req.messages = kept;
}

/// The upstream request. Call ids are made unique and tool names the target would reject are
/// shortened first ([`tools::prepare`]); the answer side undoes the renaming with
/// [`ToolNames::new`] built from the same `req`.
pub fn encode_request(f: Format, req: &ir::Request) -> serde_json::Value {
    let req = tools::prepare(req, f);
    let req = req.as_ref();
    match f {
        Format::Chat => chat::encode_request(req),
        Format::Messages => messages::encode_request(req),
        Format::Responses => responses::encode_request(req),
        Format::Gemini => gemini::encode_request(req),
        Format::Kiro => kiro::encode_request(req),
    }
}

/// For a passthrough answer: whether it says anything and its usage, when the format's common
/// shape can be read without decoding the answer (`None`: decode it with [`decode_response`]).
pub fn summarise_answer(f: Format, body: &[u8]) -> Option<(bool, ir::Usage)> {
    match f {
        Format::Chat => chat::summarise_answer(body),
        _ => None,
    }
}

pub fn decode_response(f: Format, body: &serde_json::Value) -> Result<ir::Response, String> {
    match f {
        Format::Chat => chat::decode_response(body),
        Format::Messages => messages::decode_response(body),
        Format::Responses => responses::decode_response(body),
        Format::Gemini => gemini::decode_response(body),
        Format::Kiro => Err("Kiro answers only as an event stream, not one JSON document".into()),
    }
}

pub fn encode_response(f: Format, resp: &ir::Response) -> serde_json::Value {
    match f {
        Format::Chat | Format::Kiro => chat::encode_response(resp),
        Format::Messages => messages::encode_response(resp),
        Format::Responses => responses::encode_response(resp),
        Format::Gemini => gemini::encode_response(resp),
    }
}

/// The client's answer for a request whose IR gave `names` ([`ToolNames::new`] with the
/// request and the upstream format): the client's tool names are restored and freeform calls
/// become `custom_tool_call` items for Responses clients.
pub fn encode_response_for(f: Format, resp: &ir::Response, names: &ToolNames) -> serde_json::Value {
    if names.is_empty() {
        return encode_response(f, resp);
    }
    let mut resp = resp.clone();
    names.restore_response(&mut resp);
    match f {
        Format::Responses => responses::encode_response_with(&resp, names.freeform()),
        other => encode_response(other, &resp),
    }
}

/// The human-readable message of an error body in any format we speak.
pub fn error_message(body: &serde_json::Value) -> Option<String> {
    let e = body.get("error")?;
    e.get("message")
        .and_then(|m| m.as_str())
        .map(str::to_owned)
        .or_else(|| e.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{Message, Part, Role};

    fn msg(role: Role, parts: Vec<Part>) -> Message {
        Message { role, parts }
    }

    #[test]
    fn mid_conversation_system_entries_keep_their_place_when_hollow_turns_go() {
        let thought = || Part::Thinking {
            text: "hmm".into(),
            signature: None,
        };
        let mut req = ir::Request {
            system: vec![" ".into(), "be brief".into()],
            system_inline: vec![
                (2, "before the 2nd user turn".into()),
                (3, "at the end".into()),
            ],
            messages: vec![
                msg(Role::User, vec![Part::Text("a".into())]),
                msg(Role::Assistant, vec![thought(), Part::Text(String::new())]),
                msg(Role::User, vec![Part::Text("b".into())]),
            ],
            ..Default::default()
        };
        drop_hollow(&mut req);
        assert_eq!(req.system, ["be brief"]);
        assert_eq!(req.messages.len(), 2);
        assert_eq!(
            req.system_inline,
            [
                (1, "before the 2nd user turn".into()),
                (2, "at the end".into())
            ]
        );
        // A signed thought can be replayed: that turn stays.
        let mut signed = ir::Request {
            messages: vec![msg(
                Role::Assistant,
                vec![Part::Thinking {
                    text: "hmm".into(),
                    signature: Some("sig".into()),
                }],
            )],
            ..Default::default()
        };
        drop_hollow(&mut signed);
        assert_eq!(signed.messages.len(), 1);
    }
}
