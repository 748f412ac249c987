//! HTTP and logging for code that runs outside the script sandbox (native
//! handlers, WASM plugins, external services) under the same rules as
//! scripts: the http import (egress policy, limits, redirects, recording)
//! and the log capture (level filter, redaction), ending in the same
//! [`Execution`] record.

use std::time::Instant;

use super::{ConnectorResult, Execution, ExecutionError};
use crate::bindings::http::{HttpError, Request, Response};
use crate::imports::{HttpCall, HttpImport, LogCapture, LogEntry, LogLevel};

/// HTTP and logging for native handlers, under the same rules as sandboxes.
/// A sandboxed handler (a WASM plugin) takes the imports into its store
/// instead and hands back what they recorded.
pub struct HostCalls {
    imports: Imports,
    deadline: Instant,
    started: Instant,
}

enum Imports {
    /// Used by the host: native code calls `send` and `log` (boxed: the
    /// other states are a few words).
    Here(Box<(HttpImport, LogCapture)>),
    /// Moved into a sandbox's store.
    Lent,
    /// What the sandbox recorded.
    Returned(Vec<LogEntry>, Vec<HttpCall>),
}

impl HostCalls {
    /// Wrap an http import and a log capture made for one execution.
    pub fn new(http: HttpImport, log: LogCapture) -> Self {
        Self {
            deadline: http.deadline(),
            imports: Imports::Here(Box::new((http, log))),
            started: Instant::now(),
        }
    }

    /// When the execution's time is up.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Lend the imports to a sandbox that makes the calls itself (a WASM
    /// plugin); `None` when they were lent already.
    pub fn lend(&mut self) -> Option<(HttpImport, LogCapture)> {
        match std::mem::replace(&mut self.imports, Imports::Lent) {
            Imports::Here(imports) => Some(*imports),
            other => {
                self.imports = other;
                None
            }
        }
    }

    /// Give back what the lent imports recorded.
    pub fn give_back(&mut self, http: HttpImport, log: LogCapture) {
        self.imports = Imports::Returned(log.into_entries(), http.into_calls());
    }

    /// Send a request (egress policy, limits, redirects, recording).
    pub async fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        match &mut self.imports {
            Imports::Here(imports) => imports.0.request(request).await,
            _ => Err(HttpError::InvalidRequest(
                "the HTTP import is lent to a sandbox".into(),
            )),
        }
    }

    /// Record a log line (filtered by level, secrets masked).
    pub fn log(&mut self, level: LogLevel, message: &str) {
        if let Imports::Here(imports) = &mut self.imports {
            imports.1.record(level, message);
        }
    }

    /// The execution record for `outcome`.
    pub fn finish(self, outcome: Result<ConnectorResult, ExecutionError>) -> Execution {
        let (logs, http_calls) = match self.imports {
            Imports::Here(imports) => {
                let (http, log) = *imports;
                (log.into_entries(), http.into_calls())
            }
            Imports::Returned(logs, http_calls) => (logs, http_calls),
            Imports::Lent => (Vec::new(), Vec::new()),
        };
        Execution {
            outcome,
            logs,
            http_calls,
            duration: self.started.elapsed(),
        }
    }
}
