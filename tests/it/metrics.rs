//! Metrics (issue 21, CONTRACT §13): `-o prometheus` on the lists and `sts exporter`, checked by
//! Debian's `promtool` and scraped by a real Prometheus, against real sandboxes of the three
//! platforms, a server that echoes the credential, and a load of 20 contexts × 1,000 tokens.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli_util::run;
use crate::common::loopback::{Request, Server, response};
use crate::common::{
    Sandbox, TestEnv, drain, free_port, now_ms, repo_root, send_signal, wait_within,
};

const DAY_MS: i64 = 86_400_000;
/// How long a wait for an event may take before the test gives up (a guard, not a bound on
/// what is measured).
const PATIENCE: Duration = Duration::from_secs(90);
const ECHOED: &str = "svctok-echoed-into-a-name-0123456789";
const HOSTILE: &str = "q\"uote b\\ack\nslash";

/// `promtool check metrics` on `text`: it must pass.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (scripts/install-test-tools installs it)");
    let mut stdin = child.stdin.take().unwrap();
    let input = text.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        &text[..text.len().min(4000)]
    );
}

/// The samples of `metric` in an exposition: labels text → value.
fn samples(text: &str, metric: &str) -> Vec<(String, String)> {
    let prefix = format!("{metric}{{");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| {
            let (labels, value) = rest.rsplit_once("} ").unwrap();
            (labels.to_string(), value.to_string())
        })
        .collect()
}

fn save(env: &TestEnv, name: &str, url: &str, platform: &str, token: &str, validate: bool) {
    let mut cmd = env.sts();
    cmd.args(["context", "save", "--name", name, "--url", url])
        .args([
            "--platform",
            platform,
            "--api-token",
            "-",
            "--insecure-storage",
        ])
        .write_stdin(format!("{token}\n"));
    if !validate {
        cmd.arg("--skip-validate");
    }
    run(&mut cmd).ok();
}

/// A StackState service token through the sandbox's API; `expires` in epoch ms.
fn create_token(sb: &Sandbox, name: &str, expires: Option<i64>) {
    let mut body = json!({"name": name, "roles": ["stackstate-admin"]});
    if let Some(e) = expires {
        body["expiryDate"] = json!(e);
    }
    let (status, answer) = sb.admin("POST", "/security/tokens", Some(body));
    assert_eq!(status, 200, "{answer}");
}

/// A server that answers every StackState list with one item whose name and description hold
/// the credential the request carried.
fn echo_server() -> Server {
    Server::start(|r: &Request| {
        let credential = r
            .head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("x-api-token")
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_default();
        let item = json!({
            "id": 1,
            "name": format!("echo {credential}"),
            "description": credential,
            "expiration": 1_900_000_000_000i64,
            "roles": [],
        });
        response(
            200,
            &[("Content-Type", "application/json")],
            &json!([item]).to_string(),
        )
    })
}

