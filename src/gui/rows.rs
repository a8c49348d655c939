//! One story row, as the headline list, the search results and the Saved view show it: a meta
//! line (channel chip, badge, source and age), up to two title lines and two summary lines with
//! search matches marked, a thumbnail, the unread dot and the star. Every row has the same
//! height, so a list lays out and paints only the rows in view. Paints and reports clicks; the
//! lists decide what a click does.

use std::ops::Range;

use egui::text::{LayoutJob, TextFormat};
use egui::{Color32, CornerRadius, FontId, Rect, Response, Sense, Stroke, Ui, pos2, vec2};

use super::icons;
use super::theme::{Palette, size};
use super::thumbnails::{Thumb, Thumbnails};

/// What a row shows.
#[derive(Debug, Clone)]
pub struct RowSpec<'a> {
    /// A stable id for the row's interaction (unique within the list).
    pub id: egui::Id,
    /// The headline.
    pub title: &'a str,
    /// Byte ranges of `title` to mark.
    pub title_marks: &'a [Range<usize>],
    /// The summary on one line, if any.
    pub summary: Option<&'a str>,
    /// Byte ranges of `summary` to mark.
    pub summary_marks: &'a [Range<usize>],
    /// Source and age.
    pub meta: String,
    /// The channel's name and colour, where the list mixes channels.
    pub channel: Option<(String, Color32)>,
    /// A word in a coloured pill (an alert's severity): text, fill, text colour.
    pub badge: Option<(String, Color32, Color32)>,
    /// Read already (quieter title, no dot).
    pub read: bool,
    /// Saved or not; `None` for what cannot be saved (alerts).
    pub saved: Option<bool>,
    /// The thumbnail's URL.
    pub image: Option<&'a str>,
}

/// What happened to a row this frame.
#[derive(Debug)]
pub struct RowResponse {
    /// The row as a whole (click selects, double click opens).
    pub row: Response,
    /// The star, when the row has one.
    pub star: Option<Response>,
}

/// The fixed height of a row: meta line, two title lines, two summary lines.
pub fn row_height(ui: &Ui) -> f32 {
    ui.fonts_mut(|f| {
        14.0 + f.row_height(&FontId::proportional(size::SMALL))
            + 4.0
            + 2.0 * f.row_height(&FontId::proportional(size::TITLE))
            + 4.0
            + 2.0 * f.row_height(&FontId::proportional(size::SMALL + 0.5))
            + 14.0
    })
}

/// `text` as a layout with `marks` on a marker-pen background, wrapped to `width` and at most
/// `max_rows` lines.
pub fn marked_job(
    text: &str,
    marks: &[Range<usize>],
    font: FontId,
    colour: Color32,
    palette: &Palette,
    width: f32,
    max_rows: usize,
) -> LayoutJob {
    let plain = TextFormat::simple(font.clone(), colour);
    let marked = TextFormat {
        background: palette.highlight,
        color: palette.on_highlight,
        ..TextFormat::simple(font, palette.on_highlight)
    };
    let mut job = LayoutJob::default();
    let mut at = 0;
    for mark in marks {
        let (Some(before), Some(inside)) = (text.get(at..mark.start), text.get(mark.clone()))
        else {
            continue;
        };
        job.append(before, 0.0, plain.clone());
        job.append(inside, 0.0, marked.clone());
        at = mark.end;
    }
    job.append(text.get(at..).unwrap_or_default(), 0.0, plain);
    job.wrap.max_width = width;
    job.wrap.max_rows = max_rows;
    job
}

/// A small pill with `text` on `fill`; returns its width.
pub fn paint_chip(
    ui: &Ui,
    painter: &egui::Painter,
    left_center: egui::Pos2,
    text: &str,
    fill: Color32,
    on_fill: Color32,
) -> f32 {
    let galley = ui.painter().layout_no_wrap(
        text.to_owned(),
        FontId::proportional(size::SMALL - 0.5),
        on_fill,
    );
    let chip = Rect::from_min_size(
        pos2(left_center.x, left_center.y - galley.size().y / 2.0 - 1.0),
        vec2(galley.size().x + 10.0, galley.size().y + 2.0),
    );
    painter.rect_filled(chip, CornerRadius::same(4), fill);
    painter.galley(chip.min + vec2(5.0, 1.0), galley, on_fill);
    chip.width()
}

