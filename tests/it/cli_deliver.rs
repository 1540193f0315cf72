//! Rotation that delivers, verifies and only then retires (issue 20, CONTRACT §12): the built
//! `sts` against real sandboxes of each platform, with consumers the tests write (Python scripts)
//! that read the delivered secret and use it against the sandbox.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::cli_util::{Run, run, server_keys, server_tokens, token_id};
use crate::common::{Sandbox, TestEnv};
use serde_json::Value;

/// Reads a secret from a file and calls the sandbox with it; prints the HTTP status.
const CONSUMER: &str = r#"
import sys, urllib.request, urllib.error
url, header, prefix, keyfile, method = sys.argv[1:6]
secret = open(keyfile).read()
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
req = urllib.request.Request(url, method=method, headers={header: prefix + secret})
try:
    with opener.open(req) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
"#;

/// A delivery command's consumer: records what it got on stdin, its own argv and environment.
const RECORDER: &str = r#"
import os, sys
out = sys.argv[1]
data = sys.stdin.read()
open(os.path.join(out, "stdin"), "w").write(data)
with open(os.path.join(out, "cmdline"), "wb") as f:
    f.write(open("/proc/self/cmdline", "rb").read())
    f.write(b"\n" + "\n".join(sys.argv).encode())
with open(os.path.join(out, "environ"), "wb") as f:
    f.write(open("/proc/self/environ", "rb").read())
print("consumer got " + data)
"#;

struct Consumers {
    dir: PathBuf,
    key_file: PathBuf,
}

