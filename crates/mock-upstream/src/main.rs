//! `mock-upstream`: run the fake provider as a process (end-to-end tests, benchmarks).

use clap::Parser;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "mock-upstream",
    about = "Fake OpenAI-compatible upstream on 127.0.0.1 for tests"
)]
struct Args {
    /// Port (0 = any free port; the chosen one is printed on the first stdout line).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Delay before each streamed chunk, in milliseconds.
    #[arg(long, default_value_t = 0)]
    drip_ms: u64,
    /// Number of content chunks per streamed answer.
    #[arg(long, default_value_t = 5)]
    chunks: usize,
    /// Require `Authorization: Bearer <KEY>` like a real provider.
    #[arg(long)]
    require_key: Option<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mock = mock_upstream::start(
        mock_upstream::MockConfig {
            chunks: args.chunks,
            drip: Duration::from_millis(args.drip_ms),
            require_key: args.require_key,
        },
        args.port,
    )
    .await?;
    println!("mock-upstream listening on http://{}", mock.addr);
    tokio::signal::ctrl_c().await?;
    mock.stop();
    Ok(())
}
