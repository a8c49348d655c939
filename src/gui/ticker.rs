//! The ticker: a weather glance, then headlines scrolling with their channel colour, or the most
//! urgent alert taking over the strip in its severity colour.
//!
//! [`TickerContent`] is built from the model when content changes; [`Ticker`] holds the scroll
//! position and paints. Used for the strip inside the main window and for the slim docked
//! window alike. Scrolling advances by elapsed time (so speed does not depend on the frame
//! rate), repaints are requested at most `max_fps` times a second, hovering pauses (and then
//! nothing repaints until the pointer moves), and nothing at all is requested when the strip is
//! not drawn.

use std::sync::Arc;
use std::time::Duration;

use egui::{Color32, FontId, Pos2, Rect, Sense, Ui, pos2, vec2};

use super::format;
use super::icons::paint_weather_icon;
use super::model::Model;
use super::theme::{Palette, channel_colour, size};
use crate::protocol::{AlertStatus, ChannelId, ChannelKind, ItemKey, Severity};

/// Most headlines in one loop of the ticker.
const MAX_HEADLINES: usize = 40;
/// Space between headlines, in points.
const SPACING: f32 = 44.0;

/// One headline on the ticker.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    /// Its channel.
    pub channel: ChannelId,
    /// Its key.
    pub key: ItemKey,
    /// The channel's short title.
    pub channel_title: String,
    /// The channel colour.
    pub colour: Color32,
    /// The headline.
    pub title: String,
    /// Its link, if any.
    pub link: Option<String>,
}

/// The alert that takes the ticker over.
#[derive(Debug, Clone, PartialEq)]
pub struct TickerAlert {
    /// Its channel.
    pub channel: ChannelId,
    /// Its key.
    pub key: ItemKey,
    /// How much it matters.
    pub severity: Severity,
    /// What is shown.
    pub text: String,
}

/// What the ticker shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickerContent {
    /// Weather glance: icon name, text.
    pub weather: Option<(String, String)>,
    /// Headlines, newest first across channels.
    pub headlines: Vec<Headline>,
    /// An alert (warning or worse) that takes over.
    pub alert: Option<TickerAlert>,
}

impl TickerContent {
    /// The content for `model`: shown news channels only, newest first.
    #[must_use]
    pub fn from_model(model: &Model) -> Self {
        let units = model.settings.units;
        let weather = model.weather().map(|report| {
            let place = model
                .settings
                .first_place()
                .map(|l| l.short_name().to_owned())
                .unwrap_or_default();
            (
                report.current.condition.icon.clone(),
                format!(
                    "{place} {} {}",
                    format::temperature(report.current.temperature, units),
                    report.current.condition.label
                ),
            )
        });
        let mut headlines = Vec::new();
        for row in model.channel_rows() {
            if row.info.kind != ChannelKind::News {
                continue;
            }
            let Some(state) = model.store.channel(&row.info.id) else {
                continue;
            };
            for stored in state.items.iter().take(MAX_HEADLINES) {
                headlines.push((
                    stored.item.published,
                    Headline {
                        channel: row.info.id.clone(),
                        key: stored.item.key.clone(),
                        channel_title: row.info.title.clone(),
                        colour: channel_colour(&row.info.colour),
                        title: stored.item.title.clone(),
                        link: stored.item.link.clone(),
                    },
                ));
            }
        }
        headlines.sort_by_key(|h| std::cmp::Reverse(h.0));
        let headlines = headlines
            .into_iter()
            .map(|(_, h)| h)
            .take(MAX_HEADLINES)
            .collect();
        let alert = model
            .active_alerts()
            .into_iter()
            .find(|a| {
                a.alert.severity >= Severity::Warning && a.alert.status != AlertStatus::Cancelled
            })
            .map(|stored| {
                let alert = &stored.alert;
                let mut text = alert.title.clone();
                if let Some(area) = &alert.area {
                    text.push_str(" · ");
                    text.push_str(area);
                }
                if let Some(instruction) = &alert.instruction {
                    text.push_str(" · ");
                    text.push_str(instruction.lines().next().unwrap_or_default());
                }
                TickerAlert {
                    channel: alert.channel.clone(),
                    key: alert.key.clone(),
                    severity: alert.severity,
                    text,
                }
            });
        Self {
            weather,
            headlines,
            alert,
        }
    }
}

