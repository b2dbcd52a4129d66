//! A line editor for `.env` files: only `KEY=` lines we own are replaced; every other line, comment,
//! blank line and line ending stays byte-for-byte.

pub(crate) struct EnvFile {
    /// Each line with its own ending (`\n`, `\r\n`, or none for a last line without one).
    lines: Vec<String>,
    newline: &'static str,
}

impl EnvFile {
    pub(crate) fn parse(text: Option<&str>) -> EnvFile {
        let text = text.unwrap_or("");
        EnvFile {
            lines: text.split_inclusive('\n').map(str::to_string).collect(),
            newline: if text.contains("\r\n") { "\r\n" } else { "\n" },
        }
    }

    pub(crate) fn render(&self) -> String {
        self.lines.concat()
    }

    /// The value of the last `KEY=` line (dotenv lets later lines win), unquoted.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.lines
            .iter()
            .rev()
            .find_map(|line| split_assignment(line).filter(|a| a.key == key))
            .map(|a| unquote(a.value))
    }

    /// Sets every `KEY=` line to `value` (so no earlier or later duplicate can win), or appends one.
    /// A line that already holds the value keeps its exact spelling (quotes, `export `).
    pub(crate) fn set(&mut self, key: &str, value: &str) {
        let mut found = false;
        for line in &mut self.lines {
            let Some(a) = split_assignment(line) else {
                continue;
            };
            if a.key != key {
                continue;
            }
            found = true;
            if unquote(a.value) == value {
                continue;
            }
            let ending = line_ending(line);
            *line = format!("{}{}={}{}", a.export, key, quote(value), ending);
        }
        if !found {
            if let Some(last) = self.lines.last_mut() {
                if !last.ends_with('\n') {
                    last.push_str(self.newline);
                }
            }
            self.lines
                .push(format!("{key}={}{}", quote(value), self.newline));
        }
    }
}

struct Assignment<'a> {
    export: &'a str,
    key: &'a str,
    value: &'a str,
}

/// `[export ]KEY=value` with optional spaces around; comments and other lines are `None`.
fn split_assignment(line: &str) -> Option<Assignment<'_>> {
    let body = line.trim_end_matches(['\n', '\r']);
    let indent_len = body.len() - body.trim_start().len();
    let rest = &body[indent_len..];
    if rest.starts_with('#') {
        return None;
    }
    let (export_len, rest) = match rest.strip_prefix("export ") {
        Some(r) => (indent_len + "export ".len(), r.trim_start()),
        None => (indent_len, rest),
    };
    let (key, value) = rest.split_once('=')?;
    let key = key.trim();
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return None;
    }
    let export = &body[..export_len];
    Some(Assignment {
        // Keep `  export ` as the user spelled it; `KEY` is rewritten without surrounding spaces.
        export,
        key,
        value: value.trim(),
    })
}

fn line_ending(line: &str) -> &'static str {
    if line.ends_with("\r\n") {
        "\r\n"
    } else if line.ends_with('\n') {
        "\n"
    } else {
        ""
    }
}

fn unquote(value: &str) -> String {
    for q in ['"', '\'', '`'] {
        if let Some(inner) = value.strip_prefix(q) {
            if let Some(end) = inner.find(q) {
                let inner = &inner[..end];
                return if q == '"' {
                    inner.replace("\\n", "\n").replace("\\\"", "\"")
                } else {
                    inner.to_string()
                };
            }
        }
    }
    // Unquoted: a ` #` starts an inline comment.
    match value.find(" #") {
        Some(i) => value[..i].trim_end().to_string(),
        None => value.to_string(),
    }
}

fn quote(value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@+=,~".contains(c));
    if plain && !value.is_empty() {
        value.to_string()
    } else {
        format!(
            "\"{}\"",
            value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_our_lines_and_keeps_the_rest() {
        let text = "# my env\r\nFOO=bar\r\nexport GEMINI_API_KEY=\"old\" \r\n\r\nGEMINI_API_KEY=older # dup\r\nLAST=1";
        let mut env = EnvFile::parse(Some(text));
        assert_eq!(env.get("GEMINI_API_KEY").as_deref(), Some("older"));
        env.set("GEMINI_API_KEY", "sy-gemini-1");
        env.set("NEW", "a b");
        assert_eq!(
            env.render(),
            "# my env\r\nFOO=bar\r\nexport GEMINI_API_KEY=sy-gemini-1\r\n\r\nGEMINI_API_KEY=sy-gemini-1\r\nLAST=1\r\nNEW=\"a b\"\r\n"
        );
        assert_eq!(env.get("NEW").as_deref(), Some("a b"));
    }

    #[test]
    fn same_value_keeps_spelling() {
        let text = "A='sy-1'\n";
        let mut env = EnvFile::parse(Some(text));
        env.set("A", "sy-1");
        assert_eq!(env.render(), text);
        let mut empty = EnvFile::parse(None);
        empty.set("A", "x");
        assert_eq!(empty.render(), "A=x\n");
    }
}
