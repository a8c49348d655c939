//! Fan-out benchmark: one published event fanned out to N Server-Sent Events subscribers on
//! loopback, Tidings side by side with nginx + nchan (the issue's benchmark requirement; figures
//! and method in `docs/benchmarks.md`).
//!
//! This process is the load generator: N raw-TCP SSE subscribers on one multi-threaded tokio
//! runtime, and a publisher on its own thread. Each server runs as a child process, because one
//! process may hold at most 20,000 sockets on the benchmark machine. Results go to stdout as
//! markdown tables, progress to stderr. It must not touch anything but its own temporary
//! directories and the processes it started.
//!
//! `cargo bench --bench fanout [-- --quick] [-- --only tidings|nchan]`; `-- --help` for more.

#![allow(
    clippy::indexing_slicing,
    reason = "a benchmark, not shipped code: every index comes from a bounded loop or a search in the same buffer"
)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use procfs::{
    clock_ticks_per_sec, cpu_ticks, machine_busy_ticks, proc_kib, wait_for_quiet_machine,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};

#[path = "support/procfs.rs"]
mod procfs;

/// Precedes the sequence number and send time the publisher puts in every payload:
/// `TB|<seq>|<send nanoseconds since the bench started>|`.
const MARKER: &[u8] = b"TB|";
/// Size of every publish body (the JSON `{"title":..,"body":..}`), as the issue asks.
const PAYLOAD_BYTES: usize = 200;
/// Upper bound on events per server run (sizes the per-event delivery counters).
const MAX_EVENTS: usize = 1 << 20;
/// Read buffer per subscriber; a frame is well under 1 KiB, several fit when the reader lags.
const READ_BUF_BYTES: usize = 8192;
/// Subscribers connecting at once during the ramp. More than a listen backlog of 128 (tokio's
/// default) can queue, on purpose: a reconnect storm looks like this, and the ramp time shows it.
const CONNECT_CONCURRENCY: usize = 256;
/// Connect plus response headers, per subscriber.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole ramp.
const RAMP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long after the last publish we wait for outstanding deliveries.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);
/// One publish request, and the wait for a free publish connection.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the saturation phase waits for an event to reach everyone before moving on.
const WINDOW_WAIT: Duration = Duration::from_secs(5);
/// Keep-alive publish connections: publishes at a fixed rate must not wait for each other
/// (nchan answers a publish only after its fan-out).
const PUBLISH_CONNECTIONS: usize = 16;
/// Pause between steps so that memory and CPU readings are not mid-flight.
const SETTLE: Duration = Duration::from_secs(1);
/// Before each server run and each phase, wait up to `QUIET_WAIT` for the machine to use less
/// than `QUIET_CORES` (the machine is shared with builds).
const QUIET_CORES: f64 = 0.15;
const QUIET_WAIT: Duration = Duration::from_secs(300);
/// All waits for quiet together.
const QUIET_BUDGET: Duration = Duration::from_secs(900);
/// Runs of a phase when other processes disturbed it.
const MAX_ATTEMPTS: u32 = 3;
/// CPU used by other processes during a phase above which the phase is flagged as noisy.
const NOISY_CORES: f64 = 0.15;

const USAGE: &str = "\
fan-out benchmark: Tidings against nginx + nchan, N SSE subscribers on loopback

cargo bench --bench fanout [-- OPTIONS]

  --quick                 N = 1000 only, 3 s phases (about a minute)
  --only tidings|nchan    run one server
  --subscribers LIST      comma-separated N (default 1000,10000)
  --rates LIST            events per second (default 10,100)
  --secs S                seconds per fixed-rate phase (default 10)
  --saturated-secs S      seconds of the saturation phase at the largest N (default 5; 0 = skip)
  --window W              saturation: events in flight (published, not yet everywhere) (default 8)
  --gen-threads T         load generator worker threads (default 2)
  --nchan-workers W       nginx worker_processes (default 2, like `auto` here)
  --tidings-bin PATH      tidings-server to run (default: the one cargo built)
  --no-wait               do not wait for a quiet machine, nor repeat disturbed phases
";

const TIDINGS_CONFIG: &str = r#"# Written by benches/fanout.rs.
[[channels]]
id = "bench"
title = "Bench"

[[tokens]]
name = "bench"
token = "bench-token-0123456789"
channels = ["*"]

[stream]
heartbeat_secs = 15
# New subscribers get no backlog: every delivery is a live fan-out.
snapshot_items = 0
"#;

const NCHAN_CONFIG: &str = include_str!("nchan.conf.in");

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("fanout: FAILED: events were lost or subscribers failed (see the tables)");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("fanout: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool> {
    let args = Args::parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.gen_threads)
        .thread_name("loadgen")
        .enable_all()
        .build()
        .context("building the load generator runtime")?;
    let clock_ticks = clock_ticks_per_sec();
    let largest = args.subscribers.iter().copied().max().unwrap_or(0);
    let mut results = Results::default();
    let quiet = QuietGate {
        enabled: args.wait_quiet,
        budget: std::cell::Cell::new(QUIET_BUDGET),
    };
    // Servers alternate inside each N, so slow drift of the machine hits both alike.
    for &subscribers in &args.subscribers {
        for &kind in &args.servers {
            let run = ServerRun {
                args: &args,
                quiet: &quiet,
                kind,
                subscribers,
                saturate: subscribers == largest && args.saturated_secs > 0.0,
                clock_ticks,
            };
            run.run(&runtime, &mut results)
                .with_context(|| format!("{} with {subscribers} subscribers", kind.name()))?;
        }
    }
    let report = results.report(&args);
    println!("{report}");
    Ok(results.all_delivered())
}

// ---------------------------------------------------------------------------------------------
// Arguments

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServerKind {
    Tidings,
    Nchan,
}

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            Self::Tidings => "tidings",
            Self::Nchan => "nchan",
        }
    }
}

struct Args {
    subscribers: Vec<usize>,
    rates: Vec<u32>,
    phase_secs: f64,
    saturated_secs: f64,
    window: u32,
    servers: Vec<ServerKind>,
    gen_threads: usize,
    nchan_workers: usize,
    tidings_bin: PathBuf,
    wait_quiet: bool,
    command: String,
}

