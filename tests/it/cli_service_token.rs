//! `sts service-token` end to end against a real `sts-sandbox` (CONTRACT §2, §3).

use chrono::Utc;
use serde_json::json;

use crate::cli_util::{admin, named, run, server_tokens, token_id};
use crate::common::{Sandbox, TestEnv};

#[test]
fn docs_examples_work_verbatim_in_text() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let created = admin(
        &env,
        &sb,
        &[
            "service-token",
            "create",
            "--name",
            "my-service-token",
            "--roles",
            "stackstate-k8s-troubleshooter",
        ],
    )
    .ok();
    assert!(
        created
            .stdout
            .starts_with("✅ Service token created: svctok-")
    );
    assert_eq!(created.stdout.lines().count(), 1);
    snap!("create", created.stdout);

    admin(
        &env,
        &sb,
        &[
            "service-token",
            "create",
            "-n",
            "another",
            "--roles",
            "a,b",
            "--expiration",
            "2030-05-22",
            "--dedicatedSubject",
            "someone",
        ],
    )
    .ok();
    let listed = admin(&env, &sb, &["service-token", "list"]).ok();
    snap!("list", listed.stdout);

    let id = token_id(&sb, "my-service-token");
    let deleted = admin(&env, &sb, &["service-token", "delete", &id.to_string()]).ok();
    assert_eq!(deleted.stdout, format!("✅ Service token deleted: {id}\n"));
    snap!("delete", deleted.stdout);

    let id = token_id(&sb, "another");
    admin(
        &env,
        &sb,
        &["service-token", "delete", "--id", &id.to_string()],
    )
    .ok();
    let empty = admin(&env, &sb, &["service-token", "list"]).ok();
    assert_eq!(empty.stdout, "No service tokens found.\n");
    assert_eq!(sb.request_count("GET /api/server/info"), 0);
}

