//! `sts service-token rotate` and `sts ingestion-api-key rotate` end to end (issue 8): the built
//! `sts` against a real `sts-sandbox`, contexts in a real gnome-keyring Secret Service.

use crate::cli_util::{admin, named, run, server_keys, server_tokens, token_id};
use crate::common::secret_service::SecretService;
use crate::common::{Sandbox, TestEnv, now_ms, read_bytes};
use serde_json::{Value, json};

const DAY_MS: i64 = 86_400_000;

/// The status of `GET /api/server/info` with this service token.
fn info_status(sb: &Sandbox, token: &str) -> u16 {
    sb.http()
        .get(format!("{}/server/info", sb.api()))
        .header("X-API-Key", token)
        .send()
        .expect("server/info")
        .status()
        .as_u16()
}

/// Creates a service token through the admin API; returns its secret.
fn create_token(sb: &Sandbox, body: Value) -> String {
    let (status, created) = sb.admin("POST", "/security/tokens", Some(body));
    assert_eq!(status, 200, "{created}");
    created["token"].as_str().unwrap().to_string()
}

/// `sts` as the sandbox admin (env vars), with the session bus of `keyring`.
fn admin_with(env: &TestEnv, sb: &Sandbox, keyring: &SecretService) -> assert_cmd::Command {
    let mut cmd = env.sts_at(&sb.url, &sb.admin_token, true);
    for (k, v) in keyring.env() {
        cmd.env(k, v);
    }
    cmd
}

fn keyring_users(keyring: &SecretService) -> usize {
    keyring
        .secret_tool_search("sts")
        .lines()
        .filter(|l| l.contains("attribute.username"))
        .count()
}

#[test]
fn rotate_saves_the_new_token_to_the_context_and_only_then_deletes_the_old_one() {
    let sb = Sandbox::start();
    let keyring = SecretService::start();
    let env = TestEnv::new();
    let roles = ["stackstate-k8s-troubleshooter", "stackstate-power-user"];
    let old_secret = create_token(
        &sb,
        json!({"name": "ci", "roles": roles, "dedicatedSubject": "ci-bot",
               "expiryDate": now_ms() + 30 * DAY_MS}),
    );
    let old_id = token_id(&sb, "ci");

    let mut save = env.sts();
    for (k, v) in keyring.env() {
        save.env(k, v);
    }
    run(save
        .args(["context", "save", "--name", "ci", "--url", &sb.url])
        .args(["--service-token", "-"])
        .write_stdin(format!("{old_secret}\n")))
    .ok();
    assert_eq!(keyring_users(&keyring), 1);

    let r = run(admin_with(&env, &sb, &keyring).args([
        "service-token",
        "rotate",
        "--id",
        &old_id.to_string(),
        "--save-to-context",
        "ci",
        "-o",
        "json",
    ]))
    .ok();
    let out = r.json();
    let new_secret = out["service-token"]["token"].as_str().unwrap().to_string();
    assert!(new_secret.starts_with("svctok-"), "{out}");
    assert_eq!(out["old-id"], old_id);
    assert_eq!(out["old-deleted"], true);
    assert_eq!(out["saved-to-context"], "ci");
    let new_id = out["new-id"].as_i64().expect("new id");
    assert_ne!(new_id, old_id);

    // The context works with the new token, the old token is refused.
    run(env
        .sts()
        .envs(keyring.env())
        .args(["--context", "ci", "context", "validate"]))
    .ok();
    assert_eq!(info_status(&sb, &new_secret), 200);
    assert_eq!(info_status(&sb, &old_secret), 401);

    // Same name, roles and subject; the old lifetime (30 days) again from now.
    let tokens = server_tokens(&sb);
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let new = named(&tokens, "ci");
    assert_eq!(new["id"], new_id);
    assert_eq!(new["roles"], json!(roles));
    assert_eq!(new["dedicatedSubject"], "ci-bot");
    let expiry = new["expiration"].as_i64().unwrap();
    assert!(
        (expiry - (now_ms() + 30 * DAY_MS)).abs() < 60_000,
        "expiry {expiry}"
    );

    // No secret in the config file; the old keyring entry is gone.
    let config = String::from_utf8(read_bytes(&env.config_home().join("sts/config.toml"))).unwrap();
    assert!(!config.contains(&new_secret) && !config.contains(&old_secret));
    assert_eq!(keyring_users(&keyring), 1);
}

#[test]
fn rotate_text_output_names_each_step_and_keep_old_keeps_the_old_token() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let old_secret = create_token(&sb, json!({"name": "svc", "roles": ["stackstate-admin"]}));
    let old_id = token_id(&sb, "svc");
    let r = admin(
        &env,
        &sb,
        &[
            "service-token",
            "rotate",
            "--id",
            &old_id.to_string(),
            "--keep-old",
        ],
    )
    .ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", r.stdout);
    assert!(lines[0].starts_with("✅ Service token created: svctok-"));
    assert!(lines[1].starts_with("✅ New service token id: "));
    assert!(lines[1].ends_with(&format!("(replaces {old_id})")));
    // The new token was checked by the server itself (CONTRACT §12).
    assert_eq!(lines[2], "✅ Verified");
    assert_eq!(
        lines[3],
        format!("✅ Old service token kept (--keep-old): {old_id}")
    );
    assert_eq!(info_status(&sb, &old_secret), 200);
    let tokens = server_tokens(&sb);
    assert_eq!(tokens.len(), 2);
    // No expiry before, none after.
    assert!(tokens.iter().all(|t| t.get("expiration").is_none()));
}

