//! Circuit breaker per provider endpoint (docs/routing.md §8).
//!
//! CLOSED → OPEN after `threshold` counted failures inside `window` → HALF_OPEN after `open_for`,
//! admitting one probe → success closes, failure re-opens with a fresh timer. The caller reports
//! `on_failure` when `Verdict::breaker` is set, `on_uncounted` for a client disconnect or our own
//! timeout, and `on_success` for any other upstream answer (a 4xx/429 still proves it is up).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::classify::ProviderKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    pub threshold: u32,
    pub window: Duration,
    pub open_for: Duration,
}

impl BreakerConfig {
    pub fn for_kind(kind: ProviderKind) -> Self {
        let (threshold, window_min, open_secs) = match kind {
            ProviderKind::OAuth => (8, 15, 60),
            ProviderKind::ApiKey => (12, 30, 30),
            ProviderKind::Local => (2, 5, 15),
        };
        Self {
            threshold,
            window: Duration::from_secs(window_min * 60),
            open_for: Duration::from_secs(open_secs),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// This request is the half-open probe; its outcome decides the breaker.
    Probe,
    Rejected {
        retry_at: Instant,
    },
}

/// Snapshot for the management API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerView {
    pub state: &'static str,
    /// Counted failures inside the current window.
    pub failures: u32,
    /// While open: seconds until a probe is admitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opens_in_secs: Option<u64>,
}

/// One counted failure per account per this span, so one bad account in a retry loop cannot trip
/// the breaker for the whole provider on its own.
const DEDUP: Duration = Duration::from_secs(5);
/// Outcomes kept for the success rate in `health`.
const OUTCOMES_KEPT: usize = 100;

#[derive(Debug, Clone)]
pub struct Breaker {
    cfg: BreakerConfig,
    /// Set while open; once it is in the past the breaker is half-open.
    open_until: Option<Instant>,
    /// When the in-flight half-open probe was admitted.
    probe_since: Option<Instant>,
    failures: VecDeque<Instant>,
    last_counted: HashMap<String, Instant>,
    /// (when, succeeded), newest last.
    outcomes: VecDeque<(Instant, bool)>,
}

impl Breaker {
    pub fn new(cfg: BreakerConfig) -> Self {
        Self {
            cfg,
            open_until: None,
            probe_since: None,
            failures: VecDeque::new(),
            last_counted: HashMap::new(),
            outcomes: VecDeque::new(),
        }
    }

    pub fn state(&self, now: Instant) -> BreakerState {
        match self.open_until {
            None => BreakerState::Closed,
            Some(until) if now < until => BreakerState::Open { until },
            Some(_) => BreakerState::HalfOpen,
        }
    }

    pub fn admit(&mut self, now: Instant) -> Admission {
        match self.state(now) {
            BreakerState::Closed => Admission::Allowed,
            BreakerState::Open { until } => Admission::Rejected { retry_at: until },
            BreakerState::HalfOpen => match self.probe_since {
                // A probe that never reported (dropped without a verdict) is given up after
                // `open_for`, so the breaker cannot stay half-open forever.
                Some(since) if now < since + self.cfg.open_for => Admission::Rejected {
                    retry_at: since + self.cfg.open_for,
                },
                _ => {
                    self.probe_since = Some(now);
                    Admission::Probe
                }
            },
        }
    }

    pub fn on_success(&mut self, now: Instant) {
        self.record(now, true);
        if self.state(now) == BreakerState::HalfOpen {
            self.open_until = None;
            self.probe_since = None;
        }
    }

    pub fn on_failure(&mut self, now: Instant, account_id: &str) {
        self.record(now, false);
        match self.state(now) {
            // Failures from requests still in flight when it opened must not extend the timer.
            BreakerState::Open { .. } => {}
            BreakerState::HalfOpen => self.trip(now),
            BreakerState::Closed => {
                self.last_counted
                    .retain(|_, at| now.saturating_duration_since(*at) < DEDUP);
                if self.last_counted.contains_key(account_id) {
                    return;
                }
                self.last_counted.insert(account_id.to_string(), now);
                self.failures.push_back(now);
                self.prune_failures(now);
                if self.failures.len() >= self.cfg.threshold as usize {
                    self.trip(now);
                }
            }
        }
    }

    /// The admitted request ended without evidence either way (client disconnect, our own
    /// timeout): frees the half-open probe slot so the next request can probe.
    pub fn on_uncounted(&mut self) {
        self.probe_since = None;
    }

