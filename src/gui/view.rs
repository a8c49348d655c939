//! The main window: top bar, alert banner, channel column, item list, detail pane and status
//! line, plus the keyboard. A function of the [`Model`]; it changes only view state and returns
//! [`Effect`]s for everything else.

use egui::{
    Align, Color32, CornerRadius, Key, Layout, Margin, Modifiers, RichText, Sense, Stroke, Ui,
    Vec2, vec2,
};

use super::format::{self, Tone};
use super::model::{ChannelRow, Effect, Model, Section, SettingsDraft, Story, StoryRef, openable};
use super::rows::{self, RowSpec, paint_thumbnail, row_fill};
use super::theme::{GAP, Palette, channel_colour, size};
use super::thumbnails::Thumb;
use super::{icons, saved_view, search_view, weather_view};
use crate::client::store::{StoredAlert, StoredItem};
use crate::protocol::{AlertStatus, ChannelKind, HealthStatus, Severity};

/// Width below which the list and the detail pane take turns instead of sharing the window.
const NARROW: f32 = 860.0;

/// Draws the in-window ticker strip.
pub type StripUi<'a> = &'a mut dyn FnMut(&mut Ui, &Model) -> Vec<Effect>;

/// Draws the whole main window; `strip` draws the in-window ticker when it is on.
pub fn main_ui(
    ui: &mut Ui,
    model: &mut Model,
    palette: &Palette,
    strip: Option<StripUi<'_>>,
) -> Vec<Effect> {
    let mut effects = Vec::new();
    keyboard(ui, model, &mut effects);

    egui::Panel::top("top-bar")
        .frame(
            egui::Frame::new()
                .fill(palette.title_bar)
                .inner_margin(Margin::symmetric(12, 8)),
        )
        .show(ui, |ui| {
            // Toggles on the title bar use its own colours (navy in Classic).
            let visuals = &mut ui.style_mut().visuals;
            visuals.selection.bg_fill = palette.on_title_bar.gamma_multiply(0.22);
            visuals.selection.stroke = Stroke::new(1.0, palette.on_title_bar);
            top_bar_ui(ui, model, palette, &mut effects);
        });

    if let Some(alert) = model.banner_alert().cloned() {
        egui::Panel::top("alert-banner")
            .frame(egui::Frame::new())
            .show(ui, |ui| alert_banner_ui(ui, model, &alert, palette));
    }

    egui::Panel::bottom("status-line")
        .frame(
            egui::Frame::new()
                .fill(palette.panel)
                .inner_margin(Margin::symmetric(12, 5))
                .stroke(Stroke::new(1.0, palette.border)),
        )
        .show(ui, |ui| status_ui(ui, model, palette, &mut effects));

    if let Some(strip) = strip {
        egui::Panel::bottom("ticker-strip")
            .frame(egui::Frame::new())
            .exact_size(34.0)
            .show(ui, |ui| effects.extend(strip(ui, model)));
    }

    egui::Panel::left("channels")
        .resizable(false)
        .exact_size(212.0)
        .frame(
            egui::Frame::new()
                .fill(palette.panel)
                .inner_margin(Margin::symmetric(8, 10)),
        )
        .show(ui, |ui| channel_column_ui(ui, model, palette, &mut effects));

    let narrow = ui.available_width() < NARROW;
    if model.view.search.open || model.view.section == Section::Saved {
        // The search results and the Saved view mix channels: the open story is `pick`.
        let pick = model.view.pick.clone();
        if let Some(story) = &pick
            && !narrow
        {
            detail_panel_ui(ui, model, story, palette, &mut effects);
        }
        egui::CentralPanel::default()
            .frame(egui::Frame::new())
            .show(ui, |ui| match &pick {
                Some(story) if narrow => {
                    egui::Frame::new()
                        .inner_margin(Margin::same(16))
                        .show(ui, |ui| {
                            detail_ui(ui, model, story, palette, true, &mut effects)
                        });
                }
                _ if model.view.search.open => {
                    search_view::results_ui(ui, model, palette, &mut effects);
                }
                _ => saved_view::list_ui(ui, model, palette, &mut effects),
            });
        if model.view.settings.is_some() {
            super::settings_view::settings_window(ui.ctx(), model, palette, &mut effects);
        }
        return effects;
    }
    let current = model.current_channel();
    let selected = current
        .as_ref()
        .zip(model.view.item.as_ref())
        .map(|(channel, key)| StoryRef::new(&channel.info.id, key));
    match current {
        None => {
            egui::CentralPanel::default()
                .frame(egui::Frame::new())
                .show(ui, |ui| {
                    weather_view::empty_ui(
                        ui,
                        palette,
                        "No channels yet",
                        &format!(
                            "Waiting for the server to describe its channels. {}",
                            format::status_line(&model.connection, model.retry_left(), None, None)
                                .text
                        ),
                    );
                });
        }
        Some(channel) if channel.info.kind == ChannelKind::Weather => {
            egui::CentralPanel::default()
                .frame(egui::Frame::new().inner_margin(Margin::same(24)))
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        weather_view::full_ui(ui, model, palette);
                    });
                });
        }
        Some(channel) => {
            if let Some(story) = &selected
                && !narrow
            {
                detail_panel_ui(ui, model, story, palette, &mut effects);
            }
            egui::CentralPanel::default()
                .frame(egui::Frame::new())
                .show(ui, |ui| {
                    if let Some(story) = selected.as_ref().filter(|_| narrow) {
                        egui::Frame::new()
                            .inner_margin(Margin::same(16))
                            .show(ui, |ui| {
                                detail_ui(ui, model, story, palette, true, &mut effects)
                            });
                    } else if channel.info.kind == ChannelKind::Alerts {
                        alert_list_ui(ui, model, &channel, palette, &mut effects);
                    } else {
                        item_list_ui(ui, model, &channel, palette, &mut effects);
                    }
                });
        }
    }

    if model.view.settings.is_some() {
        super::settings_view::settings_window(ui.ctx(), model, palette, &mut effects);
    }
    if model.view.welcome.is_some() {
        super::welcome::welcome_window(ui.ctx(), model, palette, &mut effects);
    }
    effects
}

