//! Combo target ordering (docs/routing.md §4.1) and account selection inside a provider (§5).
//!
//! Both take facts about candidates the caller has already gathered and return indices into
//! them; availability filtering (cooldowns, locks, open breakers) stays with the caller.

use std::cmp::Ordering;
use std::iter;
use std::time::Instant;

use super::rng::Rng;

pub use switchyard_types::{AccountStrategy, ComboStrategy};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetFacts {
    pub weight: u32,
    /// Breaker health score (`Breaker::health`).
    pub health: f64,
    pub recent_requests: u64,
    /// Input + output price per 1M tokens, cache-aware; `None` when unknown.
    pub price_per_mtok: Option<f64>,
    pub quota: Option<QuotaFacts>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuotaFacts {
    pub used_pct: f64,
    pub resets_in_secs: Option<u64>,
    pub over_threshold: bool,
}

/// Per-combo state that survives between requests.
#[derive(Debug, Clone, Default)]
pub struct ComboCursor {
    rr_start: usize,
    rr_served: u32,
    /// Strict-random: targets that have not led a request yet this cycle.
    deck: Vec<usize>,
    /// Target count the deck was dealt for; an edited combo gets a new deck.
    deck_size: usize,
}

/// Headroom difference (percentage points) under which quota-aware prefers the sooner reset.
const QUOTA_TIE_BAND: f64 = 5.0;

/// A permutation of `0..targets.len()`: the order to try the targets in for one request.
pub fn order_targets(
    s: ComboStrategy,
    targets: &[TargetFacts],
    sticky_limit: u32,
    cursor: &mut ComboCursor,
    rng: &mut Rng,
) -> Vec<usize> {
    let n = targets.len();
    let mut listed: Vec<usize> = (0..n).collect();
    if n < 2 {
        return listed;
    }
    match s {
        ComboStrategy::Priority => listed,
        ComboStrategy::RoundRobin => {
            if cursor.rr_served >= sticky_limit.max(1) {
                cursor.rr_start += 1;
                cursor.rr_served = 0;
            }
            cursor.rr_start %= n;
            cursor.rr_served += 1;
            (0..n).map(|k| (cursor.rr_start + k) % n).collect()
        }
        ComboStrategy::Weighted => weighted(targets, rng),
        ComboStrategy::Random => {
            rng.shuffle(&mut listed);
            listed
        }
        ComboStrategy::StrictRandom => {
            if cursor.deck.is_empty() || cursor.deck_size != n {
                cursor.deck = (0..n).collect();
                rng.shuffle(&mut cursor.deck);
                cursor.deck_size = n;
            }
            let first = cursor.deck.pop().expect("deck was dealt for n >= 2");
            let mut rest: Vec<usize> = (0..n).filter(|&i| i != first).collect();
            rng.shuffle(&mut rest);
            iter::once(first).chain(rest).collect()
        }
        ComboStrategy::P2c => {
            let a = rng.below(n);
            let b = (a + 1 + rng.below(n - 1)) % n;
            let first = match targets[b].health.total_cmp(&targets[a].health) {
                Ordering::Greater => b,
                Ordering::Less => a,
                Ordering::Equal => a.min(b),
            };
            lead_with(first, n)
        }
        ComboStrategy::LeastUsed => {
            listed.sort_by_key(|&i| targets[i].recent_requests);
            listed
        }
        ComboStrategy::CostOptimized => {
            let price = |i: usize| targets[i].price_per_mtok.filter(|p| p.is_finite());
            listed.sort_by(|&a, &b| match (price(a), price(b)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            });
            listed
        }
        ComboStrategy::QuotaAware => quota_aware(targets),
    }
}

/// `first`, then every other index in listed order.
fn lead_with(first: usize, n: usize) -> Vec<usize> {
    iter::once(first)
        .chain((0..n).filter(|&i| i != first))
        .collect()
}

fn weighted(targets: &[TargetFacts], rng: &mut Rng) -> Vec<usize> {
    let total: usize = targets.iter().map(|t| t.weight as usize).sum();
    if total == 0 {
        return (0..targets.len()).collect();
    }
    let mut r = rng.below(total);
    for (i, t) in targets.iter().enumerate() {
        let w = t.weight as usize;
        if r < w {
            return lead_with(i, targets.len());
        }
        r -= w;
    }
    unreachable!("r < total")
}

/// Known headroom first (greedy: the soonest reset within the tie band of the best remaining
/// headroom), then targets without quota data, then those over their threshold — kept, not
/// dropped, because availability is the caller's call (an account may be re-admitted at reset).
fn quota_aware(targets: &[TargetFacts]) -> Vec<usize> {
    let (mut known, mut unknown, mut over) = (Vec::new(), Vec::new(), Vec::new());
    for (i, t) in targets.iter().enumerate() {
        match t.quota {
            Some(q) if q.over_threshold => over.push(i),
            Some(q) if q.used_pct.is_finite() => {
                known.push((i, 100.0 - q.used_pct, q.resets_in_secs))
            }
            _ => unknown.push(i),
        }
    }
    let mut out = Vec::with_capacity(targets.len());
    while !known.is_empty() {
        let best = known.iter().map(|k| k.1).fold(f64::MIN, f64::max);
        // "Use it or lose it": within the band the sooner reset wins; no reset time goes last.
        let pos = (0..known.len())
            .filter(|&p| known[p].1 >= best - QUOTA_TIE_BAND)
            .min_by_key(|&p| (known[p].2.is_none(), known[p].2, known[p].0))
            .expect("the best headroom is inside its own band");
        out.push(known.remove(pos).0);
    }
    out.extend(unknown);
    out.extend(over);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AccountFacts {
    /// Lower is preferred (1 = first).
    pub priority: u32,
    pub last_used: Option<Instant>,
    /// Consecutive requests this account has served as the most recently used one.
    pub consecutive_uses: u32,
    pub backoff_level: u32,
    pub recent_errors: u32,
    pub quota_used_pct: Option<f64>,
    pub quota_exhausted: bool,
}

/// Picks one of the candidates `c` (already filtered to available ones, sticky session account
/// handled by the caller). `last_picked` is the index in `c` of the most recently used account,
/// `excluded_this_request` whether this request already moved off an account.
pub fn pick_account(
    s: AccountStrategy,
    c: &[AccountFacts],
    sticky_limit: u32,
    last_picked: Option<usize>,
    excluded_this_request: bool,
    rng: &mut Rng,
) -> Option<usize> {
    let n = c.len();
    if n == 0 {
        return None;
    }
    match s {
        AccountStrategy::FillFirst => (0..n).min_by_key(|&i| c[i].priority),
        AccountStrategy::RoundRobin => match last_picked {
            Some(i)
                if !excluded_this_request
                    && i < n
                    && c[i].consecutive_uses < sticky_limit.max(1) =>
            {
                Some(i)
            }
            _ => least_recently_used(c),
        },
        AccountStrategy::P2c => {
            if n == 1 {
                return Some(0);
            }
            let a = rng.below(n);
            let b = (a + 1 + rng.below(n - 1)) % n;
            Some(match penalty(&c[b]).total_cmp(&penalty(&c[a])) {
                Ordering::Less => b,
                Ordering::Greater => a,
                Ordering::Equal => a.min(b),
            })
        }
        AccountStrategy::Random => Some(rng.below(n)),
        AccountStrategy::LeastUsed => least_recently_used(c),
    }
}

/// Never-used accounts first; ties: lower back-off level, then priority, then listed order.
fn least_recently_used(c: &[AccountFacts]) -> Option<usize> {
    (0..c.len()).min_by_key(|&i| (c[i].last_used, c[i].backoff_level, c[i].priority))
}

/// §5 p2c penalty, lower is better. The spec leaves the weights of recent errors and quota
/// headroom open: 10 per recent error (max 50) and 0–10 for 0–100 % used. "Quota blocked" (+80)
/// cannot occur here because over-threshold accounts are not candidates.
fn penalty(a: &AccountFacts) -> f64 {
    let exhausted = if a.quota_exhausted { 200 } else { 0 };
    let errors = a.recent_errors.saturating_mul(10).min(50);
    let backoff = a.backoff_level.saturating_mul(8).min(40);
    let streak = a.consecutive_uses.saturating_mul(2).min(12);
    let priority = a.priority.saturating_sub(1).min(6);
    let used = a.quota_used_pct.map_or(0.0, |u| u.clamp(0.0, 100.0) / 10.0);
    f64::from(exhausted + errors + backoff + streak + priority) + used
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn parse_agrees_with_serde() {
        for name in [
            "priority",
            "fill-first",
            "round-robin",
            "weighted",
            "random",
            "strict-random",
            "p2c",
            "least-used",
            "cost-optimized",
            "quota-aware",
        ] {
            let via_serde: ComboStrategy =
                serde_json::from_value(serde_json::Value::String(name.into())).unwrap();
            assert_eq!(ComboStrategy::parse(name), Some(via_serde), "{name}");
        }
        for name in ["fill-first", "round-robin", "p2c", "random", "least-used"] {
            let via_serde: AccountStrategy =
                serde_json::from_value(serde_json::Value::String(name.into())).unwrap();
            assert_eq!(AccountStrategy::parse(name), Some(via_serde), "{name}");
        }
        assert_eq!(ComboStrategy::parse("fastest"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn target(weight: u32) -> TargetFacts {
        TargetFacts {
            weight,
            health: 1.0,
            recent_requests: 0,
            price_per_mtok: None,
            quota: None,
        }
    }

    fn targets(n: usize) -> Vec<TargetFacts> {
        vec![target(1); n]
    }

    fn order(s: ComboStrategy, t: &[TargetFacts]) -> Vec<usize> {
        order_targets(s, t, 3, &mut ComboCursor::default(), &mut Rng::seeded(1))
    }

    fn is_permutation(mut v: Vec<usize>, n: usize) -> bool {
        v.sort_unstable();
        v == (0..n).collect::<Vec<_>>()
    }

    #[test]
    fn serde_names() {
        let s: ComboStrategy = serde_json::from_str("\"fill-first\"").unwrap();
        assert_eq!(s, ComboStrategy::Priority);
        let s: ComboStrategy = serde_json::from_str("\"strict-random\"").unwrap();
        assert_eq!(s, ComboStrategy::StrictRandom);
        assert_eq!(
            serde_json::to_string(&ComboStrategy::P2c).unwrap(),
            "\"p2c\""
        );
        let s = serde_json::to_string(&ComboStrategy::QuotaAware).unwrap();
        assert_eq!(s, "\"quota-aware\"");
        assert_eq!(ComboStrategy::default(), ComboStrategy::Priority);
        let a: AccountStrategy = serde_json::from_str("\"least-used\"").unwrap();
        assert_eq!(a, AccountStrategy::LeastUsed);
        assert_eq!(AccountStrategy::default(), AccountStrategy::FillFirst);
    }

    #[test]
    fn priority_keeps_listed_order() {
        assert_eq!(order(ComboStrategy::Priority, &targets(4)), [0, 1, 2, 3]);
        assert_eq!(order(ComboStrategy::Random, &targets(1)), [0]);
        assert!(order(ComboStrategy::Random, &[]).is_empty());
    }

    #[test]
    fn round_robin_sticky_3_over_7_requests() {
        let t = targets(3);
        let (mut cur, mut rng) = (ComboCursor::default(), Rng::seeded(1));
        let got: Vec<Vec<usize>> = (0..7)
            .map(|_| order_targets(ComboStrategy::RoundRobin, &t, 3, &mut cur, &mut rng))
            .collect();
        let a = vec![0, 1, 2];
        let b = vec![1, 2, 0];
        let c = vec![2, 0, 1];
        assert_eq!(got, [a.clone(), a.clone(), a, b.clone(), b.clone(), b, c]);
        // Sticky 0 behaves as 1: rotate every request; a shrunk combo wraps.
        let mut cur = ComboCursor::default();
        let firsts: Vec<usize> = (0..4)
            .map(|_| order_targets(ComboStrategy::RoundRobin, &t, 0, &mut cur, &mut rng)[0])
            .collect();
        assert_eq!(firsts, [0, 1, 2, 0]);
        let two = targets(2);
        assert_eq!(
            order_targets(ComboStrategy::RoundRobin, &two, 0, &mut cur, &mut rng),
            [1, 0]
        );
    }

    #[test]
    fn weighted_distribution_and_fallback_order() {
        let t = [target(1), target(3), target(0), target(6)];
        let (mut cur, mut rng) = (ComboCursor::default(), Rng::seeded(11));
        let mut firsts = [0u32; 4];
        for _ in 0..10_000 {
            let o = order_targets(ComboStrategy::Weighted, &t, 3, &mut cur, &mut rng);
            let rest: Vec<usize> = (0..4).filter(|&i| i != o[0]).collect();
            assert_eq!(o[1..], rest[..]);
            firsts[o[0]] += 1;
        }
        assert_eq!(firsts[2], 0, "weight 0 never leads");
        for (i, want) in [(0, 1000), (1, 3000), (3, 6000)] {
            assert!(firsts[i].abs_diff(want) < 200, "{firsts:?}");
        }
        let zero = [target(0), target(0)];
        assert_eq!(order(ComboStrategy::Weighted, &zero), [0, 1]);
    }

    #[test]
    fn seeded_orders_are_exact() {
        // Pins the seeded behaviour: weights 1..=5, health 0.0..=0.8 rising with the index.
        let t: Vec<TargetFacts> = (0..5u32)
            .map(|i| TargetFacts {
                health: 0.2 * f64::from(i),
                ..target(i + 1)
            })
            .collect();
        let run = |s| {
            let (mut cur, mut rng) = (ComboCursor::default(), Rng::seeded(2026));
            (0..5)
                .map(|_| order_targets(s, &t, 3, &mut cur, &mut rng))
                .collect::<Vec<_>>()
        };
        let want: [(ComboStrategy, [[usize; 5]; 5]); 4] = [
            (
                ComboStrategy::Random,
                [
                    [3, 0, 2, 1, 4],
                    [0, 1, 4, 2, 3],
                    [3, 2, 4, 0, 1],
                    [2, 0, 3, 4, 1],
                    [0, 2, 3, 4, 1],
                ],
            ),
            (
                ComboStrategy::StrictRandom,
                [
                    [4, 0, 1, 2, 3],
                    [1, 3, 0, 2, 4],
                    [2, 4, 0, 3, 1],
                    [0, 3, 1, 4, 2],
                    [3, 2, 1, 4, 0],
                ],
            ),
            (
                ComboStrategy::Weighted,
                [
                    [4, 0, 1, 2, 3],
                    [3, 0, 1, 2, 4],
                    [4, 0, 1, 2, 3],
                    [2, 0, 1, 3, 4],
                    [4, 0, 1, 2, 3],
                ],
            ),
            (
                ComboStrategy::P2c,
                [
                    [4, 0, 1, 2, 3],
                    [3, 0, 1, 2, 4],
                    [3, 0, 1, 2, 4],
                    [4, 0, 1, 2, 3],
                    [2, 0, 1, 3, 4],
                ],
            ),
        ];
        for (s, orders) in want {
            assert_eq!(run(s), orders.map(Vec::from), "{s:?}");
        }
    }

    #[test]
    fn random_is_seeded() {
        let t = targets(6);
        let a = order(ComboStrategy::Random, &t);
        assert_eq!(a, order(ComboStrategy::Random, &t));
        assert!(is_permutation(a, 6));
    }

    #[test]
    fn strict_random_leads_with_each_target_once_per_cycle() {
        let t = targets(5);
        let (mut cur, mut rng) = (ComboCursor::default(), Rng::seeded(4));
        let mut all = Vec::new();
        for _ in 0..3 {
            let firsts: Vec<usize> = (0..5)
                .map(|_| {
                    let o = order_targets(ComboStrategy::StrictRandom, &t, 3, &mut cur, &mut rng);
                    assert!(is_permutation(o.clone(), 5));
                    o[0]
                })
                .collect();
            assert!(is_permutation(firsts.clone(), 5), "{firsts:?}");
            all.push(firsts);
        }
        assert_ne!(all[0], all[1], "each cycle is reshuffled");
        // Editing the combo mid-cycle deals a new deck for the new size.
        let o = order_targets(
            ComboStrategy::StrictRandom,
            &targets(2),
            3,
            &mut cur,
            &mut rng,
        );
        assert!(is_permutation(o, 2));
    }

    #[test]
    fn p2c_healthier_of_two_leads() {
        let mut t = targets(2);
        t[0].health = 0.2;
        t[1].health = 0.9;
        let (mut cur, mut rng) = (ComboCursor::default(), Rng::seeded(8));
        for _ in 0..50 {
            assert_eq!(
                order_targets(ComboStrategy::P2c, &t, 3, &mut cur, &mut rng),
                [1, 0]
            );
        }
        let mut t = targets(3);
        t[0].health = 0.9;
        t[1].health = 0.1;
        t[2].health = 0.5;
        let mut firsts = [0u32; 3];
        for _ in 0..300 {
            let o = order_targets(ComboStrategy::P2c, &t, 3, &mut cur, &mut rng);
            assert_eq!(
                o[1..],
                (0..3).filter(|&i| i != o[0]).collect::<Vec<_>>()[..]
            );
            firsts[o[0]] += 1;
        }
        assert_eq!(firsts[1], 0, "the worst of three can never win a pair");
        assert!(firsts[0] > firsts[2]);
    }

    #[test]
    fn least_used_fewest_recent_requests_first() {
        let mut t = targets(4);
        for (f, r) in t.iter_mut().zip([5, 1, 3, 1]) {
            f.recent_requests = r;
        }
        assert_eq!(order(ComboStrategy::LeastUsed, &t), [1, 3, 2, 0]);
    }

    #[test]
    fn cost_optimized_cheapest_first_unknown_last() {
        let mut t = targets(6);
        let prices = [
            Some(3.0),
            None,
            Some(1.0),
            Some(3.0),
            Some(f64::NAN),
            Some(0.0),
        ];
        for (f, p) in t.iter_mut().zip(prices) {
            f.price_per_mtok = p;
        }
        assert_eq!(order(ComboStrategy::CostOptimized, &t), [5, 2, 0, 3, 1, 4]);
    }

    fn quota(
        used_pct: f64,
        resets_in_secs: Option<u64>,
        over_threshold: bool,
    ) -> Option<QuotaFacts> {
        Some(QuotaFacts {
            used_pct,
            resets_in_secs,
            over_threshold,
        })
    }

    #[test]
    fn quota_aware_prefers_soonest_reset_in_tie_band() {
        let mut t = targets(6);
        t[0].quota = quota(40.0, Some(3 * 3600), false);
        t[1].quota = quota(97.0, Some(600), true);
        t[2].quota = quota(43.0, Some(3600), false);
        t[3].quota = None;
        t[4].quota = quota(10.0, Some(5 * 3600), false);
        t[5].quota = quota(44.0, None, false);
        // 4 has clearly the most headroom; then 0/2/5 are within 5 points: 2 resets first,
        // 0 next, 5 (no reset time) last; unknown quota after; over threshold at the end.
        assert_eq!(order(ComboStrategy::QuotaAware, &t), [4, 2, 0, 5, 3, 1]);
    }

    #[test]
    fn quota_aware_band_is_relative_to_best_headroom() {
        let mut t = targets(3);
        t[0].quota = quota(20.0, Some(9000), false); // headroom 80
        t[1].quota = quota(26.0, Some(60), false); // 74: outside the band of 80
        t[2].quota = quota(24.0, Some(4000), false); // 76: inside
        assert_eq!(order(ComboStrategy::QuotaAware, &t), [2, 0, 1]);
    }

    fn account(priority: u32, last_used_secs: Option<u64>, t0: Instant) -> AccountFacts {
        AccountFacts {
            priority,
            last_used: last_used_secs.map(|s| t0 + Duration::from_secs(s)),
            ..AccountFacts::default()
        }
    }

    #[test]
    fn fill_first_lowest_priority_number() {
        let t0 = Instant::now();
        let c = [
            account(2, None, t0),
            account(1, None, t0),
            account(1, Some(5), t0),
        ];
        let mut rng = Rng::seeded(1);
        let pick = pick_account(AccountStrategy::FillFirst, &c, 3, None, false, &mut rng);
        assert_eq!(pick, Some(1));
        assert_eq!(
            pick_account(AccountStrategy::FillFirst, &[], 3, None, false, &mut rng),
            None
        );
    }

    #[test]
    fn round_robin_sticks_then_lru() {
        let t0 = Instant::now();
        let mut c = [
            account(1, Some(10), t0),
            account(2, Some(30), t0),
            account(3, Some(20), t0),
        ];
        let mut rng = Rng::seeded(1);
        let rr = AccountStrategy::RoundRobin;
        c[1].consecutive_uses = 2;
        assert_eq!(pick_account(rr, &c, 3, Some(1), false, &mut rng), Some(1));
        // An exclusion in this request forces LRU.
        assert_eq!(pick_account(rr, &c, 3, Some(1), true, &mut rng), Some(0));
        c[1].consecutive_uses = 3;
        assert_eq!(pick_account(rr, &c, 3, Some(1), false, &mut rng), Some(0));
        assert_eq!(pick_account(rr, &c, 3, None, false, &mut rng), Some(0));
    }

    #[test]
    fn lru_ties_break_on_backoff_then_priority() {
        let t0 = Instant::now();
        let mut c = [
            account(1, Some(5), t0),
            account(3, None, t0),
            account(2, None, t0),
        ];
        let mut rng = Rng::seeded(1);
        let lu = AccountStrategy::LeastUsed;
        assert_eq!(pick_account(lu, &c, 3, None, false, &mut rng), Some(2));
        c[2].backoff_level = 1;
        assert_eq!(pick_account(lu, &c, 3, None, false, &mut rng), Some(1));
    }

    #[test]
    fn p2c_lower_penalty_wins() {
        let good = AccountFacts {
            priority: 1,
            ..AccountFacts::default()
        };
        let cases = [
            AccountFacts {
                quota_exhausted: true,
                ..good
            },
            AccountFacts {
                recent_errors: 1,
                ..good
            },
            AccountFacts {
                backoff_level: 1,
                ..good
            },
            AccountFacts {
                consecutive_uses: 1,
                ..good
            },
            AccountFacts {
                priority: 2,
                ..good
            },
            AccountFacts {
                quota_used_pct: Some(50.0),
                ..good
            },
        ];
        let mut rng = Rng::seeded(2);
        for worse in cases {
            for _ in 0..10 {
                let c = [worse, good];
                assert_eq!(
                    pick_account(AccountStrategy::P2c, &c, 3, None, false, &mut rng),
                    Some(1)
                );
                let c = [good, worse];
                assert_eq!(
                    pick_account(AccountStrategy::P2c, &c, 3, None, false, &mut rng),
                    Some(0)
                );
            }
        }
        assert_eq!(
            penalty(&AccountFacts {
                backoff_level: 9,
                ..good
            }),
            40.0
        );
        assert_eq!(
            pick_account(AccountStrategy::P2c, &[good], 3, None, false, &mut rng),
            Some(0)
        );
    }

    #[test]
    fn random_account_is_seeded_and_in_range() {
        let c = [AccountFacts::default(); 4];
        let picks = |seed| {
            let mut rng = Rng::seeded(seed);
            (0..20)
                .map(|_| {
                    pick_account(AccountStrategy::Random, &c, 3, None, false, &mut rng).unwrap()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(picks(3), picks(3));
        assert!(picks(3).iter().all(|&i| i < 4));
        assert!((0..4).all(|i| picks(3).contains(&i)));
    }
}
