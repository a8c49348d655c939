//! Fan-out benchmark: one published event fanned out to N Server-Sent Events subscribers on
//! loopback, Tidings side by side with nginx + nchan (figures and method in
//! `docs/benchmarks.md`).
//!
//! Two parts. **Single node**: one Tidings node on SQLite and on Redis, against nginx + nchan
//! on its shared memory, at N = 1,000 and 10,000. **Cluster**: several Tidings nodes sharing one
//! Redis against as many nginx + nchan sharing one Redis (nchan's own multi-server setup), at
//! N = 10,000 and 50,000 split over the nodes.
//!
//! This process drives: it starts the servers and the load-generator workers as child
//! processes (one process may hold at most 20,000 sockets here, so 50,000 subscribers need
//! several), publishes from its own thread, and gathers the workers' reports. Results go to
//! stdout as markdown tables, progress to stderr. It must not touch anything but its own
//! temporary directories and the processes it started.
//!
//! `cargo bench --bench fanout [-- --quick] [-- --part single|cluster]`; `-- --help` for more.

#![allow(
    clippy::indexing_slicing,
    reason = "a benchmark, not shipped code: every index comes from a bounded loop or a search in the same buffer"
)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use deploy::{Deployment, Memory, ServerKind, Settings, Store, Target};
use loadgen::{Histogram, Loadgen, Tracker, WORKER_FLAG, wall_nanos};
use procfs::{clock_ticks_per_sec, cpu_ticks, machine_busy_ticks, wait_for_quiet_machine};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

#[path = "fanout/deploy.rs"]
mod deploy;
#[path = "fanout/loadgen.rs"]
mod loadgen;
#[path = "support/procfs.rs"]
mod procfs;

/// Precedes the sequence number and send time the publisher puts in every payload:
/// `TB|<seq>|<send time in nanoseconds since the Unix epoch>|`.
const MARKER: &[u8] = b"TB|";
/// Size of every publish body (the JSON `{"title":..,"body":..}`).
const PAYLOAD_BYTES: usize = 200;
/// Upper bound on events per server run (sizes the per-event delivery counters).
const MAX_EVENTS: usize = 1 << 20;
/// How long after the last publish we wait for outstanding deliveries.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
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
/// Sockets one server process may hold here is 20,000 (`ulimit -n`); leave room for the rest.
const MAX_PER_NODE: usize = 19_000;

const USAGE: &str = "\
fan-out benchmark: Tidings against nginx + nchan, N SSE subscribers on loopback

cargo bench --bench fanout [-- OPTIONS]

  --quick                   single N = 1000, cluster N = 3000, 3 s phases (a few minutes)
  --part single|cluster     run one part (default both)
  --only tidings|nchan      run one server
  --subscribers LIST        single node: comma-separated N (default 1000,10000)
  --rates LIST              single node: events per second (default 10,100)
  --stores LIST             single node, Tidings: sqlite,redis (default both)
  --cluster-subscribers L   cluster: N split over the nodes (default 10000,50000)
  --cluster-rates LIST      cluster: events per second (default 1,10)
  --nodes K                 cluster: server nodes on one Redis (default 3)
  --secs S                  seconds per fixed-rate phase (default 10)
  --saturated-secs S        seconds of the saturation phase at each part's largest N
                            (default 5; 0 = skip)
  --window W                saturation: events in flight (published, not yet everywhere) (default 8)
  --per-worker M            subscribers per load generator process (default 12500)
  --gen-threads T           threads per load generator process (default 2)
  --nchan-workers W         nginx worker_processes per instance (default 2, like `auto` here)
  --redis-fsync MODE        Redis appendfsync: always (default, what docs/deploying.md
                            recommends), everysec or no
  --tidings-bin PATH        tidings-server to run (default: the one cargo built)
  --no-wait                 do not wait for a quiet machine, nor repeat disturbed phases
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
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some(WORKER_FLAG) {
        let threads = args.next().and_then(|t| t.parse().ok()).unwrap_or(1);
        return match loadgen::worker_main(threads) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("fanout worker: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
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
    let clock_ticks = clock_ticks_per_sec();
    let mut results = Results::default();
    let quiet = QuietGate {
        enabled: args.wait_quiet,
        budget: std::cell::Cell::new(QUIET_BUDGET),
    };
    for part in [Part::Single, Part::Cluster] {
        if !args.parts.contains(&part) {
            continue;
        }
        let (sizes, rates, targets) = args.plan(part);
        let largest = sizes.iter().copied().max().unwrap_or(0);
        // Servers alternate inside each N, so slow drift of the machine hits all alike.
        for &subscribers in sizes {
            for &target in &targets {
                let run = ServerRun {
                    args: &args,
                    quiet: &quiet,
                    target,
                    subscribers,
                    rates,
                    part,
                    saturate: subscribers == largest && args.saturated_secs > 0.0,
                    clock_ticks,
                };
                run.run(&mut results).with_context(|| {
                    format!("{} with {subscribers} subscribers", target.label())
                })?;
            }
        }
    }
    let report = results.report(&args);
    println!("{report}");
    Ok(results.all_delivered())
}

// ---------------------------------------------------------------------------------------------
// Arguments

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Single,
    Cluster,
}

