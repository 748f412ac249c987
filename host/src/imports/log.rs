//! `floh:connector/log`: connector log lines, filtered by the connector's
//! level, scrubbed of secrets, capped in volume, mirrored to `tracing` and
//! returned with the execution.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::bindings::log::{Host, Level};
use crate::redact::SecretRedactor;

/// A connector's log level (the spec's `logLevel`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation (the default).
    #[default]
    Info,
    /// Unexpected but handled.
    Warn,
    /// Failures.
    Error,
}

impl From<Level> for LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => Self::Trace,
            Level::Debug => Self::Debug,
            Level::Info => Self::Info,
            Level::Warn => Self::Warn,
            Level::Error => Self::Error,
        }
    }
}

/// One captured log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Its level.
    pub level: LogLevel,
    /// The message, with secrets masked.
    pub message: String,
    /// Milliseconds since the execution started. (Histories stored before
    /// the wire name became camelCase say `at_ms`: still read.)
    #[serde(alias = "at_ms")]
    pub at_ms: u64,
}

/// Caps on what one execution may log.
#[derive(Debug, Clone, Copy)]
pub struct LogLimits {
    /// Entries kept; later ones are counted but dropped.
    pub max_entries: usize,
    /// Total message bytes kept.
    pub max_bytes: usize,
    /// One message is cut to this many bytes.
    pub max_message_bytes: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self {
            max_entries: 1_000,
            max_bytes: 256 * 1024,
            max_message_bytes: 16 * 1024,
        }
    }
}

/// The log of one execution.
#[derive(Debug)]
pub struct LogCapture {
    connector: Arc<str>,
    min_level: LogLevel,
    limits: LogLimits,
    redactor: Arc<SecretRedactor>,
    started: std::time::Instant,
    entries: Vec<LogEntry>,
    bytes: usize,
    dropped: usize,
}

impl LogCapture {
    /// A capture for `connector` that keeps entries at `min_level` or above.
    pub fn new(
        connector: Arc<str>,
        min_level: LogLevel,
        limits: LogLimits,
        redactor: Arc<SecretRedactor>,
    ) -> Self {
        Self {
            connector,
            min_level,
            limits,
            redactor,
            started: std::time::Instant::now(),
            entries: Vec::new(),
            bytes: 0,
            dropped: 0,
        }
    }

    /// Record a message (also used by the host for its own notes).
    pub fn record(&mut self, level: LogLevel, message: &str) {
        if level < self.min_level {
            return;
        }
        let message = self.redactor.redact(message);
        let message = truncate(&message, self.limits.max_message_bytes);
        emit_tracing(&self.connector, level, &message);
        if self.entries.len() >= self.limits.max_entries
            || self.bytes + message.len() > self.limits.max_bytes
        {
            self.dropped += 1;
            return;
        }
        self.bytes += message.len();
        self.entries.push(LogEntry {
            level,
            message,
            at_ms: self.started.elapsed().as_millis() as u64,
        });
    }

    /// The entries kept so far.
    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }

    /// The kept entries, with a final note when some were dropped.
    pub fn into_entries(mut self) -> Vec<LogEntry> {
        self.take_entries()
    }

    /// The entries so far, plus a note of how many were dropped; the
    /// capture is left empty.
    pub fn take_entries(&mut self) -> Vec<LogEntry> {
        if self.dropped > 0 {
            self.entries.push(LogEntry {
                level: LogLevel::Warn,
                message: format!(
                    "{} further log entries were dropped (log limit reached)",
                    self.dropped
                ),
                at_ms: self.started.elapsed().as_millis() as u64,
            });
            self.dropped = 0;
        }
        std::mem::take(&mut self.entries)
    }
}

fn truncate(message: &str, max: usize) -> String {
    if message.len() <= max {
        return message.to_string();
    }
    format!(
        "{}… [truncated]",
        &message[..message.floor_char_boundary(max)]
    )
}

fn emit_tracing(connector: &str, level: LogLevel, message: &str) {
    match level {
        LogLevel::Trace => tracing::trace!(target: "floh::connector", connector, "{message}"),
        LogLevel::Debug => tracing::debug!(target: "floh::connector", connector, "{message}"),
        LogLevel::Info => tracing::info!(target: "floh::connector", connector, "{message}"),
        LogLevel::Warn => tracing::warn!(target: "floh::connector", connector, "{message}"),
        LogLevel::Error => tracing::error!(target: "floh::connector", connector, "{message}"),
    }
}

impl Host for LogCapture {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.record(level.into(), &message);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(min_level: LogLevel, limits: LogLimits) -> LogCapture {
        LogCapture::new(
            "test".into(),
            min_level,
            limits,
            Arc::new(SecretRedactor::new(["hunter2"])),
        )
    }

    #[test]
    fn entries_say_at_ms_in_camel_case_and_stored_snake_case_still_reads() {
        let entry = LogEntry {
            level: LogLevel::Info,
            message: "hi".into(),
            at_ms: 7,
        };
        let json = serde_json::to_value(&entry).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"level": "info", "message": "hi", "atMs": 7})
        );
        let stored: LogEntry =
            serde_json::from_str(r#"{"level": "info", "message": "hi", "at_ms": 7}"#)
                .expect("a history written before the rename");
        assert_eq!(stored, entry);
    }

    #[test]
    fn filters_by_level_and_masks_secrets() {
        let mut log = capture(LogLevel::Info, LogLimits::default());
        log.log(Level::Debug, "hidden".into()).expect("log");
        log.log(Level::Warn, "password is hunter2".into())
            .expect("log");
        let entries = log.into_entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].level, LogLevel::Warn);
        assert_eq!(entries[0].message, "password is ***");
    }

    #[test]
    fn caps_entries_and_says_how_many_were_dropped() {
        let limits = LogLimits {
            max_entries: 2,
            ..LogLimits::default()
        };
        let mut log = capture(LogLevel::Trace, limits);
        for i in 0..5 {
            log.log(Level::Info, format!("line {i}")).expect("log");
        }
        let entries = log.into_entries();
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[2].message,
            "3 further log entries were dropped (log limit reached)"
        );
    }

    #[test]
    fn cuts_long_messages_on_a_character_boundary() {
        let limits = LogLimits {
            max_message_bytes: 5,
            ..LogLimits::default()
        };
        let mut log = capture(LogLevel::Trace, limits);
        log.log(Level::Info, "ééééé".into()).expect("log");
        assert_eq!(log.into_entries()[0].message, "éé… [truncated]");
    }
}
