//! `tidings-server` configuration: the TOML file format ([`RawServerConfig`]) and the validated
//! [`ServerConfig`] the server runs with.
//!
//! Layers: built-in defaults < TOML file < environment (`TIDINGS_*`) < command-line flags. Every
//! setting is documented in `assets/server.example.toml`, which a test parses. Secrets (publish
//! tokens) never appear in `Debug` output or logs.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::protocol::{ChannelId, ChannelInfo, ChannelKind, Health};

/// The documented example configuration, printed by `tidings-server config example`.
pub const EXAMPLE_CONFIG: &str = include_str!("../../assets/server.example.toml");

/// The default channel line-up, used when the config file lists no channels.
pub const DEFAULT_CHANNELS: &str = include_str!("../../assets/channels.toml");

/// Environment variable naming a publish token allowed on every channel.
pub const ENV_PUBLISH_TOKEN: &str = "TIDINGS_PUBLISH_TOKEN";

/// A configuration that cannot be used, with the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped settings.
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's explanation, with line and column.
        message: String,
    },
    /// A setting has a value out of range or inconsistent with others.
    #[error("invalid setting `{setting}`: {message}")]
    Invalid {
        /// Dotted path of the setting, e.g. `stream.heartbeat_secs`.
        setting: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(setting: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.into(),
        message: message.into(),
    }
}

/// The TOML file as written by an admin; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080` or `[::]:8080`.
    pub listen: Option<String>,
    /// Directory for the event log and server state.
    pub data_dir: Option<PathBuf>,
    /// `redis://host:port/db`: keep the event log in Redis, shared by several nodes.
    pub broker: Option<String>,
    /// Prefix of every Redis key (several deployments can share one Redis).
    pub broker_prefix: Option<String>,
    /// Seconds the node that fetches holds its lease between renewals; another node takes
    /// over within this time when it dies.
    pub broker_lease_secs: Option<u64>,
    /// Stream settings.
    #[serde(default)]
    pub stream: RawStream,
    /// Content ingestion.
    #[serde(default)]
    pub ingest: RawIngest,
    /// Weather (Open-Meteo).
    #[serde(default)]
    pub weather: RawWeather,
    /// Severe-weather alerts (US National Weather Service).
    #[serde(default)]
    pub alerts: RawAlerts,
    /// Request limits.
    #[serde(default)]
    pub limits: RawLimits,
    /// Default retention for every channel.
    #[serde(default)]
    pub retention: RawRetention,
    /// Channels; when absent, the line-up file (`channels_file`), else the default line-up.
    pub channels: Option<Vec<RawChannel>>,
    /// A line-up file of `[[channels]]` that the channel-management API and `SIGHUP` keep
    /// (default: `channels.toml` in the data directory, unless `[[channels]]` are listed here).
    pub channels_file: Option<PathBuf>,
    /// Publish tokens.
    #[serde(default)]
    pub tokens: Vec<RawToken>,
}

/// `[stream]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStream {
    /// Seconds of quiet before a heartbeat comment.
    pub heartbeat_secs: Option<u64>,
    /// Reconnection delay hinted to clients with `retry:`, in milliseconds.
    pub retry_millis: Option<u64>,
    /// Events a subscriber may lag behind before it is disconnected.
    pub subscriber_queue: Option<usize>,
    /// Latest items per channel sent to a new subscriber.
    pub snapshot_items: Option<usize>,
    /// Streams open at once; further ones get 503.
    pub max_subscribers: Option<usize>,
}

/// `[ingest]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIngest {
    /// Poll the channels' sources (false: a publish-only server).
    pub enabled: Option<bool>,
}

/// `[weather]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeather {
    /// Base URL of the Open-Meteo forecast API.
    pub forecast_url: Option<String>,
    /// Base URL of the Open-Meteo geocoding API.
    pub geocoding_url: Option<String>,
    /// Minutes between refreshes of a cell's weather.
    pub refresh_minutes: Option<u64>,
    /// Or seconds (for tests and self-hosted stand-ins; not with `refresh_minutes`).
    pub refresh_secs: Option<u64>,
}

/// `[alerts]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// Base URL of the NWS API.
    pub nws_url: Option<String>,
    /// Minutes between checks of a cell's active alerts.
    pub refresh_minutes: Option<u64>,
    /// Or seconds (for tests and self-hosted stand-ins; not with `refresh_minutes`).
    pub refresh_secs: Option<u64>,
    /// Seconds a cancelled alert stays visible, marked cancelled, before it is removed.
    pub cancelled_linger_secs: Option<u64>,
}

/// `[limits]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Largest publish request body, in bytes.
    pub max_publish_bytes: Option<usize>,
}

/// `[retention]`, also usable per channel.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    /// Events kept per channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_events: Option<u64>,
    /// Days an event is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u64>,
}

impl RawRetention {
    /// Whether nothing is overridden.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.max_events.is_none() && self.max_age_days.is_none()
    }
}

