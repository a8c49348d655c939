//! How protocol events are written as Server-Sent Events frames.
//!
//! The server encodes each event once into an immutable [`Bytes`] frame and shares it with
//! every subscriber. Values written into `id:` and `event:` lines never contain CR or LF (event
//! ids are digits and `-`, names are ASCII words) and `data:` is single-line JSON, so a
//! spec-following decoder gets the payload byte-exact, line breaks in text included.

use bytes::Bytes;

use super::id::EventId;

/// A complete SSE event block: `id`, `event` and one `data` line. `data_json` must be a single
/// line (as produced by `serde_json::to_string`); any line break in it is escaped defensively.
#[must_use]
pub fn event_frame(event_id: EventId, name: &str, data_json: &str) -> Bytes {
    let mut frame = String::with_capacity(data_json.len() + name.len() + 48);
    frame.push_str("id: ");
    frame.push_str(&event_id.to_string());
    frame.push_str("\nevent: ");
    frame.push_str(name);
    frame.push_str("\ndata: ");
    if data_json.contains(['\r', '\n']) {
        // Raw CR/LF cannot occur inside JSON strings, only as whitespace between tokens, where
        // removing them keeps the JSON value identical.
        frame.extend(data_json.chars().filter(|c| *c != '\r' && *c != '\n'));
    } else {
        frame.push_str(data_json);
    }
    frame.push_str("\n\n");
    Bytes::from(frame)
}

/// A block with only an `id:` line: dispatches nothing but moves the client's last event ID.
#[must_use]
pub fn id_only_frame(event_id: EventId) -> Bytes {
    Bytes::from(format!("id: {event_id}\n\n"))
}

/// An event block without an `id:` field (so the client's last event id stays where it is).
#[must_use]
pub fn unnumbered_frame(name: &str, data_json: &str) -> Bytes {
    Bytes::from(format!(
        "event: {name}\ndata: {}\n\n",
        data_json.replace(['\r', '\n'], "")
    ))
}

/// A comment block (`: text`), used as a heartbeat. `text` must not contain line breaks.
#[must_use]
pub fn comment_frame(text: &str) -> Bytes {
    Bytes::from(format!(": {}\n\n", text.replace(['\r', '\n'], " ")))
}

/// A `retry:` field line (no block terminator), prepended to the first block of a stream.
#[must_use]
pub fn retry_field(retry_millis: u64) -> Bytes {
    Bytes::from(format!("retry: {retry_millis}\n"))
}
