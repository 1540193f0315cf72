//! No orphans and no leftovers after SIGKILL (CONTRACT §5): `context save` killed at random
//! moments, 30 times, against the real Secret Service (and again with `--insecure-storage`),
//! `context delete` 5 times and `context import --overwrite` 10 times, then one save that runs to
//! its end. After it there are as many secrets as contexts (each
//! context's own) and no temporary file in the config folder.
//!
//! The kill moments are random on purpose, spread over the whole length of a save as measured
//! first, so every step (note, store, config write, old secret's removal) gets hit over the runs.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestEnv;
use crate::common::secret_service::SecretService;

const KILLS: usize = 30;

/// `sts <args> --config <config>` as a plain process (so it can be killed by its pid), in the
/// test's isolated home, with `extra_env` (the Secret Service's bus).
fn sts(env: &TestEnv, config: &Path, extra_env: &[(String, String)], args: &[&str]) -> Command {
    let home = env.home();
    fs::create_dir_all(home.join("runtime")).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sts"));
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", home.join("runtime"))
        .env("RUST_BACKTRACE", "0")
        .envs(extra_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// `sts context save` of context `name` with a token of its own.
fn save(
    env: &TestEnv,
    config: &Path,
    extra_env: &[(String, String)],
    name: &str,
    i: usize,
    insecure: bool,
) -> Command {
    let token = format!("svctok-crash-{i}-0123456789");
    let mut args = vec!["context", "save", "--skip-validate", "--name", name];
    args.extend(["--url", "http://127.0.0.1:9", "--service-token", &token]);
    if insecure {
        args.push("--insecure-storage");
    }
    sts(env, config, extra_env, &args)
}

fn context_ids(config: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(config).unwrap();
    let v: toml::Table = toml::from_str(&text).unwrap();
    v["contexts"]
        .as_table()
        .unwrap()
        .values()
        .map(|c| c["credential-id"].as_str().unwrap().to_string())
        .collect()
}

fn assert_no_temporary_file(dir: &Path) {
    let names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    for name in &names {
        assert!(
            [
                "config.toml",
                "config.toml.lock",
                "credentials.toml",
                "credentials.toml.lock"
            ]
            .contains(&name.as_str()),
            "left in the config folder: {name} (all: {names:?})"
        );
    }
}

/// 30 saves killed at random moments, then one whole save; returns the config path.
fn kill_saves(env: &TestEnv, extra_env: &[(String, String)], insecure: bool) -> PathBuf {
    let dir = env.dir.path().join("cfg");
    fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    // How long one save takes here, to spread the kills over it.
    let mut took = Vec::new();
    for i in 0..3 {
        let started = Instant::now();
        let out = save(env, &config, extra_env, "warm", i, insecure)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        took.push(started.elapsed());
    }
    took.sort();
    let span = took[1].as_micros() as u64 * 3 / 2 + 1;
    let mut killed = 0;
    for i in 0..KILLS {
        // A few names, so saves also replace a context and remove its old secret.
        let name = format!("ctx{}", i % 5);
        let mut child = save(env, &config, extra_env, &name, 100 + i, insecure)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rand::random::<u64>() % span));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        child.kill().unwrap(); // SIGKILL, by the pid of the process this test started
        child.wait().unwrap();
    }
    assert!(killed > 0, "no save was killed in the middle");
    // Deletes killed at random moments too (the current context is refused, the others go).
    for j in 0..5 {
        let name = format!("ctx{j}");
        let mut delete = sts(
            env,
            &config,
            extra_env,
            &["context", "delete", "--name", &name],
        );
        let mut child = delete.stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(rand::random::<u64>() % span));
        child.kill().unwrap(); // SIGKILL, by the pid of the process this test started
        child.wait().unwrap();
    }
    // Imports (with --overwrite, so each replaces contexts and their secrets) killed too.
    let source = env.dir.path().join("go-config.yaml");
    fs::write(
        &source,
        "contexts:\n    - name: imp1\n      context:\n        url: http://127.0.0.1:9\n\
         \x20       service-token: svctok-import-one-0123456789\n    - name: imp2\n      \
         context:\n        url: http://127.0.0.1:9\n        api-token: \
         api-import-two-0123456789\ncurrent-context: imp1\n",
    )
    .unwrap();
    let source = source.to_str().unwrap().to_string();
    for _ in 0..10 {
        let mut args = vec!["context", "import", "--from", &source, "--overwrite"];
        if insecure {
            args.push("--insecure-storage");
        }
        let mut child = sts(env, &config, extra_env, &args)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rand::random::<u64>() % span));
        child.kill().unwrap(); // SIGKILL, by the pid of the process this test started
        child.wait().unwrap();
    }
    let out = save(env, &config, extra_env, "final", 999, insecure)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_temporary_file(&dir);
    let text = fs::read_to_string(&config).unwrap();
    assert!(
        !text.contains("pending-credential-ids"),
        "all reconciled:\n{text}"
    );
    config
}

#[test]
fn thirty_kills_of_context_save_leave_no_orphan_in_the_keyring() {
    let ss = SecretService::start();
    let env = TestEnv::new();
    let config = kill_saves(&env, &ss.env(), false);
    let ids = context_ids(&config);
    let found = ss.secret_tool_search("sts");
    let stored: BTreeSet<String> = found
        .lines()
        .filter_map(|l| l.trim().strip_prefix("attribute.username = "))
        .map(str::to_string)
        .collect();
    assert_eq!(stored, ids, "keyring secrets vs contexts:\n{found}");
    assert_eq!(found.matches("secret = ").count(), ids.len(), "{found}");
}

#[test]
fn thirty_kills_of_context_save_with_insecure_storage_leave_no_orphan() {
    let env = TestEnv::new();
    let config = kill_saves(&env, &[], true);
    let ids = context_ids(&config);
    let creds: toml::Table = toml::from_str(
        &fs::read_to_string(config.parent().unwrap().join("credentials.toml")).unwrap(),
    )
    .unwrap();
    let stored: BTreeSet<String> = creds.keys().cloned().collect();
    assert_eq!(stored, ids);
}
