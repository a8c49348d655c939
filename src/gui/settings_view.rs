//! The Settings dialog: edits a [`SettingsDraft`](super::model::SettingsDraft) and, on Save, returns
//! [`Effect::ApplySettings`]; the app saves the file and applies the change without a restart.

use egui::{Align, Layout, RichText, Ui};

use super::format;
use super::model::{Effect, Model, PlaceSearch, SettingsTab};
use super::settings::{
    MAX_PLACES, NotifyLevel, TemperatureUnit, ThemeChoice, TickerPosition, WindUnit,
};
use super::theme::{GAP, Palette, size};
use crate::protocol::{ChannelId, ChannelKind};

/// Shows the dialog while `model.view.settings` is set.
pub fn settings_window(
    ctx: &egui::Context,
    model: &mut Model,
    palette: &Palette,
    effects: &mut Vec<Effect>,
) {
    let Some(mut draft) = model.view.settings.take() else {
        return;
    };
    let mut close = false;
    let screen = ctx.content_rect();
    let width = 560.0_f32.min(screen.width() - 48.0);
    let modal = egui::Modal::new(egui::Id::unique("settings-dialog"))
        .frame(super::theme::dialog_frame(palette))
        .show(ctx, |ui| {
            ui.set_width(width);
            ui.horizontal(|ui| {
                ui.label(RichText::new("Settings").size(size::HEADING).strong());
                ui.add_space(GAP * 2.0);
                for tab in SettingsTab::ALL {
                    ui.selectable_value(&mut draft.tab, tab, tab.label());
                }
            });
            ui.separator();
            egui::ScrollArea::vertical()
                .max_height((screen.height() - 200.0).max(200.0))
                .auto_shrink([false, true])
                .show(ui, |ui| match draft.tab {
                    SettingsTab::General => {
                        server_section(ui, &mut draft, palette);
                        places_section(ui, model, &mut draft, palette, effects);
                        units_section(ui, &mut draft);
                    }
                    SettingsTab::Channels => {
                        let managed =
                            super::lineup_view::add_feed_section(ui, model, palette, effects);
                        channels_section(ui, model, &mut draft, palette);
                        if managed {
                            super::lineup_view::feeds_section(ui, model, palette, effects);
                        }
                    }
                    SettingsTab::Notifications => {
                        notifications_section(ui, model, &mut draft, palette);
                    }
                    SettingsTab::Display => {
                        theme_section(ui, &mut draft);
                        ticker_section(ui, &mut draft);
                        smartscreen_section(ui, model, &mut draft, palette);
                    }
                });
            ui.separator();
            if let Some(error) = &draft.error {
                ui.label(RichText::new(error).color(palette.bad));
            }
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                if ui.button("Save").clicked() {
                    match draft.finish() {
                        Ok(settings) => {
                            effects.push(Effect::ApplySettings(settings));
                            close = true;
                        }
                        Err(error) => draft.error = Some(error),
                    }
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
    // Escape or a click outside cancels.
    let open = !modal.should_close();
    if open && !close {
        model.view.settings = Some(draft);
    } else {
        model.view.places = PlaceSearch::Idle;
    }
}

/// The state of a place search, and its results as buttons; returns the place clicked.
pub(super) fn place_results(
    ui: &mut Ui,
    search: &PlaceSearch,
    palette: &Palette,
    enabled: bool,
) -> Option<crate::protocol::Place> {
    match search {
        PlaceSearch::Idle => None,
        PlaceSearch::Searching => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Searching…");
            });
            None
        }
        PlaceSearch::Failed(error) => {
            ui.label(RichText::new(error).color(palette.bad));
            None
        }
        PlaceSearch::Found(found) if found.is_empty() => {
            ui.label(RichText::new("No place of that name").color(palette.text_weak));
            None
        }
        PlaceSearch::Found(found) => {
            let mut chosen = None;
            for place in found {
                let mut label = place.label();
                if let Some(population) = place.population {
                    label.push_str(&format!("  ({} people)", format::thousands(population)));
                }
                if ui
                    .add_enabled(enabled, egui::Button::selectable(false, label))
                    .on_hover_text("Add to the places")
                    .clicked()
                {
                    chosen = Some(place.clone());
                }
            }
            chosen
        }
    }
}

/// A section heading.
pub(super) fn section(ui: &mut Ui, title: &str) {
    ui.add_space(GAP);
    ui.label(RichText::new(title).size(size::TITLE).strong());
    ui.add_space(2.0);
}

