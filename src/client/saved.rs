//! Saved stories: items the user starred to keep. Each is a full copy of the item (with its
//! channel's name and colour), so it stays readable, searchable and exportable after the
//! channel's history has moved on, or the item was retracted or expired, and offline.
//!
//! Kept in `saved.json` in the user's data directory (not the cache directory: this is the
//! user's own data), written atomically by [`spawn_writer`] right after each change. A file
//! that cannot be read, or was written by a newer Tidings, is moved aside with a warning and
//! never overwritten; the app starts with no saved stories and everything else works.
//! [`export`] writes them as browser bookmarks (Netscape HTML, which every browser imports)
//! or JSON. Called by the GUI and the `tidings saved` command; no egui here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::protocol::{ChannelId, Item, ItemKey};

/// The file format this build writes.
pub const SAVED_VERSION: u32 = 1;

/// One saved story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedStory {
    /// The item as it was when saved (or last updated while still on the server).
    pub item: Item,
    /// The channel's name then.
    pub channel_title: String,
    /// The channel's colour then (`#rrggbb`).
    #[serde(default)]
    pub channel_colour: String,
    /// When the user saved it.
    pub saved_at: DateTime<Utc>,
}

impl SavedStory {
    /// A story saved at `saved_at` from `channel_title` (colour `channel_colour`).
    #[must_use]
    pub fn new(
        item: Item,
        channel_title: &str,
        channel_colour: &str,
        saved_at: DateTime<Utc>,
    ) -> Self {
        Self {
            item,
            channel_title: channel_title.to_owned(),
            channel_colour: channel_colour.to_owned(),
            saved_at,
        }
    }

    fn is(&self, channel: &ChannelId, key: &ItemKey) -> bool {
        self.item.channel == *channel && self.item.key == *key
    }
}

/// Every saved story, most recently saved first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SavedStories {
    stories: Vec<SavedStory>,
}

impl SavedStories {
    /// The stories, most recently saved first.
    pub fn iter(&self) -> impl Iterator<Item = &SavedStory> {
        self.stories.iter()
    }

    /// How many.
    #[must_use]
    pub fn len(&self) -> usize {
        self.stories.len()
    }

