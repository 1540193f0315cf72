//! `sts`: a command-line client for the StackState (SUSE Observability) API, and
//! `sts-sandbox`, a local server that behaves like that API.

pub mod cli;
pub mod commands;
pub mod completion;
pub mod config;
pub mod credentials;
pub mod dates;
pub mod env_vars;
pub mod error;
pub mod fsutil;
#[cfg(feature = "docgen")]
pub mod generated;
pub mod guard;
pub mod http;
pub mod outcome;
pub mod output;
pub mod platform;
pub mod redact;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod secret;
pub mod settings;
