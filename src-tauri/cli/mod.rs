//! Headless subcommands: the same domain code as the window, for scripts, training rooms and
//! support of the support tool. Exit codes: 0 ok, 1 the check failed, 2 usage.

pub mod audit;
mod sandbox;

use std::process::ExitCode;

use crate::paths::{AppPaths, DATA_DIR_ENV};
use crate::store::{Store, LATEST_VERSION};

const USAGE: &str = "\
Usage: casekit [COMMAND]

Without a command, opens the Casekit window.

Commands:
  doctor [--data-dir DIR]   check the data folder, the database and the log folder
  audit verify [--data-dir DIR]
                            check the audit log's hash chain; exits 1 naming the first
                            edited, deleted or reordered row (a log rewritten with its
                            hashes recomputed passes this check: anchor it, below)
  audit verify [--data-dir DIR] --against-ticket T [--instance global|us_gov]
  audit verify [--data-dir DIR] --against FILE [--against FILE …]
                            also check the log against the signed heads Casekit posted in
                            the ticket's case summaries (read with the active live profile's
                            Zendesk token), or against head files; exits 1 naming the row
                            whose hash no longer matches
  audit head [--data-dir DIR]
                            print the chain's newest row id, hash and HMAC (signed with this
                            install's key from the OS keychain) as JSON: keep it elsewhere
  audit export [--data-dir DIR] [--ticket T] [--case N] [--agent A] [--playbook P]
               [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--text WORDS]
                            print the matching audit rows as JSON Lines
  sandbox serve [--bind ADDR] [--base-port N|0] [--fixtures FILE]
                            run the simulated GitLab, Zendesk (global, US Gov), Mailgun and
                            CustomersDot servers; prints one JSON line with their URLs and
                            tokens, then serves until Ctrl-C or SIGTERM
  version                   print the version
  help                      print this help

Environment:
  CASEKIT_DATA_DIR          folder for the database and logs (default: the system's app data folder)
  RUST_LOG                  log filter (default: info)";

/// Runs one subcommand and returns its exit code.
pub fn main(args: &[String]) -> ExitCode {
    match args.first().map(String::as_str) {
        Some("doctor") => doctor(&args[1..]),
        Some("audit") => match args.get(1).map(String::as_str) {
            Some("verify") => audit::verify(&args[2..]),
            Some("head") => audit::head(&args[2..]),
            Some("export") => audit::export(&args[2..]),
            _ => usage_error("expected `audit verify`, `audit head` or `audit export`"),
        },
        Some("sandbox") => match args.get(1).map(String::as_str) {
            Some("serve") => sandbox::serve(&args[2..]),
            _ => usage_error("expected `sandbox serve`"),
        },
        Some("version" | "--version" | "-V") => {
            println!("casekit {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => usage_error(&format!("unknown command '{other}'")),
        None => usage_error("no command given"),
    }
}

fn usage_error(why: &str) -> ExitCode {
    eprintln!("casekit: {why}\n\n{USAGE}");
    ExitCode::from(2)
}

/// Parses `--data-dir DIR`; otherwise the same folders the window uses.
fn data_dir_option(args: &[String]) -> Result<AppPaths, String> {
    match args {
        [] => AppPaths::resolve().map_err(|e| e.to_string()),
        [flag, dir] if flag == "--data-dir" => Ok(AppPaths::under(dir)),
        _ => Err("expected at most --data-dir DIR".into()),
    }
}

fn doctor(args: &[String]) -> ExitCode {
    let paths = match data_dir_option(args) {
        Ok(p) => p,
        Err(why) => return usage_error(&why),
    };
    let from_env = std::env::var_os(DATA_DIR_ENV).is_some();
    println!("data folder:  {}{}", paths.data_dir.display(), if from_env { " (from CASEKIT_DATA_DIR)" } else { "" });
    println!("log folder:   {}", paths.log_dir.display());
    println!("database:     {}", paths.database().display());
    if let Err(e) = paths.create() {
        println!("FAIL folders: {e}");
        return ExitCode::FAILURE;
    }
    match Store::open(&paths.database()) {
        Ok(store) => {
            println!("ok   database opens; schema {} (this version writes {LATEST_VERSION})", store.schema_version());
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAIL database: {e}");
            ExitCode::FAILURE
        }
    }
}
