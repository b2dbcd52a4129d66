//! The request log: one row per client request (written in batches, off the request path), the
//! queries the dashboard needs, and the editable price table.

use super::{Db, StorageError};
use rusqlite::params;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    pub ts_ms: i64,
    pub key_id: Option<i64>,
    pub combo: Option<String>,
    pub provider: Option<String>,
    pub account: Option<String>,
    pub model: Option<String>,
    /// The model string the client sent.
    pub requested: String,
    pub client_format: String,
    pub stream: bool,
    pub status: u16,
    pub outcome: switchyard_types::Outcome,
    pub attempts: u32,
    /// The hops that failed before the one that answered: `acme/m1:429,beta/m2:ok`.
    pub fallback: Option<String>,
    pub latency_ms: u64,
    pub ttft_ms: Option<u64>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cache_read: Option<u64>,
    pub cache_write: Option<u64>,
    pub reasoning: Option<u64>,
    pub cost_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// A model id (`gpt-4o-mini`, `acme/gpt-4o-mini`) or a `*` pattern (`claude-sonnet-*`).
    pub model: String,
    /// USD per 1M tokens.
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cache_read: Option<f64>,
    #[serde(default)]
    pub cache_write: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub group: String,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read: u64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    pub provider: String,
    pub requests: u64,
    pub p50_ms: u64,
    pub p95_ms: u64,
    pub p99_ms: u64,
}

/// What the totals are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Provider,
    Model,
    Key,
    Day,
    Combo,
}

