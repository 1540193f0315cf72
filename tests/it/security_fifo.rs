//! A FIFO (or any file that is not a regular file) is refused wherever `sts` reads a file the
//! user names, since a read from it can hang where `--timeout` does not reach (CONTRACT §5;
//! issue 25 finding 9): `context import --from` for every source and at every source's default
//! path, `--k8s-sa-token-path`, `--ca-cert-path` and `STS_CA_CERT_PATH`. Each run must end (the
//! harness's own timeout turns a hang into a failure) with the error naming what the file is.

use std::path::Path;

use crate::cli_util::run;
use crate::common::TestEnv;

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(status.success());
}

const NOT_REGULAR: &str = "it is a FIFO, not a regular file";

#[test]
fn context_import_refuses_a_fifo_from_every_source_and_at_every_default_path() {
    for source in ["stackstate-cli", "rsconnect", "qualytics"] {
        let env = TestEnv::new();
        let fifo = env.dir.path().join(format!("{source}.fifo"));
        mkfifo(&fifo);
        let r = run(env
            .sts()
            .args(["context", "import", source, "--from"])
            .arg(&fifo))
        .fails(1);
        assert!(r.stderr.contains(NOT_REGULAR), "{source}: {}", r.stderr);

        // The default path: where the message says it looked, then a FIFO there.
        let r = run(env.sts().args(["context", "import", source])).fails(1);
        let looked = r
            .stderr
            .split(" at ")
            .nth(1)
            .and_then(|rest| rest.split(": name it").next())
            .unwrap_or_else(|| panic!("{source}: no path in {}", r.stderr))
            .to_string();
        assert!(
            looked.starts_with(&*env.home().to_string_lossy()),
            "{looked}"
        );
        mkfifo(Path::new(&looked));
        let r = run(env.sts().args(["context", "import", source])).fails(1);
        assert!(r.stderr.contains(NOT_REGULAR), "{source}: {}", r.stderr);
    }
}

#[test]
fn token_and_ca_paths_refuse_a_fifo() {
    let env = TestEnv::new();
    let fifo = env.dir.path().join("file.fifo");
    mkfifo(&fifo);
    let fifo = fifo.to_str().unwrap();
    let r = run(env.sts().args([
        "service-token",
        "list",
        "--url",
        "http://127.0.0.1:9",
        "--k8s-sa-token-path",
        fifo,
    ]))
    .fails(5);
    assert!(r.stderr.contains(NOT_REGULAR), "{}", r.stderr);
    let r = run(env
        .sts_at("https://127.0.0.1:9", "svctok-fifo-test-123456", false)
        .args(["service-token", "list", "--ca-cert-path", fifo]))
    .fails(5);
    assert!(r.stderr.contains(NOT_REGULAR), "{}", r.stderr);
    let r = run(env
        .sts_at("https://127.0.0.1:9", "svctok-fifo-test-123456", false)
        .env("STS_CA_CERT_PATH", fifo)
        .args(["service-token", "list"]))
    .fails(5);
    assert!(r.stderr.contains(NOT_REGULAR), "{}", r.stderr);

    // A regular file too large is still refused by its size.
    let big = env.dir.path().join("big.pem");
    std::fs::write(&big, vec![b'x'; 2 * 1024 * 1024]).unwrap();
    let r = run(env
        .sts_at("https://127.0.0.1:9", "svctok-fifo-test-123456", false)
        .args(["service-token", "list", "--ca-cert-path"])
        .arg(&big))
    .fails(5);
    assert!(r.stderr.contains("larger than 1 MiB"), "{}", r.stderr);
}
