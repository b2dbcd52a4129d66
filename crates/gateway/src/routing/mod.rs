//! Routing: which upstream serves a request, and what happens when one fails.
//!
//! The pure policy lives in small modules (failure classification, back-off, the circuit breaker,
//! ordering strategies); [`Router`] holds the runtime state they act on — per-account cooldowns,
//! model locks, breakers, round-robin cursors, quota windows — behind one short-held lock, so the
//! request path never waits on I/O for a routing decision. What must survive a restart (quota
//! windows, long cooldowns) is written behind to SQLite by [`Router::flush`].

pub mod backoff;
pub mod breaker;
pub mod classify;
pub mod combos;
pub mod limits;
pub mod plan;
pub mod rng;
pub mod strategy;

use crate::quota::{self, QuotaWindow};
use crate::storage::{Combo, Provider};
use crate::sync::{MutexExt, RwLockExt};
use breaker::{Admission, Breaker, BreakerConfig};
use classify::{AccountAction, ProviderKind, Verdict};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use strategy::AccountFacts;

/// The default name clients use for "whatever combo is active" (configurable).
pub const DEFAULT_ACTIVE_ALIAS: &str = "switchyard";
/// Cooldowns longer than this are persisted so a restart does not hammer a limited account.
const PERSIST_COOLDOWN_OVER: Duration = Duration::from_secs(60);
/// Least-used counting: requests per target in the last ten one-minute buckets. O(1) per
/// request and bounded memory (a list of timestamps grew with traffic and made every combo
/// request scan it — measured: 5.6k → 0.6k req/s after a minute of load).
#[derive(Debug, Default, Clone, Copy)]
struct UseCounter {
    buckets: [(u64, u32); 10],
}

impl UseCounter {
    fn minute() -> u64 {
        now_unix() / 60
    }

    fn add(&mut self) {
        let m = Self::minute();
        let b = &mut self.buckets[(m % 10) as usize];
        if b.0 != m {
            *b = (m, 0);
        }
        b.1 = b.1.saturating_add(1);
    }

    fn recent(&self) -> u64 {
        let m = Self::minute();
        self.buckets
            .iter()
            .filter(|(bm, _)| m.saturating_sub(*bm) < 10)
            .map(|(_, n)| *n as u64)
            .sum()
    }
}

/// Upstream reset times are data from the network: never let one overflow an `Instant`.
fn instant_in(now: Instant, secs: u64) -> Instant {
    now.checked_add(Duration::from_secs(secs.min(7 * 86_400)))
        .unwrap_or(now)
}

pub use crate::clock::now_unix;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct AccountKey {
    pub provider: String,
    pub account: String,
}

impl AccountKey {
    pub fn new(provider: &str, account: &str) -> Self {
        Self {
            provider: provider.into(),
            account: account.into(),
        }
    }
}

/// What the router knows about one account right now.
#[derive(Debug, Default)]
struct AccountRt {
    cooldown_until: Option<Instant>,
    cooldown_reason: Option<&'static str>,
    backoff_level: u32,
    model_locks: HashMap<String, Instant>,
    last_used: Option<Instant>,
    consecutive_uses: u32,
    recent_errors: u32,
    /// The provider refused the account's key (401). An API key may work again (a billing
    /// problem fixed, a key re-enabled), so the account is benched and re-probed on its own.
    refused: Option<Refused>,
    disabled: bool,
}

/// A refused key's bench: when it was refused, until when it sits out, how often in a row.
#[derive(Debug, Clone, Copy)]
struct Refused {
    at: Instant,
    until: Instant,
    level: u32,
}

/// A refused key is tried again after 1 min, then 2, 4, 8, 16, at most every 30 min
/// (docs/routing.md §7).
fn refused_bench(level: u32) -> Duration {
    let secs = 60u64.saturating_mul(1 << level.min(5));
    Duration::from_secs(secs.min(30 * 60))
}

