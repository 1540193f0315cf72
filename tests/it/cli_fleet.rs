//! `-A, --all-contexts` end to end (issue 15, CONTRACT §10): the built `sts` against several
//! sandboxes of the three platforms and one server that is down, every context saved in a real
//! gnome-keyring Secret Service.

use crate::cli_util::{Run, create_key, run};
use crate::common::secret_service::SecretService;
use crate::common::{Sandbox, TestEnv, free_port, now_ms};
use serde_json::{Value, json};

const DAY_MS: i64 = 86_400_000;

/// Four live contexts of three platforms, and `dead` whose server is down.
struct Fleet {
    env: TestEnv,
    keyring: SecretService,
    ss1: Sandbox,
    ss2: Sandbox,
    posit: Sandbox,
    qualytics: Sandbox,
}

impl Fleet {
    fn start() -> Fleet {
        let fleet = Fleet {
            env: TestEnv::new(),
            keyring: SecretService::start(),
            ss1: Sandbox::start(),
            ss2: Sandbox::start(),
            posit: Sandbox::start_platform("posit-connect", &[]),
            qualytics: Sandbox::start_platform("qualytics", &["--service-user", "Loader:Admin"]),
        };
        let now = now_ms();
        for (name, days) in [("ss-soon", Some(5)), ("ss-later", Some(60))] {
            let mut body = json!({"name": name, "roles": ["stackstate-admin"]});
            if let Some(d) = days {
                body["expiryDate"] = json!(now + d * DAY_MS);
            }
            assert_eq!(
                fleet.ss1.admin("POST", "/security/tokens", Some(body)).0,
                200
            );
        }
        fleet
            .ss2
            .create_service_token("ss2-forever", &["stackstate-admin"]);
        create_key(&fleet.ss1, "ss1-key");
        create_key(&fleet.ss2, "ss2-key");
        let expires = chrono::DateTime::from_timestamp_millis(now + 30 * DAY_MS)
            .unwrap()
            .to_rfc3339();
        let (status, body) = fleet.posit.admin(
            "POST",
            "/v1/system/service-tokens",
            Some(json!({"name": "scim", "scopes": ["identity:manage"], "expires_at": expires})),
        );
        assert_eq!(status, 200, "{body}");
        let (status, users) = fleet.qualytics.admin("GET", "/users?type=Service", None);
        assert_eq!(status, 200, "{users}");
        let user = users["items"][0]["id"].as_i64().unwrap();
        let (status, body) = fleet.qualytics.admin(
            "POST",
            "/user-tokens",
            Some(json!({"name": "loader", "user_id": user, "expires_in_days": 30})),
        );
        assert_eq!(status, 200, "{body}");

        // Saved first, so that it is not the current context (which can then be deleted).
        let dead = format!("http://127.0.0.1:{}", free_port());
        fleet
            .save("dead", &dead, "stackstate", "svctok-dead", true)
            .ok();
        for (name, sb) in [
            ("ss1", &fleet.ss1),
            ("ss2", &fleet.ss2),
            ("posit", &fleet.posit),
            ("qualytics", &fleet.qualytics),
        ] {
            fleet
                .save(name, &sb.url, &sb.platform, &sb.admin_token, false)
                .ok();
        }
        fleet
    }

    /// `sts` in this fleet's home, with its keyring.
    fn sts(&self) -> assert_cmd::Command {
        let mut cmd = self.env.sts();
        cmd.envs(self.keyring.env());
        cmd
    }

    fn save(&self, name: &str, url: &str, platform: &str, token: &str, skip: bool) -> Run {
        let mut cmd = self.sts();
        cmd.args(["context", "save", "--name", name, "--url", url])
            .args(["--platform", platform, "--api-token", "-"])
            .write_stdin(format!("{token}\n"));
        if skip {
            cmd.arg("--skip-validate");
        }
        run(&mut cmd)
    }

    fn run(&self, args: &[&str]) -> Run {
        run(self.sts().args(args))
    }
}

