//! The main window driven through egui_kittest by role and label: channel switching, opening
//! an item, marking read, the keyboard, the settings round trip, the alert banner, connection
//! states, and empty and error states. No display and no GPU needed.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Duration as Age, Utc};
use egui::Key;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};

use super::model::{Effect, Model};
use super::settings::{Location, Settings, ThemeChoice};
use super::theme::Palette;
use super::view::main_ui;
use crate::client::connection::{ConnectionState, Endpoint};
use crate::client::saved::SavedFile;
use crate::client::store::Store;
use crate::protocol::{
    Alert, AlertStatus, ChannelId, ChannelInfo, ChannelKind, Condition, CurrentWeather, Event,
    Health, HealthStatus, Item, ItemKey, Severity, WeatherReport, WeatherUnits,
};

struct App {
    model: Model,
    palette: Palette,
    effects: Vec<Effect>,
    /// Where starred stories are written, as the app does (`None`: kept in the model only).
    saved_file: Option<SavedFile>,
}

fn only() -> Endpoint {
    Endpoint::only("news.lan:8080")
}

fn live() -> ConnectionState {
    ConnectionState::Live { server: only() }
}

fn id(text: &str) -> ChannelId {
    ChannelId::new(text).unwrap()
}

fn key(text: &str) -> ItemKey {
    ItemKey::new(text).unwrap()
}

fn channel(id_text: &str, title: &str, kind: ChannelKind) -> Event {
    Event::Channel(ChannelInfo {
        id: id(id_text),
        title: title.to_owned(),
        description: format!("About {title}"),
        colour: "#4a90e2".to_owned(),
        kind,
        health: Health::default(),
        updated: None,
        removed: false,
    })
}

fn item(channel: &str, key_text: &str, title: &str, minutes_ago: i64) -> Event {
    let at = Utc::now() - Age::minutes(minutes_ago);
    Event::Item(Item {
        channel: id(channel),
        key: key(key_text),
        title: title.to_owned(),
        body: Some(format!("Summary of {title}")),
        link: Some(format!("https://example.com/{key_text}")),
        source: Some("Example News".to_owned()),
        image: None,
        severity: Severity::Info,
        published: at,
        updated: at,
        expires: None,
    })
}

fn alert(title: &str, severity: Severity) -> Event {
    let now = Utc::now();
    Event::Alert(Alert {
        channel: id("alerts"),
        key: key("storm"),
        status: AlertStatus::Active,
        severity,
        title: title.to_owned(),
        event: Some("Gale Warning".to_owned()),
        body: Some("Strong winds.".to_owned()),
        instruction: Some("Stay inside.".to_owned()),
        area: Some("Harbour County".to_owned()),
        link: None,
        source: Some("Weather Office".to_owned()),
        onset: None,
        published: now,
        updated: now,
        expires: Some(now + Age::hours(2)),
    })
}

fn weather() -> Event {
    let condition = Condition {
        code: 2,
        label: "Partly cloudy".to_owned(),
        icon: "partly-cloudy".to_owned(),
    };
    Event::Weather(WeatherReport {
        channel: id("weather"),
        cell: "44.6,-67.2".to_owned(),
        place: None,
        observed: Utc::now(),
        units: WeatherUnits::default(),
        current: CurrentWeather {
            temperature: 7.6,
            apparent_temperature: 4.3,
            condition: condition.clone(),
            wind_speed: 18.0,
            wind_direction_deg: Some(230.0),
            humidity_percent: 76.0,
            is_day: true,
        },
        daily: Vec::new(),
        hourly: Vec::new(),
        utc_offset_seconds: None,
    })
}

fn store(events: Vec<Event>) -> Arc<Store> {
    let mut store = Store::default();
    for event in events {
        let _ = store.apply(None, event);
    }
    Arc::new(store)
}

fn lineup() -> Vec<Event> {
    vec![
        channel("world", "World", ChannelKind::News),
        channel("tech", "Technology", ChannelKind::News),
        channel("weather", "Weather", ChannelKind::Weather),
        channel("alerts", "Alerts", ChannelKind::Alerts),
        item("world", "w1", "Harbour lighthouse shines again", 5),
        item("world", "w2", "River pact signed", 30),
        item("tech", "t1", "Weather station firmware 2.0", 10),
        weather(),
    ]
}

fn harness(events: Vec<Event>, connection: ConnectionState) -> Harness<'static, App> {
    harness_sized(events, connection, egui::vec2(1280.0, 800.0))
}

fn harness_sized(
    events: Vec<Event>,
    connection: ConnectionState,
    size: egui::Vec2,
) -> Harness<'static, App> {
    harness_with(events, connection, size, None)
}

