//! "Add a feed" and "Your channels" in Settings → Channels: preview an address (a feed or a
//! website that announces one), add it to a channel or a new one, and rename, recolour,
//! remove channels and move or remove their feeds. Every button here asks the server at once
//! ([`Effect::Lineup`]); nothing waits for the dialog's Save.

use egui::{Align, Color32, Layout, RichText, Ui};

use super::format::relative_time;
use super::lineup::{
    COLOURS, Confirm, Focus, LineupPanel, LineupRequest, Manage, Position, PreviewState, Target,
    feed_label, host_of,
};
use super::model::{Effect, Model};
use super::settings_view::{hint, section};
use super::theme::{GAP, Palette, channel_colour, size};
use crate::protocol::{ChannelKind, LineupChannel, Preview};

/// Most headlines a preview shows.
const PREVIEW_HEADLINES: usize = 5;

/// "Add a feed", at the top of the Channels page; `false` when this server's line-up cannot
/// be changed from here (then a line says why, and [`feeds_section`] shows nothing).
pub fn add_feed_section(
    ui: &mut Ui,
    model: &mut Model,
    palette: &Palette,
    effects: &mut Vec<Effect>,
) -> bool {
    let now = model.now;
    let panel = &mut model.view.lineup;
    match &panel.manage {
        Manage::Unknown => {
            effects.push(Effect::Lineup(LineupRequest::Refresh));
            panel.sent(&LineupRequest::Refresh);
            return false;
        }
        Manage::Loading => {
            section(ui, "Add a feed");
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading your channels…");
            });
            return false;
        }
        Manage::Unavailable(why) => {
            section(ui, "Add a feed");
            hint(ui, palette, why);
            return false;
        }
        Manage::Ready(lineup) if !lineup.managed => {
            section(ui, "Add a feed");
            hint(
                ui,
                palette,
                "This server's channels are listed in its config file; its admin changes them there.",
            );
            return false;
        }
        Manage::Ready(_) => {}
    }
    add_section(ui, panel, palette, now, effects);
    status_line(ui, panel, palette);
    opml_section(ui, panel, palette, effects);
    true
}

/// Import from another reader, export for one.
fn opml_section(
    ui: &mut Ui,
    panel: &mut LineupPanel,
    palette: &Palette,
    effects: &mut Vec<Effect>,
) {
    section(ui, "Move from another reader");
    hint(
        ui,
        palette,
        "Export an OPML file from NetNewsWire, Feedly, Inoreader, Miniflux or Thunderbird and \
         import it here: each folder becomes a channel, feeds you have already are skipped.",
    );
    ui.add_space(GAP / 2.0);
    if panel.export_path.is_empty() {
        panel.export_path = default_export_path();
    }
    egui::Grid::new("opml-grid")
        .num_columns(3)
        .spacing([GAP, GAP])
        .show(ui, |ui| {
            ui.label("Import");
            let field = ui.add(
                egui::TextEdit::singleline(&mut panel.import_path)
                    .hint_text("~/Downloads/subscriptions.opml")
                    .desired_width(300.0),
            );
            field.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::TextInput, true, "OPML file to import")
            });
            let ready = !panel.import_path.trim().is_empty() && !panel.busy;
            if ui
                .add_enabled(ready, egui::Button::new("Import OPML"))
                .clicked()
            {
                let path = expand_home(panel.import_path.trim());
                ask(panel, effects, LineupRequest::ImportOpml(path));
            }
            ui.end_row();
            ui.label("Export");
            let field =
                ui.add(egui::TextEdit::singleline(&mut panel.export_path).desired_width(300.0));
            field.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::TextInput, true, "OPML file to write")
            });
            let ready = !panel.export_path.trim().is_empty() && !panel.busy;
            if ui
                .add_enabled(ready, egui::Button::new("Export OPML"))
                .clicked()
            {
                let path = expand_home(panel.export_path.trim());
                ask(panel, effects, LineupRequest::ExportOpml(path));
            }
            ui.end_row();
        });
}

