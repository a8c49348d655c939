//! Wire protocol v1: the contract between `tidings-server` and every client.
//!
//! Both sides use these types; nothing here does I/O. The full description, with examples, is
//! `docs/protocol.md`. Changes are additive only: new fields are optional, unknown fields and
//! unknown event names are ignored.

mod admin;
mod api;
mod event;
mod id;
mod sse;

pub use admin::{
    ChannelPatch, DiscoveredFeed, LineupChannel, LineupResponse, LineupSource, MoveSource,
    NewChannel, Preview, PreviewItem, PreviewRequest,
};
pub use api::{ErrorBody, ErrorDetail, GeocodeResponse, Place, PublishRequest, PublishResponse};
pub use event::{
    Alert, AlertStatus, ChannelInfo, ChannelKind, Condition, CurrentWeather, DailyForecast,
    DecodeError, Event, Gap, Health, HealthStatus, HourlyForecast, Item, Live, MAX_WEATHER_CELLS,
    Retract, RetractKind, Severity, WeatherReport, WeatherUnits, weather_cell,
};
pub use id::{ChannelId, EventId, IdError, ItemKey};
pub use sse::{comment_frame, event_frame, id_only_frame, retry_field, unnumbered_frame};

/// The protocol version this crate speaks; sent as the `Tidings-Protocol` response header.
pub const PROTOCOL_VERSION: u32 = 1;

#[cfg(test)]
mod tests;
