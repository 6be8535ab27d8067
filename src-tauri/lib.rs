//! Casekit: guided, gated and audited account-action playbooks for support agents.
//!
//! Everything here except `app/` is plain Rust that a test or the CLI drives without a
//! window; `app/` is the thin Tauri shell over the `api` handlers, built only with the
//! `desktop` feature (on by default), so nothing else can reach Tauri.

pub mod api;
#[cfg(feature = "desktop")]
pub mod app;
pub mod cli;
pub mod clock;
pub mod connectors;
pub mod error;
pub mod logging;
pub mod paths;
pub mod playbook;
pub mod sandbox;
pub mod secrets;
pub mod service;
pub mod store;
pub mod summary;
pub mod validate;

pub use error::{Error, ErrorCode, IpcError, Result};