impl Consumers {
    fn new(env: &TestEnv) -> Consumers {
        let dir = env.dir.path().join("consumer");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("consumer.py"), CONSUMER).unwrap();
        std::fs::write(dir.join("recorder.py"), RECORDER).unwrap();
        Consumers {
            key_file: dir.join("key"),
            dir,
        }
    }

    /// The HTTP status the file consumer gets with what the file holds.
    fn call(&self, url: &str, header: &str, prefix: &str, method: &str) -> u16 {
        let out = std::process::Command::new("python3")
            .arg(self.dir.join("consumer.py"))
            .args([url, header, prefix])
            .arg(&self.key_file)
            .arg(method)
            .output()
            .expect("python3");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("consumer: {}", String::from_utf8_lossy(&out.stderr)))
    }

    fn recorder_command(&self) -> String {
        format!(
            "python3 '{}' '{}'",
            self.dir.join("recorder.py").display(),
            self.dir.display()
        )
    }

    fn recorded(&self, what: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(what)).unwrap_or_default()
    }

    /// The recorder's `STS_*` variables.
    fn vars(&self) -> HashMap<String, String> {
        self.recorded("environ")
            .split(|b| *b == 0)
            .filter_map(|kv| {
                let kv = String::from_utf8_lossy(kv);
                let (k, v) = kv.split_once('=')?;
                k.starts_with("STS_")
                    .then(|| (k.to_string(), v.to_string()))
            })
            .collect()
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn stackstate_call(c: &Consumers, sb: &Sandbox) -> u16 {
    c.call(&format!("{}/server/info", sb.api()), "X-API-Key", "", "GET")
}

#[test]
fn stackstate_rotate_delivers_to_a_file_and_a_command_verifies_and_only_then_deletes() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let c = Consumers::new(&env);
    let old_secret = sb.create_service_token("agent", &["stackstate-power-user"]);
    let old_id = token_id(&sb, "agent");
    std::fs::write(&c.key_file, &old_secret).unwrap();
    std::fs::set_permissions(
        &c.key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    assert_eq!(stackstate_call(&c, &sb), 200);

    let r = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["service-token", "rotate", &old_id.to_string()])
        .arg("--deliver-file")
        .arg(&c.key_file)
        .args(["--deliver-command", &c.recorder_command(), "-o", "json"]))
    .ok();
    let out = r.json();
    let new_secret = out["service-token"]["token"].as_str().unwrap().to_string();
    let new_id = out["new-id"].as_i64().expect("new id");
    assert_eq!(out["delivered"], serde_json::json!(["file", "command"]));
    assert_eq!(out["verified"], true);
    assert_eq!(out["old-deleted"], true);

    // The file holds exactly the new secret, with its mode kept; the consumer works with it and
    // the old token is gone.
    assert_eq!(std::fs::read(&c.key_file).unwrap(), new_secret.as_bytes());
    assert_eq!(mode(&c.key_file), 0o640);
    assert_eq!(stackstate_call(&c, &sb), 200);
    let ids: Vec<i64> = server_tokens(&sb)
        .iter()
        .filter_map(|t| t["id"].as_i64())
        .collect();
    assert_eq!(ids, [new_id]);

    // The command got exactly the secret on stdin, and none of it in argv or environment; its
    // output reached stderr redacted.
    assert_eq!(c.recorded("stdin"), new_secret.as_bytes());
    assert!(!contains(&c.recorded("cmdline"), &new_secret));
    assert!(!contains(&c.recorded("environ"), &new_secret));
    let vars = c.vars();
    assert_eq!(vars["STS_TOKEN_ID"], new_id.to_string());
    assert_eq!(vars["STS_OLD_TOKEN_ID"], old_id.to_string());
    assert_eq!(vars["STS_KIND"], "service-token");
    assert_eq!(vars["STS_PLATFORM"], "stackstate");
    assert_eq!(vars["STS_TOKEN_NAME"], "agent");
    assert!(r.stderr.contains("consumer got ***"), "{}", r.stderr);
    assert!(!r.stderr.contains(&new_secret), "{}", r.stderr);
    // A temporary file is never left behind.
    let left: Vec<String> = std::fs::read_dir(&c.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A delivery command that fails: exit 12, the old token live, the file back, the new id said.
fn failed_delivery(command: &[&str], json: bool) {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let c = Consumers::new(&env);
    let old_secret = sb.create_service_token("agent", &["stackstate-power-user"]);
    let old_id = token_id(&sb, "agent");
    std::fs::write(&c.key_file, &old_secret).unwrap();

    let mut cmd = env.sts_at(&sb.url, &sb.admin_token, true);
    cmd.args(["service-token", "rotate", &old_id.to_string()])
        .arg("--deliver-file")
        .arg(&c.key_file)
        .args(command);
    if json {
        cmd.args(["-o", "json"]);
    }
    let r = run(&mut cmd).fails(12);

    let tokens = server_tokens(&sb);
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    let new_id = tokens
        .iter()
        .filter_map(|t| t["id"].as_i64())
        .find(|id| *id != old_id)
        .expect("the new token stays");
    assert_eq!(std::fs::read(&c.key_file).unwrap(), old_secret.as_bytes());
    assert_eq!(stackstate_call(&c, &sb), 200);
    if json {
        assert_eq!(r.json()["new-id"], new_id);
        assert_eq!(r.json()["verified"], false);
        // The file was put back, so it holds nothing delivered.
        assert_eq!(r.json()["delivered"], serde_json::json!([]));
        assert_eq!(r.json()["old-deleted"], false);
        assert_eq!(r.stderr_json()["error"], true);
    } else {
        let line = r.stderr.lines().last().unwrap_or_default();
        assert!(line.contains(&format!("(id {new_id})")), "{}", r.stderr);
        assert!(line.contains("nothing was retired"), "{}", r.stderr);
    }
}

#[test]
fn a_delivery_command_that_fails_retires_nothing_and_puts_the_file_back() {
    failed_delivery(&["--deliver-command", "exit 1"], false);
    failed_delivery(&["--deliver-command", "cat >/dev/null; exit 1"], true);
}

#[test]
fn a_delivery_command_that_hangs_past_its_timeout_is_stopped_and_retires_nothing() {
    failed_delivery(
        &["--deliver-command", "sleep 600", "--deliver-timeout", "1s"],
        false,
    );
}

#[test]
fn a_failing_verify_command_retires_nothing_and_puts_the_file_back() {
    failed_delivery(&["--verify-command", "test \"$STS_KIND\" = nothing"], false);
}

#[test]
fn a_bad_delivery_file_is_exit_3_before_anything_is_created() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    sb.create_service_token("agent", &["stackstate-power-user"]);
    let old_id = token_id(&sb, "agent").to_string();
    let folder = env.dir.path().to_path_buf();
    let missing = env.dir.path().join("no-such-folder/key");
    for path in [&folder, &missing] {
        let r = run(env
            .sts_at(&sb.url, &sb.admin_token, true)
            .args(["service-token", "rotate", &old_id, "--deliver-file"])
            .arg(path))
        .fails(3);
        assert!(r.stderr.contains("--deliver-file"), "{}", r.stderr);
    }
    // A bad duration, and --overlap with --keep-old, are usage errors too.
    for args in [
        ["--deliver-timeout", "soon"].as_slice(),
        &["--overlap", "1x"],
        &["--overlap", "1h", "--keep-old"],
    ] {
        run(env
            .sts_at(&sb.url, &sb.admin_token, true)
            .args(["service-token", "rotate", &old_id])
            .args(args))
        .fails(3);
    }
    assert_eq!(server_tokens(&sb).len(), 1);
    assert!(!missing.parent().unwrap().exists());
}

