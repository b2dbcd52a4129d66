//! The request pipeline (docs/routing.md §1), in phases over one per-request context:
//! read → admit (pause, client key + budget, idempotency) → plan (model → targets, cache) →
//! prepare (decode once if any target needs translation, skip targets that cannot run it) →
//! failover (attempts until one commits) → commit. Every way out passes one exit in
//! [`forward`], which records the usage row.

use super::attempt::{self, Call, Committed};
use super::body::ClientBody;
use super::failover::{Failover, LastFailure, PlanShape};
use super::respond::{self, diag, Ledger};
use super::{cache, client_key};
use crate::error::{read_body, ApiError};
use crate::formats::{self, Format};
use crate::routing::breaker::Admission;
use crate::routing::classify::{classify, AccountAction, ClassifyOptions, Next};
use crate::routing::limits::Gate;
use crate::routing::plan::{Plan, Target};
use crate::routing::{provider_kind, Pick};
use crate::state::{AppState, GatewayEvent};
use crate::storage::Provider;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use switchyard_types::Outcome;

/// How long a request waits for an account's own limits before trying another account.
const LIMIT_WAIT: Duration = Duration::from_secs(2);

/// What the client asked for, where it is not in the body (Gemini puts model and streaming in
/// the URL).
#[derive(Default)]
pub struct CallOverrides {
    pub model: Option<String>,
    pub stream: Option<bool>,
    /// Gemini clients without `alt=sse` get one JSON array streamed incrementally.
    pub gemini_array: bool,
    /// The client key the guard or the format's own place (`?key=`) presented.
    pub query_key: Option<String>,
}

/// One client request as the pipeline carries it between phases.
struct Exchange {
    state: Arc<AppState>,
    client: Format,
    headers: HeaderMap,
    ledger: Ledger,
}

/// How a phase ends the request early: an answer that is not an upstream commit (a cache hit,
/// a replay, the final error), or a refusal.
enum Exit {
    Answer(Outcome, Box<Response>),
    Refuse(Outcome, ApiError),
}

impl From<ApiError> for Exit {
    fn from(e: ApiError) -> Self {
        Exit::Refuse(Outcome::Error, e)
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request", msg)
}

/// Forwards one client request; the only place a request's usage row is finished.
pub async fn forward(
    state: Arc<AppState>,
    client: Format,
    headers: HeaderMap,
    body: Body,
    over: CallOverrides,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, state.config.max_body_bytes).await?;
    let body = ClientBody::parse(bytes).map_err(bad)?;
    let (model, stream) = read_model_and_stream(&body, &over)?;
    let ledger = Ledger::new(state.clone(), client, stream);
    let mut ex = Exchange {
        state,
        client,
        headers,
        ledger,
    };
    ex.ledger.row.requested = model.clone();
    match ex.serve(body, model, stream, over).await {
        Ok(resp) => Ok(resp),
        Err(Exit::Answer(outcome, resp)) => {
            ex.ledger.finish(outcome, resp.status().as_u16());
            Ok(*resp)
        }
        Err(Exit::Refuse(outcome, e)) => {
            ex.ledger.finish(outcome, e.status.as_u16());
            Err(e)
        }
    }
}

/// `model` and `stream` from the body, unless the URL already said them (Gemini).
fn read_model_and_stream(
    body: &ClientBody,
    over: &CallOverrides,
) -> Result<(String, bool), ApiError> {
    let model = match (&over.model, body.get::<Value>("model")) {
        (Some(m), _) => m.clone(),
        (None, Some(Ok(Value::String(m)))) if !m.trim().is_empty() => m.trim().to_string(),
        (None, Some(Ok(Value::String(_))) | None) => {
            return Err(bad(
                "missing required field `model` (use \"<provider>/<model>\" or a combo name)",
            ))
        }
        (None, Some(_)) => return Err(bad("`model` must be a string")),
    };
    crate::routing::plan::check_length(&model)?;
    let stream = match body.get::<Option<bool>>("stream") {
        Some(Err(_)) => return Err(bad("`stream` must be a boolean")),
        Some(Ok(s)) => s,
        None => None,
    };
    Ok((model, over.stream.unwrap_or(stream.unwrap_or(false))))
}

