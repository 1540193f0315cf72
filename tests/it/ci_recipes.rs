//! The CI recipes of `docs/ci.md`: the page shows each script of `docs/ci/` verbatim, and each
//! script runs green against a real sandbox with the built `sts` first on `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Sandbox, TestEnv, repo_root};

const SCRIPTS: [&str; 4] = [
    "env-auth.sh",
    "short-lived-token.sh",
    "rotate-token.sh",
    "nightly-expiry.sh",
];

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `bash docs/ci/<script> args…` with only PATH (the built `sts` first), HOME, XDG_CONFIG_HOME
/// and the given variables; bounded to 60 s.
fn run_script(env: &TestEnv, script: &str, vars: &[(&str, &str)], args: &[&str]) -> Ran {
    let sts_dir = Path::new(env!("CARGO_BIN_EXE_sts")).parent().unwrap();
    std::fs::create_dir_all(env.config_home()).unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("docs/ci").join(script))
        .args(args)
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                sts_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", env.home())
        .env("XDG_CONFIG_HOME", env.config_home())
        .env("LANG", "C.UTF-8")
        .current_dir(env.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("bash runs");
    let (stdout, out_drain) = crate::common::drain_joinable(child.stdout.take().unwrap());
    let (stderr, err_drain) = crate::common::drain_joinable(child.stderr.take().unwrap());
    let status =
        crate::common::wait_within(&mut child, Duration::from_secs(60)).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{script} did not finish within 60 s")
        });
    // The pipes are read to their end.
    out_drain.join().unwrap();
    err_drain.join().unwrap();
    Ran {
        code: status.code(),
        stdout: stdout.lock().unwrap().clone(),
        stderr: stderr.lock().unwrap().clone(),
    }
}