fn text_focused(ui: &Ui) -> bool {
    ui.ctx().memory(|m| m.focused().is_some()) && ui.ctx().egui_wants_keyboard_input()
}

fn keyboard(ui: &mut Ui, model: &mut Model, effects: &mut Vec<Effect>) {
    if model.view.settings.is_some() || model.view.welcome.is_some() {
        return;
    }
    // Ctrl+N: add a feed (Settings → Channels, the address field ready for typing).
    if ui.input(|i| i.key_pressed(Key::N) && i.modifiers.command_only()) {
        let mut draft = SettingsDraft::new(&model.settings);
        draft.tab = super::model::SettingsTab::Channels;
        model.view.settings = Some(draft);
        model.view.lineup.focus = Some(super::lineup::Focus::Address);
        return;
    }
    let in_box = ui.memory(|m| m.has_focus(search_view::box_id()));
    if ui.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::F)) {
        open_search_with_typed(ui, model, None);
    }
    if ui.input(|i| i.key_pressed(Key::Escape)) {
        if model.view.search.open {
            model.close_search();
            ui.memory_mut(|m| m.surrender_focus(search_view::box_id()));
        } else if model.view.section == Section::Saved {
            model.view.pick = None;
        } else {
            model.view.item = None;
        }
        return;
    }
    if in_box {
        // Up and Down walk the results while typing; Enter opens the highlighted one and
        // hands the keyboard to the list (j/k, s, m, Enter for the browser).
        let take = |ui: &mut Ui, key| ui.input_mut(|i| i.consume_key(Modifiers::NONE, key));
        if take(ui, Key::ArrowDown) {
            search_view::move_cursor(model, 1);
        }
        if take(ui, Key::ArrowUp) {
            search_view::move_cursor(model, -1);
        }
        if take(ui, Key::Enter) {
            search_view::open_cursor(model, effects);
            ui.memory_mut(|m| m.surrender_focus(search_view::box_id()));
        }
        return;
    }
    if text_focused(ui) {
        return;
    }
    let pressed = |key| ui.input(|i| i.key_pressed(key) && i.modifiers.is_none());
    if pressed(Key::ArrowDown) || pressed(Key::J) {
        model.move_selection(1);
        mark_selected_read(model, effects);
    }
    if pressed(Key::ArrowUp) || pressed(Key::K) {
        model.move_selection(-1);
        mark_selected_read(model, effects);
    }
    if pressed(Key::Enter)
        && let Some(link) = selected_link(model)
    {
        effects.push(Effect::OpenLink(link));
    }
    if let Some(story) = model.selected_story() {
        if pressed(Key::M)
            && let Some(read) = is_read(model, &story)
        {
            effects.push(Effect::SetRead {
                channel: story.channel.clone(),
                key: story.key.clone(),
                read: !read,
            });
        }
        if pressed(Key::S) && can_save(model, &story) {
            let saved = model.is_saved(&story.channel, &story.key);
            effects.push(Effect::SetSaved {
                channel: story.channel,
                key: story.key,
                saved: !saved,
            });
        }
    }
    if ui.input(|i| i.key_pressed(Key::Slash)) {
        open_search_with_typed(ui, model, Some('/'));
    }
    let digits = [
        Key::Num1,
        Key::Num2,
        Key::Num3,
        Key::Num4,
        Key::Num5,
        Key::Num6,
        Key::Num7,
        Key::Num8,
        Key::Num9,
    ];
    for (index, key) in digits.into_iter().enumerate() {
        if pressed(key) {
            model.select_channel_at(index);
        }
    }
    if pressed(Key::Num0) {
        model.show_saved();
    }
}

