//! OPML import and export of a channel line-up, so people can bring their subscriptions from
//! another feed reader (NetNewsWire, Feedly, Inoreader, Miniflux, Thunderbird, …) and take
//! them back out.
//!
//! [`parse`] reads OPML 1.0, 1.1 and 2.0 as real exporters write it (entities, CDATA, a byte
//! order mark, `xmlurl`/`XMLURL`, stray `&` in addresses) into an [`Outline`] tree, [`merge`]
//! folds that tree into a [`Lineup`] and says what it did in an [`ImportReport`], and
//! [`export`] writes the news channels of a line-up as OPML 2.0. Called by `tidings opml`; it
//! does no I/O of its own and never removes or changes a channel that is already there.
//!
//! Tidings channels are flat lists of feeds, while readers nest folders: each top folder
//! becomes a channel and folders inside it are merged into it (the report says so). A folder
//! that holds only folders (Thunderbird's account, a "Subscriptions" wrapper) is looked into
//! instead, so each of its folders becomes a channel. Feeds outside any folder go into one
//! channel, "Imported": exporters title their files `Subscriptions-OnMyMac.opml` or
//! `Subscriptions from Inoreader [https://www.inoreader.com]`, which make poor channel names.

use std::collections::HashSet;
use std::fmt;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::config::lineup::{Lineup, comparable_url};
use crate::config::server::{RawChannel, RawSource};
use crate::protocol::ChannelKind;

/// Outlines nested deeper than this are refused: no exporter goes near it, and it keeps a
/// hostile file from exhausting the stack.
const MAX_DEPTH: usize = 64;
/// Channel titles are 1–80 characters ([`crate::config::server::build_channels`]).
const MAX_TITLE_CHARS: usize = 80;
/// The channel for feeds outside any folder (and for a folder without a name).
const LOOSE_FEEDS_TITLE: &str = "Imported";
/// The `<head><title>` of an export.
const EXPORT_TITLE: &str = "Tidings channels";

/// Why a file could not be read as OPML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpmlError {
    /// The file is something else: empty, not XML, a web page, a feed.
    #[error("not an OPML file: {0}")]
    NotOpml(String),
    /// The file starts as OPML but its XML is broken or cut short.
    #[error("broken OPML file: line {line}: {message}")]
    Broken {
        /// The line where reading stopped, from 1.
        line: usize,
        /// What is wrong there.
        message: String,
    },
}

/// An OPML document: its title and its outline tree, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    /// `<head><title>`, whitespace collapsed; `None` when absent or empty.
    pub title: Option<String>,
    /// The `version` attribute of `<opml>` (`1.0`, `1.1`, `2.0`), if any.
    pub version: Option<String>,
    /// The top-level `<outline>` elements of `<body>`, in order.
    pub entries: Vec<Entry>,
}

/// One `<outline>` element: a feed (it has an `xmlUrl`), a folder (it has outlines inside),
/// or something else a reader exported (a link, a note).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// `text`, or `title` when `text` is empty; whitespace collapsed.
    pub text: Option<String>,
    /// `xmlUrl` (any letter case), trimmed; `None` when absent or empty.
    pub xml_url: Option<String>,
    /// `htmlUrl` (any letter case), the feed's web site.
    pub html_url: Option<String>,
    /// `type` in lower case (`rss`, `atom`, `link`, `include`, …).
    pub outline_type: Option<String>,
    /// `url`, which `type="link"` and `type="include"` outlines point with.
    pub url: Option<String>,
    /// The outlines inside this one, in order.
    pub children: Vec<Entry>,
}

impl Entry {
    /// Whether this outline is a folder: outlines inside and no feed address of its own.
    fn is_folder(&self) -> bool {
        self.xml_url.is_none() && !self.children.is_empty()
    }

    /// How a report names this entry: its text, else its address.
    fn label(&self) -> String {
        self.text
            .clone()
            .or_else(|| self.xml_url.clone())
            .or_else(|| self.html_url.clone())
            .unwrap_or_else(|| "an untitled entry".to_owned())
    }
}

/// Reads OPML from raw file bytes: see [`decode`] and [`parse`].
pub fn parse_bytes(bytes: &[u8]) -> Result<Outline, OpmlError> {
    parse(&decode(bytes))
}

