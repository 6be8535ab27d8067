// Without a console window on Windows release builds; the CLI still prints when run from a shell.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if args.is_empty() {
        casekit::app::run()
    } else {
        casekit::cli::main(args)
    }
}
