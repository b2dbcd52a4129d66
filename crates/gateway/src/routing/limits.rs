//! Per-account limits a provider imposes or the user wants: requests per minute (`governor`),
//! a minimum gap between request starts, and a maximum of concurrent requests (a semaphore with
//! a bounded queue). A request that would wait longer than the caller allows is told "busy" and
//! moves to another account instead of piling up behind a limited one (no thundering herd).

use crate::sync::MutexExt;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Configured per provider, applied to each of its accounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_gap_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// How many requests may wait for a concurrency slot (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.rpm.is_none() && self.min_gap_ms.is_none() && self.max_concurrent.is_none()
    }
}

pub struct Limiter {
    cfg: Limits,
    slots: Option<Arc<Semaphore>>,
    waiting: AtomicU32,
    rate: Option<DefaultDirectRateLimiter>,
    next_start: Mutex<Option<Instant>>,
}

struct QueuePlace<'a>(&'a AtomicU32);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub enum Gate {
    /// Go ahead; hold the permit (if any) until the answer is finished.
    Go(Option<OwnedSemaphorePermit>),
    /// Not within the allowed wait; the account frees up in about this long.
    Busy(Duration),
}

impl Limiter {
    pub fn new(cfg: Limits) -> Self {
        Self {
            slots: cfg
                .max_concurrent
                .map(|n| Arc::new(Semaphore::new(n.max(1) as usize))),
            waiting: AtomicU32::new(0),
            rate: cfg
                .rpm
                .and_then(NonZeroU32::new)
                .map(|n| RateLimiter::direct(Quota::per_minute(n))),
            next_start: Mutex::new(None),
            cfg,
        }
    }

    /// Waits (at most `max_wait`) until this account may start one more request.
    pub async fn enter(&self, max_wait: Duration) -> Gate {
        let deadline = Instant::now() + max_wait;
        let permit = match &self.slots {
            None => None,
            Some(sem) => match sem.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    let queue = self.cfg.queue.unwrap_or(16);
                    // Counted out on drop too: a client that leaves while queued frees its place.
                    let place = QueuePlace(&self.waiting);
                    if self.waiting.fetch_add(1, Ordering::SeqCst) >= queue {
                        return Gate::Busy(Duration::from_secs(1));
                    }
                    let got = tokio::time::timeout_at(deadline, sem.clone().acquire_owned()).await;
                    drop(place);
                    match got {
                        Ok(Ok(p)) => Some(p),
                        _ => return Gate::Busy(Duration::from_secs(1)),
                    }
                }
            },
        };
        if let Some(rate) = &self.rate {
            let clock = DefaultClock::default();
            while let Err(not_until) = rate.check() {
                let wait = not_until.wait_time_from(clock.now());
                if Instant::now() + wait > deadline {
                    return Gate::Busy(wait);
                }
                tokio::time::sleep(wait).await;
            }
        }
        if let Some(gap) = self.cfg.min_gap_ms.map(Duration::from_millis) {
            let slot = {
                let mut next = self.next_start.lock_or_recover();
                let now = Instant::now();
                let slot = next.map_or(now, |n| n.max(now));
                if slot > deadline {
                    return Gate::Busy(slot - now);
                }
                *next = Some(slot + gap);
                slot
            };
            tokio::time::sleep_until(slot).await;
        }
        Gate::Go(permit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrency_is_capped_and_the_queue_is_bounded() {
        let l = Arc::new(Limiter::new(Limits {
            max_concurrent: Some(1),
            queue: Some(1),
            ..Default::default()
        }));
        let Gate::Go(first) = l.enter(Duration::from_secs(5)).await else {
            panic!("the first request goes")
        };
        let l2 = l.clone();
        let queued =
            tokio::spawn(
                async move { matches!(l2.enter(Duration::from_secs(5)).await, Gate::Go(_)) },
            );
        tokio::time::sleep(Duration::from_millis(50)).await;
        // One waits in the queue; a third is told busy at once rather than piling up.
        assert!(matches!(
            l.enter(Duration::from_secs(5)).await,
            Gate::Busy(_)
        ));
        drop(first);
        assert!(
            queued.await.unwrap(),
            "the queued request gets the freed slot"
        );
    }

    #[tokio::test]
    async fn min_gap_spaces_request_starts() {
        let l = Limiter::new(Limits {
            min_gap_ms: Some(120),
            ..Default::default()
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(matches!(l.enter(Duration::from_secs(2)).await, Gate::Go(_)));
        }
        assert!(t0.elapsed() >= Duration::from_millis(240));
        // A caller that cannot wait that long is told how long it would be.
        assert!(
            matches!(l.enter(Duration::from_millis(10)).await, Gate::Busy(d) if d > Duration::from_millis(50))
        );
    }

    #[tokio::test]
    async fn rpm_beyond_the_wait_is_busy() {
        let l = Limiter::new(Limits {
            rpm: Some(1),
            ..Default::default()
        });
        assert!(matches!(l.enter(Duration::ZERO).await, Gate::Go(_)));
        // One per minute: the next slot is about a minute away, far beyond the allowed wait.
        assert!(
            matches!(l.enter(Duration::from_millis(100)).await, Gate::Busy(d) if d > Duration::from_secs(30))
        );
    }
}
