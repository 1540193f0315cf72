//! The smaller findings of issue 25 (item 10): `context validate NAME` says that it ignores a
//! URL or token given now; a Qualytics token past its JWT `exp` is expired, not verified; a
//! vendor CLI's YAML with a byte-order mark is imported.

use base64::Engine as _;

use crate::cli_util::run;
use crate::common::loopback::{Server, response};
use crate::common::{Sandbox, TestEnv};

#[test]
fn context_validate_name_warns_that_it_ignores_url_and_token() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    run(env.sts().args([
        "context",
        "save",
        "--name",
        "ctx",
        "--url",
        &sb.url,
        "--api-token",
        &sb.admin_token,
        "--insecure-storage",
    ]))
    .ok();
    let other = Server::trap();
    let r = run(env
        .sts()
        .args(["context", "validate", "ctx", "--url", &other.url])
        .args(["--api-token", "svctok-given-now-0123456789"]))
    .ok();
    assert!(
        r.stderr.contains("⚠️") && r.stderr.contains("--url, --api-token ignored"),
        "{}",
        r.stderr
    );
    assert_eq!(other.requests().len(), 0);
    // Nothing given: no warning.
    let r = run(env.sts().args(["context", "validate", "ctx"])).ok();
    assert!(!r.stderr.contains("ignored"), "{}", r.stderr);
}

fn jwt(exp: i64) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(r#"{"alg":"HS256","typ":"JWT"}"#),
        b64(&format!(r#"{{"sub":"1","exp":{exp}}}"#))
    )
}

#[test]
fn a_qualytics_token_past_its_exp_is_expired_not_verified() {
    // A lenient server that accepts any token.
    let server = Server::start(|_| response(200, &[("Content-Type", "application/json")], "[]"));
    let env = TestEnv::new();
    let past = jwt(1_000_000_000);
    for args in [
        &["auth", "status"][..],
        &["auth", "status", "-o", "json"][..],
    ] {
        let r = run(env
            .sts_at(&server.url, &past, true)
            .env("STS_CLI_PLATFORM", "qualytics")
            .args(args))
        .fails(4);
        let shown = format!("{}{}", r.stdout, r.stderr);
        assert!(shown.contains("expired on 2001-09-09"), "{shown}");
        assert!(!shown.contains("verified"), "{shown}");
        assert!(!shown.contains(&past), "{shown}");
    }
    // A future one is verified, with its date.
    let future = jwt(4_102_444_800);
    let r = run(env
        .sts_at(&server.url, &future, true)
        .env("STS_CLI_PLATFORM", "qualytics")
        .args(["auth", "status"]))
    .ok();
    assert!(r.stdout.contains("2100-01-01"), "{}", r.stdout);
}

#[test]
fn vendor_yaml_with_a_byte_order_mark_is_imported() {
    let env = TestEnv::new();
    let qualytics = env.dir.path().join("config.yaml");
    std::fs::write(
        &qualytics,
        "\u{feff}url: https://acme.qualytics.io/api/\ntoken: qtok-bom-0123456789\nssl_verify: true\n",
    )
    .unwrap();
    run(env
        .sts()
        .args([
            "context",
            "import",
            "qualytics",
            "--insecure-storage",
            "--from",
        ])
        .arg(&qualytics))
    .ok();
    let go = env.dir.path().join("go.yaml");
    std::fs::write(
        &go,
        "\u{feff}contexts:\n    - name: prod\n      context:\n        url: https://s.example.com\n        \
         service-token: svctok-bom-0123456789\n        api-path: /api\n",
    )
    .unwrap();
    run(env
        .sts()
        .args([
            "context",
            "import",
            "stackstate-cli",
            "--insecure-storage",
            "--from",
        ])
        .arg(&go))
    .ok();
    let config = std::fs::read_to_string(env.config_home().join("sts/config.toml")).unwrap();
    assert!(config.contains("acme.qualytics.io"), "{config}");
    assert!(config.contains("[contexts.prod]"), "{config}");
}
