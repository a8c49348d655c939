//! What the views show and what they ask for: the app's state as plain data ([`Model`]) and the
//! requests views return ([`Effect`]). No I/O here and no egui widgets; the app applies effects
//! (network, files, links) and the tests build a model directly.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::settings::{Location, MAX_PLACES, Settings};
use crate::client::attention;
use crate::client::connection::ConnectionState;
use crate::client::saved::{ExportFormat, SavedStories, SavedStory};
use crate::client::search::{Hit, Query, SearchIndex};
use crate::client::servers::ServerList;
use crate::client::store::{Change, Store, StoredAlert, StoredItem};
use crate::protocol::{
    ChannelId, ChannelInfo, ChannelKind, ItemKey, Place, Severity, WeatherReport,
};

/// Something a view asks the app to do.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Effect {
    /// Mark an item or alert read or unread.
    SetRead {
        /// Where.
        channel: ChannelId,
        /// Which.
        key: ItemKey,
        /// Read or not.
        read: bool,
    },
    /// Mark every item of a channel read.
    MarkChannelRead(ChannelId),
    /// Save a story (star it) or forget it.
    SetSaved {
        /// Where.
        channel: ChannelId,
        /// Which.
        key: ItemKey,
        /// Saved or not.
        saved: bool,
    },
    /// Export the saved stories to a file in the Downloads folder.
    ExportSaved(ExportFormat),
    /// Open an http(s) link in the browser.
    OpenLink(String),
    /// Save and apply new settings.
    ApplySettings(Settings),
    /// Search places for the weather places list.
    SearchPlaces(String),
    /// Fetch an item's image for its thumbnail.
    LoadImage(String),
    /// Try the connection again now.
    ReconnectNow,
    /// Start the SmartScreen.
    StartSmartScreen,
    /// End the SmartScreen.
    EndSmartScreen,
    /// Ask the server to change (or show) its channels and feeds.
    Lineup(super::lineup::LineupRequest),
}

/// The place search in the Settings dialog.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum PlaceSearch {
    /// Nothing asked.
    #[default]
    Idle,
    /// Waiting for the server.
    Searching,
    /// The answer.
    Found(Vec<Place>),
    /// Why it failed.
    Failed(String),
}

/// The pages of the Settings dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SettingsTab {
    /// Server, location, units.
    #[default]
    General,
    /// Order, visibility and notifications per channel.
    Channels,
    /// Theme, ticker, SmartScreen.
    Display,
    /// What may interrupt: severity, quiet hours, keywords, grouping and rate.
    Notifications,
}

impl SettingsTab {
    /// Every page, in order.
    pub const ALL: [Self; 4] = [
        Self::General,
        Self::Channels,
        Self::Notifications,
        Self::Display,
    ];

    /// The page's name.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::General => "General",
            Self::Channels => "Channels",
            Self::Display => "Display",
            Self::Notifications => "Notifications",
        }
    }
}

/// The Settings dialog while open: the edited copy.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsDraft {
    /// The edited settings.
    pub settings: Settings,
    /// Server addresses field (remote mode): one URL, or several nodes of one cluster,
    /// comma-separated.
    pub server_url: String,
    /// Token field (remote mode).
    pub token: String,
    /// Whether the embedded server is chosen.
    pub embedded: bool,
    /// City search field.
    pub place_query: String,
    /// Latitude field of a place added by coordinates.
    pub latitude: String,
    /// Longitude field of a place added by coordinates.
    pub longitude: String,
    /// Why the last place could not be added (full list, already there, bad coordinates).
    pub place_note: Option<String>,
    /// A field error to show.
    pub error: Option<String>,
    /// The page shown.
    pub tab: SettingsTab,
    /// Quiet hours on.
    pub quiet: bool,
    /// Quiet hours start field, `HH:MM`.
    pub quiet_start: String,
    /// Quiet hours end field, `HH:MM`.
    pub quiet_end: String,
    /// Words news must mention (comma-separated), empty for all.
    pub include: String,
    /// Words that silence news (comma-separated).
    pub exclude: String,
    /// Which channel's keywords the Notifications page edits (`None`: all channels).
    pub keyword_scope: Option<ChannelId>,
    /// Per channel: its own include and exclude fields (comma-separated).
    pub channel_keywords: BTreeMap<ChannelId, (String, String)>,
}