/// A harness whose saved stories live in `saved_file`, loaded at start and written on each
/// change, as in the app.
fn harness_with(
    events: Vec<Event>,
    connection: ConnectionState,
    size: egui::Vec2,
    saved_file: Option<SavedFile>,
) -> Harness<'static, App> {
    let settings = Settings {
        locations: vec![Location {
            name: "Port Tiding".to_owned(),
            latitude: 44.61,
            longitude: -67.22,
        }],
        ..Settings::default()
    };
    let mut model = Model::new(store(events), settings);
    model.set_connection(connection);
    if let Some(file) = &saved_file {
        let loaded = file.load();
        model.saved = Arc::new(loaded.stories);
        model.notice = loaded.problem;
    }
    let app = App {
        model,
        palette: Palette::of(ThemeChoice::Dark),
        effects: Vec::new(),
        saved_file,
    };
    let mut harness = Harness::builder().with_size(size).build_ui_state(
        |ui, app: &mut App| {
            let effects = main_ui(ui, &mut app.model, &app.palette, None);
            // Saving is the model's own business (the app only writes the file after it).
            for effect in &effects {
                if let Effect::SetSaved {
                    channel,
                    key,
                    saved,
                } = effect
                    && app.model.set_saved(channel, key, *saved)
                    && let Some(file) = &app.saved_file
                {
                    file.save(&app.model.saved).unwrap();
                }
            }
            app.effects.extend(effects);
        },
        app,
    );
    harness.run_steps(2);
    harness
}

/// The settings the dialog's Save applied.
fn applied_settings(harness: &Harness<'_, App>) -> Settings {
    harness
        .state()
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::ApplySettings(settings) => Some(settings.clone()),
            _ => None,
        })
        .expect("settings applied")
}

#[test]
fn switching_channels_shows_their_headlines() {
    let mut harness = harness(lineup(), live());
    assert!(
        harness
            .query_by_label("Harbour lighthouse shines again")
            .is_some()
    );
    assert!(
        harness
            .query_by_label("Weather station firmware 2.0")
            .is_none()
    );
    harness.get_by_label("Technology").click();
    harness.run_steps(2);
    assert_eq!(harness.state().model.view.channel, Some(id("tech")));
    assert!(
        harness
            .query_by_label("Weather station firmware 2.0")
            .is_some()
    );
    assert!(
        harness
            .query_by_label("Harbour lighthouse shines again")
            .is_none()
    );
}

#[test]
fn opening_an_item_marks_it_read_and_offers_the_browser() {
    let mut harness = harness(lineup(), live());
    harness.get_by_label("River pact signed").click();
    harness.run_steps(2);
    assert_eq!(harness.state().model.view.item, Some(key("w2")));
    assert!(harness.state().effects.contains(&Effect::SetRead {
        channel: id("world"),
        key: key("w2"),
        read: true
    }));
    assert!(
        harness
            .query_by_label("Summary of River pact signed")
            .is_some()
    );
    harness.get_by_label("Open in browser").click();
    harness.run_steps(2);
    assert!(
        harness
            .state()
            .effects
            .contains(&Effect::OpenLink("https://example.com/w2".to_owned()))
    );
}

#[test]
fn the_keyboard_moves_marks_and_switches() {
    let mut harness = harness(lineup(), live());
    harness.key_press(Key::J);
    harness.run_steps(2);
    assert_eq!(harness.state().model.view.item, Some(key("w1")));
    harness.key_press(Key::ArrowDown);
    harness.run_steps(2);
    assert_eq!(harness.state().model.view.item, Some(key("w2")));
    harness.key_press(Key::K);
    harness.run_steps(2);
    assert_eq!(harness.state().model.view.item, Some(key("w1")));
    harness.state_mut().effects.clear();
    // The store here is not updated by effects, so w1 still reads unread: m marks it read.
    harness.key_press(Key::M);
    harness.run_steps(2);
    assert_eq!(
        harness.state().effects,
        [Effect::SetRead {
            channel: id("world"),
            key: key("w1"),
            read: true
        }]
    );
    harness.key_press(Key::Enter);
    harness.run_steps(2);
    assert!(
        harness
            .state()
            .effects
            .contains(&Effect::OpenLink("https://example.com/w1".to_owned()))
    );
    harness.key_press(Key::Num2);
    harness.run_steps(2);
    assert_eq!(harness.state().model.view.channel, Some(id("tech")));
    assert_eq!(harness.state().model.view.item, None);
}

/// The line-up with an accented headline and an alert, for the search.
fn searchable() -> Vec<Event> {
    let mut events = lineup();
    events.push(item("tech", "t2", "Zürich café runs on solar power", 45));
    events.push(alert("Gale warning for the harbour", Severity::Warning));
    events
}

fn search_box<'a>(harness: &'a Harness<'static, App>) -> egui_kittest::Node<'a> {
    harness.get_by_role_and_label(egui::accesskit::Role::TextInput, "Search")
}

#[test]
fn typing_in_the_search_box_shows_results_from_every_channel() {
    let mut harness = harness(searchable(), live());
    harness.key_press(Key::Slash);
    harness.run_steps(2);
    assert!(harness.state().model.view.search.open);
    assert!(
        search_box(&harness).is_focused(),
        "/ puts the keyboard in the box"
    );
    // Before anything is typed: what search covers, and the keys.
    assert!(harness.query_by_label("Search everything").is_some());
    assert!(harness.query_by_label("move through the results").is_some());
    // Case and accents do not matter; every word must match.
    search_box(&harness).type_text("ZURICH cafe");
    harness.run_steps(2);
    assert!(harness.query_by_label("1 result").is_some());
    assert!(
        harness
            .query_by_label("Zürich café runs on solar power")
            .is_some()
    );
    // Results as you type: one more word narrows to nothing, and says so.
    search_box(&harness).type_text(" moon");
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label("No results for “ZURICH cafe moon”")
            .is_some()
    );
    // Alerts are searched too, across channels, labelled with their channel.
    harness.state_mut().model.view.search.query = "harbour".to_owned();
    harness.run_steps(2);
    assert!(harness.query_by_label("2 results").is_some());
    assert_eq!(
        harness
            .query_all_by_label("Gale warning for the harbour")
            .count(),
        2,
        "the banner, and the alert among the results"
    );
    assert!(
        harness
            .query_by_label("Harbour lighthouse shines again")
            .is_some()
    );
    // Nothing was opened or marked by typing.
    assert!(harness.state().effects.is_empty());
    assert_eq!(harness.state().model.view.pick, None);
}

