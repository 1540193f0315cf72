//! The config file (CONTRACT §5): where it is, what it holds, and how it is changed safely.
//!
//! ```toml
//! current-context = "prod"
//!
//! [contexts.prod]
//! url = "https://observability.example.com"
//! api-path = "/api"
//! auth = "service-token"
//! storage = "keyring"
//! skip-ssl = false
//! credential-id = "4f1c…"      # keys the secret in the keyring or credentials.toml
//! ```
//!
//! The file never holds a secret. Reading is a plain read (writes are atomic renames, so a reader
//! always sees a whole file); every change goes through [`update`], which holds an exclusive lock
//! on `config.toml.lock` for the whole read-modify-write and replaces the file atomically.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Kind, Result};
use crate::fsutil;
use crate::platform::kind::PlatformKind;

/// The file name under the user config folder's `sts` folder.
pub const FILE_NAME: &str = "config.toml";
/// The API base path of a context that names none.
pub const DEFAULT_API_PATH: &str = "/api";

/// The whole config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_context: Option<String>,
    /// Credentials being stored or removed right now, as `<storage>:<credential-id>`
    /// (`keyring:4f1c…`): noted before the secret store is touched and cleared once the
    /// context is written, so one left behind by a crash names a secret that may be an orphan.
    /// The next `context save` or `context delete` removes those secrets (CONTRACT §5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_credential_ids: Vec<String>,
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
    /// Keys `sts` does not know, kept as they were so a newer version's settings survive.
    #[serde(flatten)]
    pub extra: toml::Table,
}

/// One saved context: a server and how to find its credential. Never the secret itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Context {
    pub url: String,
    /// Absent in files written before platforms: StackState, so they load unchanged.
    #[serde(default, skip_serializing_if = "is_default_platform")]
    pub platform: PlatformKind,
    #[serde(default = "default_api_path")]
    pub api_path: String,
    pub auth: Auth,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default)]
    pub skip_ssl: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_base64_data: Option<String>,
    /// The random id that keys the secret: keyring user `<credential-id>` of service `sts`, or
    /// the key in `credentials.toml`.
    pub credential_id: String,
    /// Keys `sts` does not know, kept as they were.
    #[serde(flatten)]
    pub extra: toml::Table,
}

fn is_default_platform(p: &PlatformKind) -> bool {
    *p == PlatformKind::default()
}

fn default_api_path() -> String {
    DEFAULT_API_PATH.to_string()
}

/// Which kind of token the context's secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// A personal API token, sent as `X-API-Token`.
    ApiToken,
    /// A service token, sent as `X-API-Key`.
    ServiceToken,
}

impl Auth {
    /// The name used in the file and in `context list`.
    pub fn as_str(self) -> &'static str {
        match self {
            Auth::ApiToken => "api-token",
            Auth::ServiceToken => "service-token",
        }
    }
}

impl fmt::Display for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the context's secret is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Storage {
    /// The OS keyring, service `sts`, user `<credential-id>`.
    #[default]
    Keyring,
    /// `credentials.toml` beside the config file (`--insecure-storage`).
    File,
}

impl Storage {
    /// The name used in the file and in `context list`.
    pub fn as_str(self) -> &'static str {
        match self {
            Storage::Keyring => "keyring",
            Storage::File => "file",
        }
    }
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Config {
    /// The context called `name`, or a not-found error (exit 8).
    pub fn context(&self, name: &str) -> Result<&Context> {
        self.contexts
            .get(name)
            .ok_or_else(|| self.not_found_hinted(name))
    }

    /// `context 'x' not found`, naming the saved context the user probably meant.
    fn not_found_hinted(&self, name: &str) -> Error {
        let e = context_not_found(name);
        match did_you_mean(name, self.contexts.keys().map(String::as_str)) {
            Some(near) => e.reworded(format!("{}: did you mean '{near}'?", e.message)),
            None => e,
        }
    }

    /// The context called `name`, mutably, or a not-found error (exit 8).
    pub fn context_mut(&mut self, name: &str) -> Result<&mut Context> {
        let hinted = self.not_found_hinted(name);
        self.contexts.get_mut(name).ok_or(hinted)
    }

    /// The current context's name and the context, when one is set. A `current-context` that
    /// names no saved context is a not-found error (exit 8).
    pub fn current(&self) -> Result<Option<(&str, &Context)>> {
        match &self.current_context {
            None => Ok(None),
            Some(name) => Ok(Some((name.as_str(), self.context(name)?))),
        }
    }
}

