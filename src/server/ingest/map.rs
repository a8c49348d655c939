//! Parsing feeds (RSS 0.9x/1.0/2.0, Atom, JSON Feed, via feed-rs) and mapping their entries
//! to clean protocol [`Item`]s with stable keys of our own.
//!
//! Keys: feed-rs invents ids for entries without a guid (a random UUID when there is no link
//! either, a hash of link *and title* otherwise, so a corrected headline would look like a new
//! story). We ask it to mark such entries and key them ourselves: by the guid when there is
//! one, else by the link, else by the title. Keys hash the source URL in, so two feeds in one
//! channel never collide, and are stable across restarts and versions (FNV-1a, not std's
//! hasher).
//!
//! Titles: an entry without one gets a stand-in a reader can recognise it by (the media title,
//! the first sentence of its text, else where its link points); an entry with none of these is
//! skipped and counted, never dropped without a word. Documents with common breakage a browser
//! shrugs at (a stray `&`, `<rss>` without `version`) are repaired and say so.

use chrono::{DateTime, Utc};
use reqwest::Url;

use feed_rs::parser::{ParseErrorKind, ParseFeedError};

use super::text::{html_to_text, one_line, truncate};
use crate::protocol::{ChannelId, Item, ItemKey, Severity};

/// Longest title kept, in characters.
pub const TITLE_CHARS: usize = 300;
/// Longest summary kept, in characters.
pub const BODY_CHARS: usize = 1_200;
/// Most entries taken from one feed document.
pub const MAX_ENTRIES: usize = 200;
/// Longest title derived from an entry's text or link, in characters.
pub const DERIVED_TITLE_CHARS: usize = 80;

/// What feed-rs gives entries without an id of their own, so we can key them ourselves.
const NO_GUID: &str = "\u{0}tidings:no-guid";

/// A parsed feed, reduced to what Tidings uses.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    /// The feed's title.
    pub title: Option<String>,
    /// The items, in document order.
    pub items: Vec<Item>,
    /// Entries skipped because they had no title, no text and no link to show.
    pub skipped: usize,
    /// Entry elements in the document the parser returned no entry for (feed-rs drops RSS 1.0
    /// items without a link); an estimate from the document's text.
    pub unread: usize,
    /// What the document needed to parse, in the order applied (empty when it was well formed).
    pub repairs: Vec<Repair>,
}

impl ParsedFeed {
    /// Whether the document needed any repair to parse.
    #[must_use]
    pub fn repaired(&self) -> bool {
        !self.repairs.is_empty()
    }
}

/// A common breakage repaired the way a browser-grade reader would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// `&` not starting an entity, escaped as `&amp;`.
    StrayAmpersands,
    /// A root `<rss>` without `version`, read as RSS 2.0 (feed-rs dispatches on the version
    /// and refuses a missing one).
    RssVersion,
    /// An old namespace (Atom 0.3, RSS 0.90, RSS 2.0 with a namespace) read as the current one.
    Namespace,
    /// A UTF-16 or UTF-32 document (which feed-rs cannot read) turned into UTF-8.
    Transcoded,
}

impl std::fmt::Display for Repair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::StrayAmpersands => "stray '&' characters escaped",
            Self::RssVersion => "<rss> without a version read as RSS 2.0",
            Self::Namespace => "an old feed namespace read as its current one",
            Self::Transcoded => "UTF-16 or UTF-32 read as UTF-8",
        })
    }
}

/// Why a feed could not be parsed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("not a feed this server can read: {0}")]
pub struct ParseError(pub String);

