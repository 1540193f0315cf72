//! `sts` on Windows (CONTRACT §15): the `x86_64-pc-windows-gnu` release build, run under wine in
//! a fresh prefix against a Linux `sts-sandbox` on loopback. wine and the MinGW compiler come
//! from `scripts/install-test-tools`; without them these tests fail, they are never skipped.
//!
//! wine 8.0 lacks `bcryptprimitives.dll`, which Rust's standard library needs to start: the
//! test-only stand-in in `wine/bcryptprimitives.c` is built beside the test's copy of `sts.exe`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::common::cross::{cargo, cross_target_dir};
use crate::common::{Sandbox, repo_root};

const TARGET: &str = "x86_64-pc-windows-gnu";

/// `sts.exe` of `cargo build --release --target x86_64-pc-windows-gnu --bin sts`, copied into a
/// folder of its own with the `bcryptprimitives.dll` stand-in beside it. Built once per run.
fn windows_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        cargo(&[
            "build",
            "--release",
            "--locked",
            "--target",
            TARGET,
            "--bin",
            "sts",
        ]);
        let built = cross_target_dir().join(TARGET).join("release/sts.exe");
        let dir = cross_target_dir().join("wine-test");
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("sts.exe");
        std::fs::copy(&built, &exe).unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
        let source = repo_root().join("tests/it/wine/bcryptprimitives.c");
        let out = Command::new("x86_64-w64-mingw32-gcc")
            .args(["-shared", "-O2", "-o"])
            .arg(dir.join("bcryptprimitives.dll"))
            .arg(&source)
            .arg("-ladvapi32")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run x86_64-w64-mingw32-gcc (scripts/install-test-tools): {e}")
            });
        assert!(
            out.status.success(),
            "building the bcryptprimitives.dll stand-in failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        exe
    })
}

/// A fresh wine prefix; its wineserver is stopped when dropped.
struct Wine {
    prefix: tempfile::TempDir,
}

impl Wine {
    fn new() -> Wine {
        Wine {
            prefix: tempfile::tempdir().unwrap(),
        }
    }

    /// The config file the tests' `sts.exe` uses, as seen from Linux.
    /// `sts`'s default config on Windows, `%APPDATA%\sts\config.toml`, in the prefix's one user
    /// profile (call it once a context is saved).
    fn config(&self) -> PathBuf {
        let users = self.prefix.path().join("drive_c/users");
        std::fs::read_dir(&users)
            .unwrap()
            .map(|e| e.unwrap().path().join("AppData/Roaming/sts/config.toml"))
            .find(|p| p.exists())
            .unwrap_or_else(|| {
                panic!(
                    "no AppData/Roaming/sts/config.toml under {}",
                    users.display()
                )
            })
    }

