//! The token and key commands, written once for every [`TokenKind`]: create, list, delete and
//! rotate (CONTRACT §2, §3, §9). Returns data; never prints.
//!
//! A rotation's order is what keeps a pipeline working: read the old one, create the new one,
//! find its id, check the new secret against the context it is for and store it there, and only
//! then delete or revoke the old one. A failed step stops the rotation; the old one is never
//! touched before the new one exists, is checked and is stored.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;

use crate::commands::deliver::{self, Delivery, FileBackup, Vars};
use crate::commands::journaled;
use crate::config::{self, Auth, Context};
use crate::error::{Error, Kind, Result};
use crate::http::client::{Client, Observer};
use crate::platform::{self, OldTokenFate, Rotation, Token, TokenId, TokenKind};
use crate::secret::Secret;
use crate::settings::{Credential, OutputSettings, Settings};

/// The ids of a delete, positional ones first, each checked by the kind before any request.
pub fn parse_ids<K: TokenKind>(positional: &[String], flagged: &[String]) -> Result<Vec<TokenId>> {
    let ids = positional
        .iter()
        .map(|v| K::parse_id(v, "ID"))
        .chain(flagged.iter().map(|v| K::parse_id(v, "-i, --id")))
        .collect::<Result<Vec<TokenId>>>()?;
    if ids.is_empty() {
        return Err(Error::usage(
            "no id given: `delete ID…` or `delete --id ID` (ids are shown by `list`)",
        ));
    }
    Ok(ids)
}

/// The saved context a rotated token is stored in (`--save-to-context`), checked before any
/// request.
#[derive(Debug, Clone)]
pub struct ContextTarget {
    pub name: String,
    pub config_path: PathBuf,
    pub context: Context,
    pub timeout: Duration,
    pub output: OutputSettings,
}

impl ContextTarget {
    /// The context `name` of the config file: it must exist (exit 8; exit 1 for a file that
    /// does not parse) and be of the kind's platform.
    pub fn resolve<K: TokenKind>(
        config_path: &Path,
        name: &str,
        timeout: Duration,
        output: OutputSettings,
    ) -> Result<ContextTarget> {
        if let Some(why) = K::ROTATED_CAN_BE_SAVED {
            return Err(Error::usage(format!("--save-to-context: {why}")));
        }
        let config = config::load(config_path)?.ok_or_else(|| config::context_not_found(name))?;
        let context = config.context(name)?.clone();
        if context.platform != K::PLATFORM {
            return Err(Error::usage(format!(
                "--save-to-context: context '{name}' is {}, but the token is a {} one",
                context.platform,
                K::PLATFORM
            )));
        }
        Ok(ContextTarget {
            name: name.to_string(),
            config_path: config_path.to_path_buf(),
            context,
            timeout,
            output,
        })
    }

    /// A rotated token is saved only into a context of the server it was made on (URLs compared
    /// normalised, CONTRACT §1): another server would be sent a live secret when it is checked.
    /// Exit 3, before any request.
    pub fn check_server(&self, url: &str) -> Result<()> {
        if crate::settings::same_server(url, &self.context.url) {
            return Ok(());
        }
        Err(Error::usage(format!(
            "--save-to-context: context '{}' is for {}, but the token is rotated on {}: a \
             rotated token is saved only into a context of its own server",
            self.name, self.context.url, url
        )))
    }
}

/// What a rotation was asked to do.
#[derive(Debug, Clone)]
pub struct RotateRequest {
    pub old_id: TokenId,
    pub expiration: Option<String>,
    pub name: Option<String>,
    pub target: Option<ContextTarget>,
    pub fate: OldTokenFate,
    /// `fate` is the platform's default, not the user's choice: a delivered and verified
    /// secret then retires the old one by [`TokenKind::DELIVERED_FATE`], an unverified one keeps
    /// it (CONTRACT §12).
    pub fate_is_default: bool,
    /// `--overlap`: the old one stays live that much longer after the new one's creation.
    pub overlap: Option<Duration>,
    pub delivery: Delivery,
    /// The context in use, for `STS_CONTEXT` (empty when flags and env vars were used).
    pub context_name: String,
    /// The journal every step is written to (CONTRACT §12).
    pub journal: Option<crate::journal::Journal>,
    /// How long to wait for another run's lock of the credential.
    pub lock_timeout: Duration,
}