    /// None saved.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.stories.is_empty()
    }

    /// Whether this story is saved.
    #[must_use]
    pub fn contains(&self, channel: &ChannelId, key: &ItemKey) -> bool {
        self.get(channel, key).is_some()
    }

    /// The saved copy of a story.
    #[must_use]
    pub fn get(&self, channel: &ChannelId, key: &ItemKey) -> Option<&SavedStory> {
        self.stories.iter().find(|s| s.is(channel, key))
    }

    /// Saves a story (replacing an older copy of it), keeping the order by `saved_at`.
    pub fn insert(&mut self, story: SavedStory) {
        self.stories
            .retain(|s| !s.is(&story.item.channel, &story.item.key));
        let at = self
            .stories
            .iter()
            .position(|s| s.saved_at <= story.saved_at)
            .unwrap_or(self.stories.len());
        self.stories.insert(at, story);
    }

    /// Forgets a story; returns its copy.
    pub fn remove(&mut self, channel: &ChannelId, key: &ItemKey) -> Option<SavedStory> {
        let index = self.stories.iter().position(|s| s.is(channel, key))?;
        Some(self.stories.remove(index))
    }

    /// Takes a newer version of a saved item (a corrected headline, say). Returns whether the
    /// copy changed.
    pub fn refresh(&mut self, item: &Item) -> bool {
        match self
            .stories
            .iter_mut()
            .find(|s| s.is(&item.channel, &item.key))
        {
            Some(story) if story.item != *item && item.updated >= story.item.updated => {
                story.item = item.clone();
                true
            }
            _ => false,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct FileFormat {
    version: u32,
    stories: Vec<SavedStory>,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

/// What loading found.
#[derive(Debug)]
pub struct Loaded {
    /// The saved stories (none when the file was missing or unusable).
    pub stories: SavedStories,
    /// Why the file could not be used, and where it was moved, in words for the user.
    pub problem: Option<String>,
}

/// Why saving failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the saved stories to {path}: {source}")]
pub struct SaveError {
    /// The file.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// The saved-stories file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedFile {
    path: PathBuf,
}

impl SavedFile {
    /// The file at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `saved.json` in the user's data directory (`~/.local/share/tidings/` on Linux).
    #[must_use]
    pub fn default_location() -> Option<Self> {
        directories::ProjectDirs::from("org", "Tidings", "tidings")
            .map(|dirs| Self::new(dirs.data_dir().join("saved.json")))
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file. Blocking (a small file). An unusable file is moved aside, logged and
    /// described in [`Loaded::problem`].
    pub fn load(&self) -> Loaded {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Loaded {
                    stories: SavedStories::default(),
                    problem: None,
                };
            }
            Err(error) => return self.set_aside("unreadable", &format!("cannot read it: {error}")),
        };
        match serde_json::from_slice::<VersionOnly>(&bytes) {
            Ok(found) if found.version > SAVED_VERSION => {
                return self.set_aside(
                    &format!("v{}", found.version),
                    &format!(
                        "it was written by a newer Tidings (format {} > {SAVED_VERSION})",
                        found.version
                    ),
                );
            }
            Ok(_) => {}
            Err(error) => return self.set_aside("corrupt", &format!("it is damaged: {error}")),
        }
        match serde_json::from_slice::<FileFormat>(&bytes) {
            Ok(file) => {
                let mut stories = SavedStories::default();
                for story in file.stories {
                    stories.insert(story);
                }
                Loaded {
                    stories,
                    problem: None,
                }
            }
            Err(error) => self.set_aside("corrupt", &format!("it is damaged: {error}")),
        }
    }

    fn set_aside(&self, label: &str, reason: &str) -> Loaded {
        let moved_to = super::atomic::set_aside(&self.path, label);
        tracing::error!(
            %reason,
            moved_to = %moved_to.display(),
            "saved stories could not be read; the file was kept aside and the app starts with none"
        );
        Loaded {
            stories: SavedStories::default(),
            problem: Some(format!(
                "Saved stories could not be read ({reason}). The file was kept as {}.",
                moved_to.display()
            )),
        }
    }

    /// Writes `stories` atomically. Blocking.
    pub fn save(&self, stories: &SavedStories) -> Result<(), SaveError> {
        let fail = |source| SaveError {
            path: self.path.clone(),
            source,
        };
        let file = FileFormat {
            version: SAVED_VERSION,
            stories: stories.stories.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| fail(std::io::Error::other(e)))?;
        super::atomic::write(&self.path, &bytes).map_err(fail)
    }
}

/// Starts a task that writes what is sent to it at once (a burst is coalesced into one write
/// of the newest), and the last version once more when the sender is dropped. Await the handle
/// to know the last write is done. Failures are logged and reported on the returned receiver.
pub fn spawn_writer(
    file: SavedFile,
) -> (
    watch::Sender<Option<Arc<SavedStories>>>,
    tokio::task::JoinHandle<()>,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (tx, mut rx) = watch::channel::<Option<Arc<SavedStories>>>(None);
    let (problems_tx, problems) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut written: Option<Arc<SavedStories>> = None;
        loop {
            let open = rx.changed().await.is_ok();
            let latest = rx.borrow_and_update().clone();
            if let Some(stories) =
                latest.filter(|s| !written.as_ref().is_some_and(|w| Arc::ptr_eq(w, s)))
            {
                let writer = file.clone();
                let to_write = Arc::clone(&stories);
                match tokio::task::spawn_blocking(move || writer.save(&to_write)).await {
                    Ok(Ok(())) => written = Some(stories),
                    Ok(Err(error)) => {
                        tracing::error!(%error, "saved stories not written");
                        let _ = problems_tx.send(format!("{error}"));
                    }
                    Err(error) => tracing::error!(%error, "the saved-stories writer failed"),
                }
            }
            if !open {
                return;
            }
        }
    });
    (tx, task, problems)
}

/// How saved stories are exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// Netscape bookmark file (HTML): every browser imports it, and Pocket-style services too.
    #[default]
    Bookmarks,
    /// JSON with every field, for scripts.
    Json,
}

impl ExportFormat {
    /// The file name extension.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Bookmarks => "html",
            Self::Json => "json",
        }
    }

    /// A file name for an export made on `day`: `tidings-saved-2026-12-07.html`.
    #[must_use]
    pub fn file_name(self, day: chrono::NaiveDate) -> String {
        format!(
            "tidings-saved-{}.{}",
            day.format("%Y-%m-%d"),
            self.extension()
        )
    }
}

