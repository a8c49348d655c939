//! What the GUI's kittest suites share: the main view in a harness, and the effects it asked
//! for.

use egui_kittest::Harness;

use super::model::{Effect, Model};
use super::settings::ThemeChoice;
use super::theme::Palette;
use super::view::main_ui;

/// The main view's state in a harness: the model, the theme, and the effects collected.
pub struct App {
    /// What the view shows.
    pub model: Model,
    /// Its colours.
    pub palette: Palette,
    /// Effects asked for so far.
    pub effects: Vec<Effect>,
}

/// `model` in the main view at `size`, in `theme`, after two frames.
pub fn harness(model: Model, theme: ThemeChoice, size: egui::Vec2) -> Harness<'static, App> {
    let app = App {
        model,
        palette: Palette::of(theme),
        effects: Vec::new(),
    };
    let mut harness = Harness::builder().with_size(size).build_ui_state(
        |ui, app: &mut App| {
            let effects = main_ui(ui, &mut app.model, &app.palette, None);
            app.effects.extend(effects);
        },
        app,
    );
    harness.run_steps(2);
    harness
}
