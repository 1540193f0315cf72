//! The Qualytics emulator's own start options: the service users to seed.

use crate::sandbox::config::{Config, ServiceUserSeed};

/// The Qualytics emulator (CONTRACT §9.3).
#[derive(Debug)]
pub struct Qualytics {
    /// `--service-user`: service users to create at start, unless they exist.
    pub(super) seeds: Vec<ServiceUserSeed>,
}

impl Qualytics {
    pub fn from_config(cfg: &Config) -> Self {
        Qualytics {
            seeds: cfg.service_users.clone(),
        }
    }
}
