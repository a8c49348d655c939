//! The app's life on the desktop: notifications chosen by the attention rules, the tray icon,
//! the SmartScreen after idle time with a "while you were away" summary on return, and the
//! autostart entry. The OS adapters are in [`crate::desktop`]; the rules in
//! [`crate::client::attention`]. Everything here runs on the UI thread, except the idle poll,
//! which has a thread of its own and reports through the app's inbox.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local, Utc};

use crate::client::attention::{Action, Attention, Notice, Origin, Rules, Urgency};
use crate::client::store::{Change, Store};
use crate::desktop::idle::{IdleMonitor, IdleTransition, IdleWatch};
use crate::desktop::notify::{self, Notifier, NotifierEvent, Toast};
use crate::desktop::tray::{TrayCommand, TrayState, TrayStatus};
use crate::protocol::{ChannelId, ItemKey, Severity};

/// What the desktop adapters report to the app (through its inbox).
#[derive(Debug)]
pub enum DesktopEvent {
    /// From the notification service.
    Notifier(NotifierEvent),
    /// A tray menu choice.
    Tray(TrayCommand),
    /// The user left or came back.
    Idle(IdleTransition),
    /// Where idle time comes from (a label), or why there is none.
    IdleSource(Result<String, String>),
}

/// What arrived while the user was away (counted from the SmartScreen's start).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Away {
    /// When the user left.
    pub since: DateTime<Utc>,
    /// New items per channel.
    pub items: BTreeMap<ChannelId, usize>,
    /// Alerts raised or updated: (channel, key, title, severity), newest last, one per key.
    pub alerts: Vec<(ChannelId, ItemKey, String, Severity)>,
    /// The user is back: show the summary until dismissed.
    pub returned: bool,
}

impl Away {
    fn count(&mut self, changes: &[Change], store: &Store) {
        for change in changes {
            match change {
                Change::ItemAdded { channel, .. } => {
                    *self.items.entry(channel.clone()).or_default() += 1;
                }
                Change::AlertRaised { channel, key, .. }
                | Change::AlertUpdated { channel, key, .. } => {
                    let Some(alert) = store
                        .channel(channel)
                        .and_then(|c| c.alerts.iter().find(|a| a.alert.key == *key))
                    else {
                        continue;
                    };
                    self.alerts.retain(|(c, k, ..)| c != channel || k != key);
                    self.alerts.push((
                        channel.clone(),
                        key.clone(),
                        alert.alert.title.clone(),
                        alert.alert.severity,
                    ));
                }
                Change::AlertCancelled { channel, key } | Change::AlertRemoved { channel, key } => {
                    self.alerts.retain(|(c, k, ..)| c != channel || k != key);
                }
                _ => {}
            }
        }
    }

    /// Whether anything arrived.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.alerts.is_empty()
    }
}

