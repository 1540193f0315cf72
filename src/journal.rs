//! The rotation journal (CONTRACT §12): every step of a rotation written down before it is
//! taken, so that a rotation interrupted anywhere is taken up by the next run and no token `sts`
//! created is ever lost track of. No secrets: ids, names and times only.
//!
//! The file (`--journal` > `STS_CLI_JOURNAL` > `journal.toml` beside the config) is written as
//! the config is (CONTRACT §5): a regular file or absent, read bounded, every read-modify-write
//! under `journal.toml.lock`, written atomically, mode 0600. A rotation holds a lock of its own
//! per credential (`journal.toml.<hash>.lock`) from start to end, so two runs never rotate one
//! credential at once while a delivery command may still run `sts` itself.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config;
use crate::error::{Error, Kind, Result};
use crate::fsutil;

/// The journal's file name beside the config.
pub const FILE_NAME: &str = "journal.toml";

/// The largest journal read.
const MAX_SIZE: u64 = 1 << 20;

/// The whole file: one entry per credential, by key ([`key`]).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalFile {
    #[serde(default)]
    pub credential: BTreeMap<String, Entry>,
}

/// What the journal knows of one credential.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Entry {
    /// The id of the current token (the last one delivered and verified, or adopted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Whether `sts` delivered the current one (an adopted token was not).
    #[serde(default, skip_serializing_if = "is_false")]
    pub delivered: bool,
    /// A rotation under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<Step>,
    /// Tokens `sts` created whose secret was never delivered and verified: retired with the old
    /// one once a newer token is verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<String>,
    /// Tokens to retire, each when it comes due.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retire: Vec<Retirement>,
    /// Ids that could each be a rotation's new token: nothing is retired until the user
    /// deletes the strays or forgets them (`sts renew --forget ID`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ambiguous: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One rotation, as far as it got.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Step {
    /// The token being replaced (absent: a first token is being made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_id: Option<String>,
    /// Every exact name sent in a create, in order (a 409 adds a suffix and sends again).
    #[serde(default)]
    pub names_sent: Vec<String>,
    /// When the first create was sent (RFC 3339).
    pub started: String,
    /// The ids of those names that existed before the create, and ids set aside by `--forget`.
    #[serde(default)]
    pub existing_ids: Vec<String>,
    /// The new id, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_id: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub delivered: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub verified: bool,
    /// What happens to the old one: `delete`, `revoke` or `keep`.
    pub retire: String,
    /// `--overlap` in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_ms: Option<i64>,
}

/// A token to retire.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Retirement {
    pub id: String,
    /// `delete` or `revoke`.
    pub how: String,
    /// The token whose creation time the overlap counts from (as the server reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_ms: Option<i64>,
    /// When it is due (RFC 3339) as known when it was written: the overlap counted from the new
    /// one's creation; the list's creation time wins when it tells one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
}

impl Entry {
    /// Whether the journal holds nothing for this credential but its current id.
    pub fn is_settled(&self) -> bool {
        self.rotation.is_none()
            && self.superseded.is_empty()
            && self.retire.is_empty()
            && self.ambiguous.is_empty()
    }

    /// Whether `id` is one the journal knows of.
    pub fn knows(&self, id: &str) -> bool {
        self.current.as_deref() == Some(id)
            || self.superseded.iter().any(|s| s == id)
            || self.retire.iter().any(|r| r.id == id)
            || self.ambiguous.iter().any(|s| s == id)
            || self
                .rotation
                .as_ref()
                .is_some_and(|s| s.old_id.as_deref() == Some(id) || s.new_id.as_deref() == Some(id))
    }

    /// Drops `id` from everything (`renew --forget`); a rotation whose new id is still unknown
    /// sets it aside, so it is no longer taken for the new one. Whether anything changed.
    pub fn forget(&mut self, id: &str) -> bool {
        let before = self.clone();
        if self.current.as_deref() == Some(id) {
            self.current = None;
            self.delivered = false;
        }
        self.superseded.retain(|s| s != id);
        self.retire.retain(|r| r.id != id);
        let was_ambiguous = self.ambiguous.iter().any(|s| s == id);
        self.ambiguous.retain(|s| s != id);
        if let Some(step) = &mut self.rotation {
            if step.new_id.as_deref() == Some(id) {
                step.new_id = None;
            }
            if step.old_id.as_deref() == Some(id) {
                step.old_id = None;
            }
            if (was_ambiguous || step.new_id.is_none())
                && !step.existing_ids.iter().any(|e| e == id)
            {
                step.existing_ids.push(id.to_string());
            }
        }
        *self != before
    }
}

/// A credential's key: the server, the kind and the name its tokens go by.
pub fn key(url: &str, kind: &str, name: &str) -> String {
    format!("{}|{kind}|{name}", url.trim_end_matches('/'))
}

/// The journal at a path.
#[derive(Debug, Clone)]
pub struct Journal {
    pub path: PathBuf,
}

/// A credential's lock, held until dropped.
#[derive(Debug)]
pub struct CredentialLock {
    _file: File,
    /// Whether another run held it first.
    pub waited: bool,
}

