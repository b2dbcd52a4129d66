//! Notifications as pure state machines (docs/quota.md §7).
//!
//! - [`Notifier`]: a quota window crossing 80 % / 95 %, a window exhausted, a window reset.
//!   Deduplicated by (account, window kind, threshold, window instance); states already present
//!   at the first observation (app start) are not announced.
//! - [`FailoverNotifier`]: a combo that left its first target, at most one notice per combo per
//!   [`FAILOVER_INTERVAL`].
//!
//! Each [`Notice`] has a [`NoticeKind`]; [`enabled`] filters by the user's switches
//! (`settings().notify`). The clock is a parameter everywhere, so tests use fixed clocks.

use std::collections::{HashMap, HashSet};

use switchyard_gateway::quota::{self, QuotaWindow};
use switchyard_gateway::state::NotifySettings;

use crate::tray_model::AccountEntry;

/// Thresholds in percent; 100 = exhausted.
const THRESHOLDS: [u32; 3] = [80, 95, 100];
/// Readings whose `resets_at` differs by less than this describe the same window instance
/// (reset times computed from "reset after N seconds" drift by a few seconds per response).
const SAME_INSTANCE: u64 = 10 * 60;

/// At most one failover notice per combo in this many seconds.
pub const FAILOVER_INTERVAL: u64 = 10 * 60;

/// Which switch in `settings().notify` governs a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// 80 % / 95 % crossed.
    Threshold,
    /// 100 % / rejected.
    Exhausted,
    /// The window reset; the account is available again.
    Reset,
    /// A combo served a request from a later target.
    Failover,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
}

/// Whether the user wants notices of this kind. The state machines run regardless, so turning a
/// switch on later does not announce stale crossings.
pub fn enabled(settings: &NotifySettings, kind: NoticeKind) -> bool {
    match kind {
        NoticeKind::Threshold => settings.thresholds,
        NoticeKind::Exhausted => settings.exhausted,
        NoticeKind::Reset => settings.resets,
        NoticeKind::Failover => settings.failover,
    }
}

/// Rate limits failover notices: one per combo per [`FAILOVER_INTERVAL`].
#[derive(Debug, Default)]
pub struct FailoverNotifier {
    /// combo → unix seconds of its last notice.
    last: HashMap<String, u64>,
}

/// `"acme/m1:429"` → `"acme/m1 (429)"`; the reason is after the last `:` (model ids may have
/// colons of their own, e.g. `llama3:8b`).
fn hop_text(hop: &str) -> String {
    match hop.rsplit_once(':') {
        Some((target, reason)) if !target.is_empty() && !reason.is_empty() => {
            format!("{target} ({reason})")
        }
        _ => hop.to_string(),
    }
}

impl FailoverNotifier {
    /// A failover event at `now`: the notice to show, or `None` while this combo is rate limited.
    pub fn observe(
        &mut self,
        combo: &str,
        failed: &[String],
        served_by: &str,
        now: u64,
    ) -> Option<Notice> {
        if let Some(&last) = self.last.get(combo) {
            // A clock that went backwards does not silence the combo until it catches up.
            if now >= last && now - last < FAILOVER_INTERVAL {
                return None;
            }
        }
        self.last.insert(combo.to_string(), now);
        let hops: Vec<String> = failed.iter().map(|h| hop_text(h)).collect();
        let body = if hops.is_empty() {
            format!("Combo {combo} left its first target.")
        } else {
            format!("Combo {combo}: {} failed.", hops.join(", "))
        };
        Some(Notice {
            kind: NoticeKind::Failover,
            title: format!("Switchyard switched to {served_by}"),
            body,
        })
    }
}

/// (account id, window kind tag)
type WindowId = (String, String);

#[derive(Default)]
pub struct Notifier {
    started: bool,
    /// The current instance of each window: its `resets_at` when first seen.
    instance: HashMap<WindowId, Option<u64>>,
    /// (window, threshold, instance) already announced (or present at start).
    fired: HashSet<(WindowId, u32, Option<u64>)>,
    /// Instances whose reset was announced.
    reset_done: HashSet<(WindowId, Option<u64>)>,
}

