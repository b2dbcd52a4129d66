//! A client's request body as it arrived: its bytes plus where each top-level member sits,
//! found in one validating pass without building a JSON tree. Routing only needs `model`,
//! `stream` and which keys are present; a same-format upstream gets the client's own bytes with
//! only the model value replaced (every other byte, unknown fields and number spellings
//! included, goes through as sent). The tree is built only when something needs it: translation
//! or the response cache.

use bytes::Bytes;
use serde::de::{Deserialize, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

pub struct ClientBody {
    bytes: Bytes,
    /// Top-level members in order: key and the byte range of its value.
    members: Vec<(String, Range<usize>)>,
    /// Some top-level key appears twice. JSON readers keep the last; passing the bytes on would
    /// leave the earlier copy for the upstream to read (or refuse), so such a body is sent as
    /// its tree, one key each.
    repeats: bool,
    tree: OnceLock<Value>,
}

impl ClientBody {
    /// Reads the top level; the whole body is validated as JSON on the way.
    pub fn parse(bytes: Bytes) -> Result<Self, String> {
        let members: Vec<(String, Range<usize>)> = {
            let base = bytes.as_ptr() as usize;
            let top: TopLevel = serde_json::from_slice(&bytes).map_err(|e| {
                if e.is_data() {
                    "request body must be a JSON object".to_string()
                } else {
                    format!("request body is not valid JSON: {e}")
                }
            })?;
            top.0
                .into_iter()
                .map(|(k, v)| {
                    let start = v.get().as_ptr() as usize - base;
                    (k, start..start + v.get().len())
                })
                .collect()
        };
        // One pass with a set: comparing each key with every earlier one is quadratic, and a
        // body of 80k short keys held the event loop for most of a minute.
        let mut seen = std::collections::HashSet::with_capacity(members.len());
        let repeats = !members.iter().all(|(k, _)| seen.insert(k.as_str()));
        Ok(Self {
            bytes,
            repeats,
            members,
            tree: OnceLock::new(),
        })
    }

    /// The raw text of a top-level member (the last one if a key repeats, as JSON parsers read
    /// duplicates).
    fn raw(&self, key: &str) -> Option<&[u8]> {
        self.span(key).map(|r| &self.bytes[r])
    }

    fn span(&self, key: &str) -> Option<Range<usize>> {
        self.members
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, r)| r.clone())
    }

    /// The body exactly as the client sent it.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    pub fn has(&self, key: &str) -> bool {
        self.span(key).is_some()
    }

    /// A top-level member read as `T`; `Some(Err)` when it is there but of another shape.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<Result<T, serde_json::Error>> {
        self.raw(key).map(serde_json::from_slice)
    }

    /// The whole body as a JSON tree, built the first time it is asked for. It can still fail
    /// where the validating pass did not: a number beyond `f64` (`1e400`) is valid JSON that a
    /// tree cannot hold.
    pub fn tree(&self) -> Result<&Value, String> {
        if let Some(v) = self.tree.get() {
            return Ok(v);
        }
        let v = serde_json::from_slice(&self.bytes)
            .map_err(|e| format!("request body is not valid JSON: {e}"))?;
        Ok(self.tree.get_or_init(|| v))
    }

    /// The body to send to an upstream of the client's own format: the client's bytes with the
    /// top-level `model` value replaced, or the bytes as they are when there is no such member
    /// (Gemini names the model in the URL).
    pub fn with_model(&self, model: Option<&str>) -> Bytes {
        if self.repeats {
            if let Ok(tree) = self.tree() {
                let mut tree = tree.clone();
                if let (Some(m), Some(o)) = (model, tree.as_object_mut()) {
                    if o.contains_key("model") {
                        o.insert("model".into(), Value::String(m.into()));
                    }
                }
                return Bytes::from(serde_json::to_vec(&tree).expect("a JSON value serialises"));
            }
        }
        let (Some(model), Some(span)) = (model, self.span("model")) else {
            return self.bytes.clone();
        };
        let name = serde_json::to_string(model).expect("a string serialises");
        let mut out = Vec::with_capacity(self.bytes.len() + name.len());
        out.extend_from_slice(&self.bytes[..span.start]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&self.bytes[span.end..]);
        Bytes::from(out)
    }
}

