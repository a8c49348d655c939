//! Desktop notifications: shows, replaces and withdraws toasts through the freedesktop.org
//! notification service on the D-Bus session bus, and reports what the user did with them.
//!
//! The app owns one [`Notifier`]; what to show is decided elsewhere (pure rules) and handed in
//! as a [`Toast`]. All D-Bus work happens on one background thread (`tidings-notify`) fed over a
//! channel, so no call here ever blocks the UI thread. Results come back as [`NotifierEvent`]s
//! through the callback given at start. This module never opens links: the app checks the
//! scheme and opens them.
//!
//! It speaks the notification protocol with `zbus` itself rather than through notify-rust's
//! `Notification::show`: notify-rust 4.18 always connects to the bus named by
//! `DBUS_SESSION_BUS_ADDRESS` (one new connection per notification), cannot be pointed at
//! another bus, and its signal listener `unwrap`s, so a vanished bus would panic its thread. Here
//! one connection and one signal subscription serve every notification, and a service that goes
//! away and comes back is picked up again.
//!
//! Protocol: <https://specifications.freedesktop.org/notification-spec/1.2/>.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::future::{Either, select};
use futures_util::stream::{Select, select as merge};
use tokio::sync::{mpsc, oneshot};
use zbus::message::Type as MessageType;
use zbus::{Connection, MatchRule, MessageStream};

/// The name the app shows as the sender of its notifications.
pub const APP_NAME: &str = "Tidings";

/// The desktop entry (`tidings.desktop`) named in the `desktop-entry` hint, so the desktop can
/// group our notifications and apply the user's per-app settings.
pub const DESKTOP_ENTRY: &str = "tidings";

const SERVICE: &str = "org.freedesktop.Notifications";
const OBJECT_PATH: &str = "/org/freedesktop/Notifications";

/// How long one call may take before the service counts as not answering. Notification servers
/// answer in milliseconds; D-Bus's own default (25 s) would hold up every toast behind a hung one.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// How many shown notifications we remember for replacing and for matching signals. A server
/// that never reports closing must not grow the map forever; the oldest is forgotten first.
const MAX_REMEMBERED: usize = 256;

/// Longest summary and body we send, in characters; longer text is cut with an ellipsis. A
/// notification is a glance, and some servers grow the bubble to fit whatever they get.
const MAX_SUMMARY_CHARS: usize = 200;
const MAX_BODY_CHARS: usize = 1000;

/// How long a toast stays on screen, in milliseconds (0 = until the user closes it).
const CRITICAL_TIMEOUT_MS: i32 = 0;
const NORMAL_TIMEOUT_MS: i32 = 10_000;
const LOW_TIMEOUT_MS: i32 = 6_000;

/// The action keys we offer: the body click (spec's `default`) and an explicit "Open" button.
const DEFAULT_ACTION: &str = "default";
const OPEN_ACTION: &str = "open";

/// How urgent a toast is; maps onto the notification `urgency` hint and the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Urgency {
    /// Background news: expires after about 6 s.
    Low,
    /// Ordinary news: expires after about 10 s.
    Normal,
    /// Severe alerts: stays until the user closes it.
    Critical,
}

impl Urgency {
    /// The spec's urgency byte.
    fn hint_byte(self) -> u8 {
        match self {
            Self::Low => 0,
            Self::Normal => 1,
            Self::Critical => 2,
        }
    }

    /// The `expire_timeout` argument of `Notify`, in milliseconds.
    fn timeout_ms(self) -> i32 {
        match self {
            Self::Low => LOW_TIMEOUT_MS,
            Self::Normal => NORMAL_TIMEOUT_MS,
            Self::Critical => CRITICAL_TIMEOUT_MS,
        }
    }
}