/// `[[channels]]`, in a server config or a line-up file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// Channel id.
    pub id: String,
    /// Display title.
    pub title: String,
    /// One-line description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Accent colour `#rrggbb`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    /// `news`, `weather` or `alerts`.
    #[serde(default)]
    pub kind: ChannelKind,
    /// Retention overrides.
    #[serde(default, skip_serializing_if = "RawRetention::is_empty")]
    pub retention: RawRetention,
    /// Feeds polled into this channel.
    #[serde(default)]
    pub sources: Vec<RawSource>,
}

/// A feed source: a URL, or a table with settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawSource {
    /// Just the URL.
    Url(String),
    /// URL and settings.
    Table {
        /// `https://`, `http://` or `file://` URL of an RSS, Atom or JSON feed.
        url: String,
        /// Name shown as the items' source (default: the feed's own title).
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Minutes between polls (default 15, at least 1).
        #[serde(skip_serializing_if = "Option::is_none")]
        poll_minutes: Option<u64>,
        /// Seconds between polls, instead of minutes (for tests and local sources).
        #[serde(skip_serializing_if = "Option::is_none")]
        poll_secs: Option<u64>,
    },
}

impl RawSource {
    /// The feed URL.
    #[must_use]
    pub fn url(&self) -> &str {
        match self {
            Self::Url(url) | Self::Table { url, .. } => url,
        }
    }

    /// The name given to the source, if any.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Url(_) => None,
            Self::Table { name, .. } => name.as_deref(),
        }
    }
}

/// `[[tokens]]`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    /// Name shown in logs instead of the secret.
    pub name: String,
    /// The secret itself.
    pub token: Option<String>,
    /// Or: the environment variable holding it.
    pub token_env: Option<String>,
    /// Channel ids it may publish to; `"*"` for all.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Whether it may manage channels and their sources (`/v1/admin/…`).
    #[serde(default)]
    pub admin: bool,
}

impl fmt::Debug for RawToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawToken")
            .field("name", &self.name)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_env", &self.token_env)
            .field("channels", &self.channels)
            .field("admin", &self.admin)
            .finish()
    }
}

/// Overrides from the command line (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--listen`
    pub listen: Option<String>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--broker`
    pub broker: Option<String>,
    /// `--channels-file`
    pub channels_file: Option<PathBuf>,
}

/// How a subscriber's stream behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// Quiet time before a heartbeat comment.
    pub heartbeat: Duration,
    /// `retry:` hint.
    pub retry_millis: u64,
    /// Bounded queue length per subscriber.
    pub subscriber_queue: usize,
    /// Snapshot size per channel.
    pub snapshot_items: usize,
    /// Most streams open at once.
    pub max_subscribers: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(15),
            retry_millis: 3_000,
            subscriber_queue: 1_024,
            snapshot_items: 20,
            max_subscribers: 50_000,
        }
    }
}

/// Where weather comes from and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeatherSettings {
    /// Open-Meteo forecast API base URL (`/v1/forecast` is appended).
    pub forecast_url: String,
    /// Open-Meteo geocoding API base URL (`/v1/search` is appended).
    pub geocoding_url: String,
    /// Time between refreshes of one cell.
    pub refresh: Duration,
}

impl Default for WeatherSettings {
    fn default() -> Self {
        Self {
            forecast_url: "https://api.open-meteo.com".to_owned(),
            geocoding_url: "https://geocoding-api.open-meteo.com".to_owned(),
            refresh: Duration::from_secs(15 * 60),
        }
    }
}

/// Where severe-weather alerts come from and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// NWS API base URL (`/alerts/active` is appended).
    pub nws_url: String,
    /// Time between checks of one cell.
    pub refresh: Duration,
    /// How long a cancelled alert (from any source, published ones too) stays visible.
    pub cancelled_linger: Duration,
    /// Ask only for cells inside the area the NWS covers (the US and its territories). Off
    /// only in demo mode, whose recorded alerts are served anywhere.
    pub us_only: bool,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            nws_url: "https://api.weather.gov".to_owned(),
            refresh: Duration::from_secs(2 * 60),
            cancelled_linger: Duration::from_secs(15 * 60),
            us_only: true,
        }
    }
}

/// Request limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSettings {
    /// Largest publish body.
    pub max_publish_bytes: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_publish_bytes: 64 * 1024,
        }
    }
}

/// How much history a channel keeps for replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Newest events kept.
    pub max_events: u64,
    /// Oldest event age kept.
    pub max_age: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            max_events: 1_000,
            max_age: Duration::from_secs(7 * 86_400),
        }
    }
}

/// A validated feed source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    /// The feed URL.
    pub url: String,
    /// Source name override.
    pub name: Option<String>,
    /// Time between polls.
    pub poll_interval: Duration,
}

/// Default minutes between polls of a feed.
pub const DEFAULT_POLL_MINUTES: u64 = 15;

/// A validated channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    /// Metadata as published in the catalog.
    pub info: ChannelInfo,
    /// Its retention.
    pub retention: RetentionPolicy,
    /// Feeds polled into it.
    pub sources: Vec<SourceConfig>,
}

impl ChannelConfig {
    /// The channel's id.
    #[must_use]
    pub fn id(&self) -> &ChannelId {
        &self.info.id
    }
}

/// Which channels a token may publish to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    /// Every channel.
    All,
    /// Only these.
    Channels(HashSet<ChannelId>),
}

/// A validated publish token. `Debug` never shows the secret.
#[derive(Clone)]
pub struct TokenConfig {
    /// Name for logs.
    pub name: String,
    /// The secret.
    pub secret: String,
    /// Where it may publish.
    pub scope: TokenScope,
    /// Whether it may manage channels.
    pub admin: bool,
}

impl fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .field("scope", &self.scope)
            .field("admin", &self.admin)
            .finish()
    }
}

impl TokenConfig {
    /// Whether this token may publish to `channel`.
    #[must_use]
    pub fn allows(&self, channel: &ChannelId) -> bool {
        match &self.scope {
            TokenScope::All => true,
            TokenScope::Channels(set) => set.contains(channel),
        }
    }
}

/// The validated server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where the event log lives (SQLite), and this node's own state.
    pub data_dir: PathBuf,
    /// The shared Redis event log, when several nodes serve together; `None`: SQLite.
    pub broker: Option<Broker>,
    /// Stream behaviour.
    pub stream: StreamSettings,
    /// Whether channel sources, weather and alerts are fetched.
    pub ingest_enabled: bool,
    /// Weather source.
    pub weather: WeatherSettings,
    /// Severe-weather alert source.
    pub alerts: AlertSettings,
    /// Request limits.
    pub limits: LimitSettings,
    /// Channels in catalog order, as the server starts (the running catalog may change:
    /// `server::catalog`).
    pub channels: Vec<ChannelConfig>,
    /// The line-up `channels` were validated from, as written (`None` once something changed
    /// `channels` after validation, as the demo does).
    pub lineup: Option<super::lineup::Lineup>,
    /// Where the channel-management API keeps the line-up; `None` when the config file lists
    /// the channels itself (then they change only with the file, on `SIGHUP`).
    pub channels_file: Option<PathBuf>,
    /// Retention of channels that set none of their own.
    pub default_retention: RetentionPolicy,
    /// Publish and admin tokens.
    pub tokens: Vec<TokenConfig>,
}

/// The environment variable holding a token that may manage channels.
pub const ENV_ADMIN_TOKEN: &str = "TIDINGS_ADMIN_TOKEN";

/// The environment variable naming the Redis broker.
pub const ENV_BROKER: &str = "TIDINGS_BROKER";

/// Where several nodes share their event log: a Redis server and a key prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct Broker {
    /// `redis://[user:password@]host:port/db` or `redis+unix:///path/to/redis.sock`.
    pub url: String,
    /// Prefix of every key.
    pub prefix: String,
    /// How long the ingest lease lasts without renewal.
    pub lease: Duration,
}

