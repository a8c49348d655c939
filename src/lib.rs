//! Tidings: news, weather and alerts pushed to your desktop, PointCast reborn.
//!
//! One library, two thin binaries: `tidings` (the desktop app and client CLI) and
//! `tidings-server` (the content server). The rooms, and what each owns:
//!
//! - [`protocol`]: wire protocol v1, the types both sides share (events, ids, API bodies, SSE
//!   framing). No I/O.
//! - [`config`]: configuration layers (defaults < file < environment < flags), validated once.
//! - [`sse`]: a spec-exact Server-Sent Events decoder for any SSE server.
//! - [`client`]: the connection that never loses an event, the client state (store), the
//!   offline cache and publishing. No GUI code.
//! - `server` (feature `server`): the content server: event log (SQLite, or Redis Streams for
//!   several nodes with feature `redis`), hub (fan-out), HTTP
//!   API, SSE streams, web ticker page.
//! - `gui` (features `gui` and `server`): the desktop app: channel viewer, ticker, SmartScreen,
//!   settings, with the server embedded.
//! - `desktop` (feature `gui`): operating-system adapters: notifications, tray icon, idle time,
//!   autostart, the ticker's reserved screen edge.
//! - `opml` (feature `server`): OPML import into a channel line-up and export from one
//!   (`tidings opml`).
//! - [`net`]: HTTP helpers both sides share (Retry-After, one-line request errors).
//! - [`cli`]: logging set-up and process plumbing shared by the binaries.
//!
//! `docs/protocol.md` documents the wire protocol; `docs/architecture.md` the design choices.

pub mod cli;
pub mod client;
pub mod config;
#[cfg(feature = "gui")]
pub mod desktop;
#[cfg(all(feature = "gui", feature = "server"))]
pub mod gui;
pub mod net;
#[cfg(feature = "server")]
pub mod opml;
pub mod protocol;
#[cfg(feature = "server")]
pub mod server;
pub mod sse;
