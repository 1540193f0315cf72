//! `sts renew` and the rotation journal (issue 20, CONTRACT §12): the built `sts` against real
//! sandboxes of the three platforms, contexts saved in a real gnome-keyring Secret Service, the
//! consumers' files checked against the sandboxes with the secret they hold.

use std::path::{Path, PathBuf};

use crate::cli_util::{Run, run};
use crate::common::secret_service::SecretService;
use crate::common::{Sandbox, TestEnv, now_ms};
use serde_json::{Value, json};

const DAY_MS: i64 = 86_400_000;

/// A home with a keyring, saved contexts and a renewals file.
struct Home {
    env: TestEnv,
    keyring: SecretService,
}

impl Home {
    fn new() -> Home {
        Home {
            env: TestEnv::new(),
            keyring: SecretService::start(),
        }
    }

    fn sts(&self) -> assert_cmd::Command {
        let mut cmd = self.env.sts();
        cmd.envs(self.keyring.env());
        cmd
    }

    fn dir(&self) -> PathBuf {
        let d = self.env.config_home().join("sts");
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn save(&self, name: &str, sb: &Sandbox) {
        run(self
            .sts()
            .args(["context", "save", "--name", name, "--url", &sb.url])
            .args(["--platform", &sb.platform, "--api-token", "-"])
            .write_stdin(format!("{}\n", sb.admin_token)))
        .ok();
    }

    fn renewals(&self, text: &str) {
        std::fs::write(self.dir().join("renewals.toml"), text).unwrap();
    }

    fn renew(&self, args: &[&str]) -> Run {
        run(self.sts().arg("renew").args(args))
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    fn journal(&self) -> String {
        std::fs::read_to_string(self.file("journal.toml")).unwrap_or_default()
    }
}

/// Whether `secret` authenticates as a credential of `kind` on the sandbox.
fn authenticates(sb: &Sandbox, kind: &str, secret: &str) -> bool {
    let status = match (sb.platform.as_str(), kind) {
        ("stackstate", "ingestion-api-key") => {
            sb.admin(
                "POST",
                "/security/ingestion/authorize",
                Some(json!({ "apiKey": secret })),
            )
            .0
        }
        ("stackstate", _) => sb
            .http()
            .get(format!("{}/server/info", sb.api()))
            .header("X-API-Key", secret)
            .send()
            .unwrap()
            .status()
            .as_u16(),
        ("posit-connect", _) => sb
            .http()
            .get(format!("{}/scim/v2/Users?count=1", sb.url))
            .header("Authorization", format!("Bearer {secret}"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        _ => sb
            .http()
            .get(format!("{}/api/user-tokens", sb.url))
            .header("Authorization", format!("Bearer {secret}"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
    };
    (200..300).contains(&status)
}

/// The sandbox's live tokens of a kind: (id, name).
fn live(sb: &Sandbox, kind: &str) -> Vec<(String, String)> {
    let (path, now) = match (sb.platform.as_str(), kind) {
        ("stackstate", "ingestion-api-key") => ("/security/ingestion/api_keys", now_ms()),
        ("stackstate", _) => ("/security/tokens", now_ms()),
        ("posit-connect", _) => ("/v1/system/service-tokens", now_ms()),
        _ => ("/user-tokens/service", now_ms()),
    };
    let (status, body) = sb.admin("GET", path, None);
    assert_eq!(status, 200, "{body}");
    let _ = now;
    body.as_array()
        .unwrap()
        .iter()
        .filter(|t| t["active"].as_bool() != Some(false) && t["revoked"].as_bool() != Some(true))
        .map(|t| {
            let id = match &t["id"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (id, t["name"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn rows(r: &Run) -> Vec<Value> {
    r.json()["credentials"].as_array().unwrap().clone()
}

fn action_of(r: &Run, name: &str) -> String {
    rows(r)
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {}", r.stdout))["action"]
        .as_str()
        .unwrap()
        .to_string()
}

/// API requests other than lists, by key.
fn changes(sb: &Sandbox) -> Vec<String> {
    match sb.requests() {
        Value::Object(m) => m
            .into_iter()
            .filter(|(k, _)| !k.starts_with("GET ") && !k.contains("/_sandbox"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        _ => Vec::new(),
    }
}

fn no_temp_files(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn renew_over_three_platforms_creates_renews_and_then_changes_nothing() {
    let home = Home::new();
    let ss = Sandbox::start();
    let posit = Sandbox::start_platform("posit-connect", &[]);
    let qualytics = Sandbox::start_platform("qualytics", &["--service-user", "Loader:Admin"]);
    home.save("ss", &ss);
    home.save("posit", &posit);
    home.save("q", &qualytics);

    // The ingestion key expires in 5 days: due with renew-before 14d.
    let (status, body) = ss.admin(
        "POST",
        "/security/ingestion/api_keys",
        Some(json!({"name": "otel", "expiration": now_ms() + 5 * DAY_MS})),
    );
    assert_eq!(status, 200, "{body}");
    let old_key = body["apiKey"].as_str().unwrap_or_default().to_string();
    let expires = chrono::DateTime::from_timestamp_millis(now_ms() + 60 * DAY_MS)
        .unwrap()
        .to_rfc3339();
    let (status, body) = posit.admin(
        "POST",
        "/v1/system/service-tokens",
        Some(json!({"name": "scim", "scopes": ["identity:manage"], "expires_at": expires})),
    );
    assert_eq!(status, 200, "{body}");
    let d = home.dir();
    let f = |n: &str| d.join(n).display().to_string();
    let text = format!(
        r#"
[[credential]]
context = "ss"
kind = "service-token"
name = "agent"
lifetime = "90d"
roles = ["stackstate-power-user"]
deliver-file = "{agent}"

[[credential]]
context = "ss"
kind = "ingestion-api-key"
name = "otel"
lifetime = "90d"
renew-before = "14d"
description = "collector"
deliver-file = "{otel}"

[[credential]]
context = "ss"
kind = "ingestion-api-key"
name = "second"
deliver-file = "{second}"

[[credential]]
context = "posit"
kind = "service-token"
name = "scim"
lifetime = "90d"
scopes = ["identity:manage"]
deliver-file = "{scim}"

[[credential]]
context = "q"
kind = "service-token"
name = "loader"
lifetime = "30d"
service-user = "Loader"
deliver-command = "cat > '{loader}'"
"#,
        agent = f("agent.key"),
        otel = f("otel.key"),
        second = f("second.key"),
        scim = f("scim.key"),
        loader = f("loader.key"),
    );
    home.renewals(&text);

    // --dry-run: only lists.
    let seeded: Vec<Vec<String>> = [&ss, &posit, &qualytics]
        .iter()
        .map(|s| changes(s))
        .collect();
    let r = home.renew(&["--dry-run", "-o", "json"]).ok();
    assert_eq!(action_of(&r, "agent"), "would-create");
    assert_eq!(action_of(&r, "otel"), "would-renew");
    assert_eq!(action_of(&r, "scim"), "ok");
    let dry: Vec<Vec<String>> = [&ss, &posit, &qualytics]
        .iter()
        .map(|s| changes(s))
        .collect();
    assert_eq!(seeded, dry);

    let r = home.renew(&["-o", "json"]).ok();
    assert!(!r.stdout.contains(&old_key) || old_key.is_empty());
    assert_eq!(action_of(&r, "agent"), "created", "{}", r.stdout);
    assert_eq!(action_of(&r, "otel"), "renewed", "{}", r.stdout);
    assert_eq!(action_of(&r, "second"), "created");
    assert_eq!(action_of(&r, "scim"), "ok");
    assert_eq!(action_of(&r, "loader"), "created");
    assert!(!r.stdout.contains("\"secret\"") && !r.stdout.contains("\"token\":"));
    // Every delivered file authenticates, and each credential has one live token.
    for (sb, kind, file, name) in [
        (&ss, "service-token", "agent.key", "agent"),
        (&ss, "ingestion-api-key", "otel.key", "otel"),
        (&ss, "ingestion-api-key", "second.key", "second"),
        (&qualytics, "service-token", "loader.key", "loader"),
    ] {
        let secret = std::fs::read_to_string(d.join(file)).unwrap();
        assert!(authenticates(sb, kind, &secret), "{file}");
        assert!(!r.stdout.contains(&secret) && !r.stderr.contains(&secret));
        let n = live(sb, kind)
            .iter()
            .filter(|(_, n)| n.starts_with(name))
            .count();
        assert_eq!(n, 1, "{name}: {:?}", live(sb, kind));
    }
    if !old_key.is_empty() {
        assert!(!authenticates(&ss, "ingestion-api-key", &old_key));
    }
    assert!(
        !d.join("scim.key").exists(),
        "an adopted token is not delivered"
    );

    // A second run changes nothing: only list requests reach the sandboxes.
    let before: Vec<Vec<String>> = [&ss, &posit, &qualytics]
        .iter()
        .map(|s| changes(s))
        .collect();
    let r = home.renew(&["-o", "json"]).ok();
    for c in rows(&r) {
        assert_eq!(c["action"], "ok", "{c}");
    }
    let after: Vec<Vec<String>> = [&ss, &posit, &qualytics]
        .iter()
        .map(|s| changes(s))
        .collect();
    assert_eq!(before, after);
    // The text table.
    let r = home.renew(&[]).ok();
    assert!(r.stdout.contains("CONTEXT | KIND"), "{}", r.stdout);
    no_temp_files(&d);
}

#[test]
fn a_bad_renewals_file_is_refused_whole_with_no_request() {
    let home = Home::new();
    let ss = Sandbox::start();
    home.save("ss", &ss);
    let before = ss.api_request_total();
    let good = "[[credential]]\ncontext = \"ss\"\nkind = \"ingestion-api-key\"\nname = \"otel\"\n\
                deliver-command = \"true\"\n";
    for (text, code, says) in [
        (
            format!("{good}colour = \"red\"\n"),
            3,
            "unknown key `colour`",
        ),
        (good.replace("\"ss\"", "\"nope\""), 8, "'nope'"),
        (
            good.replace("ingestion-api-key", "service-token").replace(
                "name = \"otel\"",
                "name = \"otel\"\nroles = [\"a\"]\nscopes = [\"x\"]",
            ),
            3,
            "scopes",
        ),
        (
            format!("{good}lifetime = \"ninety days\"\n"),
            3,
            "`lifetime`",
        ),
        (
            good.replace("deliver-command = \"true\"\n", ""),
            3,
            "no delivery",
        ),
    ] {
        home.renewals(&format!("{good}\n{text}"));
        let r = home.renew(&[]).fails(code);
        assert!(r.stderr.contains(says), "{}", r.stderr);
        assert!(r.stderr.contains("line 7"), "{}", r.stderr);
    }
    // A deliver-file that is a folder.
    home.renewals(&good.replace(
        "deliver-command = \"true\"",
        &format!("deliver-file = \"{}\"", home.dir().display()),
    ));
    let r = home.renew(&[]).fails(3);
    assert!(r.stderr.contains("deliver-file"), "{}", r.stderr);
    assert_eq!(ss.api_request_total(), before);
}

fn stackstate_agent(home: &Home, ss: &Sandbox, extra: &str) -> PathBuf {
    home.save("ss", ss);
    let key = home.file("agent.key");
    home.renewals(&format!(
        "[[credential]]\ncontext = \"ss\"\nkind = \"service-token\"\nname = \"agent\"\n\
         lifetime = \"90d\"\nroles = [\"stackstate-power-user\"]\ndeliver-file = \"{}\"\n{extra}",
        key.display()
    ));
    key
}

#[test]
fn a_failed_delivery_is_exit_12_and_the_next_renew_retires_the_old_and_the_stranded_one() {
    let home = Home::new();
    let ss = Sandbox::start();
    let broken = home.file("broken");
    let key = stackstate_agent(
        &home,
        &ss,
        &format!("deliver-command = \"test ! -e '{}'\"\n", broken.display()),
    );
    home.renew(&[]).ok();
    let first = std::fs::read_to_string(&key).unwrap();
    let first_id = live(&ss, "service-token")[0].0.clone();

    std::fs::write(&broken, "").unwrap();
    let r = home.renew(&["--force", "-o", "json"]).fails(12);
    let stranded = rows(&r)[0]["id"]
        .as_str()
        .expect("ids are strings")
        .to_string();
    assert_eq!(live(&ss, "service-token").len(), 2);
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        first,
        "file put back"
    );
    assert!(authenticates(&ss, "service-token", &first));
    assert!(home.journal().contains(&stranded), "{}", home.journal());

    std::fs::remove_file(&broken).unwrap();
    let r = home.renew(&["-o", "json"]).ok();
    assert_eq!(action_of(&r, "agent"), "renewed");
    let now = live(&ss, "service-token");
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now[0].0, first_id);
    assert_ne!(now[0].0, stranded);
    assert!(authenticates(
        &ss,
        "service-token",
        &std::fs::read_to_string(&key).unwrap()
    ));
    assert!(!home.journal().contains("superseded"), "{}", home.journal());
}

#[test]
fn an_overlap_keeps_the_old_one_until_the_clock_passes_it() {
    let home = Home::new();
    let ss = Sandbox::start();
    stackstate_agent(&home, &ss, "overlap = \"1h\"\n");
    home.renew(&[]).ok();
    let r = home.renew(&["--force", "-o", "json"]).ok();
    assert_eq!(action_of(&r, "agent"), "renewed");
    assert_eq!(live(&ss, "service-token").len(), 2);
    let r = home.renew(&["-o", "json"]).ok();
    assert_eq!(action_of(&r, "agent"), "ok");
    assert_eq!(live(&ss, "service-token").len(), 2);
    let status = home.renew(&["--status"]).ok();
    assert!(status.stdout.contains("delete"), "{}", status.stdout);

    ss.clock(3700);
    let r = home.renew(&["-o", "json"]).ok();
    assert_eq!(action_of(&r, "agent"), "retired", "{}", r.stdout);
    assert_eq!(live(&ss, "service-token").len(), 1);
    assert!(home.renew(&["--status"]).ok().stdout.contains("nothing"));
}

#[test]
fn qualytics_rotated_twice_within_a_minute_gets_its_own_names() {
    let home = Home::new();
    let q = Sandbox::start_platform("qualytics", &["--service-user", "Loader:Admin"]);
    home.save("q", &q);
    let key = home.file("loader.key");
    home.renewals(&format!(
        "[[credential]]\ncontext = \"q\"\nkind = \"service-token\"\nname = \"loader\"\n\
         service-user = \"Loader\"\nlifetime = \"30d\"\ndeliver-file = \"{}\"\n",
        key.display()
    ));
    home.renew(&[]).ok();
    for _ in 0..3 {
        let r = home.renew(&["--force", "-o", "json"]).ok();
        assert_eq!(action_of(&r, "loader"), "renewed", "{}", r.stdout);
    }
    let names: Vec<String> = live(&q, "service-token").into_iter().map(|t| t.1).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("loader (rotated "), "{names:?}");
    assert!(authenticates(
        &q,
        "service-token",
        &std::fs::read_to_string(&key).unwrap()
    ));
    let r = home.renew(&["-o", "json"]).ok();
    assert_eq!(action_of(&r, "loader"), "ok");
}

#[test]
fn a_posit_token_that_expired_and_vanished_is_made_again_from_the_entry() {
    let home = Home::new();
    let posit = Sandbox::start_platform("posit-connect", &[]);
    home.save("posit", &posit);
    let key = home.file("scim.key");
    home.renewals(&format!(
        "[[credential]]\ncontext = \"posit\"\nkind = \"service-token\"\nname = \"scim\"\n\
         scopes = [\"identity:manage\"]\nlifetime = \"2d\"\nrenew-before = \"1h\"\n\
         deliver-file = \"{}\"\n",
        key.display()
    ));
    let r = home.renew(&["-o", "json"]).ok();
    assert_eq!(action_of(&r, "scim"), "created");
    posit.clock(3 * 86_400);
    let r = home.renew(&["-o", "json"]).ok();
    let action = action_of(&r, "scim");
    assert!(action == "created" || action == "renewed", "{}", r.stdout);
    assert!(authenticates(
        &posit,
        "service-token",
        &std::fs::read_to_string(&key).unwrap()
    ));
}

#[test]
fn two_renews_at_once_renew_each_credential_once() {
    let home = Home::new();
    let ss = Sandbox::start();
    let started = home.file("started");
    let go = home.file("go");
    stackstate_agent(
        &home,
        &ss,
        &format!(
            "renew-before = \"89d\"\ndeliver-command = \"cat >/dev/null; touch '{}'; while [ ! -e '{}' ]; do sleep 0.05; done\"\n",
            started.display(),
            go.display()
        ),
    );
    std::fs::write(&go, "").unwrap();
    home.renew(&[]).ok();
    std::fs::remove_file(&go).unwrap();
    std::fs::remove_file(&started).unwrap();
    // Due again once a day has passed (renew-before 89d of a 90d lifetime).
    ss.clock(2 * 86_400);

    let spawn = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sts"));
        let probe = home.sts();
        for (k, v) in probe.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.args(["renew", "-o", "json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    while !started.exists() {
        std::thread::sleep(std::time::Duration::from_millis(10)); // a poll interval
    }
    let b = spawn();
    std::fs::write(&go, "").unwrap();
    let outs: Vec<Value> = [a, b]
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect();
    let mut actions: Vec<String> = outs
        .iter()
        .map(|o| o["credentials"][0]["action"].as_str().unwrap().to_string())
        .collect();
    actions.sort();
    assert_eq!(actions, ["ok", "renewed"]);
    assert_eq!(ss.request_count("POST /api/security/tokens"), 2);
    assert_eq!(live(&ss, "service-token").len(), 1);
}

/// Crash safety: `renew` killed with SIGKILL in the middle of a create, a delivery, a
/// verification or a retirement (the sandbox holds a request open, or the consumer's command
/// waits on a hold file and says where it is), each kill followed by a `renew` that must
/// complete; after each: one live token per credential, the consumer's file holds it and it
/// authenticates, every other token `sts` made is retired, nothing pending in the journal, no
/// temporary file.
#[test]
fn renew_killed_anywhere_is_taken_up_by_the_next_run() {
    let home = Home::new();
    let ss_sandbox = Sandbox::start();
    let q_sandbox = Sandbox::start_platform("qualytics", &["--service-user", "Loader:Admin"]);
    let (ss, q) = (&ss_sandbox, &q_sandbox);
    home.save("ss", ss);
    home.save("q", q);
    let d = home.dir();
    let hold = |entry: &str, step: &str| d.join(format!("hold-{entry}-{step}"));
    let at = |entry: &str, step: &str| d.join(format!("at-{entry}-{step}"));
    // The consumer's commands: they go on at once unless the test holds them.
    let command = |entry: &str, step: &str, input: &str| {
        format!(
            "{input}if [ -e '{h}' ]; then touch '{a}'; while [ -e '{h}' ]; do sleep 0.02; done; fi",
            h = hold(entry, step).display(),
            a = at(entry, step).display(),
        )
    };
    let entry = |context: &str, name: &str, fields: &str| {
        format!(
            "[[credential]]\ncontext = \"{context}\"\nkind = \"service-token\"\nname = \"{name}\"\n\
             lifetime = \"90d\"\n{fields}deliver-file = \"{file}\"\ndeliver-command = \"{dc}\"\n\
             verify-command = \"{vc}\"\n\n",
            file = d.join(format!("{name}.key")).display(),
            dc = command(name, "deliver", "cat >/dev/null; "),
            vc = command(name, "verify", ""),
        )
    };
    home.renewals(&format!(
        "{}{}",
        entry("ss", "agent", "roles = [\"stackstate-power-user\"]\n"),
        entry("q", "loader", "service-user = \"Loader\"\n")
    ));
    home.renew(&[]).ok();

    let check = |round: usize| {
        for (sb, name) in [(ss, "agent"), (q, "loader")] {
            let live: Vec<(String, String)> = live(sb, "service-token")
                .into_iter()
                .filter(|(_, n)| n.starts_with(name))
                .collect();
            assert_eq!(live.len(), 1, "round {round}, {name}: {live:?}");
            // One ` (rotated …)` and at most one ` n` after the entry's name, however many
            // rotations came before.
            let longest = format!("{name} (rotated 2026-12-04 13:45:02) 20").len();
            assert!(live[0].1.len() <= longest, "round {round}: {live:?}");
            let secret = std::fs::read_to_string(d.join(format!("{name}.key"))).unwrap();
            assert!(
                authenticates(sb, "service-token", &secret),
                "round {round}, {name}"
            );
        }
        // StackState deletes: only the live one is left.
        assert_eq!(server_count(ss), 1, "round {round}");
        let journal: toml::Table = toml::from_str(&home.journal()).unwrap();
        for (key, e) in journal["credential"].as_table().unwrap() {
            for k in e.as_table().unwrap().keys() {
                assert!(
                    k == "current" || k == "delivered",
                    "round {round}: {key} has {k} pending: {}",
                    home.journal()
                );
            }
        }
        no_temp_files(&d);
    };
    check(0);

    let mut seed = now_ms() as u64 | 1;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    eprintln!("stages chosen from seed {seed}");
    let mut kills = 0;
    let mut by_stage = std::collections::BTreeMap::<&str, usize>::new();
    while kills < 100 {
        let (stage, name) = match next(10) {
            8 => ("answer", "agent"),
            9 => ("answer", "loader"),
            0 => ("create", "agent"),
            1 => ("after-create", "agent"),
            2 => ("deliver", "agent"),
            3 => ("verify", "agent"),
            4 => ("retire", "agent"),
            5 => ("create", "loader"),
            6 => (if next(2) == 0 { "deliver" } else { "verify" }, "loader"),
            _ => ("retire", "loader"),
        };
        let (sb, target): (&Sandbox, Box<dyn Fn() -> bool>) = match (stage, name) {
            ("create", "agent") => {
                let n = ss.request_count("POST /api/security/tokens");
                ss.fault(json!({"method": "POST", "path": "/api/security/tokens", "count": 1, "hang": true}));
                (
                    ss,
                    Box::new(move || ss.request_count("POST /api/security/tokens") > n),
                )
            }
            ("answer", _) => {
                // The server makes the token, and its answer (the secret, and on Qualytics
                // the id) never comes: the kill lands after the create and before anything of
                // it is known but the request.
                let (sb, path) = if name == "agent" {
                    (ss, "/api/security/tokens")
                } else {
                    (q, "/api/user-tokens")
                };
                let before = live(sb, "service-token").len();
                sb.fault(json!({"method": "POST", "path": path, "count": 1, "hang_after": true}));
                (
                    sb,
                    Box::new(move || live(sb, "service-token").len() > before),
                )
            }
            ("after-create", _) => {
                // The list after the create (its answer has no id) is held.
                let n = ss.request_count("GET /api/security/tokens");
                ss.fault(json!({"method": "GET", "path": "/api/security/tokens", "count": 1}));
                ss.fault(json!({"method": "GET", "path": "/api/security/tokens", "count": 1, "hang": true}));
                (
                    ss,
                    Box::new(move || ss.request_count("GET /api/security/tokens") >= n + 2),
                )
            }
            ("retire", "agent") => {
                let key = "DELETE /api/security/tokens/{id}";
                let n = ss.request_count(key);
                ss.fault(json!({"method": "DELETE", "path": "/api/security/tokens/{id}", "count": 1, "hang": true}));
                (ss, Box::new(move || ss.request_count(key) > n))
            }
            ("create", _) => {
                let n = q.request_count("POST /api/user-tokens");
                q.fault(
                    json!({"method": "POST", "path": "/api/user-tokens", "count": 1, "hang": true}),
                );
                (
                    q,
                    Box::new(move || q.request_count("POST /api/user-tokens") > n),
                )
            }
            ("retire", _) => {
                let key = "PUT /api/user-tokens/{id}";
                let n = q.request_count(key);
                q.fault(json!({"method": "PUT", "path": "/api/user-tokens/{id}", "count": 1, "hang": true}));
                (q, Box::new(move || q.request_count(key) > n))
            }
            (step, _) => {
                std::fs::write(hold(name, step), "").unwrap();
                let marker = at(name, step);
                let sb = if name == "agent" { ss } else { q };
                (sb, Box::new(move || marker.exists()))
            }
        };
        let _ = sb;
        let mut child = spawn_renew(&home, &["--force"]);
        let reached = loop {
            if target() {
                break true;
            }
            if let Some(status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                // A run can only end early when the stage it was to be held at was not on
                // its way (a retire with nothing to retire is impossible here: --force renews).
                panic!(
                    "renew ended before {stage} of {name}: {status}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(10)); // a poll interval
        };
        assert!(reached);
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        *by_stage.entry(stage).or_default() += 1;
        // Let go of whatever held it.
        for sb in [ss, q] {
            let (status, _) = crate::common::send_json(
                sb.http()
                    .delete(format!("{}/_sandbox/faults", sb.url))
                    .header("X-API-Token", &sb.admin_token),
                None,
            );
            assert!(status < 300);
        }
        for entry in ["agent", "loader"] {
            for step in ["deliver", "verify"] {
                let _ = std::fs::remove_file(hold(entry, step));
                let _ = std::fs::remove_file(at(entry, step));
            }
        }
        // Renew until one completes.
        let mut done = false;
        for _ in 0..3 {
            let out = home.sts().arg("renew").output().unwrap();
            if out.status.success() {
                done = true;
                break;
            }
            eprintln!(
                "after killing at {stage} of {name}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(done, "no renew completed after a kill at {stage} of {name}");
        check(kills);
    }
    eprintln!("kills by stage: {by_stage:?}");
    assert!(by_stage.len() >= 5, "{by_stage:?}");
}

fn server_count(sb: &Sandbox) -> usize {
    sb.admin("GET", "/security/tokens", None)
        .1
        .as_array()
        .unwrap()
        .len()
}

fn spawn_renew(home: &Home, args: &[&str]) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sts"));
    let probe = home.sts();
    for (k, v) in probe.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.arg("renew")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `done` holds, the child still running; panics with its stderr when it ends.
fn wait_for(child: &mut std::process::Child, what: &str, done: impl Fn() -> bool) {
    while !done() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("ended before {what}: {status}: {err}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10)); // a poll interval
    }
}

#[test]
fn two_ids_that_could_each_be_the_new_one_stop_the_credential_until_one_is_forgotten() {
    let home = Home::new();
    let ss = Sandbox::start();
    let key = stackstate_agent(&home, &ss, "");
    home.renew(&[]).ok();
    let old = live(&ss, "service-token")[0].0.clone();

    // Killed while the list after the create (which tells no id) is held.
    let n = ss.request_count("GET /api/security/tokens");
    ss.fault(json!({"method": "GET", "path": "/api/security/tokens", "count": 1}));
    ss.fault(json!({"method": "GET", "path": "/api/security/tokens", "count": 1, "hang": true}));
    let mut child = spawn_renew(&home, &["--force"]);
    wait_for(&mut child, "the list after the create", || {
        ss.request_count("GET /api/security/tokens") >= n + 2
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let (status, _) = crate::common::send_json(
        ss.http()
            .delete(format!("{}/_sandbox/faults", ss.url))
            .header("X-API-Token", &ss.admin_token),
        None,
    );
    assert!(status < 300);
    let ours: Vec<String> = live(&ss, "service-token")
        .into_iter()
        .map(|t| t.0)
        .filter(|id| *id != old)
        .collect();
    assert_eq!(ours.len(), 1, "the create went through");
    let ours = ours[0].clone();
    // Someone else makes a token of the same name meanwhile.
    ss.create_service_token("agent", &["stackstate-power-user"]);
    let strays: Vec<String> = live(&ss, "service-token")
        .into_iter()
        .map(|t| t.0)
        .filter(|id| *id != old)
        .collect();
    assert_eq!(strays.len(), 2);

    let r = home.renew(&[]).fails(3);
    for id in &strays {
        assert!(r.stdout.contains(id.as_str()), "{}", r.stdout);
    }
    assert!(r.stdout.contains("--forget"), "{}", r.stdout);
    assert_eq!(live(&ss, "service-token").len(), 3, "nothing retired");
    let status = home.renew(&["--status"]).ok();
    assert!(status.stdout.contains("stray ids"), "{}", status.stdout);

    // The other one's is set aside.
    let theirs = strays.iter().find(|id| **id != ours).unwrap().clone();
    home.renew(&["--forget", &theirs]).ok();
    let r = home.renew(&["-o", "json"]).ok();
    assert_eq!(action_of(&r, "agent"), "renewed", "{}", r.stdout);
    let left: Vec<String> = live(&ss, "service-token")
        .into_iter()
        .map(|t| t.0)
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&theirs) && !left.contains(&old) && !left.contains(&ours));
    assert!(authenticates(
        &ss,
        "service-token",
        &std::fs::read_to_string(&key).unwrap()
    ));
}

#[test]
fn a_rotate_killed_while_delivering_is_taken_up_by_the_next_rotate() {
    let env = TestEnv::new();
    let ss = Sandbox::start();
    let dir = env.dir.path().join("consumer");
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("key");
    let hold = dir.join("hold");
    let at = dir.join("at");
    let old_secret = ss.create_service_token("agent", &["stackstate-power-user"]);
    std::fs::write(&key, &old_secret).unwrap();
    let old = live(&ss, "service-token")[0].0.clone();
    let command = format!(
        "cat >/dev/null; if [ -e '{h}' ]; then touch '{a}'; while [ -e '{h}' ]; do sleep 0.02; done; fi",
        h = hold.display(),
        a = at.display()
    );
    let rotate = || {
        let probe = env.sts_at(&ss.url, &ss.admin_token, true);
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sts"));
        for (k, v) in probe.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.args([
            "service-token",
            "rotate",
            &old,
            "--deliver-command",
            &command,
        ])
        .arg("--deliver-file")
        .arg(&key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
        cmd
    };
    std::fs::write(&hold, "").unwrap();
    let mut child = rotate().spawn().unwrap();
    wait_for(&mut child, "the delivery", || at.exists());
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_file(&hold).unwrap();
    assert_eq!(live(&ss, "service-token").len(), 2);
    let journal = env.config_home().join("sts/journal.toml");
    assert!(
        std::fs::read_to_string(&journal)
            .unwrap()
            .contains("names-sent")
    );

    let out = rotate().output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = live(&ss, "service-token");
    assert_eq!(left.len(), 1, "old and superseded retired: {left:?}");
    assert_ne!(left[0].0, old);
    assert!(authenticates(
        &ss,
        "service-token",
        &std::fs::read_to_string(&key).unwrap()
    ));
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(
        !text.contains("superseded") && !text.contains("rotation"),
        "{text}"
    );
}

#[test]
fn a_create_whose_answer_never_comes_says_it_may_exist_and_the_next_rotate_retires_it() {
    let env = TestEnv::new();
    let ss = Sandbox::start();
    let key = env.dir.path().join("agent.key");
    let old_secret = ss.create_service_token("agent", &["stackstate-power-user"]);
    std::fs::write(&key, &old_secret).unwrap();
    let old = live(&ss, "service-token")[0].0.clone();
    let rotate = |timeout: &str| {
        env.sts_at(&ss.url, &ss.admin_token, true)
            .args(["--timeout", timeout, "service-token", "rotate", &old])
            .arg("--deliver-file")
            .arg(&key)
            .output()
            .unwrap()
    };
    // The server makes the token; its answer, the only place its secret is, never comes.
    ss.fault(
        json!({"method": "POST", "path": "/api/security/tokens", "count": 1, "hang_after": true}),
    );
    let out = rotate("2s");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("may have been created all the same")
            && stderr.contains(&format!("the old service token {old} still works")),
        "{stderr}"
    );
    let orphan: Vec<String> = live(&ss, "service-token")
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| *id != old)
        .collect();
    assert_eq!(orphan.len(), 1, "the server made it");
    assert_eq!(std::fs::read_to_string(&key).unwrap(), old_secret);

    let out = rotate("30s");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = live(&ss, "service-token");
    assert_eq!(
        left.len(),
        1,
        "old and the unanswered one retired: {left:?}"
    );
    assert!(left[0].0 != old && left[0].0 != orphan[0], "{left:?}");
    assert!(authenticates(
        &ss,
        "service-token",
        &std::fs::read_to_string(&key).unwrap()
    ));
}