    /// `sts.exe ARGS` under wine, with only `envs` of sts's own variables and `stdin` on its
    /// standard input.
    fn sts(&self, args: &[&str], envs: &[(&str, &str)], stdin: &str) -> Output {
        let mut cmd = self.command(windows_exe().as_os_str());
        cmd.args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("STS_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run wine (scripts/install-test-tools): {e}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// `wine PROGRAM` in this prefix, with no display.
    fn command(&self, program: &std::ffi::OsStr) -> Command {
        let mut cmd = Command::new("wine");
        cmd.arg(program)
            .env("WINEPREFIX", self.prefix.path())
            .env("WINEDEBUG", "-all")
            // No Mono or Gecko installer prompts in a fresh prefix.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env("NO_COLOR", "1");
        cmd
    }

    /// The keys under wine's Credential Manager (`HKCU\Software\Wine\Credential Manager`),
    /// one per stored item, as `reg query` lists them.
    fn credential_items(&self) -> String {
        let out = self
            .command("reg".as_ref())
            .args(["query", r"HKCU\Software\Wine\Credential Manager"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run wine (scripts/install-test-tools): {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Like [`Wine::sts`], checked to exit 0; its standard output.
    fn sts_ok(&self, args: &[&str], envs: &[(&str, &str)], stdin: &str) -> String {
        let out = self.sts(args, envs, stdin);
        assert_eq!(
            out.status.code(),
            Some(0),
            "sts.exe {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        let _ = Command::new("wineserver")
            .arg("-k")
            .env("WINEPREFIX", self.prefix.path())
            .status();
    }
}

/// The names in a `service-token list -o json`.
fn token_names(json: &str) -> Vec<String> {
    let value: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    let mut names: Vec<String> = value["service-tokens"]
        .as_array()
        .unwrap_or_else(|| panic!("no service-tokens: {json}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn the_windows_build_runs_with_env_credentials_and_insecure_storage_contexts() {
    let sandbox = Sandbox::start();
    let token = sandbox.create_service_token("win-ci", &["stackstate-admin"]);
    let wine = Wine::new();

    let version = wine.sts_ok(&["--version"], &[], "");
    assert!(version.starts_with("sts "), "{version}");

    // Credentials from the environment, over loopback to the Linux sandbox.
    let listed = wine.sts_ok(
        &["service-token", "list", "-o", "json"],
        &[
            ("STS_CLI_URL", &sandbox.url),
            ("STS_CLI_API_TOKEN", &sandbox.admin_token),
        ],
        "",
    );
    assert_eq!(token_names(&listed), ["win-ci"]);

    // A context in credentials.toml, then used by name.
    let save = |name: &str| {
        wine.sts_ok(
            &[
                "context",
                "save",
                "--name",
                name,
                "--url",
                &sandbox.url,
                "--service-token",
                "-",
                "--insecure-storage",
            ],
            &[],
            &format!("{token}\n"),
        )
    };
    let saved = save("prod");
    assert!(saved.contains("Saved context: 'prod'"), "{saved}");
    let contexts = wine.sts_ok(&["context", "list"], &[], "");
    assert!(contexts.contains("prod"), "{contexts}");
    let listed = wine.sts_ok(&["service-token", "list", "-o", "json"], &[], "");
    assert_eq!(token_names(&listed), ["win-ci"]);

    // A second save of the same context replaces it (an atomic rename over the old file) and
    // leaves one whole config: it parses, holds the one context, and no temporary file is left.
    let before = std::fs::read_to_string(wine.config()).unwrap();
    save("prod");
    let after = std::fs::read_to_string(wine.config()).unwrap();
    let config: toml::Table =
        toml::from_str(&after).unwrap_or_else(|e| panic!("config does not parse ({e}): {after}"));
    let contexts = config["contexts"].as_table().unwrap();
    assert_eq!(contexts.keys().collect::<Vec<_>>(), ["prod"], "{after}");
    assert_eq!(config["current-context"].as_str(), Some("prod"), "{after}");
    assert_ne!(before, after, "a replacing save writes a new credential id");
    let mut names: Vec<String> = std::fs::read_dir(wine.config().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "config.toml",
            "config.toml.lock",
            "credentials.toml",
            "credentials.toml.lock"
        ],
        "only the two files and their locks: no temporary file is left"
    );
    let credentials =
        std::fs::read_to_string(wine.config().with_file_name("credentials.toml")).unwrap();
    assert!(
        credentials.contains(&token),
        "the secret is in credentials.toml"
    );
    assert!(!after.contains(&token), "never in the config");
    let listed = wine.sts_ok(&["service-token", "list", "-o", "json"], &[], "");
    assert_eq!(token_names(&listed), ["win-ci"]);
}

#[test]
fn the_windows_build_keeps_a_context_secret_in_wines_credential_manager() {
    let sandbox = Sandbox::start();
    let token = sandbox.create_service_token("win-keyring", &["stackstate-admin"]);
    let wine = Wine::new();

    let saved = wine.sts_ok(
        &[
            "context",
            "save",
            "--name",
            "desk",
            "--url",
            &sandbox.url,
            "--service-token",
            "-",
        ],
        &[],
        &format!("{token}\n"),
    );
    assert!(saved.contains("Saved context: 'desk'"), "{saved}");
    let config = std::fs::read_to_string(wine.config()).unwrap();
    assert!(config.contains("storage = \"keyring\""), "{config}");
    let table: toml::Table = toml::from_str(&config).unwrap();
    let id = table["contexts"]["desk"]["credential-id"]
        .as_str()
        .unwrap()
        .to_string();
    // The keyring crate's item: target `<credential-id>.sts`.
    let item = format!("{id}.sts");
    let items = wine.credential_items();
    assert!(items.contains(&item), "no {item} in:\n{items}");
    assert!(!config.contains(&token), "never in the config");
    assert!(
        !wine.config().with_file_name("credentials.toml").exists(),
        "the secret went to the Credential Manager, not to a file"
    );

    // The secret comes back from the Credential Manager: no env var or file holds it.
    let listed = wine.sts_ok(&["service-token", "list", "-o", "json"], &[], "");
    assert_eq!(token_names(&listed), ["win-keyring"]);

    // Deleting the context deletes its item.
    wine.sts_ok(&["context", "delete", "--name", "desk"], &[], "");
    let items = wine.credential_items();
    assert!(!items.contains(&item), "{item} is still there:\n{items}");
}
