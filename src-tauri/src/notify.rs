//! Quota notifications as a pure state machine (quota.md §7): a window crossing 80 % / 95 %, a
//! window exhausted, a window reset. Deduplicated by (account, window kind, threshold, window
//! instance); states already present at the first observation (app start) are not announced.

use std::collections::{HashMap, HashSet};

use switchyard_gateway::quota::{self, QuotaWindow};

use crate::tray_model::AccountEntry;

/// Thresholds in percent; 100 = exhausted.
const THRESHOLDS: [u32; 3] = [80, 95, 100];
/// Readings whose `resets_at` differs by less than this describe the same window instance
/// (reset times computed from "reset after N seconds" drift by a few seconds per response).
const SAME_INSTANCE: u64 = 10 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
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
                    let title = if t >= 100 {
                        format!("{name}: {tag} window exhausted")
                    } else {
                        format!("{name}: {tag} window at {t}%")
                    };
                    let body = match w.resets_at {
                        Some(r) => format!("Resets {}.", quota::countdown(r, now)),
                        None => "Reset time unknown.".to_string(),
                    };
                    out.push(Notice { title, body });
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
}
