//! `sts context import` end to end (issue 8): the Go CLI's config.yaml into our config, tokens into
//! a real gnome-keyring Secret Service.

use std::path::Path;

use crate::cli_util::run;
use crate::common::secret_service::SecretService;
use crate::common::{Sandbox, TestEnv, read_bytes};
use serde_json::json;

fn sts_with(env: &TestEnv, keyring: &SecretService) -> assert_cmd::Command {
    let mut cmd = env.sts();
    cmd.envs(keyring.env());
    cmd
}

fn keyring_users(keyring: &SecretService) -> usize {
    keyring
        .secret_tool_search("sts")
        .lines()
        .filter(|l| l.contains("attribute.username"))
        .count()
}

fn create_admin_token(sb: &Sandbox, name: &str) -> String {
    sb.create_service_token(name, &["stackstate-admin"])
}

/// Each context lists the service tokens with its own credential.
fn assert_usable(env: &TestEnv, keyring: &SecretService, names: &[&str]) {
    for name in names {
        let r = run(sts_with(env, keyring).args([
            "--context",
            name,
            "service-token",
            "list",
            "-o",
            "json",
        ]))
        .ok();
        assert!(
            r.json()["service-tokens"].is_array(),
            "{name}: {}",
            r.stdout
        );
    }
}

#[test]
fn import_of_a_go_config_with_three_contexts_is_usable_keeps_the_source_and_is_idempotent() {
    let sb = Sandbox::start();
    let keyring = SecretService::start();
    let env = TestEnv::new();
    let prod = create_admin_token(&sb, "prod");
    let staging = create_admin_token(&sb, "staging");
    // The Go CLI's own layout (yaml.v3, 4-space indent), in $XDG_CONFIG_HOME/stackstate-cli.
    let source = env.config_home().join("stackstate-cli/config.yaml");
    std::fs::create_dir_all(source.parent().unwrap()).unwrap();
    let yaml = format!(
        "contexts:\n\
        \x20   - name: prod\n\
        \x20     context:\n\
        \x20       url: {url}\n\
        \x20       service-token: {prod}\n\
        \x20       api-path: /api\n\
        \x20       admin-api-path: \"\"\n\
        \x20       skip-ssl: false\n\
        \x20   - name: admin\n\
        \x20     context:\n\
        \x20       url: {url}/\n\
        \x20       api-token: {admin}\n\
        \x20       api-path: /api\n\
        \x20       skip-ssl: false\n\
        \x20   - name: staging\n\
        \x20     context:\n\
        \x20       url: {url}\n\
        \x20       service-token: {staging}\n\
        current-context: admin\n",
        url = sb.url,
        admin = sb.admin_token
    );
    std::fs::write(&source, &yaml).unwrap();
    let source_before = std::fs::metadata(&source).unwrap().modified().unwrap();

    let r = run(sts_with(&env, &keyring).args(["context", "import"])).ok();
    assert_eq!(
        r.stdout,
        "✅ Imported context 'prod' (service-token, keyring)\n\
         ✅ Imported context 'admin' (api-token, keyring)\n\
         ✅ Imported context 'staging' (service-token, keyring)\n\
         Current context set to admin\n"
    );
    assert!(
        r.stderr.contains("still holds the tokens in plain text"),
        "{}",
        r.stderr
    );
    assert_usable(&env, &keyring, &["prod", "admin", "staging"]);
    let r = run(sts_with(&env, &keyring).args(["context", "show"])).ok();
    assert_eq!(r.stdout, "admin\n");

    // No token in our config file; the source is as it was.
    let config_path = env.config_home().join("sts/config.toml");
    let config = String::from_utf8(read_bytes(&config_path)).unwrap();
    for secret in [&prod, &staging, &sb.admin_token] {
        assert!(!config.contains(secret.as_str()), "{config}");
    }
    assert_eq!(read_bytes(&source), yaml.as_bytes());
    assert_eq!(
        std::fs::metadata(&source).unwrap().modified().unwrap(),
        source_before
    );
    assert_eq!(keyring_users(&keyring), 3);

    // A second run changes nothing.
    let config_meta = std::fs::metadata(&config_path).unwrap().modified().unwrap();
    let r = run(sts_with(&env, &keyring).args(["context", "import", "-o", "json"])).ok();
    let out = r.json();
    assert_eq!(out["imported"], json!([]));
    assert_eq!(out["skipped"].as_array().unwrap().len(), 3);
    assert_eq!(out["current-context"], json!(null));
    assert_eq!(read_bytes(&config_path), config.as_bytes());
    assert_eq!(
        std::fs::metadata(&config_path).unwrap().modified().unwrap(),
        config_meta
    );
    assert_eq!(keyring_users(&keyring), 3);
    let r = run(sts_with(&env, &keyring).args(["context", "import"])).ok();
    assert!(
        r.stdout.starts_with("No contexts imported from "),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("Skipped context 'prod'"), "{}", r.stderr);

    // --overwrite replaces them, the old keyring entries with them.
    run(sts_with(&env, &keyring).args(["context", "import", "--overwrite"])).ok();
    assert_eq!(keyring_users(&keyring), 3);
    assert_usable(&env, &keyring, &["prod", "admin", "staging"]);
}

#[test]
fn import_of_a_legacy_single_context_file_names_it_default() {
    let sb = Sandbox::start();
    let keyring = SecretService::start();
    let env = TestEnv::new();
    let token = create_admin_token(&sb, "legacy");
    let source = env.dir.path().join("old-config.yaml");
    let yaml = format!("url: {}\nservice-token: {token}\napi-path: /api\n", sb.url);
    std::fs::write(&source, &yaml).unwrap();

    let r = run(sts_with(&env, &keyring)
        .args(["context", "import", "--from"])
        .arg(&source))
    .ok();
    assert_eq!(
        r.stdout,
        "✅ Imported context 'default' (service-token, keyring)\nCurrent context set to default\n"
    );
    assert_usable(&env, &keyring, &["default"]);
    run(sts_with(&env, &keyring).args(["service-token", "list"])).ok();
    assert_eq!(read_bytes(&source), yaml.as_bytes());
    let config = String::from_utf8(read_bytes(&env.config_home().join("sts/config.toml"))).unwrap();
    assert!(!config.contains(&token));
    run(sts_with(&env, &keyring)
        .args(["context", "import", "--from"])
        .arg(&source))
    .ok();
    assert_eq!(keyring_users(&keyring), 1);
}

#[test]
fn import_without_a_keyring_fails_with_exit_6_and_writes_nothing() {
    let env = TestEnv::new();
    let source = env.dir.path().join("config.yaml");
    std::fs::write(
        &source,
        "url: http://127.0.0.1:9\nservice-token: svctok-x\n",
    )
    .unwrap();
    let r = run(env.sts().args(["context", "import", "--from"]).arg(&source)).fails(6);
    assert!(r.stderr.contains("--insecure-storage"), "{}", r.stderr);
    assert!(!r.stderr.contains("svctok-x"));
    assert!(!Path::new(&env.config_home().join("sts/config.toml")).exists());
    // A missing source is exit 1.
    run(env
        .sts()
        .args(["context", "import", "--from"])
        .arg(env.dir.path().join("none.yaml")))
    .fails(1);
}
