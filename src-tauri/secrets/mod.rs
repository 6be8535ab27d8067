//! Secrets: the `Secret` wrapper every token travels in, the OS keychain that stores them, and
//! the redaction of anything that looks like a credential from text that leaves Rust (log
//! lines, errors, exports).

mod keychain;
mod secret;

pub use keychain::{pasted_token, Keychain, Tokens};
pub use secret::{redact, Secret, REDACTED};
