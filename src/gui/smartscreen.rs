//! The SmartScreen: a full-screen view cycling through big headline cards, the weather of each
//! place with its next 48 hours and forecast, and active alerts, with a clock. Any key, click or mouse movement ends it (after a
//! short grace period, so the act of starting it does not end it).

use std::time::Duration;

use chrono::Local;
use egui::{Margin, RichText, Ui, vec2};

use super::model::Model;
use super::theme::{GAP, Palette, channel_colour, size};
use super::weather_view;
use crate::protocol::{ChannelKind, Severity};

/// Time each card stays.
const CARD: Duration = Duration::from_secs(9);
/// Time each place's weather stays, when there are several.
const PLACE: Duration = Duration::from_secs(6);
/// Input ignored right after start.
const GRACE: Duration = Duration::from_millis(1200);
/// Headline cards per round.
const HEADLINES: usize = 12;

/// One card.
#[derive(Clone)]
enum Card {
    Headline {
        image: Option<egui::TextureHandle>,
        channel: String,
        colour: egui::Color32,
        title: String,
        body: Option<String>,
        meta: String,
    },
    /// The weather of the place at this index of the settings' places.
    Weather(usize),
    Alert {
        severity: Severity,
        title: String,
        body: Option<String>,
        area: Option<String>,
    },
}

/// The SmartScreen's state while shown.
#[derive(Debug, Clone)]
pub struct SmartScreen {
    started: f64,
    pointer_start: Option<egui::Pos2>,
}

impl SmartScreen {
    /// Starts at egui time `now`.
    #[must_use]
    pub fn new(now: f64) -> Self {
        Self {
            started: now,
            pointer_start: None,
        }
    }

    fn cards(model: &Model) -> Vec<Card> {
        let mut cards = Vec::new();
        for stored in model
            .active_alerts()
            .into_iter()
            .filter(|a| a.alert.severity >= Severity::Warning)
        {
            cards.push(Card::Alert {
                severity: stored.alert.severity,
                title: stored.alert.title.clone(),
                body: stored.alert.body.clone(),
                area: stored.alert.area.clone(),
            });
        }
        // Every place in turn after the alerts; later, one place at a time, taking turns.
        let places = model.settings.locations.len();
        cards.extend((0..places).map(Card::Weather));
        let mut next_place = 0;
        let rows = model.channel_rows();
        let mut headlines = Vec::new();
        for row in &rows {
            if row.info.kind != ChannelKind::News {
                continue;
            }
            if let Some(state) = model.store.channel(&row.info.id) {
                for stored in state.items.iter().take(3) {
                    headlines.push((stored.item.published, row, stored));
                }
            }
        }
        headlines.sort_by_key(|h| std::cmp::Reverse(h.0));
        for (index, (_, row, stored)) in headlines.into_iter().take(HEADLINES).enumerate() {
            let meta = super::format::item_meta(
                stored.item.source.as_deref(),
                stored.item.published,
                model.now,
            );
            let image =
                stored
                    .item
                    .image
                    .as_deref()
                    .and_then(|url| match model.thumbnails.get(url) {
                        Some(super::thumbnails::Thumb::Ready(texture)) => Some(texture.clone()),
                        _ => None,
                    });
            cards.push(Card::Headline {
                image,
                channel: row.info.title.clone(),
                colour: channel_colour(&row.info.colour),
                title: stored.item.title.clone(),
                body: stored.item.body.clone(),
                meta,
            });
            // The weather comes back every few headlines.
            if index % 4 == 3 && places > 0 {
                cards.push(Card::Weather(next_place % places));
                next_place += 1;
            }
        }
        cards
    }

