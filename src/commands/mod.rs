//! What each command means: check its input, call the API, return data. Never prints.

pub mod auth;
pub mod context;
pub mod context_import;
pub mod expiry_filter;
pub mod exporter;
pub mod fanout;
pub mod list_filter;
pub mod token;