/// An export, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// The file's text.
    pub text: String,
    /// Stories in it.
    pub exported: usize,
    /// Stories left out: bookmarks need a web link, and a few stories have none (they are
    /// all in the JSON export).
    pub without_link: usize,
}

/// `text` safe inside HTML text and double-quoted attributes.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A web link worth a bookmark: `http` or `https` with a host (never `javascript:` and kin).
fn web_link(link: Option<&str>) -> Option<&str> {
    link.filter(|l| {
        reqwest::Url::parse(l)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
    })
}

/// The first `max` characters of `text` on one line.
fn shorten(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", line.get(..cut).unwrap_or_default().trim_end()),
        None => line,
    }
}

/// The saved stories as a file in `format`, made at `now`.
#[must_use]
pub fn export(stories: &SavedStories, format: ExportFormat, now: DateTime<Utc>) -> Export {
    match format {
        ExportFormat::Bookmarks => bookmarks(stories, now),
        ExportFormat::Json => {
            let list: Vec<serde_json::Value> = stories
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "title": s.item.title,
                        "link": s.item.link,
                        "summary": s.item.body,
                        "source": s.item.source,
                        "image": s.item.image,
                        "channel": s.item.channel.as_str(),
                        "channel_title": s.channel_title,
                        "key": s.item.key.as_str(),
                        "published": s.item.published,
                        "updated": s.item.updated,
                        "saved": s.saved_at,
                    })
                })
                .collect();
            let document = serde_json::json!({
                "generator": concat!("Tidings ", env!("CARGO_PKG_VERSION")),
                "exported": now,
                "stories": list,
            });
            let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
            text.push('\n');
            Export {
                text,
                exported: stories.len(),
                without_link: 0,
            }
        }
    }
}

