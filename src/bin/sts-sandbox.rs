//! `sts-sandbox`: a local server that behaves like the StackState, Posit Connect or Qualytics API
//! (CONTRACT §8, §9.3).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use sts_cli::platform::PlatformKind;
use sts_cli::sandbox::{
    self, Config, DEFAULT_HEADER_TIMEOUT, ServerVersion, ServiceUserSeed, TlsFiles,
};

/// A local server that behaves like the StackState (SUSE Observability), Posit Connect or Qualytics
/// API, for trying `sts` and testing CI scripts offline. Prints one line on stdout once it listens.
#[derive(Debug, Parser)]
#[command(name = "sts-sandbox", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7070")]
    listen: SocketAddr,

    /// Which platform's API to serve: stackstate, posit-connect or qualytics
    #[arg(long, value_name = "PLATFORM", default_value = "stackstate", value_parser = sandbox::parse_platform)]
    platform: PlatformKind,

    /// Admin token: StackState's X-API-Token, Posit Connect's administrator key
    /// (Authorization: Key), Qualytics' Admin token (Authorization: Bearer); also the control
    /// API's X-API-Token on every platform. Random when not given
    #[arg(long, value_name = "T")]
    admin_token: Option<String>,

    /// Keep tokens and keys in this JSON file (only hashes of secrets); in memory when not given
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,

    /// Version reported by /server/info (StackState, default 6.0.0) or /server_settings
    /// (Posit Connect, default 2026.01.0)
    #[arg(long, value_name = "VERSION")]
    server_version: Option<ServerVersion>,

    /// Kubernetes service-account token accepted in X-API-ServiceBearer, with admin rights
    /// (repeatable)
    #[arg(long, value_name = "T")]
    k8s_sa_token: Vec<String>,

    /// Receiver API key accepted by /security/ingestion/authorize?withReceiverKey=true
    #[arg(long, value_name = "K")]
    receiver_api_key: Option<String>,

    /// Posit Connect: an API key of a publisher (not an administrator) (repeatable)
    #[arg(long, value_name = "K")]
    publisher_key: Vec<String>,

    /// Qualytics: create this service user at start, unless it exists (repeatable), e.g.
    /// --service-user "Nightly Loader:Admin"
    #[arg(long, value_name = "NAME:ROLE")]
    service_user: Vec<ServiceUserSeed>,

    /// Serve HTTPS with this PEM certificate chain (server certificate first); needs --tls-key.
    /// Plain HTTP when not given
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Close a connection whose request headers take longer than this many seconds to arrive,
    /// or that stays idle this long between requests [default: 10]
    #[arg(long, value_name = "SECONDS", value_parser = sandbox::parse_timeout)]
    header_timeout: Option<Duration>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = Config {
        listen: args.listen,
        admin_token: args.admin_token,
        state_file: args.state,
        server_version: args.server_version,
        k8s_sa_tokens: args.k8s_sa_token,
        receiver_api_key: args.receiver_api_key,
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| TlsFiles { cert, key }),
        platform: args.platform,
        publisher_keys: args.publisher_key,
        service_users: args.service_user,
        header_timeout: args.header_timeout.unwrap_or(DEFAULT_HEADER_TIMEOUT),
    };
    match sandbox::run(cfg).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sts-sandbox: {e:#}");
            ExitCode::FAILURE
        }
    }
}
