//! `sts context import`: another CLI's saved credentials become contexts of ours, their tokens
//! going to the OS keyring (or, when asked, the 0600 `credentials.toml`). Each platform declares
//! the vendor CLI it imports from (`platform::import::VendorImport`) and reads its file into
//! [`Parsed`] entries; they are imported here the same way. The source file is only read. A name
//! that already exists is skipped unless `--overwrite`, so a second run changes nothing. Returns a
//! report; never prints, and no message built here contains a token.

pub use crate::outcome::ImportReport;
use std::path::{Path, PathBuf};

use crate::config::{self, Storage};
use crate::error::{Error, Result};
use crate::platform::import::{Candidate, Current, Parsed, VendorImport};
use crate::platform::{self, PlatformKind};

/// A source file larger than this is refused (CONTRACT §5: reads are bounded).
const MAX_SOURCE_BYTES: u64 = 1024 * 1024;

/// What to import and how: the command's flags, resolved.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    /// The source's name, one of [`platform::import_sources`].
    pub source: String,
    /// `--from`; `None`: where the source's CLI keeps its file.
    pub from: Option<PathBuf>,
    /// `--name`: the name of the one context of a qualytics import.
    pub name: Option<String>,
    pub overwrite: bool,
    pub insecure_storage: bool,
}

/// `context import`: checks the flags, finds the source file (`--from`, else the source's default
/// path on this OS, from `env`), and imports it into the config file at `config_path`.
pub fn run(
    req: &ImportRequest,
    config_path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ImportReport> {
    let source = source_named(&req.source)?;
    if let Some(name) = &req.name {
        if source.one_context.is_none() {
            let one: Vec<String> = platform::import_sources()
                .iter()
                .filter(|s| s.one_context.is_some())
                .map(|s| format!("`context import {}`", s.name))
                .collect();
            let many: Vec<&str> = platform::import_sources()
                .iter()
                .filter(|s| s.one_context.is_none())
                .map(|s| s.name)
                .collect();
            return Err(Error::usage(format!(
                "--name names the one context of {}; the {} sources name each context after its \
                 entry",
                one.join(" or "),
                many.join(" and ")
            )));
        }
        if name.trim().is_empty() {
            return Err(Error::usage("--name must not be empty"));
        }
        crate::guard::check_context_name(name, "--name")?;
    }
    let path = match &req.from {
        Some(path) => path.clone(),
        None => (source.default_path)(std::env::consts::OS, env)?,
    };
    import(req, &path, config_path)
}

/// The source of that name.
fn source_named(name: &str) -> Result<&'static VendorImport> {
    platform::import_sources()
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = platform::import_sources().iter().map(|s| s.name).collect();
            Error::usage(format!(
                "no import source {name:?}: use {}",
                names.join(", ")
            ))
        })
}

/// The default source: the default platform's.
pub fn default_source_name() -> &'static str {
    PlatformKind::default().import_source().name
}

/// Imports `req.source`'s file at `source` into the config file at `config_path`.
pub fn import(req: &ImportRequest, source: &Path, config_path: &Path) -> Result<ImportReport> {
    let vendor = source_named(&req.source)?;
    let (text, mode) = read_source(source, vendor.what)?;
    let storage = if req.insecure_storage {
        Storage::File
    } else {
        Storage::Keyring
    };
    let name = req
        .name
        .as_deref()
        .map(str::trim)
        .or(vendor.one_context)
        .unwrap_or_default();
    let parsed = (vendor.parse)(&text, source, name, storage)?;
    let (mut report, tokens) = import_parsed(parsed, source, config_path, req.overwrite, storage)?;
    if tokens > 0 {
        report.source_warnings = plain_text_warnings(source, mode, tokens);
    }
    Ok(report)
}