/// The Netscape bookmark file format: one folder "Tidings saved stories" with a folder per
/// channel (by name), each story a bookmark dated when it was saved, its summary the
/// description.
fn bookmarks(stories: &SavedStories, now: DateTime<Utc>) -> Export {
    use std::fmt::Write as _;
    let mut channels: std::collections::BTreeMap<&str, Vec<&SavedStory>> = Default::default();
    let mut without_link = 0;
    for story in stories.iter() {
        if web_link(story.item.link.as_deref()).is_none() {
            without_link += 1;
            continue;
        }
        let name = if story.channel_title.is_empty() {
            story.item.channel.as_str()
        } else {
            story.channel_title.as_str()
        };
        channels.entry(name).or_default().push(story);
    }
    let stamp = now.timestamp();
    let mut html = String::from(
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n\
         <!-- This is an automatically generated file.\n     \
         It will be read and overwritten.\n     DO NOT EDIT! -->\n\
         <META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=UTF-8\">\n\
         <TITLE>Bookmarks</TITLE>\n<H1>Bookmarks</H1>\n<DL><p>\n",
    );
    let _ = writeln!(
        html,
        "    <DT><H3 ADD_DATE=\"{stamp}\" LAST_MODIFIED=\"{stamp}\">Tidings saved stories</H3>\n    <DL><p>"
    );
    let mut exported = 0;
    for (channel, list) in &channels {
        let _ = writeln!(
            html,
            "        <DT><H3 ADD_DATE=\"{stamp}\" LAST_MODIFIED=\"{stamp}\">{}</H3>\n        <DL><p>",
            escape_html(channel)
        );
        for story in list {
            let link = web_link(story.item.link.as_deref()).unwrap_or_default();
            let _ = writeln!(
                html,
                "            <DT><A HREF=\"{}\" ADD_DATE=\"{}\" LAST_MODIFIED=\"{}\">{}</A>",
                escape_html(link),
                story.saved_at.timestamp(),
                story.item.updated.timestamp(),
                escape_html(&story.item.title)
            );
            if let Some(body) = story.item.body.as_deref().filter(|b| !b.trim().is_empty()) {
                let _ = writeln!(html, "            <DD>{}", escape_html(&shorten(body, 300)));
            }
            exported += 1;
        }
        html.push_str("        </DL><p>\n");
    }
    html.push_str("    </DL><p>\n</DL><p>\n");
    Export {
        text: html,
        exported,
        without_link,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::store::Store;
    use crate::protocol::{Event, Retract, RetractKind, Severity};

    fn item(key: &str, title: &str, link: Option<&str>) -> Item {
        let at = Utc::now();
        Item {
            channel: ChannelId::new("world").unwrap(),
            key: ItemKey::new(key).unwrap(),
            title: title.to_owned(),
            body: Some("A summary.\nOn two lines.".to_owned()),
            link: link.map(str::to_owned),
            source: Some("Harbour Gazette".to_owned()),
            image: None,
            severity: Severity::Info,
            published: at,
            updated: at,
            expires: None,
        }
    }

    fn story(key: &str, title: &str, minutes_ago: i64) -> SavedStory {
        SavedStory::new(
            item(key, title, Some(&format!("https://example.com/{key}"))),
            "World",
            "#4a90e2",
            Utc::now() - chrono::Duration::minutes(minutes_ago),
        )
    }

    #[test]
    fn stories_keep_the_newest_saved_first_and_replace_by_key() {
        let mut saved = SavedStories::default();
        saved.insert(story("a", "First", 30));
        saved.insert(story("b", "Second", 10));
        saved.insert(story("c", "Older", 60));
        let keys: Vec<&str> = saved.iter().map(|s| s.item.key.as_str()).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        saved.insert(story("a", "First again", 0));
        assert_eq!(saved.len(), 3);
        assert_eq!(saved.iter().next().unwrap().item.title, "First again");
        let world = ChannelId::new("world").unwrap();
        assert!(saved.remove(&world, &ItemKey::new("b").unwrap()).is_some());
        assert!(!saved.contains(&world, &ItemKey::new("b").unwrap()));
        // A newer version of the item replaces the copy; an older one does not.
        let mut newer = item("a", "Corrected headline", None);
        newer.updated += chrono::Duration::minutes(5);
        assert!(saved.refresh(&newer));
        assert_eq!(
            saved.get(&world, &newer.key).unwrap().item.title,
            "Corrected headline"
        );
        let mut older = newer.clone();
        older.title = "Stale".to_owned();
        older.updated -= chrono::Duration::minutes(10);
        assert!(!saved.refresh(&older));
    }

    #[test]
    fn the_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let file = SavedFile::new(dir.path().join("sub/saved.json"));
        let loaded = file.load();
        assert!(loaded.stories.is_empty() && loaded.problem.is_none());
        let mut saved = SavedStories::default();
        saved.insert(story("a", "Zürich “quotes” & <tags>", 5));
        saved.insert(story("b", "Second", 1));
        file.save(&saved).unwrap();
        let loaded = file.load();
        assert_eq!(loaded.stories, saved);
        assert!(loaded.problem.is_none());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }

    #[test]
    fn a_corrupt_or_newer_file_is_kept_aside_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = SavedFile::new(dir.path().join("saved.json"));
        for (content, label) in [
            (&b"{\"version\": 1, \"stories\": [tru"[..], "corrupt"),
            (
                &b"{\"version\": 1, \"stories\": [{\"title\": 3}]}"[..],
                "corrupt",
            ),
            (&b"\xff\xfe binary"[..], "corrupt"),
            (&b"{\"version\": 7, \"stories\": []}"[..], "v7"),
        ] {
            std::fs::write(file.path(), content).unwrap();
            let loaded = file.load();
            assert!(loaded.stories.is_empty());
            let problem = loaded.problem.expect("a problem is reported");
            assert!(
                problem.starts_with("Saved stories could not be read"),
                "{problem}"
            );
            let kept: Vec<PathBuf> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    p.to_string_lossy()
                        .contains(&format!("saved.json.{label}-"))
                })
                .collect();
            assert_eq!(kept.len(), 1, "{label}: {kept:?}");
            assert!(problem.contains(&*kept[0].to_string_lossy()));
            assert_eq!(std::fs::read(&kept[0]).unwrap(), content, "kept as it was");
            // Saving afterwards writes a fresh file and leaves the damaged one alone.
            let mut saved = SavedStories::default();
            saved.insert(story("a", "New", 0));
            file.save(&saved).unwrap();
            assert_eq!(file.load().stories, saved);
            assert_eq!(std::fs::read(&kept[0]).unwrap(), content);
            std::fs::remove_file(&kept[0]).unwrap();
        }
    }

    #[test]
    fn a_saved_story_survives_retraction_expiry_and_history_moving_on() {
        let dir = tempfile::tempdir().unwrap();
        let file = SavedFile::new(dir.path().join("saved.json"));
        let mut store = Store::new(2);
        let mut kept = item("kept", "Worth keeping", Some("https://example.com/kept"));
        kept.expires = Some(Utc::now() + chrono::Duration::minutes(1));
        store.apply(None, Event::Item(kept.clone()));
        let mut saved = SavedStories::default();
        saved.insert(SavedStory::new(
            kept.clone(),
            "World",
            "#4a90e2",
            Utc::now(),
        ));
        file.save(&saved).unwrap();
        // Retracted, expired, and pushed out by newer items: the store forgets it.
        store.apply(
            None,
            Event::Retract(Retract {
                channel: kept.channel.clone(),
                key: kept.key.clone(),
                kind: RetractKind::Item,
                reason: None,
            }),
        );
        store.remove_expired(Utc::now() + chrono::Duration::hours(1));
        for n in 0..5 {
            let mut newer = item(&format!("n{n}"), "Newer", None);
            newer.published += chrono::Duration::minutes(n + 1);
            store.apply(None, Event::Item(newer));
        }
        assert!(
            store
                .channel(&kept.channel)
                .unwrap()
                .items
                .iter()
                .all(|s| s.item.key != kept.key)
        );
        let loaded = file.load().stories;
        let story = loaded.get(&kept.channel, &kept.key).expect("still saved");
        assert_eq!(story.item, kept);
    }

    #[tokio::test]
    async fn the_writer_writes_each_change_and_flushes_on_close() {
        let dir = tempfile::tempdir().unwrap();
        let file = SavedFile::new(dir.path().join("saved.json"));
        let (tx, task, _problems) = spawn_writer(file.clone());
        let mut saved = SavedStories::default();
        for n in 0..20 {
            saved.insert(story(&format!("s{n}"), "Story", 0));
            tx.send_replace(Some(Arc::new(saved.clone())));
        }
        drop(tx);
        tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(file.load().stories.len(), 20);
    }

    #[test]
    fn bookmarks_are_netscape_html_with_web_links_only() {
        let mut saved = SavedStories::default();
        saved.insert(story("a", "Zürich “quotes” & <tags>", 5));
        let mut no_link = story("b", "No link", 3);
        no_link.item.link = None;
        saved.insert(no_link);
        let mut script = story("c", "Sneaky", 2);
        script.item.link = Some("javascript:alert(1)".to_owned());
        saved.insert(script);
        let mut tech = story("d", "Chips", 1);
        tech.channel_title = "Technology".to_owned();
        tech.item.link = Some("https://example.com/d?a=1&b=\"2\"".to_owned());
        saved.insert(tech);
        let export = export(&saved, ExportFormat::Bookmarks, Utc::now());
        assert_eq!((export.exported, export.without_link), (2, 2));
        let html = &export.text;
        assert!(html.starts_with("<!DOCTYPE NETSCAPE-Bookmark-file-1>"));
        assert!(html.contains(">Tidings saved stories</H3>"));
        assert!(html.contains(">World</H3>") && html.contains(">Technology</H3>"));
        assert!(html.contains(">Zürich “quotes” &amp; &lt;tags&gt;</A>"));
        assert!(html.contains("HREF=\"https://example.com/d?a=1&amp;b=&quot;2&quot;\""));
        assert!(html.contains("<DD>A summary. On two lines."));
        assert!(!html.contains("javascript:"));
        // Channel folders in name order.
        assert!(html.find(">Technology<").unwrap() < html.find(">World<").unwrap());
        let opened = html.matches("<DL><p>").count();
        assert_eq!(opened, html.matches("</DL><p>").count(), "balanced folders");
    }

    #[test]
    fn json_export_has_every_story() {
        let mut saved = SavedStories::default();
        saved.insert(story("a", "One", 5));
        let mut no_link = story("b", "Two", 3);
        no_link.item.link = None;
        saved.insert(no_link);
        let export = export(&saved, ExportFormat::Json, Utc::now());
        assert_eq!(export.exported, 2);
        let value: serde_json::Value = serde_json::from_str(&export.text).unwrap();
        let stories = value["stories"].as_array().unwrap();
        assert_eq!(stories.len(), 2);
        assert_eq!(stories[0]["title"], "Two");
        assert_eq!(stories[1]["link"], "https://example.com/a");
        assert_eq!(stories[1]["channel_title"], "World");
        assert_eq!(
            ExportFormat::Json.file_name(chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()),
            "tidings-saved-2026-12-07.json"
        );
    }
}