/// The "while you were away" card, over the main window until dismissed (button, Esc or a
/// click outside). Returns whether it was dismissed.
pub fn away_ui(
    ui: &mut egui::Ui,
    away: &Away,
    model: &super::model::Model,
    palette: &super::theme::Palette,
) -> bool {
    use super::theme::{GAP, size};
    use egui::RichText;
    let title_of = |channel: &ChannelId| {
        model
            .store
            .channel(channel)
            .and_then(|c| c.info.as_ref())
            .map_or_else(|| channel.as_str().to_owned(), |info| info.title.clone())
    };
    let colour_of = |channel: &ChannelId| {
        model
            .store
            .channel(channel)
            .and_then(|c| c.info.as_ref())
            .map_or(palette.text_weak, |info| {
                super::theme::channel_colour(&info.colour)
            })
    };
    let mut dismissed = false;
    let response = egui::Modal::new(egui::Id::unique("tidings-away"))
        .frame(super::theme::dialog_frame(palette))
        .show(ui.ctx(), |ui| {
            ui.set_width(380.0_f32.min(ui.ctx().content_rect().width() - 48.0));
            ui.label(
                RichText::new("While you were away")
                    .size(size::HEADING)
                    .strong(),
            );
            let since = away.since.with_timezone(&Local).format("%H:%M");
            let total: usize = away.items.values().sum();
            let stories = match total {
                0 => String::new(),
                1 => " · 1 new story".to_owned(),
                n => format!(" · {n} new stories"),
            };
            ui.label(
                RichText::new(format!("Since {since}{stories}"))
                    .size(size::SMALL)
                    .color(palette.text_weak),
            );
            ui.add_space(GAP * 1.5);
            for (channel, title, severity) in away
                .alerts
                .iter()
                .map(|(channel, _, title, severity)| (channel, title, *severity))
            {
                let (fill, text) = palette.severity(severity);
                egui::Frame::new()
                    .fill(fill)
                    .corner_radius(6.0)
                    .inner_margin(egui::Margin::symmetric(10, 6))
                    .show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        ui.label(RichText::new(title).color(text).strong())
                            .on_hover_text(title_of(channel));
                    });
                ui.add_space(GAP / 2.0);
            }
            if !away.alerts.is_empty() {
                ui.add_space(GAP);
            }
            // In the user's channel order.
            let order = model.settings.ordered(&model.store.catalog());
            let mut counts: Vec<(&ChannelId, &usize)> = away.items.iter().collect();
            counts.sort_by_key(|(channel, _)| {
                order
                    .iter()
                    .position(|pref| pref.id == **channel)
                    .unwrap_or(usize::MAX)
            });
            for (channel, count) in counts {
                ui.horizontal(|ui| {
                    let (dot, _) =
                        ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                    ui.painter()
                        .circle_filled(dot.center(), 5.0, colour_of(channel));
                    ui.label(RichText::new(title_of(channel)).size(size::BODY));
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        let words = if *count == 1 {
                            "1 new".to_owned()
                        } else {
                            format!("{count} new")
                        };
                        ui.label(
                            RichText::new(words)
                                .size(size::BODY)
                                .color(palette.text_weak),
                        );
                    });
                });
            }
            ui.add_space(GAP * 2.0);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .button(RichText::new("Dismiss").size(size::BODY))
                    .clicked()
                {
                    dismissed = true;
                }
            });
        });
    dismissed || response.should_close()
}

/// The local time now, with its offset (the attention rules' clock).
#[must_use]
pub fn local_now() -> DateTime<FixedOffset> {
    Local::now().fixed_offset()
}

/// The desktop side of the app.
pub struct Desktop {
    attention: Attention,
    notifier: Option<Notifier>,
    /// Said once that notifications cannot be shown.
    pub notifications_unavailable: Option<String>,
    tray: Option<crate::desktop::tray::Tray>,
    /// Why there is no tray, if there is none.
    pub tray_error: Option<String>,
    paused_until: Option<DateTime<Utc>>,
    idle_threshold: Arc<AtomicU64>,
    /// Where idle time comes from, or why there is none (`None`: not known yet).
    pub idle_source: Option<Result<String, String>>,
    /// Counting what arrives while the user is away, then the summary on return.
    pub away: Option<Away>,
    /// How many notifications were shown, replaced and withdrawn (the state dump's).
    pub shown: u64,
    /// When the rules next need a poll (`None`: nothing pending).
    due: Option<std::time::Instant>,
    /// The tray needs a fresh status (content, connection or settings changed).
    pub tray_dirty: bool,
    tray_checked: Option<std::time::Instant>,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop")
            .field("notifier", &self.notifier.is_some())
            .field("tray", &self.tray.is_some())
            .field("away", &self.away)
            .finish_non_exhaustive()
    }
}

/// How the app hands desktop events to its inbox and wakes the UI.
pub type Sink = Arc<dyn Fn(DesktopEvent) + Send + Sync + 'static>;

