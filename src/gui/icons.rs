//! Icons drawn with egui shapes at any size (no image files, crisp at 1x and 2x): the weather
//! (sun, moon, clouds, rain, drizzle, snow, sleet, fog, thunder and hail, combined per icon name
//! from the protocol, `docs/protocol.md` §7.3), the saved-story star and the search glass.

use std::f32::consts::TAU;

use egui::{Color32, Mesh, Painter, Pos2, Rect, Shape, Stroke, Vec2, pos2, vec2};

/// Colours of the icon parts for one theme.
#[derive(Debug, Clone, Copy)]
struct Ink {
    sun: Color32,
    moon: Color32,
    cloud: Color32,
    cloud_dark: Color32,
    rain: Color32,
    snow: Color32,
    bolt: Color32,
    fog: Color32,
}

impl Ink {
    fn for_theme(dark: bool) -> Self {
        if dark {
            Self {
                sun: Color32::from_rgb(0xff, 0xc2, 0x3d),
                moon: Color32::from_rgb(0xee, 0xe6, 0xc4),
                cloud: Color32::from_rgb(0xd7, 0xdd, 0xe6),
                cloud_dark: Color32::from_rgb(0x9a, 0xa4, 0xb3),
                rain: Color32::from_rgb(0x5d, 0xb0, 0xff),
                snow: Color32::from_rgb(0xe8, 0xf4, 0xff),
                bolt: Color32::from_rgb(0xff, 0xd4, 0x2a),
                fog: Color32::from_rgb(0xb4, 0xbc, 0xc8),
            }
        } else {
            Self {
                sun: Color32::from_rgb(0xf5, 0xa6, 0x23),
                moon: Color32::from_rgb(0xb8, 0x9c, 0x3a),
                cloud: Color32::from_rgb(0xa9, 0xb4, 0xc2),
                cloud_dark: Color32::from_rgb(0x6f, 0x7b, 0x8c),
                rain: Color32::from_rgb(0x1f, 0x78, 0xd1),
                snow: Color32::from_rgb(0x5b, 0x9b, 0xd5),
                bolt: Color32::from_rgb(0xe0, 0x9b, 0x00),
                fog: Color32::from_rgb(0x8a, 0x94, 0xa3),
            }
        }
    }
}

/// What an icon name is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Parts {
    sun: bool,
    moon: bool,
    cloud: bool,
    dark_cloud: bool,
    small_cloud: bool,
    rain: u8,
    drizzle: bool,
    snow: u8,
    sleet: bool,
    fog: bool,
    bolt: bool,
    hail: bool,
    unknown: bool,
}

fn parts(icon: &str) -> Parts {
    let (base, night) = match icon.strip_suffix("-night") {
        Some(base) => (base, true),
        None => (icon, false),
    };
    let celestial = Parts {
        sun: !night,
        moon: night,
        ..Parts::default()
    };
    match base {
        "clear" => celestial,
        "mostly-clear" => Parts {
            small_cloud: true,
            ..celestial
        },
        "partly-cloudy" => Parts {
            cloud: true,
            ..celestial
        },
        "overcast" => Parts {
            cloud: true,
            dark_cloud: true,
            ..Parts::default()
        },
        "fog" => Parts {
            cloud: true,
            fog: true,
            ..Parts::default()
        },
        "drizzle" => Parts {
            cloud: true,
            drizzle: true,
            ..Parts::default()
        },
        "rain" => Parts {
            cloud: true,
            rain: 3,
            ..Parts::default()
        },
        "heavy-rain" => Parts {
            cloud: true,
            dark_cloud: true,
            rain: 5,
            ..Parts::default()
        },
        "showers" => Parts {
            sun: true,
            cloud: true,
            rain: 2,
            ..Parts::default()
        },
        "freezing-rain" => Parts {
            cloud: true,
            sleet: true,
            ..Parts::default()
        },
        "snow" => Parts {
            cloud: true,
            snow: 3,
            ..Parts::default()
        },
        "heavy-snow" => Parts {
            cloud: true,
            dark_cloud: true,
            snow: 5,
            ..Parts::default()
        },
        "snow-showers" => Parts {
            sun: true,
            cloud: true,
            snow: 2,
            ..Parts::default()
        },
        "thunderstorm" => Parts {
            cloud: true,
            dark_cloud: true,
            bolt: true,
            rain: 2,
            ..Parts::default()
        },
        "thunderstorm-hail" => Parts {
            cloud: true,
            dark_cloud: true,
            bolt: true,
            hail: true,
            ..Parts::default()
        },
        _ => Parts {
            cloud: true,
            unknown: true,
            ..Parts::default()
        },
    }
}