/// Pending credentials ([`Config::pending_credential_ids`]).
impl Config {
    /// Notes that the secret `id` in `storage` is about to be stored or removed.
    pub fn note_pending(&mut self, storage: Storage, id: &str) {
        let entry = pending_entry(storage, id);
        if !self.pending_credential_ids.contains(&entry) {
            self.pending_credential_ids.push(entry);
        }
    }

    /// Clears the note of [`Config::note_pending`].
    pub fn clear_pending(&mut self, storage: Storage, id: &str) {
        let entry = pending_entry(storage, id);
        self.pending_credential_ids.retain(|e| *e != entry);
    }

    /// The pending credentials that no context uses: the secrets a crash may have orphaned.
    /// Entries that do not parse are left alone (and not returned).
    pub fn orphan_candidates(&self) -> Vec<(Storage, String)> {
        self.pending_credential_ids
            .iter()
            .filter_map(|e| {
                let (storage, id) = e.split_once(':')?;
                let storage = match storage {
                    "keyring" => Storage::Keyring,
                    "file" => Storage::File,
                    _ => return None,
                };
                Some((storage, id.to_string()))
            })
            .filter(|(storage, id)| {
                !self
                    .contexts
                    .values()
                    .any(|c| c.storage == *storage && c.credential_id == *id)
            })
            .collect()
    }
}

fn pending_entry(storage: Storage, id: &str) -> String {
    format!("{}:{id}", storage.as_str())
}

/// `context 'x' not found` (exit 8).
pub fn context_not_found(name: &str) -> Error {
    Error::new(Kind::NotFound, format!("context '{name}' not found"))
}

/// The name among `names` closest to `typed` (at most a third of its letters off), if any.
pub fn did_you_mean<'a>(typed: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (typed.chars().count() / 3).max(1);
    names
        .map(|n| (edit_distance(typed, n), n))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, n)| n)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A fresh random credential id: 32 lowercase hex characters (128 bits).
pub fn new_credential_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The config file in effect: `--config` > `STS_CLI_CONFIG` > `<user config dir>/sts/config.toml`
/// (`$XDG_CONFIG_HOME/sts/config.toml`, else `~/.config/sts/config.toml` on Linux). The caller
/// reads the env var; an empty value counts as unset.
pub fn resolve_path(flag: Option<&Path>, env: Option<&Path>) -> Result<PathBuf> {
    let given = |p: Option<&Path>| {
        p.filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
    };
    if let Some(path) = given(flag).or_else(|| given(env)) {
        return Ok(path);
    }
    let dirs = directories::BaseDirs::new().ok_or_else(|| {
        Error::config(
            "cannot find the user's config folder (no home directory); \
             pass --config or set STS_CLI_CONFIG",
        )
    })?;
    Ok(dirs.config_dir().join("sts").join(FILE_NAME))
}

/// Reads the config file; `None` when it does not exist. A file that cannot be read or does not
/// parse is a config error (exit 1) naming the file, and the line and column of a parse error.
pub fn load(path: &Path) -> Result<Option<Config>> {
    let config: Option<Config> = load_toml(path, "config file")?;
    // A hand-edited URL with a password: never printed, wherever the URL is shown.
    for ctx in config.iter().flat_map(|c| c.contexts.values()) {
        crate::guard::register_url_password(&ctx.url);
    }
    Ok(config)
}

/// Changes the config file under an exclusive lock on `config.toml.lock`: reads it (an empty
/// config when it does not exist), applies `f`, and writes the result atomically (temporary file
/// in the same folder, fsync, rename, fsync of the folder). A file that does not parse is an
/// error and is left untouched; so is the file when `f` fails. Missing folders are created 0700,
/// the file 0600. A failure to write is exit 6.
///
/// The path must be a regular file or absent (a directory, device, FIFO or socket, directly or
/// through a symlink, is exit 1 and nothing is written); a symlink is written through to its
/// target, beside which the lock and the temporary file live. A rewrite keeps the file's mode
/// and owner.
pub fn update<T>(path: &Path, f: impl FnOnce(&mut Config) -> Result<T>) -> Result<T> {
    let mut locked = Locked::acquire(path)?;
    let mut config = locked.load()?;
    let value = f(&mut config)?;
    locked.write(&config)?;
    Ok(value)
}

