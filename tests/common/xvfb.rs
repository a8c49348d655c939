//! A private X server (Xvfb) on a free display, for running the desktop app for real. Used by
//! the end-to-end test and the desktop benchmark (with `#[path]`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Xvfb; killed when dropped.
pub struct Xvfb {
    child: Child,
    /// The `DISPLAY` value, e.g. `:140`.
    pub display: String,
}

impl Xvfb {
    /// Starts Xvfb at 1280x800x24 on the first free display from :140.
    pub fn start() -> Self {
        for number in 140..240 {
            // A lock whose server is gone is stale: Xvfb replaces it.
            let lock = std::fs::read_to_string(format!("/tmp/.X{number}-lock")).ok();
            if lock.is_some_and(|pid| Path::new(&format!("/proc/{}", pid.trim())).exists()) {
                continue;
            }
            let Ok(child) = Command::new("Xvfb")
                .arg(format!(":{number}"))
                .args([
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            else {
                panic!("Xvfb is needed here (scripts/test.sh installs it)");
            };
            let mut xvfb = Self {
                child,
                display: format!(":{number}"),
            };
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                // Accepting connections (a stale socket file of an old server may still be there).
                if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                    return xvfb;
                }
                if matches!(xvfb.child.try_wait(), Ok(Some(_))) {
                    break; // lost a race for this display: try the next
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = xvfb.child.kill();
        }
        panic!("no free X display");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `tidings` command set up to run in `home` (config, data, cache and runtime directories of
/// its own) on `display`, writing its state dump to `home/state.json`.
pub fn app_command(binary: &Path, display: &str, home: &Path) -> Command {
    let runtime = home.join("runtime");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("runtime dir mode");
    let mut command = Command::new(binary);
    command
        .env("DISPLAY", display)
        .env_remove("WAYLAND_DISPLAY")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env("TIDINGS_STATE_DUMP", home.join("state.json"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command
}

/// Runs `xdotool ARGS` on `display` and checks it worked.
#[allow(dead_code)] // not every test binary (nor the benches) drives input
pub fn xdotool(display: &str, args: &[&str]) {
    let status = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .status()
        .expect("xdotool is needed here (scripts/test.sh installs it)");
    assert!(status.success(), "xdotool {args:?}");
}

/// Gives the main `tidings` window the keyboard (no window manager runs here to do it), once
/// it is mapped: right after a start it may not be yet, and `windowfocus` then fails.
#[allow(dead_code)] // not every test binary (nor the benches) drives input
pub fn focus_main_window(display: &str) {
    xdotool(display, &["mousemove", "--sync", "400", "300"]);
    let started = Instant::now();
    loop {
        let output = Command::new("xdotool")
            .args([
                "search",
                "--onlyvisible",
                "--name",
                "^Tidings$",
                "windowfocus",
                "--sync",
            ])
            .env("DISPLAY", display)
            .output()
            .expect("xdotool is needed here (scripts/test.sh installs it)");
        if output.status.success() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the main window never became focusable: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
}
