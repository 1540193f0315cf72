//! The platforms `sts` speaks to (CONTRACT §9): each is one module with its wire types, requests,
//! rows and capabilities.

pub mod posit_connect;
pub mod qualytics;
