//! Editing plain JSON files in place: keys keep their order (`preserve_order`), the file keeps its
//! indentation, line endings, final newline and BOM, and a file whose content did not change keeps
//! its exact bytes. Comments cannot survive serde_json, so JSONC/JSON5 files are refused (the
//! caller shows the snippet instead) rather than silently stripped.

use serde_json::{Map, Value};

pub(crate) struct JsonDoc {
    original_text: Option<String>,
    original: Map<String, Value>,
    pub root: Map<String, Value>,
    style: Style,
}

struct Style {
    /// `None` = the file was a single line; keep it compact.
    indent: Option<String>,
    crlf: bool,
    trailing_newline: bool,
    bom: bool,
}

impl JsonDoc {
    /// `None` or an all-whitespace file is an empty object. The error is the reason shown to the
    /// user (with line and column).
    pub(crate) fn parse(text: Option<&str>) -> Result<JsonDoc, String> {
        let raw = text.unwrap_or("");
        let bom = raw.starts_with('\u{feff}');
        let body = raw.trim_start_matches('\u{feff}');
        let root = if body.trim().is_empty() {
            Map::new()
        } else {
            match serde_json::from_str::<Value>(body) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err("the top level is not a JSON object".into()),
                Err(e) => return Err(describe(body, &e)),
            }
        };
        let style = Style {
            indent: detect_indent(body),
            crlf: body.contains("\r\n"),
            trailing_newline: body.is_empty() || body.ends_with('\n'),
            bom,
        };
        Ok(JsonDoc {
            original_text: text.map(str::to_string),
            original: root.clone(),
            root,
            style,
        })
    }

    /// The new file text; the original bytes when nothing changed.
    pub(crate) fn render(&self) -> String {
        if let Some(text) = &self.original_text {
            if self.root == self.original {
                return text.clone();
            }
        }
        let value = Value::Object(self.root.clone());
        let mut out = match &self.style.indent {
            None => serde_json::to_string(&value).expect("a JSON value always serialises"),
            Some(indent) => {
                let mut buf = Vec::new();
                let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
                let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
                serde::Serialize::serialize(&value, &mut ser).expect("serialising to memory");
                String::from_utf8(buf).expect("serde_json writes UTF-8")
            }
        };
        if self.style.trailing_newline {
            out.push('\n');
        }
        if self.style.crlf {
            out = out.replace('\n', "\r\n");
        }
        if self.style.bom {
            out.insert(0, '\u{feff}');
        }
        out
    }
}

fn describe(body: &str, e: &serde_json::Error) -> String {
    let looks_jsonc =
        body.contains("//") || body.contains("/*") || e.to_string().contains("trailing comma");
    let mut reason = format!("invalid JSON: {e}");
    if looks_jsonc {
        reason.push_str(" (comments, trailing commas and JSON5 syntax are not rewritten, so they are never lost)");
    }
    reason
}

/// The whitespace before the first indented line, or `None` for a one-line file. New and empty
/// files get two spaces, like most tools write.
fn detect_indent(body: &str) -> Option<String> {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return Some("  ".into());
    }
    if !trimmed.contains('\n') {
        return None;
    }
    for line in trimmed.lines().skip(1) {
        let ws: String = line
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        if !ws.is_empty() && line.len() > ws.len() {
            return Some(ws);
        }
    }
    Some("  ".into())
}

/// The object at `path` under `map`, creating missing levels at the end of their parent. A level
/// that exists with another type is an error (we never replace a user's value of the wrong shape).
pub(crate) fn object_at<'a>(
    mut map: &'a mut Map<String, Value>,
    path: &[&str],
) -> Result<&'a mut Map<String, Value>, String> {
    let mut walked = String::new();
    for key in path {
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(key);
        let slot = map
            .entry((*key).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        map = match slot {
            Value::Object(inner) => inner,
            _ => return Err(format!("`{walked}` is not a JSON object")),
        };
    }
    Ok(map)
}

/// The object under `key` inside a subtree that is entirely ours (e.g. `provider.switchyard`): a
/// value of another type there is replaced, since no user setting lives in our own entry's slots.
pub(crate) fn own_object<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> &'a mut Map<String, Value> {
    let slot = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

/// Read-only walk; `None` if any level is missing or not an object.
pub(crate) fn get_path<'a>(map: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut map = map;
    for key in parents {
        map = map.get(*key)?.as_object()?;
    }
    map.get(*last)
}

pub(crate) fn get_str<'a>(map: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    get_path(map, path)?.as_str()
}

/// Sets a string, keeping the key's position when it exists.
pub(crate) fn set_str(map: &mut Map<String, Value>, key: &str, value: &str) {
    if map.get(key).and_then(Value::as_str) != Some(value) {
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// Removes a key without disturbing the order of the others (plain `remove` swaps).
pub(crate) fn remove(map: &mut Map<String, Value>, key: &str) {
    map.shift_remove(key);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_indent_newlines_and_unchanged_bytes() {
        let text = "{\r\n\t\"b\": 1,\r\n\t\"a\": {\"x\": [1, 2]}\r\n}";
        let mut doc = JsonDoc::parse(Some(text)).unwrap();
        assert_eq!(doc.render(), text, "unchanged content keeps its bytes");
        set_str(&mut doc.root, "c", "d");
        let out = doc.render();
        assert_eq!(
            out,
            "{\r\n\t\"b\": 1,\r\n\t\"a\": {\r\n\t\t\"x\": [\r\n\t\t\t1,\r\n\t\t\t2\r\n\t\t]\r\n\t},\r\n\t\"c\": \"d\"\r\n}"
        );
    }

    #[test]
    fn compact_stays_compact_and_bom_survives() {
        let mut doc = JsonDoc::parse(Some("\u{feff}{\"z\":1,\"a\":2}\n")).unwrap();
        set_str(&mut doc.root, "m", "n");
        assert_eq!(doc.render(), "\u{feff}{\"z\":1,\"a\":2,\"m\":\"n\"}\n");
    }

    #[test]
    fn errors_name_line_and_hint_jsonc() {
        let err = JsonDoc::parse(Some("{\n  // c\n  \"a\": 1\n}"))
            .err()
            .unwrap();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("comments"), "{err}");
        assert!(JsonDoc::parse(Some("[1]")).is_err());
    }

    #[test]
    fn object_at_refuses_wrong_types() {
        let mut doc = JsonDoc::parse(Some(r#"{"env": "x"}"#)).unwrap();
        assert_eq!(
            object_at(&mut doc.root, &["env"]).err().unwrap(),
            "`env` is not a JSON object"
        );
        let mut doc = JsonDoc::parse(None).unwrap();
        object_at(&mut doc.root, &["a", "b"])
            .unwrap()
            .insert("c".into(), Value::Null);
        assert_eq!(
            doc.render(),
            "{\n  \"a\": {\n    \"b\": {\n      \"c\": null\n    }\n  }\n}\n"
        );
    }
}