/// One notification to show, as decided by the notification rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    /// Our stable id, e.g. `"alert:alerts/tornado-1"`. Showing a toast with the id of one still
    /// on screen replaces it in place. The part before the first `:` (when it is a plain
    /// lowercase word) becomes the `category` hint `x-tidings.<word>`, so users can write
    /// per-category rules in their notification daemon.
    pub id: String,
    /// One-line summary (plain text; the spec has servers show it as is).
    pub summary: String,
    /// Body (plain text; escaped when the server would read it as markup).
    pub body: String,
    /// How urgent it is.
    pub urgency: Urgency,
    /// A link the app may open when the user activates the toast.
    pub link: Option<String>,
}

/// The icon shown with every notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Icon {
    /// A name from the freedesktop.org icon theme, e.g. `"tidings"`.
    Name(String),
    /// An image file, ideally an absolute path.
    File(PathBuf),
}

impl Icon {
    /// The `app_icon` argument of `Notify`. Servers take a plain absolute path as readily as a
    /// `file://` URI (dunst, GNOME Shell, Plasma), and a path needs no percent-encoding.
    fn to_argument(&self) -> String {
        match self {
            Self::Name(name) => name.clone(),
            Self::File(path) => path.to_string_lossy().into_owned(),
        }
    }
}

/// What the notifier reports to the app (on its background thread, through the callback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifierEvent {
    /// No notification service answers; sent once per outage, with a human reason. Toasts
    /// shown meanwhile are dropped.
    Unavailable(String),
    /// A notification service answers (first contact, or back after [`Self::Unavailable`]).
    Available,
    /// The toast with this id is on screen (shown or replaced).
    Shown {
        /// The [`Toast::id`].
        id: String,
        /// When the server accepted it.
        at: Instant,
    },
    /// The user clicked the toast's body or its "Open" action.
    Activated {
        /// The [`Toast::id`].
        id: String,
        /// The toast's link, unchecked: the app opens only http and https.
        link: Option<String>,
        /// The "Open" button (open the link) rather than a click on the body (show the item).
        open: bool,
    },
}

type EventSink = Arc<dyn Fn(NotifierEvent) + Send + Sync + 'static>;

/// Which bus to talk to.
#[derive(Debug, Clone)]
enum BusTarget {
    /// The session bus (`DBUS_SESSION_BUS_ADDRESS`).
    Session,
    /// A bus at this D-Bus address (tests run a private bus).
    Address(String),
}

enum Command {
    Show(Toast),
    Withdraw(String),
}

/// Shows desktop notifications from a background thread; see the module docs.
///
/// Dropping it stops the thread (an in-flight D-Bus call is abandoned, not waited for).
pub struct Notifier {
    commands: mpsc::UnboundedSender<Command>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("running", &self.thread.is_some())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Starts the notifier on the session bus. `app_name` is normally [`APP_NAME`]. Nothing is
    /// sent on the bus until the first toast, so starting never activates a notification daemon.
    pub fn start(
        app_name: impl Into<String>,
        icon: Option<Icon>,
        on_event: impl Fn(NotifierEvent) + Send + Sync + 'static,
    ) -> Self {
        Self::spawn(
            BusTarget::Session,
            app_name.into(),
            icon,
            Arc::new(on_event),
        )
    }

    /// Like [`start`](Self::start), on the bus at `address` (a D-Bus address such as
    /// `unix:path=/run/user/1000/bus`) instead of the session bus.
    pub fn start_on(
        address: impl Into<String>,
        app_name: impl Into<String>,
        icon: Option<Icon>,
        on_event: impl Fn(NotifierEvent) + Send + Sync + 'static,
    ) -> Self {
        Self::spawn(
            BusTarget::Address(address.into()),
            app_name.into(),
            icon,
            Arc::new(on_event),
        )
    }

