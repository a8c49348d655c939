//! `tidings-server`: the Tidings content server.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tidings::config::server::{EXAMPLE_CONFIG, Overrides};
use tidings::config::{RawServerConfig, ServerConfig};

/// Pushes news, weather and alerts to Tidings desktops and browsers over Server-Sent Events.
#[derive(Debug, Parser)]
#[command(name = "tidings-server", version, about)]
struct Args {
    /// TOML config file (see `tidings-server config example`).
    #[arg(long, env = "TIDINGS_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 or 0.0.0.0:8080 (port 0 picks a free one).
    #[arg(long, global = true)]
    listen: Option<String>,
    /// Directory for the event log (SQLite) and this node's own state.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Share the event log with other nodes in Redis: redis://HOST:PORT/DB (also
    /// TIDINGS_BROKER, or `broker` in the config file).
    #[arg(long, global = true)]
    broker: Option<String>,
    /// Keep the channel line-up in this file, changed by the channel-management API and
    /// reloaded when edited (default: channels.toml in the data directory, unless the config
    /// file lists `[[channels]]`).
    #[arg(long, global = true)]
    channels_file: Option<PathBuf>,
    /// Serve bundled, fictional demo content (feeds with new stories every few seconds,
    /// recorded weather and a gale warning that comes and goes); needs no network. The event
    /// log goes to a `demo` subdirectory of the data directory.
    #[arg(long)]
    demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Fetch and parse one feed the way the server would, and print what it yields.
    FeedCheck {
        /// A feed URL (http, https, file) or a local file.
        source: String,
        /// Print JSON instead of readable lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Print an example config documenting every setting.
    Example,
    /// Validate the configuration and print a summary.
    Check,
}

fn load_config(args: &Args) -> anyhow::Result<ServerConfig> {
    load_from(args.config.as_deref(), &overrides(args))
}

fn overrides(args: &Args) -> Overrides {
    Overrides {
        listen: args.listen.clone(),
        data_dir: args.data_dir.clone(),
        broker: args.broker.clone(),
        channels_file: args.channels_file.clone(),
    }
}

/// Reads the config file (if any) and builds the configuration over the environment and flags.
fn load_from(
    file: Option<&std::path::Path>,
    overrides: &Overrides,
) -> anyhow::Result<ServerConfig> {
    let raw = match file {
        Some(path) => ServerConfig::read_file(path)?,
        None => RawServerConfig::default(),
    };
    Ok(ServerConfig::build(
        raw,
        &|name| std::env::var(name).ok(),
        overrides,
    )?)
}

async fn run_server(args: &Args, mut config: ServerConfig, demo: bool) -> anyhow::Result<()> {
    // Kept alive until the server stops.
    let _demo = if demo {
        let upstream = tidings::server::demo::start()
            .await
            .context("starting the demo content server")?;
        tidings::server::demo::apply(&mut config, &upstream);
        tracing::info!(data_dir = %config.data_dir.display(), "demo mode: all content is bundled and fictional");
        Some(upstream)
    } else {
        None
    };
    let listener = tidings::server::bind(config.listen).with_context(|| {
        format!(
            "cannot listen on {} (is another server using it? choose one with --listen)",
            config.listen
        )
    })?;
    let address = listener.local_addr().context("reading the bound address")?;
    tracing::info!(%address, channels = config.channels.len(), tokens = config.tokens.len(), "tidings-server ready");
    // One line on stdout for scripts and tests waiting for readiness.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on http://{address}");
    let _ = stdout.flush();
    let reloader = if demo { None } else { Some(reloader(args)?) };
    tidings::server::serve_with(config, listener, tidings::cli::shutdown_signal(), reloader).await
}

/// Re-reads the configuration on every `SIGHUP`.
fn reloader(args: &Args) -> anyhow::Result<tidings::server::Reloader> {
    let (tx, requests) = tokio::sync::mpsc::unbounded_channel();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the configuration");
                if tx.send(()).is_err() {
                    break;
                }
            }
        });
    }
    #[cfg(not(unix))]
    drop(tx);
    let file = args.config.clone();
    let overrides = overrides(args);
    let load = move || load_from(file.as_deref(), &overrides);
    Ok(tidings::server::Reloader {
        requests,
        load: Box::new(load),
    })
}

