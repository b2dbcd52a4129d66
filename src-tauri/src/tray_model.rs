//! The tray menu as a pure function of the app state.
//!
//! `tray_model` turns a [`TrayState`] into a list of [`MenuRow`]s with stable ids. The adapter in
//! `tray.rs` renders the rows; it rebuilds the native menu only when [`needs_rebuild`] says the
//! set/order of ids (or a row's kind) changed, and otherwise updates labels and check marks in place
//! (desktop.md §3). Nothing here touches Tauri, so it is unit-tested without a display.

use std::net::SocketAddr;

/// Stable menu ids (also used by `tray.rs` to dispatch clicks).
pub mod ids {
    pub const STATUS: &str = "status";
    pub const KEYCHAIN_WARNING: &str = "warning:keychain";
    pub const SEP_STATUS: &str = "sep:status";
    pub const PROVIDERS_HEADER: &str = "providers:header";
    pub const PROVIDERS_EMPTY: &str = "providers:empty";
    pub const PROVIDER_PREFIX: &str = "provider:";
    pub const SEP_PROVIDERS: &str = "sep:providers";
    pub const OPEN: &str = "open";
    pub const AUTOSTART: &str = "autostart";
    pub const SEP_QUIT: &str = "sep:quit";
    pub const QUIT: &str = "quit";
}

/// What the gateway is doing, as far as the tray is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayStatus {
    /// Started and listening.
    Running { addr: SocketAddr },
    /// Could not bind: another program (or another Switchyard) holds the port.
    PortInUse { port: u16 },
    /// Any other start failure; the message is user-facing.
    Failed { message: String },
    /// "Quit" was chosen; the gateway is shutting down.
    Stopping,
}

/// One provider as shown in the tray.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEntry {
    pub name: String,
    pub base_url: String,
}

/// Everything the tray menu depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayState {
    pub gateway: GatewayStatus,
    pub providers: Vec<ProviderEntry>,
    /// The real OS state of "start at login" (`autolaunch().is_enabled()`).
    pub autostart: bool,
    /// Set when the keychain cannot store secrets (or does not persist them): a warning row.
    pub keychain_warning: Option<String>,
}

/// How a row is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// A plain item; disabled items are informational.
    Item {
        enabled: bool,
    },
    /// A check item.
    Check {
        enabled: bool,
        checked: bool,
    },
    Separator,
}

