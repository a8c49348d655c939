//! Themes: colours, the type scale and spacing, applied to egui's style once per change.
//!
//! Three palettes: Classic (a nod to PointCast 1996: silver chrome, navy title bars, a black
//! ticker with amber type), and modern Light and Dark. Views take colours from [`Palette`]
//! instead of hard-coding them, so every theme keeps its contrast. Severity colours are chosen
//! per theme for at least 4.5:1 contrast of their text colour.

use egui::{Color32, CornerRadius, FontFamily, FontId, Margin, Stroke, TextStyle, Theme};

use super::settings::ThemeChoice;
use crate::protocol::Severity;

/// Sizes of the type scale, in points.
pub mod size {
    /// Small print: times, sources, status line.
    pub const SMALL: f32 = 12.0;
    /// Body text.
    pub const BODY: f32 = 14.0;
    /// Item headlines in lists.
    pub const TITLE: f32 = 15.5;
    /// Section headings.
    pub const HEADING: f32 = 20.0;
    /// Detail pane headline.
    pub const DISPLAY: f32 = 24.0;
    /// SmartScreen headline.
    pub const HERO: f32 = 44.0;
}

/// Spacing unit, in points: gaps are multiples of it.
pub const GAP: f32 = 8.0;

/// Every colour a view needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Palette {
    /// Whether text is light on dark.
    pub dark: bool,
    /// Window background.
    pub background: Color32,
    /// Side panels and bars.
    pub panel: Color32,
    /// Cards and selected rows.
    pub raised: Color32,
    /// Hovered rows.
    pub hover: Color32,
    /// Hairlines.
    pub border: Color32,
    /// Main text.
    pub text: Color32,
    /// Secondary text.
    pub text_weak: Color32,
    /// Links and focus.
    pub accent: Color32,
    /// Text on the accent colour.
    pub on_accent: Color32,
    /// Title bar of the Classic theme (otherwise the panel colour).
    pub title_bar: Color32,
    /// Text on the title bar.
    pub on_title_bar: Color32,
    /// Ticker background.
    pub ticker: Color32,
    /// Ticker text.
    pub on_ticker: Color32,
    /// Good news (live connection).
    pub good: Color32,
    /// Warnings in the status line.
    pub caution: Color32,
    /// Errors.
    pub bad: Color32,
    /// The temperature line of the hourly chart.
    pub temperature: Color32,
    /// The precipitation bars of the hourly chart.
    pub precipitation: Color32,
    /// Behind search matches (a marker pen).
    pub highlight: Color32,
    /// Text on [`highlight`](Self::highlight).
    pub on_highlight: Color32,
    /// A saved story's star.
    pub star: Color32,
}