impl Broker {
    /// A broker at `url` with the default prefix and lease (tests, benches, embedding).
    #[must_use]
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: prefix.into(),
            lease: DEFAULT_LEASE,
        }
    }
}

/// The ingest lease's default length.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker")
            .field("url", &redact_password(&self.url))
            .field("prefix", &self.prefix)
            .field("lease", &self.lease)
            .finish()
    }
}

/// A URL with its password (if any) shown as `***`.
#[must_use]
pub fn redact_password(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(not a URL)".to_owned(),
    }
}

fn build_broker(
    url: Option<String>,
    prefix: Option<String>,
    lease_secs: Option<u64>,
) -> Result<Option<Broker>, ConfigError> {
    let Some(url) = url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let parsed = reqwest::Url::parse(&url).map_err(|_| {
        invalid(
            "broker",
            format!(
                "{} is not a URL like redis://127.0.0.1:6379/0",
                redact_password(&url)
            ),
        )
    })?;
    match parsed.scheme() {
        "redis" if parsed.host().is_some() => {}
        "redis+unix" | "unix" => {}
        "rediss" => {
            return Err(invalid(
                "broker",
                "rediss:// (TLS) is not built in; reach Redis over a private network or a local TLS tunnel and use redis://",
            ));
        }
        _ => {
            return Err(invalid(
                "broker",
                format!(
                    "{} is not a Redis URL (redis://host:port/db)",
                    redact_password(&url)
                ),
            ));
        }
    }
    let prefix = prefix.unwrap_or_else(|| "tidings".to_owned());
    let valid_prefix = !prefix.is_empty()
        && prefix.len() <= 64
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if !valid_prefix {
        return Err(invalid(
            "broker_prefix",
            format!("{prefix:?}: use 1-64 letters, digits, '_', '-', '.' or ':'"),
        ));
    }
    let lease_secs = in_range(
        "broker_lease_secs",
        lease_secs,
        DEFAULT_LEASE.as_secs(),
        1,
        300,
    )?;
    Ok(Some(Broker {
        url,
        prefix,
        lease: Duration::from_secs(lease_secs),
    }))
}

