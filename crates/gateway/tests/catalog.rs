//! The provider catalog: the built-in data against the reference, and the user overlay file.

use std::path::Path;
use switchyard_gateway::catalog::{
    AuthStyle, Catalog, CatalogError, DriftUse, Format, Quirk, USER_FILE,
};

fn write_user_file(dir: &Path, body: &str) {
    std::fs::write(dir.join(USER_FILE), body).unwrap();
}

#[test]
fn builtin_catalog_validates_and_is_large_enough() {
    let c = Catalog::builtin();
    assert_eq!(c.validate(), Ok(()));
    assert!(c.len() >= 60, "only {} providers", c.len());
}

#[test]
fn builtin_matches_the_reference() {
    let c = Catalog::builtin();
    // (id, alias, format, base_url, auth) exactly as docs/providers.md §2 gives them.
    let expected = [
        (
            "openai",
            "openai",
            Format::Chat,
            "https://api.openai.com/v1",
            AuthStyle::Bearer,
        ),
        (
            "anthropic",
            "anthropic",
            Format::Messages,
            "https://api.anthropic.com/v1",
            AuthStyle::XApiKey,
        ),
        (
            "gemini",
            "gemini",
            Format::Gemini,
            "https://generativelanguage.googleapis.com/v1beta",
            AuthStyle::XGoogApiKey,
        ),
        (
            "deepseek",
            "ds",
            Format::Chat,
            "https://api.deepseek.com/v1",
            AuthStyle::Bearer,
        ),
        (
            "groq",
            "groq",
            Format::Chat,
            "https://api.groq.com/openai/v1",
            AuthStyle::Bearer,
        ),
        (
            "perplexity",
            "pplx",
            Format::Chat,
            "https://api.perplexity.ai",
            AuthStyle::Bearer,
        ),
        (
            "minimax",
            "minimax",
            Format::Messages,
            "https://api.minimax.io/anthropic/v1",
            AuthStyle::Bearer,
        ),
        (
            "kimi-coding-apikey",
            "kmca",
            Format::Messages,
            "https://api.kimi.com/coding/v1",
            AuthStyle::XApiKey,
        ),
        (
            "enally",
            "enly",
            Format::Chat,
            "https://ai.enally.in",
            AuthStyle::XApiKey,
        ),
        (
            "pollinations",
            "pol",
            Format::Chat,
            "https://text.pollinations.ai/openai",
            AuthStyle::None,
        ),
        (
            "cloudflare-ai",
            "cf",
            Format::Chat,
            "https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/v1",
            AuthStyle::Bearer,
        ),
    ];
    for (id, alias, format, base_url, auth) in expected {
        let p = c.by_id(id).unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(
            (p.alias.as_str(), p.format, p.base_url.as_str(), p.auth),
            (alias, format, base_url, auth),
            "{id}"
        );
        assert_eq!(c.by_alias(alias).map(|p| p.id.as_str()), Some(id));
    }

    // Two prefixes for Kimi; lookups accept ids, aliases and any case.
    assert_eq!(c.by_alias("moonshot").unwrap().id, "kimi");
    assert_eq!(c.lookup("DS").unwrap().id, "deepseek");
    assert_eq!(c.lookup("alibaba").unwrap().alias, "ali");
    assert!(c.lookup("maritalk").is_none());

    // Quirks the reference names.
    assert!(c
        .by_id("mistral")
        .unwrap()
        .has_quirk(Quirk::ToolCallId9Alnum));
    assert!(c.by_id("glm").unwrap().has_quirk(Quirk::NoSystemRole));
    assert!(c
        .by_id("deepseek")
        .unwrap()
        .has_quirk(Quirk::ReasoningContentReplay));
    assert!(c.by_id("uncloseai").unwrap().has_quirk(Quirk::OptionalKey));
    assert!(!c.by_id("groq").unwrap().has_quirk(Quirk::NoSystemRole));
    assert_eq!(
        c.by_id("openai").unwrap().responses_models,
        ["*-codex", "*-pro"]
    );
    assert_eq!(c.by_id("huggingface").unwrap().placeholders(), ["model"]);

    // Drifting values come from the data file.
    let v = c.drift("anthropic.version").unwrap();
    assert_eq!((v.current(), v.use_), (Some("2023-06-01"), DriftUse::Send));
    assert_eq!(
        c.drift("claude-code.betas").unwrap().use_,
        DriftUse::ForwardOnly
    );
}

#[test]
fn no_user_file_means_builtin() {
    let dir = tempfile::tempdir().unwrap();
    let c = Catalog::load(dir.path()).unwrap();
    assert_eq!(c.len(), Catalog::builtin().len());
}

