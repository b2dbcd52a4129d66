//! Apply / restore through the public API on a temp home: backups, snapshots, modes, symlinks,
//! refusal of invalid files, credentials files left alone, detection.

use std::fs;
use std::path::Path;

use switchyard_cli_config::*;

fn target(token: &str) -> Target {
    Target {
        base_url: "http://127.0.0.1:20128".into(),
        token: token.into(),
        model: None,
    }
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn apply_snapshots_once_backs_up_each_write_and_restores_exact_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path());
    let settings = tmp.path().join(".claude/settings.json");
    let original = "{\n    \"model\": \"opus\",\n    \"env\": {\"FOO\": \"1\"}\n}";
    write(&settings, original);

    let plan = plan_apply(&home, Tool::ClaudeCode, &target("sy-claude-1")).unwrap();
    assert_eq!(plan.changes.len(), 1);
    assert!(
        plan.diff()
            .contains("+        \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:20128\","),
        "{}",
        plan.diff()
    );
    assert_eq!(
        fs::read_to_string(&settings).unwrap(),
        original,
        "plan writes nothing"
    );

    let applied = apply(&home, Tool::ClaudeCode, &target("sy-claude-1")).unwrap();
    assert_eq!(applied.restart_hint, "Restart Claude Code to apply");
    assert_eq!(applied.backups.len(), 1);
    assert_eq!(fs::read_to_string(&applied.backups[0]).unwrap(), original);
    let snapshot = tmp.path().join(".claude/settings.json.switchyard-original");
    assert_eq!(fs::read_to_string(&snapshot).unwrap(), original);
    assert_eq!(
        status_for(&home, Tool::ClaudeCode, "http://localhost:20128").state,
        State::ConfiguredByUs
    );

    // Same again: nothing written, no new backup.
    let again = apply(&home, Tool::ClaudeCode, &target("sy-claude-1")).unwrap();
    assert!(again.plan.is_noop() && again.backups.is_empty() && again.restart_hint.is_empty());

    // A new key: a second backup, but the snapshot stays the pristine one.
    let second = apply(&home, Tool::ClaudeCode, &target("sy-claude-2")).unwrap();
    assert_eq!(second.backups.len(), 1);
    assert_eq!(list_backups(&settings).len(), 2);
    assert_eq!(fs::read_to_string(&snapshot).unwrap(), original);

    let preview = plan_restore(&home, Tool::ClaudeCode).unwrap();
    assert_eq!(preview.changes[0].after.as_deref(), Some(original));
    restore(&home, Tool::ClaudeCode).unwrap();
    assert_eq!(fs::read_to_string(&settings).unwrap(), original);
    assert!(!snapshot.exists(), "snapshot consumed by restore");
    assert!(matches!(
        plan_restore(&home, Tool::ClaudeCode),
        Err(ConfigError::NoOriginal { .. })
    ));
    assert_eq!(status(&home, Tool::ClaudeCode).state, State::NotConfigured);
}

#[test]
fn restore_removes_files_that_did_not_exist() {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path());
    apply(&home, Tool::GeminiCli, &target("sy-gemini-1")).unwrap();
    let dir = tmp.path().join(".gemini");
    assert_eq!(status(&home, Tool::GeminiCli).state, State::ConfiguredByUs);
    assert!(status(&home, Tool::GeminiCli).has_original_snapshot);
    assert!(dir.join(".env.switchyard-original-missing").exists());
    assert!(dir
        .join("settings.json.switchyard-original-missing")
        .exists());
    let plan = restore(&home, Tool::GeminiCli).unwrap();
    assert_eq!(plan.changes.len(), 2);
    assert!(plan.changes.iter().all(|c| c.after.is_none()));
    assert!(!dir.join(".env").exists() && !dir.join("settings.json").exists());
    // What we removed is still recoverable from a backup.
    assert_eq!(list_backups(&dir.join(".env")).len(), 1);
    assert!(!status(&home, Tool::GeminiCli).has_original_snapshot);
}

#[test]
fn invalid_files_are_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path());
    let cases = [
        (
            Tool::ClaudeCode,
            ".claude/settings.json",
            "{\n  \"env\": {\n    \"A\": 1,\n  }\n}\n",
            "line 4",
        ),
        (
            Tool::Codex,
            ".codex/config.toml",
            "model = \"x\"\n[broken\n",
            "line 2",
        ),
        (
            Tool::OpenCode,
            ".config/opencode/opencode.json",
            "{ // c\n}",
            "line 1",
        ),
        (
            Tool::OpenClaw,
            ".openclaw/openclaw.json",
            "{ models: {} }",
            "line 1",
        ),
    ];
    for (tool, rel, text, line) in cases {
        let path = tmp.path().join(rel);
        write(&path, text);
        let before = names(path.parent().unwrap());
        let err = apply(&home, tool, &target("sy-x-1")).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, ConfigError::InvalidFile { .. }),
            "{tool}: {msg}"
        );
        assert!(
            msg.contains(rel.rsplit('/').next().unwrap()) && msg.contains(line),
            "{tool}: {msg}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), text, "{tool}");
        assert_eq!(
            names(path.parent().unwrap()),
            before,
            "{tool}: no backup or snapshot"
        );
        assert!(
            matches!(status(&home, tool).state, State::Invalid { .. }),
            "{tool}"
        );
    }
    // Gemini: a broken settings.json blocks the .env write too.
    write(&tmp.path().join(".gemini/settings.json"), "{");
    assert!(apply(&home, Tool::GeminiCli, &target("sy-gemini-1")).is_err());
    assert!(!tmp.path().join(".gemini/.env").exists());
}

