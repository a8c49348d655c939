//! The real `tidings` binary under a test X server, watched through its state dump
//! (`TIDINGS_STATE_DUMP`, written from the same model the window draws). Used by the
//! end-to-end tests and, with `#[path]`, by the desktop benchmarks.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::xvfb::{self, Xvfb};

/// How long [`App::until`] waits.
const PATIENCE: Duration = Duration::from_secs(30);

/// How a `tidings` was started, to start it again the same way.
struct Launch {
    display: String,
    home: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Launch {
    fn spawn(&self) -> Child {
        let mut command = xvfb::app_command(
            Path::new(env!("CARGO_BIN_EXE_tidings")),
            &self.display,
            &self.home,
        );
        command.args(&self.args);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command.spawn().expect("starting tidings")
    }
}

/// A running `tidings`; killed when dropped.
pub struct App {
    child: Child,
    dump: PathBuf,
    launch: Launch,
    /// A home of its own ([`App::in_new_home`]), removed when dropped.
    _own_home: Option<tempfile::TempDir>,
}

impl App {
    /// Starts `tidings --server <server>` in `home` on `x`, with extra environment `env`
    /// (e.g. a private session bus).
    pub fn start(x: &Xvfb, home: &Path, server: &str, env: &[(&str, &str)]) -> Self {
        Self::start_with(x, home, &["--server", server], env)
    }

    /// Starts `tidings` with the command-line arguments `args` (e.g. `--demo`), as someone who
    /// has run it before: an empty `settings.toml` is written when there is none, so the
    /// first-run welcome stays away.
    pub fn start_with(x: &Xvfb, home: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let config = home.join("config").join("tidings");
        std::fs::create_dir_all(&config).expect("config dir");
        if !config.join("settings.toml").exists() {
            std::fs::write(config.join("settings.toml"), "").expect("settings.toml");
        }
        Self::first_run(x, home, args, env)
    }

    /// Starts `tidings` in `home` as it is, with no settings file written (a first run when
    /// there is none).
    pub fn first_run(x: &Xvfb, home: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let launch = Launch {
            display: x.display.clone(),
            home: home.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        Self {
            child: launch.spawn(),
            dump: home.join("state.json"),
            launch,
            _own_home: None,
        }
    }

    /// Starts `tidings` with `args` in a new temporary home whose `settings.toml` is
    /// `settings`.
    pub fn in_new_home(x: &Xvfb, settings: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let home = tempfile::tempdir().expect("a temporary home");
        let config = home.path().join("config").join("tidings");
        std::fs::create_dir_all(&config).expect("config dir");
        std::fs::write(config.join("settings.toml"), settings).expect("settings.toml");
        let mut app = Self::start_with(x, home.path(), args, env);
        app._own_home = Some(home);
        app
    }

    /// Stops the app and starts it again in the same home with the same arguments (a warm
    /// start from its cache). The old state dump is removed first; returns when the new
    /// process was started.
    pub fn restart(&mut self) -> Instant {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.dump);
        let started = Instant::now();
        self.child = self.launch.spawn();
        started
    }

    /// The last state written (`Null` before the first).
    pub fn state(&self) -> Value {
        std::fs::read_to_string(&self.dump)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Value::Null)
    }

    /// Waits up to 30 s until the dumped state satisfies `test`; returns it.
    pub async fn until(&mut self, what: &str, test: impl Fn(&Value) -> bool) -> Value {
        self.until_within(what, PATIENCE, test).await
    }

    /// Waits up to `limit` until the dumped state satisfies `test`; returns it.
    pub async fn until_within(
        &mut self,
        what: &str,
        limit: Duration,
        test: impl Fn(&Value) -> bool,
    ) -> Value {
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
                started.elapsed() < limit,
                "timed out waiting for {what}; last state: {state}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