/// Opens the search from a shortcut. The box takes the keyboard only from the next frame, so
/// what was typed in this one (a fast typist, or a slow frame) goes into it here instead of
/// being lost; `shortcut` is the shortcut's own character, left out.
fn open_search_with_typed(ui: &Ui, model: &mut Model, shortcut: Option<char>) {
    let mut typed: String = ui.input(|i| {
        i.events
            .iter()
            .filter_map(|event| match event {
                egui::Event::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    });
    if let Some(shortcut) = shortcut
        && let Some(at) = typed.find(shortcut)
    {
        typed.remove(at);
    }
    if !model.view.search.open {
        model.view.search.query.clear();
    }
    model.view.search.query.push_str(&typed);
    model.open_search();
}

/// Whether a story is read; `None` when the store no longer holds it (nothing to mark).
pub(super) fn is_read(model: &Model, story: &StoryRef) -> Option<bool> {
    match model.story(story)? {
        Story::Item(stored) => Some(stored.read),
        Story::Alert(stored) => Some(stored.read),
        Story::Saved(_) => None,
    }
}

/// Whether a story can be saved (items can, alerts cannot).
pub(super) fn can_save(model: &Model, story: &StoryRef) -> bool {
    matches!(model.story(story), Some(Story::Item(_) | Story::Saved(_)))
}

fn mark_selected_read(model: &Model, effects: &mut Vec<Effect>) {
    if let Some(story) = model.selected_story()
        && is_read(model, &story) == Some(false)
    {
        effects.push(Effect::SetRead {
            channel: story.channel,
            key: story.key,
            read: true,
        });
    }
}

fn selected_link(model: &Model) -> Option<String> {
    let story = model.selected_story()?;
    match model.story(&story)? {
        Story::Item(stored) => stored.item.link.clone(),
        Story::Alert(stored) => stored.alert.link.clone(),
        Story::Saved(saved) => saved.item.link.clone(),
    }
    .filter(|link| openable(link))
}

fn top_bar_ui(ui: &mut Ui, model: &mut Model, palette: &Palette, effects: &mut Vec<Effect>) {
    ui.horizontal(|ui| {
        ui.label(
            RichText::new("Tidings")
                .size(size::HEADING)
                .strong()
                .color(palette.on_title_bar),
        );
        ui.add_space(GAP * 3.0);
        search_view::search_box_ui(ui, model, palette);
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui
                .button("Settings")
                .on_hover_text(
                    "Server, channels and feeds (Ctrl+N adds a feed), location, units, ticker, \
                     SmartScreen, theme",
                )
                .clicked()
            {
                model.view.settings = Some(SettingsDraft::new(&model.settings));
            }
            if ui
                .button("SmartScreen")
                .on_hover_text("Full-screen headlines, weather and clock; any key ends it")
                .clicked()
            {
                effects.push(Effect::StartSmartScreen);
            }
            let mut ticker_on = model.settings.ticker.enabled;
            if ui
                .toggle_value(&mut ticker_on, "Ticker")
                .on_hover_text("Show or hide the scrolling ticker")
                .changed()
            {
                let mut settings = model.settings.clone();
                settings.ticker.enabled = ticker_on;
                effects.push(Effect::ApplySettings(settings));
            }
        });
    });
}

fn alert_banner_ui(ui: &mut Ui, model: &mut Model, stored: &StoredAlert, palette: &Palette) {
    let alert = &stored.alert;
    let (fill, text) = palette.severity(alert.severity);
    let fill = if alert.status == AlertStatus::Cancelled {
        palette.panel
    } else {
        fill
    };
    let text = if alert.status == AlertStatus::Cancelled {
        palette.text_weak
    } else {
        text
    };
    let response = egui::Frame::new()
        .fill(fill)
        .inner_margin(Margin::symmetric(14, 8))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                let word = match (alert.status, alert.severity) {
                    (AlertStatus::Cancelled, _) => "CANCELLED",
                    (_, Severity::Critical) => "CRITICAL",
                    (_, Severity::Warning) => "WARNING",
                    (_, Severity::Notice) => "NOTICE",
                    (_, Severity::Info) => "INFO",
                };
                ui.label(RichText::new(word).size(size::SMALL).strong().color(text));
                ui.label(
                    RichText::new(&alert.title)
                        .size(size::BODY)
                        .strong()
                        .color(text),
                );
                if let Some(area) = &alert.area {
                    ui.label(RichText::new(area).size(size::SMALL).color(text));
                }
                if let Some(expires) = alert.expires {
                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                        ui.label(
                            RichText::new(format!(
                                "until {}",
                                expires.with_timezone(&chrono::Local).format("%a %H:%M")
                            ))
                            .size(size::SMALL)
                            .color(text),
                        );
                    });
                }
            });
        })
        .response
        .interact(Sense::click());
    let label = format!("Alert: {}", alert.title);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
    if response.clicked() {
        model.select_channel(alert.channel.clone());
        model.view.item = Some(alert.key.clone());
    }
}

fn status_ui(ui: &mut Ui, model: &Model, palette: &Palette, effects: &mut Vec<Effect>) {
    let local = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&chrono::Local);
    let status = format::status_line(
        &model.connection,
        model.retry_left(),
        model.cached_at.map(local),
        model.last_change.map(local),
    );
    let colour = match status.tone {
        Tone::Good => palette.good,
        Tone::Neutral => palette.text_weak,
        Tone::Caution => palette.caution,
        Tone::Bad => palette.bad,
    };
    ui.horizontal(|ui| {
        let (dot, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
        ui.painter().circle_filled(dot.center(), 4.5, colour);
        ui.label(
            RichText::new(&status.text)
                .size(size::SMALL)
                .color(palette.text),
        )
        .on_hover_text(format::connection_tooltip(
            &model.connection,
            model.settings.server == super::settings::ServerChoice::Embedded,
        ));
        if matches!(status.tone, Tone::Caution)
            && ui
                .small_button("Retry now")
                .on_hover_text("Try to reconnect at once")
                .clicked()
        {
            effects.push(Effect::ReconnectNow);
        }
        if let Some(notice) = &model.notice {
            ui.separator();
            ui.label(
                RichText::new(notice)
                    .size(size::SMALL)
                    .color(palette.caution),
            );
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let unread: usize = model.channel_rows().iter().map(|r| r.unread).sum();
            ui.label(
                RichText::new(format!("{unread} unread"))
                    .size(size::SMALL)
                    .color(palette.text_weak),
            );
        });
    });
}

