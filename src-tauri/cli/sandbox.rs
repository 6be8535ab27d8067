//! `casekit sandbox serve`: the sandbox servers without a window, for training rooms,
//! integration tests and trying a client with curl.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::sandbox::world::Fixture;
use crate::sandbox::{Sandbox, SandboxConfig};

/// `casekit sandbox …`.
#[derive(Subcommand)]
pub(super) enum SandboxCommand {
    /// Run the simulated GitLab, Zendesk (global, US Gov), Mailgun and CustomersDot servers
    ///
    /// Prints one JSON line with their URLs and made-up tokens, then serves until Ctrl-C or
    /// SIGTERM.
    #[command(after_help = "Examples:
  casekit sandbox serve > sandbox.json &
  curl -H \"PRIVATE-TOKEN: $(jq -r .gitlab.admin_token sandbox.json)\" \\
    \"$(jq -r .gitlab.url sandbox.json)/api/v4/users?username=quiet-quinn\"")]
    Serve(ServeArgs),
}

/// Where `sandbox serve` listens and what it serves.
#[derive(Args)]
pub(super) struct ServeArgs {
    /// Address to listen on (another than loopback exposes the made-up data and tokens)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// GitLab's port; Zendesk, Zendesk US Gov, Mailgun and CustomersDot take the next four (0:
    /// free ports)
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = base_port)]
    base_port: u16,
    /// A fixture to serve instead of the built-in one (its shape: src-tauri/sandbox/fixtures.json)
    #[arg(long, value_name = "FILE")]
    fixtures: Option<PathBuf>,
}

/// A base port with room for the five servers above it.
fn base_port(value: &str) -> Result<u16, String> {
    let port: u16 = value.parse().map_err(|_| "expects a port number (0 for free ports)".to_owned())?;
    if port > u16::MAX - 4 {
        return Err(format!("{port} leaves no room for the five servers (N to N+4)"));
    }
    Ok(port)
}

/// Runs a `sandbox` subcommand; its exit code.
pub(super) fn run(command: SandboxCommand, out: &mut dyn Write) -> u8 {
    match command {
        SandboxCommand::Serve(options) => serve(&options, out),
    }
}

/// Runs the sandbox until interrupted.
fn serve(options: &ServeArgs, out: &mut dyn Write) -> u8 {
    crate::logging::init_stderr();
    let fixture = match &options.fixtures {
        Some(path) => match Fixture::from_file(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("casekit: {e}");
                return 1;
            }
        },
        None => Fixture::builtin(),
    };
    if !options.bind.is_loopback() {
        eprintln!(
            "casekit: warning: serving the sandbox on {} makes its made-up data and tokens reachable from other machines",
            options.bind
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("casekit: could not start the async runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(async {
        let config = SandboxConfig { bind: options.bind, base_port: options.base_port, fixture };
        let sandbox = match Sandbox::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("casekit: {e}");
                return 1;
            }
        };
        let line = serde_json::to_string(sandbox.credentials()).unwrap_or_default();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return 1;
        }
        interrupted().await;
        sandbox.stop();
        eprintln!("casekit: sandbox stopped");
        0
    })
}

/// Waits for Ctrl-C, or SIGTERM on Unix.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
