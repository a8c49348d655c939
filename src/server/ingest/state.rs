//! What the feed pollers remember across restarts: each source's validators (ETag,
//! Last-Modified), so the first poll after a restart is a cheap 304 instead of a full fetch.
//!
//! A small SQLite file of its own (`ingest.sqlite3` in the data directory): this is one
//! server's politeness towards feed hosts, not part of the shared event log.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

use super::fetch::Validators;

/// Validators per source URL, on disk.
#[derive(Debug, Clone)]
pub struct ValidatorStore {
    conn: Arc<Mutex<Connection>>,
}

impl ValidatorStore {
    /// Opens (creating) the store. Blocking; call at startup.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS validators (
                url           TEXT PRIMARY KEY,
                etag          TEXT,
                last_modified TEXT
            ) WITHOUT ROWID;",
        )?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The validators last saved for `url` (empty when none, or on a storage error: the
    /// worst case is one unconditional fetch).
    pub async fn load(&self, url: &str) -> Validators {
        let conn = Arc::clone(&self.conn);
        let url = url.to_owned();
        let loaded = tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            conn.query_row(
                "SELECT etag, last_modified FROM validators WHERE url = ?1",
                params![url],
                |row| {
                    Ok(Validators {
                        etag: row.get(0)?,
                        last_modified: row.get(1)?,
                    })
                },
            )
            .optional()
        })
        .await;
        match loaded {
            Ok(Ok(found)) => found.unwrap_or_default(),
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot read saved feed validators");
                Validators::default()
            }
            Err(_) => Validators::default(),
        }
    }

    /// Saves `validators` for `url`. Call only after the document's items were stored.
    pub async fn save(&self, url: &str, validators: &Validators) {
        let conn = Arc::clone(&self.conn);
        let (url, validators) = (url.to_owned(), validators.clone());
        let saved = tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            conn.execute(
                "INSERT INTO validators (url, etag, last_modified) VALUES (?1, ?2, ?3)
                 ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified",
                params![url, validators.etag, validators.last_modified],
            )
        })
        .await;
        if let Ok(Err(error)) = saved {
            tracing::warn!(%error, "cannot save feed validators");
        }
    }
}
