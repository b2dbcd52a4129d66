//! Thin adapter from [`tray_model`] rows to the native tray menu.
//!
//! Keeps the item handles of the current menu (submenus and their items included).
//! [`TrayMenu::apply`] rebuilds the menu (`set_menu`) only when the set/order of ids changes;
//! otherwise it calls `set_text` / `set_enabled` / `set_checked` on the kept handles, and only for
//! values that changed (check marks are always re-asserted: native check items toggle themselves).

use std::collections::HashMap;

use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIcon;
use tauri::{AppHandle, Wry};

use crate::tray_model::{needs_rebuild, MenuRow, RowKind};

enum Handle {
    Item(MenuItem<Wry>),
    Check(CheckMenuItem<Wry>),
    Submenu(Submenu<Wry>),
    Separator,
}

/// The rendered menu: the rows it was built from and the handles of its items.
pub struct TrayMenu {
    rows: Vec<MenuRow>,
    handles: HashMap<String, Handle>,
}

/// Creates the native items of `rows` and hands each to `append`.
fn build_rows(
    app: &AppHandle,
    rows: &[MenuRow],
    handles: &mut HashMap<String, Handle>,
    append: &dyn Fn(&dyn IsMenuItem<Wry>) -> tauri::Result<()>,
) -> tauri::Result<()> {
    for row in rows {
        let handle = match row.kind {
            RowKind::Item { enabled } => {
                let item =
                    MenuItem::with_id(app, row.id.as_str(), &row.label, enabled, None::<&str>)?;
                append(&item)?;
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
                append(&item)?;
                Handle::Check(item)
            }
            RowKind::Submenu { enabled } => {
                let sub = Submenu::with_id(app, row.id.as_str(), &row.label, enabled)?;
                build_rows(app, &row.children, handles, &|item| sub.append(item))?;
                append(&sub)?;
                Handle::Submenu(sub)
            }
            RowKind::Separator => {
                append(&PredefinedMenuItem::separator(app)?)?;
                Handle::Separator
            }
        };
        handles.insert(row.id.clone(), handle);
    }
    Ok(())
}

impl TrayMenu {
    /// Builds a native menu for `rows`.
    pub fn build(app: &AppHandle, rows: Vec<MenuRow>) -> tauri::Result<(Menu<Wry>, TrayMenu)> {
        let menu = Menu::new(app)?;
        let mut handles = HashMap::with_capacity(rows.len());
        build_rows(app, &rows, &mut handles, &|item| menu.append(item))?;
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
        self.update(&self.rows, &rows)?;
        self.rows = rows;
        Ok(false)
    }

    /// In-place update of rows with the same structure (checked by `needs_rebuild`).
    fn update(&self, old: &[MenuRow], new: &[MenuRow]) -> tauri::Result<()> {
        for (old, new) in old.iter().zip(new) {
            let handle = self.handles.get(&new.id);
            match (handle, new.kind) {
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
                (Some(Handle::Submenu(sub)), RowKind::Submenu { enabled }) => {
                    if old.label != new.label {
                        sub.set_text(&new.label)?;
                    }
                    if old.kind != new.kind {
                        sub.set_enabled(enabled)?;
                    }
                    self.update(&old.children, &new.children)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}
