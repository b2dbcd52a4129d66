//! Upstream "when may I retry" hints for cooldowns (docs/routing.md §7).

use super::headers::{codex_slots, parse_rfc3339, parse_unix, unified_status, Map};
use super::window::WindowStatus;
use std::time::{Duration, UNIX_EPOCH};

/// Hints beyond this are treated as this: a typo or a unit mix-up must not park an account forever.
pub const MAX_HINT: Duration = Duration::from_secs(7 * 86400);

/// The earliest recovery any upstream source points to, capped at [`MAX_HINT`].
///
/// Sources: `retry-after` (seconds or HTTP date); Anthropic unified resets when rejected;
/// Anthropic API-key, Codex and OpenAI resets of exhausted limits (on a 429 without an exhausted
/// limit: the soonest reset); `X-RateLimit-Reset`; Gemini `RetryInfo.retryDelay` /
/// `quotaResetDelay`; body text like "reset after 2h30m14s" or "try again in 20s".
/// Successful responses (< 400) carry no hint.
pub fn retry_hint<'a>(
    status: u16,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    body: &str,
    now: u64,
) -> Option<Duration> {
    if status < 400 {
        return None;
    }
    let map = Map::new(headers);
    let until = |at: u64| {
        at.checked_sub(now)
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
    };
    let limited = status == 429;
    let mut hints: Vec<Duration> = Vec::new();

    if let Some(v) = map.get("retry-after") {
        let date = || {
            httpdate::parse_http_date(v)
                .ok()?
                .duration_since(UNIX_EPOCH)
                .ok()
        };
        // A date in the past means "now", not "no hint".
        hints.extend(
            parse_duration(v)
                .or_else(|| date().map(|d| Duration::from_secs(d.as_secs().saturating_sub(now)))),
        );
    }

    // Anthropic subscription: the unified reset is the binding one; else the latest rejected family.
    const U: &str = "anthropic-ratelimit-unified-";
    let unified_rejected =
        map.get(&format!("{U}status")).map(unified_status) == Some(WindowStatus::Rejected);
    let unified = unified_rejected
        .then(|| {
            map.get(&format!("{U}reset"))
                .and_then(parse_unix)
                .and_then(until)
        })
        .flatten();
    let families = map.iter().filter_map(|(k, v)| {
        let fam = k.strip_prefix(U)?.strip_suffix("-status")?;
        (unified_status(v) == WindowStatus::Rejected).then_some(fam)
    });
    let fam_resets: Vec<_> = families
        .filter_map(|f| {
            map.get(&format!("{U}{f}-reset"))
                .and_then(parse_unix)
                .and_then(until)
        })
        .collect();
    hints.extend(unified.or_else(|| fam_resets.into_iter().max()));

    // Counted limits: (exhausted, time to reset) per limit of one provider family.
    let mut key = Vec::new();
    let mut openai = Vec::new();
    for res in ["requests", "tokens", "input-tokens", "output-tokens"] {
        let h = |f: &str| map.get(&format!("anthropic-ratelimit-{res}-{f}"));
        if let Some(d) = h("reset").and_then(parse_rfc3339).and_then(until) {
            key.push((h("remaining").is_some_and(zero), d));
        }
        let h = |f: &str| map.get(&format!("x-ratelimit-{f}-{res}"));
        if let Some(d) = h("reset").and_then(parse_duration) {
            openai.push((h("remaining").is_some_and(zero), d));
        }
    }
    let codex: Vec<_> = codex_slots(&map, now)
        .into_iter()
        .filter_map(|s| Some((s.used >= 100.0, until(s.reset_at?)?)))
        .collect();
    for group in [key, openai, codex] {
        hints.extend(binding(&group, limited));
    }

    if let Some(v) = map.get("x-ratelimit-reset") {
        if limited || map.get("x-ratelimit-remaining").is_some_and(zero) {
            hints.extend(plain_reset(v, now));
        }
    }

    hints.extend(gemini_body(body, now));
    hints.extend(body_text(body));
    hints.into_iter().min().map(|d| d.min(MAX_HINT))
}

fn zero(v: &str) -> bool {
    v.parse::<f64>().is_ok_and(|f| f <= 0.0)
}

/// Exhausted limits bind together (recovery needs all of them): the latest. Without one, a 429
/// means some limit tripped: the soonest reset is the earliest possible recovery.
fn binding(group: &[(bool, Duration)], limited: bool) -> Option<Duration> {
    let exhausted = group.iter().filter(|(e, _)| *e).map(|(_, d)| *d).max();
    exhausted.or_else(|| {
        limited
            .then(|| group.iter().map(|(_, d)| *d).min())
            .flatten()
    })
}