#[test]
fn json_shapes_follow_the_contract() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let created = admin(
        &env,
        &sb,
        &[
            "service-token",
            "create",
            "-n",
            "j",
            "--roles",
            "r",
            "-o",
            "json",
        ],
    )
    .ok();
    let v = created.json();
    let obj = v["service-token"]
        .as_object()
        .expect("service-token object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["name", "token"]);
    assert_eq!(v.as_object().unwrap().len(), 1);
    assert!(obj["token"].as_str().unwrap().starts_with("svctok-"));
    assert!(
        created
            .stdout
            .starts_with("{\n  \"service-token\": {\n    \"name\"")
    );

    let with_exp = admin(
        &env,
        &sb,
        &[
            "service-token",
            "create",
            "-n",
            "k",
            "--roles",
            "r",
            "--expiration",
            "2030-05-22",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(
        with_exp["service-token"]["expiration"],
        json!(1_905_638_400_000i64)
    );

    let list = admin(&env, &sb, &["service-token", "list", "-o", "json"])
        .ok()
        .json();
    let items = list["service-tokens"]
        .as_array()
        .expect("service-tokens array");
    assert_eq!(list.as_object().unwrap().len(), 1);
    // The server's objects, as the server sends them (sorted by name).
    let mut server = server_tokens(&sb);
    server.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    assert_eq!(items, &server);

    let id = token_id(&sb, "j");
    let one = admin(
        &env,
        &sb,
        &[
            "service-token",
            "delete",
            "-i",
            &id.to_string(),
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(one, json!({"deleted-service-token": id}));
}

#[test]
fn list_is_sorted_by_name() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    for name in ["charlie", "alpha", "bravo"] {
        sb.create_service_token(name, &["r"]);
    }
    let text = admin(&env, &sb, &["service-token", "list"]).ok().stdout;
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(" | ").nth(1).unwrap().trim())
        .collect();
    assert_eq!(names, ["alpha", "bravo", "charlie"]);
    let json = admin(&env, &sb, &["-o", "json", "service-token", "list"])
        .ok()
        .json();
    let names: Vec<&str> = json["service-tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "bravo", "charlie"]);
}

#[test]
fn roles_repeat_and_split_and_expiration_date_is_sent_as_expiry_date() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    admin(
        &env,
        &sb,
        &[
            "service-token",
            "create",
            "--name",
            "three",
            "--roles",
            "a,b",
            "--roles",
            "c",
            "--expiration",
            "2030-05-22",
        ],
    )
    .ok();
    let list = admin(&env, &sb, &["service-token", "list", "-o", "json"])
        .ok()
        .json();
    let t = named(list["service-tokens"].as_array().unwrap(), "three");
    assert_eq!(t["roles"], json!(["a", "b", "c"]));
    assert_eq!(t["expiration"], json!(1_905_638_400_000i64));
    assert!(
        t.get("dedicatedSubject").is_none(),
        "sent only when given: {t}"
    );
}

#[test]
fn expiration_as_duration_and_rfc3339() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let before = Utc::now().timestamp_millis();
    admin(
        &env,
        &sb,
        &[
            "service-token",
            "create",
            "-n",
            "d",
            "--roles",
            "r",
            "--expiration",
            "30d",
        ],
    )
    .ok();
    let after = Utc::now().timestamp_millis();
    admin(
        &env,
        &sb,
        &[
            "service-token",
            "create",
            "-n",
            "t",
            "--roles",
            "r",
            "--expiration",
            "2031-01-02T03:04:05Z",
        ],
    )
    .ok();
    let tokens = server_tokens(&sb);
    let exp = named(&tokens, "d")["expiration"].as_i64().unwrap();
    let month = 30 * 86_400_000;
    assert!(
        exp >= before + month - 1000 && exp <= after + month + 1000,
        "{exp}"
    );
    assert_eq!(
        named(&tokens, "t")["expiration"],
        json!(1_925_089_445_000i64)
    );
}

#[test]
fn bad_expirations_fail_before_any_request() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let today = Utc::now().format("%Y-%m-%d").to_string();
    for bad in ["2001-01-01", "soon", today.as_str(), "0s", "2030-13-01"] {
        let r = admin(
            &env,
            &sb,
            &[
                "service-token",
                "create",
                "-n",
                "x",
                "--roles",
                "r",
                "--expiration",
                bad,
            ],
        )
        .fails(3);
        assert!(r.stderr.contains("expiration"), "{}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    assert_eq!(sb.api_request_total(), 0);
}

#[test]
fn dedicated_subject_under_both_spellings() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    admin(
        &env,
        &sb,
        &[
            "service-token",
            "create",
            "-n",
            "camel",
            "--roles",
            "r",
            "--dedicatedSubject",
            "s1",
        ],
    )
    .ok();
    admin(
        &env,
        &sb,
        &[
            "service-token",
            "create",
            "-n",
            "kebab",
            "--roles",
            "r",
            "--dedicated-subject",
            "s2",
        ],
    )
    .ok();
    let tokens = server_tokens(&sb);
    assert_eq!(named(&tokens, "camel")["dedicatedSubject"], "s1");
    assert_eq!(named(&tokens, "kebab")["dedicatedSubject"], "s2");
}

#[test]
fn a_created_token_authenticates_the_next_command() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let created = admin(
        &env,
        &sb,
        &[
            "service-token",
            "create",
            "-n",
            "ci",
            "--roles",
            "stackstate-admin",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    let token = created["service-token"]["token"]
        .as_str()
        .unwrap()
        .to_string();

    // Through STS_CLI_SERVICE_TOKEN.
    let listed = run(env
        .sts_at(&sb.url, &token, false)
        .args(["service-token", "list"]))
    .ok();
    assert!(listed.stdout.contains(" | ci "), "{}", listed.stdout);

    // Through `--service-token -` and stdin.
    let listed = run(env
        .sts()
        .args([
            "service-token",
            "list",
            "--url",
            &sb.url,
            "--service-token",
            "-",
        ])
        .write_stdin(format!("  {token}\n")))
    .ok();
    assert!(listed.stdout.contains(" | ci "));

    // A flag group beats the env group: a bad env token does not matter.
    run(env.sts_at(&sb.url, "svctok-wrong", false).args([
        "service-token",
        "list",
        "--service-token",
        &token,
    ]))
    .ok();

    // An empty env var counts as unset.
    run(env
        .sts_at(&sb.url, &token, false)
        .env("STS_CLI_API_TOKEN", "")
        .args(["service-token", "list"]))
    .ok();
}

#[test]
fn delete_several_ids_tries_each_and_exits_with_the_first_failure() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    sb.create_service_token("one", &["r"]);
    sb.create_service_token("two", &["r"]);
    let (one, two) = (token_id(&sb, "one"), token_id(&sb, "two"));
    let r = admin(
        &env,
        &sb,
        &[
            "service-token",
            "delete",
            &one.to_string(),
            "999",
            "--id",
            &two.to_string(),
        ],
    )
    .fails(3);
    assert_eq!(
        r.stdout,
        format!("✅ Service token deleted: {one}\n✅ Service token deleted: {two}\n")
    );
    assert!(
        r.stderr.contains("999") && r.stderr.contains("404"),
        "{}",
        r.stderr
    );
    assert!(server_tokens(&sb).is_empty());
    assert_eq!(sb.request_count("DELETE /api/security/tokens/{id}"), 3);

    // JSON: the list of the deleted ids, the failure as JSON on stderr.
    sb.create_service_token("three", &["r"]);
    sb.create_service_token("four", &["r"]);
    let (three, four) = (token_id(&sb, "three"), token_id(&sb, "four"));
    let r = admin(
        &env,
        &sb,
        &[
            "service-token",
            "delete",
            &three.to_string(),
            &four.to_string(),
            "1",
            "-o",
            "json",
        ],
    )
    .fails(3);
    assert_eq!(r.json(), json!({"deleted-service-token": [three, four]}));
    let err = r.stderr_json();
    assert_eq!(err["error"], true);
    assert_eq!(err["status"], 404);
}

#[test]
fn one_request_per_command_and_never_server_info() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    admin(&env, &sb, &["service-token", "list"]).ok();
    assert_eq!(sb.request_count("GET /api/security/tokens"), 1);
    admin(
        &env,
        &sb,
        &["service-token", "create", "-n", "a", "--roles", "r"],
    )
    .ok();
    assert_eq!(sb.request_count("POST /api/security/tokens"), 1);
    let id = token_id(&sb, "a");
    admin(&env, &sb, &["service-token", "delete", &id.to_string()]).ok();
    assert_eq!(sb.request_count("DELETE /api/security/tokens/{id}"), 1);
    assert_eq!(sb.request_count("GET /api/server/info"), 0);
    // The admin API helper made one GET of its own.
    assert_eq!(sb.api_request_total(), 4);
}

