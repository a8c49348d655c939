//! The first-run welcome: three short steps (the place for the weather, the channels to
//! follow, feeds brought from another reader), each skippable, shown once. Finishing or
//! skipping saves the settings, and a saved settings file means it never shows again.

use egui::{Align, Layout, RichText, Ui};

use super::lineup::LineupRequest;
use super::model::{Effect, Model, PlaceSearch, SettingsDraft};
use super::settings::Settings;
use super::settings_view::{hint, place_results};
use super::theme::{GAP, Palette, channel_colour, size};

/// The steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Step {
    /// Where the weather is for.
    #[default]
    Place,
    /// Which channels to show.
    Channels,
    /// An OPML file from another reader.
    Feeds,
}

impl Step {
    fn number(self) -> usize {
        match self {
            Self::Place => 1,
            Self::Channels => 2,
            Self::Feeds => 3,
        }
    }
}

/// The welcome while it is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Welcome {
    /// The step in front.
    pub step: Step,
    /// The settings being made (the place, the channels).
    pub draft: SettingsDraft,
    /// The OPML file typed.
    pub import_path: String,
}

impl Welcome {
    /// A welcome starting from `settings`.
    #[must_use]
    pub fn new(settings: &Settings) -> Self {
        Self {
            step: Step::Place,
            draft: SettingsDraft::new(settings),
            import_path: String::new(),
        }
    }
}

/// Shows the welcome while `model.view.welcome` is set.
pub fn welcome_window(
    ctx: &egui::Context,
    model: &mut Model,
    palette: &Palette,
    effects: &mut Vec<Effect>,
) {
    let Some(mut welcome) = model.view.welcome.take() else {
        return;
    };
    let mut done: Option<Settings> = None;
    let width = 560.0_f32.min(ctx.content_rect().width() - 48.0);
    let modal = egui::Modal::new(egui::Id::unique("welcome-dialog"))
        .frame(super::theme::dialog_frame(palette))
        .show(ctx, |ui| {
            ui.set_width(width);
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new(format!("Step {} of 3", welcome.step.number()))
                        .size(size::SMALL)
                        .color(palette.text_weak),
                );
                ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                    if ui
                        .button("Skip the welcome")
                        .on_hover_text("Everything here is in Settings too")
                        .clicked()
                    {
                        done = Some(model.settings.clone());
                    }
                });
            });
            ui.add_space(GAP / 2.0);
            match welcome.step {
                Step::Place => place_step(ui, model, &mut welcome, palette, effects),
                Step::Channels => channels_step(ui, model, &mut welcome, palette),
                Step::Feeds => feeds_step(ui, model, &mut welcome, palette, effects),
            }
            ui.add_space(GAP * 2.0);
            ui.separator();
            ui.horizontal(|ui| {
                if welcome.step != Step::Place && ui.button("Back").clicked() {
                    welcome.step = match welcome.step {
                        Step::Feeds => Step::Channels,
                        _ => Step::Place,
                    };
                }
                ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                    let last = welcome.step == Step::Feeds;
                    let label = if last { "Start reading" } else { "Next" };
                    let next = egui::Button::new(RichText::new(label).color(palette.on_accent))
                        .fill(palette.accent);
                    if ui.add(next).clicked() {
                        match welcome.step {
                            Step::Place => welcome.step = Step::Channels,
                            Step::Channels => welcome.step = Step::Feeds,
                            Step::Feeds => done = Some(welcome.draft.settings.clone()),
                        }
                    }
                });
            });
        });
    // Escape (or a click beside the dialog) skips it, as the button does.
    if done.is_none() && modal.should_close() {
        done = Some(model.settings.clone());
    }
    match done {
        Some(settings) => {
            model.view.places = PlaceSearch::Idle;
            effects.push(Effect::ApplySettings(settings));
        }
        None => model.view.welcome = Some(welcome),
    }
}

fn heading(ui: &mut Ui, text: &str) {
    ui.label(RichText::new(text).size(size::HEADING).strong());
    ui.add_space(GAP / 2.0);
}