#[derive(Default)]
struct Runtime {
    accounts: HashMap<AccountKey, AccountRt>,
    breakers: HashMap<String, Breaker>,
    combo_cursors: HashMap<String, strategy::ComboCursor>,
    /// Per provider: the account picked last (round-robin stickiness).
    last_pick: HashMap<String, String>,
    /// Recent request times per `provider/model` target (least-used).
    target_uses: HashMap<String, UseCounter>,
    /// Accounts whose cooldown changed since the last flush.
    dirty_cooldowns: HashSet<AccountKey>,
}

/// The result of choosing an account for one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick {
    Account(String),
    /// Every candidate is cooling or locked; the earliest one frees up at this time.
    Cooling(Option<Instant>),
    /// The provider has no usable account at all (none enabled, or all need re-auth).
    Unusable(String),
}

/// Quota windows of one account, as the API and the tray show them.
#[derive(Debug, Clone, Serialize)]
pub struct AccountQuota {
    pub provider: String,
    pub account: String,
    pub windows: Vec<QuotaWindow>,
    /// Set while the account is cooling down (unix seconds).
    pub cooldown_until: Option<u64>,
    pub cooldown_reason: Option<&'static str>,
}

/// Health of one account for the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct AccountHealth {
    pub provider: String,
    pub account: String,
    pub cooldown_until: Option<u64>,
    pub cooldown_reason: Option<&'static str>,
    pub backoff_level: u32,
    pub locked_models: Vec<String>,
    pub reauth_required: bool,
    pub disabled: bool,
}

pub struct Router {
    combos: RwLock<Arc<Vec<Combo>>>,
    active: RwLock<Option<String>>,
    active_alias: RwLock<String>,
    global_fallback: RwLock<Option<String>>,
    rt: Mutex<Runtime>,
    quota: RwLock<HashMap<AccountKey, Vec<QuotaWindow>>>,
    dirty_quota: Mutex<HashSet<AccountKey>>,
    rng: Mutex<rng::Rng>,
    /// Changes of what the tray shows (active combo, combos, quota).
    changes: tokio::sync::watch::Sender<u64>,
    /// Per-provider limits, applied to each account; limiters are created on first use.
    limits: RwLock<HashMap<String, limits::Limits>>,
    limiters: Mutex<HashMap<AccountKey, Arc<limits::Limiter>>>,
}

pub fn provider_kind(p: &Provider) -> ProviderKind {
    let local = reqwest::Url::parse(&p.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| matches!(h.as_str(), "127.0.0.1" | "localhost" | "[::1]" | "::1"));
    if local {
        ProviderKind::Local
    } else {
        ProviderKind::ApiKey
    }
}

fn instant_to_unix(t: Instant, now: Instant) -> u64 {
    now_unix() + t.saturating_duration_since(now).as_secs_f64().ceil() as u64
}

/// The accounts of a provider that could take a request for `model` now.
struct Candidates<'a> {
    list: Vec<(&'a crate::storage::Account, AccountFacts)>,
    /// Enabled accounts that are not disabled or waiting for re-auth (cooling or not).
    usable: usize,
    /// When the first cooling/locked/over-quota one frees up.
    earliest: Option<Instant>,
    /// The benched (refused-key) account refused longest ago.
    least_recently_refused: Option<(&'a crate::storage::Account, Instant)>,
}

fn candidates<'a>(
    rt: &mut Runtime,
    quota: &HashMap<AccountKey, Vec<QuotaWindow>>,
    p: &'a Provider,
    model: &str,
    pin: Option<&str>,
    excluded: &[String],
    now: Instant,
) -> Candidates<'a> {
    let mut out = Candidates {
        list: Vec::new(),
        usable: 0,
        earliest: None,
        least_recently_refused: None,
    };
    for a in p.accounts.iter().filter(|a| a.enabled) {
        if pin.is_some_and(|pin| pin != a.label) || excluded.contains(&a.label) {
            continue;
        }
        let key = AccountKey::new(&p.name, &a.label);
        let windows = quota.get(&key);
        let st = rt.accounts.entry(key).or_default();
        if st.disabled {
            continue;
        }
        if let Some(r) = st.refused.filter(|r| r.until > now) {
            // Benched, not rate-limited: remembered in case nothing else can be tried.
            if out.least_recently_refused.is_none_or(|(_, at)| r.at < at) {
                out.least_recently_refused = Some((a, r.at));
            }
            continue;
        }
        out.usable += 1;
        let blocked_until = [
            st.cooldown_until,
            st.model_locks.get(model).copied(),
            quota_blocked_until(windows, now),
        ]
        .into_iter()
        .flatten()
        .filter(|t| *t > now)
        .max();
        if let Some(t) = blocked_until {
            out.earliest = Some(out.earliest.map_or(t, |e| e.min(t)));
            continue;
        }
        let primary = windows.and_then(|w| quota::primary(w));
        out.list.push((
            a,
            AccountFacts {
                priority: a.priority,
                last_used: st.last_used,
                consecutive_uses: st.consecutive_uses,
                backoff_level: st.backoff_level,
                recent_errors: st.recent_errors,
                quota_used_pct: primary.map(|w| w.used_pct),
                quota_exhausted: primary.is_some_and(|w| quota::is_exhausted(w, now_unix())),
            },
        ));
    }
    out
}