/// `~/Documents/Tidings subscriptions.opml` (or the home directory when there is no
/// documents folder).
fn default_export_path() -> String {
    let dirs = directories::UserDirs::new();
    let dir = dirs
        .as_ref()
        .and_then(|d| d.document_dir().map(std::path::Path::to_owned))
        .or_else(|| dirs.as_ref().map(|d| d.home_dir().to_owned()));
    dir.map_or_else(
        || "Tidings subscriptions.opml".to_owned(),
        |dir| dir.join("Tidings subscriptions.opml").display().to_string(),
    )
}

/// A typed path with a leading `~` meaning the home directory.
pub(super) fn expand_home(text: &str) -> std::path::PathBuf {
    match (text.strip_prefix("~/"), directories::UserDirs::new()) {
        (Some(rest), Some(dirs)) => dirs.home_dir().join(rest),
        _ => std::path::PathBuf::from(text),
    }
}

/// "Feeds of your channels", at the end of the Channels page.
pub fn feeds_section(ui: &mut Ui, model: &mut Model, palette: &Palette, effects: &mut Vec<Effect>) {
    channels_section(ui, &mut model.view.lineup, palette, effects);
}

fn add_section(
    ui: &mut Ui,
    panel: &mut LineupPanel,
    palette: &Palette,
    now: chrono::DateTime<chrono::Utc>,
    effects: &mut Vec<Effect>,
) {
    section(ui, "Add a feed");
    hint(
        ui,
        palette,
        "Paste a feed's address, or a website's: Tidings finds the feed the site announces. \
         Your server fetches it once for all your devices.",
    );
    ui.add_space(GAP / 2.0);
    let mut preview_now = false;
    ui.horizontal(|ui| {
        let field = ui.add(
            egui::TextEdit::singleline(&mut panel.address)
                .hint_text("https://example.org or its feed")
                .desired_width(ui.available_width() - 96.0),
        );
        field.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Feed or website address")
        });
        if panel.focus == Some(Focus::Address) {
            field.request_focus();
            panel.focus = None;
        }
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let ready = !panel.address.trim().is_empty() && !panel.busy;
        if ui
            .add_enabled(ready, egui::Button::new("Preview"))
            .clicked()
            || (entered && ready)
        {
            preview_now = true;
        }
    });
    if preview_now {
        ask(
            panel,
            effects,
            LineupRequest::Preview(panel.address.trim().to_owned()),
        );
    }
    ui.add_space(GAP / 2.0);
    match panel.preview.clone() {
        PreviewState::Idle => {}
        PreviewState::Loading(address) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Reading {address}…"));
            });
        }
        PreviewState::Failed(why) => {
            ui.label(RichText::new(why).color(palette.bad));
        }
        PreviewState::Ready(Preview::Page { title, feeds, .. }) => {
            let page = title.unwrap_or_else(|| "This page".to_owned());
            ui.label(format!(
                "{page} announces {} feeds. Choose one:",
                feeds.len()
            ));
            for (index, feed) in feeds.into_iter().enumerate() {
                let label = match &feed.title {
                    Some(title) => format!("{title}  ·  {}", feed.format.to_uppercase()),
                    None => format!("{}  ·  {}", feed.url, feed.format.to_uppercase()),
                };
                let button = ui.button(label).on_hover_text(feed.url.as_str());
                if index == 0 && panel.focus == Some(Focus::Form) {
                    // The keyboard picks from the list: Enter previews the first.
                    button.request_focus();
                    panel.focus = None;
                }
                if button.clicked() && !panel.busy {
                    panel.address.clone_from(&feed.url);
                    ask(panel, effects, LineupRequest::Preview(feed.url.clone()));
                }
            }
        }
        PreviewState::Ready(Preview::Feed {
            url,
            title,
            items,
            item_count,
            skipped,
            repairs,
            already_in,
        }) => {
            feed_card(
                ui,
                palette,
                now,
                &FeedCard {
                    url: &url,
                    title: title.as_deref(),
                    items: &items,
                    item_count,
                    skipped,
                    repairs: &repairs,
                },
            );
            if let Some(channel) = already_in {
                ui.label(
                    RichText::new(format!("This feed is already in {channel}."))
                        .color(palette.caution),
                );
            } else {
                add_form(ui, panel, palette, effects);
            }
        }
    }
}