/// The default listen address of a standalone server.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl ServerConfig {
    /// Reads and parses a TOML config file (no validation yet).
    pub fn read_file(path: &Path) -> Result<RawServerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses TOML text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<RawServerConfig, ConfigError> {
        toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: path.to_owned(),
            message: error.to_string().trim_end().replace('\n', " "),
        })
    }

    /// Validates the layers into a config: `raw` (the file, or default), environment via `env`,
    /// then `overrides`.
    pub fn build(
        raw: RawServerConfig,
        env: &dyn Fn(&str) -> Option<String>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let listen_text = overrides
            .listen
            .clone()
            .or_else(|| env("TIDINGS_LISTEN"))
            .or(raw.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text.parse().map_err(|_| {
            invalid(
                "listen",
                format!("{listen_text:?} is not an address like 127.0.0.1:8080 or [::]:8080"),
            )
        })?;
        let data_dir = match overrides
            .data_dir
            .clone()
            .or_else(|| env("TIDINGS_DATA_DIR").map(PathBuf::from))
            .or(raw.data_dir)
        {
            Some(dir) => dir,
            None => default_data_dir()?,
        };

        let broker = build_broker(
            overrides
                .broker
                .clone()
                .or_else(|| env(ENV_BROKER))
                .or(raw.broker),
            raw.broker_prefix,
            raw.broker_lease_secs,
        )?;
        let stream = build_stream(&raw.stream)?;
        let ingest_enabled = raw.ingest.enabled.unwrap_or(true);
        let weather = build_weather(&raw.weather)?;
        let alerts = build_alerts(&raw.alerts)?;
        let limits = LimitSettings {
            max_publish_bytes: in_range(
                "limits.max_publish_bytes",
                raw.limits.max_publish_bytes,
                LimitSettings::default().max_publish_bytes,
                1_024,
                16 * 1024 * 1024,
            )?,
        };
        let default_retention =
            build_retention("retention", &raw.retention, RetentionPolicy::default())?;

        let channels_file = overrides
            .channels_file
            .clone()
            .or_else(|| env("TIDINGS_CHANNELS_FILE").map(PathBuf::from))
            .or(raw.channels_file);
        let (raw_channels, channels_file) = match (raw.channels, channels_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "channels_file",
                    "list [[channels]] in the config file or name a channels_file, not both",
                ));
            }
            (Some(channels), None) => (channels, None),
            (None, file) => {
                let file = file.unwrap_or_else(|| data_dir.join(super::lineup::LINEUP_FILE));
                let lineup = super::lineup::Lineup::load_or_default(&file)?;
                (lineup.channels, Some(file))
            }
        };
        let lineup = super::lineup::Lineup {
            channels: raw_channels.clone(),
        };
        let channels = build_channels(raw_channels, default_retention)?;
        let mut tokens = build_tokens(raw.tokens, &channels, env)?;
        if let Some(secret) = env(ENV_PUBLISH_TOKEN).filter(|s| !s.is_empty()) {
            check_secret(ENV_PUBLISH_TOKEN, &secret)?;
            tokens.push(TokenConfig {
                name: ENV_PUBLISH_TOKEN.to_owned(),
                secret,
                scope: TokenScope::All,
                admin: false,
            });
        }
        if let Some(secret) = env(ENV_ADMIN_TOKEN).filter(|s| !s.is_empty()) {
            check_secret(ENV_ADMIN_TOKEN, &secret)?;
            tokens.push(TokenConfig {
                name: ENV_ADMIN_TOKEN.to_owned(),
                secret,
                scope: TokenScope::Channels(HashSet::new()),
                admin: true,
            });
        }
        Ok(Self {
            listen,
            data_dir,
            broker,
            stream,
            ingest_enabled,
            weather,
            alerts,
            limits,
            channels,
            lineup: Some(lineup),
            channels_file,
            default_retention,
            tokens,
        })
    }

    /// A config for tests and embedding: default settings, the given data dir, no tokens, the
    /// default channel line-up.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".to_owned()),
            data_dir: Some(data_dir.into()),
            broker: None,
            channels_file: None,
        };
        Self::build(RawServerConfig::default(), &|_| None, &overrides)
    }

    /// Loopback only, data in `data_dir`, the line-up in `channels_file` (the default line-up
    /// until it exists; re-read when it changes), no tokens.
    pub fn with_lineup_file(
        data_dir: impl Into<PathBuf>,
        channels_file: impl Into<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".to_owned()),
            data_dir: Some(data_dir.into()),
            broker: None,
            channels_file: Some(channels_file.into()),
        };
        Self::build(RawServerConfig::default(), &|_| None, &overrides)
    }

    /// The desktop app's built-in server: loopback only, data in `data_dir`, the user's
    /// line-up in `channels_file`, and one admin token (`admin_secret`, which the app keeps in
    /// memory) for the app's own channel management.
    pub fn embedded(
        data_dir: impl Into<PathBuf>,
        channels_file: impl Into<PathBuf>,
        admin_secret: &str,
    ) -> Result<Self, ConfigError> {
        let mut config = Self::with_lineup_file(data_dir, channels_file)?;
        check_secret("admin token", admin_secret)?;
        config.tokens.push(TokenConfig {
            name: "desktop app".to_owned(),
            secret: admin_secret.to_owned(),
            scope: TokenScope::Channels(HashSet::new()),
            admin: true,
        });
        Ok(config)
    }

    /// Looks a channel up by id.
    #[must_use]
    pub fn channel(&self, id: &ChannelId) -> Option<&ChannelConfig> {
        self.channels.iter().find(|c| c.id() == id)
    }
}