#[test]
fn search_matches_are_marked_in_titles_and_snippets() {
    // The marks the rows paint come from the same query the results were found with.
    let mut harness = harness(searchable(), live());
    harness.state_mut().model.open_search();
    harness.state_mut().model.view.search.query = "solar zurich".to_owned();
    harness.run_steps(2);
    let results = harness.state_mut().model.search_results();
    let title = "Zürich café runs on solar power";
    let marks: Vec<&str> = crate::client::search::highlights(title, &results.query)
        .into_iter()
        .map(|r| &title[r])
        .collect();
    assert_eq!(marks, ["Zürich", "solar"]);
    let snippet = crate::client::search::snippet(
        "Summary of Zürich café runs on solar power",
        &results.query,
        220,
    );
    let marked: Vec<&str> = snippet
        .highlights
        .iter()
        .map(|r| &snippet.text[r.clone()])
        .collect();
    assert_eq!(marked, ["Zürich", "solar"]);
}

#[test]
fn the_keyboard_walks_the_results_and_enter_opens_a_story() {
    let mut harness = harness(searchable(), live());
    harness.key_press_modifiers(egui::Modifiers::COMMAND, Key::F);
    harness.run_steps(2);
    assert!(
        search_box(&harness).is_focused(),
        "Ctrl+F puts the keyboard in the box"
    );
    // Every test item's summary says "Summary of": all four, newest first.
    search_box(&harness).type_text("summary");
    harness.run_steps(2);
    assert!(harness.query_by_label("4 results").is_some());
    harness.key_press(Key::ArrowDown);
    harness.run_steps(1);
    harness.key_press(Key::ArrowDown);
    harness.run_steps(1);
    harness.key_press(Key::ArrowUp);
    harness.run_steps(2);
    assert_eq!(harness.state().model.view.search.cursor, 1);
    assert_eq!(
        harness.state().model.view.pick,
        None,
        "moving does not open"
    );
    harness.key_press(Key::Enter);
    harness.run_steps(2);
    // The second newest (10 minutes old) is open, as a click on its headline would.
    let pick = harness
        .state()
        .model
        .view
        .pick
        .clone()
        .expect("a story is open");
    assert_eq!((pick.channel.as_str(), pick.key.as_str()), ("tech", "t1"));
    assert!(harness.state().effects.contains(&Effect::SetRead {
        channel: id("tech"),
        key: key("t1"),
        read: true
    }));
    assert!(
        harness
            .query_by_label("Summary of Weather station firmware 2.0")
            .is_some()
    );
    assert!(
        !search_box(&harness).is_focused(),
        "the list has the keyboard now"
    );
    // Now j/k move and open, like the headline list, and s saves.
    harness.key_press(Key::J);
    harness.run_steps(2);
    let pick = harness.state().model.view.pick.clone().unwrap();
    assert_eq!(pick.key.as_str(), "w2");
    harness.key_press(Key::S);
    harness.run_steps(2);
    assert!(harness.state().model.is_saved(&id("world"), &key("w2")));
    // Escape leaves the search: the channel view as it was.
    harness.key_press(Key::Escape);
    harness.run_steps(2);
    let view = &harness.state().model.view;
    assert!(!view.search.open && view.search.query.is_empty());
    assert_eq!(view.pick, None);
    assert!(
        harness
            .query_by_label("Harbour lighthouse shines again")
            .is_some()
    );
}

#[test]
fn clicking_a_result_opens_it_and_a_channel_leaves_the_search() {
    let mut harness = harness(searchable(), live());
    search_box(&harness).focus();
    harness.run_steps(2);
    assert!(harness.state().model.view.search.open);
    search_box(&harness).type_text("pact");
    harness.run_steps(2);
    harness.get_by_label("River pact signed").click();
    harness.run_steps(2);
    assert_eq!(
        harness
            .state()
            .model
            .view
            .pick
            .as_ref()
            .map(|p| p.key.as_str()),
        Some("w2")
    );
    assert!(
        harness
            .query_by_label("Summary of River pact signed")
            .is_some()
    );
    harness.get_by_label("Technology").click();
    harness.run_steps(2);
    assert!(!harness.state().model.view.search.open);
    assert_eq!(harness.state().model.view.channel, Some(id("tech")));
}