impl Args {
    fn parse() -> Result<Self> {
        let mut quick = false;
        let mut subscribers = None;
        let mut phase_secs = None;
        let mut saturated_secs = None;
        let mut args = Self {
            subscribers: vec![1000, 10_000],
            rates: vec![10, 100],
            phase_secs: 10.0,
            saturated_secs: 5.0,
            window: 8,
            servers: vec![ServerKind::Tidings, ServerKind::Nchan],
            gen_threads: 2,
            nchan_workers: 2,
            tidings_bin: PathBuf::from(env!("CARGO_BIN_EXE_tidings-server")),
            wait_quiet: true,
            command: String::new(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .with_context(|| format!("{name} needs a value; try --help"))
            };
            match arg.as_str() {
                // `cargo bench` passes --bench to every bench binary.
                "--bench" => continue,
                "--help" | "-h" => {
                    print!("{USAGE}");
                    std::process::exit(0);
                }
                "--quick" => quick = true,
                "--no-wait" => args.wait_quiet = false,
                "--only" => {
                    let name = value("--only")?;
                    args.servers = vec![match name.as_str() {
                        "tidings" => ServerKind::Tidings,
                        "nchan" => ServerKind::Nchan,
                        other => bail!("--only takes tidings or nchan, not {other:?}"),
                    }];
                }
                "--subscribers" | "-n" => subscribers = Some(parse_list(&value(&arg)?)?),
                "--rates" => args.rates = parse_list(&value(&arg)?)?,
                "--secs" => phase_secs = Some(parse_positive(&value(&arg)?)?),
                "--saturated-secs" => saturated_secs = Some(value(&arg)?.parse::<f64>()?),
                "--window" => args.window = value(&arg)?.parse()?,
                "--gen-threads" => args.gen_threads = value(&arg)?.parse()?,
                "--nchan-workers" => args.nchan_workers = value(&arg)?.parse()?,
                "--tidings-bin" => args.tidings_bin = PathBuf::from(value(&arg)?),
                other => bail!("unknown argument {other:?}; try --help"),
            }
        }
        if quick {
            args.subscribers = vec![1000];
            args.phase_secs = 3.0;
            args.saturated_secs = 3.0;
        }
        args.subscribers = subscribers.unwrap_or(args.subscribers);
        args.phase_secs = phase_secs.unwrap_or(args.phase_secs);
        args.saturated_secs = saturated_secs.unwrap_or(args.saturated_secs);
        if args.subscribers.iter().any(|&n| n == 0 || n > 15_000) {
            bail!("subscribers must be 1-15000 (one process holds at most 20,000 sockets here)");
        }
        if args.rates.iter().any(|&r| r == 0 || r > 10_000) {
            bail!("rates must be 1-10000 events/s");
        }
        if args.window == 0 || args.gen_threads == 0 || args.nchan_workers == 0 {
            bail!("--window, --gen-threads and --nchan-workers must be at least 1");
        }
        args.command = std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect::<Vec<_>>()
            .join(" ");
        Ok(args)
    }
}

fn parse_list<T: std::str::FromStr>(text: &str) -> Result<Vec<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    text.split(',')
        .map(|part| {
            part.trim()
                .parse::<T>()
                .with_context(|| format!("bad number {part:?}"))
        })
        .collect()
}

fn parse_positive(text: &str) -> Result<f64> {
    let value: f64 = text.parse()?;
    if !(value > 0.0 && value <= 600.0) {
        bail!("{text} is not in 0-600 seconds");
    }
    Ok(value)
}

// ---------------------------------------------------------------------------------------------
// One server, one N: connect, measure idle memory, run the phases, tear down.

struct ServerRun<'a> {
    args: &'a Args,
    quiet: &'a QuietGate,
    kind: ServerKind,
    subscribers: usize,
    saturate: bool,
    clock_ticks: f64,
}

impl ServerRun<'_> {
    fn run(&self, runtime: &Runtime, results: &mut Results) -> Result<()> {
        let n = self.subscribers;
        eprintln!("== {} with {n} subscribers", self.kind.name());
        self.quiet.wait(self.clock_ticks);
        let server = Server::start(self.kind, self.args)?;
        std::thread::sleep(SETTLE);
        let base = server.memory();

        let shared = Arc::new(Shared::new());
        let records: Vec<Arc<Records>> = (0..n).map(|_| Arc::default()).collect();
        let ramp_started = Instant::now();
        let handles = runtime.block_on(connect_all(&server, &shared, &records))?;
        let ramp_secs = ramp_started.elapsed().as_secs_f64();
        let connected = shared.alive.load(Ordering::SeqCst);
        let failed = shared.failed.load(Ordering::SeqCst);
        eprintln!("   {connected} subscribers connected in {ramp_secs:.1} s, {failed} failed");
        std::thread::sleep(SETTLE);
        let idle = server.memory();
        let shared_memory = match self.kind {
            ServerKind::Nchan => runtime.block_on(nchan_shared_memory(server.addr)).ok(),
            ServerKind::Tidings => None,
        };

        let mut phase = Phase {
            server: &server,
            shared: &shared,
            records: &records,
            clock_ticks: self.clock_ticks,
            next_seq: 1,
        };
        // A few events first, so that every path is warm; they are not counted.
        let warm = phase.run(Plan::Rate { rate: 10, count: 3 }, "warm-up")?;
        if warm.delivered < warm.expected {
            eprintln!(
                "   !! warm-up: {} of {} delivered",
                warm.delivered, warm.expected
            );
        }
        for &rate in &self.args.rates {
            let count = ((f64::from(rate) * self.args.phase_secs).round() as u32).max(1);
            let mut stats =
                self.measure(&mut phase, Plan::Rate { rate, count }, &format!("{rate}/s"))?;
            stats.rate = Some(rate);
            stats.connect_failures = failed;
            results.phases.push(stats);
        }
        if self.saturate {
            let plan = Plan::Window {
                secs: self.args.saturated_secs,
                window: self.args.window,
            };
            let mut stats = self.measure(&mut phase, plan, "saturated")?;
            stats.connect_failures = failed;
            results.saturated.push(stats);
        }
        let after = server.memory();
        results.memory.push(MemoryStats {
            kind: self.kind,
            subscribers: n,
            connected,
            ramp_secs,
            base,
            idle,
            after,
            shared_memory,
        });

        for handle in &handles {
            handle.abort();
        }
        runtime.block_on(async {
            for handle in handles {
                let _aborted = tokio::time::timeout(Duration::from_secs(5), handle).await;
            }
        });
        server.stop();
        Ok(())
    }

    /// Runs a phase on a quiet machine. When other processes used the CPU meanwhile, repeats it
    /// (at most `MAX_ATTEMPTS` times) and keeps the least disturbed run; a run that lost
    /// deliveries is always kept, so a repeat can never hide a loss.
    fn measure(&self, phase: &mut Phase<'_>, plan: Plan, label: &str) -> Result<PhaseStats> {
        let mut kept: Option<PhaseStats> = None;
        for attempt in 1..=MAX_ATTEMPTS {
            std::thread::sleep(SETTLE);
            self.quiet.wait(self.clock_ticks);
            let stats = phase.run(plan, label)?;
            eprintln!("   {}", stats.summary());
            let noisy = stats.other_cores() > NOISY_CORES;
            kept = Some(match kept {
                Some(old) if !old.lossless() => old,
                Some(old) if stats.lossless() && old.other_cores() <= stats.other_cores() => old,
                _ => stats,
            });
            if !noisy || !self.quiet.enabled {
                break;
            }
            if attempt < MAX_ATTEMPTS {
                eprintln!("   other processes were busy meanwhile: repeating {label}");
            }
        }
        kept.context("no attempt ran")
    }
}

