//! `GET /v1/stream`: one subscriber's Server-Sent Events stream.
//!
//! [`open()`] validates the request and registers with the hub *first*; [`SseStream`] then
//! sends history (a replay after `Last-Event-ID`, or a gap and/or a snapshot) and goes live,
//! skipping live events it already sent during the history phase: no gap, no duplicate.
//! The stream yields ready-made byte chunks; two drivers write them: the raw fast path in
//! `listener.rs` and the generic HTTP body for hyper connections (`body`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use serde::Deserialize;

use super::ServerState;
use super::error::ApiError;
use super::hub::{Push, SubscribeError, Subscription};
use super::log::{LoggedEvent, ReplayStart, Selection};
use crate::protocol::{
    ChannelId, Event, EventId, Gap, ItemKey, Live, MAX_WEATHER_CELLS, event_frame, id_only_frame,
    retry_field, unnumbered_frame,
};

/// Events read from the log per replay page.
const REPLAY_PAGE: usize = 500;

/// The query string of `GET /v1/stream`.
#[derive(Debug, Default, Deserialize)]
pub struct StreamQuery {
    /// Comma-separated channel ids; all channels when absent or empty.
    pub channels: Option<String>,
    /// `LAT,LON` of each of the subscriber's weather places, separated by `;`.
    pub weather: Option<String>,
    /// Resume point for clients that cannot set the `Last-Event-ID` header.
    pub last_event_id: Option<String>,
}

/// Rounds a coordinate pair to the 0.1° cell the server fetches weather for: `"52.5,13.4"`.
pub fn weather_cell(text: &str) -> Result<ItemKey, ApiError> {
    let bad = || ApiError::BadRequest {
        code: "invalid_parameter",
        message: format!(
            "weather must be LAT,LON in degrees, e.g. 52.52,13.40 (got {:?})",
            text.chars().take(40).collect::<String>()
        ),
    };
    let (lat, lon) = text.split_once(',').ok_or_else(bad)?;
    let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
    let lon: f64 = lon.trim().parse().map_err(|_| bad())?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(bad());
    }
    ItemKey::new(crate::protocol::weather_cell(lat, lon)).map_err(|_| bad())
}

/// The cells of a `weather` parameter: `LAT,LON` pairs separated by `;`, each rounded to its
/// cell, duplicates collapsed, in the order given. Empty entries are ignored; more than
/// [`MAX_WEATHER_CELLS`] places is an error.
pub fn weather_cells(text: &str) -> Result<Vec<ItemKey>, ApiError> {
    let places: Vec<&str> = text
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if places.len() > MAX_WEATHER_CELLS {
        return Err(ApiError::BadRequest {
            code: "invalid_parameter",
            message: format!(
                "weather names {} places; a stream may follow at most {MAX_WEATHER_CELLS}",
                places.len()
            ),
        });
    }
    let mut cells = Vec::with_capacity(places.len());
    for place in places {
        let cell = weather_cell(place)?;
        if !cells.contains(&cell) {
            cells.push(cell);
        }
    }
    Ok(cells)
}

/// Where the stream starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Start {
    /// No `Last-Event-ID`: snapshot, then live.
    Fresh,
    /// Replay after this id, then live.
    Resume(EventId),
    /// The id was not understood: gap, snapshot, then live.
    Malformed,
}

#[derive(Clone)]
enum Phase {
    Start(Start),
    Replay(EventId),
    Snapshot,
    Live,
    Done,
}

/// One subscriber's stream. Yields SSE byte chunks until the client goes away, the hub drops
/// it (too slow) or the server shuts down.
pub struct SseStream {
    state: Arc<ServerState>,
    subscription: Subscription,
    phase: Phase,
    pending: VecDeque<Bytes>,
    /// Highest event id already covered; live events at or below it are skipped.
    cursor: EventId,
    retry: Option<Bytes>,
    sent_since_heartbeat: bool,
}

impl std::fmt::Debug for SseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseStream")
            .field("cursor", &self.cursor)
            .finish()
    }
}