fn channel_column_ui(ui: &mut Ui, model: &mut Model, palette: &Palette, effects: &mut Vec<Effect>) {
    egui::Panel::bottom("weather-card")
        .frame(egui::Frame::new().inner_margin(Margin {
            left: 0,
            right: 0,
            top: 8,
            bottom: 0,
        }))
        .show(ui, |ui| {
            egui::Frame::new()
                .fill(palette.raised)
                .stroke(Stroke::new(1.0, palette.border))
                .corner_radius(6.0)
                .inner_margin(Margin::same(10))
                .show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    weather_view::compact_ui(ui, model, palette);
                })
                .response
                .interact(Sense::click())
                .on_hover_text("Open the Weather channel")
                .clicked()
                .then(|| {
                    let weather = model
                        .channel_rows()
                        .into_iter()
                        .find(|row| row.info.kind == ChannelKind::Weather);
                    if let Some(row) = weather {
                        model.select_channel(row.info.id);
                    }
                });
        });
    let rows = model.channel_rows();
    let in_channels = model.view.section == Section::Channel && !model.view.search.open;
    let current = model
        .current_channel()
        .map(|c| c.info.id)
        .filter(|_| in_channels);
    let saved_open = model.view.section == Section::Saved && !model.view.search.open;
    if saved_row_ui(ui, model.saved.len(), saved_open, palette).clicked() {
        model.show_saved();
    }
    ui.add_space(4.0);
    let (line, _) = ui.allocate_exact_size(vec2(ui.available_width(), 9.0), Sense::hover());
    ui.painter().hline(
        line.x_range().shrink(6.0),
        line.center().y,
        Stroke::new(1.0, palette.border),
    );
    ui.add_space(4.0);
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (index, row) in rows.iter().enumerate() {
                let selected = current.as_ref() == Some(&row.info.id);
                let response = channel_row_ui(ui, row, index, selected, palette);
                if response.clicked() {
                    model.select_channel(row.info.id.clone());
                }
                response.context_menu(|ui| {
                    if ui.button("Mark all read").clicked() {
                        effects.push(Effect::MarkChannelRead(row.info.id.clone()));
                        ui.close();
                    }
                });
            }
        });
}

/// The Saved entry at the top of the channel column: a star, the name and how many.
fn saved_row_ui(ui: &mut Ui, count: usize, selected: bool, palette: &Palette) -> egui::Response {
    let height = 34.0;
    let (rect, response) =
        ui.allocate_exact_size(vec2(ui.available_width(), height), Sense::click());
    let painter = ui.painter_at(rect);
    painter.rect_filled(
        rect,
        CornerRadius::same(5),
        row_fill(selected, response.hovered(), palette),
    );
    icons::paint_star(
        &painter,
        egui::pos2(rect.left() + 11.0, rect.center().y),
        6.5,
        count > 0,
        if count > 0 {
            palette.star
        } else {
            palette.text_weak
        },
    );
    let title = painter.layout_no_wrap(
        "Saved".to_owned(),
        egui::FontId::proportional(size::BODY),
        palette.text,
    );
    painter.galley(
        rect.left_center() + vec2(24.0, -title.size().y / 2.0),
        title,
        palette.text,
    );
    if count > 0 {
        let galley = painter.layout_no_wrap(
            count.to_string(),
            egui::FontId::proportional(size::SMALL),
            palette.text_weak,
        );
        let badge = egui::Rect::from_min_size(
            egui::pos2(
                rect.right() - 8.0 - galley.size().x - 12.0,
                rect.center().y - 9.0,
            ),
            vec2(galley.size().x + 12.0, 18.0),
        );
        painter.rect_stroke(
            badge,
            CornerRadius::same(9),
            Stroke::new(1.0, palette.border),
            egui::StrokeKind::Inside,
        );
        painter.galley(
            badge.center() - galley.size() / 2.0,
            galley,
            palette.text_weak,
        );
    }
    let label = "Saved".to_owned();
    response.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &label));
    response.on_hover_text(format!(
        "Stories you starred, kept on this computer ({count})\n\nKey: 0"
    ))
}