/// File bytes as text: UTF-8 (with or without a byte order mark), UTF-16 with a byte order
/// mark or an unmarked `<?xml`, and anything else as Windows-1252's ASCII-compatible subset,
/// Latin-1, so an old export in a legacy encoding still imports.
#[must_use]
pub fn decode(bytes: &[u8]) -> String {
    let utf16 = |rest: &[u8], little: bool| {
        let units = rest.chunks_exact(2).map(|pair| match (pair, little) {
            ([a, b], true) => u16::from_le_bytes([*a, *b]),
            ([a, b], false) => u16::from_be_bytes([*a, *b]),
            _ => 0,
        });
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()
    };
    match bytes {
        [0xef, 0xbb, 0xbf, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [0xff, 0xfe, rest @ ..] => utf16(rest, true),
        [0xfe, 0xff, rest @ ..] => utf16(rest, false),
        [b'<', 0, b'?', 0, ..] => utf16(bytes, true),
        [0, b'<', 0, b'?', ..] => utf16(bytes, false),
        _ => match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
        },
    }
}

/// Reads an OPML document. Tolerates what real exports contain (see the module docs); a file
/// that is not OPML at all, or whose XML is broken, is an error saying which.
pub fn parse(text: &str) -> Result<Outline, OpmlError> {
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.trim().is_empty() {
        return Err(OpmlError::NotOpml("the file is empty".to_owned()));
    }
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    // A bare `&` in a title is the commonest breakage in hand-made OPML; keep it as text.
    config.allow_dangling_amp = true;
    config.check_comments = false;

    let mut outline = Outline::default();
    let mut root_seen = false;
    let mut closed = false;
    // Element depth inside <opml>, and where <head>/<title> were opened.
    let mut depth = 0_usize;
    let mut head_at: Option<usize> = None;
    let mut title_at: Option<usize> = None;
    let mut title = String::new();
    let mut open: Vec<Entry> = Vec::new();

    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) if !root_seen => {
                return Err(OpmlError::NotOpml(format!(
                    "it is not XML ({error}); it starts with {}",
                    opening(text)
                )));
            }
            Err(error) => {
                return Err(OpmlError::Broken {
                    line: line_at(text, reader.error_position()),
                    message: error.to_string(),
                });
            }
        };
        match event {
            Event::DocType(doctype)
                if !root_seen
                    && doctype
                        .trim_start()
                        .to_ascii_lowercase()
                        .starts_with("html") =>
            {
                return Err(not_opml_root("html"));
            }
            Event::Start(ref element) | Event::Empty(ref element) => {
                let empty = matches!(event, Event::Empty(_));
                let name = element.local_name().as_ref().to_ascii_lowercase();
                if !root_seen {
                    if name != "opml" {
                        return Err(not_opml_root(&name));
                    }
                    root_seen = true;
                    outline.version = element
                        .attributes()
                        .with_checks(false)
                        .flatten()
                        .find(|a| a.key.0.eq_ignore_ascii_case("version"))
                        .and_then(|a| clean(&unescape(&a.value)));
                    if empty {
                        closed = true;
                        break;
                    }
                    continue;
                }
                let inside_head = head_at.is_some();
                if !empty {
                    depth += 1;
                }
                match name.as_str() {
                    "head" if !empty && !inside_head && open.is_empty() => head_at = Some(depth),
                    "title" if !empty && inside_head && title_at.is_none() => {
                        title_at = Some(depth);
                    }
                    "outline" if !inside_head => {
                        let entry = entry_from(element);
                        if empty {
                            attach(&mut open, &mut outline.entries, entry);
                        } else {
                            if open.len() >= MAX_DEPTH {
                                return Err(OpmlError::Broken {
                                    line: line_at(text, reader.buffer_position()),
                                    message: format!(
                                        "outlines are nested more than {MAX_DEPTH} levels deep"
                                    ),
                                });
                            }
                            open.push(entry);
                        }
                    }
                    _ => {}
                }
            }
            Event::End(element) => {
                let name = element.local_name().as_ref().to_ascii_lowercase();
                if depth == 0 {
                    // The end of <opml> itself.
                    closed = true;
                    break;
                }
                if name == "outline" && head_at.is_none() {
                    if let Some(entry) = open.pop() {
                        attach(&mut open, &mut outline.entries, entry);
                    }
                } else if title_at == Some(depth) {
                    title_at = None;
                    outline.title = clean(&title);
                } else if head_at == Some(depth) {
                    head_at = None;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(content) if title_at.is_some() => title.push_str(&unescape(&content)),
            Event::GeneralRef(reference) if title_at.is_some() => {
                title.push_str(&unescape(&format!("&{};", &*reference.into_inner())));
            }
            Event::CData(content) if title_at.is_some() => title.push_str(&content),
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(OpmlError::NotOpml(format!(
            "there is no <opml> element; it starts with {}",
            opening(text)
        )));
    }
    if !closed || !open.is_empty() {
        return Err(OpmlError::Broken {
            line: line_at(text, u64::try_from(text.len()).unwrap_or(u64::MAX)),
            message: "the file ends before its outlines are closed (it may be cut short)"
                .to_owned(),
        });
    }
    Ok(outline)
}

/// The error for a document whose root element is `name` rather than `opml`.
fn not_opml_root(name: &str) -> OpmlError {
    OpmlError::NotOpml(match name {
        "html" => "it is a web page (HTML); look for an \"Export OPML\" link in the reader you \
                   are leaving and import the file it saves"
            .to_owned(),
        "rss" | "feed" | "rdf" => format!(
            "it is a feed (<{name}>), not a list of feeds; add its address to a channel instead"
        ),
        _ => format!("its root element is <{name}>, not <opml>"),
    })
}

/// The first few characters of `text`, quoted, for an error message.
fn opening(text: &str) -> String {
    let start: String = text.chars().take(40).collect();
    let start = start.split_whitespace().collect::<Vec<_>>().join(" ");
    let more = if text.chars().count() > 40 { "…" } else { "" };
    format!("{start:?}{more}")
}

/// The line number (from 1) of byte `position` of `text`.
fn line_at(text: &str, position: u64) -> usize {
    let position = usize::try_from(position)
        .unwrap_or(usize::MAX)
        .min(text.len());
    let before = text.as_bytes().get(..position).unwrap_or(text.as_bytes());
    before.iter().filter(|&&b| b == b'\n').count() + 1
}

/// Hangs `entry` under the innermost open outline, or at the top.
fn attach(open: &mut [Entry], top: &mut Vec<Entry>, entry: Entry) {
    match open.last_mut() {
        Some(parent) => parent.children.push(entry),
        None => top.push(entry),
    }
}

/// The attributes of an `<outline>` we use, by name in any letter case; the first of a
/// repeated attribute wins, and namespaced ones (`fz:quickMode`) are ignored.
fn entry_from(element: &quick_xml::events::BytesStart<'_>) -> Entry {
    let mut entry = Entry::default();
    let mut title = None;
    for attribute in element.attributes().with_checks(false).flatten() {
        let value = || clean(&unescape(&attribute.value));
        let slot = match attribute.key.0.to_ascii_lowercase().as_str() {
            "text" => &mut entry.text,
            "title" => &mut title,
            "xmlurl" => &mut entry.xml_url,
            "htmlurl" => &mut entry.html_url,
            "url" => &mut entry.url,
            "type" => &mut entry.outline_type,
            _ => continue,
        };
        if slot.is_none() {
            *slot = value();
        }
    }
    entry.text = entry.text.or(title);
    entry.outline_type = entry.outline_type.map(|t| t.to_ascii_lowercase());
    entry
}

/// Whitespace collapsed to single spaces; `None` when nothing is left.
fn clean(text: &str) -> Option<String> {
    let cleaned = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!cleaned.is_empty()).then_some(cleaned)
}

