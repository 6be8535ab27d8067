//! A panic in a command (a bug) is an error reply and a redacted log line: the window is never
//! left waiting, and the database lock it held is usable by the next command.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use casekit::api::{guarded, guarded_blocking, handlers, AppState};
use casekit::connectors::HttpSettings;
use casekit::logging::Redacting;
use casekit::paths::AppPaths;
use casekit::secrets::Keychain;
use casekit::ErrorCode;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panicking_command_answers_with_an_error_logs_it_redacted_and_leaves_no_poisoned_lock() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(AppPaths::under(dir.path()), Keychain::in_memory(), HttpSettings::default());
    let sink = Sink::default();
    let log = sink.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(Redacting::new(move || sink.clone())));
    let _logging = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    // A blocking command that panics while it holds the database.
    let held = state.clone();
    let reply = runtime.block_on(guarded_blocking("save_profile", move || -> Result<(), casekit::IpcError> {
        let _conn = held.store()?.conn();
        panic!("bug while holding the database; PRIVATE-TOKEN: glpat-leaked-in-a-panic-77");
    }));
    let err = reply.unwrap_err();
    assert_eq!(err.code, ErrorCode::Internal);
    assert!(err.message.contains("“save_profile”") && err.message.contains("reload the view"), "{}", err.message);

    // An async (network) command that panics.
    let err = runtime.block_on(guarded("open_case", async { panic!("async bug") as Result<(), casekit::IpcError> })).unwrap_err();
    assert!(err.message.contains("“open_case”"), "{}", err.message);

    // The next command gets the database: the lock the panic held is not poisoned.
    let profiles = runtime.block_on(guarded_blocking("list_profiles", {
        let state = state.clone();
        move || handlers::list_profiles(&state)
    }));
    assert!(!profiles.unwrap().is_empty(), "the Sandbox profile is listed after the panic");

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("a command stopped on an internal error") && text.contains("save_profile"), "{text}");
    assert!(text.contains("async bug"), "the panic's message is in the log: {text}");
    assert!(!text.contains("glpat-leaked-in-a-panic-77"), "the log line is redacted: {text}");
}