fn channel_row_ui(
    ui: &mut Ui,
    row: &ChannelRow,
    index: usize,
    selected: bool,
    palette: &Palette,
) -> egui::Response {
    let height = 34.0;
    let (rect, response) =
        ui.allocate_exact_size(vec2(ui.available_width(), height), Sense::click());
    let painter = ui.painter_at(rect);
    let fill = row_fill(selected, response.hovered(), palette);
    painter.rect_filled(rect, CornerRadius::same(5), fill);
    let colour = channel_colour(&row.info.colour);
    let bar = egui::Rect::from_min_size(rect.min + vec2(4.0, 7.0), vec2(4.0, height - 14.0));
    painter.rect_filled(bar, CornerRadius::same(2), colour);
    let text_colour = palette.text;
    let title = painter.layout_no_wrap(
        row.info.title.clone(),
        egui::FontId::proportional(size::BODY),
        text_colour,
    );
    let title_pos = rect.left_center() + vec2(16.0, -title.size().y / 2.0);
    let mut right = rect.right() - 8.0;
    if row.unread > 0 {
        let text = if row.unread > 999 {
            "999+".to_owned()
        } else {
            row.unread.to_string()
        };
        let galley = painter.layout_no_wrap(
            text,
            egui::FontId::proportional(size::SMALL),
            palette.on_accent,
        );
        let badge = egui::Rect::from_min_size(
            egui::pos2(right - galley.size().x - 12.0, rect.center().y - 9.0),
            vec2(galley.size().x + 12.0, 18.0),
        );
        painter.rect_filled(badge, CornerRadius::same(9), palette.accent);
        painter.galley(
            badge.center() - galley.size() / 2.0,
            galley,
            palette.on_accent,
        );
        right = badge.left() - 6.0;
    }
    if row.info.health.status != HealthStatus::Ok {
        let colour = if row.info.health.status == HealthStatus::Failing {
            palette.bad
        } else {
            palette.caution
        };
        let centre = egui::pos2(right - 6.0, rect.center().y);
        painter.add(egui::Shape::convex_polygon(
            vec![
                centre + vec2(0.0, -6.0),
                centre + vec2(6.0, 5.0),
                centre + vec2(-6.0, 5.0),
            ],
            colour,
            Stroke::NONE,
        ));
        right -= 16.0;
    }
    let clip = egui::Rect::from_min_max(rect.min, egui::pos2(right, rect.max.y));
    ui.painter()
        .with_clip_rect(clip)
        .galley(title_pos, title, text_colour);
    let mut hover = row.info.description.clone();
    if let Some(message) = &row.info.health.message {
        hover.push_str("\n\n");
        hover.push_str(message);
    }
    if index < 9 {
        hover.push_str(&format!("\n\nKey: {}", index + 1));
    }
    let label = row.info.title.clone();
    response.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &label));
    response.on_hover_text(hover)
}

fn channel_header_ui(
    ui: &mut Ui,
    row: &ChannelRow,
    palette: &Palette,
    count: usize,
    effects: &mut Vec<Effect>,
) {
    super::theme::list_header_frame().show(ui, |ui| {
        ui.horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(vec2(12.0, 12.0), Sense::hover());
            ui.painter()
                .circle_filled(rect.center(), 6.0, channel_colour(&row.info.colour));
            ui.label(
                RichText::new(&row.info.title)
                    .size(size::HEADING)
                    .color(palette.text),
            );
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                if row.unread > 0 && ui.small_button("Mark all read").clicked() {
                    effects.push(Effect::MarkChannelRead(row.info.id.clone()));
                }
                ui.label(
                    RichText::new(format!("{count} shown"))
                        .size(size::SMALL)
                        .color(palette.text_weak),
                );
            });
        });
        if let Some(message) = &row.info.health.message {
            ui.label(
                RichText::new(message)
                    .size(size::SMALL)
                    .color(palette.caution),
            );
        } else if !row.info.description.is_empty() {
            ui.label(
                RichText::new(&row.info.description)
                    .size(size::SMALL)
                    .color(palette.text_weak),
            );
        }
    });
}

fn item_list_ui(
    ui: &mut Ui,
    model: &mut Model,
    channel: &ChannelRow,
    palette: &Palette,
    effects: &mut Vec<Effect>,
) {
    let items: Vec<StoredItem> = model
        .visible_items(&channel.info.id)
        .into_iter()
        .cloned()
        .collect();
    channel_header_ui(ui, channel, palette, items.len(), effects);
    if items.is_empty() {
        let failing = channel.info.health.status == HealthStatus::Failing;
        let (title, body) = if failing {
            (
                "This channel's feeds cannot be reached",
                format!(
                    "{}\n\nNo internet here? Start Tidings with --demo (cargo run --release -- --demo) to try it with bundled, fictional content.",
                    channel
                        .info
                        .health
                        .message
                        .as_deref()
                        .unwrap_or("The server cannot fetch them.")
                ),
            )
        } else {
            (
                "Nothing here yet",
                "New headlines appear here as soon as the server has them.".to_owned(),
            )
        };
        weather_view::empty_ui(ui, palette, title, &body);
        return;
    }
    let selected_index = items
        .iter()
        .position(|s| model.view.item.as_ref() == Some(&s.item.key));
    story_list_ui(
        ui,
        model,
        items.len(),
        selected_index,
        |ui, model, index, rect, selected| {
            let Some(stored) = items.get(index) else {
                return;
            };
            let item = &stored.item;
            let image = item.image.as_deref().filter(|u| openable(u));
            if let Some(url) = image {
                if model.thumbnails.wants(url) {
                    effects.push(Effect::LoadImage(url.to_owned()));
                } else {
                    model.thumbnails.touch(url);
                }
            }
            let summary = item.body.as_ref().map(|body| body.replace('\n', " "));
            let saved = model.is_saved(&channel.info.id, &item.key);
            let spec = RowSpec {
                id: ui.scope_id().with(("item", item.key.as_str())),
                title: &item.title,
                title_marks: &[],
                summary: summary.as_deref(),
                summary_marks: &[],
                meta: format::item_meta(item.source.as_deref(), item.published, model.now),
                channel: None,
                badge: None,
                read: stored.read,
                saved: Some(saved),
                image,
            };
            let response =
                rows::story_row_ui(ui, rect, &spec, selected, &model.thumbnails, palette);
            if response.star.as_ref().is_some_and(egui::Response::clicked) {
                effects.push(Effect::SetSaved {
                    channel: channel.info.id.clone(),
                    key: item.key.clone(),
                    saved: !saved,
                });
            } else if response.row.clicked() {
                model.view.item = Some(item.key.clone());
                model.view.channel = Some(channel.info.id.clone());
                if !stored.read {
                    effects.push(Effect::SetRead {
                        channel: channel.info.id.clone(),
                        key: item.key.clone(),
                        read: true,
                    });
                }
            }
            if response.row.double_clicked()
                && let Some(link) = item.link.clone().filter(|l| openable(l))
            {
                effects.push(Effect::OpenLink(link));
            }
        },
    );
}