impl RotateRequest {
    /// A rotation of `old_id` with the platform's default fate and nothing delivered.
    pub fn new(old_id: TokenId, fate: OldTokenFate) -> RotateRequest {
        RotateRequest {
            old_id,
            expiration: None,
            name: None,
            target: None,
            fate,
            fate_is_default: false,
            overlap: None,
            delivery: Delivery::default(),
            context_name: String::new(),
            journal: None,
            lock_timeout: Duration::from_secs(30),
        }
    }
}

/// Rotates `req.old_id` of kind `K`: the old one read, the new one created, its id found, the
/// secret delivered and verified, stored in a context, and only then the old one retired. A
/// failed delivery or verification retires nothing and puts the delivery file back. With a
/// journal, the credential is locked, each step written down before it is taken, and what an
/// interrupted run left is taken up first (CONTRACT §12).
pub async fn rotate<K: TokenKind>(
    client: &Client,
    observer: &dyn Observer,
    req: &RotateRequest,
) -> (Rotation, Option<Error>) {
    let what = K::NOUNS.one;
    let old_id = &req.old_id.text;
    let mut r = Rotation::new(req.old_id.clone(), req.fate);
    if let Err(e) = req.delivery.check() {
        return (r, Some(e));
    }

    // 1. The old one, as the list shows it.
    let mut before = match K::list(client).await {
        Ok(list) => list,
        Err(e) => {
            return (r, Some(nothing_changed::<K>(e, old_id, "cannot list the")));
        }
    };
    let Some(mut old) = before.iter().find(|t| t.id == req.old_id).cloned() else {
        let e = Error::usage(format!(
            "no {what} with id {old_id} (see `{} list`)",
            K::NOUNS.command
        ));
        return (r, Some(e));
    };

    // The journal: this credential locked, what an interrupted run left taken up.
    let mut log = journaled::Log::none();
    if let Some(journal) = &req.journal {
        let base = base_of::<K>(&old.name);
        let key = journaled::key::<K>(client, &base);
        match journaled::Log::lock(journal, &key, req.lock_timeout) {
            Ok(l) => log = l,
            Err(e) => return (r, Some(e)),
        }
        if log.waited {
            match K::list(client).await {
                Ok(list) => before = list,
                Err(e) => return (r, Some(nothing_changed::<K>(e, old_id, "cannot list the"))),
            }
        }
        match journaled::open::<K>(client, &log, &before, K::DELIVERED_FATE).await {
            Ok(taken) => {
                r.warnings.extend(taken.warnings);
                if let Some((Some(o), new)) = taken.finished
                    && o == *old_id
                {
                    r.warnings.push(format!(
                        "the interrupted rotation of {what} {old_id} was finished: its new                          {what} {new} had been delivered and verified; nothing new was made"
                    ));
                    return (r, None);
                }
                if taken.retired.iter().any(|r| r == old_id) {
                    return (
                        r,
                        Some(Error::usage(format!(
                            "{what} {old_id} was rotated already and is now retired"
                        ))),
                    );
                }
            }
            Err(e) => return (r, Some(e)),
        }
        if let Some(t) = before.iter().find(|t| t.id == req.old_id) {
            old = t.clone();
        }
    }
    let request = match K::rotation_request(
        &old,
        req.expiration.as_deref(),
        req.name.as_deref(),
        Utc::now(),
    ) {
        Ok(request) => request,
        Err(e) => return (r, Some(e)),
    };
    replace::<K>(client, observer, req, Some(&old), &before, request, &log, r).await
}

