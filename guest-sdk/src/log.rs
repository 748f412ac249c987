//! Logging through the host, which filters by the connector's `logLevel`,
//! masks secret config values and returns the lines with the execution.

use crate::bindings::floh::connector::log as wit;

/// Severity.
pub use wit::Level;

/// Record `message` at `level`. The macros (`info!` and friends) format and
/// call this.
pub fn write(level: Level, message: &str) {
    wit::log(level, message);
}

/// Log at `trace` level, `format!`-style.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Trace, &format!($($arg)*)) };
}

/// Log at `debug` level, `format!`-style.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Debug, &format!($($arg)*)) };
}

/// Log at `info` level, `format!`-style.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, &format!($($arg)*)) };
}

/// Log at `warn` level, `format!`-style.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, &format!($($arg)*)) };
}

/// Log at `error` level, `format!`-style.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, &format!($($arg)*)) };
}