    fn spawn(target: BusTarget, app_name: String, icon: Option<Icon>, events: EventSink) -> Self {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = oneshot::channel();
        let worker_events = Arc::clone(&events);
        let spawned = std::thread::Builder::new()
            .name("tidings-notify".into())
            .spawn(move || {
                let worker = Worker {
                    target,
                    app_name,
                    icon: icon.as_ref().map(Icon::to_argument).unwrap_or_default(),
                    events: worker_events,
                    link: None,
                    shown: VecDeque::new(),
                    availability: Availability::Unknown,
                };
                // A small runtime of its own: zbus drives its socket on its own executor thread,
                // and this thread only awaits replies and signals.
                let runtime = match tokio::runtime::Builder::new_current_thread().build() {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let reason = format!("could not start the notification thread: {error}");
                        (worker.events)(NotifierEvent::Unavailable(reason));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let work = pin!(worker.run(command_rx));
                    // The stop signal (or the Notifier's end) wins over a call in flight.
                    let _ = select(work, stop_rx).await;
                });
            });
        let thread = match spawned {
            Ok(thread) => Some(thread),
            Err(error) => {
                events(NotifierEvent::Unavailable(format!(
                    "could not start the notification thread: {error}"
                )));
                None
            }
        };
        Self {
            commands,
            stop: Some(stop),
            thread,
        }
    }

    /// Shows `toast`, replacing in place a notification with the same [`Toast::id`] that is still
    /// on screen. Returns at once; the outcome arrives as a [`NotifierEvent`].
    pub fn show(&self, toast: Toast) {
        if self.commands.send(Command::Show(toast)).is_err() {
            tracing::debug!("notifier stopped; toast dropped");
        }
    }

    /// Withdraws the notification with this [`Toast::id`] if it is still on screen.
    pub fn withdraw(&self, id: impl Into<String>) {
        if self.commands.send(Command::Withdraw(id.into())).is_err() {
            tracing::debug!("notifier stopped; withdraw dropped");
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the notification thread panicked");
        }
    }
}

/// Whether the service answered last time, so each change is reported once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Availability {
    Unknown,
    Available,
    Unavailable,
}