impl GroupBy {
    fn sql(self) -> &'static str {
        match self {
            Self::Provider => "COALESCE(provider, '-')",
            Self::Model => "COALESCE(provider || '/' || model, requested)",
            Self::Key => "COALESCE((SELECT label FROM api_keys k WHERE k.id = key_id), '-')",
            Self::Day => "strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch')",
            Self::Combo => "COALESCE(combo, '-')",
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Db {
    /// Inserts a batch in one transaction.
    pub fn insert_usage(&self, rows: &[UsageRow]) -> Result<(), StorageError> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut s = tx.prepare_cached(
                    "INSERT INTO usage (ts_ms, key_id, combo, provider, account, model, requested,
                       client_format, stream, status, outcome, attempts, fallback, latency_ms, ttft_ms,
                       input_tokens, output_tokens, cache_read, cache_write, reasoning, cost_usd)
                     VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21)",
                )?;
                for r in rows {
                    s.execute(params![
                        r.ts_ms,
                        r.key_id,
                        r.combo,
                        r.provider,
                        r.account,
                        r.model,
                        r.requested,
                        r.client_format,
                        r.stream,
                        r.status,
                        r.outcome,
                        r.attempts,
                        r.fallback,
                        r.latency_ms as i64,
                        r.ttft_ms.map(|v| v as i64),
                        r.input_tokens.map(|v| v as i64),
                        r.output_tokens.map(|v| v as i64),
                        r.cache_read.map(|v| v as i64),
                        r.cache_write.map(|v| v as i64),
                        r.reasoning.map(|v| v as i64),
                        r.cost_usd,
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// The newest rows first.
    pub fn recent_usage(&self, limit: u32) -> Result<Vec<UsageRow>, StorageError> {
        self.with(|c| {
            let mut s = c.prepare(
                "SELECT ts_ms, key_id, combo, provider, account, model, requested, client_format,
                   stream, status, outcome, attempts, fallback, latency_ms, ttft_ms, input_tokens,
                   output_tokens, cache_read, cache_write, reasoning, cost_usd
                 FROM usage ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = s
                .query_map([limit], |r| {
                    Ok(UsageRow {
                        ts_ms: r.get(0)?,
                        key_id: r.get(1)?,
                        combo: r.get(2)?,
                        provider: r.get(3)?,
                        account: r.get(4)?,
                        model: r.get(5)?,
                        requested: r.get(6)?,
                        client_format: r.get(7)?,
                        stream: r.get(8)?,
                        status: r.get(9)?,
                        outcome: r.get(10)?,
                        attempts: r.get(11)?,
                        fallback: r.get(12)?,
                        latency_ms: r.get::<_, i64>(13)?.max(0) as u64,
                        ttft_ms: r.get::<_, Option<i64>>(14)?.map(|v| v.max(0) as u64),
                        input_tokens: r.get::<_, Option<i64>>(15)?.map(|v| v.max(0) as u64),
                        output_tokens: r.get::<_, Option<i64>>(16)?.map(|v| v.max(0) as u64),
                        cache_read: r.get::<_, Option<i64>>(17)?.map(|v| v.max(0) as u64),
                        cache_write: r.get::<_, Option<i64>>(18)?.map(|v| v.max(0) as u64),
                        reasoning: r.get::<_, Option<i64>>(19)?.map(|v| v.max(0) as u64),
                        cost_usd: r.get(20)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    pub fn usage_totals(&self, by: GroupBy, since_ms: i64) -> Result<Vec<Totals>, StorageError> {
        self.with(|c| {
            let mut s = c.prepare(&format!(
                "SELECT {g} AS grp, COUNT(*), SUM(outcome NOT IN ('ok', 'cache_hit', 'idempotent_replay')), COALESCE(SUM(input_tokens), 0),
                   COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_read), 0),
                   COALESCE(SUM(cost_usd), 0.0)
                 FROM usage WHERE ts_ms >= ?1 GROUP BY grp ORDER BY COUNT(*) DESC",
                g = by.sql()
            ))?;
            let rows = s
                .query_map([since_ms], |r| {
                    Ok(Totals {
                        group: r.get(0)?,
                        requests: r.get::<_, i64>(1)? as u64,
                        errors: r.get::<_, i64>(2)? as u64,
                        input_tokens: r.get::<_, i64>(3)? as u64,
                        output_tokens: r.get::<_, i64>(4)? as u64,
                        cache_read: r.get::<_, i64>(5)? as u64,
                        cost_usd: r.get(6)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// p50/p95/p99 of successful requests' latency per provider.
    pub fn usage_latency(&self, since_ms: i64) -> Result<Vec<Latency>, StorageError> {
        let rows: Vec<(String, i64)> = self.with(|c| {
            let mut s = c.prepare(
                "SELECT provider, latency_ms FROM usage
                 WHERE ts_ms >= ?1 AND provider IS NOT NULL AND outcome = 'ok'
                 ORDER BY provider, latency_ms",
            )?;
            let r = s
                .query_map([since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(r)
        })?;
        let mut out: Vec<Latency> = Vec::new();
        let mut i = 0;
        while i < rows.len() {
            let p = &rows[i].0;
            let vals: Vec<u64> = rows[i..]
                .iter()
                .take_while(|(q, _)| q == p)
                .map(|(_, v)| (*v).max(0) as u64)
                .collect();
            i += vals.len();
            out.push(Latency {
                provider: p.clone(),
                requests: vals.len() as u64,
                p50_ms: percentile(&vals, 50.0),
                p95_ms: percentile(&vals, 95.0),
                p99_ms: percentile(&vals, 99.0),
            });
        }
        Ok(out)
    }

    /// What one client key spent since a time (budgets).
    pub fn key_spend_since(&self, key_id: i64, since_ms: i64) -> Result<f64, StorageError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(SUM(cost_usd), 0.0) FROM usage WHERE key_id = ?1 AND ts_ms >= ?2",
                params![key_id, since_ms],
                |r| r.get(0),
            )?)
        })
    }

    /// Deletes rows older than the cutoff; returns how many.
    pub fn prune_usage(&self, before_ms: i64) -> Result<usize, StorageError> {
        self.with(|c| Ok(c.execute("DELETE FROM usage WHERE ts_ms < ?1", [before_ms])?))
    }

    pub fn list_prices(&self) -> Result<Vec<Price>, StorageError> {
        self.with(|c| {
            let mut s = c.prepare(
                "SELECT model, input, output, cache_read, cache_write FROM prices ORDER BY model",
            )?;
            let r = s
                .query_map([], |r| {
                    Ok(Price {
                        model: r.get(0)?,
                        input: r.get(1)?,
                        output: r.get(2)?,
                        cache_read: r.get(3)?,
                        cache_write: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(r)
        })
    }

    pub fn set_price(&self, p: &Price) -> Result<(), StorageError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO prices (model, input, output, cache_read, cache_write)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(model) DO UPDATE SET
                 input = ?2, output = ?3, cache_read = ?4, cache_write = ?5",
                params![p.model, p.input, p.output, p.cache_read, p.cache_write],
            )?;
            Ok(())
        })
    }

    pub fn delete_price(&self, model: &str) -> Result<bool, StorageError> {
        self.with(|c| Ok(c.execute("DELETE FROM prices WHERE model = ?1", [model])? > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(provider: &str, latency: u64, cost: f64, outcome: &str) -> UsageRow {
        let outcome = outcome.parse().unwrap();
        UsageRow {
            ts_ms: 1_800_000_000_000,
            provider: Some(provider.into()),
            model: Some("m".into()),
            requested: "m".into(),
            client_format: "openai".into(),
            status: 200,
            outcome,
            attempts: 1,
            latency_ms: latency,
            input_tokens: Some(10),
            output_tokens: Some(5),
            cost_usd: Some(cost),
            key_id: Some(1),
            ..Default::default()
        }
    }

    #[test]
    fn totals_and_percentiles() {
        let db = Db::open_in_memory().unwrap();
        let mut rows: Vec<UsageRow> = (1..=100).map(|i| row("a", i, 0.01, "ok")).collect();
        rows.push(row("b", 7, 0.5, "error"));
        db.insert_usage(&rows).unwrap();
        let t = db.usage_totals(GroupBy::Provider, 0).unwrap();
        assert_eq!(
            (t[0].group.as_str(), t[0].requests, t[0].errors),
            ("a", 100, 0)
        );
        assert_eq!(t[0].input_tokens, 1000);
        assert_eq!((t[1].group.as_str(), t[1].errors), ("b", 1));
        let l = db.usage_latency(0).unwrap();
        assert_eq!(l.len(), 1, "failed requests do not count toward latency");
        assert_eq!((l[0].p50_ms, l[0].p95_ms, l[0].p99_ms), (50, 95, 99));
        assert!((db.key_spend_since(1, 0).unwrap() - 1.5).abs() < 1e-9);
        assert_eq!(
            db.usage_totals(GroupBy::Day, 0).unwrap()[0].group,
            "2027-01-15"
        );
        assert_eq!(db.prune_usage(1_800_000_000_001).unwrap(), 101);
    }
}