/// Resolves character references and the XML and common HTML named entities; anything else,
/// including a bare `&`, stays as written (exporters leave `&` unescaped in query strings).
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 1..).unwrap_or_default();
        let resolved = after
            .find(';')
            .filter(|&end| end <= 32)
            .and_then(|end| Some((entity(after.get(..end)?)?, end)));
        match resolved {
            Some((c, end)) => {
                out.push(c);
                rest = after.get(end + 1..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character an entity name (between `&` and `;`) stands for.
fn entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code).filter(|&c| c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        // HTML entities that hand-made and CMS-generated OPML files use as if they were XML.
        "nbsp" => '\u{a0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "middot" => '·',
        "bull" => '•',
        "euro" => '€',
        "pound" => '£',
        "eacute" => 'é',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "aacute" => 'á',
        "agrave" => 'à',
        "acirc" => 'â',
        "iacute" => 'í',
        "oacute" => 'ó',
        "ocirc" => 'ô',
        "uacute" => 'ú',
        "ccedil" => 'ç',
        "ntilde" => 'ñ',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "aring" => 'å',
        "oslash" => 'ø',
        "aelig" => 'æ',
        _ => return None,
    })
}

/// A channel the import created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedChannel {
    /// Its new id.
    pub id: String,
    /// Its title, from the folder.
    pub title: String,
}

