//! Adapters to the operating system's desktop: things eframe does not do for us.
//!
//! - [`dock`]: reserve the ticker's screen edge on X11.
//! - [`tray`]: the system tray icon (StatusNotifierItem) and its menu.
//!
//! Each adapter reports failure as a value; the app keeps working without it.

pub mod dock;
pub mod tray;