/// Parses `bytes` as a feed fetched from `source_url` for `channel`. `now` dates undated items.
pub fn parse_feed(
    bytes: &[u8],
    source_url: &str,
    channel: &ChannelId,
    now: DateTime<Utc>,
) -> Result<ParsedFeed, ParseError> {
    let parser = feed_rs::parser::Builder::new()
        .id_generator(|_links, _title, _uri| NO_GUID.to_owned())
        .build();
    let mut repairs = Vec::new();
    // Before feed-rs sees it: quick-xml panics on UTF-16 without a byte order mark.
    let transcoded = wide_to_utf8(bytes);
    let bytes = match &transcoded {
        Some(text) => {
            repairs.push(Repair::Transcoded);
            text.as_slice()
        }
        None => bytes,
    };
    // feed-rs ignores every element outside the namespaces it knows, so an old namespace
    // would make a feed look empty: read it as the namespace it became.
    let renamed = canonical_namespaces(bytes);
    let bytes = match &renamed {
        Some(renamed) => {
            repairs.push(Repair::Namespace);
            renamed.as_slice()
        }
        None => bytes,
    };
    let first = match parse_guarded(&parser, bytes) {
        Ok(feed) => return Ok(map_feed(&feed, bytes, repairs, source_url, channel, now)),
        Err(error) => error,
    };
    // Browsers shrug at a bare `&` and at `<rss>` without a version; XML parsers and feed-rs do
    // not. Repair what applies and retry once.
    let repairs_before = repairs.len();
    let mut fixed = bytes.to_vec();
    let root = root_element(&fixed);
    if let Some(root) = &root
        && root.name == "rss"
        && root.attribute("version").is_none()
    {
        fixed.splice(root.name_end..root.name_end, *br#" version="2.0""#);
        repairs.push(Repair::RssVersion);
    }
    let escaped = escape_stray_ampersands(&fixed);
    if escaped != fixed {
        fixed = escaped;
        repairs.push(Repair::StrayAmpersands);
    }
    let second = if repairs.len() == repairs_before {
        first
    } else {
        match parse_guarded(&parser, &fixed) {
            Ok(feed) => return Ok(map_feed(&feed, &fixed, repairs, source_url, channel, now)),
            // What is still wrong once the repairable is repaired: the real fault.
            Err(error) => error,
        }
    };
    match (&second, &root) {
        // `<rss version="2.0"></rss>`: a feed with nothing in it yet, not an error.
        (ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot), Some(root))
            if root.name == "rss" && !contains(bytes, b"<channel") =>
        {
            Ok(ParsedFeed {
                title: None,
                items: Vec::new(),
                skipped: 0,
                unread: 0,
                repairs,
            })
        }
        _ => {
            let message = match second {
                ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
                    not_a_feed(bytes, root.as_ref())
                }
                other => {
                    let message = other.to_string();
                    if message.contains("before end of input") {
                        format!("{message} (the document ends early: was it cut short?)")
                    } else {
                        message
                    }
                }
            };
            // Legacy encodings without a declaration (feedparser guesses them with chardet)
            // are the usual reason a feed-looking document cannot be read.
            if std::str::from_utf8(bytes).is_err() {
                Err(ParseError(format!(
                    "{message} (the document is not valid UTF-8; is its encoding declared?)"
                )))
            } else {
                Err(ParseError(message))
            }
        }
    }
}

/// feed-rs's parse, with a panic in it (quick-xml has had some on odd input) turned into an
/// error: one bad document must not end a source's polling task.
fn parse_guarded(
    parser: &feed_rs::parser::Parser,
    bytes: &[u8],
) -> Result<feed_rs::model::Feed, ParseFeedError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(bytes))).unwrap_or_else(
        |_| {
            Err(ParseFeedError::ParseError(ParseErrorKind::IllegalState {
                position: 0,
                reference: "the XML parser failed on this document".to_owned(),
            }))
        },
    )
}

/// What to say when feed-rs found no feed: its own "no root element" is untrue for most such
/// documents (an HTML page has a root element, just not a feed's).
fn not_a_feed(bytes: &[u8], root: Option<&RootElement>) -> String {
    match root {
        Some(root) if root.name.eq_ignore_ascii_case("html") => {
            "the document is a web page (<html>), not an RSS, Atom or JSON feed".to_owned()
        }
        Some(root) if root.name == "rss" => {
            "the <rss> document has no readable <channel>".to_owned()
        }
        Some(root) if matches!(root.name.as_str(), "feed" | "entry" | "rdf:RDF") => {
            format!("the <{}> document has no readable feed in it", root.name)
        }
        Some(root) => format!(
            "the document's root element is <{}>, not <rss>, <feed> or <rdf:RDF>",
            truncate(&root.name, 40)
        ),
        None if bytes.iter().all(u8::is_ascii_whitespace) => "the document is empty".to_owned(),
        None if bytes.starts_with(&[0xfe, 0xff])
            || bytes.starts_with(&[0xff, 0xfe])
            || bytes.starts_with(&[0, 0])
            || bytes.get(..2) == Some(&[0, b'<']) =>
        {
            "the document is UTF-16 or UTF-32, which this server cannot read (UTF-8 and \
             single-byte encodings only)"
                .to_owned()
        }
        None if bytes.trim_ascii_start().starts_with(b"<") => {
            "the document has no elements, only comments or declarations".to_owned()
        }
        None => "the document is neither XML nor JSON".to_owned(),
    }
}