/// The source's text and its permission bits. A missing file is exit 1 naming the path looked
/// at; so is one that cannot be read, is larger than 1 MiB or is not UTF-8.
fn read_source(path: &Path, what: &str) -> Result<(String, Option<u32>)> {
    let cannot = |reason: String| {
        Error::config(format!(
            "cannot read the {what} {}: {reason}",
            path.display()
        ))
    };
    let bytes = match crate::fsutil::read_bounded(path, MAX_SOURCE_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => {
            return Err(Error::config(format!(
                "no {what} at {}: name it with --from PATH",
                path.display()
            )));
        }
        Err(e) => return Err(cannot(e.to_string())),
    };
    let text = String::from_utf8(bytes).map_err(|_| cannot("it is not valid UTF-8".into()))?;
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| cannot(e.to_string()))?;
        Some(meta.permissions().mode() & 0o7777)
    };
    #[cfg(not(unix))]
    let mode = None;
    Ok((text, mode))
}

/// The ⚠️ lines after an import: the source still holds the tokens in plain text (`sts` never
/// changes it), and, when its mode lets its group or others read it, that too.
fn plain_text_warnings(source: &Path, mode: Option<u32>, tokens: usize) -> Vec<String> {
    let path = source.display();
    let (what, them) = if tokens == 1 {
        ("the token", "it")
    } else {
        ("the tokens", "them")
    };
    let mut warnings = vec![format!(
        "{path} still holds {what} in plain text (sts never changes it): remove {them} there \
         once nothing else needs {them}"
    )];
    if let Some(mode) = mode.filter(|m| m & 0o044 != 0) {
        warnings.push(format!(
            "{path} is readable by other users (mode {mode:04o}): chmod 600 it, or delete it"
        ));
    }
    warnings
}