/// The name a credential's tokens go by: the old one's, without a suffix the platform adds on
/// rotation (Qualytics).
fn base_of<K: TokenKind>(name: &str) -> String {
    let mut base = name.to_string();
    // The shortest prefix (at a space) that still matches is the base.
    for (i, c) in name.char_indices() {
        if c == ' ' && K::name_matches(&name[..i], name) {
            base = name[..i].to_string();
            break;
        }
    }
    base
}

fn nothing_changed<K: TokenKind>(e: Error, old_id: &str, step: &str) -> Error {
    let what = K::NOUNS.one;
    e.reworded(format!(
        "{step} {what}s: {}; nothing was changed, the old {what} {old_id} still works",
        e.message
    ))
}

/// A rotation's result and its error, carried through [`replace`].
pub type Replaced = (Rotation, Option<Error>);

/// Steps 2 to 6 of a rotation, from the create request on: `old` is the token replaced (none
/// when a first one is made), `before` the list taken before. Every step is written to `log`
/// before it is taken.
#[allow(clippy::too_many_arguments)]
pub async fn replace<K: TokenKind>(
    client: &Client,
    observer: &dyn Observer,
    req: &RotateRequest,
    old: Option<&Token>,
    before: &[Token],
    request: K::Request,
    log: &journaled::Log,
    mut r: Rotation,
) -> Replaced {
    let what = K::NOUNS.one;
    let old_id = &req.old_id.text;
    let kept = match old {
        Some(_) => format!("the old {what} {old_id} still works"),
        None => "nothing was retired".to_string(),
    };
    let nothing_changed = |e: Error, step: &str| {
        e.reworded(format!(
            "{step}: {}; nothing was changed, {kept}",
            e.message
        ))
    };
    let overlap_ms = req
        .overlap
        .map(|o| i64::try_from(o.as_millis()).unwrap_or(i64::MAX));
    let planned = if req.fate_is_default {
        K::DELIVERED_FATE
    } else {
        req.fate
    };

    // 2. The new one, each name written down with the ids it had before it is sent.
    let first_request = request;
    let mut renamed: Option<K::Request> = None;
    let mut attempt = 1;
    let created = loop {
        let request = renamed.as_ref().unwrap_or(&first_request);
        let name = K::request_name(request);
        let existing: Vec<String> = before
            .iter()
            .filter(|t| t.name == name)
            .map(|t| t.id.text.to_string())
            .collect();
        if let Err(e) = log.before_create(
            old.map(|o| o.id.text.as_str()),
            &name,
            existing,
            planned,
            overlap_ms,
        ) {
            return (r, Some(e));
        }
        match K::create(client, request).await {
            Ok(created) => break created,
            Err(e) if e.status == Some(409) && attempt < 20 => {
                attempt += 1;
                // ` 2`, ` 3`, … after the name first sent, never one after another.
                match K::renamed(&first_request, attempt) {
                    Some(next) => renamed = Some(next),
                    None => {
                        return (
                            r,
                            Some(nothing_changed(e, &format!("cannot create the new {what}"))),
                        );
                    }
                }
            }
            Err(e)
                if e.kind == crate::error::Kind::Connect
                    && e.message.starts_with("no answer to") =>
            {
                // Sent, and no answer: the server may have made it. The journal has its name
                // and the ids that name had, so the next run finds it and retires it.
                let message = format!(
                    "cannot create the new {what}: {}; it may have been created all the same: \
                     the next `sts rotate` or `sts renew` of this credential finds it and \
                     retires it; {kept}",
                    e.message
                );
                return (r, Some(e.reworded(message)));
            }
            Err(e) => {
                return (
                    r,
                    Some(nothing_changed(e, &format!("cannot create the new {what}"))),
                );
            }
        }
    };
    crate::redact::register(&created.secret);
    let secret = Secret::new(created.secret.clone());
    let new_name = created
        .json
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| K::request_name(renamed.as_ref().unwrap_or(&first_request)));
    let (mut created_ms, mut expires_ms) = K::created_times(&created.json);
    r.new_id = created.id.clone();
    r.created = Some(created);

    // 3. Its id, when the answer has none: list again and take the one that is new.
    if r.new_id.is_none() {
        let known: HashSet<String> = before.iter().map(|t| t.id.text.to_string()).collect();
        match K::list(client).await {
            Ok(after) => match new_id(&known, &after, &new_name) {
                Ok(id) => {
                    if let Some(entry) = after.iter().find(|t| t.id == id) {
                        let (c, e) = K::created_times(&entry.json);
                        created_ms = created_ms.or(c);
                        expires_ms = expires_ms.or(e).or(entry.expires);
                    }
                    r.new_id = Some(id);
                }
                Err((w, ids)) => {
                    if ids.len() > 1 {
                        let _ = log.update(|e| e.ambiguous = ids.clone());
                        return (r, Some(Error::usage(w)));
                    }
                    r.warnings.push(w);
                }
            },
            Err(e) => r.warnings.push(format!(
                "cannot tell the new {what}'s id (listing failed: {}); see `{} list`",
                e.message,
                K::NOUNS.command
            )),
        }
    }
    if let Some(id) = &r.new_id
        && let Err(e) = log.created(&id.text)
    {
        return (r, Some(e));
    }
    let created_text = match &r.new_id {
        Some(id) => format!("the new {what} (id {}) was created and printed", id.text),
        None => format!("the new {what} was created and printed"),
    };
    let vars = Vars {
        context: req.context_name.clone(),
        platform: K::PLATFORM.to_string(),
        kind: K::NOUNS.json_one.to_string(),
        token_id: r
            .new_id
            .as_ref()
            .map(|i| i.text.to_string())
            .unwrap_or_default(),
        old_token_id: old.map(|o| o.id.text.to_string()).unwrap_or_default(),
        name: new_name.clone(),
        expires: expires_ms.and_then(crate::dates::rfc3339_millis),
    };

    // 4. Delivery and verification; a failure puts the file back and retires nothing.
    let mut backup = None;
    let checked = deliver_and_verify::<K>(
        client,
        observer,
        req,
        &secret,
        &vars,
        &mut r,
        &mut backup,
        log,
    )
    .await;
    let client = client.renewed();
    if let Err((step, e)) = checked {
        let restored = match backup.map(FileBackup::restore) {
            Some(Ok(())) => {
                r.delivered.retain(|d| *d != "file");
                r.delivered_file = None;
                "; the delivery file holds its previous content again".to_string()
            }
            Some(Err(re)) => format!("; the delivery file could not be put back: {}", re.message),
            None => String::new(),
        };
        let message = format!(
            "{created_text}, but {step} failed: {}; nothing was retired, {kept}{restored}",
            e.message
        );
        return (r, Some(e.reworded(message)));
    }

    // 5. The context: the new secret stored (it was checked against its server above).
    if let Some(target) = &req.target {
        match store_in_context(target, &secret) {
            Ok(warning) => {
                r.saved_to_context = Some(target.name.clone());
                r.warnings.extend(warning);
            }
            Err(e) => {
                let message = format!(
                    "{created_text}, but it could not be stored in context '{}': {}; the context still has its old credential and the old {what} {old_id} was kept",
                    target.name, e.message
                );
                return (r, Some(e.reworded(message)));
            }
        }
    }

    // 6. Only now the old one (and the superseded ones, once the new one is verified).
    let fate = retirement::<K>(req, &r);
    r.fate = fate;
    let mut due = None;
    if fate != OldTokenFate::Keep
        && let Some(overlap) = overlap_ms
    {
        let from = created_ms.unwrap_or_else(|| Utc::now().timestamp_millis());
        let at = from.saturating_add(overlap);
        if at > Utc::now().timestamp_millis() {
            r.old_retires_at = Some(at);
            due = Some(at);
        }
    }
    if let Some(new) = &r.new_id {
        let old_retirement =
            old.filter(|_| fate != OldTokenFate::Keep)
                .map(|o| crate::journal::Retirement {
                    id: o.id.text.to_string(),
                    how: journaled::how(fate).to_string(),
                    after: Some(new.text.to_string()),
                    overlap_ms: due.and(overlap_ms),
                    due: due.and_then(crate::dates::rfc3339_millis),
                });
        if r.verified {
            if let Err(e) = log.settle(
                &new.text,
                !r.delivered.is_empty(),
                old_retirement,
                journaled::superseded_how::<K>(),
            ) {
                return (r, Some(e));
            }
            // The superseded ones: never delivered, retired now.
            if let Ok(entry) = log.entry() {
                for ret in entry.retire.iter().filter(|x| x.after.is_none()) {
                    if old.is_some_and(|o| o.id.text == ret.id) {
                        continue;
                    }
                    let token = before.iter().find(|t| t.id.text == ret.id);
                    let id = token
                        .map(|t| t.id.clone())
                        .unwrap_or_else(|| TokenId::string(&ret.id));
                    let fallback = token.cloned().unwrap_or_else(|| Token {
                        id: id.clone(),
                        name: Default::default(),
                        expires: None,
                        last_used: crate::platform::LastUsed::Unknown,
                        created: None,
                        revoked: false,
                        cells: crate::platform::interface::Cells::new(),
                        json: serde_json::Value::Null.into(),
                    });
                    match journaled::retire_one::<K>(&client, &fallback.id, &ret.how, &fallback)
                        .await
                    {
                        Ok(()) => {
                            let _ = log.retired(&ret.id);
                        }
                        Err(e) => r.warnings.push(e.message),
                    }
                }
            }
        } else {
            // Nothing could verify it: it is the current one, the old one is kept.
            let _ = log.update(|e| {
                e.rotation = None;
                e.current = Some(new.text.to_string());
                e.delivered = !r.delivered.is_empty();
            });
        }
    }
    let Some(old) = old else {
        return (r, None);
    };
    if due.is_some() {
        return (r, None);
    }
    let outcome = match fate {
        OldTokenFate::Keep => return (r, None),
        OldTokenFate::Delete => K::delete(&client, &old.id).await,
        OldTokenFate::Revoke => K::revoke(&client, &old.id).await,
    };
    match outcome {
        // A 404 is a token retired already (Posit Connect removes expired ones itself).
        Ok(()) => {
            r.fate_done = true;
            let _ = log.retired(&old.id.text);
            (r, None)
        }
        Err(e) if e.status == Some(404) => {
            r.fate_done = true;
            let _ = log.retired(&old.id.text);
            (r, None)
        }
        Err(e) => {
            let saved = r
                .saved_to_context
                .as_ref()
                .map(|c| format!(" and stored in context '{c}'"))
                .unwrap_or_default();
            let (verb, command) = match fate {
                OldTokenFate::Revoke => ("revoked", "revoke"),
                _ => ("deleted", "delete"),
            };
            let message = format!(
                "{created_text}{saved}, but the old {what} {old_id} could not be {verb}: {}; \
                 {command} it with `{} {command} {old_id}`",
                e.message,
                K::NOUNS.command
            );
            (r, Some(e.reworded(message)))
        }
    }
}

