//! Enums stored as text columns: written as their key, read back strictly (a value Casekit does
//! not know is an error, never a default).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::service::TicketInstance;

/// `ToSql`/`FromSql` for an enum with `ALL` and `key()`.
macro_rules! text_column {
    ($t:ty) => {
        impl rusqlite::types::ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.key().into())
            }
        }

        impl rusqlite::types::FromSql for $t {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let text = value.as_str()?;
                <$t>::ALL
                    .iter()
                    .copied()
                    .find(|v| v.key() == text)
                    .ok_or_else(|| rusqlite::types::FromSqlError::Other(format!("“{text}” is not a {}", stringify!($t)).into()))
            }
        }
    };
}

/// Whether a case can still move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Open,
    Finished,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 2] = [CaseStatus::Open, CaseStatus::Finished];

    pub fn key(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Finished => "finished",
        }
    }
}

/// How a finished case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CaseOutcome {
    /// The playbook ran to its summary.
    Completed,
    /// A gate or a choice stopped it.
    Blocked,
    /// A gate sent it to another playbook (a new case carries on).
    Switched,
    /// The agent ended it, with a reason.
    Abandoned,
}

impl CaseOutcome {
    pub const ALL: [CaseOutcome; 4] =
        [CaseOutcome::Completed, CaseOutcome::Blocked, CaseOutcome::Switched, CaseOutcome::Abandoned];

    pub fn key(self) -> &'static str {
        match self {
            CaseOutcome::Completed => "completed",
            CaseOutcome::Blocked => "blocked",
            CaseOutcome::Switched => "switched",
            CaseOutcome::Abandoned => "abandoned",
        }
    }
}

/// Where a queued ticket write is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Pending,
    Sent,
    Discarded,
}

impl OutboxState {
    pub const ALL: [OutboxState; 3] = [OutboxState::Pending, OutboxState::Sent, OutboxState::Discarded];

    pub fn key(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Discarded => "discarded",
        }
    }
}

text_column!(CaseStatus);
text_column!(CaseOutcome);
text_column!(OutboxState);
text_column!(TicketInstance);

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    #[test]
    fn enums_round_trip_as_their_keys_and_an_unknown_text_is_an_error() {
        let conn = Connection::open_in_memory().unwrap();
        let back: (String, CaseOutcome, TicketInstance) = conn
            .query_row(
                "SELECT ?1, ?2, ?3",
                rusqlite::params![CaseStatus::Open, CaseOutcome::Switched, TicketInstance::UsGov],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(back, ("open".to_owned(), CaseOutcome::Switched, TicketInstance::UsGov));
        let unknown = conn.query_row("SELECT 'gov_us'", [], |r| r.get::<_, TicketInstance>(0)).unwrap_err();
        assert!(unknown.to_string().contains("“gov_us” is not a TicketInstance"), "{unknown}");
    }
}
