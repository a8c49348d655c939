//! `tidings`: the Tidings desktop app and client CLI.
//!
//! Until the desktop window lands, `tidings` runs the content server embedded, on a free
//! loopback port with the default channels, and prints the address of its live web ticker.

use std::process::ExitCode;

use anyhow::Context as _;
use tidings::config::ServerConfig;
use tidings::config::server::Overrides;

async fn run() -> anyhow::Result<()> {
    // The embedded server keeps its log apart from a standalone server's on the same machine.
    let data_dir = directories::ProjectDirs::from("org", "Tidings", "tidings")
        .map(|dirs| dirs.data_dir().join("embedded-server"))
        .context("no home directory to keep the embedded server's data in")?;
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".to_owned()),
        data_dir: Some(data_dir),
    };
    let config = ServerConfig::build(
        Default::default(),
        &|name| std::env::var(name).ok(),
        &overrides,
    )?;
    let listener = tidings::server::bind(config.listen)
        .context("cannot open a loopback port for the embedded server")?;
    let address = listener.local_addr().context("reading the bound address")?;
    println!("Tidings is running. Open http://{address}/ for the live ticker; Ctrl-C quits.");
    tidings::server::serve(config, listener, tidings::cli::shutdown_signal()).await
}

fn main() -> ExitCode {
    tidings::cli::init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tidings")
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tidings: error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tidings: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