#[test]
fn codex_never_touches_auth_json_and_keeps_mcp_servers() {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path());
    let auth = tmp.path().join(".codex/auth.json");
    write(&auth, r#"{"tokens":{"access_token":"chatgpt"}}"#);
    let config = tmp.path().join(".codex/config.toml");
    write(&config, "# mine\n[mcp_servers.fs]\ncommand = \"mcp-fs\"\n");
    let applied = apply(&home, Tool::Codex, &target("sy-codex-1")).unwrap();
    assert_eq!(applied.plan.notes.len(), 1, "warns about hidden sessions");
    assert_eq!(
        fs::read_to_string(&auth).unwrap(),
        r#"{"tokens":{"access_token":"chatgpt"}}"#
    );
    let files = names(&tmp.path().join(".codex"));
    assert!(
        files.iter().all(|n| !n.starts_with("auth.json.")),
        "{files:?}"
    );
    let text = fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("# mine\n[mcp_servers.fs]\ncommand = \"mcp-fs\"\n"),
        "{text}"
    );
    assert_eq!(status(&home, Tool::Codex).state, State::ConfiguredByUs);
}

#[test]
fn detection_by_content() {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path());
    for tool in Tool::ALL {
        let s = status(&home, tool);
        assert_eq!(s.state, State::NotConfigured, "{tool}");
        assert_eq!(
            s.restart_required_hint,
            format!("Restart {} to apply", tool.display_name())
        );
        assert!(!s.has_original_snapshot);
    }
    let settings = tmp.path().join(".claude/settings.json");
    write(
        &settings,
        r#"{"env":{"ANTHROPIC_BASE_URL":"https://llm.corp.example","ANTHROPIC_AUTH_TOKEN":"corp"}}"#,
    );
    assert_eq!(
        status(&home, Tool::ClaudeCode).state,
        State::ConfiguredElsewhere {
            base_url: "https://llm.corp.example".into()
        }
    );
    apply(&home, Tool::ClaudeCode, &target(MANAGED_TOKEN)).unwrap();
    assert_eq!(status(&home, Tool::ClaudeCode).state, State::ConfiguredByUs);
    // Same token, other port: ours by the loose check, not by the exact one.
    assert!(matches!(
        status_for(&home, Tool::ClaudeCode, "http://127.0.0.1:9999").state,
        State::ConfiguredElsewhere { .. }
    ));
}

#[cfg(unix)]
#[test]
fn symlinked_config_keeps_the_link_and_updates_the_target() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path());
    let real = tmp.path().join("dotfiles/claude/settings.json");
    write(&real, "{\"model\": \"sonnet\"}\n");
    fs::set_permissions(&real, fs::Permissions::from_mode(0o644)).unwrap();
    let link = tmp.path().join(".claude/settings.json");
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    symlink("../dotfiles/claude/settings.json", &link).unwrap();

    apply(&home, Tool::ClaudeCode, &target("sy-claude-1")).unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "link survives"
    );
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("../dotfiles/claude/settings.json")
    );
    assert!(fs::read_to_string(&real).unwrap().contains("sy-claude-1"));
    let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a file holding the key is owner-only");
    // Backups stay next to the link, out of the dotfiles repo.
    assert_eq!(
        names(&tmp.path().join("dotfiles/claude")),
        ["settings.json"]
    );
    assert!(link
        .with_file_name("settings.json.switchyard-original")
        .exists());

    restore(&home, Tool::ClaudeCode).unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read_to_string(&real).unwrap(),
        "{\"model\": \"sonnet\"}\n"
    );
    let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "restore brings back the original mode");
}

#[cfg(unix)]
#[test]
fn modes_secret_files_0600_others_kept() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path());
    let settings = tmp.path().join(".gemini/settings.json");
    write(&settings, "{\"theme\": \"x\"}");
    fs::set_permissions(&settings, fs::Permissions::from_mode(0o640)).unwrap();
    apply(&home, Tool::GeminiCli, &target("sy-gemini-1")).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&tmp.path().join(".gemini/.env")), 0o600);
    assert_eq!(
        mode(&settings),
        0o640,
        "no token in settings.json: mode kept"
    );
    assert_eq!(
        mode(&list_backups(&settings)[0]),
        0o640,
        "backup has the original's mode"
    );
}

#[test]
fn bad_targets_are_rejected_before_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path());
    let mut t = target("");
    assert!(matches!(
        apply(&home, Tool::Codex, &t),
        Err(ConfigError::InvalidTarget { .. })
    ));
    t.token = "sy-1".into();
    t.base_url = "127.0.0.1:20128".into();
    assert!(matches!(
        apply(&home, Tool::Codex, &t),
        Err(ConfigError::InvalidTarget { .. })
    ));
    assert!(
        fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "nothing created"
    );
}

#[test]
fn overrides_and_snippets() {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path()).with_config_dir(Tool::Codex, tmp.path().join("alt-codex"));
    apply(&home, Tool::Codex, &target("sy-codex-1")).unwrap();
    assert!(tmp.path().join("alt-codex/config.toml").exists());
    assert!(
        snippet(Tool::OpenClaw, &target("sy-openclaw-1")).contains("\"apiKey\": \"sy-openclaw-1\"")
    );
    assert!(owned_keys(Tool::ClaudeCode).contains(&"env.ANTHROPIC_BASE_URL"));
}
