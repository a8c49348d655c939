//! A private desktop session for end-to-end tests: a D-Bus session bus of its own (no service
//! activation, so nothing starts unless a test starts it) and, on request, the dunst
//! notification daemon on it. Used by the desktop tests and the notification benchmark (with
//! `#[path]`).

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A private `dbus-daemon --session`; killed when dropped.
pub struct SessionBus {
    child: Child,
    /// The `DBUS_SESSION_BUS_ADDRESS` value.
    pub address: String,
    _dir: tempfile::TempDir,
}

impl SessionBus {
    /// Starts a session bus with no service directories, listening on a socket in a temporary
    /// directory.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let socket = dir.path().join("bus");
        let config = dir.path().join("session.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .expect("bus config");
        let child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is needed here (scripts/test.sh installs it)");
        let bus = Self {
            child,
            address: format!("unix:path={}", socket.display()),
            _dir: dir,
        };
        wait_for(|| socket.exists(), "the session bus socket");
        bus
    }

    /// A command with this bus as its session bus.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env("DBUS_SESSION_BUS_ADDRESS", &self.address);
        command
    }

    /// Whether `name` has an owner on this bus.
    pub fn has_owner(&self, name: &str) -> bool {
        name_has_owner(self.command("dbus-send"), name)
    }

    /// Waits until `name` is owned on this bus.
    pub fn wait_for_name(&self, name: &str) {
        wait_for(|| self.has_owner(name), name);
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `dbus-monitor` watching `Notify` calls on a bus (the test bus allows eavesdropping).
pub struct NotifyMonitor {
    child: std::process::Child,
    out: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl NotifyMonitor {
    /// Starts watching; returns once the monitor is in place.
    pub fn start(bus: &SessionBus) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("monitor.txt");
        let child = bus
            .command("dbus-monitor")
            .arg("--session")
            .arg("type='method_call',interface='org.freedesktop.Notifications',member='Notify'")
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dbus-monitor");
        // It prints the loss of its own name once it has become a monitor.
        wait_for(
            || std::fs::read_to_string(&out).is_ok_and(|text| text.contains("NameLost")),
            "dbus-monitor to start",
        );
        Self {
            child,
            out,
            _dir: dir,
        }
    }

    /// The value line after each `"urgency"` hint key seen so far.
    pub fn urgency_bytes(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        lines
            .windows(2)
            .filter(|pair| pair[0].trim() == "string \"urgency\"")
            .map(|pair| {
                let value = pair[1].trim();
                value.trim_start_matches("variant").trim().to_owned()
            })
            .collect()
    }

    /// When each `Notify` call was seen (Unix time in seconds, as dbus-monitor stamps it).
    pub fn call_times(&self) -> Vec<f64> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.starts_with("method call") && line.contains("member=Notify"))
            .filter_map(|line| {
                let time = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("time="))?;
                time.parse().ok()
            })
            .collect()
    }
}

impl Drop for NotifyMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The dunst notification daemon on a private bus and X display; killed when dropped.
pub struct Dunst {
    child: Child,
    address: String,
    _config: tempfile::TempDir,
}

impl Dunst {
    /// Starts dunst on `bus` and `display` with a configuration that keeps every notification
    /// in its history, and waits until it owns `org.freedesktop.Notifications`.
    pub fn start(bus: &SessionBus, display: &str) -> Self {
        let config = tempfile::tempdir().expect("temporary directory");
        let file = config.path().join("dunstrc");
        std::fs::write(
            &file,
            "[global]\n    history_length = 200\n    sticky_history = yes\n    markup = full\n    show_indicators = no\n",
        )
        .expect("dunst config");
        let child = bus
            .command("dunst")
            .arg("-config")
            .arg(&file)
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dunst is needed here (scripts/test.sh installs it)");
        bus.wait_for_name("org.freedesktop.Notifications");
        Self {
            child,
            address: bus.address.clone(),
            _config: config,
        }
    }

    /// Every notification dunst has shown (its history, newest first), closing the displayed
    /// ones first so they are in the history too.
    pub fn history(&self) -> Vec<serde_json::Value> {
        let _ = Command::new("dunstctl")
            .arg("close-all")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .status();
        let out = Command::new("dunstctl")
            .arg("history")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .expect("dunstctl");
        let value: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        value["data"][0].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Dunst {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field of a `dunstctl history` entry (they are wrapped as `{"type": .., "data": ..}`).
pub fn field<'a>(entry: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &entry[name]["data"]
}

/// Whether `name` has an owner, asked with `dbus_send` (a `dbus-send` command, set up for the
/// bus to ask: a [`SessionBus::command`], or a plain one for the environment's session bus).
pub fn name_has_owner(mut dbus_send: Command, name: &str) -> bool {
    dbus_send
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            &format!("string:{name}"),
        ])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("boolean true"))
}

fn wait_for(mut ready: impl FnMut() -> bool, what: &str) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Where `/usr/bin/python3` (with Debian's python3-dbus) is; the default `python3` on `PATH`
/// may lack the Debian modules.
pub fn system_python() -> PathBuf {
    let path = Path::new("/usr/bin/python3");
    assert!(path.exists(), "/usr/bin/python3 is needed here");
    path.to_owned()
}

/// A stand-in tray panel (`tests/fixtures/sni_host.py`, a StatusNotifierWatcher and host) as a
/// child process: a command per line in, a JSON answer per line out.
pub struct TrayPanel {
    child: Child,
    stdin: ChildStdin,
    answers: mpsc::Receiver<String>,
}

impl TrayPanel {
    /// Starts the panel on `bus`, or on the session bus of the environment.
    pub fn start(bus: Option<&SessionBus>) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sni_host.py");
        let mut command = match bus {
            Some(bus) => bus.command(system_python()),
            None => Command::new(system_python()),
        };
        let mut child = command
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut host = Self {
            child,
            stdin,
            answers,
        };
        let ready = host.answer();
        assert_eq!(ready["ready"], true, "{ready}");
        host
    }

    fn answer(&mut self) -> Value {
        let line = self
            .answers
            .recv_timeout(Duration::from_secs(12))
            .expect("an answer from sni_host.py");
        serde_json::from_str(&line).unwrap()
    }

    /// Sends `command` and returns the answer; fails the test on an `error` answer.
    pub fn ask(&mut self, command: &str) -> Value {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let answer = self.answer();
        assert!(answer.get("error").is_none(), "{command}: {answer}");
        answer
    }

    /// Asks the panel to exit and waits for it.
    pub fn quit(mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

impl Drop for TrayPanel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
