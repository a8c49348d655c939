//! The first-run welcome through egui_kittest, by role and label: a place found by name,
//! channels unticked, an OPML import asked for, and the settings it ends with; skipping keeps
//! the settings as they were.

use std::sync::Arc;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use super::model::{Effect, Model, PlaceSearch};
use super::settings::{Settings, ThemeChoice};
use super::test_support::{self, App};
use super::welcome::Welcome;
use crate::client::store::Store;
use crate::protocol::{ChannelId, ChannelInfo, ChannelKind, Event, Health, Place};

fn store() -> Arc<Store> {
    let mut store = Store::default();
    for (id, title) in [("world", "World"), ("sports", "Sports")] {
        let _ = store.apply(
            None,
            Event::Channel(ChannelInfo {
                id: ChannelId::new(id).unwrap(),
                title: title.into(),
                description: format!("All about {title}"),
                colour: "#4a90e2".into(),
                kind: ChannelKind::News,
                health: Health::default(),
                updated: None,
                removed: false,
            }),
        );
    }
    Arc::new(store)
}

fn harness() -> Harness<'static, App> {
    let mut model = Model::new(store(), Settings::default());
    model.view.welcome = Some(Welcome::new(&model.settings));
    test_support::harness(model, ThemeChoice::Light, egui::vec2(1280.0, 800.0))
}

fn applied(harness: &mut Harness<'static, App>) -> Option<Settings> {
    harness
        .state_mut()
        .effects
        .drain(..)
        .find_map(|effect| match effect {
            Effect::ApplySettings(settings) => Some(settings),
            _ => None,
        })
}

#[test]
fn three_steps_end_with_the_place_and_channels_chosen() {
    let mut harness = harness();
    harness.get_by_label("Welcome to Tidings");
    harness.get_by_label("Step 1 of 3");
    let field = harness.get_by_label("Town or city");
    field.focus();
    field.type_text("Kessel");
    harness.run_steps(2);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Search")
        .click_accesskit();
    harness.run_steps(2);
    let searched = harness
        .state_mut()
        .effects
        .drain(..)
        .any(|e| e == Effect::SearchPlaces("Kessel".into()));
    assert!(searched);
    harness.state_mut().model.view.places = PlaceSearch::Found(vec![Place {
        name: "Kesselbury".into(),
        region: Some("Lenne Province".into()),
        country: Some("Valdoria".into()),
        country_code: None,
        latitude: 47.123_456,
        longitude: 9.87,
        timezone: None,
        population: None,
    }]);
    harness.run_steps(2);
    harness
        .get_by_label("Kesselbury, Lenne Province, Valdoria")
        .click_accesskit();
    harness.run_steps(2);
    harness.get_by_label("Weather for Kesselbury, Lenne Province, Valdoria");
    harness.get_by_label("Next").click_accesskit();
    harness.run_steps(2);

    harness.get_by_label("Step 2 of 3");
    harness
        .get_by_role_and_label(egui::accesskit::Role::CheckBox, "Sports")
        .click_accesskit();
    harness.run_steps(2);
    harness.get_by_label("Next").click_accesskit();
    harness.run_steps(2);

    harness.get_by_label("Step 3 of 3");
    let field = harness.get_by_label("OPML file to import");
    field.focus();
    field.type_text("Downloads/subscriptions.opml");
    harness.run_steps(2);
    harness.get_by_label("Import OPML").click_accesskit();
    harness.run_steps(2);
    let imported = harness.state_mut().effects.drain(..).any(|e| {
        e == Effect::Lineup(super::lineup::LineupRequest::ImportOpml(
            "Downloads/subscriptions.opml".into(),
        ))
    });
    assert!(imported);
    harness.state_mut().model.view.lineup.busy = false;
    harness.get_by_label("Start reading").click_accesskit();
    harness.run_steps(2);
    let settings = applied(&mut harness).expect("the welcome ends by saving");
    assert_eq!(settings.locations.len(), 1);
    assert_eq!(
        settings.locations[0].name,
        "Kesselbury, Lenne Province, Valdoria"
    );
    assert!((settings.locations[0].latitude - 47.1235).abs() < 1e-9);
    let sports = settings
        .channels
        .iter()
        .find(|p| p.id.as_str() == "sports")
        .unwrap();
    assert!(!sports.shown);
    assert!(harness.state().model.view.welcome.is_none());
}

#[test]
fn skipping_keeps_the_settings_and_back_goes_back() {
    let mut harness = harness();
    harness.get_by_label("Next").click_accesskit();
    harness.run_steps(2);
    harness.get_by_label("Step 2 of 3");
    harness.get_by_label("Back").click_accesskit();
    harness.run_steps(2);
    harness.get_by_label("Step 1 of 3");
    harness.get_by_label("Skip the welcome").click_accesskit();
    harness.run_steps(2);
    assert_eq!(applied(&mut harness), Some(Settings::default()));
    assert!(harness.state().model.view.welcome.is_none());
    assert!(harness.query_by_label("Welcome to Tidings").is_none());
}
