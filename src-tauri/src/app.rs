//! App wiring: plugins, gateway start/stop, main window, tray and its refresh loop.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchyard_gateway::sync::MutexExt;

use switchyard_cli_config as cli;
use switchyard_gateway::admin;
use switchyard_gateway::state::{AppState, GatewayEvent};
use switchyard_gateway::{Gateway, GatewayConfig, StartError};
use tauri::menu::MenuEvent;
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, RunEvent, Url, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tauri_plugin_autostart::{MacosLauncher, ManagerExt};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_notification::NotificationExt;
use tokio::sync::{broadcast, watch, Notify};

use crate::notify::{FailoverNotifier, Notice, Notifier};
use crate::settings::{self, DesktopSettings};
use crate::tray::TrayMenu;
use crate::tray_model::{
    ids, tray_model, AccountEntry, GatewayStatus, ToolEntry, ToolState, TrayState,
};

const MAIN_WINDOW: &str = "main";
const TRAY_ID: &str = "main";
/// Coalesces bursts of changes (e.g. quota headers on every proxied response) into one update.
const TRAY_DEBOUNCE: Duration = Duration::from_millis(100);
/// Countdown labels are recomputed at least this often (and tool states re-read).
const TRAY_TICK: Duration = Duration::from_secs(30);
/// "Refresh quotas" is throttled (docs/desktop.md §1: no refresh storms).
const REFRESH_THROTTLE: Duration = Duration::from_secs(10);
/// Upper bound for a clean gateway stop on Quit (the gateway itself waits at most 5 s).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(8);
/// The tools offered in "Configure tools" (OpenClaw is configured from the dashboard/CLI).
const TRAY_TOOLS: [cli::Tool; 4] = [
    cli::Tool::ClaudeCode,
    cli::Tool::Codex,
    cli::Tool::GeminiCli,
    cli::Tool::OpenCode,
];

/// Shared state of the desktop shell (managed by Tauri).
struct Shell {
    /// The running gateway; taken out on Quit.
    gateway: tokio::sync::Mutex<Option<Gateway>>,
    /// The gateway's state, for in-process reads and actions (combos, quota, keys).
    gw: Option<Arc<AppState>>,
    /// What the tray shows. Locked only briefly, never across a menu call.
    tray_state: Mutex<TrayState>,
    /// Wakes the tray refresh loop (the only code that touches menu handles).
    refresh: Arc<Notify>,
    /// Set when the tool config files should be re-read on the next refresh.
    tools_dirty: AtomicBool,
    last_manual_refresh: Mutex<Option<Instant>>,
    /// No StatusNotifier host on the session bus (Linux): the window is the only UI, so closing
    /// it quits.
    no_tray_host: bool,
    /// What the main window loads (the dashboard, or the explanation page); kept to recreate the
    /// window in light mode.
    window_url: Url,
    /// Serialises "is there a main window? if not, create it".
    window_lock: Mutex<()>,
    /// Where `desktop.json` lives (None: the platform has no config dir; light mode then only
    /// lasts for this run).
    config_dir: Option<PathBuf>,
    quitting: AtomicBool,
}

impl Shell {
    fn update(&self, f: impl FnOnce(&mut TrayState)) {
        f(&mut self.tray_state.lock_or_recover());
        self.refresh.notify_one();
    }