    /// Score for p2c/auto ordering: 1 closed, 0.5 half-open, 0 open, times the success rate of
    /// the outcomes inside the window (1 when there are none).
    pub fn health(&self, now: Instant) -> f64 {
        let factor = match self.state(now) {
            BreakerState::Closed => 1.0,
            BreakerState::HalfOpen => 0.5,
            BreakerState::Open { .. } => return 0.0,
        };
        let recent = self
            .outcomes
            .iter()
            .filter(|(at, _)| now.saturating_duration_since(*at) < self.cfg.window);
        let (ok, total) = recent.fold((0u32, 0u32), |(ok, n), (_, s)| (ok + u32::from(*s), n + 1));
        if total == 0 {
            factor
        } else {
            factor * f64::from(ok) / f64::from(total)
        }
    }

    pub fn view(&self, now: Instant) -> BreakerView {
        let failures = self
            .failures
            .iter()
            .filter(|at| now.saturating_duration_since(**at) < self.cfg.window)
            .count() as u32;
        let (state, opens_in_secs) = match self.state(now) {
            BreakerState::Closed => ("closed", None),
            BreakerState::HalfOpen => ("half_open", None),
            BreakerState::Open { until } => {
                let left = until.saturating_duration_since(now);
                // Round up so a breaker that is still open never shows 0.
                (
                    "open",
                    Some(left.as_secs() + u64::from(left.subsec_nanos() > 0)),
                )
            }
        };
        BreakerView {
            state,
            failures,
            opens_in_secs,
        }
    }

    /// Open with a fresh timer and an empty window, so closing later starts from zero.
    fn trip(&mut self, now: Instant) {
        self.open_until = Some(now + self.cfg.open_for);
        self.probe_since = None;
        self.failures.clear();
        self.last_counted.clear();
    }

    fn prune_failures(&mut self, now: Instant) {
        while let Some(&oldest) = self.failures.front() {
            if now.saturating_duration_since(oldest) < self.cfg.window {
                break;
            }
            self.failures.pop_front();
        }
    }

    fn record(&mut self, now: Instant, ok: bool) {
        if self.outcomes.len() == OUTCOMES_KEPT {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back((now, ok));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            threshold: 3,
            window: Duration::from_secs(60),
            open_for: Duration::from_secs(30),
        }
    }

    /// Fake clock: `at(s)` is `s` seconds after a fixed origin.
    fn clock() -> impl Fn(u64) -> Instant {
        let t0 = Instant::now();
        move |s| t0 + Duration::from_secs(s)
    }

    #[test]
    fn defaults_per_kind() {
        let oauth = BreakerConfig::for_kind(ProviderKind::OAuth);
        assert_eq!(
            (
                oauth.threshold,
                oauth.window.as_secs(),
                oauth.open_for.as_secs()
            ),
            (8, 900, 60)
        );
        let key = BreakerConfig::for_kind(ProviderKind::ApiKey);
        assert_eq!(
            (key.threshold, key.window.as_secs(), key.open_for.as_secs()),
            (12, 1800, 30)
        );
        let local = BreakerConfig::for_kind(ProviderKind::Local);
        assert_eq!(
            (
                local.threshold,
                local.window.as_secs(),
                local.open_for.as_secs()
            ),
            (2, 300, 15)
        );
    }

    #[test]
    fn opens_at_threshold() {
        let at = clock();
        let mut b = Breaker::new(cfg());
        b.on_failure(at(0), "a");
        b.on_failure(at(1), "b");
        assert_eq!(b.state(at(1)), BreakerState::Closed);
        assert_eq!(b.admit(at(1)), Admission::Allowed);
        b.on_failure(at(2), "c");
        assert_eq!(b.state(at(2)), BreakerState::Open { until: at(32) });
        assert_eq!(b.admit(at(10)), Admission::Rejected { retry_at: at(32) });
    }

    #[test]
    fn window_expiry_forgets_old_failures() {
        let at = clock();
        let mut b = Breaker::new(cfg());
        b.on_failure(at(0), "a");
        b.on_failure(at(30), "b");
        // The failure at 0 has left the 60 s window.
        b.on_failure(at(60), "c");
        assert_eq!(b.state(at(60)), BreakerState::Closed);
        assert_eq!(b.view(at(60)).failures, 2);
        b.on_failure(at(61), "d");
        assert!(matches!(b.state(at(61)), BreakerState::Open { .. }));
    }

    #[test]
    fn dedup_one_count_per_account_per_5s() {
        let at = clock();
        let mut b = Breaker::new(cfg());
        for s in [0, 1, 2, 3, 4] {
            b.on_failure(at(s), "a");
        }
        assert_eq!(b.view(at(4)).failures, 1);
        b.on_failure(at(5), "a");
        b.on_failure(at(6), "b");
        assert!(matches!(b.state(at(6)), BreakerState::Open { .. }));
    }

