//! The servers under test, as child processes: one Tidings node on SQLite or on Redis, several
//! Tidings nodes sharing one Redis, nginx + nchan on its own shared memory, or several nginx +
//! nchan sharing one Redis (nchan's own multi-server setup).

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::procfs::{cpu_ticks, proc_kib};

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    Tidings,
    Nchan,
}

impl ServerKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Tidings => "tidings",
            Self::Nchan => "nchan",
        }
    }
}

/// Where the server keeps its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// Tidings: its SQLite file; nchan: its shared memory.
    Local,
    /// One `redis-server` shared by every node.
    Redis,
}

/// A server, its store, and how many nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: ServerKind,
    pub store: Store,
    pub nodes: usize,
}

impl Target {
    pub fn store_name(self) -> &'static str {
        match (self.kind, self.store) {
            (ServerKind::Tidings, Store::Local) => "SQLite",
            (ServerKind::Nchan, Store::Local) => "memory",
            (_, Store::Redis) => "Redis",
        }
    }

    pub fn label(self) -> String {
        format!(
            "{} ({}, {} node{})",
            self.kind.name(),
            self.store_name(),
            self.nodes,
            if self.nodes == 1 { "" } else { "s" }
        )
    }
}

/// How a deployment is started.
pub struct Settings<'a> {
    pub tidings_bin: &'a Path,
    pub tidings_config: &'a str,
    pub nchan_config: &'a str,
    pub nchan_workers: usize,
    /// Redis `appendfsync`: always, everysec or no.
    pub redis_fsync: &'a str,
}

#[derive(Clone, Copy, Default)]
pub struct Memory {
    pub rss_kib: u64,
    pub pss_kib: u64,
}

impl std::ops::AddAssign for Memory {
    fn add_assign(&mut self, other: Self) {
        self.rss_kib += other.rss_kib;
        self.pss_kib += other.pss_kib;
    }
}

/// One child process (nginx: its master), with its directory and log.
struct Proc {
    name: &'static str,
    child: Child,
    /// Every process whose CPU and memory count (nginx: master and workers).
    pids: Vec<u32>,
    /// Config, data and logs; removed when dropped (after the process is gone).
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Proc {
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
}

impl Drop for Proc {
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

/// A running deployment: its nodes, and the Redis they share if any.
pub struct Deployment {
    pub target: Target,
    /// Where subscribers and publishers connect, one per node.
    pub addrs: Vec<SocketAddr>,
    // Dropped in this order: the nodes before the Redis they use.
    nodes: Vec<Proc>,
    redis: Option<Proc>,
}

impl Deployment {
    pub fn start(target: Target, settings: &Settings<'_>) -> Result<Self> {
        let redis = match target.store {
            Store::Redis => Some(start_redis(settings.redis_fsync)?),
            Store::Local => None,
        };
        let redis_port = redis.as_ref().map(|(_, port)| *port);
        let mut deployment = Self {
            target,
            addrs: Vec::new(),
            nodes: Vec::new(),
            redis: redis.map(|(proc, _)| proc),
        };
        for _ in 0..target.nodes {
            let (node, addr) = match target.kind {
                ServerKind::Tidings => start_tidings(settings, redis_port)?,
                ServerKind::Nchan => start_nchan(settings, redis_port)?,
            };
            deployment.nodes.push(node);
            deployment.addrs.push(addr);
        }
        Ok(deployment)
    }

    /// The subscriber's request path.
    pub fn stream_path(&self) -> &'static str {
        match self.target.kind {
            ServerKind::Tidings => "/v1/stream?channels=bench",
            ServerKind::Nchan => "/sub",
        }
    }

    /// CPU time of the nodes, in clock ticks.
    pub fn node_ticks(&self) -> u64 {
        self.nodes.iter().map(Proc::cpu_ticks).sum()
    }

    /// CPU time of Redis, in clock ticks (0 without Redis).
    pub fn redis_ticks(&self) -> u64 {
        self.redis.as_ref().map_or(0, Proc::cpu_ticks)
    }

    /// Memory of the nodes together, and of Redis.
    pub fn memory(&self) -> (Memory, Memory) {
        let mut nodes = Memory::default();
        for node in &self.nodes {
            nodes += node.memory();
        }
        (
            nodes,
            self.redis.as_ref().map(Proc::memory).unwrap_or_default(),
        )
    }

