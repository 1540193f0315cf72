//! No credential to another host (CONTRACT §7): a server that redirects (301, 302, 303, 307,
//! 308, and https → http) to a second loopback listener. The listener must receive nothing; the
//! command is exit 3 naming the `Location`; `verify` is never "valid". Then the input checks of
//! §7: a URL with `user:pass@`, a query or a fragment, and a token no header can carry, each
//! exit 3 before any request.

use crate::cli_util::{Run, run};
use crate::common::TestEnv;
use crate::common::loopback::{Server, response};

const TOKEN: &str = "svctok-redirect-credential-0123456789";
const KEY: &str = "iapikey-redirect-body-secret-9876543210";

/// A server answering every request with `status` and a `Location` on the trap.
fn redirector(status: u16, trap: &Server) -> Server {
    let location = format!("{}/api/security/tokens", trap.url);
    Server::start(move |_| response(status, &[("Location", &location)], ""))
}

fn assert_refused_redirect(r: &Run, trap: &Server, what: &str) {
    assert_eq!(r.code, 3, "{what}: {}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&trap.url) && r.stderr.contains("redirect"),
        "{what}: the error names the Location: {}",
        r.stderr
    );
    assert!(!r.stdout.contains("valid"), "{what}: {}", r.stdout);
    assert!(
        trap.requests().is_empty(),
        "{what}: the trap received {:?}",
        trap.requests()
    );
    for secret in [TOKEN, KEY] {
        assert!(
            !r.stderr.contains(secret) && !r.stdout.contains(secret),
            "{what}"
        );
    }
}

#[test]
fn no_redirect_is_followed_by_any_method() {
    let env = TestEnv::new();
    for status in [301, 302, 303, 307, 308] {
        let trap = Server::trap();
        let server = redirector(status, &trap);
        let list = run(env
            .sts_at(&server.url, TOKEN, false)
            .args(["service-token", "list"]));
        assert_refused_redirect(&list, &trap, &format!("{status} list"));
        let create = run(env.sts_at(&server.url, TOKEN, false).args([
            "service-token",
            "create",
            "--name",
            "n",
            "--roles",
            "r",
        ]));
        assert_refused_redirect(&create, &trap, &format!("{status} create"));
        let delete =
            run(env
                .sts_at(&server.url, TOKEN, false)
                .args(["service-token", "delete", "7"]));
        assert_refused_redirect(&delete, &trap, &format!("{status} delete"));
        // The redirecting server itself got each request once: no retry of a 3xx.
        assert_eq!(server.requests().len(), 3, "{status}");
    }
}

#[test]
fn verify_is_never_valid_on_a_redirect_and_its_body_stays_home() {
    let env = TestEnv::new();
    for status in [302, 307, 308] {
        let trap = Server::trap();
        let server = redirector(status, &trap);
        let r = run(env
            .sts_at(&server.url, TOKEN, false)
            .args(["ingestion-api-key", "verify", "-vv"])
            .write_stdin(format!("{KEY}\n")));
        assert_refused_redirect(&r, &trap, &format!("{status} verify"));
        assert!(
            server.received().contains(KEY),
            "the key went to the server itself"
        );
    }
}

#[test]
fn context_save_follows_no_redirect_and_saves_nothing() {
    let env = TestEnv::new();
    let trap = Server::trap();
    let server = redirector(307, &trap);
    let config = env.dir.path().join("config.toml");
    let r = run(env.sts().args([
        "context",
        "save",
        "--config",
        config.to_str().unwrap(),
        "--url",
        &server.url,
        "--service-token",
        TOKEN,
        "--insecure-storage",
    ]));
    assert_refused_redirect(&r, &trap, "context save");
    assert!(!config.exists());
}

#[test]
fn an_https_server_redirecting_to_http_sends_nothing_in_clear_text() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let env = TestEnv::new();
    let ca_path = env.dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca_pem).unwrap();

    let trap = Server::trap();
    assert!(trap.url.starts_with("http://"));
    let location = format!("{}/api/security/tokens", trap.url);
    let server = Server::start_tls(&cert.pem(), &key.serialize_pem(), move |_| {
        response(302, &[("Location", &location)], "")
    });
    let r = run(env
        .sts_at(&server.url, TOKEN, false)
        .args(["service-token", "list", "--ca-cert-path"])
        .arg(&ca_path));
    assert_refused_redirect(&r, &trap, "https → http");
    assert_eq!(server.requests().len(), 1, "the TLS server got the request");
}

// ---------------------------------------------------------------------------------------------
// URLs and tokens (CONTRACT §7)

