//! `sts-sandbox --state FILE`: persistence across a restart, refusal of a corrupt file, clean
//! stops on SIGTERM and SIGINT.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Sandbox, read_bytes, send_json, send_signal, wait_within};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn with_key(sb: &Sandbox, path: &str, token: &str) -> (u16, Value) {
    let req = sb
        .http()
        .get(format!("{}{}", sb.api(), path))
        .header("X-API-Key", token);
    send_json(req, None)
}

/// Runs the sandbox with `args` expecting it to refuse to start; returns (exit code, stdout,
/// stderr).
fn refused_start(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sts-sandbox"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sts-sandbox");
    let status = wait_within(&mut child, Duration::from_secs(10)).expect("sandbox exited");
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), out, err)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn tokens_and_keys_survive_sigterm_and_a_restart_with_only_hashes_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().unwrap();

    let sb = Sandbox::start_with(&["--state", state_arg]);
    let token = sb.create_service_token("keeper", &["stackstate-admin"]);
    let (status, key) = sb.admin(
        "POST",
        "/security/ingestion/api_keys",
        Some(json!({"name": "pipeline", "description": "d"})),
    );
    assert_eq!(status, 200, "{key}");
    let api_key = key["apiKey"].as_str().unwrap().to_string();
    let (_, tokens_before) = sb.admin("GET", "/security/tokens", None);
    let (_, keys_before) = sb.admin("GET", "/security/ingestion/api_keys", None);

    // Written on each change, before the answer: the file is complete while it still runs.
    let on_disk = std::fs::read_to_string(&state).unwrap();
    assert!(!on_disk.contains(&token), "token secret in the state file");
    assert!(
        !on_disk.contains(&api_key),
        "ingestion key in the state file"
    );
    assert!(
        on_disk.contains(&sha256_hex(&token)),
        "no hash of the token: {on_disk}"
    );
    assert!(
        on_disk.contains(&sha256_hex(&api_key)),
        "no hash of the key: {on_disk}"
    );
    assert_eq!(
        files_in(dir.path()),
        vec!["state.json"],
        "temporary files left"
    );

    let status = sb.terminate();
    assert!(status.success(), "SIGTERM exit: {status}");

    let sb = Sandbox::start_with(&["--state", state_arg]);
    assert_eq!(with_key(&sb, "/security/tokens", &token).0, 200);
    assert_eq!(sb.admin("GET", "/security/tokens", None).1, tokens_before);
    assert_eq!(
        sb.admin("GET", "/security/ingestion/api_keys", None).1,
        keys_before
    );
    let (status, _) = sb.admin(
        "POST",
        "/security/ingestion/authorize",
        Some(json!({"apiKey": api_key})),
    );
    assert_eq!(status, 204);

    // A delete persists too.
    let id = tokens_before[0]["id"].as_i64().unwrap();
    assert_eq!(
        sb.admin("DELETE", &format!("/security/tokens/{id}"), None)
            .0,
        204
    );
    assert!(sb.terminate().success());
    let sb = Sandbox::start_with(&["--state", state_arg]);
    assert_eq!(with_key(&sb, "/server/info", &token).0, 401);
    assert_eq!(sb.admin("GET", "/security/tokens", None).1, json!([]));
}

#[test]
fn a_corrupt_state_file_is_refused_and_left_byte_for_byte_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [
        ("truncated.json", &b"{\"serviceTokens\": [{\"id\": 1234"[..]),
        ("wrong-shape.json", &b"{\"serviceTokens\": 42}"[..]),
        ("not-json.json", &b"\xff\xfe garbage \x00"[..]),
        ("empty.json", &b""[..]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let (code, out, err) = refused_start(&["--state", path.to_str().unwrap()]);
        assert!(code.is_some_and(|c| c != 0), "{name}: exit {code:?}");
        assert_eq!(out, "", "{name}: printed a start line");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{name}: not one line: {err}"
        );
        assert!(
            err.contains(path.to_str().unwrap()),
            "{name}: file not named: {err}"
        );
        assert_eq!(read_bytes(&path), content, "{name} was changed");
    }
    assert_eq!(files_in(dir.path()).len(), 4, "temporary files left");
}

#[test]
fn a_missing_state_file_means_empty_state_and_sigint_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("new.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sts-sandbox"))
        .args(["--listen", "127.0.0.1:0", "--admin-token", "adm-1"])
        .arg("--state")
        .arg(&state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sts-sandbox");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let (url, token) = crate::common::parse_start_line(line.trim_end());
    assert_eq!(token, "adm-1");
    let client = reqwest::blocking::Client::new();
    let req = client
        .get(format!("{url}/api/security/tokens"))
        .header("X-API-Token", "adm-1");
    assert_eq!(send_json(req, None), (200, json!([])));
    assert!(!state.exists(), "nothing changed, nothing written");

    send_signal(child.id(), "INT");
    let status = wait_within(&mut child, Duration::from_secs(10)).expect("stopped on SIGINT");
    assert!(status.success(), "SIGINT exit: {status}");
}

#[test]
fn sigterm_stops_promptly_even_with_a_hung_request() {
    let sb = Sandbox::start();
    sb.fault(json!({"count": 1, "hang": true}));
    let url = format!("{}/server/info", sb.api());
    let token = sb.admin_token.clone();
    let hung = std::thread::spawn(move || {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        client.get(url).header("X-API-Token", token).send().is_err()
    });
    // Let the hung request reach the server.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sb.request_count("GET /api/server/info") == 0 {
        assert!(Instant::now() < deadline, "the request never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = sb.terminate();
    assert!(status.success(), "SIGTERM exit: {status}");
    assert!(hung.join().unwrap(), "the hung request got an answer");
}