/// What happens to the old one: the user's choice, else the platform's default, which after a
/// delivery is [`TokenKind::DELIVERED_FATE`] when the new secret was verified and keeping it
/// when nothing could verify it.
fn retirement<K: TokenKind>(req: &RotateRequest, r: &Rotation) -> OldTokenFate {
    if !req.fate_is_default {
        req.fate
    } else if !req.delivery.delivers() {
        K::DEFAULT_FATE
    } else if r.verified {
        K::DELIVERED_FATE
    } else {
        OldTokenFate::Keep
    }
}

/// Steps 4 of a rotation, each recorded in `r` as it succeeds: the file, the command, the
/// platform's check (or the context's, with `--save-to-context`), the verify command. A
/// failure names its step.
#[allow(clippy::too_many_arguments)]
async fn deliver_and_verify<K: TokenKind>(
    client: &Client,
    observer: &dyn Observer,
    req: &RotateRequest,
    secret: &Secret,
    vars: &Vars,
    r: &mut Rotation,
    backup: &mut Option<FileBackup>,
    log: &journaled::Log,
) -> std::result::Result<(), (String, Error)> {
    let d = &req.delivery;
    let journal_error = |e: Error| ("writing the journal".to_string(), e);
    if let Some(path) = &d.file {
        let b = deliver::deliver_file(path, secret)
            .map_err(|e| (format!("delivery to {}", path.display()), e))?;
        *backup = Some(b);
        r.delivered.push("file");
        r.delivered_file = Some(path.display().to_string());
    }
    if let Some(line) = &d.command {
        deliver::run_command("the delivery command", line, Some(secret), vars, d.timeout)
            .map_err(|e| ("delivery by command".to_string(), e))?;
        r.delivered.push("command");
    }
    if d.delivers() {
        log.delivered().map_err(journal_error)?;
    }
    let client = client.renewed();
    if let Some(target) = &req.target {
        check_against::<K>(target, secret, observer)
            .await
            .map_err(|e| (format!("the check against context '{}'", target.name), e))?;
        r.verified = true;
    } else if let Some(created) = &r.created {
        r.verified = K::verify_new(&client, created)
            .await
            .map_err(|e| ("verification with the new secret".to_string(), e))?;
    }
    if let Some(line) = &d.verify_command {
        deliver::run_command("the verify command", line, None, vars, d.timeout)
            .map_err(|e| ("the verify command".to_string(), e))?;
        r.verified = true;
    }
    if r.verified {
        log.verified().map_err(journal_error)?;
    }
    Ok(())
}

