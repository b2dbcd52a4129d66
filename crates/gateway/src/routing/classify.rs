//! Failure classification (docs/routing.md §6): what one failed upstream attempt means for the
//! account, for the provider breaker, and where the request goes next. Pure: the caller applies
//! the verdict (cooldown store, breaker, failover loop).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    OAuth,
    ApiKey,
    Local,
}

/// One failed attempt, observed before the first byte reached the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    ClientClosed,
    /// Our own connect/first-byte/readiness timeout fired.
    OurTimeout,
    Connect(String),
    Status {
        status: u16,
        body: String,
    },
    /// 200 with an empty or undecodable body.
    EmptyResponse,
    /// In-stream `error` / `response.failed` before the first client byte; carries its message.
    StreamError(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Return this error to the client; no other account or target would do better.
    Stop,
    NextAccount,
    /// Skip the provider's other accounts too: the request itself does not fit this model.
    NextTarget,
    /// Only a target in a different wire format/provider can help (translator produced something
    /// this upstream rejects); log it as a translator bug.
    NextTargetOtherFormat,
    /// Retry once on the same account after the jittered `retry_delay` (5xx only).
    RetrySameAccount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAction {
    None,
    /// Cool the account down: the upstream reset hint if there is one, else exponential.
    Backoff,
    CooldownFor(Duration),
    /// Lock account+model for this long.
    LockModel(Duration),
    LockModelUntilMidnight,
    /// Disable the account and notify the user.
    Disable,
    /// The provider refused the account's credentials: the router benches it (1 min doubling to
    /// 30 min) and asks again on its own; shown as `reauth_required` meanwhile.
    ReauthRequired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub next: Next,
    pub account: AccountAction,
    /// Counts toward the provider's circuit breaker.
    pub breaker: bool,
    /// Short tag for logs and metrics.
    pub reason: &'static str,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ClassifyOptions {
    /// Combo opt-in: "other 4xx" moves to the next target instead of stopping.
    pub any_non_ok_moves_on: bool,
    /// The one same-account retry for this attempt's 5xx was already spent.
    pub already_retried_same_account: bool,
}

const CREDITS_COOLDOWN: Duration = Duration::from_secs(120);
const FORBIDDEN_COOLDOWN: Duration = Duration::from_secs(120);
const MISSING_MODEL_LOCK: Duration = Duration::from_secs(3600);

// Lower-case substrings, checked in this order (first match wins). The order matters where
// phrases overlap: "daily quota exceeded" must lock until midnight, not just back off.
const CONTEXT_OVERFLOW: &[&str] = &[
    "prompt is too long",
    "context window",
    "maximum context",
    "too many tokens",
    "input is too long",
    "request too large",
    "token limit",
    "context_length_exceeded",
];
const MALFORMED_FOR_UPSTREAM: &[&str] = &[
    "messages must alternate",
    "empty content",
    "improperly formed request",
    "function.name': empty",
    "function name cannot be empty",
    "empty function name",
];
const RESTRICTED_CLIENT: &[&str] = &[
    "not authorized for this client",
    "not allowed for this client",
    "only authorized for use with",
];
const DISABLED: &[&str] = &["deactivated", "suspended", "verify your account"];
const DAILY_QUOTA: &[&str] = &["daily quota", "try again tomorrow"];
const CREDITS: &[&str] = &[
    "insufficient_quota",
    "billing_hard_limit_reached",
    "credit_balance_too_low",
    "credit balance is too low",
    "out of credits",
];
const RATE_LIMITED: &[&str] = &[
    "rate limit",
    "rate_limit",
    "quota exceeded",
    "overloaded",
    "capacity",
];
const MODEL_UNAVAILABLE: &[&str] = &["model not found", "model_not_found", "not supported"];

pub fn classify(f: &Failure, kind: ProviderKind, opts: &ClassifyOptions) -> Verdict {
    match f {
        Failure::ClientClosed => verdict(Next::Stop, AccountAction::None, false, "client_closed"),
        // Our timeout says nothing about the account's health: no cooldown, no breaker count.
        Failure::OurTimeout => verdict(Next::NextAccount, AccountAction::None, false, "timeout"),
        Failure::Connect(_) => verdict(
            Next::NextAccount,
            AccountAction::None,
            true,
            "connect_error",
        ),
        Failure::EmptyResponse => server_error("empty_response", opts),
        Failure::StreamError(msg) => {
            by_text(msg, kind).unwrap_or_else(|| server_error("stream_error", opts))
        }
        Failure::Status { status, body } => {
            by_text(body, kind).unwrap_or_else(|| by_status(*status, opts))
        }
    }
}

fn verdict(next: Next, account: AccountAction, breaker: bool, reason: &'static str) -> Verdict {
    Verdict {
        next,
        account,
        breaker,
        reason,
    }
}

fn server_error(reason: &'static str, opts: &ClassifyOptions) -> Verdict {
    let next = if opts.already_retried_same_account {
        Next::NextAccount
    } else {
        Next::RetrySameAccount
    };
    verdict(next, AccountAction::None, true, reason)
}

fn rate_limited() -> Verdict {
    verdict(
        Next::NextAccount,
        AccountAction::Backoff,
        false,
        "rate_limited",
    )
}

fn missing_model() -> Verdict {
    let lock = AccountAction::LockModel(MISSING_MODEL_LOCK);
    verdict(Next::NextTarget, lock, false, "model_unavailable")
}

fn by_text(text: &str, kind: ProviderKind) -> Option<Verdict> {
    let text = text.to_lowercase();
    let has = |phrases: &[&str]| phrases.iter().any(|p| text.contains(p));
    let v = if has(CONTEXT_OVERFLOW) {
        // Other accounts of this provider share the context size; a bigger model may fit.
        verdict(
            Next::NextTarget,
            AccountAction::None,
            false,
            "context_overflow",
        )
    } else if has(MALFORMED_FOR_UPSTREAM) {
        let next = Next::NextTargetOtherFormat;
        verdict(next, AccountAction::None, false, "malformed_for_upstream")
    } else if kind == ProviderKind::OAuth && has(RESTRICTED_CLIENT) {
        // The account still works for other client shapes, so it gets no cooldown; the caller
        // marks it restricted for this shape on the "restricted_client" reason.
        verdict(
            Next::NextTarget,
            AccountAction::None,
            false,
            "restricted_client",
        )
    } else if has(DISABLED) {
        verdict(
            Next::NextAccount,
            AccountAction::Disable,
            false,
            "account_disabled",
        )
    } else if has(DAILY_QUOTA) {
        let action = AccountAction::LockModelUntilMidnight;
        verdict(Next::NextAccount, action, false, "daily_quota")
    } else if has(CREDITS) {
        let action = AccountAction::CooldownFor(CREDITS_COOLDOWN);
        verdict(Next::NextAccount, action, false, "credits")
    } else if has(RATE_LIMITED) {
        rate_limited()
    } else if has(MODEL_UNAVAILABLE) {
        missing_model()
    } else {
        return None;
    };
    Some(v)
}

fn by_status(status: u16, opts: &ClassifyOptions) -> Verdict {
    match status {
        // The caller refreshes the token and retries once before reporting a 401 here.
        401 => verdict(
            Next::NextAccount,
            AccountAction::ReauthRequired,
            false,
            "unauthorized",
        ),
        402 => verdict(
            Next::NextAccount,
            AccountAction::CooldownFor(CREDITS_COOLDOWN),
            false,
            "credits",
        ),
        403 => verdict(
            Next::NextAccount,
            AccountAction::CooldownFor(FORBIDDEN_COOLDOWN),
            false,
            "forbidden",
        ),
        404 => missing_model(),
        // 429 is quota, handled by cooldowns, so it never counts toward the breaker.
        429 => rate_limited(),
        408 | 500..=599 => server_error("server_error", opts),
        // Any other 4xx (400/413/422…): another target would fail the same way.
        _ if opts.any_non_ok_moves_on => {
            verdict(Next::NextTarget, AccountAction::None, false, "bad_request")
        }
        _ => verdict(Next::Stop, AccountAction::None, false, "bad_request"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccountAction as A;

    const KEY: ProviderKind = ProviderKind::ApiKey;
    const NONE: ClassifyOptions = ClassifyOptions {
        any_non_ok_moves_on: false,
        already_retried_same_account: false,
    };

    fn status(status: u16, body: &str) -> Failure {
        Failure::Status {
            status,
            body: body.to_string(),
        }
    }

    fn check(f: Failure, kind: ProviderKind, opts: ClassifyOptions, want: (Next, A, bool, &str)) {
        let v = classify(&f, kind, &opts);
        assert_eq!(
            (v.next, v.account, v.breaker, v.reason),
            want,
            "{f:?} {kind:?} {opts:?}"
        );
    }

    #[test]
    fn non_status_signals() {
        check(
            Failure::ClientClosed,
            KEY,
            NONE,
            (Next::Stop, A::None, false, "client_closed"),
        );
        check(
            Failure::OurTimeout,
            KEY,
            NONE,
            (Next::NextAccount, A::None, false, "timeout"),
        );
        check(
            Failure::Connect("dns: no such host".into()),
            KEY,
            NONE,
            (Next::NextAccount, A::None, true, "connect_error"),
        );
        check(
            Failure::EmptyResponse,
            KEY,
            NONE,
            (Next::RetrySameAccount, A::None, true, "empty_response"),
        );
        check(
            Failure::StreamError("internal error".into()),
            KEY,
            NONE,
            (Next::RetrySameAccount, A::None, true, "stream_error"),
        );
    }

    #[test]
    fn auth_and_billing_statuses() {
        let r = (Next::NextAccount, A::ReauthRequired, false, "unauthorized");
        check(
            status(401, "invalid x-api-key"),
            ProviderKind::OAuth,
            NONE,
            r,
        );
        let r = (
            Next::NextAccount,
            A::CooldownFor(FORBIDDEN_COOLDOWN),
            false,
            "forbidden",
        );
        check(status(403, "forbidden"), KEY, NONE, r);
        let r = (
            Next::NextAccount,
            A::CooldownFor(CREDITS_COOLDOWN),
            false,
            "credits",
        );
        check(status(402, "payment required"), KEY, NONE, r);
    }

    #[test]
    fn oauth_restricted_client() {
        let body = "This credential is only authorized for use with Claude Code";
        let r = (Next::NextTarget, A::None, false, "restricted_client");
        check(status(403, body), ProviderKind::OAuth, NONE, r);
        // An API key has no client shapes: a plain 403 cooldown.
        let r = (
            Next::NextAccount,
            A::CooldownFor(FORBIDDEN_COOLDOWN),
            false,
            "forbidden",
        );
        check(status(403, body), KEY, NONE, r);
    }

    #[test]
    fn credits_phrases_beat_status() {
        let r = (
            Next::NextAccount,
            A::CooldownFor(CREDITS_COOLDOWN),
            false,
            "credits",
        );
        for body in [
            r#"{"error":{"code":"insufficient_quota"}}"#,
            "billing_hard_limit_reached",
            "credit_balance_too_low",
            "Your credit balance is too low to access the API",
            "You are OUT OF CREDITS",
        ] {
            check(status(429, body), KEY, NONE, r);
        }
    }

    #[test]
    fn disabled_account() {
        let r = (Next::NextAccount, A::Disable, false, "account_disabled");
        for body in [
            "This account has been deactivated",
            "Organization suspended",
            "Please verify your account",
        ] {
            check(status(400, body), KEY, NONE, r);
        }
    }

    #[test]
    fn daily_quota_locks_until_midnight() {
        let r = (
            Next::NextAccount,
            A::LockModelUntilMidnight,
            false,
            "daily_quota",
        );
        check(
            status(429, "Daily quota exceeded, try again tomorrow"),
            KEY,
            NONE,
            r,
        );
        check(status(403, "Try again tomorrow."), KEY, NONE, r);
    }

    #[test]
    fn rate_limits() {
        let r = (Next::NextAccount, A::Backoff, false, "rate_limited");
        check(status(429, ""), ProviderKind::OAuth, NONE, r);
        for body in [
            "Rate limit reached",
            "rate_limit_error",
            "Quota exceeded for metric",
            "Overloaded",
            "no capacity",
        ] {
            check(status(400, body), KEY, NONE, r);
        }
    }

    #[test]
    fn missing_model_locks_for_an_hour() {
        let r = (
            Next::NextTarget,
            A::LockModel(MISSING_MODEL_LOCK),
            false,
            "model_unavailable",
        );
        check(status(404, "Not Found"), KEY, NONE, r);
        check(status(400, "The model not found: x"), KEY, NONE, r);
        check(status(400, "model_not_found"), KEY, NONE, r);
        check(status(400, "This model is not supported"), KEY, NONE, r);
    }

    #[test]
    fn context_overflow_beats_status() {
        let r = (Next::NextTarget, A::None, false, "context_overflow");
        for body in [
            "prompt is too long: 210000 tokens > 200000 maximum",
            "exceeds the context window",
            "This model's maximum context length is 8192 tokens",
            "Too many tokens",
            "The input is too long",
            "request too large",
            "token limit exceeded",
        ] {
            check(status(400, body), KEY, NONE, r);
        }
        // Reported in-stream before the first client byte.
        check(
            Failure::StreamError("context_length_exceeded".into()),
            KEY,
            NONE,
            r,
        );
    }

    #[test]
    fn malformed_for_upstream() {
        let r = (
            Next::NextTargetOtherFormat,
            A::None,
            false,
            "malformed_for_upstream",
        );
        for body in [
            "messages: roles must alternate... messages must alternate",
            "text content blocks must be non-empty: empty content",
            "Improperly formed request.",
            "Invalid 'messages[2].tool_calls[0].function.name': empty string.",
        ] {
            check(status(400, body), KEY, NONE, r);
        }
    }

    #[test]
    fn other_4xx_stop_unless_opted_in() {
        let stop = (Next::Stop, A::None, false, "bad_request");
        let on = ClassifyOptions {
            any_non_ok_moves_on: true,
            ..NONE
        };
        let moves = (Next::NextTarget, A::None, false, "bad_request");
        for code in [400, 413, 422] {
            check(status(code, "invalid temperature"), KEY, NONE, stop);
            check(status(code, "invalid temperature"), KEY, on, moves);
        }
        // Opting in never overrides a client disconnect.
        check(
            Failure::ClientClosed,
            KEY,
            on,
            (Next::Stop, A::None, false, "client_closed"),
        );
    }

    #[test]
    fn server_errors_retry_once_then_next_account() {
        let retried = ClassifyOptions {
            already_retried_same_account: true,
            ..NONE
        };
        for code in [408, 500, 502, 503, 504, 529] {
            let f = status(code, "<html>Bad gateway</html>");
            check(
                f.clone(),
                KEY,
                NONE,
                (Next::RetrySameAccount, A::None, true, "server_error"),
            );
            check(
                f,
                KEY,
                retried,
                (Next::NextAccount, A::None, true, "server_error"),
            );
        }
        check(
            Failure::EmptyResponse,
            KEY,
            retried,
            (Next::NextAccount, A::None, true, "empty_response"),
        );
    }
}