#[test]
fn one_shot_output_passes_promtool_escapes_names_and_keeps_failures_in_the_data() {
    let env = TestEnv::new();
    let sb = Sandbox::start();
    let expires = now_ms() + 10 * DAY_MS;
    create_token(&sb, HOSTILE, Some(expires));
    create_token(&sb, "forever", None);

    // One context, from env vars: the context label is the server's URL.
    let r = run(env.sts_at(&sb.url, &sb.admin_token, true).args([
        "service-token",
        "list",
        "-o",
        "prometheus",
    ]))
    .ok();
    promtool_check(&r.stdout);
    let expiry = samples(&r.stdout, "sts_credential_expiration_timestamp_seconds");
    assert_eq!(expiry.len(), 1, "{}", r.stdout);
    assert!(
        expiry[0].0.contains(r#"name="q\"uote b\\ack\nslash""#),
        "{}",
        expiry[0].0
    );
    assert!(expiry[0].0.contains(&format!("context=\"{}\"", sb.url)));
    assert_eq!(expiry[0].1.parse::<f64>().unwrap(), expires as f64 / 1000.0);
    assert_eq!(samples(&r.stdout, "sts_credential_info").len(), 2);
    assert_eq!(samples(&r.stdout, "sts_context_up")[0].1, "1");

    // A server that does not answer: `up 0`, exit 0 (the failure is in the data).
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let r = run(env
        .sts_at(&nowhere, "svctok-nowhere-0123456789", false)
        .args(["service-token", "list", "-o", "prometheus"]))
    .ok();
    promtool_check(&r.stdout);
    assert_eq!(
        samples(&r.stdout, "sts_context_up"),
        [(
            format!("context=\"{nowhere}\",platform=\"stackstate\""),
            "0".to_string()
        )]
    );
    assert!(
        r.stderr.contains(&format!("context {nowhere}:")),
        "{}",
        r.stderr
    );

    // -A over a live and a dead context: exit 0, the dead one is `up 0`, a filter applies.
    save(&env, "live", &sb.url, "stackstate", &sb.admin_token, true);
    let dead = format!("http://127.0.0.1:{}", free_port());
    save(
        &env,
        "dead",
        &dead,
        "stackstate",
        "svctok-dead-0123456789",
        false,
    );
    let r = run(env.sts().args([
        "service-token",
        "list",
        "-A",
        "-o",
        "prometheus",
        "--expiring-within",
        "30d",
    ]))
    .ok();
    promtool_check(&r.stdout);
    assert!(r.stderr.contains("context dead:"), "{}", r.stderr);
    let up: BTreeMap<String, String> = samples(&r.stdout, "sts_context_up").into_iter().collect();
    assert_eq!(
        up.get(r#"context="dead",platform="stackstate""#)
            .map(String::as_str),
        Some("0"),
        "{}",
        r.stdout
    );
    assert_eq!(
        up.get(r#"context="live",platform="stackstate""#)
            .map(String::as_str),
        Some("1")
    );
    let info = samples(&r.stdout, "sts_credential_info");
    assert_eq!(
        info.len(),
        1,
        "the filter keeps the expiring one: {}",
        r.stdout
    );
    assert!(
        info[0].0.contains("kind=\"service-token\"") && info[0].0.contains("status=\"active\"")
    );

    // Ingestion API keys, -A.
    crate::cli_util::create_key(&sb, "agent");
    let r = run(env
        .sts()
        .args(["ingestion-api-key", "list", "-A", "-o", "prometheus"]))
    .ok();
    promtool_check(&r.stdout);
    let info = samples(&r.stdout, "sts_credential_info");
    assert_eq!(info.len(), 1, "{}", r.stdout);
    assert!(
        info[0].0.contains("kind=\"ingestion-api-key\"") && info[0].0.contains("name=\"agent\"")
    );

    // Not a list: a usage error.
    run(env.sts().args(["context", "list", "-o", "prometheus"])).fails(3);
    // --fail-if-any still says what matched when nothing failed.
    run(env.sts_at(&sb.url, &sb.admin_token, true).args([
        "service-token",
        "list",
        "-o",
        "prometheus",
        "--fail-if-any",
    ]))
    .fails(7);
}

#[test]
fn an_echoed_credential_appears_in_no_metric() {
    let env = TestEnv::new();
    let server = echo_server();
    let r = run(env.sts_at(&server.url, ECHOED, true).args([
        "service-token",
        "list",
        "-o",
        "prometheus",
    ]))
    .ok();
    promtool_check(&r.stdout);
    assert!(
        !r.stdout.contains(ECHOED) && !r.stderr.contains(ECHOED),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("name=\"echo ***\""), "{}", r.stdout);

    // The exporter too, with the context saved.
    save(&env, "echo", &server.url, "stackstate", ECHOED, false);
    let exporter = Exporter::start(&env, &["--refresh", "1h"]);
    exporter.wait_ready();
    let body = exporter.get("/metrics").1;
    promtool_check(&body);
    assert!(!body.contains(ECHOED), "{body}");
    assert_eq!(samples(&body, "sts_credential_info").len(), 2, "{body}");
    assert!(body.contains("name=\"echo ***\""));
    exporter.stop();
}

/// A running `sts exporter`, killed when dropped.
struct Exporter {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    base: String,
    stderr: Arc<Mutex<String>>,
    client: reqwest::blocking::Client,
}

impl Exporter {
    fn start(env: &TestEnv, args: &[&str]) -> Exporter {
        Exporter::start_with(env, &[], args)
    }

    /// With these extra environment variables (a Secret Service's).
    fn start_with(env: &TestEnv, extra: &[(String, String)], args: &[&str]) -> Exporter {
        let home = env.home();
        for sub in [".config", ".local/share", ".cache", "runtime"] {
            std::fs::create_dir_all(home.join(sub)).unwrap();
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_sts"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_RUNTIME_DIR", home.join("runtime"))
            .envs(extra.iter().map(|(k, v)| (k, v)))
            .args(["exporter", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sts exporter");
        let stderr = drain(child.stderr.take().unwrap());
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("sts exporter listening on ")
            .unwrap_or_else(|| panic!("no start line: {line:?} {}", stderr.lock().unwrap()))
            .to_string();
        let base = url.strip_suffix("/metrics").expect("…/metrics").to_string();
        Exporter {
            child: Some(child),
            base,
            stderr,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .expect("exporter answers");
        let status = resp.status().as_u16();
        (status, resp.text().unwrap())
    }

    /// Waits for `/healthz` to say 200 (the first refresh is done).
    fn wait_ready(&self) {
        let deadline = Instant::now() + PATIENCE;
        while self.get("/healthz").0 != 200 {
            assert!(Instant::now() < deadline, "{}", self.stderr.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The refreshes counted so far (both results).
    fn refreshes(&self) -> u64 {
        let body = self.get("/metrics").1;
        samples(&body, "sts_exporter_refreshes_total")
            .iter()
            .map(|(_, v)| v.parse::<u64>().unwrap())
            .sum()
    }

    /// SIGTERM: it stops with exit 0.
    fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        send_signal(child.id(), "TERM");
        let status = wait_within(&mut child, PATIENCE).expect("the exporter stops on SIGTERM");
        assert_eq!(status.code(), Some(0), "{}", self.stderr.lock().unwrap());
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A raw HTTP exchange: what the server answers to `request` (until it closes).
fn raw(base: &str, request: &str) -> String {
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn the_exporter_answers_only_its_two_paths_and_stops_on_sigterm_and_sigint() {
    let env = TestEnv::new();
    let sb = Sandbox::start();
    create_token(&sb, HOSTILE, Some(now_ms() + 5 * DAY_MS));
    save(&env, "ss", &sb.url, "stackstate", &sb.admin_token, true);
    let exporter = Exporter::start(&env, &["--refresh", "1h"]);
    exporter.wait_ready();
    let (status, body) = exporter.get("/metrics");
    assert_eq!(status, 200);
    promtool_check(&body);
    let expiry = samples(&body, "sts_credential_expiration_timestamp_seconds");
    assert_eq!(expiry.len(), 1, "{body}");
    assert!(expiry[0].0.contains(r#"name="q\"uote b\\ack\nslash""#));
    assert_eq!(exporter.get("/healthz"), (200, "ok\n".to_string()));
    // OpenMetrics for a scraper that asks for it (as Prometheus does): the same samples.
    let resp = exporter
        .client
        .get(format!("{}/metrics", exporter.base))
        .header(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        )
        .send()
        .unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    let om = resp.text().unwrap();
    assert!(
        om.ends_with("# EOF\n") && om.contains("# TYPE sts_credential info\n"),
        "{om}"
    );
    let sample_lines = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(sample_lines(&om), sample_lines(&body));
    assert_eq!(exporter.get("/").0, 404);
    assert_eq!(exporter.get("/metrics/x").0, 404);
    let post = raw(
        &exporter.base,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    assert!(post.contains("Allow: GET, HEAD"), "{post}");
    let garbage = raw(&exporter.base, "\u{1}\u{2} nonsense\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
    let head = raw(
        &exporter.base,
        "HEAD /metrics HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert!(
        head.starts_with("HTTP/1.1 200 ") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    assert!(!exporter.stderr.lock().unwrap().contains("panicked"));
    exporter.stop();

    // SIGINT too.
    let exporter = Exporter::start(&env, &["--refresh", "1h"]);
    exporter.wait_ready();
    let mut child = {
        let mut e = exporter;
        e.child.take().unwrap()
    };
    send_signal(child.id(), "INT");
    assert_eq!(wait_within(&mut child, PATIENCE).unwrap().code(), Some(0));

    // A context named with -c that does not exist: an error before listening.
    let r = run(env
        .sts()
        .args(["exporter", "--listen", "127.0.0.1:0", "-c", "nope"]));
    assert_eq!(r.code, 8, "{}", r.stderr);
}

/// A real Prometheus on loopback with its own storage, scraping `target` every second.
struct Prometheus {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
    log: Arc<Mutex<String>>,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: sts\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let mut child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("prometheus (scripts/install-test-tools installs it)");
        let log = drain(child.stderr.take().unwrap());
        Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
            log,
        }
    }

    fn api(&self, path: &str) -> Option<Value> {
        let resp = reqwest::blocking::get(format!("{}{path}", self.base)).ok()?;
        serde_json::from_str(&resp.text().ok()?).ok()
    }

    /// Waits until `check` holds for the answer of `path`.
    fn wait_for(&self, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(v) = self.api(path).filter(|v| check(v)) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {:?}\n{}",
                self.api(path),
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `query` now: each series' labels and value.
    fn query(&self, query: &str) -> Vec<(Value, f64)> {
        let v = self
            .api(&format!("/api/v1/query?query={query}"))
            .expect("query answer");
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["metric"].clone(),
                    s["value"][1].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Token name → expiry in Unix seconds, as the sandbox lists them (those that expire).
fn expiries(sb: &Sandbox) -> BTreeMap<String, f64> {
    let (path, field) = match sb.platform.as_str() {
        "stackstate" => ("/security/tokens", "expiration"),
        "posit-connect" => ("/v1/system/service-tokens", "expires_at"),
        _ => ("/user-tokens/service", "expiration"),
    };
    let (status, body) = sb.admin("GET", path, None);
    assert_eq!(status, 200, "{body}");
    let items = body.as_array().unwrap_or_else(|| panic!("{body}")).clone();
    items
        .iter()
        .filter_map(|t| {
            let name = t["name"].as_str()?.to_string();
            let at = match &t[field] {
                Value::Number(n) => n.as_f64()? / 1000.0,
                Value::String(s) => {
                    chrono::DateTime::parse_from_rfc3339(s)
                        .ok()?
                        .timestamp_millis() as f64
                        / 1000.0
                }
                _ => return None,
            };
            Some((name, at))
        })
        .collect()
}

#[test]
fn a_real_prometheus_scrapes_three_platforms_and_sees_a_stopped_one_go_down() {
    let env = TestEnv::new();
    let ss = Sandbox::start();
    let posit = Sandbox::start_platform("posit-connect", &[]);
    let qualytics = Sandbox::start_platform("qualytics", &["--service-user", "Loader:Admin"]);
    let now = now_ms();
    create_token(&ss, "ss-soon", Some(now + 5 * DAY_MS));
    create_token(&ss, "ss-forever", None);
    let expires = chrono::DateTime::from_timestamp_millis(now + 20 * DAY_MS)
        .unwrap()
        .to_rfc3339();
    let (status, body) = posit.admin(
        "POST",
        "/v1/system/service-tokens",
        Some(json!({"name": "posit-soon", "scopes": ["identity:manage"], "expires_at": expires})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, users) = qualytics.admin("GET", "/users?type=Service", None);
    assert_eq!(status, 200, "{users}");
    let user = users["items"][0]["id"].as_i64().unwrap();
    let (status, body) = qualytics.admin(
        "POST",
        "/user-tokens",
        Some(json!({"name": "q-soon", "user_id": user, "expires_in_days": 30})),
    );
    assert_eq!(status, 200, "{body}");
    let mut expected: BTreeMap<(String, String), f64> = BTreeMap::new();
    for (context, sb) in [("ss", &ss), ("posit", &posit), ("qualytics", &qualytics)] {
        save(&env, context, &sb.url, &sb.platform, &sb.admin_token, true);
        for (name, at) in expiries(sb) {
            expected.insert((context.to_string(), name), at);
        }
    }
    assert!(expected.len() >= 3, "{expected:?}");

    let exporter = Exporter::start(&env, &["--refresh", "1s"]);
    exporter.wait_ready();
    let target = exporter.base.strip_prefix("http://").unwrap().to_string();
    let prometheus = Prometheus::start(&target);
    prometheus.wait_for("/api/v1/targets", "the target is up", |v| {
        v["data"]["activeTargets"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["health"] == "up"))
    });

    // Prometheus asked for OpenMetrics and got it: the info family is typed `info` there.
    let metadata = prometheus
        .api("/api/v1/metadata?metric=sts_credential")
        .expect("metadata");
    assert_eq!(
        metadata["data"]["sts_credential"][0]["type"], "info",
        "{metadata}"
    );

    let seen = |prometheus: &Prometheus| -> BTreeMap<(String, String), f64> {
        prometheus
            .query("sts_credential_expiration_timestamp_seconds")
            .into_iter()
            .map(|(m, v)| {
                (
                    (
                        m["context"].as_str().unwrap().to_string(),
                        m["name"].as_str().unwrap().to_string(),
                    ),
                    v,
                )
            })
            .collect()
    };
    let before = seen(&prometheus);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "one series per expiring token of all three"
    );
    for (k, v) in &expected {
        assert!((before[k] - v).abs() < 0.001, "{k:?}: {} vs {v}", before[k]);
    }
    let platforms: Vec<String> = prometheus
        .query("sts_context_up")
        .iter()
        .map(|(m, v)| {
            assert_eq!(*v, 1.0, "{m}");
            m["platform"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(platforms.len(), 3, "{platforms:?}");

    // One sandbox stops: after a refresh has passed, its context is down, the others unchanged.
    let refreshes = exporter.refreshes();
    qualytics.terminate();
    let deadline = Instant::now() + PATIENCE;
    while exporter.refreshes() < refreshes + 2 {
        assert!(Instant::now() < deadline, "no refresh");
        std::thread::sleep(Duration::from_millis(50));
    }
    prometheus.wait_for(
        "/api/v1/query?query=sts_context_up%7Bcontext%3D%22qualytics%22%7D",
        "qualytics is down",
        |v| v["data"]["result"][0]["value"][1] == "0",
    );
    for (m, v) in prometheus.query("sts_context_up") {
        let up = if m["context"] == "qualytics" {
            0.0
        } else {
            1.0
        };
        assert_eq!(v, up, "{m}");
    }
    assert_eq!(
        seen(&prometheus),
        before,
        "every series as it was, the down one's kept"
    );
    exporter.stop();
}

#[test]
fn the_shipped_alert_rules_pass_their_promtool_tests() {
    let dir = repo_root().join("docs/prometheus");
    for args in [
        &["check", "rules", "alerts.yml"][..],
        &["test", "rules", "alerts.test.yml"][..],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "promtool {args:?}: {text}");
        assert!(text.contains("SUCCESS"), "{text}");
    }
    // The tests hold the cases the issue names.
    let tests = std::fs::read_to_string(dir.join("alerts.test.yml")).unwrap();
    for needle in [
        "alertname: StsCredentialExpiresWithin14Days",
        "alertname: StsCredentialExpiresWithin3Days",
        "alertname: StsContextDown",
        "alertname: StsExporterRefreshesStopped",
        "values: '864000+0x60'",
    ] {
        assert!(tests.contains(needle), "{needle}");
    }
    assert!(Path::new(&dir.join("alerts.yml")).exists());
}

#[test]
fn fifty_clients_get_every_scrape_whole_beside_idle_and_slow_connections() {
    const CONTEXTS: usize = 20;
    const TOKENS: usize = 1_000;
    let env = TestEnv::new();
    let sandboxes: Vec<Sandbox> = (0..CONTEXTS).map(|_| Sandbox::start()).collect();
    for (i, sb) in sandboxes.iter().enumerate() {
        let (status, body) = crate::common::send_json(
            sb.http()
                .post(format!("{}/_sandbox/seed", sb.url))
                .header("X-API-Token", &sb.admin_token),
            Some(json!({"service_tokens": TOKENS})),
        );
        assert_eq!(status, 201, "{body}");
        save(
            &env,
            &format!("ctx{i:02}"),
            &sb.url,
            "stackstate",
            &sb.admin_token,
            false,
        );
    }
    let exporter = Exporter::start(&env, &["--refresh", "1h"]);
    exporter.wait_ready();
    let (status, reference) = exporter.get("/metrics");
    assert_eq!(status, 200);
    assert_eq!(
        samples(&reference, "sts_credential_info").len(),
        CONTEXTS * TOKENS
    );
    promtool_check(&reference);

    let addr = exporter.base.strip_prefix("http://").unwrap().to_string();
    // 20 idle connections, and one that asks and then reads a byte a second.
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let stop_slow = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow_reader = {
        let stop = stop_slow.clone();
        std::thread::spawn(move || {
            let mut byte = [0u8; 1];
            let mut read = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && read < 600 {
                match slow.read(&mut byte) {
                    Ok(1) => read += 1,
                    _ => break,
                }
                // The pace of a slow client, not a synchronisation.
                std::thread::sleep(Duration::from_secs(1));
            }
            read
        })
    };

    let reference = Arc::new(reference);
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let base = exporter.base.clone();
            let reference = reference.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(300))
                    .build()
                    .unwrap();
                for _ in 0..20 {
                    let resp = client.get(format!("{base}/metrics")).send().unwrap();
                    assert_eq!(resp.status().as_u16(), 200);
                    let body = resp.text().unwrap();
                    assert!(body == *reference, "a scrape differs: {} bytes", body.len());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("every client got 20 whole scrapes");
    }
    stop_slow.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(slow_reader.join().unwrap() >= 1);
    drop(idle);
    exporter.stop();
}

#[test]
fn the_exporter_serves_150_connections_at_once_and_closes_slow_and_idle_ones() {
    let env = TestEnv::new();
    let sb = Sandbox::start();
    create_token(&sb, "one", Some(now_ms() + DAY_MS));
    save(&env, "ss", &sb.url, "stackstate", &sb.admin_token, true);
    let exporter = Exporter::start(&env, &["--refresh", "1h"]);
    exporter.wait_ready();
    let addr = exporter.base.strip_prefix("http://").unwrap().to_string();

    // A head that never ends, and a connection that never asks: both are closed by the exporter.
    let mut partial = TcpStream::connect(&addr).unwrap();
    partial
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let idle = TcpStream::connect(&addr).unwrap();
    let closed = |mut s: TcpStream| {
        std::thread::spawn(move || {
            s.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut buf = Vec::new();
            // Ends (0 bytes, or a reset) when the exporter closes it; a read timeout is an error.
            match s.read_to_end(&mut buf) {
                Ok(_) => true,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        })
    };
    let (partial, idle) = (closed(partial), closed(idle));

    // 150 connections open together, each with a request: every one is answered.
    let mut conns: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    for c in &mut conns {
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
    }
    for c in &mut conns {
        c.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut buf = [0u8; 256];
        let mut got = Vec::new();
        while !got.ends_with(b"ok\n") {
            let n = c.read(&mut buf).expect("an answer while 150 are open");
            assert!(n > 0, "closed before answering");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200 "));
    }
    // A normal client is served while the slow ones wait.
    assert_eq!(exporter.get("/healthz").0, 200);
    assert!(partial.join().unwrap(), "the partial head was not closed");
    assert!(idle.join().unwrap(), "the idle connection was not closed");
    drop(conns);
    exporter.stop();
}

#[test]
fn the_exporter_reads_keyring_contexts_and_narrows_to_the_named_ones() {
    let env = TestEnv::new();
    let keyring = crate::common::secret_service::SecretService::start();
    let ss = Sandbox::start();
    let posit = Sandbox::start_platform("posit-connect", &[]);
    create_token(&ss, "in-keyring", Some(now_ms() + 3 * DAY_MS));
    for (name, sb) in [("ss", &ss), ("posit", &posit), ("other", &ss)] {
        let mut cmd = env.sts();
        cmd.envs(keyring.env())
            .args(["context", "save", "--name", name, "--url", &sb.url])
            .args(["--platform", &sb.platform, "--api-token", "-"])
            .write_stdin(format!("{}\n", sb.admin_token));
        run(&mut cmd).ok();
    }
    let config = std::fs::read_to_string(env.config_home().join("sts/config.toml")).unwrap();
    assert!(config.contains("storage = \"keyring\""), "{config}");

    let exporter = Exporter::start_with(
        &env,
        &keyring.env(),
        &["--refresh", "1h", "-c", "ss", "-c", "posit"],
    );
    exporter.wait_ready();
    let body = exporter.get("/metrics").1;
    promtool_check(&body);
    let up: Vec<(String, String)> = samples(&body, "sts_context_up");
    assert_eq!(
        up,
        [
            (
                r#"context="posit",platform="posit-connect""#.to_string(),
                "1".to_string()
            ),
            (
                r#"context="ss",platform="stackstate""#.to_string(),
                "1".to_string()
            ),
        ],
        "{body}"
    );
    assert!(body.contains(r#"name="in-keyring""#), "{body}");
    for secret in [&ss.admin_token, &posit.admin_token] {
        assert!(!body.contains(secret.as_str()));
    }
    exporter.stop();
}
