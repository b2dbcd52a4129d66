//! Claude Code: `~/.claude/settings.json`, only inside the top-level `env` object. Everything
//! else (`permissions`, `hooks`, `statusLine`, `enabledPlugins`, `mcpServers`, `model`, other env
//! keys) is the user's. `~/.claude/.credentials.json` and `~/.claude.json` are never opened.

use crate::detect::judge;
use crate::jsonfile::{get_str, object_at, remove, set_str, JsonDoc};
use crate::target::Expect;
use crate::{State, Target};

pub(super) const OWNED: &[&str] = &[
    "env.ANTHROPIC_BASE_URL",
    "env.ANTHROPIC_AUTH_TOKEN",
    "env.ANTHROPIC_API_KEY",
    "env.ANTHROPIC_MODEL",
];

const BASE: &str = "ANTHROPIC_BASE_URL";
const AUTH_TOKEN: &str = "ANTHROPIC_AUTH_TOKEN";
const API_KEY: &str = "ANTHROPIC_API_KEY";

pub(super) fn patch(current: Option<&str>, target: &Target) -> Result<String, String> {
    let mut doc = JsonDoc::parse(current)?;
    let env = object_at(&mut doc.root, &["env"])?;
    // No `/v1`: Claude Code appends `/v1/messages` itself.
    set_str(env, BASE, target.origin());
    // Exactly one credential variable (Claude Code warns when both are set). A file that already
    // uses ANTHROPIC_API_KEY keeps that variable (sent as `x-api-key`); otherwise the bearer one.
    if env.contains_key(API_KEY) {
        set_str(env, API_KEY, &target.token);
        remove(env, AUTH_TOKEN);
    } else {
        set_str(env, AUTH_TOKEN, &target.token);
    }
    if let Some(model) = &target.model {
        set_str(env, "ANTHROPIC_MODEL", model);
    }
    Ok(doc.render())
}

pub(super) fn detect(current: Option<&str>, expect: Expect<'_>) -> Result<State, String> {
    let doc = JsonDoc::parse(current)?;
    let env = |k| get_str(&doc.root, &["env", k]);
    Ok(judge(expect, env(BASE), env(AUTH_TOKEN).or(env(API_KEY))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            base_url: "http://127.0.0.1:20128".into(),
            token: "sy-claude-abc".into(),
            model: None,
        }
    }

    const REALISTIC: &str = r#"{
  "statusLine": {
    "type": "command",
    "command": "~/.claude/statusline.sh"
  },
  "permissions": {
    "allow": ["Bash(npm run test:*)", "Read(~/.zshrc)"],
    "deny": ["Read(./.env)"]
  },
  "env": {
    "DISABLE_TELEMETRY": "1",
    "BASH_DEFAULT_TIMEOUT_MS": "60000"
  },
  "hooks": {
    "PostToolUse": [
      {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "prettier --write"}]}
    ]
  },
  "enabledPlugins": {"code-review@claude-plugins-official": true},
  "model": "opus",
  "alwaysThinkingEnabled": true
}
"#;

    #[test]
    fn patches_env_only_and_keeps_everything_else() {
        let out = patch(Some(REALISTIC), &target()).unwrap();
        let before: serde_json::Value = serde_json::from_str(REALISTIC).unwrap();
        let after: serde_json::Value = serde_json::from_str(&out).unwrap();
        let keys =
            |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&before), keys(&after), "top-level order unchanged");
        for k in [
            "statusLine",
            "permissions",
            "hooks",
            "enabledPlugins",
            "model",
            "alwaysThinkingEnabled",
        ] {
            assert_eq!(before[k], after[k], "{k} untouched");
        }
        assert_eq!(
            keys(&after["env"]),
            [
                "DISABLE_TELEMETRY",
                "BASH_DEFAULT_TIMEOUT_MS",
                BASE,
                AUTH_TOKEN
            ]
        );
        assert_eq!(after["env"][BASE], "http://127.0.0.1:20128");
        assert_eq!(after["env"][AUTH_TOKEN], "sy-claude-abc");
        assert!(out.ends_with("}\n"));
        assert_eq!(patch(Some(&out), &target()).unwrap(), out, "idempotent");
    }

    #[test]
    fn existing_api_key_variable_is_reused_and_only_one_credential_remains() {
        let text = r#"{"env":{"ANTHROPIC_AUTH_TOKEN":"x","ANTHROPIC_API_KEY":"sk-ant-old","ANTHROPIC_BASE_URL":"https://api.anthropic.com"}}"#;
        let out: serde_json::Value =
            serde_json::from_str(&patch(Some(text), &target()).unwrap()).unwrap();
        let env = out["env"].as_object().unwrap();
        assert_eq!(env.keys().collect::<Vec<_>>(), [API_KEY, BASE]);
        assert_eq!(env[API_KEY], "sy-claude-abc");
    }

    #[test]
    fn model_is_set_only_when_asked() {
        let mut t = target();
        assert!(!patch(None, &t).unwrap().contains("ANTHROPIC_MODEL"));
        t.model = Some("switchyard".into());
        assert!(patch(None, &t)
            .unwrap()
            .contains("\"ANTHROPIC_MODEL\": \"switchyard\""));
    }

    #[test]
    fn detection() {
        let exact = Expect::Exactly("http://127.0.0.1:20128");
        assert_eq!(detect(None, exact).unwrap(), State::NotConfigured);
        assert_eq!(
            detect(Some(REALISTIC), exact).unwrap(),
            State::NotConfigured
        );
        let ours = patch(Some(REALISTIC), &target()).unwrap();
        assert_eq!(detect(Some(&ours), exact).unwrap(), State::ConfiguredByUs);
        let other = r#"{"env":{"ANTHROPIC_BASE_URL":"https://proxy.example.com","ANTHROPIC_AUTH_TOKEN":"sy-claude-abc"}}"#;
        assert_eq!(
            detect(Some(other), exact).unwrap(),
            State::ConfiguredElsewhere {
                base_url: "https://proxy.example.com".into()
            }
        );
        let foreign_token = r#"{"env":{"ANTHROPIC_BASE_URL":"http://127.0.0.1:20128","ANTHROPIC_AUTH_TOKEN":"PROXY_MANAGED"}}"#;
        assert!(matches!(
            detect(Some(foreign_token), exact).unwrap(),
            State::ConfiguredElsewhere { .. }
        ));
    }

    #[test]
    fn wrong_shapes_are_refused() {
        assert!(patch(Some(r#"{"env": ["x"]}"#), &target())
            .unwrap_err()
            .contains("`env`"));
        assert!(patch(Some("{\"env\": {}"), &target())
            .unwrap_err()
            .contains("line 1"));
    }
}