/// Until when an account's quota keeps it out (docs/quota.md §7: leave at the threshold, return at
/// the window's reset). A reading without a reset time expires five minutes after it was seen,
/// not after now — that would bench the account forever.
fn quota_blocked_until(windows: Option<&Vec<QuotaWindow>>, now: Instant) -> Option<Instant> {
    let t = now_unix();
    let over: Vec<&QuotaWindow> = windows?
        .iter()
        .filter(|w| quota::over_threshold(w, &quota::Thresholds::default(), t))
        .collect();
    if over.is_empty() {
        return None;
    }
    let until = match over.iter().filter_map(|w| w.resets_at).max() {
        Some(r) => r,
        None => over.iter().map(|w| w.observed_at).max().unwrap_or(0) + 300,
    };
    Some(instant_in(now, until.saturating_sub(t)))
}

impl Router {
    pub fn new(combos: Vec<Combo>, changes: tokio::sync::watch::Sender<u64>) -> Self {
        Self {
            combos: RwLock::new(Arc::new(combos)),
            active: RwLock::new(None),
            active_alias: RwLock::new(DEFAULT_ACTIVE_ALIAS.into()),
            global_fallback: RwLock::new(None),
            rt: Mutex::new(Runtime::default()),
            quota: RwLock::new(HashMap::new()),
            dirty_quota: Mutex::new(HashSet::new()),
            rng: Mutex::new(rng::Rng::from_entropy()),
            changes,
            limits: RwLock::new(HashMap::new()),
            limiters: Mutex::new(HashMap::new()),
        }
    }

    pub fn limits(&self, provider: &str) -> limits::Limits {
        self.limits
            .read_or_recover()
            .get(provider)
            .copied()
            .unwrap_or_default()
    }

    /// Replaces a provider's limits; its accounts get fresh limiters at their next request.
    pub fn set_limits(&self, provider: &str, l: limits::Limits) {
        let mut m = self.limits.write_or_recover();
        if l.is_empty() {
            m.remove(provider);
        } else {
            m.insert(provider.to_string(), l);
        }
        self.limiters
            .lock_or_recover()
            .retain(|k, _| k.provider != provider);
    }

    /// The account's limiter, if its provider has limits.
    pub fn limiter(&self, provider: &str, account: &str) -> Option<Arc<limits::Limiter>> {
        let l = self.limits(provider);
        if l.is_empty() {
            return None;
        }
        Some(
            self.limiters
                .lock_or_recover()
                .entry(AccountKey::new(provider, account))
                .or_insert_with(|| Arc::new(limits::Limiter::new(l)))
                .clone(),
        )
    }

    fn changed(&self) {
        self.changes.send_modify(|v| *v += 1);
    }

    pub fn combos(&self) -> Arc<Vec<Combo>> {
        self.combos.read_or_recover().clone()
    }

    pub fn set_combos(&self, combos: Vec<Combo>) {
        *self.combos.write_or_recover() = Arc::new(combos);
        self.changed();
    }

    pub fn active(&self) -> Option<String> {
        self.active.read_or_recover().clone()
    }

    pub fn set_active(&self, name: Option<String>) {
        *self.active.write_or_recover() = name;
        self.changed();
    }

