//! `switchyard`: the headless gateway (same engine as the desktop app, with the browser dashboard).

use clap::{Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use switchyard_gateway::{GatewayConfig, SecretsMode};

/// mimalloc: the request path allocates a lot of small, short-lived objects (JSON values, SSE
/// frames) from two worker threads, and glibc malloc spent about a fifth of the gateway's CPU
/// on them. Measured in BENCHMARKS.md.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_arena_eager_commit` in mimalloc v3's `mi_option_e`.
const MI_OPTION_ARENA_EAGER_COMMIT: i32 = 4;

extern "C" {
    fn mi_option_set(option: i32, value: std::ffi::c_long);
}

/// Arenas are committed as they are used, not up front: eager commit alone took idle RSS from
/// 13 to 20 MiB. mimalloc reads the option when it reserves its first arena, i.e. at the first
/// Rust allocation, which happens before `main`; so on Linux this runs as an ELF constructor,
/// before the Rust runtime allocates anything. Elsewhere it runs first thing in `main`.
#[allow(unsafe_code)]
extern "C" fn lazy_arena_commit() {
    // SAFETY: sets a plain option value; mimalloc reads options without locking.
    unsafe { mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
#[used]
#[link_section = ".init_array"]
static LAZY_ARENA_COMMIT: extern "C" fn() = lazy_arena_commit;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Switchyard: a local AI gateway for coding tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway and the browser dashboard until interrupted (Ctrl-C / SIGTERM).
    Serve {
        /// Port to listen on [env: SWITCHYARD_PORT, default 20128]
        #[arg(long)]
        port: Option<u16>,
        /// Address to bind. Anything but loopback exposes the gateway to your network.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        /// Where the database lives [env: SWITCHYARD_DATA_DIR, default: the OS data dir]
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Extra host name accepted in the Host header (repeatable; for use beyond loopback).
        #[arg(long = "allow-host")]
        allow_hosts: Vec<String>,
        /// Keep provider API keys in a plaintext 0600 file in the data dir instead of the OS
        /// keychain. Only for servers that have no keychain.
        #[arg(long)]
        insecure_file_secrets: bool,
        /// Largest accepted request body, in MiB (long agent contexts with images are big).
        #[arg(long, default_value_t = 32)]
        max_body_mb: usize,
        /// Threads that serve requests (1 = a single event loop, the lightest; more for a
        /// gateway shared by many busy clients) [env: SWITCHYARD_THREADS]
        #[arg(long, env = "SWITCHYARD_THREADS", default_value_t = 1)]
        threads: usize,
    },
    /// Point a coding tool at the gateway by editing its config file (backup first, only our
    /// keys, atomic write), or put its original file back.
    Configure {
        /// claude-code, codex, gemini-cli, opencode or openclaw
        tool: switchyard_cli_config::Tool,
        /// Put back the file as it was before Switchyard first changed it.
        #[arg(long)]
        restore: bool,
        /// Show what would change, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Gateway port the tool should use [env: SWITCHYARD_PORT, default 20128]
        #[arg(long)]
        port: Option<u16>,
        /// Read the client key to write from standard input (one line). Without it the key
        /// comes from SWITCHYARD_CLIENT_KEY, else the SWITCHYARD_MANAGED placeholder is written
        /// (for gateways that do not require keys). Never on the command line: other users see
        /// a process's arguments.
        #[arg(long)]
        token_stdin: bool,
        /// Model the tool should ask for (e.g. `switchyard`, the active-combo alias).
        #[arg(long)]
        model: Option<String>,
    },
}

fn main() -> ExitCode {
    #[cfg(not(target_os = "linux"))]
    lazy_arena_commit();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,hyper=warn,reqwest=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Serve {
            port,
            host,
            data_dir,
            allow_hosts,
            insecure_file_secrets,
            max_body_mb,
            threads,
        } => {
            let mut config = match GatewayConfig::from_env() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("switchyard: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Some(p) = port {
                config.port = p;
            }
            if let Some(d) = data_dir {
                config.data_dir = d;
            }
            config.host = host;
            config.allowed_hosts = allow_hosts;
            config.max_body_bytes = max_body_mb.max(1) * 1024 * 1024;
            if insecure_file_secrets {
                config.secrets = SecretsMode::InsecureFile;
            }
            serve(config, threads)
        }
        Command::Configure {
            tool,
            restore,
            dry_run,
            port,
            token_stdin,
            model,
        } => match client_key(token_stdin) {
            Ok(token) => configure(tool, restore, dry_run, port, token, model),
            Err(e) => {
                eprintln!("switchyard: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// The client key `configure` writes: from standard input, or from SWITCHYARD_CLIENT_KEY.
fn client_key(from_stdin: bool) -> Result<Option<String>, String> {
    let key = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the client key from standard input: {e}"))?;
        Some(line)
    } else {
        std::env::var("SWITCHYARD_CLIENT_KEY").ok()
    };
    match key.map(|k| k.trim().to_string()) {
        Some(k) if k.is_empty() && from_stdin => {
            Err("--token-stdin was given but standard input held no key".into())
        }
        Some(k) if k.is_empty() => Ok(None),
        Some(k) if !k.bytes().all(|b| b.is_ascii_graphic()) => {
            Err("the client key must be one word of plain ASCII".into())
        }
        k => Ok(k),
    }
}

fn configure(
    tool: switchyard_cli_config::Tool,
    restore: bool,
    dry_run: bool,
    port: Option<u16>,
    token: Option<String>,
    model: Option<String>,
) -> ExitCode {
    use switchyard_cli_config as cli;
    let run = || -> Result<String, cli::ConfigError> {
        let home = cli::Home::detect()?;
        let port = match port {
            Some(p) => p,
            None => GatewayConfig::from_env().map(|c| c.port).unwrap_or(20128),
        };
        let target = cli::Target {
            base_url: format!("http://127.0.0.1:{port}"),
            token: token.unwrap_or_else(|| cli::MANAGED_TOKEN.to_string()),
            model,
        };
        Ok(match (restore, dry_run) {
            (false, true) => {
                let p = cli::plan_apply(&home, tool, &target)?;
                if p.is_noop() {
                    format!(
                        "{} is already configured; nothing would change",
                        tool.display_name()
                    )
                } else {
                    format!("would change:\n{}", p.diff())
                }
            }
            (false, false) => {
                let a = cli::apply(&home, tool, &target)?;
                if a.plan.is_noop() {
                    format!(
                        "{} is already configured; nothing changed",
                        tool.display_name()
                    )
                } else {
                    let mut s = format!("{}\n", a.plan.diff());
                    for b in &a.backups {
                        s += &format!("backup: {}\n", b.display());
                    }
                    for n in &a.plan.notes {
                        s += &format!("note: {n}\n");
                    }
                    s + &a.restart_hint
                }
            }
            (true, true) => format!("would restore:\n{}", cli::plan_restore(&home, tool)?.diff()),
            (true, false) => {
                let p = cli::restore(&home, tool)?;
                format!("{}\nrestored; {}", p.diff(), tool.restart_hint())
            }
        })
    };
    match run() {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("switchyard configure {tool}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One event-loop thread by default. Measured on two shared cores (BENCHMARKS.md): two worker
/// threads spend about twice the CPU per request at low concurrency (a worker woken to steal work
/// that the first already took), which added ~0.1 ms at c=1, and at c=64 they won only on
/// translated streams (0.48x vs 0.44x of direct) once bursts of upstream chunks were merged. A
/// personal gateway carries a few streams at a time, far below one core's ~7k streams/s; a
/// gateway shared by many busy clients can ask for more (`--threads N`). Blocking work (SQLite,
/// the keychain) runs on tokio's blocking pool either way.
fn runtime(threads: usize) -> tokio::runtime::Runtime {
    let mut b = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    b.enable_all().build().expect("tokio runtime")
}

fn serve(config: GatewayConfig, threads: usize) -> ExitCode {
    let rt = runtime(threads);
    rt.block_on(async move {
        if !config.host.is_loopback() {
            tracing::warn!(
                "binding {} exposes the gateway beyond this machine; requests must still name an allowed Host",
                config.host
            );
        }
        let data_dir = config.data_dir.clone();
        let gateway = match switchyard_gateway::start(config).await {
            Ok(g) => g,
            Err(e) => {
                eprintln!("switchyard: {e}");
                return ExitCode::FAILURE;
            }
        };
        let keychain = gateway.keychain_status();
        eprintln!(
            "Switchyard {} listening on http://{}  (OpenAI base URL: http://{}/v1, dashboard: {})",
            switchyard_gateway::VERSION,
            gateway.local_addr(),
            gateway.local_addr(),
            gateway.dashboard_url()
        );
        eprintln!("data: {}", data_dir.display());
        if !gateway.local_addr().ip().is_loopback() {
            eprintln!(
                "remote access: other machines need a client key for /v1 and `Authorization: Bearer {}` for the management API",
                gateway.admin_token()
            );
        }
        match (keychain.can_store_secrets, keychain.persistent) {
            (true, true) => eprintln!("secrets: {} (persistent)", keychain.backend),
            _ => eprintln!(
                "WARNING: {}",
                keychain.detail.as_deref().unwrap_or("the keychain is not persistent")
            ),
        }
        wait_for_signal().await;
        eprintln!("switchyard: shutting down");
        gateway.shutdown().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
