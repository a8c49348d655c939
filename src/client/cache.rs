//! The offline cache: the [`Store`] and the last event id, saved to the user's cache directory
//! so the app shows content at once on start and resumes the stream where it left off.
//!
//! Writes are atomic (temporary file, fsync, rename, fsync of the directory) and debounced by
//! [`spawn_writer`]. A file that cannot be read back, or was written by a newer version, is set
//! aside under another name with a warning; it never stops the app.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::store::Store;

/// The cache format this build writes.
pub const CACHE_VERSION: u32 = 1;

/// What is saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheFile {
    /// Format version.
    pub version: u32,
    /// The server the state came from (a different server's cache is not used).
    pub server: String,
    /// Resume the stream after this id.
    pub last_event_id: Option<String>,
    /// When it was written.
    pub saved: DateTime<Utc>,
    /// The state (shared with the feed: saving does not copy it).
    pub store: Arc<Store>,
}

impl CacheFile {
    /// A cache file for `server` with the current time.
    #[must_use]
    pub fn new(server: &str, last_event_id: Option<String>, store: Arc<Store>) -> Self {
        Self {
            version: CACHE_VERSION,
            server: server.to_owned(),
            last_event_id,
            saved: Utc::now(),
            store,
        }
    }
}

/// The result of loading.
#[derive(Debug)]
pub enum Loaded {
    /// A usable cache.
    Cache(Box<CacheFile>),
    /// No cache yet.
    Missing,
    /// The file was unusable and has been moved aside; start empty.
    SetAside {
        /// Why it was unusable.
        reason: String,
        /// Where it went.
        moved_to: PathBuf,
    },
}

/// The cache file for one server.
#[derive(Debug, Clone)]
pub struct Cache {
    path: PathBuf,
}

/// Why saving failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the offline cache {path}: {source}")]
pub struct SaveError {
    /// The file.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

impl Cache {
    /// A cache at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The default cache file for `server` in the user's cache directory.
    #[must_use]
    pub fn for_server(server: &str) -> Option<Self> {
        let dirs = directories::ProjectDirs::from("org", "Tidings", "tidings")?;
        // A short stable name per server: FNV-1a of the URL.
        let hash = server.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Some(Self::new(
            dirs.cache_dir().join(format!("stream-{hash:016x}.json")),
        ))
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the cache for `server`. Blocking (small file); call before connecting.
    pub fn load(&self, server: &str) -> Loaded {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Loaded::Missing,
            Err(error) => return self.set_aside("unreadable", format!("cannot read it: {error}")),
        };
        match serde_json::from_slice::<VersionOnly>(&bytes) {
            Ok(found) if found.version > CACHE_VERSION => {
                return self.set_aside(
                    &format!("v{}", found.version),
                    format!(
                        "it was written by a newer Tidings (format {} > {CACHE_VERSION})",
                        found.version
                    ),
                );
            }
            Ok(_) => {}
            Err(error) => {
                return self.set_aside("corrupt", format!("it is not a cache file: {error}"));
            }
        }
        match serde_json::from_slice::<CacheFile>(&bytes) {
            Ok(file) if file.server == server => Loaded::Cache(Box::new(file)),
            Ok(_) => Loaded::Missing,
            Err(error) => self.set_aside("corrupt", format!("it is damaged: {error}")),
        }
    }

    fn set_aside(&self, label: &str, reason: String) -> Loaded {
        let moved_to = super::atomic::set_aside(&self.path, label);
        tracing::warn!(reason = %reason, moved_to = %moved_to.display(), "offline cache set aside; starting empty");
        Loaded::SetAside { reason, moved_to }
    }