fn server_section(ui: &mut Ui, draft: &mut super::model::SettingsDraft, palette: &Palette) {
    section(ui, "Server");
    ui.radio_value(
        &mut draft.embedded,
        true,
        "Built in (this computer fetches its own news)",
    );
    ui.radio_value(&mut draft.embedded, false, "A shared Tidings server");
    ui.add_enabled_ui(!draft.embedded, |ui| {
        egui::Grid::new("server-grid")
            .num_columns(2)
            .show(ui, |ui| {
                ui.label("Address");
                ui.add(
                    egui::TextEdit::singleline(&mut draft.server_url)
                        .hint_text("http://news.example.org:8080")
                        .desired_width(320.0),
                );
                ui.end_row();
                ui.label("Token");
                ui.add(
                    egui::TextEdit::singleline(&mut draft.token)
                        .password(true)
                        .hint_text("only needed to publish")
                        .desired_width(320.0),
                );
                ui.end_row();
            });
    });
    hint(
        ui,
        palette,
        "An office runs one server so each feed crosses the internet once. Several servers of \
         one cluster go in one line, separated by commas: when one cannot be reached, the next \
         takes over where it left off.",
    );
}

fn places_section(
    ui: &mut Ui,
    model: &mut Model,
    draft: &mut super::model::SettingsDraft,
    palette: &Palette,
    effects: &mut Vec<Effect>,
) {
    section(ui, "Weather places");
    let places = draft.settings.locations.clone();
    if places.is_empty() {
        ui.label(RichText::new("No places yet: search a city below.").color(palette.text_weak));
    }
    let mut action = None;
    // The name takes what the three buttons leave, so the rows span the dialog.
    let name_width = (ui.available_width() - 3.0 * 34.0).max(200.0);
    egui::Grid::new("places-grid")
        .num_columns(4)
        .striped(true)
        .min_col_width(0.0)
        .show(ui, |ui| {
            let count = places.len();
            for (index, place) in places.iter().enumerate() {
                ui.horizontal(|ui| {
                    ui.set_min_width(name_width);
                    ui.label(
                        RichText::new(format!("{}", index + 1))
                            .size(size::SMALL)
                            .color(palette.text_weak),
                    );
                    ui.label(&place.name).on_hover_text(format!(
                        "{:.4}, {:.4}: the server sees only {}",
                        place.latitude,
                        place.longitude,
                        place.cell()
                    ));
                });
                let name = place.short_name();
                if arrow_button(ui, true, index > 0, &format!("Move {name} up"))
                    .on_hover_text("Move up")
                    .clicked()
                {
                    action = Some(PlaceAction::Move(index, true));
                }
                if arrow_button(ui, false, index + 1 < count, &format!("Move {name} down"))
                    .on_hover_text("Move down")
                    .clicked()
                {
                    action = Some(PlaceAction::Move(index, false));
                }
                if remove_button(ui, &format!("Remove {name}"))
                    .on_hover_text("Remove")
                    .clicked()
                {
                    action = Some(PlaceAction::Remove(index));
                }
                ui.end_row();
            }
        });
    match action {
        Some(PlaceAction::Move(index, up)) => draft.move_place(index, up),
        Some(PlaceAction::Remove(index)) => draft.remove_place(index),
        None => {}
    }
    let full = draft.settings.locations.len() >= MAX_PLACES;
    ui.add_space(GAP / 2.0);
    ui.add_enabled_ui(!full, |ui| {
        ui.horizontal(|ui| {
            let label = ui.label("Add a place").id;
            let response = ui
                .add(
                    egui::TextEdit::singleline(&mut draft.place_query)
                        .hint_text("Search a city")
                        .desired_width(240.0),
                )
                .labelled_by(label);
            let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Search").clicked() || enter)
                && draft.place_query.trim().chars().count() >= 2
            {
                model.view.places = PlaceSearch::Searching;
                effects.push(Effect::SearchPlaces(draft.place_query.trim().to_owned()));
            }
        });
    });
    if let Some(place) = place_results(ui, &model.view.places, palette, !full) {
        draft.add_place(&place);
        if draft.place_note.is_none() {
            model.view.places = PlaceSearch::Idle;
            draft.place_query.clear();
        }
    }
    ui.add_enabled_ui(!full, |ui| {
        ui.horizontal(|ui| {
            ui.label(RichText::new("or by position:").color(palette.text_weak));
            let label = ui.label("Latitude").id;
            ui.add(egui::TextEdit::singleline(&mut draft.latitude).desired_width(90.0))
                .labelled_by(label);
            let label = ui.label("Longitude").id;
            ui.add(egui::TextEdit::singleline(&mut draft.longitude).desired_width(90.0))
                .labelled_by(label);
            if ui.button("Add").clicked() {
                draft.add_typed_place();
            }
        });
    });
    if let Some(note) = &draft.place_note {
        ui.label(RichText::new(note).color(palette.caution));
    } else if full {
        hint(
            ui,
            palette,
            &format!("That is {MAX_PLACES} places, the most; remove one to add another."),
        );
    }
    hint(
        ui,
        palette,
        "The first place is the one the weather card and the ticker show; the Weather channel \
         shows them all and the SmartScreen takes them in turn. Only a rounded position (about \
         11 km) of each is sent to the server.",
    );
}

