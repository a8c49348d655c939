//! Search over everything the client holds: the items and alerts of every channel in the
//! [`Store`] and the saved stories (which outlive their channel's history). Pure: the GUI
//! builds a [`SearchIndex`] when the content changes and asks it for [`Hit`]s as the user types.
//!
//! Matching is case- and accent-insensitive ("Zurich" finds "Zürich", "CAFE" finds "café"):
//! text is lower-cased, decomposed canonically (Unicode NFD, through `icu_normalizer`, already
//! in the tree for URLs) and stripped of combining marks, with a few letters that do not
//! decompose (ø, æ, ß, ł, …) spelled out. Every word of the query must occur somewhere in the
//! title, summary or source (substrings, so "storm" finds "thunderstorms"); `"two words"` in
//! quotes must occur together. [`highlights`] maps the matches back onto the original text so
//! views can mark them, and [`snippet`] cuts a summary around its first match.
//!
//! The index keeps only the folded text; highlighting re-folds the few strings on screen.
//! `benches/search.rs` measures both on 10,000 items (`docs/benchmarks.md`).

use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use icu_normalizer::properties::{
    CanonicalCombiningClassMapBorrowed, CanonicalDecompositionBorrowed, Decomposed,
};

use std::collections::HashMap;

use super::saved::SavedStories;
use super::store::Store;
use crate::protocol::{ChannelId, EventId, ItemKey};

/// Between the fields of a document's folded text, so no match spans two fields.
const FIELD_SEPARATOR: char = '\u{1f}';

/// Appends the folded form of `c` to `out`: lower case, no accents.
fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    let decompose = CanonicalDecompositionBorrowed::new();
    let combining = CanonicalCombiningClassMapBorrowed::new();
    for lower in c.to_lowercase() {
        // The decomposition is not recursive: take the base apart until it stands alone
        // (ế is ê + acute, ê is e + circumflex). The rest are combining marks, dropped.
        let mut base = lower;
        loop {
            match decompose.decompose(base) {
                Decomposed::Default => break,
                Decomposed::Singleton(single) => base = single,
                Decomposed::Expansion(first, _mark) => base = first,
            }
        }
        if combining.get_u8(base) != 0 {
            continue;
        }
        match base {
            'ø' => out.push('o'),
            'đ' | 'ð' => out.push('d'),
            'ł' => out.push('l'),
            'ı' => out.push('i'),
            'ħ' => out.push('h'),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'ß' => out.push_str("ss"),
            'þ' => out.push_str("th"),
            // Typographic quotes and dashes as typed on a keyboard.
            '\u{2018}' | '\u{2019}' | '\u{201b}' | '\u{2032}' => out.push('\''),
            '\u{201c}' | '\u{201d}' | '\u{201f}' | '\u{2033}' => out.push('"'),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => out.push('-'),
            '\u{a0}' | '\u{2007}' | '\u{202f}' => out.push(' '),
            other => out.push(other),
        }
    }
}

/// `text` lower-cased and without accents, for matching.
#[must_use]
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out);
    out
}

fn fold_into(text: &str, out: &mut String) {
    if text.is_ascii() {
        out.extend(text.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        for c in text.chars() {
            fold_char(c, out);
        }
    }
}

/// `text` folded, with the start (in `text`) of the character each folded byte came from.
fn fold_with_origins(text: &str) -> (String, Vec<usize>) {
    let mut folded = String::with_capacity(text.len());
    let mut origins = Vec::with_capacity(text.len() + 1);
    for (start, c) in text.char_indices() {
        let before = folded.len();
        fold_char(c, &mut folded);
        origins.extend(std::iter::repeat_n(start, folded.len() - before));
    }
    origins.push(text.len());
    (folded, origins)
}

/// A parsed search: the folded words (or quoted phrases) that must all match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    terms: Vec<String>,
}