impl Journal {
    /// `--journal` > `STS_CLI_JOURNAL` > `journal.toml` beside the config file.
    pub fn resolve(flag: Option<&Path>, env: Option<String>, config_path: &Path) -> Journal {
        Journal {
            path: config::file_beside(flag, env, config_path, FILE_NAME),
        }
    }

    fn target(&self) -> Result<PathBuf> {
        fsutil::write_target(&self.path)
            .map_err(|e| Error::config(format!("the journal {}: {e}", self.path.display())))
    }

    /// The whole journal (empty when there is no file). A file that is not regular, too large
    /// or does not parse is exit 1 and is never overwritten.
    pub fn load(&self) -> Result<JournalFile> {
        let target = self.target()?;
        let bytes = fsutil::read_regular(&target, MAX_SIZE)
            .map_err(|e| Error::config(format!("the journal {}: {e}", self.path.display())))?;
        let Some(bytes) = bytes else {
            return Ok(JournalFile::default());
        };
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::config(format!("the journal {} is not UTF-8", self.path.display()))
        })?;
        toml::from_str(&text).map_err(|e| {
            Error::config(format!(
                "the journal {} does not parse: {}",
                self.path.display(),
                e.message()
            ))
        })
    }

    /// One credential's entry.
    pub fn get(&self, key: &str) -> Result<Entry> {
        Ok(self.load()?.credential.remove(key).unwrap_or_default())
    }

    /// Changes one credential's entry under the journal's lock and writes the file atomically
    /// (0600). An entry with nothing left is removed.
    pub fn update<T>(&self, key: &str, f: impl FnOnce(&mut Entry) -> T) -> Result<T> {
        let target = self.target()?;
        let _lock = config::lock(&target, "journal")?;
        let mut file = self.load()?;
        let mut entry = file.credential.remove(key).unwrap_or_default();
        let value = f(&mut entry);
        if entry != Entry::default() {
            file.credential.insert(key.to_string(), entry);
        }
        let text = toml::to_string(&file)
            .map_err(|e| Error::new(Kind::Write, format!("cannot write the journal: {e}")))?;
        config::write_atomic(&target, text.as_bytes(), "journal", config::Mode::Private)?;
        Ok(value)
    }

    /// Takes the lock of one credential, waiting at most `timeout` for another run to let go.
    pub fn lock_credential(&self, key: &str, timeout: Duration) -> Result<CredentialLock> {
        let target = self.target()?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| FILE_NAME.to_string());
        let path = config::parent_dir(&target).join(format!("{name}.{:016x}.lock", fnv(key)));
        let file = config::open_lock_file(&path, &target, "journal")?;
        let until = Instant::now() + timeout;
        let mut waited = false;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(CredentialLock {
                        _file: file,
                        waited,
                    });
                }
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < until => {
                    waited = true;
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::connect(format!(
                        "another sts is rotating this credential and held its lock ({}) longer \
                         than the timeout",
                        path.display()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(Error::new(
                        Kind::Write,
                        format!("cannot lock {}: {e}", path.display()),
                    ));
                }
            }
        }
    }
}

/// FNV-1a, 64 bits: a stable lock-file name per credential.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_written_and_read_back_and_an_empty_one_goes() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::resolve(None, None, &dir.path().join("config.toml"));
        assert_eq!(j.path, dir.path().join("journal.toml"));
        let k = key("http://h/", "service-token", "a b");
        j.update(&k, |e| {
            e.current = Some("1".into());
            e.rotation = Some(Step {
                old_id: Some("1".into()),
                names_sent: vec!["a b".into()],
                started: "2026-01-01T00:00:00Z".into(),
                retire: "delete".into(),
                ..Step::default()
            });
        })
        .unwrap();
        let e = j.get(&k).unwrap();
        assert_eq!(e.current.as_deref(), Some("1"));
        assert!(!e.is_settled());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&j.path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        j.update(&k, |e| *e = Entry::default()).unwrap();
        assert!(j.load().unwrap().credential.is_empty());
    }

    #[test]
    fn forgetting_an_ambiguous_id_sets_it_aside() {
        let mut e = Entry {
            ambiguous: vec!["5".into(), "6".into()],
            rotation: Some(Step::default()),
            ..Entry::default()
        };
        assert!(e.forget("5"));
        assert_eq!(e.ambiguous, vec!["6".to_string()]);
        assert_eq!(e.rotation.unwrap().existing_ids, vec!["5".to_string()]);
    }

    #[test]
    fn a_second_lock_of_one_credential_waits_then_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::resolve(None, None, &dir.path().join("config.toml"));
        let held = j.lock_credential("k", Duration::from_secs(1)).unwrap();
        let e = j
            .lock_credential("k", Duration::from_millis(100))
            .unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert!(
            j.lock_credential("other", Duration::from_millis(100))
                .is_ok()
        );
        drop(held);
        assert!(j.lock_credential("k", Duration::from_millis(100)).is_ok());
    }
}