struct FeedCard<'a> {
    url: &'a str,
    title: Option<&'a str>,
    items: &'a [crate::protocol::PreviewItem],
    item_count: usize,
    skipped: usize,
    repairs: &'a [String],
}

fn feed_card(
    ui: &mut Ui,
    palette: &Palette,
    now: chrono::DateTime<chrono::Utc>,
    card: &FeedCard<'_>,
) {
    egui::Frame::new()
        .fill(palette.panel)
        .stroke(egui::Stroke::new(1.0, palette.border))
        .corner_radius(8.0)
        .inner_margin(egui::Margin::same(12))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(
                RichText::new(card.title.unwrap_or("Untitled feed"))
                    .size(size::TITLE)
                    .strong(),
            );
            let stories = match card.item_count {
                1 => "1 story".to_owned(),
                n => format!("{n} stories"),
            };
            ui.label(
                RichText::new(format!("{stories}  ·  {}", host_of(card.url)))
                    .size(size::SMALL)
                    .color(palette.text_weak),
            );
            ui.add_space(GAP / 2.0);
            if card.items.is_empty() {
                ui.label(RichText::new("It has no stories right now.").color(palette.text_weak));
            }
            for item in card.items.iter().take(PREVIEW_HEADLINES) {
                ui.horizontal(|ui| {
                    let when = RichText::new(relative_time(item.published, now))
                        .size(size::SMALL)
                        .color(palette.text_weak);
                    ui.add_sized([72.0, 18.0], egui::Label::new(when));
                    ui.add(egui::Label::new(item.title.as_str()).truncate());
                });
            }
            let mut notes = Vec::new();
            if card.skipped > 0 {
                notes.push(format!(
                    "{} {} without a title, text or link will be skipped.",
                    card.skipped,
                    if card.skipped == 1 {
                        "entry"
                    } else {
                        "entries"
                    }
                ));
            }
            for repair in card.repairs {
                notes.push(format!("Read despite a fault: {repair}."));
            }
            for note in notes {
                ui.label(
                    RichText::new(note)
                        .size(size::SMALL)
                        .color(palette.text_weak),
                );
            }
        });
}

