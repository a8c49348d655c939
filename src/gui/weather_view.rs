//! The weather: a compact card for the channel column (the first place), the Weather channel
//! (every place in the user's order: current conditions, the next 48 hours as a chart and the
//! 5-day forecast), and one place at a time for the SmartScreen.

use chrono::Local;
use egui::{Align, Color32, Layout, RichText, Sense, Stroke, Ui, vec2};

use super::format;
use super::hourly_chart;
use super::icons::paint_weather_icon;
use super::model::Model;
use super::settings::Location;
use super::theme::{GAP, Palette, size};
use crate::protocol::WeatherReport;

/// The width from which a place's days sit beside its current conditions.
const WIDE: f32 = 960.0;

/// Draws a weather icon of `side` points as its own widget, labelled for screen readers.
pub fn icon_ui(ui: &mut Ui, icon: &str, label: &str, side: f32, palette: &Palette) {
    let (rect, response) = ui.allocate_exact_size(vec2(side, side), Sense::hover());
    paint_weather_icon(ui.painter(), rect, icon, palette.dark);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, label));
}

/// The compact card: icon, temperature, condition and the first place.
pub fn compact_ui(ui: &mut Ui, model: &Model, palette: &Palette) {
    let units = model.settings.units;
    let Some(location) = model.settings.first_place() else {
        ui.label(
            RichText::new("Add a place in Settings to see the weather here.")
                .color(palette.text_weak)
                .size(size::SMALL),
        );
        return;
    };
    match model.weather_at(location) {
        Some(report) => {
            ui.horizontal(|ui| {
                icon_ui(
                    ui,
                    &report.current.condition.icon,
                    &report.current.condition.label,
                    40.0,
                    palette,
                );
                ui.vertical(|ui| {
                    ui.label(
                        RichText::new(format::temperature(report.current.temperature, units))
                            .size(size::HEADING)
                            .strong()
                            .color(palette.text),
                    );
                    ui.label(
                        RichText::new(&report.current.condition.label)
                            .size(size::SMALL)
                            .color(palette.text_weak),
                    );
                });
            });
            let others = model.settings.locations.len().saturating_sub(1);
            let place = if others > 0 {
                format!("{} · +{others} more", location.short_name())
            } else {
                location.name.clone()
            };
            ui.add(
                egui::Label::new(
                    RichText::new(place)
                        .size(size::SMALL)
                        .color(palette.text_weak),
                )
                .truncate(),
            );
        }
        None => {
            ui.label(
                RichText::new(format!("Waiting for the weather in {}…", location.name))
                    .size(size::SMALL)
                    .color(palette.text_weak),
            );
        }
    }
}

/// The Weather channel: every place in order, each a section of its own.
pub fn full_ui(ui: &mut Ui, model: &Model, palette: &Palette) {
    let places = &model.settings.locations;
    if places.is_empty() {
        empty_ui(
            ui,
            palette,
            "No places yet",
            "Add a city in Settings (or its latitude and longitude) to get current conditions, the next 48 hours and a five-day forecast. Add several to compare them here.",
        );
        return;
    }
    for (index, place) in places.iter().enumerate() {
        if index > 0 {
            ui.add_space(GAP * 3.0);
            ui.separator();
            ui.add_space(GAP);
        }
        // Wide enough: the days beside the conditions, so a place fits on one screen.
        let wide = ui.available_width() >= WIDE;
        place_ui(ui, model, place, palette, 1.0, wide);
    }
    ui.add_space(GAP * 2.0);
}

