//! Reserving a screen edge for the ticker window on X11 (`_NET_WM_STRUT_PARTIAL`), so maximised
//! windows stop at the ticker instead of sliding under it.
//!
//! eframe does not hand out the X window of a secondary viewport, so the window is found by
//! its title and our process id among the root window's children (window managers reparent
//! them, hence the shallow tree walk). Blocking; call from a background thread. Wayland has no
//! struts for ordinary windows: there the ticker lives inside the main window instead.

use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, PropMode, Window};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// Which edge the ticker docks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The top of the screen.
    Top,
    /// The bottom of the screen.
    Bottom,
}

/// Why the edge could not be reserved.
#[derive(Debug, thiserror::Error)]
pub enum DockError {
    /// No X server (Wayland, or no display).
    #[error("no X11 display: {0}")]
    NoDisplay(String),
    /// The X server answered with an error.
    #[error("X11 request failed: {0}")]
    Request(String),
}

fn request<E: std::fmt::Display>(error: E) -> DockError {
    DockError::Request(error.to_string())
}

/// Finds our window titled `title` and reserves `thickness` pixels of `edge` for it across the
/// screen's width. Returns `false` when the window is not (yet) there or the change did not hold.
pub fn reserve_edge(title: &str, edge: Edge, thickness: u32) -> Result<bool, DockError> {
    let (conn, screen_num) =
        RustConnection::connect(None).map_err(|e| DockError::NoDisplay(e.to_string()))?;
    let screen = conn
        .setup()
        .roots
        .get(screen_num)
        .ok_or_else(|| DockError::NoDisplay("no screen".to_owned()))?;
    let (root, width) = (screen.root, u32::from(screen.width_in_pixels));
    let atom = |name: &str| -> Result<u32, DockError> {
        Ok(conn
            .intern_atom(false, name.as_bytes())
            .map_err(request)?
            .reply()
            .map_err(request)?
            .atom)
    };
    let net_wm_name = atom("_NET_WM_NAME")?;
    let utf8 = atom("UTF8_STRING")?;
    let net_wm_pid = atom("_NET_WM_PID")?;
    let strut_partial = atom("_NET_WM_STRUT_PARTIAL")?;
    let strut = atom("_NET_WM_STRUT")?;
    let pid = std::process::id();

    let matches = |window: Window| -> Result<bool, DockError> {
        let name = conn
            .get_property(false, window, net_wm_name, utf8, 0, 256)
            .map_err(request)?
            .reply()
            .map_err(request)?;
        let name = if name.value.is_empty() {
            conn.get_property(false, window, AtomEnum::WM_NAME, AtomEnum::STRING, 0, 256)
                .map_err(request)?
                .reply()
                .map_err(request)?
                .value
        } else {
            name.value
        };
        if name != title.as_bytes() {
            return Ok(false);
        }
        let owner = conn
            .get_property(false, window, net_wm_pid, AtomEnum::CARDINAL, 0, 1)
            .map_err(request)?
            .reply()
            .map_err(request)?;
        Ok(owner
            .value32()
            .and_then(|mut v| v.next())
            .is_none_or(|p| p == pid))
    };

    // Breadth-first over the first three levels of the tree.
    let mut level = vec![root];
    let mut found = None;
    'search: for _ in 0..3 {
        let mut next = Vec::new();
        for window in level {
            let Ok(tree) = conn.query_tree(window).map_err(request)?.reply() else {
                continue;
            };
            let children = tree.children;
            for child in children {
                // A window can vanish between listing and asking (BadWindow): not ours.
                if matches(child).unwrap_or(false) {
                    found = Some(child);
                    break 'search;
                }
                next.push(child);
            }
        }
        level = next;
    }
    let Some(window) = found else {
        return Ok(false);
    };
    let end_x = width.saturating_sub(1);
    let (top, bottom) = match edge {
        Edge::Top => (thickness, 0),
        Edge::Bottom => (0, thickness),
    };
    let partial = [
        0,
        0,
        top,
        bottom,
        0,
        0,
        0,
        0,
        0,
        if top > 0 { end_x } else { 0 },
        0,
        if bottom > 0 { end_x } else { 0 },
    ];
    conn.change_property32(
        PropMode::REPLACE,
        window,
        strut_partial,
        AtomEnum::CARDINAL,
        &partial,
    )
    .map_err(request)?;
    conn.change_property32(
        PropMode::REPLACE,
        window,
        strut,
        AtomEnum::CARDINAL,
        &[0, 0, top, bottom],
    )
    .map_err(request)?;
    // Read the property back: the round trip makes the server handle the change before this
    // connection closes (without it, a loaded server was seen to drop it), and proves it held.
    let held = conn
        .get_property(false, window, strut_partial, AtomEnum::CARDINAL, 0, 12)
        .map_err(request)?
        .reply()
        .map_err(request)?;
    Ok(held.value32().is_some_and(|v| v.eq(partial)))
}