/// `X-RateLimit-Reset` has no single convention: epoch milliseconds, epoch seconds, delta seconds,
/// a duration string or a date. Tell them apart by magnitude and shape.
fn plain_reset(v: &str, now: u64) -> Option<Duration> {
    let until = |at: u64| Some(Duration::from_secs(at.checked_sub(now).filter(|s| *s > 0)?));
    if let Ok(n) = v.parse::<f64>() {
        return match n {
            n if !n.is_finite() || n < 0.0 => None,
            n if n >= 1e12 => until((n / 1000.0).ceil().min(1e15) as u64),
            n if n >= 1e9 => until(n.ceil() as u64),
            n => Duration::try_from_secs_f64(n).ok(),
        };
    }
    parse_duration(v)
        .or_else(|| until(parse_rfc3339(v)?))
        .or_else(|| {
            until(
                httpdate::parse_http_date(v)
                    .ok()?
                    .duration_since(UNIX_EPOCH)
                    .ok()?
                    .as_secs(),
            )
        })
}

/// Google `error.details[]`: `RetryInfo.retryDelay`, and Code Assist's `ErrorInfo.metadata`
/// `quotaResetDelay` / `quotaResetTimeStamp`. The body may be an object or a one-element array.
fn gemini_body(body: &str, now: u64) -> Option<Duration> {
    let t = body.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(t).ok()?;
    let root = v.as_array().and_then(|a| a.first()).unwrap_or(&v);
    let details = root.get("error")?.get("details")?.as_array()?;
    let mut out = Vec::new();
    for d in details {
        match d.get("retryDelay") {
            Some(serde_json::Value::String(s)) => out.extend(parse_duration(s)),
            // Protobuf's non-JSON form {seconds, nanos}.
            Some(o) => out.extend(o.get("seconds").and_then(|s| s.as_u64()).map(|s| {
                let nanos = o
                    .get("nanos")
                    .and_then(|n| n.as_u64())
                    .filter(|n| *n < 1_000_000_000);
                Duration::new(s, nanos.unwrap_or(0) as u32)
            })),
            None => {}
        }
        if let Some(m) = d.get("metadata") {
            out.extend(
                m.get("quotaResetDelay")
                    .and_then(|s| s.as_str())
                    .and_then(parse_duration),
            );
            let at = m
                .get("quotaResetTimeStamp")
                .and_then(|s| s.as_str())
                .and_then(parse_rfc3339);
            out.extend(
                at.and_then(|at| at.checked_sub(now))
                    .map(Duration::from_secs),
            );
        }
    }
    out.into_iter().min()
}

/// Free text such as "Your limit will reset after 2h30m14s" or "Please try again in 6m0s.".
fn body_text(body: &str) -> Option<Duration> {
    const PHRASES: [&str; 7] = [
        "reset after ",
        "resets after ",
        "reset in ",
        "resets in ",
        "try again in ",
        "retry after ",
        "retry in ",
    ];
    // ASCII lower-casing keeps byte offsets aligned with `body`; scan a bounded prefix only.
    let mut end = body.len().min(16 * 1024);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let lower = body[..end].to_ascii_lowercase();
    let mut out = Vec::new();
    for p in PHRASES {
        for (i, _) in lower.match_indices(p) {
            if let Some((d, _, false)) = scan(&lower[i + p.len()..]) {
                out.push(d);
            }
        }
    }
    out.into_iter().min()
}

/// Go-style durations (`6m0s`, `1.5s`, `20ms`, `2h30m14s`), protobuf JSON durations (`0.5s`),
/// spelled-out units (`30 seconds`, `1 hour 5 minutes`) and a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    match scan(s)? {
        (d, used, _) if used == s.len() => Some(d),
        _ => None,
    }
}

/// Longest duration prefix of `s`: (value, bytes consumed, was a bare unitless number).
fn scan(s: &str) -> Option<(Duration, usize, bool)> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: u128 = 0; // nanoseconds, exact (no float rounding of "20ms")
    let mut parts = 0;
    loop {
        let start = i;
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        let (int, frac, digits, after_num) = number(b, i)?.map_or((0, 0, 0, i), |n| n);
        if after_num == i {
            i = start;
            break;
        }
        let mut j = after_num;
        while b.get(j) == Some(&b' ') {
            j += 1;
        }
        let unit_end = j + s[j..]
            .find(|c: char| !(c.is_ascii_alphabetic() || c == 'µ' || c == 'μ'))
            .unwrap_or(s.len() - j);
        let Some(unit) = unit_ns(&s[j..unit_end]) else {
            if parts == 0 && j == unit_end {
                // A bare number: seconds (retry-after style), only when it is the whole value.
                let d = nanos(int, frac, digits, 1_000_000_000)?;
                return Some((duration(d)?, after_num, true));
            }
            i = start;
            break;
        };
        total = total.checked_add(nanos(int, frac, digits, unit)?)?;
        parts += 1;
        i = unit_end;
    }
    if parts == 0 {
        return None;
    }
    Some((duration(total)?, i, false))
}

