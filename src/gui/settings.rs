//! The desktop app's settings: what the Settings dialog edits, saved as TOML in the user's
//! config directory (`~/.config/tidings/settings.toml` on Linux).
//!
//! Pure data plus load/save. A file that cannot be read is set aside (renamed) and defaults are
//! used, so a bad edit never keeps the app from starting; unknown keys are ignored and missing
//! ones take their defaults, so files from older and newer versions both load.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client::servers::ServerList;
use crate::protocol::ChannelId;

/// Where content comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ServerChoice {
    /// A server inside the app, with the default line-up.
    #[default]
    Embedded,
    /// A shared server, or several nodes of one cluster to fail over between.
    Remote {
        /// Their base URLs in the order to try them, e.g. `["http://news1.office.lan:8080",
        /// "http://news2.office.lan:8080"]`. Also read from the single string older files have
        /// under `url` (and from a comma-separated string).
        #[serde(alias = "url")]
        urls: ServerList,
        /// Publish token (kept for the publish commands; streams need none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
}

/// How much a channel may interrupt (the attention rules' per-channel level).
pub use crate::client::attention::Level as NotifyLevel;

/// One channel's place and treatment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPref {
    /// The channel.
    pub id: ChannelId,
    /// Shown in the channel column, ticker and SmartScreen.
    #[serde(default = "yes")]
    pub shown: bool,
    /// Notifications.
    #[serde(default)]
    pub notify: NotifyLevel,
}

fn yes() -> bool {
    true
}

/// A weather place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Name shown, e.g. "Springfield, Illinois".
    pub name: String,
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
}

impl Location {
    /// The 0.1° cell the server reports this place's weather for.
    #[must_use]
    pub fn cell(&self) -> String {
        crate::protocol::weather_cell(self.latitude, self.longitude)
    }

    /// The name up to its first comma: "Springfield" of "Springfield, Illinois".
    #[must_use]
    pub fn short_name(&self) -> &str {
        self.name.split(',').next().unwrap_or(&self.name).trim()
    }
}

/// The places the demo starts with when none are set: fictional towns the demo's place search
/// also finds, on three continents' worth of clocks.
#[must_use]
pub fn demo_places() -> Vec<Location> {
    [
        ("Port Tiding, Harbour County", 44.61, -67.22),
        ("Kesselbury, Lenne Province", 52.12, 11.63),
        ("Greywater, Southern Isles", -41.29, 174.78),
    ]
    .into_iter()
    .map(|(name, latitude, longitude)| Location {
        name: name.to_owned(),
        latitude,
        longitude,
    })
    .collect()
}

/// The most weather places (as many as a stream may follow).
pub const MAX_PLACES: usize = crate::protocol::MAX_WEATHER_CELLS;

/// Reads `locations` as a list, or as the single table files from before several places had
/// under `location`, so an old file keeps its place.
fn one_or_many<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Location>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Location>),
        One(Location),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Many(places) => places,
        OneOrMany::One(place) => vec![place],
    })
}

/// Temperature unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TemperatureUnit {
    /// °C.
    #[default]
    Celsius,
    /// °F.
    Fahrenheit,
}

/// Wind speed unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WindUnit {
    /// km/h.
    #[default]
    Kmh,
    /// mph.
    Mph,
}

/// Units for display (the server always sends metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Units {
    /// Temperatures.
    pub temperature: TemperatureUnit,
    /// Wind speeds.
    pub wind: WindUnit,
}

/// Where the ticker lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TickerPosition {
    /// A slim window docked at the top of the screen.
    Top,
    /// A slim window docked at the bottom of the screen.
    #[default]
    Bottom,
    /// A strip inside the main window.
    InWindow,
}

impl TickerPosition {
    /// Every position, in menu order.
    pub const ALL: [Self; 3] = [Self::Top, Self::Bottom, Self::InWindow];