/// Paints a row in `rect`.
pub fn story_row_ui(
    ui: &mut Ui,
    rect: Rect,
    spec: &RowSpec<'_>,
    selected: bool,
    thumbnails: &Thumbnails,
    palette: &Palette,
) -> RowResponse {
    let width = rect.width();
    let image = spec
        .image
        .filter(|url| !matches!(thumbnails.get(url), Some(Thumb::Failed)));
    let thumb_size = vec2(104.0, 70.0);
    let inner = width
        - 48.0
        - if image.is_some() {
            thumb_size.x + 12.0
        } else {
            0.0
        };
    let title_colour = if spec.read {
        palette.text_weak
    } else {
        palette.text
    };
    let title = ui.fonts_mut(|f| {
        f.layout_job(marked_job(
            spec.title,
            spec.title_marks,
            FontId::proportional(size::TITLE),
            title_colour,
            palette,
            inner,
            2,
        ))
    });
    let summary = spec.summary.map(|text| {
        ui.fonts_mut(|f| {
            f.layout_job(marked_job(
                text,
                spec.summary_marks,
                FontId::proportional(size::SMALL + 0.5),
                palette.text_weak,
                palette,
                inner,
                2,
            ))
        })
    });
    let row = ui.interact(rect, spec.id, Sense::click());
    let painter = ui.painter_at(rect);
    let fill = row_fill(selected, row.hovered(), palette);
    painter.rect_filled(rect.shrink2(vec2(8.0, 1.0)), CornerRadius::same(6), fill);
    if selected {
        let bar = Rect::from_min_size(rect.min + vec2(8.0, 4.0), vec2(3.0, rect.height() - 8.0));
        painter.rect_filled(bar, CornerRadius::same(1), palette.accent);
    }
    let left = rect.left() + 28.0;
    let mut y = rect.top() + 14.0;
    let meta_height = ui.fonts_mut(|f| f.row_height(&FontId::proportional(size::SMALL)));
    let meta_center = y + meta_height / 2.0;
    if !spec.read {
        painter.circle_filled(pos2(rect.left() + 18.0, meta_center), 4.0, palette.accent);
    }
    let mut x = left;
    if let Some((name, colour)) = &spec.channel {
        x += paint_chip(
            ui,
            &painter,
            pos2(x, meta_center),
            name,
            *colour,
            super::view::readable_on(*colour),
        ) + 6.0;
    }
    if let Some((word, fill, on_fill)) = &spec.badge {
        x += paint_chip(ui, &painter, pos2(x, meta_center), word, *fill, *on_fill) + 6.0;
    }
    let meta = ui.painter().layout_no_wrap(
        spec.meta.clone(),
        FontId::proportional(size::SMALL),
        palette.text_weak,
    );
    painter.galley(pos2(x, y), meta, palette.text_weak);
    y += meta_height + 4.0;
    let first_line = title.rows.first().map_or(16.0, |r| r.height());
    let star_center = pos2(rect.left() + 18.0, y + first_line / 2.0);
    let title_height = title.size().y;
    painter.galley(pos2(left, y), title, title_colour);
    // The summary follows the headline (one line or two); the row's height stays the same.
    y += title_height + 4.0;
    if let Some(summary) = summary {
        painter.galley(pos2(left, y), summary, palette.text_weak);
    }
    if let Some(url) = image {
        let frame = Rect::from_min_size(
            pos2(rect.right() - 16.0 - thumb_size.x, rect.top() + 14.0),
            thumb_size,
        );
        paint_thumbnail(&painter, frame, thumbnails.get(url), palette);
    }
    painter.line_segment(
        [
            pos2(rect.left() + 16.0, rect.bottom() - 0.5),
            pos2(rect.right() - 16.0, rect.bottom() - 0.5),
        ],
        Stroke::new(1.0, palette.border.gamma_multiply(0.6)),
    );
    let label = spec.title.to_owned();
    row.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &label));
    let star = spec.saved.map(|saved| {
        let star_rect = Rect::from_center_size(star_center, vec2(22.0, 22.0));
        let star = ui.interact(star_rect, spec.id.with("star"), Sense::click());
        if saved || selected || row.hovered() || star.hovered() {
            let colour = if saved {
                palette.star
            } else if star.hovered() {
                palette.text
            } else {
                palette.text_weak
            };
            icons::paint_star(&painter, star_center, 6.5, saved, colour);
        }
        let label = format!("Save {}", spec.title);
        star.widget_info(|| egui::WidgetInfo::selected(egui::Role::CheckBox, true, saved, &label));
        star.on_hover_text(if saved {
            "Saved · click to remove (s)"
        } else {
            "Save for later (s)"
        })
    });
    RowResponse { row, star }
}

/// The background of a list row: raised when selected, tinted when hovered.
pub fn row_fill(selected: bool, hovered: bool, palette: &Palette) -> Color32 {
    if selected {
        palette.raised
    } else if hovered {
        palette.hover
    } else {
        Color32::TRANSPARENT
    }
}

/// Paints a thumbnail cropped to fill `frame` (a quiet placeholder while it loads).
pub fn paint_thumbnail(
    painter: &egui::Painter,
    frame: Rect,
    thumb: Option<&Thumb>,
    palette: &Palette,
) {
    match thumb {
        Some(Thumb::Ready(texture)) => {
            let [w, h] = texture.size().map(|v| v as f32);
            let (frame_aspect, image_aspect) = (frame.width() / frame.height(), w / h.max(1.0));
            // Centre-crop to the frame's shape.
            let uv = if image_aspect > frame_aspect {
                let keep = frame_aspect / image_aspect;
                Rect::from_min_max(pos2((1.0 - keep) / 2.0, 0.0), pos2((1.0 + keep) / 2.0, 1.0))
            } else {
                let keep = image_aspect / frame_aspect;
                Rect::from_min_max(pos2(0.0, (1.0 - keep) / 2.0), pos2(1.0, (1.0 + keep) / 2.0))
            };
            painter.add(
                egui::epaint::RectShape::filled(frame, CornerRadius::same(6), Color32::WHITE)
                    .with_texture(texture.id(), uv),
            );
        }
        _ => {
            painter.rect_filled(frame, CornerRadius::same(6), palette.hover);
        }
    }
}
