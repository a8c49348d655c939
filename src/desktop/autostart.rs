//! Starting the ticker with the desktop session: the XDG autostart entry
//! `$XDG_CONFIG_HOME/autostart/tidings.desktop`.
//!
//! The settings dialog calls [`enable`], [`disable`] and [`is_enabled`]; the `*_in` variants
//! take the configuration directory explicitly (for tests). Our entry carries an
//! `X-Tidings=true` line: an entry without it was written by someone else (the user, a
//! distribution) and is never overwritten or deleted here. Writes are atomic (temporary file,
//! then rename), so a crash never leaves half an entry for the session to run.
//!
//! The `Exec` line follows the Desktop Entry Specification ("The Exec key"): arguments with
//! reserved characters are quoted, `%` is doubled, and backslashes are escaped once more for
//! the string value. The packaged launcher entry (`packaging/`) shares the other fields
//! (`Icon=tidings`, `Categories=Network;News;`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The marker line that says an entry is ours.
const MARKER: &str = "X-Tidings=true";
/// The entry's file name inside the autostart directory.
const FILE_NAME: &str = "tidings.desktop";

/// Why the autostart entry could not be changed. Paths come last in the messages.
#[derive(Debug, thiserror::Error)]
pub enum AutostartError {
    /// No home directory, so no configuration directory.
    #[error("no configuration directory (is HOME set?)")]
    NoConfigDir,
    /// The path of our executable is unknown or cannot be written into a desktop entry.
    #[error("cannot name this program in an autostart entry: {reason}")]
    Executable {
        /// Why.
        reason: String,
    },
    /// Another program or the user put a `tidings.desktop` there; it is left alone.
    #[error("an autostart entry not written by Tidings is in the way (remove it to let Tidings manage it): {}", path.display())]
    NotOurs {
        /// The foreign entry.
        path: PathBuf,
    },
    /// Reading, writing or removing a file failed.
    #[error("could not {action} ({source}): {}", path.display())]
    Io {
        /// What we tried, e.g. "write the autostart entry".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's answer.
        source: std::io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> AutostartError {
    let path = path.to_owned();
    move |source| AutostartError::Io {
        action,
        path,
        source,
    }
}

fn config_dir() -> Result<PathBuf, AutostartError> {
    directories::BaseDirs::new()
        .map(|dirs| dirs.config_dir().to_owned())
        .ok_or(AutostartError::NoConfigDir)
}

/// Where the entry lives under the configuration directory `config_dir`.
pub fn entry_path(config_dir: &Path) -> PathBuf {
    config_dir.join("autostart").join(FILE_NAME)
}

/// Writes the autostart entry for this executable (`--ticker`, then `extra_args`, e.g.
/// `["--server", url]`) and returns its path.
pub fn enable(extra_args: &[String]) -> Result<PathBuf, AutostartError> {
    let exe = std::env::current_exe().map_err(|e| AutostartError::Executable {
        reason: e.to_string(),
    })?;
    enable_in(&config_dir()?, &exe, extra_args)
}

/// Removes our autostart entry. A missing entry is fine, and so is a foreign one, which stays
/// (it is not ours to delete, and [`is_enabled`] already reports it as not ours).
pub fn disable() -> Result<(), AutostartError> {
    disable_in(&config_dir()?)
}

/// Whether our autostart entry is there and not switched off.
pub fn is_enabled() -> bool {
    config_dir().is_ok_and(|dir| is_enabled_in(&dir))
}

/// [`enable`] for the configuration directory `config_dir` and the executable `exe`.
pub fn enable_in(
    config_dir: &Path,
    exe: &Path,
    extra_args: &[String],
) -> Result<PathBuf, AutostartError> {
    let path = entry_path(config_dir);
    if read_entry(&path)?.is_some_and(|text| !is_ours(&text)) {
        return Err(AutostartError::NotOurs { path });
    }
    let text = desktop_entry(exe, extra_args)?;
    let dir = path.parent().unwrap_or(config_dir);
    std::fs::create_dir_all(dir).map_err(io_error("create the autostart directory", dir))?;
    // Same directory, so the rename is atomic.
    let temp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(io_error("write the autostart entry", &temp)(source));
    }
    std::fs::rename(&temp, &path).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        io_error("put the autostart entry in place", &path)(source)
    })?;
    Ok(path)
}