/// One piece of the ticker: an optional channel tag (colour, word), the text, and what a click
/// on it shows.
type Segment = (
    Option<(Color32, String)>,
    String,
    Option<(ChannelId, ItemKey)>,
);

/// What a click on the ticker asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickerClick {
    /// Show this item or alert.
    Show {
        /// Its channel.
        channel: ChannelId,
        /// Its key.
        key: ItemKey,
    },
}

/// A segment, measured once per content.
#[derive(Debug, Clone)]
struct Measured {
    tag: Option<(Color32, String)>,
    text: String,
    target: Option<(ChannelId, ItemKey)>,
    width: f32,
}

/// Scroll state, and the segments measured for the current content.
#[derive(Debug, Clone, Default)]
pub struct Ticker {
    offset: f32,
    last_time: Option<f64>,
    /// Where each segment was drawn last frame (index into `measured`), for clicks.
    hit_boxes: Vec<(Rect, usize)>,
    /// The content the segments were measured for, at which scale.
    measured_for: Option<(Arc<TickerContent>, f32)>,
    measured: Vec<Measured>,
}

impl Ticker {
    /// Draws the ticker filling `ui`'s available rect; returns a click, if any.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        content: &Arc<TickerContent>,
        palette: &Palette,
        speed: f32,
        max_fps: u32,
    ) -> Option<TickerClick> {
        let rect = ui.available_rect_before_wrap();
        let response = ui.allocate_rect(rect, Sense::click());
        let now = ui.input(|i| i.time);
        let dt = self.last_time.map_or(0.0, |t| (now - t).clamp(0.0, 0.25)) as f32;
        self.last_time = Some(now);
        let paused = response.hovered();
        if !paused {
            self.offset += speed * dt;
        }
        let painter = ui.painter_at(rect);
        let (background, foreground) = match &content.alert {
            Some(alert) => palette.severity(alert.severity),
            None => (palette.ticker, palette.on_ticker),
        };
        painter.rect_filled(rect, 0.0, background);
        let font = FontId::proportional(size::BODY + 1.0);
        let mid = rect.center().y;
        let mut x = rect.left() + 10.0;

        // The weather glance stays put at the start; headlines scroll behind it.
        if content.alert.is_none()
            && let Some((icon, text)) = &content.weather
        {
            let icon_rect = Rect::from_center_size(pos2(x + 12.0, mid), vec2(24.0, 24.0));
            let galley = painter.layout_no_wrap(text.clone(), font.clone(), foreground);
            let glance_width = 24.0 + 6.0 + galley.size().x + 18.0;
            let glance = Rect::from_min_max(
                rect.min,
                pos2(rect.left() + 10.0 + glance_width, rect.max.y),
            );
            painter.rect_filled(glance, 0.0, background);
            paint_weather_icon(&painter, icon_rect, icon, true);
            painter.galley(
                pos2(x + 30.0, mid - galley.size().y / 2.0),
                galley,
                foreground,
            );
            painter.line_segment(
                [
                    pos2(glance.right() - 6.0, rect.top() + 7.0),
                    pos2(glance.right() - 6.0, rect.bottom() - 7.0),
                ],
                egui::Stroke::new(1.0, foreground.gamma_multiply(0.4)),
            );
            x = glance.right() + 4.0;
        }
        let lane = Rect::from_min_max(pos2(x, rect.top()), rect.max);
        let lane_painter = painter.with_clip_rect(lane);
        self.hit_boxes.clear();

        let tag_font = FontId::proportional(size::SMALL - 1.0);
        self.measure(&painter, content, &font, &tag_font);
        let cycle: f32 = self
            .measured
            .iter()
            .map(|s| s.width)
            .sum::<f32>()
            .max(lane.width());
        self.offset = self.offset.rem_euclid(cycle);
        let mut start = lane.left() - self.offset;
        // Draw enough copies of the loop to cover the lane; lay out only what is in view.
        while start < lane.right() {
            let mut cursor = start;
            for (index, segment) in self.measured.iter().enumerate() {
                let segment_start = cursor;
                if cursor + segment.width > lane.left() && cursor < lane.right() {
                    if let Some((colour, word)) = &segment.tag {
                        let tag_galley = painter.layout_no_wrap(
                            word.clone(),
                            tag_font.clone(),
                            readable(*colour),
                        );
                        let chip = Rect::from_min_size(
                            pos2(cursor, mid - tag_galley.size().y / 2.0 - 2.0),
                            vec2(tag_galley.size().x + 10.0, tag_galley.size().y + 4.0),
                        );
                        lane_painter.rect_filled(chip, 3.0, *colour);
                        lane_painter.galley(
                            chip.min + vec2(5.0, 2.0),
                            tag_galley,
                            readable(*colour),
                        );
                        cursor += chip.width() + 6.0;
                    }
                    let galley =
                        painter.layout_no_wrap(segment.text.clone(), font.clone(), foreground);
                    lane_painter.galley(
                        pos2(cursor, mid - galley.size().y / 2.0),
                        galley,
                        foreground,
                    );
                    if segment.target.is_some() {
                        let hit = Rect::from_min_max(
                            pos2(segment_start, rect.top()),
                            pos2(segment_start + segment.width - SPACING / 2.0, rect.bottom()),
                        );
                        self.hit_boxes.push((hit.intersect(lane), index));
                    }
                }
                cursor = segment_start + segment.width;
            }
            start += cycle;
        }

        let label = match &content.alert {
            Some(alert) => format!("Ticker: {}", alert.text),
            None => "Ticker".to_owned(),
        };
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Marquee, true, &label));
        let click = response
            .clicked()
            .then(|| response.interact_pointer_pos())
            .flatten()
            .and_then(|pos| self.hit(pos));
        if paused {
            response
                .clone()
                .on_hover_cursor(egui::CursorIcon::PointingHand);
        } else {
            ui.ctx()
                .request_repaint_after(Duration::from_secs_f32(1.0 / max_fps.max(1) as f32));
        }
        click
    }

    fn hit(&self, pos: Pos2) -> Option<TickerClick> {
        let (_, index) = self.hit_boxes.iter().find(|(rect, _)| rect.contains(pos))?;
        let (channel, key) = self.measured.get(*index)?.target.clone()?;
        Some(TickerClick::Show { channel, key })
    }

    /// Measures the segments of `content` (the alert alone, or the headlines) once per content
    /// and scale; later frames reuse the widths.
    fn measure(
        &mut self,
        painter: &egui::Painter,
        content: &Arc<TickerContent>,
        font: &FontId,
        tag_font: &FontId,
    ) {
        let scale = painter.ctx().pixels_per_point();
        if let Some((measured, at)) = &self.measured_for
            && Arc::ptr_eq(measured, content)
            && *at == scale
        {
            return;
        }
        let segments: Vec<Segment> = match &content.alert {
            Some(alert) => vec![(
                None,
                format!("{}: {}", severity_word(alert.severity), alert.text),
                Some((alert.channel.clone(), alert.key.clone())),
            )],
            None if content.headlines.is_empty() => vec![(
                None,
                "Headlines will scroll here as soon as they arrive.".to_owned(),
                None,
            )],
            None => content
                .headlines
                .iter()
                .map(|h| {
                    (
                        Some((h.colour, h.channel_title.to_uppercase())),
                        h.title.clone(),
                        Some((h.channel.clone(), h.key.clone())),
                    )
                })
                .collect(),
        };
        self.measured = segments
            .into_iter()
            .map(|(tag, text, target)| {
                let tag_width = tag.as_ref().map_or(0.0, |(_, word)| {
                    painter
                        .layout_no_wrap(word.clone(), tag_font.clone(), Color32::WHITE)
                        .size()
                        .x
                        + 16.0
                });
                let text_width = painter
                    .layout_no_wrap(text.clone(), font.clone(), Color32::WHITE)
                    .size()
                    .x;
                Measured {
                    tag,
                    text,
                    target,
                    width: tag_width + text_width + SPACING,
                }
            })
            .collect();
        self.measured_for = Some((Arc::clone(content), scale));
    }
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "CRITICAL",
        Severity::Warning => "WARNING",
        Severity::Notice => "NOTICE",
        Severity::Info => "INFO",
    }
}

fn readable(fill: Color32) -> Color32 {
    super::view::readable_on(fill)
}
