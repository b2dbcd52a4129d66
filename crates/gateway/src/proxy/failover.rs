//! The failover bookkeeping of one request (docs/routing.md §1, §9): which targets were tried
//! and how each ended (the `X-Switchyard-Fallback` hops), how many attempts were spent, the last
//! failure, and the earliest moment something frees up. At the end it turns what it saw into
//! one clear error in the client's format (docs/api-surface.md §8). No I/O: unit-tested below.

use super::attempt::AttemptFailure;
use super::upstream;
use crate::error::ApiError;
use crate::formats::Format;
use crate::routing::classify::Failure;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use std::time::{Duration, Instant};

/// Maximum upstream attempts for one request (docs/routing.md §9).
pub const MAX_ATTEMPTS: u32 = 30;
/// "Wait instead of fail": when everything is cooling and the earliest frees up this soon.
pub const MAX_COOLDOWN_WAIT: Duration = Duration::from_secs(30);
pub const MAX_WAITS: u32 = 3;

/// The last failed attempt, with where it happened (its error may be shown as the provider's).
pub struct LastFailure {
    pub failure: AttemptFailure,
    pub provider: String,
    pub upstream: Format,
}

/// How the plan looked, for the final error's wording and status policy.
pub struct PlanShape<'a> {
    pub combo: Option<&'a str>,
    pub targets: usize,
}

#[derive(Default)]
pub struct Failover {
    hops: Vec<String>,
    attempts: u32,
    last: Option<LastFailure>,
    earliest: Option<Instant>,
    /// Every attempt that failed was a 429 (the final error is then a 429 too).
    some_not_limited: bool,
    unusable: Vec<String>,
    waits: u32,
    tried_this_round: bool,
}

impl Failover {
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// `provider/model:tag,…` when more than one hop happened (the `-Fallback` header).
    pub fn fallback(&self) -> Option<String> {
        (self.hops.len() > 1).then(|| self.hops.join(","))
    }

    /// Every hop, for the usage log of a failed request.
    pub fn hops_joined(&self) -> Option<String> {
        (!self.hops.is_empty()).then(|| self.hops.join(","))
    }

    /// The hops that failed before the one that served (for the failover event).
    pub fn failed_hops(&self) -> Vec<String> {
        self.hops[..self.hops.len().saturating_sub(1)].to_vec()
    }

    pub fn failed_over(&self) -> bool {
        self.hops.len() > 1
    }

    fn sooner(&mut self, at: Instant) {
        self.earliest = Some(self.earliest.map_or(at, |e| e.min(at)));
    }

    /// A target that cannot run this request at all (listed once however many rounds run).
    pub fn unsupported(&mut self, label: &str) {
        let hop = format!("{label}:unsupported");
        if !self.hops.contains(&hop) {
            self.hops.push(hop);
        }
    }

    pub fn breaker_open(&mut self, label: &str, retry_at: Instant) {
        self.hops.push(format!("{label}:breaker-open"));
        self.sooner(retry_at);
        self.some_not_limited = true;
    }

    pub fn cooling(&mut self, label: &str, until: Option<Instant>) {
        self.hops.push(format!("{label}:cooling"));
        if let Some(u) = until {
            self.sooner(u);
        }
    }

    /// No account of the target can be used; `why` is what the user must fix. Only the first
    /// pick of a target counts (a later one just means the others were tried).
    pub fn unusable(&mut self, label: &str, why: String, first_pick: bool) {
        if first_pick {
            self.hops.push(format!("{label}:unusable"));
            self.some_not_limited = true;
            self.unusable.push(why);
        }
    }

    /// The account's own limits kept it busy for `free_in`.
    pub fn busy(&mut self, label: &str, free_in: Duration) {
        self.hops.push(format!("{label}:busy"));
        self.sooner(Instant::now() + free_in);
    }

    /// Whether the request has spent its attempts.
    pub fn exhausted(&self) -> bool {
        self.attempts >= MAX_ATTEMPTS
    }