fn add_form(ui: &mut Ui, panel: &mut LineupPanel, palette: &Palette, effects: &mut Vec<Effect>) {
    ui.add_space(GAP / 2.0);
    let mut submit = false;
    let channels: Vec<(String, String)> = panel
        .news_channels()
        .into_iter()
        .map(|c| (c.id.clone(), c.title.clone()))
        .collect();
    let all: Vec<(String, String)> = match &panel.manage {
        Manage::Ready(lineup) => lineup
            .channels
            .iter()
            .map(|c| (c.id.clone(), c.title.clone()))
            .collect(),
        _ => Vec::new(),
    };
    egui::Grid::new("add-feed-form")
        .num_columns(2)
        .spacing([GAP * 1.5, GAP])
        .show(ui, |ui| {
            ui.label("Add to");
            let selected = match &panel.target {
                Target::NewChannel => "A new channel".to_owned(),
                Target::Channel(id) => title_of(&channels, id),
            };
            egui::ComboBox::from_id_salt("add-feed-target")
                .selected_text(selected)
                .width(240.0)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut panel.target, Target::NewChannel, "A new channel");
                    for (id, title) in &channels {
                        ui.selectable_value(&mut panel.target, Target::Channel(id.clone()), title);
                    }
                })
                .response
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "Add to"));
            ui.end_row();
            if panel.target == Target::NewChannel {
                ui.label("Name");
                let name = ui.add(
                    egui::TextEdit::singleline(&mut panel.new_title)
                        .char_limit(80)
                        .desired_width(240.0),
                );
                name.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::TextInput, true, "New channel name")
                });
                if panel.focus == Some(Focus::Form) {
                    name.request_focus();
                    panel.focus = None;
                }
                if name.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    submit = true;
                }
                ui.end_row();
                ui.label("Colour");
                colour_swatches(ui, &mut panel.new_colour, palette);
                ui.end_row();
                ui.label("Position");
                let selected = match &panel.position {
                    Position::Last => "At the end".to_owned(),
                    Position::First => "At the top".to_owned(),
                    Position::After(id) => format!("After {}", title_of(&all, id)),
                };
                egui::ComboBox::from_id_salt("add-feed-position")
                    .selected_text(selected)
                    .width(240.0)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut panel.position, Position::First, "At the top");
                        for (id, title) in &all {
                            ui.selectable_value(
                                &mut panel.position,
                                Position::After(id.clone()),
                                format!("After {title}"),
                            );
                        }
                        ui.selectable_value(&mut panel.position, Position::Last, "At the end");
                    })
                    .response
                    .widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "Position")
                    });
                ui.end_row();
            }
        });
    ui.add_space(GAP / 2.0);
    ui.horizontal(|ui| {
        let add = egui::Button::new(RichText::new("Add feed").color(palette.on_accent))
            .fill(palette.accent);
        let add = ui.add_enabled(!panel.busy, add);
        if panel.focus == Some(Focus::Form) {
            // Adding to an existing channel: Enter on the focused button adds.
            add.request_focus();
            panel.focus = None;
        }
        if add.clicked() {
            submit = true;
        }
        if panel.busy {
            ui.spinner();
        }
    });
    if submit && !panel.busy {
        match panel.add_request() {
            Ok(request) => ask(panel, effects, request),
            Err(why) => panel.status = Some(Err(why)),
        }
    }
}

fn title_of(channels: &[(String, String)], id: &str) -> String {
    channels
        .iter()
        .find(|(c, _)| c == id)
        .map_or_else(|| id.to_owned(), |(_, title)| title.clone())
}

/// Eight round swatches; the chosen one ringed. Returns whether one was clicked.
fn colour_swatches(ui: &mut Ui, chosen: &mut String, palette: &Palette) -> bool {
    let mut clicked = false;
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 6.0;
        for colour in COLOURS {
            let (rect, response) =
                ui.allocate_exact_size(egui::vec2(22.0, 22.0), egui::Sense::click());
            let selected = chosen.eq_ignore_ascii_case(colour);
            let painter = ui.painter();
            painter.circle_filled(rect.center(), 8.0, channel_colour(colour));
            if selected {
                painter.circle_stroke(rect.center(), 10.5, egui::Stroke::new(2.0, palette.text));
            } else if response.hovered() {
                painter.circle_stroke(rect.center(), 10.5, egui::Stroke::new(1.0, palette.border));
            }
            response.widget_info(|| {
                egui::WidgetInfo::selected(egui::Role::RadioButton, true, selected, colour)
            });
            if response.clicked() {
                *chosen = colour.to_owned();
                clicked = true;
            }
        }
    });
    clicked
}

fn status_line(ui: &mut Ui, panel: &LineupPanel, palette: &Palette) {
    match &panel.status {
        Some(Ok(said)) => {
            ui.add_space(GAP / 2.0);
            ui.label(RichText::new(said).color(palette.good));
        }
        Some(Err(why)) => {
            ui.add_space(GAP / 2.0);
            ui.label(RichText::new(why).color(palette.bad));
        }
        None => {}
    }
}

fn channels_section(
    ui: &mut Ui,
    panel: &mut LineupPanel,
    palette: &Palette,
    effects: &mut Vec<Effect>,
) {
    let Manage::Ready(lineup) = &panel.manage else {
        return;
    };
    let channels = lineup.channels.clone();
    section(ui, "Feeds of your channels");
    hint(
        ui,
        palette,
        "Rename, recolour or remove a channel, and move a feed between channels. These apply \
         at once; the dot changes a channel's colour.",
    );
    ui.add_space(GAP / 2.0);
    let news: Vec<(String, String)> = channels
        .iter()
        .filter(|c| c.kind == ChannelKind::News)
        .map(|c| (c.id.clone(), c.title.clone()))
        .collect();
    for channel in &channels {
        channel_block(ui, panel, palette, channel, &news, channels.len(), effects);
        ui.add_space(GAP / 2.0);
    }
}

