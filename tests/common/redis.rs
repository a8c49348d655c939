//! A real `redis-server` on a free loopback port, with its own directory, for the tests of the
//! shared event log. It can be stopped, killed with SIGKILL and started again on the same port
//! and files, as the failure tests need. A small shell keeps it on a leash: when the test
//! process ends (even by a panic or a signal) the shell's stdin closes and it kills Redis, so
//! no server outlives its test.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running (or stopped) Redis.
pub struct RedisServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its working directory (AOF and RDB files).
    pub dir: tempfile::TempDir,
    args: Vec<String>,
    leash: Option<(Child, ChildStdin)>,
    pid: Option<u32>,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl RedisServer {
    /// Starts Redis with no persistence.
    pub fn start() -> Self {
        Self::start_with(&["--save", "", "--appendonly", "no"])
    }

    /// Starts Redis with extra configuration arguments (e.g. `--appendonly yes`).
    pub fn start_with(args: &[&str]) -> Self {
        for _ in 0..5 {
            let mut server = Self {
                port: free_port(),
                dir: tempfile::tempdir().unwrap(),
                args: args.iter().map(|a| (*a).to_owned()).collect(),
                leash: None,
                pid: None,
            };
            if server.launch() {
                return server;
            }
        }
        panic!("redis-server did not start (scripts/test.sh installs it)");
    }

    /// `redis://127.0.0.1:PORT/0`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn launch(&mut self) -> bool {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(r#"redis-server "$@" >/dev/null 2>&1 & echo $!; read _; kill -9 $! 2>/dev/null"#)
            .arg("sh")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", &self.dir.path().display().to_string()])
            .args(["--daemonize", "no", "--loglevel", "notice"])
            .args([
                "--logfile",
                &self.dir.path().join("redis.log").display().to_string(),
            ])
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("sh runs redis-server");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.pid = line.trim().parse().ok();
        self.leash = Some((child, stdin));
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self.answers_ping() {
                return true;
            }
            if !self.running() {
                return false; // lost the port to someone else: try another
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Whether the process is alive.
    pub fn running(&self) -> bool {
        self.pid
            .is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
            && !std::fs::read_to_string(format!("/proc/{}/stat", self.pid.unwrap_or(0)))
                .unwrap_or_default()
                .contains(") Z ")
    }

    /// Whether Redis answers `PING` with `PONG` now (not while loading its files).
    pub fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut reply = [0_u8; 7];
        stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
    }

    /// Sends a command with `redis-cli` and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli (from redis-tools) runs");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    fn signal(&mut self, signal: &str) {
        if let Some(pid) = self.pid {
            let _ = Command::new("kill")
                .args([signal, &pid.to_string()])
                .status();
            let started = Instant::now();
            while self.running() && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if let Some((mut child, stdin)) = self.leash.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }

    /// Stops Redis cleanly (SIGTERM: it writes its files and exits).
    pub fn stop(&mut self) {
        self.signal("-TERM");
    }

    /// Kills Redis with SIGKILL: whatever it had not written is gone.
    pub fn kill9(&mut self) {
        self.signal("-KILL");
    }

    /// Starts Redis again on the same port, directory and arguments.
    pub fn restart(&mut self) {
        assert!(self.launch(), "redis-server did not come back on its port");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One Redis for all the tests of a test binary that only need a store: each test takes its
/// own key prefix ([`unique_prefix`]), so they never see each other's data.
pub fn shared() -> &'static RedisServer {
    static SHARED: OnceLock<RedisServer> = OnceLock::new();
    SHARED.get_or_init(RedisServer::start)
}

/// A key prefix no other test in this run uses.
pub fn unique_prefix(name: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("test-{}-{n}-{name}", std::process::id())
}
