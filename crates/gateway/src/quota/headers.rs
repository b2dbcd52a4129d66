//! Passive quota signals on proxied responses (docs/quota.md §4). Upstream values are untrusted:
//! anything unparsable is skipped, never an error and never a panic.

use super::hints::parse_duration;
use super::window::{QuotaWindow, Source, WindowKind, WindowStatus};
use std::collections::BTreeMap;

/// What one response's headers said about the account.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reading {
    pub windows: Vec<QuotaWindow>,
    /// The upstream refuses this account right now: Anthropic `unified-status: rejected`, or any
    /// window reported rejected / exhausted.
    pub rejected: bool,
}

/// Headers the gateway parses and then drops: they describe one hidden account and would trigger
/// the client's own "limit reached" UI (docs/api-surface.md §4).
pub fn is_quota_header(name: &str) -> bool {
    let n = name.as_bytes();
    ["anthropic-ratelimit-", "x-codex-", "x-ratelimit-"]
        .iter()
        .any(|p| n.len() >= p.len() && n[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
}

/// Parse every known header family into windows observed at `now`.
pub fn read<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>, now: u64) -> Reading {
    let map = Map::new(headers);
    let mut windows = Vec::new();
    let unified_rejected = anthropic_unified(&map, now, &mut windows);
    for (res, kind) in [
        ("requests", WindowKind::Requests),
        ("tokens", WindowKind::Tokens),
        ("input-tokens", WindowKind::Tokens),
        ("output-tokens", WindowKind::Tokens),
    ] {
        let h = |f: &str| map.get(&format!("anthropic-ratelimit-{res}-{f}"));
        let reset = h("reset").and_then(parse_rfc3339);
        push_worst(
            &mut windows,
            rate(kind, h("limit"), h("remaining"), reset, now),
        );
    }
    for (res, kind) in [
        ("requests", WindowKind::Requests),
        ("tokens", WindowKind::Tokens),
    ] {
        let h = |f: &str| map.get(&format!("x-ratelimit-{f}-{res}"));
        let reset = h("reset")
            .and_then(parse_duration)
            .map(|d| now.saturating_add(d.as_secs() + u64::from(d.subsec_nanos() > 0)));
        push_worst(
            &mut windows,
            rate(kind, h("limit"), h("remaining"), reset, now),
        );
    }
    for s in codex_slots(&map, now) {
        let kind = match (s.family, minutes_kind(s.minutes)) {
            (None, Some(k)) => k,
            // Per-family limits only fit the model as per-model weekly windows.
            (Some(f), Some(WindowKind::Weekly)) => WindowKind::WeeklyModel(f),
            _ => continue,
        };
        let mut w = window(kind, s.used, s.reset_at, None, now);
        w.window_seconds = s.minutes.checked_mul(60);
        push_worst(&mut windows, Some(w));
    }
    let rejected = unified_rejected || windows.iter().any(|w| w.status == WindowStatus::Rejected);
    Reading { windows, rejected }
}

/// Lower-cased header names with trimmed values; the first occurrence of a name wins.
pub(super) struct Map<'a>(Vec<(String, &'a str)>);

impl<'a> Map<'a> {
    pub(super) fn new(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Map(headers
            .into_iter()
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim()))
            .collect())
    }
    pub(super) fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &'a str)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

