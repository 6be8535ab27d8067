//! The Tauri shell: builds the window, answers the api layer's `Host` questions with native
//! dialogs and translates IPC into its handlers. The only module (with lib.rs and main.rs) that
//! may use Tauri, and only in a build with the `desktop` feature.

mod commands;
mod host;

use std::process::ExitCode;

use crate::api::{handlers, AppState};

/// Opens the main window on the active profile and runs until it is closed.
pub fn run() -> ExitCode {
    webkit_workarounds();
    crate::api::log_panics();
    let desktop = host::Desktop::default();
    let state = AppState::start(desktop.clone());
    let worker = state.clone();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| {
            desktop.attach(app.handle().clone());
            tauri::async_runtime::spawn(outbox_worker(worker));
            Ok(())
        })
        .manage(state)
        .invoke_handler(commands::handler())
        .run(tauri::generate_context!());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the window could not be started");
            eprintln!("Casekit could not open its window: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Retries the outbox's due items every half minute while the window is open.
async fn outbox_worker(state: AppState) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        if let Err(e) = handlers::flush_outbox(&state, false, None).await {
            tracing::debug!(error = %e, "outbox not flushed");
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