impl Exchange {
    async fn serve(
        &mut self,
        body: ClientBody,
        model: String,
        stream: bool,
        over: CallOverrides,
    ) -> Result<Response, Exit> {
        self.admit(over.query_key.as_deref()).await?;
        let state = self.state.clone();
        let idem = cache::idempotency(
            &self.headers,
            self.client,
            self.ledger.row.key_id,
            body.bytes(),
        );
        // Held until this request's answer is built: duplicates wait for it, then replay it.
        let _first = match &idem {
            Some(k) => match state.idempotency.begin(&k.slot).await {
                cache::Begin::Replay(hit) if hit.request_hash != Some(k.body_hash) => {
                    let e = ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "idempotency_key_reused",
                        "this Idempotency-Key was already used with a different request body; use a new key for a new request",
                    );
                    return Err(Exit::Refuse(Outcome::Rejected, e));
                }
                cache::Begin::Replay(hit) => {
                    let mut r = hit.response();
                    r.headers_mut().insert(
                        "x-switchyard-idempotent",
                        HeaderValue::from_static("replay"),
                    );
                    return Err(Exit::Answer(Outcome::IdempotentReplay, Box::new(r)));
                }
                cache::Begin::First(g) => Some(g),
            },
            None => None,
        };
        let plan = self.plan(&model)?;
        let cache_key = self.cached(&plan, &body, stream)?;
        let mut call = self.prepare(&plan, body, stream, over.gemini_array)?;
        let skipped = skipped_targets(&plan, &call)?;
        let served = self.failover(&plan, &mut call, &skipped).await?;
        Ok(self.commit(&plan, served, cache_key, idem).await)
    }

    /// Pause, then the client key and its budget.
    async fn admit(&mut self, query_key: Option<&str>) -> Result<(), Exit> {
        let key = client_key::admit(&self.state, &self.headers, query_key)
            .await
            .map_err(|e| Exit::Refuse(Outcome::Rejected, e))?;
        self.ledger.row.key_id = key.as_ref().map(|k| k.id);
        Ok(())
    }

    /// The model string → the ordered targets (a combo, or one provider/model).
    fn plan(&mut self, model: &str) -> Result<Plan, Exit> {
        let header_combo = self
            .headers
            .get("x-switchyard-combo")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let state = &self.state;
        let plan = state
            .router
            .plan(
                state.providers(),
                &state.aliases(),
                &state.prices(),
                model,
                header_combo,
            )
            .map_err(ApiError::from)?;
        self.ledger.row.combo = plan.combo.clone();
        Ok(plan)
    }

    /// The response cache: a hit ends the request; a miss gives the key to store under.
    fn cached(
        &mut self,
        plan: &Plan,
        body: &ClientBody,
        stream: bool,
    ) -> Result<Option<String>, Exit> {
        if !self.state.settings().cache_enabled {
            return Ok(None);
        }
        let route = cache_route(plan, &self.headers);
        let key = cache::key_for(
            self.client,
            self.ledger.row.key_id,
            &self.headers,
            body,
            stream,
            &route,
        );
        if let Some(hit) = key.as_ref().and_then(|k| self.state.cache.get(k)) {
            self.ledger.row.provider = Some(hit.provider.clone());
            self.ledger.row.model = Some(hit.model.clone());
            return Err(Exit::Answer(Outcome::CacheHit, Box::new(hit.response())));
        }
        Ok(key)
    }

    /// The call every attempt shares. A body the client's own codec cannot read is the
    /// client's error, reported before any upstream is tried (not as a provider's 400 later).
    fn prepare(
        &self,
        plan: &Plan,
        body: ClientBody,
        stream: bool,
        gemini_array: bool,
    ) -> Result<Call, Exit> {
        // Cursor posts Responses-shaped bodies (`input`, no `messages`) to /chat/completions and
        // expects Chat chunks back (docs/formats.md #30): read it as Responses, answer as Chat.
        let request_format =
            if self.client == Format::Chat && !body.has("messages") && body.has("input") {
                Format::Responses
            } else {
                self.client
            };
        let (anthropic_version, anthropic_beta) = attempt::client_headers(&self.headers);
        let mut call = Call {
            client: self.client,
            request_format,
            body,
            ir: None,
            stream,
            gemini_array,
            anthropic_version,
            anthropic_beta,
            extended_context: plan.extended_context,
        };
        let translated = plan
            .targets
            .iter()
            .any(|t| attempt::needs_translation(&call, attempt::upstream_format(plan.provider(t))));
        if translated {
            let ir = call
                .body
                .tree()
                .and_then(|tree| formats::decode_request(call.request_format, tree))
                .map_err(|e| Exit::Refuse(Outcome::Rejected, bad(e)))?;
            call.ir = Some(ir);
        }
        Ok(call)
    }

    /// Attempts along the plan until one commits (docs/routing.md §1, §6, §9).
    async fn failover<'p>(
        &mut self,
        plan: &'p Plan,
        call: &mut Call,
        skipped: &[Option<String>],
    ) -> Result<Served<'p>, Exit> {
        let mut f = Failover::default();
        let pin_header = self
            .headers
            .get("x-switchyard-account")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        loop {
            for (target, skip) in plan.targets.iter().zip(skipped) {
                let p = plan.provider(target);
                let label = format!("{}/{}", p.name, target.model);
                if skip.is_some() {
                    f.unsupported(&label);
                    continue;
                }
                if let Admission::Rejected { retry_at } = self.state.router.admit(p) {
                    f.breaker_open(&label, retry_at);
                    continue;
                }
                let pin = target.account.clone().or_else(|| pin_header.clone());
                let attempt = TargetRun {
                    plan,
                    target,
                    provider: p,
                    label: &label,
                    pin: pin.as_deref(),
                };
                match self.try_target(&attempt, call, &mut f).await {
                    TargetEnd::Served(s) => return Ok(s),
                    TargetEnd::Stop => return Err(self.failed(plan, f)),
                    TargetEnd::Next => {}
                }
            }
            // Everything was cooling before we could even try: wait a little instead of failing.
            match f.next_round_at() {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => return Err(self.failed(plan, f)),
            }
        }
    }

    /// The accounts of one target, until one answers or the verdict says to move on.
    async fn try_target<'p>(
        &mut self,
        t: &TargetRun<'p, '_>,
        call: &mut Call,
        f: &mut Failover,
    ) -> TargetEnd<'p> {
        let state = self.state.clone();
        let timeouts = timeouts(&t.plan.config);
        let retry_delay = Duration::from_millis(t.plan.config.retry_delay_ms.unwrap_or(2000));
        let mut tried = TriedAccounts::default();
        loop {
            if f.exhausted() {
                return TargetEnd::Stop;
            }
            let Some(account) = tried.again.take().or_else(|| self.pick(t, &tried, f)) else {
                return TargetEnd::Next;
            };
            let Some(acct) = t.provider.accounts.iter().find(|a| a.label == account) else {
                return TargetEnd::Next;
            };
            // The account's own limits (rpm, gap, concurrency): busy → another account.
            let permit = match state.router.limiter(&t.provider.name, &account) {
                None => None,
                Some(l) => match l.enter(LIMIT_WAIT).await {
                    Gate::Go(permit) => permit,
                    Gate::Busy(d) => {
                        f.busy(t.label, d);
                        tried.excluded.push(account);
                        continue;
                    }
                },
            };
            f.start_attempt();
            self.ledger.hold(permit);
            let result =
                attempt::run(&state, call, t.provider, acct, &t.target.model, &timeouts).await;
            let failure = match result {
                Ok(committed) => {
                    state.router.on_success(t.provider, &account);
                    f.succeeded(t.label);
                    return TargetEnd::Served(Served {
                        committed,
                        provider: t.provider,
                        target: t.target,
                        account,
                        idle: timeouts.idle,
                        failover: std::mem::take(f),
                    });
                }
                Err(failure) => failure,
            };
            // The failed attempt's concurrency slot is free again (a same-account retry must
            // not wait for itself).
            self.ledger.hold(None);
            let retried = tried.retried.contains(&account);
            let next = self.judge(t, &account, failure, retried, f);
            match tried.after(next, account) {
                AfterFailure::RetrySameAccount => tokio::time::sleep(jitter(retry_delay)).await,
                AfterFailure::NextAccount => {}
                AfterFailure::NextTarget => return TargetEnd::Next,
                AfterFailure::Stop => return TargetEnd::Stop,
            }
        }
    }

    /// The router's pick among the accounts not tried yet; `None` (noted) when none can serve.
    fn pick(
        &self,
        t: &TargetRun<'_, '_>,
        tried: &TriedAccounts,
        f: &mut Failover,
    ) -> Option<String> {
        let pick =
            self.state
                .router
                .pick_account(t.provider, &t.target.model, t.pin, &tried.excluded);
        match pick {
            Pick::Account(a) => Some(a),
            Pick::Cooling(until) => {
                f.cooling(t.label, until);
                None
            }
            Pick::Unusable(why) => {
                f.unusable(t.label, why, tried.excluded.is_empty());
                None
            }
        }
    }

    /// Classifies a failed attempt, tells the router, and notes it in the bookkeeping.
    fn judge(
        &mut self,
        t: &TargetRun<'_, '_>,
        account: &str,
        failure: attempt::AttemptFailure,
        already_retried: bool,
        f: &mut Failover,
    ) -> Next {
        let opts = ClassifyOptions {
            any_non_ok_moves_on: t.plan.config.any_non_ok_moves_on.unwrap_or(false),
            already_retried_same_account: already_retried,
        };
        let verdict = classify(&failure.failure, provider_kind(t.provider), &opts);
        let until = self.state.router.on_failure(
            t.provider,
            account,
            &t.target.model,
            &verdict,
            failure.retry_hint,
        );
        // Only rate-type cooldowns say when to retry; a 404 model lock does not.
        let rate_like = matches!(
            verdict.account,
            AccountAction::Backoff | AccountAction::CooldownFor(_)
        );
        tracing::info!(provider = %t.provider.name, account = %account, model = %t.target.model,
            reason = verdict.reason, "attempt failed: {}", failure.message);
        // A failed request is still attributed to the last target it tried.
        self.ledger.row.provider = Some(t.provider.name.clone());
        self.ledger.row.account = Some(account.to_string());
        self.ledger.row.model = Some(t.target.model.clone());
        let last = LastFailure {
            failure,
            provider: t.provider.name.clone(),
            upstream: attempt::upstream_format(t.provider),
        };
        f.failed(t.label, last, until.filter(|_| rate_like));
        verdict.next
    }

    /// No target answered: one clear error, with the hops in the usage row.
    fn failed(&mut self, plan: &Plan, f: Failover) -> Exit {
        self.ledger.row.attempts = f.attempts();
        self.ledger.row.fallback = f.hops_joined();
        let shape = PlanShape {
            combo: plan.combo.as_deref(),
            targets: plan.targets.len(),
        };
        Exit::Answer(Outcome::Error, Box::new(f.into_error(self.client, shape)))
    }

    /// The committed answer becomes the client's response; the ledger goes with its body.
    async fn commit(
        &mut self,
        plan: &Plan,
        s: Served<'_>,
        cache_key: Option<String>,
        idem: Option<cache::Idem>,
    ) -> Response {
        let state = self.state.clone();
        let fallback = s.failover.fallback();
        let row = &mut self.ledger.row;
        row.provider = Some(s.provider.name.clone());
        row.account = Some(s.account.clone());
        row.model = Some(s.target.model.clone());
        row.attempts = s.failover.attempts();
        row.fallback = fallback.clone();
        self.ledger.mark_first_token();
        let latency = self.ledger.elapsed_ms();
        if let (Some(combo), true) = (&plan.combo, s.failover.failed_over()) {
            let _ = state.events.send(GatewayEvent::Failover {
                combo: combo.clone(),
                failed: s.failover.failed_hops(),
                served_by: format!("{}/{}", s.provider.name, s.target.model),
            });
        }
        // Never cache an answer produced while failing over (docs/routing.md §11).
        let cache_key = cache_key.filter(|_| !s.failover.failed_over());
        let ledger = self.ledger.take();
        let mut resp = if cache_key.is_some() || idem.is_some() {
            cache::capture(
                &state,
                s.committed,
                cache_key.clone(),
                idem,
                s.provider,
                s.target,
                ledger,
                s.idle,
            )
            .await
        } else {
            respond::respond(
                s.committed,
                self.client,
                s.provider.name.clone(),
                s.idle,
                state.config.keepalive,
                ledger,
            )
        };
        let mut d = vec![
            (diag::PROVIDER, s.provider.name.clone()),
            (diag::ACCOUNT, s.account),
            (diag::MODEL, s.target.model.clone()),
            (diag::ATTEMPTS, s.failover.attempts().to_string()),
            (diag::LATENCY, latency.to_string()),
        ];
        if let Some(c) = &plan.combo {
            d.push((diag::COMBO, c.clone()));
        }
        if let Some(f) = fallback {
            d.push((diag::FALLBACK, f));
        }
        if cache_key.is_some() {
            d.push((diag::CACHE, "MISS".into()));
        }
        respond::diagnostics(&mut resp, d);
        resp
    }
}

