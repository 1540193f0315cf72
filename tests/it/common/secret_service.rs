//! A real Secret Service for one test: a private D-Bus session bus and an unlocked gnome-keyring
//! in a temporary folder, both killed (by their own pids) when dropped.
//!
//! Needs the Debian packages `dbus`, `gnome-keyring` and `libsecret-tools` (for `secret-tool`).
//! The bus has no service folders, so nothing is started by D-Bus activation behind the test's
//! back: the only Secret Service on it is the daemon started here.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long the daemons may take to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A private session bus, and on it (unless [`SecretService::bus_only`]) a gnome-keyring
/// daemon whose `login` collection is unlocked with the password `ci`.
pub struct SecretService {
    dir: tempfile::TempDir,
    address: String,
    bus: Child,
    daemon: Option<Child>,
}

impl SecretService {
    /// Starts the bus and the keyring daemon and waits until the default collection answers,
    /// unlocked. Panics with what the daemons said when they do not start.
    pub fn start() -> SecretService {
        let mut ss = SecretService::bus_only();
        ss.start_daemon(true);
        ss
    }

    /// A bus and a keyring daemon that was given no password: it answers, but has no unlocked
    /// collection to store in (as a desktop whose keyring is locked, with no one to prompt).
    pub fn start_locked() -> SecretService {
        let mut ss = SecretService::bus_only();
        ss.start_daemon(false);
        ss
    }

    /// Only the session bus, with no Secret Service on it.
    pub fn bus_only() -> SecretService {
        let dir = tempfile::Builder::new()
            .prefix("sts-ss")
            .tempdir()
            .expect("temporary folder");
        for sub in ["run", "data", "home", "config"] {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(dir.path().join(sub))
                .expect("folder for the keyring");
        }
        let socket = dir.path().join("bus");
        let config = dir.path().join("bus.conf");
        fs::write(&config, bus_config(&socket)).expect("bus config");
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(dir.path(), "dbus-daemon.log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dbus-daemon (apt-get install dbus): {e}"));
        // The first line of its stdout is the address; EOF means it exited.
        let mut line = String::new();
        let stdout = bus.stdout.take().expect("dbus-daemon stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("dbus-daemon address");
        let address = line.trim().to_string();
        if address.is_empty() {
            let _ = bus.kill();
            let _ = bus.wait();
            panic!(
                "dbus-daemon printed no address: {}",
                read_log(dir.path(), "dbus-daemon.log")
            );
        }
        SecretService {
            dir,
            address,
            bus,
            daemon: None,
        }
    }

    /// Starts gnome-keyring-daemon and waits until it serves (unlocked, with `unlock`). A daemon
    /// that dies while it starts (gnome-keyring can abort on a property read that reaches it
    /// mid-initialisation, seen under load) is started again, up to three times.
    fn start_daemon(&mut self, unlock: bool) {
        for attempt in 1..=3 {
            match self.try_start_daemon(unlock) {
                Ok(()) => return,
                Err(died) if attempt < 3 => {
                    eprintln!("gnome-keyring-daemon died while starting, again: {died}");
                }
                Err(died) => panic!("{died}"),
            }
        }
    }

