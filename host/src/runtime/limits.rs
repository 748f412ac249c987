//! Per-execution limits and the memory limiter that enforces the memory cap.

use std::time::Duration;

use crate::imports::{HttpLimits, LogLimits};

/// Everything one execution may consume.
#[derive(Debug, Clone, Copy)]
pub struct ExecutionLimits {
    /// Deadline when the invocation does not set `metadata.timeout`.
    pub default_timeout: Duration,
    /// The longest deadline an invocation may ask for.
    pub max_timeout: Duration,
    /// Linear memory of the sandbox.
    pub memory_bytes: usize,
    /// JSON size of `data` plus `outputVariables` in the result.
    pub max_output_bytes: usize,
    /// Source size accepted by `compile`.
    pub max_source_bytes: usize,
    /// Log volume.
    pub log: LogLimits,
    /// HTTP traffic.
    pub http: HttpLimits,
}

impl Default for ExecutionLimits {
    fn default() -> Self {
        Self {
            default_timeout: Duration::from_secs(30),
            max_timeout: Duration::from_secs(300),
            memory_bytes: 64 * 1024 * 1024,
            max_output_bytes: 4 * 1024 * 1024,
            max_source_bytes: 1024 * 1024,
            log: LogLimits::default(),
            http: HttpLimits::default(),
        }
    }
}

/// Caps linear memory and remembers whether the cap was hit, so that the
/// error a guest reports after a refused allocation can be attributed to the
/// memory limit rather than to the script.
#[derive(Debug)]
pub struct MemoryLimiter {
    memory_bytes: usize,
    hit: bool,
}

impl MemoryLimiter {
    /// A limiter for `memory_bytes` of linear memory.
    pub fn new(memory_bytes: usize) -> Self {
        Self {
            memory_bytes,
            hit: false,
        }
    }

    /// Whether a growth was refused.
    pub fn was_hit(&self) -> bool {
        self.hit
    }

    /// The cap.
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }
}

/// Tables only hold function references; this bounds them generously.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_bytes;
        self.hit |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn refuses_growth_past_the_cap_and_remembers_it() {
        let mut limiter = MemoryLimiter::new(1024);
        assert!(limiter.memory_growing(0, 1024, None).expect("grow"));
        assert!(!limiter.was_hit());
        assert!(!limiter.memory_growing(1024, 2048, None).expect("grow"));
        assert!(limiter.was_hit());
    }
}