/// The token names of every context in a `-A` JSON answer, sorted.
fn names(doc: &Value, key: &str) -> Vec<String> {
    let mut names: Vec<String> = doc["contexts"]
        .as_array()
        .expect("contexts")
        .iter()
        .filter_map(|c| c[key].as_array())
        .flatten()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn list_all_contexts_shows_every_platform_warns_about_the_dead_one_and_filters() {
    let fleet = Fleet::start();

    // Text: one table of every live context's tokens, sorted by context then name.
    let r = fleet.run(&["service-token", "list", "-A"]).fails(4);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0].split(" | ").map(str::trim).collect::<Vec<_>>(),
        [
            "CONTEXT",
            "PLATFORM",
            "ID",
            "NAME",
            "STATUS",
            "EXPIRATION",
            "LAST USED"
        ],
        "{}",
        r.stdout
    );
    let rows: Vec<(String, String)> = lines[1..]
        .iter()
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").map(str::trim).collect();
            (cells[0].to_string(), cells[3].to_string())
        })
        .collect();
    let expected = [
        ("posit", "scim"),
        ("qualytics", "loader"),
        ("ss1", "ss-later"),
        ("ss1", "ss-soon"),
        ("ss2", "ss2-forever"),
    ];
    assert_eq!(
        rows,
        expected
            .iter()
            .map(|(c, n)| (c.to_string(), n.to_string()))
            .collect::<Vec<_>>(),
        "{}",
        r.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ss1 ") && l.ends_with(" -")),
        "StackState has no last use: {}",
        r.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("posit ") && l.ends_with(" never")),
        "{}",
        r.stdout
    );
    assert_eq!(
        r.stderr.matches("⚠️ context dead: ").count(),
        1,
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);

    // JSON: five entries, one with an error.
    let r = fleet
        .run(&["service-token", "list", "-A", "-o", "json"])
        .fails(4);
    let doc = r.json();
    let contexts = doc["contexts"].as_array().unwrap();
    let order: Vec<&str> = contexts
        .iter()
        .map(|c| c["context"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["dead", "posit", "qualytics", "ss1", "ss2"]);
    let failed: Vec<&Value> = contexts
        .iter()
        .filter(|c| c.get("error").is_some())
        .collect();
    assert_eq!(failed.len(), 1, "{doc}");
    assert_eq!(failed[0]["context"], "dead");
    assert_eq!(failed[0]["error"]["exit-code"], 4);
    assert!(failed[0]["error"]["error-message"].is_string());
    assert_eq!(contexts[1]["platform"], "posit-connect");
    assert_eq!(contexts[1]["url"], fleet.posit.url.as_str());
    assert_eq!(names(&doc, "service-tokens").len(), 5);

    // Only the token that expires in 5 days; exit 4 while the dead context is there.
    let soon = ["service-token", "list", "-A", "--expiring-within", "14d"];
    let r = fleet
        .run(&[&soon[..], &["--fail-if-any", "-o", "json"]].concat())
        .fails(4);
    assert_eq!(names(&r.json(), "service-tokens"), ["ss-soon"]);

    // Never used in 30 days: Connect's and Qualytics' tokens, no StackState one (one warning).
    let r = fleet
        .run(&[
            "service-token",
            "list",
            "-A",
            "--unused-for",
            "30d",
            "-o",
            "json",
        ])
        .fails(4);
    assert_eq!(names(&r.json(), "service-tokens"), ["loader", "scim"]);
    assert_eq!(
        r.stderr.matches("no last-use data").count(),
        1,
        "{}",
        r.stderr
    );

    // `--status` narrows too.
    let r = fleet
        .run(&[
            "service-token",
            "list",
            "-A",
            "--status",
            "expired",
            "-o",
            "json",
        ])
        .fails(4);
    assert!(names(&r.json(), "service-tokens").is_empty());

    // `context validate -A`: each context's result.
    let r = fleet.run(&["context", "validate", "-A"]).fails(4);
    let results: Vec<(String, String)> = r
        .stdout
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").map(str::trim).collect();
            (cells[0].to_string(), cells[3].to_string())
        })
        .collect();
    assert_eq!(results.len(), 5, "{}", r.stdout);
    for (name, result) in &results {
        assert_eq!(result == "ok", name != "dead", "{}", r.stdout);
    }

    // Without the dead one: exit 7 while rows remain, 0 when the filter matches nothing.
    fleet.run(&["context", "delete", "--name", "dead"]).ok();
    let r = fleet
        .run(&[&soon[..], &["--fail-if-any"]].concat())
        .fails(7);
    assert!(r.stdout.contains(" ss-soon "), "{}", r.stdout);
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
    let r = fleet
        .run(&[
            "service-token",
            "list",
            "-A",
            "--expiring-within",
            "1d",
            "--fail-if-any",
        ])
        .ok();
    assert_eq!(r.stdout, "No service tokens found.\n");
    let r = fleet.run(&["context", "validate", "-A", "-o", "json"]).ok();
    let doc = r.json();
    assert_eq!(doc["contexts"].as_array().unwrap().len(), 4);
    assert!(
        doc["contexts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["server-info"].is_object()),
        "{doc}"
    );

    // Ingestion keys: the StackState contexts only.
    let r = fleet
        .run(&["ingestion-api-key", "list", "-A", "-o", "json"])
        .ok();
    let doc = r.json();
    let order: Vec<&str> = doc["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["context"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["ss1", "ss2"]);
    assert_eq!(names(&doc, "ingestion-api-keys"), ["ss1-key", "ss2-key"]);

    // `--platform` narrows.
    let r = fleet
        .run(&[
            "service-token",
            "list",
            "-A",
            "--platform",
            "qualytics",
            "-o",
            "json",
        ])
        .ok();
    assert_eq!(names(&r.json(), "service-tokens"), ["loader"]);
}

#[test]
fn all_contexts_ignore_url_and_token_env_vars_with_one_warning() {
    let fleet = Fleet::start();
    fleet.run(&["context", "delete", "--name", "dead"]).ok();
    let r = run(fleet
        .sts()
        .args(["service-token", "list", "-A", "-o", "json"])
        .env("STS_CLI_URL", "http://127.0.0.1:9")
        .env("STS_CLI_API_TOKEN", "not-a-real-token")
        .env("CONNECT_API_KEY", "not-a-real-key"))
    .ok();
    assert_eq!(names(&r.json(), "service-tokens").len(), 5);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("STS_CLI_URL")
            && r.stderr.contains("STS_CLI_API_TOKEN")
            && r.stderr.contains("CONNECT_API_KEY")
            && !r.stderr.contains("not-a-real"),
        "{}",
        r.stderr
    );
    // Piped: no progress line on stderr.
    assert!(!r.stderr.contains("contexts\r") && !r.stderr.contains("/4"));

    // Time passes: the 5-day token has expired, and it says so.
    fleet.ss1.clock(6 * 86_400);
    let r = fleet
        .run(&["service-token", "list", "-A", "--expired", "--fail-if-any"])
        .fails(7);
    assert!(
        r.stdout.contains(" ss-soon ") && r.stdout.contains(" expired "),
        "{}",
        r.stdout
    );

    // `auth status -A`: every context, its credential from the keyring.
    let r = fleet.run(&["auth", "status", "-A", "-o", "json"]).ok();
    let doc = r.json();
    let contexts = doc["contexts"].as_array().unwrap();
    assert_eq!(contexts.len(), 4);
    for c in contexts {
        assert_eq!(c["connected"], true, "{c}");
        assert_eq!(c["credential"]["source"], "keyring", "{c}");
    }
    for sb in [&fleet.ss1, &fleet.posit, &fleet.qualytics] {
        assert!(!r.stdout.contains(&sb.admin_token));
    }
}

