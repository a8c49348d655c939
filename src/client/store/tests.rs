//! Store updates: upserts, retracts, de-duplication, alert lifecycle, bounds, read state.

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::protocol::{Gap, Health, Retract};

fn ch(id: &str) -> ChannelId {
    ChannelId::new(id).unwrap()
}

fn key(k: &str) -> ItemKey {
    ItemKey::new(k).unwrap()
}

fn id(n: u64) -> Option<EventId> {
    Some(EventId::new(1_000 + n, 0))
}

fn item(channel: &str, k: &str, title: &str, minute: i64) -> Event {
    let at = Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap() + Duration::minutes(minute);
    Event::Item(Item {
        channel: ch(channel),
        key: key(k),
        title: title.into(),
        body: None,
        link: None,
        source: None,
        image: None,
        severity: Severity::Info,
        published: at,
        updated: at,
        expires: None,
    })
}

fn alert(k: &str, severity: Severity, status: AlertStatus) -> Event {
    let at = Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap();
    Event::Alert(Alert {
        channel: ch("alerts"),
        key: key(k),
        status,
        severity,
        title: "Storm".into(),
        event: None,
        body: None,
        instruction: None,
        area: None,
        link: None,
        source: None,
        onset: None,
        published: at,
        updated: at,
        expires: None,
    })
}

fn titles(store: &Store, channel: &str) -> Vec<String> {
    store
        .channel(&ch(channel))
        .unwrap()
        .items
        .iter()
        .map(|s| s.item.title.clone())
        .collect()
}

#[test]
fn items_upsert_by_key_newest_first() {
    let mut store = Store::default();
    assert!(matches!(
        store.apply(id(1), item("w", "a", "A", 1)).as_slice(),
        [Change::ItemAdded { .. }]
    ));
    store.apply(id(2), item("w", "b", "B", 2));
    assert_eq!(titles(&store, "w"), ["B", "A"]);
    let changes = store.apply(id(3), item("w", "a", "A2", 1));
    assert_eq!(
        changes,
        [Change::ItemUpdated {
            channel: ch("w"),
            key: key("a"),
            title_changed: true
        }]
    );
    assert_eq!(
        titles(&store, "w"),
        ["B", "A2"],
        "an update replaces in place"
    );
}

#[test]
fn duplicates_and_stale_events_change_nothing() {
    let mut store = Store::default();
    store.apply(id(5), item("w", "a", "A5", 1));
    assert!(
        store.apply(id(5), item("w", "a", "A5", 1)).is_empty(),
        "same event again"
    );
    assert!(
        store.apply(id(4), item("w", "a", "A4", 1)).is_empty(),
        "older version"
    );
    assert_eq!(titles(&store, "w"), ["A5"]);
    // A stale retract does not remove a newer version.
    let retract = Event::Retract(Retract {
        channel: ch("w"),
        key: key("a"),
        kind: RetractKind::Item,
        reason: None,
    });
    assert!(store.apply(id(3), retract.clone()).is_empty());
    assert_eq!(
        store.apply(id(6), retract.clone()),
        [Change::ItemRemoved {
            channel: ch("w"),
            key: key("a")
        }]
    );
    assert!(
        store.apply(id(7), retract).is_empty(),
        "removing twice is nothing"
    );
}

#[test]
fn alerts_follow_their_lifecycle() {
    let mut store = Store::default();
    assert!(matches!(
        store
            .apply(id(1), alert("s", Severity::Warning, AlertStatus::Active))
            .as_slice(),
        [Change::AlertRaised {
            severity: Severity::Warning,
            ..
        }]
    ));
    assert!(matches!(
        store
            .apply(id(2), alert("s", Severity::Critical, AlertStatus::Updated))
            .as_slice(),
        [Change::AlertUpdated {
            escalated: true,
            ..
        }]
    ));
    assert!(matches!(
        store
            .apply(
                id(3),
                alert("s", Severity::Critical, AlertStatus::Cancelled)
            )
            .as_slice(),
        [Change::AlertCancelled { .. }]
    ));
    assert_eq!(
        store.alerts().len(),
        1,
        "cancelled alerts stay visible until retracted"
    );
    let retract = Event::Retract(Retract {
        channel: ch("alerts"),
        key: key("s"),
        kind: RetractKind::Alert,
        reason: Some("expired".into()),
    });
    assert!(matches!(
        store.apply(id(4), retract).as_slice(),
        [Change::AlertRemoved { .. }]
    ));
    assert!(store.alerts().is_empty());
}