    /// Draws the SmartScreen over all of `ui`; returns true when the user asked to end it.
    pub fn ui(&mut self, ui: &mut Ui, model: &Model, palette: &Palette) -> bool {
        let now = ui.input(|i| i.time);
        let elapsed = now - self.started;
        let ended = self.input_ends_it(ui, elapsed);
        let rect = ui.max_rect();
        let scale = (rect.height() / 800.0).clamp(0.8, 2.5);
        ui.painter().rect_filled(rect, 0.0, palette.background);
        let cards = Self::cards(model);
        let several_places = model.settings.locations.len() > 1;
        let (index, until_next) = current_card(&cards, elapsed, several_places);
        egui::Frame::new()
            .inner_margin(Margin::same((48.0 * scale) as i8))
            .show(ui, |ui| {
                ui.set_min_size(rect.size() - vec2(96.0, 96.0) * scale);
                // The clock, top right; the wordmark, top left.
                let clock = model.now.with_timezone(&Local);
                let painter = ui.painter();
                let margin = 48.0 * scale;
                painter.text(
                    rect.right_top() + vec2(-margin, margin),
                    egui::Align2::RIGHT_TOP,
                    clock.format("%H:%M").to_string(),
                    egui::FontId::proportional(64.0 * scale),
                    palette.text,
                );
                painter.text(
                    rect.right_top() + vec2(-margin, margin + 74.0 * scale),
                    egui::Align2::RIGHT_TOP,
                    clock.format("%A %-d %B").to_string(),
                    egui::FontId::proportional(size::TITLE * 1.2 * scale),
                    palette.text_weak,
                );
                ui.label(
                    RichText::new("Tidings")
                        .size(size::HEADING * scale)
                        .strong()
                        .color(palette.text_weak),
                );
                // Cards sit in the upper middle of the screen, below the clock.
                ui.add_space((rect.height() * 0.16).max(96.0 * scale));
                match cards.get(index) {
                    None => {
                        ui.label(
                            RichText::new("Waiting for the first headlines…")
                                .size(size::HERO * scale)
                                .color(palette.text_weak),
                        );
                    }
                    Some(Card::Weather(place)) => {
                        if let Some(location) = model.settings.locations.get(*place) {
                            if several_places {
                                place_dots_ui(
                                    ui,
                                    *place,
                                    model.settings.locations.len(),
                                    palette,
                                    scale,
                                );
                            }
                            weather_view::place_ui(
                                ui,
                                model,
                                location,
                                palette,
                                scale * 1.15,
                                true,
                            );
                        }
                    }
                    Some(Card::Headline {
                        image,
                        channel,
                        colour,
                        title,
                        body,
                        meta,
                    }) => {
                        let text_width = if image.is_some() {
                            ui.available_width() * 0.58
                        } else {
                            ui.available_width()
                        };
                        ui.horizontal_top(|ui| {
                            ui.vertical(|ui| {
                                ui.set_max_width(text_width);
                                egui::Frame::new()
                                    .fill(*colour)
                                    .corner_radius(4.0)
                                    .inner_margin(Margin::symmetric(10, 4))
                                    .show(ui, |ui| {
                                        ui.label(
                                            RichText::new(channel.to_uppercase())
                                                .size(size::BODY * scale)
                                                .strong()
                                                .color(super::view::readable_on(*colour)),
                                        );
                                    });
                                ui.add_space(GAP * 2.0 * scale);
                                ui.label(
                                    RichText::new(title)
                                        .size(size::HERO * scale)
                                        .strong()
                                        .color(palette.text),
                                );
                                ui.add_space(GAP * 2.0 * scale);
                                if let Some(body) = body {
                                    ui.label(
                                        RichText::new(body)
                                            .size(size::HEADING * scale)
                                            .color(palette.text_weak),
                                    );
                                }
                                ui.add_space(GAP * 2.0 * scale);
                                ui.label(
                                    RichText::new(meta)
                                        .size(size::TITLE * scale)
                                        .color(palette.text_weak),
                                );
                            });
                            if let Some(texture) = image {
                                ui.add_space(GAP * 4.0 * scale);
                                let [w, h] = texture.size().map(|v| v as f32);
                                let width = ui.available_width();
                                let height = width * h / w.max(1.0);
                                ui.add(
                                    egui::Image::new((texture.id(), vec2(width, height)))
                                        .corner_radius(8.0 * scale),
                                );
                            }
                        });
                    }
                    Some(Card::Alert {
                        severity,
                        title,
                        body,
                        area,
                    }) => {
                        let (fill, on_fill) = palette.severity(*severity);
                        egui::Frame::new()
                            .fill(fill)
                            .corner_radius(8.0)
                            .inner_margin(Margin::same((24.0 * scale) as i8))
                            .show(ui, |ui| {
                                ui.set_width(ui.available_width());
                                ui.label(
                                    RichText::new(title)
                                        .size(size::HERO * scale)
                                        .strong()
                                        .color(on_fill),
                                );
                                if let Some(area) = area {
                                    ui.label(
                                        RichText::new(area)
                                            .size(size::HEADING * scale)
                                            .color(on_fill),
                                    );
                                }
                                if let Some(body) = body {
                                    ui.add_space(GAP * scale);
                                    ui.label(
                                        RichText::new(body)
                                            .size(size::TITLE * scale)
                                            .color(on_fill),
                                    );
                                }
                            });
                    }
                }
            });
        // The next card, and the clock's next minute.
        ui.ctx()
            .request_repaint_after(Duration::from_secs_f64(until_next.min(1.0)));
        ended
    }

