//! Parsing feeds (RSS 0.9x/1.0/2.0, Atom, JSON Feed, via feed-rs) and mapping their entries
//! to clean protocol [`Item`]s with stable keys of our own.
//!
//! Keys: feed-rs invents ids for entries without a guid (a random UUID when there is no link
//! either, a hash of link *and title* otherwise, so a corrected headline would look like a new
//! story). We ask it to mark such entries and key them ourselves: by the guid when there is
//! one, else by the link, else by the title. Keys hash the source URL in, so two feeds in one
//! channel never collide, and are stable across restarts and versions (FNV-1a, not std's
//! hasher).

use chrono::{DateTime, Utc};
use reqwest::Url;

use super::text::{html_to_text, one_line, truncate};
use crate::protocol::{ChannelId, Item, ItemKey, Severity};

/// Longest title kept, in characters.
pub const TITLE_CHARS: usize = 300;
/// Longest summary kept, in characters.
pub const BODY_CHARS: usize = 1_200;
/// Most entries taken from one feed document.
pub const MAX_ENTRIES: usize = 200;

/// What feed-rs gives entries without an id of their own, so we can key them ourselves.
const NO_GUID: &str = "\u{0}tidings:no-guid";

/// A parsed feed, reduced to what Tidings uses.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    /// The feed's title.
    pub title: Option<String>,
    /// The items, in document order.
    pub items: Vec<Item>,
    /// Whether the document needed repair (a stray `&`) to parse.
    pub repaired: bool,
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
    let (feed, repaired) = match parser.parse(bytes) {
        Ok(feed) => (feed, false),
        Err(first) => {
            // Browsers shrug at a bare `&` in XML; XML parsers do not. Escape and retry once.
            let fixed = escape_stray_ampersands(bytes);
            if fixed.as_slice() == bytes {
                return Err(ParseError(first.to_string()));
            }
            match parser.parse(fixed.as_slice()) {
                Ok(feed) => (feed, true),
                Err(_) => return Err(ParseError(first.to_string())),
            }
        }
    };
    let base = Url::parse(source_url).ok();
    let feed_link = feed.links.iter().find_map(|l| Url::parse(&l.href).ok());
    let title = feed
        .title
        .as_ref()
        .map(|t| truncate(&one_line(&html_to_text(&t.content)), 120))
        .filter(|t| !t.is_empty());
    let items = feed
        .entries
        .iter()
        .take(MAX_ENTRIES)
        .filter_map(|entry| {
            map_entry(
                entry,
                source_url,
                channel,
                title.as_deref(),
                base.as_ref().or(feed_link.as_ref()),
                now,
            )
        })
        .collect();
    Ok(ParsedFeed {
        title,
        items,
        repaired,
    })
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
    let mut title = entry
        .title
        .as_ref()
        .map(|t| one_line(&html_to_text(&t.content)))
        .filter(|t| !t.is_empty());
    if title.is_none() {
        // Microblog-style entries have no title: the start of the text stands in.
        title = summary.as_ref().map(|s| truncate(&one_line(s), 120));
    }
    let title = truncate(&title?, TITLE_CHARS);
    let link = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .chain(entry.links.iter())
        .find_map(|l| absolute_http(&l.href, base));
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
        assert!(feed.repaired);
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
}
