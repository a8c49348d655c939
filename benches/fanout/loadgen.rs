//! The load generator: SSE subscribers in child processes (this bench binary re-executed with
//! `--loadgen-worker`), because one process may hold at most 20,000 sockets here and 50,000
//! subscribers need several processes.
//!
//! The parent talks to each worker over its stdin and stdout, one line per message:
//!
//! - `connect COUNT OFFSET PATH ADDR,ADDR,...`: open COUNT streams; subscriber `OFFSET + i`
//!   connects to address `(OFFSET + i) % addresses`. Answered `connected ALIVE FAILED` or
//!   `error TEXT`.
//! - `phase FIRST`: a phase starts at sequence number FIRST (older events are no longer
//!   watched for completion).
//! - `collect FIRST SPAN`: answered `report JSON`, this worker's [`WorkerReport`] for the
//!   events `FIRST..FIRST+SPAN`, and its per-subscriber records are cleared.
//! - `quit`.
//!
//! Unasked, a worker prints `done SEQ` as soon as event SEQ has reached every subscriber it
//! holds, so the parent knows when an event is everywhere (for draining and for the saturation
//! window) without collecting anything.
//!
//! Latency is measured against the wall clock (`SystemTime`), the one clock every process
//! shares: the publisher puts its send time in the payload, a subscriber subtracts it from its
//! read time.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::procfs::cpu_ticks;
use crate::{MARKER, MAX_EVENTS, find};

/// The first argument that makes this binary a load-generator worker.
pub const WORKER_FLAG: &str = "--loadgen-worker";
/// Read buffer per subscriber; a frame is well under 1 KiB, several fit when the reader lags.
const READ_BUF_BYTES: usize = 8192;
/// Subscribers of one worker connecting at once during the ramp. More than a listen backlog of
/// 128 (tokio's default) can queue, on purpose: a reconnect storm looks like this, and the ramp
/// time shows it.
const CONNECT_CONCURRENCY: usize = 256;
/// Connect plus response headers, per subscriber.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole ramp.
const RAMP_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the parent waits for a worker's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(240);

/// Nanoseconds since the Unix epoch: the clock shared by the publisher and every worker.
pub fn wall_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

// ---------------------------------------------------------------------------------------------
// Latency histogram: log-linear, 64 steps per power of two (at most 1.6 % off), mergeable.

const HISTOGRAM_BUCKETS: usize = 27 * 64;

fn bucket_of(micros: u32) -> usize {
    if micros < 64 {
        return micros as usize;
    }
    let exponent = 31 - micros.leading_zeros();
    (((exponent - 5) << 6) | ((micros >> (exponent - 6)) & 63)) as usize
}

/// (lowest value, width) of a bucket, in microseconds.
fn bucket_range(bucket: usize) -> (u64, u64) {
    if bucket < 64 {
        return (bucket as u64, 1);
    }
    let exponent = (bucket >> 6) as u32 + 5;
    let width = 1u64 << (exponent - 6);
    ((64 | (bucket as u64 & 63)) * width, width)
}

/// Counts per bucket (microseconds).
#[derive(Clone, Default)]
pub struct Histogram {
    counts: Vec<u64>,
}

impl Histogram {
    fn record(&mut self, micros: u32) {
        if self.counts.is_empty() {
            self.counts = vec![0; HISTOGRAM_BUCKETS];
        }
        self.counts[bucket_of(micros)] += 1;
    }

    pub fn merge(&mut self, sparse: &[(u16, u64)]) {
        if self.counts.is_empty() {
            self.counts = vec![0; HISTOGRAM_BUCKETS];
        }
        for &(bucket, count) in sparse {
            if let Some(slot) = self.counts.get_mut(usize::from(bucket)) {
                *slot += count;
            }
        }
    }

    fn sparse(&self) -> Vec<(u16, u64)> {
        (0u16..)
            .zip(&self.counts)
            .filter(|&(_, &count)| count > 0)
            .map(|(bucket, &count)| (bucket, count))
            .collect()
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The value at quantile `q` (the middle of its bucket), in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, width) = bucket_range(bucket);
                return (low as f64 + (width - 1) as f64 / 2.0) / 1000.0;
            }
        }
        0.0
    }

    /// The top of the highest non-empty bucket, in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.counts
            .iter()
            .rposition(|&count| count > 0)
            .map_or(0.0, |bucket| {
                let (low, width) = bucket_range(bucket);
                (low + width - 1) as f64 / 1000.0
            })
    }
}

// ---------------------------------------------------------------------------------------------
// The worker process