/// `text` with a capital first letter, for the dialog's error line.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn keyword_list(text: &str) -> Result<Vec<String>, String> {
    let words: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    for word in &words {
        attention::check_keyword(word).map_err(|e| e.to_string())?;
    }
    Ok(words)
}

impl SettingsDraft {
    /// A draft of `settings`.
    #[must_use]
    pub fn new(settings: &Settings) -> Self {
        let (embedded, server_url, token) = match &settings.server {
            super::settings::ServerChoice::Embedded => (true, String::new(), String::new()),
            super::settings::ServerChoice::Remote { urls, token } => {
                let urls: Vec<&str> = urls.iter().map(|u| u.as_str()).collect();
                (false, urls.join(", "), token.clone().unwrap_or_default())
            }
        };
        Self {
            settings: settings.clone(),
            server_url,
            token,
            embedded,
            place_query: String::new(),
            latitude: String::new(),
            longitude: String::new(),
            place_note: None,
            error: None,
            tab: SettingsTab::default(),
            quiet: settings.notifications.quiet_hours.is_some(),
            quiet_start: settings
                .notifications
                .quiet_hours
                .map_or_else(|| "22:00".to_owned(), |q| attention::format_hhmm(q.start)),
            quiet_end: settings
                .notifications
                .quiet_hours
                .map_or_else(|| "07:00".to_owned(), |q| attention::format_hhmm(q.end)),
            include: settings.notifications.include.join(", "),
            exclude: settings.notifications.exclude.join(", "),
            keyword_scope: None,
            channel_keywords: settings
                .notifications
                .channels
                .iter()
                .filter(|(_, rules)| !rules.include.is_empty() || !rules.exclude.is_empty())
                .map(|(id, rules)| {
                    (
                        id.clone(),
                        (rules.include.join(", "), rules.exclude.join(", ")),
                    )
                })
                .collect(),
        }
    }

    /// The settings the draft describes, or what is wrong with it.
    pub fn finish(&self) -> Result<Settings, String> {
        let mut settings = self.settings.clone();
        settings.server = if self.embedded {
            super::settings::ServerChoice::Embedded
        } else {
            let urls = ServerList::parse(&self.server_url).map_err(|e| sentence(&e.to_string()))?;
            let token = self.token.trim();
            super::settings::ServerChoice::Remote {
                urls,
                token: (!token.is_empty()).then(|| token.to_owned()),
            }
        };
        // Coordinates typed but not added yet are meant to be added, not lost.
        if !self.latitude.trim().is_empty() || !self.longitude.trim().is_empty() {
            let place = self.typed_place()?;
            if let Err(why) = check_new_place(&settings.locations, &place) {
                // Already there is as good as added; a full list is worth saying.
                if settings.locations.len() >= MAX_PLACES {
                    return Err(why);
                }
            } else {
                settings.locations.push(place);
            }
        }
        settings.ticker.speed = settings.ticker.speed.clamp(10.0, 400.0);
        settings.ticker.max_fps = settings.ticker.max_fps.clamp(5, 60);
        settings.smartscreen.idle_minutes = settings.smartscreen.idle_minutes.clamp(1, 240);
        let rules = &mut settings.notifications;
        rules.quiet_hours = if self.quiet {
            Some(
                attention::QuietHours::parse(&self.quiet_start, &self.quiet_end)
                    .map_err(|e| e.to_string())?,
            )
        } else {
            None
        };
        rules.include = keyword_list(&self.include)?;
        rules.exclude = keyword_list(&self.exclude)?;
        for (id, (include, exclude)) in &self.channel_keywords {
            let in_channel = |e: String| format!("Keywords for the channel “{id}”: {e}");
            let channel = rules.channels.entry(id.clone()).or_default();
            channel.include = keyword_list(include).map_err(in_channel)?;
            channel.exclude = keyword_list(exclude).map_err(in_channel)?;
        }
        // Entries left with nothing of their own are noise in settings.toml.
        rules
            .channels
            .retain(|_, c| *c != attention::ChannelRules::default());
        rules.coalesce_seconds = rules.coalesce_seconds.clamp(1, 60);
        Ok(settings)
    }

    /// Adds a place from the search to the end of the list (see [`check_new_place`]).
    pub fn add_place(&mut self, place: &Place) {
        self.push_place(Location {
            name: place.label(),
            latitude: (place.latitude * 10_000.0).round() / 10_000.0,
            longitude: (place.longitude * 10_000.0).round() / 10_000.0,
        });
    }