/// Whether an icon name is one this build draws specifically (others get a generic cloud).
#[must_use]
pub fn is_known(icon: &str) -> bool {
    !parts(icon).unknown
}

/// Paints the icon `icon` into `rect` (square works best) for a light or dark background.
pub fn paint_weather_icon(painter: &Painter, rect: Rect, icon: &str, dark: bool) {
    let ink = Ink::for_theme(dark);
    let p = parts(icon);
    let s = rect.width().min(rect.height());
    let c = rect.center();
    let o = |x: f32, y: f32| c + vec2(x * s, y * s);
    let has_weather_below = p.rain > 0 || p.drizzle || p.snow > 0 || p.sleet || p.hail || p.bolt;
    // With precipitation the cloud sits higher to leave room below it.
    let lift = if has_weather_below || p.fog {
        -0.12
    } else {
        0.0
    };

    if p.sun || p.moon {
        let (center, radius) = if p.cloud || p.small_cloud {
            (o(-0.14, -0.14 + lift * 0.5), 0.2 * s)
        } else {
            (c, 0.24 * s)
        };
        if p.sun {
            sun(painter, center, radius, ink.sun);
        } else {
            moon(painter, center, radius, ink.moon);
        }
    }
    if p.dark_cloud {
        cloud(painter, o(-0.1, -0.1 + lift), 0.62 * s, ink.cloud_dark);
    }
    if p.cloud {
        let offset = if p.dark_cloud { 0.08 } else { 0.04 };
        cloud(painter, o(offset, 0.06 + lift), 0.72 * s, ink.cloud);
    }
    if p.small_cloud {
        cloud(painter, o(0.14, 0.16), 0.46 * s, ink.cloud);
    }
    let top = 0.2 + lift + 0.08;
    if p.rain > 0 {
        let count = usize::from(p.rain);
        let stroke = Stroke::new((0.045 * s).max(1.5), ink.rain);
        for i in 0..count {
            let x = -0.24 + 0.48 * (i as f32 + 0.5) / count as f32;
            painter.line_segment([o(x + 0.05, top), o(x - 0.03, top + 0.2)], stroke);
        }
    }
    if p.drizzle {
        for (i, x) in [-0.18_f32, 0.0, 0.18].into_iter().enumerate() {
            let y = top + 0.05 + 0.08 * (i % 2) as f32;
            painter.circle_filled(o(x, y), 0.03 * s, ink.rain);
            painter.circle_filled(o(x - 0.04, y + 0.12), 0.03 * s, ink.rain);
        }
    }
    if p.snow > 0 {
        let count = usize::from(p.snow);
        for i in 0..count {
            let x = -0.24 + 0.48 * (i as f32 + 0.5) / count as f32;
            let y = top + 0.08 + 0.08 * (i % 2) as f32;
            flake(painter, o(x, y), 0.06 * s, ink.snow);
        }
    }
    if p.sleet {
        let stroke = Stroke::new((0.045 * s).max(1.5), ink.rain);
        painter.line_segment([o(-0.15, top), o(-0.21, top + 0.18)], stroke);
        painter.line_segment([o(0.17, top), o(0.11, top + 0.18)], stroke);
        flake(painter, o(0.0, top + 0.1), 0.06 * s, ink.snow);
    }
    if p.hail {
        for (x, y) in [(-0.18_f32, 0.02_f32), (0.02, 0.12), (0.2, 0.04)] {
            painter.circle_filled(o(x, top + y + 0.06), 0.045 * s, ink.snow);
            painter.circle_stroke(o(x, top + y + 0.06), 0.045 * s, Stroke::new(1.0, ink.rain));
        }
    }
    if p.bolt {
        bolt(painter, o(0.0, top + 0.02), 0.3 * s, ink.bolt);
    }
    if p.fog {
        let stroke = Stroke::new((0.05 * s).max(1.5), ink.fog);
        for (i, width) in [0.52_f32, 0.4, 0.52].into_iter().enumerate() {
            let y = top + 0.02 + 0.1 * i as f32;
            let shift = if i == 1 { 0.06 } else { 0.0 };
            painter.line_segment(
                [o(-width / 2.0 + shift, y), o(width / 2.0 + shift, y)],
                stroke,
            );
        }
    }
    if p.unknown {
        painter.text(
            o(0.04, 0.08),
            egui::Align2::CENTER_CENTER,
            "?",
            egui::FontId::proportional(0.36 * s),
            ink.cloud_dark,
        );
    }
}