/// What a row of the places list asked for.
enum PlaceAction {
    Move(usize, bool),
    Remove(usize),
}

fn units_section(ui: &mut Ui, draft: &mut super::model::SettingsDraft) {
    section(ui, "Units");
    ui.horizontal(|ui| {
        let units = &mut draft.settings.units;
        ui.radio_value(&mut units.temperature, TemperatureUnit::Celsius, "°C");
        ui.radio_value(&mut units.temperature, TemperatureUnit::Fahrenheit, "°F");
        ui.add_space(GAP * 3.0);
        ui.radio_value(&mut units.wind, WindUnit::Kmh, "km/h");
        ui.radio_value(&mut units.wind, WindUnit::Mph, "mph");
    });
}

fn channels_section(
    ui: &mut Ui,
    model: &Model,
    draft: &mut super::model::SettingsDraft,
    palette: &Palette,
) {
    section(ui, "Show and notify");
    hint(
        ui,
        palette,
        "Untick a channel to hide it. The box says what it may notify you of; the arrows set \
         the order. Keywords per channel are on the Notifications page. Applies on Save.",
    );
    ui.add_space(GAP / 2.0);
    let known = model.store.catalog();
    let mut order = draft.settings.ordered(&known);
    if order.is_empty() {
        ui.label("The server has not described its channels yet.");
        return;
    }
    let mut swap = None;
    egui::Grid::new("channels-grid")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            let count = order.len();
            for (index, pref) in order.iter_mut().enumerate() {
                ui.checkbox(&mut pref.shown, channel_title(model, &pref.id));
                let kind = model
                    .store
                    .channel(&pref.id)
                    .and_then(|c| c.info.as_ref())
                    .map(|info| info.kind);
                // Forecasts never notify; an alerts channel carries nothing but alerts.
                let levels: &[NotifyLevel] = match kind {
                    Some(ChannelKind::Weather) => &[],
                    Some(ChannelKind::Alerts) => &[NotifyLevel::Off, NotifyLevel::AlertsOnly],
                    _ => &NotifyLevel::ALL,
                };
                if levels.is_empty() {
                    ui.label(RichText::new("Never notifies").color(palette.text_weak))
                        .on_hover_text("Severe-weather alerts arrive in the Alerts channel.");
                } else {
                    egui::ComboBox::from_id_salt(("notify", pref.id.as_str()))
                        .selected_text(pref.notify.label())
                        .show_ui(ui, |ui| {
                            for &level in levels {
                                ui.selectable_value(&mut pref.notify, level, level.label());
                            }
                        });
                }
                if arrow_button(ui, true, index > 0, "Move up")
                    .on_hover_text("Move up")
                    .clicked()
                {
                    swap = Some((index, index - 1));
                }
                if arrow_button(ui, false, index + 1 < count, "Move down")
                    .on_hover_text("Move down")
                    .clicked()
                {
                    swap = Some((index, index + 1));
                }
                ui.end_row();
            }
        });
    if let Some((a, b)) = swap {
        order.swap(a, b);
    }
    draft.settings.channels = order;
}

fn ticker_section(ui: &mut Ui, draft: &mut super::model::SettingsDraft) {
    section(ui, "Ticker");
    let ticker = &mut draft.settings.ticker;
    ui.checkbox(&mut ticker.enabled, "Show the ticker");
    ui.add_enabled_ui(ticker.enabled, |ui| {
        egui::ComboBox::from_label("Position")
            .selected_text(ticker.position.label())
            .show_ui(ui, |ui| {
                for position in TickerPosition::ALL {
                    ui.selectable_value(&mut ticker.position, position, position.label());
                }
            });
        ui.add(
            egui::Slider::new(&mut ticker.speed, 10.0..=400.0).text("speed (points per second)"),
        );
        ui.add(egui::Slider::new(&mut ticker.max_fps, 5..=60).text("frames per second at most"));
    });
}

