//! No echoed credential is printed (CONTRACT §6): servers that echo the credential back in a
//! body, a header and a field that does not decode; a create answer that is not JSON; secrets
//! shorter than 8 characters that must not break JSON; and hostile control characters (ANSI CSI
//! and OSC, the one-byte CSI U+009B, the bidi override U+202E) that must reach no terminal raw
//! through tables, errors, warnings (rotate) or logs.

use crate::cli_util::{Run, run};
use crate::common::TestEnv;
use crate::common::loopback::{Request, Server, response};

const TOKEN: &str = "svctok-echoed-credential-0123456789";

/// The credential a request carried, whichever header it came in.
fn credential(r: &Request) -> String {
    r.head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            matches!(
                name.to_ascii_lowercase().as_str(),
                "x-api-key" | "x-api-token" | "x-api-servicebearer"
            )
            .then(|| value.trim().to_string())
        })
        .unwrap_or_default()
}

fn every_way(env: &TestEnv, url: &str, token: &str, args: &[&str]) -> Vec<(String, Run)> {
    let mut runs = Vec::new();
    for extra in [
        &[][..],
        &["-o", "json"][..],
        &["-vv"][..],
        &["-vv", "-o", "json"][..],
    ] {
        let r = run(env.sts_at(url, token, false).args(args).args(extra));
        runs.push((format!("{args:?} {extra:?}"), r));
    }
    runs
}

fn assert_nowhere(runs: &[(String, Run)], secret: &str) {
    for (what, r) in runs {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "{what} shows the secret:\n{}\n{}",
            r.stdout,
            r.stderr
        );
        let r = Run {
            code: r.code,
            stdout: r.stdout.clone(),
            stderr: r.stderr.clone(),
        };
        r.no_panic();
    }
}

#[test]
fn a_401_echoing_the_token_in_body_and_headers_shows_it_nowhere() {
    let env = TestEnv::new();
    let server = Server::start(|r| {
        let token = credential(r);
        response(
            401,
            &[
                ("Content-Type", "text/plain"),
                ("Set-Cookie", &format!("session={token}; Path=/")),
                ("X-Echo", &format!("you sent {token}")),
            ],
            &format!("unknown token {token}\n"),
        )
    });
    let runs = every_way(&env, &server.url, TOKEN, &["service-token", "list"]);
    for (what, r) in &runs {
        assert_eq!(r.code, 4, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains("unknown token ***"),
            "{what}: {}",
            r.stderr
        );
    }
    assert_nowhere(&runs, TOKEN);
    // -vv showed the headers, masked.
    assert!(
        runs[2].1.stderr.contains("set-cookie: session=***"),
        "{}",
        runs[2].1.stderr
    );
    // The JSON error is JSON.
    runs[1].1.stderr_json();
}

