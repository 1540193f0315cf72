//! Posit Connect (CONTRACT §9.1).

pub mod wire;
