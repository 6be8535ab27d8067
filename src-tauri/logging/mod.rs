//! Logging for the agent debugging a failure at 6 pm: `tracing` to stderr and to a daily
//! rotating file in the app log folder, every line passed through `secrets::redact` first.

mod redacting;

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

pub use redacting::Redacting;

use crate::{Error, Result};

/// Log files kept before the oldest is deleted (one a day).
const KEEP_FILES: usize = 14;
/// Prefix of the log files: `casekit.YYYY-MM-DD.log`.
pub const FILE_PREFIX: &str = "casekit";

/// Installs the global subscriber. Keep the guard alive for the life of the process: dropping it
/// flushes the file writer. `RUST_LOG` overrides the default `info` filter.
pub fn init(log_dir: &Path) -> Result<WorkerGuard> {
    let appender = file_appender(log_dir)?;
    let (file_writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(Redacting::new(std::io::stderr)).with_target(false))
        .with(fmt::layer().with_writer(Redacting::new(file_writer)).with_ansi(false))
        .try_init()
        .map_err(|e| Error::Internal(format!("logging was already set up: {e}")))?;
    Ok(guard)
}

/// Installs a stderr-only subscriber for headless commands (`RUST_LOG`, default `warn`).
pub fn init_stderr() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(Redacting::new(std::io::stderr)).with_target(false))
        .try_init();
}

/// The rotating file appender in `log_dir`.
pub fn file_appender(log_dir: &Path) -> Result<RollingFileAppender> {
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(FILE_PREFIX)
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(log_dir)
        .map_err(|e| Error::Internal(format!("Could not open the log folder {}: {e}", log_dir.display())))
}