/// A scrolling list of `count` rows of one fixed height, laying out only the rows in view (a
/// channel holds up to 200 items and a search can find thousands, and the ticker strip
/// repaints the window 30 times a second). `row` paints row `index` into its rect; the list
/// scrolls to `selected` after a keyboard move.
pub(super) fn story_list_ui(
    ui: &mut Ui,
    model: &mut Model,
    count: usize,
    selected: Option<usize>,
    mut row: impl FnMut(&mut Ui, &mut Model, usize, egui::Rect, bool),
) {
    let row_height = rows::row_height(ui);
    let scroll_to = selected.filter(|_| model.view.scroll_to_selection);
    model.view.scroll_to_selection = false;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show_viewport(ui, |ui, viewport| {
            let width = ui.available_width();
            ui.set_height(row_height * count as f32);
            let top = ui.min_rect().top();
            let left = ui.min_rect().left();
            let rect_of = |index: usize| {
                egui::Rect::from_min_size(
                    egui::pos2(left, top + row_height * index as f32),
                    vec2(width, row_height),
                )
            };
            if let Some(index) = scroll_to {
                ui.scroll_to_rect(rect_of(index), None);
            }
            let first = (viewport.top() / row_height).floor().max(0.0) as usize;
            let last = ((viewport.bottom() / row_height).ceil() as usize).min(count);
            for index in first..last {
                row(ui, model, index, rect_of(index), selected == Some(index));
            }
        });
}

fn alert_list_ui(
    ui: &mut Ui,
    model: &mut Model,
    channel: &ChannelRow,
    palette: &Palette,
    effects: &mut Vec<Effect>,
) {
    // Each hazard once, however many of the user's places it covers.
    let alerts: Vec<StoredAlert> = model
        .store
        .channel(&channel.info.id)
        .map(|c| c.distinct_alerts().into_iter().cloned().collect())
        .unwrap_or_default();
    channel_header_ui(ui, channel, palette, alerts.len(), effects);
    if alerts.is_empty() {
        weather_view::empty_ui(
            ui,
            palette,
            "No active alerts",
            "Severe-weather warnings for your location and alerts from your organisation appear here, and take over the ticker while they last.",
        );
        return;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for stored in &alerts {
                let alert = &stored.alert;
                let selected = model.view.item.as_ref() == Some(&alert.key);
                let (fill, on_fill) = palette.severity(alert.severity);
                let response = egui::Frame::new()
                    .fill(if selected {
                        palette.raised
                    } else {
                        palette.background
                    })
                    .stroke(Stroke::new(1.0, palette.border))
                    .corner_radius(6.0)
                    .outer_margin(Margin::symmetric(12, 4))
                    .inner_margin(Margin::same(12))
                    .show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        ui.horizontal(|ui| {
                            let word = if alert.status == AlertStatus::Cancelled {
                                "Cancelled".to_owned()
                            } else {
                                format!("{:?}", alert.severity)
                            };
                            egui::Frame::new()
                                .fill(if alert.status == AlertStatus::Cancelled {
                                    palette.panel
                                } else {
                                    fill
                                })
                                .corner_radius(4.0)
                                .inner_margin(Margin::symmetric(6, 2))
                                .show(ui, |ui| {
                                    ui.label(RichText::new(word).size(size::SMALL).strong().color(
                                        if alert.status == AlertStatus::Cancelled {
                                            palette.text_weak
                                        } else {
                                            on_fill
                                        },
                                    ));
                                });
                            ui.label(
                                RichText::new(format::relative_time(alert.updated, model.now))
                                    .size(size::SMALL)
                                    .color(palette.text_weak),
                            );
                        });
                        ui.label(
                            RichText::new(&alert.title)
                                .size(size::TITLE)
                                .color(palette.text),
                        );
                        if let Some(area) = &alert.area {
                            ui.label(
                                RichText::new(area)
                                    .size(size::SMALL)
                                    .color(palette.text_weak),
                            );
                        }
                    })
                    .response
                    .interact(Sense::click());
                let label = alert.title.clone();
                response.widget_info(|| {
                    egui::WidgetInfo::selected(egui::Role::Button, true, selected, &label)
                });
                if response.clicked() {
                    model.view.item = Some(alert.key.clone());
                    model.view.channel = Some(channel.info.id.clone());
                    if !stored.read {
                        effects.push(Effect::SetRead {
                            channel: channel.info.id.clone(),
                            key: alert.key.clone(),
                            read: true,
                        });
                    }
                }
            }
        });
}

