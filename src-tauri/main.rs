// Without a console window on Windows release builds; the CLI still prints when run from a shell.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if args.is_empty() {
        open_window()
    } else {
        casekit::cli::main(args)
    }
}

#[cfg(feature = "desktop")]
fn open_window() -> ExitCode {
    casekit::app::run()
}

/// A build without the `desktop` feature (a server, a training room) has the commands only.
#[cfg(not(feature = "desktop"))]
fn open_window() -> ExitCode {
    eprintln!(
        "casekit: this build has no window (it was built without the `desktop` feature). \
         Run one of its commands instead, such as `casekit sandbox serve`; `casekit help` lists them."
    );
    ExitCode::from(2)
}
