//! The search: the box in the top bar, and the results in the middle of the window while it is
//! open (a designed empty state before anything is typed, and one for no results). Results are
//! labelled with their channel and time, newest first, the matches marked in titles and
//! snippets. Keyboard: Ctrl+F or `/` to the box, Up/Down move, Enter opens (like a click on a
//! headline), Escape leaves; `view::keyboard` routes the keys here. Matching is
//! [`crate::client::search`]; this file only draws and changes view state.

use egui::{Margin, RichText, Sense, Stroke, Ui, vec2};

use super::format;
use super::icons;
use super::model::{Effect, Model, Story, StoryRef};
use super::rows::{self, RowSpec};
use super::theme::{GAP, Palette, channel_colour, size};
use super::view;
use crate::client::search;
use crate::protocol::AlertStatus;

/// The search box's id (the keyboard checks whether it has the focus).
#[must_use]
pub fn box_id() -> egui::Id {
    egui::Id::unique("tidings-search-box")
}

/// The search box, with its glass and a clear button.
pub fn search_box_ui(ui: &mut Ui, model: &mut Model, palette: &Palette) {
    let id = box_id();
    let edit = egui::TextEdit::singleline(&mut model.view.search.query)
        .id(id)
        .hint_text("Search all stories   Ctrl+F")
        .desired_width(300.0)
        // A field of its own on every title bar (in Light the bar and a plain field match).
        .background_color(palette.raised)
        .margin(Margin {
            left: 26,
            right: 24,
            top: 4,
            bottom: 4,
        });
    let response = ui.add(edit);
    ui.ctx()
        .accesskit_node_builder(response.id, |node| node.set_label("Search"));
    let rect = response.rect;
    icons::paint_magnifier(
        ui.painter(),
        egui::pos2(rect.left() + 14.0, rect.center().y),
        14.0,
        if response.has_focus() {
            palette.accent
        } else {
            palette.text_weak
        },
    );
    let mut cleared = false;
    if !model.view.search.query.is_empty() {
        let clear_rect = egui::Rect::from_center_size(
            egui::pos2(rect.right() - 12.0, rect.center().y),
            vec2(18.0, 18.0),
        );
        let clear = ui.interact(clear_rect, id.with("clear"), Sense::click());
        let colour = if clear.hovered() {
            palette.text
        } else {
            palette.text_weak
        };
        let c = clear_rect.center();
        for (from, to) in [
            (vec2(-4.0, -4.0), vec2(4.0, 4.0)),
            (vec2(-4.0, 4.0), vec2(4.0, -4.0)),
        ] {
            ui.painter()
                .line_segment([c + from, c + to], Stroke::new(1.5, colour));
        }
        clear.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, "Clear search"));
        if clear
            .on_hover_text("Clear the search (Esc leaves it)")
            .clicked()
        {
            model.view.search.query.clear();
            model.open_search();
            cleared = true;
        }
    }
    if response.changed() || response.gained_focus() {
        model.start_search();
    }
    // Clicking away from an empty box leaves the search, as if it had never opened.
    if response.lost_focus()
        && !cleared
        && model.view.search.query.trim().is_empty()
        && model.view.pick.is_none()
        && !ui.input(|i| i.key_pressed(egui::Key::Enter))
    {
        model.close_search();
    }
    if model.view.search.focus {
        model.view.search.focus = false;
        response.request_focus();
        // Ctrl+F again selects what is there, so typing replaces it.
        if let Some(mut state) = egui::TextEdit::load_state(ui.ctx(), id) {
            state
                .cursor
                .set_char_range(Some(egui::text::CCursorRange::select_all_str(
                    &model.view.search.query,
                )));
            state.store(ui.ctx(), id);
        }
    }
}

/// Moves the highlighted result (Up/Down in the box) without opening it.
pub fn move_cursor(model: &mut Model, step: isize) {
    let count = model.search_results().hits.len();
    if count == 0 {
        return;
    }
    let search = &mut model.view.search;
    search.cursor = search.cursor.saturating_add_signed(step).min(count - 1);
    model.view.scroll_to_selection = true;
}

/// Opens the highlighted result (Enter in the box), as a click on it would.
pub fn open_cursor(model: &mut Model, effects: &mut Vec<Effect>) {
    let refs = model.search_refs();
    if let Some(story) = refs.get(model.view.search.cursor.min(refs.len().saturating_sub(1))) {
        open(model, story.clone(), effects);
    }
}

