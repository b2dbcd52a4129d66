//! The tray menu as a pure function of the app state.
//!
//! `tray_model` turns a [`TrayState`] into a list of [`MenuRow`]s with stable ids. The adapter in
//! `tray.rs` renders the rows; it rebuilds the native menu only when [`needs_rebuild`] says the
//! set/order of ids (or a row's kind) changed, and otherwise updates labels and check marks in place
//! (docs/desktop.md §3). Nothing here touches Tauri, so it is unit-tested without a display. The clock is
//! part of the state (`now`), so countdown texts are tested at fixed clocks.

use std::net::SocketAddr;

use switchyard_gateway::quota::{self, Level, QuotaWindow};

/// Stable menu ids (also used by `app.rs` to dispatch clicks).
pub mod ids {
    pub const STATUS: &str = "status";
    pub const KEYCHAIN_WARNING: &str = "warning:keychain";
    pub const WARNING_PREFIX: &str = "warning:";
    pub const SEP_STATUS: &str = "sep:status";
    pub const COMBOS_EMPTY: &str = "combos:empty";
    pub const COMBO_PREFIX: &str = "combo:";
    pub const SEP_COMBOS: &str = "sep:combos";
    pub const ACCOUNTS_EMPTY: &str = "accounts:empty";
    pub const ACCOUNT_PREFIX: &str = "account:";
    pub const REFRESH: &str = "refresh";
    pub const SEP_ACCOUNTS: &str = "sep:accounts";
    pub const OPEN: &str = "open";
    pub const TOOLS: &str = "tools";
    pub const TOOL_PREFIX: &str = "tool:";
    pub const COPY_BASE_URL: &str = "copy:base-url";
    pub const COPY_API_KEY: &str = "copy:api-key";
    /// "Pause gateway" / "Resume gateway" (`AppState::set_paused`).
    pub const PAUSE: &str = "pause";
    pub const SEP_SETTINGS: &str = "sep:settings";
    pub const AUTOSTART: &str = "autostart";
    /// "Light mode (free memory when closed)": closing the window destroys the webview instead of
    /// hiding it. Persisted in `<app config dir>/desktop.json`; `SWITCHYARD_LIGHT=1|0` overrides the
    /// stored value at start (see `settings.rs`).
    pub const LIGHT_MODE: &str = "light-mode";
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

/// One account of one provider, with the quota windows the gateway knows for it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountEntry {
    pub provider: String,
    pub account: String,
    pub enabled: bool,
    pub windows: Vec<QuotaWindow>,
}

/// Configuration state of one coding CLI, as the tray shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolState {
    NotConfigured,
    ConfiguredByUs,
    /// Points at another endpoint (a click re-points it at Switchyard; the original is snapshotted).
    Elsewhere,
    /// Its config file cannot be parsed; a click reports the error.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolEntry {
    /// `switchyard_cli_config::Tool::id()`, e.g. `claude-code`.
    pub id: String,
    pub name: String,
    pub state: ToolState,
}

/// A warning row under the status row (`warning:<key>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub key: String,
    pub text: String,
}

/// Everything the tray menu depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct TrayState {
    pub gateway: GatewayStatus,
    /// Combo names, in the gateway's order.
    pub combos: Vec<String>,
    pub active_combo: Option<String>,
    pub accounts: Vec<AccountEntry>,
    pub tools: Vec<ToolEntry>,
    /// The gateway refuses client requests (503 `gateway_paused`) until resumed.
    pub paused: bool,
    /// The real OS state of "start at login" (`autolaunch().is_enabled()`).
    pub autostart: bool,
    /// Closing the window destroys the webview (the idle app is small); reopening recreates it.
    pub light_mode: bool,
    /// Set when the keychain cannot store secrets (or does not persist them): a warning row.
    pub keychain_warning: Option<String>,
    /// Other warnings ("Restart Codex to apply", a failed configure), in insertion order.
    pub warnings: Vec<Warning>,
    /// Unix seconds the labels are computed for.
    pub now: u64,
}

