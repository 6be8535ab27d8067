//! The one error type of the domain and its IPC form `{code, message, retryable}`.
//!
//! Codes are stable: the UI branches on them, never on message text. Messages are written for
//! the agent: what happened and what to do next.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Result with the domain error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong below the shell.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input the agent can correct; the message says how.
    #[error("{0}")]
    InvalidInput(String),
    /// Input the agent can correct in one field of a form: `field` is its path in the command's
    /// input (`agentEmail`, `services.gitlabUrl`), so the UI can mark it. The message says how.
    #[error("{message}")]
    InvalidField { field: &'static str, message: String },
    /// A thing the agent asked for does not exist (any more).
    #[error("{0}")]
    NotFound(String),
    /// The database was written by a newer Casekit; it is left untouched.
    #[error(
        "The database {path} was written by a newer Casekit (schema {found}; this version knows up to {supported}). \
         It was not changed. Install the newer Casekit, or point CASEKIT_DATA_DIR at another folder."
    )]
    SchemaTooNew { path: PathBuf, found: i64, supported: i64 },
    /// SQLite failed.
    #[error("The local database failed: {0}")]
    Storage(#[from] rusqlite::Error),
    /// A file or folder could not be read or written.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A service rejected the credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The credentials are valid but lack a permission (403).
    #[error("{0}")]
    Forbidden(String),
    /// A service is rate-limiting and the wait is longer than Casekit waits by itself.
    #[error("{0}")]
    RateLimited(String),
    /// The service could not be reached, or the connection was dropped.
    #[error("{0}")]
    Unreachable(String),
    /// The service did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// The service answered with something Casekit cannot read.
    #[error("{0}")]
    InvalidResponse(String),
    /// The service refused the request as invalid (400/409/422); the message carries its reason.
    #[error("{0}")]
    Rejected(String),
    /// The service failed (5xx).
    #[error("{0}")]
    ServiceFailed(String),
    /// A service the step needs is not set up in the profile; the message says where.
    #[error("{0}")]
    NotConfigured(String),
    /// A step was submitted that is not the case's current one, or its prerequisites are missing.
    #[error("{0}")]
    OutOfOrder(String),
    /// The case is finished; nothing more can be recorded on it.
    #[error("{0}")]
    CaseClosed(String),
    /// Another writer got to the case first (another window, a second click, a racing step):
    /// the step is already done or still running, or the case changed since it was read.
    /// Nothing was run or saved; reload the case.
    #[error("{0}")]
    Conflict(String),
    /// The Zendesk ticket is closed: Zendesk refuses every change to it.
    #[error("{0}")]
    TicketClosed(String),
    /// The account changed since the evidence was gathered; the action was not run.
    #[error("{0}")]
    StaleEvidence(String),
    /// The OS keychain could not be used.
    #[error("{0}")]
    Keychain(String),
    /// A bug: something that should not happen did.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// Wraps an I/O error with what Casekit was doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// Ties invalid input to the form field it came from; any other error passes unchanged.
    pub fn in_field(self, field: &'static str) -> Self {
        match self {
            Error::InvalidInput(message) => Error::InvalidField { field, message },
            other => other,
        }
    }

    /// The stable code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidInput(_) | Error::InvalidField { .. } => ErrorCode::InvalidInput,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::SchemaTooNew { .. } => ErrorCode::SchemaTooNew,
            Error::Storage(e) if is_busy(e) => ErrorCode::StorageBusy,
            Error::Storage(_) => ErrorCode::Storage,
            Error::Io { .. } => ErrorCode::Io,
            Error::Unauthorized(_) => ErrorCode::Unauthorized,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::RateLimited(_) => ErrorCode::RateLimited,
            Error::Unreachable(_) => ErrorCode::Unreachable,
            Error::Timeout(_) => ErrorCode::Timeout,
            Error::InvalidResponse(_) => ErrorCode::InvalidResponse,
            Error::Rejected(_) => ErrorCode::Rejected,
            Error::ServiceFailed(_) => ErrorCode::ServiceError,
            Error::NotConfigured(_) => ErrorCode::NotConfigured,
            Error::OutOfOrder(_) => ErrorCode::OutOfOrder,
            Error::CaseClosed(_) => ErrorCode::CaseClosed,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::TicketClosed(_) => ErrorCode::TicketClosed,
            Error::StaleEvidence(_) => ErrorCode::StaleEvidence,
            Error::Keychain(_) => ErrorCode::KeychainUnavailable,
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Whether the same request may succeed if simply tried again.
    pub fn retryable(&self) -> bool {
        self.code().retryable()
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// Stable error codes shared with the UI (serialized in snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidInput,
    NotFound,
    SchemaTooNew,
    Storage,
    StorageBusy,
    Io,
    Unauthorized,
    Forbidden,
    RateLimited,
    Unreachable,
    Timeout,
    InvalidResponse,
    Rejected,
    ServiceError,
    NotConfigured,
    OutOfOrder,
    CaseClosed,
    Conflict,
    TicketClosed,
    StaleEvidence,
    KeychainUnavailable,
    Internal,
}

impl ErrorCode {
    /// Whether errors with this code are worth retrying unchanged.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::StorageBusy
                | ErrorCode::RateLimited
                | ErrorCode::Unreachable
                | ErrorCode::Timeout
                | ErrorCode::ServiceError
        )
    }
}

/// The only error that crosses IPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IpcError {
    pub code: ErrorCode,
    pub message: String,
    pub retryable: bool,
    /// The form field the agent must correct (its path in the command's input), when the error
    /// is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
}

impl From<Error> for IpcError {
    fn from(e: Error) -> Self {
        if matches!(e.code(), ErrorCode::Internal | ErrorCode::Storage | ErrorCode::Io) {
            tracing::error!(code = ?e.code(), error = %e, "request failed");
        }
        let field = match &e {
            Error::InvalidField { field, .. } => Some((*field).to_owned()),
            _ => None,
        };
        IpcError { code: e.code(), message: e.to_string(), retryable: e.retryable(), field }
    }
}

impl std::fmt::Display for IpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_stable_snake_case_strings() {
        let e = IpcError::from(Error::InvalidInput("Enter an email address.".into()));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json, serde_json::json!({"code": "invalid_input", "message": "Enter an email address.", "retryable": false}));
    }

    #[test]
    fn an_error_about_a_form_field_names_it_for_the_ui() {
        let e = IpcError::from(Error::InvalidInput("Enter the work email.".into()).in_field("agentEmail"));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "invalid_input", "message": "Enter the work email.", "retryable": false, "field": "agentEmail"})
        );
        let other = Error::NotFound("No such profile.".into()).in_field("agentEmail");
        assert!(matches!(other, Error::NotFound(_)), "only invalid input is tied to a field: {other:?}");
    }

    #[test]
    fn a_busy_database_is_retryable_and_other_storage_errors_are_not() {
        let busy = Error::Storage(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None));
        assert_eq!(busy.code(), ErrorCode::StorageBusy);
        assert!(busy.retryable());
        let other = Error::Storage(rusqlite::Error::QueryReturnedNoRows);
        assert_eq!(other.code(), ErrorCode::Storage);
        assert!(!other.retryable());
    }
}
