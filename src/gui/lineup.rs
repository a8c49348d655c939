//! The state of "Your channels and feeds" in Settings → Channels: the line-up of the server the
//! app may manage (its built-in server), the address being previewed, the form that adds it,
//! and what the last change did. Changes apply at once, through the server's
//! channel-management API; the catalog change then arrives on the stream like any other event.

use crate::client::admin::{AdminClient, AdminError};
use crate::protocol::{
    ChannelPatch, LineupChannel, LineupResponse, LineupSource, NewChannel, Preview,
};

/// Accent colours offered for a channel, in the order they are offered.
pub const COLOURS: [&str; 8] = [
    "#4a90e2", "#e0564b", "#50b86c", "#f5a623", "#7b61ff", "#00a3a3", "#d4508b", "#8c6d46",
];

/// What the app can do with the server's line-up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Manage {
    /// Not asked yet.
    #[default]
    Unknown,
    /// Asked; waiting.
    Loading,
    /// The line-up.
    Ready(LineupResponse),
    /// Not possible here, and why (a shared server the app holds no admin token for, or the
    /// server could not be asked).
    Unavailable(String),
}

/// Where a previewed feed goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Target {
    /// A new channel, made from the form.
    #[default]
    NewChannel,
    /// This existing channel.
    Channel(String),
}

/// Where a new channel goes in the user's list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Position {
    /// At the end.
    #[default]
    Last,
    /// At the top.
    First,
    /// After this channel.
    After(String),
}

/// The preview of the address typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PreviewState {
    /// Nothing previewed.
    #[default]
    Idle,
    /// Asked; waiting (for this address).
    Loading(String),
    /// The server's reading.
    Ready(Preview),
    /// Why it cannot be added.
    Failed(String),
}

/// A removal waiting for the user to confirm it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// Remove this channel and its stories.
    Channel(String),
    /// Remove this feed from this channel.
    Feed {
        /// The channel.
        channel: String,
        /// The feed's URL.
        url: String,
    },
}

/// A change (or a question) for the server, as the view asks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineupRequest {
    /// Read the line-up again.
    Refresh,
    /// Preview an address.
    Preview(String),
    /// Add a feed to an existing channel.
    AddFeed {
        /// The channel.
        channel: String,
        /// The feed.
        source: LineupSource,
    },
    /// Make a channel with this feed.
    AddChannel {
        /// Its title.
        title: String,
        /// Its colour.
        colour: String,
        /// Where, in the user's list.
        position: Position,
        /// Its first feed.
        source: LineupSource,
    },
    /// Rename a channel.
    Rename {
        /// The channel.
        channel: String,
        /// The new title.
        title: String,
    },
    /// Recolour a channel.
    Recolour {
        /// The channel.
        channel: String,
        /// The new colour.
        colour: String,
    },
    /// Move a feed to another channel.
    MoveFeed {
        /// The feed's URL.
        url: String,
        /// The channel it goes to.
        to: String,
    },
    /// Remove a feed from its channel.
    RemoveFeed {
        /// The channel.
        channel: String,
        /// The feed's URL.
        url: String,
    },
    /// Remove a channel.
    RemoveChannel(String),
    /// Import another reader's OPML file into the line-up.
    ImportOpml(std::path::PathBuf),
    /// Write the line-up as OPML to this file.
    ExportOpml(std::path::PathBuf),
}

/// What a request came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineupReply {
    /// What was asked.
    pub request: LineupRequest,
    /// The preview, for a preview; otherwise what happened: `Ok` with a sentence for the
    /// status line, or why not.
    pub outcome: Result<Outcome, String>,
    /// The line-up after the change (read again), when it could be read.
    pub lineup: Option<Result<LineupResponse, String>>,
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A preview.
    Preview(Preview),
    /// A change, in words ("Added Harbour Gazette to Local.").
    Done(String),
    /// A channel was made (its id and where the user wants it).
    Created {
        /// The sentence for the status line.
        said: String,
        /// The new channel's id.
        id: String,
        /// Where it goes in the user's list.
        position: Position,
    },
}

/// A field to give the keyboard focus to on the next frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The address field (Ctrl+N).
    Address,
    /// The add form, once a feed is previewed (so Enter adds it).
    Form,
}

