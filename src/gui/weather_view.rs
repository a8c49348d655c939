//! The weather: a compact card for the channel column and the ticker's glance, and the full
//! panel (current conditions and the 5-day forecast) for the Weather channel and SmartScreen.

use chrono::Local;
use egui::{Align, Layout, RichText, Sense, Ui, vec2};

use super::format;
use super::icons::paint_weather_icon;
use super::model::Model;
use super::theme::{GAP, Palette, size};
use crate::protocol::WeatherReport;

/// Draws a weather icon of `side` points as its own widget, labelled for screen readers.
pub fn icon_ui(ui: &mut Ui, icon: &str, label: &str, side: f32, palette: &Palette) {
    let (rect, response) = ui.allocate_exact_size(vec2(side, side), Sense::hover());
    paint_weather_icon(ui.painter(), rect, icon, palette.dark);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, label));
}

/// The compact card: icon, temperature, condition and place.
pub fn compact_ui(ui: &mut Ui, model: &Model, palette: &Palette) {
    let units = model.settings.units;
    let Some(location) = &model.settings.location else {
        ui.label(
            RichText::new("Set your location in Settings to see the weather here.")
                .color(palette.text_weak)
                .size(size::SMALL),
        );
        return;
    };
    match model.weather() {
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
            ui.label(
                RichText::new(&location.name)
                    .size(size::SMALL)
                    .color(palette.text_weak),
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

/// The full panel: current conditions, details, and the forecast days as cards.
pub fn full_ui(ui: &mut Ui, model: &Model, palette: &Palette, scale: f32) {
    let units = model.settings.units;
    let Some(location) = &model.settings.location else {
        empty_ui(
            ui,
            palette,
            "No location yet",
            "Choose a city in Settings (or enter latitude and longitude) to get current conditions and a five-day forecast.",
        );
        return;
    };
    let Some(report) = model.weather() else {
        empty_ui(
            ui,
            palette,
            &format!("Weather for {}", location.name),
            "Waiting for the server's first report for this place. It usually arrives within a few seconds of connecting.",
        );
        return;
    };
    ui.add_space(GAP * scale);
    ui.horizontal(|ui| {
        icon_ui(
            ui,
            &report.current.condition.icon,
            &report.current.condition.label,
            112.0 * scale,
            palette,
        );
        ui.add_space(GAP * 2.0 * scale);
        ui.vertical(|ui| {
            ui.label(
                RichText::new(&location.name)
                    .size(size::HEADING * scale)
                    .color(palette.text),
            );
            ui.label(
                RichText::new(format::temperature(report.current.temperature, units))
                    .size(56.0 * scale)
                    .strong()
                    .color(palette.text),
            );
            ui.label(
                RichText::new(&report.current.condition.label)
                    .size(size::TITLE * scale)
                    .color(palette.text),
            );
        });
    });
    ui.add_space(GAP * scale);
    details_ui(ui, report, model, palette, scale);
    ui.add_space(GAP * 2.0 * scale);
    forecast_ui(ui, report, model, palette, scale);
}

fn details_ui(ui: &mut Ui, report: &WeatherReport, model: &Model, palette: &Palette, scale: f32) {
    let units = model.settings.units;
    let current = &report.current;
    let observed = report.observed.with_timezone(&Local).format("%H:%M");
    let facts = [
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

fn forecast_ui(ui: &mut Ui, report: &WeatherReport, model: &Model, palette: &Palette, scale: f32) {
    let units = model.settings.units;
    let today = model.now.with_timezone(&Local).date_naive();
    let width = (ui.available_width() - GAP * 4.0 * scale) / 5.0;
    let card_width = width.clamp(96.0 * scale, 170.0 * scale);
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
