//! Client keys (docs/api-surface.md §3): which Switchyard key a request carries, whether it is
//! required, and whether its budget allows another request. Keys are looked up by their sha256
//! in an in-memory table; a provider's own key is never accepted here and never forwarded.

use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::keys::{self, ClientKey};
use axum::http::{HeaderMap, StatusCode};

/// The key a client sent, from the first place it could be (`Authorization: Bearer`,
/// `x-api-key`, `x-goog-api-key`, `?key=`).
pub fn presented<'a>(headers: &'a HeaderMap, query_key: Option<&'a str>) -> Option<&'a str> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(k) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(k.trim());
        }
    }
    for h in ["x-api-key", "x-goog-api-key"] {
        if let Some(v) = headers.get(h).and_then(|v| v.to_str().ok()) {
            return Some(v.trim());
        }
    }
    query_key
}

/// What every client request passes first: the gateway is not paused, and its client key (if
/// required or sent) is valid and within budget.
pub async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    query_key: Option<&str>,
) -> Result<Option<ClientKey>, ApiError> {
    if state.paused() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "gateway_paused",
            "Switchyard is paused; resume it from the tray or the dashboard",
        ));
    }
    check(state, headers, query_key).await
}

/// The matching key (None when keys are not required and the request carries none we know);
/// an error in the client's format when a key is required and missing/unknown, or over budget.
pub async fn check(
    state: &AppState,
    headers: &HeaderMap,
    query_key: Option<&str>,
) -> Result<Option<ClientKey>, ApiError> {
    let sent = presented(headers, query_key).filter(|k| !k.is_empty());
    let found = sent.and_then(|k| state.client_key(&keys::hash(k)));
    if state.settings().require_api_key && found.is_none() {
        let msg = match sent {
            None => "this Switchyard requires a client key: send it as `Authorization: Bearer sy-…` (or x-api-key / x-goog-api-key); create one in the dashboard under Keys".to_string(),
            Some(_) => "the client key is not valid (unknown or revoked); create a new one in the dashboard under Keys".to_string(),
        };
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            msg,
        ));
    }
    if let Some(k) = &found {
        budget(state, k).await?;
    }
    Ok(found)
}

/// Start of the current UTC day, ISO week (Monday) and month, in unix milliseconds.
pub fn periods(now_unix: u64) -> [(i64, &'static str); 3] {
    let day = now_unix / 86_400;
    let day_start = (day * 86_400) as i64 * 1000;
    // 1970-01-01 was a Thursday: days since the last Monday = (day + 3) % 7.
    let week_start = ((day - (day + 3) % 7) * 86_400) as i64 * 1000;
    let (y, m, _) = civil_from_days(day as i64);
    let month_start = days_from_civil(y, m, 1) * 86_400_000;
    [
        (day_start, "daily"),
        (week_start, "weekly"),
        (month_start, "monthly"),
    ]
}

async fn budget(state: &AppState, k: &ClientKey) -> Result<(), ApiError> {
    let limits = [k.daily_usd, k.weekly_usd, k.monthly_usd];
    if limits.iter().all(Option::is_none) {
        return Ok(());
    }
    let periods = periods(crate::routing::now_unix());
    for ((since, name), limit) in periods.into_iter().zip(limits) {
        let Some(limit) = limit else { continue };
        let db = state.db.clone();
        let id = k.id;
        let spent = tokio::task::spawn_blocking(move || db.key_spend_since(id, since))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if spent >= limit {
            return Err(ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "budget_exceeded",
                format!(
                    "client key {:?} has used its {name} budget (${spent:.2} of ${limit:.2}); raise it in the dashboard or wait for the next period",
                    k.label
                ),
            ));
        }
    }
    Ok(())
}

// Howard Hinnant's civil-date algorithms (public domain), for month starts without a date crate.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_at_day_monday_and_first_of_month() {
        // 2026-12-02T15:00:00Z is a Wednesday.
        let t = 1_796_223_600;
        let [(d, _), (w, _), (m, _)] = periods(t);
        assert_eq!(d, 1_796_169_600_000); // 2026-12-02T00:00Z
        assert_eq!(w, 1_795_996_800_000); // Monday 2026-11-30
        assert_eq!(m, 1_796_083_200_000); // 2026-12-01
    }

    #[test]
    fn keys_are_read_from_every_place_clients_put_them() {
        let mut h = HeaderMap::new();
        assert_eq!(presented(&h, Some("q")), Some("q"));
        h.insert("x-goog-api-key", "g".parse().unwrap());
        assert_eq!(presented(&h, None), Some("g"));
        h.insert("x-api-key", "a".parse().unwrap());
        assert_eq!(presented(&h, None), Some("a"));
        h.insert("authorization", "Bearer sy-1".parse().unwrap());
        assert_eq!(presented(&h, None), Some("sy-1"));
    }
}