impl TrayState {
    pub fn new(gateway: GatewayStatus, autostart: bool, now: u64) -> Self {
        Self {
            gateway,
            combos: Vec::new(),
            active_combo: None,
            accounts: Vec::new(),
            tools: Vec::new(),
            paused: false,
            autostart,
            light_mode: false,
            keychain_warning: None,
            warnings: Vec::new(),
            now,
        }
    }

    /// Adds or replaces the warning with this key.
    pub fn set_warning(&mut self, key: &str, text: Option<String>) {
        match text {
            Some(text) => match self.warnings.iter_mut().find(|w| w.key == key) {
                Some(w) => w.text = text,
                None => self.warnings.push(Warning {
                    key: key.to_string(),
                    text,
                }),
            },
            None => self.warnings.retain(|w| w.key != key),
        }
    }

    fn running(&self) -> bool {
        matches!(self.gateway, GatewayStatus::Running { .. })
    }
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
    /// A submenu; its rows are in [`MenuRow::children`].
    Submenu {
        enabled: bool,
    },
    Separator,
}

impl RowKind {
    /// Same native widget type (what decides between an in-place update and a rebuild).
    fn same_widget(self, other: RowKind) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuRow {
    pub id: String,
    pub label: String,
    pub kind: RowKind,
    /// Only for [`RowKind::Submenu`].
    pub children: Vec<MenuRow>,
}

impl MenuRow {
    fn item(id: impl Into<String>, label: impl Into<String>, enabled: bool) -> Self {
        Self {
            id: id.into(),
            label: label.into(),
            kind: RowKind::Item { enabled },
            children: Vec::new(),
        }
    }

    fn check(
        id: impl Into<String>,
        label: impl Into<String>,
        enabled: bool,
        checked: bool,
    ) -> Self {
        Self {
            id: id.into(),
            label: label.into(),
            kind: RowKind::Check { enabled, checked },
            children: Vec::new(),
        }
    }

    fn separator(id: &str) -> Self {
        Self {
            id: id.to_string(),
            label: String::new(),
            kind: RowKind::Separator,
            children: Vec::new(),
        }
    }
}

pub fn combo_id(name: &str) -> String {
    format!("{}{name}", ids::COMBO_PREFIX)
}

pub fn account_id(provider: &str, account: &str) -> String {
    format!("{}{provider}/{account}", ids::ACCOUNT_PREFIX)
}

pub fn tool_id(tool: &str) -> String {
    format!("{}{tool}", ids::TOOL_PREFIX)
}

/// The first row's text.
pub fn status_label(state: &TrayState) -> String {
    match &state.gateway {
        GatewayStatus::Running { .. } => {
            let paused = if state.paused { " · paused" } else { "" };
            match &state.active_combo {
                Some(combo) => format!("Switchyard{paused} · combo: {}", truncate(combo, 40)),
                None => format!("Switchyard{paused} · no combo active"),
            }
        }
        GatewayStatus::PortInUse { port } => {
            format!("⚠ Port {port} in use — gateway not running")
        }
        GatewayStatus::Failed { message } => {
            format!("⚠ Gateway not running: {}", truncate(message, 60))
        }
        GatewayStatus::Stopping => "Switchyard · stopping…".to_string(),
    }
}

/// The quota row of one account: the primary window via `quota::row`, with the level emoji in
/// front at ≥ 70 % (amber) and ≥ 90 % (red). Stale values keep their numbers and add their age.
pub fn account_label(a: &AccountEntry, now: u64) -> (String, Level) {
    let name = format!("{} ({})", a.provider, a.account);
    let suffix = if a.enabled { "" } else { " · disabled" };
    match quota::primary(&a.windows) {
        None => (format!("{name} · no quota data yet{suffix}"), Level::Grey),
        Some(w) => {
            let stale = now.saturating_sub(w.observed_at) > quota::countdown::STALE_AFTER;
            let used = if quota::is_exhausted(w, now) {
                100.0
            } else {
                w.used_pct
            };
            let level = quota::level(Some(used), stale);
            let text = quota::row(&name, w, now);
            let label = match level {
                Level::Amber | Level::Red => format!("{} {text}{suffix}", quota::emoji(level)),
                Level::Green | Level::Grey => format!("{text}{suffix}"),
            };
            (label, level)
        }
    }
}

/// The label of the pause item: what a click does.
pub fn pause_label(state: &TrayState) -> &'static str {
    if state.paused {
        "Resume gateway"
    } else {
        "Pause gateway"
    }
}

