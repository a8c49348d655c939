//! Settings → Channels, "Add a feed" and "Feeds of your channels", driven through
//! egui_kittest by role and label: the requests each control sends, the preview as the
//! server answers it, the choice among a page's feeds, and the confirmations before anything
//! is removed. The answers are fed in as the app would ([`LineupPanel::received`]).

use std::sync::Arc;

use egui::Key;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use super::lineup::{LineupReply, LineupRequest, Manage, Outcome, Position};
use super::model::{Effect, Model, SettingsDraft, SettingsTab};
use super::settings::{Settings, ThemeChoice};
use super::test_support::{self, App};
use crate::client::store::Store;
use crate::protocol::{
    ChannelKind, DiscoveredFeed, LineupChannel, LineupResponse, LineupSource, Preview, PreviewItem,
};

fn lineup() -> LineupResponse {
    let channel = |id: &str, title: &str, kind: ChannelKind, feeds: &[&str]| LineupChannel {
        id: id.into(),
        title: title.into(),
        description: String::new(),
        colour: "#4a90e2".into(),
        kind,
        sources: feeds
            .iter()
            .map(|url| LineupSource {
                url: (*url).into(),
                name: None,
                poll_minutes: None,
            })
            .collect(),
    };
    LineupResponse {
        managed: true,
        channels: vec![
            channel(
                "world",
                "World",
                ChannelKind::News,
                &["https://world.example/rss"],
            ),
            channel(
                "local",
                "Local",
                ChannelKind::News,
                &["https://town.example/feed"],
            ),
            channel("weather", "Weather", ChannelKind::Weather, &[]),
        ],
    }
}

/// The app with Settings open on the Channels page and the line-up already read.
fn harness() -> Harness<'static, App> {
    let mut model = Model::new(Arc::new(Store::default()), Settings::default());
    let mut draft = SettingsDraft::new(&model.settings);
    draft.tab = SettingsTab::Channels;
    model.view.settings = Some(draft);
    model.view.lineup.manage = Manage::Ready(lineup());
    test_support::harness(model, ThemeChoice::Dark, egui::vec2(1280.0, 1400.0))
}

fn requests(harness: &mut Harness<'static, App>) -> Vec<LineupRequest> {
    harness
        .state_mut()
        .effects
        .drain(..)
        .filter_map(|effect| match effect {
            Effect::Lineup(request) => Some(request),
            _ => None,
        })
        .collect()
}

fn answer(harness: &mut Harness<'static, App>, request: LineupRequest, outcome: Outcome) {
    let made = harness.state_mut().model.view.lineup.received(LineupReply {
        request,
        outcome: Ok(outcome),
        lineup: None,
    });
    assert_eq!(made, None);
    harness.run_steps(2);
}

fn feed(url: &str, already_in: Option<&str>) -> Preview {
    Preview::Feed {
        url: url.into(),
        title: Some("Harbour Gazette".into()),
        items: vec![PreviewItem {
            title: "Ferry timetable changes".into(),
            link: None,
            published: chrono::Utc::now() - chrono::Duration::minutes(7),
        }],
        item_count: 12,
        skipped: 2,
        repairs: vec!["stray '&' characters escaped".into()],
        already_in: already_in.map(str::to_owned),
    }
}

#[test]
fn an_address_previews_and_adds_as_a_new_channel_by_default() {
    let mut harness = harness();
    let field = harness.get_by_label("Feed or website address");
    field.focus();
    field.type_text("harbour.example");
    harness.run_steps(2);
    harness.get_by_label("Preview").click_accesskit();
    harness.run_steps(2);
    let sent = requests(&mut harness);
    assert_eq!(sent, [LineupRequest::Preview("harbour.example".into())]);

    answer(
        &mut harness,
        sent[0].clone(),
        Outcome::Preview(feed("https://harbour.example/feed.xml", None)),
    );
    harness.get_by_label("Harbour Gazette");
    harness.get_by_label("12 stories  ·  harbour.example");
    harness.get_by_label("Ferry timetable changes");
    harness.get_by_label("2 entries without a title, text or link will be skipped.");
    harness.get_by_label("Read despite a fault: stray '&' characters escaped.");

    // The name comes from the feed; a colour and the top of the list are chosen.
    harness.get_by_label("#d4508b").click_accesskit();
    harness
        .get_by_role_and_label(egui::accesskit::Role::ComboBox, "Position")
        .click_accesskit();
    harness.run_steps(2);
    harness.get_by_label("At the top").click_accesskit();
    harness.run_steps(2);
    harness.get_by_label("Add feed").click_accesskit();
    harness.run_steps(2);
    let LineupRequest::AddChannel {
        title,
        colour,
        position,
        source,
    } = requests(&mut harness).remove(0)
    else {
        panic!("a new channel");
    };
    assert_eq!(title, "Harbour Gazette");
    assert_eq!(colour, "#d4508b");
    assert_eq!(position, Position::First);
    assert_eq!(source.url, "https://harbour.example/feed.xml");
}

