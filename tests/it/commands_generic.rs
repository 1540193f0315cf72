//! The generic commands (create, list with filters, delete, rotation, the all-contexts run)
//! against a platform made here, in memory, with no server: that it can be written without
//! touching a file of `src/` shows the interface is complete.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Parser;
use sts_cli::cli::{Cli, OutputFormat};
use sts_cli::commands::Failure;
use sts_cli::commands::all_contexts::engine::{self, Pending};
use sts_cli::commands::list_filter::ListFilter;
use sts_cli::commands::rotate::{self, RotateRequest};
use sts_cli::commands::tokens::{self, Job};
use sts_cli::config::{Auth, Context, Storage};
use sts_cli::error::{Error, Result};
use sts_cli::http::client::Client;
use sts_cli::outcome::Target;
use sts_cli::output::Printer;
use sts_cli::platform::{
    Column, CreateInput, Created, LastUsed, Nouns, OldTokenFate, PlatformKind, Source, Token,
    TokenId, TokenKind, fixed,
};
use sts_cli::secret::Secret;
use sts_cli::settings::{Credential, OutputSettings, Sources};

/// The tokens of the in-test platform, and how many requests it has served.
struct Memory {
    tokens: Vec<(i64, String, Option<i64>)>,
    next_id: i64,
    fail_create: bool,
    calls: usize,
}

static MEMORY: Mutex<Memory> = Mutex::new(Memory {
    tokens: Vec::new(),
    next_id: 1,
    fail_create: false,
    calls: 0,
});

/// Every test here uses the one memory: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn memory() -> std::sync::MutexGuard<'static, Memory> {
    MEMORY.lock().unwrap_or_else(|e| e.into_inner())
}

fn reset(tokens: &[(&str, Option<i64>)]) {
    let mut m = memory();
    m.tokens = tokens
        .iter()
        .enumerate()
        .map(|(i, (n, e))| (i as i64 + 1, n.to_string(), *e))
        .collect();
    m.next_id = tokens.len() as i64 + 1;
    m.fail_create = false;
    m.calls = 0;
}

/// A token kind that keeps its tokens in [`MEMORY`].
struct MemoryTokens;

impl TokenKind for MemoryTokens {
    const PLATFORM: PlatformKind = PlatformKind::Stackstate;
    const NOUNS: Nouns = sts_cli::platform::SERVICE_TOKENS;
    const COLUMNS: &'static [Column] = &[fixed("ID", Source::Id), fixed("NAME", Source::Name)];
    const DEFAULT_FATE: OldTokenFate = OldTokenFate::Delete;
    type Request = (String, Option<i64>);

    fn parse_id(text: &str, flag: &str) -> Result<TokenId> {
        text.parse()
            .map(TokenId::int)
            .map_err(|_| Error::usage(format!("{flag}: not a number")))
    }

    fn create_request(input: &CreateInput, now: DateTime<Utc>) -> Result<Self::Request> {
        if input.name.trim().is_empty() {
            return Err(Error::usage("--name must not be empty"));
        }
        let expires = input
            .expiration
            .as_deref()
            .map(|_| now.timestamp_millis() + 86_400_000);
        Ok((input.name.clone(), expires))
    }

    async fn create(_client: &Client, request: &Self::Request) -> Result<Created> {
        let mut m = memory();
        m.calls += 1;
        if m.fail_create {
            return Err(Error::usage("create refused"));
        }
        let id = m.next_id;
        m.next_id += 1;
        m.tokens.push((id, request.0.clone(), request.1));
        Ok(Created {
            secret: format!("memtok-{id}-secret"),
            id: Some(TokenId::int(id)),
            json: serde_json::json!({ "id": id, "name": request.0 }),
        })
    }

    async fn list(_client: &Client) -> Result<Vec<Token>> {
        let mut m = memory();
        m.calls += 1;
        let mut rows: Vec<Token> = m
            .tokens
            .iter()
            .map(|(id, name, expires)| Token {
                id: TokenId::int(*id),
                name: name.as_str().into(),
                expires: *expires,
                last_used: LastUsed::Unknown,
                created: None,
                revoked: false,
                cells: Default::default(),
                json: serde_json::json!({ "id": id, "name": name }).into(),
            })
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(rows)
    }