/// What one worker saw of one phase.
#[derive(Serialize, Deserialize)]
pub struct WorkerReport {
    /// Subscribers with an open stream now.
    pub alive: usize,
    /// Streams the server ended since the last report.
    pub disconnected: usize,
    /// Markers that did not parse, or frames that did not fit the read buffer, since the last
    /// report.
    pub garbled: u64,
    /// Second copies of an event at the same subscriber.
    pub duplicates: u64,
    /// Per event of the span: deliveries.
    pub counts: Vec<u32>,
    /// Per event of the span: the latest delivery's latency in microseconds.
    pub last_micros: Vec<u32>,
    /// Delivery latencies, as (bucket, count).
    pub histogram: Vec<(u16, u64)>,
}

/// Per-delivery records of one subscriber: (sequence number, latency in microseconds), in
/// arrival order. The subscriber appends once per read; `collect` takes them.
type Records = Mutex<Vec<(u32, u32)>>;

struct WorkerShared {
    /// Deliveries per sequence number, to know when an event has reached every subscriber.
    count: Vec<AtomicU32>,
    /// The highest sequence number seen.
    highest: AtomicU32,
    /// Where the current phase starts.
    phase_first: AtomicU32,
    alive: AtomicUsize,
    failed: AtomicUsize,
    disconnected: AtomicUsize,
    garbled: AtomicU64,
}

/// Runs a worker until its parent says `quit` or closes its stdin.
pub fn worker_main(threads: usize) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("loadgen")
        .enable_all()
        .build()
        .context("building the load generator runtime")?;
    let shared = Arc::new(WorkerShared {
        count: (0..MAX_EVENTS).map(|_| AtomicU32::new(0)).collect(),
        highest: AtomicU32::new(0),
        phase_first: AtomicU32::new(0),
        alive: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        disconnected: AtomicUsize::new(0),
        garbled: AtomicU64::new(0),
    });
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let say = |line: &str| {
        let mut out = out.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    runtime.spawn(announce_complete(Arc::clone(&shared), Arc::clone(&out)));
    let mut handles: Vec<JoinHandle<()>> = Vec::new();
    let mut records: Vec<Arc<Records>> = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading the parent's command")?;
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["connect", count, offset, path, addrs] => {
                let count: usize = count.parse()?;
                let offset: usize = offset.parse()?;
                let addrs: Vec<SocketAddr> =
                    addrs.split(',').map(str::parse).collect::<Result<_, _>>()?;
                records = (0..count).map(|_| Arc::default()).collect();
                let opened = runtime.block_on(connect_all(&addrs, path, offset, &shared, &records));
                match opened {
                    Ok(opened) => {
                        handles = opened;
                        say(&format!(
                            "connected {} {}",
                            shared.alive.load(Ordering::SeqCst),
                            shared.failed.load(Ordering::SeqCst)
                        ));
                    }
                    Err(err) => say(&format!("error {err:#}")),
                }
            }
            ["phase", first] => shared.phase_first.store(first.parse()?, Ordering::SeqCst),
            ["collect", first, span] => {
                let report = collect(&shared, &records, first.parse()?, span.parse()?);
                say(&format!("report {}", serde_json::to_string(&report)?));
            }
            ["quit"] => break,
            _ => say(&format!("error unknown command {line:?}")),
        }
    }
    for handle in &handles {
        handle.abort();
    }
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

/// Prints `done SEQ` once per event, as soon as every subscriber of this worker has it.
async fn announce_complete(shared: Arc<WorkerShared>, out: Arc<Mutex<std::io::Stdout>>) {
    let mut announced = vec![false; MAX_EVENTS];
    let mut cursor = 1usize;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut lines = String::new();
    loop {
        tick.tick().await;
        cursor = cursor.max(shared.phase_first.load(Ordering::SeqCst) as usize);
        let alive = shared.alive.load(Ordering::SeqCst) as u32;
        let highest = (shared.highest.load(Ordering::SeqCst) as usize).min(MAX_EVENTS - 1);
        if alive == 0 {
            continue;
        }
        let start = cursor;
        let mut prefix_done = true;
        for (seq, seen) in announced
            .iter_mut()
            .enumerate()
            .take(highest + 1)
            .skip(start)
        {
            if !*seen && shared.count[seq].load(Ordering::Relaxed) >= alive {
                *seen = true;
                let _ = writeln!(lines, "done {seq}");
            }
            if prefix_done && *seen {
                cursor = seq + 1;
            } else {
                prefix_done = false;
            }
        }
        if !lines.is_empty() {
            let mut out = out.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = out.write_all(lines.as_bytes());
            let _ = out.flush();
            lines.clear();
        }
    }
}