/// An open connection to the bus, with its signal subscription.
struct BusLink {
    connection: Connection,
    /// `ActionInvoked` / `NotificationClosed` from the service, and `NameOwnerChanged` for it.
    signals: Select<MessageStream, MessageStream>,
    /// The service's capabilities, asked once per service instance.
    capabilities: Option<Capabilities>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Capabilities {
    body_markup: bool,
    actions: bool,
}

/// A notification the server has on screen, as far as we know.
struct ShownEntry {
    id: String,
    server_id: u32,
    link: Option<String>,
}

/// A failed call, with whether the connection itself is gone.
struct CallError {
    reason: String,
    connection_lost: bool,
}

impl CallError {
    fn from_zbus(what: &str, error: &zbus::Error) -> Self {
        let (reason, connection_lost) = match error {
            zbus::Error::MethodError(name, detail, _) => {
                let reason = match name.as_str() {
                    "org.freedesktop.DBus.Error.ServiceUnknown"
                    | "org.freedesktop.DBus.Error.NameHasNoOwner" => {
                        "no notification service is running".to_owned()
                    }
                    other => format!(
                        "the notification service refused {what}: {other}{}",
                        detail
                            .as_deref()
                            .map(|d| format!(": {d}"))
                            .unwrap_or_default()
                    ),
                };
                (reason, false)
            }
            zbus::Error::FDO(error) => (
                format!("the notification service refused {what}: {error}"),
                false,
            ),
            zbus::Error::InputOutput(io) if io.kind() == std::io::ErrorKind::TimedOut => (
                format!(
                    "the notification service did not answer {what} within {} s",
                    CALL_TIMEOUT.as_secs()
                ),
                false,
            ),
            other => (format!("lost the D-Bus session bus: {other}"), true),
        };
        Self {
            reason,
            connection_lost,
        }
    }
}

struct Worker {
    target: BusTarget,
    app_name: String,
    icon: String,
    events: EventSink,
    link: Option<BusLink>,
    /// Oldest first; at most [`MAX_REMEMBERED`].
    shown: VecDeque<ShownEntry>,
    availability: Availability,
}

enum Input {
    Command(Option<Command>),
    Signal(Option<zbus::Result<zbus::Message>>),
}

impl Worker {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            let input = match self.link.as_mut() {
                Some(link) => match select(pin!(commands.recv()), link.signals.next()).await {
                    Either::Left((command, _)) => Input::Command(command),
                    Either::Right((signal, _)) => Input::Signal(signal),
                },
                None => Input::Command(commands.recv().await),
            };
            match input {
                Input::Command(None) => return,
                Input::Command(Some(Command::Show(toast))) => self.show(toast).await,
                Input::Command(Some(Command::Withdraw(id))) => self.withdraw(&id).await,
                Input::Signal(Some(Ok(message))) => self.on_signal(&message).await,
                Input::Signal(Some(Err(error))) => {
                    tracing::debug!(%error, "notification signal stream failed");
                    self.lose_connection(format!("lost the D-Bus session bus: {error}"));
                }
                Input::Signal(None) => {
                    self.lose_connection("lost the D-Bus session bus".to_owned());
                }
            }
        }
    }

    fn emit(&self, event: NotifierEvent) {
        (self.events)(event);
    }

    fn mark_available(&mut self) {
        if self.availability != Availability::Available {
            self.availability = Availability::Available;
            self.emit(NotifierEvent::Available);
        }
    }

    fn mark_unavailable(&mut self, reason: String) {
        if self.availability != Availability::Unavailable {
            self.availability = Availability::Unavailable;
            self.emit(NotifierEvent::Unavailable(reason));
        } else {
            tracing::debug!(%reason, "notification service still unavailable");
        }
    }

    /// Drops the connection; the next toast reconnects.
    fn lose_connection(&mut self, reason: String) {
        self.link = None;
        self.shown.clear();
        self.mark_unavailable(reason);
    }

    fn on_failure(&mut self, error: CallError) {
        if error.connection_lost {
            self.lose_connection(error.reason);
        } else {
            self.mark_unavailable(error.reason);
        }
    }

    /// The connection, opened (with its subscription) if there is none.
    async fn connect(&mut self) -> Result<&mut BusLink, CallError> {
        if self.link.is_none() {
            let link = open_link(&self.target).await.map_err(|error| {
                // The words are for the status line; the details for the log.
                tracing::info!(%error, "cannot reach the D-Bus session bus");
                CallError {
                    reason: "no desktop session bus (D-Bus) to send them on".to_owned(),
                    connection_lost: true,
                }
            })?;
            self.link = Some(link);
        }
        self.link.as_mut().ok_or_else(|| CallError {
            reason: "no D-Bus connection".to_owned(),
            connection_lost: true,
        })
    }

    /// The service's capabilities, asked once per service instance.
    async fn capabilities(&mut self) -> Result<Capabilities, CallError> {
        let link = self.connect().await?;
        if let Some(capabilities) = link.capabilities {
            return Ok(capabilities);
        }
        let names: Vec<String> = call(&link.connection, "GetCapabilities", &())
            .await
            .map_err(|error| CallError::from_zbus("GetCapabilities", &error))?;
        let capabilities = Capabilities {
            body_markup: names.iter().any(|name| name == "body-markup"),
            actions: names.iter().any(|name| name == "actions"),
        };
        tracing::debug!(?names, "notification service capabilities");
        link.capabilities = Some(capabilities);
        Ok(capabilities)
    }

    async fn show(&mut self, toast: Toast) {
        // A connection that died since the last call fails once with a transport error; the
        // toast then gets one more try on a fresh connection instead of being lost.
        let had_link = self.link.is_some();
        let mut result = self.try_show(&toast).await;
        if let Err(error) = &result
            && error.connection_lost
            && had_link
        {
            self.link = None;
            self.shown.clear();
            result = self.try_show(&toast).await;
        }
        match result {
            Ok(server_id) => {
                let at = Instant::now();
                self.mark_available();
                self.remember(ShownEntry {
                    id: toast.id.clone(),
                    server_id,
                    link: toast.link,
                });
                self.emit(NotifierEvent::Shown { id: toast.id, at });
            }
            Err(error) => self.on_failure(error),
        }
    }

    async fn try_show(&mut self, toast: &Toast) -> Result<u32, CallError> {
        let capabilities = self.capabilities().await?;
        let replaces_id = self
            .shown
            .iter()
            .find(|entry| entry.id == toast.id)
            .map_or(0, |entry| entry.server_id);
        // The spec makes the summary plain text: servers escape it themselves (dunst 1.9 shows
        // `&lt;` literally if we escape it too). Only the body is read as markup, and only by a
        // server that says so.
        let summary = truncate(&plain_text(&toast.summary), MAX_SUMMARY_CHARS);
        let body = truncate(&plain_text(&toast.body), MAX_BODY_CHARS);
        let body = if capabilities.body_markup {
            escape_markup(&body)
        } else {
            body
        };
        let actions: Vec<&str> = match (capabilities.actions, toast.link.is_some()) {
            (false, _) => Vec::new(),
            (true, false) => vec![DEFAULT_ACTION, "Open"],
            (true, true) => vec![DEFAULT_ACTION, "Open", OPEN_ACTION, "Open"],
        };
        let mut hints = std::collections::HashMap::<&str, zbus::zvariant::Value<'_>>::new();
        hints.insert("urgency", toast.urgency.hint_byte().into());
        hints.insert("desktop-entry", DESKTOP_ENTRY.into());
        if let Some(category) = category(&toast.id) {
            hints.insert("category", category.into());
        }
        let connection = self.connect().await?.connection.clone();
        let server_id: u32 = call(
            &connection,
            "Notify",
            &(
                self.app_name.as_str(),
                replaces_id,
                self.icon.as_str(),
                summary.as_str(),
                body.as_str(),
                actions,
                hints,
                toast.urgency.timeout_ms(),
            ),
        )
        .await
        .map_err(|error| CallError::from_zbus("Notify", &error))?;
        Ok(server_id)
    }

    fn remember(&mut self, entry: ShownEntry) {
        self.shown
            .retain(|old| old.id != entry.id && old.server_id != entry.server_id);
        if self.shown.len() >= MAX_REMEMBERED {
            self.shown.pop_front();
        }
        self.shown.push_back(entry);
    }

    async fn withdraw(&mut self, id: &str) {
        let Some(index) = self.shown.iter().position(|entry| entry.id == id) else {
            return;
        };
        let Some(entry) = self.shown.remove(index) else {
            return;
        };
        let Some(link) = self.link.as_ref() else {
            return;
        };
        let result: zbus::Result<()> =
            call(&link.connection, "CloseNotification", &(entry.server_id,)).await;
        if let Err(error) = result {
            // Mandatory in the spec, yet a server may lack it or have closed it already: the
            // notification then simply stays until it expires.
            let error = CallError::from_zbus("CloseNotification", &error);
            tracing::debug!(reason = %error.reason, "could not withdraw a notification");
            if error.connection_lost {
                self.lose_connection(error.reason);
            }
        }
    }

    async fn on_signal(&mut self, message: &zbus::Message) {
        let header = message.header();
        let Some(member) = header.member() else {
            return;
        };
        match member.as_str() {
            "ActionInvoked" => {
                let Ok((server_id, action)) = message.body().deserialize::<(u32, String)>() else {
                    return;
                };
                if action != DEFAULT_ACTION && action != OPEN_ACTION {
                    return;
                }
                if let Some(entry) = self.shown.iter().find(|e| e.server_id == server_id) {
                    self.emit(NotifierEvent::Activated {
                        id: entry.id.clone(),
                        link: entry.link.clone(),
                        open: action == OPEN_ACTION,
                    });
                }
            }
            "NotificationClosed" => {
                if let Ok((server_id, _reason)) = message.body().deserialize::<(u32, u32)>() {
                    self.shown.retain(|entry| entry.server_id != server_id);
                }
            }
            "NameOwnerChanged" => {
                let Ok((name, _old, new)) =
                    message.body().deserialize::<(String, String, String)>()
                else {
                    return;
                };
                if name != SERVICE {
                    return;
                }
                // Another service instance: its ids and capabilities are not the old one's.
                self.shown.clear();
                if let Some(link) = self.link.as_mut() {
                    link.capabilities = None;
                }
                if new.is_empty() {
                    self.mark_unavailable(format!(
                        "the notification service left the bus ({SERVICE} has no owner)"
                    ));
                } else {
                    match self.capabilities().await {
                        Ok(_) => self.mark_available(),
                        Err(error) => self.on_failure(error),
                    }
                }
            }
            _ => {}
        }
    }
}

