//! Usage recording off the request path: the proxy hands a finished row to [`Recorder::record`]
//! (a channel send, never a database call); one writer task batches rows into a single
//! transaction every 100 ms or 256 rows. [`Recorder::flush`] drains everything pending — the
//! server calls it on shutdown (SIGTERM included), so nothing recorded is lost.

pub mod prices;

use crate::storage::usage::UsageRow;
use crate::storage::Db;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const QUEUE: usize = 65_536;
const BATCH: usize = 256;
const BATCH_WINDOW: Duration = Duration::from_millis(100);
/// Default retention of the request log.
pub const DEFAULT_RETENTION_DAYS: i64 = 90;

enum Cmd {
    Row(Box<UsageRow>),
    Flush(oneshot::Sender<()>),
}

pub struct Recorder {
    tx: mpsc::Sender<Cmd>,
    dropped: AtomicU64,
}

impl Recorder {
    /// Starts the writer task (inside a tokio runtime).
    pub fn start(db: Db, retention_days: i64) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(db, rx, retention_days));
        Self {
            tx,
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues a row. A full queue (the disk cannot keep up) drops the row and counts it rather
    /// than slowing requests down.
    pub fn record(&self, row: UsageRow) {
        if self.tx.try_send(Cmd::Row(Box::new(row))).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "usage log queue is full; rows were dropped");
            }
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every row queued before this call is in the database.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Cmd::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn write(db: &Db, rows: Vec<UsageRow>) {
    if rows.is_empty() {
        return;
    }
    let db = db.clone();
    let n = rows.len();
    match tokio::task::spawn_blocking(move || db.insert_usage(&rows)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("could not write {n} usage rows: {e}"),
        Err(e) => tracing::error!("usage writer task failed: {e}"),
    }
}

async fn prune(db: &Db, retention_days: i64) {
    let cutoff = crate::clock::now_ms() - retention_days * 86_400_000;
    let db = db.clone();
    if let Ok(Ok(n)) = tokio::task::spawn_blocking(move || db.prune_usage(cutoff)).await {
        if n > 0 {
            tracing::info!("removed {n} request-log rows older than {retention_days} days");
        }
    }
}

async fn writer(db: Db, mut rx: mpsc::Receiver<Cmd>, retention_days: i64) {
    prune(&db, retention_days).await;
    let mut last_prune = tokio::time::Instant::now();
    let mut batch: Vec<UsageRow> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut waiters = Vec::new();
        match first {
            Cmd::Row(r) => batch.push(*r),
            Cmd::Flush(w) => waiters.push(w),
        }
        // Gather what arrives within the batch window, unless someone is waiting for a flush.
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        while batch.len() < BATCH && waiters.is_empty() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Cmd::Row(r))) => batch.push(*r),
                Ok(Some(Cmd::Flush(w))) => waiters.push(w),
                Ok(None) | Err(_) => break,
            }
        }
        // A flush drains everything already queued.
        if !waiters.is_empty() {
            while let Ok(cmd) = rx.try_recv() {
                match cmd {
                    Cmd::Row(r) => batch.push(*r),
                    Cmd::Flush(w) => waiters.push(w),
                }
            }
        }
        write(&db, std::mem::take(&mut batch)).await;
        for w in waiters {
            let _ = w.send(());
        }
        if last_prune.elapsed() > Duration::from_secs(3600) {
            prune(&db, retention_days).await;
            last_prune = tokio::time::Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rows_are_batched_and_flushed() {
        let db = Db::open_in_memory().unwrap();
        let rec = Recorder::start(db.clone(), DEFAULT_RETENTION_DAYS);
        let now = crate::clock::now_ms();
        for i in 0..1000 {
            rec.record(UsageRow {
                ts_ms: now,
                requested: format!("m{i}"),
                client_format: "openai".into(),
                outcome: switchyard_types::Outcome::Ok,
                ..Default::default()
            });
        }
        rec.flush().await;
        assert_eq!(db.recent_usage(5000).unwrap().len(), 1000);
        assert_eq!(rec.dropped(), 0);
    }
}
