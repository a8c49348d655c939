//! A server configuration for a benchmark: `text` (TOML) served on `127.0.0.1:0` from `dir`.

use std::path::Path;

use tidings::config::ServerConfig;
use tidings::config::server::Overrides;

/// Builds the configuration; panics on a mistake in the bench's own TOML.
pub fn loopback(text: &str, dir: &Path) -> ServerConfig {
    let raw = ServerConfig::parse(text, Path::new("bench.toml")).expect("bench config");
    ServerConfig::build(
        raw,
        &|_| None,
        &Overrides {
            listen: Some("127.0.0.1:0".to_owned()),
            data_dir: Some(dir.to_owned()),
            ..Overrides::default()
        },
    )
    .expect("bench config")
}