    /// Writes `file` atomically: a crash leaves the old cache or the new one, never half.
    pub fn save(&self, file: &CacheFile) -> Result<(), SaveError> {
        let fail = |source| SaveError {
            path: self.path.clone(),
            source,
        };
        let bytes = serde_json::to_vec(file).map_err(|e| fail(std::io::Error::other(e)))?;
        super::atomic::write(&self.path, &bytes).map_err(fail)
    }
}

/// Starts a task that saves what is sent to it, at most once per `debounce`, and once more
/// (without waiting) when the sender is dropped. Await the handle to know the last save is done.
pub fn spawn_writer(
    cache: Cache,
    debounce: Duration,
) -> (
    watch::Sender<Option<Arc<CacheFile>>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = watch::channel::<Option<Arc<CacheFile>>>(None);
    let task = tokio::spawn(async move {
        let mut saved: Option<Arc<CacheFile>> = None;
        loop {
            let open = rx.changed().await.is_ok();
            if open {
                // Let a burst settle (newer snapshots replace older ones), unless we are closing.
                tokio::select! {
                    () = tokio::time::sleep(debounce) => {}
                    () = closed(&mut rx) => {}
                }
            }
            let latest = rx.borrow_and_update().clone();
            if let Some(file) =
                latest.filter(|file| !saved.as_ref().is_some_and(|s| Arc::ptr_eq(s, file)))
            {
                let writer = cache.clone();
                let to_save = Arc::clone(&file);
                match tokio::task::spawn_blocking(move || writer.save(&to_save)).await {
                    Ok(Ok(())) => saved = Some(file),
                    Ok(Err(error)) => tracing::warn!(%error, "offline cache not saved"),
                    Err(error) => tracing::warn!(%error, "offline cache writer failed"),
                }
            }
            if !open {
                return;
            }
        }
    });
    (tx, task)
}

/// Resolves when the sender is gone (consuming change notifications meanwhile).
async fn closed(rx: &mut watch::Receiver<Option<Arc<CacheFile>>>) {
    while rx.changed().await.is_ok() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ChannelId, Event, Item, ItemKey, Severity};

    fn store_with_item() -> Store {
        let mut store = Store::default();
        let now = Utc::now();
        store.apply(
            Some(crate::protocol::EventId::new(5, 0)),
            Event::Item(Item {
                channel: ChannelId::new("w").unwrap(),
                key: ItemKey::new("k").unwrap(),
                title: "Cached".into(),
                body: None,
                link: None,
                source: None,
                image: None,
                severity: Severity::Info,
                published: now,
                updated: now,
                expires: None,
            }),
        );
        store
    }

    #[test]
    fn round_trips_and_ignores_another_servers_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("sub/cache.json"));
        assert!(matches!(cache.load("http://a"), Loaded::Missing));
        let file = CacheFile::new("http://a", Some("5-0".into()), Arc::new(store_with_item()));
        cache.save(&file).unwrap();
        match cache.load("http://a") {
            Loaded::Cache(loaded) => assert_eq!(*loaded, file),
            other => panic!("{other:?}"),
        }
        assert!(matches!(cache.load("http://b"), Loaded::Missing));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }

    #[test]
    fn corrupt_and_newer_files_are_set_aside_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache.json"));
        for (content, label) in [
            (&b"{\"version\": 1, \"server\": \"x\", trunc"[..], "corrupt"),
            (&b"\x00\x01binary"[..], "corrupt"),
            (&b"{\"version\": 99, \"anything\": true}"[..], "v99"),
        ] {
            std::fs::write(cache.path(), content).unwrap();
            match cache.load("x") {
                Loaded::SetAside { moved_to, .. } => {
                    assert!(
                        moved_to
                            .to_string_lossy()
                            .contains(&format!("cache.json.{label}-")),
                        "{moved_to:?}"
                    );
                    assert_eq!(
                        std::fs::read(&moved_to).unwrap(),
                        content,
                        "the bad file is kept for inspection"
                    );
                    std::fs::remove_file(moved_to).unwrap();
                }
                other => panic!("{label}: {other:?}"),
            }
            assert!(!cache.path().exists());
        }
    }

    #[tokio::test]
    async fn the_writer_debounces_and_flushes_on_close() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache.json"));
        let (tx, task) = spawn_writer(cache.clone(), Duration::from_secs(3600));
        for n in 0..50 {
            let file = CacheFile::new("s", Some(format!("{n}-0")), Arc::default());
            tx.send_replace(Some(Arc::new(file)));
        }
        // Within the debounce nothing is written; closing flushes the newest at once.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!cache.path().exists());
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        match cache.load("s") {
            Loaded::Cache(file) => assert_eq!(file.last_event_id.as_deref(), Some("49-0")),
            other => panic!("{other:?}"),
        }
    }
}