#[test]
fn user_file_replaces_adds_and_disables() {
    let dir = tempfile::tempdir().unwrap();
    write_user_file(
        dir.path(),
        r#"
# A changed endpoint, only the field that differs.
[[provider]]
id = "groq"
base_url = "https://groq.internal.example/openai/v1"

# A new provider.
[[provider]]
id = "acme"
name = "Acme"
alias = "acme"
format = "anthropic"
base_url = "http://127.0.0.1:9999/v1"
auth = "x-api-key"
models = ["acme-1"]

# Hidden, and its alias reused.
[[provider]]
id = "deepseek"
disabled = true

[[provider]]
id = "my-deepseek"
name = "DeepSeek via proxy"
alias = "ds"
format = "openai"
base_url = "https://proxy.example/deepseek/v1"
auth = "bearer"

[[drift]]
key = "anthropic.version"
values = ["2099-01-01"]
"#,
    );
    let builtin = Catalog::builtin();
    let c = Catalog::load(dir.path()).unwrap();

    let groq = c.by_id("groq").unwrap();
    assert_eq!(groq.base_url, "https://groq.internal.example/openai/v1");
    let orig = builtin.by_id("groq").unwrap();
    assert_eq!(
        (&groq.alias, groq.format, groq.auth),
        (&orig.alias, orig.format, orig.auth)
    );

    let acme = c.by_alias("acme").unwrap();
    assert_eq!(
        (acme.format, acme.auth),
        (Format::Messages, AuthStyle::XApiKey)
    );
    assert_eq!(acme.models, ["acme-1"]);

    assert!(c.by_id("deepseek").is_none());
    assert_eq!(c.by_alias("ds").unwrap().id, "my-deepseek");
    assert_eq!(c.len(), builtin.len() + 1);

    let v = c.drift("anthropic.version").unwrap();
    assert_eq!((v.current(), v.use_), (Some("2099-01-01"), DriftUse::Send));
}

#[test]
fn broken_user_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write_user_file(
        dir.path(),
        "[[provider]]\nid = \"groq\"\nbase_url = \"https://x\n",
    );
    let err = Catalog::load(dir.path()).unwrap_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    let path = dir.path().join(USER_FILE).display().to_string();
    assert!(matches!(err, CatalogError::Parse { line: 3, .. }), "{msg}");
    assert!(msg.starts_with(&format!("{path}:3:")), "{msg}");
}

#[test]
fn bad_entries_are_reported_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // unknown quirk flag
        ("[[provider]]\nid = \"groq\"\n\n[[provider]]\nid = \"mistral\"\nquirks = [\"teleport\"]\n", 4, "teleport"),
        // format outside the allowed set
        ("[[provider]]\nid = \"groq\"\nformat = \"chat\"\n", 1, "chat"),
        // a new provider missing a required field
        ("[[provider]]\nid = \"new\"\nname = \"N\"\nalias = \"n\"\nformat = \"openai\"\nauth = \"bearer\"\n", 1, "base_url"),
        // typo in a field name
        ("[[provider]]\nid = \"groq\"\nbase_ulr = \"https://x\"\n", 1, "base_ulr"),
    ];
    for (body, line, needle) in cases {
        write_user_file(dir.path(), body);
        let err = Catalog::load(dir.path()).unwrap_err();
        let msg = err.to_string();
        eprintln!("{msg}");
        assert!(
            matches!(err, CatalogError::Parse { line: l, .. } if l == line),
            "{msg}"
        );
        assert!(msg.contains(USER_FILE) && msg.contains(needle), "{msg}");
    }
}

#[test]
fn duplicate_alias_is_rejected() {
    let mut c = Catalog::builtin();
    let extra = r#"
[[provider]]
id = "other-groq"
name = "Other"
alias = "groq"
format = "openai"
base_url = "https://example.com/v1"
auth = "bearer"
"#;
    c.overlay(extra, Path::new("extra.toml")).unwrap();
    let problems = c.validate().unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("\"groq\"") && p.contains("other-groq")),
        "{problems:?}"
    );

    // Through `load`, the same problem is an error naming the user file.
    let dir = tempfile::tempdir().unwrap();
    write_user_file(dir.path(), extra);
    let err = Catalog::load(dir.path()).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, CatalogError::Invalid { .. }));
    assert!(err.to_string().contains(USER_FILE), "{err}");
}

#[test]
fn validate_rejects_bad_alias_and_url_and_id_clash() {
    let mut c = Catalog::builtin();
    c.overlay(
        r#"
[[provider]]
id = "weird"
name = "Weird"
alias = "We_ird"
format = "openai"
base_url = "file:///etc/passwd"
auth = "bearer"

# An alias equal to another provider's id is ambiguous in a model string.
[[provider]]
id = "clash"
name = "Clash"
alias = "openai"
format = "openai"
base_url = "https://example.com"
auth = "bearer"
"#,
        Path::new("x.toml"),
    )
    .unwrap();
    let problems = c.validate().unwrap_err().join("\n");
    assert!(problems.contains("We_ird"), "{problems}");
    assert!(problems.contains("file:///etc/passwd"), "{problems}");
    assert!(
        problems.contains("\"openai\" is used by both openai and clash"),
        "{problems}"
    );
}
