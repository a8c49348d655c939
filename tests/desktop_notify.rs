//! The notification adapter (`tidings::desktop::notify`) against a real notification daemon
//! (dunst on a private D-Bus session bus and Xvfb display): what arrives, that a second toast
//! with the same id replaces the first, that withdrawing closes it, that a click comes back as
//! an activation, and that a missing daemon is reported once and picked up when it appears.
//! A scripted stand-in daemon (zbus) covers what dunst cannot show: servers without markup or
//! actions, the exact hints, and clicks faked by another client.

#![cfg(all(feature = "gui", feature = "server"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
// `zbus::interface` generates undocumented public methods for the stand-in daemon.
#![allow(missing_docs)]

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::WAIT;
use common::session::{Dunst, NotifyMonitor, SessionBus, field};
use common::xvfb::Xvfb;
use tidings::desktop::notify::{APP_NAME, Icon, Notifier, NotifierEvent, Toast, Urgency};

/// A notifier on `bus` whose events arrive on the returned channel.
fn notifier(address: &str) -> (Notifier, Events) {
    let (tx, rx) = mpsc::channel();
    let notifier = Notifier::start_on(
        address,
        APP_NAME,
        Some(Icon::Name("dialog-warning".into())),
        move |event| {
            let _ = tx.send(event);
        },
    );
    (
        notifier,
        Events {
            rx,
            seen: Vec::new(),
        },
    )
}

struct Events {
    rx: mpsc::Receiver<NotifierEvent>,
    /// Everything received so far, in order.
    seen: Vec<NotifierEvent>,
}

impl Events {
    /// Waits for an event satisfying `test`; panics after [`WAIT`].
    fn until(&mut self, what: &str, test: impl Fn(&NotifierEvent) -> bool) -> NotifierEvent {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self
                .rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}; saw {:?}", self.seen));
            self.seen.push(event.clone());
            if test(&event) {
                return event;
            }
        }
    }

    fn shown(&mut self, id: &str) {
        self.until(
            &format!("Shown({id})"),
            |e| matches!(e, NotifierEvent::Shown { id: shown, .. } if shown == id),
        );
    }

    /// Collects whatever arrives within `quiet`.
    fn drain(&mut self, quiet: Duration) {
        while let Ok(event) = self.rx.recv_timeout(quiet) {
            self.seen.push(event);
        }
    }

    fn count(&self, test: impl Fn(&NotifierEvent) -> bool) -> usize {
        self.seen.iter().filter(|e| test(e)).count()
    }
}

fn toast(id: &str, summary: &str, body: &str, urgency: Urgency) -> Toast {
    Toast {
        id: id.into(),
        summary: summary.into(),
        body: body.into(),
        urgency,
        link: Some("https://example.org/tornado".into()),
    }
}