impl Palette {
    /// The palette of a theme.
    #[must_use]
    pub fn of(choice: ThemeChoice) -> Self {
        match choice {
            ThemeChoice::Classic => Self {
                dark: false,
                background: Color32::from_rgb(0xd4, 0xd0, 0xc8),
                panel: Color32::from_rgb(0xc0, 0xc0, 0xc0),
                raised: Color32::from_rgb(0xff, 0xff, 0xf4),
                hover: Color32::from_rgb(0xe8, 0xe6, 0xdc),
                border: Color32::from_rgb(0x80, 0x80, 0x80),
                text: Color32::from_rgb(0x10, 0x10, 0x10),
                text_weak: Color32::from_rgb(0x48, 0x48, 0x48),
                accent: Color32::from_rgb(0x00, 0x00, 0x80),
                on_accent: Color32::WHITE,
                title_bar: Color32::from_rgb(0x00, 0x00, 0x80),
                on_title_bar: Color32::WHITE,
                ticker: Color32::from_rgb(0x00, 0x00, 0x00),
                on_ticker: Color32::from_rgb(0xff, 0xc8, 0x2e),
                good: Color32::from_rgb(0x00, 0x6b, 0x1e),
                caution: Color32::from_rgb(0x80, 0x4a, 0x00),
                bad: Color32::from_rgb(0xa0, 0x00, 0x00),
                temperature: Color32::from_rgb(0xb3, 0x3c, 0x00),
                precipitation: Color32::from_rgb(0x1c, 0x4f, 0xb8),
                highlight: Color32::from_rgb(0xff, 0xff, 0x00),
                on_highlight: Color32::BLACK,
                star: Color32::from_rgb(0x9a, 0x6a, 0x00),
            },
            ThemeChoice::Light => Self {
                dark: false,
                background: Color32::from_rgb(0xfa, 0xfa, 0xfb),
                panel: Color32::from_rgb(0xf0, 0xf1, 0xf4),
                raised: Color32::WHITE,
                hover: Color32::from_rgb(0xe6, 0xe8, 0xee),
                border: Color32::from_rgb(0xd6, 0xd9, 0xe0),
                text: Color32::from_rgb(0x1a, 0x1d, 0x24),
                text_weak: Color32::from_rgb(0x5a, 0x61, 0x70),
                accent: Color32::from_rgb(0x1f, 0x5f, 0xd1),
                on_accent: Color32::WHITE,
                title_bar: Color32::from_rgb(0xf0, 0xf1, 0xf4),
                on_title_bar: Color32::from_rgb(0x1a, 0x1d, 0x24),
                ticker: Color32::from_rgb(0x1a, 0x1d, 0x24),
                on_ticker: Color32::from_rgb(0xf4, 0xf5, 0xf7),
                good: Color32::from_rgb(0x17, 0x7a, 0x3c),
                caution: Color32::from_rgb(0x9a, 0x5b, 0x00),
                bad: Color32::from_rgb(0xb4, 0x23, 0x18),
                temperature: Color32::from_rgb(0xd9, 0x5f, 0x0e),
                precipitation: Color32::from_rgb(0x2b, 0x7b, 0xe0),
                highlight: Color32::from_rgb(0xff, 0xe2, 0x7a),
                on_highlight: Color32::from_rgb(0x1a, 0x1d, 0x24),
                star: Color32::from_rgb(0xb8, 0x78, 0x00),
            },
            ThemeChoice::Dark => Self {
                dark: true,
                background: Color32::from_rgb(0x16, 0x18, 0x1d),
                panel: Color32::from_rgb(0x1d, 0x20, 0x26),
                raised: Color32::from_rgb(0x25, 0x29, 0x31),
                hover: Color32::from_rgb(0x2c, 0x31, 0x3a),
                border: Color32::from_rgb(0x33, 0x38, 0x42),
                text: Color32::from_rgb(0xe8, 0xea, 0xee),
                text_weak: Color32::from_rgb(0xa0, 0xa7, 0xb4),
                accent: Color32::from_rgb(0x6c, 0xa8, 0xff),
                on_accent: Color32::from_rgb(0x0b, 0x14, 0x24),
                title_bar: Color32::from_rgb(0x1d, 0x20, 0x26),
                on_title_bar: Color32::from_rgb(0xe8, 0xea, 0xee),
                ticker: Color32::from_rgb(0x0c, 0x0d, 0x10),
                on_ticker: Color32::from_rgb(0xe8, 0xea, 0xee),
                good: Color32::from_rgb(0x5c, 0xd0, 0x8a),
                caution: Color32::from_rgb(0xf2, 0xb8, 0x4b),
                bad: Color32::from_rgb(0xff, 0x7a, 0x70),
                temperature: Color32::from_rgb(0xff, 0xb0, 0x4c),
                precipitation: Color32::from_rgb(0x4f, 0xa3, 0xff),
                highlight: Color32::from_rgb(0x5e, 0x49, 0x0c),
                on_highlight: Color32::from_rgb(0xff, 0xf6, 0xdc),
                star: Color32::from_rgb(0xf5, 0xc0, 0x42),
            },
        }
    }