#[test]
fn starring_a_story_moves_it_into_saved() {
    let mut harness = harness(searchable(), live());
    assert!(harness.query_by_label("No saved stories yet").is_none());
    // The star beside the headline.
    harness.get_by_label("Save River pact signed").click();
    harness.run_steps(2);
    assert!(harness.state().model.is_saved(&id("world"), &key("w2")));
    {
        use egui_kittest::kittest::NodeT as _;
        assert_eq!(
            harness
                .get_by_label("Save River pact signed")
                .accesskit_node()
                .toggled(),
            Some(egui::accesskit::Toggled::True),
            "the star is a checkbox that says it is checked"
        );
    }
    // And the detail pane's button, on another story.
    harness
        .get_by_label("Harbour lighthouse shines again")
        .click();
    harness.run_steps(2);
    harness
        .get_by_role_and_label(egui::accesskit::Role::CheckBox, "Save")
        .click();
    harness.run_steps(2);
    assert!(harness.state().model.is_saved(&id("world"), &key("w1")));
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Saved")
        .click();
    harness.run_steps(2);
    assert!(harness.query_by_label("2 stories").is_some());
    assert!(harness.query_by_label("River pact signed").is_some());
    assert!(
        harness
            .query_by_label("Weather station firmware 2.0")
            .is_none()
    );
    // Unsaving here keeps the row (with an empty star) until the view is left: one click undoes.
    harness.get_by_label("Save River pact signed").click();
    harness.run_steps(2);
    assert!(!harness.state().model.is_saved(&id("world"), &key("w2")));
    assert!(harness.query_by_label("River pact signed").is_some());
    assert!(harness.query_by_label("1 story").is_some());
    harness.get_by_label("Save River pact signed").click();
    harness.run_steps(2);
    assert!(harness.state().model.is_saved(&id("world"), &key("w2")));
    // Export from the header.
    harness.get_by_label("Export").click();
    harness.run_steps(2);
    harness.get_by_label("Bookmarks (HTML)…").click();
    harness.run_steps(2);
    assert!(harness.state().effects.contains(&Effect::ExportSaved(
        crate::client::saved::ExportFormat::Bookmarks
    )));
}

#[test]
fn saved_stories_persist_across_a_reload_after_their_channel_moved_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = SavedFile::new(dir.path().join("saved.json"));
    let size = egui::vec2(1280.0, 800.0);
    {
        let mut harness = harness_with(searchable(), live(), size, Some(file.clone()));
        harness.key_press(Key::J);
        harness.run_steps(1);
        harness.key_press(Key::J);
        harness.run_steps(2);
        assert_eq!(harness.state().model.view.item, Some(key("w2")));
        harness.key_press(Key::S);
        harness.run_steps(2);
        assert!(harness.state().model.is_saved(&id("world"), &key("w2")));
    }
    // A new run: the channel's history has moved on and the story is gone from it.
    let mut events = vec![
        channel("world", "World", ChannelKind::News),
        channel("tech", "Technology", ChannelKind::News),
    ];
    events.push(item("world", "w9", "Ferry timetable changes", 1));
    let mut harness = harness_with(events, live(), size, Some(file));
    assert!(harness.state().model.notice.is_none());
    assert!(harness.query_by_label("River pact signed").is_none());
    harness.key_press(Key::Num0);
    harness.run_steps(2);
    assert!(harness.query_by_label("1 story").is_some());
    harness.get_by_label("River pact signed").click();
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label("Summary of River pact signed")
            .is_some()
    );
    assert!(
        harness
            .query_by_label_contains("no longer carries this story")
            .is_some()
    );
    // And the search still finds it.
    harness.state_mut().model.open_search();
    harness.state_mut().model.view.search.query = "pact".to_owned();
    harness.run_steps(2);
    assert!(harness.query_by_label("1 result").is_some());
}

#[test]
fn a_corrupt_saved_file_is_reported_and_the_rest_works() {
    let dir = tempfile::tempdir().unwrap();
    let file = SavedFile::new(dir.path().join("saved.json"));
    std::fs::write(file.path(), "{\"version\": 1, \"stories\": [").unwrap();
    let harness = harness_with(lineup(), live(), egui::vec2(1280.0, 800.0), Some(file));
    assert!(
        harness
            .query_by_label_contains("Saved stories could not be read")
            .is_some()
    );
    assert!(
        harness
            .query_by_label("Harbour lighthouse shines again")
            .is_some()
    );
}

#[test]
fn settings_round_trip_through_the_dialog() {
    let mut harness = harness_sized(lineup(), live(), egui::vec2(800.0, 600.0));
    harness.get_by_label("Settings").click();
    harness.run_steps(2);
    assert!(harness.state().model.view.settings.is_some());
    harness.get_by_label("°F").click();
    harness.run_steps(2);
    harness.get_by_label("Display").click();
    harness.run_steps(2);
    harness.get_by_label("Light").click();
    harness.run_steps(2);
    harness.get_by_label("Save").click();
    harness.run_steps(2);
    let applied = applied_settings(&harness);
    assert_eq!(applied.theme, ThemeChoice::Light);
    assert_eq!(
        applied.units.temperature,
        super::settings::TemperatureUnit::Fahrenheit
    );
    assert_eq!(applied.locations[0].name, "Port Tiding");
    assert!(
        harness.state().model.view.settings.is_none(),
        "dialog closed"
    );
    // Cancel leaves everything as it was.
    harness.state_mut().effects.clear();
    harness.get_by_label("Settings").click();
    harness.run_steps(2);
    harness.get_by_label("Cancel").click();
    harness.run_steps(2);
    assert!(harness.state().effects.is_empty());
    assert!(harness.state().model.view.settings.is_none());
}