/// A feed the import added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedFeed {
    /// The title of the channel it went into.
    pub channel: String,
    /// Its name from the file, if any.
    pub name: Option<String>,
    /// Its address.
    pub url: String,
}

/// Why an entry of the file was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// No `xmlUrl`, and no feeds inside it either.
    NoAddress,
    /// The address is not an `http://` or `https://` URL.
    NotWeb(String),
    /// `type="link"` or `type="include"`: a pointer to another document, not a feed.
    NotAFeed(String),
    /// The feed is in this channel of the line-up already.
    AlreadyIn {
        /// The channel's title.
        channel: String,
    },
    /// The file lists this feed a second time; the first went into this channel.
    ListedTwice {
        /// The channel's title.
        channel: String,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAddress => f.write_str("no feed address (xmlUrl) and no feeds inside it"),
            Self::NotWeb(url) => write!(
                f,
                "not a web address: only http:// and https:// feeds are imported: {url}"
            ),
            Self::NotAFeed(kind) => write!(
                f,
                "a link to another document (type=\"{kind}\"), not a feed; import that file on its own"
            ),
            Self::AlreadyIn { channel } => write!(f, "already in channel \"{channel}\""),
            Self::ListedTwice { channel } => {
                write!(
                    f,
                    "listed twice in the file; imported once, into \"{channel}\""
                )
            }
        }
    }
}

/// An entry of the file that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// How the file names the entry (its text, else its address).
    pub entry: String,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// A folder inside a folder, whose feeds went into the top folder's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flattened {
    /// The folder's path in the file, `Outer / Inner`.
    pub folder: String,
    /// The channel its feeds went into.
    pub channel: String,
}

/// What [`merge`] did, for a person to read (its `Display` is one line per fact).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Channels created, in order.
    pub added_channels: Vec<AddedChannel>,
    /// Feeds added, in file order.
    pub added_feeds: Vec<AddedFeed>,
    /// Entries not imported, in file order.
    pub skipped: Vec<Skipped>,
    /// Nested folders merged into their top folder's channel.
    pub flattened: Vec<Flattened>,
}

impl ImportReport {
    /// Whether the import changed the line-up.
    #[must_use]
    pub fn changed(&self) -> bool {
        !self.added_feeds.is_empty()
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let feeds = self.added_feeds.len();
        let channels: Vec<&str> = {
            let mut seen = Vec::new();
            for feed in &self.added_feeds {
                if !seen.contains(&feed.channel.as_str()) {
                    seen.push(feed.channel.as_str());
                }
            }
            seen
        };
        if feeds == 0 {
            writeln!(f, "No feeds added: nothing in the file was new.")?;
        } else {
            let new = if self.added_channels.is_empty() {
                String::new()
            } else {
                let titles: Vec<String> = self
                    .added_channels
                    .iter()
                    .map(|c| format!("\"{}\"", c.title))
                    .collect();
                format!(" ({} new: {})", titles.len(), titles.join(", "))
            };
            writeln!(
                f,
                "Added {} to {}{new}.",
                plural(feeds, "feed"),
                plural(channels.len(), "channel")
            )?;
        }
        for feed in &self.added_feeds {
            match &feed.name {
                Some(name) => writeln!(f, "  + {}: {name} <{}>", feed.channel, feed.url)?,
                None => writeln!(f, "  + {}: <{}>", feed.channel, feed.url)?,
            }
        }
        for folder in &self.flattened {
            writeln!(
                f,
                "Folder \"{}\" is inside another folder: its feeds went into channel \"{}\" \
                 (channels have no sub-folders).",
                folder.folder, folder.channel
            )?;
        }
        if !self.skipped.is_empty() {
            writeln!(f, "Skipped {}:", plural(self.skipped.len(), "entry"))?;
            for skipped in &self.skipped {
                writeln!(f, "  - \"{}\": {}", skipped.entry, skipped.reason)?;
            }
        }
        Ok(())
    }
}