struct Args {
    parts: Vec<Part>,
    subscribers: Vec<usize>,
    rates: Vec<u32>,
    stores: Vec<Store>,
    cluster_subscribers: Vec<usize>,
    cluster_rates: Vec<u32>,
    nodes: usize,
    phase_secs: f64,
    saturated_secs: f64,
    window: u32,
    servers: Vec<ServerKind>,
    per_worker: usize,
    gen_threads: usize,
    nchan_workers: usize,
    redis_fsync: String,
    tidings_bin: PathBuf,
    wait_quiet: bool,
    command: String,
}

impl Args {
    fn parse() -> Result<Self> {
        let mut quick = false;
        let (mut subscribers, mut cluster_subscribers) = (None, None);
        let mut phase_secs = None;
        let mut saturated_secs = None;
        let mut args = Self {
            parts: vec![Part::Single, Part::Cluster],
            subscribers: vec![1000, 10_000],
            rates: vec![10, 100],
            stores: vec![Store::Local, Store::Redis],
            cluster_subscribers: vec![10_000, 50_000],
            cluster_rates: vec![1, 10],
            nodes: 3,
            phase_secs: 10.0,
            saturated_secs: 5.0,
            window: 8,
            servers: vec![ServerKind::Tidings, ServerKind::Nchan],
            per_worker: 12_500,
            gen_threads: 2,
            nchan_workers: 2,
            redis_fsync: "always".to_owned(),
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
                "--part" => {
                    args.parts = vec![match value("--part")?.as_str() {
                        "single" => Part::Single,
                        "cluster" => Part::Cluster,
                        other => bail!("--part takes single or cluster, not {other:?}"),
                    }];
                }
                "--only" => {
                    args.servers = vec![match value("--only")?.as_str() {
                        "tidings" => ServerKind::Tidings,
                        "nchan" => ServerKind::Nchan,
                        other => bail!("--only takes tidings or nchan, not {other:?}"),
                    }];
                }
                "--stores" => {
                    args.stores = value("--stores")?
                        .split(',')
                        .map(|store| match store.trim() {
                            "sqlite" => Ok(Store::Local),
                            "redis" => Ok(Store::Redis),
                            other => Err(anyhow!("--stores takes sqlite,redis, not {other:?}")),
                        })
                        .collect::<Result<_>>()?;
                }
                "--subscribers" | "-n" => subscribers = Some(parse_list(&value(&arg)?)?),
                "--rates" => args.rates = parse_list(&value(&arg)?)?,
                "--cluster-subscribers" => {
                    cluster_subscribers = Some(parse_list(&value(&arg)?)?);
                }
                "--cluster-rates" => args.cluster_rates = parse_list(&value(&arg)?)?,
                "--nodes" => args.nodes = value(&arg)?.parse()?,
                "--secs" => phase_secs = Some(parse_positive(&value(&arg)?)?),
                "--saturated-secs" => saturated_secs = Some(value(&arg)?.parse::<f64>()?),
                "--window" => args.window = value(&arg)?.parse()?,
                "--per-worker" => args.per_worker = value(&arg)?.parse()?,
                "--gen-threads" => args.gen_threads = value(&arg)?.parse()?,
                "--nchan-workers" => args.nchan_workers = value(&arg)?.parse()?,
                "--redis-fsync" => {
                    args.redis_fsync = value(&arg)?;
                    if !["always", "everysec", "no"].contains(&args.redis_fsync.as_str()) {
                        bail!("--redis-fsync takes always, everysec or no");
                    }
                }
                "--tidings-bin" => args.tidings_bin = PathBuf::from(value(&arg)?),
                other => bail!("unknown argument {other:?}; try --help"),
            }
        }
        if quick {
            args.subscribers = vec![1000];
            args.cluster_subscribers = vec![3000];
            args.phase_secs = 3.0;
            args.saturated_secs = 3.0;
        }
        args.subscribers = subscribers.unwrap_or(args.subscribers);
        args.cluster_subscribers = cluster_subscribers.unwrap_or(args.cluster_subscribers);
        args.phase_secs = phase_secs.unwrap_or(args.phase_secs);
        args.saturated_secs = saturated_secs.unwrap_or(args.saturated_secs);
        if args.nodes == 0 || args.nodes > 16 {
            bail!("--nodes must be 1-16");
        }
        if args.subscribers.iter().any(|&n| n == 0 || n > MAX_PER_NODE) {
            bail!(
                "single-node subscribers must be 1-{MAX_PER_NODE} (one process holds at most 20,000 sockets here)"
            );
        }
        if args
            .cluster_subscribers
            .iter()
            .any(|&n| n == 0 || n.div_ceil(args.nodes) > MAX_PER_NODE)
        {
            bail!("cluster subscribers must be at least 1 and at most {MAX_PER_NODE} per node");
        }
        if args
            .rates
            .iter()
            .chain(&args.cluster_rates)
            .any(|&r| r == 0 || r > 10_000)
        {
            bail!("rates must be 1-10000 events/s");
        }
        if args.window == 0
            || args.gen_threads == 0
            || args.nchan_workers == 0
            || args.per_worker == 0
            || args.per_worker > MAX_PER_NODE
        {
            bail!(
                "--window, --gen-threads, --nchan-workers must be at least 1, --per-worker 1-{MAX_PER_NODE}"
            );
        }
        args.command = std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect::<Vec<_>>()
            .join(" ");
        Ok(args)
    }

    /// The sizes, rates and servers of one part.
    fn plan(&self, part: Part) -> (&[usize], &[u32], Vec<Target>) {
        let mut targets = Vec::new();
        for &kind in &self.servers {
            match (part, kind) {
                (Part::Single, ServerKind::Tidings) => {
                    for &store in &self.stores {
                        targets.push(Target {
                            kind,
                            store,
                            nodes: 1,
                        });
                    }
                }
                (Part::Single, ServerKind::Nchan) => targets.push(Target {
                    kind,
                    store: Store::Local,
                    nodes: 1,
                }),
                (Part::Cluster, kind) => targets.push(Target {
                    kind,
                    store: Store::Redis,
                    nodes: self.nodes,
                }),
            }
        }
        match part {
            Part::Single => (&self.subscribers, &self.rates, targets),
            Part::Cluster => (&self.cluster_subscribers, &self.cluster_rates, targets),
        }
    }

    fn settings(&self) -> Settings<'_> {
        Settings {
            tidings_bin: &self.tidings_bin,
            tidings_config: TIDINGS_CONFIG,
            nchan_config: NCHAN_CONFIG,
            nchan_workers: self.nchan_workers,
            redis_fsync: &self.redis_fsync,
        }
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
// One deployment, one N: connect, measure idle memory, run the phases, tear down.