    pub fn active_alias(&self) -> String {
        self.active_alias.read_or_recover().clone()
    }

    pub fn set_active_alias(&self, alias: String) {
        *self.active_alias.write_or_recover() = alias;
        self.changed();
    }

    pub fn global_fallback(&self) -> Option<String> {
        self.global_fallback.read_or_recover().clone()
    }

    pub fn set_global_fallback(&self, combo: Option<String>) {
        *self.global_fallback.write_or_recover() = combo;
    }

    /// The breaker gate for a provider.
    pub fn admit(&self, p: &Provider) -> Admission {
        let now = Instant::now();
        let mut rt = self.rt.lock_or_recover();
        rt.breakers
            .entry(p.name.clone())
            .or_insert_with(|| Breaker::new(BreakerConfig::for_kind(provider_kind(p))))
            .admit(now)
    }

    /// Chooses the account for the next attempt on `provider` serving `model`.
    pub fn pick_account(
        &self,
        p: &Provider,
        model: &str,
        pin: Option<&str>,
        excluded: &[String],
    ) -> Pick {
        let now = Instant::now();
        let quota = self.quota.read_or_recover();
        let mut rt = self.rt.lock_or_recover();
        let Candidates {
            list: candidates,
            usable,
            earliest,
            least_recently_refused,
        } = candidates(&mut rt, &quota, p, model, pin, excluded, now);
        if candidates.is_empty() && earliest.is_none() {
            // Every candidate is benched for a refused key and nothing is merely cooling: ask
            // the provider again with the one refused longest ago, so the client gets the
            // provider's own answer instead of a refusal without a call (a panic threshold).
            if let Some((a, _)) = least_recently_refused {
                return Pick::Account(a.label.clone());
            }
        }
        if candidates.is_empty() {
            if usable == 0 {
                let why = if p.accounts.iter().any(|a| a.enabled) {
                    match pin {
                        Some(pin) if !p.accounts.iter().any(|a| a.label == pin) => {
                            format!("provider {:?} has no account {pin:?}", p.name)
                        }
                        _ => format!(
                            "every account of provider {:?} was tried or needs attention (re-auth or disabled)",
                            p.name
                        ),
                    }
                } else {
                    format!("provider {:?} has no enabled account", p.name)
                };
                return Pick::Unusable(why);
            }
            return Pick::Cooling(earliest);
        }
        let facts: Vec<AccountFacts> = candidates.iter().map(|(_, f)| *f).collect();
        let strategy = p.account_strategy;
        let last = rt
            .last_pick
            .get(&p.name)
            .and_then(|l| candidates.iter().position(|(a, _)| &a.label == l));
        let mut rng = self.rng.lock_or_recover();
        let i = strategy::pick_account(strategy, &facts, 3, last, !excluded.is_empty(), &mut rng)
            .unwrap_or(0);
        let label = candidates[i].0.label.clone();
        let prev = rt.last_pick.insert(p.name.clone(), label.clone());
        let st = rt
            .accounts
            .entry(AccountKey::new(&p.name, &label))
            .or_default();
        st.consecutive_uses = if prev.as_deref() == Some(label.as_str()) {
            st.consecutive_uses + 1
        } else {
            1
        };
        st.last_used = Some(now);
        if rt.target_uses.len() > 10_000 {
            // Model strings come from clients; keep the table bounded.
            rt.target_uses.clear();
        }
        rt.target_uses
            .entry(format!("{}/{model}", p.name))
            .or_default()
            .add();
        Pick::Account(label)
    }

    /// The accounts that could serve `model` right now, in fill-first order, without recording
    /// a pick (dry runs): the same rules as [`Router::pick_account`].
    pub fn available_accounts(&self, p: &Provider, model: &str, pin: Option<&str>) -> Vec<String> {
        let quota = self.quota.read_or_recover();
        let mut rt = self.rt.lock_or_recover();
        candidates(&mut rt, &quota, p, model, pin, &[], Instant::now())
            .list
            .into_iter()
            .map(|(a, _)| a.label.clone())
            .collect()
    }