    /// Background and text colour for a severity (alert banner, ticker take-over).
    #[must_use]
    pub fn severity(&self, severity: Severity) -> (Color32, Color32) {
        match severity {
            Severity::Critical => (Color32::from_rgb(0xb0, 0x10, 0x1c), Color32::WHITE),
            Severity::Warning => (Color32::from_rgb(0xe3, 0x6c, 0x09), Color32::BLACK),
            Severity::Notice => (Color32::from_rgb(0xf2, 0xc9, 0x3b), Color32::BLACK),
            Severity::Info => (Color32::from_rgb(0x2f, 0x6f, 0xb3), Color32::WHITE),
        }
    }
}

/// The frame of a dialog (Settings, "While you were away"): raised, bordered, rounded.
pub fn dialog_frame(palette: &Palette) -> egui::Frame {
    egui::Frame::new()
        .fill(palette.raised)
        .stroke(egui::Stroke::new(1.0, palette.border))
        .corner_radius(10.0)
        .inner_margin(egui::Margin::same(20))
}

/// The frame above a list of stories (a channel's, the search results, Saved): its title row
/// and counts.
pub fn list_header_frame() -> egui::Frame {
    egui::Frame::new().inner_margin(egui::Margin {
        left: 16,
        right: 16,
        top: 14,
        bottom: 8,
    })
}

/// Parses a channel colour `#rrggbb`; a neutral grey when malformed.
#[must_use]
pub fn channel_colour(text: &str) -> Color32 {
    let hex = text.trim().trim_start_matches('#');
    let channel =
        |range: std::ops::Range<usize>| hex.get(range).and_then(|h| u8::from_str_radix(h, 16).ok());
    match (hex.len(), channel(0..2), channel(2..4), channel(4..6)) {
        (6, Some(r), Some(g), Some(b)) => Color32::from_rgb(r, g, b),
        _ => Color32::from_rgb(0x8a, 0x8f, 0x99),
    }
}

