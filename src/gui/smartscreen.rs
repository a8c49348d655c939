//! The SmartScreen: a full-screen view cycling through big headline cards, the weather with its
//! forecast and active alerts, with a clock. Any key, click or mouse movement ends it (after a
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
    Weather,
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
        if model.settings.location.is_some() {
            cards.push(Card::Weather);
        }
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
            if index % 4 == 3 && model.settings.location.is_some() {
                cards.push(Card::Weather);
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
        let index = if cards.is_empty() {
            0
        } else {
            (elapsed / CARD.as_secs_f64()) as usize % cards.len()
        };
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
                    Some(Card::Weather) => weather_view::full_ui(ui, model, palette, scale * 1.3),
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
        let until_next = CARD.as_secs_f64() - elapsed % CARD.as_secs_f64();
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
