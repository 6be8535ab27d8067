//! The Tauri shell: builds the window, manages state and translates IPC into domain calls.
//! The only module (with lib.rs and main.rs) that may use Tauri.

pub mod bindings;
mod commands;
pub mod handlers;
mod state;

use std::process::ExitCode;

pub use commands::signatures;
pub use state::AppState;

include!("command_names.rs");

/// Opens the main window on the active profile and runs until it is closed.
pub fn run() -> ExitCode {
    webkit_workarounds();
    let state = AppState::start();
    let result = tauri::Builder::default().manage(state).invoke_handler(commands::handler()).run(tauri::generate_context!());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the window could not be started");
            eprintln!("Casekit could not open its window: {e}");
            ExitCode::FAILURE
        }
    }
}

/// WebKitGTK's DMA-BUF renderer paints a blank window on many drivers and VMs; disable it
/// unless the user chose otherwise. Runs before any thread exists.
fn webkit_workarounds() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    }
}