impl Query {
    /// Parses what the user typed: words separated by spaces, `"a phrase"` in quotes.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let folded = fold(text);
        let mut terms: Vec<String> = Vec::new();
        for (index, part) in folded.split('"').enumerate() {
            // Odd parts were inside quotes (an unclosed quote runs to the end).
            if index % 2 == 1 {
                let phrase = part.split_whitespace().collect::<Vec<_>>().join(" ");
                if !phrase.is_empty() {
                    terms.push(phrase);
                }
            } else {
                terms.extend(part.split_whitespace().map(str::to_owned));
            }
        }
        terms.retain(|t| !t.contains(FIELD_SEPARATOR));
        terms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        terms.dedup();
        Self { terms }
    }

    /// Nothing to look for.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The folded terms, longest first.
    #[must_use]
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// Whether every term occurs in `folded`.
    fn matches(&self, folded: &str) -> bool {
        // Longest first: the rarest term usually fails fastest.
        !self.terms.is_empty() && self.terms.iter().all(|term| folded.contains(term.as_str()))
    }
}

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A news item in the store.
    Item,
    /// An alert in the store.
    Alert,
    /// A saved story the store no longer has (retracted, expired, or aged out).
    Saved,
}

/// One searchable story.
#[derive(Debug, Clone)]
pub struct Doc {
    /// Its channel.
    pub channel: ChannelId,
    /// Its key there.
    pub key: ItemKey,
    /// What it is.
    pub kind: Kind,
    /// When it was published (alerts: last updated), for the order of results.
    pub time: DateTime<Utc>,
    /// Which version of the story was folded: the event that wrote it (saved copies: none)
    /// and its last update. The same version is not folded again.
    version: (Option<EventId>, DateTime<Utc>),
    /// Title, summary and the rest, folded, separated by [`FIELD_SEPARATOR`].
    folded: Arc<str>,
}

/// One result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index in [`SearchIndex::docs`].
    pub doc: usize,
}

/// Every story and alert the client holds, folded for matching.
#[derive(Debug, Clone, Default)]
pub struct SearchIndex {
    docs: Vec<Doc>,
}

impl SearchIndex {
    /// Indexes the items and alerts of every channel of `store`, and the saved stories it no
    /// longer has. Documents are ordered newest first, so results are too.
    #[must_use]
    pub fn build(store: &Store, saved: &SavedStories) -> Self {
        Self::default().update(store, saved)
    }

    /// The index of `store` and `saved` again, reusing the folded text of every story whose
    /// version is unchanged (only new and changed stories are folded: a batch of news costs
    /// little however much is held).
    #[must_use]
    pub fn update(&self, store: &Store, saved: &SavedStories) -> Self {
        let earlier: HashMap<(&ChannelId, &ItemKey, Kind), &Doc> = self
            .docs
            .iter()
            .map(|doc| ((&doc.channel, &doc.key, doc.kind), doc))
            .collect();
        let mut docs = Vec::with_capacity(self.docs.len().max(64));
        let mut add = |channel: &ChannelId,
                       key: &ItemKey,
                       kind: Kind,
                       time: DateTime<Utc>,
                       version: (Option<EventId>, DateTime<Utc>),
                       fields: &[Option<&str>]| {
            // Without an event id (a server of another kind) a version is not comparable.
            let reusable = version.0.is_some() || kind == Kind::Saved;
            let folded = match earlier.get(&(channel, key, kind)) {
                Some(doc) if reusable && doc.version == version => Arc::clone(&doc.folded),
                _ => {
                    let mut folded = String::new();
                    for field in fields.iter().flatten() {
                        fold_into(field, &mut folded);
                        folded.push(FIELD_SEPARATOR);
                    }
                    Arc::from(folded)
                }
            };
            docs.push(Doc {
                channel: channel.clone(),
                key: key.clone(),
                kind,
                time,
                version,
                folded,
            });
        };
        for (channel, state) in store.channels() {
            for stored in &state.items {
                let item = &stored.item;
                add(
                    channel,
                    &item.key,
                    Kind::Item,
                    item.published,
                    (stored.event_id, item.updated),
                    &[
                        Some(item.title.as_str()),
                        item.body.as_deref(),
                        item.source.as_deref(),
                    ],
                );
            }
            for stored in &state.alerts {
                let alert = &stored.alert;
                add(
                    channel,
                    &alert.key,
                    Kind::Alert,
                    alert.updated,
                    (stored.event_id, alert.updated),
                    &[
                        Some(alert.title.as_str()),
                        alert.body.as_deref(),
                        alert.event.as_deref(),
                        alert.area.as_deref(),
                        alert.instruction.as_deref(),
                        alert.source.as_deref(),
                    ],
                );
            }
        }
        for story in saved.iter() {
            let item = &story.item;
            let held = store
                .channel(&item.channel)
                .is_some_and(|c| c.items.iter().any(|s| s.item.key == item.key));
            if !held {
                add(
                    &item.channel,
                    &item.key,
                    Kind::Saved,
                    item.published,
                    (None, item.updated),
                    &[
                        Some(item.title.as_str()),
                        item.body.as_deref(),
                        item.source.as_deref(),
                    ],
                );
            }
        }
        docs.sort_by_key(|doc| std::cmp::Reverse(doc.time));
        Self { docs }
    }