#[test]
fn overlap_keeps_both_tokens_live_and_says_when_the_old_one_retires() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let c = Consumers::new(&env);
    let old_secret = sb.create_service_token("agent", &["stackstate-power-user"]);
    let old_id = token_id(&sb, "agent");
    let r = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["service-token", "rotate", &old_id.to_string()])
        .arg("--deliver-file")
        .arg(&c.key_file)
        .args(["--overlap", "1h"]))
    .ok();
    assert!(r.stdout.contains("✅ Delivered to"), "{}", r.stdout);
    assert!(r.stdout.contains("✅ Verified"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("⏳ Old service token {old_id} retires at ")),
        "{}",
        r.stdout
    );
    assert_eq!(stackstate_call(&c, &sb), 200);
    std::fs::write(&c.key_file, &old_secret).unwrap();
    assert_eq!(stackstate_call(&c, &sb), 200);
    assert_eq!(server_tokens(&sb).len(), 2);

    // The JSON says when, counted from the new token's creation as the server reports it.
    let kept = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["service-token", "rotate", &old_id.to_string()])
        .args(["--keep-old", "-o", "json"]))
    .ok()
    .json();
    assert!(kept.get("old-retires-at").is_none(), "{kept}");
    let r = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["service-token", "rotate"])
        .arg(kept["new-id"].to_string())
        .args(["--overlap", "2h", "-o", "json"]))
    .ok()
    .json();
    let at = r["old-retires-at"].as_str().expect("old-retires-at");
    let created = server_tokens(&sb)
        .into_iter()
        .find(|t| t["id"] == r["new-id"])
        .expect("the new token")["lastUpdateTimestamp"]
        .as_i64()
        .unwrap();
    assert_eq!(at, rfc3339(created + 2 * 3_600_000));
}

/// Epoch milliseconds as `yyyy-MM-ddTHH:mm:ssZ`, converted by `date -u`.
fn rfc3339(millis: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d"])
        .arg(format!("@{}", millis / 1000))
        .arg("+%Y-%m-%dT%H:%M:%SZ")
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn ingestion_key_rotate_delivers_verifies_with_authorize_and_deletes_the_old_key() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let c = Consumers::new(&env);
    let old_id = crate::cli_util::create_key(&sb, "otel");
    let r = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["ingestion-api-key", "rotate", &old_id.to_string()])
        .arg("--deliver-file")
        .arg(&c.key_file)
        .args(["-o", "json"]))
    .ok();
    let out = r.json();
    assert_eq!(out["verified"], true);
    assert_eq!(out["delivered"], serde_json::json!(["file"]));
    assert_eq!(mode(&c.key_file), 0o600);
    // The consumer: the key as the file holds it, checked by the server.
    let key = std::fs::read_to_string(&c.key_file).unwrap();
    assert_eq!(
        key,
        out["ingestion-api-key"]["apiKey"].as_str().unwrap_or(&key)
    );
    run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["ingestion-api-key", "verify"])
        .write_stdin(key))
    .ok();
    let keys = server_keys(&sb);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_ne!(keys[0]["id"], old_id);
}