/// [`disable`] for the configuration directory `config_dir`.
pub fn disable_in(config_dir: &Path) -> Result<(), AutostartError> {
    let path = entry_path(config_dir);
    match read_entry(&path)? {
        Some(text) if is_ours(&text) => {
            std::fs::remove_file(&path).map_err(io_error("remove the autostart entry", &path))
        }
        _ => Ok(()),
    }
}

/// [`is_enabled`] for the configuration directory `config_dir`: the entry exists, carries our
/// marker, and is neither `Hidden=true` nor `X-GNOME-Autostart-enabled=false` (how session
/// settings tools switch an entry off without deleting it).
pub fn is_enabled_in(config_dir: &Path) -> bool {
    let Ok(Some(text)) = read_entry(&entry_path(config_dir)) else {
        return false;
    };
    is_ours(&text)
        && !has_key(&text, "Hidden", "true")
        && !has_key(&text, "X-GNOME-Autostart-enabled", "false")
}

/// The entry's text, or `None` when there is none.
fn read_entry(path: &Path) -> Result<Option<String>, AutostartError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error("read the autostart entry", path)(error)),
    }
}

fn is_ours(text: &str) -> bool {
    has_key(text, "X-Tidings", "true")
}

/// Whether the `[Desktop Entry]` group sets `key` to `value`.
fn has_key(text: &str, key: &str, value: &str) -> bool {
    let mut in_main_group = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_main_group = line == "[Desktop Entry]";
        } else if in_main_group
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return v.trim() == value;
        }
    }
    false
}

/// The text of our autostart entry for `exe` run with `--ticker` and `extra_args`.
pub fn desktop_entry(exe: &Path, extra_args: &[String]) -> Result<String, AutostartError> {
    let exe = exe.to_str().ok_or_else(|| AutostartError::Executable {
        reason: format!("its path is not UTF-8: {}", exe.display()),
    })?;
    let mut args = vec![exe, "--ticker"];
    args.extend(extra_args.iter().map(String::as_str));
    let exec = exec_line(&args);
    Ok(format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=Tidings ticker\n\
         Comment=News, weather and alerts scrolling along the screen edge\n\
         Exec={exec}\n\
         Icon=tidings\n\
         Terminal=false\n\
         Categories=Network;News;\n\
         X-GNOME-Autostart-enabled=true\n\
         {MARKER}\n"
    ))
}

/// The value of an `Exec` key running `args` (the program first), as written in the file:
/// quoted per argument where needed, `%` doubled, then escaped as a string value.
pub fn exec_line(args: &[&str]) -> String {
    let quoted: Vec<String> = args.iter().map(|arg| quote_exec_arg(arg)).collect();
    escape_string_value(&quoted.join(" "))
}

/// Reserved characters of the Exec key: an argument holding one must be quoted.
const RESERVED: &[char] = &[
    ' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')',
    '`',
];

/// One argument of an `Exec` key, before the string-value escaping: quoted in `"…"` (with
/// `"`, `` ` ``, `$` and `\` backslash-escaped inside) when it holds a reserved character or
/// is empty, and with every `%` doubled (`%` starts a field code).
pub fn quote_exec_arg(arg: &str) -> String {
    let needs_quotes = arg.is_empty() || arg.contains(RESERVED);
    let mut out = String::with_capacity(arg.len() + 2);
    if needs_quotes {
        out.push('"');
    }
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' | '\\' if needs_quotes => {
                out.push('\\');
                out.push(c);
            }
            '%' => out.push_str("%%"),
            _ => out.push(c),
        }
    }
    if needs_quotes {
        out.push('"');
    }
    out
}

