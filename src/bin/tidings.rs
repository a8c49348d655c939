//! `tidings`: the Tidings desktop app and client CLI.
//!
//! `tidings` with no command opens the desktop app (with the content server embedded, or on a
//! shared server with `--server`). `tail`, `publish` and `retract` talk to any Tidings server;
//! `tail --raw` reads any SSE stream at all. `opml import` and `opml export` move the user's
//! channel line-up file to and from other feed readers; `saved list` and `saved export` read
//! the stories saved in the app.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use tidings::client::connection::{self, ConnectionConfig, ConnectionEvent, ConnectionState};
use tidings::client::publish::Publisher;
use tidings::client::servers::ServerList;
use tidings::client::{decode_message, stream_urls};
use tidings::protocol::{AlertStatus, ChannelId, Event, ItemKey, PublishRequest, Severity};
use tidings::sse::MessageEvent;

/// News, weather and alerts pushed to your desktop.
#[derive(Debug, Parser)]
#[command(name = "tidings", version, about)]
struct Cli {
    /// Follow a shared Tidings server instead of running one inside the app. Several nodes of
    /// one cluster, comma-separated, are tried in turn when one is unreachable.
    #[arg(long, value_name = "URL[,URL...]", env = "TIDINGS_SERVER")]
    server: Option<String>,
    /// Token for the shared server (used to publish).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TIDINGS_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Show bundled, fictional demo content; needs no network.
    #[arg(long, conflicts_with = "server")]
    demo: bool,
    /// Start with only the ticker.
    #[arg(long, conflicts_with = "screensaver")]
    ticker: bool,
    /// Show only the SmartScreen and exit on the first key, click or mouse movement (for use
    /// as a screensaver command).
    #[arg(long)]
    screensaver: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print events from a server's stream as they arrive.
    Tail(TailArgs),
    /// Publish an item (or an alert, on an alerts channel).
    Publish(PublishArgs),
    /// Retract an item or alert by key.
    Retract(RetractArgs),
    /// Bring your subscriptions from another feed reader, or take them out (OPML files).
    #[command(subcommand)]
    Opml(OpmlCommand),
    /// The stories you saved (starred) in the app.
    #[command(subcommand)]
    Saved(SavedCommand),
}

