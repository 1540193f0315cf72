//! The StackState emulator's own start options: the credentials it accepts besides the admin
//! token.

use crate::sandbox::config::Config;

/// The StackState emulator (CONTRACT §8).
#[derive(Debug)]
pub struct StackState {
    /// Accepted in `X-API-ServiceBearer`, with admin rights.
    pub(super) k8s_sa_tokens: Vec<String>,
    /// Also accepted by `/security/ingestion/authorize?withReceiverKey=true`.
    pub(super) receiver_api_key: Option<String>,
}

impl StackState {
    pub fn from_config(cfg: &Config) -> Self {
        StackState {
            k8s_sa_tokens: cfg
                .k8s_sa_tokens
                .iter()
                .filter(|t| !t.trim().is_empty())
                .cloned()
                .collect(),
            receiver_api_key: cfg.receiver_api_key.clone().filter(|k| !k.is_empty()),
        }
    }
}
