//! `sts-sandbox`: a local server that behaves like the StackState API (CONTRACT §8).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sts_cli::sandbox::{self, Config, ServerVersion, TlsFiles};

/// A local server that behaves like the StackState (SUSE Observability) API, for trying `sts`
/// and testing CI scripts offline. Prints one line on stdout once it listens.
#[derive(Debug, Parser)]
#[command(name = "sts-sandbox", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7070")]
    listen: SocketAddr,

    /// Admin API token (X-API-Token); random when not given
    #[arg(long, value_name = "T")]
    admin_token: Option<String>,

    /// Keep tokens and keys in this JSON file (only hashes of secrets); in memory when not given
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,

    /// Version reported by /server/info
    #[arg(long, value_name = "VERSION", default_value = "6.0.0")]
    server_version: ServerVersion,

    /// Kubernetes service-account token accepted in X-API-ServiceBearer, with admin rights
    /// (repeatable)
    #[arg(long, value_name = "T")]
    k8s_sa_token: Vec<String>,

    /// Receiver API key accepted by /security/ingestion/authorize?withReceiverKey=true
    #[arg(long, value_name = "K")]
    receiver_api_key: Option<String>,

    /// Serve HTTPS with this PEM certificate chain (server certificate first); needs --tls-key.
    /// Plain HTTP when not given
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
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
    };
    match sandbox::run(cfg).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sts-sandbox: {e:#}");
            ExitCode::FAILURE
        }
    }
}
