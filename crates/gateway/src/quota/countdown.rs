//! Tray and dashboard text computed locally from stored timestamps (docs/quota.md §5, §7).

use super::window::{is_exhausted, QuotaWindow};

/// Data older than this is shown with its age instead of being hidden (docs/quota.md §5 "Stale data").
pub const STALE_AFTER: u64 = 30 * 60;

/// Countdown components, or `None` for "now". Rounds up so a countdown never promises a reset
/// earlier than it happens (docs/quota.md §5 rules 1–5).
fn parts(resets_at: u64, now: u64) -> Option<Vec<String>> {
    let secs = resets_at.saturating_sub(now);
    if secs < 1 {
        return None;
    }
    let m = secs.div_ceil(60);
    let (big, small, units) = if m >= 1440 {
        let h = m.div_ceil(60);
        (h / 24, h % 24, ["d", "h"])
    } else if m >= 60 {
        (m / 60, m % 60, ["h", "m"])
    } else {
        (m, 0, ["m", ""])
    };
    let mut out = vec![format!("{big}{}", units[0])];
    if small > 0 {
        out.push(format!("{small}{}", units[1]));
    }
    Some(out)
}

/// "now", "in 1m", "in 2h 13m", "in 1d 2h", "in 3d".
pub fn countdown(resets_at: u64, now: u64) -> String {
    parts(resets_at, now).map_or_else(|| "now".into(), |p| format!("in {}", p.join(" ")))
}

/// The macOS tray-title form: "2h13m", "1d2h", "3d", "now".
pub fn compact(resets_at: u64, now: u64) -> String {
    parts(resets_at, now).map_or_else(|| "now".into(), |p| p.concat())
}

/// Integer percent; "<1%" for (0, 1); "100%" is reserved for an exhausted window so a rounded
/// 99.6 % never reads as "blocked".
pub fn percent(used_pct: f64, exhausted: bool) -> String {
    if exhausted {
        return "100%".into();
    }
    match used_pct {
        p if p.is_nan() || p <= 0.0 => "0%".into(),
        p if p < 1.0 => "<1%".into(),
        p => format!("{}%", p.round().min(99.0) as u32),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Green,
    Amber,
    Red,
    Grey,
}

/// Colour of the primary window: green < 70, amber 70–89, red ≥ 90, grey unknown or stale.
pub fn level(used_pct: Option<f64>, stale: bool) -> Level {
    match used_pct {
        _ if stale => Level::Grey,
        Some(p) if p >= 90.0 => Level::Red,
        Some(p) if p >= 70.0 => Level::Amber,
        Some(p) if p.is_finite() => Level::Green,
        _ => Level::Grey,
    }
}

pub fn emoji(level: Level) -> &'static str {
    match level {
        Level::Green => "🟢",
        Level::Amber => "🟡",
        Level::Red => "🔴",
        Level::Grey => "⚪",
    }
}

/// "updated just now", "updated 12 min ago", "updated 3 h ago", "updated 2 d ago".
pub fn age(observed_at: u64, now: u64) -> String {
    match now.saturating_sub(observed_at) {
        s if s < 60 => "updated just now".into(),
        s if s < 3600 => format!("updated {} min ago", s / 60),
        s if s < 86400 => format!("updated {} h ago", s / 3600),
        s => format!("updated {} d ago", s / 86400),
    }
}