/// One target of the plan as the failover loop walks it.
struct TargetRun<'p, 'a> {
    plan: &'p Plan,
    target: &'p Target,
    provider: &'p Provider,
    label: &'a str,
    pin: Option<&'a str>,
}

// Served is moved out once per request; boxing it would add an allocation to every success.
#[allow(clippy::large_enum_variant)]
enum TargetEnd<'p> {
    Served(Served<'p>),
    /// The verdict (or the attempt cap) ends the whole request.
    Stop,
    /// On to the next target.
    Next,
}

/// An attempt that committed, with what the response and the usage row need.
struct Served<'p> {
    committed: Committed,
    provider: &'p Provider,
    target: &'p Target,
    account: String,
    idle: Duration,
    failover: Failover,
}

/// The accounts of one target tried so far in this request.
#[derive(Default)]
struct TriedAccounts {
    /// Not to be picked again.
    excluded: Vec<String>,
    /// Already given their one same-account retry.
    retried: Vec<String>,
    /// The account to try once more next.
    again: Option<String>,
}

/// What happens after a failed attempt on one target.
#[derive(Debug, PartialEq, Eq)]
enum AfterFailure {
    /// After the retry delay, the same account once more (a 5xx may be passing).
    RetrySameAccount,
    NextAccount,
    NextTarget,
    /// The verdict ends the whole request.
    Stop,
}

