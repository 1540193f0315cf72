//! Bounded memory and a whole-command deadline against hostile servers (CONTRACT §7, issue 25
//! finding 1): a server of the test's own that pages forever with large pages, or answers a
//! million `{}`, or pages forever slowly. The peak memory of the `sts` child is read from the
//! kernel (GNU `time`'s `%M`), and the error must name the bound that was hit.

use std::process::Stdio;
use std::time::Duration;

use crate::cli_util::Run;
use crate::common::TestEnv;
use crate::common::loopback::{Server, response};

/// The peak memory the tests allow an `sts` run, whatever the server sends.
const PEAK_LIMIT_KIB: u64 = 200 * 1024;

/// Runs `sts` with these args and env vars (and a clean home) under GNU `time`, and returns what
/// it left and its peak resident memory in KiB. (`time` forks `sts` from its own small process:
/// a child forked from the test process itself would count the test's memory as its own.)
fn run_measured(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> (Run, u64) {
    let home = env.home();
    for sub in [".config", ".local/share", ".cache", "runtime"] {
        std::fs::create_dir_all(home.join(sub)).unwrap();
    }
    let peak_file = env.dir.path().join("peak-rss");
    let mut cmd = std::process::Command::new("time");
    cmd.args(["-f", "%M", "-o"])
        .arg(&peak_file)
        .arg(env!("CARGO_BIN_EXE_sts"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_RUNTIME_DIR", home.join("runtime"))
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .expect("run sts under time (GNU time, scripts/install-test-tools)");
    let peak = std::fs::read_to_string(&peak_file).unwrap();
    let peak: u64 = peak
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in {peak:?}"));
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, peak)
}

/// A page of 100 Qualytics service users, each with a name of this many bytes.
fn users_page(name_bytes: usize, first_id: usize) -> String {
    let name = "n".repeat(name_bytes);
    let users: Vec<String> = (0..100)
        .map(|i| {
            let id = first_id + i;
            format!(
                r#"{{"id": {id}, "user_id": "svc_{id}@service", "name": "{name}", "role": "Admin", "teams": []}}"#
            )
        })
        .collect();
    format!(
        r#"{{"items": [{}], "total": 1000000, "page": 1, "size": 100}}"#,
        users.join(",")
    )
}

#[test]
fn service_user_list_against_endless_large_pages_stops_at_the_bound() {
    // Every page is full (100 users of 150 KB names, 15 MB), forever.
    let server = Server::start(|_| {
        response(
            200,
            &[("Content-Type", "application/json")],
            &users_page(150_000, 1),
        )
    });
    let env = TestEnv::new();
    let (r, peak) = run_measured(
        &env,
        &["--platform", "qualytics", "service-user", "list"],
        &[("STS_CLI_URL", &server.url), ("STS_CLI_API_TOKEN", "t")],
    );
    let r = r.fails(3);
    assert!(r.stderr.contains("32 MiB"), "{}", r.stderr);
    assert!(
        r.stderr.contains("bound on what one command reads"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");
    assert!(peak < PEAK_LIMIT_KIB, "peak RSS {peak} KiB");
    // It stopped early: the bound, not the page cap, ended it.
    assert!(server.requests().len() <= 3, "{}", server.requests().len());
}

/// `service-token list -o OUTPUT` of `platform` against a server that always answers `body`:
/// the run and its peak RSS.
fn list_measured(
    body: &std::sync::Arc<String>,
    platform: &str,
    outputs: &[&str],
) -> Vec<(Run, u64)> {
    let body = std::sync::Arc::clone(body);
    let server =
        Server::start(move |_| response(200, &[("Content-Type", "application/json")], &body));
    let env = TestEnv::new();
    outputs
        .iter()
        .map(|output| {
            run_measured(
                &env,
                &[
                    "--platform",
                    platform,
                    "service-token",
                    "list",
                    "-o",
                    output,
                ],
                &[("STS_CLI_URL", &server.url), ("STS_CLI_API_TOKEN", "t")],
            )
        })
        .collect()
}

#[test]
fn a_million_empty_objects_stop_at_the_bound_on_every_platform() {
    let million = format!("[{}]", vec!["{}"; 1_000_000].join(","));
    let body = std::sync::Arc::new(million);
    for platform in ["stackstate", "posit-connect", "qualytics"] {
        for (r, peak) in list_measured(&body, platform, &["text", "json"]) {
            let r = r.fails(3);
            assert!(
                r.stderr.contains("200000 JSON objects"),
                "{platform}: {}",
                r.stderr
            );
            assert_eq!(r.stdout, "", "{platform}");
            assert!(peak < PEAK_LIMIT_KIB, "{platform}: peak RSS {peak} KiB");
        }
    }
}

#[test]
fn a_million_and_one_scalars_stop_at_the_bound_on_values() {
    let body = std::sync::Arc::new(format!("[{}]", vec!["0"; 1_000_001].join(",")));
    let (r, peak) = list_measured(&body, "posit-connect", &["text"]).remove(0);
    let r = r.fails(3);
    assert!(r.stderr.contains("1000000 JSON values"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert!(peak < PEAK_LIMIT_KIB, "peak RSS {peak} KiB");
}

/// The costliest answers the bounds let through: as many empty rows as the object bound allows,
/// and one row with as many members as the value bound allows. Each is read in full, and
/// memory stays under the same peak on every platform.
#[test]
fn the_costliest_answers_within_the_bounds_stay_under_the_peak() {
    let empty_rows = format!("[{}]", vec!["{}"; 199_000].join(","));
    let members: Vec<String> = (0..990_000).map(|i| format!(r#""k{i}":0"#)).collect();
    let wide_row = format!(r#"[{{"name":"wide",{}}}]"#, members.join(","));
    for (what, body) in [("empty rows", empty_rows), ("a wide row", wide_row)] {
        let body = std::sync::Arc::new(body);
        for platform in ["stackstate", "posit-connect", "qualytics"] {
            let runs = list_measured(&body, platform, &["text", "json"]);
            for ((r, peak), output) in runs.into_iter().zip(["text", "json"]) {
                let r = r.ok();
                // Read in full: every empty row is a line of the table or an object of the JSON.
                let shown = match (what, output) {
                    ("empty rows", "text") => r.stdout.lines().count() == 199_001,
                    ("empty rows", _) => {
                        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
                        v.as_object()
                            .and_then(|o| o.values().next())
                            .and_then(|l| l.as_array())
                            .map(Vec::len)
                            == Some(199_000)
                    }
                    _ => r.stdout.contains("wide"),
                };
                assert!(shown, "{what}, {platform}, {output}: not read in full");
                assert!(
                    peak < PEAK_LIMIT_KIB,
                    "{what}, {platform}, {output}: peak RSS {peak} KiB"
                );
            }
        }
    }
}

#[test]
fn the_pages_of_several_contexts_share_one_bound() {
    // Four contexts, each answered with a 12 MB list: each alone is fine, together they pass the
    // bound, so however many run at once, memory stays bounded and some context names the bound.
    let name = "x".repeat(120_000);
    let tokens: Vec<String> = (0..100)
        .map(|i| format!(r#"{{"id": {i}, "name": "{name}", "roles": []}}"#))
        .collect();
    let body = std::sync::Arc::new(format!("[{}]", tokens.join(",")));
    let env = TestEnv::new();
    let mut servers = Vec::new();
    let mut config = String::new();
    let mut credentials = String::new();
    for i in 0..4 {
        let body = std::sync::Arc::clone(&body);
        let server =
            Server::start(move |_| response(200, &[("Content-Type", "application/json")], &body));
        config.push_str(&format!(
            "[contexts.c{i}]\nurl = \"{}\"\nauth = \"api-token\"\nstorage = \"file\"\n\
             credential-id = \"id{i}\"\n\n",
            server.url
        ));
        credentials.push_str(&format!("id{i} = \"token-{i}\"\n"));
        servers.push(server);
    }
    let dir = env.config_home().join("sts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), config).unwrap();
    std::fs::write(dir.join("credentials.toml"), credentials).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("credentials.toml"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let (r, peak) = run_measured(&env, &["service-token", "list", "-A"], &[]);
    assert!(peak < PEAK_LIMIT_KIB, "peak RSS {peak} KiB");
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("32 MiB"), "{}", r.stderr);
    // Every server was asked (the bound is on the total, not a refusal up front).
    for s in &servers {
        assert_eq!(s.requests().len(), 1);
    }
}

#[test]
fn timeout_ends_a_server_that_pages_forever() {
    // Full pages of small users, each after a pause: a hundred of them take far longer than the
    // deadline, which bounds the whole command, pages included.
    let server = Server::start(|_| {
        std::thread::sleep(Duration::from_millis(300));
        response(
            200,
            &[("Content-Type", "application/json")],
            &users_page(8, 1),
        )
    });
    let env = TestEnv::new();
    let (r, _) = run_measured(
        &env,
        &[
            "--platform",
            "qualytics",
            "service-user",
            "list",
            "--timeout",
            "5s",
        ],
        &[("STS_CLI_URL", &server.url), ("STS_CLI_API_TOKEN", "t")],
    );
    let r = r.fails(4);
    assert!(
        r.stderr.contains("within the timeout of 5s (--timeout)"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");
    let pages = server.requests().len();
    assert!(pages > 1 && pages < 100, "{pages} pages");
}