    pub fn on_success(&self, p: &Provider, account: &str) {
        let now = Instant::now();
        let mut rt = self.rt.lock_or_recover();
        let st = rt
            .accounts
            .entry(AccountKey::new(&p.name, account))
            .or_default();
        st.backoff_level = 0;
        st.recent_errors = 0;
        if st.refused.take().is_some() {
            tracing::info!(provider = %p.name, account, "the provider accepts the key again");
        }
        if let Some(b) = rt.breakers.get_mut(&p.name) {
            b.on_success(now);
        }
    }

    /// Applies a classified failure; returns until when the account (or model) now waits.
    pub fn on_failure(
        &self,
        p: &Provider,
        account: &str,
        model: &str,
        verdict: &Verdict,
        hint: Option<Duration>,
    ) -> Option<Instant> {
        let now = Instant::now();
        let kind = provider_kind(p);
        let key = AccountKey::new(&p.name, account);
        let mut rt = self.rt.lock_or_recover();
        let b = rt
            .breakers
            .entry(p.name.clone())
            .or_insert_with(|| Breaker::new(BreakerConfig::for_kind(kind)));
        if verdict.breaker {
            b.on_failure(now, account);
        } else {
            // Not the provider's fault (our timeout, quota, a bad request): free a probe slot.
            b.on_uncounted();
        }
        let jittered = hint.map(|h| backoff::hint_cooldown(h, &mut self.rng.lock_or_recover()));
        let st = rt.accounts.entry(key.clone()).or_default();
        st.recent_errors = st.recent_errors.saturating_add(1);
        let until = match &verdict.account {
            AccountAction::None => None,
            AccountAction::Backoff => {
                let cfg = backoff::BackoffConfig::for_kind(kind);
                let d = jittered.unwrap_or_else(|| backoff::delay(&cfg, st.backoff_level));
                st.backoff_level = backoff::next_level(&cfg, st.backoff_level);
                let t = now + d;
                st.cooldown_until = Some(t);
                st.cooldown_reason = Some(verdict.reason);
                Some(t)
            }
            AccountAction::CooldownFor(d) => {
                let t = now + jittered.unwrap_or(*d).max(*d);
                st.cooldown_until = Some(t);
                st.cooldown_reason = Some(verdict.reason);
                Some(t)
            }
            AccountAction::LockModel(d) => {
                let t = now + *d;
                st.model_locks.insert(model.to_string(), t);
                Some(t)
            }
            AccountAction::LockModelUntilMidnight => {
                let secs = backoff::until_local_midnight(now_unix(), 0).saturating_sub(now_unix());
                let t = now + Duration::from_secs(secs.max(60));
                st.model_locks.insert(model.to_string(), t);
                Some(t)
            }
            AccountAction::Disable => {
                st.disabled = true;
                None
            }
            AccountAction::ReauthRequired => {
                let level = st.refused.map_or(0, |r| r.level + 1);
                st.refused = Some(Refused {
                    at: now,
                    until: now + refused_bench(level),
                    level,
                });
                None
            }
        };
        if until.is_some_and(|t| t.duration_since(now) > PERSIST_COOLDOWN_OVER) {
            rt.dirty_cooldowns.insert(key);
        }
        drop(rt);
        if until.is_some() || !matches!(verdict.account, AccountAction::None) {
            self.changed();
        }
        until
    }

    /// Facts the ordering strategies use about a `provider/model` target.
    pub fn target_facts(
        &self,
        p: &Provider,
        model: &str,
        weight: u32,
        price: Option<f64>,
    ) -> strategy::TargetFacts {
        let now = Instant::now();
        let rt = self.rt.lock_or_recover();
        let health = rt.breakers.get(&p.name).map_or(1.0, |b| b.health(now));
        let recent = rt
            .target_uses
            .get(&format!("{}/{model}", p.name))
            .map_or(0, UseCounter::recent);
        drop(rt);
        let quota = self.quota.read_or_recover();
        // The best account's primary window speaks for the target.
        let best = p
            .accounts
            .iter()
            .filter(|a| a.enabled)
            .filter_map(|a| quota.get(&AccountKey::new(&p.name, &a.label)))
            .filter_map(|w| quota::primary(w))
            .min_by(|a, b| a.used_pct.total_cmp(&b.used_pct));
        let t = now_unix();
        strategy::TargetFacts {
            weight,
            health,
            recent_requests: recent,
            price_per_mtok: price,
            quota: best.map(|w| strategy::QuotaFacts {
                used_pct: w.used_pct,
                resets_in_secs: w.resets_at.map(|r| r.saturating_sub(t)),
                over_threshold: quota::over_threshold(w, &quota::Thresholds::default(), t),
            }),
        }
    }

