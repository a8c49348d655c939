//! Adapters to the operating system's desktop: things eframe does not do for us.
//!
//! - [`dock`]: reserve the ticker's screen edge on X11.
//! - [`notify`]: show, replace and withdraw desktop notifications; report clicks on them.
//!
//! Each adapter reports failure as a value; the app keeps working without it.

pub mod dock;
pub mod notify;
