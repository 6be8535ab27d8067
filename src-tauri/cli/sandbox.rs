//! `casekit sandbox serve`: the sandbox servers without a window, for training rooms,
//! integration tests and trying a client with curl.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::sandbox::world::Fixture;
use crate::sandbox::{Sandbox, SandboxConfig};

struct Options {
    bind: IpAddr,
    base_port: u16,
    fixtures: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options { bind: IpAddr::from([127, 0, 0, 1]), base_port: 0, fixtures: None };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bind" => {
                o.bind = value.parse().map_err(|_| format!("--bind expects an IP address such as 127.0.0.1, not '{value}'"))?
            }
            "--base-port" => {
                o.base_port =
                    value.parse().map_err(|_| format!("--base-port expects a port number (0 for free ports), not '{value}'"))?;
                if o.base_port > u16::MAX - 4 {
                    return Err(format!("--base-port {value} leaves no room for the five servers (N to N+4)"));
                }
            }
            "--fixtures" => o.fixtures = Some(PathBuf::from(value)),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    Ok(o)
}

/// Runs the sandbox until interrupted.
pub fn serve(args: &[String]) -> ExitCode {
    let options = match parse(args) {
        Ok(o) => o,
        Err(why) => return super::usage_error(&why),
    };
    crate::logging::init_stderr();
    let fixture = match &options.fixtures {
        Some(path) => match Fixture::from_file(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("casekit: {e}");
                return ExitCode::FAILURE;
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
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let config = SandboxConfig { bind: options.bind, base_port: options.base_port, fixture };
        let sandbox = match Sandbox::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("casekit: {e}");
                return ExitCode::FAILURE;
            }
        };
        let line = serde_json::to_string(sandbox.credentials()).unwrap_or_default();
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return ExitCode::FAILURE;
        }
        drop(out);
        interrupted().await;
        sandbox.stop();
        eprintln!("casekit: sandbox stopped");
        ExitCode::SUCCESS
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
