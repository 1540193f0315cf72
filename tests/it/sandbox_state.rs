//! `sts-sandbox --state FILE`: persistence across a restart, refusal of a corrupt file, clean
//! stops on SIGTERM and SIGINT, and the file rules of CONTRACT §5 (issue 25, finding 6): only a
//! regular file is read, it is written 0600 through a symlink to its target, and no temporary
//! name is followed.

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

/// The mode bits of a file (no type bits).
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_state_path_that_is_not_a_regular_file_is_refused_at_start_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("state.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let link_to_zero = dir.path().join("zero.json");
    std::os::unix::fs::symlink("/dev/zero", &link_to_zero).unwrap();
    let folder = dir.path().join("folder.json");
    std::fs::create_dir(&folder).unwrap();
    for (path, what) in [
        (Path::new("/dev/zero"), "character device"),
        (fifo.as_path(), "FIFO"),
        (link_to_zero.as_path(), "character device"),
        (folder.as_path(), "directory"),
    ] {
        for platform in ["stackstate", "qualytics"] {
            let (code, out, err) =
                refused_start(&["--platform", platform, "--state", path.to_str().unwrap()]);
            assert!(code.is_some_and(|c| c != 0), "{path:?}: exit {code:?}");
            assert_eq!(out, "", "{path:?}: printed a start line");
            assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
            assert!(err.contains(path.to_str().unwrap()), "{err}");
            assert!(err.contains(what), "{path:?}: {err}");
        }
    }
    use std::os::unix::fs::FileTypeExt;
    let fifo_type = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(fifo_type.is_fifo(), "the FIFO was replaced");
    assert!(
        std::fs::symlink_metadata(&link_to_zero)
            .unwrap()
            .is_symlink()
    );
}

#[test]
fn the_state_file_is_0600_and_a_symlinked_one_is_written_through_to_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let target = real.join("qualytics.json");
    let link = dir.path().join("state.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let link_arg = link.to_str().unwrap();

    // Qualytics writes its signing key at start: to the link's target, 0600.
    let sb = Sandbox::start_with(&[
        "--platform",
        "qualytics",
        "--state",
        link_arg,
        "--service-user",
        "Loader:Admin",
    ]);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    let on_disk = std::fs::read_to_string(&target).unwrap();
    assert!(on_disk.contains("jwt_key"), "{on_disk}");
    assert_eq!(mode_of(&target), 0o600);
    assert_eq!(files_in(&real), ["qualytics.json"], "temporary files left");
    let (status, body) = sb.admin(
        "POST",
        "/users",
        Some(json!({"name": "Sync", "role": "Member"})),
    );
    assert_eq!(status, 200, "{body}");
    assert!(sb.terminate().success());

    // A state file someone made 0644 is 0600 after the next write.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sb = Sandbox::start_with(&["--platform", "qualytics", "--state", link_arg]);
    let (status, users) = sb.admin("GET", "/users", None);
    assert_eq!(status, 200);
    assert_eq!(users["total"], 3, "{users}");
    let (status, body) = sb.admin(
        "POST",
        "/users",
        Some(json!({"name": "More", "role": "Member"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(mode_of(&target), 0o600);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
}

#[test]
fn a_planted_temporary_name_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let state = dir.path().join("state.json");
    // Names a temporary file of the state file might have (the old predictable pattern too).
    for name in [".state.json.1.tmp", ".state.json.99999.0badc0de.tmp"] {
        std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
    }
    let sb = Sandbox::start_with(&["--state", state.to_str().unwrap()]);
    for i in 0..5 {
        sb.create_service_token(&format!("t{i}"), &["stackstate-admin"]);
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(mode_of(&state), 0o600);
    assert!(
        std::fs::read_to_string(&state)
            .unwrap()
            .contains("serviceTokens")
    );
}