fn created(r: &Run) -> (String, String) {
    let secret = r
        .stdout
        .trim()
        .strip_prefix("✅ Service token created: ")
        .unwrap_or_else(|| panic!("no created line: {}", r.stdout))
        .to_string();
    let id = r
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("Service token id: "))
        .unwrap_or_else(|| panic!("no id line: {}", r.stderr))
        .to_string();
    (secret, id)
}

#[test]
fn posit_rotate_delivers_verifies_on_scim_and_deletes_the_old_token() {
    let sb = Sandbox::start_platform("posit-connect", &[]);
    let env = TestEnv::new();
    let c = Consumers::new(&env);
    let sts = || {
        let mut cmd = env.sts_at(&sb.url, &sb.admin_token, true);
        cmd.env("STS_CLI_PLATFORM", "posit-connect");
        cmd
    };
    let (old_key, old_guid) = created(
        &run(sts().args([
            "service-token",
            "create",
            "--name",
            "okta",
            "--scopes",
            "identity:manage",
        ]))
        .ok(),
    );
    std::fs::write(&c.key_file, &old_key).unwrap();
    let scim = format!("{}/scim/v2/Users?count=1", sb.url);
    assert_eq!(c.call(&scim, "Authorization", "Bearer ", "GET"), 200);

    let r = run(sts()
        .args(["service-token", "rotate", &old_guid])
        .arg("--deliver-file")
        .arg(&c.key_file)
        .args(["-o", "json"]))
    .ok();
    let out = r.json();
    assert_eq!(out["verified"], true);
    assert_eq!(out["old-deleted"], true);
    let new_guid = out["new-id"].as_str().unwrap();
    assert_eq!(c.call(&scim, "Authorization", "Bearer ", "GET"), 200);
    std::fs::write(&c.key_file, &old_key).unwrap();
    assert_eq!(c.call(&scim, "Authorization", "Bearer ", "GET"), 401);
    let (status, tokens) = sb.admin("GET", "/v1/system/service-tokens", None);
    assert_eq!(status, 200);
    let guids: Vec<&str> = tokens
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["guid"].as_str())
        .collect();
    assert_eq!(guids, [new_guid]);
}

#[test]
fn qualytics_rotate_delivers_verifies_and_revokes_the_old_token() {
    let sb = Sandbox::start_platform("qualytics", &["--service-user", "Nightly Loader:Admin"]);
    let env = TestEnv::new();
    let c = Consumers::new(&env);
    let sts = || {
        let mut cmd = env.sts_at(&sb.url, &sb.admin_token, true);
        cmd.env("STS_CLI_PLATFORM", "qualytics");
        cmd
    };
    let (old_token, old_id) = created(
        &run(sts().args([
            "service-token",
            "create",
            "--name",
            "etl",
            "--service-user",
            "Nightly Loader",
        ]))
        .ok(),
    );
    std::fs::write(&c.key_file, &old_token).unwrap();
    let url = format!("{}/api/user-tokens", sb.url);
    assert_eq!(c.call(&url, "Authorization", "Bearer ", "GET"), 200);

    let r = run(sts()
        .args(["service-token", "rotate", &old_id])
        .arg("--deliver-file")
        .arg(&c.key_file)
        .args(["--deliver-command", &c.recorder_command(), "-o", "json"]))
    .ok();
    let out: Value = r.json();
    assert_eq!(out["verified"], true);
    assert_eq!(out["old-revoked"], true);
    let new_token = out["service-token"]["bearer_token"].as_str().unwrap();
    assert_eq!(c.recorded("stdin"), new_token.as_bytes());
    assert!(!contains(&c.recorded("environ"), new_token));
    assert_eq!(c.call(&url, "Authorization", "Bearer ", "GET"), 200);
    std::fs::write(&c.key_file, &old_token).unwrap();
    assert_eq!(c.call(&url, "Authorization", "Bearer ", "GET"), 401);
}
