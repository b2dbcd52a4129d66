//! Atomic, serialised writes (reference rule 4 and 12): resolve symlinks and write the link's
//! target; temp file in the same directory, `sync_all`, mode, rename, fsync the directory; refuse
//! to clobber a file that changed since we read it.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::ConfigError;

/// What mode the written file gets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// The file holds a client key: owner-only.
    Secret,
    /// Keep the existing file's mode; `0644` for a new file.
    Keep,
    /// Exactly this (restoring a snapshot with the original's mode).
    #[cfg_attr(not(unix), allow(dead_code))]
    Exact(u32),
}

pub(crate) enum Outcome {
    Written,
    /// The file's bytes differ from what the patch was computed from: re-read and patch again.
    ChangedMeanwhile,
}

/// Follows symlinks, also dangling ones (a dotfile manager may link to a file not yet created).
pub(crate) fn resolve(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => match fs::read_link(&current) {
                Ok(link) => {
                    current = match current.parent() {
                        Some(parent) => parent.join(link),
                        None => link,
                    }
                }
                Err(_) => break,
            },
            _ => break,
        }
    }
    current
}

/// The file's bytes, through symlinks; `None` if it does not exist.
pub(crate) fn read(path: &Path) -> Result<Option<Vec<u8>>, ConfigError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::io(path, e)),
    }
}

/// Runs `f` holding this file's in-process lock (keyed by the resolved path, so a link and its
/// target share one lock). Cross-process advisory locking is not done here.
pub(crate) fn with_lock<T>(path: &Path, f: impl FnOnce() -> T) -> T {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let key = resolve(path);
    let lock = {
        let mut map = LOCKS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.entry(key).or_default().clone()
    };
    let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
    f()
}

/// Writes `bytes` to `path`'s target atomically, unless its current bytes are no longer
/// `expected` (what the caller read and patched).
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: Mode,
    expected: Option<&[u8]>,
) -> Result<Outcome, ConfigError> {
    let target = resolve(path);
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    fs::create_dir_all(&dir).map_err(|e| ConfigError::io(&dir, e))?;
    let existing_mode = existing_mode(&target);

    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| ConfigError::io(&dir, e))?;
    tmp.write_all(bytes)
        .map_err(|e| ConfigError::io(tmp.path(), e))?;
    set_mode(tmp.as_file(), mode, existing_mode).map_err(|e| ConfigError::io(tmp.path(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| ConfigError::io(tmp.path(), e))?;

    // Last check before the rename: someone (an editor, the tool itself) may have saved meanwhile.
    if read(&target)?.as_deref() != expected {
        return Ok(Outcome::ChangedMeanwhile);
    }
    persist(tmp, &target)?;
    sync_dir(&dir);
    Ok(Outcome::Written)
}

/// Removes the file at `path` itself (used when restoring "there was no file").
pub(crate) fn remove(path: &Path) -> Result<(), ConfigError> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(ConfigError::io(path, e)),
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(())
}

fn persist(mut tmp: tempfile::NamedTempFile, target: &Path) -> Result<(), ConfigError> {
    // Windows: an editor or antivirus holding the file open makes the rename fail for a moment.
    let mut attempts = 0;
    loop {
        match tmp.persist(target) {
            Ok(_) => return Ok(()),
            Err(e)
                if attempts < 10
                    && e.error.kind() == io::ErrorKind::PermissionDenied
                    && cfg!(windows) =>
            {
                attempts += 1;
                tmp = e.file;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(ConfigError::io(target, e.error)),
        }
    }
}

#[cfg(unix)]
pub(crate) fn existing_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
pub(crate) fn existing_mode(_path: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
fn set_mode(file: &fs::File, mode: Mode, existing: Option<u32>) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let bits = match mode {
        Mode::Secret => 0o600,
        Mode::Keep => existing.unwrap_or(0o644),
        Mode::Exact(bits) => bits,
    };
    file.set_permissions(fs::Permissions::from_mode(bits))
}

#[cfg(not(unix))]
fn set_mode(_file: &fs::File, _mode: Mode, _existing: Option<u32>) -> io::Result<()> {
    Ok(())
}

/// Makes the rename itself durable. Best effort: some filesystems refuse to fsync directories.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
