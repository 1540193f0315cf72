//! `sts`: a command-line client for machine credentials (service tokens and ingestion API keys)
//! of the platforms in `platform/`, and `sts-sandbox`, a local server that emulates each of them.
//! The layers, the way a command travels and how to add a platform: `docs/architecture.md`.

pub mod cli;
pub mod commands;
pub mod completion;
pub mod config;
pub mod credentials;
pub mod dates;
#[cfg(feature = "docgen")]
pub mod docgen;
pub mod env_vars;
pub mod error;
pub mod fsutil;
pub mod guard;
pub mod http;
pub mod journal;
pub mod outcome;
pub mod output;
pub mod platform;
pub mod redact;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod scan;
pub mod secret;
pub mod settings;
pub mod worker;
