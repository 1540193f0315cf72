//! Builds for other targets than the host's, made by the tests themselves with `cargo` into a
//! target folder of their own (the outer `cargo test` holds the lock of the usual one).

use std::path::PathBuf;
use std::process::Command;

use super::repo_root;

/// The folder the cross-target builds of the tests share (`.ci/run` builds into it first, so
/// the tests find the binaries fresh).
pub fn cross_target_dir() -> PathBuf {
    repo_root().join("target/cross")
}

/// Runs `cargo` with `args` in the repository, building into [`cross_target_dir`]; panics with
/// cargo's own words when it fails.
pub fn cargo(args: &[&str]) {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .env("CARGO_TARGET_DIR", cross_target_dir())
        // `cargo test` passes the build script's `STS_GIT_COMMIT` on to the tests; inherited, it
        // would make this build differ from the one `scripts/check-targets` made, and rebuild.
        .env_remove("STS_GIT_COMMIT")
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    assert!(
        out.status.success(),
        "cargo {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