fn collect(shared: &WorkerShared, records: &[Arc<Records>], first: u32, span: u32) -> WorkerReport {
    let span_len = span as usize;
    let mut counts = vec![0u32; span_len];
    let mut last_micros = vec![0u32; span_len];
    // Which subscriber (index + 1) last had each event: a second copy is a duplicate. Order is
    // not checked: concurrent publishes may legitimately be applied out of sequence order.
    let mut last_holder = vec![0u32; span_len];
    let mut histogram = Histogram::default();
    let mut duplicates = 0u64;
    for (holder, record) in (1u32..).zip(records) {
        let taken = std::mem::take(&mut *record.lock().unwrap_or_else(PoisonError::into_inner));
        for (seq, micros) in taken {
            if seq < first || seq >= first + span {
                continue;
            }
            let index = (seq - first) as usize;
            if last_holder[index] == holder {
                duplicates += 1;
                continue;
            }
            last_holder[index] = holder;
            counts[index] += 1;
            last_micros[index] = last_micros[index].max(micros);
            histogram.record(micros);
        }
    }
    WorkerReport {
        alive: shared.alive.load(Ordering::SeqCst),
        disconnected: shared.disconnected.swap(0, Ordering::SeqCst),
        garbled: shared.garbled.swap(0, Ordering::SeqCst),
        duplicates,
        counts,
        last_micros,
        histogram: histogram.sparse(),
    }
}