/// Waits for a quiet machine before measuring, within an overall time budget.
struct QuietGate {
    enabled: bool,
    budget: std::cell::Cell<Duration>,
}

impl QuietGate {
    fn wait(&self, clock_ticks: f64) {
        if !self.enabled || self.budget.get().is_zero() {
            return;
        }
        let started = Instant::now();
        wait_for_quiet_machine(clock_ticks, QUIET_CORES, self.budget.get().min(QUIET_WAIT));
        self.budget
            .set(self.budget.get().saturating_sub(started.elapsed()));
    }
}

// ---------------------------------------------------------------------------------------------
// Subscribers

/// Per-delivery records of one subscriber: (sequence number, latency in microseconds), in
/// arrival order. The subscriber appends once per read; the bench takes them after a phase.
type Records = Mutex<Vec<(u32, u32)>>;

/// State shared by the subscribers, the publisher and the phase driver.
struct Shared {
    /// The clock every timestamp is relative to (one process, so one monotonic clock).
    epoch: Instant,
    /// Deliveries per sequence number, to know when an event has reached everyone.
    delivered_per_seq: Vec<AtomicU32>,
    /// Subscribers with an open stream.
    alive: AtomicUsize,
    /// Subscribers that never got response headers.
    failed: AtomicUsize,
    /// Streams that ended while the bench was running (the server closed them).
    disconnected: AtomicUsize,
    /// Markers that did not parse, or frames that did not fit the read buffer.
    garbled: AtomicU64,
}

impl Shared {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            delivered_per_seq: (0..MAX_EVENTS).map(|_| AtomicU32::new(0)).collect(),
            alive: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            disconnected: AtomicUsize::new(0),
            garbled: AtomicU64::new(0),
        }
    }

    fn now_nanos(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn delivered(&self, seq: u32) -> u32 {
        self.delivered_per_seq
            .get(seq as usize)
            .map_or(0, |count| count.load(Ordering::Relaxed))
    }
}

