// Declares the app's IPC commands in the app manifest so that tauri-build generates one
// `allow-<command>` permission each; `capabilities/default.json` grants them explicitly.
// Only the desktop build has a window to configure.

#[cfg(feature = "desktop")]
include!("api/command_names.rs");

fn main() {
    #[cfg(feature = "desktop")]
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)))
        .expect("tauri-build failed");
    // Without the window nothing here depends on another file.
    #[cfg(not(feature = "desktop"))]
    println!("cargo::rerun-if-changed=src-tauri/build.rs");
}