/// The id in `after` that is not in `known` and has this name; a warning when there is not
/// exactly one.
fn new_id(
    known: &HashSet<String>,
    after: &[Token],
    name: &str,
) -> std::result::Result<TokenId, (String, Vec<String>)> {
    let fresh: Vec<&TokenId> = after
        .iter()
        .filter(|t| t.name == name && !t.id.text.is_empty() && !known.contains(t.id.text.as_str()))
        .map(|t| &t.id)
        .collect();
    match fresh.as_slice() {
        [id] => Ok((*id).clone()),
        [] => Err((
            format!("cannot tell the new id: no new entry named '{name}' in the list"),
            Vec::new(),
        )),
        several => {
            let ids: Vec<String> = several.iter().map(|i| i.text.to_string()).collect();
            Err((
                format!(
                    "cannot tell the new id: {} new entries are named '{name}' ({}; another \
                     rotation at the same time?): none of them is retired; delete the strays, \
                     or set them aside with `sts renew --forget ID`",
                    several.len(),
                    ids.join(", ")
                ),
                ids,
            ))
        }
    }
}

/// The platform's validation request on the context's server with the new secret.
async fn check_against<K: TokenKind>(
    target: &ContextTarget,
    secret: &Secret,
    observer: &dyn Observer,
) -> Result<()> {
    let settings = Settings::for_context(
        &target.context,
        Credential::ServiceToken(secret.clone()),
        target.timeout,
        target.output,
    )?;
    let client = settings.client(observer)?;
    platform::validate(K::PLATFORM, &client).await.map(|_| ())
}