/// The detail pane on the right, resizable.
fn detail_panel_ui(
    ui: &mut Ui,
    model: &mut Model,
    story: &StoryRef,
    palette: &Palette,
    effects: &mut Vec<Effect>,
) {
    egui::Panel::right("detail")
        .resizable(true)
        .default_size((ui.available_width() * 0.48).max(320.0))
        .size_range(300.0..=900.0)
        .frame(
            egui::Frame::new()
                .fill(palette.raised)
                .inner_margin(Margin::same(20))
                .stroke(Stroke::new(1.0, palette.border)),
        )
        .show(ui, |ui| {
            detail_ui(ui, model, story, palette, false, effects)
        });
}

/// Forgets the selection the detail pane shows (Back, or a story that went away).
fn clear_selection(model: &mut Model) {
    if model.view.search.open || model.view.section == Section::Saved {
        model.view.pick = None;
    } else {
        model.view.item = None;
    }
}

fn detail_ui(
    ui: &mut Ui,
    model: &mut Model,
    story: &StoryRef,
    palette: &Palette,
    with_back: bool,
    effects: &mut Vec<Effect>,
) {
    if with_back && ui.button("Back to the list").clicked() {
        clear_selection(model);
        return;
    }
    let (channel_title, channel_hex) = model.channel_label(&story.channel);
    let colour = channel_colour(&channel_hex);
    let found = match model.story(story) {
        Some(Story::Item(stored)) => Some((stored.item.clone(), Some(stored.read))),
        Some(Story::Saved(saved)) => Some((saved.item.clone(), None)),
        Some(Story::Alert(_)) | None => None,
    };
    let alert = match model.story(story) {
        Some(Story::Alert(stored)) => Some(stored.clone()),
        _ => None,
    };
    let key = story.key.clone();
    if let Some((item, read)) = found {
        let saved = model.is_saved(&story.channel, &story.key);
        let kept_copy = read.is_none();
        let item = &item;
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    egui::Frame::new()
                        .fill(colour)
                        .corner_radius(4.0)
                        .inner_margin(Margin::symmetric(6, 2))
                        .show(ui, |ui| {
                            ui.label(
                                RichText::new(&channel_title)
                                    .size(size::SMALL)
                                    .strong()
                                    .color(readable_on(colour)),
                            );
                        });
                    let meta = format::item_meta(item.source.as_deref(), item.published, model.now);
                    ui.label(
                        RichText::new(meta)
                            .size(size::SMALL)
                            .color(palette.text_weak),
                    );
                });
                ui.add_space(GAP);
                if let Some(Thumb::Ready(texture)) = item
                    .image
                    .as_deref()
                    .and_then(|url| model.thumbnails.get(url))
                {
                    let [w, h] = texture.size().map(|v| v as f32);
                    let width = ui.available_width().min(560.0);
                    let height = (width * h / w.max(1.0)).min(300.0);
                    let (frame, _) = ui.allocate_exact_size(vec2(width, height), Sense::hover());
                    paint_thumbnail(
                        ui.painter(),
                        frame,
                        Some(&Thumb::Ready(texture.clone())),
                        palette,
                    );
                    ui.add_space(GAP);
                }
                ui.label(
                    RichText::new(&item.title)
                        .size(size::DISPLAY)
                        .strong()
                        .color(palette.text),
                );
                ui.add_space(GAP);
                if let Some(body) = &item.body {
                    ui.label(
                        RichText::new(body)
                            .size(size::BODY + 1.0)
                            .color(palette.text),
                    );
                }
                ui.add_space(GAP * 2.0);
                ui.horizontal(|ui| {
                    let link = item.link.clone().filter(|l| openable(l));
                    let open = ui.add_enabled(link.is_some(), egui::Button::new("Open in browser"));
                    if let Some(link) = link
                        && open.on_hover_text(&link).clicked()
                    {
                        effects.push(Effect::OpenLink(link));
                    }
                    if let Some(read) = read {
                        let toggle = if read { "Mark unread" } else { "Mark read" };
                        if ui.button(toggle).on_hover_text("m").clicked() {
                            effects.push(Effect::SetRead {
                                channel: story.channel.clone(),
                                key: key.clone(),
                                read: !read,
                            });
                        }
                    }
                    if save_button_ui(ui, saved, palette).clicked() {
                        effects.push(Effect::SetSaved {
                            channel: story.channel.clone(),
                            key: key.clone(),
                            saved: !saved,
                        });
                    }
                });
                if kept_copy {
                    ui.add_space(GAP);
                    ui.label(
                        RichText::new(format!(
                            "Kept in Saved: {channel_title} no longer carries this story."
                        ))
                        .size(size::SMALL)
                        .color(palette.text_weak),
                    );
                }
                let published = item.published.with_timezone(&chrono::Local);
                ui.add_space(GAP);
                ui.label(
                    RichText::new(format!(
                        "Published {}",
                        published.format("%A %-d %B %Y, %H:%M")
                    ))
                    .size(size::SMALL)
                    .color(palette.text_weak),
                );
            });
    } else if let Some(stored) = alert {
        let alert = &stored.alert;
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                let (fill, on_fill) = palette.severity(alert.severity);
                egui::Frame::new()
                    .fill(fill)
                    .corner_radius(4.0)
                    .inner_margin(Margin::symmetric(8, 3))
                    .show(ui, |ui| {
                        let status = match alert.status {
                            AlertStatus::Active => "",
                            AlertStatus::Updated => " · updated",
                            AlertStatus::Cancelled => " · CANCELLED",
                        };
                        let event = alert
                            .event
                            .clone()
                            .unwrap_or_else(|| format!("{:?}", alert.severity));
                        ui.label(
                            RichText::new(format!("{event}{status}"))
                                .size(size::SMALL)
                                .strong()
                                .color(on_fill),
                        );
                    });
                ui.add_space(GAP);
                ui.label(
                    RichText::new(&alert.title)
                        .size(size::DISPLAY)
                        .strong()
                        .color(palette.text),
                );
                let local = |t: chrono::DateTime<chrono::Utc>| {
                    t.with_timezone(&chrono::Local)
                        .format("%a %-d %b %H:%M")
                        .to_string()
                };
                let facts = [
                    ("Area", alert.area.clone()),
                    ("From", alert.source.clone()),
                    ("Begins", alert.onset.map(local)),
                    ("Ends", alert.expires.map(local)),
                    ("Issued", Some(local(alert.published))),
                ];
                ui.add_space(GAP);
                egui::Grid::new("alert-facts")
                    .num_columns(2)
                    .spacing(vec2(GAP * 2.0, 4.0))
                    .show(ui, |ui| {
                        for (name, value) in facts {
                            if let Some(value) = value {
                                ui.label(
                                    RichText::new(name)
                                        .size(size::SMALL)
                                        .color(palette.text_weak),
                                );
                                ui.label(RichText::new(value).size(size::BODY).color(palette.text));
                                ui.end_row();
                            }
                        }
                    });
                if let Some(body) = &alert.body {
                    ui.add_space(GAP);
                    ui.label(RichText::new(body).size(size::BODY).color(palette.text));
                }
                if let Some(instruction) = &alert.instruction {
                    ui.add_space(GAP);
                    ui.label(
                        RichText::new("What to do")
                            .size(size::BODY)
                            .strong()
                            .color(palette.text),
                    );
                    ui.label(
                        RichText::new(instruction)
                            .size(size::BODY)
                            .color(palette.text),
                    );
                }
                ui.add_space(GAP * 2.0);
                let link = alert.link.clone().filter(|l| openable(l));
                if let Some(link) = link
                    && ui.button("Open in browser").on_hover_text(&link).clicked()
                {
                    effects.push(Effect::OpenLink(link));
                }
            });
    } else {
        clear_selection(model);
    }
}