#[test]
fn global_options_work_before_and_after_the_sub_command() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let before = run(env.sts().args([
        "--url",
        &sb.url,
        "--api-token",
        &sb.admin_token,
        "-o",
        "json",
        "service-token",
        "list",
    ]))
    .ok();
    let after = run(env.sts().args([
        "service-token",
        "list",
        "--url",
        &sb.url,
        "--api-token",
        &sb.admin_token,
        "-o",
        "json",
    ]))
    .ok();
    assert_eq!(before.json(), json!({"service-tokens": []}));
    assert_eq!(after.json(), json!({"service-tokens": []}));
    // URL and API path joined with exactly one slash.
    run(env.sts().args([
        "service-token",
        "list",
        "--url",
        &format!("{}//", sb.url),
        "--api-path",
        "//api/",
        "--api-token",
        &sb.admin_token,
    ]))
    .ok();
}

#[test]
fn no_color_turns_symbols_into_words() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let args = ["service-token", "create", "-n", "c", "--roles", "r"];
    let r = admin(&env, &sb, &[&args[..], &["--no-color"]].concat()).ok();
    assert!(
        r.stdout
            .starts_with("[SUCCESS] Service token created: svctok-"),
        "{}",
        r.stdout
    );
    let r = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .env("NO_COLOR", "1")
        .args(args))
    .ok();
    assert!(r.stdout.starts_with("[SUCCESS] "));
    let r = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .env("TERM", "dumb")
        .args(args))
    .ok();
    assert!(r.stdout.starts_with("[SUCCESS] "));
    // Merely not a terminal: symbols stay, no ANSI anywhere.
    let r = admin(&env, &sb, &args).ok();
    assert!(r.stdout.starts_with("✅ "));
    assert!(!r.stdout.contains('\x1b'));
    let r = run(env
        .sts_at(&sb.url, "bad", true)
        .env("NO_COLOR", "1")
        .args(["service-token", "list"]))
    .fails(4);
    assert!(r.stderr.starts_with("[ERROR] "), "{}", r.stderr);
}

