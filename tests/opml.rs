//! OPML import and export as people use them: the files NetNewsWire, Feedly, Inoreader,
//! Miniflux and Thunderbird write (`tests/fixtures/opml/`, written from each product's export
//! format with fictional feeds), broken files, and `tidings opml` run as a user runs it, with
//! a throw-away home directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tidings::config::RetentionPolicy;
use tidings::config::lineup::{LINEUP_FILE, Lineup};
use tidings::config::server::{RawSource, build_channels};
use tidings::opml::{self, ImportReport, OpmlError, SkipReason};
use tidings::protocol::ChannelKind;

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/opml")
        .join(name)
}

fn fixture(name: &str) -> opml::Outline {
    let bytes = std::fs::read(fixture_path(name)).unwrap();
    opml::parse_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn empty() -> Lineup {
    Lineup { channels: vec![] }
}

/// A feed as (address, name).
type Feed = (String, Option<String>);

fn feeds_of(sources: &[RawSource]) -> Vec<Feed> {
    sources
        .iter()
        .map(|s| (s.url().to_owned(), s.name().map(str::to_owned)))
        .collect()
}

/// The line-up as (title, feeds) per channel.
fn shape(lineup: &Lineup) -> Vec<(String, Vec<Feed>)> {
    lineup
        .channels
        .iter()
        .map(|c| (c.title.clone(), feeds_of(&c.sources)))
        .collect()
}

fn feed(url: &str, name: &str) -> Feed {
    (url.to_owned(), Some(name.to_owned()))
}

/// Imports `name` into `lineup`, checking the result is a line-up a server accepts.
fn import(lineup: &mut Lineup, name: &str) -> ImportReport {
    let report = opml::merge(lineup, &fixture(name));
    build_channels(lineup.channels.clone(), RetentionPolicy::default())
        .unwrap_or_else(|e| panic!("{name} made an invalid line-up: {e}"));
    report
}

fn skipped(report: &ImportReport) -> Vec<(String, SkipReason)> {
    report
        .skipped
        .iter()
        .map(|s| (s.entry.clone(), s.reason.clone()))
        .collect()
}

#[test]
fn feedly_folders_become_channels() {
    let mut lineup = empty();
    let report = import(&mut lineup, "feedly.opml");
    assert_eq!(
        shape(&lineup),
        [
            (
                "Tech".to_owned(),
                vec![
                    feed("https://circuitboard.example/feed/", "Circuit Board Weekly"),
                    feed(
                        "https://compilertimes.example/rss.xml",
                        "The Compiler Times"
                    ),
                    feed(
                        "http://feeds.arstechnica.com/arstechnica/index/",
                        "Ars Technica"
                    ),
                ]
            ),
            (
                "World News".to_owned(),
                vec![
                    feed(
                        "http://feeds.bbci.co.uk/news/world/rss.xml",
                        "BBC News - World"
                    ),
                    feed(
                        "https://gazette.example/world/atom.xml",
                        "Harbour Town Gazette"
                    ),
                ]
            ),
            (
                "Design & Type".to_owned(),
                vec![feed("https://kerning.example/feed.xml", "Kerning Matters")]
            ),
        ]
    );
    let ids: Vec<&str> = report
        .added_channels
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(ids, ["tech", "world-news", "design-type"]);
    assert!(report.skipped.is_empty());
    // New channels take the palette in turn, so neighbours differ.
    let colours: Vec<_> = lineup.channels.iter().map(|c| c.colour.clone()).collect();
    assert!(colours.iter().all(Option::is_some));
    assert_ne!(colours[0], colours[1]);
    assert_ne!(colours[1], colours[2]);
}

#[test]
fn netnewswire_top_level_feeds_go_into_one_channel_and_folders_into_their_own() {
    let mut lineup = empty();
    let report = import(&mut lineup, "netnewswire.opml");
    assert_eq!(
        shape(&lineup),
        [
            (
                "Imported".to_owned(),
                vec![
                    feed(
                        "https://slowcooked.example/feed.rss",
                        "Slow Cooked Thoughts"
                    ),
                    feed(
                        "https://tinkerer.example/index.xml",
                        "Marginalia of a Tinkerer"
                    ),
                ]
            ),
            (
                "Photography".to_owned(),
                vec![
                    feed("https://halide.example/feed.json", "Silver Halide Diaries"),
                    feed("https://f8.example/blog/atom.xml", "f/8 and Be There"),
                ]
            ),
            (
                "Apple".to_owned(),
                vec![feed("https://dispatch.example/rss", "Cupertino Dispatch")]
            ),
        ]
    );
    assert_eq!(report.added_feeds.len(), 5);
}

#[test]
fn thunderbird_account_folder_is_looked_into_and_nested_folders_flatten() {
    let outline = fixture("thunderbird.opml");
    assert_eq!(
        outline.title.as_deref(),
        Some("Thunderbird OPML Export - Blogs & News Feeds")
    );
    let mut lineup = empty();
    let report = opml::merge(&mut lineup, &outline);
    assert_eq!(
        shape(&lineup),
        [
            (
                "Science".to_owned(),
                vec![
                    feed("https://fieldnotes.example/feed/", "Field Notes in Ecology"),
                    feed("https://labbench.example/rss.xml", "The Lab Bench"),
                    feed("https://orbit.example/atom.xml", "Backyard Orbit"),
                ]
            ),
            (
                "Local News".to_owned(),
                vec![
                    feed("https://courier.example/news/feed", "Millbrook Courier"),
                    feed(
                        "https://council.example/notices.rss",
                        "Millbrook Council Notices"
                    ),
                ]
            ),
            (
                "Orchard Road Blog".to_owned(),
                vec![feed(
                    "https://orchardroad.example/?feed=rss2&cat=3",
                    "Orchard Road Blog"
                )]
            ),
        ]
    );
    assert_eq!(report.flattened.len(), 1);
    assert_eq!(report.flattened[0].folder, "Science / Space");
    assert_eq!(report.flattened[0].channel, "Science");
    assert!(
        report
            .to_string()
            .contains("Folder \"Science / Space\" is inside another folder")
    );
}

#[test]
fn inoreader_entities_are_decoded_and_a_feed_in_two_folders_is_imported_once() {
    let mut lineup = empty();
    let report = import(&mut lineup, "inoreader.opml");
    assert_eq!(
        shape(&lineup),
        [
            (
                "Food & Drink".to_owned(),
                vec![
                    feed("https://crumbcrust.example/feed", "Crumb & Crust"),
                    feed("https://ferment.example/rss/", "The Fermentation Shelf"),
                ]
            ),
            (
                "Cycling".to_owned(),
                vec![feed(
                    "https://gravel.example/feed.xml",
                    "Gravel – and Beyond"
                )]
            ),
        ]
    );
    assert_eq!(
        skipped(&report),
        [(
            "Crumb & Crust".to_owned(),
            SkipReason::ListedTwice {
                channel: "Food & Drink".to_owned()
            }
        )]
    );
    assert!(report.to_string().contains(
        "  - \"Crumb & Crust\": listed twice in the file; imported once, into \"Food & Drink\""
    ));
}

#[test]
fn miniflux_feeds_without_a_type_are_feeds() {
    let mut lineup = empty();
    import(&mut lineup, "miniflux.opml");
    assert_eq!(
        shape(&lineup),
        [
            (
                "All".to_owned(),
                vec![
                    feed(
                        "https://quietharbour.example/podcast.xml",
                        "Quiet Harbour Radio"
                    ),
                    feed(
                        "https://allotment.example/index.xml",
                        "Notes from the Allotment"
                    ),
                ]
            ),
            (
                "Open Source".to_owned(),
                vec![
                    feed(
                        "https://patchdigest.example/feed.atom",
                        "Patch Tuesday Digest"
                    ),
                    feed(
                        "https://releases.example/all.rss",
                        "Release Notes, Rendered"
                    ),
                    feed("https://kernelweather.example/feed.xml", "Kernel Weather"),
                ]
            ),
        ]
    );
}

#[test]
fn a_hand_written_file_with_a_bom_cdata_and_odd_attribute_case_imports() {
    let outline = fixture("handmade.opml");
    assert_eq!(outline.title.as_deref(), Some("My feeds <hand-written>"));
    let mut lineup = empty();
    import(&mut lineup, "handmade.opml");
    assert_eq!(
        shape(&lineup),
        [
            (
                "Imported".to_owned(),
                vec![feed(
                    "https://cafe.example/feed?format=rss&lang=en",
                    "Café Culture & More"
                )]
            ),
            (
                "Reading".to_owned(),
                vec![
                    // &nbsp; is an HTML entity, not XML, but common; it collapses like any space.
                    feed("https://longreads.example/feed", "Long Reads"),
                    // feed:// is how old browsers linked feeds: it means http://.
                    feed("http://only-title.example/rss.xml", "Only a title"),
                    // A "name" that is only the address again is no name.
                    ("https://bare.example/feed".to_owned(), None),
                ]
            ),
        ]
    );
}

#[test]
fn feeds_already_in_the_lineup_are_skipped_and_nothing_there_changes() {
    let builtin = Lineup::builtin().unwrap();
    let mut lineup = builtin.clone();
    let report = import(&mut lineup, "feedly.opml");
    // Every channel that was there is still there, exactly as it was, in front.
    assert_eq!(
        lineup.channels[..builtin.channels.len()],
        builtin.channels[..]
    );
    let world = builtin.channel("world").unwrap().title.clone();
    let tech = builtin.channel("tech").unwrap().title.clone();
    assert_eq!(
        skipped(&report),
        [
            (
                "Ars Technica".to_owned(),
                SkipReason::AlreadyIn { channel: tech }
            ),
            (
                "BBC News - World".to_owned(),
                SkipReason::AlreadyIn { channel: world }
            ),
        ]
    );
    assert!(
        report
            .to_string()
            .contains("  - \"Ars Technica\": already in channel \"Technology\"")
    );
    let added: Vec<&str> = report.added_feeds.iter().map(|f| f.url.as_str()).collect();
    assert_eq!(
        added,
        [
            "https://circuitboard.example/feed/",
            "https://compilertimes.example/rss.xml",
            "https://gazette.example/world/atom.xml",
            "https://kerning.example/feed.xml",
        ]
    );

    // The same file again adds nothing.
    let again = import(&mut lineup, "feedly.opml");
    assert!(!again.changed());
    assert_eq!(again.skipped.len(), 6);
    assert!(
        again
            .to_string()
            .starts_with("No feeds added: nothing in the file was new.")
    );
}

#[test]
fn a_folder_joins_the_channel_of_the_same_title_in_any_case() {
    let mut lineup = Lineup::builtin().unwrap();
    let before = lineup.channels.len();
    let science = lineup.channel("science").unwrap().sources.len();
    let outline = opml::parse(
        "<opml version=\"2.0\"><body><outline text=\"SCIENCE\">\
         <outline type=\"rss\" text=\"Tide Tables\" xmlUrl=\"https://tides.example/rss\"/>\
         </outline></body></opml>",
    )
    .unwrap();
    let report = opml::merge(&mut lineup, &outline);
    assert!(report.added_channels.is_empty());
    assert_eq!(lineup.channels.len(), before);
    let sources = &lineup.channel("science").unwrap().sources;
    assert_eq!(sources.len(), science + 1);
    assert_eq!(sources.last().unwrap().url(), "https://tides.example/rss");
    assert!(report.to_string().starts_with("Added 1 feed to 1 channel."));
}

#[test]
fn a_folder_named_like_the_weather_channel_gets_a_news_channel_of_its_own() {
    let mut lineup = Lineup::builtin().unwrap();
    let outline = opml::parse(
        "<opml><body><outline text=\"Weather\">\
         <outline xmlUrl=\"https://stormchasers.example/feed\"/></outline></body></opml>",
    )
    .unwrap();
    let report = opml::merge(&mut lineup, &outline);
    let added = &report.added_channels[0];
    assert_eq!(added.title, "Weather");
    assert_ne!(added.id, "weather");
    let channel = lineup.channel(&added.id).unwrap();
    assert_eq!(channel.kind, ChannelKind::News);
    build_channels(lineup.channels.clone(), RetentionPolicy::default()).unwrap();
}

#[test]
fn a_partly_bad_file_imports_the_good_entries_and_says_why_it_skipped_each_other() {
    let mut lineup = empty();
    let report = import(&mut lineup, "partial.opml");
    assert_eq!(
        shape(&lineup),
        [(
            "Hobbies".to_owned(),
            vec![
                feed(
                    "https://railways.example/feed.xml",
                    "Model Railways Monthly"
                ),
                feed("https://knitting.example/rss", "Knitting Circle"),
            ]
        )]
    );
    assert_eq!(
        skipped(&report),
        [
            ("Broken: no address".to_owned(), SkipReason::NoAddress),
            (
                "Sneaky".to_owned(),
                SkipReason::NotWeb("javascript:alert(document.cookie)".to_owned())
            ),
            (
                "Model Railways Monthly (again)".to_owned(),
                SkipReason::ListedTwice {
                    channel: "Hobbies".to_owned()
                }
            ),
            (
                "More lists".to_owned(),
                SkipReason::NotAFeed("link".to_owned())
            ),
            ("Empty folder".to_owned(), SkipReason::NoAddress),
        ]
    );
    let text = report.to_string();
    assert!(text.contains("Skipped 5 entries:"), "{text}");
    assert!(
        text.contains(
            "  - \"Sneaky\": not a web address: only http:// and https:// feeds are imported: \
             javascript:alert(document.cookie)"
        ),
        "{text}"
    );
    assert!(
        text.contains("  - \"Broken: no address\": no feed address (xmlUrl)"),
        "{text}"
    );
}

#[test]
fn files_that_are_not_opml_say_so() {
    let error = |name: &str| {
        let bytes = std::fs::read(fixture_path(name)).unwrap();
        opml::parse_bytes(&bytes).unwrap_err()
    };
    let not_xml = error("not-xml.opml");
    assert!(matches!(not_xml, OpmlError::NotOpml(_)));
    let not_xml = not_xml.to_string();
    assert!(
        not_xml.starts_with(
            "not an OPML file: there is no <opml> element; it starts with \"Title,URL,Folder Model"
        ),
        "{not_xml}"
    );
    let html = error("html-page.opml").to_string();
    assert!(
        html.starts_with("not an OPML file: it is a web page (HTML)"),
        "{html}"
    );
}

#[test]
fn a_file_cut_short_is_broken_not_half_imported() {
    let text = std::fs::read_to_string(fixture_path("miniflux.opml")).unwrap();
    let cut = &text[..text.find("Kernel Weather").unwrap()];
    let error = opml::parse(cut).unwrap_err();
    assert!(matches!(error, OpmlError::Broken { .. }), "{error}");
}

/// The news channels with web feeds, as an export carries them.
fn exportable(lineup: &Lineup) -> Vec<(String, Vec<Feed>)> {
    lineup
        .channels
        .iter()
        .filter(|c| c.kind == ChannelKind::News)
        .map(|c| {
            let feeds: Vec<Feed> = feeds_of(&c.sources)
                .into_iter()
                .filter(|(url, _)| url.starts_with("http"))
                .collect();
            (c.title.clone(), feeds)
        })
        .filter(|(_, feeds)| !feeds.is_empty())
        .collect()
}

#[test]
fn export_then_import_into_an_empty_lineup_gives_the_same_channels_and_feeds() {
    let mut lineup = Lineup::builtin().unwrap();
    for name in [
        "feedly.opml",
        "netnewswire.opml",
        "thunderbird.opml",
        "inoreader.opml",
        "miniflux.opml",
        "handmade.opml",
    ] {
        import(&mut lineup, name);
    }
    let text = opml::export(&lineup);
    let mut back = empty();
    let report = opml::merge(&mut back, &opml::parse(&text).unwrap());
    assert!(report.skipped.is_empty(), "{report}");
    assert!(report.flattened.is_empty(), "{report}");
    assert_eq!(shape(&back), exportable(&lineup));
    assert!(back.channels.len() > 10);
}

fn tidings(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tidings"));
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("TIDINGS_SERVER")
        .env_remove("TIDINGS_TOKEN");
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn cli_import_adds_to_the_default_lineup_in_the_config_directory_and_export_reads_it_back() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("config").join("tidings").join(LINEUP_FILE);
    let output = tidings(home.path())
        .args(["opml", "import"])
        .arg(fixture_path("feedly.opml"))
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        stdout.starts_with(
            "Added 4 feeds to 3 channels (3 new: \"Tech\", \"World News\", \"Design & Type\").\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("  + Tech: Circuit Board Weekly <https://circuitboard.example/feed/>\n")
    );
    assert!(stdout.contains("  - \"Ars Technica\": already in channel \"Technology\"\n"));
    assert!(stdout.contains("Saved; a running Tidings shows the new feeds within seconds"));

    // The defaults were kept and the feeds added after them.
    let saved = Lineup::load(&file).unwrap().unwrap();
    let builtin = Lineup::builtin().unwrap();
    assert_eq!(
        saved.channels[..builtin.channels.len()],
        builtin.channels[..]
    );
    assert_eq!(saved.channels.len(), builtin.channels.len() + 3);

    // Importing again changes nothing and says so.
    let output = tidings(home.path())
        .args(["opml", "import"])
        .arg(fixture_path("feedly.opml"))
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(text(&output.stdout).contains("Your channels are unchanged"));
    assert_eq!(Lineup::load(&file).unwrap().unwrap(), saved);

    // Export to standard output, then to a file.
    let output = tidings(home.path())
        .args(["opml", "export"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let outline = opml::parse(&text(&output.stdout)).unwrap();
    let titles: Vec<_> = outline
        .entries
        .iter()
        .filter_map(|e| e.text.clone())
        .collect();
    assert!(titles.contains(&"Design & Type".to_owned()), "{titles:?}");
    let out = home.path().join("out").join("mine.opml");
    let output = tidings(home.path())
        .args(["opml", "export", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("Exported "));
    assert_eq!(
        opml::parse(&std::fs::read_to_string(&out).unwrap()).unwrap(),
        outline
    );
}

#[test]
fn cli_import_into_a_named_file_with_dry_run_saves_nothing() {
    let home = tempfile::tempdir().unwrap();
    let into = home.path().join("office.toml");
    let output = tidings(home.path())
        .args(["opml", "import", "--dry-run", "--into"])
        .arg(&into)
        .arg(fixture_path("miniflux.opml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("Dry run: nothing saved to"));
    assert!(!into.exists());

    let output = tidings(home.path())
        .args(["opml", "import", "-", "--into"])
        .arg(&into)
        .stdin(std::fs::File::open(fixture_path("miniflux.opml")).unwrap())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let saved = Lineup::load(&into).unwrap().unwrap();
    assert_eq!(saved.channels.last().unwrap().title, "Open Source");
    let exported = tidings(home.path())
        .args(["opml", "export", "--from"])
        .arg(&into)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(text(&exported.stdout).contains("xmlUrl=\"https://kernelweather.example/feed.xml\""));
}

#[test]
fn cli_import_of_a_file_that_is_not_opml_fails_with_one_clear_line_and_writes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let output = tidings(home.path())
        .args(["opml", "import"])
        .arg(fixture_path("html-page.opml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("tidings: error: cannot import ")
            && stderr.contains("html-page.opml: not an OPML file: it is a web page (HTML)"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!home.path().join("config").exists());

    let missing = tidings(home.path())
        .args(["opml", "import", "no-such-file.opml"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("cannot read no-such-file.opml"));
}
