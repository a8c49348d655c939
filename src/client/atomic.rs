//! Small files written so a crash leaves the old version or the new one, never half of either,
//! and unusable files moved aside for inspection instead of overwritten. Used by the offline
//! [`cache`](super::cache), the [`saved`](super::saved) stories and the channel line-up
//! ([`crate::config::lineup`]). Blocking: call from a
//! blocking task or before the UI runs.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::Utc;

/// Writes `bytes` to `path` atomically: a temporary file next to it, fsync, rename, fsync of
/// the directory (so the rename itself is durable). Creates the directory when missing.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = path.to_path_buf().into_os_string();
    temp.push(format!(".tmp-{}", std::process::id()));
    let temp = PathBuf::from(temp);
    let write = || -> std::io::Result<()> {
        let mut out = std::fs::File::create(&temp)?;
        out.write_all(bytes)?;
        out.sync_all()?;
        drop(out);
        std::fs::rename(&temp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// Moves an unusable `path` aside as `<name>.<label>-<UTC timestamp>` and returns the new
/// name. A failed move is logged; the caller goes on as if the file were gone either way.
pub fn set_aside(path: &Path, label: &str) -> PathBuf {
    let stamp = Utc::now().format("%Y%m%dT%H%M%S");
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{label}-{stamp}"));
    let moved_to = path.with_file_name(name);
    if let Err(error) = std::fs::rename(path, &moved_to) {
        tracing::warn!(%error, path = %path.display(), "cannot move an unusable file aside");
    }
    moved_to
}
