//! Printing of `sts renew` (CONTRACT §12): `CONTEXT | KIND | NAME | ACTION | RESULT`, or
//! `{"credentials": […]}`, or one such object a line. Never a secret: a renewal's rows hold
//! ids, times and errors only.

use std::io;

use chrono::Utc;
use serde_json::{Value, json};

use super::ColumnKind::{Id, Text};
use super::{Printer, clean, pretty, write_stdout};
use crate::error::Error;

/// One credential of a renewal run.
#[derive(Debug)]
pub struct RenewRow {
    pub context: String,
    pub kind: &'static str,
    pub name: String,
    /// `ok`, `created`, `renewed`, `retired`, `would-create`, `would-renew`, `would-retire`.
    pub action: &'static str,
    pub id: Option<Value>,
    pub old_id: Option<Value>,
    /// Epoch milliseconds.
    pub expires: Option<i64>,
    pub error: Option<Error>,
}

/// An id as a string on every platform, as in `-o jsonl` rows (CONTRACT §14), so a script can
/// hand it to any command.
fn id_text(id: &Value) -> Value {
    match id {
        Value::String(_) | Value::Null => id.clone(),
        other => Value::String(other.to_string()),
    }
}

impl RenewRow {
    fn json(&self) -> Value {
        let mut v = json!({
            "context": self.context,
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "id": self.id.as_ref().map(id_text).unwrap_or(Value::Null),
        });
        if let Some(old) = &self.old_id {
            v["old-id"] = id_text(old);
        }
        if let Some(at) = self.expires.and_then(crate::dates::rfc3339_millis) {
            v["expires"] = json!(at);
        }
        if let Some(e) = &self.error {
            v["error"] = json!(e.message);
        }
        v
    }

    fn result(&self) -> String {
        if let Some(e) = &self.error {
            return clean(&e.message);
        }
        match self.expires {
            None => "ok".into(),
            Some(ms) => {
                let left = ms - Utc::now().timestamp_millis();
                if left <= 0 {
                    "ok (expired)".into()
                } else if left < 86_400_000 {
                    format!("ok (expires in {}h)", left / 3_600_000)
                } else {
                    format!("ok (expires in {}d)", left / 86_400_000)
                }
            }
        }
    }
}

/// One line of what the journal holds (`renew --status`).
#[derive(Debug)]
pub struct JournalRow {
    pub credential: String,
    pub current: Option<String>,
    pub pending: Vec<String>,
}

impl Printer {
    /// The rows of a renewal run.
    pub fn renewals(&self, rows: &[RenewRow]) -> io::Result<()> {
        if self.is_jsonl() {
            let text: String = rows
                .iter()
                .map(|r| {
                    let mut s = serde_json::to_string(&r.json()).unwrap_or_default();
                    s.push('\n');
                    s
                })
                .collect();
            return write_stdout(&text);
        }
        if self.is_json() {
            let all: Vec<Value> = rows.iter().map(RenewRow::json).collect();
            return write_stdout(&pretty(&json!({ "credentials": all })));
        }
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    clean(&r.context),
                    r.kind.to_string(),
                    clean(&r.name),
                    r.action.to_string(),
                    r.result(),
                ]
            })
            .collect();
        self.table(
            &["CONTEXT", "KIND", "NAME", "ACTION", "RESULT"],
            &table,
            &[Id, Id, Id, Id, Text],
            "No credentials to renew.",
        )
    }

    /// What the journal holds.
    pub fn journal_status(&self, rows: &[JournalRow]) -> io::Result<()> {
        if self.is_json() || self.is_jsonl() {
            let all: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({"credential": r.credential, "current": r.current, "pending": r.pending})
                })
                .collect();
            if self.is_jsonl() {
                let text: String = all.iter().map(|v| format!("{v}\n")).collect();
                return write_stdout(&text);
            }
            return write_stdout(&pretty(&json!({ "journal": all })));
        }
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    clean(&r.credential),
                    r.current.as_deref().map_or_else(|| "-".into(), clean),
                    if r.pending.is_empty() {
                        "nothing".into()
                    } else {
                        clean(&r.pending.join("; "))
                    },
                ]
            })
            .collect();
        self.table(
            &["CREDENTIAL", "CURRENT", "PENDING"],
            &table,
            &[Id, Id, Text],
            "The journal is empty.",
        )
    }
}
