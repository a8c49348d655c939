//! The Saved view: the stories the user starred, most recently saved first, each labelled with
//! its channel, with the export menu (bookmarks or JSON) in the header. Stories unsaved here stay
//! listed with an empty star until the view is left, so a slip is one click to undo. Draws and
//! returns effects; the app writes the files.

use egui::{RichText, Sense, Ui, vec2};

use super::format;
use super::icons;
use super::model::{Effect, Model, Story, StoryRef, openable};
use super::rows::{self, RowSpec};
use super::theme::{GAP, Palette, channel_colour, size};
use super::view;
use crate::client::saved::ExportFormat;

/// The header and the list, or the empty state.
pub fn list_ui(ui: &mut Ui, model: &mut Model, palette: &Palette, effects: &mut Vec<Effect>) {
    header_ui(ui, model, palette, effects);
    if model.saved_list().is_empty() {
        empty_ui(ui, palette);
        return;
    }
    let stories: Vec<(StoryRef, bool)> = model
        .saved_list()
        .into_iter()
        .map(|s| {
            let story = StoryRef::new(&s.item.channel, &s.item.key);
            let saved = model.is_saved(&story.channel, &story.key);
            (story, saved)
        })
        .collect();
    let selected = model
        .view
        .pick
        .as_ref()
        .and_then(|pick| stories.iter().position(|(story, _)| story == pick));
    view::story_list_ui(
        ui,
        model,
        stories.len(),
        selected,
        |ui, model, index, rect, selected| {
            let Some((story, saved)) = stories.get(index) else {
                return;
            };
            // The store's copy when it still has the story (fresher, with read state).
            let (item, read, in_channel) = match model.story(story) {
                Some(Story::Item(stored)) => (stored.item.clone(), stored.read, true),
                Some(Story::Saved(kept)) => (kept.item.clone(), true, false),
                Some(Story::Alert(_)) | None => return,
            };
            let (channel_title, channel_hex) = model.channel_label(&story.channel);
            let image = item.image.as_deref().filter(|u| openable(u));
            if let Some(url) = image {
                if model.thumbnails.wants(url) {
                    effects.push(Effect::LoadImage(url.to_owned()));
                } else {
                    model.thumbnails.touch(url);
                }
            }
            let summary = item.body.as_ref().map(|b| b.replace('\n', " "));
            let mut meta = format::item_meta(item.source.as_deref(), item.published, model.now);
            if !in_channel {
                meta.push_str(" · no longer in the channel");
            }
            let spec = RowSpec {
                id: ui
                    .scope_id()
                    .with(("saved", story.channel.as_str(), story.key.as_str())),
                title: &item.title,
                title_marks: &[],
                summary: summary.as_deref(),
                summary_marks: &[],
                meta,
                channel: Some((channel_title, channel_colour(&channel_hex))),
                badge: None,
                read,
                saved: Some(*saved),
                image,
            };
            let response =
                rows::story_row_ui(ui, rect, &spec, selected, &model.thumbnails, palette);
            if response.star.as_ref().is_some_and(egui::Response::clicked) {
                effects.push(Effect::SetSaved {
                    channel: story.channel.clone(),
                    key: story.key.clone(),
                    saved: !*saved,
                });
            } else if response.row.clicked() {
                if !read {
                    effects.push(Effect::SetRead {
                        channel: story.channel.clone(),
                        key: story.key.clone(),
                        read: true,
                    });
                }
                model.view.pick = Some(story.clone());
            }
            if response.row.double_clicked()
                && let Some(link) = item.link.clone().filter(|l| openable(l))
            {
                effects.push(Effect::OpenLink(link));
            }
        },
    );
}

fn header_ui(ui: &mut Ui, model: &Model, palette: &Palette, effects: &mut Vec<Effect>) {
    let count = model.saved.len();
    super::theme::list_header_frame().show(ui, |ui| {
        ui.horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(vec2(14.0, 14.0), Sense::hover());
            let colour = if count > 0 {
                palette.star
            } else {
                palette.text_weak
            };
            icons::paint_star(ui.painter(), rect.center(), 7.0, count > 0, colour);
            ui.label(
                RichText::new("Saved")
                    .size(size::HEADING)
                    .color(palette.text),
            );
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.add_enabled_ui(count > 0, |ui| {
                    ui.menu_button("Export", |ui| {
                        if ui
                            .button("Bookmarks (HTML)…")
                            .on_hover_text(
                                "A bookmarks file every browser imports, in your Downloads folder",
                            )
                            .clicked()
                        {
                            effects.push(Effect::ExportSaved(ExportFormat::Bookmarks));
                            ui.close();
                        }
                        if ui
                            .button("JSON…")
                            .on_hover_text(
                                "Every field of every story, for scripts, in your Downloads folder",
                            )
                            .clicked()
                        {
                            effects.push(Effect::ExportSaved(ExportFormat::Json));
                            ui.close();
                        }
                    })
                    .response
                    .on_hover_text("Save these stories to a file")
                    .on_disabled_hover_text("Nothing saved yet");
                });
                ui.label(
                    RichText::new(match count {
                        1 => "1 story".to_owned(),
                        n => format!("{n} stories"),
                    })
                    .size(size::SMALL)
                    .color(palette.text_weak),
                );
            });
        });
        ui.label(
            RichText::new("Kept on this computer, even after their channel has moved on")
                .size(size::SMALL)
                .color(palette.text_weak),
        );
    });
}

fn empty_ui(ui: &mut Ui, palette: &Palette) {
    ui.add_space(ui.available_height() * 0.2);
    ui.vertical_centered(|ui| {
        ui.set_max_width(420.0);
        let (rect, _) = ui.allocate_exact_size(vec2(56.0, 56.0), Sense::hover());
        ui.painter()
            .circle_filled(rect.center(), 28.0, palette.hover);
        icons::paint_star(ui.painter(), rect.center(), 15.0, false, palette.text_weak);
        ui.add_space(GAP * 1.5);
        ui.label(
            RichText::new("No saved stories yet")
                .size(size::HEADING)
                .color(palette.text),
        );
        ui.add_space(GAP);
        ui.label(
            RichText::new(
                "Press s, or click the star beside a headline, to keep a story here. Saved \
                 stories stay on this computer after their channel has moved on, work offline, \
                 and can be exported as browser bookmarks.",
            )
            .size(size::BODY)
            .color(palette.text_weak),
        );
    });
}