/// Imports the entries of a source. Returns the report and how many tokens of the source we could
/// import (imported now, or before under a name that exists).
fn import_parsed(
    parsed: Parsed,
    source: &Path,
    config_path: &Path,
    overwrite: bool,
    storage: Storage,
) -> Result<(ImportReport, usize)> {
    let mut report = ImportReport {
        source: source.to_path_buf(),
        ..Default::default()
    };

    // Check each entry on its own first; what is left can be imported.
    let mut candidates: Vec<Candidate> = Vec::new();
    for entry in parsed.entries {
        match entry {
            Err(skipped) => report.skipped.push(skipped),
            Ok(c) if crate::guard::check_context_name(&c.name, "its name").is_err() => {
                report.skipped.push((
                    c.name,
                    "its name holds a control character: a context name is printable text"
                        .to_string(),
                ))
            }
            Ok(c) if c.secret.expose().chars().any(char::is_control) => report.skipped.push((
                c.name,
                "its token holds a control character, which no HTTP header may carry".to_string(),
            )),
            Ok(c) if candidates.iter().any(|k| k.name == c.name) => report
                .skipped
                .push((c.name, "the name appears twice in the source".to_string())),
            Ok(c) => candidates.push(c),
        }
    }
    let tokens = candidates.len();

    // The config file must parse before anything is written; a name that exists is skipped
    // unless --overwrite. Nothing to do means no write at all, so a second run changes nothing.
    let existing = config::load(config_path)?.unwrap_or_default();
    let exists = |name: &str| existing.contexts.contains_key(name);
    if !overwrite {
        for c in candidates.iter().filter(|c| exists(&c.name)) {
            report.skipped.push((
                c.name.clone(),
                "a context of that name exists (--overwrite replaces it)".to_string(),
            ));
        }
        candidates.retain(|c| !exists(&c.name));
    }
    if candidates.is_empty() {
        return Ok((report, tokens));
    }
    // Crash-safe (CONTRACT §5): every new credential id is noted in the config before the store
    // is touched, so a kill at any moment leaves no orphan ([`credentials::transaction::store_secrets_and_change`]).
    let source_current = parsed.current;
    let labels: Vec<String> = candidates
        .iter()
        .map(|c| crate::credentials::label(&c.name, &c.context.url))
        .collect();
    let new: Vec<crate::credentials::batch::NewSecret> = candidates
        .iter()
        .zip(&labels)
        .map(|(c, label)| crate::credentials::batch::NewSecret {
            id: &c.context.credential_id,
            secret: &c.secret,
            label,
        })
        .collect();
    let ((imported, current), warning) = crate::credentials::transaction::store_secrets_and_change(
        config_path,
        storage,
        &new,
        |config| {
            let none_current = config
                .current_context
                .as_ref()
                .is_none_or(|c| !config.contexts.contains_key(c));
            let mut unused = Vec::new();
            let mut imported = Vec::new();
            for c in &candidates {
                if config.contexts.contains_key(&c.name) && !overwrite {
                    // Saved by someone else since we looked: its new secret goes again.
                    unused.push((storage, c.context.credential_id.clone()));
                    continue;
                }
                if let Some(old) = config.contexts.insert(c.name.clone(), c.context.clone()) {
                    unused.push((old.storage, old.credential_id));
                }
                imported.push((c.name.clone(), c.context.clone()));
            }
            let current = match source_current {
                Some(Current::Always(name)) => Some(name),
                Some(Current::IfNone(name)) if none_current => Some(name),
                _ => None,
            }
            .filter(|name| imported.iter().any(|(n, _)| n == name))
            .inspect(|name| config.current_context = Some(name.clone()));
            Ok(((imported, current), unused))
        },
    )
    .map_err(|e| {
        Error::new(
            e.kind,
            format!(
                "cannot store the tokens: {}; nothing was imported",
                e.message
            ),
        )
    })?;
    report.imported = imported;
    report.current_context = current;
    if let Some(w) = warning {
        report
            .warnings
            .push(format!("the old credential of a replaced context {w}"));
    }
    Ok((report, tokens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Auth;
    use crate::credentials::{FileStore, SecretStore};

    /// A Go CLI import, `--insecure-storage` (tests have no keyring), maybe `--overwrite`.
    fn go_import(source: &Path, config: &Path, overwrite: bool) -> Result<ImportReport> {
        let req = ImportRequest {
            source: default_source_name().into(),
            overwrite,
            insecure_storage: true,
            ..Default::default()
        };
        import(&req, source, config)
    }

    const NEW: &str = "\
contexts:
    - name: prod
      context:
        url: https://prod.example.com
        service-token: svctok-prod
        api-path: /api
        admin-api-path: \"\"
        skip-ssl: false
    - name: dev
      context:
        url: http://dev.example.com/
        api-token: api-dev
        api-path: /api/v1
        skip-ssl: true
        ca-cert-base64-data: ignored-with-skip-ssl
    - name: broken
      context:
        api-token: x
    - name: both
      context:
        url: https://x
        api-token: a
        service-token: b
current-context: dev
";

    #[test]
    fn imports_good_contexts_skips_the_rest_and_a_second_run_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("config.yaml");
        std::fs::write(&source, NEW).unwrap();
        let path = dir.path().join("sts/config.toml");
        let r = go_import(&source, &path, false).unwrap();
        let names: Vec<&str> = r.imported.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["prod", "dev"]);
        let skipped: Vec<&str> = r.skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(skipped, ["broken", "both"]);
        assert_eq!(r.current_context.as_deref(), Some("dev"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("svctok-prod") && !text.contains("api-dev"),
            "{text}"
        );
        let config = config::load(&path).unwrap().unwrap();
        let dev = &config.contexts["dev"];
        assert_eq!((dev.auth, dev.skip_ssl), (Auth::ApiToken, true));
        assert_eq!(dev.ca_cert_base64_data, None);
        let store = FileStore::beside(&path);
        assert_eq!(
            store.get(&dev.credential_id).unwrap().unwrap().expose(),
            "api-dev"
        );

        let again = go_import(&source, &path, false).unwrap();
        assert!(again.imported.is_empty());
        assert_eq!(again.current_context, None);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert_eq!(std::fs::read_to_string(&source).unwrap(), NEW);

        let over = go_import(&source, &path, true).unwrap();
        assert_eq!(over.imported.len(), 2);
        let config = config::load(&path).unwrap().unwrap();
        assert!(
            store.get(&dev.credential_id).unwrap().is_none(),
            "old secret forgotten"
        );
        assert_eq!(
            store
                .get(&config.contexts["dev"].credential_id)
                .unwrap()
                .unwrap()
                .expose(),
            "api-dev"
        );
    }

    #[test]
    fn a_missing_source_is_exit_1_and_the_default_source_follows_xdg() {
        let dir = tempfile::tempdir().unwrap();
        let e = go_import(
            &dir.path().join("nope.yaml"),
            &dir.path().join("c.toml"),
            false,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 1);
    }
}
