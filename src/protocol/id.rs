//! Identifiers on the wire: the ordered [`EventId`], [`ChannelId`] and [`ItemKey`].
//!
//! Shared by client and server. `EventId` is formatted `<millis>-<seq>` exactly like a Redis
//! stream id so that a deployment can move its event log from SQLite to Redis without
//! invalidating the ids clients hold.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// An event id must look like `<millis>-<seq>` with both parts decimal.
    #[error("event id {0:?} is not of the form <millis>-<seq>")]
    EventId(String),
    /// Channel ids are 1-64 characters of `a-z`, `0-9`, `-` and `_`, starting with a letter or digit.
    #[error("channel id {0:?} must be 1-64 characters of a-z, 0-9, '-' or '_'")]
    Channel(String),
    /// Item keys are 1-200 characters without control characters, `/` or surrounding spaces.
    #[error(
        "item key {0:?} must be 1-200 characters without '/', control characters or surrounding spaces"
    )]
    Key(String),
}

/// The position of an event in the ordered event log: milliseconds since the Unix epoch and a
/// sequence number within that millisecond. Ids compare in log order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventId {
    /// Milliseconds since the Unix epoch at which the event was appended (never decreasing).
    pub millis: u64,
    /// Sequence number among events appended in the same millisecond.
    pub seq: u64,
}

impl EventId {
    /// The id before every real event; replaying after it replays everything retained.
    pub const ZERO: EventId = EventId { millis: 0, seq: 0 };

    /// Builds an id from its two parts.
    #[must_use]
    pub const fn new(millis: u64, seq: u64) -> Self {
        Self { millis, seq }
    }

    /// The next id after `self` for an append at wall-clock `now_millis`. Strictly greater than
    /// `self` even when the clock stands still or goes backwards.
    #[must_use]
    pub fn next_after(self, now_millis: u64) -> Self {
        if now_millis > self.millis {
            Self::new(now_millis, 0)
        } else {
            Self::new(self.millis, self.seq.saturating_add(1))
        }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.millis, self.seq)
    }
}

impl FromStr for EventId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || IdError::EventId(text.chars().take(64).collect());
        let (millis, seq) = text.split_once('-').ok_or_else(bad)?;
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(millis) || !digits(seq) {
            return Err(bad());
        }
        Ok(Self::new(
            millis.parse().map_err(|_| bad())?,
            seq.parse().map_err(|_| bad())?,
        ))
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Generates a validated string newtype with `Display`, `AsRef<str>` and serde as a string.
macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $check:expr, $err:path) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `text`.
            pub fn new(text: impl Into<String>) -> Result<Self, IdError> {
                let text = text.into();
                let check: fn(&str) -> bool = $check;
                if check(&text) {
                    Ok(Self(text))
                } else {
                    Err($err(text.chars().take(64).collect()))
                }
            }

            /// The id as a string slice.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::new(text)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::new(text).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn valid_channel(text: &str) -> bool {
    let bytes = text.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
}

fn valid_key(text: &str) -> bool {
    (1..=200).contains(&text.chars().count())
        && text.trim() == text
        && !text.chars().any(|c| c.is_control() || c == '/')
}

string_id!(
    /// A channel's id, such as `world` or `tech`: lower-case ASCII letters, digits, `-`, `_`.
    ChannelId,
    valid_channel,
    IdError::Channel
);

string_id!(
    /// An item's key within its channel. Publishing the same key again updates the item.
    ItemKey,
    valid_key,
    IdError::Key
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_id_round_trips_and_orders() {
        let id: EventId = "1700000000000-7".parse().unwrap();
        assert_eq!(id, EventId::new(1_700_000_000_000, 7));
        assert_eq!(id.to_string(), "1700000000000-7");
        assert!(EventId::new(5, 9) < EventId::new(6, 0));
        assert!(EventId::new(5, 1) < EventId::new(5, 2));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"1700000000000-7\"");
        assert_eq!(serde_json::from_str::<EventId>(&json).unwrap(), id);
    }

    #[test]
    fn event_id_rejects_malformed() {
        for bad in [
            "",
            "1",
            "1-",
            "-1",
            "a-1",
            "1-b",
            "1-2-3",
            "+1-2",
            "1 -2",
            "99999999999999999999-0",
        ] {
            assert!(bad.parse::<EventId>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn next_after_is_strictly_increasing_even_if_clock_goes_back() {
        let last = EventId::new(1000, 3);
        assert_eq!(last.next_after(2000), EventId::new(2000, 0));
        assert_eq!(last.next_after(1000), EventId::new(1000, 4));
        assert_eq!(last.next_after(10), EventId::new(1000, 4));
    }

    #[test]
    fn channel_and_key_validation() {
        assert!(ChannelId::new("world").is_ok());
        assert!(ChannelId::new("tech-news_2").is_ok());
        for bad in ["", "World", "-x", "a b", "ä", &"x".repeat(65)] {
            assert!(ChannelId::new(bad).is_err(), "{bad:?}");
        }
        assert!(ItemKey::new("guid:https://x/y?z=1").is_err());
        assert!(ItemKey::new("build 42 failed").is_ok());
        assert!(ItemKey::new("a\nb").is_err());
        assert!(ItemKey::new(" k").is_err());
        assert!(
            ItemKey::new("ä".repeat(200)).is_ok(),
            "the limit counts characters"
        );
        assert!(ItemKey::new("ä".repeat(201)).is_err());
        assert!(serde_json::from_str::<ChannelId>("\"Bad\"").is_err());
    }
}
