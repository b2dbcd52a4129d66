//! The direction of dependencies inside the engine (DEVELOPERS.md, "Layers"): the HTTP surface
//! (`api`) and the server assembly sit on top; the request path (`proxy`) below them; routing,
//! usage and the codecs below that; storage, quota, credentials, the catalog and the clock at
//! the bottom. A module may use the layers below it, never one above. This test reads the
//! sources, so a new upward `use` fails CI with the line that added it.

use std::path::{Path, PathBuf};

/// Each module (a directory or a file under `src/`) and the crate modules it must not name.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("clock", ABOVE_CLOCK),
    ("url_credentials", ABOVE_CLOCK),
    ("sync", ABOVE_CLOCK),
    ("config", ABOVE_LEAVES),
    ("storage", ABOVE_LEAVES),
    ("quota", ABOVE_LEAVES),
    ("credentials", ABOVE_LEAVES),
    ("catalog", ABOVE_LEAVES),
    ("formats", ABOVE_LEAVES),
    ("quirks", ABOVE_CODECS),
    ("usage", ABOVE_CODECS),
    ("routing", ABOVE_ROUTING),
    ("error", ABOVE_ERROR),
    ("proxy", HTTP_SURFACE),
    ("state", HTTP_SURFACE),
];

const HTTP_SURFACE: &[&str] = &["api", "server", "admin"];
const ABOVE_ERROR: &[&str] = &["api", "server", "admin", "proxy", "state", "usage"];
const ABOVE_ROUTING: &[&str] = &["api", "server", "admin", "proxy", "state", "error"];
const ABOVE_CODECS: &[&str] = &[
    "api", "server", "admin", "proxy", "state", "error", "routing",
];
const ABOVE_LEAVES: &[&str] = &[
    "api", "server", "admin", "proxy", "state", "error", "routing", "usage", "quirks",
];
const ABOVE_CLOCK: &[&str] = &[
    "api",
    "server",
    "admin",
    "proxy",
    "state",
    "error",
    "routing",
    "usage",
    "quirks",
    "formats",
    "storage",
    "quota",
    "credentials",
    "catalog",
    "config",
];

fn sources(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        out.extend(sources(&entry.unwrap().path()));
    }
    out
}

/// `crate::<name>` references in code (comments are prose and may mention anything).
fn references(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push((n + 1, name));
        }
    }
    found
}

#[test]
fn no_module_names_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for (module, forbidden) in FORBIDDEN {
        let dir = src.join(module);
        let path = if dir.is_dir() {
            dir
        } else {
            src.join(format!("{module}.rs"))
        };
        assert!(
            path.exists(),
            "{} is gone: update this table",
            path.display()
        );
        for file in sources(&path) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (line, name) in references(&text) {
                if forbidden.contains(&name.as_str()) {
                    violations.push(format!(
                        "{}:{line}: `{module}` uses `crate::{name}`",
                        file.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "dependencies must point down:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_check_sees_a_reference_and_ignores_comments() {
    let text =
        "use crate::api::x; // crate::server\n/// crate::proxy in prose\nlet a = crate::state::X;";
    let names: Vec<String> = references(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["api", "state"]);
}
