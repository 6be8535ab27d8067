// Declares the app's IPC commands in the app manifest so that tauri-build generates one
// `allow-<command>` permission each; `capabilities/default.json` grants them explicitly.
include!("app/command_names.rs");

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)))
        .expect("tauri-build failed");
}