#[test]
fn a_bad_server_address_is_refused_in_the_dialog() {
    let mut harness = harness_sized(lineup(), live(), egui::vec2(800.0, 600.0));
    harness.get_by_label("Settings").click();
    harness.run_steps(2);
    if let Some(draft) = harness.state_mut().model.view.settings.as_mut() {
        draft.embedded = false;
        draft.server_url = "news.lan".to_owned();
    }
    harness.get_by_label("Save").click();
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label_contains("must start with http://")
            .is_some()
    );
    assert!(
        harness
            .state()
            .effects
            .iter()
            .all(|e| !matches!(e, Effect::ApplySettings(_)))
    );
}

#[test]
fn notification_rules_are_edited_and_checked_in_the_dialog() {
    let mut harness = harness_sized(lineup(), live(), egui::vec2(800.0, 600.0));
    harness.get_by_label("Settings").click();
    harness.run_steps(2);
    harness.get_by_label("Notifications").click();
    harness.run_steps(2);
    harness.get_by_label("Quiet from").click();
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label_contains("Only critical alerts break through")
            .is_some()
    );
    // A time that is no time is refused, with the reason.
    if let Some(draft) = harness.state_mut().model.view.settings.as_mut() {
        draft.quiet_start = "25:00".to_owned();
        draft.exclude = "sponsored, horoscope".to_owned();
    }
    harness.get_by_label("Save").click();
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("25:00").is_some());
    assert!(harness.state().effects.is_empty());
    if let Some(draft) = harness.state_mut().model.view.settings.as_mut() {
        draft.quiet_start = "22:30".to_owned();
    }
    harness.get_by_label("Save").click();
    harness.run_steps(2);
    let applied = applied_settings(&harness);
    let quiet = applied.notifications.quiet_hours.expect("quiet hours on");
    assert_eq!(
        (quiet.start.to_string(), quiet.end.to_string()),
        ("22:30:00".to_owned(), "07:00:00".to_owned())
    );
    assert_eq!(applied.notifications.exclude, ["sponsored", "horoscope"]);
}

#[test]
fn each_news_channel_can_have_keywords_of_its_own() {
    let mut harness = harness_sized(lineup(), live(), egui::vec2(800.0, 600.0));
    harness.get_by_label("Settings").click();
    harness.run_steps(2);
    harness.get_by_label("Notifications").click();
    harness.run_steps(2);
    harness.get_by_label("Applies to").click();
    harness.run_steps(2);
    // The box offers news channels only (weather and alerts have no keywords).
    let offered =
        |harness: &Harness<'static, App>, title: &str| harness.get_all_by_label(title).count();
    assert_eq!(offered(&harness, "Technology"), 2, "the list and the box");
    assert_eq!(offered(&harness, "Weather"), 1, "only the channel list");
    harness
        .get_all_by_label("Technology")
        .last()
        .expect("Technology in the box")
        .click();
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label_contains("Technology: \u{201c}Only news about\u{201d} replaces")
            .is_some()
    );
    // A keyword with no word in it is refused, naming the channel.
    if let Some(draft) = harness.state_mut().model.view.settings.as_mut() {
        draft.include = "climate".to_owned();
        draft.channel_keywords.insert(
            ChannelId::new("tech").unwrap(),
            ("rust, !!".to_owned(), String::new()),
        );
    }
    harness.get_by_label("Save").click();
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label_contains("\u{201c}tech\u{201d}")
            .is_some()
    );
    assert!(harness.state().effects.is_empty());
    // The field typed into is the channel's own, not the list for all channels.
    if let Some(draft) = harness.state_mut().model.view.settings.as_mut() {
        draft.channel_keywords.clear();
    }
    harness.run_steps(2);
    let field = harness.get_by_role_and_label(egui::accesskit::Role::TextInput, "Only news about");
    field.focus();
    field.type_text("rust, wasm");
    harness.run_steps(2);
    harness.get_by_label("Save").click();
    harness.run_steps(2);
    let applied = applied_settings(&harness);
    assert_eq!(applied.notifications.include, ["climate"]);
    let tech = &applied.notifications.channels[&ChannelId::new("tech").unwrap()];
    assert_eq!(tech.include, ["rust", "wasm"]);
    assert!(
        !applied
            .notifications
            .channels
            .contains_key(&ChannelId::new("world").unwrap()),
        "channels with nothing of their own are not written"
    );
    // And the rules in force use it.
    let rules = applied.attention_rules();
    assert_eq!(
        rules.channels[&ChannelId::new("tech").unwrap()].include,
        ["rust", "wasm"]
    );
}

#[test]
fn the_channels_page_offers_only_levels_that_mean_something() {
    let mut harness = harness_sized(lineup(), live(), egui::vec2(900.0, 700.0));
    harness.get_by_label("Settings").click();
    harness.run_steps(2);
    harness.get_by_label("Channels").click();
    harness.run_steps(2);
    // World, Technology and Alerts have a box; the forecast never notifies.
    assert_eq!(harness.get_all_by_value("Alerts only").count(), 3);
    assert!(harness.query_by_label("Never notifies").is_some());
    // The alerts channel offers Off and Alerts only, not Everything.
    harness
        .get_all_by_value("Alerts only")
        .last()
        .expect("the Alerts box")
        .click();
    harness.run_steps(2);
    assert!(harness.query_by_label("Off").is_some());
    assert!(harness.query_by_label("Everything").is_none());
}

