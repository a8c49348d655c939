//! The hourly forecast as a chart: the temperature of the next 48 hours as a line (its highest,
//! lowest and a few more values labelled) over the chance of precipitation as bars, with hour
//! ticks, day boundaries, night shading, a marker for now and a tooltip for the hour under the
//! pointer.
//!
//! Drawn with egui's painter for the Weather channel and the SmartScreen (`weather_view`
//! calls [`chart_ui`]). Labels are placed greedily by priority and never overlap: a label that
//! would touch one already placed is left out. Times are the place's own wall clock (the
//! report's UTC offset). The layout arithmetic is pure and tested here; nothing does I/O.

use chrono::{DateTime, Local, NaiveDateTime, Utc};
use egui::{Align2, Color32, FontId, Pos2, Rect, Response, Sense, Stroke, Ui, pos2, vec2};

use super::format;
use super::settings::Units;
use super::theme::{Palette, size};
use crate::protocol::{HourlyForecast, WeatherReport};

/// The chart's height at scale 1, in points.
pub const HEIGHT: f32 = 216.0;

/// The place's wall-clock time at `at`: the report's UTC offset, or the user's own time zone
/// when the server sent none.
#[must_use]
pub fn local_time(report: &WeatherReport, at: DateTime<Utc>) -> NaiveDateTime {
    match report.utc_offset_seconds {
        Some(offset) => (at + chrono::Duration::seconds(i64::from(offset))).naive_utc(),
        None => at.with_timezone(&Local).naive_local(),
    }
}

/// The hours of the forecast not yet over at `now`: a report shown from the offline cache
/// starts at the current hour, not at the hour it was made.
#[must_use]
pub fn upcoming(report: &WeatherReport, now: DateTime<Utc>) -> &[HourlyForecast] {
    let past = report
        .hourly
        .iter()
        .take_while(|hour| hour.time + chrono::Duration::hours(1) <= now)
        .count();
    report.hourly.get(past..).unwrap_or_default()
}

/// Hours between labelled ticks: the smallest of 1, 2, 3, 6 and 12 that leaves labels
/// `label_width` wide a label's width apart when an hour is `hour_width` wide.
#[must_use]
pub fn tick_step(hour_width: f32, label_width: f32) -> u32 {
    [1, 2, 3, 6, 12]
        .into_iter()
        .find(|&step| step as f32 * hour_width >= label_width * 1.8)
        .unwrap_or(24)
}

/// Which of `candidates` (in priority order) to draw: each one that lies inside `bounds` and
/// keeps `gap` from everything in `occupied` and from every label kept before it.
#[must_use]
pub fn place_labels(candidates: &[Rect], bounds: Rect, gap: f32, occupied: &[Rect]) -> Vec<bool> {
    let mut kept: Vec<Rect> = occupied.to_vec();
    candidates
        .iter()
        .map(|rect| {
            let fits = bounds.expand(0.5).contains_rect(*rect)
                && kept.iter().all(|k| !k.expand(gap).intersects(*rect));
            if fits {
                kept.push(*rect);
            }
            fits
        })
        .collect()
}

/// "Today 15:00", "Tomorrow 06:00", "Sat 14:00": an hour named relative to the place's today.
fn hour_name(report: &WeatherReport, at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let local = local_time(report, at);
    let today = local_time(report, now).date();
    format!(
        "{} {}",
        format::day_name(local.date(), today),
        local.format("%H:%M")
    )
}