fn used(w: &QuotaWindow, now: u64) -> f64 {
    if quota::is_exhausted(w, now) {
        100.0
    } else {
        w.used_pct
    }
}

fn expired(w: &QuotaWindow, now: u64) -> bool {
    w.resets_at.is_some_and(|r| r <= now)
}

impl Notifier {
    /// Feeds the current windows; returns what to announce.
    pub fn observe(&mut self, accounts: &[AccountEntry], now: u64) -> Vec<Notice> {
        let mut out = Vec::new();
        for a in accounts {
            let name = format!("{} ({})", a.provider, a.account);
            let acct = format!("{}/{}", a.provider, a.account);
            let any_exhausted = |except: &QuotaWindow| {
                a.windows
                    .iter()
                    .any(|o| o.kind != except.kind && quota::is_exhausted(o, now))
            };
            for w in &a.windows {
                let id: WindowId = (acct.clone(), w.kind.tag());
                let prev = self.instance.get(&id).copied();
                let same = match (prev, w.resets_at) {
                    (Some(Some(p)), Some(r)) => p.abs_diff(r) < SAME_INSTANCE,
                    (Some(p), r) => p == r,
                    (None, _) => false,
                };
                let inst = if same { prev.flatten() } else { w.resets_at };
                if !same {
                    if let Some(old) = prev {
                        // A new instance replaced one we had announced a threshold for.
                        if self.started && self.crossed(&id, old) && w.used_pct < 80.0 {
                            out.extend(self.reset(&id, old, &name, w, any_exhausted(w)));
                        }
                    }
                    self.instance.insert(id.clone(), inst);
                }
                if expired(w, now) {
                    // The reset time passed: the numbers describe the previous instance.
                    if self.started && self.crossed(&id, inst) {
                        out.extend(self.reset(&id, inst, &name, w, any_exhausted(w)));
                    }
                    continue;
                }
                let pct = used(w, now);
                let newly: Vec<u32> = THRESHOLDS
                    .into_iter()
                    .filter(|t| pct >= f64::from(*t))
                    .filter(|t| self.fired.insert((id.clone(), *t, inst)))
                    .collect();
                if let (true, Some(&t)) = (self.started, newly.last()) {
                    let tag = w.kind.tag();
                    let (kind, title) = if t >= 100 {
                        (
                            NoticeKind::Exhausted,
                            format!("{name}: {tag} window exhausted"),
                        )
                    } else {
                        (
                            NoticeKind::Threshold,
                            format!("{name}: {tag} window at {t}%"),
                        )
                    };
                    let body = match w.resets_at {
                        Some(r) => format!("Resets {}.", quota::countdown(r, now)),
                        None => "Reset time unknown.".to_string(),
                    };
                    out.push(Notice { kind, title, body });
                }
            }
        }
        self.started = true;
        out
    }

    fn crossed(&self, id: &WindowId, inst: Option<u64>) -> bool {
        THRESHOLDS
            .iter()
            .any(|t| self.fired.contains(&(id.clone(), *t, inst)))
    }

