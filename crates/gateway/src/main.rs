//! `switchyard`: the headless gateway (same engine as the desktop app, with the browser dashboard).

use clap::{Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use switchyard_gateway::{GatewayConfig, SecretsMode};

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
    },
}

fn main() -> ExitCode {
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
            serve(config)
        }
    }
}

fn serve(config: GatewayConfig) -> ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
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
