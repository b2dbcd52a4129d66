//! Wall-clock time as the rest of the crate needs it: a leaf, so no layer depends on another just
//! to know the time. A clock before 1970 reads as 0 rather than failing a request.

use std::time::{SystemTime, UNIX_EPOCH};

fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    since_epoch().as_secs()
}

/// Milliseconds since the Unix epoch (usage rows).
pub fn now_ms() -> i64 {
    since_epoch().as_millis() as i64
}

/// Nanoseconds since the Unix epoch (unique ids).
pub fn now_nanos() -> u128 {
    since_epoch().as_nanos()
}
