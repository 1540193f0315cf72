//! The StackState API: its serde types, shared with the sandbox, and the client.

pub mod client;
pub mod models;