/// The config file held under its exclusive lock for several writes in a row: `context save`
/// and `context delete` hold it across the secret store's write, so no other `sts` sees (or
/// reconciles) the pending credential of a save in progress. Every [`Locked::write`] is atomic
/// and keeps the comments of the text before it. The lock ends when this is dropped.
pub struct Locked {
    path: PathBuf,
    target: PathBuf,
    /// The text last read or written, which the next write is merged into.
    text: Option<String>,
    /// Whether the file existed when it was first loaded.
    existed: Option<bool>,
    _lock: File,
}

impl Locked {
    /// Takes the lock of the config file at `path` (its final target when it is a symlink,
    /// which must be a regular file or absent: exit 1 otherwise, nothing written).
    pub fn acquire(path: &Path) -> Result<Locked> {
        let target = write_target(path, "config file")?;
        let lock = lock(&target, "config file")?;
        Ok(Locked {
            path: path.to_path_buf(),
            target,
            text: None,
            existed: None,
            _lock: lock,
        })
    }

    /// The config as it is now (an empty one when there is no file); a file that does not
    /// parse is an error and stays untouched.
    pub fn load(&mut self) -> Result<Config> {
        self.text = read_text(&self.target, "config file")?;
        self.existed.get_or_insert(self.text.is_some());
        match &self.text {
            Some(text) => parse(&self.path, "config file", text),
            None => Ok(Config::default()),
        }
    }

    /// Replaces the file with `config`, atomically.
    pub fn write(&mut self, config: &Config) -> Result<()> {
        let text = render(self.text.as_deref(), config)
            .map_err(|e| write_error("config file", &self.path, e))?;
        write_atomic(&self.target, text.as_bytes(), "config file", Mode::Keep)?;
        self.text = Some(text);
        Ok(())
    }

    /// Puts back `config`, the state before a change that failed: when that is an empty config
    /// and there was no file before, the file this lock's writes created is removed again.
    pub fn undo(&mut self, config: &Config) -> Result<()> {
        if self.existed == Some(false) && *config == Config::default() {
            return fs::remove_file(&self.target)
                .map_err(|e| write_error("config file", &self.path, e));
        }
        self.write(config)
    }
}

/// The text of a TOML file that now holds `value`: with no `old` text, `value` serialized; with
/// one, `value` merged into it with `toml_edit`, so the comments, blank lines and the order of
/// keys and tables a user wrote survive (CONTRACT §5). A changed value keeps the comments around
/// it, a key that is gone is removed with its comments, a new one is added at the end of its
/// table.
pub(crate) fn render<T: Serialize>(
    old: Option<&str>,
    value: &T,
) -> std::result::Result<String, String> {
    let new_text = toml::to_string(value).map_err(|e| e.to_string())?;
    let Some(old) = old.filter(|o| !o.trim().is_empty()) else {
        return Ok(new_text);
    };
    let mut doc: toml_edit::DocumentMut = old
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    let new: toml_edit::DocumentMut = new_text
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    let mut next = max_position(doc.as_table()) + 1;
    merge_table(doc.as_table_mut(), new.as_table(), &mut next);
    Ok(doc.to_string())
}

/// The largest document position of a table in `table` (tables are written in that order).
fn max_position(table: &toml_edit::Table) -> isize {
    table
        .iter()
        .filter_map(|(_, item)| item.as_table())
        .map(max_position)
        .chain(table.position())
        .max()
        .unwrap_or(0)
}

/// Gives a table that is new to the document, and its sub-tables, the next positions, so it
/// is written after every table the user wrote.
fn place(table: &mut toml_edit::Table, next: &mut isize) {
    table.set_position(Some(*next));
    *next += 1;
    for (_, item) in table.iter_mut() {
        if let Some(sub) = item.as_table_mut() {
            place(sub, next);
        }
    }
}

fn merge_table(old: &mut toml_edit::Table, new: &toml_edit::Table, next: &mut isize) {
    let gone: Vec<String> = old
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| !new.contains_key(k))
        .collect();
    for key in gone {
        old.remove(&key);
    }
    for (key, item) in new.iter() {
        match old.get_mut(key) {
            Some(existing) => merge_item(existing, item, next),
            None => {
                let mut item = item.clone();
                if let Some(table) = item.as_table_mut() {
                    place(table, next);
                }
                old.insert(key, item);
            }
        }
    }
}