/// One place: the heading, current conditions and details, the hourly chart, the days.
/// `wide` (the SmartScreen) puts the days beside the current conditions, over the chart.
pub fn place_ui(
    ui: &mut Ui,
    model: &Model,
    place: &Location,
    palette: &Palette,
    scale: f32,
    wide: bool,
) {
    let units = model.settings.units;
    let Some(report) = model.weather_at(place) else {
        ui.add_space(GAP * scale);
        ui.label(
            RichText::new(&place.name)
                .size(size::HEADING * scale)
                .color(palette.text),
        );
        ui.label(
            RichText::new(
                "Waiting for the server's first report for this place. It usually arrives within a few seconds of connecting.",
            )
            .size(size::BODY * scale)
            .color(palette.text_weak),
        );
        return;
    };
    ui.add_space(GAP * scale);
    let current_ui = |ui: &mut Ui| {
        ui.horizontal(|ui| {
            icon_ui(
                ui,
                &report.current.condition.icon,
                &report.current.condition.label,
                (if wide { 104.0 } else { 96.0 }) * scale,
                palette,
            );
            ui.add_space(GAP * 2.0 * scale);
            ui.vertical(|ui| {
                ui.label(
                    RichText::new(&place.name)
                        .size(size::HEADING * scale)
                        .color(palette.text),
                );
                ui.horizontal(|ui| {
                    ui.label(
                        RichText::new(format::temperature(report.current.temperature, units))
                            .size(52.0 * scale)
                            .strong()
                            .color(palette.text),
                    );
                    if let Some(today) = report.daily.first() {
                        ui.add_space(GAP * scale);
                        ui.vertical(|ui| {
                            ui.add_space(14.0 * scale);
                            ui.label(
                                RichText::new(format!(
                                    "High {}",
                                    format::temperature(today.high, units)
                                ))
                                .size(size::BODY * scale)
                                .color(palette.text_weak),
                            );
                            ui.label(
                                RichText::new(format!(
                                    "Low {}",
                                    format::temperature(today.low, units)
                                ))
                                .size(size::BODY * scale)
                                .color(palette.text_weak),
                            );
                        });
                    }
                });
                ui.label(
                    RichText::new(&report.current.condition.label)
                        .size(size::TITLE * scale)
                        .color(palette.text),
                );
            });
        });
        ui.add_space(GAP * scale);
        details_ui(ui, report, model, palette, scale);
    };
    if wide {
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(ui.available_width() * 0.4);
                current_ui(ui);
            });
            ui.add_space(GAP * 2.0 * scale);
            ui.vertical(|ui| {
                ui.set_max_width(ui.available_width());
                ui.add_space(GAP * 2.0 * scale);
                forecast_ui(ui, report, model, palette, scale * 0.9);
            });
        });
        ui.add_space(GAP * 2.0 * scale);
        hourly_ui(ui, report, model, place, palette, scale);
    } else {
        current_ui(ui);
        ui.add_space(GAP * 2.0 * scale);
        hourly_ui(ui, report, model, place, palette, scale);
        ui.add_space(GAP * 2.0 * scale);
        forecast_ui(ui, report, model, palette, scale);
    }
}

fn details_ui(ui: &mut Ui, report: &WeatherReport, model: &Model, palette: &Palette, scale: f32) {
    let units = model.settings.units;
    let current = &report.current;
    // A place in another time zone is told in its own clock, like its hours and days.
    let elsewhere = report
        .utc_offset_seconds
        .is_some_and(|offset| offset != model.now.with_timezone(&Local).offset().local_minus_utc());
    let observed = if elsewhere {
        hourly_chart::local_time(report, report.observed).format("%H:%M")
    } else {
        report.observed.with_timezone(&Local).format("%H:%M")
    };
    let mut facts = vec![
        (
            "Feels like",
            format::temperature(current.apparent_temperature, units),
        ),
        (
            "Wind",
            format::wind(current.wind_speed, current.wind_direction_deg, units),
        ),
        ("Humidity", format!("{:.0}%", current.humidity_percent)),
        ("Observed", observed.to_string()),
    ];
    if elsewhere {
        let local = hourly_chart::local_time(report, model.now);
        facts.push(("Local time", local.format("%H:%M").to_string()));
    }
    ui.horizontal_wrapped(|ui| {
        for (name, value) in facts {
            ui.vertical(|ui| {
                ui.label(
                    RichText::new(name)
                        .size(size::SMALL * scale)
                        .color(palette.text_weak),
                );
                ui.label(
                    RichText::new(value)
                        .size(size::BODY * scale)
                        .color(palette.text),
                );
            });
            ui.add_space(GAP * 3.0 * scale);
        }
    });
}

