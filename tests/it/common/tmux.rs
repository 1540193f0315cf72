//! A tmux server of its own for terminal tests: windows of a chosen size that run a script, and
//! their panes captured. Included with `#[path = "common/tmux.rs"] mod tmux;`.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The marker a script prints when it is done.
pub const DONE: &str = "__DONE__";

/// A tmux server (its socket in a temporary folder), ended when dropped.
pub struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    /// A server whose first session is `width` columns wide.
    pub fn start(width: u16) -> Tmux {
        let tmux = Tmux {
            dir: tempfile::tempdir().unwrap(),
        };
        let status = tmux
            .cmd()
            .args(["new-session", "-d", "-s", "t", "-x", &width.to_string()])
            .args(["-y", "50", "sh"])
            .status()
            .expect("tmux is installed (scripts/install-test-tools)");
        assert!(status.success());
        tmux
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S")
            .arg(self.dir.path().join("sock"))
            .args(["-f", "/dev/null"]);
        cmd
    }

    /// Runs a script in a new window of the session's size; the window stays after it ends.
    pub fn run_script(&self, name: &str, script: &str) {
        let path = self.dir.path().join(format!("{name}.sh"));
        std::fs::write(&path, format!("{script}\necho {DONE}\nexec sleep 600\n")).unwrap();
        let status = self
            .cmd()
            .args(["new-window", "-t", "t:", "-n", name, "sh"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The pane of a window and its history; `-J` joins lines the terminal wrapped, so a line that overflowed
    /// the pane shows as one long line.
    pub fn capture(&self, name: &str) -> String {
        let out = self
            .cmd()
            .args([
                "capture-pane",
                "-p",
                "-J",
                "-S",
                "-",
                "-t",
                &format!("t:{name}"),
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the pane until the script printed [`DONE`]; panics after 30 s.
    pub fn wait_done(&self, name: &str) -> String {
        self.wait_for(name, |text| text.lines().any(|l| l == DONE))
    }

    /// Types keys into a window, as tmux names them (`C-c`).
    pub fn send_keys(&self, name: &str, keys: &str) {
        let status = self
            .cmd()
            .args(["send-keys", "-t", &format!("t:{name}"), keys])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Polls the pane until `done` says yes; panics after 30 s.
    pub fn wait_for(&self, name: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.capture(name);
            if done(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "the pane never got there:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The folder scripts and their files live in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}