fn sun(painter: &Painter, center: Pos2, radius: f32, colour: Color32) {
    painter.circle_filled(center, radius * 0.62, colour);
    let stroke = Stroke::new((radius * 0.14).max(1.2), colour);
    for i in 0..8 {
        let angle = i as f32 * TAU / 8.0;
        let dir = Vec2::angled(angle);
        painter.line_segment(
            [center + dir * radius * 0.8, center + dir * radius * 1.05],
            stroke,
        );
    }
}

/// A crescent: the band between the moon's disc and a shifted disc, as a triangle strip (egui
/// fills only convex paths).
fn moon(painter: &Painter, center: Pos2, radius: f32, colour: Color32) {
    let mut mesh = Mesh::default();
    let steps = 24;
    let shadow_center = center + vec2(radius * 0.42, -radius * 0.28);
    let shadow_radius = radius * 0.82;
    // Walk the lit limb from top to bottom on the left; match each point with the shadow's edge
    // at the same height (clamped inside the disc).
    for i in 0..=steps {
        let t = i as f32 / steps as f32;
        let angle = TAU * 0.25 + t * TAU * 0.5; // 90° → 270°: the left half
        let outer = center + Vec2::angled(angle) * radius;
        let dy = outer.y - shadow_center.y;
        let inner_x = if dy.abs() < shadow_radius {
            shadow_center.x - (shadow_radius * shadow_radius - dy * dy).sqrt()
        } else {
            outer.x
        };
        let limit = center.x
            + (radius * radius - (outer.y - center.y).powi(2))
                .max(0.0)
                .sqrt();
        let inner = pos2(inner_x.clamp(outer.x, limit), outer.y);
        mesh.colored_vertex(outer, colour);
        mesh.colored_vertex(inner, colour);
    }
    for i in 0..steps {
        let base = u32::try_from(i * 2).unwrap_or(0);
        mesh.add_triangle(base, base + 1, base + 2);
        mesh.add_triangle(base + 1, base + 3, base + 2);
    }
    painter.add(Shape::mesh(mesh));
}

/// A cloud `width` wide centred on `center`: three puffs on a flat base.
fn cloud(painter: &Painter, center: Pos2, width: f32, colour: Color32) {
    let h = width * 0.5;
    let base = Rect::from_center_size(center + vec2(0.0, h * 0.18), vec2(width * 0.86, h * 0.5));
    painter.rect_filled(base, h * 0.25, colour);
    painter.circle_filled(center + vec2(-width * 0.22, h * 0.06), h * 0.36, colour);
    painter.circle_filled(center + vec2(width * 0.02, -h * 0.12), h * 0.5, colour);
    painter.circle_filled(center + vec2(width * 0.26, h * 0.08), h * 0.34, colour);
}