impl RowKind {
    /// Same native widget type (what decides between an in-place update and a rebuild).
    fn same_widget(self, other: RowKind) -> bool {
        matches!(
            (self, other),
            (RowKind::Item { .. }, RowKind::Item { .. })
                | (RowKind::Check { .. }, RowKind::Check { .. })
                | (RowKind::Separator, RowKind::Separator)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuRow {
    pub id: String,
    pub label: String,
    pub kind: RowKind,
}

impl MenuRow {
    fn item(id: impl Into<String>, label: impl Into<String>, enabled: bool) -> Self {
        Self {
            id: id.into(),
            label: label.into(),
            kind: RowKind::Item { enabled },
        }
    }

    fn separator(id: &str) -> Self {
        Self {
            id: id.to_string(),
            label: String::new(),
            kind: RowKind::Separator,
        }
    }
}

/// The id of a provider row.
pub fn provider_id(name: &str) -> String {
    format!("{}{name}", ids::PROVIDER_PREFIX)
}

/// The first row's text.
pub fn status_label(status: &GatewayStatus) -> String {
    match status {
        GatewayStatus::Running { addr } => format!("Switchyard · running on {addr}"),
        GatewayStatus::PortInUse { port } => {
            format!("⚠ Port {port} in use — gateway not running")
        }
        GatewayStatus::Failed { message } => {
            format!("⚠ Gateway not running: {}", truncate(message, 60))
        }
        GatewayStatus::Stopping => "Switchyard · stopping…".to_string(),
    }
}

/// `host[:port]` of a base URL (no scheme, user info, path or query); the URL itself if it has none.
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        url
    } else {
        host
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max_chars.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The tray menu for `state`, top to bottom.
pub fn tray_model(state: &TrayState) -> Vec<MenuRow> {
    let mut rows = vec![MenuRow::item(
        ids::STATUS,
        status_label(&state.gateway),
        false,
    )];
    if let Some(warning) = &state.keychain_warning {
        rows.push(MenuRow::item(
            ids::KEYCHAIN_WARNING,
            format!("⚠ {}", truncate(warning, 70)),
            false,
        ));
    }
    rows.push(MenuRow::separator(ids::SEP_STATUS));
    rows.push(MenuRow::item(ids::PROVIDERS_HEADER, "Providers", false));
    if state.providers.is_empty() {
        rows.push(MenuRow::item(
            ids::PROVIDERS_EMPTY,
            "No providers yet",
            false,
        ));
    }
    for p in &state.providers {
        rows.push(MenuRow::item(
            provider_id(&p.name),
            format!("    {} · {}", p.name, url_host(&p.base_url)),
            false,
        ));
    }
    rows.push(MenuRow::separator(ids::SEP_PROVIDERS));
    rows.push(MenuRow::item(ids::OPEN, "Open dashboard", true));
    rows.push(MenuRow {
        id: ids::AUTOSTART.to_string(),
        label: "Start at login".to_string(),
        kind: RowKind::Check {
            enabled: true,
            checked: state.autostart,
        },
    });
    rows.push(MenuRow::separator(ids::SEP_QUIT));
    rows.push(MenuRow::item(
        ids::QUIT,
        "Quit",
        state.gateway != GatewayStatus::Stopping,
    ));
    rows
}

/// True when going from `old` to `new` needs a new native menu: the ids, their order or a row's
/// widget type changed. Otherwise labels, enabled and checked states are updated in place.
pub fn needs_rebuild(old: &[MenuRow], new: &[MenuRow]) -> bool {
    old.len() != new.len()
        || old
            .iter()
            .zip(new)
            .any(|(a, b)| a.id != b.id || !a.kind.same_widget(b.kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> GatewayStatus {
        GatewayStatus::Running {
            addr: "127.0.0.1:20128".parse().unwrap(),
        }
    }

    fn state(providers: &[(&str, &str)]) -> TrayState {
        TrayState {
            gateway: running(),
            providers: providers
                .iter()
                .map(|(n, u)| ProviderEntry {
                    name: n.to_string(),
                    base_url: u.to_string(),
                })
                .collect(),
            autostart: false,
            keychain_warning: None,
        }
    }

    fn ids_of(rows: &[MenuRow]) -> Vec<&str> {
        rows.iter().map(|r| r.id.as_str()).collect()
    }

    fn row<'a>(rows: &'a [MenuRow], id: &str) -> &'a MenuRow {
        rows.iter().find(|r| r.id == id).expect(id)
    }

    #[test]
    fn empty_state_layout() {
        let rows = tray_model(&state(&[]));
        assert_eq!(
            ids_of(&rows),
            [
                "status",
                "sep:status",
                "providers:header",
                "providers:empty",
                "sep:providers",
                "open",
                "autostart",
                "sep:quit",
                "quit"
            ]
        );
        assert_eq!(
            row(&rows, "status").label,
            "Switchyard · running on 127.0.0.1:20128"
        );
        assert_eq!(row(&rows, "status").kind, RowKind::Item { enabled: false });
        assert_eq!(row(&rows, "providers:header").label, "Providers");
        assert_eq!(
            row(&rows, "providers:header").kind,
            RowKind::Item { enabled: false }
        );
        assert_eq!(row(&rows, "providers:empty").label, "No providers yet");
        assert_eq!(
            row(&rows, "providers:empty").kind,
            RowKind::Item { enabled: false }
        );
        assert_eq!(row(&rows, "open").label, "Open dashboard");
        assert_eq!(row(&rows, "open").kind, RowKind::Item { enabled: true });
        assert_eq!(row(&rows, "quit").label, "Quit");
        assert_eq!(row(&rows, "quit").kind, RowKind::Item { enabled: true });
    }

    #[test]
    fn provider_rows_are_disabled_and_show_the_host() {
        let rows = tray_model(&state(&[
            ("acme", "http://127.0.0.1:9999/v1"),
            ("openrouter", "https://user:pw@openrouter.ai/api/v1?x=1"),
        ]));
        assert!(!ids_of(&rows).contains(&"providers:empty"));
        let acme = row(&rows, "provider:acme");
        assert_eq!(acme.label.trim(), "acme · 127.0.0.1:9999");
        assert_eq!(acme.kind, RowKind::Item { enabled: false });
        assert_eq!(
            row(&rows, "provider:openrouter").label.trim(),
            "openrouter · openrouter.ai"
        );
        // providers sit between the header and the separator, in the gateway's order
        let pos = |id: &str| ids_of(&rows).iter().position(|i| *i == id).unwrap();
        assert_eq!(pos("provider:acme"), pos("providers:header") + 1);
        assert_eq!(pos("provider:openrouter"), pos("provider:acme") + 1);
        assert_eq!(pos("sep:providers"), pos("provider:openrouter") + 1);
    }

    #[test]
    fn autostart_is_a_check_item_reflecting_the_state() {
        let mut s = state(&[]);
        assert_eq!(
            row(&tray_model(&s), "autostart").kind,
            RowKind::Check {
                enabled: true,
                checked: false
            }
        );
        s.autostart = true;
        let rows = tray_model(&s);
        assert_eq!(row(&rows, "autostart").label, "Start at login");
        assert_eq!(
            row(&rows, "autostart").kind,
            RowKind::Check {
                enabled: true,
                checked: true
            }
        );
    }

    #[test]
    fn port_in_use_warning() {
        let mut s = state(&[]);
        s.gateway = GatewayStatus::PortInUse { port: 20128 };
        let rows = tray_model(&s);
        assert_eq!(rows[0].id, "status");
        assert_eq!(rows[0].label, "⚠ Port 20128 in use — gateway not running");
        assert_eq!(rows[0].kind, RowKind::Item { enabled: false });
        // the rest of the menu stays usable (open shows the explanation page, quit exits)
        assert_eq!(row(&rows, "open").kind, RowKind::Item { enabled: true });
        assert_eq!(row(&rows, "quit").kind, RowKind::Item { enabled: true });
        // same structure as the running state: switching is an in-place label update
        assert!(!needs_rebuild(&tray_model(&state(&[])), &rows));
    }

    #[test]
    fn other_failures_and_stopping() {
        let mut s = state(&[]);
        s.gateway = GatewayStatus::Failed {
            message: "x".repeat(200),
        };
        let label = &tray_model(&s)[0].label;
        assert!(label.starts_with("⚠ Gateway not running: xxx"));
        assert!(label.ends_with('…'));
        assert!(label.chars().count() < 100);

        s.gateway = GatewayStatus::Stopping;
        let rows = tray_model(&s);
        assert_eq!(rows[0].label, "Switchyard · stopping…");
        assert_eq!(row(&rows, "quit").kind, RowKind::Item { enabled: false });
    }

    #[test]
    fn keychain_warning_row_goes_under_the_status() {
        let mut s = state(&[]);
        s.keychain_warning = Some("Keychain unavailable — providers cannot be added".into());
        let rows = tray_model(&s);
        assert_eq!(rows[1].id, "warning:keychain");
        assert_eq!(
            rows[1].label,
            "⚠ Keychain unavailable — providers cannot be added"
        );
        assert_eq!(rows[1].kind, RowKind::Item { enabled: false });
        assert!(needs_rebuild(&tray_model(&state(&[])), &rows));
    }

    #[test]
    fn ids_are_unique_and_stable() {
        let s = state(&[("a", "http://a/v1"), ("b", "http://b/v1")]);
        let rows = tray_model(&s);
        let mut ids = ids_of(&rows);
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), rows.len());
        assert_eq!(tray_model(&s), rows, "pure: same state, same rows");
    }

    #[test]
    fn structural_change_detection() {
        let empty = tray_model(&state(&[]));
        let one = tray_model(&state(&[("acme", "http://127.0.0.1:9999/v1")]));
        let one_moved = tray_model(&state(&[("acme", "http://10.0.0.1:1234/v1")]));
        let two = tray_model(&state(&[
            ("acme", "http://127.0.0.1:9999/v1"),
            ("beta", "http://b/v1"),
        ]));
        let two_swapped = tray_model(&state(&[
            ("beta", "http://b/v1"),
            ("acme", "http://127.0.0.1:9999/v1"),
        ]));

        // first provider replaces "No providers yet": same length, different id
        assert_eq!(empty.len(), one.len());
        assert!(needs_rebuild(&empty, &one));
        assert!(needs_rebuild(&one, &two), "a row was added");
        assert!(needs_rebuild(&two, &one), "a row was removed");
        assert!(needs_rebuild(&two, &two_swapped), "order changed");
        assert!(!needs_rebuild(&one, &one_moved), "only a label changed");
        assert!(!needs_rebuild(&two, &two), "nothing changed");

        let mut checked = state(&[]);
        checked.autostart = true;
        assert!(
            !needs_rebuild(&empty, &tray_model(&checked)),
            "check state is updated in place"
        );

        let mut as_check = empty.clone();
        as_check[5].kind = RowKind::Check {
            enabled: true,
            checked: false,
        };
        assert!(needs_rebuild(&empty, &as_check), "widget type changed");
    }

    #[test]
    fn url_host_cases() {
        assert_eq!(url_host("http://127.0.0.1:9999/v1"), "127.0.0.1:9999");
        assert_eq!(url_host("https://api.openai.com"), "api.openai.com");
        assert_eq!(url_host("https://u:p@h.example/x"), "h.example");
        assert_eq!(url_host("https://[::1]:8080/v1"), "[::1]:8080");
        assert_eq!(url_host("https://h.example?q=1"), "h.example");
        assert_eq!(url_host("not a url"), "not a url");
        assert_eq!(url_host("http:///path"), "http:///path");
    }
}
