//! App wiring: plugins, gateway start/stop, main window, tray and its refresh loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_gateway::{Gateway, GatewayConfig, StartError};
use tauri::menu::MenuEvent;
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, RunEvent, Url, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tauri_plugin_autostart::{MacosLauncher, ManagerExt};
use tokio::sync::{watch, Notify};

use crate::tray::TrayMenu;
use crate::tray_model::{ids, tray_model, GatewayStatus, ProviderEntry, TrayState};

const MAIN_WINDOW: &str = "main";
const TRAY_ID: &str = "main";
/// Coalesces bursts of changes (e.g. several providers added at once) into one menu update.
const TRAY_DEBOUNCE: Duration = Duration::from_millis(50);
/// Upper bound for a clean gateway stop on Quit (the gateway itself waits at most 5 s).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(8);

/// Shared state of the desktop shell (managed by Tauri).
struct Shell {
    /// The running gateway; taken out on Quit.
    gateway: tokio::sync::Mutex<Option<Gateway>>,
    /// What the tray shows. Locked only briefly, never across a menu call.
    tray_state: Mutex<TrayState>,
    /// Wakes the tray refresh loop (the only code that touches menu handles).
    refresh: Arc<Notify>,
    quitting: AtomicBool,
}

impl Shell {
    fn update(&self, f: impl FnOnce(&mut TrayState)) {
        f(&mut self.tray_state.lock().unwrap_or_else(|e| e.into_inner()));
        self.refresh.notify_one();
    }
}

/// Runs the app; returns the process exit code.
pub fn run(start_hidden: bool) -> i32 {
    let app = tauri::Builder::default()
        // Must be first: a second launch hands its argv to this process and exits.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            tracing::info!(?argv, "second launch: showing the existing window");
            show_main_window(app);
        }))
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            Some(vec!["--hidden"]),
        ))
        .setup(move |app| {
            setup(app.handle(), start_hidden)?;
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                let quitting = window
                    .app_handle()
                    .try_state::<Shell>()
                    .is_some_and(|s| s.quitting.load(Ordering::SeqCst));
                if window.label() == MAIN_WINDOW && !quitting {
                    // Close = hide: the gateway keeps running in the tray.
                    api.prevent_close();
                    if let Err(e) = window.hide() {
                        tracing::warn!("cannot hide the window: {e}");
                    }
                    #[cfg(windows)]
                    let _ = window.set_skip_taskbar(true);
                }
            }
        })
        .build(tauri::generate_context!("../tauri.conf.json"));
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("switchyard: cannot start the desktop app: {e}");
            return 1;
        }
    };
    app.run_return(on_run_event)
}

#[cfg_attr(not(target_os = "macos"), allow(unused_variables))]
fn on_run_event(app: &AppHandle, event: RunEvent) {
    match event {
        // The last window was closed/hidden: stay in the tray. Quit exits with a code.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        // Dock icon clicked.
        #[cfg(target_os = "macos")]
        RunEvent::Reopen { .. } => show_main_window(app),
        _ => {}
    }
}

