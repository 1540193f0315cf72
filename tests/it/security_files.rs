//! Files that are not ours (CONTRACT §5): a device node, a FIFO, a socket or a folder as the
//! config file (directly or through a symlink) is exit 1, never replaced, nothing written beside
//! it, and a FIFO never hangs; `/dev/zero` as config, CA file, token file or stdin is a clean
//! error; a symlinked config is written through to its target with one shared lock; a rewrite
//! keeps mode and owner; a CA whose PEM holds bad DER is exit 11, also for `--skip-validate`.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cli_util::{Run, run};
use crate::common::TestEnv;

const TOKEN: &str = "svctok-files-credential-0123456789";

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// `sts --config <config> <args>`.
fn sts(env: &TestEnv, config: &Path, args: &[&str]) -> Run {
    run(env.sts().arg("--config").arg(config).args(args))
}

fn save_args(name: &str) -> Vec<String> {
    [
        "context",
        "save",
        "--name",
        name,
        "--url",
        "http://127.0.0.1:9",
        "--service-token",
        TOKEN,
        "--skip-validate",
        "--insecure-storage",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Every command that reads or writes the config, each expected to be exit 1 without touching
/// anything.
fn every_config_command(env: &TestEnv, config: &Path) -> Vec<(String, Run)> {
    let save = save_args("x");
    let save: Vec<&str> = save.iter().map(String::as_str).collect();
    let commands: Vec<Vec<&str>> = vec![
        save,
        vec!["context", "list"],
        vec!["context", "show"],
        vec!["context", "set", "--name", "x"],
        vec!["context", "delete", "--name", "x"],
        vec!["service-token", "list"],
    ];
    commands
        .into_iter()
        .map(|args| (format!("{args:?}"), sts(env, config, &args)))
        .collect()
}

fn assert_all_exit_1(runs: &[(String, Run)], what: &str) {
    for (args, r) in runs {
        assert_eq!(r.code, 1, "{what} {args}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("not a regular file"),
            "{what} {args}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
}

fn mknod_char(path: &Path) {
    // The same numbers as /dev/null: harmless if anything ever wrote to it.
    let status = Command::new("mknod")
        .arg(path)
        .args(["c", "1", "3"])
        .status()
        .expect("run mknod");
    assert!(status.success(), "mknod needs root (CI runs as root)");
}

#[test]
fn a_device_node_as_config_is_exit_1_stays_a_device_and_nothing_is_written_beside_it() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("config.toml");
    mknod_char(&dev);
    let runs = every_config_command(&env, &dev);
    assert_all_exit_1(&runs, "device");
    assert!(
        fs::symlink_metadata(&dev)
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert_eq!(names_in(dir.path()), ["config.toml"]);

    // Through a symlink (in another folder) too: the link and the device stay, nothing beside
    // either.
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("config.toml");
    std::os::unix::fs::symlink(&dev, &link).unwrap();
    let runs = every_config_command(&env, &link);
    assert_all_exit_1(&runs, "symlink to a device");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        fs::symlink_metadata(&dev)
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert_eq!(names_in(dir.path()), ["config.toml"]);
    assert_eq!(names_in(links.path()), ["config.toml"]);
}

#[test]
fn a_fifo_a_socket_or_a_folder_as_config_is_exit_1_without_hanging() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.toml");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    // No writer ever opens the FIFO: a read of it would block forever.
    assert_all_exit_1(&every_config_command(&env, &fifo), "FIFO");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    let socket = dir.path().join("socket.toml");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    assert_all_exit_1(&every_config_command(&env, &socket), "socket");
    assert!(
        fs::symlink_metadata(&socket)
            .unwrap()
            .file_type()
            .is_socket()
    );

    let folder = dir.path().join("folder.toml");
    fs::create_dir(&folder).unwrap();
    assert_all_exit_1(&every_config_command(&env, &folder), "folder");
    let link = dir.path().join("link.toml");
    std::os::unix::fs::symlink(&folder, &link).unwrap();
    assert_all_exit_1(&every_config_command(&env, &link), "symlink to a folder");
    assert!(names_in(&folder).is_empty());
    assert_eq!(
        names_in(dir.path()),
        ["fifo.toml", "folder.toml", "link.toml", "socket.toml"]
    );
}

/// `sts <args>` with stdin read from `/dev/zero`, in the test's isolated home.
fn with_dev_zero_stdin(env: &TestEnv, args: &[&str]) -> Run {
    let home = env.home();
    fs::create_dir_all(home.join("runtime")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sts"))
        .args(args)
        .env_clear()
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_RUNTIME_DIR", home.join("runtime"))
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::from(fs::File::open("/dev/zero").unwrap()))
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn dev_zero_as_stdin_ca_token_file_or_config_is_a_clean_error() {
    let env = TestEnv::new();
    let r = with_dev_zero_stdin(
        &env,
        &[
            "service-token",
            "list",
            "--url",
            "http://127.0.0.1:9",
            "--service-token",
            "-",
        ],
    );
    let r = r.fails(3);
    assert!(r.stderr.contains("64 KiB"), "{}", r.stderr);
    let r = with_dev_zero_stdin(
        &env,
        &[
            "ingestion-api-key",
            "verify",
            "--url",
            "http://127.0.0.1:9",
            "--api-token",
            "t0ken-abc",
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let save = with_dev_zero_stdin(
        &env,
        &[
            "context",
            "save",
            "--url",
            "http://127.0.0.1:9",
            "--service-token",
            "-",
            "--skip-validate",
            "--insecure-storage",
        ],
    );
    assert_eq!(save.code, 3, "{}", save.stderr);

    let ca = run(env.sts_at("https://127.0.0.1:9", TOKEN, false).args([
        "service-token",
        "list",
        "--ca-cert-path",
        "/dev/zero",
    ]))
    .fails(5);
    assert!(
        ca.stderr.contains("a character device, not a regular file"),
        "{}",
        ca.stderr
    );
    let save = run(env.sts().args([
        "context",
        "save",
        "--url",
        "https://127.0.0.1:9",
        "--service-token",
        TOKEN,
        "--ca-cert-path",
        "/dev/zero",
        "--skip-validate",
        "--insecure-storage",
    ]));
    save.fails(5);
    let token = run(env.sts().args([
        "service-token",
        "list",
        "--url",
        "http://127.0.0.1:9",
        "--k8s-sa-token-path",
        "/dev/zero",
    ]))
    .fails(5);
    assert!(
        token
            .stderr
            .contains("a character device, not a regular file"),
        "{}",
        token.stderr
    );

    // /dev/zero as config, through a link of the test's own (read-only commands: nothing here
    // may ever write through to /dev/zero).
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("config.toml");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    for args in [&["context", "list"][..], &["context", "show"][..]] {
        sts(&env, &link, args).fails(1);
    }
    // Another CLI's file to import, too.
    let r = sts(
        &env,
        &dir.path().join("new.toml"),
        &["context", "import", "--from", "/dev/zero"],
    )
    .fails(1);
    assert!(
        r.stderr.contains("a character device, not a regular file"),
        "{}",
        r.stderr
    );
    // A regular config over 1 MiB is exit 1 too.
    let big = dir.path().join("big.toml");
    fs::write(&big, format!("# {}\n", "x".repeat(2 * 1024 * 1024))).unwrap();
    let r = sts(&env, &big, &["context", "list"]).fails(1);
    assert!(r.stderr.contains("larger than 1 MiB"), "{}", r.stderr);
}

fn contexts_in(config: &Path) -> Vec<String> {
    let text = fs::read_to_string(config).unwrap();
    let v: toml::Table = toml::from_str(&text).unwrap();
    let mut names: Vec<String> = v["contexts"].as_table().unwrap().keys().cloned().collect();
    names.sort();
    names
}

#[test]
fn twenty_parallel_saves_through_a_symlink_and_its_target_keep_twenty_contexts() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let target_dir = dir.path().join("dotfiles");
    fs::create_dir(&target_dir).unwrap();
    let target = target_dir.join("sts.toml");
    let link_dir = dir.path().join("home");
    fs::create_dir(&link_dir).unwrap();
    let link = link_dir.join("config.toml");
    std::os::unix::fs::symlink("../dotfiles/sts.toml", &link).unwrap();

    let children: Vec<_> = (0..20)
        .map(|i| {
            let path: &PathBuf = if i % 2 == 0 { &link } else { &target };
            let mut cmd = env.sts();
            cmd.arg("--config")
                .arg(path)
                .args(save_args(&format!("ctx{i:02}")));
            // Each on a thread of its own, so all twenty run at once.
            std::thread::spawn(move || run(&mut cmd))
        })
        .collect();
    for child in children {
        child.join().unwrap().ok();
    }
    let expected: Vec<String> = (0..20).map(|i| format!("ctx{i:02}")).collect();
    assert_eq!(contexts_in(&target), expected);
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // The lock, the credentials and no temporary file, all beside the target; only the link in
    // its own folder.
    assert_eq!(names_in(&link_dir), ["config.toml"]);
    assert_eq!(
        names_in(&target_dir),
        [
            "credentials.toml",
            "credentials.toml.lock",
            "sts.toml",
            "sts.toml.lock"
        ]
    );
    let creds: toml::Table =
        toml::from_str(&fs::read_to_string(target_dir.join("credentials.toml")).unwrap()).unwrap();
    assert_eq!(creds.len(), 20);
    // Every context still finds its credential, through either path.
    for path in [&link, &target] {
        let r = run(env
            .sts()
            .arg("--config")
            .arg(path)
            .args(["context", "list", "-o", "json"]))
        .ok();
        assert_eq!(r.json()["contexts"].as_array().unwrap().len(), 20);
    }
}

#[test]
fn a_rewrite_keeps_mode_and_owner_and_removes_leftover_temporary_files() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let save = save_args("a");
    let save: Vec<&str> = save.iter().map(String::as_str).collect();
    sts(&env, &config, &save).ok();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(&config, Some(4321), Some(4322)).unwrap();
    // What a write killed in the middle leaves behind (plain-text tokens in the second).
    fs::write(dir.path().join(".config.toml.99999.0badf00d.tmp"), "x").unwrap();
    fs::write(dir.path().join(".credentials.toml.99999.0badf00d.tmp"), "x").unwrap();
    let save = save_args("b");
    let save: Vec<&str> = save.iter().map(String::as_str).collect();
    sts(&env, &config, &save).ok();
    let meta = fs::metadata(&config).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o640);
    assert_eq!((meta.uid(), meta.gid()), (4321, 4322));
    assert_eq!(contexts_in(&config), ["a", "b"]);
    assert_eq!(
        fs::metadata(dir.path().join("credentials.toml"))
            .unwrap()
            .mode()
            & 0o777,
        0o600
    );
    assert_eq!(
        names_in(dir.path()),
        [
            "config.toml",
            "config.toml.lock",
            "credentials.toml",
            "credentials.toml.lock"
        ]
    );
}

#[test]
fn a_ca_with_bad_der_is_exit_11_and_skip_validate_refuses_a_garbage_ca() {
    use base64::Engine;
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    // A well-formed PEM block whose bytes are no certificate.
    let bad_der = dir.path().join("bad-der.pem");
    fs::write(
        &bad_der,
        "-----BEGIN CERTIFICATE-----\nMIIBAAECAwQFBgcICQoLDA0ODw==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let garbage = dir.path().join("garbage.pem");
    fs::write(&garbage, "not a certificate at all\n").unwrap();
    for ca in [&bad_der, &garbage] {
        let r = run(env
            .sts_at("https://127.0.0.1:9", TOKEN, false)
            .args(["service-token", "list", "--ca-cert-path"])
            .arg(ca))
        .fails(11);
        assert!(r.stderr.contains("does not parse"), "{}", r.stderr);
        let config = dir.path().join("config.toml");
        let r = run(env
            .sts()
            .arg("--config")
            .arg(&config)
            .args(save_args("x"))
            .arg("--ca-cert-path")
            .arg(ca));
        r.fails(11);
        assert!(!config.exists());
        let data = base64::engine::general_purpose::STANDARD.encode(fs::read(ca).unwrap());
        let r = run(env
            .sts()
            .arg("--config")
            .arg(&config)
            .args(save_args("x"))
            .args(["--ca-cert-base64-data", &data]));
        r.fails(11);
        assert!(!config.exists());
    }
}

#[test]
fn comments_and_table_order_of_a_hand_edited_config_survive_every_write() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    fs::write(
        &config,
        "# Written by hand: keep this.\ncurrent-context = \"zeta\" # mine\n\n\
         # The last one first, on purpose.\n[contexts.zeta]\nurl = \"http://127.0.0.1:9\"\n\
         auth = \"api-token\"\nstorage = \"file\"\ncredential-id = \"z1\" # no secret here\n\n\
         # A spare.\n[contexts.alpha]\nurl = \"http://127.0.0.1:9\"\nauth = \"api-token\"\n\
         storage = \"file\"\ncredential-id = \"a1\"\n",
    )
    .unwrap();
    let save = save_args("mid");
    let save: Vec<&str> = save.iter().map(String::as_str).collect();
    sts(&env, &config, &save).ok();
    sts(&env, &config, &["context", "set", "--name", "zeta"]).ok();
    sts(&env, &config, &["context", "delete", "--name", "mid"]).ok();
    let text = fs::read_to_string(&config).unwrap();
    for kept in [
        "# Written by hand: keep this.",
        "current-context = \"zeta\" # mine",
        "# The last one first, on purpose.",
        "credential-id = \"z1\" # no secret here",
        "# A spare.",
    ] {
        assert!(text.contains(kept), "{kept:?} lost:\n{text}");
    }
    let zeta = text.find("[contexts.zeta]").unwrap();
    let alpha = text.find("[contexts.alpha]").unwrap();
    assert!(zeta < alpha, "{text}");
    assert!(!text.contains("[contexts.mid]"), "{text}");
}

#[test]
fn a_dangling_current_context_is_no_error_when_flags_or_env_give_url_and_token() {
    let env = TestEnv::new();
    let server = crate::common::loopback::Server::start(|_| {
        crate::common::loopback::response(200, &[("Content-Type", "application/json")], "[]")
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    fs::write(&config, "current-context = \"gone\"\n").unwrap();
    let flags = sts(
        &env,
        &config,
        &[
            "service-token",
            "list",
            "--url",
            &server.url,
            "--api-token",
            TOKEN,
        ],
    )
    .ok();
    assert!(
        flags.stdout.contains("No service tokens found."),
        "{}",
        flags.stdout
    );
    run(env
        .sts_at(&server.url, TOKEN, false)
        .arg("--config")
        .arg(&config)
        .args(["service-token", "list"]))
    .ok();
    assert_eq!(server.requests().len(), 2);
    // Without a token it is still the missing context that is reported (exit 8).
    let r = sts(
        &env,
        &config,
        &["service-token", "list", "--url", &server.url],
    );
    assert_eq!(r.code, 8, "{}", r.stderr);
    assert!(r.stderr.contains("'gone'"), "{}", r.stderr);
}