fn merge_inline(old: &mut toml_edit::InlineTable, new: &toml_edit::InlineTable) {
    let gone: Vec<String> = old
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| !new.contains_key(k))
        .collect();
    for key in gone {
        old.remove(&key);
    }
    for (key, value) in new.iter() {
        match old.get_mut(key) {
            Some(existing) => merge_value(existing, value),
            None => {
                old.insert(key, value.clone());
            }
        }
    }
}

fn merge_item(old: &mut toml_edit::Item, new: &toml_edit::Item, next: &mut isize) {
    use toml_edit::{Item, Value};
    match (&mut *old, new) {
        (Item::Table(o), Item::Table(n)) => merge_table(o, n, next),
        (Item::Table(o), Item::Value(Value::InlineTable(n))) => {
            merge_table(o, &n.clone().into_table(), next)
        }
        (Item::Value(Value::InlineTable(o)), Item::Table(n)) => {
            merge_inline(o, &n.clone().into_inline_table())
        }
        (Item::Value(o), Item::Value(n)) => merge_value(o, n),
        (o, n) => {
            if !same_item(o, n) {
                *o = n.clone();
            }
        }
    }
}

fn merge_value(old: &mut toml_edit::Value, new: &toml_edit::Value) {
    use toml_edit::Value;
    match (&mut *old, new) {
        (Value::InlineTable(o), Value::InlineTable(n)) => merge_inline(o, n),
        (o, n) => {
            if !same_item(
                &toml_edit::Item::Value(o.clone()),
                &toml_edit::Item::Value(n.clone()),
            ) {
                let decor = o.decor().clone();
                *o = n.clone();
                *o.decor_mut() = decor;
            }
        }
    }
}

/// Whether two items hold the same data, whatever their formatting.
fn same_item(a: &toml_edit::Item, b: &toml_edit::Item) -> bool {
    let data = |item: &toml_edit::Item| {
        let mut doc = toml_edit::DocumentMut::new();
        doc.insert("v", item.clone());
        toml::from_str::<toml::Table>(&doc.to_string()).ok()
    };
    match (data(a), data(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Parses a config or credentials text, errors naming the file, line and column.
pub(crate) fn parse<T: DeserializeOwned>(path: &Path, what: &str, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| Error::config(parse_error_message(path, what, text, &e)))
}

/// The file a write to `path` really changes ([`fsutil::write_target`]): symlinks followed;
/// a path that is not a regular file is a config error (exit 1) naming `path`.
pub(crate) fn write_target(path: &Path, what: &str) -> Result<PathBuf> {
    fsutil::write_target(path).map_err(|e| {
        Error::config(format!(
            "cannot use {what} {}: {e}; sts writes only to a regular file",
            path.display()
        ))
    })
}

/// The text of a file that must be a regular file of at most 1 MiB; `None` when it does not
/// exist. Anything else is a config error (exit 1) naming the file.
pub(crate) fn read_text(path: &Path, what: &str) -> Result<Option<String>> {
    let bytes = match fsutil::read_regular(path, fsutil::MAX_FILE_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(None),
        Err(e) => {
            return Err(Error::config(format!(
                "cannot read {what} {}: {e}",
                path.display()
            )));
        }
    };
    String::from_utf8(bytes).map(Some).map_err(|_| {
        Error::config(format!(
            "cannot read {what} {}: it is not valid UTF-8",
            path.display()
        ))
    })
}

/// Reads and parses a TOML file; `None` when it does not exist. `what` names the file in
/// messages ("config file", "credentials file").
pub(crate) fn load_toml<T: DeserializeOwned>(path: &Path, what: &str) -> Result<Option<T>> {
    match read_text(path, what)? {
        Some(text) => parse(path, what, &text).map(Some),
        None => Ok(None),
    }
}

/// `invalid config file /x/config.toml at line 3, column 7: expected …`, on one line.
fn parse_error_message(path: &Path, what: &str, text: &str, e: &toml::de::Error) -> String {
    let reason = one_line(e.message());
    match e.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            format!(
                "invalid {what} {} at line {line}, column {column}: {reason}",
                path.display()
            )
        }
        None => format!("invalid {what} {}: {reason}", path.display()),
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Joins the lines of a message with `; `, so an error stays on one line.
pub(crate) fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A file of `sts`'s own that lives beside the config file unless a flag or its environment
/// variable names it (the journal, `renewals.toml`): `flag` > `env` (empty counts as unset) >
/// `<config folder>/<name>`.
pub fn file_beside(
    flag: Option<&Path>,
    env: Option<String>,
    config_path: &Path,
    name: &str,
) -> PathBuf {
    match (flag, env.filter(|e| !e.is_empty())) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(e)) => PathBuf::from(e),
        (None, None) => config_path
            .parent()
            .map_or_else(|| PathBuf::from(name), |d| d.join(name)),
    }
}