fn setup(app: &AppHandle, start_hidden: bool) -> Result<(), Box<dyn std::error::Error>> {
    // 1. The gateway, in-process, on Tauri's tokio runtime.
    let started = match GatewayConfig::from_env() {
        Ok(config) => tauri::async_runtime::block_on(switchyard_gateway::start(config)).map_err(
            |e| match &e {
                StartError::PortInUse { addr } => (
                    GatewayStatus::PortInUse { port: addr.port() },
                    e.to_string(),
                ),
                _ => (
                    GatewayStatus::Failed {
                        message: e.to_string(),
                    },
                    e.to_string(),
                ),
            },
        ),
        Err(e) => Err((
            GatewayStatus::Failed {
                message: e.to_string(),
            },
            e.to_string(),
        )),
    };

    let autostart = app.autolaunch().is_enabled().unwrap_or_else(|e| {
        tracing::warn!("cannot read the start-at-login state: {e}");
        false
    });
    let mut state = TrayState {
        gateway: GatewayStatus::Stopping,
        providers: Vec::new(),
        autostart,
        keychain_warning: None,
    };

    // 2. The main window: the gateway's own dashboard, or a page explaining why it is not running.
    let (window_url, changes, gateway) = match started {
        Ok(gateway) => {
            state.gateway = GatewayStatus::Running {
                addr: gateway.local_addr(),
            };
            state.providers = provider_entries(&gateway);
            state.keychain_warning = keychain_warning(&gateway);
            let url: Url = gateway.dashboard_url().parse()?;
            tracing::info!("dashboard at {url}");
            (url, Some(gateway.subscribe()), Some(gateway))
        }
        Err((status, message)) => {
            eprintln!("switchyard: the gateway is not running: {message}");
            let url = error_page_url(&message, &status)?;
            state.gateway = status;
            (url, None, None)
        }
    };
    WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::External(window_url))
        .title("Switchyard")
        .inner_size(1100.0, 760.0)
        .min_inner_size(480.0, 360.0)
        .visible(!start_hidden)
        .build()?;

    // 3. The tray, with its menu attached at build time (a menu attached later may not show on
    // Linux, desktop.md §2).
    let (menu, tray_menu) = TrayMenu::build(app, tray_model(&state))?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(tauri::include_image!("../icons/tray.png"))
        .tooltip("Switchyard")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;

    let refresh = Arc::new(Notify::new());
    app.manage(Shell {
        gateway: tokio::sync::Mutex::new(gateway),
        tray_state: Mutex::new(state),
        refresh: refresh.clone(),
        quitting: AtomicBool::new(false),
    });
    tauri::async_runtime::spawn(tray_loop(app.clone(), tray_menu, refresh, changes));
    Ok(())
}

fn provider_entries(gateway: &Gateway) -> Vec<ProviderEntry> {
    tauri::async_runtime::block_on(gateway.providers())
        .into_iter()
        .map(|p| ProviderEntry {
            name: p.name,
            base_url: p.base_url,
        })
        .collect()
}

fn keychain_warning(gateway: &Gateway) -> Option<String> {
    let k = gateway.keychain_status();
    if !k.can_store_secrets {
        Some("Keychain unavailable — providers cannot be added".to_string())
    } else if !k.persistent {
        Some(format!("Keys are not persistent ({})", k.backend))
    } else {
        None
    }
}

/// The only code that touches menu handles: waits for a state change or a provider change,
/// debounces, and applies the new model.
async fn tray_loop(
    app: AppHandle,
    mut menu: TrayMenu,
    refresh: Arc<Notify>,
    mut changes: Option<watch::Receiver<u64>>,
) {
    enum Wake {
        Refresh,
        Providers,
        ProvidersGone,
    }
    loop {
        let wake = match changes.as_mut() {
            Some(rx) => tokio::select! {
                _ = refresh.notified() => Wake::Refresh,
                r = rx.changed() => if r.is_ok() { Wake::Providers } else { Wake::ProvidersGone },
            },
            None => {
                refresh.notified().await;
                Wake::Refresh
            }
        };
        tokio::time::sleep(TRAY_DEBOUNCE).await;
        let shell = app.state::<Shell>();
        match wake {
            Wake::ProvidersGone => changes = None,
            Wake::Providers => {
                let providers = {
                    let gateway = shell.gateway.lock().await;
                    match gateway.as_ref() {
                        Some(g) => Some(g.providers().await),
                        None => None,
                    }
                };
                if let Some(providers) = providers {
                    let entries = providers
                        .into_iter()
                        .map(|p| ProviderEntry {
                            name: p.name,
                            base_url: p.base_url,
                        })
                        .collect();
                    shell
                        .tray_state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .providers = entries;
                }
            }
            Wake::Refresh => {}
        }
        let rows = tray_model(&shell.tray_state.lock().unwrap_or_else(|e| e.into_inner()));
        let Some(tray) = app.tray_by_id(TRAY_ID) else {
            return; // removed on quit
        };
        match menu.apply(&app, &tray, rows) {
            Ok(true) => tracing::debug!("tray menu rebuilt"),
            Ok(false) => {}
            Err(e) => tracing::warn!("cannot update the tray menu: {e}"),
        }
    }
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    match event.id().as_ref() {
        ids::OPEN => show_main_window(app),
        ids::AUTOSTART => toggle_autostart(app),
        ids::QUIT => quit(app),
        other => tracing::debug!("menu item {other} has no action"),
    }
}