    async fn delete(_client: &Client, id: &TokenId) -> Result<()> {
        let mut m = memory();
        m.calls += 1;
        let before = m.tokens.len();
        m.tokens.retain(|(i, _, _)| i.to_string() != id.text);
        if m.tokens.len() == before {
            return Err(Error::usage("404 Not Found").with_status(404));
        }
        Ok(())
    }

    fn rotation_request(
        old: &Token,
        _expiration: Option<&str>,
        name: Option<&str>,
        _now: DateTime<Utc>,
    ) -> Result<Self::Request> {
        Ok((name.unwrap_or(&old.name).to_string(), old.expires))
    }
}

fn out() -> OutputSettings {
    OutputSettings {
        format: OutputFormat::Json,
        verbosity: 0,
        no_color: true,
    }
}

/// Calls `f` with `sts service-token list`'s command line and sources whose environment gives a
/// URL and a token (no request leaves: the kind answers from memory) and an empty config folder.
fn with_sources<T>(f: impl FnOnce(&Cli, &mut Sources) -> T) -> T {
    let cli = Cli::try_parse_from(["sts", "service-token", "list"]).unwrap();
    let env = |name: &str| match name {
        "STS_CLI_URL" => Some("http://127.0.0.1:9".to_string()),
        "STS_CLI_API_TOKEN" => Some("in-test-admin-token".to_string()),
        _ => None,
    };
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    let mut no_stdin = || Ok(String::new());
    let mut src = Sources {
        env: &env,
        read_stdin_line: &mut no_stdin,
        default_k8s_token_path: Path::new("/nonexistent/k8s-token"),
        default_config_path: Some(&config_path),
        config_cache: Default::default(),
    };
    f(&cli, &mut src)
}

/// Runs a token command of the in-test kind as `sts` would.
fn run(job: Job<MemoryTokens>) -> std::result::Result<(), Failure> {
    let printer = Printer::new(&out());
    with_sources(|cli, src| tokens::run::<MemoryTokens>(cli, job, out(), &printer, src))
}

fn names() -> Vec<String> {
    let mut n: Vec<String> = memory().tokens.iter().map(|t| t.1.clone()).collect();
    n.sort();
    n
}

fn exit_code(r: std::result::Result<(), Failure>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(Failure::Error(e)) => e.exit_code(),
        Err(Failure::Reported(code)) => code,
        Err(Failure::Io(e)) => panic!("{e}"),
    }
}

#[test]
fn create_list_with_filters_and_delete_run_against_the_interface() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    reset(&[("expired", Some(1_000)), ("lasting", None)]);
    let now = Utc::now();

    let req = MemoryTokens::create_request(
        &CreateInput {
            name: "ci".into(),
            expiration: Some("1d".into()),
            ..Default::default()
        },
        now,
    )
    .unwrap();
    assert_eq!(exit_code(run(Job::Create(req))), 0);
    assert_eq!(names(), ["ci", "expired", "lasting"]);

    // `--expired --fail-if-any`: the one expired token remains, so exit 7.
    let expired = ListFilter::new(None, true, None, &[], true).unwrap();
    let listed = run(Job::List {
        filter: expired,
        personal: false,
    });
    assert_eq!(exit_code(listed), 7);
    // `--expiring-within 2d --fail-if-any`: only the new one.
    let soon = ListFilter::new(Some("2d"), false, None, &[], true).unwrap();
    assert_eq!(
        exit_code(run(Job::List {
            filter: soon,
            personal: false
        })),
        7
    );

    // Delete two ids, one of them unknown: the known one goes, the unknown one fails the
    // command with its exit code (3 for a 404), each tried.
    let ids = rotate::parse_ids::<MemoryTokens>(&["1".into(), "99".into()], &[]).unwrap();
    let job = Job::Delete {
        targets: tokens::Targets::Ids(ids),
        revoke: false,
        ignore_not_found: false,
    };
    assert_eq!(exit_code(run(job)), 3);
    assert_eq!(names(), ["ci", "lasting"]);
    // No expired token is left: the same filter now passes.
    let expired = ListFilter::new(None, true, None, &[], true).unwrap();
    assert_eq!(
        exit_code(run(Job::List {
            filter: expired,
            personal: false
        })),
        0
    );
    // A bad id is refused before any request.
    let calls = memory().calls;
    assert!(rotate::parse_ids::<MemoryTokens>(&["x".into()], &[]).is_err());
    assert_eq!(memory().calls, calls);
}