/// Validates a stream request and registers the subscriber with the hub.
pub fn open(
    state: &Arc<ServerState>,
    query: &StreamQuery,
    last_event_id_header: Option<&str>,
) -> Result<SseStream, ApiError> {
    let (channels, follow_catalog) = match query
        .channels
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        // The whole catalog, as it changes; removed channels too, so a client that was away
        // replays their removal.
        None => {
            let mut channels = state.catalog.current().ids();
            channels.extend(state.catalog.retired());
            (channels, true)
        }
        Some(list) => {
            let mut channels = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let id = ChannelId::new(name)
                    .ok()
                    .filter(|id| {
                        state.catalog.channel(id).is_some() || state.catalog.is_retired(id)
                    })
                    .ok_or_else(|| ApiError::unknown_channel(name))?;
                if !channels.contains(&id) {
                    channels.push(id);
                }
            }
            (channels, false)
        }
    };
    let cells = weather_cells(query.weather.as_deref().unwrap_or_default())?;
    let start = match last_event_id_header
        .or(query.last_event_id.as_deref())
        .map(str::trim)
    {
        None | Some("") => Start::Fresh,
        Some(text) => text.parse().map_or(Start::Malformed, Start::Resume),
    };
    let subscription = state
        .hub
        .subscribe(Selection {
            channels,
            follow_catalog,
            cells,
        })
        .map_err(|error| match error {
            SubscribeError::Full(_) | SubscribeError::Closed => {
                ApiError::Unavailable(error.to_string())
            }
        })?;
    Ok(SseStream {
        state: Arc::clone(state),
        subscription,
        phase: Phase::Start(start),
        pending: VecDeque::new(),
        cursor: EventId::ZERO,
        retry: Some(retry_field(state.config.stream.retry_millis)),
        sent_since_heartbeat: false,
    })
}

fn frame_of(event: &LoggedEvent) -> Bytes {
    event_frame(event.id, event.kind.as_str(), &event.data)
}