#[test]
fn rotate_when_the_create_fails_changes_nothing() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let old_secret = create_token(&sb, json!({"name": "ci", "roles": ["stackstate-admin"]}));
    let old_id = token_id(&sb, "ci");
    sb.fault(json!({"method": "POST", "path": "/api/security/tokens", "count": 1, "status": 500}));
    let r = admin(
        &env,
        &sb,
        &["service-token", "rotate", "--id", &old_id.to_string()],
    )
    .fails(3);
    assert!(r.stdout.is_empty(), "no secret printed: {}", r.stdout);
    assert!(
        r.stderr.contains("cannot create the new service token")
            && r.stderr.contains(&format!(
                "nothing was changed, the old service token {old_id} still works"
            )),
        "{}",
        r.stderr
    );
    assert_eq!(sb.request_count("DELETE /api/security/tokens/{id}"), 0);
    assert_eq!(info_status(&sb, &old_secret), 200);
    let tokens = server_tokens(&sb);
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["id"], old_id);
}

#[test]
fn rotate_when_the_contexts_keyring_is_unreachable_prints_the_new_token_and_keeps_the_old() {
    let sb = Sandbox::start();
    // No session bus (TestEnv's default), and a context whose secret lives in the keyring.
    let env = TestEnv::new();
    let config_path = env.config_home().join("sts/config.toml");
    std::fs::create_dir_all(config_path.parent().unwrap()).unwrap();
    let config = format!(
        "current-context = \"ci\"\n\n[contexts.ci]\nurl = \"{}\"\napi-path = \"/api\"\n\
         auth = \"service-token\"\nstorage = \"keyring\"\nskip-ssl = false\n\
         credential-id = \"0123456789abcdef0123456789abcdef\"\n",
        sb.url
    );
    std::fs::write(&config_path, &config).unwrap();
    let old_secret = create_token(&sb, json!({"name": "ci", "roles": ["stackstate-admin"]}));
    let old_id = token_id(&sb, "ci");

    let r = admin(
        &env,
        &sb,
        &[
            "service-token",
            "rotate",
            "--id",
            &old_id.to_string(),
            "--save-to-context",
            "ci",
        ],
    )
    .fails(6);
    let new_secret = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("✅ Service token created: "))
        .unwrap_or_else(|| panic!("new token printed: {}", r.stdout))
        .to_string();
    assert!(
        r.stderr.contains("could not be stored in context 'ci'")
            && r.stderr.contains("no keyring is available")
            && r.stderr
                .contains(&format!("the old service token {old_id} was kept")),
        "{}",
        r.stderr
    );
    assert_eq!(sb.request_count("DELETE /api/security/tokens/{id}"), 0);
    assert_eq!(info_status(&sb, &old_secret), 200);
    assert_eq!(info_status(&sb, &new_secret), 200);
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), config);
}

#[test]
fn rotate_refuses_an_unknown_id_and_a_missing_context_before_creating_anything() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    create_token(&sb, json!({"name": "ci", "roles": ["stackstate-admin"]}));
    let id = token_id(&sb, "ci").to_string();
    let r = admin(&env, &sb, &["service-token", "rotate", "--id", "12345"]).fails(3);
    assert!(
        r.stderr.contains("no service token with id 12345"),
        "{}",
        r.stderr
    );
    admin(
        &env,
        &sb,
        &[
            "service-token",
            "rotate",
            "--id",
            &id,
            "--save-to-context",
            "nope",
        ],
    )
    .fails(8);
    admin(&env, &sb, &["service-token", "rotate", "--id", "x"]).fails(3);
    admin(
        &env,
        &sb,
        &[
            "service-token",
            "rotate",
            "--id",
            &id,
            "--expiration",
            "2001-01-01",
        ],
    )
    .fails(3);
    // The one POST is the setup's own.
    assert_eq!(sb.request_count("POST /api/security/tokens"), 1);
    assert_eq!(server_tokens(&sb).len(), 1);
}

#[test]
fn ingestion_api_key_rotate_keeps_name_and_description_and_deletes_the_old_key() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let (status, created) = sb.admin(
        "POST",
        "/security/ingestion/api_keys",
        Some(json!({"name": "otel", "description": "collector",
                    "expiration": now_ms() + 10 * DAY_MS})),
    );
    assert_eq!(status, 200, "{created}");
    let old_id = created["id"].as_i64().unwrap();
    let r = admin(
        &env,
        &sb,
        &[
            "ingestion-api-key",
            "rotate",
            "--id",
            &old_id.to_string(),
            "-o",
            "json",
        ],
    )
    .ok();
    let out = r.json();
    assert_eq!(out["old-id"], old_id);
    assert_eq!(out["old-deleted"], true);
    let new_id = out["new-id"].as_i64().unwrap();
    assert!(
        out["ingestion-api-key"]["apiKey"]
            .as_str()
            .unwrap()
            .starts_with("iapikey-")
    );
    let keys = server_keys(&sb);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["id"], new_id);
    assert_eq!(keys[0]["name"], "otel");
    assert_eq!(keys[0]["description"], "collector");
    let expiry = keys[0]["expiration"].as_i64().unwrap();
    assert!((expiry - (now_ms() + 10 * DAY_MS)).abs() < 60_000);

    // A failed create leaves the key alone.
    sb.fault(json!({"method": "POST", "path": "/api/security/ingestion/api_keys", "count": 1, "status": 500}));
    let r = admin(
        &env,
        &sb,
        &["ingestion-api-key", "rotate", "--id", &new_id.to_string()],
    )
    .fails(3);
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert_eq!(server_keys(&sb)[0]["id"], new_id);
}
