//! `loadgen`: a small closed-loop HTTP load generator for the benchmark script
//! (`scripts/bench.sh`). N workers send the same request back to back for a fixed time and
//! report throughput, latency percentiles and, for streams, time to first byte, as one JSON line.

use clap::Parser;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "Closed-loop HTTP load generator (JSON report on stdout)"
)]
struct Args {
    /// Target URL (POST).
    #[arg(long)]
    url: String,
    /// Request body (JSON text).
    #[arg(long)]
    body: String,
    /// Extra header `name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Seconds to run (after a 1 s warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Count non-2xx answers as samples too (to time a failing upstream).
    #[arg(long)]
    any_status: bool,
}

#[derive(Default)]
struct Sample {
    total: Vec<f64>,
    ttfb: Vec<f64>,
    errors: u64,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn worker(
    client: reqwest::Client,
    args: std::sync::Arc<Args>,
    until: Instant,
    warm: Instant,
) -> Sample {
    let mut s = Sample::default();
    while Instant::now() < until {
        let t0 = Instant::now();
        let mut req = client
            .post(&args.url)
            .header("content-type", "application/json")
            .body(args.body.clone());
        for h in &args.headers {
            if let Some((k, v)) = h.split_once(':') {
                req = req.header(k.trim(), v.trim());
            }
        }
        let result = async {
            let resp = req.send().await?;
            let ok = resp.status().is_success() || args.any_status;
            let mut body = resp.bytes_stream();
            let mut first = None;
            while let Some(chunk) = body.next().await {
                chunk?;
                first.get_or_insert_with(|| t0.elapsed());
            }
            Ok::<_, reqwest::Error>((ok, first.unwrap_or_else(|| t0.elapsed())))
        }
        .await;
        if t0 < warm {
            continue; // warm-up requests are not counted
        }
        match result {
            Ok((true, ttfb)) => {
                s.total.push(t0.elapsed().as_secs_f64() * 1000.0);
                s.ttfb.push(ttfb.as_secs_f64() * 1000.0);
            }
            _ => s.errors += 1,
        }
    }
    s
}

#[tokio::main]
async fn main() {
    let args = std::sync::Arc::new(Args::parse());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .expect("http client");
    let start = Instant::now();
    let warm = start + Duration::from_secs(1);
    let until = warm + Duration::from_secs_f64(args.seconds);
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(worker(client.clone(), args.clone(), until, warm)))
        .collect();
    let mut all = Sample::default();
    for t in tasks {
        let s = t.await.expect("worker");
        all.total.extend(s.total);
        all.ttfb.extend(s.ttfb);
        all.errors += s.errors;
    }
    let n = all.total.len();
    println!(
        "{}",
        serde_json::json!({
            "requests": n,
            "errors": all.errors,
            "rps": n as f64 / args.seconds,
            "p50_ms": pct(&mut all.total, 0.5),
            "p99_ms": pct(&mut all.total, 0.99),
            "ttfb_p50_ms": pct(&mut all.ttfb, 0.5),
            "ttfb_p99_ms": pct(&mut all.ttfb, 0.99),
        })
    );
}
