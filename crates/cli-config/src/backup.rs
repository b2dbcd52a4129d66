//! Snapshots and backups (reference rule 3). They sit next to the path the tool reads (for a
//! symlink: next to the link, so they stay out of the user's dotfiles repo) and get the original's
//! mode, because they may hold the user's own keys.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::safe_write::existing_mode;
use crate::ConfigError;

/// How many timestamped backups to keep per file.
pub const KEEP_BACKUPS: usize = 10;

const ORIGINAL: &str = ".switchyard-original";
const MISSING: &str = ".switchyard-original-missing";
const BACKUP: &str = ".switchyard-backup-";

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

pub(crate) fn original_path(path: &Path) -> PathBuf {
    sibling(path, ORIGINAL)
}

pub(crate) fn missing_marker(path: &Path) -> PathBuf {
    sibling(path, MISSING)
}

/// The pristine state before Switchyard's first write.
pub(crate) enum Original {
    Bytes(Vec<u8>, Option<u32>),
    Missing,
}

pub(crate) fn original(path: &Path) -> Result<Option<Original>, ConfigError> {
    let snap = original_path(path);
    match fs::read(&snap) {
        Ok(bytes) => return Ok(Some(Original::Bytes(bytes, existing_mode(&snap)))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(ConfigError::io(snap, e)),
    }
    Ok(missing_marker(path).exists().then_some(Original::Missing))
}

pub(crate) fn has_original(path: &Path) -> bool {
    original_path(path).exists() || missing_marker(path).exists()
}

/// Before the first write only: keep the file as it was, or a marker that it did not exist.
pub(crate) fn snapshot_if_first(path: &Path, current: Option<&[u8]>) -> Result<(), ConfigError> {
    if has_original(path) {
        return Ok(());
    }
    let mode = existing_mode(path);
    match current {
        Some(bytes) => write_new(&original_path(path), bytes, mode).map(|_| ()),
        None => write_new(&missing_marker(path), b"", None).map(|_| ()),
    }
}

/// Drops the snapshot after a restore, so the next apply snapshots the user's state afresh.
pub(crate) fn forget_original(path: &Path) -> Result<(), ConfigError> {
    for p in [original_path(path), missing_marker(path)] {
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(ConfigError::io(p, e)),
        }
    }
    Ok(())
}

/// `<file>.switchyard-backup-<UTC yyyymmddThhmmssZ>` (with `-2`, `-3`… within one second), then
/// prunes to the last [`KEEP_BACKUPS`].
pub(crate) fn backup(path: &Path, bytes: &[u8]) -> Result<PathBuf, ConfigError> {
    let stamp = utc_stamp(SystemTime::now());
    let mode = existing_mode(path);
    // Numbering continues after the highest backup of this second: reusing a number freed by
    // pruning would make the newest backup sort as the oldest (and be pruned next).
    let mut n = list_entries(path)
        .into_iter()
        .filter(|(s, _, _)| *s == stamp)
        .map(|(_, n, _)| n + 1)
        .max()
        .unwrap_or(1);
    let written = loop {
        let candidate = if n == 1 {
            sibling(path, &format!("{BACKUP}{stamp}"))
        } else {
            sibling(path, &format!("{BACKUP}{stamp}-{n}"))
        };
        match write_new(&candidate, bytes, mode) {
            Ok(p) => break p,
            Err(ConfigError::Io { source, .. })
                if source.kind() == io::ErrorKind::AlreadyExists =>
            {
                n += 1
            }
            Err(e) => return Err(e),
        }
    };
    prune(path)?;
    Ok(written)
}

/// This file's backups, oldest first.
pub fn list_backups(path: &Path) -> Vec<PathBuf> {
    list_entries(path).into_iter().map(|(_, _, p)| p).collect()
}

/// (stamp, sequence number, path), sorted oldest first.
fn list_entries(path: &Path) -> Vec<(String, u32, PathBuf)> {
    let Some(dir) = path.parent() else {
        return Vec::new();
    };
    let prefix = format!(
        "{}{BACKUP}",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut found: Vec<(String, u32, PathBuf)> = fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    })
    .into_iter()
    .flatten()
    .flatten()
    .filter_map(|entry| {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rest = name.strip_prefix(&prefix)?;
        let (stamp, n) = match rest.split_once('-') {
            Some((s, n)) => (s.to_string(), n.parse().ok()?),
            None => (rest.to_string(), 1),
        };
        Some((stamp, n, entry.path()))
    })
    .collect();
    found.sort();
    found
}

fn prune(path: &Path) -> Result<(), ConfigError> {
    let all = list_backups(path);
    let excess = all.len().saturating_sub(KEEP_BACKUPS);
    for old in &all[..excess] {
        fs::remove_file(old).map_err(|e| ConfigError::io(old, e))?;
    }
    Ok(())
}

/// Creates `path` exclusively (never overwrites an existing backup) with `mode`, synced.
fn write_new(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<PathBuf, ConfigError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The tool's directory may not exist yet (first apply for a tool never run).
        fs::create_dir_all(dir).map_err(|e| ConfigError::io(dir, e))?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode.unwrap_or(0o600));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = opts.open(path).map_err(|e| ConfigError::io(path, e))?;
    #[cfg(unix)]
    if let Some(bits) = mode {
        // `mode()` above is filtered by the umask; the backup must match the original exactly.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(bits))
            .map_err(|e| ConfigError::io(path, e))?;
    }
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| ConfigError::io(path, e))?;
    Ok(path.to_path_buf())
}

/// `yyyymmddThhmmssZ` in UTC, without a date-time dependency.
pub(crate) fn utc_stamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_are_utc_iso_basic() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(utc_stamp(t), "20261118T110640Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(utc_stamp(leap), "20000229T000000Z");
    }

    #[test]
    fn backups_never_collide_and_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        fs::write(&file, "{}").unwrap();
        let mut made = Vec::new();
        for i in 0..13 {
            made.push(backup(&file, format!("{i}").as_bytes()).unwrap());
        }
        let kept = list_backups(&file);
        assert_eq!(kept.len(), KEEP_BACKUPS);
        assert_eq!(
            kept,
            made[3..].to_vec(),
            "the oldest are removed, in write order"
        );
        assert_eq!(fs::read_to_string(kept.last().unwrap()).unwrap(), "12");
    }
}
