//! What the ingest pollers remember across restarts: each feed source's validators (ETag,
//! Last-Modified), so the first poll after a restart is a cheap 304 instead of a full fetch,
//! and the item keys its last document listed, so an item that aged out of the channel's live
//! state while its feed still lists it is not announced again;
//! and which hazard each NWS CAP message belongs to ([`CapChains`]), so an update that
//! references only messages seen before a restart still updates its alert in place.
//!
//! A lone server keeps this in a small SQLite file of its own (`ingest.sqlite3` in the data
//! directory): one server's memory of its upstreams, not part of the event log. Nodes of a
//! cluster keep it in Redis instead ([`ValidatorStore::shared`]), with each source's next
//! due time, so the node that takes ingest over after another polls on the same schedule with
//! the same validators instead of refetching everything.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

use super::fetch::Validators;

/// Where the memory lives.
#[derive(Clone)]
enum Memory {
    /// This server's own file.
    Local(Arc<Mutex<Connection>>),
    /// Shared by the nodes of a cluster.
    #[cfg(feature = "redis")]
    Shared(crate::server::log::redis::RedisLog),
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(_) => f.write_str("Local"),
            #[cfg(feature = "redis")]
            Self::Shared(log) => write!(f, "Shared({})", log.describe()),
        }
    }
}

/// Redis hashes of the shared memory (under the log's prefix, `P:ingest:<name>`).
#[cfg(feature = "redis")]
mod shared {
    pub const VALIDATORS: &str = "validators";
    pub const LISTED: &str = "listed";
    pub const DUE: &str = "due";
    pub const CAP: &str = "cap";
}

/// Validators per source URL, on disk or in the cluster's Redis.
#[derive(Debug, Clone)]
pub struct ValidatorStore {
    memory: Memory,
}

impl ValidatorStore {
    /// The memory of a cluster, in the Redis that holds its event log.
    #[cfg(feature = "redis")]
    #[must_use]
    pub fn shared(log: crate::server::log::redis::RedisLog) -> Self {
        Self {
            memory: Memory::Shared(log),
        }
    }

    /// When `source` (a feed URL, or a name like `alerts:<cell>`) is next due, in milliseconds
    /// since the epoch, if a node of the cluster recorded it. Always `None` for a lone server,
    /// which polls at start.
    pub async fn load_due(&self, source: &str) -> Option<u64> {
        let _ = source; // only shared memory keeps schedules
        match &self.memory {
            Memory::Local(_) => None,
            #[cfg(feature = "redis")]
            Memory::Shared(log) => log
                .memory_get(shared::DUE, vec![source.to_owned()])
                .await
                .map_err(|error| tracing::warn!(%error, "cannot read shared poll schedules"))
                .ok()?
                .into_iter()
                .next()
                .flatten()?
                .parse()
                .ok(),
        }
    }

