//! Gemini CLI: `~/.gemini/.env` (base URL, key, optional model; other lines untouched) plus
//! `security.auth.selectedType = "gemini-api-key"` in `~/.gemini/settings.json`, without which the
//! CLI would keep using the Google sign-in. `oauth_creds.json` and `google_accounts.json` are never
//! opened.

use crate::detect::judge;
use crate::envfile::EnvFile;
use crate::jsonfile::{get_str, object_at, set_str, JsonDoc};
use crate::target::Expect;
use crate::{State, Target};

pub(super) const OWNED: &[&str] = &[
    ".env:GOOGLE_GEMINI_BASE_URL",
    ".env:GEMINI_API_KEY",
    ".env:GEMINI_MODEL",
    "settings.json:security.auth.selectedType",
];

const BASE: &str = "GOOGLE_GEMINI_BASE_URL";
const KEY: &str = "GEMINI_API_KEY";
const AUTH_TYPE: &str = "gemini-api-key";

pub(super) fn patch_env(current: Option<&str>, target: &Target) -> Result<String, String> {
    let mut env = EnvFile::parse(current);
    // No `/v1beta`: the CLI appends `/v1beta/models/…` itself.
    env.set(BASE, target.origin());
    env.set(KEY, &target.token);
    if let Some(model) = &target.model {
        env.set("GEMINI_MODEL", model);
    }
    Ok(env.render())
}

pub(super) fn patch_settings(current: Option<&str>) -> Result<String, String> {
    let mut doc = JsonDoc::parse(current)?;
    let auth = object_at(&mut doc.root, &["security", "auth"])?;
    set_str(auth, "selectedType", AUTH_TYPE);
    Ok(doc.render())
}

pub(super) fn detect(
    env: Option<&str>,
    settings: Option<&str>,
    expect: Expect<'_>,
) -> Result<State, String> {
    let env = EnvFile::parse(env);
    let state = judge(expect, env.get(BASE).as_deref(), env.get(KEY).as_deref());
    if state != State::ConfiguredByUs {
        return Ok(state);
    }
    let doc = JsonDoc::parse(settings)?;
    Ok(match get_str(&doc.root, &["security", "auth", "selectedType"]) {
        Some(AUTH_TYPE) => State::ConfiguredByUs,
        other => State::Invalid {
            reason: format!(
                ".env points at Switchyard but settings.json selects {}; apply again to switch the auth type to \"{AUTH_TYPE}\"",
                other.map_or("no auth type".to_string(), |t| format!("\"{t}\""))
            ),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            base_url: "http://127.0.0.1:20128".into(),
            token: "sy-gemini-1".into(),
            model: Some("switchyard".into()),
        }
    }

    #[test]
    fn env_keeps_comments_and_other_keys() {
        let text = "# Gemini settings\nGOOGLE_CLOUD_PROJECT=my-proj\n\n# old key\nGEMINI_API_KEY=AIzaOld\nDEBUG=1\n";
        let out = patch_env(Some(text), &target()).unwrap();
        assert_eq!(
            out,
            "# Gemini settings\nGOOGLE_CLOUD_PROJECT=my-proj\n\n# old key\nGEMINI_API_KEY=sy-gemini-1\nDEBUG=1\nGOOGLE_GEMINI_BASE_URL=http://127.0.0.1:20128\nGEMINI_MODEL=switchyard\n"
        );
        assert_eq!(patch_env(Some(&out), &target()).unwrap(), out);
    }

    #[test]
    fn settings_only_auth_type() {
        let text = r#"{
    "theme": "GitHub",
    "security": {"auth": {"selectedType": "oauth-personal", "useExternal": false}, "folderTrust": {"enabled": true}},
    "mcpServers": {"x": {"command": "y"}}
}"#;
        let out = patch_settings(Some(text)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["security"]["auth"]["selectedType"], AUTH_TYPE);
        assert_eq!(v["security"]["auth"]["useExternal"], false);
        assert_eq!(v["mcpServers"]["x"]["command"], "y");
        assert!(
            out.contains("\n    \"theme\""),
            "4-space indent kept: {out}"
        );
    }

    #[test]
    fn detection_needs_both_files() {
        let exact = Expect::Exactly("http://127.0.0.1:20128");
        let env = patch_env(None, &target()).unwrap();
        let settings = patch_settings(None).unwrap();
        assert_eq!(detect(None, None, exact).unwrap(), State::NotConfigured);
        assert_eq!(
            detect(Some(&env), Some(&settings), exact).unwrap(),
            State::ConfiguredByUs
        );
        assert!(matches!(
            detect(Some(&env), None, exact).unwrap(),
            State::Invalid { .. }
        ));
        assert_eq!(
            detect(
                Some("GOOGLE_GEMINI_BASE_URL=https://gw.example.com\n"),
                None,
                exact
            )
            .unwrap(),
            State::ConfiguredElsewhere {
                base_url: "https://gw.example.com".into()
            }
        );
    }
}