async fn open_link(target: &BusTarget) -> zbus::Result<BusLink> {
    let builder = match target {
        BusTarget::Session => zbus::connection::Builder::session()?,
        BusTarget::Address(address) => zbus::connection::Builder::address(address.as_str())?,
    };
    let connection = builder.method_timeout(CALL_TIMEOUT).build().await?;
    // The bus delivers only signals sent by the current owner of the service name, so no other
    // client can fake a click.
    let service_rule = MatchRule::builder()
        .msg_type(MessageType::Signal)
        .sender(SERVICE)?
        .path(OBJECT_PATH)?
        .interface(SERVICE)?
        .build();
    let owner_rule = MatchRule::builder()
        .msg_type(MessageType::Signal)
        .sender("org.freedesktop.DBus")?
        .interface("org.freedesktop.DBus")?
        .member("NameOwnerChanged")?
        .arg(0, SERVICE)?
        .build();
    let service = MessageStream::for_match_rule(service_rule, &connection, None).await?;
    let owner = MessageStream::for_match_rule(owner_rule, &connection, None).await?;
    Ok(BusLink {
        connection,
        signals: merge(service, owner),
        capabilities: None,
    })
}

async fn call<B, R>(connection: &Connection, method: &str, body: &B) -> zbus::Result<R>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
    R: for<'d> zbus::zvariant::DynamicDeserialize<'d>,
{
    connection
        .call_method(Some(SERVICE), OBJECT_PATH, Some(SERVICE), method, body)
        .await?
        .body()
        .deserialize()
}