/// Opens every subscriber stream, `CONNECT_CONCURRENCY` at a time, and returns once all have
/// their response headers or failed.
async fn connect_all(
    server: &Server,
    shared: &Arc<Shared>,
    records: &[Arc<Records>],
) -> Result<Vec<JoinHandle<()>>> {
    let request: Arc<[u8]> = server.subscribe_request().into();
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut handles = Vec::with_capacity(records.len());
    for record in records {
        let (request, permits) = (Arc::clone(&request), Arc::clone(&permits));
        let (shared, record) = (Arc::clone(shared), Arc::clone(record));
        let addr = server.addr;
        handles.push(tokio::spawn(async move {
            let Ok(permit) = permits.acquire_owned().await else {
                return;
            };
            let opened = tokio::time::timeout(CONNECT_TIMEOUT, open_stream(addr, &request)).await;
            drop(permit);
            let Ok(Ok((stream, buffer, filled))) = opened else {
                shared.failed.fetch_add(1, Ordering::SeqCst);
                return;
            };
            shared.alive.fetch_add(1, Ordering::SeqCst);
            read_events(stream, buffer, filled, &shared, &record).await;
            shared.alive.fetch_sub(1, Ordering::SeqCst);
            shared.disconnected.fetch_add(1, Ordering::SeqCst);
        }));
    }
    let started = Instant::now();
    let total = records.len();
    loop {
        let done = shared.alive.load(Ordering::SeqCst) + shared.failed.load(Ordering::SeqCst);
        if done >= total {
            break;
        }
        if started.elapsed() > RAMP_TIMEOUT {
            bail!("only {done} of {total} subscribers connected within {RAMP_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(handles)
}

/// Connects, sends the GET, and reads the response headers. Returns the stream, the read
/// buffer and how many body bytes it already holds.
async fn open_stream(addr: SocketAddr, request: &[u8]) -> Result<(TcpStream, Vec<u8>, usize)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    let mut buffer = vec![0u8; READ_BUF_BYTES];
    let mut filled = 0;
    loop {
        let read = stream.read(&mut buffer[filled..]).await?;
        if read == 0 {
            bail!("the server closed the stream before its headers");
        }
        filled += read;
        if let Some(end) = find(&buffer[..filled], b"\r\n\r\n") {
            if !buffer.starts_with(b"HTTP/1.1 200") {
                let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                bail!("stream refused: {head}");
            }
            let body_start = end + 4;
            buffer.copy_within(body_start..filled, 0);
            return Ok((stream, buffer, filled - body_start));
        }
        if filled == buffer.len() {
            bail!("response headers larger than {READ_BUF_BYTES} bytes");
        }
    }
}

/// Reads a stream until it ends, recording every event's sequence number and latency. Minimal
/// parsing on purpose: only the payload marker is looked for, so heartbeats, `retry:`, `id:`,
/// `event:` and chunked-encoding framing are skipped without being understood.
async fn read_events(
    mut stream: TcpStream,
    mut buffer: Vec<u8>,
    mut filled: usize,
    shared: &Shared,
    record: &Records,
) {
    let mut found = Vec::with_capacity(16);
    loop {
        if filled > 0 {
            let now = shared.now_nanos();
            let consumed = scan(&buffer[..filled], now, &mut found, shared);
            buffer.copy_within(consumed..filled, 0);
            filled -= consumed;
            if filled == buffer.len() {
                shared.garbled.fetch_add(1, Ordering::Relaxed);
                filled = 0;
            }
            if !found.is_empty() {
                record
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .append(&mut found);
            }
        }
        match stream.read(&mut buffer[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(read) => filled += read,
        }
    }
}

/// Finds every complete `TB|<seq>|<send nanos>|` in `bytes`, records it, and returns how many
/// bytes are done with (the rest may hold the start of a marker).
fn scan(bytes: &[u8], now_nanos: u64, found: &mut Vec<(u32, u32)>, shared: &Shared) -> usize {
    let mut at = 0;
    while let Some(offset) = find(&bytes[at..], MARKER) {
        let start = at + offset;
        let fields = start + MARKER.len();
        let Some((seq, after_seq)) = parse_number(bytes, fields) else {
            return start; // incomplete: wait for more bytes
        };
        let Some((sent, after_sent)) = parse_number(bytes, after_seq) else {
            return start;
        };
        match (
            u32::try_from(seq),
            shared.delivered_per_seq.get(seq as usize),
        ) {
            (Ok(seq), Some(count)) if after_seq > fields && after_sent > after_seq => {
                count.fetch_add(1, Ordering::Relaxed);
                let micros = now_nanos.saturating_sub(sent) / 1000;
                found.push((seq, u32::try_from(micros).unwrap_or(u32::MAX)));
            }
            _ => {
                shared.garbled.fetch_add(1, Ordering::Relaxed);
            }
        }
        at = after_sent;
    }
    // Keep a possible marker prefix at the very end.
    at.max(bytes.len().saturating_sub(MARKER.len() - 1))
}

/// Parses decimal digits at `at` up to a `|`. `None` if the bytes end first; a non-digit before
/// the `|` gives a number with no digits consumed past it, which the caller counts as garbled.
fn parse_number(bytes: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    let mut i = at;
    loop {
        let byte = *bytes.get(i)?;
        match byte {
            b'0'..=b'9' => value = value.wrapping_mul(10).wrapping_add(u64::from(byte - b'0')),
            b'|' => return Some((value, i + 1)),
            _ => return Some((u64::MAX, at)),
        }
        i += 1;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut at = 0;
    while let Some(offset) = haystack.get(at..)?.iter().position(|&b| b == first) {
        let start = at + offset;
        if haystack.get(start..start + needle.len())? == needle {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Publishing

#[derive(Clone, Copy)]
enum Plan {
    /// `count` events at a fixed rate, open loop: a slow publish does not delay the next one.
    Rate { rate: u32, count: u32 },
    /// As fast as the server fans out: keep `window` events in flight (published but not yet at
    /// every subscriber) for `secs` seconds.
    Window { secs: f64, window: u32 },
}

struct Published {
    seq: u32,
    sent_nanos: u64,
    latency_micros: u32,
    ok: bool,
}

struct PublishReport {
    published: Vec<Published>,
    /// How far the fixed-rate schedule slipped at worst.
    max_behind: Duration,
    /// Events the fixed-rate plan wanted to publish (0 for the saturation phase).
    planned: u32,
    /// Saturation phase: events that did not reach everyone within `WINDOW_WAIT`.
    window_stalls: u32,
}

/// Runs the publisher on its own thread and runtime, so subscriber work cannot delay it.
fn publish(
    kind: ServerKind,
    addr: SocketAddr,
    shared: &Arc<Shared>,
    plan: Plan,
    first_seq: u32,
) -> Result<PublishReport> {
    let shared = Arc::clone(shared);
    let thread = std::thread::Builder::new().name("publisher".into()).spawn(
        move || -> Result<PublishReport> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(publish_async(kind, addr, shared, plan, first_seq))
        },
    )?;
    thread
        .join()
        .map_err(|_| anyhow!("the publisher thread panicked"))?
}

async fn publish_async(
    kind: ServerKind,
    addr: SocketAddr,
    shared: Arc<Shared>,
    plan: Plan,
    first_seq: u32,
) -> Result<PublishReport> {
    let (pool_tx, mut pool_rx) = mpsc::unbounded_channel::<HttpConn>();
    for _ in 0..PUBLISH_CONNECTIONS {
        let conn = HttpConn::open(addr)
            .await
            .context("opening a publish connection")?;
        let _ = pool_tx.send(conn);
    }
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Published>();
    let mut tasks = JoinSet::new();
    let mut max_behind = Duration::ZERO;
    let mut window_stalls = 0;
    let started = Instant::now();
    let mut index: u32 = 0;
    loop {
        let seq = first_seq + index;
        match plan {
            Plan::Rate { rate, count } => {
                // An overloaded server slows the publisher down (nchan answers after its
                // fan-out); stop at twice the planned time so the run stays bounded.
                let planned_secs = f64::from(count) / f64::from(rate);
                if index >= count || started.elapsed().as_secs_f64() > 2.0 * planned_secs + 5.0 {
                    break;
                }
                let due = started + Duration::from_secs_f64(f64::from(index) / f64::from(rate));
                tokio::time::sleep_until(due.into()).await;
                max_behind = max_behind.max(due.elapsed());
            }
            Plan::Window { secs, window } => {
                if started.elapsed().as_secs_f64() >= secs || seq as usize >= MAX_EVENTS - 1 {
                    break;
                }
                if index >= window {
                    let oldest = seq - window;
                    let waited = Instant::now();
                    while shared.delivered(oldest) < shared.alive.load(Ordering::Relaxed) as u32 {
                        if waited.elapsed() > WINDOW_WAIT {
                            window_stalls += 1;
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
        }
        let mut conn = tokio::time::timeout(REQUEST_TIMEOUT, pool_rx.recv())
            .await
            .ok()
            .flatten()
            .context("no publish connection became free")?;
        let (pool_tx, done_tx, shared) = (pool_tx.clone(), done_tx.clone(), Arc::clone(&shared));
        tasks.spawn(async move {
            let sent_nanos = shared.now_nanos();
            let request = publish_request(kind, addr, &payload(seq, sent_nanos));
            let outcome = tokio::time::timeout(REQUEST_TIMEOUT, conn.roundtrip(&request)).await;
            let latency = shared.now_nanos().saturating_sub(sent_nanos) / 1000;
            let ok = matches!(&outcome, Ok(Ok((status, _))) if (200..300).contains(status));
            if !ok {
                match &outcome {
                    Ok(Ok((status, body))) => eprintln!(
                        "   !! publish {seq}: HTTP {status}: {}",
                        String::from_utf8_lossy(body)
                    ),
                    Ok(Err(err)) => eprintln!("   !! publish {seq}: {err}"),
                    Err(_) => eprintln!("   !! publish {seq}: timed out"),
                }
            }
            let _ = done_tx.send(Published {
                seq,
                sent_nanos,
                latency_micros: u32::try_from(latency).unwrap_or(u32::MAX),
                ok,
            });
            if !ok || !conn.reusable {
                match HttpConn::open(addr).await {
                    Ok(fresh) => conn = fresh,
                    Err(_) => return,
                }
            }
            let _ = pool_tx.send(conn);
        });
        index += 1;
    }
    while tasks.join_next().await.is_some() {}
    drop(done_tx);
    let mut published = Vec::with_capacity(index as usize);
    while let Some(done) = done_rx.recv().await {
        published.push(done);
    }
    published.sort_by_key(|p| p.seq);
    Ok(PublishReport {
        published,
        max_behind,
        planned: match plan {
            Plan::Rate { count, .. } => count,
            Plan::Window { .. } => 0,
        },
        window_stalls,
    })
}

/// The publish body: exactly `PAYLOAD_BYTES` of JSON carrying the marker in its title.
fn payload(seq: u32, sent_nanos: u64) -> Vec<u8> {
    let head = format!(r#"{{"title":"TB|{seq}|{sent_nanos}| fan-out bench","body":""#);
    let tail = r#""}"#;
    let filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(4);
    let room = PAYLOAD_BYTES.saturating_sub(head.len() + tail.len());
    let mut body = head.into_bytes();
    body.extend(filler.bytes().cycle().take(room));
    body.extend_from_slice(tail.as_bytes());
    body
}

fn publish_request(kind: ServerKind, addr: SocketAddr, body: &[u8]) -> Vec<u8> {
    let (path, auth) = match kind {
        ServerKind::Tidings => (
            "/v1/channels/bench/items",
            "Authorization: Bearer bench-token-0123456789\r\n",
        ),
        ServerKind::Nchan => ("/pub", ""),
    };
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// A keep-alive HTTP/1.1 client connection: just enough HTTP for publishing.
struct HttpConn {
    stream: TcpStream,
    buffer: Vec<u8>,
    /// False once the server said `Connection: close` or the body ran to the end of stream.
    reusable: bool,
}

impl HttpConn {
    async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buffer: Vec::with_capacity(4096),
            reusable: true,
        })
    }

    /// Sends one request and reads the whole response: (status, body).
    async fn roundtrip(&mut self, request: &[u8]) -> Result<(u16, Vec<u8>)> {
        self.stream.write_all(request).await?;
        self.buffer.clear();
        let head_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            if self.buffer.len() > 65_536 {
                bail!("response headers too large");
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .context("no status code")?;
        let (mut length, mut chunked) = (None, false);
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim().to_ascii_lowercase();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.contains("chunked"),
                "connection" => self.reusable &= !value.contains("close"),
                _ => {}
            }
        }
        let body = if chunked {
            self.read_chunked(head_end).await?
        } else if let Some(length) = length {
            while self.buffer.len() < head_end + length {
                self.fill().await?;
            }
            self.buffer[head_end..head_end + length].to_vec()
        } else {
            self.reusable = false;
            while self.fill().await.is_ok() {}
            self.buffer[head_end..].to_vec()
        };
        Ok((status, body))
    }

    async fn read_chunked(&mut self, mut at: usize) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        for _ in 0..100_000 {
            let line_end = loop {
                if let Some(end) = find(&self.buffer[at..], b"\r\n") {
                    break at + end;
                }
                self.fill().await?;
            };
            let line = String::from_utf8_lossy(&self.buffer[at..line_end]).into_owned();
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .with_context(|| format!("bad chunk size {size_text:?}"))?;
            at = line_end + 2;
            if size == 0 {
                // Trailers, then an empty line.
                loop {
                    while find(&self.buffer[at..], b"\r\n").is_none() {
                        self.fill().await?;
                    }
                    let end = at + find(&self.buffer[at..], b"\r\n").unwrap_or(0);
                    if end == at {
                        return Ok(body);
                    }
                    at = end + 2;
                }
            }
            while self.buffer.len() < at + size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buffer[at..at + size]);
            at += size + 2;
        }
        bail!("too many chunks")
    }

    async fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 4096];
        let read = self.stream.read(&mut chunk).await?;
        if read == 0 {
            self.reusable = false;
            bail!("connection closed mid-response");
        }
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}

async fn nchan_shared_memory(addr: SocketAddr) -> Result<String> {
    let mut conn = HttpConn::open(addr).await?;
    let request = format!("GET /status HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let (_, body) =
        tokio::time::timeout(REQUEST_TIMEOUT, conn.roundtrip(request.as_bytes())).await??;
    let text = String::from_utf8_lossy(&body).into_owned();
    text.lines()
        .find_map(|line| line.strip_prefix("shared memory used:"))
        .map(|used| used.trim().to_owned())
        .context("no shared memory figure in nchan's status")
}

// ---------------------------------------------------------------------------------------------
// Phases: publish, drain, collect, compute.

struct Phase<'a> {
    server: &'a Server,
    shared: &'a Arc<Shared>,
    records: &'a [Arc<Records>],
    clock_ticks: f64,
    next_seq: u32,
}

impl Phase<'_> {
    fn run(&mut self, plan: Plan, label: &str) -> Result<PhaseStats> {
        let first_seq = self.next_seq;
        let subscribers = self.shared.alive.load(Ordering::SeqCst);
        let disconnected_before = self.shared.disconnected.load(Ordering::SeqCst);
        let garbled_before = self.shared.garbled.load(Ordering::SeqCst);
        let server_ticks = self.server.cpu_ticks();
        let own_ticks = cpu_ticks(std::process::id()).unwrap_or(0);
        let machine_ticks = machine_busy_ticks().unwrap_or(0);
        let started = Instant::now();

        let report = publish(
            self.server.kind,
            self.server.addr,
            self.shared,
            plan,
            first_seq,
        )?;
        let span = report.published.len() as u32;
        self.next_seq = first_seq + span;

        // Drain: until every published event reached every subscriber still connected.
        let drain_started = Instant::now();
        let mut drained = false;
        while drain_started.elapsed() < DRAIN_TIMEOUT {
            let alive = self.shared.alive.load(Ordering::SeqCst) as u32;
            if report
                .published
                .iter()
                .filter(|p| p.ok)
                .all(|p| self.shared.delivered(p.seq) >= alive)
            {
                drained = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let measured_secs = started.elapsed().as_secs_f64();
        let server_cpu_secs =
            self.server.cpu_ticks().saturating_sub(server_ticks) as f64 / self.clock_ticks;
        let gen_cpu_secs = cpu_ticks(std::process::id())
            .unwrap_or(0)
            .saturating_sub(own_ticks) as f64
            / self.clock_ticks;
        let machine_cpu_secs = machine_busy_ticks()
            .unwrap_or(0)
            .saturating_sub(machine_ticks) as f64
            / self.clock_ticks;
        let other_cpu_secs = (machine_cpu_secs - server_cpu_secs - gen_cpu_secs).max(0.0);

        // Per event: deliveries and the latest arrival; per delivery: latency.
        let mut per_event_count = vec![0u32; span as usize];
        let mut per_event_last = vec![0u32; span as usize];
        // Which subscriber (index + 1) last had each event: a second copy is a duplicate.
        // Order is not checked: concurrent publishes may legitimately be applied out of
        // sequence-number order.
        let mut last_holder = vec![0u32; span as usize];
        let mut latencies = Vec::new();
        let mut duplicates = 0u64;
        for (holder, record) in (1u32..).zip(self.records) {
            let taken = std::mem::take(&mut *record.lock().unwrap_or_else(PoisonError::into_inner));
            for (seq, micros) in taken {
                if seq < first_seq || seq >= first_seq + span {
                    continue;
                }
                let index = (seq - first_seq) as usize;
                if last_holder[index] == holder {
                    duplicates += 1;
                    continue;
                }
                last_holder[index] = holder;
                per_event_count[index] += 1;
                per_event_last[index] = per_event_last[index].max(micros);
                latencies.push(micros);
            }
        }
        let ok: Vec<&Published> = report.published.iter().filter(|p| p.ok).collect();
        let expected = ok.len() as u64 * subscribers as u64;
        let mut delivered = 0u64;
        let mut completions = Vec::with_capacity(ok.len());
        let mut last_arrival_nanos = 0u64;
        for published in &ok {
            let index = (published.seq - first_seq) as usize;
            let count = per_event_count[index] as usize;
            delivered += count.min(subscribers) as u64;
            if count >= subscribers {
                completions.push(per_event_last[index]);
            }
            last_arrival_nanos = last_arrival_nanos
                .max(published.sent_nanos + u64::from(per_event_last[index]) * 1000);
        }
        let first_sent_nanos = ok.first().map_or(0, |p| p.sent_nanos);
        let busy_secs =
            (last_arrival_nanos.saturating_sub(first_sent_nanos) as f64 / 1e9).max(1e-9);
        let mut publish_micros: Vec<u32> = ok.iter().map(|p| p.latency_micros).collect();
        latencies.sort_unstable();
        completions.sort_unstable();
        publish_micros.sort_unstable();
        Ok(PhaseStats {
            kind: self.server.kind,
            label: label.to_owned(),
            rate: None,
            subscribers,
            connect_failures: 0,
            events: ok.len(),
            publish_failures: report.published.len() - ok.len(),
            expected,
            delivered,
            drained,
            disconnected: self.shared.disconnected.load(Ordering::SeqCst) - disconnected_before,
            garbled: self.shared.garbled.load(Ordering::SeqCst) - garbled_before,
            duplicates,
            incomplete_events: ok.len() - completions.len(),
            latency: Percentiles::of(&latencies),
            completion: Percentiles::of(&completions),
            publish: Percentiles::of(&publish_micros),
            max_behind: report.max_behind,
            planned: report.planned,
            achieved_rate: match (ok.first(), ok.last()) {
                (Some(first), Some(last)) if ok.len() > 1 => {
                    (ok.len() - 1) as f64 * 1e9
                        / (last.sent_nanos.saturating_sub(first.sent_nanos)).max(1) as f64
                }
                _ => 0.0,
            },
            window_stalls: report.window_stalls,
            busy_secs,
            measured_secs,
            server_cpu_secs,
            gen_cpu_secs,
            other_cpu_secs,
        })
    }
}

#[derive(Clone, Copy, Default)]
struct Percentiles {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    count: usize,
}

impl Percentiles {
    /// From microseconds sorted ascending.
    fn of(sorted: &[u32]) -> Self {
        let at = |q: f64| {
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
            sorted
                .get(rank - 1)
                .map_or(0.0, |&us| f64::from(us) / 1000.0)
        };
        Self {
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: sorted.last().map_or(0.0, |&us| f64::from(us) / 1000.0),
            count: sorted.len(),
        }
    }

    fn cell(&self) -> String {
        if self.count == 0 {
            return "–".to_owned();
        }
        format!(
            "{} / {} / {}",
            ms(self.p50_ms),
            ms(self.p99_ms),
            ms(self.max_ms)
        )
    }
}

fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

struct PhaseStats {
    kind: ServerKind,
    label: String,
    rate: Option<u32>,
    subscribers: usize,
    connect_failures: usize,
    events: usize,
    publish_failures: usize,
    expected: u64,
    delivered: u64,
    drained: bool,
    disconnected: usize,
    garbled: u64,
    duplicates: u64,
    incomplete_events: usize,
    latency: Percentiles,
    completion: Percentiles,
    publish: Percentiles,
    max_behind: Duration,
    planned: u32,
    /// Publishes per second actually sent (first to last send).
    achieved_rate: f64,
    window_stalls: u32,
    /// First publish sent to the last delivery received.
    busy_secs: f64,
    /// Publishing plus draining: the CPU figures cover this interval.
    measured_secs: f64,
    server_cpu_secs: f64,
    gen_cpu_secs: f64,
    /// Everything else the machine did meanwhile (other processes, ksoftirqd).
    other_cpu_secs: f64,
}

impl PhaseStats {
    fn lossless(&self) -> bool {
        self.delivered == self.expected
            && self.publish_failures == 0
            && self.disconnected == 0
            && self.garbled == 0
            && self.duplicates == 0
            && self.connect_failures == 0
    }

    /// Cores used by other processes during the phase, on average.
    fn other_cores(&self) -> f64 {
        self.other_cpu_secs / self.measured_secs.max(1e-9)
    }

    fn deliveries_per_cpu_sec(&self) -> f64 {
        self.delivered as f64 / self.server_cpu_secs.max(1e-9)
    }

    fn delivery_cell(&self) -> String {
        let mut cell = format!("{} / {}", self.delivered, self.expected);
        if !self.lossless() {
            cell.push_str(" **LOSS**");
        }
        cell
    }

    /// The planned rate, and the achieved one when the publisher could not keep it.
    fn rate_cell(&self) -> String {
        let rate = self.rate.unwrap_or(0);
        if self.achieved_rate < 0.95 * f64::from(rate) || (self.events as u32) < self.planned {
            format!("{rate} (sent {:.0}/s)", self.achieved_rate)
        } else {
            rate.to_string()
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let what = format!("{} N={} {}", self.kind.name(), self.subscribers, self.label);
        if self.delivered < self.expected {
            problems.push(format!(
                "{what}: {} of {} deliveries missing ({} events incomplete{})",
                self.expected - self.delivered,
                self.expected,
                self.incomplete_events,
                if self.drained {
                    ""
                } else {
                    ", drain timed out"
                }
            ));
        }
        for (count, label) in [
            (
                self.connect_failures as u64,
                "subscribers failed to connect",
            ),
            (self.publish_failures as u64, "publishes failed"),
            (
                self.disconnected as u64,
                "subscribers disconnected by the server",
            ),
            (self.garbled, "garbled frames"),
            (self.duplicates, "duplicate deliveries"),
            (
                u64::from(self.window_stalls),
                "window stalls (event not everywhere within 5 s)",
            ),
        ] {
            if count > 0 {
                problems.push(format!("{what}: {count} {label}"));
            }
        }
        if self.planned > 0 && (self.events as u32) < self.planned {
            problems.push(format!(
                "{what}: only {} of {} events published within the time bound (publishes took too long)",
                self.events, self.planned
            ));
        }
        let other = self.other_cores();
        if other > NOISY_CORES {
            problems.push(format!(
                "{what}: noisy machine, other processes used {other:.2} cores meanwhile"
            ));
        }
        problems
    }

    fn summary(&self) -> String {
        format!(
            "{}: {} events, delivered {}, latency {} ms, fan-out {} ms, publish {} ms, server CPU {:.2} s, {:.0} deliveries/CPU-s{}",
            self.label,
            self.events,
            self.delivery_cell(),
            self.latency.cell(),
            self.completion.cell(),
            self.publish.cell(),
            self.server_cpu_secs,
            self.deliveries_per_cpu_sec(),
            if self.max_behind > Duration::from_millis(50) {
                format!(
                    ", schedule slipped up to {} ms",
                    self.max_behind.as_millis()
                )
            } else {
                String::new()
            }
        )
    }
}

struct MemoryStats {
    kind: ServerKind,
    subscribers: usize,
    connected: usize,
    ramp_secs: f64,
    base: Memory,
    idle: Memory,
    after: Memory,
    shared_memory: Option<String>,
}

#[derive(Default)]
struct Results {
    phases: Vec<PhaseStats>,
    saturated: Vec<PhaseStats>,
    memory: Vec<MemoryStats>,
}

impl Results {
    fn all_delivered(&self) -> bool {
        self.phases
            .iter()
            .chain(&self.saturated)
            .all(PhaseStats::lossless)
    }

    fn find(&self, kind: ServerKind, n: usize, rate: u32) -> Option<&PhaseStats> {
        self.phases
            .iter()
            .find(|p| p.kind == kind && p.subscribers == n && p.rate == Some(rate))
    }

    fn report(&self, args: &Args) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n## Fan-out: one event to N SSE subscribers, {PAYLOAD_BYTES}-byte payloads, {} s per rate\n",
            args.phase_secs
        );
        let _ = writeln!(
            out,
            "Latencies in ms as p50 / p99 / max. Delivery latency: publish request sent → event read by a subscriber. \
             Fan-out completion: publish sent → the last subscriber has the event. \
             CPU: server user+system time over publishing and draining.\n"
        );
        let _ = writeln!(
            out,
            "| server | N | events/s | delivered / expected | delivery latency | fan-out completion | publish latency | server CPU (cores) | deliveries per server CPU-s | load generator CPU (cores) | other CPU (cores) |"
        );
        let _ = writeln!(
            out,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for p in &self.phases {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.2} |",
                p.kind.name(),
                p.subscribers,
                p.rate_cell(),
                p.delivery_cell(),
                p.latency.cell(),
                p.completion.cell(),
                p.publish.cell(),
                p.server_cpu_secs / p.measured_secs,
                p.deliveries_per_cpu_sec(),
                p.gen_cpu_secs / p.measured_secs,
                p.other_cpu_secs / p.measured_secs,
            );
        }
        if !self.saturated.is_empty() {
            let _ = writeln!(
                out,
                "\n## Saturated delivery: {} events in flight for {} s\n",
                args.window, args.saturated_secs
            );
            let _ = writeln!(
                out,
                "| server | N | events | delivered / expected | deliveries/s | server CPU (cores) | deliveries per server CPU-s | fan-out completion | publish latency | load generator CPU (cores) | other CPU (cores) |"
            );
            let _ = writeln!(
                out,
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
            for p in &self.saturated {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {:.0} | {:.2} | {:.0} | {} | {} | {:.2} | {:.2} |",
                    p.kind.name(),
                    p.subscribers,
                    p.events,
                    p.delivery_cell(),
                    p.delivered as f64 / p.busy_secs,
                    p.server_cpu_secs / p.measured_secs,
                    p.deliveries_per_cpu_sec(),
                    p.completion.cell(),
                    p.publish.cell(),
                    p.gen_cpu_secs / p.measured_secs,
                    p.other_cpu_secs / p.measured_secs,
                );
            }
        }
        let _ = writeln!(out, "\n## Memory per subscriber\n");
        let _ = writeln!(
            out,
            "Proportional set size (Pss, shared pages split between processes; all nginx processes summed), \
             before connecting, with N idle subscribers, and after the phases. Kernel socket buffers are not included.\n"
        );
        let _ = writeln!(
            out,
            "| server | N | connected (ramp s) | before (MiB) | N idle (MiB) | per idle subscriber (KiB) | after phases (MiB) | per subscriber after (KiB) | RSS with N idle (MiB) | nchan shared memory used |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for m in &self.memory {
            let per = |mem: &Memory| {
                (mem.pss_kib as f64 - m.base.pss_kib as f64) / m.connected.max(1) as f64
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} ({:.1}) | {:.1} | {:.1} | {:.2} | {:.1} | {:.2} | {:.1} | {} |",
                m.kind.name(),
                m.subscribers,
                m.connected,
                m.ramp_secs,
                m.base.pss_kib as f64 / 1024.0,
                m.idle.pss_kib as f64 / 1024.0,
                per(&m.idle),
                m.after.pss_kib as f64 / 1024.0,
                per(&m.after),
                m.idle.rss_kib as f64 / 1024.0,
                m.shared_memory.as_deref().unwrap_or("–"),
            );
        }
        out.push_str(&self.targets(args));
        let problems: Vec<String> = self
            .phases
            .iter()
            .chain(&self.saturated)
            .flat_map(PhaseStats::problems)
            .collect();
        if problems.is_empty() {
            let _ = writeln!(
                out,
                "\nEvery published event reached every subscriber exactly once."
            );
        } else {
            let _ = writeln!(out, "\n## !! PROBLEMS\n");
            for problem in problems {
                let _ = writeln!(out, "- **{problem}**");
            }
        }
        let _ = writeln!(
            out,
            "\nCommand: `cargo bench --bench fanout{}{}`; nginx worker_processes {}, load generator {} threads.",
            if args.command.is_empty() { "" } else { " -- " },
            args.command,
            args.nchan_workers,
            args.gen_threads
        );
        out
    }

    /// The issue's targets, checked against whatever this run measured.
    fn targets(&self, args: &Args) -> String {
        let mut out = String::from("\n## Targets\n\n");
        let largest = args.subscribers.iter().copied().max().unwrap_or(0);
        let smallest = args.subscribers.iter().copied().min().unwrap_or(0);
        let verdict = |met: bool| if met { "met" } else { "**missed**" };
        for &rate in &args.rates {
            if let (Some(t), Some(n)) = (
                self.find(ServerKind::Tidings, largest, rate),
                self.find(ServerKind::Nchan, largest, rate),
            ) {
                let _ = writeln!(
                    out,
                    "- fan-out completion p50 at N={largest}, {rate}/s: tidings {} ms, nchan {} ms: {}",
                    ms(t.completion.p50_ms),
                    ms(n.completion.p50_ms),
                    if largest >= 10_000 {
                        verdict(
                            t.completion.count > 0 && t.completion.p50_ms <= n.completion.p50_ms,
                        )
                    } else {
                        "for information (the target is at N=10000)"
                    }
                );
            }
        }
        let sat = |kind| self.saturated.iter().find(|p| p.kind == kind);
        if let (Some(t), Some(n)) = (sat(ServerKind::Tidings), sat(ServerKind::Nchan)) {
            let ratio = t.deliveries_per_cpu_sec() / n.deliveries_per_cpu_sec().max(1e-9);
            let _ = writeln!(
                out,
                "- saturated deliveries per server CPU-second at N={}: tidings {:.0}, nchan {:.0}, ratio {ratio:.2} (target ≥ 1.5): {}",
                t.subscribers,
                t.deliveries_per_cpu_sec(),
                n.deliveries_per_cpu_sec(),
                verdict(ratio >= 1.5)
            );
        }
        if smallest != largest {
            for &rate in &args.rates {
                for kind in [ServerKind::Tidings, ServerKind::Nchan] {
                    if let (Some(small), Some(large)) = (
                        self.find(kind, smallest, rate),
                        self.find(kind, largest, rate),
                    ) {
                        let _ = writeln!(
                            out,
                            "- publish latency p50 / p99 at {rate}/s, N={smallest} → N={largest}: {} {} / {} → {} / {} ms{}",
                            kind.name(),
                            ms(small.publish.p50_ms),
                            ms(small.publish.p99_ms),
                            ms(large.publish.p50_ms),
                            ms(large.publish.p99_ms),
                            if kind == ServerKind::Tidings {
                                // "Independent": within 2x + 1 ms, at the median and the tail.
                                let within = |a: f64, b: f64| b <= 2.0 * a + 1.0;
                                format!(
                                    " (target: independent of N): {}",
                                    verdict(
                                        within(small.publish.p50_ms, large.publish.p50_ms)
                                            && within(small.publish.p99_ms, large.publish.p99_ms)
                                    )
                                )
                            } else {
                                String::new()
                            }
                        );
                    }
                }
            }
        }
        for m in self.memory.iter().filter(|m| m.kind == ServerKind::Tidings) {
            let per_kib =
                (m.idle.pss_kib as f64 - m.base.pss_kib as f64) / m.connected.max(1) as f64;
            let _ = writeln!(
                out,
                "- memory per idle subscriber at N={}: tidings {per_kib:.2} KiB (target ≤ 10 KiB): {}",
                m.subscribers,
                verdict(per_kib <= 10.0)
            );
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Servers as child processes

struct Server {
    kind: ServerKind,
    child: Child,
    addr: SocketAddr,
    /// Every process whose CPU and memory count as the server's (nginx: master and workers).
    pids: Vec<u32>,
    /// Config, data and logs; removed when the server is dropped (after the process is gone).
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Server {
    fn start(kind: ServerKind, args: &Args) -> Result<Self> {
        match kind {
            ServerKind::Tidings => Self::start_tidings(&args.tidings_bin),
            ServerKind::Nchan => Self::start_nchan(args.nchan_workers),
        }
    }

    fn start_tidings(bin: &Path) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("fanout-tidings-")
            .tempdir()?;
        let config = dir.path().join("server.toml");
        std::fs::write(&config, TIDINGS_CONFIG)?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data)?;
        let log = dir.path().join("server.log");
        let mut child = Command::new(bin)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&config)
            // Like nginx with access_log off: no per-request logging in the measurement.
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let (line_tx, line_rx) = std::sync::mpsc::channel();
        // Reads the address line, then drains stdout until the server exits, so a later write
        // never fails on a closed pipe.
        std::thread::Builder::new()
            .name("tidings-stdout".into())
            .spawn(move || {
                let mut lines = BufReader::new(stdout).lines();
                if let Some(Ok(line)) = lines.next() {
                    let _ = line_tx.send(line);
                }
                for _ in lines {}
            })?;
        let pid = child.id();
        let mut server = Self {
            kind: ServerKind::Tidings,
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            pids: vec![pid],
            _dir: dir,
            log,
        };
        let Ok(line) = line_rx.recv_timeout(Duration::from_secs(30)) else {
            bail!(
                "tidings-server exited or printed no address within 30 s; its log:\n{}",
                server.log_tail()
            );
        };
        server.addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|addr| addr.parse().ok())
            .with_context(|| format!("unexpected first line from tidings-server: {line:?}"))?;
        Ok(server)
    }

    fn start_nchan(workers: usize) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("fanout-nchan-").tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let nofile = open_files_limit().unwrap_or(20_000);
        let config_text = NCHAN_CONFIG
            .replace("@DIR@", &dir.path().display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@WORKERS@", &workers.to_string())
            .replace("@NOFILE@", &nofile.to_string())
            .replace(
                "@CONNECTIONS@",
                &nofile.saturating_sub(500).max(1024).to_string(),
            );
        let config = dir.path().join("nginx.conf");
        std::fs::write(&config, config_text)?;
        let log = dir.path().join("error.log");
        let child = Command::new("/usr/sbin/nginx")
            .arg("-c")
            .arg(&config)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log"))?)
            .spawn()
            .context("starting /usr/sbin/nginx")?;
        let master = child.id();
        let mut server = Self {
            kind: ServerKind::Nchan,
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            pids: vec![master],
            _dir: dir,
            log,
        };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                bail!(
                    "nginx exited with {status}; its log:\n{}",
                    server.log_tail()
                );
            }
            let workers_up = children_of(master);
            if workers_up.len() >= workers && std::net::TcpStream::connect(server.addr).is_ok() {
                server.pids.extend(workers_up);
                return Ok(server);
            }
            if started.elapsed() > Duration::from_secs(15) {
                bail!(
                    "nginx did not come up within 15 s; its log:\n{}",
                    server.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn subscribe_request(&self) -> Vec<u8> {
        let path = match self.kind {
            ServerKind::Tidings => "/v1/stream?channels=bench",
            ServerKind::Nchan => "/sub",
        };
        format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n",
            self.addr
        )
        .into_bytes()
    }

    fn cpu_ticks(&self) -> u64 {
        self.pids.iter().filter_map(|&pid| cpu_ticks(pid)).sum()
    }

    fn memory(&self) -> Memory {
        let mut total = Memory::default();
        for &pid in &self.pids {
            total.rss_kib += proc_kib(&format!("/proc/{pid}/status"), "VmRSS:").unwrap_or(0);
            total.pss_kib += proc_kib(&format!("/proc/{pid}/smaps_rollup"), "Pss:").unwrap_or(0);
        }
        total
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn stop(self) {
        let log = self.log_tail();
        let kind = self.kind;
        drop(self);
        if log.contains("panicked") || log.contains("ERROR") || log.contains("[emerg]") {
            eprintln!("   {} log:\n{log}", kind.name());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.child.id();
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // nginx: SIGTERM to the master stops its workers too; SIGKILL would orphan them.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for &other in self.pids.iter().filter(|&&other| other != pid) {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(other.to_string())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, Default)]
struct Memory {
    rss_kib: u64,
    pss_kib: u64,
}

// ---------------------------------------------------------------------------------------------
// /proc

fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
                    fields.get(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    // "Max open files  <soft>  <hard>  files": nginx may raise its soft limit to the hard one.
    line.split_whitespace().nth(4)?.parse().ok()
}