impl Desktop {
    /// Starts the adapters: notifications (connected lazily, on the first one), the tray icon
    /// and the idle poll (off while `idle` is `None`).
    pub fn start(rules: Rules, idle: Option<Duration>, sink: &Sink) -> Self {
        let notifier = {
            let sink = Arc::clone(sink);
            Notifier::start(
                notify::APP_NAME,
                Some(notify::Icon::Name("tidings".to_owned())),
                move |event| sink(DesktopEvent::Notifier(event)),
            )
        };
        let (tray, tray_error) = {
            let sink = Arc::clone(sink);
            match crate::desktop::tray::Tray::start(&TrayStatus::default(), move |command| {
                sink(DesktopEvent::Tray(command));
            }) {
                Ok(tray) => (Some(tray), None),
                Err(error) => {
                    tracing::info!(%error, "no tray icon");
                    (None, Some(error.to_string()))
                }
            }
        };
        let idle_threshold = Arc::new(AtomicU64::new(idle.map_or(0, |d| d.as_secs().max(1))));
        spawn_idle_poll(Arc::clone(&idle_threshold), Arc::clone(sink));
        Self {
            attention: Attention::new(rules),
            notifier: Some(notifier),
            notifications_unavailable: None,
            tray,
            tray_error,
            paused_until: None,
            idle_threshold,
            idle_source: None,
            away: None,
            shown: 0,
            due: None,
            tray_dirty: true,
            tray_checked: None,
        }
    }

    /// New rules and idle time from the settings.
    pub fn configure(&mut self, rules: Rules, idle: Option<Duration>) {
        if *self.attention.rules() != rules {
            self.attention.set_rules(rules);
        }
        self.idle_threshold
            .store(idle.map_or(0, |d| d.as_secs().max(1)), Ordering::Relaxed);
    }

    /// Content changes, live news or history.
    pub fn observe(&mut self, changes: &[Change], store: &Store, live: bool) {
        let origin = if live { Origin::Live } else { Origin::Backlog };
        self.attention.observe(changes, store, origin, local_now());
        self.due = Some(std::time::Instant::now());
        self.tray_dirty = true;
        if let Some(away) = &mut self.away
            && !away.returned
        {
            away.count(changes, store);
        }
    }

    /// Polls the rules if something is due (cheap otherwise: every frame calls it); returns
    /// when to come back.
    pub fn poll_if_due(&mut self) -> Option<Duration> {
        let now = std::time::Instant::now();
        let due = self.due?;
        if due > now {
            return Some(due - now);
        }
        let wait = self.poll();
        self.due = wait.map(|wait| now + wait);
        wait
    }

    /// Shows what is due; returns when to come back (for a coalescing window or rate limit).
    pub fn poll(&mut self) -> Option<Duration> {
        let now = local_now();
        for action in self.attention.poll(now) {
            let Some(notifier) = &self.notifier else {
                break;
            };
            self.shown += 1;
            match action {
                Action::Show(notice) | Action::Replace(notice) => notifier.show(toast(notice)),
                Action::Withdraw(id) => notifier.withdraw(id.as_str()),
            }
        }
        self.attention
            .next_due()
            .map(|due| (due - now).to_std().unwrap_or(Duration::ZERO))
    }

    /// Pauses notifications (all but critical alerts) for an hour, or resumes them.
    pub fn pause(&mut self, on: bool) {
        self.paused_until = on.then(|| Utc::now() + chrono::Duration::hours(1));
        self.attention.pause_until(self.paused_until);
        self.tray_dirty = true;
    }

    /// Whether notifications are paused now.
    #[must_use]
    pub fn paused(&self) -> bool {
        self.paused_until.is_some_and(|until| until > Utc::now())
    }

    /// A notification of our own (not from the rules), e.g. "still running in the tray".
    pub fn tell(&self, id: &str, summary: &str, body: &str) {
        if let Some(notifier) = &self.notifier {
            notifier.show(Toast {
                id: id.to_owned(),
                summary: summary.to_owned(),
                body: body.to_owned(),
                urgency: notify::Urgency::Low,
                link: None,
            });
        }
    }

    /// Whether a tray host shows our icon (closing the window then hides it there).
    #[must_use]
    pub fn tray_shown(&self) -> bool {
        self.tray
            .as_ref()
            .is_some_and(crate::desktop::tray::Tray::host_present)
    }

    /// Whether the tray's status should be worked out again: something changed, or a second
    /// went by (the retry countdown in its tooltip).
    #[must_use]
    pub fn tray_stale(&self) -> bool {
        self.tray.is_some()
            && (self.tray_dirty
                || self
                    .tray_checked
                    .is_none_or(|at| at.elapsed() >= Duration::from_secs(1)))
    }

