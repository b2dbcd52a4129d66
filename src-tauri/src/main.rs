//! Switchyard desktop shell: runs the gateway in-process, shows its dashboard in a window and lives
//! in the system tray.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod app;
mod notify;
mod settings;
mod tray;
mod tray_model;

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let hidden = std::env::args().skip(1).any(|a| a == "--hidden");
    std::process::exit(app::run(hidden));
}
