//! Request and response bodies of the channel-management API (`/v1/admin/…`, an admin token):
//! a server's line-up of channels and feeds, changed while it runs, and the preview of a feed
//! (or the feeds a web page announces) before it is added.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::ChannelKind;

/// One feed of a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineupSource {
    /// `https://`, `http://` or `file://` URL of an RSS, Atom or JSON feed.
    pub url: String,
    /// Name shown as the items' source (default: the feed's own title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Minutes between polls (default 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_minutes: Option<u64>,
}

/// One channel of the line-up, with its feeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineupChannel {
    /// Channel id (used in URLs).
    pub id: String,
    /// Display title.
    pub title: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Accent colour `#rrggbb`.
    pub colour: String,
    /// What it carries.
    #[serde(default)]
    pub kind: ChannelKind,
    /// Its feeds (none for a channel fed by publishers, weather or alerts).
    #[serde(default)]
    pub sources: Vec<LineupSource>,
}

/// `GET /v1/admin/channels`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineupResponse {
    /// Whether the API may change the line-up (false: the channels are listed in the server's
    /// config file, and change with it on `SIGHUP`).
    pub managed: bool,
    /// The channels, in catalog order.
    pub channels: Vec<LineupChannel>,
}

/// `POST /v1/admin/channels`: a new channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewChannel {
    /// Id; made from the title when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display title, 1-80 characters.
    pub title: String,
    /// One-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Accent colour `#rrggbb`; one of the palette when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    /// Where in the catalog (0 first); last when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// Its first feeds.
    #[serde(default)]
    pub sources: Vec<LineupSource>,
}

/// `PATCH /v1/admin/channels/{id}`: the fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPatch {
    /// New title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New colour `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    /// New place in the catalog (0 first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

/// `POST /v1/admin/sources/move`: a feed to another channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveSource {
    /// The feed's URL.
    pub url: String,
    /// The channel it goes to.
    pub to: String,
}

/// `POST /v1/admin/preview`: what would the server make of this address?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRequest {
    /// A feed's URL, or a web page that announces feeds.
    pub url: String,
}

/// One item of a previewed feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewItem {
    /// Headline.
    pub title: String,
    /// Link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// When it was published.
    pub published: DateTime<Utc>,
}

/// A feed a web page announces with `<link rel="alternate">`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredFeed {
    /// Its absolute URL.
    pub url: String,
    /// The title the page gives it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `rss`, `atom` or `json`.
    pub format: String,
}

/// The answer of `POST /v1/admin/preview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Preview {
    /// The address is a feed: what the server reads from it (as `tidings-server feed-check`).
    Feed {
        /// The feed's URL (after discovery, when a page pointed to it).
        url: String,
        /// The feed's title.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// Its latest items, newest first (at most ten).
        items: Vec<PreviewItem>,
        /// How many items it holds in all.
        item_count: usize,
        /// Entries skipped (no title, text or link) or unreadable.
        skipped: usize,
        /// What the document needed to parse, in words (empty when well formed).
        repairs: Vec<String>,
        /// The channel that already has this feed, if one does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        already_in: Option<String>,
    },
    /// The address is a web page announcing several feeds: choose one and preview it.
    Page {
        /// The page's URL.
        url: String,
        /// The page's title.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// The feeds it announces, in page order.
        feeds: Vec<DiscoveredFeed>,
    },
}