/// Relative luminance contrast ratio of two colours (WCAG 2).
#[must_use]
pub fn contrast(a: Color32, b: Color32) -> f32 {
    fn luminance(c: Color32) -> f32 {
        let linear = |v: u8| {
            let v = f32::from(v) / 255.0;
            if v <= 0.039_28 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(c.r()) + 0.7152 * linear(c.g()) + 0.0722 * linear(c.b())
    }
    let (la, lb) = (luminance(a), luminance(b));
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// Applies `choice` to the whole app: egui's theme, colours, type scale and spacing.
pub fn apply(ctx: &egui::Context, choice: ThemeChoice) {
    let palette = Palette::of(choice);
    let theme = if palette.dark {
        Theme::Dark
    } else {
        Theme::Light
    };
    ctx.set_theme(theme);
    ctx.style_mut_of(theme, |style| {
        style.text_styles = [
            (
                TextStyle::Small,
                FontId::new(size::SMALL, FontFamily::Proportional),
            ),
            (
                TextStyle::Body,
                FontId::new(size::BODY, FontFamily::Proportional),
            ),
            (
                TextStyle::Button,
                FontId::new(size::BODY, FontFamily::Proportional),
            ),
            (
                TextStyle::Heading,
                FontId::new(size::HEADING, FontFamily::Proportional),
            ),
            (
                TextStyle::Monospace,
                FontId::new(size::BODY - 1.0, FontFamily::Monospace),
            ),
        ]
        .into();
        style.spacing.item_spacing = egui::vec2(GAP, GAP * 0.75);
        style.spacing.button_padding = egui::vec2(GAP * 1.25, GAP * 0.5);
        style.spacing.window_margin = Margin::same(16);
        style.spacing.interact_size.y = 26.0;
        let visuals = &mut style.visuals;
        visuals.panel_fill = palette.background;
        visuals.window_fill = palette.raised;
        visuals.window_stroke = Stroke::new(1.0, palette.border);
        visuals.extreme_bg_color = palette.raised;
        // Text fields sit below the surface they are on, in every theme.
        visuals.text_edit_bg_color = Some(if palette.dark {
            palette.background
        } else {
            palette.panel
        });
        visuals.faint_bg_color = palette.panel;
        visuals.hyperlink_color = palette.accent;
        visuals.override_text_color = None;
        visuals.selection.bg_fill = palette.accent.gamma_multiply(0.35);
        visuals.selection.stroke = Stroke::new(1.0, palette.accent);
        let radius = if choice == ThemeChoice::Classic { 0 } else { 6 };
        visuals.window_corner_radius = CornerRadius::same(if radius == 0 { 0 } else { 10 });
        visuals.menu_corner_radius = CornerRadius::same(radius);
        for widget in [
            &mut visuals.widgets.noninteractive,
            &mut visuals.widgets.inactive,
            &mut visuals.widgets.hovered,
            &mut visuals.widgets.active,
            &mut visuals.widgets.open,
        ] {
            widget.corner_radius = CornerRadius::same(radius);
        }
        visuals.widgets.noninteractive.fg_stroke = Stroke::new(1.0, palette.text);
        visuals.widgets.noninteractive.bg_stroke = Stroke::new(1.0, palette.border);
        visuals.widgets.inactive.fg_stroke = Stroke::new(1.0, palette.text);
        visuals.widgets.inactive.bg_fill = palette.panel;
        visuals.widgets.inactive.weak_bg_fill = palette.panel;
        visuals.widgets.hovered.bg_fill = palette.hover;
        visuals.widgets.hovered.weak_bg_fill = palette.hover;
        visuals.widgets.hovered.fg_stroke = Stroke::new(1.0, palette.text);
        visuals.widgets.active.fg_stroke = Stroke::new(1.0, palette.text);
        if choice == ThemeChoice::Classic {
            // Bevelled 1990s buttons: a visible outline on every control.
            visuals.widgets.inactive.bg_stroke = Stroke::new(1.0, palette.border);
            visuals.widgets.inactive.bg_fill = Color32::from_rgb(0xd4, 0xd0, 0xc8);
            visuals.widgets.inactive.weak_bg_fill = Color32::from_rgb(0xd4, 0xd0, 0xc8);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_enough_contrast_in_every_theme() {
        for choice in ThemeChoice::ALL {
            let p = Palette::of(choice);
            for (what, fg, bg, minimum) in [
                ("text", p.text, p.background, 7.0),
                ("text on panel", p.text, p.panel, 7.0),
                ("text on raised", p.text, p.raised, 7.0),
                ("weak text", p.text_weak, p.background, 4.5),
                ("weak text on panel", p.text_weak, p.panel, 4.5),
                ("accent", p.accent, p.raised, 4.5),
                ("on accent", p.on_accent, p.accent, 4.5),
                ("title bar", p.on_title_bar, p.title_bar, 4.5),
                ("ticker", p.on_ticker, p.ticker, 7.0),
                ("good", p.good, p.panel, 3.0),
                ("caution", p.caution, p.panel, 3.0),
                ("bad", p.bad, p.panel, 3.0),
                // Graphics, not text: WCAG's 3:1 for the parts of a chart.
                ("temperature line", p.temperature, p.raised, 3.0),
                ("precipitation bars", p.precipitation, p.raised, 3.0),
                ("search match", p.on_highlight, p.highlight, 7.0),
                ("star", p.star, p.raised, 3.0),
                ("star on background", p.star, p.background, 3.0),
            ] {
                let ratio = contrast(fg, bg);
                assert!(
                    ratio >= minimum,
                    "{choice:?} {what}: {ratio:.2} < {minimum}"
                );
            }
            for severity in [
                Severity::Info,
                Severity::Notice,
                Severity::Warning,
                Severity::Critical,
            ] {
                let (bg, fg) = p.severity(severity);
                assert!(contrast(fg, bg) >= 4.5, "{choice:?} {severity:?}");
            }
        }
    }

    #[test]
    fn channel_colours_parse_or_fall_back() {
        assert_eq!(
            channel_colour("#e0564b"),
            Color32::from_rgb(0xe0, 0x56, 0x4b)
        );
        assert_eq!(channel_colour("red"), Color32::from_rgb(0x8a, 0x8f, 0x99));
        assert_eq!(
            channel_colour("#12345"),
            Color32::from_rgb(0x8a, 0x8f, 0x99)
        );
    }
}
