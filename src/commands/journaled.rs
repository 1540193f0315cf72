//! A rotation under the journal (CONTRACT §12): the credential locked, every step written down
//! before it is taken ([`Log`]), an interrupted rotation taken up ([`open`]) and retirements
//! done once they come due ([`retire_due`]). Written once against [`TokenKind`]; `rotate` and
//! `renew` both use it.

use std::time::Duration;

use chrono::Utc;

use crate::error::{Error, Result};
use crate::http::client::Client;
use crate::journal::{self, CredentialLock, Entry, Journal, Retirement, Step};
use crate::platform::{OldTokenFate, Status, Token, TokenId, TokenKind};

/// How a token is retired, as the journal spells it.
pub fn how(fate: OldTokenFate) -> &'static str {
    match fate {
        OldTokenFate::Delete => "delete",
        OldTokenFate::Revoke => "revoke",
        OldTokenFate::Keep => "keep",
    }
}

/// How a superseded token (never delivered) is retired: as the platform retires a delivered
/// one, and deleted where that is keeping it.
pub fn superseded_how<K: TokenKind>() -> &'static str {
    match K::DELIVERED_FATE {
        OldTokenFate::Revoke => "revoke",
        _ => "delete",
    }
}

/// The journal's record of one credential's rotation; without a journal every call does
/// nothing.
pub struct Log {
    journal: Option<Journal>,
    key: String,
    _lock: Option<CredentialLock>,
    /// Whether the lock had to wait for another run (its list may be stale then).
    pub waited: bool,
}

impl Log {
    /// No journal: nothing is written.
    pub fn none() -> Log {
        Log {
            journal: None,
            key: String::new(),
            _lock: None,
            waited: false,
        }
    }

    /// The credential `key` of `journal`, locked (waiting at most `timeout`).
    pub fn lock(journal: &Journal, key: &str, timeout: Duration) -> Result<Log> {
        let lock = journal.lock_credential(key, timeout)?;
        Ok(Log {
            journal: Some(journal.clone()),
            key: key.to_string(),
            waited: lock.waited,
            _lock: Some(lock),
        })
    }

    pub fn entry(&self) -> Result<Entry> {
        match &self.journal {
            Some(j) => j.get(&self.key),
            None => Ok(Entry::default()),
        }
    }

    pub fn update(&self, f: impl FnOnce(&mut Entry)) -> Result<()> {
        match &self.journal {
            Some(j) => j.update(&self.key, f),
            None => Ok(()),
        }
    }

    /// Before a create is sent: the old id, the exact name and the ids of that name there were.
    pub fn before_create(
        &self,
        old_id: Option<&str>,
        name: &str,
        existing: Vec<String>,
        fate: OldTokenFate,
        overlap_ms: Option<i64>,
    ) -> Result<()> {
        self.update(|e| {
            let step = e.rotation.get_or_insert_with(|| Step {
                old_id: old_id.map(str::to_string),
                started: crate::dates::rfc3339_millis(Utc::now().timestamp_millis())
                    .unwrap_or_default(),
                retire: how(fate).to_string(),
                overlap_ms,
                ..Step::default()
            });
            step.names_sent.push(name.to_string());
            for id in existing {
                if !step.existing_ids.contains(&id) {
                    step.existing_ids.push(id);
                }
            }
        })
    }

    pub fn created(&self, new_id: &str) -> Result<()> {
        self.update(|e| {
            if let Some(s) = &mut e.rotation {
                s.new_id = Some(new_id.to_string());
            }
        })
    }

    pub fn delivered(&self) -> Result<()> {
        self.update(|e| {
            if let Some(s) = &mut e.rotation {
                s.delivered = true;
            }
        })
    }

    pub fn verified(&self) -> Result<()> {
        self.update(|e| {
            if let Some(s) = &mut e.rotation {
                s.verified = true;
            }
        })
    }

