//! What a context command did: plain data that `commands` builds and `output` renders, so that
//! neither imports the other.

use std::path::PathBuf;

use crate::config::Context;

/// What `context save` did besides saving.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Saved {
    /// A warning to print: the replaced context's old credential stayed behind.
    pub warning: Option<String>,
    /// The context that was current before, when it was another one: the save switched away
    /// from it (`Current context set to <name>` on stderr).
    pub switched_from: Option<String>,
}

/// What `context rename` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Renamed {
    /// Whether the renamed context was the current one (and still is, by its new name).
    pub was_current: bool,
    /// A warning to print: the keyring item kept its old label.
    pub warning: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub source: PathBuf,
    /// Imported contexts, in the source's order.
    pub imported: Vec<(String, Context)>,
    /// Contexts left out, with the reason.
    pub skipped: Vec<(String, String)>,
    /// The context this run made current (the source's current one, when it was imported).
    pub current_context: Option<String>,
    /// Things to say on stderr before the report (an old credential that stayed behind).
    pub warnings: Vec<String>,
    /// Things to say on stderr after the report: the source still holds the tokens in plain
    /// text, and who else may read it.
    pub source_warnings: Vec<String>,
}