    /// Words for the menu.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Top => "Top of the screen",
            Self::Bottom => "Bottom of the screen",
            Self::InWindow => "Inside the main window",
        }
    }
}

/// The ticker.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TickerSettings {
    /// Shown at all.
    pub enabled: bool,
    /// Where.
    pub position: TickerPosition,
    /// Scroll speed in points per second.
    pub speed: f32,
    /// Frame rate cap while scrolling.
    pub max_fps: u32,
}

impl Default for TickerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            position: TickerPosition::default(),
            speed: 60.0,
            max_fps: 30,
        }
    }
}

/// The SmartScreen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmartScreenSettings {
    /// Start after idle time.
    pub enabled: bool,
    /// Idle minutes before it starts.
    pub idle_minutes: u32,
}

impl Default for SmartScreenSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            idle_minutes: 10,
        }
    }
}

/// The look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ThemeChoice {
    /// A nod to PointCast 1996: silver chrome, navy title bars, a black ticker.
    Classic,
    /// Modern, light.
    Light,
    /// Modern, dark.
    #[default]
    Dark,
}

impl ThemeChoice {
    /// Every theme, in menu order.
    pub const ALL: [Self; 3] = [Self::Classic, Self::Light, Self::Dark];

    /// Words for the menu.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Classic => "Classic",
            Self::Light => "Light",
            Self::Dark => "Dark",
        }
    }
}

/// Everything the Settings dialog edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Settings {
    /// Content source.
    pub server: ServerChoice,
    /// Channel order and treatment; channels the server has that are not listed are shown
    /// after these, with defaults.
    pub channels: Vec<ChannelPref>,
    /// Weather places in the user's order (none: no weather). The first is the one the
    /// weather card and the ticker show. Also read from the single `location` of older files.
    #[serde(alias = "location", deserialize_with = "one_or_many")]
    pub locations: Vec<Location>,
    /// Display units.
    pub units: Units,
    /// The ticker.
    pub ticker: TickerSettings,
    /// The SmartScreen.
    pub smartscreen: SmartScreenSettings,
    /// The look.
    pub theme: ThemeChoice,
    /// What may interrupt: minimum severity, keywords, quiet hours, coalescing and rate. The
    /// per-channel levels live in [`Settings::channels`]; per-channel keywords here.
    pub notifications: crate::client::attention::Rules,
    /// Start the ticker with the desktop session (an XDG autostart entry).
    pub autostart: bool,
}

impl Settings {
    /// The preference for `channel` (defaults when not listed).
    #[must_use]
    pub fn channel(&self, channel: &ChannelId) -> ChannelPref {
        self.channels
            .iter()
            .find(|pref| pref.id == *channel)
            .cloned()
            .unwrap_or_else(|| ChannelPref {
                id: channel.clone(),
                shown: true,
                notify: NotifyLevel::default(),
            })
    }

    /// `known` (the server's channels, in catalog order) in the user's order: listed ones
    /// first, as listed, then the rest in catalog order.
    #[must_use]
    pub fn ordered(&self, known: &[ChannelId]) -> Vec<ChannelPref> {
        let mut ordered: Vec<ChannelPref> = self
            .channels
            .iter()
            .filter(|pref| known.contains(&pref.id))
            .cloned()
            .collect();
        for id in known {
            if !ordered.iter().any(|pref| pref.id == *id) {
                ordered.push(self.channel(id));
            }
        }
        ordered
    }

    /// The attention rules in force: [`Settings::notifications`] with each channel's level
    /// from [`Settings::channels`].
    #[must_use]
    pub fn attention_rules(&self) -> crate::client::attention::Rules {
        let mut rules = self.notifications.clone();
        for pref in &self.channels {
            rules.channels.entry(pref.id.clone()).or_default().level = pref.notify;
        }
        rules
    }

    /// The first weather place, the one the weather card and the ticker show.
    #[must_use]
    pub fn first_place(&self) -> Option<&Location> {
        self.locations.first()
    }