    /// A rotation whose new token was delivered and verified: it is current, and the old one
    /// and the superseded ones go to the retirements (`retire` says whether they are retired
    /// at all, `due` when the old one is).
    pub fn settle(
        &self,
        new_id: &str,
        delivered: bool,
        old: Option<Retirement>,
        superseded_how: &str,
    ) -> Result<()> {
        self.update(|e| settle_entry(e, new_id, delivered, old, superseded_how))
    }

    /// A token retired (or gone already): dropped from the journal.
    pub fn retired(&self, id: &str) -> Result<()> {
        self.update(|e| {
            e.retire.retain(|r| r.id != id);
            e.superseded.retain(|s| s != id);
        })
    }
}

fn settle_entry(
    e: &mut Entry,
    new_id: &str,
    delivered: bool,
    old: Option<Retirement>,
    superseded_how: &str,
) {
    e.rotation = None;
    e.ambiguous.clear();
    e.current = Some(new_id.to_string());
    e.delivered = delivered;
    if let Some(old) = old
        && !e.retire.iter().any(|r| r.id == old.id)
    {
        e.retire.push(old);
    }
    for id in std::mem::take(&mut e.superseded) {
        if id != new_id && !e.retire.iter().any(|r| r.id == id) {
            e.retire.push(Retirement {
                id,
                how: superseded_how.to_string(),
                ..Retirement::default()
            });
        }
    }
}

/// What [`open`] found.
#[derive(Debug, Default)]
pub struct TakenUp {
    /// An interrupted rotation that had been delivered and verified was finished: (old, new).
    pub finished: Option<(Option<String>, String)>,
    /// The ids retired now.
    pub retired: Vec<String>,
    pub warnings: Vec<String>,
}

/// Takes up what the journal holds for the locked credential, given the kind's list: an
/// interrupted rotation is resolved (its new id found by name; delivered and verified: it is
/// settled; else it is superseded), and retirements that have come due are done. Several ids
/// that could each be the new one: exit 3, naming them, until the user decides.
pub async fn open<K: TokenKind>(
    client: &Client,
    log: &Log,
    list: &[Token],
    fate_default_delivered: OldTokenFate,
) -> Result<TakenUp> {
    let mut out = TakenUp::default();
    let entry = log.entry()?;
    if let Some(step) = &entry.rotation {
        let new_id = match &step.new_id {
            Some(id) => Some(id.clone()),
            None => {
                let candidates: Vec<String> = list
                    .iter()
                    .filter(|t| {
                        let id = t.id.text.as_str();
                        step.names_sent.iter().any(|n| *n == t.name)
                            && !step.existing_ids.iter().any(|i| i == id)
                            && (!entry.knows(id) || entry.ambiguous.iter().any(|i| i == id))
                    })
                    .map(|t| t.id.text.to_string())
                    .collect();
                match candidates.len() {
                    0 => None,
                    1 => candidates.into_iter().next(),
                    _ => {
                        let ids = candidates.clone();
                        log.update(|e| e.ambiguous = ids)?;
                        return Err(ambiguous(&candidates));
                    }
                }
            }
        };
        match new_id {
            None => log.update(|e| e.rotation = None)?,
            Some(new_id) if step.verified => {
                let fate = match step.retire.as_str() {
                    "delete" => OldTokenFate::Delete,
                    "revoke" => OldTokenFate::Revoke,
                    "keep" => OldTokenFate::Keep,
                    _ => fate_default_delivered,
                };
                let old = step
                    .old_id
                    .clone()
                    .filter(|_| fate != OldTokenFate::Keep)
                    .map(|id| Retirement {
                        id,
                        how: how(fate).to_string(),
                        after: Some(new_id.clone()),
                        overlap_ms: step.overlap_ms,
                        due: None,
                    });
                log.settle(&new_id, step.delivered, old, superseded_how::<K>())?;
                out.finished = Some((step.old_id.clone(), new_id));
            }
            Some(new_id) => {
                // Its secret is gone: a newer one is made, and this one retired with the old.
                log.update(|e| {
                    e.rotation = None;
                    e.ambiguous.clear();
                    if !e.superseded.contains(&new_id) {
                        e.superseded.push(new_id.clone());
                    }
                })?;
                out.warnings.push(format!(
                    "an interrupted rotation left {} {new_id}, whose secret was never delivered \
                     and verified: it is retired once a newer one is",
                    K::NOUNS.one
                ));
            }
        }
    } else if !entry.ambiguous.is_empty() {
        return Err(ambiguous(&entry.ambiguous));
    }
    out.retired = retire_due::<K>(client, log, list).await?;
    Ok(out)
}