fn smartscreen_section(
    ui: &mut Ui,
    model: &Model,
    draft: &mut super::model::SettingsDraft,
    palette: &Palette,
) {
    section(ui, "SmartScreen");
    let available = !matches!(model.idle_source, Some(Err(_)));
    let smartscreen = &mut draft.settings.smartscreen;
    ui.add_enabled_ui(available, |ui| {
        ui.checkbox(
            &mut smartscreen.enabled,
            "Start the SmartScreen when the computer is idle",
        );
        ui.add_enabled_ui(smartscreen.enabled, |ui| {
            ui.add(egui::Slider::new(&mut smartscreen.idle_minutes, 1..=120).text("idle minutes"));
        });
    });
    if let Some(Err(why)) = &model.idle_source {
        hint(ui, palette, &format!("Not available here: {why}."));
    }
    ui.add_space(GAP / 2.0);
    ui.checkbox(
        &mut draft.settings.autostart,
        "Start the ticker when I log in",
    );
}

fn notifications_section(
    ui: &mut Ui,
    model: &Model,
    draft: &mut super::model::SettingsDraft,
    palette: &Palette,
) {
    use crate::protocol::Severity;
    section(ui, "Alerts");
    let rules = &mut draft.settings.notifications;
    ui.horizontal(|ui| {
        ui.label("Interrupt me for alerts from");
        egui::ComboBox::from_id_salt("min-severity")
            .selected_text(severity_label(rules.min_severity))
            .show_ui(ui, |ui| {
                for severity in [Severity::Notice, Severity::Warning, Severity::Critical] {
                    ui.selectable_value(
                        &mut rules.min_severity,
                        severity,
                        severity_label(severity),
                    );
                }
            });
    });
    hint(
        ui,
        palette,
        "Which channels may interrupt at all is set per channel, on the Channels page.",
    );

    section(ui, "Quiet hours");
    ui.horizontal(|ui| {
        ui.checkbox(&mut draft.quiet, "Quiet from");
        ui.add_enabled_ui(draft.quiet, |ui| {
            ui.add(egui::TextEdit::singleline(&mut draft.quiet_start).desired_width(64.0));
            ui.label("to");
            ui.add(egui::TextEdit::singleline(&mut draft.quiet_end).desired_width(64.0));
        });
    });
    hint(
        ui,
        palette,
        "Only critical alerts break through quiet hours.",
    );

    section(ui, "Keywords");
    keywords_editor(ui, model, draft);
    let scope_title = draft
        .keyword_scope
        .as_ref()
        .map(|id| channel_title(model, id));
    match scope_title {
        None => hint(
            ui,
            palette,
            "Whole words, any case, separated by commas. Each channel can have its own.",
        ),
        Some(title) => hint(
            ui,
            palette,
            &format!(
                "{title}: \u{201c}Only news about\u{201d} replaces the list for all channels; \
                 \u{201c}Never about\u{201d} adds to it."
            ),
        ),
    }

    section(ui, "Grouping and pace");
    let rules = &mut draft.settings.notifications;
    ui.horizontal(|ui| {
        ui.label("Group news arriving within");
        ui.add(
            egui::DragValue::new(&mut rules.coalesce_seconds)
                .range(1..=60)
                .suffix(" s"),
        );
        ui.label("into one notification");
    });
    ui.horizontal(|ui| {
        ui.label("At most");
        ui.add(egui::DragValue::new(&mut rules.burst).range(1..=50));
        ui.label("notifications every");
        ui.add(
            egui::DragValue::new(&mut rules.per_minutes)
                .range(1..=120)
                .suffix(" min"),
        );
    });
    hint(
        ui,
        palette,
        "More news than that is summed up in one notification later.",
    );
}