/// A UTF-16 or UTF-32 document as UTF-8, its XML declaration saying so; `None` for anything
/// else. Recognised by byte order mark or by how `<` is encoded (XML 1.0, appendix F).
fn wide_to_utf8(bytes: &[u8]) -> Option<Vec<u8>> {
    let (unit, big_endian, bom) = match bytes {
        [0, 0, 0xfe, 0xff, ..] => (4, true, 4),
        [0xff, 0xfe, 0, 0, ..] => (4, false, 4),
        [0xfe, 0xff, ..] => (2, true, 2),
        [0xff, 0xfe, ..] => (2, false, 2),
        [0, 0, 0, b'<', ..] => (4, true, 0),
        [b'<', 0, 0, 0, ..] => (4, false, 0),
        [0, b'<', ..] => (2, true, 0),
        [b'<', 0, ..] => (2, false, 0),
        _ => return None,
    };
    let body = bytes.get(bom..)?;
    let text: String = if unit == 2 {
        let units = body.chunks_exact(2).filter_map(|pair| {
            let pair = <[u8; 2]>::try_from(pair).ok()?;
            Some(if big_endian {
                u16::from_be_bytes(pair)
            } else {
                u16::from_le_bytes(pair)
            })
        });
        char::decode_utf16(units).collect::<Result<_, _>>().ok()?
    } else {
        body.chunks_exact(4)
            .map(|quad| {
                let quad = <[u8; 4]>::try_from(quad).ok()?;
                char::from_u32(if big_endian {
                    u32::from_be_bytes(quad)
                } else {
                    u32::from_le_bytes(quad)
                })
            })
            .collect::<Option<_>>()?
    };
    // The declaration still names the old encoding, which feed-rs would decode by again.
    let text = match text
        .strip_prefix("<?xml")
        .and_then(|rest| rest.split_once("?>"))
    {
        Some((declaration, rest)) => {
            let declaration = match declaration.find("encoding") {
                Some(at) => {
                    let (before, after) = declaration.split_at(at);
                    let value_end = after
                        .char_indices()
                        .filter(|(_, c)| *c == '"' || *c == '\'')
                        .nth(1)
                        .map_or(after.len(), |(index, _)| index + 1);
                    format!(
                        "{before}encoding=\"UTF-8\"{}",
                        after.get(value_end..).unwrap_or("")
                    )
                }
                None => declaration.to_owned(),
            };
            format!("<?xml{declaration}?>{rest}")
        }
        None => text,
    };
    Some(text.into_bytes())
}

/// The Atom 0.3 namespace, quoted as in an attribute.
const ATOM_03: &str = "\"http://purl.org/atom/ns#\"";

/// Old or unofficial namespace URIs and what feed-rs knows them as (feedparser reads them the
/// same way).
const NAMESPACE_ALIASES: &[(&str, &str)] = &[
    (ATOM_03, "\"http://www.w3.org/2005/Atom\""),
    // RSS 0.90.
    (
        "\"http://my.netscape.com/rdf/simple/0.9/\"",
        "\"http://purl.org/rss/1.0/\"",
    ),
    // RSS 2.0 has no namespace, but some feeds give it one; feed-rs reads RSS 2.0 elements in
    // the RSS 1.0 namespace.
    (
        "\"http://backend.userland.com/rss2\"",
        "\"http://purl.org/rss/1.0/\"",
    ),
    (
        "\"http://blogs.law.harvard.edu/tech/rss\"",
        "\"http://purl.org/rss/1.0/\"",
    ),
];

/// The document with old namespaces renamed, if it uses any.
fn canonical_namespaces(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut renamed: Option<Vec<u8>> = None;
    for (old, new) in NAMESPACE_ALIASES {
        if let Some(out) = replace_all(renamed.as_deref().unwrap_or(bytes), old, new) {
            renamed = Some(out);
        }
    }
    // Atom 0.3 names XHTML text by its media type, which feed-rs refuses; Atom 1.0 says "xhtml".
    if contains(bytes, ATOM_03.as_bytes())
        && let Some(out) = replace_all(
            renamed.as_deref().unwrap_or(bytes),
            "type=\"application/xhtml+xml\"",
            "type=\"xhtml\"",
        )
    {
        renamed = Some(out);
    }
    renamed
}