    /// The documents, newest first.
    #[must_use]
    pub fn docs(&self) -> &[Doc] {
        &self.docs
    }

    /// How many stories and alerts there are to search.
    #[must_use]
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Nothing to search.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The documents matching every term of `query`, newest first.
    #[must_use]
    pub fn search(&self, query: &Query) -> Vec<Hit> {
        if query.is_empty() {
            return Vec::new();
        }
        self.docs
            .iter()
            .enumerate()
            .filter(|(_, doc)| query.matches(&doc.folded))
            .map(|(doc, _)| Hit { doc })
            .collect()
    }
}

/// Where the terms of `query` occur in `text`: byte ranges of `text` (on character
/// boundaries), sorted, overlapping ones merged.
#[must_use]
pub fn highlights(text: &str, query: &Query) -> Vec<Range<usize>> {
    if query.is_empty() || text.is_empty() {
        return Vec::new();
    }
    let (folded, origins) = fold_with_origins(text);
    let origin = |folded_at: usize| origins.get(folded_at).copied().unwrap_or(text.len());
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for term in query.terms() {
        let mut from = 0;
        while let Some(found) = folded.get(from..).and_then(|rest| rest.find(term.as_str())) {
            let start = from + found;
            let end = start + term.len();
            // A match ending inside a character folded into several (ß → ss) takes it whole.
            let last = origin(end - 1);
            let original_end = match origins.get(end) {
                Some(&next) if next != last => next,
                _ => next_boundary(text, last),
            };
            ranges.push(origin(start)..original_end);
            from = end.max(start + 1);
        }
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// The byte index after the character starting at `at`.
fn next_boundary(text: &str, at: usize) -> usize {
    text.get(at..)
        .and_then(|rest| rest.chars().next())
        .map_or(text.len(), |c| at + c.len_utf8())
}

/// A stretch of a summary to show under a result, with its matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The text, on one line, with "…" where it was cut.
    pub text: String,
    /// Byte ranges of `text` to mark.
    pub highlights: Vec<Range<usize>>,
}

/// About `max_chars` characters of `body` on one line, starting a little before the first
/// match (from the start when that is near, or nothing matches), with the matches marked.
#[must_use]
pub fn snippet(body: &str, query: &Query, max_chars: usize) -> Snippet {
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let marks = highlights(&line, query);
    // Some context before the match, but start on a word.
    let lead = max_chars / 4;
    let first = marks.first().map_or(0, |r| r.start);
    let chars_before = line.get(..first).map_or(0, |s| s.chars().count());
    let mut start = 0;
    if chars_before > lead {
        let wanted = line
            .char_indices()
            .nth(chars_before - lead)
            .map_or(0, |(i, _)| i);
        start = line
            .get(wanted..first)
            .and_then(|s| s.find(' '))
            .map_or(wanted, |space| wanted + space + 1);
    }
    let end = line
        .get(start..)
        .and_then(|rest| rest.char_indices().nth(max_chars))
        .map_or(line.len(), |(i, _)| start + i);
    let mut text = String::new();
    let prefix = if start > 0 { "… " } else { "" };
    text.push_str(prefix);
    text.push_str(line.get(start..end).unwrap_or_default());
    if end < line.len() {
        text.push('…');
    }
    let shift = prefix.len();
    let highlights = marks
        .into_iter()
        .filter(|r| r.start >= start && r.start < end)
        .map(|r| (r.start - start + shift)..(r.end.min(end) - start + shift))
        .collect();
    Snippet { text, highlights }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::saved::SavedStory;
    use crate::protocol::{Alert, AlertStatus, Event, Item, Severity};

    fn marked<'a>(text: &'a str, query: &str) -> Vec<&'a str> {
        highlights(text, &Query::parse(query))
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn folding_ignores_case_and_accents() {
        assert_eq!(fold("Zürich CAFÉ Ångström"), "zurich cafe angstrom");
        assert_eq!(fold("Đà Nẵng, Việt Nam"), "da nang, viet nam");
        assert_eq!(
            fold("Straße Øresund Łódź Æther"),
            "strasse oresund lodz aether"
        );
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(fold("“Quoted” — it’s"), "\"quoted\" - it's");
        // Decomposed input (e + combining acute) folds like the precomposed form.
        assert_eq!(fold("cafe\u{301}"), fold("café"));
        assert_eq!(fold("ΣΟΦΊΑ"), "σοφια");
    }

    #[test]
    fn every_word_must_match_in_any_order() {
        let query = Query::parse("  harbour   STORM ");
        assert_eq!(query.terms(), ["harbour", "storm"]);
        assert!(query.matches(&fold("Storm closes the harbour")));
        assert!(query.matches(&fold("Harbour thunderstorms")));
        assert!(!query.matches(&fold("Storm over the hills")));
        assert!(!Query::parse("   ").matches("anything"));
    }

    #[test]
    fn quotes_keep_a_phrase_together() {
        let query = Query::parse("\"river pact\" signed");
        assert_eq!(query.terms(), ["river pact", "signed"]);
        assert!(query.matches(&fold("River pact signed")));
        assert!(!query.matches(&fold("Pact on the river signed")));
        // An unclosed quote runs to the end.
        assert_eq!(Query::parse("\"new  moon").terms(), ["new moon"]);
    }

    #[test]
    fn highlights_mark_the_original_text() {
        assert_eq!(
            marked("Storm closes the harbour", "harbour storm"),
            ["Storm", "harbour"]
        );
        assert_eq!(marked("Zürich and ZURICH", "zurich"), ["Zürich", "ZURICH"]);
        assert_eq!(marked("Fête de la Musique", "fete"), ["Fête"]);
        // Decomposed accents stay inside the mark.
        assert_eq!(marked("Cafe\u{301} opens", "cafe"), ["Cafe\u{301}"]);
        // A letter folded into two (ß → ss) is marked whole.
        assert_eq!(marked("Große Straße", "strasse"), ["Straße"]);
        assert_eq!(marked("Große Straße", "stras"), ["Straß"]);
        // Overlapping and repeated terms merge into one mark each.
        assert_eq!(marked("thunderstorms", "under storm"), ["understorm"]);
        assert_eq!(marked("no no no", "no"), ["no", "no", "no"]);
        assert!(marked("nothing here", "zebra").is_empty());
    }

    #[test]
    fn snippets_start_near_the_first_match() {
        let body = "Long ago and far away there was a little harbour town where the \
                    lighthouse keeper kept the light burning through every storm of the year.";
        let cut = snippet(body, &Query::parse("storm"), 40);
        assert!(cut.text.starts_with("… "), "{}", cut.text);
        assert!(cut.text.contains("storm"));
        let marks: Vec<&str> = cut
            .highlights
            .iter()
            .map(|r| &cut.text[r.clone()])
            .collect();
        assert_eq!(marks, ["storm"]);
        // Near the start: no cut at the front.
        let cut = snippet(body, &Query::parse("ago"), 40);
        assert!(cut.text.starts_with("Long ago"));
        assert!(cut.text.ends_with('…'));
        assert_eq!(&cut.text[cut.highlights[0].clone()], "ago");
        // Line breaks become spaces.
        assert_eq!(snippet("one\ntwo", &Query::default(), 40).text, "one two");
    }

    fn item(channel: &str, key: &str, title: &str, body: &str, minutes_ago: i64) -> Item {
        let at = Utc::now() - chrono::Duration::minutes(minutes_ago);
        Item {
            channel: ChannelId::new(channel).unwrap(),
            key: ItemKey::new(key).unwrap(),
            title: title.to_owned(),
            body: Some(body.to_owned()),
            link: None,
            source: Some("Harbour Gazette".to_owned()),
            image: None,
            severity: Severity::Info,
            published: at,
            updated: at,
            expires: None,
        }
    }

    #[test]
    fn an_update_folds_only_new_and_changed_stories() {
        let mut store = Store::default();
        for (n, title) in ["Café one", "Café two"].into_iter().enumerate() {
            store.apply(
                Some(EventId::new(1, n as u64)),
                Event::Item(item("world", &format!("k{n}"), title, "Body.", 10)),
            );
        }
        let saved = SavedStories::default();
        let first = SearchIndex::build(&store, &saved);
        let folded = |index: &SearchIndex, key: &str| {
            let doc = index.docs().iter().find(|d| d.key.as_str() == key).unwrap();
            Arc::clone(&doc.folded)
        };
        // k0 changes (a new event), k1 does not.
        let mut changed = item("world", "k0", "Café one, corrected", "Body.", 10);
        changed.updated += chrono::Duration::minutes(1);
        store.apply(Some(EventId::new(2, 0)), Event::Item(changed));
        let second = first.update(&store, &saved);
        assert!(Arc::ptr_eq(&folded(&first, "k1"), &folded(&second, "k1")));
        assert!(!Arc::ptr_eq(&folded(&first, "k0"), &folded(&second, "k0")));
        assert_eq!(
            second.search(&Query::parse("corrected")).len(),
            1,
            "the new version is searched"
        );
        assert_eq!(second.len(), 2);
    }

    #[test]
    fn the_index_covers_items_alerts_and_saved_stories_newest_first() {
        let mut store = Store::default();
        let now = Utc::now();
        store.apply(
            None,
            Event::Item(item("world", "a", "Café reopens", "On the quay.", 30)),
        );
        store.apply(
            None,
            Event::Item(item("tech", "b", "New café app", "Order coffee.", 5)),
        );
        store.apply(
            None,
            Event::Alert(Alert {
                channel: ChannelId::new("alerts").unwrap(),
                key: ItemKey::new("gale").unwrap(),
                status: AlertStatus::Active,
                severity: Severity::Warning,
                title: "Gale warning".to_owned(),
                event: None,
                body: Some("Winds near the cafe terraces.".to_owned()),
                instruction: None,
                area: Some("Harbour County".to_owned()),
                link: None,
                source: None,
                onset: None,
                published: now,
                updated: now,
                expires: None,
            }),
        );
        let mut saved = SavedStories::default();
        let gone = item("world", "old", "Old café closes", "Years ago.", 600);
        saved.insert(SavedStory::new(gone, "World", "#123456", now));
        // A saved story the store still holds is searched once, as the item.
        saved.insert(SavedStory::new(
            item("world", "a", "Café reopens", "On the quay.", 30),
            "World",
            "#123456",
            now,
        ));
        let index = SearchIndex::build(&store, &saved);
        assert_eq!(index.len(), 4);
        let keys = |query: &str| -> Vec<(&str, Kind)> {
            index
                .search(&Query::parse(query))
                .iter()
                .map(|hit| {
                    let doc = &index.docs()[hit.doc];
                    (doc.key.as_str(), doc.kind)
                })
                .collect()
        };
        assert_eq!(
            keys("CAFE"),
            [
                ("gale", Kind::Alert),
                ("b", Kind::Item),
                ("a", Kind::Item),
                ("old", Kind::Saved)
            ]
        );
        assert_eq!(keys("café quay"), [("a", Kind::Item)]);
        assert_eq!(keys("harbour county"), [("gale", Kind::Alert)]);
        // Sources are searched; a match never spans two fields.
        assert_eq!(keys("gazette").len(), 3);
        assert!(keys("\"quay. harbour\"").is_empty());
        assert!(keys("").is_empty());
    }
}