    #[test]
    fn half_open_admits_exactly_one_probe_and_success_closes() {
        let at = clock();
        let mut b = Breaker::new(cfg());
        for acct in ["a", "b", "c"] {
            b.on_failure(at(0), acct);
        }
        assert_eq!(b.admit(at(29)), Admission::Rejected { retry_at: at(30) });
        assert_eq!(b.state(at(30)), BreakerState::HalfOpen);
        assert_eq!(b.admit(at(30)), Admission::Probe);
        assert_eq!(b.admit(at(31)), Admission::Rejected { retry_at: at(60) });
        assert_eq!(b.admit(at(35)), Admission::Rejected { retry_at: at(60) });
        b.on_success(at(36));
        assert_eq!(b.state(at(36)), BreakerState::Closed);
        assert_eq!(b.admit(at(36)), Admission::Allowed);
        // The window restarted: two fresh failures do not re-open it.
        b.on_failure(at(37), "a");
        b.on_failure(at(37), "b");
        assert_eq!(b.state(at(37)), BreakerState::Closed);
    }

    #[test]
    fn probe_failure_reopens_with_fresh_timer() {
        let at = clock();
        let mut b = Breaker::new(cfg());
        for acct in ["a", "b", "c"] {
            b.on_failure(at(0), acct);
        }
        assert_eq!(b.admit(at(40)), Admission::Probe);
        b.on_failure(at(45), "a");
        assert_eq!(b.state(at(45)), BreakerState::Open { until: at(75) });
        assert_eq!(b.admit(at(75)), Admission::Probe);
    }

    #[test]
    fn failures_while_open_do_not_extend() {
        let at = clock();
        let mut b = Breaker::new(cfg());
        for acct in ["a", "b", "c"] {
            b.on_failure(at(0), acct);
        }
        for (s, acct) in [(10, "d"), (20, "e"), (29, "f")] {
            b.on_failure(at(s), acct);
        }
        assert_eq!(b.state(at(29)), BreakerState::Open { until: at(30) });
        assert_eq!(b.admit(at(30)), Admission::Probe);
    }

    #[test]
    fn lost_or_uncounted_probe_frees_the_slot() {
        let at = clock();
        let mut b = Breaker::new(cfg());
        for acct in ["a", "b", "c"] {
            b.on_failure(at(0), acct);
        }
        assert_eq!(b.admit(at(30)), Admission::Probe);
        b.on_uncounted();
        assert_eq!(b.state(at(31)), BreakerState::HalfOpen);
        assert_eq!(b.admit(at(31)), Admission::Probe);
        // This probe never reports: after `open_for` another one is admitted.
        assert!(matches!(b.admit(at(60)), Admission::Rejected { .. }));
        assert_eq!(b.admit(at(61)), Admission::Probe);
    }

    #[test]
    fn health_score() {
        let at = clock();
        let mut b = Breaker::new(cfg());
        assert_eq!(b.health(at(0)), 1.0);
        b.on_success(at(0));
        b.on_success(at(0));
        b.on_success(at(0));
        b.on_failure(at(0), "a");
        assert_eq!(b.health(at(0)), 0.75);
        // Outcomes age out of the window.
        assert_eq!(b.health(at(60)), 1.0);
        for acct in ["a", "b", "c"] {
            b.on_failure(at(100), acct);
        }
        assert_eq!(b.health(at(100)), 0.0);
        // Half-open: 0.5 × (0 successes of 3 recent outcomes).
        assert_eq!(b.health(at(130)), 0.0);
        b.on_success(at(130));
        assert_eq!(b.health(at(130)), 0.25);
    }

    #[test]
    fn half_open_health_is_halved() {
        let at = clock();
        let mut b = Breaker::new(BreakerConfig {
            threshold: 1,
            ..cfg()
        });
        b.on_success(at(0));
        b.on_failure(at(0), "a");
        assert_eq!(b.health(at(30)), 0.25);
    }

    #[test]
    fn view_serializes() {
        let at = clock();
        let mut b = Breaker::new(cfg());
        b.on_failure(at(0), "a");
        let closed = serde_json::to_value(b.view(at(0))).unwrap();
        assert_eq!(
            closed,
            serde_json::json!({"state": "closed", "failures": 1})
        );
        b.on_failure(at(0), "b");
        b.on_failure(at(0), "c");
        let open = serde_json::to_value(b.view(at(0))).unwrap();
        assert_eq!(
            open,
            serde_json::json!({"state": "open", "failures": 0, "opens_in_secs": 30})
        );
        let soon = b.view(at(0) + Duration::from_millis(29_500));
        assert_eq!(soon.opens_in_secs, Some(1));
        assert_eq!(b.view(at(30)).state, "half_open");
    }
}