/// The folder holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn write_error(what: &str, path: &Path, e: impl fmt::Display) -> Error {
    Error::new(
        Kind::Write,
        format!("cannot write {what} {}: {e}", path.display()),
    )
}

/// Creates the folder holding `path` and its missing parents, each 0700.
pub(crate) fn create_parent_dirs(path: &Path, what: &str) -> Result<()> {
    let dir = parent_dir(path);
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).map_err(|e| write_error(what, path, e))
}

/// An exclusive lock on `<path>.lock` (never on `path` itself, which is replaced by rename),
/// held until the returned file is dropped. Creates the folders it needs.
pub(crate) fn lock(path: &Path, what: &str) -> Result<File> {
    create_parent_dirs(path, what)?;
    let mut name = path
        .file_name()
        .ok_or_else(|| write_error(what, path, "not a file name"))?
        .to_os_string();
    name.push(".lock");
    let lock_path = parent_dir(path).join(name);
    let file = open_lock_file(&lock_path, path, what)?;
    file.lock().map_err(|e| {
        write_error(
            what,
            path,
            format!("cannot lock {}: {e}", lock_path.display()),
        )
    })?;
    Ok(file)
}

/// Opens `lock_path`, the lock file that guards `path`, without locking it: created 0600 (its
/// folders 0700) when missing, never truncated.
pub(crate) fn open_lock_file(lock_path: &Path, path: &Path, what: &str) -> Result<File> {
    create_parent_dirs(lock_path, what)?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(lock_path).map_err(|e| {
        write_error(
            what,
            path,
            format!("cannot open {}: {e}", lock_path.display()),
        )
    })
}

/// The mode a rewritten file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The mode the file had (0600 for a new file): the config file.
    Keep,
    /// Always 0600: `credentials.toml`, which holds secrets.
    Private,
}

