//! The headless binary's `configure` command, run as a user would.

use std::io::Write;
use std::process::{Command, Stdio};

fn configure(
    home: &std::path::Path,
    args: &[&str],
    stdin: &str,
    env_key: Option<&str>,
) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.arg("configure")
        .args(args)
        .env("SWITCHYARD_TEST_HOME", home)
        .env_remove("SWITCHYARD_CLIENT_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(k) = env_key {
        cmd.env("SWITCHYARD_CLIENT_KEY", k);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn settings(home: &std::path::Path) -> String {
    std::fs::read_to_string(home.join(".claude/settings.json")).unwrap_or_default()
}

#[test]
fn a_client_key_comes_from_stdin_or_the_environment_never_from_argv() {
    let home = tempfile::tempdir().unwrap();
    let (code, text) = configure(
        home.path(),
        &["claude-code", "--token-stdin"],
        "sy-from-stdin-1\n",
        None,
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        settings(home.path()).contains("sy-from-stdin-1"),
        "{}",
        settings(home.path())
    );

    let (code, text) = configure(home.path(), &["claude-code"], "", Some("sy-from-env-2"));
    assert_eq!(code, 0, "{text}");
    assert!(settings(home.path()).contains("sy-from-env-2"));

    // A key on the command line is refused: other users can read a process's arguments.
    let (code, text) = configure(
        home.path(),
        &["claude-code", "--token", "sy-argv-3"],
        "",
        None,
    );
    assert_eq!(code, 2, "{text}");
    assert!(!settings(home.path()).contains("sy-argv-3"));

    // --token-stdin with nothing on stdin is a mistake, not the placeholder.
    let (code, text) = configure(home.path(), &["claude-code", "--token-stdin"], "", None);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("held no key"), "{text}");
}