fn channel_block(
    ui: &mut Ui,
    panel: &mut LineupPanel,
    palette: &Palette,
    channel: &LineupChannel,
    news: &[(String, String)],
    count: usize,
    effects: &mut Vec<Effect>,
) {
    egui::Frame::new()
        .stroke(egui::Stroke::new(1.0, palette.border))
        .corner_radius(8.0)
        .inner_margin(egui::Margin::symmetric(12, 8))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                let mut colour = channel.colour.clone();
                let dot = ui
                    .add(
                        egui::Button::new("")
                            .min_size(egui::vec2(22.0, 22.0))
                            .frame(false),
                    )
                    .on_hover_text("Change colour");
                ui.painter()
                    .circle_filled(dot.rect.center(), 7.0, channel_colour(&channel.colour));
                dot.widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::Button,
                        true,
                        format!("Colour of {}", channel.title),
                    )
                });
                egui::Popup::menu(&dot).show(|ui| {
                    if colour_swatches(ui, &mut colour, palette) && !panel.busy {
                        ask(
                            panel,
                            effects,
                            LineupRequest::Recolour {
                                channel: channel.id.clone(),
                                colour: colour.clone(),
                            },
                        );
                    }
                });
                let renaming = panel
                    .renaming
                    .as_ref()
                    .is_some_and(|(id, _)| *id == channel.id);
                if renaming {
                    rename_row(ui, panel, channel, effects);
                } else {
                    ui.label(RichText::new(&channel.title).strong());
                    let kind = match channel.kind {
                        ChannelKind::News => match channel.sources.len() {
                            0 => "no feeds".to_owned(),
                            1 => "1 feed".to_owned(),
                            n => format!("{n} feeds"),
                        },
                        ChannelKind::Weather => "weather".to_owned(),
                        ChannelKind::Alerts => "alerts".to_owned(),
                    };
                    ui.label(
                        RichText::new(kind)
                            .size(size::SMALL)
                            .color(palette.text_weak),
                    );
                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                        let remove =
                            ui.add_enabled(!panel.busy && count > 1, egui::Button::new("Remove"));
                        remove.widget_info(|| {
                            egui::WidgetInfo::labeled(
                                egui::Role::Button,
                                !panel.busy && count > 1,
                                format!("Remove {}", channel.title),
                            )
                        });
                        if remove.clicked() {
                            panel.confirm = Some(Confirm::Channel(channel.id.clone()));
                        }
                        let rename = ui.add_enabled(!panel.busy, egui::Button::new("Rename"));
                        rename.widget_info(|| {
                            egui::WidgetInfo::labeled(
                                egui::Role::Button,
                                !panel.busy,
                                format!("Rename {}", channel.title),
                            )
                        });
                        if rename.clicked() {
                            panel.renaming = Some((channel.id.clone(), channel.title.clone()));
                        }
                    });
                }
            });
            if panel.confirm == Some(Confirm::Channel(channel.id.clone())) {
                confirm_row(
                    ui,
                    panel,
                    palette,
                    &format!(
                        "Remove {} and its stories from every device?",
                        channel.title
                    ),
                    LineupRequest::RemoveChannel(channel.id.clone()),
                    effects,
                );
            }
            for source in &channel.sources {
                feed_row(ui, panel, palette, channel, source, news, effects);
            }
        });
}