impl Ran {
    fn ok(self) -> Ran {
        assert_eq!(
            self.code,
            Some(0),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

fn tokens(sb: &Sandbox) -> Vec<Value> {
    let (status, body) = sb.admin("GET", "/security/tokens", None);
    assert_eq!(status, 200);
    body.as_array().cloned().unwrap_or_default()
}

fn named<'a>(tokens: &'a [Value], prefix: &str) -> Vec<&'a Value> {
    tokens
        .iter()
        .filter(|t| t["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .collect()
}

/// `GET /api/server/info` with this service token.
fn server_info_status(sb: &Sandbox, token: &str) -> u16 {
    sb.http()
        .get(format!("{}/server/info", sb.api()))
        .header("X-API-Key", token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn the_page_shows_every_script_verbatim() {
    let page = std::fs::read_to_string(repo_root().join("docs/ci.md")).unwrap();
    let mut on_disk: Vec<PathBuf> = std::fs::read_dir(repo_root().join("docs/ci"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk.len(),
        SCRIPTS.len(),
        "a script without a test: {on_disk:?}"
    );
    for script in SCRIPTS {
        let text = std::fs::read_to_string(repo_root().join("docs/ci").join(script)).unwrap();
        assert!(
            page.contains(&format!("```bash\n{text}```")),
            "docs/ci.md does not show docs/ci/{script} as it is"
        );
        assert!(page.contains(&format!("docs/ci/{script}")));
    }
    for ci in ["GitHub Actions", "GitLab CI"] {
        assert!(page.contains(ci));
    }
}

#[test]
fn env_auth_runs_green() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let token = sb.create_service_token("ci", &["stackstate-admin"]);
    let ran = run_script(
        &env,
        "env-auth.sh",
        &[("STS_CLI_URL", &sb.url), ("STS_CLI_SERVICE_TOKEN", &token)],
        &[],
    )
    .ok();
    assert_eq!(ran.stdout, "ci\n0\n");
    assert!(
        sb.request_count("GET /api/security/tokens") >= 1,
        "{}",
        sb.requests()
    );
    // Without the variables it says which one is missing.
    let ran = run_script(&env, "env-auth.sh", &[("STS_CLI_URL", &sb.url)], &[]);
    assert_ne!(ran.code, Some(0));
    assert!(
        ran.stderr.contains("STS_CLI_SERVICE_TOKEN"),
        "{}",
        ran.stderr
    );
}

#[test]
fn short_lived_token_runs_green_and_is_deleted_after_the_job() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let out = env.dir.path().join("job-token");
    let job = r#"test -z "${STS_CLI_API_TOKEN:-}" || exit 9
printf '%s' "$STS_CLI_SERVICE_TOKEN" > "$OUT"
printf '%s\n' "$STS_CLI_SERVICE_TOKEN" | sts context save --name job --url "$STS_CLI_URL" --service-token - --insecure-storage"#;
    let vars = [
        ("STS_CLI_URL", sb.url.as_str()),
        ("STS_CLI_API_TOKEN", sb.admin_token.as_str()),
        ("OUT", out.to_str().unwrap()),
    ];
    let ran = run_script(&env, "short-lived-token.sh", &vars, &["bash", "-c", job]).ok();
    assert!(ran.stdout.contains("Connection verified"), "{}", ran.stdout);
    let token = std::fs::read_to_string(&out).unwrap();
    assert!(!token.is_empty());
    // Deleted when the job ended.
    assert_eq!(server_info_status(&sb, &token), 401);
    assert!(named(&tokens(&sb), "ci-job-").is_empty());
    assert_eq!(sb.request_count("POST /api/security/tokens"), 1);

    // A failing job fails the step, and its token is still deleted.
    let ran = run_script(
        &env,
        "short-lived-token.sh",
        &vars,
        &["bash", "-c", "exit 7"],
    );
    assert_eq!(ran.code, Some(7));
    assert!(named(&tokens(&sb), "ci-job-").is_empty());
    assert_eq!(sb.request_count("POST /api/security/tokens"), 2);
}

#[test]
fn rotate_token_runs_green_and_replaces_the_old_token() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let old = sb.create_service_token("ci", &["stackstate-k8s-troubleshooter"]);
    sb.create_service_token("other", &["stackstate-k8s-troubleshooter"]);
    let old_id = named(&tokens(&sb), "ci")[0]["id"].clone();
    let new_file = env.dir.path().join("new-token");
    let vars = [
        ("STS_CLI_URL", sb.url.as_str()),
        ("STS_CLI_API_TOKEN", sb.admin_token.as_str()),
        ("TOKEN_NAME", "ci"),
        ("NEW_TOKEN_FILE", new_file.to_str().unwrap()),
    ];
    run_script(&env, "rotate-token.sh", &vars, &[]).ok();
    // `sts service-token rotate` did it: the new token was checked with /server/info, and its
    // roles came from the old token (the script is not told them).
    assert_eq!(
        sb.request_count("GET /api/server/info"),
        1,
        "{}",
        sb.requests()
    );

    let new = std::fs::read_to_string(&new_file).unwrap();
    let new = new.trim_end();
    assert_ne!(new, old);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&new_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(server_info_status(&sb, new), 200);
    assert_eq!(server_info_status(&sb, &old), 401);
    let all = tokens(&sb);
    let ci = named(&all, "ci");
    assert_eq!(ci.len(), 1, "{all:?}");
    assert_ne!(ci[0]["id"], old_id);
    assert_eq!(ci[0]["roles"], json!(["stackstate-k8s-troubleshooter"]));
    assert!(ci[0]["expiration"].is_i64(), "{all:?}");
    assert_eq!(named(&all, "other").len(), 1);

    // The create fails: the script fails, and the token in use stays.
    sb.fault(json!({"count": 1, "method": "POST", "path": "/api/security/tokens", "status": 500}));
    let ran = run_script(&env, "rotate-token.sh", &vars, &[]);
    assert_ne!(ran.code, Some(0));
    assert_eq!(server_info_status(&sb, new), 200);
    assert_eq!(named(&tokens(&sb), "ci").len(), 1);
}

#[test]
fn nightly_expiry_lists_what_expires_in_14_days_across_every_context_and_alerts() {
    let ss = Sandbox::start();
    let qualytics = Sandbox::start_platform("qualytics", &["--service-user", "Loader:Admin"]);
    let env = TestEnv::new();
    let now = chrono::Utc::now().timestamp_millis();
    let day = 86_400_000;
    let (status, _) = ss.admin(
        "POST",
        "/security/tokens",
        Some(json!({"name": "soon", "roles": ["stackstate-admin"], "expiryDate": now + 5 * day})),
    );
    assert_eq!(status, 200);
    let (status, _) = ss.admin(
        "POST",
        "/security/ingestion/api_keys",
        Some(json!({"name": "later-key", "expiration": now + 30 * day})),
    );
    assert_eq!(status, 200);
    let (_, users) = qualytics.admin("GET", "/users?type=Service", None);
    let (status, _) = qualytics.admin(
        "POST",
        "/user-tokens",
        Some(json!({"name": "loader", "user_id": users["items"][0]["id"], "expires_in_days": 60})),
    );
    assert_eq!(status, 200);
    let save = |name: &str, sb: &Sandbox| {
        let out = env
            .sts()
            .args(["context", "save", "--name", name, "--url", &sb.url])
            .args(["--platform", &sb.platform, "--api-token", &sb.admin_token])
            .arg("--insecure-storage")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    save("prod", &ss);
    save("dq", &qualytics);

    // Something expires: listed, and exit 7 for the alert.
    let ran = run_script(&env, "nightly-expiry.sh", &[], &[]);
    assert_eq!(ran.code, Some(7), "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains(" soon "), "{}", ran.stdout);
    assert!(!ran.stdout.contains("loader") && !ran.stdout.contains("later-key"));

    // A wider window catches the key and the Qualytics token too.
    let ran = run_script(&env, "nightly-expiry.sh", &[("EXPIRY_WINDOW", "90d")], &[]);
    assert_eq!(ran.code, Some(7));
    for name in [" soon ", " later-key ", " loader "] {
        assert!(ran.stdout.contains(name), "{name}: {}", ran.stdout);
    }

    // Nothing expires: exit 0.
    let id = tokens(&ss)[0]["id"].clone();
    assert!(
        ss.admin("DELETE", &format!("/security/tokens/{id}"), None)
            .0
            < 300
    );
    let ran = run_script(&env, "nightly-expiry.sh", &[], &[]).ok();
    assert!(
        ran.stdout.ends_with("Nothing expires within 14d.\n"),
        "{}",
        ran.stdout
    );

    // A context that cannot be asked fails the job with its code, and says which.
    drop(qualytics);
    let ran = run_script(&env, "nightly-expiry.sh", &[], &[]);
    assert_eq!(ran.code, Some(4), "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stderr.contains("context dq: "), "{}", ran.stderr);
    // No saved context at all (the step that saves them did nothing): the job fails.
    let empty = TestEnv::new();
    let ran = run_script(&empty, "nightly-expiry.sh", &[], &[]);
    assert_eq!(ran.code, Some(8), "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stderr.contains("no saved contexts"), "{}", ran.stderr);
}