    pub(crate) fn order_combo(
        &self,
        combo: &Combo,
        facts: &[strategy::TargetFacts],
        peek: bool,
    ) -> Vec<usize> {
        let s = combo.strategy;
        let sticky = combo.config.sticky_limit.unwrap_or(3);
        let mut rt = self.rt.lock_or_recover();
        let cursor = rt.combo_cursors.entry(combo.name.clone()).or_default();
        let mut rng = self.rng.lock_or_recover();
        if peek {
            // A dry run must not advance round-robin or deal from the strict-random deck.
            let mut copy = cursor.clone();
            let mut r = rng.clone();
            return strategy::order_targets(s, facts, sticky, &mut copy, &mut r);
        }
        strategy::order_targets(s, facts, sticky, cursor, &mut rng)
    }

    /// Reads the quota headers of an upstream response into the account's windows.
    pub fn observe_headers<'a>(
        &self,
        p: &Provider,
        account: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        let reading = quota::headers::read(headers, now_unix());
        if reading.windows.is_empty() {
            return;
        }
        let key = AccountKey::new(&p.name, account);
        {
            let mut q = self.quota.write_or_recover();
            quota::merge(q.entry(key.clone()).or_default(), reading.windows);
        }
        self.dirty_quota.lock_or_recover().insert(key);
        self.changed();
    }

    /// Every account's quota windows (accounts with none known are listed with an empty list).
    pub fn quota_snapshot(&self, providers: &[Provider]) -> Vec<AccountQuota> {
        let now = Instant::now();
        let q = self.quota.read_or_recover();
        let rt = self.rt.lock_or_recover();
        let mut out = Vec::new();
        for p in providers {
            for a in &p.accounts {
                let key = AccountKey::new(&p.name, &a.label);
                let st = rt.accounts.get(&key);
                let cooling = st.and_then(|s| s.cooldown_until).filter(|t| *t > now);
                out.push(AccountQuota {
                    provider: p.name.clone(),
                    account: a.label.clone(),
                    windows: q.get(&key).cloned().unwrap_or_default(),
                    cooldown_until: cooling.map(|t| instant_to_unix(t, now)),
                    cooldown_reason: cooling.and(st.and_then(|s| s.cooldown_reason)),
                });
            }
        }
        out
    }

    pub fn health_snapshot(
        &self,
        providers: &[Provider],
    ) -> (Vec<AccountHealth>, Vec<(String, breaker::BreakerView)>) {
        let now = Instant::now();
        let rt = self.rt.lock_or_recover();
        let mut accounts = Vec::new();
        for p in providers {
            for a in &p.accounts {
                let st = rt.accounts.get(&AccountKey::new(&p.name, &a.label));
                let cooling = st.and_then(|s| s.cooldown_until).filter(|t| *t > now);
                accounts.push(AccountHealth {
                    provider: p.name.clone(),
                    account: a.label.clone(),
                    cooldown_until: cooling.map(|t| instant_to_unix(t, now)),
                    cooldown_reason: cooling.and(st.and_then(|s| s.cooldown_reason)),
                    backoff_level: st.map_or(0, |s| s.backoff_level),
                    locked_models: st
                        .map(|s| {
                            s.model_locks
                                .iter()
                                .filter(|(_, t)| **t > now)
                                .map(|(m, _)| m.clone())
                                .collect()
                        })
                        .unwrap_or_default(),
                    reauth_required: st.is_some_and(|s| s.refused.is_some_and(|r| r.until > now)),
                    disabled: st.is_some_and(|s| s.disabled),
                });
            }
        }
        let mut breakers: Vec<(String, breaker::BreakerView)> = rt
            .breakers
            .iter()
            .map(|(n, b)| (n.clone(), b.view(now)))
            .collect();
        breakers.sort_by(|a, b| a.0.cmp(&b.0));
        (accounts, breakers)
    }

    /// Clears cooldowns, locks, breakers and quota readings (the dashboard's "reset" button),
    /// for one provider or all. Returns the `runtime_state` key prefixes to delete as well.
    pub fn reset(&self, provider: Option<&str>) -> Vec<String> {
        let keep = |p: &str| provider.is_some_and(|x| x != p);
        let mut rt = self.rt.lock_or_recover();
        rt.accounts.retain(|k, _| keep(&k.provider));
        rt.breakers.retain(|k, _| keep(k));
        rt.dirty_cooldowns.retain(|k| keep(&k.provider));
        drop(rt);
        self.quota
            .write_or_recover()
            .retain(|k, _| keep(&k.provider));
        self.dirty_quota
            .lock_or_recover()
            .retain(|k| keep(&k.provider));
        self.changed();
        match provider {
            Some(p) => vec![format!("quota:{p}/"), format!("cooldown:{p}/")],
            None => vec!["quota:".into(), "cooldown:".into()],
        }
    }

    /// Forgets what routing learned about one account (its key was replaced, it was re-enabled,
    /// or it was deleted): a fixed key must not stay benched by an old 401.
    pub fn forget_account(&self, provider: &str, account: &str) {
        let key = AccountKey::new(provider, account);
        self.rt.lock_or_recover().accounts.remove(&key);
        self.quota.write_or_recover().remove(&key);
        self.limiters.lock_or_recover().remove(&key);
        self.changed();
    }

    /// Pending write-behind entries for `runtime_state` (quota windows, long cooldowns).
    pub fn take_dirty(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let keys: Vec<AccountKey> = self.dirty_quota.lock_or_recover().drain().collect();
        {
            let q = self.quota.read_or_recover();
            for k in keys {
                if let Some(w) = q.get(&k) {
                    out.push((
                        format!("quota:{}/{}", k.provider, k.account),
                        serde_json::to_string(w).unwrap_or_else(|_| "[]".into()),
                    ));
                }
            }
        }
        let now = Instant::now();
        let mut rt = self.rt.lock_or_recover();
        let keys: Vec<AccountKey> = rt.dirty_cooldowns.drain().collect();
        for k in keys {
            if let Some(st) = rt.accounts.get(&k) {
                let until = st
                    .cooldown_until
                    .filter(|t| *t > now)
                    .map(|t| instant_to_unix(t, now))
                    .unwrap_or(0);
                out.push((
                    format!("cooldown:{}/{}", k.provider, k.account),
                    serde_json::json!({"until": until, "level": st.backoff_level,
                        "reason": st.cooldown_reason})
                    .to_string(),
                ));
            }
        }
        out
    }

    /// Restores what [`Router::take_dirty`] wrote (at start).
    pub fn restore(&self, entries: &[(String, String)]) {
        let now = Instant::now();
        let t = now_unix();
        for (k, v) in entries {
            let Some((kind, rest)) = k.split_once(':') else {
                continue;
            };
            let Some((provider, account)) = rest.split_once('/') else {
                continue;
            };
            let key = AccountKey::new(provider, account);
            match kind {
                "quota" => {
                    if let Ok(w) = serde_json::from_str::<Vec<QuotaWindow>>(v) {
                        self.quota.write_or_recover().insert(key, w);
                    }
                }
                "cooldown" => {
                    let Ok(j) = serde_json::from_str::<serde_json::Value>(v) else {
                        continue;
                    };
                    let until = j["until"].as_u64().unwrap_or(0);
                    if until > t {
                        let mut rt = self.rt.lock_or_recover();
                        let st = rt.accounts.entry(key).or_default();
                        st.cooldown_until = Some(now + Duration::from_secs(until - t));
                        st.backoff_level = j["level"].as_u64().unwrap_or(0) as u32;
                        st.cooldown_reason = Some("restored");
                    }
                }
                _ => {}
            }
        }
    }
}
