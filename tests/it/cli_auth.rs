//! `sts auth status` and `sts auth token` end to end (issue 15, CONTRACT §11): the built `sts`
//! against real sandboxes, a context saved in a real gnome-keyring Secret Service.

use crate::cli_util::{Run, run};
use crate::common::secret_service::SecretService;
use crate::common::{Sandbox, TestEnv};

/// A home with a context `prod` saved in the keyring for `sb`, with its admin token.
fn saved(sb: &Sandbox, keyring: &SecretService) -> TestEnv {
    let env = TestEnv::new();
    run(env
        .sts()
        .envs(keyring.env())
        .args(["context", "save", "--name", "prod", "--url", &sb.url])
        .args(["--platform", &sb.platform, "--api-token", "-"])
        .write_stdin(format!("{}\n", sb.admin_token)))
    .ok();
    env
}

fn sts(env: &TestEnv, keyring: &SecretService, args: &[&str]) -> Run {
    run(env.sts().envs(keyring.env()).args(args))
}

fn assert_no_secret(r: &Run, secret: &str) {
    assert!(
        !r.stdout.contains(secret) && !r.stderr.contains(secret),
        "the secret was printed:\n{}\n{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn auth_status_names_each_source_and_never_the_secret() {
    let sb = Sandbox::start();
    let keyring = SecretService::start();
    let env = saved(&sb, &keyring);

    // The saved context: its platform, its name, the keyring.
    let r = sts(&env, &keyring, &["auth", "status", "-o", "json"]).ok();
    let doc = r.json();
    assert_eq!(doc["platform"], "stackstate");
    assert_eq!(doc["context"], "prod");
    assert_eq!(doc["url"], sb.url.as_str());
    assert_eq!(doc["credential"]["kind"], "api-token");
    assert_eq!(doc["credential"]["source"], "keyring");
    assert_eq!(doc["sources"]["url"], "context prod");
    assert_eq!(doc["sources"]["platform"], "context prod");
    assert_eq!(doc["connected"], true);
    assert_eq!(doc["server-info"]["version"]["major"], 6);
    assert_no_secret(&r, &sb.admin_token);

    // Text: the same, then the validation's answer.
    let r = sts(&env, &keyring, &["auth", "status"]).ok();
    assert!(r.stdout.contains("(context prod)"), "{}", r.stdout);
    assert!(r.stdout.contains("api-token (keyring)"), "{}", r.stdout);
    assert!(r.stdout.contains("✅ Connection verified"), "{}", r.stdout);
    assert_no_secret(&r, &sb.admin_token);

    // From env vars: they are named; the keyring is not used.
    let r = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["auth", "status", "-o", "json"]))
    .ok();
    let doc = r.json();
    assert_eq!(doc["sources"]["url"], "STS_CLI_URL");
    assert_eq!(doc["credential"]["source"], "STS_CLI_API_TOKEN");
    assert_eq!(
        doc["context"], "prod",
        "same URL: the context still applies"
    );
    assert_no_secret(&r, &sb.admin_token);

    // A credential that does not work: the failure's code (401: 4), still no secret.
    let r = run(env
        .sts_at(&sb.url, "svctok-wrong-but-long", false)
        .args(["auth", "status", "-o", "json"]))
    .fails(4);
    let doc = r.json();
    assert_eq!(doc["connected"], false);
    assert_eq!(doc["credential"]["kind"], "service-token");
    assert_eq!(doc["credential"]["source"], "STS_CLI_SERVICE_TOKEN");
    assert!(doc.get("server-info").is_none());
    assert_no_secret(&r, "svctok-wrong-but-long");
    let r = run(env
        .sts_at(&sb.url, "svctok-wrong-but-long", false)
        .args(["auth", "status"]))
    .fails(4);
    assert!(r.stderr.contains("❌"), "{}", r.stderr);

    // A token flag, and a token from stdin.
    let r = run(env
        .sts()
        .args(["auth", "status", "-o", "json", "--url", &sb.url])
        .args(["--api-token", &sb.admin_token]))
    .ok();
    let doc = r.json();
    assert_eq!(doc["sources"]["url"], "--url flag");
    assert_eq!(doc["credential"]["source"], "--api-token flag");
    let r = run(env
        .sts()
        .args(["auth", "status", "-o", "json", "--url", &sb.url])
        .args(["--api-token", "-"])
        .write_stdin(format!("{}\n", sb.admin_token)))
    .ok();
    assert_eq!(r.json()["credential"]["source"], "stdin");
}

#[test]
fn auth_status_names_the_ecosystem_env_vars_of_posit_connect() {
    let sb = Sandbox::start_platform("posit-connect", &[]);
    let env = TestEnv::new();
    let r = run(env
        .sts()
        .env("CONNECT_SERVER", &sb.url)
        .env("CONNECT_API_KEY", &sb.admin_token)
        .args(["auth", "status", "-o", "json"]))
    .ok();
    let doc = r.json();
    assert_eq!(doc["platform"], "posit-connect");
    assert_eq!(doc["sources"]["platform"], "CONNECT_SERVER");
    assert_eq!(doc["sources"]["url"], "CONNECT_SERVER");
    assert_eq!(doc["credential"]["source"], "CONNECT_API_KEY");
    assert!(doc.get("context").is_none());
    assert_no_secret(&r, &sb.admin_token);
}

#[test]
fn auth_token_prints_exactly_the_secret_and_makes_no_request() {
    let sb = Sandbox::start();
    let keyring = SecretService::start();
    let env = saved(&sb, &keyring);
    let before = sb.api_request_total();

    let r = sts(&env, &keyring, &["auth", "token"]).ok();
    assert_eq!(r.stdout, format!("{}\n", sb.admin_token));
    assert_eq!(r.stderr, "");
    let r = sts(&env, &keyring, &["auth", "token", "-o", "json"]).ok();
    let doc = r.json();
    assert_eq!(doc["token"], sb.admin_token.as_str());
    assert_eq!(doc["kind"], "api-token");
    let r = run(env
        .sts_at(&sb.url, "svctok-from-env", false)
        .args(["auth", "token"]))
    .ok();
    assert_eq!(r.stdout, "svctok-from-env\n");
    assert_eq!(sb.api_request_total(), before);

    // None anywhere: exit 1.
    let empty = TestEnv::new();
    let r = run(empty
        .sts()
        .env("STS_CLI_URL", &sb.url)
        .args(["auth", "token"]))
    .fails(1);
    assert_eq!(r.stdout, "");
}