#[test]
fn a_400_json_message_and_a_field_that_does_not_decode_show_no_token() {
    let env = TestEnv::new();
    let server = Server::start(|r| {
        let token = credential(r);
        if r.line().starts_with("DELETE") {
            let body = format!(r#"{{"_type":"X","message":"token {token} may not delete"}}"#);
            return response(400, &[("Content-Type", "application/json")], &body);
        }
        // A list whose id is the token: the decode error quotes the bad value.
        let body = format!(r#"[{{"id":"{token}","name":"n","roles":[]}}]"#);
        response(200, &[("Content-Type", "application/json")], &body)
    });
    let list = every_way(&env, &server.url, TOKEN, &["service-token", "list"]);
    for (what, r) in &list {
        assert_eq!(r.code, 3, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains("could not be decoded"),
            "{what}: {}",
            r.stderr
        );
    }
    assert_nowhere(&list, TOKEN);
    let delete = every_way(&env, &server.url, TOKEN, &["service-token", "delete", "1"]);
    for (what, r) in &delete {
        assert_eq!(r.code, 3, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains("token *** may not delete"),
            "{what}: {}",
            r.stderr
        );
    }
    assert_nowhere(&delete, TOKEN);
}

#[test]
fn a_create_answer_that_is_not_json_shows_no_secret_at_vv() {
    let env = TestEnv::new();
    let fresh = "svctok-freshly-created-secret-42424242";
    let server = Server::start(move |_| {
        let body = format!(r#"{{"name":"n","token":"{fresh}", oops"#);
        response(200, &[("Content-Type", "application/json")], &body)
    });
    let runs = every_way(
        &env,
        &server.url,
        TOKEN,
        &["service-token", "create", "--name", "n", "--roles", "r"],
    );
    for (what, r) in &runs {
        assert_eq!(r.code, 3, "{what}: {}", r.stderr);
    }
    assert_nowhere(&runs, fresh);
    assert_nowhere(&runs, TOKEN);
}

#[test]
fn a_created_secret_shows_once_on_stdout_and_an_echoed_credential_nowhere() {
    let env = TestEnv::new();
    let fresh = "svctok-created-once-secret-31313131";
    let server = Server::start(move |r| {
        let token = credential(r);
        let body = format!(r#"{{"name":"n","token":"{fresh}","note":"made with {token}"}}"#);
        response(200, &[("Content-Type", "application/json")], &body)
    });
    let runs = every_way(
        &env,
        &server.url,
        TOKEN,
        &["service-token", "create", "--name", "n", "--roles", "r"],
    );
    assert_nowhere(&runs, TOKEN);
    for (what, r) in &runs {
        assert_eq!(r.code, 0, "{what}: {}", r.stderr);
        assert_eq!(r.stdout.matches(fresh).count(), 1, "{what}: {}", r.stdout);
        assert!(!r.stderr.contains(fresh), "{what}: {}", r.stderr);
    }
    let json = runs[1].1.json();
    assert_eq!(json["service-token"]["token"], fresh);
    assert_eq!(json["service-token"]["note"], "made with ***");
}

#[test]
fn short_secrets_are_masked_only_as_whole_values_so_json_stays_json() {
    let env = TestEnv::new();
    // A (silly) token that is also a JSON literal and a word of the server's answer.
    let token = "true";
    let server = Server::start(|_| {
        let body =
            r#"[{"id":1,"name":"true","description":"true story","roles":["true"],"extra":true}]"#;
        response(200, &[("Content-Type", "application/json")], body)
    });
    let r =
        run(env
            .sts_at(&server.url, token, false)
            .args(["service-token", "list", "-o", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let t = &v["service-tokens"][0];
    assert_eq!(t["name"], "***");
    assert_eq!(t["roles"][0], "***");
    assert_eq!(t["description"], "true story");
    assert_eq!(t["extra"], true);
}

// ---------------------------------------------------------------------------------------------
// Control characters and bidi overrides

const HOSTILE: &str =
    "evil\u{1b}[31mred\u{1b}]8;;http://x.example\u{7}link\u{9b}2Jcsi\u{202e}rtl\u{1b}[2K";

fn assert_no_raw_controls(what: &str, r: &Run) {
    for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        let raw: Vec<char> = text
            .chars()
            .filter(|c| (c.is_control() && *c != '\n') || matches!(c, '\u{202a}'..='\u{202e}'))
            .collect();
        assert!(raw.is_empty(), "{what}: raw {raw:?} on {stream}:\n{text}");
    }
}

#[test]
fn hostile_control_characters_are_escaped_in_tables_errors_warnings_and_logs() {
    let env = TestEnv::new();
    let name = HOSTILE.to_string();
    let server = Server::start(move |r| {
        let json = serde_json::json!([{"id": 7, "name": name, "roles": [name],
            "dedicatedSubject": name, "expiration": 4102444800000i64,
            "lastUpdateTimestamp": 4070908800000i64}]);
        let line = r.line().to_string();
        if line.starts_with("GET") {
            return response(
                200,
                &[
                    ("Content-Type", "application/json"),
                    ("X-Hostile", "a\u{9b}31m\u{202e}b"),
                ],
                &json.to_string(),
            );
        }
        if line.starts_with("POST") {
            let body = serde_json::json!({"name": name, "token": "svctok-hostile-new-0000000"});
            return response(
                200,
                &[("Content-Type", "application/json")],
                &body.to_string(),
            );
        }
        let body = serde_json::json!({"message": name});
        response(
            400,
            &[("Content-Type", "application/json")],
            &body.to_string(),
        )
    });
    let cases: Vec<Vec<&str>> = vec![
        vec!["service-token", "list"],
        vec!["service-token", "list", "-o", "json"],
        vec!["service-token", "list", "-vv"],
        vec!["service-token", "delete", "7"],
        vec!["service-token", "delete", "7", "-o", "json"],
        vec!["service-token", "delete", "7", "8"],
        // Rotate: the second list shows no new id, so a warning quotes the name; the delete
        // of the old one fails with the hostile message.
        vec!["service-token", "rotate", "--id", "7"],
        vec!["service-token", "rotate", "--id", "7", "-vv"],
    ];
    for args in cases {
        let r = run(env.sts_at(&server.url, TOKEN, false).args(&args));
        let what = format!("{args:?}");
        assert!(
            r.code == 0 || r.code == 3,
            "{what}: {} {}",
            r.code,
            r.stderr
        );
        assert_no_raw_controls(&what, &r);
        assert!(
            r.stdout.contains("\\u001b") || r.stderr.contains("\\u001b"),
            "{what}: escaped form shown:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    let json =
        run(env
            .sts_at(&server.url, TOKEN, false)
            .args(["service-token", "list", "-o", "json"]));
    // Still the same value once decoded.
    assert_eq!(json.json()["service-tokens"][0]["name"], HOSTILE);
}

#[test]
fn a_table_of_plain_and_hostile_rows_escapes_each_hostile_cell_and_keeps_its_columns() {
    // Rows as they alternate in a list: plain ones, one with control characters, one that
    // echoes the credential, each made twice (widths, then lines).
    let env = TestEnv::new();
    let server = Server::start(move |_| {
        let rows: Vec<serde_json::Value> = [
            ("a-plain", "r"),
            ("b\u{1b}[31mred", "r\u{202e}"),
            ("c-plain", "r"),
            (TOKEN, "r"),
            ("e-plain", "r"),
        ]
        .iter()
        .enumerate()
        .map(|(i, (name, role))| serde_json::json!({"id": i + 1, "name": name, "roles": [role]}))
        .collect();
        response(
            200,
            &[("Content-Type", "application/json")],
            &serde_json::Value::from(rows).to_string(),
        )
    });
    let r = run(env
        .sts_at(&server.url, TOKEN, false)
        .args(["service-token", "list"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_raw_controls("list", &r);
    assert!(!r.stdout.contains(TOKEN), "{}", r.stdout);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", r.stdout);
    let roles_at = lines[0].find("| ROLES").unwrap();
    for line in &lines[1..] {
        assert_eq!(line.find("| ["), Some(roles_at), "{}", r.stdout);
    }
    assert!(lines[2].contains("b\\u001b[31mred"), "{}", r.stdout);
    assert!(lines[2].contains("[r\\u202e]"), "{}", r.stdout);
    assert!(
        lines[1].contains("| a-plain ") && lines[4].contains("| e-plain "),
        "{}",
        r.stdout
    );
    assert!(lines[5].contains("| *** "), "{}", r.stdout);
}

#[test]
fn a_config_file_with_control_characters_is_shown_escaped() {
    let env = TestEnv::new();
    let config = env.dir.path().join("config.toml");
    std::fs::write(
        &config,
        "current-context = \"a\\u001b]0;x\\u0007\"\n\n[contexts.\"a\\u001b]0;x\\u0007\"]\n\
         url = \"http://h\\u009b.example\\u202e\"\nauth = \"api-token\"\ncredential-id = \"c\"\n",
    )
    .unwrap();
    for args in [
        &["context", "list"][..],
        &["context", "show"][..],
        &["context", "list", "-o", "json"][..],
    ] {
        let r = run(env.sts().arg("--config").arg(&config).args(args));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert_no_raw_controls(&format!("{args:?}"), &r);
    }
}
