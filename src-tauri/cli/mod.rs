//! Headless subcommands: the same domain code as the window, for scripts, training rooms and
//! support of the support tool. Exit codes: 0 ok, 1 the check failed, 2 usage.

pub mod audit;
mod sandbox;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::paths::{AppPaths, DATA_DIR_ENV};
use crate::secrets::Keychain;
use crate::store::{Store, LATEST_VERSION};

/// Guided, gated and audited account-action playbooks for support agents
#[derive(Parser)]
#[command(name = "casekit", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What `casekit --help` says after the commands.
const AFTER_HELP: &str = "\
Without a command, opens the Casekit window; the commands run the same code without it.
Exit codes: 0 ok, 1 the check failed, 2 usage.

Environment:
  CASEKIT_DATA_DIR  folder for the database and logs (default: the system's app data folder)
  RUST_LOG          log filter (default: info)

Examples:
  casekit doctor
  casekit audit verify --against head.json
  casekit sandbox serve > sandbox.json";

/// The commands; their doc comments are their help.
#[derive(Subcommand)]
enum Command {
    /// Check the data folder, the database and the log folder
    #[command(after_help = "Example:\n  casekit doctor --data-dir ~/casekit-training")]
    Doctor(DataDir),
    /// Verify, sign or export the audit log
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Run the simulated services without the window
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// Print the version
    Version,
}

/// `--data-dir DIR`, for every command that opens the database.
#[derive(Args)]
struct DataDir {
    /// Folder of the database and logs [default: $CASEKIT_DATA_DIR, else the system's app data
    /// folder]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl DataDir {
    /// The folders given, or the same ones the window uses; `Err` is the exit code, explained.
    fn paths(&self) -> Result<AppPaths, u8> {
        match &self.data_dir {
            Some(dir) => Ok(AppPaths::under(dir)),
            None => AppPaths::resolve().map_err(|e| {
                eprintln!("casekit: {e} Or pass --data-dir DIR.");
                2
            }),
        }
    }
}

/// Runs one command line (without the program name) and returns its exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    ExitCode::from(run(args, &Keychain::os, &mut std::io::stdout()))
}

/// [`main`] with the keychain and the output given (what tests call in-process). Usage errors
/// go to stderr, as clap reports them, with exit code 2.
pub fn run(args: impl IntoIterator<Item: Into<OsString>>, keychain: audit::KeychainSource<'_>, out: &mut dyn Write) -> u8 {
    let program = std::iter::once(OsString::from("casekit"));
    let cli = match Cli::try_parse_from(program.chain(args.into_iter().map(Into::into))) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and the version are answers, on the output; a usage error goes to stderr.
            if e.use_stderr() {
                let _ = e.print();
            } else {
                let _ = write!(out, "{}", e.render());
            }
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
    };
    match cli.command {
        Command::Doctor(data) => doctor(&data, out),
        Command::Audit(command) => audit::run(command, keychain, out),
        Command::Sandbox(command) => sandbox::run(command, out),
        Command::Version => {
            let _ = writeln!(out, "casekit {}", env!("CARGO_PKG_VERSION"));
            0
        }
    }
}

fn doctor(data: &DataDir, out: &mut dyn Write) -> u8 {
    let paths = match data.paths() {
        Ok(p) => p,
        Err(code) => return code,
    };
    let from_env = data.data_dir.is_none() && std::env::var_os(DATA_DIR_ENV).is_some();
    let _ = writeln!(out, "data folder:  {}{}", paths.data_dir.display(), if from_env { " (from CASEKIT_DATA_DIR)" } else { "" });
    let _ = writeln!(out, "log folder:   {}", paths.log_dir.display());
    let _ = writeln!(out, "database:     {}", paths.database().display());
    if let Err(e) = paths.create() {
        let _ = writeln!(out, "FAIL folders: {e}");
        return 1;
    }
    match Store::open(&paths.database()) {
        Ok(store) => {
            let _ =
                writeln!(out, "ok   database opens; schema {} (this version writes {LATEST_VERSION})", store.schema_version());
            0
        }
        Err(e) => {
            let _ = writeln!(out, "FAIL database: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
