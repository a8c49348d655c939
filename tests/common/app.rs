//! The real `tidings` binary under a test X server, watched through its state dump
//! (`TIDINGS_STATE_DUMP`, written from the same model the window draws).

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::xvfb::{self, Xvfb};

/// A running `tidings`; killed when dropped.
pub struct App {
    child: Child,
    dump: PathBuf,
}

impl App {
    /// Starts `tidings --server <server>` in `home` on `x`, with extra environment `env`
    /// (e.g. a private session bus).
    pub fn start(x: &Xvfb, home: &Path, server: &str, env: &[(&str, &str)]) -> Self {
        Self::start_with(x, home, &["--server", server], env)
    }

    /// Starts `tidings` with the command-line arguments `args` (e.g. `--demo`).
    pub fn start_with(x: &Xvfb, home: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let dump = home.join("state.json");
        let mut command =
            xvfb::app_command(Path::new(env!("CARGO_BIN_EXE_tidings")), &x.display, home);
        command.args(args);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("starting tidings");
        Self { child, dump }
    }

    /// The last state written.
    pub fn state(&self) -> Value {
        std::fs::read_to_string(&self.dump)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Value::Null)
    }

    /// Waits until the dumped state satisfies `test`; returns it.
    pub async fn until(&mut self, what: &str, test: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("tidings exited ({status}) while waiting for {what}");
            }
            let state = self.state();
            if !state.is_null() && test(&state) {
                return state;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}; last state: {state}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