/// Flips "start at login" from the real OS state, then shows the real OS state again.
fn toggle_autostart(app: &AppHandle) {
    let autolaunch = app.autolaunch();
    let enable = !autolaunch.is_enabled().unwrap_or(false);
    let result = if enable {
        autolaunch.enable()
    } else {
        autolaunch.disable()
    };
    if let Err(e) = result {
        tracing::warn!(enable, "cannot change start at login: {e}");
    }
    let now = autolaunch.is_enabled().unwrap_or(false);
    tracing::info!(enabled = now, "start at login");
    app.state::<Shell>().update(|s| s.autostart = now);
}

fn show_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        #[cfg(windows)]
        let _ = window.set_skip_taskbar(false);
        let _ = window.unminimize();
        if let Err(e) = window.show() {
            tracing::warn!("cannot show the window: {e}");
        }
        let _ = window.set_focus();
    }
}

/// Stops the gateway cleanly (port closed), removes the tray icon, exits with code 0.
fn quit(app: &AppHandle) {
    let shell = app.state::<Shell>();
    if shell.quitting.swap(true, Ordering::SeqCst) {
        return;
    }
    tracing::info!("quit requested");
    shell.update(|s| s.gateway = GatewayStatus::Stopping);
    // Close the webview first so its keep-alive connections do not hold up the graceful stop.
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.destroy();
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let gateway = app.state::<Shell>().gateway.lock().await.take();
        if let Some(gateway) = gateway {
            if tokio::time::timeout(SHUTDOWN_TIMEOUT, gateway.shutdown())
                .await
                .is_err()
            {
                tracing::warn!("the gateway did not stop within {SHUTDOWN_TIMEOUT:?}");
            }
        }
        if let Some(tray) = app.remove_tray_by_id(TRAY_ID) {
            let _ = tray.set_visible(false);
        }
        app.exit(0);
    });
}

/// A self-contained page (data: URL) explaining why the dashboard is not available.
fn error_page_url(
    message: &str,
    status: &GatewayStatus,
) -> Result<Url, Box<dyn std::error::Error>> {
    let hint = if let GatewayStatus::PortInUse { port } = status {
        format!(
            "Another program (or another Switchyard) is using port {port}. Quit it and start \
             Switchyard again, or start Switchyard with <code>SWITCHYARD_PORT</code> set to a \
             free port."
        )
    } else {
        "Fix the problem above and start Switchyard again.".to_string()
    };
    let html = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Switchyard</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:0;background:#0f2740;color:#e8eef5;}}
main{{max-width:640px;margin:12vh auto;padding:32px;background:#17324d;border-radius:16px;}}
h1{{font-size:22px;margin:0 0 12px;color:#f5a623}}code{{background:#0f2740;padding:1px 5px;border-radius:4px}}
p.msg{{font-family:ui-monospace,monospace;background:#0f2740;padding:12px;border-radius:8px}}</style></head>
<body><main><h1>⚠ The Switchyard gateway is not running</h1><p class="msg">{}</p><p>{hint}</p></main></body></html>"#,
        html_escape(message)
    );
    Ok(Url::parse(&format!(
        "data:text/html;charset=utf-8,{}",
        percent_encode(&html)
    ))?)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_page_is_a_valid_data_url() {
        let url = error_page_url(
            "port 20128 on 127.0.0.1 is already in use <&>",
            &GatewayStatus::PortInUse { port: 20128 },
        )
        .unwrap();
        assert_eq!(url.scheme(), "data");
        let s = url.as_str();
        assert!(s.starts_with("data:text/html;charset=utf-8,%3C%21doctype"));
        assert!(!s.contains('<') && !s.contains(' '));
    }

    #[test]
    fn percent_encoding_round_trip_of_utf8() {
        assert_eq!(percent_encode("a b⚠"), "a%20b%E2%9A%A0");
    }
}
