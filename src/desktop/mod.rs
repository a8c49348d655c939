//! Adapters to the operating system's desktop: things eframe does not do for us.
//!
//! - [`autostart`]: start the ticker with the desktop session (XDG autostart entry).
//! - [`dock`]: reserve the ticker's screen edge on X11.
//! - [`idle`]: how long the user has been away, full-screen windows, the screen lock.
//! - [`notify`]: desktop notifications (org.freedesktop.Notifications over D-Bus).
//! - [`tray`]: the system tray icon (StatusNotifierItem) and its menu.
//!
//! Each adapter reports failure as a value; the app keeps working without it.

pub mod autostart;
pub mod dock;
pub mod idle;
pub mod notify;
pub mod tray;
