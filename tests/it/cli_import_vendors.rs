//! `sts context import qualytics` and `sts context import rsconnect` end to end (issue 16): the
//! vendors' plain-text credential files into contexts, tokens into a real gnome-keyring Secret
//! Service, each context then used against the platform's sandbox.
//!
//! The source files are built here from what the vendors' CLIs write (qualytics-cli's `auth
//! init`: PyYAML `safe_dump` of `{url, token, ssl_verify}`, the url ending in `/api/`, mode 0644
//! by the umask; rsconnect-python's `add`: `json.dumps(indent=4)` of the servers keyed by
//! nickname, mode 0600), not by those CLIs themselves, which CI would have to install over the
//! network. The same shapes were checked by hand against files written by qualytics-cli 1.2.2
//! (`auth init`) and rsconnect-python 1.32.0 (`add`, `add --insecure`, `add --cacert`).

use std::os::unix::fs::PermissionsExt;

use base64::Engine;
use std::path::{Path, PathBuf};

use crate::cli_util::{Run, run};
use crate::common::secret_service::SecretService;
use crate::common::{Sandbox, TestEnv, read_bytes};
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::{Value, json};

fn sts_with(env: &TestEnv, keyring: &SecretService) -> assert_cmd::Command {
    let mut cmd = env.sts();
    cmd.envs(keyring.env()).env_remove("QUALYTICS_CONFIG_HOME");
    cmd
}

fn import(env: &TestEnv, keyring: &SecretService, args: &[&str]) -> Run {
    run(sts_with(env, keyring)
        .args(["context", "import"])
        .args(args))
}

fn keyring_users(keyring: &SecretService) -> usize {
    keyring
        .secret_tool_search("sts")
        .lines()
        .filter(|l| l.contains("attribute.username"))
        .count()
}

fn config_path(env: &TestEnv) -> PathBuf {
    env.config_home().join("sts/config.toml")
}