/// `x-tidings.<kind>` for an id `<kind>:...` whose kind is a plain lowercase word.
fn category(id: &str) -> Option<String> {
    let (kind, _) = id.split_once(':')?;
    let plain = !kind.is_empty() && kind.chars().all(|c| c.is_ascii_lowercase());
    plain.then(|| format!("x-tidings.{kind}"))
}

/// Feed text without the control characters that D-Bus strings (NUL) or markup parsers (most
/// C0 controls) reject; newlines and tabs stay.
fn plain_text(raw: &str) -> String {
    raw.chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

/// At most `max_chars` characters, the last one an ellipsis when cut.
fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Text made inert for a server that reads markup (`body-markup`): the spec's subset of XML
/// needs only `&`, `<` and `>` escaped outside attributes.
fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped_once() {
        assert_eq!(
            escape_markup("<b>x</b> & y &amp;"),
            "&lt;b&gt;x&lt;/b&gt; &amp; y &amp;amp;"
        );
        assert_eq!(
            escape_markup("plain \"quoted\" 'text'"),
            "plain \"quoted\" 'text'"
        );
    }

    #[test]
    fn control_characters_are_dropped_but_lines_stay() {
        assert_eq!(plain_text("a\0b\u{7}c\nd\te\r"), "abc\nd\te");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééééé", 3), "éé…");
    }

    #[test]
    fn category_comes_from_a_plain_id_prefix() {
        assert_eq!(
            category("alert:alerts/tornado-1").as_deref(),
            Some("x-tidings.alert")
        );
        assert_eq!(category("news:world/1").as_deref(), Some("x-tidings.news"));
        assert_eq!(category("no-prefix"), None);
        assert_eq!(category("Bad Kind:x"), None);
        assert_eq!(category(":x"), None);
    }

    #[test]
    fn urgency_sets_hint_and_timeout() {
        assert_eq!(Urgency::Critical.hint_byte(), 2);
        assert_eq!(Urgency::Critical.timeout_ms(), 0);
        assert_eq!(Urgency::Normal.timeout_ms(), 10_000);
        assert_eq!(Urgency::Low.timeout_ms(), 6_000);
    }
}