pub const LIGHT_MODE_LABEL: &str = "Light mode (free memory when closed)";

pub fn tool_label(t: &ToolEntry) -> String {
    match t.state {
        ToolState::NotConfigured | ToolState::ConfiguredByUs => t.name.clone(),
        ToolState::Elsewhere => format!("{} (uses another endpoint)", t.name),
        ToolState::Invalid => format!("{} (config file invalid)", t.name),
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
    let running = state.running();
    let mut rows = vec![MenuRow::item(ids::STATUS, status_label(state), false)];
    if let Some(warning) = &state.keychain_warning {
        rows.push(MenuRow::item(
            ids::KEYCHAIN_WARNING,
            format!("⚠ {}", truncate(warning, 70)),
            false,
        ));
    }
    for w in &state.warnings {
        rows.push(MenuRow::item(
            format!("{}{}", ids::WARNING_PREFIX, w.key),
            format!("⚠ {}", truncate(&w.text, 70)),
            false,
        ));
    }
    rows.push(MenuRow::separator(ids::SEP_STATUS));

    if state.combos.is_empty() {
        rows.push(MenuRow::item(ids::COMBOS_EMPTY, "No combos yet", false));
    }
    for c in &state.combos {
        let checked = state.active_combo.as_deref() == Some(c.as_str());
        rows.push(MenuRow::check(combo_id(c), c.as_str(), running, checked));
    }
    rows.push(MenuRow::separator(ids::SEP_COMBOS));

    if state.accounts.is_empty() {
        rows.push(MenuRow::item(ids::ACCOUNTS_EMPTY, "No accounts yet", false));
    }
    for a in &state.accounts {
        rows.push(MenuRow::item(
            account_id(&a.provider, &a.account),
            account_label(a, state.now).0,
            false,
        ));
    }
    rows.push(MenuRow::item(ids::REFRESH, "Refresh quotas", running));
    rows.push(MenuRow::separator(ids::SEP_ACCOUNTS));

    rows.push(MenuRow::item(ids::OPEN, "Open dashboard", true));
    rows.push(MenuRow {
        id: ids::TOOLS.to_string(),
        label: "Configure tools".to_string(),
        kind: RowKind::Submenu { enabled: running },
        children: state
            .tools
            .iter()
            .map(|t| {
                MenuRow::check(
                    tool_id(&t.id),
                    tool_label(t),
                    running,
                    t.state == ToolState::ConfiguredByUs,
                )
            })
            .collect(),
    });
    rows.push(MenuRow::item(ids::COPY_BASE_URL, "Copy base URL", running));
    rows.push(MenuRow::item(ids::COPY_API_KEY, "Copy API key", running));
    rows.push(MenuRow::item(ids::PAUSE, pause_label(state), running));
    rows.push(MenuRow::separator(ids::SEP_SETTINGS));
    rows.push(MenuRow::check(
        ids::AUTOSTART,
        "Start at login",
        true,
        state.autostart,
    ));
    rows.push(MenuRow::check(
        ids::LIGHT_MODE,
        LIGHT_MODE_LABEL,
        true,
        state.light_mode,
    ));
    rows.push(MenuRow::separator(ids::SEP_QUIT));
    rows.push(MenuRow::item(
        ids::QUIT,
        "Quit",
        state.gateway != GatewayStatus::Stopping,
    ));
    rows
}

/// True when going from `old` to `new` needs a new native menu: the ids, their order or a row's
/// widget type changed (submenus included). Otherwise labels, enabled and checked states are
/// updated in place.
pub fn needs_rebuild(old: &[MenuRow], new: &[MenuRow]) -> bool {
    old.len() != new.len()
        || old.iter().zip(new).any(|(a, b)| {
            a.id != b.id || !a.kind.same_widget(b.kind) || needs_rebuild(&a.children, &b.children)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_gateway::quota::{Source, WindowKind, WindowStatus};

    const NOW: u64 = 1_767_225_600;

    fn running() -> GatewayStatus {
        GatewayStatus::Running {
            addr: "127.0.0.1:20128".parse().unwrap(),
        }
    }

    fn state() -> TrayState {
        TrayState::new(running(), false, NOW)
    }

    fn with_combos(combos: &[&str], active: Option<&str>) -> TrayState {
        let mut s = state();
        s.combos = combos.iter().map(|c| c.to_string()).collect();
        s.active_combo = active.map(str::to_string);
        s
    }

    fn win(kind: WindowKind, used: f64, resets_in: Option<u64>, age: u64) -> QuotaWindow {
        QuotaWindow {
            kind,
            used_pct: used,
            resets_at: resets_in.map(|r| NOW + r),
            status: WindowStatus::Allowed,
            source: Source::Headers,
            observed_at: NOW - age,
            window_seconds: None,
        }
    }

    fn account(provider: &str, label: &str, windows: Vec<QuotaWindow>) -> AccountEntry {
        AccountEntry {
            provider: provider.into(),
            account: label.into(),
            enabled: true,
            windows,
        }
    }

    fn tools() -> Vec<ToolEntry> {
        [
            ("claude-code", "Claude Code", ToolState::ConfiguredByUs),
            ("codex", "Codex", ToolState::NotConfigured),
            ("gemini-cli", "Gemini CLI", ToolState::Elsewhere),
            ("opencode", "OpenCode", ToolState::Invalid),
        ]
        .into_iter()
        .map(|(id, name, state)| ToolEntry {
            id: id.into(),
            name: name.into(),
            state,
        })
        .collect()
    }

    fn ids_of(rows: &[MenuRow]) -> Vec<&str> {
        rows.iter().map(|r| r.id.as_str()).collect()
    }

    fn row<'a>(rows: &'a [MenuRow], id: &str) -> &'a MenuRow {
        rows.iter()
            .flat_map(|r| std::iter::once(r).chain(r.children.iter()))
            .find(|r| r.id == id)
            .expect(id)
    }

    fn checked(rows: &[MenuRow], prefix: &str) -> Vec<String> {
        rows.iter()
            .filter(|r| r.id.starts_with(prefix))
            .filter(|r| matches!(r.kind, RowKind::Check { checked: true, .. }))
            .map(|r| r.label.clone())
            .collect()
    }

    #[test]
    fn empty_state_layout() {
        let rows = tray_model(&state());
        assert_eq!(
            ids_of(&rows),
            [
                "status",
                "sep:status",
                "combos:empty",
                "sep:combos",
                "accounts:empty",
                "refresh",
                "sep:accounts",
                "open",
                "tools",
                "copy:base-url",
                "copy:api-key",
                "pause",
                "sep:settings",
                "autostart",
                "light-mode",
                "sep:quit",
                "quit"
            ]
        );
        assert_eq!(row(&rows, "status").label, "Switchyard · no combo active");
        assert_eq!(row(&rows, "status").kind, RowKind::Item { enabled: false });
        assert_eq!(row(&rows, "combos:empty").label, "No combos yet");
        assert_eq!(row(&rows, "accounts:empty").label, "No accounts yet");
        for (id, label) in [
            ("refresh", "Refresh quotas"),
            ("open", "Open dashboard"),
            ("copy:base-url", "Copy base URL"),
            ("copy:api-key", "Copy API key"),
            ("pause", "Pause gateway"),
            ("quit", "Quit"),
        ] {
            assert_eq!(row(&rows, id).label, label);
            assert_eq!(row(&rows, id).kind, RowKind::Item { enabled: true }, "{id}");
        }
        assert_eq!(row(&rows, "tools").label, "Configure tools");
        assert_eq!(row(&rows, "tools").kind, RowKind::Submenu { enabled: true });
    }

    #[test]
    fn status_row_names_the_active_combo() {
        let rows = tray_model(&with_combos(&["always-on", "cheap"], Some("always-on")));
        assert_eq!(rows[0].label, "Switchyard · combo: always-on");
        let rows = tray_model(&with_combos(&["always-on", "cheap"], None));
        assert_eq!(rows[0].label, "Switchyard · no combo active");
    }

    #[test]
    fn combos_are_check_items_exactly_one_checked() {
        let s = with_combos(&["work", "cheap", "claude-only"], Some("cheap"));
        let rows = tray_model(&s);
        assert!(!ids_of(&rows).contains(&"combos:empty"));
        let combos: Vec<&MenuRow> = rows.iter().filter(|r| r.id.starts_with("combo:")).collect();
        assert_eq!(
            combos.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["combo:work", "combo:cheap", "combo:claude-only"]
        );
        assert_eq!(checked(&rows, "combo:"), ["cheap"]);
        assert_eq!(
            row(&rows, "combo:work").kind,
            RowKind::Check {
                enabled: true,
                checked: false
            }
        );
        // the combos sit right under the status block
        let pos = |id: &str| ids_of(&rows).iter().position(|i| *i == id).unwrap();
        assert_eq!(pos("combo:work"), pos("sep:status") + 1);
        assert_eq!(pos("sep:combos"), pos("combo:claude-only") + 1);

        // switching moves the check mark in place
        let moved = tray_model(&with_combos(
            &["work", "cheap", "claude-only"],
            Some("work"),
        ));
        assert_eq!(checked(&moved, "combo:"), ["work"]);
        assert!(!needs_rebuild(&rows, &moved));
        // an active name no combo has (deleted meanwhile): none checked, nothing invented
        let gone = tray_model(&with_combos(&["work"], Some("cheap")));
        assert!(checked(&gone, "combo:").is_empty());
    }

    #[test]
    fn combos_disabled_while_the_gateway_is_down() {
        let mut s = with_combos(&["work"], Some("work"));
        s.gateway = GatewayStatus::PortInUse { port: 20128 };
        let rows = tray_model(&s);
        assert_eq!(
            row(&rows, "combo:work").kind,
            RowKind::Check {
                enabled: false,
                checked: true
            }
        );
        assert_eq!(
            row(&rows, "tools").kind,
            RowKind::Submenu { enabled: false }
        );
        assert_eq!(
            row(&rows, "copy:base-url").kind,
            RowKind::Item { enabled: false }
        );
    }

    #[test]
    fn account_rows_countdown_at_fixed_clocks() {
        let five_h = win(WindowKind::FiveHour, 42.0, Some(2 * 3600 + 12 * 60 + 1), 30);
        let mut s = state();
        s.accounts = vec![
            account("Claude", "work", vec![five_h.clone()]),
            account("acme", "default", vec![]),
        ];
        let rows = tray_model(&s);
        let claude = row(&rows, "account:Claude/work");
        assert_eq!(claude.label, "Claude (work) · 5h 42% · resets in 2h 13m");
        assert_eq!(claude.kind, RowKind::Item { enabled: false });
        assert_eq!(
            row(&rows, "account:acme/default").label,
            "acme (default) · no quota data yet"
        );
        // accounts come after the combos, "Refresh quotas" right after them
        let pos = |id: &str| ids_of(&rows).iter().position(|i| *i == id).unwrap();
        assert_eq!(pos("account:Claude/work"), pos("sep:combos") + 1);
        assert_eq!(pos("refresh"), pos("account:acme/default") + 1);

        // one minute later: the label ticks, the structure does not change
        s.now = NOW + 60;
        let later = tray_model(&s);
        assert_eq!(
            row(&later, "account:Claude/work").label,
            "Claude (work) · 5h 42% · resets in 2h 12m"
        );
        assert!(!needs_rebuild(&rows, &later));

        for (left, want) in [
            (59, "in 1m"),
            (3600, "in 1h"),
            (25 * 3600 + 600, "in 1d 2h"),
            (72 * 3600, "in 3d"),
        ] {
            let a = account(
                "c",
                "a",
                vec![win(WindowKind::FiveHour, 10.0, Some(left), 0)],
            );
            assert_eq!(
                account_label(&a, NOW).0,
                format!("c (a) · 5h 10% · resets {want}")
            );
        }
        // a passed reset reads "reset"; a disabled account says so
        let mut a = account("c", "a", vec![win(WindowKind::Weekly, 10.0, Some(5), 0)]);
        a.enabled = false;
        assert_eq!(
            account_label(&a, NOW + 10).0,
            "c (a) · w 10% · reset · disabled"
        );
    }

    #[test]
    fn primary_window_is_the_fullest() {
        let a = account(
            "Claude",
            "work",
            vec![
                win(WindowKind::FiveHour, 20.0, Some(3600), 0),
                win(WindowKind::Weekly, 75.0, Some(3 * 86400), 0),
            ],
        );
        assert_eq!(
            account_label(&a, NOW),
            (
                "🟡 Claude (work) · w 75% · resets in 3d".to_string(),
                Level::Amber
            )
        );
    }

    #[test]
    fn colour_thresholds() {
        for (used, level, prefix) in [
            (0.0, Level::Green, ""),
            (69.4, Level::Green, ""),
            (70.0, Level::Amber, "🟡 "),
            (89.9, Level::Amber, "🟡 "),
            (90.0, Level::Red, "🔴 "),
            (99.6, Level::Red, "🔴 "),
        ] {
            let a = account(
                "p",
                "a",
                vec![win(WindowKind::FiveHour, used, Some(600), 0)],
            );
            let (label, got) = account_label(&a, NOW);
            assert_eq!(got, level, "{used}");
            assert!(
                label.starts_with(&format!("{prefix}p (a)")),
                "{used}: {label}"
            );
        }
        // exhausted (rejected) is red even at a low reported percentage, and reads 100 %
        let mut w = win(WindowKind::FiveHour, 12.0, Some(600), 0);
        w.status = WindowStatus::Rejected;
        let (label, got) = account_label(&account("p", "a", vec![w]), NOW);
        assert_eq!(got, Level::Red);
        assert_eq!(label, "🔴 p (a) · 5h 100% · resets in 10m");
    }

    #[test]
    fn stale_values_show_their_age_instead_of_disappearing() {
        let a = account(
            "p",
            "a",
            vec![win(WindowKind::FiveHour, 95.0, Some(7200), 45 * 60)],
        );
        let (label, level) = account_label(&a, NOW);
        assert_eq!(level, Level::Grey, "stale data is grey, not red");
        assert_eq!(label, "p (a) · 5h 95% · resets in 2h · updated 45 min ago");
    }

    #[test]
    fn tools_submenu() {
        let mut s = state();
        s.tools = tools();
        let rows = tray_model(&s);
        let sub = row(&rows, "tools");
        assert_eq!(
            ids_of(&sub.children),
            [
                "tool:claude-code",
                "tool:codex",
                "tool:gemini-cli",
                "tool:opencode"
            ]
        );
        assert_eq!(
            sub.children
                .iter()
                .map(|r| r.label.as_str())
                .collect::<Vec<_>>(),
            [
                "Claude Code",
                "Codex",
                "Gemini CLI (uses another endpoint)",
                "OpenCode (config file invalid)"
            ]
        );
        assert_eq!(checked(&sub.children, "tool:"), ["Claude Code"]);

        // configuring one moves only a check mark: in place
        let mut after = s.clone();
        after.tools[1].state = ToolState::ConfiguredByUs;
        let after = tray_model(&after);
        assert!(!needs_rebuild(&rows, &after));
        assert_eq!(
            checked(&row(&after, "tools").children, "tool:"),
            ["Claude Code", "Codex"]
        );
        // tools appearing in the submenu is a structure change
        assert!(needs_rebuild(&tray_model(&state()), &rows));
    }

    #[test]
    fn autostart_is_a_check_item_reflecting_the_state() {
        let mut s = state();
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
        let mut s = state();
        s.gateway = GatewayStatus::PortInUse { port: 20128 };
        let rows = tray_model(&s);
        assert_eq!(rows[0].id, "status");
        assert_eq!(rows[0].label, "⚠ Port 20128 in use — gateway not running");
        assert_eq!(rows[0].kind, RowKind::Item { enabled: false });
        // the rest of the menu stays usable (open shows the explanation page, quit exits)
        assert_eq!(row(&rows, "open").kind, RowKind::Item { enabled: true });
        assert_eq!(row(&rows, "quit").kind, RowKind::Item { enabled: true });
        // same structure as the running state: switching is an in-place label update
        assert!(!needs_rebuild(&tray_model(&state()), &rows));
    }

    #[test]
    fn other_failures_and_stopping() {
        let mut s = state();
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
    fn warning_rows_go_under_the_status() {
        let mut s = state();
        s.keychain_warning = Some("Keychain unavailable — providers cannot be added".into());
        s.set_warning("tool:codex", Some("Restart Codex to apply".into()));
        let rows = tray_model(&s);
        assert_eq!(rows[1].id, "warning:keychain");
        assert_eq!(
            rows[1].label,
            "⚠ Keychain unavailable — providers cannot be added"
        );
        assert_eq!(rows[2].id, "warning:tool:codex");
        assert_eq!(rows[2].label, "⚠ Restart Codex to apply");
        assert_eq!(rows[2].kind, RowKind::Item { enabled: false });
        assert_eq!(rows[3].id, "sep:status");
        assert!(needs_rebuild(&tray_model(&state()), &rows));

        // replacing the text is in place, removing it is structural
        let mut replaced = s.clone();
        replaced.set_warning("tool:codex", Some("Codex: cannot write".into()));
        assert_eq!(replaced.warnings.len(), 1);
        assert!(!needs_rebuild(&rows, &tray_model(&replaced)));
        replaced.set_warning("tool:codex", None);
        assert!(replaced.warnings.is_empty());
        assert!(needs_rebuild(&rows, &tray_model(&replaced)));
    }

    #[test]
    fn pause_item_and_status_row() {
        let mut s = with_combos(&["work"], Some("work"));
        let running = tray_model(&s);
        assert_eq!(row(&running, "pause").label, "Pause gateway");
        assert_eq!(row(&running, "pause").kind, RowKind::Item { enabled: true });
        assert_eq!(running[0].label, "Switchyard · combo: work");

        s.paused = true;
        let paused = tray_model(&s);
        assert_eq!(row(&paused, "pause").label, "Resume gateway");
        assert_eq!(paused[0].label, "Switchyard · paused · combo: work");
        assert!(
            !needs_rebuild(&running, &paused),
            "pausing is a label change"
        );
        // combos stay switchable while paused (the next request after resuming uses the choice)
        assert_eq!(
            row(&paused, "combo:work").kind,
            RowKind::Check {
                enabled: true,
                checked: true
            }
        );

        s.active_combo = None;
        assert_eq!(
            tray_model(&s)[0].label,
            "Switchyard · paused · no combo active"
        );
        // the item sits with the gateway actions, before the settings group
        let pos = |id: &str| ids_of(&paused).iter().position(|i| *i == id).unwrap();
        assert_eq!(pos("pause"), pos("copy:api-key") + 1);
        assert_eq!(pos("sep:settings"), pos("pause") + 1);

        // a gateway that is not running cannot be paused; the status row explains why
        s.gateway = GatewayStatus::PortInUse { port: 20128 };
        let down = tray_model(&s);
        assert_eq!(row(&down, "pause").kind, RowKind::Item { enabled: false });
        assert_eq!(down[0].label, "⚠ Port 20128 in use — gateway not running");
    }

    #[test]
    fn light_mode_is_a_check_item() {
        let mut s = state();
        let off = tray_model(&s);
        assert_eq!(
            row(&off, "light-mode").label,
            "Light mode (free memory when closed)"
        );
        assert_eq!(
            row(&off, "light-mode").kind,
            RowKind::Check {
                enabled: true,
                checked: false
            }
        );
        s.light_mode = true;
        let on = tray_model(&s);
        assert_eq!(
            row(&on, "light-mode").kind,
            RowKind::Check {
                enabled: true,
                checked: true
            }
        );
        assert!(!needs_rebuild(&off, &on));
        // usable while the gateway is down too (it is about the window)
        s.gateway = GatewayStatus::Failed {
            message: "x".into(),
        };
        assert_eq!(
            row(&tray_model(&s), "light-mode").kind,
            RowKind::Check {
                enabled: true,
                checked: true
            }
        );
    }

    #[test]
    fn ids_are_unique_and_stable() {
        let mut s = with_combos(&["a", "b"], Some("a"));
        s.accounts = vec![account("p", "x", vec![]), account("p", "y", vec![])];
        s.tools = tools();
        let rows = tray_model(&s);
        let all: Vec<&MenuRow> = rows
            .iter()
            .flat_map(|r| std::iter::once(r).chain(r.children.iter()))
            .collect();
        let mut ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        assert_eq!(tray_model(&s), rows, "pure: same state, same rows");
    }

    #[test]
    fn structural_change_detection() {
        let none = tray_model(&with_combos(&[], None));
        let one = tray_model(&with_combos(&["work"], Some("work")));
        let two = tray_model(&with_combos(&["work", "cheap"], Some("work")));
        let two_other = tray_model(&with_combos(&["work", "cheap"], Some("cheap")));
        let swapped = tray_model(&with_combos(&["cheap", "work"], Some("work")));
        let renamed = tray_model(&with_combos(&["work", "cheaper"], Some("work")));

        // the first combo replaces "No combos yet": same length, different id
        assert_eq!(none.len(), one.len());
        assert!(needs_rebuild(&none, &one));
        assert!(needs_rebuild(&one, &two), "a combo was added");
        assert!(needs_rebuild(&two, &one), "a combo was removed");
        assert!(needs_rebuild(&two, &swapped), "order changed");
        assert!(
            needs_rebuild(&two, &renamed),
            "a combo was renamed (new id)"
        );
        assert!(!needs_rebuild(&two, &two_other), "only check marks moved");
        assert!(!needs_rebuild(&two, &two), "nothing changed");

        // accounts: added = rebuild; new quota numbers = in place
        let mut s = with_combos(&["work"], Some("work"));
        s.accounts = vec![account("p", "a", vec![])];
        let a1 = tray_model(&s);
        s.accounts[0].windows = vec![win(WindowKind::FiveHour, 50.0, Some(60), 0)];
        let a1_quota = tray_model(&s);
        s.accounts.push(account("p", "b", vec![]));
        let a2 = tray_model(&s);
        assert!(!needs_rebuild(&a1, &a1_quota), "quota numbers are labels");
        assert!(needs_rebuild(&a1_quota, &a2), "an account was added");
        assert!(
            needs_rebuild(&one, &a1),
            "first account replaces the empty row"
        );

        let mut checked = with_combos(&["work"], Some("work"));
        checked.autostart = true;
        assert!(
            !needs_rebuild(&one, &tray_model(&checked)),
            "check state is updated in place"
        );

        let mut as_check = one.clone();
        let open = as_check.iter().position(|r| r.id == "open").unwrap();
        as_check[open].kind = RowKind::Check {
            enabled: true,
            checked: false,
        };
        assert!(needs_rebuild(&one, &as_check), "widget type changed");
    }
}