/// The top level of an object body, each value kept as raw text borrowed from the body.
struct TopLevel<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = TopLevel<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    members.push((key, map.next_value()?));
                }
                Ok(TopLevel(members))
            }
        }
        d.deserialize_map(Members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(s: &str) -> ClientBody {
        ClientBody::parse(Bytes::from(s.to_owned())).unwrap()
    }

    #[test]
    fn only_the_model_value_changes() {
        let b = body(
            r#"{ "x_unknown": 1.50, "model" : "a/b",  "messages":[{"role":"user","content":"hi"}], "n": 1e400 }"#,
        );
        assert_eq!(
            std::str::from_utf8(&b.with_model(Some("gpt-\"4\""))).unwrap(),
            r#"{ "x_unknown": 1.50, "model" : "gpt-\"4\"",  "messages":[{"role":"user","content":"hi"}], "n": 1e400 }"#
        );
    }

    /// 200k distinct top-level keys (2.4 MB): the duplicate check must be linear. Compared
    /// pairwise this takes minutes on one core, stalling every stream on the event loop; the
    /// 20 s bound only tells a stall from a pass, it does not measure speed.
    #[test]
    fn many_top_level_keys_do_not_stall() {
        let mut s = String::from("{");
        for i in 0..200_000 {
            s.push_str(&format!("\"k{i}\":0,"));
        }
        s.push_str("\"model\":\"m\",\"k7\":1}");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let b = ClientBody::parse(Bytes::from(s)).unwrap();
            let _ = tx.send((b.repeats, b.get::<String>("model").unwrap().unwrap()));
        });
        let (repeats, model) = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("parsing 200k keys stalled");
        assert!(repeats, "k7 appears twice");
        assert_eq!(model, "m");
    }

    #[test]
    fn members_are_read_without_a_tree() {
        let b = body(r#"{"mod\u0065l":"m1","stream":true,"input":[],"model":"m2"}"#);
        assert_eq!(b.get::<String>("model").unwrap().unwrap(), "m2");
        assert!(b.get::<bool>("stream").unwrap().unwrap());
        assert!(b.has("input") && !b.has("messages"));
        assert!(b.get::<String>("stream").unwrap().is_err());
        assert!(b.get::<String>("absent").is_none());
        assert!(b.tree.get().is_none(), "no tree was built");
        assert_eq!(b.tree().unwrap()["model"], "m2");
        // A repeated key goes out once, as JSON readers see the body (the last value wins, in
        // the first one's place), not twice for the upstream to pick from.
        assert_eq!(
            &b.with_model(Some("up"))[..],
            br#"{"model":"up","stream":true,"input":[]}"#
        );
        let twice = body(r#"{"messages":[1],"temperature":0,"messages":[2]}"#);
        assert_eq!(
            &twice.with_model(None)[..],
            br#"{"messages":[2],"temperature":0}"#
        );
    }

    #[test]
    fn no_model_member_means_the_bytes_as_sent() {
        let b = body(r#"{"contents":[]}"#);
        assert_eq!(
            &b.with_model(Some("gemini-2.5-pro"))[..],
            br#"{"contents":[]}"#
        );
        assert_eq!(&b.with_model(None)[..], br#"{"contents":[]}"#);
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let err = |s: &str| ClientBody::parse(Bytes::from(s.to_owned())).err().unwrap();
        assert!(err(r#"{"model": "a""#).starts_with("request body is not valid JSON"));
        assert!(err("not json").starts_with("request body is not valid JSON"));
        assert_eq!(err("[1,2]"), "request body must be a JSON object");
        assert_eq!(err(r#""model""#), "request body must be a JSON object");
        assert!(err(r#"{"a":1} trailing"#).starts_with("request body is not valid JSON"));
        // Valid JSON, kept as sent for a same-format upstream; only a tree cannot hold it.
        let huge = body(r#"{"model":"m","n":1e400}"#);
        assert_eq!(
            &huge.with_model(Some("u"))[..],
            br#"{"model":"u","n":1e400}"#
        );
        assert!(huge.tree().unwrap_err().contains("number out of range"));
    }
}