    /// Brings the tray icon up to date (cheap when nothing changed).
    pub fn update_tray(&mut self, status: &TrayStatus) {
        self.tray_dirty = false;
        self.tray_checked = Some(std::time::Instant::now());
        if let Some(tray) = &mut self.tray {
            tray.update(status);
        }
    }
}

/// The tray's state from the content and the connection.
#[must_use]
pub fn tray_state(store: &Store, connected: bool) -> (TrayState, usize) {
    let unread = store.channels().map(|(_, c)| c.unread()).sum();
    let alert = store.alerts().iter().any(|a| {
        a.alert.severity >= Severity::Warning
            && a.alert.status != crate::protocol::AlertStatus::Cancelled
    });
    let state = if !connected {
        TrayState::Disconnected
    } else if alert {
        TrayState::Alert
    } else if unread > 0 {
        TrayState::Unread
    } else {
        TrayState::Normal
    };
    (state, unread)
}

fn toast(notice: Notice) -> Toast {
    Toast {
        id: notice.id.as_str().to_owned(),
        summary: notice.summary,
        body: notice.body,
        urgency: match notice.urgency {
            Urgency::Low => notify::Urgency::Low,
            Urgency::Normal => notify::Urgency::Normal,
            Urgency::Critical => notify::Urgency::Critical,
        },
        link: notice.target.link,
    }
}

/// The channel and item a notification is about, from its id (`item:<channel>/<key>` or
/// `alert:<channel>/<key>`; a batch, `batch:<channel>:<n>`, names only its channel).
#[must_use]
pub fn target_of(id: &str) -> Option<(ChannelId, Option<ItemKey>)> {
    let (kind, rest) = id.split_once(':')?;
    match kind {
        "item" | "alert" => {
            let (channel, key) = rest.split_once('/')?;
            Some((ChannelId::new(channel).ok()?, ItemKey::new(key).ok()))
        }
        "batch" => {
            let (channel, _) = rest.rsplit_once(':')?;
            Some((ChannelId::new(channel).ok()?, None))
        }
        _ => None,
    }
}

/// Polls idle time on a thread of its own: cheap (it sleeps until the threshold could first be
/// reached) and silent until the user leaves or comes back.
fn spawn_idle_poll(threshold: Arc<AtomicU64>, sink: Sink) {
    let spawned = std::thread::Builder::new()
        .name("tidings-idle".to_owned())
        .spawn(move || {
            let monitor = match IdleMonitor::detect() {
                Ok(monitor) => {
                    sink(DesktopEvent::IdleSource(Ok(monitor
                        .source()
                        .label()
                        .to_owned())));
                    monitor
                }
                Err(error) => {
                    sink(DesktopEvent::IdleSource(Err(error.to_string())));
                    return;
                }
            };
            let mut watch = IdleWatch::new(Duration::from_secs(600));
            loop {
                let seconds = threshold.load(Ordering::Relaxed);
                if seconds == 0 {
                    std::thread::sleep(Duration::from_secs(5));
                    continue;
                }
                watch.set_threshold(Duration::from_secs(seconds));
                let idle = match monitor.idle() {
                    Ok(idle) => idle,
                    Err(error) => {
                        tracing::debug!(%error, "idle time unavailable");
                        std::thread::sleep(IdleWatch::MAX_POLL);
                        continue;
                    }
                };
                // Only worth asking when the threshold is reached.
                let blocked = idle >= watch.threshold()
                    && !watch.away()
                    && (monitor.other_fullscreen_window()
                        || monitor.screen_locked().unwrap_or(false));
                if let Some(transition) = watch.step(idle, blocked) {
                    sink(DesktopEvent::Idle(transition));
                }
                std::thread::sleep(watch.poll_interval(idle));
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the idle poll");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn notification_ids_lead_back_to_their_item() {
        let world = ChannelId::new("world").unwrap();
        assert_eq!(
            target_of("item:world/abc-1"),
            Some((world.clone(), Some(ItemKey::new("abc-1").unwrap())))
        );
        assert_eq!(target_of("batch:world:7"), Some((world, None)));
        assert_eq!(target_of("tidings:tray"), None);
        assert_eq!(target_of("nonsense"), None);
    }
}