    pub fn start_attempt(&mut self) {
        self.attempts += 1;
        self.tried_this_round = true;
    }

    pub fn succeeded(&mut self, label: &str) {
        self.hops.push(format!("{label}:ok"));
    }

    /// A failed attempt. `cooldown_until` is when the account is usable again, if the verdict was
    /// a rate-type cooldown (only those say when to retry; a 404 model lock does not).
    pub fn failed(&mut self, label: &str, last: LastFailure, cooldown_until: Option<Instant>) {
        if let Some(u) = cooldown_until {
            self.sooner(u);
        }
        if last.failure.status.map(|s| s.as_u16()) != Some(429) {
            self.some_not_limited = true;
        }
        self.hops.push(format!("{label}:{}", last.failure.tag));
        self.last = Some(last);
    }

    /// After a round over every target: when nothing could even be tried because everything
    /// was cooling, and the first frees up soon, the moment to try again.
    pub fn next_round_at(&mut self) -> Option<Instant> {
        let tried = std::mem::take(&mut self.tried_this_round);
        let at = self.earliest?;
        if tried
            || self.waits >= MAX_WAITS
            || at.saturating_duration_since(Instant::now()) > MAX_COOLDOWN_WAIT
        {
            return None;
        }
        self.waits += 1;
        self.earliest = None;
        self.hops.clear();
        Some(at)
    }

    /// One clear error when no target answered (docs/api-surface.md §8, status policy).
    pub fn into_error(self, client: Format, plan: PlanShape<'_>) -> Response {
        let retry_secs = self.earliest.map(|e| {
            e.saturating_duration_since(Instant::now())
                .as_secs_f64()
                .ceil()
                .max(1.0) as u64
        });
        let r = if let (Some(l), 1, None) = (&self.last, plan.targets, plan.combo) {
            // A single target (no combo, no fallback): its own error, as the provider said it.
            single_target_error(l, client)
        } else if let Some(r) = self.stop_error(client) {
            return r;
        } else {
            self.summary(plan.combo, retry_secs).render(client)
        };
        with_retry_after(r, retry_secs)
    }

    /// A stop verdict (a plain 400 etc.): the upstream's own error, whatever came before.
    fn stop_error(&self, client: Format) -> Option<Response> {
        let l = self.last.as_ref()?;
        let status = l.failure.status.filter(|s| {
            s.is_client_error() && !matches!(s.as_u16(), 401 | 402 | 403 | 404 | 408 | 429)
        })?;
        Some(upstream::error_response(
            &l.provider,
            status,
            l.failure.content_type.clone(),
            &l.failure.body,
            client,
            l.upstream,
        ))
    }

    /// Our own summary of what was tried: what the user must fix, that everything is cooling
    /// (and when the first frees up), or that every target failed.
    fn summary(&self, combo: Option<&str>, retry_secs: Option<u64>) -> ApiError {
        let route = combo
            .map(|c| format!("combo {c:?}"))
            .unwrap_or_else(|| "the model".into());
        let tried = if self.hops.is_empty() {
            String::new()
        } else {
            format!(" (tried: {})", self.hops.join(", "))
        };
        let last = self.last.as_ref().map(|l| l.failure.message.as_str());
        if self.attempts == 0 && !self.unusable.is_empty() && self.earliest.is_none() {
            // Nothing to wait for: say what needs the user's attention.
            let why = self.unusable.join("; ");
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_available_account",
                format!("no usable account for {route}: {why}{tried}"),
            );
        }
        if self.attempts == 0 || !self.some_not_limited {
            let when = retry_secs
                .map(|s| {
                    let now = crate::routing::now_unix();
                    format!(
                        "; the first frees up {}",
                        crate::quota::countdown(now + s, now)
                    )
                })
                .unwrap_or_default();
            let (status, code) = if self.earliest.is_some() {
                (StatusCode::TOO_MANY_REQUESTS, "all_accounts_cooling")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "no_available_account")
            };
            let detail = last.map(|m| format!(": {m}")).unwrap_or_default();
            return ApiError::new(
                status,
                code,
                format!("every account for {route} is rate-limited or cooling down{when}{tried}{detail}"),
            );
        }
        let detail = last
            .map(|m| format!("; last error: {m}"))
            .unwrap_or_default();
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "all_targets_failed",
            format!("no target of {route} could answer{tried}{detail}"),
        )
    }
}