#[test]
fn verbose_logs_requests_and_never_secrets() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let r = admin(&env, &sb, &["service-token", "list", "-v"]).ok();
    assert!(r.stderr.contains("> GET "), "{}", r.stderr);
    assert!(r.stderr.contains("< 200 OK in "), "{}", r.stderr);
    let r = admin(
        &env,
        &sb,
        &["service-token", "create", "-n", "v", "--roles", "r", "-vv"],
    )
    .ok();
    let token = r.stdout.trim().rsplit(' ').next().unwrap().to_string();
    assert!(token.starts_with("svctok-"));
    assert!(r.stderr.contains("X-API-Token: ***"), "{}", r.stderr);
    assert!(r.stderr.contains("User-Agent: sts/"), "{}", r.stderr);
    assert!(r.stderr.contains("\"token\":\"***\""), "{}", r.stderr);
    assert!(!r.stderr.contains(&token), "the secret leaked into the log");
    assert!(
        !r.stderr.contains(&sb.admin_token),
        "the admin token leaked into the log"
    );
    assert_eq!(r.stdout.matches(&token).count(), 1);
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    // One client for all the creates (a client per request is slow to build).
    let http = sb.http();
    for i in 0..1200 {
        let resp = http
            .post(format!("{}/security/tokens", sb.api()))
            .header("X-API-Token", &sb.admin_token)
            .header("Content-Type", "application/json")
            .body(
                json!({"name": format!("token-{i:05}-with-a-longish-name"),
                       "roles": ["stackstate-k8s-troubleshooter"]})
                .to_string(),
            )
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }
    let sts = env!("CARGO_BIN_EXE_sts");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(r#""$STS" service-token list | head -1; echo "rc=${PIPESTATUS[0]}" >&2"#)
        .env("STS", sts)
        .env("STS_CLI_URL", &sb.url)
        .env("STS_CLI_API_TOKEN", &sb.admin_token)
        .env("HOME", env.home())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert_eq!(stderr.trim(), "rc=0", "{stderr}");
}

/// A list whose answer is large enough to be kept as its text (256 KiB and more, issue 24) reads
/// as the server's rows sorted by name, the server's order kept among equal names, in every
/// format, and a filter keeps the same rows.
#[test]
fn a_large_list_is_the_servers_rows_sorted_by_name_in_every_format() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    // Seeded twice: the second run's names come again, after the first's.
    for n in [6_000, 18_000] {
        let (status, body) = crate::common::send_json(
            sb.http()
                .post(format!("{}/_sandbox/seed", sb.url))
                .header("X-API-Token", &sb.admin_token),
            Some(json!({ "service_tokens": n })),
        );
        assert!(status < 300, "{body}");
    }
    let server = server_tokens(&sb);
    assert!(serde_json::to_string(&server).unwrap().len() > 2 * 1024 * 1024);
    let mut sorted = server.clone();
    sorted.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let ids: Vec<String> = sorted.iter().map(|t| t["id"].to_string()).collect();
    assert_ne!(sorted, server, "the answer is out of order");

    let json = admin(&env, &sb, &["service-token", "list", "-o", "json"])
        .ok()
        .json();
    assert_eq!(json["service-tokens"].as_array().unwrap(), &sorted);

    let jsonl = admin(&env, &sb, &["service-token", "list", "-o", "jsonl"]).ok();
    let lines: Vec<serde_json::Value> = jsonl
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let line_ids: Vec<String> = lines
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(line_ids, ids);
    assert!(
        lines
            .iter()
            .zip(&sorted)
            .all(|(l, t)| l["name"] == t["name"])
    );

    let text = admin(&env, &sb, &["service-token", "list"]).ok();
    let rows: Vec<&str> = text.stdout.lines().skip(1).collect();
    let text_ids: Vec<&str> = rows
        .iter()
        .map(|r| r.split(" | ").next().unwrap().trim())
        .collect();
    assert_eq!(text_ids, ids);
    assert!(rows[0].contains("[stackstate-admin]"), "{}", rows[0]);

    let name = "seed-00002";
    let two = admin(
        &env,
        &sb,
        &["service-token", "list", "--name", name, "-o", "json"],
    )
    .ok()
    .json();
    let expected: Vec<&serde_json::Value> = server.iter().filter(|t| t["name"] == name).collect();
    assert_eq!(expected.len(), 2);
    assert_eq!(
        two["service-tokens"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        expected
    );
}
