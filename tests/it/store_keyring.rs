//! `KeyringStore` against a real Secret Service (gnome-keyring on a private session bus), with
//! no session bus at all, and with a frozen daemon.
//!
//! The keyring crate finds the bus through the process environment, which a test must not
//! change under its siblings. So each test that talks to a keyring runs its body in a child:
//! the test binary itself, run with `--exact <test>` and `STS_STORE_CHILD` set, in the
//! environment the test picked. The parent checks that the child ran that one test and passed.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::secret_service::{SecretService, describe, empty_runtime_dir};
use sts_cli::credentials::{KeyringFailure, KeyringStore, SecretStore};
use sts_cli::error::Kind;
use sts_cli::secret::Secret;

/// Set in a child: run the test's child part.
const CHILD: &str = "STS_STORE_CHILD";
/// The credential id a child works on.
const CHILD_ID: &str = "STS_STORE_CHILD_ID";
/// Which step a child performs.
const CHILD_STEP: &str = "STS_STORE_CHILD_STEP";

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

fn child_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set in the child"))
}

/// Runs `test` alone in a child test process with `env` added and `remove` taken out, and
/// asserts that it ran and passed.
fn run_child(test: &str, env: &[(String, String)], remove: &[&str]) -> Output {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([
            "--exact",
            &child_test_name(test),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env_remove("DISPLAY");
    for name in remove {
        command.env_remove(name);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("child test process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child {test} failed: {}",
        describe(&output)
    );
    // Shown with --nocapture: what the child said, e.g. the messages it checked.
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn with(env: &[(String, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = env.to_vec();
    all.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

#[test]
fn harness_stores_and_finds_a_secret_with_secret_tool() {
    let ss = SecretService::start();
    assert!(ss.address().starts_with("unix:path="), "{}", ss.address());
    assert!(
        !ss.secret_tool_search("sts-harness")
            .contains("attribute.username")
    );
    ss.secret_tool_store("sts-harness", "user1", "harness-value");
    let found = ss.secret_tool_search("sts-harness");
    assert!(found.contains("secret = harness-value"), "{found}");
    assert!(found.contains("attribute.username = user1"), "{found}");
    // Each harness has its own keyring: a second one does not see the first one's entry.
    let other = SecretService::start();
    assert!(
        !other.secret_tool_search("sts-harness").contains("user1"),
        "keyrings are shared"
    );
}

#[test]
fn keyring_store_sets_gets_and_deletes_in_a_real_secret_service() {
    const TEST: &str = "keyring_store_sets_gets_and_deletes_in_a_real_secret_service";
    if in_child() {
        let store = KeyringStore::new(Duration::from_secs(10));
        let id = child_var(CHILD_ID);
        match child_var(CHILD_STEP).as_str() {
            "set" => {
                assert_eq!(store.get(&id).unwrap(), None);
                store.set(&id, &Secret::new("first-value")).unwrap();
                store.set(&id, &Secret::new("svctok-from-sts")).unwrap();
                assert_eq!(
                    store.get(&id).unwrap(),
                    Some(Secret::new("svctok-from-sts"))
                );
            }
            "get-delete" => {
                assert_eq!(
                    store.get(&id).unwrap(),
                    Some(Secret::new("svctok-from-sts"))
                );
                assert_eq!(
                    store.get("stored-by-secret-tool").unwrap(),
                    Some(Secret::new("from-secret-tool"))
                );
                store.delete(&id).unwrap();
                assert_eq!(store.get(&id).unwrap(), None);
                // Deleting what is not there is fine.
                store.delete(&id).unwrap();
            }
            step => panic!("unknown step {step}"),
        }
        return;
    }
    let ss = SecretService::start();
    let id = sts_cli::config::new_credential_id();
    run_child(
        TEST,
        &with(&ss.env(), &[(CHILD_ID, &id), (CHILD_STEP, "set")]),
        &[],
    );
    // Stored as the contract says: service `sts`, user `<credential-id>`, once.
    let found = ss.secret_tool_search("sts");
    assert!(
        found.contains(&format!("attribute.username = {id}")),
        "{found}"
    );
    assert!(found.contains("secret = svctok-from-sts"), "{found}");
    assert_eq!(found.matches("secret = ").count(), 1, "{found}");
    // A later process reads it back, also an entry some other tool stored, and deletes.
    ss.secret_tool_store("sts", "stored-by-secret-tool", "from-secret-tool");
    run_child(
        TEST,
        &with(&ss.env(), &[(CHILD_ID, &id), (CHILD_STEP, "get-delete")]),
        &[],
    );
    let found = ss.secret_tool_search("sts");
    assert!(!found.contains(&id), "{found}");
    assert!(found.contains("stored-by-secret-tool"), "{found}");
}

#[test]
fn with_no_session_bus_set_fails_at_once_saying_no_keyring() {
    const TEST: &str = "with_no_session_bus_set_fails_at_once_saying_no_keyring";
    if in_child() {
        // A timeout no test could wait for: an answer at all says it failed at once.
        let store = KeyringStore::new(Duration::from_secs(3600));
        let err = store
            .set("some-id", &Secret::new("svctok-NOT-SHOWN"))
            .unwrap_err();
        assert_eq!(err.kind, Kind::Write, "{}", err.message);
        assert_eq!(err.exit_code(), 6);
        assert!(
            err.message.starts_with("no keyring is available ("),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("--insecure-storage"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("STS_CLI_SERVICE_TOKEN"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("NOT-SHOWN"), "{}", err.message);
        assert!(!err.message.contains('\n'), "{}", err.message);
        let failure = store.try_set("some-id", &Secret::new("x")).unwrap_err();
        assert_eq!(
            failure.failure,
            KeyringFailure::Unavailable,
            "{}",
            failure.cause
        );
        let read = store.get("some-id").unwrap_err();
        assert_eq!(read.kind, Kind::Config, "{}", read.message);
        assert!(
            read.message.contains("STS_CLI_API_TOKEN"),
            "{}",
            read.message
        );
        eprintln!("no bus: {}", err.message);
        return;
    }
    let (_dir, runtime) = empty_runtime_dir();
    run_child(
        TEST,
        &[("XDG_RUNTIME_DIR".into(), runtime.display().to_string())],
        &["DBUS_SESSION_BUS_ADDRESS"],
    );
}

#[test]
fn with_no_secret_service_on_the_bus_set_fails_saying_no_keyring() {
    const TEST: &str = "with_no_secret_service_on_the_bus_set_fails_saying_no_keyring";
    if in_child() {
        // A timeout no test could wait for: an answer at all says it failed at once.
        let store = KeyringStore::new(Duration::from_secs(3600));
        let err = store.try_set("some-id", &Secret::new("x")).unwrap_err();
        assert_eq!(err.failure, KeyringFailure::Unavailable, "{}", err.cause);
        let err = err.into_write_error();
        assert_eq!(err.kind, Kind::Write);
        assert!(
            err.message.starts_with("no keyring is available ("),
            "{}",
            err.message
        );
        eprintln!("no secret service: {}", err.message);
        return;
    }
    let bus = SecretService::bus_only();
    run_child(TEST, &bus.env(), &[]);
}

#[test]
fn with_no_unlocked_collection_set_fails_saying_no_keyring() {
    const TEST: &str = "with_no_unlocked_collection_set_fails_saying_no_keyring";
    if in_child() {
        let store = KeyringStore::new(Duration::from_secs(5));
        let err = store.try_set("some-id", &Secret::new("x")).unwrap_err();
        assert_eq!(err.failure, KeyringFailure::Unavailable, "{}", err.cause);
        let err = store.set("some-id", &Secret::new("x")).unwrap_err();
        assert_eq!(err.kind, Kind::Write);
        assert!(
            err.message.starts_with("no keyring is available ("),
            "{}",
            err.message
        );
        eprintln!("locked: {}", err.message);
        return;
    }
    let ss = SecretService::start_locked();
    run_child(TEST, &ss.env(), &[]);
}

#[test]
fn with_a_frozen_daemon_get_times_out() {
    const TEST: &str = "with_a_frozen_daemon_get_times_out";
    if in_child() {
        let store = KeyringStore::new(Duration::from_secs(1));
        let started = Instant::now();
        let err = store.try_get("some-id").unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(err.failure, KeyringFailure::Timeout, "{}", err.cause);
        assert!(
            elapsed >= Duration::from_secs(1),
            "gave up after {elapsed:?}"
        );
        // The stuck call holds the keyring; the next one times out as well, as an exit-1 error
        // that names the way around it.
        let err = store.get("some-id").unwrap_err();
        assert_eq!(err.kind, Kind::Config, "{}", err.message);
        assert!(err.message.contains("did not answer"), "{}", err.message);
        assert!(
            err.message.contains("STS_CLI_SERVICE_TOKEN"),
            "{}",
            err.message
        );
        eprintln!("frozen: {}", err.message);
        return;
    }
    let ss = SecretService::start();
    {
        let _frozen = ss.freeze_daemon();
        // The child exits although its keyring thread is still stuck (it would hang otherwise).
        run_child(TEST, &ss.env(), &[]);
    }
    // Thawed, the daemon answers again.
    ss.secret_tool_store("sts", "after-thaw", "v");
    assert!(ss.secret_tool_search("sts").contains("after-thaw"));
}

/// The name the test harness knows `test` by: this module's path in the one test binary.
fn child_test_name(test: &str) -> String {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, rest)| rest);
    format!("{module}::{test}")
}

#[test]
fn get_many_reads_several_secrets_on_one_thread_with_one_deadline() {
    const TEST: &str = "get_many_reads_several_secrets_on_one_thread_with_one_deadline";
    if in_child() {
        let store = KeyringStore::new(Duration::from_secs(10));
        let ids: Vec<String> = ["many-a", "many-missing", "many-b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        match child_var(CHILD_STEP).as_str() {
            "read" => {
                let got: Vec<Option<Secret>> = store
                    .try_get_many(&ids)
                    .into_iter()
                    .map(|r| r.unwrap())
                    .collect();
                assert_eq!(
                    got,
                    [
                        Some(Secret::new("value-a")),
                        None,
                        Some(Secret::new("value-b"))
                    ]
                );
                assert!(store.try_get_many(&[]).is_empty());
            }
            "frozen" => {
                let store = KeyringStore::new(Duration::from_secs(1));
                let got = store.try_get_many(&ids);
                assert_eq!(got.len(), 3);
                for r in got {
                    assert_eq!(r.unwrap_err().failure, KeyringFailure::Timeout);
                }
            }
            step => panic!("unknown step {step}"),
        }
        return;
    }
    let ss = SecretService::start();
    ss.secret_tool_store("sts", "many-a", "value-a");
    ss.secret_tool_store("sts", "many-b", "value-b");
    run_child(TEST, &with(&ss.env(), &[(CHILD_STEP, "read")]), &[]);
    let _frozen = ss.freeze_daemon();
    run_child(TEST, &with(&ss.env(), &[(CHILD_STEP, "frozen")]), &[]);
}

#[test]
fn get_many_reads_what_get_reads_for_every_id() {
    // `try_get_many` reads its secrets through a session of its own and one `GetSecrets` call;
    // `try_get` through the keyring crate, one item at a time: they must agree on every id.
    const TEST: &str = "get_many_reads_what_get_reads_for_every_id";
    let values = [
        "x".to_string(),
        "sixteen bytes!!!".to_string(),
        "fifteen bytes!!".to_string(),
        "ünïcödé, ⚙ and 🦀".to_string(),
        "a".repeat(3000),
        " leading and trailing spaces ".to_string(),
    ];
    // More ids than searches in flight (32), and more items than one `GetSecrets` call reads (16).
    let ids: Vec<String> = (0..values.len() * 7)
        .map(|i| format!("same-{i}"))
        .chain(["same-missing".to_string()])
        .collect();
    if in_child() {
        let store = KeyringStore::new(Duration::from_secs(10));
        let many: Vec<Option<Secret>> = store
            .try_get_many(&ids)
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let one: Vec<Option<Secret>> = ids.iter().map(|id| store.try_get(id).unwrap()).collect();
        assert_eq!(many, one);
        assert_eq!(many.last(), Some(&None));
        for (i, got) in many.iter().take(ids.len() - 1).enumerate() {
            assert_eq!(
                got.as_ref().map(Secret::expose),
                Some(&*values[i % values.len()])
            );
        }
        return;
    }
    let ss = SecretService::start();
    for (i, id) in ids.iter().take(ids.len() - 1).enumerate() {
        ss.secret_tool_store("sts", id, &values[i % values.len()]);
    }
    run_child(TEST, &ss.env(), &[]);
}