    /// The places' positions, in order, for the stream.
    #[must_use]
    pub fn place_positions(&self) -> Vec<(f64, f64)> {
        self.locations
            .iter()
            .map(|l| (l.latitude, l.longitude))
            .collect()
    }

    /// Whether switching from `self` to `other` needs a new connection (another server, or
    /// another set of weather cells); everything else, reordering the places included,
    /// applies in place.
    #[must_use]
    pub fn needs_reconnect(&self, other: &Self) -> bool {
        let cells = |s: &Self| {
            let mut cells = crate::client::weather_cells(&s.place_positions());
            cells.sort();
            cells
        };
        self.server != other.server || cells(self) != cells(other)
    }
}

/// Why settings could not be saved.
#[derive(Debug, thiserror::Error)]
#[error("cannot save settings to {path}: {source}")]
pub struct SaveError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// The settings file.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    path: PathBuf,
}

/// What loading found.
#[derive(Debug)]
pub struct LoadedSettings {
    /// The settings to use.
    pub settings: Settings,
    /// A problem to tell the user (the file was unreadable and set aside).
    pub warning: Option<String>,
}

impl SettingsFile {
    /// The file at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `settings.toml` in the user's config directory.
    #[must_use]
    pub fn default_location() -> Option<Self> {
        directories::ProjectDirs::from("org", "Tidings", "tidings")
            .map(|dirs| Self::new(dirs.config_dir().join("settings.toml")))
    }