/// Shows `story` in the detail pane and marks it read.
fn open(model: &mut Model, story: StoryRef, effects: &mut Vec<Effect>) {
    if view::is_read(model, &story) == Some(false) {
        effects.push(Effect::SetRead {
            channel: story.channel.clone(),
            key: story.key.clone(),
            read: true,
        });
    }
    model.view.pick = Some(story);
}

/// The results, or the empty and no-results states.
pub fn results_ui(ui: &mut Ui, model: &mut Model, palette: &Palette, effects: &mut Vec<Effect>) {
    let results = model.search_results();
    let count = results.hits.len();
    if results.query.is_empty() {
        let channels = model.channel_rows().len();
        let stories = results.index.len();
        message_ui(
            ui,
            palette,
            "Search everything",
            &format!(
                "Headlines and summaries of every story in every channel, the alerts, and your \
                 saved stories: {} in {channels} {}. Every word must match, in any order; capitals \
                 and accents don't matter. Put \"a phrase\" in quotes.",
                plural(stories, "story", "stories"),
                if channels == 1 { "channel" } else { "channels" }
            ),
            true,
        );
        return;
    }
    if count == 0 {
        message_ui(
            ui,
            palette,
            &format!("No results for “{}”", model.view.search.query.trim()),
            &format!(
                "Nothing among {} matches every word. Check the spelling, or try fewer words.",
                plural(results.index.len(), "story", "stories")
            ),
            false,
        );
        return;
    }
    model.view.search.cursor = model.view.search.cursor.min(count - 1);
    super::theme::list_header_frame().show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(plural(count, "result", "results"))
                    .size(size::HEADING)
                    .color(palette.text),
            );
            ui.label(
                RichText::new(format!("for “{}”", model.view.search.query.trim()))
                    .size(size::BODY)
                    .color(palette.text_weak),
            );
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(
                    RichText::new("Up/Down move · Enter opens · s saves · Esc closes")
                        .size(size::SMALL)
                        .color(palette.text_weak),
                );
            });
        });
        ui.label(
            RichText::new("Newest first, in every channel and your saved stories")
                .size(size::SMALL)
                .color(palette.text_weak),
        );
    });
    let cursor = model.view.search.cursor;
    let query = results.query.clone();
    view::story_list_ui(
        ui,
        model,
        count,
        Some(cursor),
        |ui, model, index, rect, selected| {
            let Some(doc) = results
                .hits
                .get(index)
                .and_then(|hit| results.index.docs().get(hit.doc))
            else {
                return;
            };
            let story = StoryRef::new(&doc.channel, &doc.key);
            let (channel_title, channel_hex) = model.channel_label(&doc.channel);
            let chip = Some((channel_title, channel_colour(&channel_hex)));
            let saved = model.is_saved(&doc.channel, &doc.key);
            let (spec_parts, read) = match model.story(&story) {
                Some(Story::Item(stored)) => (
                    parts(&stored.item.title, stored.item.body.as_deref(), &query),
                    stored.read,
                ),
                Some(Story::Saved(kept)) => (
                    parts(&kept.item.title, kept.item.body.as_deref(), &query),
                    true,
                ),
                Some(Story::Alert(stored)) => (
                    parts(&stored.alert.title, stored.alert.body.as_deref(), &query),
                    stored.read,
                ),
                None => return,
            };
            let (title, title_marks, summary) = spec_parts;
            let (meta, badge, can_save) = match model.story(&story) {
                Some(Story::Item(stored)) => (
                    format::item_meta(stored.item.source.as_deref(), doc.time, model.now),
                    None,
                    true,
                ),
                Some(Story::Saved(kept)) => (
                    format!(
                        "{} · kept in Saved",
                        format::item_meta(kept.item.source.as_deref(), doc.time, model.now)
                    ),
                    None,
                    true,
                ),
                Some(Story::Alert(stored)) => {
                    let alert = &stored.alert;
                    let (fill, on_fill) = palette.severity(alert.severity);
                    let word = if alert.status == AlertStatus::Cancelled {
                        "Cancelled".to_owned()
                    } else {
                        format!("{:?}", alert.severity)
                    };
                    let mut meta = format::relative_time(doc.time, model.now);
                    if let Some(area) = &alert.area {
                        meta = format!("{area} · {meta}");
                    }
                    (meta, Some((word, fill, on_fill)), false)
                }
                None => return,
            };
            let spec = RowSpec {
                id: ui
                    .scope_id()
                    .with(("result", doc.channel.as_str(), doc.key.as_str())),
                title: &title,
                title_marks: &title_marks,
                summary: summary.as_ref().map(|s| s.text.as_str()),
                summary_marks: summary.as_ref().map_or(&[], |s| s.highlights.as_slice()),
                meta,
                channel: chip,
                badge,
                read,
                saved: can_save.then_some(saved),
                image: None,
            };
            let response =
                rows::story_row_ui(ui, rect, &spec, selected, &model.thumbnails, palette);
            if response.star.as_ref().is_some_and(egui::Response::clicked) {
                effects.push(Effect::SetSaved {
                    channel: story.channel.clone(),
                    key: story.key.clone(),
                    saved: !saved,
                });
            } else if response.row.clicked() {
                model.view.search.cursor = index;
                open(model, story.clone(), effects);
            }
            if response.row.double_clicked()
                && let Some(link) = match model.story(&story) {
                    Some(Story::Item(stored)) => stored.item.link.clone(),
                    Some(Story::Saved(kept)) => kept.item.link.clone(),
                    Some(Story::Alert(stored)) => stored.alert.link.clone(),
                    None => None,
                }
                .filter(|l| super::model::openable(l))
            {
                effects.push(Effect::OpenLink(link));
            }
        },
    );
}