impl TriedAccounts {
    /// Applies the verdict's next step to the accounts tried so far.
    fn after(&mut self, next: Next, account: String) -> AfterFailure {
        match next {
            Next::Stop => AfterFailure::Stop,
            Next::NextTarget | Next::NextTargetOtherFormat => AfterFailure::NextTarget,
            Next::RetrySameAccount if !self.retried.contains(&account) => {
                self.retried.push(account.clone());
                self.excluded.push(account.clone());
                self.again = Some(account);
                AfterFailure::RetrySameAccount
            }
            Next::RetrySameAccount | Next::NextAccount => {
                if !self.excluded.contains(&account) {
                    self.excluded.push(account);
                }
                AfterFailure::NextAccount
            }
        }
    }
}

/// Targets that cannot run this request at all are skipped; if none can, say why.
fn skipped_targets(plan: &Plan, call: &Call) -> Result<Vec<Option<String>>, Exit> {
    let skipped: Vec<Option<String>> = plan
        .targets
        .iter()
        .map(|t| attempt::unsupported(call, plan.provider(t)))
        .collect();
    if skipped.iter().all(Option::is_some) {
        let mut why: Vec<String> = skipped.into_iter().flatten().collect();
        why.dedup();
        let e = ApiError::bad_request("unsupported_feature", why.join("; "));
        return Err(Exit::Refuse(Outcome::Rejected, e));
    }
    Ok(skipped)
}