fn finite(v: &str) -> Option<f64> {
    v.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Unix seconds; tolerates a fractional part (rounded up so a reset is never reported early).
pub(super) fn parse_unix(v: &str) -> Option<u64> {
    v.parse::<u64>().ok().or_else(|| {
        finite(v)
            .filter(|f| (0.0..1e15).contains(f))
            .map(|f| f.ceil() as u64)
    })
}

fn derived_status(used: f64) -> WindowStatus {
    if used >= 100.0 {
        WindowStatus::Rejected
    } else {
        WindowStatus::Allowed
    }
}

fn window(
    kind: WindowKind,
    used: f64,
    resets_at: Option<u64>,
    st: Option<WindowStatus>,
    now: u64,
) -> QuotaWindow {
    let used_pct = used.clamp(0.0, 100.0);
    QuotaWindow {
        window_seconds: kind.nominal_seconds(),
        kind,
        used_pct,
        resets_at,
        status: st.unwrap_or(derived_status(used_pct)),
        source: Source::Headers,
        observed_at: now,
    }
}

/// A counted limit (`limit` / `remaining`) as a used-percent window.
fn rate(
    kind: WindowKind,
    limit: Option<&str>,
    remaining: Option<&str>,
    reset: Option<u64>,
    now: u64,
) -> Option<QuotaWindow> {
    let limit = finite(limit?).filter(|l| *l > 0.0)?;
    let remaining = finite(remaining?)?;
    Some(window(
        kind,
        (limit - remaining) / limit * 100.0,
        reset,
        None,
        now,
    ))
}

/// Several sources fold into one kind (input/output/total tokens): the tightest one binds.
fn push_worst(out: &mut Vec<QuotaWindow>, w: Option<QuotaWindow>) {
    let Some(w) = w else { return };
    match out.iter_mut().find(|e| e.kind == w.kind) {
        Some(e) if e.used_pct >= w.used_pct => {}
        Some(e) => *e = w,
        None => out.push(w),
    }
}

/// `5h`, `7d`, `7d_<model>` as used in `anthropic-ratelimit-unified-<family>-*`.
fn family_kind(f: &str) -> Option<WindowKind> {
    match f {
        "5h" => Some(WindowKind::FiveHour),
        "7d" => Some(WindowKind::Weekly),
        _ => f
            .strip_prefix("7d_")
            .filter(|m| !m.is_empty())
            .map(|m| WindowKind::WeeklyModel(m.into())),
    }
}

/// `representative-claim` values (`five_hour`, `seven_day`, `seven_day_opus`) or family names.
fn claim_kind(c: &str) -> Option<WindowKind> {
    match c {
        "five_hour" => Some(WindowKind::FiveHour),
        "seven_day" => Some(WindowKind::Weekly),
        _ => c
            .strip_prefix("seven_day_")
            .filter(|m| !m.is_empty())
            .map(|m| WindowKind::WeeklyModel(m.into()))
            .or_else(|| family_kind(c)),
    }
}

pub(super) fn unified_status(v: &str) -> WindowStatus {
    match v.to_ascii_lowercase().as_str() {
        "allowed" => WindowStatus::Allowed,
        "allowed_warning" => WindowStatus::Warning,
        "rejected" => WindowStatus::Rejected,
        _ => WindowStatus::Unknown,
    }
}

/// Anthropic subscription headers; returns whether the account as a whole is rejected.
fn anthropic_unified(map: &Map, now: u64, out: &mut Vec<QuotaWindow>) -> bool {
    const P: &str = "anthropic-ratelimit-unified-";
    #[derive(Default)]
    struct Fam {
        util: Option<f64>,
        reset: Option<u64>,
        status: Option<WindowStatus>,
    }
    let mut fams: BTreeMap<&str, Fam> = BTreeMap::new();
    for (name, v) in map.iter() {
        let Some(rest) = name.strip_prefix(P) else {
            continue;
        };
        for suffix in ["-utilization", "-reset", "-status"] {
            let Some(f) = rest
                .strip_suffix(suffix)
                .filter(|f| family_kind(f).is_some())
            else {
                continue;
            };
            let fam = fams.entry(f).or_default();
            match suffix {
                "-utilization" => fam.util = finite(v).map(|u| u * 100.0),
                "-reset" => fam.reset = parse_unix(v),
                _ => fam.status = Some(unified_status(v)),
            }
        }
    }
    let mut ws: Vec<QuotaWindow> = Vec::new();
    for (f, fam) in fams {
        let rejected = fam.status == Some(WindowStatus::Rejected);
        let Some(used) = (if rejected { Some(100.0) } else { fam.util }) else {
            continue;
        };
        let kind = family_kind(f).expect("filtered above");
        ws.push(window(
            kind,
            used,
            fam.reset,
            fam.status.filter(|s| *s != WindowStatus::Unknown),
            now,
        ));
    }

    let overall = map.get(&format!("{P}status")).map(unified_status);
    let claim = map
        .get(&format!("{P}representative-claim"))
        .and_then(claim_kind);
    let reset = map.get(&format!("{P}reset")).and_then(parse_unix);
    if overall == Some(WindowStatus::Rejected) {
        // Mark the binding window exhausted until its reset (docs/quota.md §4, last paragraph).
        let idx = match &claim {
            Some(k) => ws.iter().position(|w| &w.kind == k).or_else(|| {
                ws.push(window(k.clone(), 100.0, reset, None, now));
                Some(ws.len() - 1)
            }),
            None if ws.iter().any(|w| w.status == WindowStatus::Rejected) => None,
            None => ws
                .iter()
                .position(|w| reset.is_some() && w.resets_at == reset)
                .or_else(|| {
                    (0..ws.len()).max_by(|&a, &b| ws[a].used_pct.total_cmp(&ws[b].used_pct))
                }),
        };
        if let Some(w) = idx.map(|i| &mut ws[i]) {
            w.used_pct = 100.0;
            w.status = WindowStatus::Rejected;
            w.resets_at = reset.or(w.resets_at);
        }
    } else if overall == Some(WindowStatus::Warning) {
        for w in ws.iter_mut().filter(|w| Some(&w.kind) == claim.as_ref()) {
            if w.status == WindowStatus::Allowed {
                w.status = WindowStatus::Warning;
            }
        }
    }
    out.extend(ws);
    overall == Some(WindowStatus::Rejected)
}

/// One `x-codex-[<family>-]{primary,secondary}-*` group.
pub(super) struct CodexSlot {
    pub family: Option<String>,
    pub used: f64,
    pub minutes: u64,
    pub reset_at: Option<u64>,
}

pub(super) fn codex_slots(map: &Map, now: u64) -> Vec<CodexSlot> {
    type Fields = [Option<f64>; 4]; // used-percent, window-minutes, reset-at, reset-after-seconds
    const SUFFIXES: [&str; 4] = [
        "-used-percent",
        "-window-minutes",
        "-reset-at",
        "-reset-after-seconds",
    ];
    let mut groups: BTreeMap<(Option<String>, &str), Fields> = BTreeMap::new();
    for (name, v) in map.iter() {
        let Some(rest) = name.strip_prefix("x-codex-") else {
            continue;
        };
        for (i, suffix) in SUFFIXES.iter().enumerate() {
            let Some(head) = rest.strip_suffix(suffix) else {
                continue;
            };
            let key = match head {
                "primary" | "secondary" => (None, head),
                _ => match ["primary", "secondary"].into_iter().find_map(|slot| {
                    let fam = head
                        .strip_suffix(slot)?
                        .strip_suffix('-')
                        .filter(|f| !f.is_empty())?;
                    Some((Some(fam.to_string()), slot))
                }) {
                    Some(k) => k,
                    None => continue,
                },
            };
            groups.entry(key).or_default()[i] = finite(v);
        }
    }
    groups
        .into_iter()
        .filter_map(|((family, _), [used, minutes, at, after])| {
            let minutes = minutes.filter(|m| (1.0..1e9).contains(m))? as u64;
            let after = after
                .filter(|a| (0.0..1e12).contains(a))
                .map(|a| now.saturating_add(a.ceil() as u64));
            let at = at
                .filter(|a| (0.0..1e15).contains(a))
                .map(|a| a.ceil() as u64);
            Some(CodexSlot {
                family,
                used: used?,
                minutes,
                reset_at: at.or(after),
            })
        })
        .collect()
}

/// Map Codex windows by their length, never by primary/secondary position (docs/quota.md §2.2).
fn minutes_kind(m: u64) -> Option<WindowKind> {
    match m {
        300 => Some(WindowKind::FiveHour),
        10080 => Some(WindowKind::Weekly),
        40320..=44640 => Some(WindowKind::Monthly), // 28–31 days; 43200 = 30 days
        _ => None,
    }
}

/// RFC 3339 (`2026-03-01T12:00:30Z`, fractional seconds, numeric offsets) → unix seconds,
/// fractions rounded up. Hand-rolled to keep the module on std + httpdate.
pub(super) fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0, |n, c| n * 10 + i64::from(c - b'0')))
    };
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > mdays[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    let mut i = 19;
    let mut frac = false;
    if sep(i, b".") {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            frac |= b[i] != b'0';
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && sep(i + 3, b":") => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            (oh * 3600 + om * 60) * if *sign == b'-' { -1 } else { 1 }
        }
        _ => return None,
    };
    // Days from civil date (H. Hinnant's algorithm).
    let (yy, mm) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    let t = days * 86400 + h * 3600 + mi * 60 + sec - offset + i64::from(frac);
    u64::try_from(t).ok()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn find<'a>(r: &'a Reading, k: &WindowKind) -> &'a QuotaWindow {
        r.windows
            .iter()
            .find(|w| &w.kind == k)
            .unwrap_or_else(|| panic!("no {k}: {r:?}"))
    }

    #[test]
    fn anthropic_unified_allowed() {
        let h = [
            ("Anthropic-Ratelimit-Unified-Status", "allowed"),
            ("anthropic-ratelimit-unified-5h-status", "allowed"),
            ("anthropic-ratelimit-unified-5h-utilization", "0.42"),
            ("anthropic-ratelimit-unified-5h-reset", "1767233580"),
            ("anthropic-ratelimit-unified-7d-status", "allowed_warning"),
            ("anthropic-ratelimit-unified-7d-utilization", "0.815"),
            ("anthropic-ratelimit-unified-7d-reset", "1767600000"),
            ("anthropic-ratelimit-unified-7d_opus-utilization", "0.3"),
            (
                "anthropic-ratelimit-unified-representative-claim",
                "five_hour",
            ),
            ("anthropic-ratelimit-unified-reset", "1767233580"),
            ("anthropic-ratelimit-unified-overage-status", "allowed"),
            ("anthropic-ratelimit-unified-fallback-percentage", "0.5"),
        ];
        let r = read(h, NOW);
        assert!(!r.rejected);
        assert_eq!(r.windows.len(), 3, "{r:?}");
        let five = find(&r, &WindowKind::FiveHour);
        assert!((five.used_pct - 42.0).abs() < 1e-9);
        assert_eq!(
            (five.resets_at, five.status, five.observed_at),
            (Some(1767233580), WindowStatus::Allowed, NOW)
        );
        assert_eq!(
            (five.source, five.window_seconds),
            (Source::Headers, Some(18000))
        );
        let week = find(&r, &WindowKind::Weekly);
        assert_eq!(
            (week.status, week.window_seconds),
            (WindowStatus::Warning, Some(604800))
        );
        assert!((find(&r, &WindowKind::WeeklyModel("opus".into())).used_pct - 30.0).abs() < 1e-9);
        // A fraction above 1 is clamped, and counts as exhausted.
        let r = read(
            [("anthropic-ratelimit-unified-7d_opus-utilization", "1.3")],
            NOW,
        );
        assert_eq!(
            (r.windows[0].used_pct, r.windows[0].status, r.rejected),
            (100.0, WindowStatus::Rejected, true)
        );
    }

    #[test]
    fn anthropic_unified_rejected_marks_binding_window() {
        let h = [
            ("anthropic-ratelimit-unified-status", "rejected"),
            ("anthropic-ratelimit-unified-5h-utilization", "0.97"),
            ("anthropic-ratelimit-unified-5h-reset", "1767230000"),
            ("anthropic-ratelimit-unified-7d-utilization", "0.5"),
            ("anthropic-ratelimit-unified-7d-reset", "1767600000"),
            (
                "anthropic-ratelimit-unified-representative-claim",
                "five_hour",
            ),
            ("anthropic-ratelimit-unified-reset", "1767231000"),
        ];
        let r = read(h, NOW);
        assert!(r.rejected);
        let five = find(&r, &WindowKind::FiveHour);
        assert_eq!(
            (five.used_pct, five.status, five.resets_at),
            (100.0, WindowStatus::Rejected, Some(1767231000))
        );
        assert_eq!(find(&r, &WindowKind::Weekly).status, WindowStatus::Allowed);

        // Only the top-level headers: the claimed window is created.
        let r = read(
            [
                ("anthropic-ratelimit-unified-status", "rejected"),
                (
                    "anthropic-ratelimit-unified-representative-claim",
                    "seven_day_opus",
                ),
                ("anthropic-ratelimit-unified-reset", "1767600000"),
            ],
            NOW,
        );
        let w = find(&r, &WindowKind::WeeklyModel("opus".into()));
        assert_eq!(
            (w.used_pct, w.status, w.resets_at),
            (100.0, WindowStatus::Rejected, Some(1767600000))
        );

        // No claim: the window whose reset matches the unified reset binds.
        let r = read(
            [
                ("anthropic-ratelimit-unified-status", "rejected"),
                ("anthropic-ratelimit-unified-5h-utilization", "0.9"),
                ("anthropic-ratelimit-unified-5h-reset", "1767230000"),
                ("anthropic-ratelimit-unified-7d-utilization", "0.6"),
                ("anthropic-ratelimit-unified-7d-reset", "1767600000"),
                ("anthropic-ratelimit-unified-reset", "1767600000"),
            ],
            NOW,
        );
        assert_eq!(find(&r, &WindowKind::Weekly).status, WindowStatus::Rejected);
        assert_eq!(
            find(&r, &WindowKind::FiveHour).status,
            WindowStatus::Allowed
        );
    }

    #[test]
    fn anthropic_api_key_counts() {
        let h = [
            ("anthropic-ratelimit-requests-limit", "4000"),
            ("anthropic-ratelimit-requests-remaining", "3999"),
            ("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:01Z"),
            ("anthropic-ratelimit-input-tokens-limit", "400000"),
            ("anthropic-ratelimit-input-tokens-remaining", "100000"),
            (
                "anthropic-ratelimit-input-tokens-reset",
                "2026-01-01T00:00:30.250Z",
            ),
            ("anthropic-ratelimit-output-tokens-limit", "80000"),
            ("anthropic-ratelimit-output-tokens-remaining", "80000"),
            (
                "anthropic-ratelimit-output-tokens-reset",
                "2026-01-01T00:00:02Z",
            ),
            ("anthropic-ratelimit-tokens-limit", "480000"),
            ("anthropic-ratelimit-tokens-remaining", "garbage"),
        ];
        let r = read(h, NOW);
        let req = find(&r, &WindowKind::Requests);
        assert!((req.used_pct - 0.025).abs() < 1e-9);
        assert_eq!(req.resets_at, Some(NOW + 1));
        let tok = find(&r, &WindowKind::Tokens); // input tokens are the tightest
        assert_eq!((tok.used_pct, tok.resets_at), (75.0, Some(NOW + 31)));
        assert_eq!(r.windows.len(), 2);
    }

    #[test]
    fn codex_mapped_by_minutes_not_position() {
        let h = [
            ("x-codex-primary-used-percent", "12"),
            ("x-codex-primary-window-minutes", "10080"),
            ("x-codex-primary-reset-at", "1767600000"),
            ("x-codex-secondary-used-percent", "64.5"),
            ("x-codex-secondary-window-minutes", "300"),
            ("x-codex-secondary-reset-after-seconds", "3600"),
            ("x-codex-primary-over-secondary-limit-percent", "0"),
            ("x-codex-active-limit", "codex"),
            ("x-codex-gpt-5-codex-mini-primary-used-percent", "100"),
            ("x-codex-gpt-5-codex-mini-primary-window-minutes", "10080"),
            ("x-codex-gpt-5-codex-mini-primary-reset-at", "1767500000"),
        ];
        let r = read(h, NOW);
        let week = find(&r, &WindowKind::Weekly);
        assert_eq!(
            (week.used_pct, week.resets_at, week.window_seconds),
            (12.0, Some(1767600000), Some(604800))
        );
        let five = find(&r, &WindowKind::FiveHour);
        assert_eq!((five.used_pct, five.resets_at), (64.5, Some(NOW + 3600)));
        let fam = find(&r, &WindowKind::WeeklyModel("gpt-5-codex-mini".into()));
        assert_eq!(fam.status, WindowStatus::Rejected);
        assert!(r.rejected);
        // Free plan: a single monthly window in the primary slot.
        let r = read(
            [
                ("x-codex-primary-used-percent", "3"),
                ("x-codex-primary-window-minutes", "43200"),
            ],
            NOW,
        );
        assert_eq!(r.windows[0].kind, WindowKind::Monthly);
        // No minutes → no guessing.
        assert!(read([("x-codex-primary-used-percent", "3")], NOW)
            .windows
            .is_empty());
    }

    #[test]
    fn openai_duration_resets() {
        let h = [
            ("x-ratelimit-limit-requests", "10000"),
            ("x-ratelimit-remaining-requests", "9999"),
            ("x-ratelimit-reset-requests", "20ms"),
            ("x-ratelimit-limit-tokens", "2000000"),
            ("x-ratelimit-remaining-tokens", "1500000"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ];
        let r = read(h, NOW);
        assert_eq!(find(&r, &WindowKind::Requests).resets_at, Some(NOW + 1)); // rounded up
        let tok = find(&r, &WindowKind::Tokens);
        assert_eq!(
            (tok.used_pct, tok.resets_at, tok.status),
            (25.0, Some(NOW + 360), WindowStatus::Allowed)
        );
        assert!(!r.rejected);
    }

    #[test]
    fn quota_header_names() {
        for n in [
            "anthropic-ratelimit-unified-5h-reset",
            "X-Codex-Primary-Used-Percent",
            "X-RateLimit-Reset",
            "x-ratelimit-remaining-tokens",
        ] {
            assert!(is_quota_header(n), "{n}");
        }
        for n in [
            "retry-after",
            "anthropic-version",
            "x-request-id",
            "x-codex",
            "",
        ] {
            assert!(!is_quota_header(n), "{n}");
        }
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Some(NOW));
        assert_eq!(parse_rfc3339("2026-01-01t00:00:00.000z"), Some(NOW));
        assert_eq!(parse_rfc3339("2026-01-01T02:00:00+02:00"), Some(NOW));
        assert_eq!(parse_rfc3339("2025-12-31T23:00:00.5-01:00"), Some(NOW + 1));
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        for bad in [
            "",
            "2026-01-01",
            "2026-02-30T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "1969-12-31T23:59:59Z",
            "2026-01-01T00:00:00+2:00",
            "２026-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    /// Tiny xorshift so the fuzz loop is reproducible without a rand dependency.
    pub(crate) struct XorShift(pub u64);
    impl XorShift {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[(self.next() % xs.len() as u64) as usize]
        }
        /// Plausible-looking garbage: numbers of every shape, duration and date fragments, UTF-8.
        pub fn value(&mut self) -> String {
            const ATOMS: &[&str] = &[
                "0",
                "1",
                "9",
                "-",
                ".",
                "e",
                "E",
                "+",
                "inf",
                "NaN",
                "-1",
                "1e308",
                "18446744073709551615",
                "99999999999999999999",
                "h",
                "m",
                "s",
                "ms",
                "µs",
                "d",
                "T",
                "Z",
                ":",
                " ",
                ",",
                "GMT",
                "Sun, 06 Nov 1994 08:49:37 GMT",
                "2026-01-01T00:00:00Z",
                "rejected",
                "allowed",
                "ü",
                "\u{0}",
            ];
            let n = self.next() % 6;
            (0..n).map(|_| self.pick(ATOMS)).collect()
        }
    }

    pub(crate) const NAMES: &[&str] = &[
        "anthropic-ratelimit-unified-status",
        "anthropic-ratelimit-unified-reset",
        "anthropic-ratelimit-unified-representative-claim",
        "anthropic-ratelimit-unified-5h-utilization",
        "anthropic-ratelimit-unified-5h-reset",
        "anthropic-ratelimit-unified-5h-status",
        "anthropic-ratelimit-unified-7d_opus-utilization",
        "anthropic-ratelimit-unified-7d-status",
        "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset",
        "x-codex-primary-used-percent",
        "x-codex-primary-window-minutes",
        "x-codex-primary-reset-at",
        "x-codex-primary-reset-after-seconds",
        "x-codex-x-secondary-window-minutes",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
        "x-ratelimit-reset",
        "retry-after",
        "x-codex--primary-used-percent",
    ];

    #[test]
    fn fuzz_garbage_never_panics() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let n = (rng.next() % 8) as usize;
            let vals: Vec<(String, String)> = (0..n)
                .map(|_| (rng.pick(NAMES).to_string(), rng.value()))
                .collect();
            let now = [0, NOW, u64::MAX][(rng.next() % 3) as usize];
            let r = read(vals.iter().map(|(k, v)| (k.as_str(), v.as_str())), now);
            for w in &r.windows {
                assert!((0.0..=100.0).contains(&w.used_pct), "{w:?}");
            }
            for (_, v) in &vals {
                let _ = parse_rfc3339(v);
            }
        }
    }
}
