//! Execution summaries: what pages show at a glance without whole histories.

use serde::{Deserialize, Serialize};

use super::ExecutionRecord;

/// Summaries kept per connector.
pub const ACTIVITY_PER_CONNECTOR: usize = 30;
/// Recent executions kept across connectors.
pub const RECENT_KEPT: usize = 500;

/// One execution without its logs and HTTP calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    /// Execution id.
    pub id: String,
    /// The command.
    pub command: String,
    /// `ok` or the execution's error code.
    pub status: String,
    /// The result's `success`.
    pub success: bool,
    /// Start time, Unix milliseconds.
    pub started_at_ms: u64,
    /// Wall time.
    pub duration_ms: u64,
    /// The agent that ran it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

impl ExecutionSummary {
    /// `ok`, `failed` (the connector answered `success: false`) or the
    /// execution's error code, for people.
    pub fn outcome(&self) -> &str {
        match (self.success, self.status.as_str()) {
            (true, _) => "ok",
            (false, "ok") => "failed",
            (false, code) => code,
        }
    }

    /// The summary of `record`.
    pub fn of(record: &ExecutionRecord) -> Self {
        Self {
            id: record.id.clone(),
            command: record.command.clone(),
            status: record.status.clone(),
            success: record.success,
            started_at_ms: record.started_at_ms,
            duration_ms: record.duration_ms,
            agent: record.agent.clone(),
        }
    }
}