fn flake(painter: &Painter, center: Pos2, radius: f32, colour: Color32) {
    let stroke = Stroke::new((radius * 0.35).max(1.2), colour);
    for i in 0..3 {
        let dir = Vec2::angled(i as f32 * TAU / 6.0 + TAU / 4.0) * radius;
        painter.line_segment([center - dir, center + dir], stroke);
    }
}

/// A lightning bolt as two convex quads.
fn bolt(painter: &Painter, top: Pos2, height: f32, colour: Color32) {
    let w = height * 0.5;
    let upper = vec![
        top + vec2(0.1 * w, 0.0),
        top + vec2(0.45 * w, 0.0),
        top + vec2(0.1 * w, 0.45 * height),
        top + vec2(-0.3 * w, 0.45 * height),
    ];
    let lower = vec![
        top + vec2(-0.15 * w, 0.38 * height),
        top + vec2(0.35 * w, 0.38 * height),
        top + vec2(-0.25 * w, height),
    ];
    painter.add(Shape::convex_polygon(upper, colour, Stroke::NONE));
    painter.add(Shape::convex_polygon(lower, colour, Stroke::NONE));
}

/// A five-pointed star (the saved-story mark) centred on `center`: filled when `filled`,
/// otherwise an outline.
pub fn paint_star(painter: &Painter, center: Pos2, radius: f32, filled: bool, colour: Color32) {
    let points: Vec<Pos2> = (0..10)
        .map(|i| {
            let r = if i % 2 == 0 { radius } else { radius * 0.45 };
            let angle = -std::f32::consts::FRAC_PI_2 + i as f32 * std::f32::consts::PI / 5.0;
            center + egui::vec2(angle.cos(), angle.sin()) * r
        })
        .collect();
    if filled {
        // The star is not convex, but every point sees the centre: a fan of triangles.
        let mut mesh = egui::Mesh::default();
        mesh.colored_vertex(center, colour);
        for point in &points {
            mesh.colored_vertex(*point, colour);
        }
        for i in 0..10u32 {
            mesh.add_triangle(0, 1 + i, 1 + (i + 1) % 10);
        }
        painter.add(egui::Shape::mesh(mesh));
    }
    // The outline also smooths the filled star's edges.
    painter.add(egui::Shape::closed_line(
        points,
        egui::Stroke::new(if filled { 1.0 } else { 1.4 }, colour),
    ));
}

/// A magnifying glass (the search mark) in a square of side `side` centred on `center`.
pub fn paint_magnifier(painter: &Painter, center: Pos2, side: f32, colour: Color32) {
    let width = (side / 9.0).max(1.3);
    let radius = side * 0.3;
    let lens = center + egui::vec2(-side * 0.08, -side * 0.08);
    painter.circle_stroke(lens, radius, egui::Stroke::new(width, colour));
    let handle = egui::vec2(1.0, 1.0).normalized();
    painter.line_segment(
        [lens + handle * radius, lens + handle * (side * 0.62)],
        egui::Stroke::new(width * 1.3, colour),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_protocol_icon_name_is_drawn_specifically() {
        for icon in [
            "clear",
            "clear-night",
            "mostly-clear",
            "mostly-clear-night",
            "partly-cloudy",
            "partly-cloudy-night",
            "overcast",
            "fog",
            "drizzle",
            "freezing-rain",
            "rain",
            "heavy-rain",
            "snow",
            "heavy-snow",
            "showers",
            "snow-showers",
            "thunderstorm",
            "thunderstorm-hail",
        ] {
            assert!(is_known(icon), "{icon}");
        }
        assert!(!is_known("unknown"));
        assert!(!is_known("volcanic-ash"));
    }
}