/// Opens every subscriber stream, `CONNECT_CONCURRENCY` at a time, and returns once all have
/// their response headers or failed.
async fn connect_all(
    addrs: &[SocketAddr],
    path: &str,
    offset: usize,
    shared: &Arc<WorkerShared>,
    records: &[Arc<Records>],
) -> Result<Vec<JoinHandle<()>>> {
    let requests: Vec<Arc<[u8]>> = addrs
        .iter()
        .map(|addr| {
            format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
            )
            .into_bytes()
            .into()
        })
        .collect();
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut handles = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        let target = (offset + index) % addrs.len();
        let (addr, request) = (addrs[target], Arc::clone(&requests[target]));
        let permits = Arc::clone(&permits);
        let (shared, record) = (Arc::clone(shared), Arc::clone(record));
        handles.push(tokio::spawn(async move {
            let Ok(permit) = permits.acquire_owned().await else {
                return;
            };
            let opened = tokio::time::timeout(CONNECT_TIMEOUT, open_stream(addr, &request)).await;
            drop(permit);
            let (stream, buffer, filled) = match opened {
                Ok(Ok(open)) => open,
                failure => {
                    // The first few reasons, so a failed ramp says why.
                    if shared.failed.fetch_add(1, Ordering::SeqCst) < 3 {
                        match failure {
                            Ok(Err(err)) => eprintln!("   !! subscriber to {addr}: {err:#}"),
                            _ => eprintln!("   !! subscriber to {addr}: timed out"),
                        }
                    }
                    return;
                }
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
        let (alive, failed) = (
            shared.alive.load(Ordering::SeqCst),
            shared.failed.load(Ordering::SeqCst),
        );
        // A stream the server ended during the ramp is done too (and counted as a loss).
        let ended = shared.disconnected.load(Ordering::SeqCst);
        if alive + failed + ended >= total {
            break;
        }
        if started.elapsed() > RAMP_TIMEOUT {
            bail!(
                "after {RAMP_TIMEOUT:?}, of {total} subscribers {alive} are connected, {failed} failed and {ended} were ended by the server"
            );
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
    shared: &WorkerShared,
    record: &Records,
) {
    let mut found = Vec::with_capacity(16);
    loop {
        if filled > 0 {
            let consumed = scan(&buffer[..filled], wall_nanos(), &mut found, shared);
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
fn scan(bytes: &[u8], now_nanos: u64, found: &mut Vec<(u32, u32)>, shared: &WorkerShared) -> usize {
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
        match (u32::try_from(seq), shared.count.get(seq as usize)) {
            (Ok(seq), Some(count)) if after_seq > fields && after_sent > after_seq => {
                count.fetch_add(1, Ordering::Relaxed);
                shared.highest.fetch_max(seq, Ordering::Relaxed);
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

// ---------------------------------------------------------------------------------------------
// The parent's side

/// Which events every worker has announced complete.
pub struct Tracker {
    done: Vec<AtomicU32>,
    workers: u32,
}

impl Tracker {
    /// True once every subscriber of every worker has event `seq`.
    pub fn complete(&self, seq: u32) -> bool {
        self.done
            .get(seq as usize)
            .is_some_and(|done| done.load(Ordering::Relaxed) >= self.workers)
    }
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    replies: std::sync::mpsc::Receiver<String>,
    subscribers: usize,
}

/// The worker processes of one server run.
pub struct Loadgen {
    workers: Vec<Worker>,
    pub tracker: Arc<Tracker>,
}

impl Loadgen {
    /// Starts enough workers that none holds more than `per_worker` subscribers.
    pub fn start(subscribers: usize, per_worker: usize, threads: usize) -> Result<Self> {
        let count = subscribers.div_ceil(per_worker.max(1)).max(1);
        let tracker = Arc::new(Tracker {
            done: (0..MAX_EVENTS).map(|_| AtomicU32::new(0)).collect(),
            workers: u32::try_from(count)?,
        });
        let exe = std::env::current_exe().context("finding the bench binary")?;
        let mut workers = Vec::with_capacity(count);
        for index in 0..count {
            let share = subscribers / count + usize::from(index < subscribers % count);
            let mut child = Command::new(&exe)
                .arg(WORKER_FLAG)
                .arg(threads.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .context("starting a load generator worker")?;
            let stdin = child.stdin.take().context("no worker stdin")?;
            let stdout = child.stdout.take().context("no worker stdout")?;
            let (reply_tx, replies) = std::sync::mpsc::channel();
            let tracker = Arc::clone(&tracker);
            std::thread::Builder::new()
                .name("loadgen-reader".into())
                .spawn(move || {
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { return };
                        if let Some(seq) = line.strip_prefix("done ") {
                            if let Some(done) = seq
                                .parse::<usize>()
                                .ok()
                                .and_then(|seq| tracker.done.get(seq))
                            {
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                        } else if reply_tx.send(line).is_err() {
                            return;
                        }
                    }
                })?;
            workers.push(Worker {
                child,
                stdin,
                replies,
                subscribers: share,
            });
        }
        Ok(Self { workers, tracker })
    }

    pub fn processes(&self) -> usize {
        self.workers.len()
    }

    fn send(worker: &mut Worker, line: &str) -> Result<()> {
        writeln!(worker.stdin, "{line}").context("writing to a load generator worker")?;
        worker.stdin.flush()?;
        Ok(())
    }

    fn reply(worker: &Worker) -> Result<String> {
        let line = worker
            .replies
            .recv_timeout(REPLY_TIMEOUT)
            .context("a load generator worker did not answer")?;
        if let Some(error) = line.strip_prefix("error ") {
            bail!("load generator worker: {error}");
        }
        Ok(line)
    }

    /// Opens every subscriber, spread round-robin over `addrs`. Returns (connected, failed).
    pub fn connect(&mut self, addrs: &[SocketAddr], path: &str) -> Result<(usize, usize)> {
        let list = addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut offset = 0;
        for worker in &mut self.workers {
            let line = format!("connect {} {offset} {path} {list}", worker.subscribers);
            Self::send(worker, &line)?;
            offset += worker.subscribers;
        }
        let (mut connected, mut failed) = (0, 0);
        for worker in &self.workers {
            let line = Self::reply(worker)?;
            let mut words = line.split_whitespace().skip(1);
            let mut number = || -> Result<usize> {
                Ok(words
                    .next()
                    .with_context(|| format!("bad answer {line:?}"))?
                    .parse()?)
            };
            connected += number()?;
            failed += number()?;
        }
        Ok((connected, failed))
    }

    /// Tells the workers a phase starts at `first`.
    pub fn phase(&mut self, first: u32) -> Result<()> {
        for worker in &mut self.workers {
            Self::send(worker, &format!("phase {first}"))?;
        }
        Ok(())
    }

    /// Every worker's report on the events `first..first + span`.
    pub fn collect(&mut self, first: u32, span: u32) -> Result<Vec<WorkerReport>> {
        for worker in &mut self.workers {
            Self::send(worker, &format!("collect {first} {span}"))?;
        }
        self.workers
            .iter()
            .map(|worker| {
                let line = Self::reply(worker)?;
                let json = line
                    .strip_prefix("report ")
                    .with_context(|| format!("unexpected answer {line:?}"))?;
                serde_json::from_str(json).context("a worker's report")
            })
            .collect()
    }

    /// CPU time of the workers, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        self.workers
            .iter()
            .filter_map(|worker| cpu_ticks(worker.child.id()))
            .sum()
    }
}

impl Drop for Loadgen {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            let _ = Self::send(worker, "quit");
        }
        let asked = Instant::now();
        for worker in &mut self.workers {
            while asked.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = worker.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = worker.child.kill();
            let _ = worker.child.wait();
        }
    }
}