/// Stores the secret under a fresh credential id, points the context at it (as a service
/// token), then forgets the old credential. Until the config is written the context keeps its
/// old credential, so a failure leaves it as it was. Returns a warning when the old credential
/// could not be removed.
fn store_in_context(target: &ContextTarget, secret: &Secret) -> Result<Option<String>> {
    // Crash-safe: no orphaned secret whenever it is killed (CONTRACT §5).
    let storage = target.context.storage;
    let credential_id = config::new_credential_id();
    let label = crate::credentials::label(&target.name, &target.context.url);
    let ((), warning) = crate::credentials::transaction::store_secret_and_change(
        &target.config_path,
        storage,
        &credential_id,
        secret,
        &label,
        |config| {
            let ctx = config.context_mut(&target.name)?;
            if ctx.storage != storage {
                return Err(Error::new(
                    Kind::Write,
                    format!("context '{}' changed while rotating", target.name),
                ));
            }
            ctx.auth = Auth::ServiceToken;
            let old = std::mem::replace(&mut ctx.credential_id, credential_id.clone());
            Ok(((), vec![(storage, old)]))
        },
    )?;
    Ok(warning.map(|w| format!("the old credential of context '{}' {w}", target.name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::stackstate::ServiceTokens;
    use crate::platform::{LastUsed, posit_connect};
    use serde_json::Value;

    fn token(id: &str, name: &str) -> Token {
        Token {
            id: TokenId::string(id),
            name: name.into(),
            expires: None,
            last_used: LastUsed::Unknown,
            created: None,
            revoked: false,
            cells: crate::platform::interface::Cells::new(),
            json: Value::Null.into(),
        }
    }

    #[test]
    fn the_new_id_is_the_one_new_entry_of_that_name() {
        let known: HashSet<String> = ["1", "2"].iter().map(|s| s.to_string()).collect();
        let after = [
            token("1", "a"),
            token("2", "b"),
            token("3", "a"),
            token("4", "c"),
        ];
        assert_eq!(new_id(&known, &after, "a"), Ok(TokenId::string("3")));
        assert!(new_id(&known, &after, "b").is_err());
        let twice = [token("3", "a"), token("5", "a")];
        let (e, ids) = new_id(&known, &twice, "a").unwrap_err();
        assert!(e.contains("2 new entries"), "{e}");
        assert_eq!(ids, ["3", "5"]);
    }

    fn rotation() -> Rotation {
        Rotation::new(TokenId::int(1), OldTokenFate::Keep)
    }

    #[test]
    fn the_old_one_retires_by_the_users_choice_else_by_what_was_delivered_and_verified() {
        type Posit = posit_connect::ServiceTokens;
        let mut req = RotateRequest::new(TokenId::int(1), Posit::DEFAULT_FATE);
        req.fate_is_default = true;
        let mut r = rotation();
        // Nothing delivered: the platform's default (Posit keeps, §9.1).
        assert_eq!(retirement::<Posit>(&req, &r), OldTokenFate::Keep);
        assert_eq!(retirement::<ServiceTokens>(&req, &r), OldTokenFate::Delete);
        // Delivered but nothing could verify it: kept.
        req.delivery.command = Some("true".into());
        assert_eq!(retirement::<Posit>(&req, &r), OldTokenFate::Keep);
        // Delivered and verified: the platform's default after a delivery.
        r.verified = true;
        assert_eq!(retirement::<Posit>(&req, &r), OldTokenFate::Delete);
        // The user's choice wins.
        req.fate_is_default = false;
        req.fate = OldTokenFate::Keep;
        assert_eq!(retirement::<Posit>(&req, &r), OldTokenFate::Keep);
    }

    #[test]
    fn a_credential_is_known_by_its_name_without_the_rotation_suffix() {
        type Q = crate::platform::qualytics::ServiceTokens;
        assert_eq!(
            base_of::<Q>("nightly loader (rotated 2026-01-01 00:00:00) 2"),
            "nightly loader"
        );
        assert_eq!(base_of::<Q>("nightly loader"), "nightly loader");
        assert_eq!(base_of::<ServiceTokens>("my agent"), "my agent");
    }

    #[test]
    fn ids_are_checked_by_their_kind_from_both_forms() {
        let ids = parse_ids::<ServiceTokens>(&["1".into(), "2".into()], &["3".into()]).unwrap();
        assert_eq!(ids, vec![TokenId::int(1), TokenId::int(2), TokenId::int(3)]);
        let e = parse_ids::<ServiceTokens>(&[], &["foo".into()]).unwrap_err();
        assert!(
            e.message
                .starts_with("invalid argument \"foo\" for \"-i, --id\"")
        );
        assert!(parse_ids::<ServiceTokens>(&[], &[]).is_err());
        assert!(
            parse_ids::<posit_connect::ServiceTokens>(&["107484341630693".into()], &[]).is_err()
        );
    }
}