/// The panel's whole state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineupPanel {
    /// The server's line-up.
    pub manage: Manage,
    /// The address field.
    pub address: String,
    /// Its preview.
    pub preview: PreviewState,
    /// Where the previewed feed goes.
    pub target: Target,
    /// The new channel's title.
    pub new_title: String,
    /// The new channel's colour.
    pub new_colour: String,
    /// Where the new channel goes.
    pub position: Position,
    /// A request is on its way.
    pub busy: bool,
    /// What the last change did (`Ok`) or why it failed.
    pub status: Option<Result<String, String>>,
    /// The channel being renamed, and the title typed so far.
    pub renaming: Option<(String, String)>,
    /// A removal to confirm.
    pub confirm: Option<Confirm>,
    /// Where the keyboard goes next.
    pub focus: Option<Focus>,
    /// The OPML file to import.
    pub import_path: String,
    /// Where to export OPML.
    pub export_path: String,
}

impl LineupPanel {
    /// The news channels of the line-up (where feeds can go).
    #[must_use]
    pub fn news_channels(&self) -> Vec<&LineupChannel> {
        match &self.manage {
            Manage::Ready(lineup) => lineup
                .channels
                .iter()
                .filter(|c| c.kind == crate::protocol::ChannelKind::News)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Records that `request` is on its way.
    pub fn sent(&mut self, request: &LineupRequest) {
        self.busy = true;
        match request {
            LineupRequest::Preview(address) => {
                self.preview = PreviewState::Loading(address.clone());
            }
            LineupRequest::Refresh => {
                if !matches!(self.manage, Manage::Ready(_)) {
                    self.manage = Manage::Loading;
                }
            }
            _ => self.status = None,
        }
    }

    /// Applies a reply; returns the new channel's id and position when one was made, for the
    /// user's channel order.
    pub fn received(&mut self, reply: LineupReply) -> Option<(String, Position)> {
        self.busy = false;
        if let Some(lineup) = reply.lineup {
            self.manage = match lineup {
                Ok(lineup) => Manage::Ready(lineup),
                Err(error) => Manage::Unavailable(error),
            };
        }
        match reply.outcome {
            Ok(Outcome::Preview(preview)) => {
                if let LineupRequest::Preview(address) = &reply.request
                    && !matches!(&self.preview, PreviewState::Loading(a) if a == address)
                {
                    return None; // an older preview, overtaken by a newer address
                }
                if let Preview::Feed { title, .. } = &preview {
                    self.new_title = title.clone().unwrap_or_default();
                    if self.new_colour.is_empty() {
                        self.new_colour = self.next_colour();
                    }
                }
                self.preview = PreviewState::Ready(preview);
                self.focus = Some(Focus::Form);
                None
            }
            Ok(Outcome::Done(said)) => {
                self.after_change(&reply.request);
                if !said.is_empty() {
                    self.status = Some(Ok(said));
                }
                None
            }
            Ok(Outcome::Created { said, id, position }) => {
                self.after_change(&reply.request);
                self.status = Some(Ok(said));
                Some((id, position))
            }
            Err(error) => {
                if matches!(reply.request, LineupRequest::Preview(_)) {
                    self.preview = PreviewState::Failed(error);
                } else {
                    self.status = Some(Err(error));
                }
                None
            }
        }
    }

    fn after_change(&mut self, request: &LineupRequest) {
        match request {
            LineupRequest::AddFeed { .. } | LineupRequest::AddChannel { .. } => {
                self.address.clear();
                self.preview = PreviewState::Idle;
                self.new_title.clear();
                self.new_colour.clear();
                self.target = Target::NewChannel;
                self.position = Position::Last;
            }
            LineupRequest::Rename { .. } => self.renaming = None,
            LineupRequest::RemoveChannel(_) | LineupRequest::RemoveFeed { .. } => {
                self.confirm = None;
            }
            _ => {}
        }
    }

    /// The first accent colour no channel of the line-up uses yet (or the next in turn).
    #[must_use]
    pub fn next_colour(&self) -> String {
        let used: Vec<String> = match &self.manage {
            Manage::Ready(lineup) => lineup.channels.iter().map(|c| c.colour.clone()).collect(),
            _ => Vec::new(),
        };
        COLOURS
            .iter()
            .find(|c| !used.iter().any(|u| u == *c))
            .or_else(|| COLOURS.get(used.len() % COLOURS.len()))
            .copied()
            .unwrap_or("#4a90e2")
            .to_owned()
    }

    /// The request that adds what is previewed, as the form says; `Err` says what is missing.
    pub fn add_request(&self) -> Result<LineupRequest, String> {
        let PreviewState::Ready(Preview::Feed { url, .. }) = &self.preview else {
            return Err("Preview a feed first.".to_owned());
        };
        let source = LineupSource {
            url: url.clone(),
            name: None,
            poll_minutes: None,
        };
        match &self.target {
            Target::Channel(channel) => Ok(LineupRequest::AddFeed {
                channel: channel.clone(),
                source,
            }),
            Target::NewChannel => {
                let title = self.new_title.trim();
                if title.is_empty() {
                    return Err("Give the new channel a name.".to_owned());
                }
                if title.chars().count() > 80 {
                    return Err("A channel's name has at most 80 characters.".to_owned());
                }
                Ok(LineupRequest::AddChannel {
                    title: title.to_owned(),
                    colour: if self.new_colour.is_empty() {
                        self.next_colour()
                    } else {
                        self.new_colour.clone()
                    },
                    position: self.position.clone(),
                    source,
                })
            }
        }
    }
}

/// Carries out `request` against the server (or, for OPML, on the line-up file the server
/// follows) and reads the line-up again after a change.
pub async fn run(
    admin: &AdminClient,
    lineup_file: Option<std::path::PathBuf>,
    request: LineupRequest,
) -> LineupReply {
    let outcome = match (&request, lineup_file) {
        (LineupRequest::ImportOpml(_) | LineupRequest::ExportOpml(_), None) => Err(
            "OPML goes in and out of the built-in server's line-up, which is not running."
                .to_owned(),
        ),
        (LineupRequest::ImportOpml(file), Some(lineup)) => {
            let file = file.clone();
            let done = tokio::task::spawn_blocking(move || {
                let bytes = std::fs::read(&file)
                    .map_err(|e| format!("Cannot read {}: {e}.", file.display()))?;
                crate::opml::import_file(&bytes, &lineup, true).map_err(|e| format!("{e:#}."))
            })
            .await;
            match done {
                Ok(Ok(imported)) => {
                    // The server would notice the file within two seconds; have it read the
                    // file now, so the line-up read below is the new one. (Failing that, the
                    // watcher still picks it up.)
                    if imported.saved
                        && let Err(error) = admin.reload().await
                    {
                        tracing::warn!(%error, "the built-in server did not reload the line-up at once");
                    }
                    Ok(Outcome::Done(imported.report.summary()))
                }
                Ok(Err(why)) => Err(why),
                Err(_) => Err("The import stopped.".to_owned()),
            }
        }
        (LineupRequest::ExportOpml(out), Some(lineup)) => {
            let out = out.clone();
            let done = tokio::task::spawn_blocking(move || {
                crate::opml::export_file(&lineup, &out)
                    .map(|(channels, feeds)| {
                        format!(
                            "Exported {channels} channels with {feeds} feeds to {}.",
                            out.display()
                        )
                    })
                    .map_err(|e| format!("{e:#}."))
            })
            .await;
            match done {
                Ok(result) => result.map(Outcome::Done),
                Err(_) => Err("The export stopped.".to_owned()),
            }
        }
        _ => perform(admin, &request).await,
    };
    let lineup = match (&request, &outcome) {
        // A preview changes nothing; a refresh is the read itself.
        (LineupRequest::Preview(_), _) => None,
        _ => Some(admin.lineup().await.map_err(|e| sentence(&e))),
    };
    LineupReply {
        request,
        outcome,
        lineup,
    }
}

async fn perform(admin: &AdminClient, request: &LineupRequest) -> Result<Outcome, String> {
    let said = |text: String| Ok(Outcome::Done(text));
    match request {
        LineupRequest::Refresh => Ok(Outcome::Done(String::new())),
        LineupRequest::Preview(address) => admin
            .preview(address)
            .await
            .map(Outcome::Preview)
            .map_err(|e| sentence(&e)),
        LineupRequest::AddFeed { channel, source } => {
            let changed = admin
                .add_source(channel, source)
                .await
                .map_err(|e| sentence(&e))?;
            said(format!("Added the feed to {}.", changed.title))
        }
        LineupRequest::AddChannel {
            title,
            colour,
            position,
            source,
        } => {
            let made = admin
                .create_channel(&NewChannel {
                    title: title.clone(),
                    colour: Some(colour.clone()),
                    sources: vec![source.clone()],
                    ..NewChannel::default()
                })
                .await
                .map_err(|e| sentence(&e))?;
            Ok(Outcome::Created {
                said: format!(
                    "Made the channel {}; its stories are on their way.",
                    made.title
                ),
                id: made.id,
                position: position.clone(),
            })
        }
        LineupRequest::Rename { channel, title } => {
            let patch = ChannelPatch {
                title: Some(title.clone()),
                ..ChannelPatch::default()
            };
            let changed = admin
                .update_channel(channel, &patch)
                .await
                .map_err(|e| sentence(&e))?;
            said(format!("Renamed to {}.", changed.title))
        }
        LineupRequest::Recolour { channel, colour } => {
            let patch = ChannelPatch {
                colour: Some(colour.clone()),
                ..ChannelPatch::default()
            };
            let changed = admin
                .update_channel(channel, &patch)
                .await
                .map_err(|e| sentence(&e))?;
            said(format!("Changed the colour of {}.", changed.title))
        }
        LineupRequest::MoveFeed { url, to } => {
            let changed = admin.move_source(url, to).await.map_err(|e| sentence(&e))?;
            said(format!("Moved the feed to {}.", changed.title))
        }
        LineupRequest::RemoveFeed { channel, url } => {
            admin
                .remove_source(channel, url)
                .await
                .map_err(|e| sentence(&e))?;
            said("Removed the feed and its stories.".to_owned())
        }
        LineupRequest::RemoveChannel(channel) => {
            admin
                .remove_channel(channel)
                .await
                .map_err(|e| sentence(&e))?;
            said("Removed the channel and its stories.".to_owned())
        }
        // Done on the line-up file, in [`run`].
        LineupRequest::ImportOpml(_) | LineupRequest::ExportOpml(_) => {
            Err("OPML is read and written by the app, not the server.".to_owned())
        }
    }
}

/// An error as one sentence for the panel: capitalised, with a full stop.
fn sentence(error: &AdminError) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?', ')']) {
        out.push('.');
    }
    out
}

