//! TLS (CONTRACT §1, §7): `sts` against `sts-sandbox --tls-cert --tls-key` with a CA and a
//! server certificate made at run time, so no certificate is checked in and none expires.

use std::path::PathBuf;

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::cli_util::{Run, run};
use crate::common::{Sandbox, TestEnv};

/// A CA and a server certificate for `127.0.0.1` and `localhost` signed by it, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

impl Pki {
    fn new() -> Pki {
        Pki::for_names(&["127.0.0.1", "localhost"])
    }

    /// A CA and a server certificate for these names (IP addresses or DNS names).
    fn for_names(names: &[&str]) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "sts test CA (made at run time)");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut server =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "sts-sandbox");
        server.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_pem = server.signed_by(&server_key, &issuer).unwrap().pem();

        std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
        std::fs::write(dir.path().join("server.pem"), server_pem).unwrap();
        std::fs::write(dir.path().join("server.key"), server_key.serialize_pem()).unwrap();
        Pki { dir, ca_pem }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    fn ca_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.ca_pem)
    }

    /// A sandbox serving HTTPS with the server certificate.
    fn sandbox(&self) -> Sandbox {
        Sandbox::start_with(&[
            "--tls-cert",
            &self.arg("server.pem"),
            "--tls-key",
            &self.arg("server.key"),
        ])
    }
}

fn list(env: &TestEnv, sb: &Sandbox, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = env.sts_at(&sb.url, &sb.admin_token, true);
    cmd.args(["service-token", "list"]).args(extra);
    cmd
}

/// One line on stderr, the error symbol first.
fn one_error_line(r: &Run) {
    assert!(
        r.stderr.starts_with("❌ ") && r.stderr.lines().count() == 1,
        "{:?}",
        r.stderr
    );
}

#[test]
fn the_sandbox_serves_https_with_the_given_certificate() {
    let pki = Pki::new();
    let sb = pki.sandbox();
    assert!(sb.url.starts_with("https://127.0.0.1:"), "{}", sb.url);
    let env = TestEnv::new();
    let r = run(&mut list(
        &env,
        &sb,
        &["--ca-cert-path", &pki.arg("ca.pem")],
    ))
    .ok();
    assert_eq!(r.stdout, "No service tokens found.\n");
    assert_eq!(r.stderr, "");
    // The certificate names localhost too.
    let url = sb.url.replace("127.0.0.1", "localhost");
    run(env.sts_at(&url, &sb.admin_token, true).args([
        "service-token",
        "list",
        "--ca-cert-path",
        &pki.arg("ca.pem"),
    ]))
    .ok();
    // Plain HTTP to the TLS port is no answer it accepts.
    let plain = sb.url.replace("https://", "http://");
    run(env.sts_at(&plain, &sb.admin_token, true).args([
        "service-token",
        "list",
        "--timeout",
        "5s",
    ]))
    .fails(4);
    // It stops cleanly on SIGTERM, as the plain HTTP one does.
    assert!(sb.terminate().success());
}

#[test]
fn an_untrusted_certificate_is_exit_4_with_a_message_that_says_so() {
    let pki = Pki::new();
    let sb = pki.sandbox();
    let env = TestEnv::new();
    let r = run(&mut list(&env, &sb, &[])).fails(4);
    one_error_line(&r);
    assert!(r.stderr.contains("not trusted"), "{}", r.stderr);
    assert!(r.stderr.contains("--ca-cert-path"), "{}", r.stderr);
    let r = run(&mut list(&env, &sb, &["-o", "json"])).fails(4);
    let e = r.stderr_json();
    assert_eq!(e["error"], true);
    assert!(
        e["error-message"].as_str().unwrap().contains("not trusted"),
        "{e}"
    );
    // A valid CA that did not sign the server's certificate changes nothing.
    let other = Pki::new();
    let r = run(&mut list(
        &env,
        &sb,
        &["--ca-cert-path", &other.arg("ca.pem")],
    ))
    .fails(4);
    assert!(r.stderr.contains("not trusted"), "{}", r.stderr);
    // A certificate error is not retried (no retry can help), and no request got through.
    let r = run(&mut list(&env, &sb, &["-v"])).fails(4);
    assert!(!r.stderr.contains("retrying"), "{}", r.stderr);
    assert_eq!(sb.request_count_over_tls(&pki), 0);
}

#[test]
fn a_certificate_for_another_name_is_exit_4_with_a_message_that_says_so() {
    let pki = Pki::for_names(&["localhost"]);
    let sb = pki.sandbox();
    let env = TestEnv::new();
    let r = run(&mut list(
        &env,
        &sb,
        &["--ca-cert-path", &pki.arg("ca.pem")],
    ))
    .fails(4);
    one_error_line(&r);
    assert!(
        r.stderr.contains("not valid for this host name"),
        "{}",
        r.stderr
    );
    let url = sb.url.replace("127.0.0.1", "localhost");
    run(env.sts_at(&url, &sb.admin_token, true).args([
        "service-token",
        "list",
        "--ca-cert-path",
        &pki.arg("ca.pem"),
    ]))
    .ok();
}

#[test]
fn every_way_of_giving_the_ca_succeeds() {
    let pki = Pki::new();
    let sb = pki.sandbox();
    let env = TestEnv::new();
    let ca = pki.arg("ca.pem");
    let b64 = pki.ca_base64();
    run(&mut list(&env, &sb, &["--ca-cert-path", &ca])).ok();
    run(&mut list(&env, &sb, &["--ca-cert-base64-data", &b64])).ok();
    run(list(&env, &sb, &[]).env("STS_CA_CERT_PATH", &ca)).ok();
    run(list(&env, &sb, &[]).env("STS_CA_CERT_BASE64_DATA", &b64)).ok();
    // The path wins when both are set.
    run(&mut list(
        &env,
        &sb,
        &["--ca-cert-path", &ca, "--ca-cert-base64-data", "AAAA"],
    ))
    .ok();
    assert_eq!(sb.request_count_over_tls(&pki), 5);
}

