//! `sts-sandbox`: a local server that behaves like the StackState, Posit Connect or Qualytics API
//! (CONTRACT §8, §9.3), one platform per process. It mirrors the client: one folder per
//! platform, each behind the one [`emulator::Emulator`] trait, chosen by the client's own
//! [`PlatformKind`] in the registry below.
//!
//! - `config`: what it is started with; `server`: listening, connections, stopping;
//! - `emulator`: the trait a platform implements and the `App` its handlers share;
//! - `state`: what it keeps and the clock, `persist`: the `--state` file, `secrets`: hashes and
//!   constant-time comparison;
//! - `stackstate/`, `posit_connect/`, `qualytics/`: the platforms;
//! - `body`, `errors`, `times`: requests in, errors out, RFC 3339 times;
//! - `requests`, `faults`, `intercept`, `control`: counting, fault injection, the control API
//!   (requests, faults, clock, seed), the same on every platform; `tls`: HTTPS.

mod body;
mod config;
mod control;
mod emulator;
mod errors;
mod faults;
mod intercept;
mod persist;
mod posit_connect;
mod qualytics;
mod requests;
mod secrets;
mod server;
mod stackstate;
mod state;
mod times;
mod tls;

pub use config::{
    Config, DEFAULT_HEADER_TIMEOUT, MAX_BODY_BYTES, ServerVersion, ServiceUserSeed, TlsFiles,
    parse_platform, parse_timeout,
};
pub use server::MAX_CONNECTIONS;

use crate::platform::PlatformKind;

/// Runs the sandbox of `cfg.platform` until SIGINT or SIGTERM. The registry: one line per
/// platform.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    match cfg.platform {
        PlatformKind::Stackstate => server::serve::<stackstate::StackState>(cfg).await,
        PlatformKind::PositConnect => server::serve::<posit_connect::PositConnect>(cfg).await,
        PlatformKind::Qualytics => server::serve::<qualytics::Qualytics>(cfg).await,
    }
}