impl SseStream {
    /// Notified when the hub drops this subscriber; lets a blocked writer give up.
    #[must_use]
    pub fn kill_switch(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.subscription.kill)
    }

    /// The next chunk to write, or `None` when the stream is over.
    pub async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                self.sent_since_heartbeat = true;
                // The `retry:` hint rides on the first block of the stream.
                if let Some(retry) = self.retry.take() {
                    self.pending.push_front(chunk);
                    return Some(retry);
                }
                return Some(chunk);
            }
            // Each arm sets the next phase only once its work is done, so dropping this future
            // mid-way (the driver also watches the socket) loses nothing.
            match self.phase.clone() {
                Phase::Start(Start::Fresh) => self.phase = Phase::Snapshot,
                Phase::Start(Start::Resume(after)) => {
                    self.cursor = after;
                    self.phase = Phase::Replay(after);
                }
                Phase::Start(Start::Malformed) => {
                    self.push_gap(
                        EventId::ZERO,
                        None,
                        "the Last-Event-ID was not an event id of this server".to_owned(),
                    );
                    self.phase = Phase::Snapshot;
                }
                Phase::Replay(after) => self.replay_page(after).await?,
                Phase::Snapshot => self.snapshot().await?,
                Phase::Live => {
                    if let Some(retry) = self.retry.take() {
                        // Nothing to send yet: give the hint in a block of its own.
                        let mut block = retry.to_vec();
                        block.push(b'\n');
                        return Some(Bytes::from(block));
                    }
                    return self.next_live().await;
                }
                Phase::Done => return None,
            }
        }
    }

    /// Takes what can be sent without waiting (for coalescing writes), or `None`.
    pub fn try_next_chunk(&mut self) -> Option<Bytes> {
        if self.retry.is_some() {
            return None;
        }
        if let Some(chunk) = self.pending.pop_front() {
            return Some(chunk);
        }
        if !matches!(self.phase, Phase::Live) {
            return None;
        }
        while let Ok(push) = self.subscription.queue.try_recv() {
            if let Some(chunk) = self.accept(push) {
                return Some(chunk);
            }
        }
        None
    }

    fn accept(&mut self, push: Push) -> Option<Bytes> {
        match push {
            Push::Event(frame) if frame.id > self.cursor => {
                self.cursor = frame.id;
                self.sent_since_heartbeat = true;
                Some(frame.bytes.clone())
            }
            Push::Event(_) => None,
            Push::Heartbeat(comment) => {
                if std::mem::replace(&mut self.sent_since_heartbeat, false) {
                    None
                } else {
                    Some(comment)
                }
            }
        }
    }

    async fn next_live(&mut self) -> Option<Bytes> {
        let kill = Arc::clone(&self.subscription.kill);
        loop {
            let push = tokio::select! {
                push = self.subscription.queue.recv() => push,
                () = kill.notified() => None,
            };
            let Some(push) = push else {
                self.phase = Phase::Done;
                return None;
            };
            if let Some(chunk) = self.accept(push) {
                return Some(chunk);
            }
        }
    }

    fn push_gap(&mut self, requested: EventId, oldest: Option<EventId>, reason: String) {
        self.state.metrics.gaps.fetch_add(1, Ordering::Relaxed);
        let gap = Event::Gap(Gap {
            requested,
            oldest,
            reason,
        });
        // The gap carries the id the client asked for: it moves nothing forward by itself.
        self.pending
            .push_back(event_frame(requested, gap.name(), &gap.to_json()));
    }

    /// Marks the end of history: everything after this is live.
    fn push_live(&mut self) {
        let live = Event::Live(Live::default());
        self.pending
            .push_back(unnumbered_frame(live.name(), &live.to_json()));
    }

    async fn replay_page(&mut self, after: EventId) -> Option<()> {
        let result = self
            .state
            .log
            .replay(after, &self.subscription.selection, REPLAY_PAGE)
            .await;
        match result {
            Ok(ReplayStart::Events { events, next_after }) => {
                self.state
                    .metrics
                    .events_replayed
                    .fetch_add(events.len() as u64, Ordering::Relaxed);
                for event in &events {
                    self.cursor = self.cursor.max(event.id);
                    self.pending.push_back(frame_of(event));
                }
                self.phase = match next_after {
                    Some(next) => {
                        self.cursor = self.cursor.max(next);
                        Phase::Replay(next)
                    }
                    None => {
                        self.push_live();
                        Phase::Live
                    }
                };
                Some(())
            }
            Ok(ReplayStart::Gap { oldest, reason }) => {
                self.push_gap(after, oldest, reason);
                self.phase = Phase::Snapshot;
                Some(())
            }
            Err(error) => {
                tracing::error!(%error, "replay failed; closing stream");
                self.phase = Phase::Done;
                None
            }
        }
    }

    async fn snapshot(&mut self) -> Option<()> {
        let per_channel = self.state.config.stream.snapshot_items;
        let result = self
            .state
            .log
            .snapshot(&self.subscription.selection, per_channel)
            .await;
        match result {
            Ok(snapshot) => {
                self.state
                    .metrics
                    .events_snapshotted
                    .fetch_add(snapshot.events.len() as u64, Ordering::Relaxed);
                let mut last_sent = EventId::ZERO;
                for event in &snapshot.events {
                    last_sent = last_sent.max(event.id);
                    self.pending.push_back(frame_of(event));
                }
                if snapshot.head > last_sent {
                    // Move the client's Last-Event-ID to the head the snapshot reflects.
                    self.pending.push_back(id_only_frame(snapshot.head));
                }
                self.cursor = snapshot.head;
                self.push_live();
                self.phase = Phase::Live;
                Some(())
            }
            Err(error) => {
                tracing::error!(%error, "snapshot failed; closing stream");
                self.phase = Phase::Done;
                None
            }
        }
    }

    /// The stream as an HTTP body, for connections served by hyper.
    pub fn into_body(self) -> axum::body::Body {
        let chunks = futures_util::stream::unfold(self, |mut stream| async move {
            let chunk = stream.next_chunk().await?;
            Some((Ok::<_, Infallible>(chunk), stream))
        });
        axum::body::Body::from_stream(chunks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weather_cells_round_to_a_tenth_of_a_degree() {
        assert_eq!(
            weather_cell("52.5200,13.4050").unwrap().as_str(),
            "52.5,13.4"
        );
        assert_eq!(
            weather_cell(" -33.87 , 151.21 ").unwrap().as_str(),
            "-33.9,151.2"
        );
        assert_eq!(weather_cell("-0.04,0.01").unwrap().as_str(), "0.0,0.0");
        for bad in ["", "52", "x,1", "91,0", "0,181", "NaN,1"] {
            assert!(weather_cell(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn several_places_are_cells_in_order_without_duplicates() {
        let cells = |text: &str| -> Vec<String> {
            weather_cells(text)
                .unwrap()
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect()
        };
        assert!(cells("").is_empty());
        assert!(cells(" ; ").is_empty());
        assert_eq!(cells("52.52,13.40"), ["52.5,13.4"]);
        assert_eq!(
            cells("52.52,13.40; 39.0997,-94.5786;52.48,13.36;"),
            ["52.5,13.4", "39.1,-94.6"]
        );
        // Eight places at most, counted as given.
        let eight = ["1,1"; 8].join(";");
        assert_eq!(cells(&eight), ["1.0,1.0"]);
        let nine = ["1,1"; 9].join(";");
        let error = weather_cells(&nine).unwrap_err().to_string();
        assert!(error.contains("at most 8"), "{error}");
        assert!(weather_cells("52.5,13.4;berlin").is_err());
    }
}