#[test]
fn a_url_with_user_and_password_is_exit_3_and_the_password_shows_nowhere() {
    let env = TestEnv::new();
    let trap = Server::trap();
    let password = "hunter2-url-password-secret";
    let url = trap
        .url
        .replace("http://", &format!("http://admin:{password}@"));
    let config = env.dir.path().join("config.toml");
    let save = run(env.sts().args([
        "context",
        "save",
        "--config",
        config.to_str().unwrap(),
        "--url",
        &url,
        "--service-token",
        TOKEN,
        "--insecure-storage",
        "--skip-validate",
        "-vv",
    ]));
    let list = run(env
        .sts_at(&url, TOKEN, false)
        .args(["service-token", "list", "-vv"]));
    let json = run(env
        .sts_at(&url, TOKEN, false)
        .args(["service-token", "list", "-o", "json"]));
    for (what, r) in [("save", &save), ("list", &list), ("json", &json)] {
        assert_eq!(r.code, 3, "{what}: {}", r.stderr);
        assert!(r.stderr.contains("user:pass@"), "{what}: {}", r.stderr);
        assert!(
            !r.stderr.contains(password) && !r.stdout.contains(password),
            "{what}: {}",
            r.stderr
        );
    }
    json.stderr_json();
    assert!(!config.exists(), "nothing stored");
    assert!(trap.requests().is_empty());
}

#[test]
fn a_url_with_a_query_or_a_fragment_is_exit_3() {
    let env = TestEnv::new();
    let trap = Server::trap();
    for suffix in ["/?q=1", "#frag", "/api#x", "?"] {
        let url = format!("{}{suffix}", trap.url);
        let r = run(env
            .sts_at(&url, TOKEN, false)
            .args(["service-token", "list"]));
        assert_eq!(r.code, 3, "{url}: {}", r.stderr);
        let save = run(env.sts().args([
            "context",
            "save",
            "--skip-validate",
            "--insecure-storage",
            "--url",
            &url,
            "--service-token",
            TOKEN,
        ]));
        assert_eq!(save.code, 3, "{url}: {}", save.stderr);
    }
    assert!(trap.requests().is_empty());
}

#[test]
fn a_token_no_header_can_carry_is_exit_3_before_any_request() {
    let env = TestEnv::new();
    let trap = Server::trap();
    for token in [
        "svctok-abc\ndef",
        "svctok\rx",
        "svctok\u{1b}[31m",
        "tok\u{7f}",
    ] {
        let r = run(env
            .sts_at(&trap.url, token, false)
            .args(["service-token", "list"]));
        assert_eq!(r.code, 3, "{token:?}: {}", r.stderr);
        assert!(r.stderr.contains("HTTP header"), "{}", r.stderr);
        assert!(!r.stderr.contains("retrying"), "{}", r.stderr);
        let flag = run(env.sts().args([
            "service-token",
            "list",
            "--url",
            &trap.url,
            "--api-token",
            token,
        ]));
        assert_eq!(flag.code, 3, "{token:?}: {}", flag.stderr);
    }
    // From stdin: the line is trimmed, but a control character inside is refused too.
    let stdin = run(env
        .sts()
        .args([
            "service-token",
            "list",
            "--url",
            &trap.url,
            "--service-token",
            "-",
        ])
        .write_stdin("svctok-a\u{1b}b\n"));
    assert_eq!(stdin.code, 3, "{}", stdin.stderr);
    let save = run(env.sts().args([
        "context",
        "save",
        "--skip-validate",
        "--insecure-storage",
        "--url",
        &trap.url,
        "--service-token",
        "bad\ttoken",
    ]));
    assert_eq!(save.code, 3, "{}", save.stderr);
    assert!(trap.requests().is_empty(), "{:?}", trap.requests());
}

#[test]
fn a_hand_edited_context_with_user_and_password_is_refused_too() {
    let env = TestEnv::new();
    let trap = Server::trap();
    let password = "hunter3-config-password-secret";
    let url = trap
        .url
        .replace("http://", &format!("http://admin:{password}@"));
    let config = env.dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "current-context = \"a\"\n[contexts.a]\nurl = \"{url}\"\nauth = \"api-token\"\n\
             storage = \"file\"\ncredential-id = \"c\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        env.dir.path().join("credentials.toml"),
        format!("c = \"{TOKEN}\"\n"),
    )
    .unwrap();
    for args in [
        &["service-token", "list"][..],
        &["context", "validate"][..],
        &["context", "validate", "-o", "json"][..],
    ] {
        let r = run(env.sts().arg("--config").arg(&config).args(args));
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains(password), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains(TOKEN), "{args:?}: {}", r.stderr);
    }
    for args in [
        &["context", "list"][..],
        &["context", "list", "-o", "json"][..],
    ] {
        let r = run(env.sts().arg("--config").arg(&config).args(args));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(!r.stdout.contains(password), "{args:?}: {}", r.stdout);
    }
    assert!(trap.requests().is_empty(), "{:?}", trap.requests());
}