fn config_text(env: &TestEnv) -> String {
    String::from_utf8(read_bytes(&config_path(env))).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `sts --context NAME service-token list -o json` works.
fn assert_usable(env: &TestEnv, keyring: &SecretService, name: &str) {
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

/// The saved contexts as `context list -o json` shows them, by name.
fn contexts(env: &TestEnv, keyring: &SecretService) -> Value {
    let r = run(sts_with(env, keyring).args(["context", "list", "-o", "json"])).ok();
    let mut by_name = serde_json::Map::new();
    for c in r.json()["contexts"].as_array().unwrap() {
        by_name.insert(
            c["name"].as_str().unwrap().to_string(),
            c["context"].clone(),
        );
    }
    Value::Object(by_name)
}

/// A Qualytics sandbox with an Admin service user, and a JWT it issued for that user.
fn qualytics_with_token() -> (Sandbox, String) {
    let sb = Sandbox::start_platform("qualytics", &["--service-user", "Nightly Loader:Admin"]);
    let (status, page) = sb.admin("GET", "/users?type=Service", None);
    assert_eq!(status, 200, "{page}");
    let id = page["items"][0]["id"].as_i64().expect("a service user");
    let (status, created) = sb.admin(
        "POST",
        "/user-tokens",
        Some(json!({"name": "laptop", "user_id": id, "expires_in_days": 30})),
    );
    assert_eq!(status, 200, "{created}");
    let token = created["bearer_token"].as_str().unwrap().to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    (sb, token)
}

/// qualytics-cli's config.yaml as `qualytics auth init` writes it.
fn qualytics_yaml(url: &str, token: &str, ssl_verify: bool) -> String {
    format!("url: {url}/api/\ntoken: {token}\nssl_verify: {ssl_verify}\n")
}

#[test]
fn a_qualytics_cli_config_becomes_a_working_context_and_a_second_run_changes_nothing() {
    let (sb, token) = qualytics_with_token();
    let keyring = SecretService::start();
    let env = TestEnv::new();
    let source = env.dir.path().join("qualytics/config.yaml");
    let yaml = qualytics_yaml(&sb.url, &token, true);
    write(&source, &yaml, 0o644);
    let modified = std::fs::metadata(&source).unwrap().modified().unwrap();

    let r = import(
        &env,
        &keyring,
        &["qualytics", "--from", source.to_str().unwrap()],
    )
    .ok();
    assert_eq!(
        r.stdout,
        "✅ Imported context 'qualytics' (api-token, keyring)\nCurrent context set to qualytics\n"
    );
    let shown = source.display().to_string();
    let plain = r
        .stderr
        .lines()
        .find(|l| l.contains("plain text"))
        .unwrap_or_else(|| panic!("no plain-text warning: {}", r.stderr));
    assert!(
        plain.starts_with("⚠️ ") && plain.contains(&shown),
        "{plain}"
    );
    let readable = r
        .stderr
        .lines()
        .find(|l| l.contains("readable by other users"))
        .unwrap_or_else(|| panic!("no mode warning: {}", r.stderr));
    assert!(
        readable.contains(&shown) && readable.contains("mode 0644"),
        "{readable}"
    );
    assert!(!r.stderr.contains(&token) && !r.stdout.contains(&token));

    assert_usable(&env, &keyring, "qualytics");
    let saved = &contexts(&env, &keyring)["qualytics"];
    assert_eq!(saved["url"], json!(sb.url));
    assert_eq!(saved["platform"], json!("qualytics"));
    assert_eq!(saved["auth"], json!("api-token"));
    assert_eq!(saved["skip-ssl"], json!(false));
    let config = config_text(&env);
    assert!(!config.contains(&token), "{config}");
    assert_eq!(read_bytes(&source), yaml.as_bytes());
    assert_eq!(mode(&source), 0o644);
    assert_eq!(
        std::fs::metadata(&source).unwrap().modified().unwrap(),
        modified
    );
    assert_eq!(keyring_users(&keyring), 1);

    // A second run changes nothing, and still says what lies around in plain text.
    let config_modified = std::fs::metadata(config_path(&env))
        .unwrap()
        .modified()
        .unwrap();
    let r = import(
        &env,
        &keyring,
        &[
            "qualytics",
            "--from",
            source.to_str().unwrap(),
            "-o",
            "json",
        ],
    )
    .ok();
    let out = r.json();
    assert_eq!(out["imported"], json!([]));
    assert_eq!(out["source"], json!(shown));
    assert_eq!(out["skipped"][0]["name"], json!("qualytics"));
    assert!(
        out["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("exists"),
        "{out}"
    );
    assert!(r.stderr.contains("plain text"), "{}", r.stderr);
    assert_eq!(config_text(&env), config);
    assert_eq!(
        std::fs::metadata(config_path(&env))
            .unwrap()
            .modified()
            .unwrap(),
        config_modified
    );
    assert_eq!(keyring_users(&keyring), 1);
    assert_eq!(read_bytes(&source), yaml.as_bytes());
}

#[test]
fn qualytics_is_found_through_qualytics_config_home_then_home_and_ssl_verify_false_is_skip_ssl() {
    let (sb, token) = qualytics_with_token();
    let keyring = SecretService::start();
    let env = TestEnv::new();

    // $QUALYTICS_CONFIG_HOME/config.yaml, ssl_verify false, a name of our own.
    let dir = env.dir.path().join("qualytics-uat");
    write(
        &dir.join("config.yaml"),
        &qualytics_yaml(&sb.url, &token, false),
        0o600,
    );
    let r = run(sts_with(&env, &keyring)
        .env("QUALYTICS_CONFIG_HOME", &dir)
        .args(["context", "import", "qualytics", "--name", "uat"]))
    .ok();
    assert!(
        r.stdout.starts_with("✅ Imported context 'uat'"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("plain text"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("readable by other users"),
        "{}",
        r.stderr
    );
    assert_eq!(contexts(&env, &keyring)["uat"]["skip-ssl"], json!(true));
    assert_usable(&env, &keyring, "uat");

    // ~/.qualytics/config.yaml when QUALYTICS_CONFIG_HOME is not set; `uat` stays current.
    let home_file = env.home().join(".qualytics/config.yaml");
    write(&home_file, &qualytics_yaml(&sb.url, &token, true), 0o644);
    let r = import(&env, &keyring, &["qualytics", "-o", "json"]).ok();
    let out = r.json();
    assert_eq!(out["source"], json!(home_file.display().to_string()));
    assert_eq!(out["imported"][0]["name"], json!("qualytics"));
    assert_eq!(
        out["imported"][0]["context"]["platform"],
        json!("qualytics")
    );
    assert_eq!(out["current-context"], json!(null));
    assert!(r.stderr.contains("mode 0644"), "{}", r.stderr);
    let r = run(sts_with(&env, &keyring).args(["context", "show"])).ok();
    assert_eq!(r.stdout, "uat\n");
    assert_usable(&env, &keyring, "qualytics");
}

#[test]
fn rsconnect_servers_become_posit_contexts_and_a_shinyapps_account_is_skipped() {
    let sb = Sandbox::start_platform("posit-connect", &[]);
    let keyring = SecretService::start();
    let env = TestEnv::new();
    // Where rsconnect-python keeps it on Linux: $XDG_CONFIG_HOME/rsconnect-python/servers.json.
    let source = env.config_home().join("rsconnect-python/servers.json");
    let servers = json!({
        "prod": {
            "name": "prod",
            "url": format!("{}/__api__", sb.url),
            "api_key": sb.admin_token,
            "insecure": false,
            "ca_cert": null
        },
        "lab": {
            "name": "lab",
            "url": sb.url,
            "api_key": sb.admin_token,
            "insecure": true,
            "ca_cert": null
        },
        "shiny": {
            "name": "shiny",
            "url": "https://api.shinyapps.io",
            "account_name": "someone",
            "token": "SHINYTOKEN0123456789",
            "secret": "shinysecret0123456789"
        }
    });
    let text = serde_json::to_string_pretty(&servers).unwrap();
    write(&source, &text, 0o600);

    let r = import(&env, &keyring, &["rsconnect", "-o", "json"]).ok();
    let out = r.json();
    assert_eq!(out["source"], json!(source.display().to_string()));
    let names: Vec<&str> = out["imported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lab", "prod"]);
    let skipped = out["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{out}");
    assert_eq!(skipped[0]["name"], json!("shiny"));
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("shinyapps.io"),
        "{out}"
    );
    assert!(r.stderr.contains("plain text"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("readable by other users"),
        "{}",
        r.stderr
    );
    for secret in [
        &sb.admin_token,
        "SHINYTOKEN0123456789",
        "shinysecret0123456789",
    ] {
        assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
    }

    let saved = contexts(&env, &keyring);
    for name in ["prod", "lab"] {
        assert_eq!(saved[name]["platform"], json!("posit-connect"), "{saved}");
        assert_eq!(saved[name]["url"], json!(sb.url), "{saved}");
        assert_eq!(saved[name]["auth"], json!("api-token"));
        assert_usable(&env, &keyring, name);
    }
    assert_eq!(saved["prod"]["skip-ssl"], json!(false));
    assert_eq!(saved["lab"]["skip-ssl"], json!(true));
    assert!(saved.get("shiny").is_none());
    assert!(!config_text(&env).contains(&sb.admin_token));
    assert_eq!(read_bytes(&source), text.as_bytes());
    assert_eq!(keyring_users(&keyring), 2);

    // The text report: the skipped entry is a warning with its reason; a second run is a no-op.
    let config = config_text(&env);
    let r = import(&env, &keyring, &["rsconnect"]).ok();
    assert!(
        r.stdout.starts_with("No contexts imported from "),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("Skipped context 'shiny': it is a shinyapps.io account"),
        "{}",
        r.stderr
    );
    assert_eq!(config_text(&env), config);
    assert_eq!(keyring_users(&keyring), 2);

    // --overwrite replaces both, their old keyring entries with them.
    let r = import(&env, &keyring, &["rsconnect", "--overwrite", "-o", "json"]).ok();
    assert_eq!(r.json()["imported"].as_array().unwrap().len(), 2);
    assert_eq!(keyring_users(&keyring), 2);
    assert_usable(&env, &keyring, "lab");
}

/// A CA (its PEM) and, in `dir`, `server.pem` and `server.key` for 127.0.0.1 signed by it.
fn make_pki(dir: &Path) -> String {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_pem = server.signed_by(&key, &issuer).unwrap().pem();
    std::fs::write(dir.join("server.pem"), server_pem).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    ca_pem
}

#[test]
fn rsconnects_ca_cert_and_insecure_are_honoured_over_https() {
    let pki = tempfile::tempdir().unwrap();
    let ca_pem = make_pki(pki.path());
    let cert = pki.path().join("server.pem");
    let key = pki.path().join("server.key");
    let sb = Sandbox::start_platform(
        "posit-connect",
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(sb.url.starts_with("https://"), "{}", sb.url);
    let keyring = SecretService::start();
    let env = TestEnv::new();
    // `rsconnect add --cacert ca.pem` keeps the PEM text itself in `ca_cert`.
    let servers = json!({
        "trusted": {"name": "trusted", "url": sb.url, "api_key": sb.admin_token,
                    "insecure": false, "ca_cert": ca_pem},
        "insecure": {"name": "insecure", "url": sb.url, "api_key": sb.admin_token,
                     "insecure": true, "ca_cert": null},
        "plain": {"name": "plain", "url": sb.url, "api_key": sb.admin_token,
                  "insecure": false, "ca_cert": null}
    });
    let source = env.dir.path().join("servers.json");
    write(
        &source,
        &serde_json::to_string_pretty(&servers).unwrap(),
        0o600,
    );
    let r = import(
        &env,
        &keyring,
        &["rsconnect", "--from", source.to_str().unwrap()],
    )
    .ok();
    assert_eq!(
        r.stdout.matches("✅ Imported context").count(),
        3,
        "{}",
        r.stdout
    );

    let saved = contexts(&env, &keyring);
    let ca = saved["trusted"]["ca-cert-base64-data"]
        .as_str()
        .expect("CA data");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(ca)
        .unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), ca_pem);
    assert_eq!(saved["insecure"]["skip-ssl"], json!(true));
    assert_usable(&env, &keyring, "trusted");
    assert_usable(&env, &keyring, "insecure");
    // Without either, the sandbox's certificate is not trusted: the CA above did the work.
    run(sts_with(&env, &keyring).args(["--context", "plain", "service-token", "list"])).fails(4);
}

#[test]
fn a_missing_source_names_the_path_and_one_that_does_not_parse_imports_nothing() {
    let keyring = SecretService::start();
    let env = TestEnv::new();

    // Missing: the default paths, and --from.
    let r = import(&env, &keyring, &["rsconnect"]).fails(1);
    let expected = env.config_home().join("rsconnect-python/servers.json");
    assert!(
        r.stderr.contains(&expected.display().to_string()),
        "{}",
        r.stderr
    );
    let r = import(&env, &keyring, &["qualytics"]).fails(1);
    let expected = env.home().join(".qualytics/config.yaml");
    assert!(
        r.stderr.contains(&expected.display().to_string()),
        "{}",
        r.stderr
    );
    let missing = env.dir.path().join("nowhere/config.yaml");
    let r = import(
        &env,
        &keyring,
        &["qualytics", "--from", missing.to_str().unwrap()],
    )
    .fails(1);
    assert!(
        r.stderr.contains(&missing.display().to_string()),
        "{}",
        r.stderr
    );

    // Not parseable: exit 1 with line and column, no value quoted, nothing imported.
    let yaml = env.dir.path().join("broken.yaml");
    write(
        &yaml,
        "url: http://127.0.0.1:9/api/\ntoken: eyJbroken.secret.value\nssl_verify: [true\n",
        0o644,
    );
    let r = import(
        &env,
        &keyring,
        &["qualytics", "--from", yaml.to_str().unwrap()],
    )
    .fails(1);
    assert!(
        r.stderr.contains("line ") && r.stderr.contains("column "),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("eyJbroken"), "{}", r.stderr);
    let servers = env.dir.path().join("servers.json");
    write(
        &servers,
        "{\n    \"prod\": {\n        \"url\": \"http://127.0.0.1:9\",\n        \"api_key\": \"key-of-prod-0123\"\n        \"insecure\": false\n    }\n}\n",
        0o600,
    );
    let r = import(
        &env,
        &keyring,
        &["rsconnect", "--from", servers.to_str().unwrap()],
    )
    .fails(1);
    assert!(r.stderr.contains("at line 5 column"), "{}", r.stderr);
    assert!(!r.stderr.contains("key-of-prod"), "{}", r.stderr);
    assert!(!config_path(&env).exists());
    assert_eq!(keyring_users(&keyring), 0);

    // --name belongs to the qualytics source only.
    import(&env, &keyring, &["rsconnect", "--name", "x"]).fails(3);
}

#[test]
fn without_a_keyring_a_vendor_import_is_exit_6_and_writes_nothing() {
    let env = TestEnv::new();
    let source = env.dir.path().join("servers.json");
    let text = r#"{"a": {"name": "a", "url": "http://127.0.0.1:9", "api_key": "key-a-0123456789"},
                   "b": {"name": "b", "url": "http://127.0.0.1:9", "api_key": "key-b-0123456789"}}"#;
    write(&source, text, 0o600);
    let r = run(env
        .sts()
        .args(["context", "import", "rsconnect", "--from"])
        .arg(&source))
    .fails(6);
    assert!(r.stderr.contains("--insecure-storage"), "{}", r.stderr);
    assert!(!r.stderr.contains("key-a-0123456789"), "{}", r.stderr);
    assert!(!config_path(&env).exists());
    assert_eq!(read_bytes(&source), text.as_bytes());
}
