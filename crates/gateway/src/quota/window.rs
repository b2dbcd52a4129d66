//! The common window model (docs/quota.md §1, §3) and the decisions made on it (§7).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Which limit a window describes. Serialized as the docs/quota.md §1 kind strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WindowKind {
    FiveHour,
    Weekly,
    /// Per-model weekly window, e.g. `weekly_model:opus`.
    WeeklyModel(String),
    Monthly,
    /// Per-model daily window (Gemini buckets), e.g. `daily_model:gemini-2.5-pro`.
    DailyModel(String),
    Credits,
    /// API-key request-rate window (`*-requests` headers).
    Requests,
    /// API-key token-rate window (`*-tokens` headers).
    Tokens,
}

impl WindowKind {
    /// Short tag for the tray title and compact rows (docs/quota.md §3).
    pub fn tag(&self) -> String {
        match self {
            Self::FiveHour => "5h".into(),
            Self::Weekly => "w".into(),
            Self::WeeklyModel(m) => format!("w·{m}"),
            Self::Monthly => "m".into(),
            Self::DailyModel(_) => "d".into(),
            Self::Credits => "c".into(),
            Self::Requests => "req".into(),
            Self::Tokens => "tok".into(),
        }
    }

    /// Human label for menus and the dashboard.
    pub fn label(&self) -> String {
        match self {
            Self::FiveHour => "5-hour".into(),
            Self::Weekly => "Weekly".into(),
            Self::WeeklyModel(m) => format!("Weekly ({})", capitalize(m)),
            Self::Monthly => "Monthly".into(),
            Self::DailyModel(id) => format!("Daily ({})", family(id)),
            Self::Credits => "Credits".into(),
            Self::Requests => "Requests".into(),
            Self::Tokens => "Tokens".into(),
        }
    }

    /// Nominal length, used when a source does not state it.
    pub fn nominal_seconds(&self) -> Option<u64> {
        match self {
            Self::FiveHour => Some(5 * 3600),
            Self::Weekly | Self::WeeklyModel(_) => Some(7 * 86400),
            Self::Monthly => Some(30 * 86400),
            Self::DailyModel(_) => Some(86400),
            Self::Credits | Self::Requests | Self::Tokens => None,
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Gemini model family for display ("Daily (Flash)"); docs/quota.md §2.4 groups by Pro / Flash / Flash-Lite.
fn family(id: &str) -> String {
    let l = id.to_ascii_lowercase();
    if l.contains("flash-lite") {
        "Flash-Lite".into()
    } else if l.contains("flash") {
        "Flash".into()
    } else if l.contains("pro") {
        "Pro".into()
    } else {
        id.into()
    }
}

impl fmt::Display for WindowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FiveHour => f.write_str("five_hour"),
            Self::Weekly => f.write_str("weekly"),
            Self::WeeklyModel(m) => write!(f, "weekly_model:{m}"),
            Self::Monthly => f.write_str("monthly"),
            Self::DailyModel(id) => write!(f, "daily_model:{id}"),
            Self::Credits => f.write_str("credits"),
            Self::Requests => f.write_str("requests"),
            Self::Tokens => f.write_str("tokens"),
        }
    }
}

impl FromStr for WindowKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let named = |rest: &str| (!rest.is_empty()).then(|| rest.to_string());
        Ok(match s {
            "five_hour" => Self::FiveHour,
            "weekly" => Self::Weekly,
            "monthly" => Self::Monthly,
            "credits" => Self::Credits,
            "requests" => Self::Requests,
            "tokens" => Self::Tokens,
            _ => {
                if let Some(m) = s.strip_prefix("weekly_model:").and_then(named) {
                    Self::WeeklyModel(m)
                } else if let Some(id) = s.strip_prefix("daily_model:").and_then(named) {
                    Self::DailyModel(id)
                } else {
                    return Err(format!("unknown quota window kind `{s}`"));
                }
            }
        })
    }
}

impl Serialize for WindowKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WindowKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WindowStatus {
    Allowed,
    Warning,
    /// Exhausted: the upstream refuses until `resets_at`.
    Rejected,
    Unknown,
}

