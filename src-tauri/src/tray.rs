//! Thin adapter from [`tray_model`] rows to the native tray menu.
//!
//! Keeps the item handles of the current menu. [`TrayMenu::apply`] rebuilds the menu (`set_menu`)
//! only when the set/order of ids changes; otherwise it calls `set_text` / `set_enabled` /
//! `set_checked` on the kept handles, and only for values that changed.

use std::collections::HashMap;

use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIcon;
use tauri::{AppHandle, Wry};

use crate::tray_model::{needs_rebuild, MenuRow, RowKind};

enum Handle {
    Item(MenuItem<Wry>),
    Check(CheckMenuItem<Wry>),
    Separator,
}

/// The rendered menu: the rows it was built from and the handles of its items.
pub struct TrayMenu {
    rows: Vec<MenuRow>,
    handles: HashMap<String, Handle>,
}

impl TrayMenu {
    /// Builds a native menu for `rows`.
    pub fn build(app: &AppHandle, rows: Vec<MenuRow>) -> tauri::Result<(Menu<Wry>, TrayMenu)> {
        let menu = Menu::new(app)?;
        let mut handles = HashMap::with_capacity(rows.len());
        for row in &rows {
            let handle = match row.kind {
                RowKind::Item { enabled } => {
                    let item =
                        MenuItem::with_id(app, row.id.as_str(), &row.label, enabled, None::<&str>)?;
                    menu.append(&item)?;
                    Handle::Item(item)
                }
                RowKind::Check { enabled, checked } => {
                    let item = CheckMenuItem::with_id(
                        app,
                        row.id.as_str(),
                        &row.label,
                        enabled,
                        checked,
                        None::<&str>,
                    )?;
                    menu.append(&item)?;
                    Handle::Check(item)
                }
                RowKind::Separator => {
                    menu.append(&PredefinedMenuItem::separator(app)?)?;
                    Handle::Separator
                }
            };
            handles.insert(row.id.clone(), handle);
        }
        Ok((menu, TrayMenu { rows, handles }))
    }

    /// Brings the tray's menu to `rows`. Returns true when the menu was rebuilt.
    pub fn apply(
        &mut self,
        app: &AppHandle,
        tray: &TrayIcon,
        rows: Vec<MenuRow>,
    ) -> tauri::Result<bool> {
        if needs_rebuild(&self.rows, &rows) {
            let (menu, fresh) = TrayMenu::build(app, rows)?;
            tray.set_menu(Some(menu))?;
            *self = fresh;
            return Ok(true);
        }
        for (old, new) in self.rows.iter().zip(&rows) {
            if old == new && !matches!(new.kind, RowKind::Check { .. }) {
                continue;
            }
            match (self.handles.get(&new.id), new.kind) {
                (Some(Handle::Item(item)), RowKind::Item { enabled }) => {
                    if old.label != new.label {
                        item.set_text(&new.label)?;
                    }
                    if old.kind != new.kind {
                        item.set_enabled(enabled)?;
                    }
                }
                (Some(Handle::Check(item)), RowKind::Check { enabled, checked }) => {
                    if old.label != new.label {
                        item.set_text(&new.label)?;
                    }
                    if old.kind != new.kind {
                        item.set_enabled(enabled)?;
                    }
                    // Always re-assert: a native check item toggles itself when clicked, so the
                    // widget may disagree with `old` even when `old.kind` equals `new.kind`.
                    item.set_checked(checked)?;
                }
                _ => {}
            }
        }
        self.rows = rows;
        Ok(false)
    }
}