    fn try_start_daemon(&mut self, unlock: bool) -> Result<(), String> {
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--components=secrets"])
            .args(unlock.then_some("--unlock"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("HOME", self.dir.path().join("home"))
            .stdin(if unlock {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(log_file(self.dir.path(), "gnome-keyring.out"))
            .stderr(log_file(self.dir.path(), "gnome-keyring.log"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start gnome-keyring-daemon (apt-get install gnome-keyring): {e}")
            });
        // The password unlocks (and first creates) the `login` collection; closing stdin ends it.
        if let Some(mut stdin) = daemon.stdin.take() {
            stdin
                .write_all(b"ci")
                .expect("password to gnome-keyring-daemon");
        }
        self.daemon = Some(daemon);
        let started = Instant::now();
        loop {
            // The name first: a property read before the daemon owns it can meet it half-made.
            let ready = self.secret_service_is_on_the_bus()
                && (!unlock || self.default_collection_is_unlocked());
            if ready {
                return Ok(());
            }
            if let Some(status) = self
                .daemon
                .as_mut()
                .and_then(|d| d.try_wait().ok().flatten())
            {
                self.daemon = None;
                return Err(format!(
                    "gnome-keyring-daemon exited ({status}): {}",
                    read_log(self.dir.path(), "gnome-keyring.log")
                ));
            }
            if started.elapsed() > READY_TIMEOUT {
                panic!(
                    "gnome-keyring-daemon did not answer on the bus within {READY_TIMEOUT:?}: {}",
                    read_log(self.dir.path(), "gnome-keyring.log")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the Secret Service answers that its default collection is unlocked.
    fn default_collection_is_unlocked(&self) -> bool {
        self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets/aliases/default",
            "org.freedesktop.DBus.Properties.Get",
            "string:org.freedesktop.Secret.Collection",
            "string:Locked",
        ])
        .is_some_and(|reply| reply.contains("boolean false"))
    }

    /// Whether some process owns the Secret Service's name on the bus.
    fn secret_service_is_on_the_bus(&self) -> bool {
        self.dbus_send(&[
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ])
        .is_some_and(|reply| reply.contains("boolean true"))
    }

    /// The reply of a `dbus-send --print-reply` on this bus, `None` when the call failed.
    fn dbus_send(&self, args: &[&str]) -> Option<String> {
        let output = Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args(["--print-reply", "--reply-timeout=2000"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run dbus-send (apt-get install dbus): {e}"));
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The bus address, as for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// What a child process needs to reach this Secret Service (and nothing else):
    /// `DBUS_SESSION_BUS_ADDRESS`, and an `XDG_RUNTIME_DIR` of its own.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.address.clone()),
            (
                "XDG_RUNTIME_DIR".into(),
                self.dir.path().join("run").display().to_string(),
            ),
        ]
    }

    /// The gnome-keyring daemon's pid, e.g. to freeze it with `kill -STOP`. Panics for
    /// [`SecretService::bus_only`].
    pub fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().expect("no keyring daemon").id()
    }

    /// Freezes the keyring daemon (`kill -STOP`) until the returned guard is dropped
    /// (`kill -CONT`), so a test that fails midway does not leave it frozen.
    pub fn freeze_daemon(&self) -> Frozen {
        let pid = self.daemon_pid();
        signal("STOP", pid);
        Frozen { pid }
    }

    /// The folder the keyring files and daemon logs live in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `secret-tool store --label=… service <service> username <user>` with `secret` on stdin.
    pub fn secret_tool_store(&self, service: &str, user: &str, secret: &str) {
        let mut child = self
            .secret_tool()
            .args(["store", "--label=sts test"])
            .args(["service", service, "username", user])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run secret-tool (apt-get install libsecret-tools): {e}")
            });
        child
            .stdin
            .take()
            .expect("secret-tool stdin")
            .write_all(secret.as_bytes())
            .expect("secret to secret-tool");
        let output = child.wait_with_output().expect("secret-tool store");
        assert!(
            output.status.success(),
            "secret-tool store failed: {}",
            describe(&output)
        );
    }

    /// What `secret-tool search --all service <service>` prints (stdout, then stderr, where it
    /// puts the attributes): labels, secrets and `attribute.username = …` lines.
    pub fn secret_tool_search(&self, service: &str) -> String {
        let output = self
            .secret_tool()
            .args(["search", "--all", "service", service])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run secret-tool (apt-get install libsecret-tools): {e}")
            });
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    fn secret_tool(&self) -> Command {
        let mut command = Command::new("secret-tool");
        for (k, v) in self.env() {
            command.env(k, v);
        }
        command
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// A frozen keyring daemon, thawed (`kill -CONT`) when dropped.
pub struct Frozen {
    pid: u32,
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("CONT", self.pid);
    }
}

fn signal(name: &str, pid: u32) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// A bus like `--session`'s, listening on `socket`, with no service folders (no activation).
fn bus_config(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}

fn log_file(dir: &Path, name: &str) -> File {
    File::create(dir.join(name)).expect("log file")
}

fn read_log(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// A child's exit status, stdout and stderr, for an assertion message.
pub fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// An empty folder that is no one's runtime folder, for "no session bus" tests (zbus falls
/// back to `$XDG_RUNTIME_DIR/bus`).
pub fn empty_runtime_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("sts-norun")
        .tempdir()
        .expect("temporary folder");
    let path = dir.path().to_path_buf();
    (dir, path)
}
