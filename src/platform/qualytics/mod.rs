//! Qualytics (CONTRACT §9.2).

pub mod wire;
