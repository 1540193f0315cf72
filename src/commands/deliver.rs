//! Putting a rotated secret where its consumer reads it, and the consumer's own check (CONTRACT
//! §12): a file written atomically, a command that gets the secret on its standard input, a
//! verify command. Each is a step of its own, so that a rotation can record it before it runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::config;
use crate::error::{Error, Kind, Result};
use crate::fsutil;
use crate::redact;
use crate::secret::Secret;

/// `--deliver-timeout`'s default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The largest delivery file whose content is kept to put back.
const MAX_PREVIOUS: u64 = 1 << 20;

/// Where a rotated secret goes and how the consumer is checked.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub file: Option<PathBuf>,
    pub command: Option<String>,
    pub verify_command: Option<String>,
    /// Bounds each of the commands.
    pub timeout: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            file: None,
            command: None,
            verify_command: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Delivery {
    /// Whether the secret goes anywhere.
    pub fn delivers(&self) -> bool {
        self.file.is_some() || self.command.is_some()
    }

    /// The checks made before any request: a delivery file that exists must be a regular file
    /// (symlinks followed), and its folder must exist (exit 3).
    pub fn check(&self) -> Result<()> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let target = fsutil::write_target(path)
            .map_err(|e| Error::usage(format!("--deliver-file {}: {e}", path.display())))?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(Error::usage(format!(
                "--deliver-file {}: the folder {} does not exist",
                path.display(),
                dir.display()
            )));
        }
        Ok(())
    }
}

/// What a delivery file held before it was written, to put back when a later step fails.
#[derive(Debug)]
pub struct FileBackup {
    path: PathBuf,
    previous: Option<Vec<u8>>,
}

/// Writes exactly the secret (no newline) to `path`: a temporary file in the same folder,
/// fsynced, renamed over it; a new file is 0600, an existing one keeps its mode and owner.
pub fn deliver_file(path: &Path, secret: &Secret) -> Result<FileBackup> {
    let previous = fsutil::read_regular(path, MAX_PREVIOUS)
        .map_err(|e| Error::usage(format!("--deliver-file {}: {e}", path.display())))?;
    if previous
        .as_ref()
        .is_some_and(|p| p.len() as u64 >= MAX_PREVIOUS)
    {
        return Err(Error::usage(format!(
            "--deliver-file {}: the file is larger than {MAX_PREVIOUS} bytes, so it cannot be a \
             secret's file",
            path.display()
        )));
    }
    config::write_atomic(
        path,
        secret.expose().as_bytes(),
        "the delivery file",
        config::Mode::Keep,
    )?;
    Ok(FileBackup {
        path: path.to_path_buf(),
        previous,
    })
}

impl FileBackup {
    /// Puts the previous content back (atomically), or removes the file when there was none.
    pub fn restore(self) -> Result<()> {
        match &self.previous {
            Some(bytes) => {
                config::write_atomic(&self.path, bytes, "the delivery file", config::Mode::Keep)
            }
            None => std::fs::remove_file(&self.path).map_err(|e| {
                Error::new(
                    Kind::Write,
                    format!("cannot remove {}: {e}", self.path.display()),
                )
            }),
        }
    }
}

/// The variables a delivery or verify command gets (CONTRACT §12); never the secret.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub context: String,
    pub platform: String,
    pub kind: String,
    pub token_id: String,
    pub old_token_id: String,
    pub name: String,
    /// RFC 3339; `None` when the token never expires.
    pub expires: Option<String>,
}

impl Vars {
    fn apply(&self, cmd: &mut Command) {
        cmd.env("STS_CONTEXT", &self.context)
            .env("STS_PLATFORM", &self.platform)
            .env("STS_KIND", &self.kind)
            .env("STS_TOKEN_ID", &self.token_id)
            .env("STS_OLD_TOKEN_ID", &self.old_token_id)
            .env("STS_TOKEN_NAME", &self.name);
        match &self.expires {
            Some(e) => cmd.env("STS_TOKEN_EXPIRES", e),
            None => cmd.env_remove("STS_TOKEN_EXPIRES"),
        };
    }
}