struct ServerRun<'a> {
    args: &'a Args,
    quiet: &'a QuietGate,
    target: Target,
    subscribers: usize,
    rates: &'a [u32],
    part: Part,
    saturate: bool,
    clock_ticks: f64,
}

impl ServerRun<'_> {
    fn run(&self, results: &mut Results) -> Result<()> {
        let n = self.subscribers;
        eprintln!("== {} with {n} subscribers", self.target.label());
        self.quiet.wait(self.clock_ticks);
        let deployment = Deployment::start(self.target, &self.args.settings())?;
        let outcome = self.run_on(&deployment, results);
        deployment.stop(outcome.is_err());
        outcome
    }

    fn run_on(&self, deployment: &Deployment, results: &mut Results) -> Result<()> {
        let n = self.subscribers;
        std::thread::sleep(SETTLE);
        let base = deployment.memory();

        let mut loadgen = Loadgen::start(n, self.args.per_worker, self.args.gen_threads)?;
        let ramp_started = Instant::now();
        let (connected, failed) = loadgen.connect(&deployment.addrs, deployment.stream_path())?;
        let ramp_secs = ramp_started.elapsed().as_secs_f64();
        eprintln!(
            "   {connected} subscribers connected in {ramp_secs:.1} s from {} load generator processes, {failed} failed",
            loadgen.processes()
        );
        std::thread::sleep(SETTLE);
        let idle = deployment.memory();
        let shared_memory = match self.target.kind {
            ServerKind::Nchan => nchan_shared_memory(deployment.addrs[0]).ok(),
            ServerKind::Tidings => None,
        };

        let mut phase = Phase {
            deployment,
            loadgen: &mut loadgen,
            subscribers: connected,
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
        for &rate in self.rates {
            let count = ((f64::from(rate) * self.args.phase_secs).round() as u32).max(1);
            let mut stats =
                self.measure(&mut phase, Plan::Rate { rate, count }, &format!("{rate}/s"))?;
            stats.rate = Some(rate);
            stats.connect_failures = failed;
            results.phases.push((self.part, stats));
        }
        if self.saturate {
            let plan = Plan::Window {
                secs: self.args.saturated_secs,
                window: self.args.window,
            };
            let mut stats = self.measure(&mut phase, plan, "saturated")?;
            stats.connect_failures = failed;
            results.saturated.push((self.part, stats));
        }
        let after = deployment.memory();
        results.memory.push(MemoryStats {
            target: self.target,
            subscribers: n,
            connected,
            ramp_secs,
            base,
            idle,
            after,
            shared_memory,
        });
        drop(loadgen);
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
    addrs: &[SocketAddr],
    tracker: &Arc<Tracker>,
    plan: Plan,
    first_seq: u32,
) -> Result<PublishReport> {
    let (tracker, addrs) = (Arc::clone(tracker), addrs.to_vec());
    let thread = std::thread::Builder::new().name("publisher".into()).spawn(
        move || -> Result<PublishReport> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(publish_async(kind, &addrs, tracker, plan, first_seq))
        },
    )?;
    thread
        .join()
        .map_err(|_| anyhow!("the publisher thread panicked"))?
}