    fn light_mode(&self) -> bool {
        self.tray_state.lock_or_recover().light_mode
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
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .setup(move |app| {
            setup(app.handle(), start_hidden)?;
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                let app = window.app_handle();
                let shell = app.try_state::<Shell>();
                let quitting = shell
                    .as_ref()
                    .is_some_and(|s| s.quitting.load(Ordering::SeqCst));
                if window.label() != MAIN_WINDOW || quitting {
                    return;
                }
                api.prevent_close();
                if shell.as_ref().is_some_and(|s| s.no_tray_host) {
                    // Without a tray the hidden app could not be reached again: close quits.
                    tracing::info!("window closed and no tray host: quitting");
                    quit(app);
                    return;
                }
                if shell.as_ref().is_some_and(|s| s.light_mode()) {
                    // Light mode: destroy the webview (and its web process); "Open dashboard"
                    // recreates it. The app stays in the tray (ExitRequested is prevented).
                    tracing::info!("light mode: window closed, webview destroyed");
                    if let Err(e) = window.destroy() {
                        tracing::warn!("cannot destroy the window: {e}");
                    }
                    return;
                }
                // Close = hide: the gateway keeps running in the tray.
                if let Err(e) = window.hide() {
                    tracing::warn!("cannot hide the window: {e}");
                }
                #[cfg(windows)]
                let _ = window.set_skip_taskbar(true);
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

/// Is a StatusNotifierItem host (the tray) there? Linux only; elsewhere the tray always exists.
#[cfg(target_os = "linux")]
fn tray_host_present() -> bool {
    let check = || -> zbus::Result<bool> {
        let conn = zbus::blocking::Connection::session()?;
        let dbus = zbus::blocking::fdo::DBusProxy::new(&conn)?;
        Ok(dbus.name_has_owner("org.kde.StatusNotifierWatcher".try_into()?)?)
    };
    match check() {
        Ok(present) => present,
        Err(e) => {
            tracing::warn!("cannot ask the session bus for a tray host: {e}");
            false
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn tray_host_present() -> bool {
    true
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
    let mut state = TrayState::new(GatewayStatus::Stopping, autostart, now_unix());
    let config_dir = app
        .path()
        .app_config_dir()
        .map_err(|e| tracing::warn!("no config directory for desktop settings: {e}"))
        .ok();
    state.light_mode = config_dir
        .as_deref()
        .map(settings::load)
        .unwrap_or_default()
        .light_mode;

    let no_tray_host = !tray_host_present();
    if no_tray_host {
        tracing::warn!(
            "no tray host (org.kde.StatusNotifierWatcher is not on the session bus): showing the \
             window; closing it quits. On GNOME, enable the AppIndicator extension."
        );
    }

    // 2. The main window: the gateway's own dashboard, or a page explaining why it is not running.
    let (window_url, changes, events, gateway) = match started {
        Ok(gateway) => {
            state.gateway = GatewayStatus::Running {
                addr: gateway.local_addr(),
            };
            state.keychain_warning = keychain_warning(&gateway);
            read_gateway(gateway.state(), &mut state);
            state.tools = tool_entries(&admin::tools::base_url(gateway.state()));
            let url: Url = gateway.dashboard_url().parse()?;
            tracing::info!("dashboard at {url}");
            // Subscribed before anything can fail over, so no event is missed.
            let events = gateway.state().events.subscribe();
            (url, Some(gateway.subscribe()), Some(events), Some(gateway))
        }
        Err((status, message)) => {
            eprintln!("switchyard: the gateway is not running: {message}");
            let url = error_page_url(&message, &status)?;
            state.gateway = status;
            (url, None, None, None)
        }
    };
    if state.light_mode && start_hidden && !no_tray_host {
        // Light mode and started into the tray: no webview until "Open dashboard".
        tracing::info!("light mode: starting without a window");
    } else {
        create_main_window(app, &window_url, !start_hidden || no_tray_host)?;
    }

    // 3. The tray, with its menu attached at build time (a menu attached later may not show on
    // Linux, docs/desktop.md §2).
    let (menu, tray_menu) = TrayMenu::build(app, tray_model(&state))?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(tauri::include_image!("../icons/tray.png"))
        .tooltip("Switchyard")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;

    // Quota states present at start are the baseline: only crossings seen while running notify.
    let mut notifier = Notifier::default();
    notifier.observe(&state.accounts, state.now);

    let refresh = Arc::new(Notify::new());
    app.manage(Shell {
        gw: gateway.as_ref().map(|g| g.state().clone()),
        gateway: tokio::sync::Mutex::new(gateway),
        tray_state: Mutex::new(state),
        refresh: refresh.clone(),
        tools_dirty: AtomicBool::new(false),
        last_manual_refresh: Mutex::new(None),
        no_tray_host,
        window_url,
        window_lock: Mutex::new(()),
        config_dir,
        quitting: AtomicBool::new(false),
    });
    if let Some(events) = events {
        tauri::async_runtime::spawn(event_loop(app.clone(), events));
    }
    tauri::async_runtime::spawn(tray_loop(
        app.clone(),
        tray_menu,
        refresh,
        changes,
        notifier,
    ));
    Ok(())
}

fn create_main_window(app: &AppHandle, url: &Url, visible: bool) -> tauri::Result<()> {
    WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::External(url.clone()))
        .title("Switchyard")
        .inner_size(1100.0, 760.0)
        .min_inner_size(480.0, 360.0)
        .visible(visible)
        .build()?;
    Ok(())
}

fn now_unix() -> u64 {
    switchyard_gateway::clock::now_unix()
}

/// Copies combos, the active combo and every account's quota windows into the tray state.
fn read_gateway(gw: &AppState, state: &mut TrayState) {
    state.combos = gw.router.combos().iter().map(|c| c.name.clone()).collect();
    state.active_combo = gw.router.active();
    state.paused = gw.paused();
    let providers = gw.providers();
    state.accounts = gw
        .router
        .quota_snapshot(&providers)
        .into_iter()
        .map(|q| {
            let enabled = providers
                .iter()
                .find(|p| p.name == q.provider)
                .and_then(|p| p.accounts.iter().find(|a| a.label == q.account))
                .is_none_or(|a| a.enabled);
            AccountEntry {
                provider: q.provider,
                account: q.account,
                enabled,
                windows: q.windows,
            }
        })
        .collect();
}

/// Read-only detection of each tool's configuration (never writes).
fn tool_entries(base_url: &str) -> Vec<ToolEntry> {
    let home = match cli::Home::detect() {
        Ok(home) => home,
        Err(e) => {
            tracing::warn!("cannot find the home directory for tool configs: {e}");
            return Vec::new();
        }
    };
    TRAY_TOOLS
        .iter()
        .map(|&tool| ToolEntry {
            id: tool.id().to_string(),
            name: tool.display_name().to_string(),
            state: match cli::status_for(&home, tool, base_url).state {
                cli::State::NotConfigured => ToolState::NotConfigured,
                cli::State::ConfiguredByUs => ToolState::ConfiguredByUs,
                cli::State::ConfiguredElsewhere { .. } => ToolState::Elsewhere,
                cli::State::Invalid { .. } => ToolState::Invalid,
            },
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

/// The only code that touches menu handles: waits for a state change, a gateway change or the
/// countdown tick, debounces, re-reads the gateway and applies the new model (labels in place,
/// a rebuild only when the structure changed).
async fn tray_loop(
    app: AppHandle,
    mut menu: TrayMenu,
    refresh: Arc<Notify>,
    mut changes: Option<watch::Receiver<u64>>,
    mut notifier: Notifier,
) {
    let mut tick = tokio::time::interval(TRAY_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate
    loop {
        let ticked = match changes.as_mut() {
            Some(rx) => tokio::select! {
                _ = refresh.notified() => false,
                _ = tick.tick() => true,
                r = rx.changed() => {
                    if r.is_err() {
                        changes = None;
                    }
                    false
                }
            },
            None => tokio::select! {
                _ = refresh.notified() => false,
                _ = tick.tick() => true,
            },
        };
        tokio::time::sleep(TRAY_DEBOUNCE).await;
        let shell = app.state::<Shell>();
        let reread_tools = ticked || shell.tools_dirty.swap(false, Ordering::SeqCst);
        let tools = match (&shell.gw, reread_tools) {
            (Some(gw), true) => {
                let url = admin::tools::base_url(gw);
                tauri::async_runtime::spawn_blocking(move || tool_entries(&url))
                    .await
                    .ok()
            }
            _ => None,
        };
        let (rows, notices) = {
            let mut state = shell.tray_state.lock_or_recover();
            state.now = now_unix();
            let mut notices = Vec::new();
            if let Some(gw) = &shell.gw {
                if !shell.quitting.load(Ordering::SeqCst) {
                    read_gateway(gw, &mut state);
                    // The state machine always runs (dedupe stays right); the switches filter.
                    let wanted = gw.settings().notify;
                    notices = notifier.observe(&state.accounts, state.now);
                    notices.retain(|n| crate::notify::enabled(&wanted, n.kind));
                }
            }
            if let Some(tools) = tools {
                state.tools = tools;
            }
            (tray_model(&state), notices)
        };
        for n in notices {
            tracing::info!(title = %n.title, "quota notification");
            show_notice(&app, &n);
        }
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

fn show_notice(app: &AppHandle, n: &Notice) {
    if let Err(e) = app
        .notification()
        .builder()
        .title(&n.title)
        .body(&n.body)
        .show()
    {
        tracing::warn!("cannot show a notification: {e}");
    }
}

/// Gateway events: failovers become notifications (one per combo per 10 min, if the user wants
/// them); pause changes already reach the tray through `subscribe()`.
async fn event_loop(app: AppHandle, mut events: broadcast::Receiver<GatewayEvent>) {
    let mut failovers = FailoverNotifier::default();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::debug!("missed {n} gateway events");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let GatewayEvent::Failover {
            combo,
            failed,
            served_by,
        } = event
        else {
            continue;
        };
        let shell = app.state::<Shell>();
        let Some(gw) = &shell.gw else { return };
        if shell.quitting.load(Ordering::SeqCst) || !gw.settings().notify.failover {
            continue;
        }
        match failovers.observe(&combo, &failed, &served_by, now_unix()) {
            Some(n) => {
                tracing::info!(title = %n.title, body = %n.body, "failover notification");
                show_notice(&app, &n);
            }
            None => tracing::debug!(%combo, "failover notification rate limited"),
        }
    }
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    let id = event.id().as_ref();
    match id {
        ids::OPEN => show_main_window(app),
        ids::AUTOSTART => toggle_autostart(app),
        ids::PAUSE => toggle_pause(app),
        ids::LIGHT_MODE => toggle_light_mode(app),
        ids::QUIT => quit(app),
        ids::REFRESH => refresh_quotas(app),
        ids::COPY_BASE_URL => copy_base_url(app),
        ids::COPY_API_KEY => copy_api_key(app),
        _ => {
            if let Some(name) = id.strip_prefix(ids::COMBO_PREFIX) {
                switch_combo(app, name.to_string());
            } else if let Some(tool) = id.strip_prefix(ids::TOOL_PREFIX) {
                configure_tool(app, tool);
            } else {
                tracing::debug!("menu item {id} has no action");
            }
        }
    }
}

/// Makes `name` the active combo; the tray then re-asserts every combo check mark from the
/// gateway's state (exactly one checked, also when the click hit the already-active combo).
fn switch_combo(app: &AppHandle, name: String) {
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let shell = app.state::<Shell>();
        let Some(gw) = &shell.gw else { return };
        let result = if gw.router.combos().iter().any(|c| c.name == name) {
            gw.set_active_combo(Some(name.clone()))
                .map_err(|e| e.to_string())
        } else {
            Err(format!("combo {name:?} no longer exists"))
        };
        match result {
            Ok(()) => {
                tracing::info!(combo = %name, "active combo changed from the tray");
                shell.update(|s| s.set_warning("combo", None));
            }
            Err(e) => {
                tracing::warn!(combo = %name, "cannot switch combo: {e}");
                shell.update(|s| s.set_warning("combo", Some(format!("Cannot switch combo: {e}"))));
            }
        }
    });
}

/// Points one coding CLI at the gateway (only ever on this explicit click).
fn configure_tool(app: &AppHandle, id: &str) {
    let Some(tool) = cli::Tool::ALL.into_iter().find(|t| t.id() == id) else {
        return;
    };
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let shell = app.state::<Shell>();
        let Some(gw) = &shell.gw else { return };
        let result = (|| -> Result<cli::Applied, String> {
            let home = cli::Home::detect().map_err(|e| e.to_string())?;
            // The same target the dashboard's Apply writes (model only while a combo is active).
            let label = format!("{} (tray)", tool.display_name());
            let key = admin::tools::NewKey {
                tag: tool
                    .key_prefix()
                    .trim_start_matches("sy-")
                    .trim_end_matches('-'),
                label: &label,
            };
            let target = admin::tools::target(gw, Some(key)).map_err(|e| e.message)?;
            cli::apply(&home, tool, &target).map_err(|e| e.to_string())
        })();
        let warning = match result {
            Ok(applied) => {
                tracing::info!(tool = %tool, "configured: {}", applied.restart_hint);
                applied.restart_hint
            }
            Err(e) => {
                tracing::warn!(tool = %tool, "cannot configure: {e}");
                format!("{}: {e}", tool.display_name())
            }
        };
        shell.tools_dirty.store(true, Ordering::SeqCst);
        shell.update(|s| s.set_warning(&format!("tool:{}", tool.id()), Some(warning)));
    });
}

/// Recomputes quota rows now and re-reads tool states; throttled to one per 10 s.
fn refresh_quotas(app: &AppHandle) {
    let shell = app.state::<Shell>();
    {
        let mut last = shell.last_manual_refresh.lock_or_recover();
        if last.is_some_and(|t| t.elapsed() < REFRESH_THROTTLE) {
            tracing::debug!("refresh throttled");
            return;
        }
        *last = Some(Instant::now());
    }
    shell.tools_dirty.store(true, Ordering::SeqCst);
    shell.refresh.notify_one();
}

fn copy_text(app: &AppHandle, what: &str, text: String) {
    match app.clipboard().write_text(text) {
        Ok(()) => tracing::info!("{what} copied to the clipboard"),
        Err(e) => tracing::warn!("cannot copy the {what}: {e}"),
    }
}

fn copy_base_url(app: &AppHandle) {
    if let Some(gw) = &app.state::<Shell>().gw {
        copy_text(
            app,
            "base URL",
            format!("{}/v1", admin::tools::base_url(gw)),
        );
    }
}

fn copy_api_key(app: &AppHandle) {
    let app2 = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let Some(gw) = &app2.state::<Shell>().gw else {
            return;
        };
        let key = admin::tools::NewKey {
            tag: "tray",
            label: "copied from the tray",
        };
        match admin::tools::client_token(gw, key) {
            Ok(key) => copy_text(&app2, "API key", key),
            Err(e) => tracing::warn!("cannot create a client key: {e}"),
        }
    });
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

/// Pauses or resumes the gateway; the tray follows through `subscribe()` (label and status row).
fn toggle_pause(app: &AppHandle) {
    let shell = app.state::<Shell>();
    let Some(gw) = &shell.gw else { return };
    let paused = !gw.paused();
    gw.set_paused(paused);
    tracing::info!(paused, "gateway paused from the tray");
    shell.update(|s| s.paused = paused);
}

/// Flips light mode and stores it; the check mark shows the stored state.
fn toggle_light_mode(app: &AppHandle) {
    let shell = app.state::<Shell>();
    let light = !shell.light_mode();
    if let Some(dir) = &shell.config_dir {
        if let Err(e) = settings::save(dir, DesktopSettings { light_mode: light }) {
            tracing::warn!(
                "cannot store the light mode setting in {}: {e}",
                dir.display()
            );
        }
    }
    tracing::info!(light, "light mode");
    shell.update(|s| s.light_mode = light);
}

/// Shows (and focuses) the main window, creating it if light mode destroyed it.
fn show_main_window(app: &AppHandle) {
    if app.get_webview_window(MAIN_WINDOW).is_none() {
        // Created off the main thread (building a webview from a menu/event handler can
        // deadlock on Windows); `build` hands the work to the event loop.
        let app = app.clone();
        tauri::async_runtime::spawn_blocking(move || {
            let Some(shell) = app.try_state::<Shell>() else {
                return;
            };
            if shell.quitting.load(Ordering::SeqCst) {
                return;
            }
            let _guard = shell.window_lock.lock_or_recover();
            if app.get_webview_window(MAIN_WINDOW).is_none() {
                tracing::info!("recreating the dashboard window");
                if let Err(e) = create_main_window(&app, &shell.window_url, true) {
                    tracing::warn!("cannot create the window: {e}");
                    return;
                }
            }
            focus_main_window(&app);
        });
        return;
    }
    focus_main_window(app);
}

fn focus_main_window(app: &AppHandle) {
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
