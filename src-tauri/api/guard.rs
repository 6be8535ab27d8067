//! Every command runs on a task of its own, so a panic in it (a bug) becomes an error reply the
//! window shows and a log line, instead of a promise the window waits on forever. Locks the
//! command held are not left poisoned: the store recovers its connection (SQLite rolled the
//! transaction back) and the other mutexes are taken with `into_inner`.

use std::future::Future;

use crate::{Error, IpcError};

/// What the agent is told about a command that panicked.
fn stopped(command: &str, panic: tokio::task::JoinError) -> IpcError {
    let why = match panic.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "no message".into()),
        Err(e) => e.to_string(),
    };
    // Through the redacting subscriber: a panic message is never written unredacted.
    tracing::error!(command, panic = %why, "a command stopped on an internal error");
    Error::Internal(format!(
        "Casekit stopped “{command}” on an internal error (it is in the log). Whatever that step had not committed was not \
         saved: reload the view, check the case, and try again; if it happens again, send the log file from About."
    ))
    .into()
}

/// Runs an async command on its own task; a panic is an error reply.
pub async fn guarded<T, F>(command: &'static str, work: F) -> Result<T, IpcError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, IpcError>> + Send + 'static,
{
    tokio::spawn(work).await.unwrap_or_else(|panic| Err(stopped(command, panic)))
}

/// Runs a blocking command (SQLite, the keychain) on the blocking pool; a panic is an error reply.
pub async fn guarded_blocking<T, F>(command: &'static str, work: F) -> Result<T, IpcError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, IpcError> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|panic| Err(stopped(command, panic)))
}

/// Sends panic messages through the log (redacted) instead of raw to stderr; the reply that
/// says the command stopped comes from [`guarded`].
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        tracing::error!(at, "panic: {info}");
    }));
}
