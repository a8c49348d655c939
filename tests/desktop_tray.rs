//! The tray icon on a private D-Bus session bus, seen by a real (small) StatusNotifierHost:
//! `tests/fixtures/sni_host.py`, on `/usr/bin/python3` with python3-dbus.
//!
//! ksni connects to the bus named by `DBUS_SESSION_BUS_ADDRESS`, and the crate forbids the
//! `unsafe` that `std::env::set_var` needs in edition 2024. So the one real test starts a private
//! bus and runs this same test binary again as a child process with that variable set, asking
//! for the ignored `tray_in_child_process` test only; that test refuses to run on any other bus.

#![cfg(feature = "gui")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::session::{SessionBus, TrayPanel, name_has_owner};
use serde_json::Value;
use tidings::desktop::tray::{Tray, TrayCommand, TrayState, TrayStatus};

const WAIT: Duration = Duration::from_secs(10);
/// Set (to the bus address) for the child process only.
const CHILD_BUS: &str = "TIDINGS_TRAY_TEST_BUS";

#[test]
fn tray_on_a_private_session_bus() {
    let bus = SessionBus::start();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tray_in_child_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env(CHILD_BUS, &bus.address)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run\n{stdout}"
    );
}

#[test]
#[ignore = "run by tray_on_a_private_session_bus in a child process on a private bus"]
fn tray_in_child_process() {
    let address = std::env::var(CHILD_BUS).expect("only on the private bus of the parent test");
    assert_eq!(
        std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap(),
        address,
        "never on a real session bus"
    );

    // No watcher on the bus yet: the tray starts anyway and knows nobody can see it.
    let mut status = TrayStatus {
        state: TrayState::Unread,
        unread: 12,
        connection: "Live".to_owned(),
        ticker_shown: true,
        paused: false,
    };
    let (sender, commands) = mpsc::channel();
    let mut tray = Tray::start(&status, move |command| {
        let _ = sender.send(command);
    })
    .expect("the tray starts without a StatusNotifierWatcher");
    assert!(!tray.host_present());
    assert!(
        Tray::start(&status, |_| {}).is_err(),
        "one tray per process"
    );

    // A watcher appears (a panel starting late): the item registers with it by itself, but
    // there is no host yet.
    let mut host = TrayPanel::start(None);
    let item = host.ask("wait-item");
    assert!(
        item["item"]
            .as_str()
            .unwrap()
            .starts_with("org.kde.StatusNotifierItem-"),
        "{item}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        !tray.host_present(),
        "a watcher without a host shows nothing"
    );
    host.ask("register-host");
    wait_until("host_present", || tray.host_present());

    // What the panel sees.
    let props = host.ask("props");
    assert_eq!(props["Title"], "Tidings", "{props}");
    assert_eq!(props["Id"], "tidings", "{props}");
    assert_eq!(props["Status"], "Active", "{props}");
    assert_eq!(
        props["ToolTip"]["description"], "Tidings — 12 unread · Live",
        "{props}"
    );
    assert_eq!(
        props["IconPixmap"],
        serde_json::json!([[64, 64, 64 * 64 * 4]]),
        "{props}"
    );
    let menu = host.ask("layout");
    assert_eq!(
        summary(&menu),
        [
            "Open Tidings",
            "Show ticker [on]",
            "Start SmartScreen",
            "---",
            "Pause notifications for 1 hour [off]",
            "Mark all read",
            "---",
            "Settings…",
            "Quit",
        ],
        "{menu}"
    );

    // Clicks reach the app as commands.
    host.ask("click Mark all read");
    assert_eq!(next(&commands), TrayCommand::MarkAllRead);
    host.ask("activate");
    assert_eq!(next(&commands), TrayCommand::Open);
    host.ask("click Show ticker");
    assert_eq!(next(&commands), TrayCommand::ShowTicker(false));

    // The app hides the ticker and loses its connection: tooltip, icon and mark follow.
    status.ticker_shown = false;
    status.state = TrayState::Disconnected;
    status.unread = 0;
    status.connection = "Retrying in 8 s".to_owned();
    tray.update(&status);
    let props = host.ask("props");
    assert_eq!(
        props["ToolTip"]["description"], "Tidings — Retrying in 8 s",
        "{props}"
    );
    wait_until("Show ticker unchecked", || {
        summary(&host.ask("layout"))[1] == "Show ticker [off]"
    });

    // A click the app refuses: muda flips the mark itself, the next update puts it back.
    host.ask("click Pause notifications for 1 hour");
    assert_eq!(next(&commands), TrayCommand::PauseNotifications(true));
    tray.update(&status);
    wait_until("Pause unchecked again", || {
        summary(&host.ask("layout"))[4] == "Pause notifications for 1 hour [off]"
    });
    // ... and one it accepts.
    host.ask("click Pause notifications for 1 hour");
    assert_eq!(next(&commands), TrayCommand::PauseNotifications(true));
    status.paused = true;
    tray.update(&status);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        summary(&host.ask("layout"))[4],
        "Pause notifications for 1 hour [on]"
    );
    assert!(commands.try_recv().is_err(), "no stray commands");

    // Gone from the bus when dropped; a new tray may start.
    let item_name = item["item"].as_str().unwrap().to_owned();
    drop(tray);
    assert!(!has_owner(&item_name), "the item left the bus");
    let again = Tray::start(&status, |_| {}).expect("a tray after the first one is gone");
    drop(again);
    host.quit();
}

/// The top-level menu as "label", "label [on]/[off]" for check items, "---" for separators.
fn summary(layout: &Value) -> Vec<String> {
    layout["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no layout: {layout}"))
        .iter()
        .map(|item| {
            if item["type"] == "separator" {
                return "---".to_owned();
            }
            let label = item["label"].as_str().unwrap().to_owned();
            match (item["toggle-type"].as_str(), item["toggle-state"].as_i64()) {
                (Some("checkmark"), Some(1)) => format!("{label} [on]"),
                (Some("checkmark"), Some(0)) => format!("{label} [off]"),
                (Some("checkmark"), state) => format!("{label} [{state:?}]"),
                _ => label,
            }
        })
        .collect()
}

fn next(commands: &mpsc::Receiver<TrayCommand>) -> TrayCommand {
    commands
        .recv_timeout(WAIT)
        .expect("a command from the tray")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn has_owner(name: &str) -> bool {
    name_has_owner(Command::new("dbus-send"), name)
}