/// `haystack` with every `old` replaced by `new`; `None` when there is none.
fn replace_all(haystack: &[u8], old: &str, new: &str) -> Option<Vec<u8>> {
    find(haystack, old.as_bytes())?;
    let mut out = Vec::with_capacity(haystack.len() + 64);
    let mut rest = haystack;
    while let Some(at) = find(rest, old.as_bytes()) {
        out.extend_from_slice(rest.get(..at).unwrap_or_default());
        out.extend_from_slice(new.as_bytes());
        rest = rest.get(at + old.len()..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    Some(out)
}

/// Entry elements in an XML document, counted from its text: how many feed-rs should return.
fn entry_elements(bytes: &[u8]) -> usize {
    [b"<item>".as_slice(), b"<item ", b"<entry>", b"<entry "]
        .iter()
        .map(|tag| bytes.windows(tag.len()).filter(|w| w == tag).count())
        .sum()
}

fn map_feed(
    feed: &feed_rs::model::Feed,
    document: &[u8],
    repairs: Vec<Repair>,
    source_url: &str,
    channel: &ChannelId,
    now: DateTime<Utc>,
) -> ParsedFeed {
    let base = Url::parse(source_url).ok();
    let feed_link = feed.links.iter().find_map(|l| Url::parse(&l.href).ok());
    let title = feed
        .title
        .as_ref()
        .map(|t| truncate(&one_line(&html_to_text(&t.content)), 120))
        .filter(|t| !t.is_empty());
    let mut skipped = 0;
    let items = feed
        .entries
        .iter()
        .take(MAX_ENTRIES)
        .filter_map(|entry| {
            let item = map_entry(
                entry,
                source_url,
                channel,
                title.as_deref(),
                base.as_ref().or(feed_link.as_ref()),
                now,
            );
            skipped += usize::from(item.is_none());
            item
        })
        .collect();
    // feed-rs drops some entries without a word (RSS 1.0 items without a link): count them.
    let unread = if matches!(feed.feed_type, feed_rs::model::FeedType::JSON) {
        0
    } else {
        entry_elements(document).saturating_sub(feed.entries.len())
    };
    ParsedFeed {
        title,
        items,
        skipped,
        unread,
        repairs,
    }
}

fn map_entry(
    entry: &feed_rs::model::Entry,
    source_url: &str,
    channel: &ChannelId,
    source_title: Option<&str>,
    base: Option<&Url>,
    now: DateTime<Utc>,
) -> Option<Item> {
    let summary = entry
        .summary
        .as_ref()
        .map(|t| t.content.as_str())
        .or_else(|| entry.content.as_ref().and_then(|c| c.body.as_deref()))
        .map(html_to_text)
        .filter(|t| !t.is_empty());
    let link = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .chain(entry.links.iter())
        .find_map(|l| absolute_http(&l.href, base));
    let text_of = |t: &feed_rs::model::Text| Some(one_line(&html_to_text(&t.content)));
    // Microblog-style entries and podcasts often have no title: what a reader would recognise
    // the entry by stands in (the media title, the start of the text, where the link points).
    let title = entry
        .title
        .as_ref()
        .and_then(text_of)
        .filter(|t| !t.is_empty())
        .or_else(|| {
            entry
                .media
                .iter()
                .filter_map(|m| m.title.as_ref().and_then(text_of))
                .find(|t| !t.is_empty())
        })
        .or_else(|| summary.as_deref().map(title_from_text))
        .or_else(|| link.as_deref().and_then(title_from_link))?;
    let title = truncate(&title, TITLE_CHARS);
    let guid = (entry.id != NO_GUID && !entry.id.trim().is_empty()).then(|| entry.id.trim());
    let identity = match (guid, &link) {
        (Some(guid), _) => format!("guid\n{guid}"),
        (None, Some(link)) => format!("link\n{link}"),
        (None, None) => format!("title\n{title}"),
    };
    let key = ItemKey::new(stable_key(source_url, &identity)).ok()?;
    // Dates in the future are feed bugs (or time zones gone wrong): clamp to now.
    let published = entry
        .published
        .or(entry.updated)
        .map_or(now, |at| at.min(now));
    let updated = entry
        .updated
        .map_or(published, |at| at.min(now).max(published));
    Some(Item {
        channel: channel.clone(),
        key,
        title,
        body: summary.map(|s| truncate(&s, BODY_CHARS)),
        link,
        source: source_title.map(str::to_owned),
        image: image_of(entry, base),
        severity: Severity::Info,
        published,
        updated,
        expires: None,
    })
}

/// A title from an entry's text: its first sentence when that is short, else its start cut at a
/// word boundary.
fn title_from_text(text: &str) -> String {
    let text = one_line(text);
    let sentence_end = text.char_indices().find_map(|(index, c)| {
        let ends = matches!(c, '.' | '!' | '?' | '。' | '！' | '？');
        let next_is_space = text
            .get(index + c.len_utf8()..)
            .is_none_or(|rest| rest.is_empty() || rest.starts_with(' '));
        (ends && next_is_space).then_some(index + c.len_utf8())
    });
    match sentence_end.and_then(|end| text.get(..end)) {
        // "Dr." or "No. 5" would make a poor title: a sentence needs a few words.
        Some(sentence)
            if sentence.chars().count() <= DERIVED_TITLE_CHARS && sentence.contains(' ') =>
        {
            sentence.to_owned()
        }
        _ => truncate(&text, DERIVED_TITLE_CHARS),
    }
}

/// A title from where an entry's link points: host and path, decoded, without `www.`.
fn title_from_link(link: &str) -> Option<String> {
    let url = Url::parse(link).ok()?;
    let host = url.host_str()?;
    let host = host.strip_prefix("www.").unwrap_or(host);
    let path = url.path().trim_end_matches('/');
    let decoded = percent_decode(path);
    Some(truncate(
        &one_line(&format!("{host}{decoded}")),
        DERIVED_TITLE_CHARS,
    ))
}

/// `%xx` escapes decoded where they form UTF-8; anything else kept as it was.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (byte, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                index += 3;
            }
            _ => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// The document's root element as written: its qualified name and where the name ends.
#[derive(Debug)]
struct RootElement {
    name: String,
    /// The start tag's attributes, as written.
    attributes: String,
    /// Byte offset just after the name, where an attribute can be inserted.
    name_end: usize,
}

impl RootElement {
    fn attribute(&self, name: &str) -> Option<&str> {
        let mut rest = self.attributes.as_str();
        while let Some(at) = rest.find(name) {
            let before_ok = at == 0
                || rest
                    .get(..at)
                    .is_some_and(|b| b.ends_with(char::is_whitespace));
            let after = rest.get(at + name.len()..).unwrap_or("").trim_start();
            if before_ok && let Some(value) = after.strip_prefix('=') {
                let value = value.trim_start();
                let quote = value.chars().next()?;
                let inner = value.get(1..)?;
                return inner.find(quote).and_then(|end| inner.get(..end));
            }
            rest = rest.get(at + name.len()..).unwrap_or("");
        }
        None
    }
}

/// Finds the root element of an XML document written in an ASCII-compatible encoding,
/// skipping a byte order mark, the XML declaration, comments, processing instructions and a
/// doctype.
fn root_element(bytes: &[u8]) -> Option<RootElement> {
    let mut at = if bytes.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    loop {
        let rest = bytes.get(at..)?;
        at += rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let rest = bytes.get(at..)?;
        let skip_to = |end: &[u8]| find(rest, end).map(|i| at + i + end.len());
        if rest.starts_with(b"<?") {
            at = skip_to(b"?>")?;
        } else if rest.starts_with(b"<!--") {
            at = skip_to(b"-->")?;
        } else if rest.starts_with(b"<!") {
            // A doctype, perhaps with an internal subset in brackets.
            let close = find(rest, b">")?;
            let from = match find(rest, b"[") {
                Some(open) if open < close => open + find(rest.get(open..)?, b"]")?,
                _ => 0,
            };
            at += from + find(rest.get(from..)?, b">")? + 1;
        } else if rest.starts_with(b"<") {
            let name_len = rest
                .iter()
                .skip(1)
                .position(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))?;
            let name = String::from_utf8_lossy(rest.get(1..=name_len)?).into_owned();
            let tag_end = find(rest, b">").unwrap_or(rest.len());
            let attributes = String::from_utf8_lossy(rest.get(name_len + 1..tag_end)?).into_owned();
            return (!name.is_empty()).then_some(RootElement {
                name,
                attributes,
                name_end: at + name_len + 1,
            });
        } else {
            return None;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn absolute_http(href: &str, base: Option<&Url>) -> Option<String> {
    let href = href.trim();
    let url = match Url::parse(href) {
        Ok(url) => url,
        Err(_) => base?.join(href).ok()?,
    };
    matches!(url.scheme(), "http" | "https")
        .then(|| url.to_string())
        .filter(|u| u.len() <= 2_048)
}

fn image_of(entry: &feed_rs::model::Entry, base: Option<&Url>) -> Option<String> {
    let from_media = entry.media.iter().find_map(|media| {
        media
            .thumbnails
            .iter()
            .find_map(|t| absolute_http(&t.image.uri, base))
            .or_else(|| {
                media.content.iter().find_map(|c| {
                    let is_image = c
                        .content_type
                        .as_ref()
                        .is_some_and(|t| t.to_string().starts_with("image/"));
                    c.url
                        .as_ref()
                        .filter(|_| is_image)
                        .and_then(|u| absolute_http(u.as_str(), base))
                })
            })
    });
    from_media.or_else(|| {
        entry.links.iter().find_map(|l| {
            let enclosure = l.rel.as_deref() == Some("enclosure");
            let image = l
                .media_type
                .as_deref()
                .is_some_and(|t| t.starts_with("image/"));
            (enclosure && image)
                .then(|| absolute_http(&l.href, base))
                .flatten()
        })
    })
}

/// A 128-bit FNV-1a hash of the source and the entry's identity, as 32 hex digits.
#[must_use]
pub fn stable_key(source_url: &str, identity: &str) -> String {
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013B;
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in source_url.bytes().chain([0]).chain(identity.bytes()) {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    format!("{hash:032x}")
}

/// Escapes `&` that does not start an entity or character reference.
#[must_use]
pub fn escape_stray_ampersands(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 64);
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b'&' && !starts_reference(bytes.get(index + 1..).unwrap_or_default()) {
            out.extend_from_slice(b"&amp;");
        } else {
            out.push(*byte);
        }
    }
    out
}

fn starts_reference(rest: &[u8]) -> bool {
    let name_end = rest.iter().take(40).position(|b| *b == b';');
    let Some(end) = name_end else { return false };
    let Some(name) = rest.get(..end) else {
        return false;
    };
    match name {
        [] => false,
        [b'#', b'x' | b'X', hex @ ..] => !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit),
        [b'#', digits @ ..] => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        letters => letters.iter().all(u8::is_ascii_alphanumeric),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
    }

    fn world() -> ChannelId {
        ChannelId::new("world").unwrap()
    }

    const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Example &amp; Co</title>
        <link>https://example.org/</link>
        <item><title>First &lt;b&gt;bold&lt;/b&gt; story</title><link>/stories/1</link><guid>id-1</guid>
          <description>&lt;p&gt;Hello&amp;nbsp;there&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</description>
          <pubDate>Thu, 26 Nov 2026 10:00:00 GMT</pubDate></item>
        <item><title>No guid, has link</title><link>https://example.org/2</link></item>
        <item><title>Neither guid nor link</title></item>
        <item><description>Only a description, no title at all</description><guid>id-4</guid></item>
        <item><title>From the future</title><guid>id-5</guid><pubDate>Thu, 26 Nov 2099 10:00:00 GMT</pubDate></item>
        <item><title>Bad link</title><link>javascript:alert(1)</link><guid>id-6</guid></item>
        </channel></rss>"#;

    #[test]
    fn maps_rss_items_to_clean_items() {
        let feed = parse_feed(
            RSS.as_bytes(),
            "https://example.org/feed.xml",
            &world(),
            now(),
        )
        .unwrap();
        assert_eq!(feed.title.as_deref(), Some("Example & Co"));
        let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "First bold story",
                "No guid, has link",
                "Neither guid nor link",
                "Only a description, no title at all",
                "From the future",
                "Bad link"
            ]
        );
        let first = &feed.items[0];
        assert_eq!(first.body.as_deref(), Some("Hello there"));
        assert_eq!(
            first.link.as_deref(),
            Some("https://example.org/stories/1"),
            "relative links resolved"
        );
        assert_eq!(first.source.as_deref(), Some("Example & Co"));
        assert_eq!(
            first.published,
            Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap()
        );
        assert_eq!(
            feed.items[2].published,
            now(),
            "undated items get the fetch time"
        );
        assert_eq!(feed.items[4].published, now(), "future dates are clamped");
        assert_eq!(feed.items[5].link, None, "only http(s) links");
    }

    #[test]
    fn keys_are_stable_across_parses_and_follow_identity() {
        let a = parse_feed(
            RSS.as_bytes(),
            "https://example.org/feed.xml",
            &world(),
            now(),
        )
        .unwrap();
        let b = parse_feed(
            RSS.as_bytes(),
            "https://example.org/feed.xml",
            &world(),
            now(),
        )
        .unwrap();
        let keys = |f: &ParsedFeed| f.items.iter().map(|i| i.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&a), keys(&b), "no random ids");
        // A corrected headline of a link-only item keeps its key (an update, not a new story).
        let edited = RSS.replace("No guid, has link", "No guid, has link (corrected)");
        let c = parse_feed(
            edited.as_bytes(),
            "https://example.org/feed.xml",
            &world(),
            now(),
        )
        .unwrap();
        assert_eq!(keys(&a), keys(&c));
        // The same guid in another feed is another item.
        let d = parse_feed(
            RSS.as_bytes(),
            "https://other.example/feed.xml",
            &world(),
            now(),
        )
        .unwrap();
        assert_ne!(keys(&a)[0], keys(&d)[0]);
    }

    #[test]
    fn a_stray_ampersand_is_repaired_like_a_browser_would() {
        let broken = "<rss version=\"2.0\"><channel><title>Q&A</title><item><title>Fish & chips &amp; peas</title><guid>1</guid></item></channel></rss>";
        let feed = parse_feed(broken.as_bytes(), "https://x.org/f", &world(), now()).unwrap();
        assert_eq!(feed.repairs, [Repair::StrayAmpersands]);
        assert_eq!(feed.title.as_deref(), Some("Q&A"));
        assert_eq!(feed.items[0].title, "Fish & chips & peas");
        assert_eq!(
            escape_stray_ampersands(b"a & b &amp; &#38; &#x26; &c"),
            b"a &amp; b &amp; &#38; &#x26; &amp;c".to_vec()
        );
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let error = parse_feed(
            b"<html><body>Not a feed</body></html>",
            "https://x.org/",
            &world(),
            now(),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("not a feed this server can read")
        );
    }

    #[test]
    fn atom_and_json_feed_work_too() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id><updated>2026-11-26T00:00:00Z</updated>
            <entry><title type="html">&lt;i&gt;T&lt;/i&gt;</title><id>urn:1</id><updated>2026-11-26T09:00:00Z</updated>
            <link rel="alternate" href="https://a.org/1"/><link rel="enclosure" type="image/jpeg" href="https://a.org/1.jpg"/>
            <content type="html">&lt;p&gt;Body&lt;/p&gt;</content></entry></feed>"#;
        let feed = parse_feed(atom.as_bytes(), "https://a.org/atom", &world(), now()).unwrap();
        assert_eq!(feed.items[0].title, "T");
        assert_eq!(feed.items[0].image.as_deref(), Some("https://a.org/1.jpg"));
        assert_eq!(feed.items[0].body.as_deref(), Some("Body"));
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":"1","content_text":"Hi there","url":"https://j.org/1"}]}"#;
        let feed = parse_feed(json.as_bytes(), "https://j.org/feed.json", &world(), now()).unwrap();
        assert_eq!(feed.items[0].title, "Hi there");
        assert_eq!(feed.items[0].link.as_deref(), Some("https://j.org/1"));
    }

    #[test]
    fn entries_without_a_title_get_one_from_their_text_or_link_else_are_counted() {
        let rss = r#"<rss version="2.0"><channel><title>T</title>
            <item><description>&lt;p&gt;Kevin started a Grateful Dead weblog. It has tapes.&lt;/p&gt;</description><guid>1</guid></item>
            <item><description>An endless sentence without any full stop that goes on and on well past the length of any sensible headline</description><guid>2</guid></item>
            <item><link>https://www.example.org/2026/11/fish%20and-chips/</link></item>
            <item><guid>only-a-guid</guid></item>
            <item></item>
            </channel></rss>"#;
        let feed = parse_feed(rss.as_bytes(), "https://x.org/f", &world(), now()).unwrap();
        let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Kevin started a Grateful Dead weblog.",
                "An endless sentence without any full stop that goes on and on well past the…",
                "example.org/2026/11/fish and-chips",
            ]
        );
        assert!(
            titles
                .iter()
                .all(|t| t.chars().count() <= DERIVED_TITLE_CHARS)
        );
        assert_eq!(feed.skipped, 2, "no title, text or link");
        assert_eq!(feed.unread, 0);
    }

    #[test]
    fn rss_without_a_version_and_old_namespaces_are_read() {
        // feed-rs dispatches on <rss version> and called a missing one "no root element".
        let bare = "<!-- c --><rss><channel><title>Bare</title><item><title>One</title></item></channel></rss>";
        let feed = parse_feed(bare.as_bytes(), "https://x.org/f", &world(), now()).unwrap();
        assert_eq!(feed.repairs, [Repair::RssVersion]);
        assert_eq!(feed.items[0].title, "One");
        // Atom 0.3's namespace made feed-rs ignore every element: an empty feed, silently.
        let atom03 = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Old</title>
            <entry><title>Entry</title><id>tag:x,1</id></entry>
            <entry><title type="application/xhtml+xml"><div xmlns="http://www.w3.org/1999/xhtml">In <b>XHTML</b></div></title><id>tag:x,2</id></entry></feed>"#;
        let feed = parse_feed(atom03.as_bytes(), "https://x.org/f", &world(), now()).unwrap();
        assert_eq!(feed.repairs, [Repair::Namespace]);
        assert_eq!(feed.items[0].title, "Entry");
        assert_eq!(feed.items[1].title, "In XHTML");
        let empty = r#"<rss version="2.0"> </rss>"#;
        let feed = parse_feed(empty.as_bytes(), "https://x.org/f", &world(), now()).unwrap();
        assert!(feed.items.is_empty() && !feed.repaired());
    }

    #[test]
    fn entries_the_parser_drops_are_counted() {
        // feed-rs returns no entry for an RSS 1.0 item without a link.
        let rdf = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
            <item rdf:about="x"><title>No link</title></item>
            <item rdf:about="y"><title>Link</title><link>https://x.org/y</link></item></rdf:RDF>"#;
        let feed = parse_feed(rdf.as_bytes(), "https://x.org/f", &world(), now()).unwrap();
        assert_eq!(feed.items.len(), 1);
        assert_eq!(feed.unread, 1);
    }

    #[test]
    fn documents_that_are_not_feeds_say_what_they_are() {
        let error = |doc: &[u8]| {
            parse_feed(doc, "https://x.org/", &world(), now())
                .unwrap_err()
                .to_string()
        };
        assert!(error(b"<html><body>x</body></html>").contains("a web page (<html>)"));
        assert!(
            error(b"<?xml version=\"1.0\"?><catalog><book/></catalog>")
                .contains("root element is <catalog>, not <rss>, <feed> or <rdf:RDF>")
        );
        assert!(error(b"  ").contains("the document is empty"));
        assert!(error(b"hello").contains("neither XML nor JSON"));
        assert!(error(b"<!-- nothing -->").contains("only comments"));
        assert!(!error(b"<html/>").contains("no root element"));
    }

    #[test]
    fn utf16_and_utf32_documents_are_read() {
        let feed = r#"<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>Wide</title><item><title>Grüße</title><guid>1</guid></item></channel></rss>"#;
        let utf16le: Vec<u8> = [0xff_u8, 0xfe]
            .into_iter()
            .chain(feed.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let utf16be_no_bom: Vec<u8> = feed.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let utf32be: Vec<u8> = [0_u8, 0, 0xfe, 0xff]
            .into_iter()
            .chain(feed.chars().flat_map(|c| u32::from(c).to_be_bytes()))
            .collect();
        // UTF-16 without a byte order mark made quick-xml panic inside feed-rs.
        for document in [utf16le, utf16be_no_bom, utf32be] {
            let parsed = parse_feed(&document, "https://x.org/f", &world(), now()).unwrap();
            assert_eq!(parsed.repairs, [Repair::Transcoded]);
            assert_eq!(parsed.title.as_deref(), Some("Wide"));
            assert_eq!(parsed.items[0].title, "Grüße");
        }
    }

    #[test]
    fn a_document_cut_short_says_so() {
        let error = parse_feed(
            b"<rss version=\"2.0\"><channel><title>T</title><item><title>A</tit",
            "https://x.org/f",
            &world(),
            now(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("ends early"), "{error}");
    }

    #[test]
    fn a_panic_in_the_xml_parser_is_an_error() {
        // quick-xml panics on UTF-16 without a byte order mark when feed-rs hands it over.
        let document = r#"<?xml version="1.0" encoding="utf-16"?><rss version="2.0"/>"#;
        let utf16be: Vec<u8> = document.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let parser = feed_rs::parser::Builder::new().build();
        assert!(parse_guarded(&parser, &utf16be).is_err());
    }
}
