//! Ctrl-C while a spinner shows (issue 22): the spinner's line is cleared and `sts` ends by the
//! signal as before (130 in the shell). In a tmux pane, against a sandbox whose answer hangs.

use std::path::PathBuf;

use serde_json::json;

use crate::common::tmux::Tmux;
use crate::common::{Sandbox, TestEnv};

const WAITING: &str = "Awaiting server response";

#[test]
fn ctrl_c_clears_the_spinner_line_and_exits_130() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    std::fs::create_dir_all(env.config_home()).unwrap();
    sb.fault(json!({"count": 1, "path": "/api/security/tokens", "hang": true}));
    let tmux = Tmux::start(80);
    // The shell traps INT (so it lives on to print the code); `sts` starts with the default
    // action, as from an interactive shell.
    tmux.run_script(
        "int",
        &format!(
            "trap 'true' INT\n\
             env -i PATH=/usr/bin:/bin HOME='{}' XDG_CONFIG_HOME='{}' TERM=xterm-256color \
             STS_CLI_URL='{}' STS_CLI_API_TOKEN='{}' '{}' service-token list --timeout 5m\n\
             echo rc=$?",
            env.home().display(),
            env.config_home().display(),
            sb.url,
            sb.admin_token,
            PathBuf::from(env!("CARGO_BIN_EXE_sts")).display()
        ),
    );
    // In the middle: the request hangs and the spinner shows.
    tmux.wait_for("int", |t| t.contains(WAITING));
    tmux.send_keys("int", "C-c");
    let pane = tmux.wait_done("int");
    assert!(pane.contains("rc=130"), "{pane}");
    assert!(
        !pane.contains(WAITING),
        "the spinner's line is left:\n{pane}"
    );
    let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    assert!(
        !pane.contains(&frames[..]),
        "a spinner frame is left:\n{pane}"
    );
}