    /// Records when `source` is next due (only shared memory keeps it).
    pub async fn save_due(&self, source: &str, due_millis: u64) {
        let _ = (source, due_millis); // only shared memory keeps schedules
        match &self.memory {
            Memory::Local(_) => {}
            #[cfg(feature = "redis")]
            Memory::Shared(log) => {
                let write = (shared::DUE, source.to_owned(), due_millis.to_string());
                if let Err(error) = log.memory_set(vec![write]).await {
                    tracing::warn!(%error, "cannot save shared poll schedules");
                }
            }
        }
    }

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
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS listed (
                url TEXT NOT NULL,
                key TEXT NOT NULL,
                PRIMARY KEY (url, key)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS cap_chains (
                identifier  TEXT PRIMARY KEY,
                hazard      TEXT NOT NULL,
                seen_millis INTEGER NOT NULL
            ) WITHOUT ROWID;",
        )?;
        Ok(Self {
            memory: Memory::Local(Arc::new(Mutex::new(conn))),
        })
    }

    /// The validators last saved for `url` (empty when none, or on a storage error: the
    /// worst case is one unconditional fetch).
    pub async fn load(&self, url: &str) -> Validators {
        let conn = match &self.memory {
            Memory::Local(conn) => Arc::clone(conn),
            #[cfg(feature = "redis")]
            Memory::Shared(log) => {
                let found = log
                    .memory_get(shared::VALIDATORS, vec![url.to_owned()])
                    .await
                    .map_err(|error| tracing::warn!(%error, "cannot read shared feed validators"))
                    .ok()
                    .and_then(|values| values.into_iter().next().flatten());
                return found
                    .and_then(|json| serde_json::from_str::<SharedValidators>(&json).ok())
                    .map(|saved| Validators {
                        etag: saved.etag,
                        last_modified: saved.last_modified,
                    })
                    .unwrap_or_default();
            }
        };
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

    /// The CAP chain memory kept in the same place.
    #[must_use]
    pub fn cap_chains(&self) -> CapChains {
        CapChains {
            memory: self.memory.clone(),
        }
    }

    /// The item keys `url`'s last stored document listed (empty when none, or on a storage
    /// error: the worst case is that items which aged out of the channel's live state while
    /// still listed are announced again).
    pub async fn load_listed(&self, url: &str) -> Vec<String> {
        let conn = match &self.memory {
            Memory::Local(conn) => Arc::clone(conn),
            #[cfg(feature = "redis")]
            Memory::Shared(log) => {
                let found = log
                    .memory_get(shared::LISTED, vec![url.to_owned()])
                    .await
                    .map_err(|error| tracing::warn!(%error, "cannot read the keys feeds listed"))
                    .ok()
                    .and_then(|values| values.into_iter().next().flatten());
                return found
                    .and_then(|json| serde_json::from_str(&json).ok())
                    .unwrap_or_default();
            }
        };
        let url = url.to_owned();
        let loaded = tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            let mut statement = conn.prepare_cached("SELECT key FROM listed WHERE url = ?1")?;
            statement
                .query_map(params![url], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await;
        match loaded {
            Ok(Ok(keys)) => keys,
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot read the keys feeds listed");
                Vec::new()
            }
            Err(_) => Vec::new(),
        }
    }

    /// Saves `validators` for `url`, and `listed`, the item keys of the document they belong
    /// to, in one transaction. Call only after the document's items were stored.
    pub async fn save(&self, url: &str, validators: &Validators, listed: Vec<String>) {
        let conn = match &self.memory {
            Memory::Local(conn) => Arc::clone(conn),
            #[cfg(feature = "redis")]
            Memory::Shared(log) => {
                let saved = SharedValidators {
                    etag: validators.etag.clone(),
                    last_modified: validators.last_modified.clone(),
                };
                let writes = vec![
                    (
                        shared::VALIDATORS,
                        url.to_owned(),
                        serde_json::to_string(&saved).unwrap_or_default(),
                    ),
                    (
                        shared::LISTED,
                        url.to_owned(),
                        serde_json::to_string(&listed).unwrap_or_default(),
                    ),
                ];
                if let Err(error) = log.memory_set(writes).await {
                    tracing::warn!(%error, "cannot save shared feed validators");
                }
                return;
            }
        };
        let (url, validators) = (url.to_owned(), validators.clone());
        let saved = tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            let transaction = conn.transaction()?;
            transaction.execute(
                "INSERT INTO validators (url, etag, last_modified) VALUES (?1, ?2, ?3)
                 ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified",
                params![url, validators.etag, validators.last_modified],
            )?;
            transaction.execute("DELETE FROM listed WHERE url = ?1", params![url])?;
            {
                let mut insert = transaction
                    .prepare_cached("INSERT OR IGNORE INTO listed (url, key) VALUES (?1, ?2)")?;
                for key in listed {
                    insert.execute(params![url, key])?;
                }
            }
            transaction.commit()
        })
        .await;
        if let Ok(Err(error)) = saved {
            tracing::warn!(%error, "cannot save feed validators");
        }
    }
}

/// How long a CAP identifier is remembered after it was saved: far longer than any chain of
/// updates lasts, short enough that the table stays small.
const CAP_CHAIN_DAYS: u64 = 30;

/// Validators as the shared memory keeps them (JSON).
#[cfg(feature = "redis")]
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedValidators {
    etag: Option<String>,
    last_modified: Option<String>,
}

/// CAP identifier → hazard, for NWS products without VTEC (chained only by `references`).
#[derive(Debug, Clone)]
pub struct CapChains {
    memory: Memory,
}

