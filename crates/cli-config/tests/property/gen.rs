//! Generators of existing config files: random unrelated keys, nesting, order, comments,
//! missing/empty files, and deliberately invalid ones.

use serde_json::{Map, Value};
use switchyard_cli_config::Tool;

/// xorshift64*: tiny, deterministic, good enough to vary inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const KEYS: &[&str] = &[
    "theme",
    "model",
    "hooks",
    "permissions",
    "statusLine",
    "enabledPlugins",
    "mcpServers",
    "x",
    "clé",
    "with space",
    "quo\"te",
    "a.b",
    "$schema",
    "zeta",
    "alpha",
    "env2",
    "includeCoAuthoredBy",
    "ANTHROPIC_SMALL_FAST_MODEL",
    "DISABLE_TELEMETRY",
    "fallbacks",
    "options",
    "npm",
    "name",
];

const STRINGS: &[&str] = &[
    "",
    "plain",
    "with \"quotes\"",
    "back\\slash",
    "line\nbreak",
    "ünïcødé ✓",
    "\u{2028}",
    "http://127.0.0.1:1/v1",
];

fn key(rng: &mut Rng) -> String {
    if rng.chance(70) {
        rng.pick(KEYS).to_string()
    } else {
        format!("k{}", rng.below(1000))
    }
}

fn value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => Value::from(rng.below(100_000) as i64 - 50_000),
        3 => Value::from(rng.below(1000) as f64 / 8.0),
        4 => Value::from(*rng.pick(STRINGS)),
        5 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect()),
        _ => Value::Object(object(rng, depth - 1, 4)),
    }
}

fn object(rng: &mut Rng, depth: usize, max: usize) -> Map<String, Value> {
    let mut map = Map::new();
    for _ in 0..rng.below(max + 1) {
        map.insert(key(rng), value(rng, depth));
    }
    map
}

/// Puts `inner` at `path`, creating levels (with random siblings) at random positions.
fn place(rng: &mut Rng, root: &mut Map<String, Value>, path: &[&str], leaf: Value) {
    let (first, rest) = path.split_first().unwrap();
    if rest.is_empty() {
        root.insert(first.to_string(), leaf);
        return;
    }
    if !root.get(*first).is_some_and(Value::is_object) {
        root.insert(first.to_string(), Value::Object(object(rng, 1, 3)));
    }
    place(
        rng,
        root.get_mut(*first).unwrap().as_object_mut().unwrap(),
        rest,
        leaf,
    );
}

fn render_json(rng: &mut Rng, root: &Map<String, Value>) -> String {
    let value = Value::Object(root.clone());
    let mut text = match rng.below(4) {
        0 => serde_json::to_string(&value).unwrap(),
        n => {
            let indent: &[u8] = [b"  ".as_slice(), b"    ", b"\t"][n - 1];
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            serde::Serialize::serialize(&value, &mut ser).unwrap();
            String::from_utf8(buf).unwrap()
        }
    };
    if rng.chance(60) {
        text.push('\n');
    }
    if rng.chance(15) {
        text = text.replace('\n', "\r\n");
    }
    text
}

/// An existing file: `None` = missing. `invalid` = the generator made it unparseable on purpose.
pub struct Existing {
    pub text: Option<String>,
    pub invalid: bool,
}

pub fn json_file(rng: &mut Rng, tool: Tool, second_file: bool) -> Existing {
    match rng.below(100) {
        0..=7 => {
            return Existing {
                text: None,
                invalid: false,
            }
        }
        8..=11 => {
            return Existing {
                text: Some(rng.pick(&["", " \n", "\n\n"]).to_string()),
                invalid: false,
            }
        }
        _ => {}
    }
    let mut root = object(rng, 3, 6);
    // The containers our keys live in, with unrelated siblings and sometimes stale values of ours.
    let parents: &[&[&str]] = match (tool, second_file) {
        (Tool::ClaudeCode, _) => &[&["env"]],
        (Tool::GeminiCli, _) => &[&["security", "auth"]],
        (Tool::OpenCode, _) => &[&["provider"], &["provider", "switchyard"]],
        (Tool::OpenClaw, _) => &[&["models", "providers"], &["agents", "defaults", "model"]],
        _ => &[],
    };
    for parent in parents {
        if rng.chance(70) {
            let siblings = object(rng, 2, 4);
            let mut path = parent.to_vec();
            path.push("__tmp");
            place(rng, &mut root, &path, Value::Null);
            let obj = nested_mut(&mut root, parent);
            obj.shift_remove("__tmp");
            for (k, v) in siblings {
                obj.insert(k, v);
            }
            let stale: &[&str] = match tool {
                Tool::ClaudeCode => &[
                    "ANTHROPIC_BASE_URL",
                    "ANTHROPIC_API_KEY",
                    "ANTHROPIC_AUTH_TOKEN",
                    "ANTHROPIC_MODEL",
                ],
                Tool::GeminiCli => &["selectedType"],
                Tool::OpenClaw => &["primary"],
                _ => &["baseURL"],
            };
            if rng.chance(40) {
                obj.insert(
                    rng.pick(stale).to_string(),
                    Value::from("https://elsewhere.example"),
                );
            }
        }
    }
    let mut invalid = false;
    if rng.chance(12) {
        invalid = true;
        if rng.chance(50) || parents.is_empty() {
            let text = serde_json::to_string(&Value::Object(root)).unwrap();
            let mut cut = 1 + rng.below(text.len() - 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let text = text[..cut].to_string();
            return Existing {
                text: Some(text),
                invalid,
            };
        }
        // A container of ours with the wrong type.
        // A container of ours with the wrong type: the first one, which every apply touches
        // (OpenClaw's `agents.defaults.model` only matters when a model is asked for).
        place(rng, &mut root, parents[0], Value::from(vec![1, 2]));
    }
    Existing {
        text: Some(render_json(rng, &root)),
        invalid,
    }
}

fn nested_mut<'a>(
    mut map: &'a mut Map<String, Value>,
    path: &[&str],
) -> &'a mut Map<String, Value> {
    for k in path {
        map = map.get_mut(*k).unwrap().as_object_mut().unwrap();
    }
    map
}

