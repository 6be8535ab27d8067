//! Attacks on Casekit's guarantees, each made through the IPC handlers a compromised webview
//! could call (casekit::api::handlers — the same functions the Tauri commands wrap), each
//! asserting the attempt is refused and that nothing changed in the sandbox or the audit log.
mod accounts;
mod audit_anchor;
mod harness;
mod permission;
mod races;
#[path = "../support/mod.rs"]
mod support;
mod tokens;
mod verification;