/// The chart in words, for screen readers: the range of temperatures and when, and when
/// precipitation is most likely.
#[must_use]
pub fn summary(report: &WeatherReport, units: Units, now: DateTime<Utc>, place: &str) -> String {
    let hours = upcoming(report, now);
    let (Some(first), Some(last)) = (hours.first(), hours.last()) else {
        return format!("No hourly forecast for {place} yet");
    };
    let span = (last.time - first.time).num_hours() + 1;
    let warmest = hours
        .iter()
        .max_by(|a, b| a.temperature.total_cmp(&b.temperature))
        .unwrap_or(first);
    let coldest = hours
        .iter()
        .min_by(|a, b| a.temperature.total_cmp(&b.temperature))
        .unwrap_or(first);
    let wettest = hours
        .iter()
        .filter_map(|h| h.precipitation_chance_percent.map(|p| (h, p)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let precipitation = match wettest {
        Some((hour, chance)) if chance >= 10.0 => format!(
            "precipitation most likely {} ({chance:.0}%)",
            hour_name(report, hour.time, now)
        ),
        Some(_) => "little chance of precipitation".to_owned(),
        None => "no precipitation forecast".to_owned(),
    };
    format!(
        "Hourly forecast for {place}, next {span} hours: {} to {}, coldest {}, warmest {}; {precipitation}",
        format::temperature(coldest.temperature, units),
        format::temperature(warmest.temperature, units),
        hour_name(report, coldest.time, now),
        hour_name(report, warmest.time, now),
    )
}

/// One label to place: its text, where it is anchored and how.
struct Label {
    text: String,
    anchor: Pos2,
    align: Align2,
    font: FontId,
    colour: Color32,
    /// Moved in from an edge it would cross (otherwise left out there).
    nudge: bool,
}

/// Lays out `labels` in priority order and draws those that fit in `bounds` clear of each
/// other and of `occupied`.
fn draw_labels(
    ui: &Ui,
    painter: &egui::Painter,
    labels: Vec<Label>,
    bounds: Rect,
    gap: f32,
    occupied: &[Rect],
) {
    let laid: Vec<(std::sync::Arc<egui::Galley>, Rect, Color32)> = labels
        .into_iter()
        .map(|label| {
            let galley = ui.fonts_mut(|f| f.layout_no_wrap(label.text, label.font, label.colour));
            let rect = label.align.anchor_size(label.anchor, galley.size());
            // Nudged in from the left and right edges rather than dropped there.
            let dx = if label.nudge {
                (bounds.left() - rect.left()).max(0.0) + (bounds.right() - rect.right()).min(0.0)
            } else {
                0.0
            };
            (galley, rect.translate(vec2(dx, 0.0)), label.colour)
        })
        .collect();
    let rects: Vec<Rect> = laid.iter().map(|(_, rect, _)| *rect).collect();
    let keep = place_labels(&rects, bounds, gap, occupied);
    for ((galley, rect, colour), keep) in laid.into_iter().zip(keep) {
        if keep {
            painter.galley(rect.min, galley, colour);
        }
    }
}

/// Draws the chart for `report` across the available width; `scale` 1 in the window, larger
/// on the SmartScreen. The response carries the summary as its accessible label.
pub fn chart_ui(
    ui: &mut Ui,
    report: &WeatherReport,
    units: Units,
    now: DateTime<Utc>,
    palette: &Palette,
    scale: f32,
    place: &str,
) -> Response {
    let width = ui.available_width().max(240.0);
    let (rect, response) = ui.allocate_exact_size(vec2(width, HEIGHT * scale), Sense::hover());
    let label = summary(report, units, now, place);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &label));
    let hours = upcoming(report, now);
    if !ui.is_rect_visible(rect) {
        return response;
    }
    let painter = ui.painter_at(rect);
    let (Some(first), Some(last)) = (hours.first(), hours.last()) else {
        no_hours_ui(&painter, rect, palette, scale);
        return response;
    };
    if hours.len() < 2 {
        no_hours_ui(&painter, rect, palette, scale);
        return response;
    }

    // Rows, top to bottom: day names, temperatures (with room for labels), bars, hour labels.
    let s = scale;
    let small = FontId::proportional(size::SMALL * s);
    let value_font = FontId::proportional((size::SMALL + 1.0) * s);
    let day_row = Rect::from_min_max(rect.min, pos2(rect.right(), rect.top() + 20.0 * s));
    let axis_row = Rect::from_min_max(pos2(rect.left(), rect.bottom() - 18.0 * s), rect.max);
    let bars = Rect::from_min_max(
        pos2(rect.left(), axis_row.top() - 4.0 * s - 36.0 * s),
        pos2(rect.right(), axis_row.top() - 4.0 * s),
    );
    let plot = Rect::from_min_max(
        pos2(rect.left(), day_row.bottom()),
        pos2(rect.right(), bars.top() - 2.0 * s),
    );
    let line_top = plot.top() + 26.0 * s;
    let line_bottom = plot.bottom() - 27.0 * s;
    // Half an hour of room at each end, so the first and last bars fit.
    let span_secs = (last.time - first.time).num_seconds().max(1) as f32 + 3600.0;
    let start = first.time - chrono::Duration::minutes(30);
    let x_of = |at: DateTime<Utc>| {
        let secs = (at - start).num_seconds() as f32;
        rect.left() + secs / span_secs * rect.width()
    };
    let hour_width = rect.width() / (span_secs / 3600.0);

    let (coldest, warmest) = hours.iter().fold((f64::MAX, f64::MIN), |(lo, hi), h| {
        (lo.min(h.temperature), hi.max(h.temperature))
    });
    // At least 4 °C of range, so a steady day reads as steady rather than jagged.
    let middle = (coldest + warmest) / 2.0;
    let half = ((warmest - coldest) / 2.0).max(2.0);
    let y_of = |temperature: f64| {
        let t = ((temperature - (middle - half)) / (2.0 * half)) as f32;
        line_bottom - t * (line_bottom - line_top)
    };

    // Nights, shaded.
    let night = if palette.dark {
        Color32::from_black_alpha(70)
    } else {
        Color32::from_black_alpha(14)
    };
    // One band per night, not one per hour: overlapping bands would show seams.
    let mut night_start: Option<f32> = None;
    for (index, hour) in hours.iter().enumerate() {
        let x = x_of(hour.time);
        if !hour.is_day && night_start.is_none() {
            night_start = Some(x - hour_width / 2.0);
        }
        let ends = hours.get(index + 1).is_none_or(|next| next.is_day);
        if let Some(from) = night_start
            && ends
        {
            let band = Rect::from_min_max(
                pos2(from.max(rect.left()), day_row.bottom()),
                pos2((x + hour_width / 2.0).min(rect.right()), bars.bottom()),
            );
            painter.rect_filled(band, 0.0, night);
            night_start = None;
        }
    }

    // Day boundaries, with the day's name beside each.
    let today = local_time(report, now).date();
    let mut day_labels = Vec::new();
    let boundary = Stroke::new(1.0, palette.border);
    for hour in hours {
        let local = local_time(report, hour.time);
        if local.format("%H").to_string() == "00" && hour.time != first.time {
            let x = x_of(hour.time);
            painter.line_segment(
                [pos2(x, day_row.top() + 2.0 * s), pos2(x, bars.bottom())],
                boundary,
            );
            day_labels.push(Label {
                text: format::day_name(local.date(), today),
                anchor: pos2(x + 5.0 * s, day_row.center().y),
                align: Align2::LEFT_CENTER,
                font: FontId::proportional(size::SMALL * s),
                colour: palette.text,
                nudge: false,
            });
        }
    }
    // The first day's name last: it gives way to a boundary soon after.
    day_labels.push(Label {
        text: format::day_name(local_time(report, first.time).date(), today),
        anchor: pos2(rect.left() + 2.0 * s, day_row.center().y),
        align: Align2::LEFT_CENTER,
        font: FontId::proportional(size::SMALL * s),
        colour: palette.text,
        nudge: false,
    });
    draw_labels(ui, &painter, day_labels, day_row, 8.0 * s, &[]);

    // Chance of precipitation: bars from the baseline, full height at 100%.
    let bar_width = (hour_width * 0.62).max(2.0);
    let mut wettest: Option<(usize, f64)> = None;
    for (index, hour) in hours.iter().enumerate() {
        let chance = hour.precipitation_chance_percent.unwrap_or(0.0);
        if wettest.is_none_or(|(_, best)| chance > best) {
            wettest = Some((index, chance));
        }
        if chance < 0.5 {
            continue;
        }
        let x = x_of(hour.time);
        let top = bars.bottom() - (chance / 100.0) as f32 * bars.height();
        painter.rect_filled(
            Rect::from_min_max(
                pos2(x - bar_width / 2.0, top),
                pos2(x + bar_width / 2.0, bars.bottom()),
            ),
            egui::CornerRadius::same((1.5 * s) as u8),
            palette.precipitation.gamma_multiply(0.85),
        );
    }
    painter.line_segment(
        [
            pos2(rect.left(), bars.bottom()),
            pos2(rect.right(), bars.bottom()),
        ],
        Stroke::new(1.0, palette.border),
    );
    let mut bar_labels = Vec::new();
    match wettest {
        Some((index, chance)) if chance >= 10.0 => {
            // The wettest hour, then other peaks well apart from it.
            let mut peaks = vec![(index, chance)];
            for (i, hour) in hours.iter().enumerate() {
                let p = hour.precipitation_chance_percent.unwrap_or(0.0);
                let before = i.checked_sub(1).and_then(|j| hours.get(j));
                let after = hours.get(i + 1);
                let peak = before.is_none_or(|b| b.precipitation_chance_percent.unwrap_or(0.0) < p)
                    && after.is_none_or(|a| a.precipitation_chance_percent.unwrap_or(0.0) <= p);
                if peak && p >= 30.0 && i != index {
                    peaks.push((i, p));
                }
            }
            for (i, p) in peaks {
                if let Some(hour) = hours.get(i) {
                    let top = bars.bottom() - (p / 100.0) as f32 * bars.height();
                    bar_labels.push(Label {
                        text: format!("{p:.0}%"),
                        anchor: pos2(x_of(hour.time), top - 2.0 * s),
                        align: Align2::CENTER_BOTTOM,
                        font: small.clone(),
                        colour: palette.text_weak,
                        nudge: true,
                    });
                }
            }
        }
        _ => {
            painter.text(
                pos2(rect.center().x, bars.bottom() - 10.0 * s),
                Align2::CENTER_CENTER,
                "Little chance of precipitation",
                small.clone(),
                palette.text_weak,
            );
        }
    }

    // Temperature: a soft fill under the line, then the line.
    let points: Vec<Pos2> = hours
        .iter()
        .map(|h| pos2(x_of(h.time), y_of(h.temperature)))
        .collect();
    let mut fill = egui::Mesh::default();
    let (top_alpha, colour) = (if palette.dark { 0.30 } else { 0.20 }, palette.temperature);
    for point in &points {
        fill.colored_vertex(*point, colour.gamma_multiply(top_alpha));
        fill.colored_vertex(pos2(point.x, plot.bottom()), colour.gamma_multiply(0.0));
    }
    for i in 0..points.len().saturating_sub(1) {
        let a = u32::try_from(i * 2).unwrap_or(0);
        fill.add_triangle(a, a + 1, a + 2);
        fill.add_triangle(a + 1, a + 3, a + 2);
    }
    painter.add(fill);
    painter.add(egui::Shape::line(
        points.clone(),
        Stroke::new(2.5 * s, palette.temperature),
    ));

    // Now: a line through the chart and a dot on the temperature.
    let now_x = x_of(now.max(first.time));
    painter.line_segment(
        [pos2(now_x, plot.top()), pos2(now_x, bars.bottom())],
        Stroke::new(1.5 * s, palette.accent.gamma_multiply(0.8)),
    );
    let now_temperature = interpolate(hours, now).unwrap_or(first.temperature);
    let dot = |at: Pos2, fill: Color32| {
        painter.circle(at, 4.0 * s, fill, Stroke::new(2.0 * s, palette.raised));
    };
    dot(pos2(now_x, y_of(now_temperature)), palette.accent);

    // Hour labels: "Now" first, then every few hours on the hour.
    let label_width = ui
        .fonts_mut(|f| f.layout_no_wrap("00:00".to_owned(), small.clone(), palette.text_weak))
        .size()
        .x;
    let step = tick_step(hour_width, label_width);
    let mut axis_labels = vec![Label {
        text: "Now".to_owned(),
        anchor: pos2(now_x, axis_row.center().y),
        align: Align2::CENTER_CENTER,
        font: small.clone(),
        colour: palette.accent,
        nudge: true,
    }];
    let mut ticked = Vec::new();
    for (index, hour) in hours.iter().enumerate() {
        let local = local_time(report, hour.time);
        let hour_of_day: u32 = local.format("%H").to_string().parse().unwrap_or(0);
        if hour_of_day.is_multiple_of(step) {
            let x = x_of(hour.time);
            painter.line_segment(
                [pos2(x, bars.bottom()), pos2(x, bars.bottom() + 3.0 * s)],
                Stroke::new(1.0, palette.border),
            );
            axis_labels.push(Label {
                text: local.format("%H:%M").to_string(),
                anchor: pos2(x, axis_row.center().y),
                align: Align2::CENTER_CENTER,
                font: small.clone(),
                colour: palette.text_weak,
                nudge: true,
            });
            ticked.push((index, hour_of_day));
        }
    }
    draw_labels(ui, &painter, axis_labels, axis_row, 6.0 * s, &[]);

    // Temperature labels: the extremes first, then a value every other tick.
    let (warm_index, cold_index) = extremes(hours);
    let mut value_labels = Vec::new();
    let mut value_at = |index: usize, above: bool, strong: bool| {
        if let Some(point) = points.get(index)
            && let Some(hour) = hours.get(index)
        {
            let offset = if above { -10.0 } else { 10.0 } * s;
            // Right beside the now line rather than crossed by it.
            let by_now = (point.x - now_x).abs() < 14.0 * s;
            let (x, horizontal) = if by_now {
                (now_x + 6.0 * s, egui::Align::Min)
            } else {
                (point.x, egui::Align::Center)
            };
            let vertical = if above {
                egui::Align::Max
            } else {
                egui::Align::Min
            };
            value_labels.push(Label {
                text: format::temperature(hour.temperature, units),
                anchor: pos2(x, point.y + offset),
                align: Align2([horizontal, vertical]),
                font: value_font.clone(),
                colour: if strong {
                    palette.text
                } else {
                    palette.text_weak
                },
                nudge: true,
            });
        }
    };
    value_at(warm_index, true, true);
    if cold_index != warm_index {
        value_at(cold_index, false, true);
    }
    for (index, hour_of_day) in &ticked {
        // Not beside an extreme, which already says about as much.
        let near = |extreme: usize| index.abs_diff(extreme) <= 3;
        if hour_of_day.is_multiple_of(step * 2) && !near(warm_index) && !near(cold_index) {
            value_at(*index, true, false);
        }
    }
    // Labels keep clear of the marker dots too.
    let dots: Vec<Rect> = [warm_index, cold_index]
        .iter()
        .filter_map(|i| points.get(*i))
        .chain(std::iter::once(&pos2(now_x, y_of(now_temperature))))
        .map(|p| Rect::from_center_size(*p, vec2(6.0, 6.0) * s))
        .collect();
    draw_labels(ui, &painter, value_labels, plot, 4.0 * s, &dots);
    for index in [warm_index, cold_index] {
        if let Some(point) = points.get(index) {
            dot(*point, palette.temperature);
        }
    }
    draw_labels(
        ui,
        &painter,
        bar_labels,
        Rect::from_min_max(plot.min, bars.max),
        4.0 * s,
        &[],
    );

    // The hour under the pointer: a guide, its point, and a tooltip with its values.
    let hovered = response.hover_pos().and_then(|pointer| {
        let index = ((pointer.x - x_of(first.time)) / hour_width).round();
        (index >= 0.0).then_some(index as usize)
    });
    if let Some(index) = hovered
        && let (Some(hour), Some(point)) = (hours.get(index), points.get(index))
    {
        painter.line_segment(
            [pos2(point.x, plot.top()), pos2(point.x, bars.bottom())],
            Stroke::new(1.0, palette.text_weak),
        );
        dot(*point, palette.temperature);
        let title = hour_name(report, hour.time, now);
        let hour = hour.clone();
        let palette = *palette;
        return response.on_hover_ui_at_pointer(move |ui| {
            ui.label(egui::RichText::new(title).strong());
            ui.horizontal(|ui| {
                super::weather_view::icon_ui(
                    ui,
                    &hour.condition.icon,
                    &hour.condition.label,
                    22.0,
                    &palette,
                );
                ui.label(&hour.condition.label);
            });
            egui::Grid::new("hour-tooltip")
                .num_columns(2)
                .show(ui, |ui| {
                    ui.label("Temperature");
                    ui.label(
                        egui::RichText::new(format::temperature(hour.temperature, units)).strong(),
                    );
                    ui.end_row();
                    ui.label("Precipitation");
                    ui.label(
                        egui::RichText::new(
                            hour.precipitation_chance_percent.map_or_else(
                                || "unknown".to_owned(),
                                |p| format!("{p:.0}% chance"),
                            ),
                        )
                        .strong(),
                    );
                    ui.end_row();
                });
        });
    }
    response
}

