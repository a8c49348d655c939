//! Search speed on a full store: `cargo bench --bench search`.
//!
//! Builds a store of 50 channels × 200 items (the most a channel keeps: 10,000 items) with
//! generated headlines and two-sentence summaries, a third of the words accented, and 300 saved
//! stories the store no longer holds. Measures building the index (done once per content change
//! while the search is open), each query as typed one key at a time would run it, and marking
//! the matches in the 12 rows a window shows. Prints a markdown table of medians and worst
//! cases; `docs/benchmarks.md` has the figures.

// Fixed inputs, indices always in range.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::Utc;
use tidings::client::saved::{SavedStories, SavedStory};
use tidings::client::search::{Query, SearchIndex, highlights, snippet};
use tidings::client::store::Store;
use tidings::protocol::{ChannelId, Event, EventId, Item, ItemKey, Severity};

const WORDS: &[&str] = &[
    "harbour",
    "council",
    "storm",
    "Zürich",
    "café",
    "lighthouse",
    "ferry",
    "election",
    "market",
    "Müller",
    "budget",
    "river",
    "pact",
    "signed",
    "school",
    "hospital",
    "Señora",
    "festival",
    "bridge",
    "São",
    "Paulo",
    "weather",
    "station",
    "firmware",
    "rail",
    "strike",
    "Ærø",
    "island",
    "museum",
    "reopens",
    "Kraków",
    "science",
    "solar",
    "power",
    "vote",
    "mayor",
    "Île",
    "Ré",
    "fishing",
    "quota",
    "winter",
    "road",
    "closed",
    "Straße",
    "tram",
    "league",
    "final",
    "goal",
    "Łódź",
    "theatre",
    "award",
    "crêpe",
    "price",
    "rises",
    "wind",
    "farm",
    "approved",
    "naïve",
];

const SOURCES: &[&str] = &[
    "Harbour Gazette",
    "Le Courrier",
    "Tagesblatt",
    "The Evening Post",
];

/// A deterministic pseudo-random word stream (xorshift), so every run searches the same text.
struct Words(u64);

impl Words {
    fn next(&mut self) -> &'static str {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        WORDS[(self.0 % WORDS.len() as u64) as usize]
    }

    fn sentence(&mut self, words: usize) -> String {
        let mut text: Vec<&str> = (0..words).map(|_| self.next()).collect();
        text.push(".");
        let mut sentence = text.join(" ").replace(" .", ".");
        if let Some(first) = sentence.get(..1) {
            sentence = first.to_uppercase() + sentence.get(1..).unwrap_or_default();
        }
        sentence
    }
}

fn item(words: &mut Words, channel: &ChannelId, n: usize) -> Item {
    let at = Utc::now() - chrono::Duration::minutes(n as i64);
    Item {
        channel: channel.clone(),
        key: ItemKey::new(format!("k{n}")).unwrap(),
        title: words.sentence(9),
        body: Some(format!("{} {}", words.sentence(18), words.sentence(16))),
        link: Some(format!("https://example.com/{n}")),
        source: Some(SOURCES[n % SOURCES.len()].to_owned()),
        image: None,
        severity: Severity::Info,
        published: at,
        updated: at,
        expires: None,
    }
}

fn content() -> (Store, SavedStories) {
    let mut words = Words(0x2545_f491_4f6c_dd1d);
    let mut store = Store::default();
    let mut n = 0;
    for c in 0..50 {
        let channel = ChannelId::new(format!("channel-{c}")).unwrap();
        for _ in 0..200 {
            // With event ids, as from a Tidings server: unchanged stories keep their folding.
            let id = EventId::new(n as u64 + 1, 0);
            let _ = store.apply(Some(id), Event::Item(item(&mut words, &channel, n)));
            n += 1;
        }
    }
    let gone = ChannelId::new("archive").unwrap();
    let mut saved = SavedStories::default();
    for _ in 0..300 {
        saved.insert(SavedStory::new(
            item(&mut words, &gone, n),
            "Archive",
            "#888888",
            Utc::now(),
        ));
        n += 1;
    }
    (store, saved)
}

/// Runs `f` `rounds` times; returns the median and the worst time.
fn time(rounds: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    (times[times.len() / 2], times[times.len() - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let (store, saved) = content();
    let index = SearchIndex::build(&store, &saved);
    println!(
        "Search over {} stories (10,000 items in 50 channels, 300 saved stories no longer held).\n",
        index.len()
    );
    println!("| what | results | median (ms) | worst (ms) |");
    println!("|---|---:|---:|---:|");
    let (median, worst) = time(20, || {
        black_box(SearchIndex::build(black_box(&store), black_box(&saved)));
    });
    println!(
        "| build the index | {} | {} | {} |",
        index.len(),
        ms(median),
        ms(worst)
    );
    // What a batch of news costs while the search is open: 20 new items, the rest reused.
    let mut words = Words(0x9e37_79b9_7f4a_7c15);
    let mut newer = store.clone();
    let fresh = ChannelId::new("channel-0").unwrap();
    for n in 0..20 {
        let mut news = item(&mut words, &fresh, 100_000 + n);
        news.published = Utc::now() + chrono::Duration::seconds(n as i64);
        let _ = newer.apply(
            Some(EventId::new(1_000_000 + n as u64, 0)),
            Event::Item(news),
        );
    }
    let (median, worst) = time(20, || {
        black_box(index.update(black_box(&newer), black_box(&saved)));
    });
    println!(
        "| update it after 20 new items | {} | {} | {} |",
        index.update(&newer, &saved).len(),
        ms(median),
        ms(worst)
    );
    // What typing "zurich cafe" runs, one query per key.
    let typed = "zurich cafe";
    let (median, worst) = time(20, || {
        for end in 1..=typed.len() {
            black_box(index.search(&Query::parse(&typed[..end])));
        }
    });
    println!(
        "| typing `{typed}` ({} queries, total) | {} | {} | {} |",
        typed.len(),
        index.search(&Query::parse(typed)).len(),
        ms(median),
        ms(worst)
    );
    for text in [
        "harbour",
        "ZÜRICH",
        "zurich cafe",
        "\"river pact\"",
        "lodz strasse aero",
        "s",
        "xylophone",
    ] {
        let query = Query::parse(text);
        let hits = index.search(&query).len();
        let (median, worst) = time(50, || {
            black_box(index.search(black_box(&query)));
        });
        println!(
            "| query `{text}` | {hits} | {} | {} |",
            ms(median),
            ms(worst)
        );
    }
    let query = Query::parse("zurich cafe");
    let shown: Vec<&Item> = store
        .channels()
        .flat_map(|(_, c)| c.items.iter().map(|s| &s.item))
        .take(12)
        .collect();
    let (median, worst) = time(50, || {
        for item in &shown {
            black_box(highlights(&item.title, &query));
            black_box(snippet(
                item.body.as_deref().unwrap_or_default(),
                &query,
                220,
            ));
        }
    });
    println!(
        "| mark 12 rows (titles and snippets) | 12 | {} | {} |",
        ms(median),
        ms(worst)
    );
}