/// Replaces `path` with `bytes` atomically: a new file in the same folder, written and fsynced,
/// renamed over `path`, then the folder fsynced. A symlink at `path` is followed, so its target
/// is replaced rather than the link. A rewrite keeps the owner and (with [`Mode::Keep`]) the
/// mode of the file it replaces; a new file is 0600. Temporary files of earlier writes that were
/// interrupted are removed first (the caller holds the file's lock). On failure nothing but the
/// temporary file is touched, and that is removed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], what: &str, mode: Mode) -> Result<()> {
    let target = write_target(path, what)?;
    create_parent_dirs(&target, what)?;
    let dir = parent_dir(&target);
    let file_name = target
        .file_name()
        .ok_or_else(|| write_error(what, path, "not a file name"))?
        .to_string_lossy()
        .into_owned();
    fsutil::remove_stale_temp_files(dir, &file_name);
    let tmp = dir.join(fsutil::temp_name(&file_name));
    #[cfg(unix)]
    let old = fs::metadata(&target).ok();
    #[cfg(not(unix))]
    let _ = mode;
    let result = (|| -> io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&tmp)?;
        // Windows has no mode bits or owner ids to carry over: a new file inherits its folder's
        // access list, as the file it replaces did.
        #[cfg(unix)]
        if let Some(old) = &old {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            // The owner first (only root may give a file away; anyone else keeps their own).
            if old.uid() != file.metadata()?.uid() || old.gid() != file.metadata()?.gid() {
                let _ = std::os::unix::fs::fchown(&file, Some(old.uid()), Some(old.gid()));
            }
            if mode == Mode::Keep {
                file.set_permissions(fs::Permissions::from_mode(old.mode() & 0o7777))?;
            }
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &target)?;
        // Make the rename itself durable. Some file systems cannot fsync a folder; the data
        // is safe by then, so that is not an error.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        write_error(what, path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_names_the_nearest_context_only_when_near() {
        let names = ["prod", "production", "staging"];
        assert_eq!(
            did_you_mean("prodution", names.iter().copied()),
            Some("production")
        );
        assert_eq!(
            did_you_mean("stagign", names.iter().copied()),
            Some("staging")
        );
        assert_eq!(did_you_mean("qa", names.iter().copied()), None);
    }
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    fn sample() -> Config {
        let mut config = Config {
            current_context: Some("prod".into()),
            ..Config::default()
        };
        config.contexts.insert(
            "prod".into(),
            Context {
                url: "https://observability.example.com".into(),
                platform: Default::default(),
                api_path: "/api".into(),
                auth: Auth::ServiceToken,
                storage: Storage::Keyring,
                skip_ssl: false,
                ca_cert_base64_data: Some("LS0tLS1CRUdJTg==".into()),
                credential_id: new_credential_id(),
                extra: toml::Table::new(),
            },
        );
        config.contexts.insert(
            "dev".into(),
            Context {
                url: "http://localhost:7070".into(),
                platform: Default::default(),
                api_path: "/custom/api".into(),
                auth: Auth::ApiToken,
                storage: Storage::File,
                skip_ssl: true,
                ca_cert_base64_data: None,
                credential_id: new_credential_id(),
                extra: toml::Table::new(),
            },
        );
        config
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn round_trip_through_update_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        assert_eq!(load(&path).unwrap(), None);
        let config = sample();
        update(&path, |c| {
            *c = config.clone();
            Ok(())
        })
        .unwrap();
        assert_eq!(load(&path).unwrap(), Some(config));
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("current-context = \"prod\""), "{text}");
        assert!(text.contains("[contexts.prod]"), "{text}");
        assert!(text.contains("api-path = \"/custom/api\""), "{text}");
        assert!(text.contains("auth = \"service-token\""), "{text}");
        assert!(text.contains("storage = \"file\""), "{text}");
        assert!(text.contains("skip-ssl = true"), "{text}");
        assert!(text.contains("credential-id = "), "{text}");
        assert!(!text.contains("ca-cert-base64-data = \"\""), "{text}");
    }

    #[test]
    fn defaults_fill_missing_optional_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(
            &path,
            "[contexts.a]\nurl = \"http://x\"\nauth = \"api-token\"\ncredential-id = \"abc\"\n",
        )
        .unwrap();
        let config = load(&path).unwrap().unwrap();
        assert_eq!(config.current_context, None);
        let a = config.context("a").unwrap();
        assert_eq!(a.api_path, "/api");
        assert_eq!(a.storage, Storage::Keyring);
        assert!(!a.skip_ssl);
        assert_eq!(a.ca_cert_base64_data, None);
    }

    #[test]
    fn unknown_keys_are_tolerated_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(
            &path,
            "current-context = \"a\"\nfuture-setting = 3\n\n[contexts.a]\nurl = \"http://x\"\n\
             auth = \"api-token\"\ncredential-id = \"abc\"\nlabel = \"mine\"\n\n[plugins]\nx = true\n",
        )
        .unwrap();
        update(&path, |c| {
            c.current_context = Some("a".into());
            Ok(())
        })
        .unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("future-setting = 3"), "{text}");
        assert!(text.contains("label = \"mine\""), "{text}");
        assert!(text.contains("[plugins]"), "{text}");
        let config = load(&path).unwrap().unwrap();
        assert_eq!(config.extra["future-setting"].as_integer(), Some(3));
    }

    #[test]
    fn comments_and_the_order_of_a_hand_edited_config_survive_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let text = "# my contexts, by hand\ncurrent-context = \"b\" # the one I use\n\n\
                    # production first\n[contexts.prod]\nurl = \"https://p\"  # keep me\n\
                    auth = \"service-token\"\ncredential-id = \"p1\"\n\n\
                    # then the lab\n[contexts.b]\nurl = \"http://b\"\nauth = \"api-token\"\n\
                    credential-id = \"b1\"\n";
        fs::write(&path, text).unwrap();
        update(&path, |c| {
            c.current_context = Some("prod".into());
            c.context_mut("prod")?.skip_ssl = true;
            let mut new = c.contexts["b"].clone();
            new.url = "http://new".into();
            c.contexts.insert("aaa".into(), new);
            Ok(())
        })
        .unwrap();
        let after = fs::read_to_string(&path).unwrap();
        for kept in [
            "# my contexts, by hand",
            "current-context = \"prod\" # the one I use",
            "# production first",
            "url = \"https://p\"  # keep me",
            "# then the lab",
        ] {
            assert!(after.contains(kept), "{kept:?} lost:\n{after}");
        }
        let order: Vec<usize> = ["[contexts.prod]", "[contexts.b]", "[contexts.aaa]"]
            .iter()
            .map(|t| {
                after
                    .find(t)
                    .unwrap_or_else(|| panic!("{t} missing:\n{after}"))
            })
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{after}");
        let config = load(&path).unwrap().unwrap();
        assert!(config.contexts["prod"].skip_ssl);
        assert_eq!(config.contexts["aaa"].url, "http://new");
        // A context that is gone goes with its table; the rest stays.
        update(&path, |c| {
            c.contexts.remove("b");
            Ok(())
        })
        .unwrap();
        let after = fs::read_to_string(&path).unwrap();
        assert!(
            !after.contains("[contexts.b]") && after.contains("# production first"),
            "{after}"
        );
    }

    #[test]
    fn inline_tables_and_unknown_keys_of_a_hand_edited_config_survive_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let text = "plugin = { on = true } # mine\ncontexts = { a = { url = \"http://a\", \
                    auth = \"api-token\", credential-id = \"c\", note = \"x\" } }\n";
        fs::write(&path, text).unwrap();
        update(&path, |c| {
            c.context_mut("a")?.skip_ssl = true;
            c.current_context = Some("a".into());
            Ok(())
        })
        .unwrap();
        let after = fs::read_to_string(&path).unwrap();
        assert!(after.contains("plugin = { on = true } # mine"), "{after}");
        assert!(after.contains("note = \"x\""), "{after}");
        let config = load(&path).unwrap().unwrap();
        assert!(config.contexts["a"].skip_ssl);
        assert_eq!(config.current_context.as_deref(), Some("a"));
        // An empty file, and then one with every context gone.
        fs::write(&path, "").unwrap();
        update(&path, |c| {
            c.contexts
                .insert("b".into(), sample().contexts.remove("dev").unwrap());
            Ok(())
        })
        .unwrap();
        update(&path, |c| {
            c.contexts.clear();
            Ok(())
        })
        .unwrap();
        assert_eq!(load(&path).unwrap().unwrap().contexts.len(), 0);
    }

    #[test]
    fn undo_removes_a_file_that_the_failed_change_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let mut locked = Locked::acquire(&path).unwrap();
        let mut config = locked.load().unwrap();
        config.note_pending(Storage::Keyring, "x");
        locked.write(&config).unwrap();
        assert!(path.exists());
        config.clear_pending(Storage::Keyring, "x");
        locked.undo(&config).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn parse_error_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(
            &path,
            "current-context = \"a\"\n\n[contexts.a]\nurl = = \"x\"\n",
        )
        .unwrap();
        let err = load(&path).unwrap_err();
        assert_eq!(err.kind, Kind::Config);
        let expected = format!(
            "invalid config file {} at line 4, column 7: ",
            path.display()
        );
        assert!(err.message.starts_with(&expected), "{}", err.message);
        assert!(!err.message.contains('\n'), "{}", err.message);
    }

    #[test]
    fn a_bad_value_is_an_error_at_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(
            &path,
            "[contexts.a]\nurl = \"http://x\"\nauth = \"password\"\ncredential-id = \"abc\"\n",
        )
        .unwrap();
        let err = load(&path).unwrap_err();
        assert_eq!(err.kind, Kind::Config);
        assert!(
            err.message.contains("at line 3, column 8"),
            "{}",
            err.message
        );
        assert!(err.message.contains("api-token"), "{}", err.message);
    }

    #[test]
    fn a_folder_in_place_of_the_file_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err();
        assert_eq!(err.kind, Kind::Config);
        assert!(
            err.message.contains("cannot read config file"),
            "{}",
            err.message
        );
        assert!(err.message.contains(&dir.path().display().to_string()));
    }

    #[test]
    fn a_file_in_place_of_the_folder_is_a_config_error_on_read_and_a_write_error_on_update() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("sts");
        fs::write(&blocker, "").unwrap();
        let path = blocker.join("config.toml");
        assert_eq!(load(&path).unwrap_err().kind, Kind::Config);
        let err = update(&path, |_| Ok(())).unwrap_err();
        assert_eq!(err.kind, Kind::Write);
        assert!(
            err.message.contains("cannot write config file"),
            "{}",
            err.message
        );
    }

    #[test]
    fn not_utf8_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        let err = load(&path).unwrap_err();
        assert_eq!(err.kind, Kind::Config);
        assert!(err.message.contains("UTF-8"), "{}", err.message);
    }

    #[test]
    fn update_never_overwrites_a_file_it_cannot_parse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let broken = b"current-context = \"a\"\n[contexts.a\nurl = 'x'\n\xe2\x9c\x85 hand edit\n";
        fs::write(&path, broken).unwrap();
        let mut called = false;
        let err = update(&path, |c| {
            called = true;
            c.current_context = None;
            Ok(())
        })
        .unwrap_err();
        assert!(!called);
        assert_eq!(err.kind, Kind::Config);
        assert_eq!(fs::read(&path).unwrap(), broken);
    }

    #[test]
    fn a_failing_change_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let err = update(&path, |c| {
            c.current_context = Some("x".into());
            Err::<(), _>(context_not_found("x"))
        })
        .unwrap_err();
        assert_eq!(err.kind, Kind::NotFound);
        assert!(!path.exists());
    }

    #[test]
    fn update_returns_the_value_of_the_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let id = update(&path, |c| {
            let mut ctx = sample().contexts.remove("prod").unwrap();
            ctx.credential_id = new_credential_id();
            let id = ctx.credential_id.clone();
            c.contexts.insert("x".into(), ctx);
            Ok(id)
        })
        .unwrap();
        assert_eq!(
            load(&path).unwrap().unwrap().contexts["x"].credential_id,
            id
        );
    }

    #[test]
    fn twenty_threads_updating_at_once_lose_no_context() {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("sts").join("config.toml"));
        let threads: Vec<_> = (0..20)
            .map(|i| {
                let path = Arc::clone(&path);
                std::thread::spawn(move || {
                    update(&path, |c| {
                        let mut ctx = sample().contexts.remove("dev").unwrap();
                        ctx.url = format!("http://host{i}");
                        c.contexts.insert(format!("ctx{i}"), ctx);
                        c.current_context = Some(format!("ctx{i}"));
                        Ok(())
                    })
                    .unwrap()
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let config = load(&path).unwrap().unwrap();
        assert_eq!(config.contexts.len(), 20);
        for i in 0..20 {
            assert_eq!(
                config.context(&format!("ctx{i}")).unwrap().url,
                format!("http://host{i}")
            );
        }
        // No temporary file is left behind: only the file and its lock.
        let mut names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["config.toml", "config.toml.lock"]);
    }

    #[test]
    fn files_are_created_0600_and_folders_0700() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b").join("config.toml");
        update(&path, |_| Ok(())).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("a/b/config.toml.lock")), 0o600);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        // A rewrite keeps the mode the user gave the file.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        update(&path, |_| Ok(())).unwrap();
        assert_eq!(mode(&path), 0o640);
    }

    #[test]
    fn a_symlinked_config_file_stays_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles").join("sts.toml");
        fs::create_dir_all(real.parent().unwrap()).unwrap();
        fs::write(&real, "").unwrap();
        let link = dir.path().join("config.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        update(&link, |c| {
            c.current_context = Some("a".into());
            Ok(())
        })
        .unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            fs::read_to_string(&real)
                .unwrap()
                .contains("current-context")
        );
    }

    #[test]
    fn path_resolution_order() {
        let flag = Path::new("/flag/config.toml");
        let env = Path::new("/env/config.toml");
        let empty = Path::new("");
        assert_eq!(resolve_path(Some(flag), Some(env)).unwrap(), flag);
        assert_eq!(resolve_path(None, Some(env)).unwrap(), env);
        assert_eq!(resolve_path(Some(empty), Some(env)).unwrap(), env);
        let default = resolve_path(None, Some(empty)).unwrap();
        assert!(
            default.ends_with("sts/config.toml"),
            "{}",
            default.display()
        );
        assert_eq!(resolve_path(None, None).unwrap(), default);
    }

    #[test]
    fn context_lookup() {
        let config = sample();
        assert_eq!(config.context("prod").unwrap().auth, Auth::ServiceToken);
        let err = config.context("nope").unwrap_err();
        assert_eq!(err.kind, Kind::NotFound);
        assert_eq!(err.exit_code(), 8);
        assert_eq!(err.message, "context 'nope' not found");
        assert_eq!(config.current().unwrap().unwrap().0, "prod");
    }

    #[test]
    fn credential_ids_are_32_hex_and_distinct() {
        let a = new_credential_id();
        let b = new_credential_id();
        assert_eq!(a.len(), 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("a\nbc", 3), (2, 2));
        assert_eq!(line_column("é = 1\nx", 2), (1, 2));
        assert_eq!(line_column("é = 1\nx", 3), (1, 3));
        assert_eq!(line_column("ab", 99), (1, 3));
    }
}
