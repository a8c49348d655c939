//! A channel line-up file: the `[[channels]]` tables of a server config on their own, so the
//! channel-management API, `tidings opml` and an admin's editor can all keep it.
//!
//! The built-in server of the desktop app keeps the user's line-up in the user's config
//! directory; a standalone server keeps it in its data directory (or where `channels_file`
//! says). Until the first change the file does not exist and the default line-up applies.
//! Writes are atomic (a temporary file renamed over the old one), so a crash mid-write leaves
//! the previous line-up, never half of one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::server::{ConfigError, RawChannel, RawSource, default_channels};

/// The file name of a line-up inside a data or config directory.
pub const LINEUP_FILE: &str = "channels.toml";

/// Accent colours given to new channels in turn (by the admin API and `tidings opml import`)
/// when nobody chose one.
pub const PALETTE: [&str; 8] = [
    "#4a90e2", "#e0564b", "#50b86c", "#f5a623", "#7b61ff", "#00a3a3", "#d4508b", "#8c6d46",
];

const HEADER: &str = "\
# Tidings channel line-up: each [[channels]] table is one channel and its feeds, in the
# order they are shown. Kept by the channel-management API (the app's Settings -> Channels,
# `tidings opml import`); you may edit it by hand too: a server reloads it when it changes.
# The same tables work in a tidings-server config file.

";

/// A line-up: channels in order, each with its sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lineup {
    /// The channels, in catalog order.
    #[serde(default)]
    pub channels: Vec<RawChannel>,
}

impl Lineup {
    /// The line-up a server starts with when nobody chose one.
    pub fn builtin() -> Result<Self, ConfigError> {
        Ok(Self {
            channels: default_channels()?,
        })
    }

    /// Parses line-up TOML; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: path.to_owned(),
            message: error.to_string().trim_end().replace('\n', " "),
        })
    }

    /// Reads the file at `path`; `None` when there is none yet.
    pub fn load(path: &Path) -> Result<Option<Self>, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path).map(Some),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The file at `path`, or the built-in line-up when there is none yet.
    pub fn load_or_default(path: &Path) -> Result<Self, ConfigError> {
        match Self::load(path)? {
            Some(lineup) => Ok(lineup),
            None => Self::builtin(),
        }
    }

    /// The TOML text of this line-up, with a header saying what the file is.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).unwrap_or_else(|error| {
            // Every field is a string, number, bool or table of those: serialising cannot fail.
            unreachable!("a line-up always serialises: {error}")
        });
        format!("{HEADER}{body}")
    }

    /// Writes the line-up to `path` atomically, creating its directory.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::client::atomic::write(path, self.to_toml().as_bytes())
    }

    /// The channel with this id.
    #[must_use]
    pub fn channel(&self, id: &str) -> Option<&RawChannel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The channel with this id, to change.
    pub fn channel_mut(&mut self, id: &str) -> Option<&mut RawChannel> {
        self.channels.iter_mut().find(|c| c.id == id)
    }

    /// The channel holding a feed with this URL (compared as [`comparable_url`]).
    #[must_use]
    pub fn channel_with_source(&self, url: &str) -> Option<&RawChannel> {
        let wanted = comparable_url(url);
        self.channels.iter().find(|channel| {
            channel
                .sources
                .iter()
                .any(|s| comparable_url(s.url()) == wanted)
        })
    }

    /// Takes the feed with this URL out of whichever channel has it.
    pub fn take_source(&mut self, url: &str) -> Option<RawSource> {
        let wanted = comparable_url(url);
        self.channels.iter_mut().find_map(|channel| {
            let at = channel
                .sources
                .iter()
                .position(|s| comparable_url(s.url()) == wanted)?;
            Some(channel.sources.remove(at))
        })
    }

    /// The accent colour for a channel added now: the [`PALETTE`] in turn, by how many
    /// channels there are.
    #[must_use]
    pub fn next_colour(&self) -> &'static str {
        let turn = self.channels.len() % PALETTE.len();
        PALETTE.get(turn).copied().unwrap_or("#5b8def")
    }

    /// A channel id not yet taken, made from `title` (`"Local News"` → `local-news`, then
    /// `local-news-2`, …).
    #[must_use]
    pub fn fresh_id(&self, title: &str) -> String {
        let mut base = String::new();
        for c in title.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                base.push(c);
            } else if !base.is_empty() && !base.ends_with('-') {
                base.push('-');
            }
            if base.len() >= 40 {
                break;
            }
        }
        let base = base.trim_end_matches('-');
        let base = if base.is_empty() { "channel" } else { base };
        let mut candidate = base.to_owned();
        let mut n = 2;
        while self.channel(&candidate).is_some() {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        candidate
    }
}

/// Where the desktop app's built-in server keeps the user's line-up: `channels.toml` in the
/// user's config directory, next to `settings.toml` (`~/.config/tidings/` on Linux, following
/// `XDG_CONFIG_HOME`). `None` when there is no home directory to derive it from.
#[must_use]
pub fn app_lineup_file() -> Option<PathBuf> {
    directories::ProjectDirs::from("org", "Tidings", "tidings")
        .map(|dirs| dirs.config_dir().join(LINEUP_FILE))
}

/// A URL as compared for duplicates: scheme and host in lower case, without a trailing slash
/// or fragment, `http` and `https` alike.
#[must_use]
pub fn comparable_url(url: &str) -> String {
    let url = url.trim();
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let scheme = scheme.to_ascii_lowercase();
    let scheme = if scheme == "http" { "https" } else { &scheme };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let path = path.trim_end_matches('/');
    format!("{scheme}://{host}/{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_lineup_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(LINEUP_FILE);
        assert_eq!(Lineup::load(&path).unwrap(), None);
        let lineup = Lineup::builtin().unwrap();
        assert_eq!(Lineup::load_or_default(&path).unwrap(), lineup);
        lineup.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Tidings channel line-up"));
        assert_eq!(Lineup::load(&path).unwrap(), Some(lineup));
    }

    #[test]
    fn a_broken_file_names_itself_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LINEUP_FILE);
        std::fs::write(&path, "[[channels]]\nid = \"x\"\ntitle = 3\n").unwrap();
        let error = Lineup::load(&path).unwrap_err().to_string();
        assert!(error.contains(LINEUP_FILE), "{error}");
        assert!(error.contains("line 3"), "{error}");
    }

    #[test]
    fn fresh_ids_are_slugs_that_do_not_collide() {
        let mut lineup = Lineup { channels: vec![] };
        assert_eq!(lineup.fresh_id("Local News!"), "local-news");
        assert_eq!(lineup.fresh_id("  ★ "), "channel");
        lineup.channels.push(RawChannel {
            id: "local-news".into(),
            title: "Local News".into(),
            description: String::new(),
            colour: None,
            kind: crate::protocol::ChannelKind::News,
            retention: Default::default(),
            sources: vec![RawSource::Url("https://example.org/feed".into())],
        });
        assert_eq!(lineup.fresh_id("Local news"), "local-news-2");
        let found = lineup.channel_with_source("http://www.Example.org/feed/");
        assert_eq!(found.map(|c| c.id.as_str()), Some("local-news"));
        assert!(
            lineup
                .channel_with_source("https://example.org/other")
                .is_none()
        );
        assert!(lineup.take_source("https://example.org/feed#top").is_some());
        assert!(lineup.channels[0].sources.is_empty());
    }
}