#[test]
fn channels_are_bounded_keeping_the_newest() {
    let mut store = Store::new(3);
    for n in 0..5 {
        store.apply(
            id(n),
            item(
                "w",
                &format!("k{n}"),
                &format!("T{n}"),
                i64::try_from(n).unwrap(),
            ),
        );
    }
    assert_eq!(titles(&store, "w"), ["T4", "T3", "T2"]);
    // An item older than everything kept is not shown (and not reported).
    assert!(store.apply(id(9), item("w", "old", "Old", -100)).is_empty());
}

#[test]
fn read_state_survives_updates_without_title_change_and_resets() {
    let mut store = Store::default();
    store.apply(id(1), item("w", "a", "A", 1));
    store.apply(id(2), item("w", "b", "B", 2));
    assert_eq!(store.channel(&ch("w")).unwrap().unread(), 2);
    store.set_read(&ch("w"), &key("a"), true);
    assert_eq!(store.channel(&ch("w")).unwrap().unread(), 1);
    // Same title: still read. New title: unread again.
    store.apply(id(3), item("w", "a", "A", 1));
    assert_eq!(store.channel(&ch("w")).unwrap().unread(), 1);
    store.mark_channel_read(&ch("w"));
    assert_eq!(store.channel(&ch("w")).unwrap().unread(), 0);
    // A gap clears content; the snapshot that follows brings items back still read.
    assert_eq!(
        store.apply(
            None,
            Event::Gap(Gap {
                requested: EventId::new(1, 0),
                oldest: None,
                reason: String::new()
            })
        ),
        [Change::Reset]
    );
    assert!(titles(&store, "w").is_empty());
    store.apply(id(1), item("w", "a", "A", 1));
    assert_eq!(
        store.channel(&ch("w")).unwrap().unread(),
        0,
        "read marks outlive a reset"
    );
}

/// A news channel's metadata.
fn info(id: &str, title: &str) -> ChannelInfo {
    ChannelInfo {
        id: ch(id),
        title: title.into(),
        description: String::new(),
        colour: "#ffffff".into(),
        kind: crate::protocol::ChannelKind::News,
        health: Health::default(),
        updated: None,
        removed: false,
    }
}

#[test]
fn channel_info_changes_are_reported_once() {
    let mut store = Store::default();
    let info = info("w", "World");
    assert_eq!(
        store.apply(id(1), Event::Channel(info.clone())),
        [Change::Channel { channel: ch("w") }]
    );
    assert!(store.apply(id(2), Event::Channel(info)).is_empty());
}

#[test]
fn a_story_read_stays_read_when_its_feed_moves_to_another_channel() {
    let mut store = Store::default();
    let feed_key = "0123456789abcdef0123456789abcdef";
    let _ = store.apply(id(1), item("local", feed_key, "Ferry", 1));
    let _ = store.apply(id(2), item("local", "deploy-1", "Deploy", 1));
    store.set_read(&ch("local"), &ItemKey::new(feed_key).unwrap(), true);
    store.set_read(&ch("local"), &ItemKey::new("deploy-1").unwrap(), true);
    // The feed moves: retracted here, read afresh there.
    let _ = store.apply(
        id(3),
        Event::Retract(Retract {
            channel: ch("local"),
            key: ItemKey::new(feed_key).unwrap(),
            kind: RetractKind::Item,
            reason: None,
        }),
    );
    let _ = store.apply(id(4), item("sport", feed_key, "Ferry", 1));
    assert_eq!(store.channel(&ch("sport")).unwrap().unread(), 0);
    // A publisher's own key means nothing in another channel.
    let _ = store.apply(id(5), item("sport", "deploy-1", "Deploy", 1));
    assert_eq!(store.channel(&ch("sport")).unwrap().unread(), 1);
}

