//! Test harness shared by the integration tests: a real `sts-sandbox` process on a free loopback
//! port (any platform), the built `sts` binary run with an isolated home and config, and Prism in
//! proxy mode checking the traffic between them against the platform's OpenAPI document (the
//! repository's copies in `spec/`).
//!
//! Platforms are named as on the command line: `stackstate`, `posit-connect`, `qualytics`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub mod cross;
pub mod loopback;
pub mod secret_service;
pub mod tmux;

/// How long a child process may take to say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The API base path of a platform: `/api` (StackState, Qualytics) or `/__api__` (Posit Connect).
pub fn api_prefix(platform: &str) -> &'static str {
    match platform {
        "stackstate" | "qualytics" => "/api",
        "posit-connect" => "/__api__",
        other => panic!("unknown platform {other:?}"),
    }
}

/// A running `sts-sandbox` on `127.0.0.1:<free port>`; killed when dropped.
pub struct Sandbox {
    /// `http://127.0.0.1:<port>` (no `/api`).
    pub url: String,
    pub admin_token: String,
    /// `stackstate`, `posit-connect` or `qualytics`.
    pub platform: String,
    child: Option<Child>,
    /// What the sandbox printed on stdout after its start line.
    stdout: Arc<Mutex<String>>,
    /// What the sandbox printed on stderr.
    stderr: Arc<Mutex<String>>,
    /// One HTTP client for the whole test (building one per request is slow).
    client: reqwest::blocking::Client,
}

impl Sandbox {
    /// A sandbox with a random admin token and in-memory state.
    pub fn start() -> Sandbox {
        Sandbox::start_with(&[])
    }

    /// A sandbox of `platform` (`stackstate`, `posit-connect`, `qualytics`) started with these
    /// extra arguments.
    pub fn start_platform(platform: &str, extra_args: &[&str]) -> Sandbox {
        let mut args = vec!["--platform", platform];
        args.extend_from_slice(extra_args);
        Sandbox::start_with(&args)
    }

    /// A sandbox started with these extra arguments (after `--listen 127.0.0.1:0`).
    pub fn start_with(args: &[&str]) -> Sandbox {
        Sandbox::try_start(args).unwrap_or_else(|e| panic!("sts-sandbox did not start: {e}"))
    }