/// What the cache key covers besides the body: where the request would go (a combo switch must
/// not serve the old combo's answer) and the headers that shape the answer.
fn cache_route(plan: &Plan, headers: &HeaderMap) -> String {
    let targets = plan.targets.iter().map(|t| {
        format!(
            "{}/{}@{}",
            plan.provider(t).name,
            t.model,
            t.account.as_deref().unwrap_or("")
        )
    });
    let shaping = [
        "anthropic-beta",
        "anthropic-version",
        "x-switchyard-account",
    ]
    .iter()
    .map(|h| {
        headers
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    });
    targets.chain(shaping).collect::<Vec<_>>().join("\n")
}

/// ±20 % (docs/routing.md §12), so retries of many requests do not land at the same instant.
fn jitter(d: Duration) -> Duration {
    crate::routing::rng::Rng::from_entropy().jitter(d, 0.2)
}

fn timeouts(c: &crate::storage::ComboConfig) -> attempt::Timeouts {
    let d = attempt::Timeouts::default();
    let ms = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_millis);
    attempt::Timeouts {
        first_byte: ms(c.first_byte_timeout_ms, d.first_byte),
        readiness: ms(c.readiness_timeout_ms, d.readiness),
        idle: ms(c.idle_timeout_ms, d.idle),
        total: d.total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_5xx_retries_the_same_account_once_then_moves_on() {
        let mut t = TriedAccounts::default();
        assert_eq!(
            t.after(Next::RetrySameAccount, "a".into()),
            AfterFailure::RetrySameAccount
        );
        assert_eq!(t.again.take().as_deref(), Some("a"));
        assert_eq!(
            t.after(Next::RetrySameAccount, "a".into()),
            AfterFailure::NextAccount
        );
        assert_eq!(t.again, None);
        assert_eq!(t.excluded, ["a"], "excluded once, not twice");
    }

    #[test]
    fn verdicts_that_leave_the_target() {
        let mut t = TriedAccounts::default();
        assert_eq!(t.after(Next::Stop, "a".into()), AfterFailure::Stop);
        assert_eq!(
            t.after(Next::NextTarget, "a".into()),
            AfterFailure::NextTarget
        );
        assert_eq!(
            t.after(Next::NextAccount, "b".into()),
            AfterFailure::NextAccount
        );
        assert_eq!(t.excluded, ["b"]);
    }
}