/// The hourly chart in a card, with a title and a key.
fn hourly_ui(
    ui: &mut Ui,
    report: &WeatherReport,
    model: &Model,
    place: &Location,
    palette: &Palette,
    scale: f32,
) {
    if report.hourly.is_empty() {
        // An older server sends no hours; the days still say plenty.
        return;
    }
    egui::Frame::new()
        .fill(palette.raised)
        .stroke(Stroke::new(1.0, palette.border))
        .corner_radius(8.0 * scale)
        .inner_margin(egui::Margin::symmetric(
            (14.0 * scale) as i8,
            (10.0 * scale) as i8,
        ))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new("Next 48 hours")
                        .size(size::BODY * scale)
                        .strong()
                        .color(palette.text),
                );
                ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                    key_ui(
                        ui,
                        "Chance of precipitation",
                        palette.precipitation,
                        false,
                        scale,
                        palette,
                    );
                    ui.add_space(GAP * 2.0 * scale);
                    key_ui(
                        ui,
                        &format!(
                            "Temperature ({})",
                            format::temperature_unit(model.settings.units)
                        ),
                        palette.temperature,
                        true,
                        scale,
                        palette,
                    );
                });
            });
            ui.add_space(GAP * 0.5 * scale);
            hourly_chart::chart_ui(
                ui,
                report,
                model.settings.units,
                model.now,
                palette,
                scale,
                place.short_name(),
            );
        });
}

/// One entry of the chart's key: a line or a bar swatch, then its name (right to left).
fn key_ui(ui: &mut Ui, name: &str, colour: Color32, line: bool, scale: f32, palette: &Palette) {
    ui.label(
        RichText::new(name)
            .size(size::SMALL * scale)
            .color(palette.text_weak),
    );
    let (rect, _) = ui.allocate_exact_size(vec2(16.0, 12.0) * scale, Sense::hover());
    if line {
        ui.painter().line_segment(
            [rect.left_center(), rect.right_center()],
            Stroke::new(2.5 * scale, colour),
        );
    } else {
        let bar = egui::Rect::from_center_size(rect.center(), vec2(7.0, 11.0) * scale);
        ui.painter().rect_filled(bar, 1.5 * scale, colour);
    }
}

fn forecast_ui(ui: &mut Ui, report: &WeatherReport, model: &Model, palette: &Palette, scale: f32) {
    let units = model.settings.units;
    let today = hourly_chart::local_time(report, model.now).date();
    let days = report.daily.len().clamp(1, 5) as f32;
    // Each card is its width plus a 1-point border on either side, with the layout's spacing
    // between cards: the row must not be wider than the space it has, or it widens the page.
    let spacing = ui.spacing().item_spacing.x;
    let width = (ui.available_width() - spacing * (days - 1.0)) / days - 2.5;
    let card_width = width.clamp(86.0 * scale, 170.0 * scale);
    ui.horizontal_wrapped(|ui| {
        for day in report.daily.iter().take(5) {
            egui::Frame::new()
                .fill(palette.raised)
                .stroke(egui::Stroke::new(1.0, palette.border))
                .corner_radius(8.0 * scale)
                .inner_margin(egui::Margin::same((10.0 * scale) as i8))
                .show(ui, |ui| {
                    ui.set_width(card_width - 20.0 * scale);
                    ui.with_layout(Layout::top_down(Align::Center), |ui| {
                        ui.label(
                            RichText::new(format::day_name(day.date, today))
                                .size(size::BODY * scale)
                                .strong()
                                .color(palette.text),
                        );
                        icon_ui(
                            ui,
                            &day.condition.icon,
                            &day.condition.label,
                            48.0 * scale,
                            palette,
                        );
                        let mut job = egui::text::LayoutJob::default();
                        job.append(
                            &format::temperature(day.high, units),
                            0.0,
                            egui::TextFormat::simple(
                                egui::FontId::proportional(size::TITLE * scale),
                                palette.text,
                            ),
                        );
                        job.append(
                            &format::temperature(day.low, units),
                            GAP * scale,
                            egui::TextFormat::simple(
                                egui::FontId::proportional(size::TITLE * scale),
                                palette.text_weak,
                            ),
                        );
                        ui.label(job);
                        let rain = day
                            .precipitation_chance_percent
                            .map_or_else(String::new, |p| format!("{p:.0}% rain"));
                        ui.label(
                            RichText::new(if rain.is_empty() {
                                day.condition.label.clone()
                            } else {
                                rain
                            })
                            .size(size::SMALL * scale)
                            .color(palette.text_weak),
                        );
                    });
                });
        }
    });
}

/// A centred message for an empty view.
pub fn empty_ui(ui: &mut Ui, palette: &Palette, title: &str, body: &str) {
    ui.add_space(ui.available_height() * 0.25);
    ui.vertical_centered(|ui| {
        ui.set_max_width(420.0);
        ui.label(RichText::new(title).size(size::HEADING).color(palette.text));
        ui.add_space(GAP);
        ui.label(
            RichText::new(body)
                .size(size::BODY)
                .color(palette.text_weak),
        );
    });
}