fn ambiguous(ids: &[String]) -> Error {
    Error::usage(format!(
        "cannot tell which of the ids {} is the new token of an interrupted rotation, so none \
         of them is retired: delete the strays, or set them aside with `sts renew --forget ID`",
        ids.join(", ")
    ))
}

/// The retirements of the locked credential that have come due (the overlap counted from the
/// new token's creation time as the list shows it): deleted or revoked, each dropped from the
/// journal once done. A token the list no longer has is retired already. Returns the ids
/// retired.
pub async fn retire_due<K: TokenKind>(
    client: &Client,
    log: &Log,
    list: &[Token],
) -> Result<Vec<String>> {
    let entry = log.entry()?;
    let now = Utc::now().timestamp_millis();
    let mut retired = Vec::new();
    for id in &entry.superseded {
        if !list.iter().any(|t| t.id.text == id) {
            log.retired(id)?;
        }
    }
    for r in &entry.retire {
        let Some(token) = list.iter().find(|t| t.id.text == r.id) else {
            log.retired(&r.id)?;
            continue;
        };
        if due_at::<K>(r, list).is_some_and(|at| at > now) {
            continue;
        }
        retire_one::<K>(client, &token.id, &r.how, token).await?;
        log.retired(&r.id)?;
        retired.push(r.id.clone());
    }
    Ok(retired)
}

/// When a retirement is due: the overlap from its new token's creation as listed, else the
/// time written down.
pub fn due_at<K: TokenKind>(r: &Retirement, list: &[Token]) -> Option<i64> {
    let listed = r.after.as_ref().and_then(|after| {
        let t = list.iter().find(|t| t.id.text == after)?;
        let created = K::created_times(&t.json).0.or(t.created)?;
        Some(created.saturating_add(r.overlap_ms.unwrap_or(0)))
    });
    listed.or_else(|| {
        r.due
            .as_deref()
            .and_then(crate::dates::parse_rfc3339_millis)
    })
}

/// Deletes or revokes one token; a 404 is one retired already, a revoked one is not revoked
/// again.
pub async fn retire_one<K: TokenKind>(
    client: &Client,
    id: &TokenId,
    how: &str,
    token: &Token,
) -> Result<()> {
    let outcome = match how {
        "revoke" if token.revoked || token.status(Utc::now()) == Status::Expired => Ok(()),
        "revoke" => K::revoke(client, id).await,
        "keep" => Ok(()),
        _ => K::delete(client, id).await,
    };
    match outcome {
        Err(e) if e.status == Some(404) => Ok(()),
        Err(e) => Err(e.reworded(format!(
            "the old {} {} could not be retired: {}",
            K::NOUNS.one,
            id.text,
            e.message
        ))),
        Ok(()) => Ok(()),
    }
}

/// The key of a credential: the client's server, the kind and the name its tokens go by.
pub fn key<K: TokenKind>(client: &Client, name: &str) -> String {
    journal::key(client.base(), K::NOUNS.json_one, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settling_makes_the_new_one_current_and_queues_the_old_and_superseded() {
        let mut e = Entry {
            current: Some("1".into()),
            superseded: vec!["2".into()],
            rotation: Some(Step::default()),
            ..Entry::default()
        };
        let old = Retirement {
            id: "1".into(),
            how: "delete".into(),
            ..Retirement::default()
        };
        settle_entry(&mut e, "3", true, Some(old), "delete");
        assert_eq!(e.current.as_deref(), Some("3"));
        assert!(e.rotation.is_none() && e.superseded.is_empty());
        let ids: Vec<&str> = e.retire.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["1", "2"]);
    }
}