    /// Adds the place the latitude and longitude fields describe, then clears them.
    pub fn add_typed_place(&mut self) {
        match self.typed_place() {
            Ok(place) => {
                if self.push_place(place) {
                    self.latitude.clear();
                    self.longitude.clear();
                }
            }
            Err(why) => self.place_note = Some(why),
        }
    }

    fn push_place(&mut self, place: Location) -> bool {
        match check_new_place(&self.settings.locations, &place) {
            Ok(()) => {
                self.settings.locations.push(place);
                self.place_note = None;
                true
            }
            Err(why) => {
                self.place_note = Some(why);
                false
            }
        }
    }

    /// Moves the place at `index` one up (`up`) or down; nothing at the ends.
    pub fn move_place(&mut self, index: usize, up: bool) {
        let other = if up {
            index.checked_sub(1)
        } else {
            Some(index + 1)
        };
        if let Some(other) = other
            && other < self.settings.locations.len()
            && index < self.settings.locations.len()
        {
            self.settings.locations.swap(index, other);
        }
    }

    /// Removes the place at `index`.
    pub fn remove_place(&mut self, index: usize) {
        if index < self.settings.locations.len() {
            self.settings.locations.remove(index);
            self.place_note = None;
        }
    }

    /// The place the latitude and longitude fields describe, named by its coordinates.
    fn typed_place(&self) -> Result<Location, String> {
        let latitude: f64 = self
            .latitude
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| (-90.0..=90.0).contains(v))
            .ok_or("Latitude must be a number from -90 to 90")?;
        let longitude: f64 = self
            .longitude
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| (-180.0..=180.0).contains(v))
            .ok_or("Longitude must be a number from -180 to 180")?;
        Ok(Location {
            name: format!("{latitude:.2}, {longitude:.2}"),
            latitude,
            longitude,
        })
    }
}

/// Whether `place` may join `places`: there is room, and no place already there has its
/// weather (the same 0.1° cell would show the same report twice).
pub fn check_new_place(places: &[Location], place: &Location) -> Result<(), String> {
    if places.len() >= MAX_PLACES {
        return Err(format!(
            "At most {MAX_PLACES} places; remove one to add another"
        ));
    }
    let cell = place.cell();
    match places.iter().find(|p| p.cell() == cell) {
        Some(same) if same.name == place.name => {
            Err(format!("{} is already in the list", same.name))
        }
        Some(same) => Err(format!(
            "{} has the same weather as {} (they are within about 11 km)",
            place.short_name(),
            same.short_name()
        )),
        None => Ok(()),
    }
}

/// What the middle of the window lists (unless a search is open).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Section {
    /// The selected channel's headlines.
    #[default]
    Channel,
    /// The saved stories.
    Saved,
}

/// One story (item or alert) anywhere: in a channel of the store or among the saved ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoryRef {
    /// Its channel.
    pub channel: ChannelId,
    /// Its key there.
    pub key: ItemKey,
}

impl StoryRef {
    /// The story `key` of `channel`.
    #[must_use]
    pub fn new(channel: &ChannelId, key: &ItemKey) -> Self {
        Self {
            channel: channel.clone(),
            key: key.clone(),
        }
    }
}

/// The search box and its results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchState {
    /// What is typed.
    pub query: String,
    /// Whether the results (or the search's empty state) are in front.
    pub open: bool,
    /// Put the keyboard focus in the box on the next frame (Ctrl+F, `/`).
    pub focus: bool,
    /// The highlighted result (keyboard), an index into the results.
    pub cursor: usize,
    /// What was in front before the search opened, restored when it closes.
    pub before: Option<(Section, Option<StoryRef>)>,
}

/// Which part of the app is in front.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewState {
    /// The selected channel.
    pub channel: Option<ChannelId>,
    /// The selected item or alert in it.
    pub item: Option<ItemKey>,
    /// The channel's headlines or the saved stories.
    pub section: Section,
    /// The story open in the Saved view or from the search results.
    pub pick: Option<StoryRef>,
    /// Stories unsaved while the Saved view is in front: still listed there, with an empty
    /// star, so a slip is undone with one more click, until the view is left.
    pub unsaved_here: Vec<SavedStory>,
    /// The search.
    pub search: SearchState,
    /// The Settings dialog, when open.
    pub settings: Option<SettingsDraft>,
    /// The place search's state.
    pub places: PlaceSearch,
    /// Scroll the list to the selected item on the next frame (after keyboard moves).
    pub scroll_to_selection: bool,
    /// "Your channels and feeds" in Settings → Channels.
    pub lineup: super::lineup::LineupPanel,
    /// The first-run welcome, while it is shown.
    pub welcome: Option<super::welcome::Welcome>,
}