/// A result's title with its marks, and the snippet of its summary.
fn parts(
    title: &str,
    body: Option<&str>,
    query: &search::Query,
) -> (String, Vec<std::ops::Range<usize>>, Option<search::Snippet>) {
    (
        title.to_owned(),
        search::highlights(title, query),
        body.map(|body| search::snippet(body, query, 220)),
    )
}

/// "1 story", "2,345 stories".
fn plural(count: usize, one: &str, many: &str) -> String {
    let digits = count.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped} {}", if count == 1 { one } else { many })
}

/// A centred message with the search glass, and the keys when `keys`.
fn message_ui(ui: &mut Ui, palette: &Palette, title: &str, body: &str, keys: bool) {
    ui.add_space(ui.available_height() * 0.2);
    ui.vertical_centered(|ui| {
        ui.set_max_width(440.0);
        let (rect, _) = ui.allocate_exact_size(vec2(56.0, 56.0), Sense::hover());
        ui.painter()
            .circle_filled(rect.center(), 28.0, palette.hover);
        icons::paint_magnifier(
            ui.painter(),
            rect.center() + vec2(1.0, 1.0),
            30.0,
            palette.text_weak,
        );
        ui.add_space(GAP * 1.5);
        ui.label(RichText::new(title).size(size::HEADING).color(palette.text));
        ui.add_space(GAP);
        ui.label(
            RichText::new(body)
                .size(size::BODY)
                .color(palette.text_weak),
        );
        if keys {
            ui.add_space(GAP * 2.0);
            egui::Grid::new("search-keys")
                .num_columns(2)
                .spacing(vec2(GAP * 1.5, 6.0))
                .show(ui, |ui| {
                    for (key, what) in [
                        ("Ctrl+F  or  /", "search from anywhere"),
                        ("Up  Down", "move through the results"),
                        ("Enter", "open the story"),
                        ("s", "save it for later"),
                        ("Esc", "leave the search"),
                    ] {
                        key_cap_ui(ui, key, palette);
                        ui.label(
                            RichText::new(what)
                                .size(size::SMALL)
                                .color(palette.text_weak),
                        );
                        ui.end_row();
                    }
                });
        }
    });
}

/// A key name in a small bordered cap.
fn key_cap_ui(ui: &mut Ui, key: &str, palette: &Palette) {
    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
        egui::Frame::new()
            .stroke(Stroke::new(1.0, palette.border))
            .fill(palette.raised)
            .corner_radius(4.0)
            .inner_margin(Margin::symmetric(6, 1))
            .show(ui, |ui| {
                ui.label(RichText::new(key).size(size::SMALL).color(palette.text));
            });
    });
}

#[cfg(test)]
mod tests {
    use super::plural;

    #[test]
    fn counts_read_well() {
        assert_eq!(plural(1, "story", "stories"), "1 story");
        assert_eq!(plural(0, "story", "stories"), "0 stories");
        assert_eq!(plural(12_345, "result", "results"), "12,345 results");
        assert_eq!(plural(100, "result", "results"), "100 results");
    }
}