    /// Starts a sandbox, or returns what it printed when it exited instead of starting.
    pub fn try_start(args: &[&str]) -> Result<Sandbox, String> {
        let platform = args
            .iter()
            .position(|a| *a == "--platform")
            .and_then(|i| args.get(i + 1))
            .copied()
            .or_else(|| args.iter().find_map(|a| a.strip_prefix("--platform=")))
            .unwrap_or("stackstate")
            .to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sts-sandbox"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sts-sandbox");
        let stderr = drain(child.stderr.take().unwrap());
        let (line, stdout) = first_line_then_drain(child.stdout.take().unwrap(), START_TIMEOUT);
        let Some(line) = line.filter(|l| l.starts_with("sts-sandbox listening on ")) else {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(50));
            return Err(format!(
                "no start line; stderr: {}",
                stderr.lock().unwrap().trim()
            ));
        };
        let (url, admin_token) = parse_start_line(&line);
        Ok(Sandbox {
            url,
            admin_token,
            platform,
            child: Some(child),
            stdout,
            stderr,
            // No idle connection is kept: a sandbox with a short `--header-timeout` closes an
            // idle one, and reusing it just then would fail a control request by chance.
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(0)
                .build()
                .expect("HTTP client"),
        })
    }

    /// The API base: `<url>/api`, or `<url>/__api__` for Posit Connect.
    pub fn api(&self) -> String {
        format!("{}{}", self.url, api_prefix(&self.platform))
    }

    /// The admin token as the platform's API takes it: `X-API-Token: T` (StackState),
    /// `Authorization: Key T` (Posit Connect), `Authorization: Bearer T` (Qualytics).
    pub fn admin_header(&self) -> (&'static str, String) {
        match self.platform.as_str() {
            "posit-connect" => ("Authorization", format!("Key {}", self.admin_token)),
            "qualytics" => ("Authorization", format!("Bearer {}", self.admin_token)),
            _ => ("X-API-Token", self.admin_token.clone()),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Everything the sandbox wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits for the process to end; returns its exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        send_signal(child.id(), "TERM");
        wait_within(&mut child, Duration::from_secs(10)).expect("sandbox ended after SIGTERM")
    }

    /// A blocking HTTP client for driving the sandbox directly.
    pub fn http(&self) -> reqwest::blocking::Client {
        self.client.clone()
    }

    /// A request (`method`) on an API path with the admin token (the platform's admin header);
    /// returns status and body.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (name, value) = self.admin_header();
        let req = self
            .http()
            .request(method.parse().unwrap(), format!("{}{}", self.api(), path))
            .header(name, value);
        send_json(req, body)
    }

    /// A request on an API path with `Authorization: <authorization>` (or none); returns status
    /// and body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http()
            .request(method.parse().unwrap(), format!("{}{}", self.api(), path));
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        send_json(req, body)
    }

    /// `POST /_sandbox/clock {"advance_s": N}`: ages everything the sandbox keeps by N seconds.
    pub fn clock(&self, advance_s: i64) {
        let (status, body) = send_json(
            self.http()
                .post(format!("{}/_sandbox/clock", self.url))
                .header("X-API-Token", &self.admin_token),
            Some(json!({"advance_s": advance_s})),
        );
        assert_eq!(status, 200, "clock: {body}");
    }

    /// Creates a service token through the API with the admin token; returns its secret.
    pub fn create_service_token(&self, name: &str, roles: &[&str]) -> String {
        let (status, body) = self.admin(
            "POST",
            "/security/tokens",
            Some(json!({"name": name, "roles": roles})),
        );
        assert_eq!(status, 200, "create service token: {body}");
        body["token"]
            .as_str()
            .expect("token in create response")
            .to_string()
    }

    /// `GET /_sandbox/requests`: counts of requests served, per `"METHOD /path"`.
    pub fn requests(&self) -> Value {
        let (status, body) = send_json(
            self.http()
                .get(format!("{}/_sandbox/requests", self.url))
                .header("X-API-Token", &self.admin_token),
            None,
        );
        assert_eq!(status, 200, "requests: {body}");
        body
    }

    /// How many requests matching `"METHOD /path"` were served (0 when none).
    pub fn request_count(&self, key: &str) -> u64 {
        self.requests()
            .get(key)
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    /// Total number of requests under the API base (`/api`, `/__api__`) served so far.
    pub fn api_request_total(&self) -> u64 {
        let base = format!(" {}/", api_prefix(&self.platform));
        match self.requests() {
            Value::Object(map) => map
                .iter()
                .filter(|(k, _)| k.contains(&base))
                .filter_map(|(_, v)| v.as_u64())
                .sum(),
            other => panic!("requests is not an object: {other}"),
        }
    }

    /// `POST /_sandbox/faults` with this body.
    pub fn fault(&self, fault: Value) {
        let (status, body) = send_json(
            self.http()
                .post(format!("{}/_sandbox/faults", self.url))
                .header("X-API-Token", &self.admin_token),
            Some(fault),
        );
        assert!(status < 300, "fault not accepted ({status}): {body}");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends a request with an optional JSON body; returns the status and the body as JSON
/// (`Value::Null` for an empty body, a JSON string for a body that is not JSON).
pub fn send_json(req: reqwest::blocking::RequestBuilder, body: Option<Value>) -> (u16, Value) {
    let req = match body {
        Some(b) => req
            .header("Content-Type", "application/json")
            .body(b.to_string()),
        None => req,
    };
    let resp = req.send().expect("request to sandbox");
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

/// `sts-sandbox listening on http://127.0.0.1:<port> admin-token <token>` → (url, token).
pub fn parse_start_line(line: &str) -> (String, String) {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(
        words.len() == 6 && words[1] == "listening" && words[4] == "admin-token",
        "unexpected start line: {line:?}"
    );
    (words[3].to_string(), words[5].to_string())
}

/// An isolated user for running the `sts` binary: its own HOME and XDG folders, no `STS_*`
/// variable of the outer environment, no session bus (so no keyring) unless a test adds one.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn config_home(&self) -> PathBuf {
        self.dir.path().join("home/.config")
    }

    /// The `sts` binary with this environment; add args, env and stdin as needed.
    pub fn sts(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::from_std(self.sts_process());
        cmd.timeout(Duration::from_secs(60));
        cmd
    }

    /// Writes a config whose current context is `ctx` on `platform` at `url`, with `key` in a
    /// 0600 `credentials.toml`, without a request (the server may be a test's own).
    pub fn write_current_context(&self, platform: &str, url: &str, key: &str) {
        let dir = self.config_home().join("sts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.toml"),
            format!(
                "current-context = \"ctx\"\n\n[contexts.ctx]\nurl = \"{url}\"\nplatform = \
                 \"{platform}\"\nauth = \"api-token\"\nstorage = \"file\"\ncredential-id = \"cid\"\n"
            ),
        )
        .unwrap();
        let creds = dir.join("credentials.toml");
        std::fs::write(&creds, format!("cid = \"{key}\"\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// [`TestEnv::sts`] as a plain process, for a test that waits on it while it runs.
    pub fn sts_process(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sts"));
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().to_string();
            if key.starts_with("STS_") || key == "NO_COLOR" || key == "CLICOLOR_FORCE" {
                cmd.env_remove(&key);
            }
        }
        let home = self.home();
        for sub in [".config", ".local/share", ".cache", "runtime"] {
            std::fs::create_dir_all(home.join(sub)).unwrap();
        }
        cmd.env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            // No session bus unless a test starts its own Secret Service: the tests must never
            // reach the keyring of the person running them.
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("XDG_RUNTIME_DIR", home.join("runtime"))
            .env("RUST_BACKTRACE", "0")
            .env("TERM", "xterm-256color");
        cmd
    }

    /// `sts` pointed at a server by `STS_CLI_URL` and authenticated by `STS_CLI_SERVICE_TOKEN`
    /// (or `STS_CLI_API_TOKEN` when `token` is the sandbox's admin token).
    pub fn sts_at(&self, url: &str, token: &str, admin: bool) -> assert_cmd::Command {
        let mut cmd = self.sts();
        cmd.env("STS_CLI_URL", url);
        if admin {
            cmd.env("STS_CLI_API_TOKEN", token);
        } else {
            cmd.env("STS_CLI_SERVICE_TOKEN", token);
        }
        cmd
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

/// The repository's root folder.
/// The wall clock in epoch milliseconds, as the sandboxes and `sts` read it.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The StackState OpenAPI document, the repository's copy in `spec/`.
pub fn spec_path() -> PathBuf {
    spec_path_for("stackstate")
}

/// A platform's OpenAPI document, the repository's copy in `spec/` (`<platform>-api.yaml`).
pub fn spec_path_for(platform: &str) -> PathBuf {
    let path = repo_root().join(format!("spec/{platform}-api.yaml"));
    assert!(
        path.is_file(),
        "the OpenAPI document is missing at {}",
        path.display()
    );
    path
}

/// A copy of the StackState spec whose path keys carry the `/api` prefix (Prism ignores
/// `servers:`).
pub fn prism_spec() -> PathBuf {
    prism_spec_for("stackstate")
}

/// A copy of a platform's spec whose path keys carry its API prefix (`/api`, `/__api__`), as
/// spec/README.md's awk line makes it.
pub fn prism_spec_for(platform: &str) -> PathBuf {
    static SPECS: OnceLock<Mutex<std::collections::HashMap<String, PathBuf>>> = OnceLock::new();
    let mut specs = SPECS.get_or_init(Mutex::default).lock().unwrap();
    if let Some(path) = specs.get(platform) {
        return path.clone();
    }
    let prefix = api_prefix(platform);
    let text = std::fs::read_to_string(spec_path_for(platform)).unwrap();
    let mut out = String::new();
    let mut in_paths = false;
    for line in text.lines() {
        if line.starts_with("paths:") {
            in_paths = true;
        } else if line.starts_with("components:") {
            in_paths = false;
        }
        if in_paths && line.starts_with("  /") {
            out.push_str("  ");
            out.push_str(prefix);
            out.push_str(&line[2..]);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    let dir = std::env::temp_dir().join(format!("sts-prism-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{platform}-api.prism.yaml"));
    std::fs::write(&path, out).unwrap();
    specs.insert(platform.to_string(), path.clone());
    path
}

/// The pinned Prism that `npm ci` installs in `node_modules/` (see package.json), or `PRISM`.
/// A missing Prism fails the test: conformance is not optional.
pub fn prism_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PRISM") {
        return PathBuf::from(p);
    }
    let path = repo_root().join("node_modules/.bin/prism");
    assert!(
        path.exists(),
        "Prism is not installed at {}: run `npm ci` in the repository (scripts/test does)",
        path.display()
    );
    path
}

/// A running Prism (`mock` or `proxy --errors`) on a free loopback port; killed when dropped.
pub struct Prism {
    /// `http://127.0.0.1:<port>`; the API is under `/api` (`/__api__` for Posit Connect).
    pub url: String,
    /// The platform whose document Prism checks against.
    pub platform: String,
    /// Running until its log is read to the end (or it is dropped).
    child: Mutex<Option<Child>>,
    /// The threads that read its stdout and stderr; joined once it has ended.
    drains: Mutex<Vec<std::thread::JoinHandle<()>>>,
    log: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
}

impl Prism {
    /// `prism proxy --errors` in front of `upstream` (a sandbox's URL, no `/api`), checking
    /// against the StackState document.
    pub fn proxy(upstream: &str) -> Prism {
        Prism::proxy_for("stackstate", upstream)
    }

    /// `prism proxy --errors` in front of `upstream`, checking against `platform`'s document.
    pub fn proxy_for(platform: &str, upstream: &str) -> Prism {
        Prism::start(platform, &["proxy", "--errors"], Some(upstream))
    }

    /// `prism mock -d --seed N` of the StackState document: random answers that fit the schemas.
    pub fn mock_dynamic(seed: u64) -> Prism {
        Prism::mock_dynamic_for("stackstate", seed)
    }

    /// `prism mock -d --seed N` of `platform`'s document.
    pub fn mock_dynamic_for(platform: &str, seed: u64) -> Prism {
        Prism::start(platform, &["mock", "-d", "--seed", &seed.to_string()], None)
    }

    fn start(platform: &str, mode: &[&str], upstream: Option<&str>) -> Prism {
        let port = free_port();
        let mut cmd = Command::new(prism_bin());
        cmd.args(mode)
            .arg("-h")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(port.to_string())
            .arg(prism_spec_for(platform));
        if let Some(up) = upstream {
            cmd.arg(up);
        }
        let mut child = cmd
            .env("NO_COLOR", "1")
            .env("FORCE_COLOR", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn prism");
        let (log, log_drain) = drain_joinable(child.stdout.take().unwrap());
        let (err, err_drain) = drain_joinable(child.stderr.take().unwrap());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && log.lock().unwrap().contains("Prism is listening")
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "prism exited ({status}) before listening:\n{}\n{}",
                    log.lock().unwrap(),
                    err.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "prism did not listen within {START_TIMEOUT:?}:\n{}",
                log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Prism {
            url: format!("http://127.0.0.1:{port}"),
            platform: platform.to_string(),
            child: Mutex::new(Some(child)),
            drains: Mutex::new(vec![log_drain, err_drain]),
            log,
            err,
        }
    }

    /// The API base through Prism, `<url>/api` (`<url>/__api__` for Posit Connect).
    pub fn api(&self) -> String {
        format!("{}{}", self.url, api_prefix(&self.platform))
    }

    /// Prism's whole log so far, stdout then stderr, once it has logged everything about the
    /// requests made before this call: Prism logs asynchronously, so a last request of our own
    /// (a path no document has) goes through it and the log is read until that request's last
    /// line is in. Its lines are left out of the log returned.
    pub fn log(&self) -> String {
        static SENTINELS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SENTINELS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let marker = format!("__sts_log_sentinel_{}_{n}", std::process::id());
        let all = || format!("{}{}", self.log.lock().unwrap(), self.err.lock().unwrap());
        if self.child.lock().unwrap().is_some() {
            let _ = reqwest::blocking::Client::new()
                .get(format!("{}/{marker}", self.url))
                .send();
            let deadline = Instant::now() + START_TIMEOUT;
            while !all()
                .lines()
                .any(|l| l.contains(&marker) && l.contains("terminated"))
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        all()
            .lines()
            .filter(|l| !l.contains("__sts_log_sentinel_"))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// Ends Prism and waits until its output has been read to the end of the pipes.
    fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for handle in self.drains.lock().unwrap().drain(..) {
            let _ = handle.join();
        }
    }

    /// The log lines that report an error-level violation (a request or response that breaks the
    /// spec). With `--errors` Prism reports those as a terminated request.
    pub fn error_violations(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| {
                l.contains("errors#VIOLATIONS")
                    || l.contains("errors#UNPROCESSABLE_ENTITY")
                    || l.contains("✖  error")
            })
            .map(str::to_string)
            .collect()
    }

    /// Panics, with the log, when Prism saw an error-level violation.
    pub fn assert_no_error_violations(&self) {
        let v = self.error_violations();
        assert!(
            v.is_empty(),
            "Prism found error-level violations:\n{}\n--- full log ---\n{}",
            v.join("\n"),
            self.log()
        );
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Reads a stream to its end on a thread, collecting it into a shared string.
pub fn drain(stream: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    drain_joinable(stream).0
}

/// [`drain`], and the reading thread, which ends at the end of the stream: join it to know that
/// everything was read (after the writer has exited).
pub fn drain_joinable(
    stream: impl Read + Send + 'static,
) -> (Arc<Mutex<String>>, std::thread::JoinHandle<()>) {
    let mut reader = BufReader::new(stream);
    let buf = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&buf);
    let handle = std::thread::spawn(move || {
        let mut line = String::new();
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    (buf, handle)
}

/// The first line of `out` (or `None` when the stream ends or `timeout` passes first), and a
/// buffer that collects the rest of the stream.
fn first_line_then_drain(
    out: ChildStdout,
    timeout: Duration,
) -> (Option<String>, Arc<Mutex<String>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let buf = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&buf);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(out);
        let mut line = String::new();
        let ok = reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false);
        let _ = tx.send(ok.then(|| line.trim_end().to_string()));
        line.clear();
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    (rx.recv_timeout(timeout).ok().flatten(), buf)
}

/// Sends a signal (`TERM`, `INT`, `STOP`, `CONT`, …) to a process we started.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// Waits for a child to exit, up to `timeout`.
pub fn wait_within(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads a whole file as bytes (for byte-for-byte comparisons).
pub fn read_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
