//! The servers a client follows: one base URL, or several nodes of one cluster to fail over
//! between (`--server URL,URL`, the Settings dialog, `settings.toml`).
//!
//! [`ServerList::parse`] checks every entry once, at the edge (flags, settings, the dialog),
//! and everything behind it takes the typed list; an error names the entry at fault. No I/O.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The base URL of one Tidings server: `http` or `https`, with a host, without a query or
/// fragment, kept in normal form without a trailing slash (`http://news.lan:8080`,
/// `https://example.org/tidings`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ServerUrl {
    text: String,
    host: String,
}

/// Why a server address or list was refused. Each message names the entry at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerListError {
    /// Nothing but commas and spaces.
    #[error("no server address given")]
    Empty,
    /// Not an `http://` or `https://` URL.
    #[error("the server address {0:?} must start with http:// or https://")]
    NotHttp(String),
    /// A URL without a host.
    #[error("the server address {0:?} has no host name")]
    NoHost(String),
    /// A query or fragment, which would end up in the middle of every request URL.
    #[error("the server address {0:?} must not have a query (?) or fragment (#)")]
    QueryOrFragment(String),
    /// The same server twice (after normalising: `HTTP://A/` is `http://a`).
    #[error("the server address {0:?} is listed twice")]
    Duplicate(String),
}

impl ServerUrl {
    /// Parses one base URL (surrounding white space and trailing slashes are ignored).
    pub fn parse(text: &str) -> Result<Self, ServerListError> {
        let entry = text.trim();
        let url = reqwest::Url::parse(entry)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| ServerListError::NotHttp(entry.to_owned()))?;
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(ServerListError::NoHost(entry.to_owned()));
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ServerListError::QueryOrFragment(entry.to_owned()));
        }
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Ok(Self {
            text: url.as_str().trim_end_matches('/').to_owned(),
            host,
        })
    }

    /// The URL, e.g. `http://news.lan:8080` (no trailing slash).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host and, when not the scheme's default, the port (`news.lan:8080`): how the app
    /// and the CLI name the server to people. Never carries a user name or password.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Redacts a password in the URL (`http://user:***@host`): settings and options are logged.
impl fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = reqwest::Url::parse(&self.text).ok().and_then(|mut url| {
            url.password().is_some().then(|| {
                let _ = url.set_password(Some("***"));
                url.as_str().trim_end_matches('/').to_owned()
            })
        });
        f.debug_tuple("ServerUrl")
            .field(&redacted.as_deref().unwrap_or(&self.text))
            .finish()
    }
}

/// One or more servers in the order they are tried: never empty, no server twice. Nodes of
/// one cluster (sharing one event log, so event ids are the same on each) are interchangeable;
/// the client moves to the next when one is unreachable and resumes by `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerList(
    // Shared: the list travels in settings, options and every connection state's owner, and
    // one pointer keeps `Settings` (and the effects carrying it) small.
    Arc<Servers>,
);

/// Never empty by construction: the first server, then the others.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Servers {
    first: ServerUrl,
    rest: Vec<ServerUrl>,
}

/// The servers of a [`ServerList`], in order.
pub type Iter<'a> =
    std::iter::Chain<std::iter::Once<&'a ServerUrl>, std::slice::Iter<'a, ServerUrl>>;

impl ServerList {
    /// Parses a comma-separated list (`http://a:8080, http://b:8080`); empty entries (a
    /// trailing comma) are skipped.
    pub fn parse(text: &str) -> Result<Self, ServerListError> {
        Self::from_entries(text.split(','))
    }

    /// Parses each entry (as [`ServerUrl::parse`]); empty entries are skipped.
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, ServerListError> {
        let mut servers: Vec<ServerUrl> = Vec::new();
        for entry in entries.into_iter().map(str::trim).filter(|e| !e.is_empty()) {
            let server = ServerUrl::parse(entry)?;
            if servers.contains(&server) {
                return Err(ServerListError::Duplicate(entry.to_owned()));
            }
            servers.push(server);
        }
        let mut servers = servers.into_iter();
        let first = servers.next().ok_or(ServerListError::Empty)?;
        Ok(Self(Arc::new(Servers {
            first,
            rest: servers.collect(),
        })))
    }

    /// The list of one server.
    #[must_use]
    pub fn one(server: ServerUrl) -> Self {
        Self(Arc::new(Servers {
            first: server,
            rest: Vec::new(),
        }))
    }

    /// The first server.
    #[must_use]
    pub fn first(&self) -> &ServerUrl {
        &self.0.first
    }