/// Where a reading came from; docs/quota.md §1 spells the last one `error-hint`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Headers,
    Poll,
    ErrorHint,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct QuotaWindow {
    pub kind: WindowKind,
    /// 0–100, always *used* (every source is normalised to this).
    pub used_pct: f64,
    /// Unix seconds of the next reset, if known.
    pub resets_at: Option<u64>,
    pub status: WindowStatus,
    pub source: Source,
    /// Unix seconds of the observation (drives staleness and "updated … ago").
    pub observed_at: u64,
    pub window_seconds: Option<u64>,
}

/// Apply an update: each updated kind replaces the stored one, other kinds are kept.
/// An update observed *before* the stored window is ignored, so a slow poll that finishes after a
/// proxied response cannot roll fresher header data back.
pub fn merge(existing: &mut Vec<QuotaWindow>, update: Vec<QuotaWindow>) {
    for w in update {
        match existing.iter_mut().find(|e| e.kind == w.kind) {
            Some(e) if e.observed_at > w.observed_at => {}
            Some(e) => *e = w,
            None => existing.push(w),
        }
    }
}

/// The window most likely to block next: highest `used_pct`, ties → earliest `resets_at`
/// (a known reset sorts before an unknown one).
pub fn primary(windows: &[QuotaWindow]) -> Option<&QuotaWindow> {
    let pct = |w: &QuotaWindow| {
        if w.used_pct.is_nan() {
            -1.0
        } else {
            w.used_pct
        }
    };
    windows.iter().min_by(|a, b| {
        pct(b).total_cmp(&pct(a)).then_with(|| {
            a.resets_at
                .unwrap_or(u64::MAX)
                .cmp(&b.resets_at.unwrap_or(u64::MAX))
        })
    })
}

/// Thresholds at which an account leaves rotation (docs/quota.md §7 "Leave at threshold").
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(default)]
pub struct Thresholds {
    pub five_hour_pct: f64,
    /// Applies to `weekly` and every `weekly_model:*`.
    pub weekly_pct: f64,
    /// Every other kind: by default only an exhausted window counts.
    pub other_pct: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            five_hour_pct: 95.0,
            weekly_pct: 98.0,
            other_pct: 100.0,
        }
    }
}

impl Thresholds {
    pub fn for_kind(&self, kind: &WindowKind) -> f64 {
        match kind {
            WindowKind::FiveHour => self.five_hour_pct,
            WindowKind::Weekly | WindowKind::WeeklyModel(_) => self.weekly_pct,
            _ => self.other_pct,
        }
    }
}

/// A window whose reset has passed describes an expired instance: its numbers no longer bind.
fn expired(w: &QuotaWindow, now: u64) -> bool {
    w.resets_at.is_some_and(|r| r <= now)
}

/// Exhausted = rejected or at 100 %, until `resets_at` (an unknown reset stays exhausted).
/// Takes `now` (unlike a plain flag check) so a rejection clears itself at the reset.
pub fn is_exhausted(w: &QuotaWindow, now: u64) -> bool {
    !expired(w, now) && (w.status == WindowStatus::Rejected || w.used_pct >= 100.0)
}