fn default_data_dir() -> Result<PathBuf, ConfigError> {
    directories::ProjectDirs::from("org", "Tidings", "tidings")
        .map(|dirs| dirs.data_dir().join("server"))
        .ok_or_else(|| {
            invalid(
                "data_dir",
                "no home directory to derive a default from; set --data-dir",
            )
        })
}

pub(crate) fn default_channels() -> Result<Vec<RawChannel>, ConfigError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Lineup {
        channels: Vec<RawChannel>,
    }
    let lineup: Lineup = toml::from_str(DEFAULT_CHANNELS).map_err(|error| ConfigError::Parse {
        path: PathBuf::from("assets/channels.toml (built in)"),
        message: error.to_string(),
    })?;
    Ok(lineup.channels)
}

fn in_range<T>(
    setting: &str,
    value: Option<T>,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: PartialOrd + fmt::Display + Copy,
{
    let value = value.unwrap_or(default);
    if value < min || value > max {
        return Err(invalid(
            setting,
            format!("{value} is outside {min}..={max}"),
        ));
    }
    Ok(value)
}

/// An http(s) base URL without a trailing slash.
fn base_url(setting: &str, value: Option<&String>, default: &str) -> Result<String, ConfigError> {
    let Some(value) = value else {
        return Ok(default.to_owned());
    };
    let trimmed = value.trim().trim_end_matches('/');
    match reqwest::Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(trimmed.to_owned())
        }
        _ => Err(invalid(
            setting,
            format!("{value:?} is not an http(s) URL like {default}"),
        )),
    }
}

fn build_weather(raw: &RawWeather) -> Result<WeatherSettings, ConfigError> {
    let defaults = WeatherSettings::default();
    Ok(WeatherSettings {
        forecast_url: base_url(
            "weather.forecast_url",
            raw.forecast_url.as_ref(),
            &defaults.forecast_url,
        )?,
        geocoding_url: base_url(
            "weather.geocoding_url",
            raw.geocoding_url.as_ref(),
            &defaults.geocoding_url,
        )?,
        refresh: refresh(
            "weather",
            raw.refresh_minutes,
            raw.refresh_secs,
            defaults.refresh,
            5,
            24 * 60,
        )?,
    })
}

fn build_alerts(raw: &RawAlerts) -> Result<AlertSettings, ConfigError> {
    let defaults = AlertSettings::default();
    Ok(AlertSettings {
        nws_url: base_url("alerts.nws_url", raw.nws_url.as_ref(), &defaults.nws_url)?,
        refresh: refresh(
            "alerts",
            raw.refresh_minutes,
            raw.refresh_secs,
            defaults.refresh,
            1,
            60,
        )?,
        cancelled_linger: Duration::from_secs(in_range(
            "alerts.cancelled_linger_secs",
            raw.cancelled_linger_secs,
            defaults.cancelled_linger.as_secs(),
            1,
            24 * 3600,
        )?),
        us_only: true,
    })
}

/// A refresh interval given in minutes (`min_minutes..=max_minutes`) or in seconds (from one
/// second, for tests and local stand-ins, up to the same maximum), not both.
fn refresh(
    table: &str,
    minutes: Option<u64>,
    secs: Option<u64>,
    default: Duration,
    min_minutes: u64,
    max_minutes: u64,
) -> Result<Duration, ConfigError> {
    match (minutes, secs) {
        (Some(_), Some(_)) => Err(invalid(
            format!("{table}.refresh_secs"),
            "set refresh_minutes or refresh_secs, not both",
        )),
        (None, Some(secs)) => Ok(Duration::from_secs(in_range(
            &format!("{table}.refresh_secs"),
            Some(secs),
            default.as_secs(),
            1,
            max_minutes * 60,
        )?)),
        (minutes, None) => Ok(Duration::from_secs(
            60 * in_range(
                &format!("{table}.refresh_minutes"),
                minutes,
                default.as_secs() / 60,
                min_minutes,
                max_minutes,
            )?,
        )),
    }
}

fn build_stream(raw: &RawStream) -> Result<StreamSettings, ConfigError> {
    let defaults = StreamSettings::default();
    Ok(StreamSettings {
        heartbeat: Duration::from_secs(in_range(
            "stream.heartbeat_secs",
            raw.heartbeat_secs,
            defaults.heartbeat.as_secs(),
            1,
            3_600,
        )?),
        retry_millis: in_range(
            "stream.retry_millis",
            raw.retry_millis,
            defaults.retry_millis,
            100,
            600_000,
        )?,
        subscriber_queue: in_range(
            "stream.subscriber_queue",
            raw.subscriber_queue,
            defaults.subscriber_queue,
            8,
            1 << 20,
        )?,
        snapshot_items: in_range(
            "stream.snapshot_items",
            raw.snapshot_items,
            defaults.snapshot_items,
            0,
            1_000,
        )?,
        max_subscribers: in_range(
            "stream.max_subscribers",
            raw.max_subscribers,
            defaults.max_subscribers,
            1,
            10_000_000,
        )?,
    })
}