/// Publishes over `PUBLISH_CONNECTIONS` keep-alive connections spread over every node, so a
/// cluster takes its publishes on every node as a load balancer would send them.
async fn publish_async(
    kind: ServerKind,
    addrs: &[SocketAddr],
    tracker: Arc<Tracker>,
    plan: Plan,
    first_seq: u32,
) -> Result<PublishReport> {
    let (pool_tx, mut pool_rx) = mpsc::unbounded_channel::<HttpConn>();
    for index in 0..PUBLISH_CONNECTIONS {
        let conn = HttpConn::open(addrs[index % addrs.len()])
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
                    while !tracker.complete(oldest) {
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
        let (pool_tx, done_tx) = (pool_tx.clone(), done_tx.clone());
        tasks.spawn(async move {
            let sent_nanos = wall_nanos();
            let request = publish_request(kind, conn.addr, &payload(seq, sent_nanos));
            let outcome = tokio::time::timeout(REQUEST_TIMEOUT, conn.roundtrip(&request)).await;
            let latency = wall_nanos().saturating_sub(sent_nanos) / 1000;
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
                match HttpConn::open(conn.addr).await {
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
    addr: SocketAddr,
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
            addr,
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

fn nchan_shared_memory(addr: SocketAddr) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut conn = HttpConn::open(addr).await?;
        let request = format!("GET /status HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        let (_, body) =
            tokio::time::timeout(REQUEST_TIMEOUT, conn.roundtrip(request.as_bytes())).await??;
        let text = String::from_utf8_lossy(&body).into_owned();
        text.lines()
            .find_map(|line| line.strip_prefix("shared memory used:"))
            .map(|used| used.trim().to_owned())
            .context("no shared memory figure in nchan's status")
    })
}

// ---------------------------------------------------------------------------------------------
// Phases: publish, drain, collect, compute.

struct Phase<'a> {
    deployment: &'a Deployment,
    loadgen: &'a mut Loadgen,
    /// Subscribers connected by the ramp: every event must reach each of them.
    subscribers: usize,
    clock_ticks: f64,
    next_seq: u32,
}

impl Phase<'_> {
    fn run(&mut self, plan: Plan, label: &str) -> Result<PhaseStats> {
        let first_seq = self.next_seq;
        let subscribers = self.subscribers;
        self.loadgen.phase(first_seq)?;
        let node_ticks = self.deployment.node_ticks();
        let redis_ticks = self.deployment.redis_ticks();
        let gen_ticks = self.loadgen.cpu_ticks() + cpu_ticks(std::process::id()).unwrap_or(0);
        let machine_ticks = machine_busy_ticks().unwrap_or(0);
        let started = Instant::now();

        let tracker = Arc::clone(&self.loadgen.tracker);
        let report = publish(
            self.deployment.target.kind,
            &self.deployment.addrs,
            &tracker,
            plan,
            first_seq,
        )?;
        let span = report.published.len() as u32;
        self.next_seq = first_seq + span;

        // Drain: until every published event reached every subscriber still connected.
        let drain_started = Instant::now();
        let mut drained = false;
        while drain_started.elapsed() < DRAIN_TIMEOUT {
            if report
                .published
                .iter()
                .filter(|p| p.ok)
                .all(|p| tracker.complete(p.seq))
            {
                drained = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let measured_secs = started.elapsed().as_secs_f64();
        let ticks = |now: u64, before: u64| now.saturating_sub(before) as f64 / self.clock_ticks;
        let redis_cpu_secs = ticks(self.deployment.redis_ticks(), redis_ticks);
        let server_cpu_secs = ticks(self.deployment.node_ticks(), node_ticks) + redis_cpu_secs;
        let gen_cpu_secs = ticks(
            self.loadgen.cpu_ticks() + cpu_ticks(std::process::id()).unwrap_or(0),
            gen_ticks,
        );
        let machine_cpu_secs = ticks(machine_busy_ticks().unwrap_or(0), machine_ticks);
        let other_cpu_secs = (machine_cpu_secs - server_cpu_secs - gen_cpu_secs).max(0.0);

        // Per event: deliveries and the latest arrival, summed over the workers.
        let reports = self.loadgen.collect(first_seq, span)?;
        let mut per_event_count = vec![0u32; span as usize];
        let mut per_event_last = vec![0u32; span as usize];
        let mut histogram = Histogram::default();
        let (mut duplicates, mut garbled, mut disconnected) = (0u64, 0u64, 0usize);
        for worker in &reports {
            for (index, (&count, &last)) in
                worker.counts.iter().zip(&worker.last_micros).enumerate()
            {
                if let (Some(total), Some(latest)) = (
                    per_event_count.get_mut(index),
                    per_event_last.get_mut(index),
                ) {
                    *total += count;
                    *latest = (*latest).max(last);
                }
            }
            histogram.merge(&worker.histogram);
            duplicates += worker.duplicates;
            garbled += worker.garbled;
            disconnected += worker.disconnected;
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
        completions.sort_unstable();
        publish_micros.sort_unstable();
        Ok(PhaseStats {
            target: self.deployment.target,
            label: label.to_owned(),
            rate: None,
            subscribers,
            connect_failures: 0,
            events: ok.len(),
            publish_failures: report.published.len() - ok.len(),
            expected,
            delivered,
            drained,
            disconnected,
            garbled,
            duplicates,
            incomplete_events: ok.len() - completions.len(),
            latency: Percentiles::of_histogram(&histogram),
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
            redis_cpu_secs,
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

    /// From a merged latency histogram (each value within 1.6 % of the exact one).
    fn of_histogram(histogram: &Histogram) -> Self {
        Self {
            p50_ms: histogram.quantile_ms(0.50),
            p99_ms: histogram.quantile_ms(0.99),
            max_ms: histogram.max_ms(),
            count: usize::try_from(histogram.total()).unwrap_or(usize::MAX),
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
    target: Target,
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
    /// The nodes and, when there is one, Redis.
    server_cpu_secs: f64,
    /// Redis alone (part of `server_cpu_secs`).
    redis_cpu_secs: f64,
    /// The load generator's workers and the publisher.
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

    /// Server CPU per subscriber, in microseconds per second (at this phase's event rate).
    fn cpu_micros_per_subscriber(&self) -> f64 {
        self.server_cpu_secs / self.measured_secs.max(1e-9) / self.subscribers.max(1) as f64 * 1e6
    }

    fn cores(&self, secs: f64) -> f64 {
        secs / self.measured_secs.max(1e-9)
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
        let what = format!(
            "{} N={} {}",
            self.target.label(),
            self.subscribers,
            self.label
        );
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
    target: Target,
    subscribers: usize,
    connected: usize,
    ramp_secs: f64,
    /// (nodes together, Redis) before connecting, with N idle, after the phases.
    base: (Memory, Memory),
    idle: (Memory, Memory),
    after: (Memory, Memory),
    shared_memory: Option<String>,
}

impl MemoryStats {
    /// The nodes' Pss growth per connected subscriber, in KiB.
    fn per_subscriber_kib(&self, at: &(Memory, Memory)) -> f64 {
        (at.0.pss_kib as f64 - self.base.0.pss_kib as f64) / self.connected.max(1) as f64
    }
}

#[derive(Default)]
struct Results {
    phases: Vec<(Part, PhaseStats)>,
    saturated: Vec<(Part, PhaseStats)>,
    memory: Vec<MemoryStats>,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Results {
    fn all_delivered(&self) -> bool {
        self.phases
            .iter()
            .chain(&self.saturated)
            .all(|(_, p)| p.lossless())
    }

    fn report(&self, args: &Args) -> String {
        let mut out = String::new();
        for part in [Part::Single, Part::Cluster] {
            let phases: Vec<&PhaseStats> = self
                .phases
                .iter()
                .filter(|(p, _)| *p == part)
                .map(|(_, s)| s)
                .collect();
            if phases.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n## {}: one event to N SSE subscribers, {PAYLOAD_BYTES}-byte payloads, {} s per rate\n",
                match part {
                    Part::Single => "Single node".to_owned(),
                    Part::Cluster => format!("{} nodes on one Redis", args.nodes),
                },
                args.phase_secs
            );
            let _ = writeln!(
                out,
                "| server | store | nodes | N | events/s | delivered / expected | delivery latency | fan-out completion | publish latency | server CPU (cores) | of which Redis | CPU per subscriber (µs/s) | deliveries per server CPU-s | load generator CPU (cores) | other CPU (cores) |"
            );
            let _ = writeln!(
                out,
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
            for p in phases {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.1} | {:.0} | {:.2} | {:.2} |",
                    p.target.kind.name(),
                    p.target.store_name(),
                    p.target.nodes,
                    p.subscribers,
                    p.rate_cell(),
                    p.delivery_cell(),
                    p.latency.cell(),
                    p.completion.cell(),
                    p.publish.cell(),
                    p.cores(p.server_cpu_secs),
                    p.cores(p.redis_cpu_secs),
                    p.cpu_micros_per_subscriber(),
                    p.deliveries_per_cpu_sec(),
                    p.cores(p.gen_cpu_secs),
                    p.cores(p.other_cpu_secs),
                );
            }
        }
        if !self.saturated.is_empty() {
            let _ = writeln!(
                out,
                "\n## Saturated delivery: {} events in flight for {} s, at each part's largest N\n",
                args.window, args.saturated_secs
            );
            let _ = writeln!(
                out,
                "| server | store | nodes | N | events | delivered / expected | deliveries/s | server CPU (cores) | of which Redis | deliveries per server CPU-s | fan-out completion | publish latency | load generator CPU (cores) | other CPU (cores) |"
            );
            let _ = writeln!(
                out,
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
            for (_, p) in &self.saturated {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {} | {} | {:.2} | {:.2} |",
                    p.target.kind.name(),
                    p.target.store_name(),
                    p.target.nodes,
                    p.subscribers,
                    p.events,
                    p.delivery_cell(),
                    p.delivered as f64 / p.busy_secs,
                    p.cores(p.server_cpu_secs),
                    p.cores(p.redis_cpu_secs),
                    p.deliveries_per_cpu_sec(),
                    p.completion.cell(),
                    p.publish.cell(),
                    p.cores(p.gen_cpu_secs),
                    p.cores(p.other_cpu_secs),
                );
            }
        }
        let _ = writeln!(out, "\n## Memory per subscriber\n");
        let _ = writeln!(
            out,
            "Proportional set size (Pss, shared pages split between processes; every node summed, all nginx processes of a node summed), \
             before connecting, with N idle subscribers, and after the phases; Redis on its own. Kernel socket buffers are not included.\n"
        );
        let _ = writeln!(
            out,
            "| server | store | nodes | N | connected (ramp s) | before (MiB) | N idle (MiB) | per idle subscriber (KiB) | after phases (MiB) | per subscriber after (KiB) | RSS with N idle (MiB) | Redis idle / after (MiB) | nchan shared memory used |"
        );
        let _ = writeln!(
            out,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        );
        for m in &self.memory {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} ({:.1}) | {:.1} | {:.1} | {:.2} | {:.1} | {:.2} | {:.1} | {} | {} |",
                m.target.kind.name(),
                m.target.store_name(),
                m.target.nodes,
                m.subscribers,
                m.connected,
                m.ramp_secs,
                mib(m.base.0.pss_kib),
                mib(m.idle.0.pss_kib),
                m.per_subscriber_kib(&m.idle),
                mib(m.after.0.pss_kib),
                m.per_subscriber_kib(&m.after),
                mib(m.idle.0.rss_kib),
                if m.target.store == Store::Redis {
                    format!(
                        "{:.1} / {:.1}",
                        mib(m.idle.1.pss_kib),
                        mib(m.after.1.pss_kib)
                    )
                } else {
                    "–".to_owned()
                },
                m.shared_memory.as_deref().unwrap_or("–"),
            );
        }
        out.push_str(&self.targets());
        let problems: Vec<String> = self
            .phases
            .iter()
            .chain(&self.saturated)
            .flat_map(|(_, p)| p.problems())
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
            "\nCommand: `cargo bench --bench fanout{}{}`; nginx worker_processes {} per instance, load generator processes of at most {} subscribers with {} threads each, Redis appendfsync {}.",
            if args.command.is_empty() { "" } else { " -- " },
            args.command,
            args.nchan_workers,
            args.per_worker,
            args.gen_threads,
            args.redis_fsync,
        );
        out
    }

    /// The targets, checked against whatever this run measured: Tidings ahead of nchan
    /// wherever both reach a size and rate, every event delivered at the largest cluster size,
    /// publish latency independent of N, memory per idle subscriber.
    fn targets(&self) -> String {
        let mut out = String::from("\n## Targets\n\n");
        let verdict = |met: bool| if met { "met" } else { "**missed**" };
        let reached = |p: &PhaseStats| p.lossless() && (p.events as u32) >= p.planned;
        for (part, t) in self
            .phases
            .iter()
            .filter(|(_, p)| p.target.kind == ServerKind::Tidings)
        {
            for (_, n) in self.phases.iter().filter(|(other, p)| {
                other == part
                    && p.target.kind == ServerKind::Nchan
                    && p.subscribers == t.subscribers
                    && p.rate == t.rate
            }) {
                let both = reached(t) && reached(n);
                let _ = writeln!(
                    out,
                    "- fan-out completion p50 at N={}, {}/s: {} {} ms, {} {} ms: {}",
                    t.subscribers,
                    t.rate.unwrap_or(0),
                    t.target.label(),
                    ms(t.completion.p50_ms),
                    n.target.label(),
                    ms(n.completion.p50_ms),
                    // Like for like: a store in the process (SQLite, shared memory) against
                    // the same, Redis against Redis; the rest is for information.
                    if t.target.store != n.target.store {
                        "for information (different stores)".to_owned()
                    } else if both {
                        verdict(t.completion.p50_ms <= n.completion.p50_ms).to_owned()
                    } else if reached(t) {
                        "met (nchan did not reach this load)".to_owned()
                    } else {
                        verdict(false).to_owned()
                    }
                );
            }
        }
        for (part, t) in self
            .saturated
            .iter()
            .filter(|(_, p)| p.target.kind == ServerKind::Tidings)
        {
            for (_, n) in self.saturated.iter().filter(|(other, p)| {
                other == part
                    && p.target.kind == ServerKind::Nchan
                    && p.subscribers == t.subscribers
            }) {
                let ratio = t.deliveries_per_cpu_sec() / n.deliveries_per_cpu_sec().max(1e-9);
                let _ = writeln!(
                    out,
                    "- saturated deliveries per server CPU-second at N={}: {} {:.0}, {} {:.0}, ratio {ratio:.2}: {}",
                    t.subscribers,
                    t.target.label(),
                    t.deliveries_per_cpu_sec(),
                    n.target.label(),
                    n.deliveries_per_cpu_sec(),
                    if t.target.store == n.target.store {
                        verdict(ratio >= 1.0 && t.lossless())
                    } else {
                        "for information (different stores)"
                    }
                );
            }
        }
        let largest_cluster = self
            .phases
            .iter()
            .filter(|(part, p)| *part == Part::Cluster && p.target.kind == ServerKind::Tidings)
            .map(|(_, p)| p.subscribers)
            .max();
        if let Some(largest) = largest_cluster {
            let runs: Vec<&PhaseStats> = self
                .phases
                .iter()
                .chain(&self.saturated)
                .filter(|(part, p)| {
                    *part == Part::Cluster
                        && p.target.kind == ServerKind::Tidings
                        && p.subscribers == largest
                })
                .map(|(_, p)| p)
                .collect();
            let _ = writeln!(
                out,
                "- every event delivered to all {largest} subscribers across the nodes, in all {} phases: {}",
                runs.len(),
                verdict(runs.iter().all(|p| p.lossless()))
            );
        }
        let singles: Vec<&PhaseStats> = self
            .phases
            .iter()
            .filter(|(part, p)| *part == Part::Single && p.target.kind == ServerKind::Tidings)
            .map(|(_, p)| p)
            .collect();
        for small in &singles {
            for large in singles.iter().filter(|large| {
                large.target == small.target
                    && large.rate == small.rate
                    && large.subscribers > small.subscribers
            }) {
                // "Independent": within 2x + 1 ms, at the median and the tail.
                let within = |a: f64, b: f64| b <= 2.0 * a + 1.0;
                let _ = writeln!(
                    out,
                    "- publish latency p50 / p99 at {}/s, {}, N={} → N={}: {} / {} → {} / {} ms (target: independent of N): {}",
                    small.rate.unwrap_or(0),
                    small.target.label(),
                    small.subscribers,
                    large.subscribers,
                    ms(small.publish.p50_ms),
                    ms(small.publish.p99_ms),
                    ms(large.publish.p50_ms),
                    ms(large.publish.p99_ms),
                    verdict(
                        within(small.publish.p50_ms, large.publish.p50_ms)
                            && within(small.publish.p99_ms, large.publish.p99_ms)
                    )
                );
            }
        }
        for m in self
            .memory
            .iter()
            .filter(|m| m.target.kind == ServerKind::Tidings)
        {
            let per_kib = m.per_subscriber_kib(&m.idle);
            let _ = writeln!(
                out,
                "- memory per idle subscriber at N={}, {}: {per_kib:.2} KiB (target ≤ 10 KiB): {}",
                m.subscribers,
                m.target.label(),
                verdict(per_kib <= 10.0)
            );
        }
        out
    }
}