/// The shell that runs a command line.
fn shell(line: &str) -> Command {
    #[cfg(windows)]
    {
        let mut cmd = Command::new("cmd");
        cmd.arg("/C").arg(line);
        cmd
    }
    #[cfg(not(windows))]
    {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(line);
        // Its own process group, so that a timeout ends whatever it started too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }
}

/// Ends the command and everything in its process group.
fn kill(child: &mut Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: a plain system call on the group this process created for the child.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `line` with `vars` set and, for a delivery, exactly `input` on its standard input (a
/// command that does not read it is no error). Its output goes to stderr line by line,
/// redacted. Exit 0 within `timeout` is success; anything else is exit 12, `what` naming the
/// step.
pub fn run_command(
    what: &str,
    line: &str,
    input: Option<&Secret>,
    vars: &Vars,
    timeout: Duration,
) -> Result<()> {
    let started = Instant::now();
    let mut cmd = shell(line);
    vars.apply(&mut cmd);
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::new(Kind::Command, format!("{what} could not be started: {e}")))?;

    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mut readers = 0;
    if let Some(out) = child.stdout.take() {
        readers += 1;
        forward(out, done_tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        readers += 1;
        forward(err, done_tx.clone());
    }
    drop(done_tx);

    if let (Some(secret), Some(mut stdin)) = (input, child.stdin.take()) {
        // A closed pipe (the command does not read its input) is no error.
        let _ = stdin.write_all(secret.expose().as_bytes());
        drop(stdin);
    }

    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                kill(&mut child);
                return Err(Error::new(
                    Kind::Command,
                    format!("{what} could not be waited for: {e}"),
                ));
            }
        }
        if started.elapsed() >= timeout {
            kill(&mut child);
            drain(&done_rx, readers, Duration::from_secs(1));
            return Err(Error::new(
                Kind::Command,
                format!(
                    "{what} did not finish within {} and was stopped",
                    shown(timeout)
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Its output to the end, unless something it left running holds the pipes open.
    drain(&done_rx, readers, timeout.saturating_sub(started.elapsed()));
    if status.success() {
        Ok(())
    } else {
        let how = match status.code() {
            Some(code) => format!("exited with {code}"),
            None => "was killed by a signal".to_string(),
        };
        Err(Error::new(Kind::Command, format!("{what} {how}")))
    }
}

/// A timeout as the user wrote it: `90s`, or milliseconds below a second.
fn shown(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Copies a child's stream to stderr line by line, each redacted; says when it is done.
fn forward(stream: impl Read + Send + 'static, done: mpsc::Sender<()>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end_matches(['\n', '\r']);
                    let shown = redact::text(text, redact::Stream::Stderr);
                    let _ = writeln!(std::io::stderr(), "{shown}");
                }
            }
        }
        let _ = done.send(());
    });
}

/// Waits until `readers` streams have ended, at most `limit`.
fn drain(done: &mpsc::Receiver<()>, readers: usize, limit: Duration) {
    let until = Instant::now() + limit;
    for _ in 0..readers {
        let left = until.saturating_duration_since(Instant::now());
        if done.recv_timeout(left).is_err() {
            return;
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_written_whole_and_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "before\n").unwrap();
        let backup = deliver_file(&path, &Secret::new("the-new-secret")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"the-new-secret");
        backup.restore().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"before\n");

        let fresh = dir.path().join("fresh");
        let backup = deliver_file(&fresh, &Secret::new("s")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        backup.restore().unwrap();
        assert!(!fresh.exists());
    }

    #[test]
    fn a_folder_or_a_missing_folder_is_refused_before_anything() {
        let dir = tempfile::tempdir().unwrap();
        for path in [dir.path().to_path_buf(), dir.path().join("no/such/key")] {
            let d = Delivery {
                file: Some(path),
                ..Delivery::default()
            };
            assert_eq!(d.check().unwrap_err().kind, Kind::Usage);
        }
    }

    #[test]
    fn commands_fail_with_exit_12() {
        let vars = Vars::default();
        let t = Duration::from_secs(30);
        assert!(
            run_command(
                "the command",
                "cat >/dev/null",
                Some(&Secret::new("x")),
                &vars,
                t
            )
            .is_ok()
        );
        assert!(run_command("the command", "true", Some(&Secret::new("x")), &vars, t).is_ok());
        let e = run_command("the command", "exit 1", None, &vars, t).unwrap_err();
        assert_eq!(e.kind, Kind::Command);
        assert_eq!(e.exit_code(), 12);
        let e = run_command(
            "the command",
            "sleep 30",
            None,
            &vars,
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(e.message.contains("did not finish"), "{}", e.message);
    }
}
