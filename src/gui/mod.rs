//! The desktop app (eframe/egui, glow renderer): the channel viewer, the ticker and the
//! SmartScreen over the client core ([`crate::client`]).
//!
//! - [`app`]: the eframe `App`: connection, effects, windows.
//! - [`model`]: the state views read and the [`model::Effect`]s they return.
//! - [`view`], [`weather_view`], [`settings_view`], [`search_view`], [`saved_view`],
//!   [`ticker`], [`smartscreen`]: the views; [`rows`]: the story row the lists share;
//!   [`hourly_chart`]: the 48-hour forecast drawn as a chart.
//! - [`settings`]: the settings file; [`theme`]: palettes and type scale; [`mod@format`]: words and
//!   numbers; [`icons`]: drawn weather icons; [`thumbnails`]: item images.
//!
//! Views never do I/O: they read the model and return effects, which [`app`] carries out.

pub mod app;
pub mod desktop;
pub mod format;
pub mod hourly_chart;
pub mod icons;
pub mod lineup;
pub mod lineup_view;
pub mod model;
pub mod rows;
pub mod saved_view;
pub mod search_view;
pub mod settings;
pub mod settings_view;
pub mod smartscreen;
pub mod theme;
pub mod thumbnails;
pub mod ticker;
pub mod view;
pub mod weather_view;
pub mod welcome;

use std::path::PathBuf;

use anyhow::Context as _;

use self::settings::SettingsFile;

/// Which windows the app shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The main window (and the ticker window when on).
    #[default]
    Normal,
    /// Only the ticker (`--ticker`).
    TickerOnly,
    /// Only the SmartScreen, exiting on input (`--screensaver`).
    ScreenSaver,
}

/// How the app was started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A shared server (or a cluster's nodes) instead of the embedded one (`--server`).
    pub server: Option<crate::client::servers::ServerList>,
    /// Its token (`--token`).
    pub token: Option<String>,
    /// Bundled demo content (`--demo`).
    pub demo: bool,
    /// Which windows.
    pub mode: Mode,
    /// The settings file (`None`: defaults, nothing saved).
    pub settings_file: Option<SettingsFile>,
    /// The saved-stories file (`None`: stories are saved for this run only).
    pub saved_file: Option<crate::client::saved::SavedFile>,
    /// Where the embedded server keeps its data (default: the user's data directory).
    pub embedded_data_dir: Option<PathBuf>,
    /// Write what the window shows to this JSON file (end-to-end tests).
    pub state_dump: Option<PathBuf>,
}

/// Runs the app until its window closes.
pub fn run(options: Options, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let state = app::UiState::load();
    let viewport = match options.mode {
        Mode::Normal => {
            let mut viewport = egui::ViewportBuilder::default()
                .with_title("Tidings")
                .with_app_id("tidings")
                .with_min_inner_size(view::MIN_SIZE)
                .with_inner_size([1180.0, 700.0]);
            if let Some([x, y, w, h]) = state.window
                && w >= view::MIN_SIZE.x
                && h >= view::MIN_SIZE.y
            {
                viewport = viewport.with_position([x, y]).with_inner_size([w, h]);
            }
            viewport
        }
        Mode::TickerOnly => {
            app::ticker_builder(egui::pos2(0.0, 0.0), egui::vec2(1280.0, app::TICKER_HEIGHT))
        }
        Mode::ScreenSaver => egui::ViewportBuilder::default()
            .with_title("Tidings SmartScreen")
            .with_app_id("tidings-smartscreen")
            .with_decorations(false)
            .with_fullscreen(true),
    };
    let native = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    let handle = runtime.handle().clone();
    eframe::run_native(
        "Tidings",
        native,
        Box::new(move |cc| {
            let app = app::TidingsApp::new(cc, options, handle)?;
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context(
        "the window could not open: is a display available? (On Debian the app needs \
         libegl1, libgl1-mesa-dri and libxkbcommon-x11-0.) Subcommands such as `tidings tail` \
         work without one",
    )
}

/// The default options for a user's session: settings in the config directory.
#[must_use]
pub fn default_options() -> Options {
    Options {
        settings_file: SettingsFile::default_location(),
        saved_file: crate::client::saved::SavedFile::default_location(),
        ..Options::default()
    }
}

#[cfg(test)]
mod lineup_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod welcome_tests;