fn rename_row(
    ui: &mut Ui,
    panel: &mut LineupPanel,
    channel: &LineupChannel,
    effects: &mut Vec<Effect>,
) {
    let Some((_, text)) = panel.renaming.as_mut() else {
        return;
    };
    let field = ui.add(
        egui::TextEdit::singleline(text)
            .char_limit(80)
            .desired_width(220.0),
    );
    field.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Channel name"));
    if !field.has_focus() && !field.lost_focus() {
        field.request_focus();
    }
    let title = text.trim().to_owned();
    let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    let valid = !title.is_empty() && title != channel.title;
    if (ui
        .add_enabled(valid, egui::Button::new("Save name"))
        .clicked()
        || entered)
        && valid
    {
        ask(
            panel,
            effects,
            LineupRequest::Rename {
                channel: channel.id.clone(),
                title,
            },
        );
    } else if ui.button("Cancel").clicked()
        || (field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Escape)))
    {
        panel.renaming = None;
    }
}

fn feed_row(
    ui: &mut Ui,
    panel: &mut LineupPanel,
    palette: &Palette,
    channel: &LineupChannel,
    source: &crate::protocol::LineupSource,
    news: &[(String, String)],
    effects: &mut Vec<Effect>,
) {
    let label = feed_label(source);
    ui.horizontal(|ui| {
        ui.add_space(28.0);
        ui.add(egui::Label::new(RichText::new(&label).color(palette.text)).truncate())
            .on_hover_text(source.url.as_str());
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let remove = ui.add_enabled(!panel.busy, egui::Button::new("Remove").small());
            remove.widget_info(|| {
                egui::WidgetInfo::labeled(
                    egui::Role::Button,
                    !panel.busy,
                    format!("Remove feed {label}"),
                )
            });
            if remove.clicked() {
                panel.confirm = Some(Confirm::Feed {
                    channel: channel.id.clone(),
                    url: source.url.clone(),
                });
            }
            let others: Vec<&(String, String)> =
                news.iter().filter(|(id, _)| *id != channel.id).collect();
            if !others.is_empty() {
                let mut to = None;
                let enabled = !panel.busy;
                ui.add_enabled_ui(enabled, |ui| {
                    let combo = egui::ComboBox::from_id_salt(("move-feed", source.url.as_str()))
                        .selected_text("Move to…")
                        .width(120.0)
                        .show_ui(ui, |ui| {
                            for (id, title) in others {
                                if ui.selectable_label(false, title).clicked() {
                                    to = Some(id.clone());
                                }
                            }
                        });
                    combo.response.widget_info(|| {
                        egui::WidgetInfo::labeled(
                            egui::Role::ComboBox,
                            enabled,
                            format!("Move feed {label} to"),
                        )
                    });
                });
                if let Some(to) = to {
                    ask(
                        panel,
                        effects,
                        LineupRequest::MoveFeed {
                            url: source.url.clone(),
                            to,
                        },
                    );
                }
            }
        });
    });
    let confirming = panel.confirm
        == Some(Confirm::Feed {
            channel: channel.id.clone(),
            url: source.url.clone(),
        });
    if confirming {
        confirm_row(
            ui,
            panel,
            palette,
            &format!("Remove {label} and its stories from {}?", channel.title),
            LineupRequest::RemoveFeed {
                channel: channel.id.clone(),
                url: source.url.clone(),
            },
            effects,
        );
    }
}

fn confirm_row(
    ui: &mut Ui,
    panel: &mut LineupPanel,
    palette: &Palette,
    question: &str,
    request: LineupRequest,
    effects: &mut Vec<Effect>,
) {
    ui.horizontal(|ui| {
        ui.add_space(28.0);
        ui.label(RichText::new(question).color(palette.caution));
        let remove =
            egui::Button::new(RichText::new("Yes, remove").color(Color32::WHITE)).fill(palette.bad);
        if ui.add_enabled(!panel.busy, remove).clicked() {
            ask(panel, effects, request.clone());
        }
        if ui.button("Keep").clicked() {
            panel.confirm = None;
        }
    });
}

fn ask(panel: &mut LineupPanel, effects: &mut Vec<Effect>, request: LineupRequest) {
    panel.sent(&request);
    effects.push(Effect::Lineup(request));
}