async fn feed_check(source: &str, json: bool) -> anyhow::Result<()> {
    use tidings::server::ingest::{self, FETCH_TIMEOUT, MAX_FEED_BYTES, fetch::Fetcher};
    let url = ingest::source_url(source);
    let fetcher =
        Fetcher::new(FETCH_TIMEOUT, MAX_FEED_BYTES).context("building the HTTP client")?;
    let feed = ingest::check_feed(&fetcher, &url).await?;
    let mut out = std::io::stdout().lock();
    if json {
        let items: Vec<serde_json::Value> = feed
            .items
            .iter()
            .map(|item| {
                serde_json::json!({
                    "key": item.key,
                    "title": item.title,
                    "link": item.link,
                    "published": item.published,
                    "updated": item.updated,
                    "body": item.body,
                    "image": item.image,
                })
            })
            .collect();
        let repairs: Vec<String> = feed.repairs.iter().map(ToString::to_string).collect();
        let document = serde_json::json!({
            "title": feed.title,
            "repaired": feed.repaired(),
            "repairs": repairs,
            "skipped": feed.skipped,
            "unread": feed.unread,
            "items": items,
        });
        writeln!(out, "{document}")?;
        return Ok(());
    }
    writeln!(
        out,
        "{}",
        feed.title.as_deref().unwrap_or("(untitled feed)")
    )?;
    for repair in &feed.repairs {
        writeln!(out, "note: repaired as a browser would: {repair}")?;
    }
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    writeln!(out, "{}", count(feed.items.len(), "item", "items"))?;
    if feed.skipped > 0 {
        writeln!(
            out,
            "{} skipped: no title, text or link",
            count(feed.skipped, "entry", "entries")
        )?;
    }
    if feed.unread > 0 {
        writeln!(
            out,
            "{} in the document could not be read (an RSS 1.0 item without a link?)",
            count(feed.unread, "entry", "entries")
        )?;
    }
    for item in &feed.items {
        writeln!(out, "\n- {}", item.title)?;
        writeln!(
            out,
            "  link:      {}",
            item.link.as_deref().unwrap_or("(none)")
        )?;
        writeln!(
            out,
            "  published: {}",
            item.published.format("%Y-%m-%d %H:%M UTC")
        )?;
        writeln!(out, "  key:       {}", item.key)?;
    }
    Ok(())
}

fn run(args: Args) -> anyhow::Result<()> {
    match &args.command {
        Some(Command::Config {
            action: ConfigAction::Example,
        }) => {
            print!("{EXAMPLE_CONFIG}");
            Ok(())
        }
        Some(Command::Config {
            action: ConfigAction::Check,
        }) => {
            let config = load_config(&args)?;
            println!("configuration is valid");
            println!("listen:   {}", config.listen);
            println!("data dir: {}", config.data_dir.display());
            match &config.broker {
                Some(broker) => println!(
                    "log:      redis {} (keys {}:*), shared with other nodes",
                    tidings::config::server::redact_password(&broker.url),
                    broker.prefix
                ),
                None => println!("log:      sqlite in the data dir"),
            }
            let ids: Vec<&str> = config.channels.iter().map(|c| c.id().as_str()).collect();
            println!("channels: {}", ids.join(", "));
            if config.ingest_enabled {
                let sources: usize = config.channels.iter().map(|c| c.sources.len()).sum();
                println!("feeds:    {sources}");
                println!(
                    "weather:  {} every {} min per subscribed cell",
                    config.weather.forecast_url,
                    config.weather.refresh.as_secs() / 60
                );
                println!(
                    "alerts:   {} every {} min per subscribed US cell",
                    config.alerts.nws_url,
                    config.alerts.refresh.as_secs() / 60
                );
            } else {
                println!("ingest:   off (publish-only server)");
            }
            let names: Vec<&str> = config.tokens.iter().map(|t| t.name.as_str()).collect();
            println!(
                "tokens:   {}",
                if names.is_empty() {
                    "none (publishing disabled)".to_owned()
                } else {
                    names.join(", ")
                }
            );
            Ok(())
        }
        Some(Command::FeedCheck { source, json }) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(feed_check(source, *json))
        }
        None => {
            let config = load_config(&args)?;
            tidings::cli::init_logging();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("tidings-server")
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(run_server(&args, config, args.demo))
        }
    }
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tidings-server: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