/// The Desktop Entry string escapes (`\\`, `\n`, `\t`, `\r`), applied to the whole value.
fn escape_string_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads an Exec value back the way a launcher does (GLib's order): string unescaping,
    /// then splitting on unquoted spaces and unquoting, then `%%` → `%`.
    fn parse_exec(value: &str) -> Vec<String> {
        let mut unescaped = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('\\') => unescaped.push('\\'),
                    Some('n') => unescaped.push('\n'),
                    Some('t') => unescaped.push('\t'),
                    Some('r') => unescaped.push('\r'),
                    Some('s') => unescaped.push(' '),
                    other => panic!("bad string escape {other:?} in {value}"),
                }
            } else {
                unescaped.push(c);
            }
        }
        let mut args = Vec::new();
        let mut current: Option<String> = None;
        let mut chars = unescaped.chars();
        while let Some(c) = chars.next() {
            match c {
                ' ' => {
                    if let Some(arg) = current.take() {
                        args.push(arg);
                    }
                }
                '"' => {
                    let arg = current.get_or_insert_with(String::new);
                    loop {
                        match chars.next().expect("closing quote") {
                            '"' => break,
                            '\\' => {
                                let escaped = chars.next().expect("escaped char");
                                assert!("\"`$\\".contains(escaped), "bad escape {escaped}");
                                arg.push(escaped);
                            }
                            other => arg.push(other),
                        }
                    }
                }
                other => {
                    assert!(!RESERVED.contains(&other), "unquoted reserved {other:?}");
                    current.get_or_insert_with(String::new).push(other);
                }
            }
        }
        args.extend(current);
        args.into_iter().map(|a| a.replace("%%", "%")).collect()
    }

    fn exec_value(entry: &str) -> &str {
        entry
            .lines()
            .find_map(|l| l.strip_prefix("Exec="))
            .expect("an Exec line")
    }

    #[test]
    fn plain_arguments_stay_unquoted() {
        assert_eq!(
            exec_line(&[
                "/usr/bin/tidings",
                "--ticker",
                "--server",
                "https://n.example/"
            ]),
            "/usr/bin/tidings --ticker --server https://n.example/"
        );
    }

    #[test]
    fn awkward_paths_survive_the_round_trip() {
        let paths = [
            "/home/ann/My Apps/tidings",
            r#"/opt/"quoted"/tidings"#,
            "/opt/100%/tidings",
            "/opt/$HOME/tidings",
            r"/opt/back\slash/tidings",
            "/opt/it's/tidings",
            "/opt/`tick`/~tidings;&|<>*?#()",
            "/opt/tab\there/new\nline",
            "/opt/ünïcödé/tidings",
        ];
        for path in paths {
            let args = [path, "--ticker", "--server", "http://h/?q=a%20b&c=$d"];
            let value = exec_line(&args);
            assert!(!value.contains('\n') && !value.contains('\t'), "{value}");
            assert_eq!(parse_exec(&value), args, "{value}");
        }
    }

    #[test]
    fn quoting_follows_the_spec_examples() {
        assert_eq!(quote_exec_arg("a b"), r#""a b""#);
        assert_eq!(quote_exec_arg(r#"a"b"#), r#""a\"b""#);
        assert_eq!(quote_exec_arg("$x"), r#""\$x""#);
        assert_eq!(quote_exec_arg("50%"), "50%%");
        assert_eq!(quote_exec_arg(""), r#""""#);
        // A literal backslash in a quoted argument is four backslashes in the file.
        assert_eq!(exec_line(&[r"a\b"]), r#""a\\\\b""#);
    }

    #[test]
    fn entry_has_the_fields_and_the_marker() {
        let entry = desktop_entry(Path::new("/usr/bin/tidings"), &[]).expect("entry");
        for line in [
            "[Desktop Entry]",
            "Type=Application",
            "Name=Tidings ticker",
            "Exec=/usr/bin/tidings --ticker",
            "Icon=tidings",
            "Terminal=false",
            "X-GNOME-Autostart-enabled=true",
            "Categories=Network;News;",
            MARKER,
        ] {
            assert!(
                entry.lines().any(|l| l == line),
                "missing {line} in\n{entry}"
            );
        }
        assert!(entry.lines().any(|l| l.starts_with("Comment=")));
    }

    #[test]
    fn enable_disable_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("fresh config");
        assert!(!is_enabled_in(&config));
        let exe = Path::new("/opt/Tidings 1%/tidings");
        let extra = ["--server".to_owned(), "https://news.example/".to_owned()];
        let path = enable_in(&config, exe, &extra).expect("enable");
        assert_eq!(path, config.join("autostart/tidings.desktop"));
        assert!(is_enabled_in(&config));
        let text = std::fs::read_to_string(&path).expect("entry");
        assert_eq!(
            parse_exec(exec_value(&text)),
            [
                "/opt/Tidings 1%/tidings",
                "--ticker",
                "--server",
                "https://news.example/"
            ]
        );
        // Enabling again replaces our own entry; no temporary files stay behind.
        enable_in(&config, Path::new("/usr/bin/tidings"), &[]).expect("enable again");
        let names: Vec<_> = std::fs::read_dir(config.join("autostart"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["tidings.desktop"]);
        disable_in(&config).expect("disable");
        assert!(!path.exists());
        assert!(!is_enabled_in(&config));
        // Disabling what is not there is fine.
        disable_in(&config).expect("disable again");
    }

    #[test]
    fn switched_off_entries_are_not_enabled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = enable_in(dir.path(), Path::new("/usr/bin/tidings"), &[]).expect("enable");
        let text = std::fs::read_to_string(&path).expect("entry");
        std::fs::write(&path, format!("{text}Hidden=true\n")).expect("write");
        assert!(!is_enabled_in(dir.path()));
        std::fs::write(
            &path,
            text.replace(
                "X-GNOME-Autostart-enabled=true",
                "X-GNOME-Autostart-enabled = false",
            ),
        )
        .expect("write");
        assert!(!is_enabled_in(dir.path()));
        // Still ours: enabling rewrites it switched on.
        enable_in(dir.path(), Path::new("/usr/bin/tidings"), &[]).expect("enable");
        assert!(is_enabled_in(dir.path()));
    }

    #[test]
    fn a_foreign_entry_is_neither_ours_nor_touched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = entry_path(dir.path());
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let foreign = "[Desktop Entry]\nType=Application\nName=My tidings\nExec=tidings --demo\n";
        std::fs::write(&path, foreign).expect("write");
        assert!(!is_enabled_in(dir.path()));
        let error = enable_in(dir.path(), Path::new("/usr/bin/tidings"), &[])
            .expect_err("not ours to overwrite");
        assert!(matches!(error, AutostartError::NotOurs { .. }), "{error}");
        assert!(error.to_string().ends_with(&path.display().to_string()));
        disable_in(dir.path()).expect("nothing of ours to remove");
        assert_eq!(std::fs::read_to_string(&path).expect("kept"), foreign);
    }

    #[test]
    fn marker_outside_the_main_group_does_not_count() {
        let text = "[Desktop Entry]\nName=x\n[Desktop Action a]\nX-Tidings=true\n";
        assert!(!is_ours(text));
    }

    #[test]
    fn errors_name_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A file where the autostart directory should be.
        std::fs::write(dir.path().join("autostart"), "").expect("write");
        let error = enable_in(dir.path(), Path::new("/usr/bin/tidings"), &[])
            .expect_err("autostart is a file");
        let text = error.to_string();
        assert!(text.contains("autostart"), "{text}");
        assert!(
            text.ends_with(&entry_path(dir.path()).display().to_string()),
            "{text}"
        );
    }
}