fn plural(count: usize, noun: &str) -> String {
    match (count, noun) {
        (1, _) => format!("1 {noun}"),
        (_, "entry") => format!("{count} entries"),
        _ => format!("{count} {noun}s"),
    }
}

/// A set of feeds bound for one channel: a top folder with everything nested in it, or the
/// feeds outside any folder.
struct Group<'a> {
    title: String,
    feeds: Vec<&'a Entry>,
    flattened: Vec<String>,
}

/// The outline tree as channels-to-be, in file order (see the module docs for the rules).
fn groups(outline: &Outline) -> Vec<Group<'_>> {
    let mut groups = Vec::new();
    let mut loose: Option<usize> = None;
    for entry in &outline.entries {
        if entry.is_folder() {
            folder_groups(entry, &mut groups);
        } else {
            let at = *loose.get_or_insert_with(|| {
                groups.push(Group {
                    title: LOOSE_FEEDS_TITLE.to_owned(),
                    feeds: Vec::new(),
                    flattened: Vec::new(),
                });
                groups.len() - 1
            });
            if let Some(group) = groups.get_mut(at) {
                group.feeds.push(entry);
            }
        }
    }
    groups
}

/// The channels a folder makes: itself, with its sub-folders merged in, when it holds any
/// feed (or entry) of its own; otherwise each of its folders in turn.
fn folder_groups<'a>(folder: &'a Entry, groups: &mut Vec<Group<'a>>) {
    if folder.children.iter().all(Entry::is_folder) {
        for child in &folder.children {
            folder_groups(child, groups);
        }
        return;
    }
    let mut group = Group {
        title: channel_title(folder.text.as_deref().unwrap_or(LOOSE_FEEDS_TITLE)),
        feeds: Vec::new(),
        flattened: Vec::new(),
    };
    collect(folder, &group.title.clone(), &mut group);
    groups.push(group);
}

/// Every feed-like entry under `folder`, depth first, noting each sub-folder's path.
fn collect<'a>(folder: &'a Entry, path: &str, group: &mut Group<'a>) {
    for child in &folder.children {
        if child.is_folder() {
            let inner = format!(
                "{path} / {}",
                child.text.as_deref().unwrap_or("untitled folder")
            );
            group.flattened.push(inner.clone());
            collect(child, &inner, group);
        } else {
            group.feeds.push(child);
            // A feed with outlines inside (rare): those are its channel's feeds too.
            collect(child, path, group);
        }
    }
}

/// A folder's text as a valid channel title: at most 80 characters, never empty.
fn channel_title(text: &str) -> String {
    let title: String = text.trim().chars().take(MAX_TITLE_CHARS).collect();
    let title = title.trim().to_owned();
    if title.is_empty() {
        LOOSE_FEEDS_TITLE.to_owned()
    } else {
        title
    }
}

/// The feed address to add for `entry`, or why there is none. `feed://` (old Safari and
/// NetNewsWire links) means `http://`.
fn feed_url(entry: &Entry) -> Result<String, SkipReason> {
    let Some(raw) = entry.xml_url.as_deref() else {
        return Err(match (&entry.outline_type, &entry.url) {
            (Some(kind), Some(_)) if kind == "link" || kind == "include" => {
                SkipReason::NotAFeed(kind.clone())
            }
            _ => SkipReason::NoAddress,
        });
    };
    let url = match raw.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("feed://") => {
            format!("http://{}", raw.get(7..).unwrap_or_default())
        }
        _ => match raw.get(..5) {
            Some(scheme) if scheme.eq_ignore_ascii_case("feed:") => {
                raw.get(5..).unwrap_or_default().to_owned()
            }
            _ => raw.to_owned(),
        },
    };
    match reqwest::Url::parse(&url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https")
                && parsed.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(url)
        }
        _ => Err(SkipReason::NotWeb(raw.to_owned())),
    }
}