#[test]
fn a_removed_channel_goes_with_everything_it_held() {
    let mut store = Store::default();
    let info = info("w", "World");
    let _ = store.apply(id(1), Event::Channel(info.clone()));
    let _ = store.apply(id(2), item("w", "a", "A", 2));
    store.set_read(&ch("w"), &ItemKey::new("a").unwrap(), true);
    let removed = ChannelInfo {
        removed: true,
        ..info.clone()
    };
    assert_eq!(
        store.apply(id(3), Event::Channel(removed.clone())),
        [Change::ChannelRemoved { channel: ch("w") }]
    );
    assert!(store.channel(&ch("w")).is_none());
    assert!(store.catalog().is_empty());
    // Told again (a replay), nothing happens; announced anew, it starts empty.
    assert!(store.apply(id(3), Event::Channel(removed)).is_empty());
    let _ = store.apply(id(4), Event::Channel(info));
    assert_eq!(store.catalog(), [ch("w")]);
    assert!(store.channel(&ch("w")).unwrap().items.is_empty());
}

#[test]
fn channels_keep_the_servers_catalog_order_across_a_cache_round_trip() {
    let mut store = Store::default();
    // An item may arrive for a channel before (or without) its description.
    let _ = store.apply(id(1), item("orphan", "a", "A", 1));
    for (n, channel) in ["welcome", "world", "alerts", "business"]
        .into_iter()
        .enumerate()
    {
        let info = info(channel, channel);
        let _ = store.apply(id(n as u64 + 2), Event::Channel(info));
    }
    let order = |store: &Store| -> Vec<String> {
        store
            .catalog()
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect()
    };
    // Not id order: the order the server described them in; undescribed channels are left out.
    assert_eq!(order(&store), ["welcome", "world", "alerts", "business"]);
    let cached: Store = serde_json::from_str(&serde_json::to_string(&store).unwrap()).unwrap();
    assert_eq!(order(&cached), ["welcome", "world", "alerts", "business"]);
}

#[test]
fn expired_entries_are_removed_locally() {
    let mut store = Store::default();
    let Event::Item(mut expiring) = item("w", "sale", "Sale", 1) else {
        unreachable!()
    };
    expiring.expires = Some(Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap());
    store.apply(id(1), Event::Item(expiring));
    store.apply(id(2), item("w", "news", "News", 2));
    assert!(
        store
            .remove_expired(Utc.with_ymd_and_hms(2026, 11, 27, 9, 59, 0).unwrap())
            .is_empty()
    );
    let gone = store.remove_expired(Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap());
    assert_eq!(
        gone,
        [Change::ItemRemoved {
            channel: ch("w"),
            key: key("sale")
        }]
    );
    assert_eq!(titles(&store, "w"), ["News"]);
}

#[test]
fn one_hazard_over_several_places_is_one_alert() {
    use crate::protocol::{Alert, AlertStatus, ChannelId, Event, ItemKey, Severity};
    let at = chrono::Utc::now();
    let alert = |key: &str, severity| {
        Event::Alert(Alert {
            channel: ChannelId::new("alerts").unwrap(),
            key: ItemKey::new(key).unwrap(),
            status: AlertStatus::Active,
            severity,
            title: "Gale Warning".to_owned(),
            event: None,
            body: None,
            instruction: None,
            area: None,
            link: None,
            source: None,
            onset: None,
            published: at,
            updated: at,
            expires: None,
        })
    };
    let mut store = Store::default();
    for event in [
        alert("@44.6,-67.2:nws:XDMO.GL.W.0100", Severity::Warning),
        alert("@44.7,-67.0:nws:XDMO.GL.W.0100", Severity::Warning),
        alert("@44.6,-67.2:nws:XDMO.SC.Y.0007", Severity::Notice),
        alert("fire-drill", Severity::Warning),
    ] {
        let _ = store.apply(None, event);
    }
    assert_eq!(store.alerts().len(), 4);
    let keys: Vec<&str> = store
        .distinct_alerts()
        .iter()
        .map(|a| a.alert.key.as_str())
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.contains(&"fire-drill"));
    let channel = store.channel(&ChannelId::new("alerts").unwrap()).unwrap();
    assert_eq!(channel.distinct_alerts().len(), 3);
    assert_eq!(
        super::hazard_key(&ItemKey::new("@44.6,-67.2:nws:XDMO.GL.W.0100").unwrap()),
        "nws:XDMO.GL.W.0100"
    );
    assert_eq!(super::hazard_key(&ItemKey::new("@odd").unwrap()), "@odd");
}