    /// Where it lives.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the settings; defaults when there is no file. An unreadable file is renamed to
    /// `settings.toml.bad` and reported.
    #[must_use]
    pub fn load(&self) -> LoadedSettings {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return LoadedSettings {
                    settings: Settings::default(),
                    warning: None,
                };
            }
            Err(error) => {
                return LoadedSettings {
                    settings: Settings::default(),
                    warning: Some(format!("could not read settings ({error}); using defaults")),
                };
            }
        };
        match toml::from_str::<Settings>(&text) {
            Ok(settings) => LoadedSettings {
                settings,
                warning: None,
            },
            Err(error) => {
                let aside = self.path.with_extension("toml.bad");
                let moved = std::fs::rename(&self.path, &aside).is_ok();
                // The message itself (which names a bad value), on one line, with its line
                // number; the full text would add a snippet of the file on more lines.
                let line = error.span().map(|span| {
                    text.get(..span.start)
                        .map_or(0, |before| before.matches('\n').count())
                        + 1
                });
                let message = error.message().trim().replace('\n', " ");
                let first_line = match line {
                    Some(line) => format!("line {line}: {message}"),
                    None => message,
                };
                LoadedSettings {
                    settings: Settings::default(),
                    warning: Some(if moved {
                        format!(
                            "settings were unreadable ({first_line}); moved to {} and using defaults",
                            aside.display()
                        )
                    } else {
                        format!("settings were unreadable ({first_line}); using defaults")
                    }),
                }
            }
        }
    }

    /// Writes the settings atomically (temporary file, then rename).
    pub fn save(&self, settings: &Settings) -> Result<(), SaveError> {
        let error = |source| SaveError {
            path: self.path.clone(),
            source,
        };
        let text = toml::to_string_pretty(settings)
            .map_err(|e| error(std::io::Error::other(e.to_string())))?;
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(error)?;
        }
        let temporary = self.path.with_extension("toml.tmp");
        std::fs::write(&temporary, text).map_err(error)?;
        std::fs::rename(&temporary, &self.path).map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> ChannelId {
        ChannelId::new(text).unwrap()
    }

    #[test]
    fn settings_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = SettingsFile::new(dir.path().join("nested").join("settings.toml"));
        assert_eq!(file.load().settings, Settings::default());
        let settings = Settings {
            server: ServerChoice::Remote {
                urls: ServerList::parse("http://news.lan:8080,http://news2.lan:8080").unwrap(),
                token: Some("secret-token-1".to_owned()),
            },
            channels: vec![ChannelPref {
                id: id("tech"),
                shown: false,
                notify: NotifyLevel::Everything,
            }],
            locations: vec![
                Location {
                    name: "Springfield, Illinois".to_owned(),
                    latitude: 39.8,
                    longitude: -89.64,
                },
                Location {
                    name: "Kesselbury, Lenne Province".to_owned(),
                    latitude: 52.12,
                    longitude: 11.63,
                },
            ],
            units: Units {
                temperature: TemperatureUnit::Fahrenheit,
                wind: WindUnit::Mph,
            },
            ticker: TickerSettings {
                enabled: true,
                position: TickerPosition::Top,
                speed: 90.0,
                max_fps: 24,
            },
            smartscreen: SmartScreenSettings {
                enabled: false,
                idle_minutes: 3,
            },
            theme: ThemeChoice::Classic,
            notifications: crate::client::attention::Rules {
                min_severity: crate::protocol::Severity::Critical,
                exclude: vec!["sponsored".to_owned()],
                quiet_hours: Some(
                    crate::client::attention::QuietHours::parse("22:00", "07:00").unwrap(),
                ),
                ..Default::default()
            },
            autostart: true,
        };
        file.save(&settings).unwrap();
        let loaded = file.load();
        assert_eq!(loaded.settings, settings);
        assert!(loaded.warning.is_none());
    }

    #[test]
    fn channel_levels_join_the_attention_rules() {
        let mut settings = Settings::default();
        settings.notifications.channels.insert(
            id("tech"),
            crate::client::attention::ChannelRules {
                include: vec!["rust".to_owned()],
                ..Default::default()
            },
        );
        settings.channels = vec![ChannelPref {
            id: id("tech"),
            shown: true,
            notify: NotifyLevel::Everything,
        }];
        let rules = settings.attention_rules();
        assert_eq!(rules.level(&id("tech")), NotifyLevel::Everything);
        assert_eq!(rules.channels[&id("tech")].include, ["rust"]);
        assert_eq!(rules.level(&id("world")), NotifyLevel::AlertsOnly);
    }

    #[test]
    fn a_broken_file_is_set_aside_and_defaults_are_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.toml");
        std::fs::write(&path, "theme = [unclosed").unwrap();
        let loaded = SettingsFile::new(&path).load();
        assert_eq!(loaded.settings, Settings::default());
        assert!(loaded.warning.unwrap().contains("settings.toml.bad"));
        assert!(dir.path().join("settings.toml.bad").exists());
        assert!(!path.exists());
    }

    #[test]
    fn a_single_server_file_from_before_server_lists_loads() {
        let old = "[server]\nmode = \"remote\"\nurl = \"http://news.lan:8080/\"\ntoken = \"t-1\"\n";
        let settings: Settings = toml::from_str(old).unwrap();
        assert_eq!(
            settings.server,
            ServerChoice::Remote {
                urls: ServerList::parse("http://news.lan:8080").unwrap(),
                token: Some("t-1".to_owned()),
            }
        );
        // Written back as a list.
        let text = toml::to_string_pretty(&settings).unwrap();
        assert!(text.contains("urls = [\"http://news.lan:8080\"]"), "{text}");
        let list: Settings = toml::from_str(
            "[server]\nmode = \"remote\"\nurls = [\"http://a:1\", \"http://b:2\"]\n",
        )
        .unwrap();
        assert!(matches!(list.server, ServerChoice::Remote { urls, .. } if urls.len() == 2));
    }

    #[test]
    fn a_bad_server_in_the_file_is_named_when_it_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.toml");
        std::fs::write(
            &path,
            "[server]\nmode = \"remote\"\nurls = [\"http://a:1\", \"news.lan\"]\n",
        )
        .unwrap();
        let warning = SettingsFile::new(&path).load().warning.unwrap();
        assert!(
            warning.contains("\"news.lan\" must start with http://"),
            "{warning}"
        );
    }

    #[test]
    fn a_single_location_file_from_before_several_places_loads_as_a_list() {
        let old = "theme = \"light\"\n\n[location]\nname = \"Springfield, Illinois\"\n\
                   latitude = 39.8017\nlongitude = -89.6437\n";
        let dir = tempfile::tempdir().unwrap();
        let file = SettingsFile::new(dir.path().join("settings.toml"));
        std::fs::write(file.path(), old).unwrap();
        let loaded = file.load();
        assert!(loaded.warning.is_none(), "{:?}", loaded.warning);
        let settings = loaded.settings;
        assert_eq!(settings.theme, ThemeChoice::Light);
        assert_eq!(
            settings.locations,
            [Location {
                name: "Springfield, Illinois".to_owned(),
                latitude: 39.8017,
                longitude: -89.6437,
            }]
        );
        // Saved back as a list, and read again the same.
        file.save(&settings).unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(text.contains("[[locations]]"), "{text}");
        assert!(!text.contains("[location]"), "{text}");
        assert_eq!(file.load().settings, settings);
        // An inline table, as a hand-edited file may have it.
        let inline: Settings =
            toml::from_str("location = { name = \"X\", latitude = 1.0, longitude = 2.0 }\n")
                .unwrap();
        assert_eq!(inline.locations.len(), 1);
        assert_eq!(inline.first_place().unwrap().cell(), "1.0,2.0");
        // No location at all: no places.
        assert!(toml::from_str::<Settings>("").unwrap().locations.is_empty());
    }

    #[test]
    fn partial_and_newer_files_load() {
        let settings: Settings =
            toml::from_str("theme = \"light\"\nfuture_setting = 1\n[ticker]\nspeed = 30.0\n")
                .unwrap();
        assert_eq!(settings.theme, ThemeChoice::Light);
        assert_eq!(settings.ticker.speed, 30.0);
        assert_eq!(settings.ticker.max_fps, 30);
        assert_eq!(settings.server, ServerChoice::Embedded);
    }

    #[test]
    fn channels_are_ordered_by_preference_then_catalog() {
        let settings = Settings {
            channels: vec![
                ChannelPref {
                    id: id("sports"),
                    shown: true,
                    notify: NotifyLevel::Off,
                },
                ChannelPref {
                    id: id("gone"),
                    shown: true,
                    notify: NotifyLevel::Off,
                },
            ],
            ..Settings::default()
        };
        let known = [id("world"), id("tech"), id("sports")];
        let order: Vec<String> = settings
            .ordered(&known)
            .into_iter()
            .map(|p| p.id.as_str().to_owned())
            .collect();
        assert_eq!(order, ["sports", "world", "tech"]);
    }

    #[test]
    fn only_server_and_cell_changes_need_a_reconnect() {
        let place = |name: &str, latitude: f64, longitude: f64| Location {
            name: name.to_owned(),
            latitude,
            longitude,
        };
        let base = Settings::default();
        let mut other = base.clone();
        other.theme = ThemeChoice::Light;
        other.ticker.speed = 10.0;
        assert!(!base.needs_reconnect(&other));
        other.locations = vec![place("X", 1.0, 2.0)];
        assert!(base.needs_reconnect(&other));
        let mut nearby = other.clone();
        nearby.locations = vec![place("Y", 1.01, 2.02)];
        assert!(!other.needs_reconnect(&nearby), "same cell");
        let mut two = other.clone();
        two.locations.push(place("Z", 40.0, -70.0));
        assert!(other.needs_reconnect(&two), "a new place");
        let mut reordered = two.clone();
        reordered.locations.reverse();
        assert!(
            !two.needs_reconnect(&reordered),
            "the same cells in another order"
        );
        assert!(two.needs_reconnect(&other), "a place removed");
    }
}