    fn input_ends_it(&mut self, ui: &Ui, elapsed: f64) -> bool {
        let (key, click, pointer) = ui.input(|i| {
            (
                i.events.iter().any(|e| {
                    matches!(
                        e,
                        egui::Event::Key { pressed: true, .. } | egui::Event::Text(_)
                    )
                }),
                i.pointer.any_pressed(),
                i.pointer.latest_pos(),
            )
        });
        if elapsed < GRACE.as_secs_f64() {
            self.pointer_start = pointer.or(self.pointer_start);
            return false;
        }
        let moved = match (self.pointer_start, pointer) {
            (Some(start), Some(now)) => start.distance(now) > 12.0,
            (None, Some(now)) => {
                self.pointer_start = Some(now);
                false
            }
            _ => false,
        };
        key || click || moved
    }
}

/// How long `card` stays: a place's weather a little shorter when several take turns.
fn duration(card: &Card, several_places: bool) -> f64 {
    match card {
        Card::Weather(_) if several_places => PLACE.as_secs_f64(),
        _ => CARD.as_secs_f64(),
    }
}

/// The card shown `elapsed` seconds after the start, and the seconds until the next.
fn current_card(cards: &[Card], elapsed: f64, several_places: bool) -> (usize, f64) {
    let round: f64 = cards.iter().map(|c| duration(c, several_places)).sum();
    if cards.is_empty() || round <= 0.0 {
        return (0, CARD.as_secs_f64());
    }
    let mut at = elapsed.rem_euclid(round);
    for (index, card) in cards.iter().enumerate() {
        let length = duration(card, several_places);
        if at < length {
            return (index, length - at);
        }
        at -= length;
    }
    (0, CARD.as_secs_f64())
}

/// A row of dots, the current place's filled: which of the places this is.
fn place_dots_ui(ui: &mut Ui, current: usize, count: usize, palette: &Palette, scale: f32) {
    let radius = 4.0 * scale;
    let spacing = 14.0 * scale;
    let (rect, response) = ui.allocate_exact_size(
        vec2(spacing * count as f32, radius * 2.0 + 2.0),
        egui::Sense::hover(),
    );
    for index in 0..count {
        let centre = egui::pos2(
            rect.left() + radius + spacing * index as f32,
            rect.center().y,
        );
        if index == current {
            ui.painter().circle_filled(centre, radius, palette.accent);
        } else {
            ui.painter().circle_stroke(
                centre,
                radius - 0.5,
                egui::Stroke::new(1.5, palette.text_weak),
            );
        }
    }
    response.widget_info(|| {
        egui::WidgetInfo::labeled(
            egui::Role::Label,
            true,
            format!("Place {} of {count}", current + 1),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_places_take_turns_a_few_seconds_each() {
        let cards = vec![
            Card::Weather(0),
            Card::Weather(1),
            Card::Weather(2),
            Card::Alert {
                severity: Severity::Warning,
                title: "Gale".to_owned(),
                body: None,
                area: None,
            },
        ];
        assert_eq!(current_card(&cards, 0.0, true).0, 0);
        assert_eq!(current_card(&cards, 6.5, true), (1, 5.5));
        assert_eq!(current_card(&cards, 12.0, true).0, 2);
        assert_eq!(current_card(&cards, 18.0, true), (3, 9.0));
        // Round and round: 3 × 6 s + 9 s.
        assert_eq!(current_card(&cards, 27.0 + 7.0, true).0, 1);
        // One place keeps the usual time.
        assert_eq!(current_card(&cards[..1], 8.0, false), (0, 1.0));
        assert_eq!(current_card(&[], 5.0, true).0, 0);
    }
}
