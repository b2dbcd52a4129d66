//! Desktop-only settings the gateway has no field for, kept in `<app config dir>/desktop.json`
//! (Linux: `$XDG_CONFIG_HOME/dev.switchyard.desktop/desktop.json`).
//!
//! - `light_mode` (default off): closing the window destroys the webview instead of hiding it, so
//!   the idle app is only the gateway; "Open dashboard" recreates it (docs/desktop.md §4). Toggled by
//!   the tray item "Light mode (free memory when closed)". `SWITCHYARD_LIGHT=1` / `=0` overrides
//!   the stored value at start (the stored value is kept; a click in the tray stores the new one).
//!
//! Unknown keys in the file are kept on write; an unreadable or invalid file counts as defaults
//! (and is replaced on the next change).

use std::io::Write;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "desktop.json";
pub const LIGHT_ENV: &str = "SWITCHYARD_LIGHT";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DesktopSettings {
    pub light_mode: bool,
}

/// Reads the settings from the file's text; anything unexpected falls back to the default.
pub fn parse(text: &str) -> DesktopSettings {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    DesktopSettings {
        light_mode: value
            .get("light_mode")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
    }
}

/// `SWITCHYARD_LIGHT`: `1/true/yes/on` → on, `0/false/no/off` → off, anything else → no override.
pub fn env_override(value: Option<&str>) -> Option<bool> {
    match value?.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The file's new text: `old` with our keys set (other keys kept, in order).
pub fn render(old: Option<&str>, s: DesktopSettings) -> String {
    let mut map = old
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .and_then(|v| match v {
            serde_json::Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    map.insert("light_mode".into(), serde_json::Value::Bool(s.light_mode));
    let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(map))
        .unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}

pub fn path(config_dir: &Path) -> PathBuf {
    config_dir.join(FILE_NAME)
}

/// The stored settings with the environment override applied.
pub fn load(config_dir: &Path) -> DesktopSettings {
    let mut s = std::fs::read_to_string(path(config_dir))
        .map(|t| parse(&t))
        .unwrap_or_default();
    if let Some(light) = env_override(std::env::var(LIGHT_ENV).ok().as_deref()) {
        s.light_mode = light;
    }
    s
}

/// Writes the settings atomically (temp file, fsync, rename).
pub fn save(config_dir: &Path, s: DesktopSettings) -> std::io::Result<()> {
    std::fs::create_dir_all(config_dir)?;
    let file = path(config_dir);
    let old = std::fs::read_to_string(&file).ok();
    let tmp = config_dir.join(format!(".{FILE_NAME}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(render(old.as_deref(), s).as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_tolerant() {
        assert!(parse(r#"{"light_mode": true}"#).light_mode);
        assert!(!parse(r#"{"light_mode": false}"#).light_mode);
        for bad in ["", "not json", "[]", r#"{"light_mode": "yes"}"#, "{}"] {
            assert_eq!(parse(bad), DesktopSettings::default(), "{bad:?}");
        }
    }

    #[test]
    fn env_values() {
        for on in ["1", "true", "YES", " on "] {
            assert_eq!(env_override(Some(on)), Some(true), "{on:?}");
        }
        for off in ["0", "false", "No", "off"] {
            assert_eq!(env_override(Some(off)), Some(false), "{off:?}");
        }
        assert_eq!(env_override(Some("")), None);
        assert_eq!(env_override(Some("maybe")), None);
        assert_eq!(env_override(None), None);
    }

    #[test]
    fn render_keeps_other_keys() {
        let on = DesktopSettings { light_mode: true };
        assert_eq!(render(None, on), "{\n  \"light_mode\": true\n}\n");
        let text = render(Some(r#"{"z": 1, "light_mode": false, "a": [2]}"#), on);
        assert_eq!(parse(&text), on);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["z"], 1);
        assert_eq!(v["a"][0], 2);
        // invalid old content is replaced
        assert_eq!(render(Some("garbage"), on), render(None, on));
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = std::env::temp_dir().join(format!(
            "switchyard-desktop-settings-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = dir.join("nested");
        assert_eq!(
            std::fs::read_to_string(path(&cfg)).map(|t| parse(&t)).ok(),
            None
        );
        save(&cfg, DesktopSettings { light_mode: true }).unwrap();
        let stored = parse(&std::fs::read_to_string(path(&cfg)).unwrap());
        assert!(stored.light_mode);
        save(&cfg, DesktopSettings { light_mode: false }).unwrap();
        assert!(!parse(&std::fs::read_to_string(path(&cfg)).unwrap()).light_mode);
        assert!(!cfg.join(format!(".{FILE_NAME}.tmp")).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