/// One menu row: "Claude (work) · 5h 42% · resets in 2h 13m". A passed reset reads "reset" (the
/// numbers are from the previous window); stale data keeps its values and adds its age.
pub fn row(label: &str, w: &QuotaWindow, now: u64) -> String {
    let mut s = format!(
        "{label} · {} {}",
        w.kind.tag(),
        percent(w.used_pct, is_exhausted(w, now))
    );
    match w.resets_at {
        None => {}
        Some(r) if r <= now => s.push_str(" · reset"),
        Some(r) => s.push_str(&format!(" · resets {}", countdown(r, now))),
    }
    if now.saturating_sub(w.observed_at) > STALE_AFTER {
        s.push_str(&format!(" · {}", age(w.observed_at, now)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::window::{Source, WindowKind, WindowStatus};
    use super::*;

    const NOW: u64 = 1_767_225_600;

    #[test]
    fn quota_md_table() {
        // Clocks are whole seconds: 0.4 s left truncates to 0 s.
        let table = [
            (0, "now", "now"),
            (59, "in 1m", "1m"),
            (61, "in 2m", "2m"),
            (3600, "in 1h", "1h"),
            (2 * 3600 + 12 * 60 + 1, "in 2h 13m", "2h13m"),
            (25 * 3600 + 10 * 60, "in 1d 2h", "1d2h"),
            (72 * 3600, "in 3d", "3d"),
        ];
        for (left, long, short) in table {
            assert_eq!(countdown(NOW + left, NOW), long, "{left}");
            assert_eq!(compact(NOW + left, NOW), short, "{left}");
        }
    }

    #[test]
    fn countdown_edges() {
        assert_eq!(countdown(NOW - 5, NOW), "now");
        assert_eq!(countdown(NOW + 1, NOW), "in 1m");
        assert_eq!(countdown(NOW + 60, NOW), "in 1m");
        assert_eq!(countdown(NOW + 3599, NOW), "in 1h");
        assert_eq!(countdown(NOW + 3601, NOW), "in 1h 1m");
        assert_eq!(countdown(NOW + 1439 * 60, NOW), "in 23h 59m");
        assert_eq!(countdown(NOW + 1439 * 60 + 1, NOW), "in 1d");
        assert_eq!(countdown(NOW + 47 * 3600 + 1, NOW), "in 2d"); // hours carry into days
        assert!(countdown(u64::MAX, 0).starts_with("in 213503982334601d")); // no overflow
    }

    #[test]
    fn percents() {
        let cases = [
            (0.0, "0%"),
            (0.4, "<1%"),
            (1.0, "1%"),
            (41.6, "42%"),
            (99.6, "99%"),
            (100.0, "99%"),
            (f64::NAN, "0%"),
        ];
        for (p, s) in cases {
            assert_eq!(percent(p, false), s, "{p}");
        }
        assert_eq!(percent(42.0, true), "100%");
    }

    #[test]
    fn levels() {
        let l = |p| level(Some(p), false);
        assert_eq!(
            [l(0.0), l(69.9), l(70.0), l(89.9), l(90.0), l(100.0)],
            [
                Level::Green,
                Level::Green,
                Level::Amber,
                Level::Amber,
                Level::Red,
                Level::Red
            ]
        );
        assert_eq!(level(None, false), Level::Grey);
        assert_eq!(level(Some(95.0), true), Level::Grey);
        assert_eq!(level(Some(f64::NAN), false), Level::Grey);
        let e: Vec<_> = [Level::Green, Level::Amber, Level::Red, Level::Grey]
            .map(emoji)
            .into();
        assert_eq!(e, ["🟢", "🟡", "🔴", "⚪"]);
    }

    #[test]
    fn ages() {
        assert_eq!(age(NOW, NOW), "updated just now");
        assert_eq!(age(NOW + 10, NOW), "updated just now");
        assert_eq!(age(NOW - 12 * 60 - 30, NOW), "updated 12 min ago");
        assert_eq!(age(NOW - 3 * 3600 - 59, NOW), "updated 3 h ago");
        assert_eq!(age(NOW - 2 * 86400, NOW), "updated 2 d ago");
    }

    #[test]
    fn rows() {
        let mut w = QuotaWindow {
            kind: WindowKind::FiveHour,
            used_pct: 42.0,
            resets_at: Some(NOW + 2 * 3600 + 12 * 60 + 1),
            status: WindowStatus::Allowed,
            source: Source::Headers,
            observed_at: NOW - 60,
            window_seconds: Some(18000),
        };
        assert_eq!(
            row("Claude (work)", &w, NOW),
            "Claude (work) · 5h 42% · resets in 2h 13m"
        );
        w.observed_at = NOW - 40 * 60;
        assert_eq!(
            row("Claude (work)", &w, NOW),
            "Claude (work) · 5h 42% · resets in 2h 13m · updated 40 min ago"
        );
        w.observed_at = NOW;
        w.resets_at = None;
        assert_eq!(row("Max", &w, NOW), "Max · 5h 42%");
        w.kind = WindowKind::WeeklyModel("opus".into());
        w.status = WindowStatus::Rejected;
        w.resets_at = Some(NOW + 3 * 86400);
        assert_eq!(row("Max", &w, NOW), "Max · w·opus 100% · resets in 3d");
        // Reset passed: no longer exhausted, and says so.
        w.observed_at = NOW + 3 * 86400 - 60;
        assert_eq!(row("Max", &w, NOW + 3 * 86400), "Max · w·opus 42% · reset");
    }
}
