//! The one HTTP client of `sts`, built from its own [`client::ClientConfig`] and reporting what it
//! does through an [`client::Observer`]. It knows no platform: a platform's profile says how a
//! credential travels and how its error bodies read.

pub mod budget;
pub mod client;
