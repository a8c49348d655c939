//! Configuration, built once from defaults < TOML file < environment < flags and validated into
//! typed values ("parse, don't validate"). Nothing here does network I/O.

pub mod lineup;
pub mod server;

pub use server::{
    ChannelConfig, ConfigError, LimitSettings, RawServerConfig, RetentionPolicy, ServerConfig,
    StreamSettings, TokenConfig,
};