#[test]
fn a_feed_goes_into_an_existing_channel_with_enter() {
    let mut harness = harness();
    harness.state_mut().model.view.lineup.address = "https://harbour.example/feed.xml".into();
    harness
        .state_mut()
        .model
        .view
        .lineup
        .sent(&LineupRequest::Preview(
            "https://harbour.example/feed.xml".into(),
        ));
    answer(
        &mut harness,
        LineupRequest::Preview("https://harbour.example/feed.xml".into()),
        Outcome::Preview(feed("https://harbour.example/feed.xml", None)),
    );
    harness
        .get_by_role_and_label(egui::accesskit::Role::ComboBox, "Add to")
        .click_accesskit();
    harness.run_steps(2);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Local")
        .click_accesskit();
    harness.run_steps(2);
    // The name field is focused after a preview: Enter there adds (here the form has none,
    // so the button is focused).
    harness.get_by_label("Add feed").focus();
    harness.key_press(Key::Enter);
    harness.run_steps(2);
    assert_eq!(
        requests(&mut harness),
        [LineupRequest::AddFeed {
            channel: "local".into(),
            source: LineupSource {
                url: "https://harbour.example/feed.xml".into(),
                name: None,
                poll_minutes: None,
            },
        }]
    );
}

#[test]
fn a_page_with_several_feeds_offers_each_and_a_known_feed_says_where_it_is() {
    let mut harness = harness();
    harness
        .state_mut()
        .model
        .view
        .lineup
        .sent(&LineupRequest::Preview("harbour.example".into()));
    answer(
        &mut harness,
        LineupRequest::Preview("harbour.example".into()),
        Outcome::Preview(Preview::Page {
            url: "https://harbour.example/".into(),
            title: Some("Harbour Gazette".into()),
            feeds: vec![
                DiscoveredFeed {
                    url: "https://harbour.example/top.xml".into(),
                    title: Some("Top stories".into()),
                    format: "rss".into(),
                },
                DiscoveredFeed {
                    url: "https://harbour.example/sport.json".into(),
                    title: Some("Sport".into()),
                    format: "json".into(),
                },
            ],
        }),
    );
    harness.get_by_label("Harbour Gazette announces 2 feeds. Choose one:");
    harness.get_by_label("Sport  ·  JSON").click_accesskit();
    harness.run_steps(2);
    let sent = requests(&mut harness);
    assert_eq!(
        sent,
        [LineupRequest::Preview(
            "https://harbour.example/sport.json".into()
        )]
    );
    answer(
        &mut harness,
        sent[0].clone(),
        Outcome::Preview(feed("https://harbour.example/sport.json", Some("World"))),
    );
    harness.get_by_label("This feed is already in World.");
    assert!(harness.query_by_label("Add feed").is_none());
}

#[test]
fn removing_asks_first_and_renaming_sends_the_new_name() {
    let mut harness = harness();
    harness.get_by_label("Remove Local").click_accesskit();
    harness.run_steps(2);
    assert!(
        requests(&mut harness).is_empty(),
        "nothing before the confirmation"
    );
    harness.get_by_label("Remove Local and its stories from every device?");
    harness.get_by_label("Keep").click_accesskit();
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label("Remove Local and its stories from every device?")
            .is_none()
    );

    harness
        .get_by_label("Remove feed town.example/feed")
        .click_accesskit();
    harness.run_steps(2);
    harness.get_by_label("Remove town.example/feed and its stories from Local?");
    harness.get_by_label("Yes, remove").click_accesskit();
    harness.run_steps(2);
    assert_eq!(
        requests(&mut harness),
        [LineupRequest::RemoveFeed {
            channel: "local".into(),
            url: "https://town.example/feed".into(),
        }]
    );
    harness.state_mut().model.view.lineup.busy = false;

    harness.get_by_label("Rename World").click_accesskit();
    harness.run_steps(2);
    let field = harness.get_by_label("Channel name");
    field.focus();
    field.type_text(" News");
    harness.run_steps(2);
    harness.get_by_label("Save name").click_accesskit();
    harness.run_steps(2);
    assert_eq!(
        requests(&mut harness),
        [LineupRequest::Rename {
            channel: "world".into(),
            title: "World News".into(),
        }]
    );
    // Weather channels take no feeds: no move target, and no feed rows.
    assert!(harness.query_by_label("Remove feed Weather").is_none());
}
