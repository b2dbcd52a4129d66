//! Cooldown lengths (docs/routing.md §7): exponential back-off per provider kind, upstream reset hints,
//! and the local-midnight lock for "daily quota" errors.

use std::time::Duration;

use super::classify::ProviderKind;
use super::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    pub base: Duration,
    pub max_level: u32,
}

impl BackoffConfig {
    /// Ceilings: OAuth ≈ 21 min, API key 96 s, local 16 s.
    pub fn for_kind(kind: ProviderKind) -> Self {
        let (base, max_level) = match kind {
            ProviderKind::OAuth => (5, 8),
            ProviderKind::ApiKey => (3, 5),
            ProviderKind::Local => (2, 3),
        };
        Self {
            base: Duration::from_secs(base),
            max_level,
        }
    }
}

/// Cooldown for an account at back-off `level` (0 on the first failure): `base × 2^level`, with
/// `level` capped at `max_level`.
pub fn delay(cfg: &BackoffConfig, level: u32) -> Duration {
    cfg.base
        .saturating_mul(2u32.saturating_pow(level.min(cfg.max_level)))
}

/// The level to store after another consecutive failure (reset it to 0 on success).
pub fn next_level(cfg: &BackoffConfig, level: u32) -> u32 {
    level.saturating_add(1).min(cfg.max_level)
}

const HINT_CAP: Duration = Duration::from_secs(7 * 24 * 3600);
/// Hints longer than this are window resets that many clients wait for at once.
const RESET_HINT_MIN: Duration = Duration::from_secs(30);
const SAME_ACCOUNT_RETRY_MAX_HINT: Duration = Duration::from_secs(2);

/// Cooldown from an upstream hint (`retry-after`, reset headers, `retryDelay`…). Reset-based
/// hints get 1–30 s of jitter so several clients do not stampede at the reset second; every hint
/// is capped at 7 days so a bogus header cannot park an account forever.
pub fn hint_cooldown(hint: Duration, rng: &mut Rng) -> Duration {
    let cooldown = if hint > RESET_HINT_MIN {
        hint.saturating_add(Duration::from_secs(1 + rng.below(30) as u64))
    } else {
        hint
    };
    cooldown.min(HINT_CAP)
}

/// A rate-limited account is retried in place only when the upstream asks for a wait this short.
pub fn hint_allows_same_account_retry(hint: Duration) -> bool {
    hint <= SAME_ACCOUNT_RETRY_MAX_HINT
}

/// Unix seconds of the next local midnight strictly after `now_unix`, for a zone `utc_offset_secs`
/// east of UTC.
pub fn until_local_midnight(now_unix: u64, utc_offset_secs: i32) -> u64 {
    const DAY: i64 = 86_400;
    let offset = i64::from(utc_offset_secs);
    let local = now_unix as i64 + offset;
    let next_local_midnight = (local.div_euclid(DAY) + 1) * DAY;
    (next_local_midnight - offset).max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn levels_and_ceilings_per_kind() {
        let cases = [
            (
                ProviderKind::OAuth,
                [5, 10, 20, 40, 80, 160, 320, 640, 1280, 1280],
            ),
            (ProviderKind::ApiKey, [3, 6, 12, 24, 48, 96, 96, 96, 96, 96]),
            (ProviderKind::Local, [2, 4, 8, 16, 16, 16, 16, 16, 16, 16]),
        ];
        for (kind, want) in cases {
            let cfg = BackoffConfig::for_kind(kind);
            let got: Vec<u64> = (0..10).map(|l| delay(&cfg, l).as_secs()).collect();
            assert_eq!(got, want, "{kind:?}");
            assert_eq!(delay(&cfg, u32::MAX), secs(want[9]));
        }
    }

    #[test]
    fn next_level_caps() {
        let cfg = BackoffConfig::for_kind(ProviderKind::Local);
        assert_eq!(next_level(&cfg, 0), 1);
        assert_eq!(next_level(&cfg, 2), 3);
        assert_eq!(next_level(&cfg, 3), 3);
        assert_eq!(next_level(&cfg, u32::MAX), 3);
        // A configured level beyond 31 must not overflow.
        let huge = BackoffConfig {
            base: secs(1),
            max_level: 100,
        };
        assert_eq!(delay(&huge, 100), secs(u64::from(u32::MAX)));
    }

    #[test]
    fn hints() {
        let mut rng = Rng::seeded(5);
        assert_eq!(hint_cooldown(secs(2), &mut rng), secs(2));
        assert_eq!(hint_cooldown(secs(30), &mut rng), secs(30));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let d = hint_cooldown(secs(3600), &mut rng);
            assert!((secs(3601)..=secs(3630)).contains(&d), "{d:?}");
            seen.insert(d);
        }
        assert_eq!(seen.len(), 30, "every jitter second 1..=30 occurs");
        assert_eq!(hint_cooldown(secs(30 * 86_400), &mut rng), HINT_CAP);
        assert!(hint_allows_same_account_retry(secs(2)));
        assert!(!hint_allows_same_account_retry(Duration::from_millis(2001)));
    }

    #[test]
    fn local_midnight() {
        assert_eq!(until_local_midnight(0, 0), 86_400);
        assert_eq!(until_local_midnight(86_399, 0), 86_400);
        assert_eq!(until_local_midnight(86_400, 0), 2 * 86_400);
        // UTC+1: 22:59:59 UTC is 23:59:59 local; midnight local is 23:00 UTC.
        assert_eq!(until_local_midnight(86_400 - 3601, 3600), 86_400 - 3600);
        assert_eq!(until_local_midnight(86_400 - 3600, 3600), 2 * 86_400 - 3600);
        // UTC-5: 03:00 UTC on day 1 is 22:00 local on day 0; midnight local is 05:00 UTC.
        assert_eq!(
            until_local_midnight(86_400 + 3 * 3600, -18_000),
            86_400 + 5 * 3600
        );
    }
}