/// The search index and the last results, rebuilt when the content or the query changes.
#[derive(Debug, Clone, Default)]
pub struct SearchCache {
    store: Weak<Store>,
    saved: Weak<SavedStories>,
    index: Arc<SearchIndex>,
    text: String,
    query: Query,
    hits: Arc<Vec<Hit>>,
}

/// The results of the current search.
#[derive(Debug, Clone)]
pub struct SearchResults {
    /// What was searched.
    pub index: Arc<SearchIndex>,
    /// The parsed query.
    pub query: Query,
    /// The matches, newest first.
    pub hits: Arc<Vec<Hit>>,
}

/// A story found by [`Model::story`].
#[derive(Debug, Clone, Copy)]
pub enum Story<'a> {
    /// An item the store holds.
    Item(&'a StoredItem),
    /// An alert the store holds.
    Alert(&'a StoredAlert),
    /// A saved copy of an item the store no longer holds.
    Saved(&'a SavedStory),
}

/// Everything the views read.
#[derive(Debug, Clone)]
pub struct Model {
    /// The content.
    pub store: Arc<Store>,
    /// The connection.
    pub connection: ConnectionState,
    /// When the connection entered that state (for the retry countdown).
    pub connection_since: Instant,
    /// When the content on screen was cached (before the network answered).
    pub cached_at: Option<DateTime<Utc>>,
    /// When content last changed.
    pub last_change: Option<DateTime<Utc>>,
    /// The settings in force.
    pub settings: Settings,
    /// What is in front.
    pub view: ViewState,
    /// A problem worth one line (cache set aside, notification service missing, …).
    pub notice: Option<String>,
    /// Where idle time comes from (a label), or why there is none; `None` until known.
    pub idle_source: Option<Result<String, String>>,
    /// The time the frame is drawn at (the clock, injected for tests).
    pub now: DateTime<Utc>,
    /// Item images as textures.
    pub thumbnails: super::thumbnails::Thumbnails,
    /// The stories the user saved.
    pub saved: Arc<SavedStories>,
    /// The search index and last results.
    pub search_cache: SearchCache,
}

/// A channel as the column shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRow {
    /// Its metadata.
    pub info: ChannelInfo,
    /// Unread items (or live alerts for an alerts channel).
    pub unread: usize,
}

impl Model {
    /// A model showing `store`, connecting.
    #[must_use]
    pub fn new(store: Arc<Store>, settings: Settings) -> Self {
        Self {
            store,
            connection: ConnectionState::Connecting {
                attempt: 1,
                server: crate::client::connection::Endpoint::only(String::new()),
            },
            connection_since: Instant::now(),
            cached_at: None,
            last_change: None,
            settings,
            view: ViewState::default(),
            notice: None,
            idle_source: None,
            now: Utc::now(),
            thumbnails: super::thumbnails::Thumbnails::default(),
            saved: Arc::default(),
            search_cache: SearchCache::default(),
        }
    }

    /// Records a new connection state.
    pub fn set_connection(&mut self, state: ConnectionState) {
        self.connection = state;
        self.connection_since = Instant::now();
    }

    /// What remains of the current retry wait.
    #[must_use]
    pub fn retry_left(&self) -> Duration {
        match &self.connection {
            ConnectionState::Retrying { delay, .. } | ConnectionState::Offline { delay, .. } => {
                delay.saturating_sub(self.connection_since.elapsed())
            }
            _ => Duration::ZERO,
        }
    }

    /// The channels to show, in the user's order, hidden ones left out.
    #[must_use]
    pub fn channel_rows(&self) -> Vec<ChannelRow> {
        let known = self.store.catalog();
        self.settings
            .ordered(&known)
            .into_iter()
            .filter(|pref| pref.shown)
            .filter_map(|pref| {
                let state = self.store.channel(&pref.id)?;
                let info = state.info.clone()?;
                let unread = match info.kind {
                    ChannelKind::Alerts => state
                        .distinct_alerts()
                        .into_iter()
                        .filter(|a| !a.read)
                        .count(),
                    _ => state.unread(),
                };
                Some(ChannelRow { info, unread })
            })
            .collect()
    }

    /// The selected channel, or the first shown one.
    #[must_use]
    pub fn current_channel(&self) -> Option<ChannelRow> {
        let rows = self.channel_rows();
        self.view
            .channel
            .as_ref()
            .and_then(|id| rows.iter().find(|row| row.info.id == *id).cloned())
            .or_else(|| rows.into_iter().next())
    }

    /// The items of `channel`, newest first.
    #[must_use]
    pub fn visible_items(&self, channel: &ChannelId) -> Vec<&StoredItem> {
        self.store
            .channel(channel)
            .map(|state| state.items.iter().collect())
            .unwrap_or_default()
    }

    /// The results of the search box, from the index of everything held (rebuilt only when
    /// the content changed, and searched again only when the query did).
    pub fn search_results(&mut self) -> SearchResults {
        let cache = &mut self.search_cache;
        let stale = cache.store.as_ptr() != Arc::as_ptr(&self.store)
            || cache.saved.as_ptr() != Arc::as_ptr(&self.saved);
        if stale {
            cache.index = Arc::new(cache.index.update(&self.store, &self.saved));
            cache.store = Arc::downgrade(&self.store);
            cache.saved = Arc::downgrade(&self.saved);
        }
        if stale || cache.text != self.view.search.query {
            let query = Query::parse(&self.view.search.query);
            if query != cache.query {
                self.view.search.cursor = 0;
            }
            cache.hits = Arc::new(cache.index.search(&query));
            cache.query = query;
            cache.text.clone_from(&self.view.search.query);
        }
        SearchResults {
            index: Arc::clone(&cache.index),
            query: cache.query.clone(),
            hits: Arc::clone(&cache.hits),
        }
    }

    /// The search results as stories.
    pub fn search_refs(&mut self) -> Vec<StoryRef> {
        let results = self.search_results();
        results
            .hits
            .iter()
            .filter_map(|hit| results.index.docs().get(hit.doc))
            .map(|doc| StoryRef::new(&doc.channel, &doc.key))
            .collect()
    }

    /// Opens the search (keeping what is typed) and asks for the keyboard focus.
    pub fn open_search(&mut self) {
        self.start_search();
        self.view.search.focus = true;
    }

    /// Puts the search in front (the box got the focus or text), remembering what was there.
    pub fn start_search(&mut self) {
        let search = &mut self.view.search;
        if !search.open {
            search.open = true;
            search.before = Some((self.view.section, self.view.pick.take()));
        }
    }

    /// Closes the search: clears it and brings back what was in front before.
    pub fn close_search(&mut self) {
        let before = self.view.search.before.take();
        self.view.search = SearchState::default();
        if let Some((section, pick)) = before {
            self.view.section = section;
            self.view.pick = pick;
        }
    }

    /// The stories the Saved view lists: the saved ones, and those unsaved while it is in
    /// front, most recently saved first.
    #[must_use]
    pub fn saved_list(&self) -> Vec<&SavedStory> {
        let mut list: Vec<&SavedStory> = self
            .saved
            .iter()
            .chain(self.view.unsaved_here.iter())
            .collect();
        list.sort_by_key(|story| std::cmp::Reverse(story.saved_at));
        list
    }

    /// Shows the saved stories.
    pub fn show_saved(&mut self) {
        if self.view.search.open {
            self.close_search();
        }
        if self.view.section != Section::Saved {
            self.view.section = Section::Saved;
            self.view.pick = None;
            self.view.unsaved_here.clear();
        }
    }

    /// A story wherever it is: the store first (the freshest copy), then the saved copies.
    #[must_use]
    pub fn story(&self, story: &StoryRef) -> Option<Story<'_>> {
        let state = self.store.channel(&story.channel);
        if let Some(stored) = state.and_then(|c| c.items.iter().find(|s| s.item.key == story.key)) {
            return Some(Story::Item(stored));
        }
        if let Some(stored) = state.and_then(|c| c.alerts.iter().find(|a| a.alert.key == story.key))
        {
            return Some(Story::Alert(stored));
        }
        self.saved
            .get(&story.channel, &story.key)
            .or_else(|| {
                self.view
                    .unsaved_here
                    .iter()
                    .find(|s| s.item.channel == story.channel && s.item.key == story.key)
            })
            .map(Story::Saved)
    }

    /// A channel's name and colour: from the server, or as saved with a story.
    #[must_use]
    pub fn channel_label(&self, channel: &ChannelId) -> (String, String) {
        if let Some(info) = self.store.channel(channel).and_then(|c| c.info.as_ref()) {
            return (info.title.clone(), info.colour.clone());
        }
        self.saved
            .iter()
            .chain(self.view.unsaved_here.iter())
            .find(|s| s.item.channel == *channel)
            .map_or_else(
                || (channel.as_str().to_owned(), String::new()),
                |s| (s.channel_title.clone(), s.channel_colour.clone()),
            )
    }

    /// Whether a story is saved.
    #[must_use]
    pub fn is_saved(&self, channel: &ChannelId, key: &ItemKey) -> bool {
        self.saved.contains(channel, key)
    }

    /// Saves a story (a copy of the item as the store has it) or forgets it. Returns whether
    /// anything changed; the app then writes the file.
    pub fn set_saved(&mut self, channel: &ChannelId, key: &ItemKey, saved: bool) -> bool {
        if saved == self.saved.contains(channel, key) {
            return false;
        }
        if !saved {
            let removed = Arc::make_mut(&mut self.saved).remove(channel, key);
            if let Some(story) = removed
                && self.view.section == Section::Saved
            {
                self.view.unsaved_here.push(story);
            }
            return true;
        }
        let earlier = self
            .view
            .unsaved_here
            .iter()
            .position(|s| s.item.channel == *channel && s.item.key == *key)
            .map(|index| self.view.unsaved_here.remove(index));
        let held = self
            .store
            .channel(channel)
            .and_then(|c| c.items.iter().find(|s| s.item.key == *key))
            .map(|s| s.item.clone());
        let story = match (held, earlier) {
            // Saved again after a slip: back in its place, with the freshest copy.
            (Some(item), Some(mut earlier)) => {
                earlier.item = item;
                earlier
            }
            (None, Some(earlier)) => earlier,
            (Some(item), None) => {
                let (title, colour) = self.channel_label(channel);
                SavedStory::new(item, &title, &colour, self.now)
            }
            // Alerts and vanished items are not saved.
            (None, None) => return false,
        };
        Arc::make_mut(&mut self.saved).insert(story);
        true
    }

    /// Takes updated versions of saved items from `changes` (a corrected headline, say).
    /// Returns whether a saved copy changed.
    pub fn refresh_saved(&mut self, changes: &[Change]) -> bool {
        let mut changed = false;
        for change in changes {
            if let Change::ItemUpdated { channel, key, .. } = change
                && self.saved.contains(channel, key)
                && let Some(item) = self
                    .store
                    .channel(channel)
                    .and_then(|c| c.items.iter().find(|s| s.item.key == *key))
                    .map(|s| s.item.clone())
            {
                changed |= Arc::make_mut(&mut self.saved).refresh(&item);
            }
        }
        changed
    }

    /// Every live alert of shown channels, most severe first, then newest.
    #[must_use]
    pub fn active_alerts(&self) -> Vec<&StoredAlert> {
        let shown: Vec<ChannelId> = self.channel_rows().into_iter().map(|r| r.info.id).collect();
        // The store already orders them most severe first, then newest, each hazard once.
        self.store
            .distinct_alerts()
            .into_iter()
            .filter(|a| shown.contains(&a.alert.channel))
            .collect()
    }

    /// The most urgent alert worth a banner (notice and above), if any.
    #[must_use]
    pub fn banner_alert(&self) -> Option<&StoredAlert> {
        self.active_alerts()
            .into_iter()
            .find(|a| a.alert.severity >= Severity::Notice)
    }

    /// The weather at `place`, if the server sent it.
    #[must_use]
    pub fn weather_at(&self, place: &Location) -> Option<&WeatherReport> {
        self.store.weather(&place.cell())
    }

    /// The weather at the first place (the card's and the ticker's), if the server sent it.
    #[must_use]
    pub fn weather(&self) -> Option<&WeatherReport> {
        self.weather_at(self.settings.first_place()?)
    }

    /// Moves the selection by `step` stories: in the search results, the saved stories or
    /// the current channel, whichever is in front.
    pub fn move_selection(&mut self, step: isize) {
        if self.view.search.open {
            let refs = self.search_refs();
            let open = self
                .view
                .pick
                .as_ref()
                .and_then(|pick| refs.iter().position(|r| r == pick));
            // Nothing open yet: the first key opens the highlighted result.
            let next = match open {
                Some(index) => step_index(Some(index), step, refs.len()),
                None => step_index(Some(self.view.search.cursor), 0, refs.len()),
            };
            if let Some(next) = next {
                self.view.search.cursor = next;
                self.view.pick = refs.get(next).cloned();
                self.view.scroll_to_selection = true;
            }
            return;
        }
        if self.view.section == Section::Saved {
            let refs: Vec<StoryRef> = self
                .saved_list()
                .into_iter()
                .map(|s| StoryRef::new(&s.item.channel, &s.item.key))
                .collect();
            let current = self
                .view
                .pick
                .as_ref()
                .and_then(|pick| refs.iter().position(|r| r == pick));
            if let Some(next) = step_index(current, step, refs.len()) {
                self.view.pick = refs.get(next).cloned();
                self.view.scroll_to_selection = true;
            }
            return;
        }
        let Some(channel) = self.current_channel() else {
            return;
        };
        let keys: Vec<ItemKey> = if channel.info.kind == ChannelKind::Alerts {
            self.store
                .channel(&channel.info.id)
                .map(|c| c.alerts.iter().map(|a| a.alert.key.clone()).collect())
                .unwrap_or_default()
        } else {
            self.visible_items(&channel.info.id)
                .into_iter()
                .map(|s| s.item.key.clone())
                .collect()
        };
        let current = self
            .view
            .item
            .as_ref()
            .and_then(|key| keys.iter().position(|k| k == key));
        if let Some(next) = step_index(current, step, keys.len()) {
            self.view.channel = Some(channel.info.id);
            self.view.item = keys.get(next).cloned();
            self.view.scroll_to_selection = true;
        }
    }

    /// The story the keyboard acts on (`m`, `s`, Enter): the one open in the search or the
    /// Saved view, or the selected item of the channel.
    #[must_use]
    pub fn selected_story(&self) -> Option<StoryRef> {
        if self.view.search.open || self.view.section == Section::Saved {
            return self.view.pick.clone();
        }
        let channel = self.current_channel()?;
        Some(StoryRef::new(&channel.info.id, self.view.item.as_ref()?))
    }

    /// Selects the `index`th shown channel (keys 1-9).
    pub fn select_channel_at(&mut self, index: usize) {
        if let Some(row) = self.channel_rows().get(index) {
            self.select_channel(row.info.id.clone());
        }
    }

    /// Selects a channel (and no item), leaving the search and the Saved view.
    pub fn select_channel(&mut self, channel: ChannelId) {
        if self.view.search.open {
            self.close_search();
        }
        self.view.section = Section::Channel;
        self.view.unsaved_here.clear();
        if self.view.channel.as_ref() != Some(&channel) {
            self.view.channel = Some(channel);
            self.view.item = None;
        }
    }
}