    /// The server at `index`, if the list is that long.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&ServerUrl> {
        match index.checked_sub(1) {
            None => Some(&self.0.first),
            Some(index) => self.0.rest.get(index),
        }
    }

    /// The servers, in order.
    pub fn iter(&self) -> Iter<'_> {
        std::iter::once(&self.0.first).chain(self.0.rest.iter())
    }

    /// How many servers (at least one).
    #[must_use]
    pub fn len(&self) -> usize {
        1 + self.0.rest.len()
    }

    /// Always false: a list has at least one server (for clippy's `len_without_is_empty`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl<'a> IntoIterator for &'a ServerList {
    type Item = &'a ServerUrl;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The comma-separated form [`ServerList::parse`] reads back: for one server, its URL.
impl fmt::Display for ServerList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, server) in self.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            f.write_str(server.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for ServerList {
    type Err = ServerListError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// A list of URL strings.
impl Serialize for ServerList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(ServerUrl::as_str))
    }
}

/// A list of URL strings, or one string (a single URL, as older settings files have it, or a
/// comma-separated list).
impl<'de> Deserialize<'de> for ServerList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        let parsed = match Raw::deserialize(deserializer)? {
            Raw::One(text) => Self::parse(&text),
            Raw::Many(entries) => Self::from_entries(entries.iter().map(String::as_str)),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_parsed_normalised_and_printed_back() {
        let list =
            ServerList::parse(" http://news1.lan:8080/ ,HTTPS://News2.LAN/tidings/,").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list.first().as_str(), "http://news1.lan:8080");
        assert_eq!(list.get(1).unwrap().as_str(), "https://news2.lan/tidings");
        assert_eq!(list.first().host(), "news1.lan:8080");
        assert_eq!(list.get(1).unwrap().host(), "news2.lan");
        assert_eq!(
            list.to_string(),
            "http://news1.lan:8080,https://news2.lan/tidings"
        );
        assert_eq!(ServerList::parse(&list.to_string()).unwrap(), list);
        // One server prints as its URL: the cache identity of a single server is unchanged.
        assert_eq!(
            ServerList::parse("http://127.0.0.1:8080/")
                .unwrap()
                .to_string(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            ServerUrl::parse("http://[::1]:9/").unwrap().host(),
            "[::1]:9"
        );
    }

    #[test]
    fn each_bad_entry_is_named() {
        let cases = [
            ("", ServerListError::Empty),
            (" , ", ServerListError::Empty),
            (
                "http://a, news.lan",
                ServerListError::NotHttp("news.lan".into()),
            ),
            ("ftp://a", ServerListError::NotHttp("ftp://a".into())),
            (
                "http://a,http://b?x=1",
                ServerListError::QueryOrFragment("http://b?x=1".into()),
            ),
            (
                "http://a/#top",
                ServerListError::QueryOrFragment("http://a/#top".into()),
            ),
            (
                "http://a:1,http://A:1/",
                ServerListError::Duplicate("http://A:1/".into()),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(ServerList::parse(text), Err(expected), "{text:?}");
        }
        let message = ServerList::parse("http://ok, news.lan")
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "the server address \"news.lan\" must start with http:// or https://"
        );
    }

    #[test]
    fn a_password_never_shows() {
        let server = ServerUrl::parse("https://user:hunter2@news.lan").unwrap();
        assert_eq!(server.host(), "news.lan");
        let debug = format!("{server:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("user:***@news.lan"), "{debug}");
    }

    #[test]
    fn it_reads_a_string_or_a_list_and_writes_a_list() {
        #[derive(Debug, Serialize, Deserialize, PartialEq)]
        struct File {
            urls: ServerList,
        }
        let one: File = toml::from_str("urls = \"http://a:1/\"").unwrap();
        assert_eq!(one.urls.to_string(), "http://a:1");
        let joined: File = toml::from_str("urls = \"http://a:1, http://b:2\"").unwrap();
        let list: File = toml::from_str("urls = [\"http://a:1\", \"http://b:2\"]").unwrap();
        assert_eq!(joined, list);
        assert_eq!(
            toml::to_string(&list).unwrap().trim(),
            "urls = [\"http://a:1\", \"http://b:2\"]"
        );
        let error = toml::from_str::<File>("urls = [\"http://a:1\", \"b\"]").unwrap_err();
        assert!(
            error.to_string().contains("\"b\" must start with http://"),
            "{error}"
        );
    }
}
