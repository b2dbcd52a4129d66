//! Subscription and rate-limit quota: the window model, passive header parsing, upstream retry
//! hints and the tray/dashboard text (reference: docs/quota.md, docs/routing.md §7, docs/api-surface.md §4).
//!
//! Pure by design: no I/O and no clock reads. Every function that needs the time takes `now` as
//! unix seconds, so the proxy, the poller and the tests all see the same deterministic results.

pub mod countdown;
pub mod headers;
pub mod hints;
pub mod window;

pub use countdown::{age, compact, countdown, emoji, level, percent, row, Level};
pub use headers::{is_quota_header, read, Reading};
pub use hints::{parse_duration, retry_hint};
pub use window::{
    is_exhausted, merge, over_threshold, primary, QuotaWindow, Source, Thresholds, WindowKind,
    WindowStatus,
};