#[test]
fn skip_ssl_succeeds_and_warns() {
    let pki = Pki::new();
    let sb = pki.sandbox();
    let env = TestEnv::new();
    let r = run(&mut list(&env, &sb, &["--skip-ssl"])).ok();
    assert_eq!(r.stdout, "No service tokens found.\n");
    assert!(
        r.stderr.starts_with("⚠️") && r.stderr.contains("not verified"),
        "{}",
        r.stderr
    );
    for value in ["1", "true", "yes"] {
        let r = run(list(&env, &sb, &[]).env("STS_SKIP_SSL", value)).ok();
        assert!(r.stderr.contains("not verified"), "{value}: {}", r.stderr);
    }
    // Off means verified again.
    run(list(&env, &sb, &[]).env("STS_SKIP_SSL", "false")).fails(4);
}

#[test]
fn a_ca_that_is_not_pem_is_11_and_a_missing_ca_file_is_5() {
    let pki = Pki::new();
    let sb = pki.sandbox();
    let env = TestEnv::new();
    let garbage = env.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let r = run(&mut list(
        &env,
        &sb,
        &["--ca-cert-path", garbage.to_str().unwrap()],
    ))
    .fails(11);
    one_error_line(&r);
    // DER bytes are a certificate, but not PEM.
    let der = pem_body_as_der(&pki.ca_pem);
    let der_file = env.dir.path().join("ca.der");
    std::fs::write(&der_file, der).unwrap();
    run(list(&env, &sb, &[]).env("STS_CA_CERT_PATH", &der_file)).fails(11);
    // A private key is PEM, but no certificate.
    run(&mut list(
        &env,
        &sb,
        &["--ca-cert-path", &pki.arg("server.key")],
    ))
    .fails(11);
    let not_pem = base64::engine::general_purpose::STANDARD.encode("not pem");
    run(&mut list(&env, &sb, &["--ca-cert-base64-data", &not_pem])).fails(11);

    let missing = env.dir.path().join("no-such-ca.pem");
    let r = run(&mut list(
        &env,
        &sb,
        &["--ca-cert-path", missing.to_str().unwrap()],
    ))
    .fails(5);
    one_error_line(&r);
    assert!(r.stderr.contains("no-such-ca.pem"), "{}", r.stderr);
    run(list(&env, &sb, &[]).env("STS_CA_CERT_PATH", &missing)).fails(5);
    assert_eq!(sb.request_count_over_tls(&pki), 0);
}

#[test]
fn a_saved_context_keeps_its_ca() {
    let pki = Pki::new();
    let sb = pki.sandbox();
    let env = TestEnv::new();
    let r = run(env.sts().args([
        "context",
        "save",
        "--url",
        &sb.url,
        "--api-token",
        &sb.admin_token,
        "--ca-cert-path",
        &pki.arg("ca.pem"),
        "--insecure-storage",
    ]))
    .ok();
    assert!(r.stdout.contains("Connection verified"), "{}", r.stdout);
    // The CA file may go away: the context holds its data.
    std::fs::remove_file(pki.path("ca.pem")).unwrap();
    run(env.sts().args(["service-token", "list"])).ok();
    run(env.sts().args(["context", "validate"])).ok();
}

#[test]
fn the_sandbox_refuses_to_start_without_a_usable_certificate_and_key() {
    let pki = Pki::new();
    let missing = pki.arg("missing.pem");
    for args in [
        vec!["--tls-cert", &missing, "--tls-key", &pki.arg("server.key")],
        vec![
            "--tls-cert",
            &pki.arg("server.key"),
            "--tls-key",
            &pki.arg("server.key"),
        ],
        vec![
            "--tls-cert",
            &pki.arg("server.pem"),
            "--tls-key",
            &pki.arg("server.pem"),
        ],
        vec!["--tls-cert", &pki.arg("server.pem")],
    ] {
        let e = Sandbox::try_start(&args)
            .err()
            .expect("no start without TLS files");
        assert!(!e.contains("panicked"), "{e}");
    }
    // A key that does not belong to the certificate.
    let other = Pki::new();
    let e = Sandbox::try_start(&[
        "--tls-cert",
        &pki.arg("server.pem"),
        "--tls-key",
        &other.arg("server.key"),
    ])
    .err()
    .expect("no start with a foreign key");
    assert!(e.contains("do not belong together"), "{e}");
}

/// The PEM body of the first block, decoded.
fn pem_body_as_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

trait OverTls {
    /// `GET /api/security/tokens` requests the sandbox served, asked over HTTPS.
    fn request_count_over_tls(&self, pki: &Pki) -> u64;
}

impl OverTls for Sandbox {
    fn request_count_over_tls(&self, pki: &Pki) -> u64 {
        let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap();
        let client = reqwest::blocking::Client::builder()
            .tls_certs_only([ca])
            .build()
            .unwrap();
        let (status, body) = crate::common::send_json(
            client
                .get(format!("{}/_sandbox/requests", self.url))
                .header("X-API-Token", &self.admin_token),
            None,
        );
        assert_eq!(status, 200, "{body}");
        body.get("GET /api/security/tokens")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }
}