/// True when routing should stop sending new conversations through this window's account.
pub fn over_threshold(w: &QuotaWindow, t: &Thresholds, now: u64) -> bool {
    is_exhausted(w, now) || (!expired(w, now) && w.used_pct >= t.for_kind(&w.kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn win(kind: WindowKind, used: f64, resets: Option<u64>) -> QuotaWindow {
        QuotaWindow {
            kind,
            used_pct: used,
            resets_at: resets,
            status: WindowStatus::Allowed,
            source: Source::Headers,
            observed_at: 1000,
            window_seconds: None,
        }
    }

    #[test]
    fn kind_strings_round_trip() {
        let kinds = [
            (WindowKind::FiveHour, "five_hour", "5h", "5-hour"),
            (WindowKind::Weekly, "weekly", "w", "Weekly"),
            (
                WindowKind::WeeklyModel("opus".into()),
                "weekly_model:opus",
                "w·opus",
                "Weekly (Opus)",
            ),
            (WindowKind::Monthly, "monthly", "m", "Monthly"),
            (
                WindowKind::DailyModel("gemini-2.5-flash-lite".into()),
                "daily_model:gemini-2.5-flash-lite",
                "d",
                "Daily (Flash-Lite)",
            ),
            (WindowKind::Credits, "credits", "c", "Credits"),
            (WindowKind::Requests, "requests", "req", "Requests"),
            (WindowKind::Tokens, "tokens", "tok", "Tokens"),
        ];
        for (k, s, tag, label) in kinds {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<WindowKind>(&json).unwrap(), k);
            assert_eq!((k.tag().as_str(), k.label().as_str()), (tag, label));
        }
        for bad in ["\"hourly\"", "\"weekly_model:\"", "\"\"", "3"] {
            assert!(serde_json::from_str::<WindowKind>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn window_json_shape() {
        let w = QuotaWindow {
            source: Source::ErrorHint,
            ..win(WindowKind::FiveHour, 42.0, Some(5))
        };
        let v = serde_json::to_value(&w).unwrap();
        assert_eq!(v["kind"], "five_hour");
        assert_eq!(v["status"], "allowed");
        assert_eq!(v["source"], "error-hint");
        assert_eq!(serde_json::from_value::<QuotaWindow>(v).unwrap(), w);
    }

    #[test]
    fn merge_replaces_same_kind_keeps_others_and_ignores_older() {
        let mut ws = vec![
            win(WindowKind::FiveHour, 10.0, None),
            win(WindowKind::Weekly, 20.0, None),
        ];
        merge(
            &mut ws,
            vec![
                win(WindowKind::FiveHour, 50.0, None),
                win(WindowKind::Monthly, 1.0, None),
            ],
        );
        let pcts: Vec<f64> = ws.iter().map(|w| w.used_pct).collect();
        assert_eq!(pcts, [50.0, 20.0, 1.0]);
        let old = QuotaWindow {
            observed_at: 999,
            ..win(WindowKind::Weekly, 99.0, None)
        };
        merge(&mut ws, vec![old]);
        assert_eq!(ws[1].used_pct, 20.0);
    }

    #[test]
    fn primary_highest_then_earliest_reset() {
        assert!(primary(&[]).is_none());
        let ws = [
            win(WindowKind::FiveHour, 40.0, Some(100)),
            win(WindowKind::Weekly, 70.0, None),
            win(WindowKind::WeeklyModel("opus".into()), 70.0, Some(500)),
            win(WindowKind::Monthly, f64::NAN, Some(1)),
        ];
        assert_eq!(
            primary(&ws).unwrap().kind,
            WindowKind::WeeklyModel("opus".into())
        );
    }

    #[test]
    fn thresholds_and_exhaustion() {
        let t = Thresholds::default();
        let now = 1000;
        assert!(over_threshold(
            &win(WindowKind::FiveHour, 95.0, Some(2000)),
            &t,
            now
        ));
        assert!(!over_threshold(
            &win(WindowKind::FiveHour, 94.9, Some(2000)),
            &t,
            now
        ));
        assert!(!over_threshold(
            &win(WindowKind::Weekly, 97.0, None),
            &t,
            now
        ));
        assert!(over_threshold(
            &win(WindowKind::WeeklyModel("opus".into()), 98.0, None),
            &t,
            now
        ));
        assert!(!over_threshold(
            &win(WindowKind::Monthly, 99.0, None),
            &t,
            now
        ));
        let rejected = QuotaWindow {
            status: WindowStatus::Rejected,
            ..win(WindowKind::Requests, 3.0, Some(2000))
        };
        assert!(is_exhausted(&rejected, now) && over_threshold(&rejected, &t, now));
        // The reset passed: the old numbers no longer bind.
        assert!(!is_exhausted(&rejected, 2000));
        assert!(!over_threshold(
            &win(WindowKind::FiveHour, 100.0, Some(2000)),
            &t,
            2000
        ));
        assert!(is_exhausted(
            &win(WindowKind::FiveHour, 100.0, None),
            u64::MAX
        ));
    }
}