#[test]
fn the_smartscreen_setting_says_why_it_is_unavailable() {
    let mut harness = harness_sized(lineup(), live(), egui::vec2(800.0, 600.0));
    harness.state_mut().model.idle_source = Some(Err("no X server".to_owned()));
    harness.get_by_label("Settings").click();
    harness.run_steps(2);
    harness.get_by_label("Display").click();
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label("Not available here: no X server.")
            .is_some()
    );
    assert!(
        harness
            .query_by_label("Start the ticker when I log in")
            .is_some()
    );
}

#[test]
fn several_servers_are_saved_from_one_comma_separated_field() {
    let mut harness = harness_sized(lineup(), live(), egui::vec2(800.0, 600.0));
    harness.get_by_label("Settings").click();
    harness.run_steps(2);
    if let Some(draft) = harness.state_mut().model.view.settings.as_mut() {
        draft.embedded = false;
        draft.server_url = "http://news1.lan:8080, news2.lan".to_owned();
    }
    harness.get_by_label("Save").click();
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label_contains("\"news2.lan\" must start with http://")
            .is_some(),
        "the bad entry is named"
    );
    if let Some(draft) = harness.state_mut().model.view.settings.as_mut() {
        draft.server_url = "http://news1.lan:8080, http://news2.lan:8080".to_owned();
    }
    harness.get_by_label("Save").click();
    harness.run_steps(2);
    let saved = harness.state().effects.iter().find_map(|e| match e {
        Effect::ApplySettings(settings) => Some(settings.server.clone()),
        _ => None,
    });
    let Some(super::settings::ServerChoice::Remote { urls, .. }) = saved else {
        panic!("not saved as a shared server: {saved:?}");
    };
    assert_eq!(
        urls.to_string(),
        "http://news1.lan:8080,http://news2.lan:8080"
    );
}

#[test]
fn an_alert_shows_as_a_banner_that_opens_it() {
    let mut events = lineup();
    events.push(alert("Gale Warning for Tiding Bay", Severity::Warning));
    let mut harness = harness(events, live());
    let banner = harness.get_by_label("Alert: Gale Warning for Tiding Bay");
    banner.click();
    harness.run_steps(2);
    assert_eq!(harness.state().model.view.channel, Some(id("alerts")));
    assert_eq!(harness.state().model.view.item, Some(key("storm")));
    assert!(harness.query_by_label("Stay inside.").is_some());
    assert!(harness.query_by_label("What to do").is_some());
}

#[test]
fn the_status_line_tells_the_connection_state() {
    let cases = [
        (live(), "Live"),
        (
            ConnectionState::Retrying {
                delay: Duration::from_secs(30),
                reason: "server answered 503".to_owned(),
                server: only(),
            },
            "Retrying in",
        ),
        (
            ConnectionState::Offline {
                delay: Duration::from_secs(30),
                reason: "cannot reach the server".to_owned(),
                server: only(),
            },
            "Offline",
        ),
        (
            ConnectionState::Unauthorized {
                status: 401,
                reason: String::new(),
                server: only(),
            },
            "Unauthorized (401)",
        ),
    ];
    for (state, words) in cases {
        let harness = harness(lineup(), state);
        assert!(
            harness.query_by_label_contains(words).is_some(),
            "no status line with {words:?}"
        );
    }
    // With several servers, the status line says which one it is on.
    let on_second = harness(
        lineup(),
        ConnectionState::Live {
            server: Endpoint {
                index: 1,
                count: 2,
                host: "news2.office.lan".to_owned(),
            },
        },
    );
    assert!(
        on_second
            .query_by_label_contains("Live · news2.office.lan")
            .is_some()
    );
    let retrying = harness(
        lineup(),
        ConnectionState::Retrying {
            delay: Duration::from_secs(30),
            reason: "x".to_owned(),
            server: only(),
        },
    );
    assert!(retrying.query_by_label("Retry now").is_some());
}

#[test]
fn empty_states_explain_themselves() {
    let harness_none = harness(
        Vec::new(),
        ConnectionState::Connecting {
            attempt: 1,
            server: only(),
        },
    );
    assert!(harness_none.query_by_label("No channels yet").is_some());
    let mut harness = harness(
        vec![
            channel("world", "World", ChannelKind::News),
            channel("alerts", "Alerts", ChannelKind::Alerts),
        ],
        live(),
    );
    assert!(harness.query_by_label("Nothing here yet").is_some());
    harness.get_by_label("Alerts").click();
    harness.run_steps(2);
    assert!(harness.query_by_label("No active alerts").is_some());
}

#[test]
fn the_weather_channel_shows_conditions_and_a_failing_channel_says_why() {
    let mut events = lineup();
    events.push(Event::Channel(ChannelInfo {
        id: id("tech"),
        title: "Technology".to_owned(),
        description: "About Technology".to_owned(),
        colour: "#4a90e2".to_owned(),
        kind: ChannelKind::News,
        health: Health {
            status: HealthStatus::Failing,
            message: Some("cannot update: feeds.example.org timed out".to_owned()),
        },
        updated: None,
        removed: false,
    }));
    let mut harness = harness(events, live());
    harness.get_by_label("Weather").click();
    harness.run_steps(2);
    // The channel column's card and the big panel both show the conditions.
    assert!(harness.query_all_by_label("Partly cloudy").count() >= 2);
    assert!(harness.query_all_by_label("8°").count() >= 2);
    assert!(harness.query_by_label("18 km/h SW").is_some());
    harness.get_by_label("Technology").click();
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label("cannot update: feeds.example.org timed out")
            .is_some()
    );
}

