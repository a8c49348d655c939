//! Feed discovery: the feeds a web page announces in its head with
//! `<link rel="alternate" type="application/rss+xml" href="…">` (and Atom, JSON Feed), so a
//! user can paste a website's address instead of hunting for its feed.
//!
//! A small tag scanner, not an HTML parser: it reads `<base>`, `<title>` and `<link>` tags
//! wherever they are (pages put them in odd places), decodes entities in attribute values and
//! resolves relative addresses against the page.

use reqwest::Url;

use crate::protocol::DiscoveredFeed;

/// How much of a page is scanned; feeds are announced in the head.
const SCAN_BYTES: usize = 512 * 1024;
/// Feeds kept from one page.
const MAX_FEEDS: usize = 20;

/// What a page says about its feeds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The page's `<title>`.
    pub title: Option<String>,
    /// The feeds it announces, in page order, without duplicates.
    pub feeds: Vec<DiscoveredFeed>,
}

/// Whether a document looks like an HTML page rather than a feed.
#[must_use]
pub fn looks_like_html(body: &[u8]) -> bool {
    let head = String::from_utf8_lossy(body.get(..2048).unwrap_or(body)).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with("<!doctype html") || head.contains("<html") || head.contains("<head")
}

/// The feeds `body`, a page fetched from `page_url`, announces.
#[must_use]
pub fn discover(body: &[u8], page_url: &str) -> Page {
    let text = String::from_utf8_lossy(body.get(..SCAN_BYTES).unwrap_or(body));
    let lower = text.to_ascii_lowercase();
    let mut base = Url::parse(page_url).ok();
    let mut page = Page::default();
    let mut at = 0;
    while let Some(found) = lower[at..].find('<') {
        let start = at + found;
        let Some(name) = tag_name(&lower[start + 1..]) else {
            at = start + 1;
            continue;
        };
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let attributes = attributes(&text[start + 1 + name.len()..end]);
        match name {
            "base" => {
                if let Some(href) = value(&attributes, "href")
                    && let Some(resolved) = resolve(base.as_ref(), page_url, href)
                {
                    base = Url::parse(&resolved).ok();
                }
            }
            "title" if page.title.is_none() => {
                let close = lower[end..]
                    .find("</title")
                    .map_or(lower.len(), |c| end + c);
                let title = decode(text.get(end + 1..close).unwrap_or(""));
                let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
                page.title = Some(title).filter(|t| !t.is_empty());
            }
            "link" => {
                if let Some(feed) = announced(&attributes, base.as_ref(), page_url)
                    && !page.feeds.iter().any(|f| f.url == feed.url)
                    && page.feeds.len() < MAX_FEEDS
                {
                    page.feeds.push(feed);
                }
            }
            _ => {}
        }
        at = end.max(start + 1);
    }
    page
}

fn tag_name(after_lt: &str) -> Option<&'static str> {
    ["base", "title", "link"].into_iter().find(|name| {
        after_lt.starts_with(name)
            && after_lt[name.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_whitespace() || c == '>' || c == '/')
    })
}

/// The attributes of a tag, names in lower case, values as written (entities decoded).
fn attributes(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        let name_end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        if name_end == 0 {
            return out;
        }
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (raw, remaining) = match after.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let inner = &after[1..];
                    let close = inner.find(quote).unwrap_or(inner.len());
                    (&inner[..close], inner.get(close + 1..).unwrap_or(""))
                }
                _ => {
                    let close = after
                        .find(|c: char| c.is_ascii_whitespace())
                        .unwrap_or(after.len());
                    (&after[..close], &after[close..])
                }
            };
            value = decode(raw);
            rest = remaining;
        }
        out.push((name, value));
    }
}

fn value<'a>(attributes: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn decode(text: &str) -> String {
    html_escape::decode_html_entities(text).trim().to_owned()
}

fn announced(
    attributes: &[(String, String)],
    base: Option<&Url>,
    page_url: &str,
) -> Option<DiscoveredFeed> {
    let rel = value(attributes, "rel")?.to_ascii_lowercase();
    if !rel.split_ascii_whitespace().any(|r| r == "alternate") {
        return None;
    }
    let mime = value(attributes, "type")?.to_ascii_lowercase();
    let mime = mime.split(';').next().unwrap_or("").trim();
    let format = match mime {
        "application/rss+xml" | "application/rdf+xml" => "rss",
        "application/atom+xml" => "atom",
        "application/feed+json" | "application/json" => "json",
        _ => return None,
    };
    let url = resolve(base, page_url, value(attributes, "href")?)?;
    Some(DiscoveredFeed {
        url,
        title: value(attributes, "title")
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        format: format.to_owned(),
    })
}

fn resolve(base: Option<&Url>, page_url: &str, href: &str) -> Option<String> {
    if href.is_empty() {
        return None;
    }
    let resolved = match base {
        Some(base) => base.join(href).ok()?,
        None => Url::parse(href)
            .or_else(|_| Url::parse(page_url)?.join(href))
            .ok()?,
    };
    matches!(resolved.scheme(), "http" | "https" | "file").then(|| resolved.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_with_several_feeds_lists_each_once_resolved() {
        let html = br#"<!DOCTYPE html><html><head>
            <title>  Example &amp; Co
              News </title>
            <link rel="stylesheet" href="/style.css">
            <LINK REL="alternate" TYPE="application/rss+xml" TITLE="All stories" HREF="/feed.xml">
            <link rel='alternate' type='application/atom+xml' title='Sport' href='sport/atom?x=1&amp;y=2'>
            <link rel="alternate home" type="application/feed+json" href="https://cdn.example.org/feed.json"/>
            <link rel=alternate type=application/rss+xml href=/feed.xml>
            <link rel="alternate" type="text/html" hreflang="de" href="/de/">
            </head><body><a href="/rss">not a link tag</a></body></html>"#;
        let page = discover(html, "https://example.org/news/index.html");
        assert_eq!(page.title.as_deref(), Some("Example & Co News"));
        let urls: Vec<&str> = page.feeds.iter().map(|f| f.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://example.org/feed.xml",
                "https://example.org/news/sport/atom?x=1&y=2",
                "https://cdn.example.org/feed.json"
            ]
        );
        assert_eq!(page.feeds[0].title.as_deref(), Some("All stories"));
        assert_eq!(page.feeds[1].format, "atom");
        assert_eq!(page.feeds[2].format, "json");
        assert!(looks_like_html(html));
    }

    #[test]
    fn base_href_moves_relative_feeds_and_odd_schemes_are_refused() {
        let html = br#"<html><head><base href="https://static.example.net/blog/">
            <link rel="alternate" type="application/rss+xml" href="rss.xml">
            <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
            </head></html>"#;
        let page = discover(html, "https://example.org/");
        assert_eq!(page.feeds.len(), 1);
        assert_eq!(page.feeds[0].url, "https://static.example.net/blog/rss.xml");
    }

    #[test]
    fn a_page_without_feeds_and_a_feed_are_told_apart() {
        let page = discover(
            b"<html><head><title>x</title></head></html>",
            "https://a.b/",
        );
        assert!(page.feeds.is_empty());
        assert!(!looks_like_html(
            b"<?xml version=\"1.0\"?><rss version=\"2.0\"></rss>"
        ));
        assert!(!looks_like_html(
            b"{\"version\": \"https://jsonfeed.org/version/1.1\"}"
        ));
        // A tag cut off at the end of the scanned text does not panic.
        let page = discover(
            b"<html><link rel=\"alternate\" type=\"application/rss+xml\" href=\"/f",
            "https://a.b/",
        );
        assert!(page.feeds.len() <= 1);
    }
}