fn toml_value(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => format!("{}", rng.below(1000)),
        1 => "true".into(),
        2 => format!("{:?}", rng.pick(&["x", "gpt-5.5", "on-request", "ünï"])),
        3 => "'literal'".into(),
        4 => "[1, \"two\", { three = 3 }]".into(),
        _ => "{ a = 1, b = \"c\" }".into(),
    }
}

fn comment(rng: &mut Rng) -> String {
    format!(
        "# {}\n",
        rng.pick(&["note", "", "model_provider = \"old\"", "tools ✓"])
    )
}

pub fn toml_file(rng: &mut Rng) -> Existing {
    match rng.below(100) {
        0..=7 => {
            return Existing {
                text: None,
                invalid: false,
            }
        }
        8..=10 => {
            return Existing {
                text: Some(String::new()),
                invalid: false,
            }
        }
        _ => {}
    }
    let mut text = String::new();
    let mut used = Vec::new();
    for _ in 0..rng.below(6) {
        if rng.chance(30) {
            text.push_str(&comment(rng));
        }
        let k = rng.pick(&[
            "model",
            "model_provider",
            "approval_policy",
            "sandbox_mode",
            "notify",
            "k1",
            "k2",
            "show_raw",
        ]);
        if used.contains(k) {
            continue;
        }
        used.push(*k);
        let v = if *k == "model_provider" {
            format!("{:?}", rng.pick(&["openai", "azure", "ollama"]))
        } else {
            toml_value(rng)
        };
        let trailing = if rng.chance(30) { "  # why" } else { "" };
        text.push_str(&format!("{k} = {v}{trailing}\n"));
    }
    let mut tables = Vec::new();
    for _ in 0..rng.below(5) {
        let name = match rng.below(6) {
            0 => format!("mcp_servers.{}", rng.pick(&["fs", "docs", "git"])),
            1 => format!("profiles.{}", rng.pick(&["fast", "deep"])),
            2 => format!(
                "model_providers.{}",
                rng.pick(&["azure", "local", "switchyard"])
            ),
            3 => "features".into(),
            4 => "tui".into(),
            _ => format!("mcp_servers.{}.env", rng.pick(&["fs", "docs"])),
        };
        if tables.contains(&name) {
            continue;
        }
        tables.push(name.clone());
        text.push('\n');
        if rng.chance(40) {
            text.push_str(&comment(rng));
        }
        text.push_str(&format!("[{name}]\n"));
        for i in 0..rng.below(4) {
            let k = ["command", "base_url", "model_provider", "name", "enabled"][i];
            text.push_str(&format!("{k} = {}\n", toml_value(rng)));
        }
    }
    if rng.chance(10) {
        const BROKEN: [&str; 4] = ["[broken\n", "a = \n", "model = 1\nmodel = 2\n", "= 3\n"];
        text.push_str(BROKEN[rng.below(BROKEN.len())]);
        return Existing {
            text: Some(text),
            invalid: true,
        };
    }
    if rng.chance(20) {
        text = text.replace('\n', "\r\n");
    }
    Existing {
        text: Some(text),
        invalid: false,
    }
}

pub const ENV_OURS: &[&str] = &["GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY", "GEMINI_MODEL"];

pub fn env_file(rng: &mut Rng) -> Existing {
    if rng.chance(10) {
        return Existing {
            text: None,
            invalid: false,
        };
    }
    let mut text = String::new();
    for _ in 0..rng.below(8) {
        let line = match rng.below(7) {
            0 => comment(rng),
            1 => "\n".into(),
            2 => format!(
                "export {}=\"a value\"\n",
                rng.pick(&["FOO", "GOOGLE_CLOUD_PROJECT"])
            ),
            3 => format!("{}='x y'\n", rng.pick(&["BAR", "GEMINI_MODEL"])),
            4 => format!("{}=old # comment\n", rng.pick(ENV_OURS)),
            5 => "not an assignment\n".into(),
            _ => format!("K{}={}\n", rng.below(50), rng.below(9)),
        };
        text.push_str(&line);
    }
    if rng.chance(30) {
        text.pop(); // no final newline
    }
    if rng.chance(20) {
        text = text.replace('\n', "\r\n");
    }
    Existing {
        text: Some(text),
        invalid: false,
    }
}