fn place_step(
    ui: &mut Ui,
    model: &mut Model,
    welcome: &mut Welcome,
    palette: &Palette,
    effects: &mut Vec<Effect>,
) {
    heading(ui, "Welcome to Tidings");
    ui.label(
        "News, weather and alerts, pushed to your desk. First: where are you? Tidings shows \
         the weather there and warns you of severe weather.",
    );
    ui.add_space(GAP);
    let draft = &mut welcome.draft;
    ui.horizontal(|ui| {
        let field = ui.add(
            egui::TextEdit::singleline(&mut draft.place_query)
                .hint_text("Your town or city")
                .desired_width(ui.available_width() - 90.0),
        );
        field
            .widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Town or city"));
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let query = draft.place_query.trim().to_owned();
        if (ui
            .add_enabled(!query.is_empty(), egui::Button::new("Search"))
            .clicked()
            || entered)
            && !query.is_empty()
        {
            model.view.places = PlaceSearch::Searching;
            effects.push(Effect::SearchPlaces(query));
        }
    });
    if let Some(place) = place_results(ui, &model.view.places, palette, true) {
        draft.settings.locations.clear();
        draft.add_place(&place);
        model.view.places = PlaceSearch::Idle;
        draft.place_query.clear();
    }
    ui.add_space(GAP / 2.0);
    match draft.settings.locations.first() {
        Some(place) => {
            ui.label(RichText::new(format!("Weather for {}", place.name)).color(palette.good));
            hint(
                ui,
                palette,
                "Only a rounded position (about 11 km) leaves this computer. More places can be \
                 added in Settings.",
            );
        }
        None => hint(
            ui,
            palette,
            "No place yet: Tidings will show no weather until you choose one.",
        ),
    }
}

fn channels_step(ui: &mut Ui, model: &Model, welcome: &mut Welcome, palette: &Palette) {
    heading(ui, "What would you like to follow?");
    ui.label("Untick what you would rather not see. You can change this any time.");
    ui.add_space(GAP);
    let known = model.store.catalog();
    let mut order = welcome.draft.settings.ordered(&known);
    if order.is_empty() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Waiting for the server to describe its channels…");
        });
        return;
    }
    egui::Grid::new("welcome-channels")
        .num_columns(2)
        .spacing([GAP * 2.0, GAP / 2.0])
        .show(ui, |ui| {
            for pref in &mut order {
                let info = model.store.channel(&pref.id).and_then(|c| c.info.as_ref());
                let title = info.map_or_else(|| pref.id.to_string(), |i| i.title.clone());
                ui.horizontal(|ui| {
                    let (rect, _) =
                        ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                    ui.painter().circle_filled(
                        rect.center(),
                        4.0,
                        channel_colour(info.map_or("#8a8f99", |i| i.colour.as_str())),
                    );
                    ui.checkbox(&mut pref.shown, title);
                });
                if let Some(info) = info {
                    ui.label(
                        RichText::new(&info.description)
                            .size(size::SMALL)
                            .color(palette.text_weak),
                    );
                }
                ui.end_row();
            }
        });
    welcome.draft.settings.channels = order;
}

fn feeds_step(
    ui: &mut Ui,
    model: &mut Model,
    welcome: &mut Welcome,
    palette: &Palette,
    effects: &mut Vec<Effect>,
) {
    heading(ui, "Bring your feeds");
    ui.label(
        "Coming from NetNewsWire, Feedly, Inoreader, Miniflux or Thunderbird? Export your \
         subscriptions there as an OPML file and import it here: each folder becomes a channel.",
    );
    ui.add_space(GAP);
    let panel = &mut model.view.lineup;
    ui.horizontal(|ui| {
        let field = ui.add(
            egui::TextEdit::singleline(&mut welcome.import_path)
                .hint_text("~/Downloads/subscriptions.opml")
                .desired_width(ui.available_width() - 120.0),
        );
        field.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::TextInput, true, "OPML file to import")
        });
        let ready = !welcome.import_path.trim().is_empty() && !panel.busy;
        if ui
            .add_enabled(ready, egui::Button::new("Import OPML"))
            .clicked()
        {
            let path = super::lineup_view::expand_home(welcome.import_path.trim());
            let request = LineupRequest::ImportOpml(path);
            panel.sent(&request);
            effects.push(Effect::Lineup(request));
        }
        if panel.busy {
            ui.spinner();
        }
    });
    match &panel.status {
        Some(Ok(said)) => {
            ui.label(RichText::new(said).color(palette.good));
        }
        Some(Err(why)) => {
            ui.label(RichText::new(why).color(palette.bad));
        }
        None => {}
    }
    ui.add_space(GAP);
    hint(
        ui,
        palette,
        "Any feed or website can be added later: press Ctrl+N, or open the Channels page of Settings.",
    );
}