/// Puts the channel `id` where `position` says in the user's channel order of `settings`
/// (`known`: the channels the server describes, which may not list it yet).
pub fn place_channel(
    settings: &mut crate::gui::settings::Settings,
    known: &[crate::protocol::ChannelId],
    id: &str,
    position: &Position,
) {
    let Ok(new) = crate::protocol::ChannelId::new(id) else {
        return;
    };
    let mut known = known.to_vec();
    if !known.contains(&new) {
        known.push(new);
    }
    let ordered = settings.ordered(&known);
    let ids: Vec<String> = ordered.iter().map(|p| p.id.to_string()).collect();
    settings.channels = placed(&ids, id, position)
        .iter()
        .filter_map(|i| ordered.iter().find(|p| p.id.as_str() == i).cloned())
        .collect();
}

/// `ids` (the user's channel order) with `id` placed at `position`.
#[must_use]
pub fn placed(ids: &[String], id: &str, position: &Position) -> Vec<String> {
    let mut out: Vec<String> = ids.iter().filter(|i| *i != id).cloned().collect();
    let at = match position {
        Position::Last => out.len(),
        Position::First => 0,
        Position::After(other) => out
            .iter()
            .position(|i| i == other)
            .map_or(out.len(), |i| i + 1),
    };
    out.insert(at, id.to_owned());
    out
}