/// The keyword fields for all channels, or for the one chosen in the "Applies to" box.
fn keywords_editor(ui: &mut Ui, model: &Model, draft: &mut super::model::SettingsDraft) {
    let news: Vec<ChannelId> = draft
        .settings
        .ordered(&model.store.catalog())
        .into_iter()
        .map(|pref| pref.id)
        .filter(|id| {
            model
                .store
                .channel(id)
                .and_then(|c| c.info.as_ref())
                .is_none_or(|info| info.kind == ChannelKind::News)
        })
        .collect();
    let scope_label = |scope: &Option<ChannelId>| {
        scope
            .as_ref()
            .map_or_else(|| "All channels".to_owned(), |id| channel_title(model, id))
    };
    ui.horizontal(|ui| {
        let label = ui.label("Applies to").id;
        egui::ComboBox::from_id_salt("keyword-scope")
            .selected_text(scope_label(&draft.keyword_scope))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut draft.keyword_scope, None, "All channels");
                for id in &news {
                    let own = draft
                        .channel_keywords
                        .get(id)
                        .is_some_and(|(i, e)| !i.trim().is_empty() || !e.trim().is_empty());
                    let label = if own {
                        format!("{} \u{2022}", channel_title(model, id))
                    } else {
                        channel_title(model, id)
                    };
                    let row =
                        ui.selectable_value(&mut draft.keyword_scope, Some(id.clone()), label);
                    if own {
                        row.on_hover_text("Has keywords of its own");
                    }
                }
            })
            .response
            .labelled_by(label);
    });
    let (include, exclude, include_hint) = match &draft.keyword_scope {
        None => (
            &mut draft.include,
            &mut draft.exclude,
            "anything (e.g. rust, climate change)",
        ),
        Some(id) => {
            let (include, exclude) = draft.channel_keywords.entry(id.clone()).or_default();
            (include, exclude, "as for all channels")
        }
    };
    egui::Grid::new("keyword-grid")
        .num_columns(2)
        .show(ui, |ui| {
            let label = ui.label("Only news about").id;
            ui.add(
                egui::TextEdit::singleline(include)
                    .hint_text(include_hint)
                    .desired_width(300.0),
            )
            .labelled_by(label);
            ui.end_row();
            let label = ui.label("Never about").id;
            ui.add(
                egui::TextEdit::singleline(exclude)
                    .hint_text("e.g. sponsored, horoscope")
                    .desired_width(300.0),
            )
            .labelled_by(label);
            ui.end_row();
        });
}

/// A channel's title as the server describes it (its id until then).
fn channel_title(model: &Model, id: &ChannelId) -> String {
    model
        .store
        .channel(id)
        .and_then(|c| c.info.as_ref())
        .map_or_else(|| id.as_str().to_owned(), |info| info.title.clone())
}

/// A line of small, quiet text explaining the setting above it.
pub(super) fn hint(ui: &mut Ui, palette: &Palette, text: &str) {
    ui.label(
        RichText::new(text)
            .size(size::SMALL)
            .color(palette.text_weak),
    );
}

fn severity_label(severity: crate::protocol::Severity) -> &'static str {
    match severity {
        crate::protocol::Severity::Info => "Information",
        crate::protocol::Severity::Notice => "Notices",
        crate::protocol::Severity::Warning => "Warnings",
        crate::protocol::Severity::Critical => "Critical only",
    }
}

fn theme_section(ui: &mut Ui, draft: &mut super::model::SettingsDraft) {
    section(ui, "Theme");
    ui.horizontal(|ui| {
        for theme in ThemeChoice::ALL {
            ui.radio_value(&mut draft.settings.theme, theme, theme.label());
        }
    });
}

/// A small button with a drawn up or down triangle (the default fonts have no arrow glyphs),
/// named `label` for screen readers.
fn arrow_button(ui: &mut Ui, up: bool, enabled: bool, label: &str) -> egui::Response {
    let response = ui.add_enabled(
        enabled,
        egui::Button::new("").min_size(egui::vec2(26.0, 22.0)),
    );
    let colour = if enabled {
        ui.visuals().text_color()
    } else {
        ui.visuals().weak_text_color()
    };
    let c = response.rect.center();
    let (tip, base) = if up { (-4.5, 3.5) } else { (4.5, -3.5) };
    ui.painter().add(egui::Shape::convex_polygon(
        vec![
            c + egui::vec2(0.0, tip),
            c + egui::vec2(5.0, base),
            c + egui::vec2(-5.0, base),
        ],
        colour,
        egui::Stroke::NONE,
    ));
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, enabled, label));
    response
}

/// A small button with a drawn cross, named `label` for screen readers.
fn remove_button(ui: &mut Ui, label: &str) -> egui::Response {
    let response = ui.add(egui::Button::new("").min_size(egui::vec2(26.0, 22.0)));
    let colour = if response.hovered() {
        ui.visuals().error_fg_color
    } else {
        ui.visuals().text_color()
    };
    let c = response.rect.center();
    let stroke = egui::Stroke::new(1.6, colour);
    let d = 4.0;
    ui.painter()
        .line_segment([c + egui::vec2(-d, -d), c + egui::vec2(d, d)], stroke);
    ui.painter()
        .line_segment([c + egui::vec2(-d, d), c + egui::vec2(d, -d)], stroke);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, label));
    response
}