    /// Stops everything, printing the end of each log that shows trouble (every log when
    /// `failed`).
    pub fn stop(self, failed: bool) {
        let mut trouble = Vec::new();
        for proc in self.nodes.iter().chain(&self.redis) {
            let log = proc.log_tail();
            if failed
                || log.contains("panicked")
                || log.contains("ERROR")
                || log.contains("[emerg]")
                || log.contains("[error]")
            {
                trouble.push(format!("   {} log:\n{log}", proc.name));
            }
        }
        drop(self);
        for text in trouble {
            eprintln!("{text}");
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_redis(fsync: &str) -> Result<(Proc, u16)> {
    let dir = tempfile::Builder::new().prefix("fanout-redis-").tempdir()?;
    let port = free_port()?;
    let log = dir.path().join("redis.log");
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir.path())
        .args(["--daemonize", "no", "--save", ""])
        // The persistence docs/deploying.md recommends (`always`), unless told otherwise.
        .args(["--appendonly", "yes", "--appendfsync", fsync])
        .args(["--maxmemory-policy", "noeviction"])
        .arg("--logfile")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting redis-server (apt-get install redis-server)")?;
    let pid = child.id();
    let proc = Proc {
        name: "redis",
        child,
        pids: vec![pid],
        _dir: dir,
        log,
    };
    let started = Instant::now();
    loop {
        let pong = TcpStream::connect(("127.0.0.1", port)).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(2)))?;
            stream.write_all(b"PING\r\n")?;
            let mut reply = [0u8; 7];
            stream.read_exact(&mut reply)?;
            Ok(reply)
        });
        if matches!(pong, Ok(reply) if &reply == b"+PONG\r\n") {
            return Ok((proc, port));
        }
        if started.elapsed() > Duration::from_secs(15) {
            bail!(
                "redis-server did not answer within 15 s; its log:\n{}",
                proc.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_tidings(settings: &Settings<'_>, redis_port: Option<u16>) -> Result<(Proc, SocketAddr)> {
    let bin = settings.tidings_bin;
    let dir = tempfile::Builder::new()
        .prefix("fanout-tidings-")
        .tempdir()?;
    let config = dir.path().join("server.toml");
    std::fs::write(&config, settings.tidings_config)?;
    let data = dir.path().join("data");
    std::fs::create_dir(&data)?;
    let log = dir.path().join("server.log");
    let mut command = Command::new(bin);
    command
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&config);
    if let Some(port) = redis_port {
        command
            .arg("--broker")
            .arg(format!("redis://127.0.0.1:{port}/0"));
    }
    let mut child = command
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
    let proc = Proc {
        name: "tidings",
        child,
        pids: vec![pid],
        _dir: dir,
        log,
    };
    let Ok(line) = line_rx.recv_timeout(Duration::from_secs(30)) else {
        bail!(
            "tidings-server exited or printed no address within 30 s; its log:\n{}",
            proc.log_tail()
        );
    };
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|addr| addr.parse().ok())
        .with_context(|| format!("unexpected first line from tidings-server: {line:?}"))?;
    Ok((proc, addr))
}

fn start_nchan(settings: &Settings<'_>, redis_port: Option<u16>) -> Result<(Proc, SocketAddr)> {
    let workers = settings.nchan_workers;
    let dir = tempfile::Builder::new().prefix("fanout-nchan-").tempdir()?;
    let port = free_port()?;
    let nofile = open_files_limit().unwrap_or(20_000);
    let (upstream, storage) = match redis_port {
        Some(redis) => (
            format!("    upstream bench_redis {{ nchan_redis_server redis://127.0.0.1:{redis}; }}"),
            "            nchan_redis_pass bench_redis;".to_owned(),
        ),
        None => (String::new(), String::new()),
    };
    let config_text = settings
        .nchan_config
        .replace("@DIR@", &dir.path().display().to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@WORKERS@", &workers.to_string())
        .replace("@NOFILE@", &nofile.to_string())
        .replace(
            "@CONNECTIONS@",
            &nofile.saturating_sub(500).max(1024).to_string(),
        )
        .replace("@UPSTREAM@", &upstream)
        .replace("@STORAGE@", &storage);
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
        .context("starting /usr/sbin/nginx (apt-get install nginx-light libnginx-mod-nchan)")?;
    let master = child.id();
    let mut proc = Proc {
        name: "nginx",
        child,
        pids: vec![master],
        _dir: dir,
        log,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = proc.child.try_wait() {
            bail!("nginx exited with {status}; its log:\n{}", proc.log_tail());
        }
        let workers_up = children_of(master);
        if workers_up.len() >= workers && TcpStream::connect(addr).is_ok() {
            proc.pids.extend(workers_up);
            return Ok((proc, addr));
        }
        if started.elapsed() > Duration::from_secs(15) {
            bail!(
                "nginx did not come up within 15 s; its log:\n{}",
                proc.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

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

pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    // "Max open files  <soft>  <hard>  files": nginx may raise its soft limit to the hard one.
    line.split_whitespace().nth(4)?.parse().ok()
}