/// A feed as a person reads it: its name, or its address without the scheme.
#[must_use]
pub fn feed_label(source: &LineupSource) -> String {
    if let Some(name) = source.name.as_deref().filter(|n| !n.trim().is_empty()) {
        return name.to_owned();
    }
    if source.url == "tidings:welcome" {
        return "Welcome to Tidings (built in)".to_owned();
    }
    let url = source.url.as_str();
    let bare = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .trim_end_matches('/');
    bare.strip_prefix("www.").unwrap_or(bare).to_owned()
}

/// The host of a URL, for "12 stories · feeds.example.org".
#[must_use]
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    host.strip_prefix("www.").unwrap_or(host).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ChannelKind, PreviewItem};

    fn lineup() -> LineupResponse {
        LineupResponse {
            managed: true,
            channels: vec![
                LineupChannel {
                    id: "world".into(),
                    title: "World".into(),
                    description: String::new(),
                    colour: "#4a90e2".into(),
                    kind: ChannelKind::News,
                    sources: vec![],
                },
                LineupChannel {
                    id: "weather".into(),
                    title: "Weather".into(),
                    description: String::new(),
                    colour: "#e0564b".into(),
                    kind: ChannelKind::Weather,
                    sources: vec![],
                },
            ],
        }
    }

    fn feed_preview(title: &str) -> Preview {
        Preview::Feed {
            url: "https://harbour.example/feed.xml".into(),
            title: Some(title.into()),
            items: vec![PreviewItem {
                title: "Ferry".into(),
                link: None,
                published: chrono::Utc::now(),
            }],
            item_count: 1,
            skipped: 0,
            repairs: vec![],
            already_in: None,
        }
    }

    #[test]
    fn a_preview_fills_the_form_and_an_old_one_is_ignored() {
        let mut panel = LineupPanel {
            manage: Manage::Ready(lineup()),
            ..LineupPanel::default()
        };
        assert_eq!(panel.news_channels().len(), 1);
        let first = LineupRequest::Preview("a.example".into());
        let second = LineupRequest::Preview("harbour.example".into());
        panel.sent(&first);
        panel.sent(&second);
        let late = LineupReply {
            request: first,
            outcome: Ok(Outcome::Preview(feed_preview("Old"))),
            lineup: None,
        };
        assert_eq!(panel.received(late), None);
        assert_eq!(
            panel.preview,
            PreviewState::Loading("harbour.example".into())
        );
        panel.received(LineupReply {
            request: second,
            outcome: Ok(Outcome::Preview(feed_preview("Harbour Gazette"))),
            lineup: None,
        });
        assert_eq!(panel.new_title, "Harbour Gazette");
        assert_eq!(panel.new_colour, "#50b86c", "the first colour nobody uses");
        let LineupRequest::AddChannel { title, source, .. } = panel.add_request().unwrap() else {
            panic!("a new channel by default");
        };
        assert_eq!(title, "Harbour Gazette");
        assert_eq!(source.url, "https://harbour.example/feed.xml");
        panel.new_title = "  ".into();
        assert!(panel.add_request().is_err());
        panel.target = Target::Channel("world".into());
        assert!(matches!(
            panel.add_request(),
            Ok(LineupRequest::AddFeed { channel, .. }) if channel == "world"
        ));
    }

    #[test]
    fn a_made_channel_clears_the_form_and_says_where_it_goes() {
        let mut panel = LineupPanel {
            address: "harbour.example".into(),
            preview: PreviewState::Ready(feed_preview("H")),
            new_title: "H".into(),
            ..LineupPanel::default()
        };
        let request = panel.add_request().unwrap();
        panel.sent(&request);
        let made = panel.received(LineupReply {
            request,
            outcome: Ok(Outcome::Created {
                said: "Made".into(),
                id: "h".into(),
                position: Position::First,
            }),
            lineup: Some(Ok(lineup())),
        });
        assert_eq!(made, Some(("h".into(), Position::First)));
        assert!(panel.address.is_empty());
        assert_eq!(panel.preview, PreviewState::Idle);
        assert_eq!(panel.status, Some(Ok("Made".into())));
        assert!(!panel.busy);
    }

    #[test]
    fn positions_place_a_channel_in_the_users_order() {
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(placed(&ids, "n", &Position::Last), ["a", "b", "c", "n"]);
        assert_eq!(placed(&ids, "n", &Position::First), ["n", "a", "b", "c"]);
        assert_eq!(
            placed(&ids, "n", &Position::After("a".into())),
            ["a", "n", "b", "c"]
        );
        assert_eq!(
            placed(&ids, "n", &Position::After("gone".into())),
            ["a", "b", "c", "n"]
        );
    }

    #[tokio::test]
    async fn opml_goes_into_the_lineup_file_and_comes_back_out() {
        let dir = tempfile::tempdir().unwrap();
        let lineup = dir.path().join("channels.toml");
        let file = dir.path().join("subscriptions.opml");
        std::fs::write(
            &file,
            r#"<?xml version="1.0"?><opml version="2.0"><body>
               <outline text="Harbour"><outline type="rss" text="Gazette" xmlUrl="https://harbour.example/feed.xml"/></outline>
               </body></opml>"#,
        )
        .unwrap();
        // Nobody listens there: the line-up read after the change fails, the import does not.
        let admin = AdminClient::new(
            reqwest::Client::new(),
            "http://127.0.0.1:9",
            "token-123456789",
        );
        let reply = run(
            &admin,
            Some(lineup.clone()),
            LineupRequest::ImportOpml(file),
        )
        .await;
        assert_eq!(
            reply.outcome,
            Ok(Outcome::Done("Imported 1 feed, in 1 new channel.".into()))
        );
        let saved = crate::config::lineup::Lineup::load(&lineup)
            .unwrap()
            .unwrap();
        assert!(
            saved
                .channel_with_source("https://harbour.example/feed.xml")
                .is_some()
        );
        assert!(saved.channels.len() > 1, "the defaults stay");

        let out = dir.path().join("out.opml");
        let reply = run(&admin, Some(lineup), LineupRequest::ExportOpml(out.clone())).await;
        let Ok(Outcome::Done(said)) = reply.outcome else {
            panic!("{:?}", reply.outcome);
        };
        assert!(said.starts_with("Exported "), "{said}");
        assert!(
            std::fs::read_to_string(out)
                .unwrap()
                .contains("harbour.example/feed.xml")
        );

        let missing = run(&admin, None, LineupRequest::ImportOpml("x.opml".into())).await;
        assert!(missing.outcome.is_err());
        let broken = dir.path().join("broken.opml");
        std::fs::write(&broken, "<html><body>Sign in</body></html>").unwrap();
        let reply = run(
            &admin,
            Some(dir.path().join("c.toml")),
            LineupRequest::ImportOpml(broken),
        )
        .await;
        let Err(why) = reply.outcome else { panic!() };
        assert!(why.contains("not an OPML file"), "{why}");
    }

    #[test]
    fn a_new_channel_goes_where_the_user_asked_in_their_own_order() {
        use crate::gui::settings::{ChannelPref, Settings};
        let id = |text: &str| crate::protocol::ChannelId::new(text).unwrap();
        let mut settings = Settings::default();
        // The user put Sports first and hid World; the server has not described "harbour" yet.
        let known = [id("world"), id("sports")];
        settings.channels = vec![
            ChannelPref {
                id: id("sports"),
                shown: true,
                notify: Default::default(),
            },
            ChannelPref {
                id: id("world"),
                shown: false,
                notify: Default::default(),
            },
        ];
        place_channel(
            &mut settings,
            &known,
            "harbour",
            &Position::After("sports".into()),
        );
        let order: Vec<&str> = settings.channels.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(order, ["sports", "harbour", "world"]);
        assert!(!settings.channels[2].shown, "nothing else changes");
        place_channel(&mut settings, &known, "harbour", &Position::First);
        assert_eq!(settings.channels[0].id.as_str(), "harbour");
    }

    #[test]
    fn feeds_read_as_names_or_bare_addresses() {
        let source = |url: &str, name: Option<&str>| LineupSource {
            url: url.into(),
            name: name.map(str::to_owned),
            poll_minutes: None,
        };
        assert_eq!(
            feed_label(&source("https://www.example.org/rss/", None)),
            "example.org/rss"
        );
        assert_eq!(feed_label(&source("https://x.org/f", Some("Ex"))), "Ex");
        assert_eq!(
            host_of("https://www.feeds.example.org/a?b"),
            "feeds.example.org"
        );
    }
}
