//! The Posit Connect emulator's own start options: the publishers' keys.

use crate::sandbox::config::Config;

/// The Posit Connect emulator (CONTRACT §9.3).
#[derive(Debug)]
pub struct PositConnect {
    /// Keys of publishers (non-administrators).
    pub(super) publisher_keys: Vec<String>,
}

impl PositConnect {
    pub fn from_config(cfg: &Config) -> Self {
        PositConnect {
            publisher_keys: cfg
                .publisher_keys
                .iter()
                .filter(|k| !k.trim().is_empty())
                .cloned()
                .collect(),
        }
    }
}