#[test]
fn the_smallest_window_still_shows_every_part() {
    let mut events = lineup();
    events.push(alert("Gale Warning for Tiding Bay", Severity::Warning));
    let mut harness = harness_sized(events, live(), egui::vec2(800.0, 600.0));
    for label in [
        "World",
        "Technology",
        "Alerts",
        "Harbour lighthouse shines again",
        "Settings",
        "Alert: Gale Warning for Tiding Bay",
    ] {
        assert!(
            harness.query_all_by_label(label).next().is_some(),
            "{label}"
        );
    }
    // Narrow: the detail pane replaces the list, with a way back.
    harness.get_by_label("River pact signed").click();
    harness.run_steps(2);
    assert!(harness.query_by_label("Open in browser").is_some());
    harness.get_by_label("Back to the list").click();
    harness.run_steps(2);
    assert!(harness.query_by_label("River pact signed").is_some());
    assert_eq!(harness.state().model.view.item, None);
}

#[test]
fn a_4k_screen_at_2x_shows_every_part_unclipped() {
    let mut events = lineup();
    events.push(alert("Gale Warning for Tiding Bay", Severity::Warning));
    // 3840x2160 pixels at 2x: 1920x1080 points.
    let mut harness = harness_sized(events, live(), egui::vec2(1920.0, 1080.0));
    harness.set_pixels_per_point(2.0);
    harness.run_steps(2);
    for label in [
        "World",
        "Technology",
        "Harbour lighthouse shines again",
        "Settings",
        "Alert: Gale Warning for Tiding Bay",
    ] {
        let node = harness.query_all_by_label(label).next();
        let node = node.unwrap_or_else(|| panic!("{label} missing"));
        let rect = node.rect();
        assert!(
            rect.min.x >= 0.0 && rect.max.x <= 1920.0 && rect.min.y >= 0.0 && rect.max.y <= 1080.0,
            "{label} outside the window: {rect:?}"
        );
    }
    harness.get_by_label("River pact signed").click();
    harness.run_steps(2);
    // Wide enough for the list and the story side by side.
    assert!(harness.query_by_label("River pact signed").is_some());
    assert!(harness.query_by_label("Open in browser").is_some());
}

#[test]
fn rows_with_pictures_ask_for_web_pictures_once() {
    let mut events = lineup();
    let Event::Item(mut pictured) = item("world", "w3", "A story with a picture", 1) else {
        unreachable!()
    };
    pictured.image = Some("https://example.com/w3.jpg".to_owned());
    events.push(Event::Item(pictured));
    let Event::Item(mut unsafe_image) = item("world", "w4", "A story with a file picture", 2)
    else {
        unreachable!()
    };
    unsafe_image.image = Some("file:///etc/passwd".to_owned());
    events.push(Event::Item(unsafe_image));
    let mut harness = harness(events, live());
    let loads: Vec<Effect> = harness
        .state()
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::LoadImage(_)))
        .cloned()
        .collect();
    // Only the web picture, never a file: URL.
    assert!(
        loads
            .iter()
            .all(|e| *e == Effect::LoadImage("https://example.com/w3.jpg".to_owned()))
    );
    assert!(!loads.is_empty());
    // Once the app has taken the request, the row does not ask again.
    harness
        .state_mut()
        .model
        .thumbnails
        .loading("https://example.com/w3.jpg");
    harness.state_mut().effects.clear();
    harness.run_steps(2);
    assert!(
        !harness
            .state()
            .effects
            .iter()
            .any(|e| matches!(e, Effect::LoadImage(_)))
    );
    // A failed picture is not asked for again, and the row still shows.
    let ctx = egui::Context::default();
    harness.state_mut().model.thumbnails.finish(
        &ctx,
        "https://example.com/w3.jpg",
        Err("404".to_owned()),
    );
    harness.run_steps(2);
    assert!(harness.query_by_label("A story with a picture").is_some());
    assert!(
        harness
            .state()
            .effects
            .iter()
            .all(|e| !matches!(e, Effect::LoadImage(_)))
    );
}

/// A report for `cell` with 48 hours from the current hour: a mild day with rain in the
/// afternoon, in a place one hour ahead of UTC.
fn weather_with_hours(cell: &str, temperature: f64) -> Event {
    let Event::Weather(mut report) = weather() else {
        unreachable!()
    };
    report.cell = cell.to_owned();
    report.current.temperature = temperature;
    report.utc_offset_seconds = Some(3600);
    let now = Utc::now();
    let this_hour = now - Age::seconds(now.timestamp().rem_euclid(3600));
    report.hourly = (0..48)
        .map(|h| crate::protocol::HourlyForecast {
            time: this_hour + Age::hours(h),
            temperature: temperature
                + 4.0 * (f64::from(h as i32) / 24.0 * std::f64::consts::TAU).sin(),
            precipitation_chance_percent: Some(if (5..9).contains(&h) { 70.0 } else { 5.0 }),
            condition: Condition {
                code: 61,
                label: "Light rain".to_owned(),
                icon: "rain".to_owned(),
            },
            is_day: h % 24 < 10,
        })
        .collect();
    Event::Weather(report)
}

fn place(name: &str, latitude: f64, longitude: f64) -> Location {
    Location {
        name: name.to_owned(),
        latitude,
        longitude,
    }
}