/// `Retry-After` on a 429 or 503, when something frees up.
fn with_retry_after(mut r: Response, retry_secs: Option<u64>) -> Response {
    let status = r.status().as_u16();
    if let (Some(s), true) = (retry_secs, status == 429 || status == 503) {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// The error of the only target there was: the provider's own answer when it sent one, else
/// what went wrong on the way (504 for our timeout, 502 otherwise).
fn single_target_error(l: &LastFailure, client: Format) -> Response {
    let f = &l.failure;
    if let Some(status) = f.status {
        return upstream::error_response(
            &l.provider,
            status,
            f.content_type.clone(),
            &f.body,
            client,
            l.upstream,
        );
    }
    let (status, code) = match f.failure {
        Failure::OurTimeout => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
        _ => (StatusCode::BAD_GATEWAY, "upstream_error"),
    };
    ApiError::new(status, code, f.message.clone()).render(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn failure(status: Option<u16>, tag: &str) -> LastFailure {
        LastFailure {
            failure: AttemptFailure {
                failure: match status {
                    Some(s) => Failure::Status {
                        status: s,
                        body: String::new(),
                    },
                    None => Failure::OurTimeout,
                },
                status: status.map(|s| StatusCode::from_u16(s).unwrap()),
                content_type: Some(HeaderValue::from_static("application/json")),
                body: Bytes::from_static(br#"{"error":{"message":"upstream says no"}}"#),
                retry_hint: None,
                tag: tag.into(),
                message: format!("failed with {tag}"),
            },
            provider: "acme".into(),
            upstream: Format::Chat,
        }
    }

    fn combo() -> PlanShape<'static> {
        PlanShape {
            combo: Some("always-on"),
            targets: 2,
        }
    }

    async fn text(r: Response) -> String {
        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn hops_read_in_order_and_fallback_needs_two() {
        let mut f = Failover::default();
        f.start_attempt();
        f.failed("a/m", failure(Some(429), "429"), None);
        assert_eq!(f.fallback(), None, "one hop is no fallback");
        f.start_attempt();
        f.succeeded("b/m");
        assert_eq!(f.fallback().as_deref(), Some("a/m:429,b/m:ok"));
        assert_eq!(f.failed_hops(), ["a/m:429"]);
        assert_eq!(f.attempts(), 2);
    }

    #[test]
    fn attempts_stop_at_the_cap() {
        let mut f = Failover::default();
        for _ in 0..MAX_ATTEMPTS {
            assert!(!f.exhausted());
            f.start_attempt();
        }
        assert!(f.exhausted());
        assert_eq!(f.attempts(), MAX_ATTEMPTS);
    }

    #[test]
    fn an_unsupported_target_is_listed_once_across_rounds() {
        let mut f = Failover::default();
        f.unsupported("k/m");
        f.unsupported("k/m");
        assert_eq!(f.hops_joined().as_deref(), Some("k/m:unsupported"));
    }

    #[test]
    fn a_round_where_everything_cooled_waits_for_the_first_to_free_up() {
        let mut f = Failover::default();
        let soon = Instant::now() + Duration::from_millis(50);
        f.cooling("a/m", Some(soon));
        assert_eq!(f.next_round_at(), Some(soon));
        assert_eq!(
            f.hops_joined(),
            None,
            "a new round starts a new list of hops"
        );
        // Nothing new to wait for: the loop ends.
        assert_eq!(f.next_round_at(), None);
    }

    #[test]
    fn no_wait_after_a_round_that_tried_something_or_for_a_far_cooldown() {
        let mut f = Failover::default();
        f.cooling("a/m", Some(Instant::now() + Duration::from_millis(10)));
        f.start_attempt();
        assert_eq!(f.next_round_at(), None);
        let mut far = Failover::default();
        far.cooling("a/m", Some(Instant::now() + MAX_COOLDOWN_WAIT * 2));
        assert_eq!(far.next_round_at(), None);
    }

    #[test]
    fn waits_are_bounded() {
        let mut f = Failover::default();
        for _ in 0..MAX_WAITS {
            f.cooling("a/m", Some(Instant::now()));
            assert!(f.next_round_at().is_some());
        }
        f.cooling("a/m", Some(Instant::now()));
        assert_eq!(f.next_round_at(), None);
    }

    #[tokio::test]
    async fn a_single_target_answers_with_the_providers_own_error() {
        let mut f = Failover::default();
        f.start_attempt();
        f.failed("acme/m", failure(Some(401), "401"), None);
        let r = f.into_error(
            Format::Chat,
            PlanShape {
                combo: None,
                targets: 1,
            },
        );
        assert_eq!(r.status(), 401);
        assert!(text(r).await.contains("upstream says no"));
    }

    #[tokio::test]
    async fn a_single_target_timeout_is_a_504() {
        let mut f = Failover::default();
        f.start_attempt();
        f.failed("acme/m", failure(None, "timeout"), None);
        let r = f.into_error(
            Format::Messages,
            PlanShape {
                combo: None,
                targets: 1,
            },
        );
        assert_eq!(r.status(), 504);
        assert!(
            text(r).await.contains("\"type\":\"error\""),
            "in Anthropic's shape"
        );
    }

    #[tokio::test]
    async fn all_rate_limited_is_a_429_with_retry_after() {
        let mut f = Failover::default();
        for t in ["a/m", "b/m"] {
            f.start_attempt();
            f.failed(
                t,
                failure(Some(429), "429"),
                Some(Instant::now() + Duration::from_secs(90)),
            );
        }
        let r = f.into_error(Format::Chat, combo());
        assert_eq!(r.status(), 429);
        let after: u64 = r.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((89..=90).contains(&after), "{after}");
        let body = text(r).await;
        assert!(body.contains("all_accounts_cooling"), "{body}");
        assert!(body.contains("tried: a/m:429, b/m:429"), "{body}");
    }

    #[tokio::test]
    async fn mixed_failures_are_a_502_naming_every_hop() {
        let mut f = Failover::default();
        f.start_attempt();
        f.failed("a/m", failure(Some(429), "429"), None);
        f.start_attempt();
        f.failed("b/m", failure(Some(503), "503"), None);
        let r = f.into_error(Format::Chat, combo());
        assert_eq!(r.status(), 502);
        let body = text(r).await;
        assert!(
            body.contains("all_targets_failed") && body.contains("a/m:429, b/m:503"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_plain_400_in_a_combo_is_the_providers_own_error() {
        let mut f = Failover::default();
        f.start_attempt();
        f.failed("a/m", failure(Some(400), "400"), None);
        let r = f.into_error(Format::Chat, combo());
        assert_eq!(r.status(), 400);
        assert!(text(r).await.contains("upstream says no"));
    }

    #[tokio::test]
    async fn nothing_usable_and_nothing_to_wait_for_says_what_to_fix() {
        let mut f = Failover::default();
        f.unusable("a/m", "provider \"a\" has no enabled account".into(), true);
        f.unusable("a/m", "ignored: not the first pick".into(), false);
        let r = f.into_error(Format::Chat, combo());
        assert_eq!(r.status(), 503);
        let body = text(r).await;
        assert!(
            body.contains("no enabled account") && !body.contains("ignored"),
            "{body}"
        );
    }
}
