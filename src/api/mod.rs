//! The StackState API: its serde types, shared with the sandbox.

pub mod models;
