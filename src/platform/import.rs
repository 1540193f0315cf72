//! What every vendor-CLI import shares (`sts context import`, CONTRACT §4): the source a platform
//! declares ([`VendorImport`]), the entries a source file is read into ([`Parsed`]), and the
//! helpers their parsers use. Each platform's own parser is its `import.rs`; the command that
//! stores what they read is `commands/context_import.rs`.

use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::config::{self, Auth, Context, Storage};
use crate::error::{Error, Result};
use crate::platform::kind::PlatformKind;
use crate::secret::Secret;

/// An environment variable by name, empty as unset.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A vendor CLI whose saved credentials a platform can import.
pub struct VendorImport {
    /// As `sts context import` takes it.
    pub name: &'static str,
    /// The file, as messages name it.
    pub what: &'static str,
    /// One line of the help: whose file it is, where it is read by default, what it becomes.
    pub help: fn() -> String,
    /// The one context's name unless `--name`, for a source of one context; `None`: each entry
    /// names its own.
    pub one_context: Option<&'static str>,
    /// Where the CLI keeps its file on `os` (as `std::env::consts::OS` names it).
    pub default_path: fn(os: &str, env: Env) -> Result<PathBuf>,
    /// The file's text read into entries: `name` is the one context's name when the source has
    /// one context.
    pub parse: fn(text: &str, path: &Path, name: &str, storage: Storage) -> Result<Parsed>,
}

/// A context ready to import, its secret beside it.
#[derive(Debug)]
pub struct Candidate {
    pub name: String,
    pub context: Context,
    pub secret: Secret,
}

/// A source file read into contexts of ours: each entry as a candidate, or its name and why it
/// cannot be imported, in the source's order; and the one that should become current.
#[derive(Debug, Default)]
pub struct Parsed {
    pub entries: Vec<std::result::Result<Candidate, (String, String)>>,
    pub current: Option<Current>,
}

/// Which imported context becomes current.
#[derive(Debug)]
pub enum Current {
    /// The source's current context: made current whatever was current before (the Go CLI's
    /// own notion of current, as the import always did).
    Always(String),
    /// The source's only or default entry: made current only when no context is current yet,
    /// so importing another platform's credentials never moves a user off their context.
    IfNone(String),
}

/// An environment variable, empty as unset.
/// An environment of exactly `vars`, for tests of the vendor-path lookups.
#[cfg(test)]
pub fn fixed_env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

pub fn var(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.is_empty())
}

/// The home folder (`HOME`), or an error that names `what` and `--from`.
pub fn home(env: &dyn Fn(&str) -> Option<String>, what: &str) -> Result<PathBuf> {
    var(env, crate::env_vars::HOME)
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::config(format!(
                "cannot find the {what} (HOME is not set); name it with --from PATH"
            ))
        })
}

/// How deeply a YAML file to import may nest (the CLIs' own files nest four or five levels).
pub const MAX_YAML_DEPTH: usize = 64;

/// YAML, or an error naming the file and the place; only the place, since the parser's words
/// could quote a token. A byte-order mark at the start is allowed (editors on Windows write
/// one). The nesting depth is bounded before the parser sees the text: a crafted file of nested
/// `[[[…` costs the parser time quadratic in its depth.
pub fn parse_yaml(text: &str, path: &Path, what: &str) -> Result<Value> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if yaml_depth(text) > MAX_YAML_DEPTH {
        return Err(Error::config(format!(
            "the {what} {} is not valid YAML: it nests deeper than {MAX_YAML_DEPTH} levels",
            path.display()
        )));
    }
    serde_norway::from_str(text).map_err(|e| {
        let place = e
            .location()
            .map(|l| format!(" at line {} column {}", l.line(), l.column()))
            .unwrap_or_default();
        Error::config(format!(
            "the {what} {} is not valid YAML{place}",
            path.display()
        ))
    })
}

/// A non-empty string field, trimmed.
pub fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A context of ours for another platform's server: the server's URL, an API token, no
/// `api-path` of its own (StackState's only). `None` CA data with `skip_ssl`.
pub fn vendor_candidate(
    name: &str,
    url: String,
    platform: PlatformKind,
    token: &str,
    skip_ssl: bool,
    ca_cert_base64_data: Option<String>,
    storage: Storage,
) -> Candidate {
    Candidate {
        name: name.to_string(),
        context: Context {
            url,
            platform,
            api_path: config::DEFAULT_API_PATH.to_string(),
            auth: Auth::ApiToken,
            storage,
            skip_ssl,
            ca_cert_base64_data: if skip_ssl { None } else { ca_cert_base64_data },
            credential_id: config::new_credential_id(),
            extra: Default::default(),
        },
        secret: Secret::new(token),
    }
}

/// An upper estimate of how deeply YAML text nests, in one pass: the open flow brackets (`[`,
/// `{`) outside quoted scalars and comments, plus the block sequence entries (`- - x`) and the
/// indentation of the line where one opens. Quoted scalars count only where a token may start.
pub fn yaml_depth(text: &str) -> usize {
    let mut deepest = 0usize;
    let mut flow = 0usize;
    let mut quote: Option<char> = None;
    for line in text.split('\n') {
        let mut chars = line.chars().peekable();
        let mut block = 0usize;
        let mut token_start = true;
        let mut leading = quote.is_none() && flow == 0;
        let mut indent = 0usize;
        while let Some(c) = chars.next() {
            if let Some(q) = quote {
                if c == '\\' && q == '"' {
                    chars.next();
                } else if c == q {
                    quote = None;
                    token_start = false;
                }
                continue;
            }
            if leading {
                if c == ' ' {
                    indent += 1;
                    continue;
                }
                if c == '-' && matches!(chars.peek(), Some(' ') | None) {
                    block += 1;
                    chars.next();
                    continue;
                }
                leading = false;
            }
            match c {
                '#' if token_start => break,
                '"' | '\'' if token_start => quote = Some(c),
                '[' | '{' => {
                    flow += 1;
                    token_start = true;
                    deepest = deepest.max(flow + block + indent / 2);
                    continue;
                }
                ']' | '}' => flow = flow.saturating_sub(1),
                _ => {}
            }
            token_start = matches!(c, ' ' | '\t' | ',' | ':' | '[' | '{' | '?' | '-');
        }
        deepest = deepest.max(flow + block + indent / 2);
    }
    deepest
}

#[cfg(test)]
mod yaml_tests {
    use super::*;

    #[test]
    fn depth_is_estimated_from_brackets_sequences_and_indentation() {
        assert_eq!(yaml_depth("a: 1\nb: [1, 2]\n"), 1);
        assert_eq!(yaml_depth("a:\n  b:\n    c: 1\n"), 2);
        assert_eq!(yaml_depth("x: '[[[[' # [[[[\ny: \"[[\\\"[[\"\n"), 0);
        assert_eq!(yaml_depth("don't: [[1]]\n"), 2);
        assert!(yaml_depth(&"[".repeat(1 << 20)) > MAX_YAML_DEPTH);
        assert!(yaml_depth(&"- ".repeat(100)) > MAX_YAML_DEPTH);
    }

    #[test]
    fn deep_yaml_is_refused_before_parsing_and_a_bom_is_allowed() {
        let path = Path::new("f.yaml");
        let e = parse_yaml(&"[".repeat(1 << 20), path, "file").unwrap_err();
        assert!(
            e.message.contains("nests deeper than 64 levels"),
            "{}",
            e.message
        );
        let v = parse_yaml("\u{feff}a: 1\n", path, "file").unwrap();
        assert_eq!(v["a"], 1);
    }
}