impl CapChains {
    /// The hazards saved for those of `identifiers` that are known (none on a storage error:
    /// the worst case is a retract and a new alert instead of an update).
    pub async fn load(&self, identifiers: Vec<String>) -> HashMap<String, String> {
        let conn = match &self.memory {
            Memory::Local(conn) => Arc::clone(conn),
            #[cfg(feature = "redis")]
            Memory::Shared(log) => {
                let values = match log.memory_get(shared::CAP, identifiers.clone()).await {
                    Ok(values) => values,
                    Err(error) => {
                        tracing::warn!(%error, "cannot read shared CAP chains");
                        return HashMap::new();
                    }
                };
                return identifiers
                    .into_iter()
                    .zip(values)
                    .filter_map(|(identifier, hazard)| Some((identifier, hazard?)))
                    .collect();
            }
        };
        let loaded = tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            let mut statement =
                conn.prepare_cached("SELECT hazard FROM cap_chains WHERE identifier = ?1")?;
            let mut found = HashMap::new();
            for identifier in identifiers {
                if let Some(hazard) = statement
                    .query_row(params![identifier], |row| row.get::<_, String>(0))
                    .optional()?
                {
                    found.insert(identifier, hazard);
                }
            }
            Ok::<_, rusqlite::Error>(found)
        })
        .await;
        match loaded {
            Ok(Ok(found)) => found,
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot read saved CAP chains");
                HashMap::new()
            }
            Err(_) => HashMap::new(),
        }
    }

    /// Saves `links` (identifier, hazard) at `now_millis`, and forgets identifiers saved more
    /// than a month before.
    pub async fn save(&self, links: Vec<(String, String)>, now_millis: u64) {
        let conn = match &self.memory {
            Memory::Local(conn) => Arc::clone(conn),
            #[cfg(feature = "redis")]
            Memory::Shared(log) => {
                let forget_before = now_millis.saturating_sub(CAP_CHAIN_DAYS * 86_400_000);
                if let Err(error) = log
                    .memory_remember(shared::CAP, links, now_millis, forget_before)
                    .await
                {
                    tracing::warn!(%error, "cannot save shared CAP chains");
                }
                return;
            }
        };
        let now = i64::try_from(now_millis).unwrap_or(i64::MAX);
        let forget_before =
            now.saturating_sub(i64::try_from(CAP_CHAIN_DAYS * 86_400_000).unwrap_or(i64::MAX));
        let saved = tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            let transaction = conn.transaction()?;
            {
                let mut statement = transaction.prepare_cached(
                    "INSERT INTO cap_chains (identifier, hazard, seen_millis) VALUES (?1, ?2, ?3)
                     ON CONFLICT (identifier) DO UPDATE SET hazard = excluded.hazard,
                     seen_millis = excluded.seen_millis",
                )?;
                for (identifier, hazard) in links {
                    statement.execute(params![identifier, hazard, now])?;
                }
            }
            transaction.execute(
                "DELETE FROM cap_chains WHERE seen_millis < ?1",
                params![forget_before],
            )?;
            transaction.commit()
        })
        .await;
        if let Ok(Err(error)) = saved {
            tracing::warn!(%error, "cannot save CAP chains");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cap_chains_survive_reopening_and_old_ones_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ingest.sqlite3");
        let day = 86_400_000;
        {
            let chains = ValidatorStore::open(&path).unwrap().cap_chains();
            chains
                .save(vec![("urn:s1".into(), "urn:s1".into())], 10 * day)
                .await;
            chains
                .save(
                    vec![
                        ("urn:s2".into(), "urn:s1".into()),
                        ("urn:t1".into(), "urn:t1".into()),
                    ],
                    20 * day,
                )
                .await;
        }
        let chains = ValidatorStore::open(&path).unwrap().cap_chains();
        let found = chains
            .load(vec!["urn:s1".into(), "urn:s2".into(), "urn:x".into()])
            .await;
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found["urn:s2"], "urn:s1");
        // A month after urn:s1 and urn:s2 were saved, they go; urn:t1, saved again, stays.
        chains
            .save(vec![("urn:t1".into(), "urn:t1".into())], 55 * day)
            .await;
        let found = chains
            .load(vec!["urn:s1".into(), "urn:s2".into(), "urn:t1".into()])
            .await;
        assert_eq!(found.keys().collect::<Vec<_>>(), ["urn:t1"]);
    }
}