fn build_retention(
    prefix: &str,
    raw: &RawRetention,
    base: RetentionPolicy,
) -> Result<RetentionPolicy, ConfigError> {
    let max_events = in_range(
        &format!("{prefix}.max_events"),
        raw.max_events,
        base.max_events,
        1,
        u64::from(u32::MAX),
    )?;
    let days = in_range(
        &format!("{prefix}.max_age_days"),
        raw.max_age_days,
        base.max_age.as_secs() / 86_400,
        1,
        36_500,
    )?;
    Ok(RetentionPolicy {
        max_events,
        max_age: Duration::from_secs(days * 86_400),
    })
}

fn valid_colour(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text.bytes().skip(1).all(|b| b.is_ascii_hexdigit())
}

/// Validates a line-up into channels; `retention` applies where a channel sets none.
pub fn build_channels(
    raw: Vec<RawChannel>,
    retention: RetentionPolicy,
) -> Result<Vec<ChannelConfig>, ConfigError> {
    if raw.is_empty() {
        return Err(invalid("channels", "at least one channel is needed"));
    }
    let mut seen = HashSet::new();
    let mut channels = Vec::with_capacity(raw.len());
    for (index, channel) in raw.into_iter().enumerate() {
        let at = format!("channels[{index}]");
        let id =
            ChannelId::new(channel.id).map_err(|e| invalid(format!("{at}.id"), e.to_string()))?;
        if !seen.insert(id.clone()) {
            return Err(invalid(
                format!("{at}.id"),
                format!("channel {id} is listed twice"),
            ));
        }
        let title = channel.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > 80 {
            return Err(invalid(format!("{at}.title"), "must be 1-80 characters"));
        }
        let colour = channel.colour.unwrap_or_else(|| "#5b8def".to_owned());
        if !valid_colour(&colour) {
            return Err(invalid(
                format!("{at}.colour"),
                format!("{colour:?} is not a #rrggbb colour"),
            ));
        }
        let retention = build_retention(&format!("{at}.retention"), &channel.retention, retention)?;
        let mut sources = Vec::new();
        for (number, source) in channel.sources.into_iter().enumerate() {
            let setting = format!("{at}.sources[{number}]");
            let (url, name, minutes, secs) = match source {
                RawSource::Url(url) => (url, None, None, None),
                RawSource::Table {
                    url,
                    name,
                    poll_minutes,
                    poll_secs,
                } => (url, name, poll_minutes, poll_secs),
            };
            let url = url.trim().to_owned();
            let bundled = url == "tidings:welcome";
            if !(bundled
                || url.starts_with("https://")
                || url.starts_with("http://")
                || url.starts_with("file://"))
            {
                return Err(invalid(
                    setting,
                    format!("{url:?} is not an https://, http:// or file:// URL"),
                ));
            }
            let poll_interval = match (minutes, secs) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        format!("{setting}.poll_secs"),
                        "set poll_minutes or poll_secs, not both",
                    ));
                }
                (None, Some(secs)) => Duration::from_secs(in_range(
                    &format!("{setting}.poll_secs"),
                    Some(secs),
                    DEFAULT_POLL_MINUTES * 60,
                    1,
                    86_400,
                )?),
                (minutes, None) => Duration::from_secs(
                    60 * in_range(
                        &format!("{setting}.poll_minutes"),
                        minutes,
                        DEFAULT_POLL_MINUTES,
                        1,
                        24 * 60,
                    )?,
                ),
            };
            sources.push(SourceConfig {
                url,
                name: name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
                poll_interval,
            });
        }
        channels.push(ChannelConfig {
            info: ChannelInfo {
                id,
                title,
                description: channel.description.trim().to_owned(),
                colour: colour.to_ascii_lowercase(),
                kind: channel.kind,
                health: Health::default(),
                updated: None,
                removed: false,
            },
            retention,
            sources,
        });
    }
    Ok(channels)
}

fn check_secret(setting: &str, secret: &str) -> Result<(), ConfigError> {
    if secret.len() < 12 || secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            setting,
            "a token needs at least 12 characters and no spaces",
        ));
    }
    Ok(())
}