    fn reset(
        &mut self,
        id: &WindowId,
        inst: Option<u64>,
        name: &str,
        w: &QuotaWindow,
        other_exhausted: bool,
    ) -> Option<Notice> {
        if !self.reset_done.insert((id.clone(), inst)) || other_exhausted {
            return None;
        }
        Some(Notice {
            kind: NoticeKind::Reset,
            title: format!("{name}: {} window reset", w.kind.tag()),
            body: "The account is available again.".to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_gateway::quota::{Source, WindowKind, WindowStatus};

    const NOW: u64 = 1_767_225_600;

    fn acct(windows: Vec<QuotaWindow>) -> Vec<AccountEntry> {
        vec![AccountEntry {
            provider: "Claude".into(),
            account: "work".into(),
            enabled: true,
            windows,
        }]
    }

    fn w(kind: WindowKind, used: f64, resets_at: u64) -> QuotaWindow {
        QuotaWindow {
            kind,
            used_pct: used,
            resets_at: Some(resets_at),
            status: WindowStatus::Allowed,
            source: Source::Headers,
            observed_at: NOW,
            window_seconds: None,
        }
    }

    fn titles(n: Vec<Notice>) -> Vec<String> {
        n.into_iter().map(|n| n.title).collect()
    }

    #[test]
    fn states_present_at_start_are_not_announced() {
        let mut n = Notifier::default();
        let reset = NOW + 3600;
        assert!(n
            .observe(&acct(vec![w(WindowKind::FiveHour, 85.0, reset)]), NOW)
            .is_empty());
        // the same state again: nothing
        assert!(n
            .observe(&acct(vec![w(WindowKind::FiveHour, 86.0, reset)]), NOW)
            .is_empty());
        // a crossing while running is announced once
        let got = titles(n.observe(&acct(vec![w(WindowKind::FiveHour, 96.0, reset)]), NOW));
        assert_eq!(got, ["Claude (work): 5h window at 95%"]);
        assert!(n
            .observe(&acct(vec![w(WindowKind::FiveHour, 97.0, reset)]), NOW)
            .is_empty());
    }

    #[test]
    fn crossings_exhaustion_and_reset() {
        let mut n = Notifier::default();
        let r1 = NOW + 3600;
        n.observe(&acct(vec![w(WindowKind::FiveHour, 10.0, r1)]), NOW);
        let got = n.observe(&acct(vec![w(WindowKind::FiveHour, 81.0, r1 + 3)]), NOW);
        assert_eq!(
            got,
            [Notice {
                kind: NoticeKind::Threshold,
                title: "Claude (work): 5h window at 80%".into(),
                body: "Resets in 1h 1m.".into()
            }]
        );
        // jumping over 95 straight to exhausted announces only the highest
        let mut rejected = w(WindowKind::FiveHour, 99.0, r1);
        rejected.status = WindowStatus::Rejected;
        let got = titles(n.observe(&acct(vec![rejected.clone()]), NOW));
        assert_eq!(got, ["Claude (work): 5h window exhausted"]);
        // the reset time passes: one reset notice
        let got = titles(n.observe(&acct(vec![rejected.clone()]), r1 + 1));
        assert_eq!(got, ["Claude (work): 5h window reset"]);
        assert!(n.observe(&acct(vec![rejected]), r1 + 2).is_empty());
        // the next instance (new resets_at, low usage): no second reset notice
        let r2 = r1 + 5 * 3600;
        assert!(n
            .observe(&acct(vec![w(WindowKind::FiveHour, 2.0, r2)]), r1 + 10)
            .is_empty());
        // and its own crossings are announced again
        let got = titles(n.observe(&acct(vec![w(WindowKind::FiveHour, 80.0, r2)]), r1 + 20));
        assert_eq!(got, ["Claude (work): 5h window at 80%"]);
    }

    #[test]
    fn new_instance_without_expiry_is_a_reset() {
        let mut n = Notifier::default();
        let r1 = NOW + 3600;
        n.observe(&acct(vec![w(WindowKind::Weekly, 10.0, r1)]), NOW);
        n.observe(&acct(vec![w(WindowKind::Weekly, 90.0, r1)]), NOW);
        let got = titles(n.observe(&acct(vec![w(WindowKind::Weekly, 1.0, r1 + 86400)]), NOW));
        assert_eq!(got, ["Claude (work): w window reset"]);
    }

    #[test]
    fn no_reset_notice_while_another_window_is_exhausted() {
        let mut n = Notifier::default();
        let r1 = NOW + 3600;
        let weekly = w(WindowKind::Weekly, 100.0, NOW + 86400);
        n.observe(
            &acct(vec![w(WindowKind::FiveHour, 10.0, r1), weekly.clone()]),
            NOW,
        );
        let got = titles(n.observe(
            &acct(vec![w(WindowKind::FiveHour, 96.0, r1), weekly.clone()]),
            NOW,
        ));
        assert_eq!(got, ["Claude (work): 5h window at 95%"]);
        assert!(n
            .observe(
                &acct(vec![w(WindowKind::FiveHour, 96.0, r1), weekly]),
                r1 + 1
            )
            .is_empty());
    }

    #[test]
    fn kinds_follow_the_settings() {
        let mut n = Notifier::default();
        let r1 = NOW + 3600;
        n.observe(&acct(vec![w(WindowKind::FiveHour, 10.0, r1)]), NOW);
        let kinds = |v: Vec<Notice>| v.into_iter().map(|n| n.kind).collect::<Vec<_>>();
        assert_eq!(
            kinds(n.observe(&acct(vec![w(WindowKind::FiveHour, 85.0, r1)]), NOW)),
            [NoticeKind::Threshold]
        );
        assert_eq!(
            kinds(n.observe(&acct(vec![w(WindowKind::FiveHour, 100.0, r1)]), NOW)),
            [NoticeKind::Exhausted]
        );
        assert_eq!(
            kinds(n.observe(&acct(vec![w(WindowKind::FiveHour, 100.0, r1)]), r1 + 1)),
            [NoticeKind::Reset]
        );

        let all = NotifySettings::default();
        for k in [
            NoticeKind::Threshold,
            NoticeKind::Exhausted,
            NoticeKind::Reset,
            NoticeKind::Failover,
        ] {
            assert!(enabled(&all, k), "{k:?} is on by default");
        }
        let only_resets = NotifySettings {
            thresholds: false,
            exhausted: false,
            resets: true,
            failover: false,
        };
        assert!(!enabled(&only_resets, NoticeKind::Threshold));
        assert!(!enabled(&only_resets, NoticeKind::Exhausted));
        assert!(enabled(&only_resets, NoticeKind::Reset));
        assert!(!enabled(&only_resets, NoticeKind::Failover));
    }

    fn hops(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn failover_notice_text() {
        let mut f = FailoverNotifier::default();
        let n = f
            .observe(
                "always-on",
                &hops(&["acme/m1:429", "ollama/llama3:8b:timeout"]),
                "beta/m2",
                NOW,
            )
            .unwrap();
        assert_eq!(
            n,
            Notice {
                kind: NoticeKind::Failover,
                title: "Switchyard switched to beta/m2".into(),
                body: "Combo always-on: acme/m1 (429), ollama/llama3:8b (timeout) failed.".into(),
            }
        );
        let n = f.observe("other", &[], "beta/m2", NOW).unwrap();
        assert_eq!(n.body, "Combo other left its first target.");
        assert_eq!(hop_text("no-reason"), "no-reason");
    }

    #[test]
    fn failover_rate_limited_per_combo_with_a_fake_clock() {
        let mut f = FailoverNotifier::default();
        let ev = |f: &mut FailoverNotifier, combo: &str, now: u64| {
            f.observe(combo, &hops(&["acme/m1:429"]), "beta/m2", now)
                .is_some()
        };
        assert!(ev(&mut f, "work", NOW));
        assert!(!ev(&mut f, "work", NOW), "same second");
        assert!(!ev(&mut f, "work", NOW + 60));
        assert!(
            ev(&mut f, "cheap", NOW + 60),
            "another combo has its own limit"
        );
        assert!(!ev(&mut f, "work", NOW + FAILOVER_INTERVAL - 1));
        // suppressed events do not extend the window
        assert!(ev(&mut f, "work", NOW + FAILOVER_INTERVAL));
        assert!(!ev(&mut f, "work", NOW + FAILOVER_INTERVAL + 599));
        assert!(!ev(&mut f, "cheap", NOW + 659));
        assert!(ev(&mut f, "cheap", NOW + 660));
        // the wall clock jumped back: not silenced until it catches up again
        assert!(ev(&mut f, "work", NOW - 3600));
        assert!(!ev(&mut f, "work", NOW - 3600 + 10));
    }
}