fn client(printer: &Printer) -> Client {
    with_sources(|cli, src| {
        let settings = sts_cli::settings::resolve(&cli.global, out(), src).unwrap();
        settings.client(printer).unwrap()
    })
}

fn block_on<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_rotation_creates_first_and_retires_the_old_one_only_after() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let printer = Printer::new(&out());
    let client = client(&printer);
    let request = |fate| RotateRequest::new(TokenId::int(1), fate);

    // The create fails: the old one is untouched and the error says so.
    reset(&[("agent", None)]);
    memory().fail_create = true;
    let (report, failure) = block_on(rotate::rotate::<MemoryTokens>(
        &client,
        &printer,
        &request(OldTokenFate::Delete),
    ));
    let failure = failure.expect("the rotation fails");
    assert!(
        failure.message.contains("still works"),
        "{}",
        failure.message
    );
    assert!(report.created.is_none() && !report.fate_done);
    assert_eq!(names(), ["agent"]);

    // It works: a new one of the same name, then the old one deleted.
    reset(&[("agent", None)]);
    let (report, failure) = block_on(rotate::rotate::<MemoryTokens>(
        &client,
        &printer,
        &request(OldTokenFate::Delete),
    ));
    assert!(failure.is_none(), "{failure:?}");
    assert_eq!(report.new_id, Some(TokenId::int(2)));
    assert!(report.fate_done);
    let ids: Vec<i64> = memory().tokens.iter().map(|t| t.0).collect();
    assert_eq!(ids, [2]);

    // `--keep-old`: both stay.
    reset(&[("agent", None)]);
    let (report, failure) = block_on(rotate::rotate::<MemoryTokens>(
        &client,
        &printer,
        &request(OldTokenFate::Keep),
    ));
    assert!(failure.is_none() && report.created.is_some());
    assert_eq!(names(), ["agent", "agent"]);
}

#[test]
fn the_all_contexts_run_gives_each_context_its_own_result_in_order() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    reset(&[("a", None), ("b", None)]);
    let printer = Printer::new(&out());
    let context = |url: &str| Context {
        url: url.into(),
        platform: PlatformKind::Stackstate,
        api_path: "/api".into(),
        auth: Auth::ApiToken,
        storage: Storage::File,
        credential_id: "in-test".into(),
        skip_ssl: false,
        ca_cert_base64_data: None,
        extra: Default::default(),
    };
    let jobs = vec![
        (
            Target {
                name: "first".into(),
                context: context("http://127.0.0.1:9"),
            },
            Pending::Ready(Ok(Credential::ApiToken(Secret::new("in-test-admin-token")))),
        ),
        (
            Target {
                name: "second".into(),
                context: context("http://127.0.0.1:10"),
            },
            Pending::Ready(Err(Error::usage("no saved credential"))),
        ),
    ];
    let (_, reader) =
        engine::credentials(Path::new("/nonexistent/config.toml"), &[], &mut Vec::new());
    let done = std::cell::Cell::new(0);
    let on_done = || done.set(done.get() + 1);
    let results = block_on(engine::run_all(
        jobs,
        reader,
        Duration::from_secs(5),
        out(),
        &printer,
        &on_done,
        |client, _platform| async move { MemoryTokens::list(&client).await },
    ));
    assert_eq!(done.get(), 2);
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["first", "second"]);
    assert_eq!(results[0].result.as_ref().unwrap().len(), 2);
    assert!(results[1].result.is_err());
}
