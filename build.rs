//! Sets `STS_GIT_COMMIT` to the short hash of the commit being built, for `sts --version`.
//! Without git (a source tarball) it is `unknown`; a build never fails for lack of git.

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = std::env::var("STS_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            Command::new("git")
                .args(["rev-parse", "--short", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=STS_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=STS_GIT_COMMIT");
    // Rebuild when HEAD moves; only paths that exist, or cargo would rerun this every build.
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
