//! The service layer: what each IPC command does, over the state the commands share, free of
//! any window. The desktop shell (`app/`) only adapts these to Tauri and answers the `Host`
//! questions (where to save a file); tests and a headless build drive the same handlers.

pub mod bindings;
pub(crate) mod commands;
mod guard;
pub mod handlers;
mod host;
mod state;

pub use commands::signatures;
pub use guard::{guarded, guarded_blocking, log_panics};
pub use host::{Host, SaveFile};
pub use state::AppState;

include!("command_names.rs");