/// Folds `outline` into `lineup`: each folder's feeds go into the news channel of the same
/// title (any letter case), created at the end of the line-up when there is none. A feed
/// already anywhere in the line-up, listed twice, or without an http(s) address is skipped
/// and reported; nothing already in the line-up is removed or changed.
pub fn merge(lineup: &mut Lineup, outline: &Outline) -> ImportReport {
    let mut report = ImportReport::default();
    let mut imported: HashSet<String> = HashSet::new();
    for group in groups(outline) {
        let mut target: Option<usize> = None;
        for entry in &group.feeds {
            let url = match feed_url(entry) {
                Ok(url) => url,
                Err(reason) => {
                    report.skipped.push(Skipped {
                        entry: entry.label(),
                        reason,
                    });
                    continue;
                }
            };
            if let Some(channel) = lineup.channel_with_source(&url) {
                let channel = channel.title.clone();
                let reason = if imported.contains(&comparable_url(&url)) {
                    SkipReason::ListedTwice { channel }
                } else {
                    SkipReason::AlreadyIn { channel }
                };
                report.skipped.push(Skipped {
                    entry: entry.label(),
                    reason,
                });
                continue;
            }
            let at = *target.get_or_insert_with(|| channel_for(lineup, &group.title, &mut report));
            let name = entry.text.clone().filter(|text| {
                comparable_url(text) != comparable_url(&url) && Some(text) != entry.xml_url.as_ref()
            });
            let source = match &name {
                Some(name) => RawSource::Table {
                    url: url.clone(),
                    name: Some(name.clone()),
                    poll_minutes: None,
                    poll_secs: None,
                },
                None => RawSource::Url(url.clone()),
            };
            if let Some(channel) = lineup.channels.get_mut(at) {
                channel.sources.push(source);
                imported.insert(comparable_url(&url));
                report.added_feeds.push(AddedFeed {
                    channel: channel.title.clone(),
                    name,
                    url,
                });
            }
        }
        if let Some(channel) = target.and_then(|at| lineup.channels.get(at)) {
            for folder in group.flattened {
                report.flattened.push(Flattened {
                    folder,
                    channel: channel.title.clone(),
                });
            }
        }
    }
    report
}

/// The index of the news channel titled `title` (any letter case), made when there is none.
fn channel_for(lineup: &mut Lineup, title: &str, report: &mut ImportReport) -> usize {
    let wanted = title.to_lowercase();
    if let Some(at) = lineup.channels.iter().position(|channel| {
        channel.kind == ChannelKind::News && channel.title.trim().to_lowercase() == wanted
    }) {
        return at;
    }
    let id = lineup.fresh_id(title);
    let colour = lineup.next_colour().to_owned();
    report.added_channels.push(AddedChannel {
        id: id.clone(),
        title: title.to_owned(),
    });
    lineup.channels.push(RawChannel {
        id,
        title: title.to_owned(),
        description: String::new(),
        colour: Some(colour),
        kind: ChannelKind::News,
        retention: Default::default(),
        sources: Vec::new(),
    });
    lineup.channels.len() - 1
}

/// The news channels of `lineup` as OPML 2.0, dated now: see [`export_at`].
#[must_use]
pub fn export(lineup: &Lineup) -> String {
    export_at(lineup, chrono::Utc::now())
}