/// Digits with an optional fraction at `i`: Some(None) when there is no number here,
/// None when it overflows.
fn number(b: &[u8], mut i: usize) -> Option<Option<(u128, u128, u32, usize)>> {
    let (mut int, mut frac, mut digits, mut seen) = (0u128, 0u128, 0u32, false);
    while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        int = int.checked_mul(10)?.checked_add(u128::from(c - b'0'))?;
        seen = true;
        i += 1;
    }
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if digits < 18 {
                frac = frac * 10 + u128::from(c - b'0');
                digits += 1;
            }
            seen = true;
            i += 1;
        }
    }
    Some(seen.then_some((int, frac, digits, i)))
}

fn nanos(int: u128, frac: u128, digits: u32, unit: u128) -> Option<u128> {
    int.checked_mul(unit)?
        .checked_add(frac * unit / 10u128.pow(digits))
}

fn duration(ns: u128) -> Option<Duration> {
    let secs = u64::try_from(ns / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (ns % 1_000_000_000) as u32))
}

fn unit_ns(u: &str) -> Option<u128> {
    const S: u128 = 1_000_000_000;
    Some(match u.to_ascii_lowercase().as_str() {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" | "sec" | "secs" | "second" | "seconds" => S,
        "m" | "min" | "mins" | "minute" | "minutes" => 60 * S,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600 * S,
        "d" | "day" | "days" => 86400 * S,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    const NO: [(&str, &str); 0] = [];

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn durations() {
        let ms = |m| Some(Duration::from_millis(m));
        assert_eq!(parse_duration("6m0s"), secs(360));
        assert_eq!(parse_duration("1s"), secs(1));
        assert_eq!(parse_duration("20ms"), ms(20));
        assert_eq!(parse_duration("2h30m14s"), secs(9014));
        assert_eq!(parse_duration("1.5s"), ms(1500));
        assert_eq!(parse_duration("0.5s"), ms(500));
        assert_eq!(parse_duration("1m30.5s"), ms(90_500));
        assert_eq!(parse_duration(" 30s "), secs(30));
        assert_eq!(parse_duration("30"), secs(30));
        assert_eq!(parse_duration("2.25"), ms(2250));
        assert_eq!(parse_duration("1 hour 5 minutes"), secs(3900));
        assert_eq!(parse_duration("3d"), secs(3 * 86400));
        assert_eq!(parse_duration("150µs"), Some(Duration::from_micros(150)));
        assert_eq!(
            parse_duration("0.000000001s"),
            Some(Duration::from_nanos(1))
        );
        for bad in [
            "",
            "s",
            "-1s",
            "1x",
            "6m0",
            "1..5s",
            "1e3s",
            "30s later",
            "99999999999999999999999999999999999999999h",
            "inf",
            "NaN",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        assert_eq!(
            retry_hint(429, [("Retry-After", "120")], "", NOW),
            secs(120)
        );
        let date = "Thu, 01 Jan 2026 00:02:00 GMT";
        assert_eq!(retry_hint(503, [("retry-after", date)], "", NOW), secs(120));
        assert_eq!(
            retry_hint(429, [("retry-after", date)], "", NOW + 600),
            secs(0)
        );
        assert_eq!(retry_hint(200, [("retry-after", "120")], "", NOW), None);
        assert_eq!(retry_hint(429, [("retry-after", "soon")], "", NOW), None);
        assert_eq!(retry_hint(429, NO, "", NOW), None);
    }

    #[test]
    fn anthropic_unified_only_when_rejected() {
        let mut h = vec![
            ("anthropic-ratelimit-unified-status", "rejected"),
            ("anthropic-ratelimit-unified-5h-status", "rejected"),
            ("anthropic-ratelimit-unified-5h-reset", "1767229200"),
            ("anthropic-ratelimit-unified-7d-status", "allowed"),
            ("anthropic-ratelimit-unified-7d-reset", "1767600000"),
            ("anthropic-ratelimit-unified-reset", "1767230000"),
        ];
        assert_eq!(retry_hint(429, h.clone(), "", NOW), secs(4400));
        h.retain(|(k, _)| *k != "anthropic-ratelimit-unified-reset");
        assert_eq!(retry_hint(429, h.clone(), "", NOW), secs(3600));
        h[0].1 = "allowed";
        h[1].1 = "allowed";
        assert_eq!(retry_hint(429, h, "", NOW), None);
    }

    #[test]
    fn codex_openai_and_api_key_resets() {
        let codex = [
            ("x-codex-primary-used-percent", "100"),
            ("x-codex-primary-window-minutes", "300"),
            ("x-codex-primary-reset-at", "1767229200"),
            ("x-codex-secondary-used-percent", "40"),
            ("x-codex-secondary-window-minutes", "10080"),
            ("x-codex-secondary-reset-after-seconds", "86400"),
        ];
        assert_eq!(retry_hint(429, codex, "", NOW), secs(3600));
        let openai = [
            ("x-ratelimit-remaining-requests", "99"),
            ("x-ratelimit-reset-requests", "20ms"),
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ];
        assert_eq!(retry_hint(429, openai, "", NOW), secs(360));
        // A 429 with nothing exhausted: the soonest reset.
        assert_eq!(
            retry_hint(
                429,
                [
                    ("x-ratelimit-reset-requests", "20ms"),
                    ("x-ratelimit-reset-tokens", "6m0s")
                ],
                "",
                NOW
            ),
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            retry_hint(500, [("x-ratelimit-reset-tokens", "6m0s")], "", NOW),
            None
        );
        let key = [
            ("anthropic-ratelimit-output-tokens-remaining", "0"),
            (
                "anthropic-ratelimit-output-tokens-reset",
                "2026-01-01T00:00:45Z",
            ),
        ];
        assert_eq!(retry_hint(429, key, "", NOW), secs(45));
    }

    #[test]
    fn plain_x_ratelimit_reset() {
        let h = |v| retry_hint(429, [("X-RateLimit-Reset", v)], "", NOW);
        assert_eq!(h("1767225660"), secs(60));
        assert_eq!(h("1767225660000"), secs(60));
        assert_eq!(h("30"), secs(30));
        assert_eq!(h("6m0s"), secs(360));
        assert_eq!(h("1767225000"), None); // past epoch: stale
        assert_eq!(h("-5"), None);
    }

    #[test]
    fn gemini_retry_info_in_body() {
        let body = r#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED",
          "details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},
                     {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}"#;
        assert_eq!(retry_hint(429, NO, body, NOW), secs(37));
        let arr = r#"[{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.5s"}]}}]"#;
        assert_eq!(
            retry_hint(429, NO, arr, NOW),
            Some(Duration::from_millis(500))
        );
        let info = r#"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"QUOTA_EXHAUSTED",
          "metadata":{"quotaResetDelay":"2h30m14.5s","quotaResetTimeStamp":"2026-01-01T02:30:15Z"}}]}}"#;
        assert_eq!(
            retry_hint(429, NO, info, NOW),
            Some(Duration::from_millis(9_014_500))
        );
    }

    #[test]
    fn body_text_hints() {
        let b = "You have hit your usage limit. Your limit will reset after 2h30m14s.";
        assert_eq!(retry_hint(429, NO, b, NOW), secs(9014));
        let b = r#"{"error":{"message":"Rate limit reached for gpt-4o. Please try again in 1.5s. Visit ..."}}"#;
        assert_eq!(
            retry_hint(429, NO, b, NOW),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_hint(429, NO, "Try again in 30 seconds and more", NOW),
            secs(30)
        );
        assert_eq!(retry_hint(429, NO, "try again in a while", NOW), None);
        assert_eq!(retry_hint(429, NO, "try again in 5", NOW), None); // unitless: ambiguous
    }

    #[test]
    fn earliest_source_wins_and_cap() {
        let h = [
            ("retry-after", "90"),
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ];
        assert_eq!(retry_hint(429, h, "try again in 2m", NOW), secs(90));
        assert_eq!(
            retry_hint(429, [("retry-after", "99999999")], "", NOW),
            Some(MAX_HINT)
        );
        assert_eq!(retry_hint(429, NO, "reset after 30d", NOW), Some(MAX_HINT));
    }

    #[test]
    fn fuzz_garbage_never_panics() {
        use super::super::headers::tests::{XorShift, NAMES};
        let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
        for _ in 0..20_000 {
            let n = (rng.next() % 8) as usize;
            let vals: Vec<(String, String)> = (0..n)
                .map(|_| (rng.pick(NAMES).to_string(), rng.value()))
                .collect();
            let body = format!(
                r#"{{"error":{{"details":[{{"retryDelay":"{}"}}]}}}} try again in {}"#,
                rng.value().replace(['"', '\\'], ""),
                rng.value()
            );
            let now = [0, NOW, u64::MAX][(rng.next() % 3) as usize];
            let status = [200, 429, 503][(rng.next() % 3) as usize];
            if let Some(d) = retry_hint(
                status,
                vals.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                &body,
                now,
            ) {
                assert!(d <= MAX_HINT);
            }
            let _ = parse_duration(&rng.value());
        }
    }
}
