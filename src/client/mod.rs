//! The client half below the GUI: the connection that never loses an event, the state it
//! feeds, the offline cache, and publishing. No egui here; the desktop app and the CLI
//! (`tidings tail`, `tidings publish`) both build on it.
//!
//! - [`servers`]: the server addresses a client follows, checked once (one, or a cluster's nodes).
//! - [`connection`]: one SSE connection with reconnection, backoff and a watchdog, moving to
//!   the next server of a list when one is unreachable ([`failover`] is that policy).
//! - [`store`]: the pure client state, fed protocol events, reporting changes.
//! - [`cache`]: the store and last event id on disk, written atomically ([`atomic`]).
//! - [`saved`]: the stories the user starred, kept on disk and exported as bookmarks or JSON.
//! - [`search`]: case- and accent-insensitive search over the store and the saved stories.
//! - [`feed`]: all of the above together: cache first, then the live stream into the store.
//! - [`publish`]: the publish and retract API, with clear errors.
//! - [`attention`]: which changes deserve a desktop notification (rules, quiet hours, rate limit).

pub mod admin;
pub mod atomic;
pub mod attention;
pub mod backoff;
pub mod cache;
pub mod connection;
pub mod failover;
pub mod feed;
pub mod publish;
pub mod saved;
pub mod search;
pub mod servers;
pub mod store;

use crate::protocol::{ChannelId, DecodeError, Event, EventId, MAX_WEATHER_CELLS, weather_cell};
use crate::sse::MessageEvent;

/// The weather cells of `places` (latitude, longitude) as a stream asks for them: each
/// rounded to its 0.1° cell (about 11 km: the server needs no more), duplicates collapsed, in
/// order, at most [`MAX_WEATHER_CELLS`].
#[must_use]
pub fn weather_cells(places: &[(f64, f64)]) -> Vec<String> {
    let mut cells: Vec<String> = Vec::new();
    for &(latitude, longitude) in places {
        let cell = weather_cell(latitude, longitude);
        if !cells.contains(&cell) && cells.len() < MAX_WEATHER_CELLS {
            cells.push(cell);
        }
    }
    cells
}

/// The stream URL of a Tidings server for some channels (all when empty) and the weather at
/// some places (none for no weather), sent as their cells ([`weather_cells`]).
#[must_use]
pub fn stream_url(server: &str, channels: &[ChannelId], weather: &[(f64, f64)]) -> String {
    let mut url = format!("{}/v1/stream", server.trim_end_matches('/'));
    let mut query = Vec::new();
    if !channels.is_empty() {
        let list: Vec<&str> = channels.iter().map(ChannelId::as_str).collect();
        query.push(format!("channels={}", list.join(",")));
    }
    let cells = weather_cells(weather);
    if !cells.is_empty() {
        query.push(format!("weather={}", cells.join(";")));
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    url
}

/// The stream URL of each server of `servers`, in order (see [`stream_url`]).
#[must_use]
pub fn stream_urls(
    servers: &servers::ServerList,
    channels: &[ChannelId],
    weather: &[(f64, f64)],
) -> Vec<String> {
    servers
        .iter()
        .map(|server| stream_url(server.as_str(), channels, weather))
        .collect()
}

/// Interprets a dispatched SSE message as a protocol event. `Ok(None)` for event types this
/// version does not know (they are skipped, as the protocol asks).
pub fn decode_message(
    message: &MessageEvent,
) -> Result<Option<(Option<EventId>, Event)>, DecodeError> {
    let event_id = message.last_event_id.parse().ok();
    Ok(Event::decode(&message.event_type, &message.data)?.map(|event| (event_id, event)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_urls() {
        let channels = [
            ChannelId::new("world").unwrap(),
            ChannelId::new("tech").unwrap(),
        ];
        assert_eq!(stream_url("http://h:1/", &[], &[]), "http://h:1/v1/stream");
        assert_eq!(
            stream_url("http://h:1", &channels, &[(52.5219, 13.4132)]),
            "http://h:1/v1/stream?channels=world,tech&weather=52.5,13.4"
        );
        // Several places: one cell each, in order, a shared cell once, never "-0.0".
        assert_eq!(
            stream_url(
                "http://h:1",
                &[],
                &[(52.5219, 13.4132), (-0.04, 151.21), (52.48, 13.36)]
            ),
            "http://h:1/v1/stream?weather=52.5,13.4;0.0,151.2"
        );
        let many: Vec<(f64, f64)> = (0..12).map(|i| (f64::from(i), 0.0)).collect();
        assert_eq!(weather_cells(&many).len(), MAX_WEATHER_CELLS);
    }

    #[test]
    fn messages_decode_to_events_and_unknown_types_are_skipped() {
        let message = MessageEvent {
            event_type: "retract".into(),
            data: r#"{"channel":"w","key":"k"}"#.into(),
            last_event_id: "5-1".into(),
        };
        let (id, event) = decode_message(&message).unwrap().unwrap();
        assert_eq!(id, Some(EventId::new(5, 1)));
        assert_eq!(event.name(), "retract");
        let unknown = MessageEvent {
            event_type: "poll".into(),
            ..message.clone()
        };
        assert!(decode_message(&unknown).unwrap().is_none());
        let broken = MessageEvent {
            data: "{".into(),
            ..message
        };
        assert!(decode_message(&broken).is_err());
    }
}