/// The news channels of `lineup` as OPML 2.0: one folder per channel with one `type="rss"`
/// outline per feed (its name as text when it has one, else its address).
///
/// Left out, because another reader could do nothing with them: weather and alerts channels
/// (they follow the reader's location, not feeds), the bundled `tidings:welcome` feed,
/// `file://` feeds, and channels left with no feed. OPML has no place for poll intervals or
/// channel colours, so those stay behind too.
#[must_use]
pub fn export_at(lineup: &Lineup, created: chrono::DateTime<chrono::Utc>) -> String {
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(
        "<!-- Tidings news channels and their feeds. Weather and alerts channels and the \
         bundled welcome feed are not included. -->\n",
    );
    out.push_str("<opml version=\"2.0\">\n  <head>\n");
    out.push_str(&format!("    <title>{}</title>\n", escape(EXPORT_TITLE)));
    out.push_str(&format!(
        "    <dateCreated>{}</dateCreated>\n",
        created.format("%a, %d %b %Y %H:%M:%S GMT")
    ));
    out.push_str("  </head>\n  <body>\n");
    for channel in &lineup.channels {
        if channel.kind != ChannelKind::News {
            continue;
        }
        let feeds: Vec<&RawSource> = channel
            .sources
            .iter()
            .filter(|source| {
                let url = source.url().trim();
                url.starts_with("http://") || url.starts_with("https://")
            })
            .collect();
        if feeds.is_empty() {
            continue;
        }
        let title = escape(channel.title.trim());
        out.push_str(&format!(
            "    <outline text=\"{title}\" title=\"{title}\">\n"
        ));
        for feed in feeds {
            let url = feed.url().trim();
            let text = escape(
                feed.name()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(url),
            );
            out.push_str(&format!(
                "      <outline type=\"rss\" text=\"{text}\" title=\"{text}\" xmlUrl=\"{}\"/>\n",
                escape(url)
            ));
        }
        out.push_str("    </outline>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// `text` escaped for an XML attribute or element; characters XML 1.0 cannot carry are
/// dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// What [`import_file`] did: the report, and whether the line-up file was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// What was added and skipped.
    pub report: ImportReport,
    /// The line-up file changed.
    pub saved: bool,
}

/// Imports the OPML document `bytes` into the line-up file at `lineup_path` (the built-in
/// line-up when the file does not exist yet, so the defaults stay), validating the result
/// before it is written atomically. With `save` false nothing is written (a dry run).
pub fn import_file(
    bytes: &[u8],
    lineup_path: &std::path::Path,
    save: bool,
) -> anyhow::Result<Imported> {
    use anyhow::Context as _;
    let outline = parse_bytes(bytes)?;
    let mut lineup = match Lineup::load(lineup_path)? {
        Some(lineup) => lineup,
        // Until the file exists the app runs the default line-up: keep it, add to it.
        None => Lineup::builtin()?,
    };
    let report = merge(&mut lineup, &outline);
    if !report.changed() || !save {
        return Ok(Imported {
            report,
            saved: false,
        });
    }
    crate::config::server::build_channels(
        lineup.channels.clone(),
        crate::config::RetentionPolicy::default(),
    )
    .context("the line-up would not be valid after the import; nothing was saved")?;
    lineup
        .save(lineup_path)
        .with_context(|| format!("cannot save {}", lineup_path.display()))?;
    Ok(Imported {
        report,
        saved: true,
    })
}

/// Writes the line-up at `lineup_path` (or the built-in one) as OPML to `out`; returns how
/// many channels and feeds the written file holds, counted from the file itself.
pub fn export_file(
    lineup_path: &std::path::Path,
    out: &std::path::Path,
) -> anyhow::Result<(usize, usize)> {
    use anyhow::Context as _;
    let lineup = Lineup::load_or_default(lineup_path)?;
    let text = export(&lineup);
    crate::client::atomic::write(out, text.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    let outline = parse(&text)?;
    let feeds = outline.entries.iter().map(|e| e.children.len()).sum();
    Ok((outline.entries.len(), feeds))
}

impl ImportReport {
    /// The report in one sentence, for a status line.
    #[must_use]
    pub fn summary(&self) -> String {
        let feeds = self.added_feeds.len();
        let skipped = match self.skipped.len() {
            0 => String::new(),
            1 => "; 1 entry skipped (already there, or not a feed)".to_owned(),
            n => format!("; {n} entries skipped (already there, or not feeds)"),
        };
        if feeds == 0 {
            return format!("Nothing new to import{skipped}.");
        }
        let channels = match self.added_channels.len() {
            0 => String::new(),
            1 => ", in 1 new channel".to_owned(),
            n => format!(", in {n} new channels"),
        };
        format!("Imported {}{channels}{skipped}.", plural(feeds, "feed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Lineup {
        Lineup { channels: vec![] }
    }

    #[test]
    fn entities_cdata_and_bare_ampersands_are_read_as_people_meant_them() {
        let outline = parse(
            "\u{feff}<?xml version=\"1.0\"?>\n<opml version=\"2.0\"><head><title>A &amp; B \
             <![CDATA[<C>]]> &#233;&eacute; &</title></head><body>\
             <outline TEXT=\"Caf&eacute; &amp; co\" XMLURL=\"https://example.org/?a=1&b=2\"/>\
             </body></opml>",
        )
        .unwrap();
        assert_eq!(outline.title.as_deref(), Some("A & B <C> éé &"));
        assert_eq!(outline.version.as_deref(), Some("2.0"));
        let entry = outline.entries.first().unwrap();
        assert_eq!(entry.text.as_deref(), Some("Café & co"));
        assert_eq!(
            entry.xml_url.as_deref(),
            Some("https://example.org/?a=1&b=2")
        );
    }

    #[test]
    fn decode_reads_utf16_and_legacy_bytes() {
        let text = "<?xml version=\"1.0\"?><opml/>";
        let mut le = vec![0xff, 0xfe];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&le), text);
        let mut be = vec![0xfe, 0xff];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(decode(&be), text);
        assert_eq!(decode(b"caf\xe9"), "café");
        assert_eq!(decode(b"\xef\xbb\xbfok"), "ok");
    }

    #[test]
    fn what_is_not_opml_says_what_it_is() {
        let error = |text: &str| parse(text).unwrap_err().to_string();
        assert_eq!(error("  \n"), "not an OPML file: the file is empty");
        assert!(error("{\"feeds\": []}").contains("there is no <opml> element"));
        assert!(error("<!DOCTYPE html><html><body>").contains("web page"));
        assert!(error("<rss version=\"2.0\"><channel/></rss>").contains("it is a feed (<rss>)"));
        let cut = error("<opml><body><outline text=\"a\">");
        assert!(cut.starts_with("broken OPML file: line 1:"), "{cut}");
        let wrong = error("<opml>\n<body>\n<outline></body></opml>");
        assert!(wrong.starts_with("broken OPML file: line 3:"), "{wrong}");
    }

    #[test]
    fn feed_addresses_must_be_web_addresses() {
        let entry = |url: &str| Entry {
            xml_url: Some(url.to_owned()),
            ..Entry::default()
        };
        assert!(feed_url(&entry("https://example.org/feed")).is_ok());
        assert_eq!(
            feed_url(&entry("feed://example.org/rss")).unwrap(),
            "http://example.org/rss"
        );
        assert_eq!(
            feed_url(&entry("feed:https://example.org/rss")).unwrap(),
            "https://example.org/rss"
        );
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "/relative/feed.xml",
            "http://",
        ] {
            assert!(
                matches!(feed_url(&entry(bad)), Err(SkipReason::NotWeb(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_folder_of_folders_is_looked_into_and_deeper_folders_flatten() {
        let outline = parse(
            "<opml><body><outline text=\"Account\">\
               <outline text=\"News\"><outline xmlUrl=\"https://a.example/feed\" text=\"A\"/>\
                 <outline text=\"Deep\"><outline xmlUrl=\"https://b.example/feed\"/></outline>\
               </outline>\
               <outline text=\"Blogs\"><outline xmlUrl=\"https://c.example/feed\"/></outline>\
             </outline><outline xmlUrl=\"https://d.example/feed\"/></body></opml>",
        )
        .unwrap();
        let mut lineup = empty();
        let report = merge(&mut lineup, &outline);
        let titles: Vec<&str> = lineup.channels.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, ["News", "Blogs", "Imported"]);
        assert_eq!(lineup.channels[0].sources.len(), 2);
        assert_eq!(
            report.flattened,
            [Flattened {
                folder: "News / Deep".into(),
                channel: "News".into()
            }]
        );
        let text = report.to_string();
        assert!(
            text.starts_with("Added 4 feeds to 3 channels (3 new:"),
            "{text}"
        );
        assert!(text.contains("Folder \"News / Deep\" is inside another folder"));
    }

    #[test]
    fn export_escapes_and_leaves_out_what_is_not_a_feed() {
        let mut lineup = Lineup::builtin().unwrap();
        lineup.channels.push(RawChannel {
            id: "odd".into(),
            title: "Q&A <\"quoted\">".into(),
            description: String::new(),
            colour: None,
            kind: ChannelKind::News,
            retention: Default::default(),
            sources: vec![
                RawSource::Url("https://example.org/?a=1&b=2".into()),
                RawSource::Url("file:///srv/news.xml".into()),
            ],
        });
        let created = chrono::DateTime::parse_from_rfc3339("2026-12-08T09:05:00Z")
            .unwrap()
            .to_utc();
        let text = export_at(&lineup, created);
        assert!(text.contains("<dateCreated>Tue, 08 Dec 2026 09:05:00 GMT</dateCreated>"));
        assert!(text.contains("text=\"Q&amp;A &lt;&quot;quoted&quot;&gt;\""));
        assert!(text.contains("xmlUrl=\"https://example.org/?a=1&amp;b=2\""));
        assert!(!text.contains("file:///"));
        assert!(!text.contains("tidings:welcome"));
        assert!(!text.contains("\"Weather\""));
        assert!(!text.contains("\"Welcome\""));
        let outline = parse(&text).unwrap();
        let odd = outline.entries.last().unwrap();
        assert_eq!(odd.text.as_deref(), Some("Q&A <\"quoted\">"));
        assert_eq!(odd.children.len(), 1);
    }
}