/// The pane of a detached tmux session (its own socket) that runs `script`; polled until `done`
/// says yes (30 s at most).
fn tmux_pane_until(dir: &std::path::Path, script: &str, done: impl Fn(&str) -> bool) -> String {
    use std::process::Command;
    use std::time::{Duration, Instant};
    let sock = dir.join("tmux.sock");
    let tmux = || {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&sock).args(["-f", "/dev/null"]);
        c
    };
    let path = dir.join("script.sh");
    std::fs::write(&path, format!("{script}\necho __DONE__\nexec sleep 600\n")).unwrap();
    let status = tmux()
        .args([
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "100",
            "-y",
            "20",
            "sh",
        ])
        .arg(&path)
        .status()
        .expect("tmux is installed (scripts/install-test-tools)");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let pane = loop {
        let out = tmux()
            .args(["capture-pane", "-p", "-J", "-t", "t"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if done(&text) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the pane never got there:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = tmux().arg("kill-server").status();
    pane
}

#[test]
fn a_progress_line_shows_on_a_terminal_while_contexts_answer_and_never_when_piped() {
    let env = TestEnv::new();
    let (a, b) = (Sandbox::start(), Sandbox::start());
    for (name, sb) in [("a", &a), ("b", &b)] {
        run(env
            .sts()
            .args(["context", "save", "--name", name, "--url", &sb.url])
            .args(["--api-token", &sb.admin_token, "--insecure-storage"]))
        .ok();
        sb.fault(json!({"count": 1, "path": "/api/security/tokens", "hang": true}));
    }
    let line = format!(
        "env -i PATH=/usr/bin:/bin HOME='{}' XDG_CONFIG_HOME='{}' TERM=xterm-256color '{}' \
         service-token list -A --timeout 3s; echo rc=$?",
        env.home().display(),
        env.config_home().display(),
        env!("CARGO_BIN_EXE_sts"),
    );
    let dir = tempfile::tempdir().unwrap();
    // Seen while both hang…
    tmux_pane_until(dir.path(), &line, |t| t.contains("0/2 contexts"));
    // …and erased once they are done.
    let dir = tempfile::tempdir().unwrap();
    for sb in [&a, &b] {
        sb.fault(json!({"count": 1, "path": "/api/security/tokens", "hang": true}));
    }
    let pane = tmux_pane_until(dir.path(), &line, |t| t.contains("__DONE__"));
    assert!(!pane.contains("/2 contexts"), "{pane}");
    assert!(pane.contains("rc=4"), "{pane}");

    // Piped: no progress line.
    for sb in [&a, &b] {
        sb.fault(json!({"count": 1, "path": "/api/security/tokens", "delay_ms": 600}));
    }
    let r = run(env.sts().args(["service-token", "list", "-A"])).ok();
    assert_eq!(r.stderr, "", "{}", r.stderr);
}

#[test]
fn a_keyring_that_does_not_answer_fails_its_contexts_only_within_one_deadline() {
    let env = TestEnv::new();
    let keyring = SecretService::start();
    let (a, b, c) = (Sandbox::start(), Sandbox::start(), Sandbox::start());
    for sb in [&a, &b, &c] {
        sb.create_service_token("t", &["stackstate-admin"]);
    }
    for (name, sb, file) in [("a", &a, false), ("b", &b, false), ("c", &c, true)] {
        let mut cmd = env.sts();
        cmd.envs(keyring.env())
            .args(["context", "save", "--name", name, "--url", &sb.url])
            .args(["--api-token", &sb.admin_token]);
        if file {
            cmd.arg("--insecure-storage");
        }
        run(&mut cmd).ok();
    }
    let _frozen = keyring.freeze_daemon();
    let r = run(env
        .sts()
        .envs(keyring.env())
        .env("STS_CLI_KEYRING_TIMEOUT", "1s")
        .args(["service-token", "list", "-A", "-o", "json"]))
    .fails(1);
    let doc = r.json();
    let contexts = doc["contexts"].as_array().unwrap();
    for c in &contexts[..2] {
        let message = c["error"]["error-message"].as_str().unwrap_or_default();
        assert!(message.contains("did not answer"), "{c}");
        assert_eq!(c["error"]["exit-code"], 1);
    }
    assert_eq!(contexts[2]["context"], "c");
    assert_eq!(names(&doc, "service-tokens"), ["t"]);
    assert_eq!(r.stderr.matches("⚠️ context ").count(), 2, "{}", r.stderr);
}