/// In place of a chart whose hours are (nearly) all over: a report from the offline cache.
fn no_hours_ui(painter: &egui::Painter, rect: Rect, palette: &Palette, scale: f32) {
    painter.text(
        rect.center(),
        Align2::CENTER_CENTER,
        "The hourly forecast will appear with the next report",
        FontId::proportional(size::BODY * scale),
        palette.text_weak,
    );
}

/// The indices of the warmest and the coldest hour (the first of equals).
fn extremes(hours: &[HourlyForecast]) -> (usize, usize) {
    let mut warm = 0;
    let mut cold = 0;
    for (index, hour) in hours.iter().enumerate() {
        if hours
            .get(warm)
            .is_some_and(|w| hour.temperature > w.temperature)
        {
            warm = index;
        }
        if hours
            .get(cold)
            .is_some_and(|c| hour.temperature < c.temperature)
        {
            cold = index;
        }
    }
    (warm, cold)
}

/// The temperature at `at`, between the hours around it.
fn interpolate(hours: &[HourlyForecast], at: DateTime<Utc>) -> Option<f64> {
    let after = hours.iter().position(|h| h.time > at)?;
    let before = hours.get(after.checked_sub(1)?)?;
    let next = hours.get(after)?;
    let fraction = (at - before.time).num_seconds() as f64
        / (next.time - before.time).num_seconds().max(1) as f64;
    Some(before.temperature + (next.temperature - before.temperature) * fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gui::settings::{TemperatureUnit, WindUnit};
    use crate::protocol::{ChannelId, Condition, CurrentWeather, WeatherUnits};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// A report with `temperatures` hour by hour from 08:00 UTC, in a place an hour ahead.
    fn report(temperatures: &[f64], chances: &[f64]) -> WeatherReport {
        let start = at("2026-11-27T08:00:00Z");
        let condition = Condition {
            code: 61,
            label: "Light rain".to_owned(),
            icon: "rain".to_owned(),
        };
        WeatherReport {
            channel: ChannelId::new("weather").unwrap(),
            cell: "52.5,13.4".to_owned(),
            place: None,
            observed: start,
            units: WeatherUnits::default(),
            current: CurrentWeather {
                temperature: 3.0,
                apparent_temperature: 1.0,
                condition: condition.clone(),
                wind_speed: 10.0,
                wind_direction_deg: None,
                humidity_percent: 80.0,
                is_day: true,
            },
            daily: Vec::new(),
            hourly: temperatures
                .iter()
                .enumerate()
                .map(|(h, &temperature)| HourlyForecast {
                    time: start + chrono::Duration::hours(h as i64),
                    temperature,
                    precipitation_chance_percent: chances.get(h).copied(),
                    condition: condition.clone(),
                    is_day: true,
                })
                .collect(),
            utc_offset_seconds: Some(3600),
        }
    }

    #[test]
    fn hours_are_the_places_wall_clock() {
        let report = report(&[1.0, 2.0], &[]);
        assert_eq!(
            local_time(&report, at("2026-11-27T23:30:00Z")).to_string(),
            "2026-11-28 00:30:00"
        );
        let mut far = report.clone();
        far.utc_offset_seconds = Some(13 * 3600);
        assert_eq!(
            local_time(&far, at("2026-11-27T12:00:00Z")).to_string(),
            "2026-11-28 01:00:00"
        );
    }

    #[test]
    fn hours_already_over_are_not_shown() {
        let report = report(&[1.0, 2.0, 3.0, 4.0], &[]);
        assert_eq!(upcoming(&report, at("2026-11-27T08:59:00Z")).len(), 4);
        // 09:00 has begun: the 08:00 hour is over.
        assert_eq!(upcoming(&report, at("2026-11-27T09:00:00Z")).len(), 3);
        assert_eq!(
            upcoming(&report, at("2026-11-27T10:30:00Z"))[0].temperature,
            3.0
        );
        assert!(upcoming(&report, at("2026-11-28T10:30:00Z")).is_empty());
    }

    #[test]
    fn tick_labels_thin_out_as_hours_narrow() {
        // 48 hours across 960 points: 20 points an hour, labels 32 wide.
        assert_eq!(tick_step(20.0, 32.0), 3);
        assert_eq!(tick_step(60.0, 32.0), 1);
        assert_eq!(tick_step(8.0, 32.0), 12);
        assert_eq!(tick_step(1.0, 32.0), 24);
    }

    #[test]
    fn labels_never_overlap_and_stay_inside() {
        let bounds = Rect::from_min_size(Pos2::ZERO, vec2(100.0, 20.0));
        let label = |x: f32| Rect::from_min_size(pos2(x, 2.0), vec2(20.0, 12.0));
        let kept = place_labels(
            &[
                label(10.0),
                label(25.0),
                label(36.0),
                label(90.0),
                label(62.0),
            ],
            bounds,
            4.0,
            &[],
        );
        // The second touches the first; the fourth sticks out of the chart.
        assert_eq!(kept, [true, false, true, false, true]);
        // Something already drawn keeps its place.
        let occupied = [label(10.0)];
        assert_eq!(
            place_labels(&[label(12.0)], bounds, 4.0, &occupied),
            [false]
        );
    }

    #[test]
    fn the_summary_names_the_range_and_the_wettest_hour_in_the_users_units() {
        let temperatures = [3.0, 4.5, 6.2, 5.0, 1.6, -0.4, 0.2];
        let chances = [0.0, 10.0, 80.0, 40.0, 0.0, 0.0, 0.0];
        let report = report(&temperatures, &chances);
        let now = at("2026-11-27T08:20:00Z");
        let metric = Units::default();
        assert_eq!(
            summary(&report, metric, now, "Berlin"),
            "Hourly forecast for Berlin, next 7 hours: 0° to 6°, coldest Today 14:00, \
             warmest Today 11:00; precipitation most likely Today 11:00 (80%)"
        );
        let imperial = Units {
            temperature: TemperatureUnit::Fahrenheit,
            wind: WindUnit::Mph,
        };
        let text = summary(&report, imperial, now, "Berlin");
        // -0.4 °C is 31 °F, 6.2 °C is 43 °F.
        assert!(text.contains(": 31° to 43°,"), "{text}");
        let dry = self::report(&temperatures, &[5.0; 7]);
        assert!(summary(&dry, metric, now, "Berlin").ends_with("little chance of precipitation"));
        let none = self::report(&[], &[]);
        assert_eq!(
            summary(&none, metric, now, "Berlin"),
            "No hourly forecast for Berlin yet"
        );
    }

    #[test]
    fn the_extremes_are_the_first_of_equals() {
        let report = report(&[2.0, 5.0, 5.0, -1.0, -1.0, 0.0], &[]);
        assert_eq!(extremes(&report.hourly), (1, 3));
        assert_eq!(
            interpolate(&report.hourly, at("2026-11-27T08:30:00Z")),
            Some(3.5)
        );
        assert_eq!(
            interpolate(&report.hourly, at("2026-11-27T07:30:00Z")),
            None
        );
    }
}
