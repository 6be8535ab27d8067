//! Secrets: the `Secret` wrapper every token travels in, and the redaction of anything that
//! looks like a credential from text that leaves Rust (log lines, errors, exports).
//! The OS keychain store is added here; tokens never leave this crate unwrapped.

mod secret;

pub use secret::{redact, Secret, REDACTED};