#[derive(Debug, Subcommand)]
enum OpmlCommand {
    /// Add the feeds of an OPML file to your channels: each folder becomes a channel (or joins
    /// the channel of the same name); feeds you already have are skipped.
    Import(ImportArgs),
    /// Write your news channels and their feeds as an OPML file other readers import.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The OPML file, as exported by NetNewsWire, Feedly, Inoreader, Miniflux, Thunderbird, …
    /// (`-` reads standard input).
    file: PathBuf,
    /// The line-up file to add to (default: the app's, `channels.toml` in your config
    /// directory). A running Tidings picks the change up within seconds.
    #[arg(long, value_name = "PATH")]
    into: Option<PathBuf>,
    /// Show what would be added without saving anything.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Subcommand)]
enum SavedCommand {
    /// Write the saved stories as browser bookmarks (HTML, which every browser imports) or
    /// JSON, to stdout or a file.
    Export(SavedExportArgs),
    /// List the saved stories, most recently saved first.
    List,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The line-up file to export (default: the app's, `channels.toml` in your config
    /// directory; the default channels when it does not exist yet).
    #[arg(long, value_name = "PATH")]
    from: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SavedExportArgs {
    /// Write to FILE instead of stdout (atomically; the format follows a .json name).
    #[arg(long, value_name = "FILE")]
    out: Option<std::path::PathBuf>,
    /// `bookmarks` (Netscape bookmark HTML) or `json`.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// The Tidings server, or several nodes of one cluster, comma-separated: the next is tried
    /// when one is unreachable.
    #[arg(
        long,
        value_name = "URL[,URL...]",
        env = "TIDINGS_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
}

impl ServerArgs {
    /// The servers, each checked.
    fn servers(&self) -> anyhow::Result<ServerList> {
        parse_servers(&self.server)
    }
}

fn parse_servers(text: &str) -> anyhow::Result<ServerList> {
    ServerList::parse(text).context("--server")
}

#[derive(Debug, Args)]
struct TailArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Channels to follow, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    channels: Vec<String>,
    /// Also follow the weather at LAT,LON (sent rounded to 0.1°); repeat it, or separate
    /// places with `;`, for several places (at most 8).
    #[arg(long, value_name = "LAT,LON", value_delimiter = ';')]
    weather: Vec<String>,
    /// One JSON object per event instead of readable lines.
    #[arg(long)]
    json: bool,
    /// Read any SSE URL and print each dispatched event as JSON {event, data, id}.
    #[arg(long, value_name = "URL", conflicts_with_all = ["channels", "weather", "json"])]
    raw: Option<String>,
    /// Stop when the stream ends instead of reconnecting.
    #[arg(long)]
    once: bool,
    /// Extra request header, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Reconnect when nothing arrived for this many seconds (default 45 for Tidings servers,
    /// off for --raw).
    #[arg(long, value_name = "SECS")]
    idle_timeout: Option<u64>,
}

#[derive(Debug, Args)]
struct AuthArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Publish token.
    #[arg(long, env = "TIDINGS_TOKEN", hide_env_values = true)]
    token: String,
    /// Channel id.
    #[arg(long)]
    channel: String,
}

#[derive(Debug, Args)]
struct PublishArgs {
    #[command(flatten)]
    auth: AuthArgs,
    /// info, notice, warning or critical.
    #[arg(long)]
    severity: Option<String>,
    /// Link to the full story (http or https).
    #[arg(long)]
    link: Option<String>,
    /// Key; publishing the same key again updates the item.
    #[arg(long)]
    key: Option<String>,
    /// When it goes away (RFC 3339, e.g. 2030-01-01T12:00:00Z).
    #[arg(long)]
    expires: Option<String>,
    /// Alerts: mark the alert with this key as cancelled.
    #[arg(long)]
    cancel: bool,
    /// Headline.
    title: String,
    /// Body text.
    body: Option<String>,
}

#[derive(Debug, Args)]
struct RetractArgs {
    #[command(flatten)]
    auth: AuthArgs,
    /// The key of the item or alert.
    key: String,
}

fn channel(text: &str) -> anyhow::Result<ChannelId> {
    ChannelId::new(text).map_err(|e| anyhow::anyhow!("{e}"))
}

fn parse_header(text: &str) -> anyhow::Result<(String, String)> {
    let (name, value) = text
        .split_once(':')
        .with_context(|| format!("header {text:?} is not `Name: value`"))?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

/// A state change as a line for stderr. With one server it is not named (the user gave it);
/// with several, every line says which one.
fn describe(state: &ConnectionState) -> String {
    let several = state.server().is_some_and(|server| server.count > 1);
    let on = |prefix: &str| {
        state
            .server()
            .filter(|_| several)
            .map(|server| format!("{prefix}{server}"))
            .unwrap_or_default()
    };
    match state {
        ConnectionState::Connecting { attempt: 1, .. } => format!("connecting{}", on(" to ")),
        ConnectionState::Connecting { attempt, .. } => {
            format!("connecting{} (attempt {attempt})", on(" to "))
        }
        ConnectionState::Live { .. } => format!("live{}", on(" on ")),
        ConnectionState::Retrying {
            delay,
            reason,
            server,
        }
        | ConnectionState::Offline {
            delay,
            reason,
            server,
        } if several && delay.is_zero() => {
            format!("{server} failed, trying the next server: {reason}")
        }
        ConnectionState::Retrying { delay, reason, .. } => format!(
            "retrying{} in {:.1} s: {reason}",
            on(" "),
            delay.as_secs_f64()
        ),
        ConnectionState::Offline { delay, reason, .. } => format!(
            "offline, retrying in {:.1} s: {reason}",
            delay.as_secs_f64()
        ),
        ConnectionState::Unauthorized { status, reason, .. } => {
            format!("unauthorized ({status}){}: {reason}", on(" by "))
        }
        ConnectionState::Closed { reason } => format!("closed: {reason}"),
    }
}

/// A readable line for a protocol event.
fn readable(id: &str, event: &Event) -> String {
    let time = chrono::Local::now().format("%H:%M:%S");
    let body = match event {
        Event::Item(item) => {
            let marker = if item.severity > Severity::Info {
                format!(" [{}]", item.severity.as_str())
            } else {
                String::new()
            };
            let link = item
                .link
                .as_deref()
                .map(|l| format!("  <{l}>"))
                .unwrap_or_default();
            format!(
                "{:<10} {}{marker}{link}",
                item.channel.as_str(),
                one_line(&item.title)
            )
        }
        Event::Alert(alert) => {
            let status = match alert.status {
                AlertStatus::Active => "",
                AlertStatus::Updated => " (updated)",
                AlertStatus::Cancelled => " (cancelled)",
            };
            let area = alert
                .area
                .as_deref()
                .map(|a| format!(" - {}", one_line(a)))
                .unwrap_or_default();
            format!(
                "{:<10} ALERT {}: {}{area}{status}",
                alert.channel.as_str(),
                alert.severity.as_str().to_uppercase(),
                one_line(&alert.title)
            )
        }
        Event::Retract(retract) => format!(
            "{:<10} retracted {} ({})",
            retract.channel.as_str(),
            retract.key,
            retract.reason.as_deref().unwrap_or("no reason")
        ),
        Event::Weather(report) => format!(
            "{:<10} {}: {:.1}{} {}, feels {:.1}{}",
            report.channel.as_str(),
            report.place.as_deref().unwrap_or(&report.cell),
            report.current.temperature,
            report.units.temperature,
            report.current.condition.label,
            report.current.apparent_temperature,
            report.units.temperature
        ),
        Event::Channel(info) => format!(
            "{:<10} channel \"{}\" ({})",
            info.id.as_str(),
            info.title,
            info.health.status.as_str()
        ),
        Event::Gap(gap) => format!(
            "{:<10} history lost, fresh snapshot follows: {}",
            "-", gap.reason
        ),
        Event::Live(_) => format!("{:<10} caught up: live from here", "-"),
    };
    format!("{time} {body}  #{id}")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn tail(args: TailArgs) -> anyhow::Result<ExitCode> {
    let raw = args.raw.is_some();
    let urls = match &args.raw {
        Some(url) => vec![url.clone()],
        None => {
            let channels = args
                .channels
                .iter()
                .map(|c| channel(c))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let weather = args
                .weather
                .iter()
                .map(|text| {
                    let (lat, lon) = text.split_once(',').context("--weather takes LAT,LON")?;
                    Ok((
                        lat.trim().parse().context("latitude")?,
                        lon.trim().parse().context("longitude")?,
                    ))
                })
                .collect::<anyhow::Result<Vec<(f64, f64)>>>()?;
            if weather.len() > tidings::protocol::MAX_WEATHER_CELLS {
                anyhow::bail!(
                    "--weather names {} places; a stream may follow at most {}",
                    weather.len(),
                    tidings::protocol::MAX_WEATHER_CELLS
                );
            }
            stream_urls(&args.server.servers()?, &channels, &weather)
        }
    };
    let mut config = ConnectionConfig::with_urls(urls);
    config.reconnect = !args.once;
    config.headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<anyhow::Result<_>>()?;
    config.idle_timeout = match args.idle_timeout {
        Some(0) => None,
        Some(secs) => Some(Duration::from_secs(secs)),
        None if raw => None,
        None => config.idle_timeout,
    };
    let http =
        connection::http_client(config.connect_timeout).context("building the HTTP client")?;
    let (handle, mut events) = connection::spawn(config, http);
    let mut stdout = std::io::stdout().lock();
    let mut exit = ExitCode::SUCCESS;
    loop {
        let next = tokio::select! {
            next = events.recv() => next,
            () = tidings::cli::shutdown_signal() => {
                handle.close();
                break;
            }
        };
        let Some(event) = next else { break };
        match event {
            ConnectionEvent::State(state) => {
                eprintln!("tidings: {}", describe(&state));
                match state {
                    ConnectionState::Unauthorized { .. } => {
                        exit = ExitCode::FAILURE;
                        break;
                    }
                    ConnectionState::Closed { .. } => break,
                    ConnectionState::Retrying { .. } | ConnectionState::Offline { .. }
                        if args.once =>
                    {
                        exit = ExitCode::FAILURE;
                    }
                    _ => {}
                }
            }
            ConnectionEvent::Message(message) => {
                let line = if raw {
                    raw_line(&message)
                } else {
                    protocol_line(&message, args.json)
                };
                let written =
                    line.map(|line| writeln!(stdout, "{line}").and_then(|()| stdout.flush()));
                if matches!(written, Some(Err(_))) {
                    // stdout closed (e.g. piped into `head`): stop quietly.
                    handle.close();
                    break;
                }
            }
        }
    }
    Ok(exit)
}

fn raw_line(message: &MessageEvent) -> Option<String> {
    serde_json::to_string(&serde_json::json!({
        "event": message.event_type,
        "data": message.data,
        "id": message.last_event_id,
    }))
    .ok()
}

fn protocol_line(message: &MessageEvent, json: bool) -> Option<String> {
    match decode_message(message) {
        Ok(Some((_, event))) if !json => Some(readable(&message.last_event_id, &event)),
        Ok(Some(_)) => {
            let data: serde_json::Value = serde_json::from_str(&message.data).ok()?;
            serde_json::to_string(&serde_json::json!({
                "event": message.event_type,
                "id": message.last_event_id,
                "data": data,
            }))
            .ok()
        }
        Ok(None) => None,
        Err(error) => {
            eprintln!("tidings: skipped an event: {error}");
            None
        }
    }
}

async fn publish(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let severity =
        match &args.severity {
            Some(text) => Some(Severity::parse(text).with_context(|| {
                format!("--severity must be one of {}", Severity::ALL.join(", "))
            })?),
            None => None,
        };
    let expires = match &args.expires {
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .context("--expires must be an RFC 3339 time, e.g. 2030-01-01T12:00:00Z")?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let key = args
        .key
        .as_deref()
        .map(ItemKey::new)
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if args.cancel && key.is_none() {
        bail!("--cancel needs the --key of the alert to cancel");
    }
    let request = PublishRequest {
        title: args.title,
        body: args.body,
        link: args.link,
        severity,
        key,
        expires,
        status: args.cancel.then_some(AlertStatus::Cancelled),
        area: None,
        instruction: None,
    };
    let channel = channel(&args.auth.channel)?;
    let http =
        connection::http_client(Duration::from_secs(10)).context("building the HTTP client")?;
    let publisher = Publisher::new(http, args.auth.server.servers()?, &args.auth.token);
    let answer = publisher.publish(&channel, &request).await?;
    println!(
        "{} {}/{} as event {}",
        if answer.updated {
            "updated"
        } else {
            "published"
        },
        answer.channel,
        answer.key,
        answer.event_id
    );
    Ok(ExitCode::SUCCESS)
}

async fn retract(args: RetractArgs) -> anyhow::Result<ExitCode> {
    let channel = channel(&args.auth.channel)?;
    let key = ItemKey::new(args.key).map_err(|e| anyhow::anyhow!("{e}"))?;
    let http =
        connection::http_client(Duration::from_secs(10)).context("building the HTTP client")?;
    let publisher = Publisher::new(http, args.auth.server.servers()?, &args.auth.token);
    let answer = publisher.retract(&channel, &key).await?;
    println!(
        "retracted {}/{} as event {}",
        answer.channel, answer.key, answer.event_id
    );
    Ok(ExitCode::SUCCESS)
}

/// The line-up file a command works on: the one given, else the app's.
fn lineup_path(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match given {
        Some(path) => Ok(path),
        None => tidings::config::lineup::app_lineup_file().context(
            "no home directory to find your channels in; name the file with --into/--from",
        ),
    }
}

fn opml_import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let bytes = if args.file == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        bytes
    } else {
        std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?
    };
    let path = lineup_path(args.into)?;
    let imported = tidings::opml::import_file(&bytes, &path, !args.dry_run)
        .with_context(|| format!("cannot import {}", args.file.display()))?;
    print!("{}", imported.report);
    if !imported.report.changed() {
        println!("Your channels are unchanged: {}", path.display());
    } else if args.dry_run {
        println!("Dry run: nothing saved to {}", path.display());
    } else {
        println!(
            "Saved; a running Tidings shows the new feeds within seconds: {}",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn opml_export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    use tidings::config::lineup::Lineup;
    let path = lineup_path(args.from)?;
    match args.out {
        Some(out) => {
            let (channels, feeds) = tidings::opml::export_file(&path, &out)?;
            println!(
                "Exported {channels} channels with {feeds} feeds to {}",
                out.display()
            );
        }
        None => {
            let text = tidings::opml::export(&Lineup::load_or_default(&path)?);
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .context("cannot write to standard output")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "gui")]
fn run_app(cli: &Cli, runtime: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    use tidings::gui::{self, Mode};
    let mut options = gui::default_options();
    options.server = cli.server.as_deref().map(parse_servers).transpose()?;
    options.token.clone_from(&cli.token);
    options.demo = cli.demo;
    options.mode = if cli.ticker {
        Mode::TickerOnly
    } else if cli.screensaver {
        Mode::ScreenSaver
    } else {
        Mode::Normal
    };
    options.state_dump = std::env::var_os("TIDINGS_STATE_DUMP").map(std::path::PathBuf::from);
    options.embedded_data_dir =
        std::env::var_os("TIDINGS_EMBEDDED_DATA_DIR").map(std::path::PathBuf::from);
    gui::run(options, runtime)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "gui"))]
fn run_app(_cli: &Cli, _runtime: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    bail!(
        "this build has no desktop app (built without the `gui` feature); use a subcommand, see --help"
    )
}

/// The saved stories file, or why there is none to read.
fn saved_stories() -> anyhow::Result<tidings::client::saved::SavedStories> {
    let file = tidings::client::saved::SavedFile::default_location()
        .context("no home directory, so no saved stories")?;
    let loaded = file.load();
    if let Some(problem) = loaded.problem {
        bail!("{problem}");
    }
    Ok(loaded.stories)
}

fn saved(command: SavedCommand) -> anyhow::Result<ExitCode> {
    use tidings::client::saved::{ExportFormat, export};
    let stories = saved_stories()?;
    match command {
        SavedCommand::List => {
            let mut stdout = std::io::stdout().lock();
            for story in stories.iter() {
                let saved = story
                    .saved_at
                    .with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M");
                let link = story
                    .item
                    .link
                    .as_deref()
                    .map(|l| format!("  <{l}>"))
                    .unwrap_or_default();
                let line = format!(
                    "{saved}  {:<12} {}{link}",
                    one_line(&story.channel_title),
                    one_line(&story.item.title)
                );
                if writeln!(stdout, "{line}").is_err() {
                    break;
                }
            }
            if stories.is_empty() {
                eprintln!("tidings: no saved stories yet (star one in the app with s)");
            }
        }
        SavedCommand::Export(args) => {
            let format = match args.format.as_deref() {
                Some("bookmarks" | "html") => ExportFormat::Bookmarks,
                Some("json") => ExportFormat::Json,
                Some(other) => bail!("--format must be bookmarks or json, not {other:?}"),
                None if args
                    .out
                    .as_ref()
                    .and_then(|p| p.extension())
                    .is_some_and(|e| e.eq_ignore_ascii_case("json")) =>
                {
                    ExportFormat::Json
                }
                None => ExportFormat::Bookmarks,
            };
            let export = export(&stories, format, chrono::Utc::now());
            match &args.out {
                Some(path) => {
                    tidings::client::atomic::write(path, export.text.as_bytes())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "tidings: exported {} saved {} to {}",
                        export.exported,
                        if export.exported == 1 {
                            "story"
                        } else {
                            "stories"
                        },
                        path.display()
                    );
                }
                None => {
                    let mut stdout = std::io::stdout().lock();
                    // A closed pipe (`| head`) is not an error worth a message.
                    let _ = stdout
                        .write_all(export.text.as_bytes())
                        .and_then(|()| stdout.flush());
                }
            }
            if export.without_link > 0 {
                eprintln!(
                    "tidings: {} without a web link left out of the bookmarks (the JSON export has them)",
                    export.without_link
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Tail(args) => tail(args).await,
        Command::Publish(args) => publish(args).await,
        Command::Retract(args) => retract(args).await,
        Command::Opml(OpmlCommand::Import(args)) => opml_import(args),
        Command::Opml(OpmlCommand::Export(args)) => opml_export(args),
        Command::Saved(command) => saved(command),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.is_none() {
        tidings::cli::init_logging();
    }
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
    let result = match cli.command {
        None => run_app(&cli, &runtime),
        Some(command) => runtime.block_on(run(command)),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("tidings: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
