//! The `authifi` connector type (work in progress).