/// `dunstctl <args>` on `bus`, its stdout trimmed.
fn dunstctl(bus: &SessionBus, args: &[&str]) -> String {
    let out = bus.command("dunstctl").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn critical_toast_reaches_dunst_replaced_in_place_and_withdrawn() {
    let bus = SessionBus::start();
    let x = Xvfb::start();
    let dunst = Dunst::start(&bus, &x.display);
    let monitor = NotifyMonitor::start(&bus);
    let (notifier, mut events) = notifier(&bus.address);

    let id = "alert:alerts/tornado-1";
    notifier.show(toast(
        id,
        "Tornado <i>warning</i>",
        "<b>x</b> & y",
        Urgency::Critical,
    ));
    events.until("Available", |e| *e == NotifierEvent::Available);
    events.shown(id);
    wait_until("dunst to display the toast", || {
        dunstctl(&bus, &["count", "displayed"]) == "1"
    });

    notifier.show(toast(
        id,
        "Tornado warning (updated)",
        "moving east",
        Urgency::Critical,
    ));
    events.shown(id);
    // Replaced in place, not stacked.
    assert_eq!(dunstctl(&bus, &["count", "displayed"]), "1");
    assert_eq!(dunstctl(&bus, &["count", "waiting"]), "0");

    notifier.withdraw(id);
    wait_until("dunst to close the withdrawn toast", || {
        dunstctl(&bus, &["count", "displayed"]) == "0"
    });

    let history = dunst.history();
    let ours: Vec<_> = history
        .iter()
        .filter(|entry| field(entry, "appname") == APP_NAME)
        .collect();
    // dunst swaps a replaced notification's content in place: the first version never reaches
    // the history, only the last one (closed by the withdraw).
    assert_eq!(ours.len(), 1, "{history:#?}");
    let entry = ours[0];
    assert_eq!(field(entry, "summary"), "Tornado warning (updated)");
    assert_eq!(field(entry, "body"), "moving east");
    assert_eq!(field(entry, "category"), "x-tidings.alert");
    assert_eq!(field(entry, "timeout"), 0, "critical toasts never expire");
    // dunst 1.9's history has no urgency: read it off the wire.
    let urgencies = monitor.urgency_bytes();
    assert_eq!(urgencies, ["byte 2", "byte 2"], "both calls critical");
    drop(notifier);
}

#[test]
fn feed_markup_is_shown_literally_by_dunst() {
    let bus = SessionBus::start();
    let x = Xvfb::start();
    let dunst = Dunst::start(&bus, &x.display);
    let (notifier, mut events) = notifier(&bus.address);

    let id = "news:world/1";
    notifier.show(toast(id, "A <i>b</i> & c", "<b>x</b> & y", Urgency::Normal));
    events.shown(id);

    let history = dunst.history();
    let entry = history
        .iter()
        .find(|entry| field(entry, "appname") == APP_NAME)
        .expect("our toast in dunst's history");
    // dunst (markup = full) got the body escaped and the summary as plain text (which it
    // escapes itself): the markup it hands to Pango has no tag but its own bold summary, so
    // the feed's tags show as literal text.
    assert_eq!(field(entry, "body"), "&lt;b&gt;x&lt;/b&gt; &amp; y");
    assert_eq!(field(entry, "summary"), "A <i>b</i> & c");
    assert_eq!(
        field(entry, "message"),
        "<b>A &lt;i&gt;b&lt;/i&gt; &amp; c</b>\n&lt;b&gt;x&lt;/b&gt; &amp; y"
    );
    assert_eq!(field(entry, "timeout"), 10_000_000, "normal: 10 s, in µs");
}

#[test]
fn clicking_a_toast_in_dunst_activates_it_with_its_link() {
    let bus = SessionBus::start();
    let x = Xvfb::start();
    let _dunst = Dunst::start(&bus, &x.display);
    let (notifier, mut events) = notifier(&bus.address);

    let id = "alert:alerts/flood-2";
    notifier.show(toast(id, "Flood watch", "river rising", Urgency::Critical));
    events.shown(id);
    wait_until("dunst to display the toast", || {
        dunstctl(&bus, &["count", "displayed"]) == "1"
    });
    // `dunstctl action 0` is what a user's "do action" binding sends: dunst invokes the
    // `default` action of the topmost notification, as a click on it would.
    dunstctl(&bus, &["action", "0"]);
    let event = events.until("Activated", |e| {
        matches!(e, NotifierEvent::Activated { .. })
    });
    assert_eq!(
        event,
        NotifierEvent::Activated {
            id: id.into(),
            link: Some("https://example.org/tornado".into()),
            open: false,
        }
    );
}

#[test]
fn missing_daemon_is_reported_once_and_picked_up_when_it_appears() {
    let bus = SessionBus::start();
    let (notifier, mut events) = notifier(&bus.address);

    notifier.show(toast("news:a/1", "one", "", Urgency::Normal));
    let event = events.until("Unavailable", |e| {
        matches!(e, NotifierEvent::Unavailable(_))
    });
    let NotifierEvent::Unavailable(reason) = event else {
        unreachable!()
    };
    assert!(reason.contains("no notification service"), "{reason}");
    notifier.show(toast("news:a/2", "two", "", Urgency::Normal));
    notifier.withdraw("news:a/1");
    events.drain(Duration::from_millis(500));
    let unavailable = |e: &NotifierEvent| matches!(e, NotifierEvent::Unavailable(_));
    assert_eq!(events.count(unavailable), 1, "{:?}", events.seen);
    assert_eq!(events.count(|e| *e == NotifierEvent::Available), 0);

    let x = Xvfb::start();
    let dunst = Dunst::start(&bus, &x.display);
    notifier.show(toast("news:a/3", "three", "", Urgency::Normal));
    events.until("Available", |e| *e == NotifierEvent::Available);
    events.shown("news:a/3");
    assert_eq!(events.count(unavailable), 1, "{:?}", events.seen);

    // The daemon goes away and a new one comes: reported once each way, and toasts work again.
    drop(dunst);
    events.until("Unavailable", unavailable);
    let _dunst = Dunst::start(&bus, &x.display);
    events.until("Available", |e| *e == NotifierEvent::Available);
    notifier.show(toast("news:a/4", "four", "", Urgency::Normal));
    events.shown("news:a/4");
    assert_eq!(events.count(unavailable), 2, "{:?}", events.seen);
}

#[test]
fn no_bus_at_all_is_unavailable_not_a_panic() {
    let (notifier, mut events) = notifier("unix:path=/nonexistent/tidings-test-bus");
    notifier.show(toast("news:a/1", "one", "", Urgency::Low));
    notifier.show(toast("news:a/2", "two", "", Urgency::Low));
    let event = events.until("Unavailable", |e| {
        matches!(e, NotifierEvent::Unavailable(_))
    });
    assert!(
        matches!(&event, NotifierEvent::Unavailable(reason) if reason.contains("D-Bus")),
        "{event:?}"
    );
    events.drain(Duration::from_millis(300));
    assert_eq!(events.seen.len(), 1, "{:?}", events.seen);
    drop(notifier);
}

/// One `Notify` call as the stand-in daemon received it.
#[derive(Debug, Clone)]
struct NotifyCall {
    app_name: String,
    replaces_id: u32,
    app_icon: String,
    summary: String,
    body: String,
    actions: Vec<String>,
    hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
    expire_timeout: i32,
}

#[derive(Default)]
struct Record {
    notify: Vec<NotifyCall>,
    closed: Vec<u32>,
}

/// A scripted notification daemon: answers with fixed capabilities and records every call.
struct StandIn {
    capabilities: Vec<String>,
    record: std::sync::Arc<std::sync::Mutex<Record>>,
    next_id: u32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl StandIn {
    fn get_capabilities(&self) -> Vec<String> {
        self.capabilities.clone()
    }

    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        app_name: String,
        replaces_id: u32,
        app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        self.record.lock().unwrap().notify.push(NotifyCall {
            app_name,
            replaces_id,
            app_icon,
            summary,
            body,
            actions,
            hints,
            expire_timeout,
        });
        if replaces_id != 0 {
            return replaces_id;
        }
        self.next_id += 1;
        self.next_id
    }

    fn close_notification(&self, id: u32) {
        self.record.lock().unwrap().closed.push(id);
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "stand-in".into(),
            "tidings".into(),
            "0".into(),
            "1.2".into(),
        )
    }

    /// The user invoked an action (`default` = a click on the body).
    #[zbus(signal)]
    async fn action_invoked(
        emitter: &zbus::object_server::SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;

    /// A notification closed (reason 2 = dismissed by the user).
    #[zbus(signal)]
    async fn notification_closed(
        emitter: &zbus::object_server::SignalEmitter<'_>,
        id: u32,
        reason: u32,
    ) -> zbus::Result<()>;
}

const PATH: &str = "/org/freedesktop/Notifications";

async fn stand_in(
    bus: &SessionBus,
    capabilities: &[&str],
) -> (zbus::Connection, std::sync::Arc<std::sync::Mutex<Record>>) {
    let record = std::sync::Arc::new(std::sync::Mutex::new(Record::default()));
    let daemon = StandIn {
        capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
        record: record.clone(),
        next_id: 0,
    };
    let connection = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .serve_at(PATH, daemon)
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .build()
        .await
        .unwrap();
    (connection, record)
}

async fn emit(connection: &zbus::Connection, signal: &str, id: u32) {
    let emitter = zbus::object_server::SignalEmitter::new(connection, PATH).unwrap();
    match signal {
        "ActionInvoked" => StandIn::action_invoked(&emitter, id, "default").await,
        _ => StandIn::notification_closed(&emitter, id, 2).await,
    }
    .unwrap();
}

fn hint_str(call: &NotifyCall, name: &str) -> String {
    String::try_from(call.hints[name].try_clone().unwrap()).unwrap()
}

fn hint_byte(call: &NotifyCall, name: &str) -> u8 {
    u8::try_from(call.hints[name].try_clone().unwrap()).unwrap()
}

/// Events are awaited on a blocking thread so the stand-in daemon keeps answering.
async fn until(events: &mut Events, what: &str, test: fn(&NotifierEvent) -> bool) {
    tokio::task::block_in_place(|| {
        events.until(what, test);
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_server_gets_text_verbatim_with_hints_timeouts_and_no_actions() {
    let bus = SessionBus::start();
    let (_daemon, record) = stand_in(&bus, &["body"]).await;
    let (notifier, mut events) = notifier(&bus.address);

    notifier.show(toast(
        "news:world/1",
        "A <i>b</i> & c",
        "<b>x</b> & y",
        Urgency::Normal,
    ));
    until(&mut events, "Shown", |e| {
        matches!(e, NotifierEvent::Shown { .. })
    })
    .await;
    notifier.show(toast("news:world/1", "again", "", Urgency::Low));
    notifier.show(toast(
        "weird",
        "other",
        "nul\0 bell\u{7}",
        Urgency::Critical,
    ));
    tokio::task::block_in_place(|| {
        events.shown("weird");
    });

    let calls = record.lock().unwrap().notify.clone();
    assert_eq!(calls.len(), 3, "{calls:#?}");
    let first = &calls[0];
    assert_eq!(first.app_name, "Tidings");
    assert_eq!(first.app_icon, "dialog-warning");
    assert_eq!(
        first.summary, "A <i>b</i> & c",
        "no markup server: verbatim"
    );
    assert_eq!(first.body, "<b>x</b> & y");
    assert!(first.actions.is_empty(), "no `actions` capability");
    assert_eq!(first.replaces_id, 0);
    assert_eq!(first.expire_timeout, 10_000);
    assert_eq!(hint_byte(first, "urgency"), 1);
    assert_eq!(hint_str(first, "desktop-entry"), "tidings");
    assert_eq!(hint_str(first, "category"), "x-tidings.news");

    let second = &calls[1];
    assert_eq!(second.replaces_id, 1, "same id replaces the first");
    assert_eq!(second.expire_timeout, 6_000);
    assert_eq!(hint_byte(second, "urgency"), 0);

    let third = &calls[2];
    assert_eq!(third.replaces_id, 0);
    assert_eq!(third.expire_timeout, 0);
    assert_eq!(hint_byte(third, "urgency"), 2);
    assert!(!third.hints.contains_key("category"));
    assert_eq!(third.body, "nul bell", "control characters dropped");
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_come_back_only_from_the_daemon_and_closed_toasts_are_forgotten() {
    let bus = SessionBus::start();
    let (daemon, record) = stand_in(&bus, &["actions", "body", "body-markup"]).await;
    let (notifier, mut events) = notifier(&bus.address);

    notifier.show(toast("alert:a/1", "S & <s>", "<b>x</b>", Urgency::Critical));
    notifier.show(Toast {
        link: None,
        ..toast("alert:a/2", "two", "", Urgency::Critical)
    });
    tokio::task::block_in_place(|| events.shown("alert:a/2"));
    {
        let record = record.lock().unwrap();
        let first = &record.notify[0];
        assert_eq!(
            first.summary, "S & <s>",
            "the summary is plain text by the spec"
        );
        assert_eq!(first.body, "&lt;b&gt;x&lt;/b&gt;");
        assert_eq!(first.actions, ["default", "Open", "open", "Open"]);
        assert_eq!(
            record.notify[1].actions,
            ["default", "Open"],
            "no link: no button"
        );
    }

    // Another client on the bus fakes a click: the bus does not route it to us.
    let spoofer = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .build()
        .await
        .unwrap();
    spoofer
        .emit_signal(
            None::<()>,
            PATH,
            "org.freedesktop.Notifications",
            "ActionInvoked",
            &(1u32, "default"),
        )
        .await
        .unwrap();
    // The daemon's own click is reported with the toast's link.
    emit(&daemon, "ActionInvoked", 1).await;
    until(&mut events, "Activated", |e| {
        matches!(e, NotifierEvent::Activated { .. })
    })
    .await;
    tokio::task::block_in_place(|| events.drain(Duration::from_millis(300)));
    let activated: Vec<_> = events
        .seen
        .iter()
        .filter(|e| matches!(e, NotifierEvent::Activated { .. }))
        .collect();
    assert_eq!(
        activated,
        [&NotifierEvent::Activated {
            id: "alert:a/1".into(),
            link: Some("https://example.org/tornado".into()),
            open: false,
        }]
    );

    // The daemon closes toast 1; a click on toast 2 afterwards (same sender, so in order)
    // proves the close was seen before we show toast 1 again: it is new, not a replacement.
    emit(&daemon, "NotificationClosed", 1).await;
    emit(&daemon, "ActionInvoked", 2).await;
    until(
        &mut events,
        "Activated(2)",
        |e| matches!(e, NotifierEvent::Activated { id, link: None, open: false } if id == "alert:a/2"),
    )
    .await;
    notifier.show(toast("alert:a/1", "again", "", Urgency::Critical));
    notifier.withdraw("alert:a/2");
    notifier.withdraw("never-shown");
    tokio::task::block_in_place(|| events.shown("alert:a/1"));
    let deadline = Instant::now() + WAIT;
    while record.lock().unwrap().closed.is_empty() {
        assert!(Instant::now() < deadline, "no CloseNotification");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let record = record.lock().unwrap();
    assert_eq!(record.notify[2].replaces_id, 0, "closed ones are forgotten");
    assert_eq!(record.closed, [2]);
}