#[test]
fn weather_places_are_searched_added_moved_and_removed_in_settings() {
    let mut harness = harness(lineup(), live());
    harness.get_by_label("Settings").click();
    harness.run_steps(2);
    // The list (and the weather card behind the dialog).
    assert_eq!(harness.query_all_by_label("Port Tiding").count(), 2);
    // Searching asks the server.
    let field = harness.get_by_role_and_label(egui::accesskit::Role::TextInput, "Add a place");
    field.focus();
    field.type_text("kessel");
    harness.run_steps(2);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Search")
        .click();
    harness.run_steps(2);
    assert!(
        harness
            .state()
            .effects
            .contains(&Effect::SearchPlaces("kessel".to_owned()))
    );
    // The answer lists places; choosing one adds it to the end.
    harness.state_mut().model.view.places =
        super::model::PlaceSearch::Found(vec![crate::protocol::Place {
            name: "Kesselbury".to_owned(),
            region: Some("Lenne Province".to_owned()),
            country: Some("Valdoria".to_owned()),
            country_code: Some("XV".to_owned()),
            latitude: 52.12,
            longitude: 11.63,
            timezone: None,
            population: Some(131_400),
        }]);
    harness.run_steps(2);
    harness
        .get_by_label("Kesselbury, Lenne Province, Valdoria  (131,400 people)")
        .click();
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label("Kesselbury, Lenne Province, Valdoria")
            .is_some()
    );
    // A place by its coordinates.
    let latitude = harness.get_by_role_and_label(egui::accesskit::Role::TextInput, "Latitude");
    latitude.focus();
    latitude.type_text("-41.29");
    let longitude = harness.get_by_role_and_label(egui::accesskit::Role::TextInput, "Longitude");
    longitude.focus();
    longitude.type_text("174.78");
    harness.run_steps(2);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Add")
        .click();
    harness.run_steps(2);
    assert!(harness.query_by_label("-41.29, 174.78").is_some());
    // The first place cannot move up, the last not down.
    assert!(
        harness
            .get_by_label("Move Port Tiding up")
            .accesskit_node()
            .is_disabled()
    );
    assert!(
        harness
            .get_by_label("Move -41.29 down")
            .accesskit_node()
            .is_disabled()
    );
    harness.get_by_label("Move Kesselbury up").click();
    harness.run_steps(2);
    harness.get_by_label("Remove Port Tiding").click();
    harness.run_steps(2);
    assert_eq!(
        harness.query_all_by_label("Port Tiding").count(),
        1,
        "only the card behind"
    );
    harness.get_by_label("Save").click();
    harness.run_steps(2);
    let names: Vec<String> = applied_settings(&harness)
        .locations
        .iter()
        .map(|l| l.name.clone())
        .collect();
    assert_eq!(
        names,
        ["Kesselbury, Lenne Province, Valdoria", "-41.29, 174.78"]
    );
}

#[test]
fn the_weather_channel_shows_each_place_with_its_hourly_chart() {
    let mut events = lineup();
    events.push(weather_with_hours("44.6,-67.2", 7.6));
    events.push(weather_with_hours("52.1,11.6", 2.0));
    let mut harness = harness(events, live());
    {
        let model = &mut harness.state_mut().model;
        model.settings.locations = vec![
            place("Port Tiding", 44.61, -67.22),
            place("Kesselbury, Lenne Province", 52.12, 11.63),
            place("Greywater", -41.29, 174.78),
        ];
        model.select_channel(id("weather"));
    }
    harness.run_steps(2);
    // Each place in order, the last still waiting for its first report.
    let top = |label: &str| harness.get_by_label(label).rect().min.y;
    assert!(top("Port Tiding") < top("Kesselbury, Lenne Province"));
    assert!(
        harness
            .query_by_label_contains("Waiting for the server's first report")
            .is_some()
    );
    // One chart per reported place, described for screen readers.
    let charts: Vec<String> = harness
        .query_all_by_role(egui::accesskit::Role::Image)
        .filter_map(|node| node.accesskit_node().label())
        .filter(|label| label.starts_with("Hourly forecast for"))
        .collect();
    assert_eq!(charts.len(), 2, "{charts:?}");
    assert!(
        charts[0].starts_with("Hourly forecast for Port Tiding, next 48 hours: 4° to 12°"),
        "{}",
        charts[0]
    );
    assert!(
        charts[0].contains("precipitation most likely"),
        "{}",
        charts[0]
    );
    assert!(charts[1].starts_with("Hourly forecast for Kesselbury, next 48 hours:"));
    assert_eq!(harness.query_all_by_label("Next 48 hours").count(), 2);
    // The card in the channel column shows the first place, and says there are more.
    assert!(harness.query_by_label("Port Tiding · +2 more").is_some());

    // In °F the chart's words follow.
    harness.state_mut().model.settings.units.temperature =
        super::settings::TemperatureUnit::Fahrenheit;
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label_contains("Hourly forecast for Port Tiding, next 48 hours: 38° to 53°")
            .is_some()
    );
}

#[test]
fn a_report_without_hours_shows_no_empty_chart() {
    let mut harness = harness(lineup(), live());
    harness.state_mut().model.select_channel(id("weather"));
    harness.run_steps(2);
    assert!(harness.query_by_label("18 km/h SW").is_some());
    assert!(harness.query_by_label("Next 48 hours").is_none());
    assert!(harness.query_by_label_contains("Hourly forecast").is_none());
}