/// The index `step` away from `current` in a list of `len` (the first when nothing is
/// selected), kept inside the list; `None` for an empty list.
fn step_index(current: Option<usize>, step: isize, len: usize) -> Option<usize> {
    if len == 0 {
        return None;
    }
    Some(match current {
        None => 0,
        Some(index) => index.saturating_add_signed(step).min(len - 1),
    })
}

/// Only http and https links are opened; anything else is refused.
#[must_use]
pub fn openable(link: &str) -> bool {
    reqwest::Url::parse(link)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_links_open() {
        assert!(openable("https://example.com/a"));
        assert!(openable("http://example.com"));
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "mailto:x@y",
            "ssh://h",
            "https://",
            "not a url",
        ] {
            assert!(!openable(bad), "{bad}");
        }
    }

    #[test]
    fn the_settings_draft_checks_its_fields() {
        let mut draft = SettingsDraft::new(&Settings::default());
        draft.embedded = false;
        draft.server_url = "news.lan".to_owned();
        assert!(draft.finish().unwrap_err().contains("http://"));
        draft.server_url = "http://news.lan:8080/".to_owned();
        draft.latitude = "91".to_owned();
        draft.longitude = "0".to_owned();
        assert!(draft.finish().unwrap_err().contains("Latitude"));
        draft.latitude = "52.52".to_owned();
        draft.longitude = "13.4061".to_owned();
        let settings = draft.finish().unwrap();
        assert_eq!(
            settings.server,
            super::super::settings::ServerChoice::Remote {
                urls: ServerList::parse("http://news.lan:8080").unwrap(),
                token: None
            }
        );
        // Several nodes of one cluster, comma-separated; the bad one is named.
        draft.server_url = "http://news1.lan:8080, news2.lan".to_owned();
        assert_eq!(
            draft.finish().unwrap_err(),
            "The server address \"news2.lan\" must start with http:// or https://"
        );
        draft.server_url = "http://news1.lan:8080, http://news2.lan:8080/".to_owned();
        let settings = draft.finish().unwrap();
        let super::super::settings::ServerChoice::Remote { urls, .. } = &settings.server else {
            panic!("{:?}", settings.server)
        };
        assert_eq!(
            urls.to_string(),
            "http://news1.lan:8080,http://news2.lan:8080"
        );
        assert_eq!(
            SettingsDraft::new(&settings).server_url,
            "http://news1.lan:8080, http://news2.lan:8080"
        );
        // Coordinates typed but not added are added on Save, named by their position.
        assert_eq!(settings.locations.len(), 1);
        assert_eq!(settings.locations[0].name, "52.52, 13.41");
    }

    fn place(name: &str, latitude: f64, longitude: f64) -> Place {
        Place {
            name: name.to_owned(),
            region: Some("Illinois".to_owned()),
            country: Some("United States".to_owned()),
            country_code: Some("US".to_owned()),
            latitude,
            longitude,
            timezone: None,
            population: None,
        }
    }

    #[test]
    fn places_are_added_moved_and_removed() {
        let mut draft = SettingsDraft::new(&Settings::default());
        draft.add_place(&place("Springfield", 39.80172, -89.64371));
        draft.add_place(&place("Chicago", 41.85, -87.65));
        draft.latitude = "44.61".to_owned();
        draft.longitude = "-67.22".to_owned();
        draft.add_typed_place();
        assert!(draft.latitude.is_empty(), "the fields clear once added");
        let names = |draft: &SettingsDraft| -> Vec<String> {
            draft
                .finish()
                .unwrap()
                .locations
                .iter()
                .map(|l| l.name.clone())
                .collect()
        };
        assert_eq!(
            names(&draft),
            [
                "Springfield, Illinois, United States",
                "Chicago, Illinois, United States",
                "44.61, -67.22"
            ]
        );
        assert_eq!(draft.settings.locations[0].latitude, 39.8017);
        draft.move_place(2, true);
        draft.move_place(0, true); // already first: nothing
        draft.move_place(2, false); // already last: nothing
        assert_eq!(names(&draft)[1], "44.61, -67.22");
        draft.move_place(0, false);
        assert_eq!(names(&draft)[0], "44.61, -67.22");
        draft.remove_place(1);
        assert_eq!(
            names(&draft),
            ["44.61, -67.22", "Chicago, Illinois, United States"]
        );

        // The same place twice, or a place in the same cell, would show one report twice.
        draft.add_place(&place("Chicago", 41.85, -87.65));
        assert_eq!(
            draft.place_note.as_deref(),
            Some("Chicago, Illinois, United States is already in the list")
        );
        draft.add_place(&place("Cicero", 41.8456, -87.7539 + 0.1));
        assert!(draft.place_note.is_none(), "{:?}", draft.place_note);
        draft.add_place(&place("Oak Park", 41.85, -87.66));
        assert_eq!(
            draft.place_note.as_deref(),
            Some("Oak Park has the same weather as Chicago (they are within about 11 km)")
        );
        // Eight at most.
        for n in 0..10 {
            draft.add_place(&place(&format!("Town {n}"), f64::from(n), 10.0));
        }
        assert_eq!(draft.settings.locations.len(), MAX_PLACES);
        assert_eq!(
            draft.place_note.as_deref(),
            Some("At most 8 places; remove one to add another")
        );
        draft.latitude = "1".to_owned();
        draft.longitude = "1".to_owned();
        assert!(draft.finish().unwrap_err().contains("At most 8"));
    }
}