fn build_tokens(
    raw: Vec<RawToken>,
    channels: &[ChannelConfig],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<TokenConfig>, ConfigError> {
    let mut names = HashSet::new();
    let mut tokens = Vec::with_capacity(raw.len());
    for (index, token) in raw.into_iter().enumerate() {
        let at = format!("tokens[{index}]");
        if token.name.trim().is_empty() || !names.insert(token.name.clone()) {
            return Err(invalid(
                format!("{at}.name"),
                "each token needs a unique name",
            ));
        }
        let secret = match (token.token, token.token_env) {
            (Some(secret), None) => secret,
            (None, Some(var)) => env(&var).ok_or_else(|| {
                invalid(
                    format!("{at}.token_env"),
                    format!("environment variable {var} is not set"),
                )
            })?,
            _ => {
                return Err(invalid(at, "give exactly one of `token` or `token_env`"));
            }
        };
        check_secret(&format!("{at}.token"), &secret)?;
        let scope = if token.admin && token.channels.is_empty() {
            TokenScope::Channels(HashSet::new())
        } else if token.channels.iter().any(|c| c == "*") {
            TokenScope::All
        } else {
            let mut set = HashSet::new();
            for name in &token.channels {
                let id = ChannelId::new(name.as_str())
                    .ok()
                    .filter(|id| channels.iter().any(|c| c.id() == id))
                    .ok_or_else(|| {
                        invalid(format!("{at}.channels"), format!("no channel {name:?}"))
                    })?;
                set.insert(id);
            }
            if set.is_empty() {
                return Err(invalid(
                    format!("{at}.channels"),
                    "list channel ids, or \"*\" for all",
                ));
            }
            TokenScope::Channels(set)
        };
        tokens.push(TokenConfig {
            name: token.name,
            secret,
            scope,
            admin: token.admin,
        });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_lineup_file_of_the_users_is_what_the_built_in_server_runs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir
            .path()
            .join("config")
            .join(super::super::lineup::LINEUP_FILE);
        let defaults = ServerConfig::with_lineup_file(dir.path().join("data"), &file).unwrap();
        assert_eq!(defaults.channels_file.as_deref(), Some(file.as_path()));
        assert!(defaults.channels.len() > 1);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            "[[channels]]\nid = \"mine\"\ntitle = \"Mine\"\nsources = [\"https://example.org/feed\"]\n",
        )
        .unwrap();
        let mine = ServerConfig::with_lineup_file(dir.path().join("data"), &file).unwrap();
        let ids: Vec<&str> = mine.channels.iter().map(|c| c.id().as_str()).collect();
        assert_eq!(ids, ["mine"]);
    }

    fn build(text: &str) -> Result<ServerConfig, ConfigError> {
        let raw = ServerConfig::parse(text, Path::new("test.toml"))?;
        ServerConfig::build(
            raw,
            &no_env,
            &Overrides {
                data_dir: Some("test-data".into()),
                ..Overrides::default()
            },
        )
    }

    #[test]
    fn example_config_parses_and_documents_every_section() {
        let raw = ServerConfig::parse(EXAMPLE_CONFIG, Path::new("server.example.toml")).unwrap();
        let env = |name: &str| {
            (name == "TIDINGS_MONITORING_TOKEN").then(|| "monitoring-secret-1".to_owned())
        };
        let overrides = Overrides {
            data_dir: Some("test-data".into()),
            ..Overrides::default()
        };
        let config = ServerConfig::build(raw, &env, &overrides).unwrap();
        assert_eq!(config.tokens.len(), 2);
        assert!(!config.channels.is_empty());
        for section in [
            "[stream]",
            "[ingest]",
            "[weather]",
            "[alerts]",
            "[limits]",
            "[retention]",
            "[[channels]]",
            "[[tokens]]",
        ] {
            assert!(EXAMPLE_CONFIG.contains(section), "{section} undocumented");
        }
    }

    #[test]
    fn default_lineup_is_valid() {
        let config = build("").unwrap();
        assert!(config.channels.len() >= 6);
        assert!(config.ingest_enabled);
        for channel in &config.channels {
            let has_sources = !channel.sources.is_empty();
            let fed_by_server = matches!(
                channel.info.kind,
                ChannelKind::Weather | ChannelKind::Alerts
            );
            assert!(
                has_sources || fed_by_server,
                "{} has no sources",
                channel.id()
            );
        }
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert!(config.tokens.is_empty());
        assert_eq!(config.weather, WeatherSettings::default());
        assert_eq!(config.alerts, AlertSettings::default());
        let custom = build(
            "[weather]\nforecast_url = \"http://meteo.lan:8080/\"\nrefresh_minutes = 30\n\
             [alerts]\nrefresh_minutes = 5",
        )
        .unwrap();
        assert_eq!(custom.weather.forecast_url, "http://meteo.lan:8080");
        assert_eq!(custom.weather.refresh, Duration::from_secs(1800));
        assert_eq!(custom.alerts.refresh, Duration::from_secs(300));
        assert!(custom.alerts.us_only);
        let quick = build(
            "[weather]\nrefresh_secs = 2\n[alerts]\nrefresh_secs = 1\ncancelled_linger_secs = 3",
        )
        .unwrap();
        assert_eq!(quick.weather.refresh, Duration::from_secs(2));
        assert_eq!(quick.alerts.refresh, Duration::from_secs(1));
        assert_eq!(quick.alerts.cancelled_linger, Duration::from_secs(3));
        for bad in [
            "[alerts]\nrefresh_secs = 60\nrefresh_minutes = 1",
            "[weather]\nrefresh_secs = 0",
            "[alerts]\ncancelled_linger_secs = 0",
        ] {
            assert!(build(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn layers_apply_in_order() {
        let raw = ServerConfig::parse("listen = \"127.0.0.1:1\"", Path::new("x")).unwrap();
        let env = |name: &str| (name == "TIDINGS_LISTEN").then(|| "127.0.0.1:2".to_owned());
        let config = ServerConfig::build(
            raw,
            &env,
            &Overrides {
                data_dir: Some("test-data".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(config.listen.port(), 2);
        let raw = ServerConfig::parse("listen = \"127.0.0.1:1\"", Path::new("x")).unwrap();
        let config = ServerConfig::build(
            raw,
            &env,
            &Overrides {
                listen: Some("127.0.0.1:3".into()),
                data_dir: Some("test-data".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(config.listen.port(), 3);
    }

    #[test]
    fn broker_comes_from_file_then_environment_then_flag_and_hides_its_password() {
        let file = "broker = \"redis://10.0.0.5:6379/0\"\nbroker_prefix = \"office\"";
        let from = |env_value: Option<&str>, flag: Option<&str>| {
            let raw = ServerConfig::parse(file, Path::new("x")).unwrap();
            let env = |name: &str| {
                (name == ENV_BROKER)
                    .then(|| env_value.map(str::to_owned))
                    .flatten()
            };
            ServerConfig::build(
                raw,
                &env,
                &Overrides {
                    data_dir: Some("test-data".into()),
                    broker: flag.map(str::to_owned),
                    ..Overrides::default()
                },
            )
            .unwrap()
            .broker
            .unwrap()
        };
        assert_eq!(from(None, None).url, "redis://10.0.0.5:6379/0");
        assert_eq!(from(None, None).prefix, "office");
        assert_eq!(
            from(Some("redis://env:6379/1"), None).url,
            "redis://env:6379/1"
        );
        let flagged = from(
            Some("redis://env:6379/1"),
            Some("redis://:s3cret@flag:6379/2"),
        );
        assert_eq!(flagged.url, "redis://:s3cret@flag:6379/2");
        let shown = format!("{flagged:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("***"),
            "{shown}"
        );
        assert!(build("").unwrap().broker.is_none(), "SQLite without one");
    }

    #[test]
    fn a_broker_that_is_not_plain_redis_is_refused_with_the_reason() {
        for (text, says) in [
            ("broker = \"rediss://h:6379/0\"", "TLS"),
            ("broker = \"http://h:6379/0\"", "not a Redis URL"),
            ("broker = \"localhost\"", "not a URL"),
            (
                "broker = \"redis://h:6379/0\"\nbroker_prefix = \"a b\"",
                "broker_prefix",
            ),
        ] {
            let error = build(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn errors_name_the_setting() {
        let cases = [
            ("listen = \"nope\"", "listen"),
            ("[stream]\nheartbeat_secs = 0", "stream.heartbeat_secs"),
            ("[[channels]]\nid = \"A\"\ntitle = \"x\"", "channels[0].id"),
            (
                "[[channels]]\nid = \"a\"\ntitle = \"x\"\ncolour = \"red\"",
                "channels[0].colour",
            ),
            (
                "[[tokens]]\nname = \"t\"\ntoken = \"short\"\nchannels = [\"*\"]",
                "tokens[0].token",
            ),
            (
                "[[tokens]]\nname = \"t\"\ntoken = \"long-enough-token\"\nchannels = [\"nosuch\"]",
                "tokens[0].channels",
            ),
            (
                "[weather]\nforecast_url = \"ftp://x\"",
                "weather.forecast_url",
            ),
            (
                "[weather]\ngeocoding_url = \"nope\"",
                "weather.geocoding_url",
            ),
            ("[weather]\nrefresh_minutes = 1", "weather.refresh_minutes"),
            ("[alerts]\nnws_url = \"https://\"", "alerts.nws_url"),
            ("[alerts]\nrefresh_minutes = 0", "alerts.refresh_minutes"),
        ];
        for (text, setting) in cases {
            let error = build(text).unwrap_err().to_string();
            assert!(error.contains(setting), "{text:?} gave {error}");
        }
        let error = build("bogus = 1").unwrap_err().to_string();
        assert!(error.contains("bogus"), "{error}");
    }

    #[test]
    fn tokens_from_env_and_debug_redacts() {
        let raw = ServerConfig::parse(
            "[[tokens]]\nname = \"ci\"\ntoken_env = \"CI_TOKEN\"\nchannels = [\"world\"]",
            Path::new("x"),
        )
        .unwrap();
        let env = |name: &str| match name {
            "CI_TOKEN" => Some("secret-from-env-1".to_owned()),
            ENV_PUBLISH_TOKEN => Some("global-secret-2".to_owned()),
            _ => None,
        };
        let config = ServerConfig::build(
            raw,
            &env,
            &Overrides {
                data_dir: Some("test-data".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(config.tokens.len(), 2);
        let world = ChannelId::new("world").unwrap();
        let tech = ChannelId::new("tech").unwrap();
        assert!(config.tokens[0].allows(&world) && !config.tokens[0].allows(&tech));
        assert!(config.tokens[1].allows(&tech));
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("secret-from-env") && !debug.contains("global-secret"),
            "{debug}"
        );
    }
}