/// The detail pane's star button: "Save" with an empty star, or "Saved" with a filled one.
fn save_button_ui(ui: &mut Ui, saved: bool, palette: &Palette) -> egui::Response {
    let text = if saved { "Saved" } else { "Save" };
    let galley = ui.painter().layout_no_wrap(
        text.to_owned(),
        egui::FontId::proportional(size::BODY),
        palette.text,
    );
    let padding = ui.spacing().button_padding;
    let size = vec2(
        padding.x * 2.0 + 18.0 + galley.size().x,
        (galley.size().y + padding.y * 2.0).max(ui.spacing().interact_size.y),
    );
    let (rect, response) = ui.allocate_exact_size(size, Sense::click());
    let visuals = ui.style().interact(&response);
    ui.painter().rect(
        rect,
        visuals.corner_radius,
        visuals.weak_bg_fill,
        visuals.bg_stroke,
        egui::StrokeKind::Inside,
    );
    let star = egui::pos2(rect.left() + padding.x + 6.0, rect.center().y);
    icons::paint_star(
        ui.painter(),
        star,
        6.5,
        saved,
        if saved {
            palette.star
        } else {
            visuals.text_color()
        },
    );
    ui.painter().galley(
        egui::pos2(
            rect.left() + padding.x + 18.0,
            rect.center().y - galley.size().y / 2.0,
        ),
        galley,
        visuals.text_color(),
    );
    response.widget_info(|| egui::WidgetInfo::selected(egui::Role::CheckBox, true, saved, text));
    response.on_hover_text(if saved {
        "Remove from Saved (s)"
    } else {
        "Keep this story in Saved, even after it leaves the channel (s)"
    })
}

/// Black or white, whichever reads better on `fill`.
#[must_use]
pub fn readable_on(fill: Color32) -> Color32 {
    if super::theme::contrast(Color32::WHITE, fill) >= super::theme::contrast(Color32::BLACK, fill)
    {
        Color32::WHITE
    } else {
        Color32::BLACK
    }
}

/// Minimum size the main window accepts.
pub const MIN_SIZE: Vec2 = vec2(720.0, 480.0);
