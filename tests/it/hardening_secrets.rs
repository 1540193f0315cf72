//! Secrets in logs (CONTRACT §1, §3, §4): every command run with `-vv`, in text and in JSON, with
//! the credential from every place it can come from (flag, env var, stdin, the keyring, the
//! 0600 file, a Kubernetes token file). The secret in use appears nowhere in stderr or stdout;
//! a created secret appears on stdout only, in exactly one line.

use serde_json::json;

use crate::cli_util::{Run, create_key, run};
use crate::common::secret_service::SecretService;
use crate::common::{Sandbox, TestEnv};

const K8S_TOKEN: &str = "k8s-sa-secret-value-0123456789";

/// Where the credential comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    Flag,
    Env,
    Stdin,
    /// Only for the Kubernetes token: `--k8s-sa-token-path` / `STS_CLI_K8S_SA_TOKEN_PATH`.
    PathFlag,
    PathEnv,
}

/// Which kind of credential.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Api,
    Service,
    K8s,
}

impl Kind {
    fn flag(self) -> &'static str {
        match self {
            Kind::Api => "--api-token",
            Kind::Service => "--service-token",
            Kind::K8s => "--k8s-sa-token",
        }
    }

    fn env(self) -> &'static str {
        match self {
            Kind::Api => "STS_CLI_API_TOKEN",
            Kind::Service => "STS_CLI_SERVICE_TOKEN",
            Kind::K8s => "STS_CLI_K8S_SA_TOKEN",
        }
    }

    fn header(self) -> &'static str {
        match self {
            Kind::Api => "X-API-Token: ***",
            Kind::Service => "X-API-Key: ***",
            Kind::K8s => "X-API-ServiceBearer: ***",
        }
    }
}

/// `sts` against `url` with `secret` given as `kind` from `source`.
fn sts_with(
    env: &TestEnv,
    url: &str,
    kind: Kind,
    source: Source,
    secret: &str,
) -> assert_cmd::Command {
    let mut cmd = env.sts();
    cmd.env("STS_CLI_URL", url);
    match source {
        Source::Flag => {
            cmd.args([kind.flag(), secret]);
        }
        Source::Env => {
            cmd.env(kind.env(), secret);
        }
        Source::Stdin => {
            cmd.args([kind.flag(), "-"])
                .write_stdin(format!("{secret}\n"));
        }
        Source::PathFlag | Source::PathEnv => {
            let file = env.dir.path().join("k8s-token");
            std::fs::write(&file, format!("{secret}\n")).unwrap();
            if matches!(source, Source::PathFlag) {
                cmd.arg("--k8s-sa-token-path").arg(&file);
            } else {
                cmd.env("STS_CLI_K8S_SA_TOKEN_PATH", &file);
            }
        }
    }
    cmd
}

/// The words of `text` that look like a secret the sandbox issued.
fn issued_secrets(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| w.starts_with("svctok-") || w.starts_with("iapikey-"))
        .map(str::to_string)
        .collect()
}

/// The checks of the issue for one run: `-vv` really logged, no `secrets` anywhere, no issued
/// secret in stderr, and on stdout an issued secret only when `creates`, in exactly one line.
fn assert_no_leak(what: &str, r: &Run, secrets: &[&str], creates: bool, header: &str) {
    assert!(
        r.stderr.contains("> GET ")
            || r.stderr.contains("> POST ")
            || r.stderr.contains("> DELETE "),
        "{what}: -vv logged no request: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(header),
        "{what}: no {header:?} in {}",
        r.stderr
    );
    for secret in secrets {
        assert!(
            !r.stderr.contains(secret),
            "{what}: {secret} in stderr:\n{}",
            r.stderr
        );
        assert!(
            !r.stdout.contains(secret),
            "{what}: {secret} in stdout:\n{}",
            r.stdout
        );
    }
    assert_eq!(
        issued_secrets(&r.stderr),
        Vec::<String>::new(),
        "{what}: an issued secret in stderr:\n{}",
        r.stderr
    );
    let lines: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| !issued_secrets(l).is_empty())
        .collect();
    if creates {
        assert_eq!(lines.len(), 1, "{what}: stdout:\n{}", r.stdout);
        assert_eq!(issued_secrets(lines[0]).len(), 1, "{what}: {}", lines[0]);
    } else {
        assert!(
            lines.is_empty(),
            "{what}: a secret on stdout:\n{}",
            r.stdout
        );
    }
}

/// The secret of a new ingestion API key (made through the admin API).
fn new_key_secret(sb: &Sandbox, name: &str) -> String {
    let (status, body) = sb.admin(
        "POST",
        "/security/ingestion/api_keys",
        Some(json!({"name": name})),
    );
    assert_eq!(status, 200, "{body}");
    body["apiKey"].as_str().unwrap().to_string()
}

fn new_token_id(sb: &Sandbox, name: &str) -> String {
    let (status, body) = sb.admin(
        "POST",
        "/security/tokens",
        Some(json!({"name": name, "roles": ["stackstate-k8s-troubleshooter"]})),
    );
    assert_eq!(status, 200, "{body}");
    let (_, list) = sb.admin("GET", "/security/tokens", None);
    list.as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == name)
        .map(|t| t["id"].as_i64().unwrap())
        .max()
        .unwrap()
        .to_string()
}

/// Every token and key command, `-vv`, text and JSON, with this credential from this source.
fn every_command(sb: &Sandbox, kind: Kind, source: Source, secret: &str) {
    let env = TestEnv::new();
    let mut other_secrets = vec![sb.admin_token.clone()];
    for output in ["text", "json"] {
        let tag = format!("{kind:?}/{source:?}/{output}");
        let st = new_token_id(sb, &format!("rotate-me-{output}"));
        let st_del = new_token_id(sb, &format!("delete-me-{output}"));
        let key = create_key(sb, &format!("rotate-key-{output}")).to_string();
        let key_del = create_key(sb, &format!("delete-key-{output}")).to_string();
        let commands: Vec<(Vec<&str>, bool)> = vec![
            (vec!["service-token", "list"], false),
            (
                vec![
                    "service-token",
                    "create",
                    "-n",
                    "made",
                    "--roles",
                    "stackstate-k8s-troubleshooter",
                ],
                true,
            ),
            (vec!["service-token", "delete", &st_del], false),
            (vec!["service-token", "rotate", "--id", &st], true),
            (vec!["ingestion-api-key", "list"], false),
            (vec!["ingestion-api-key", "create", "-n", "made"], true),
            (vec!["ingestion-api-key", "delete", "--id", &key_del], false),
            (vec!["ingestion-api-key", "rotate", "--id", &key], true),
        ];
        for (args, creates) in commands {
            let r = run(sts_with(&env, &sb.url, kind, source, secret)
                .args(&args)
                .args(["-vv", "-o", output]))
            .ok();
            let what = format!("{tag} {args:?}");
            let mut secrets: Vec<&str> = vec![secret];
            secrets.extend(other_secrets.iter().map(String::as_str));
            assert_no_leak(&what, &r, &secrets, creates, kind.header());
            // The created secret, once on stdout, is a secret from now on too.
            other_secrets.extend(issued_secrets(&r.stdout));
        }
        // verify reads the key it checks from stdin, so not with a credential from stdin.
        if !matches!(source, Source::Stdin) {
            let checked = new_key_secret(sb, &format!("verify-{output}"));
            let r = run(sts_with(&env, &sb.url, kind, source, secret)
                .args(["ingestion-api-key", "verify", "-vv", "-o", output])
                .write_stdin(format!("{checked}\n")))
            .ok();
            assert_no_leak(
                &format!("{tag} verify"),
                &r,
                &[secret, &checked],
                false,
                kind.header(),
            );
        }
    }
}

#[test]
fn an_api_token_from_flag_env_or_stdin_never_shows() {
    let sb = Sandbox::start();
    for source in [Source::Flag, Source::Env, Source::Stdin] {
        every_command(&sb, Kind::Api, source, &sb.admin_token.clone());
    }
}

#[test]
fn a_service_token_from_flag_env_or_stdin_never_shows() {
    let sb = Sandbox::start();
    let token = sb.create_service_token("credential", &["stackstate-admin"]);
    for source in [Source::Flag, Source::Env, Source::Stdin] {
        every_command(&sb, Kind::Service, source, &token);
    }
}

#[test]
fn a_k8s_token_from_flag_env_stdin_or_file_never_shows() {
    let sb = Sandbox::start_with(&["--k8s-sa-token", K8S_TOKEN]);
    for source in [
        Source::Flag,
        Source::Env,
        Source::Stdin,
        Source::PathFlag,
        Source::PathEnv,
    ] {
        every_command(&sb, Kind::K8s, source, K8S_TOKEN);
    }
}

#[test]
fn a_rejected_token_never_shows_either() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    for (kind, bad) in [
        (Kind::Api, "not-the-admin-token-4711"),
        (Kind::Service, "svctok-not-a-real-token-4711"),
    ] {
        for output in ["text", "json"] {
            let r = run(sts_with(&env, &sb.url, kind, Source::Env, bad).args([
                "service-token",
                "list",
                "-vv",
                "-o",
                output,
            ]))
            .fails(4);
            assert!(r.stderr.contains("401"), "{}", r.stderr);
            assert!(!r.stderr.contains(bad), "{}", r.stderr);
            assert!(!r.stdout.contains(bad), "{}", r.stdout);
        }
    }
}

/// Saved contexts, `-vv`: `context save` (token from stdin and from the flag) and every command
/// that then reads the saved credential, from `extra_env` (a keyring's bus) or the 0600 file.
fn saved_context_commands(
    env: &TestEnv,
    sb: &Sandbox,
    extra_env: &[(String, String)],
    storage: &[&str],
) {
    let token = sb.create_service_token("saved", &["stackstate-admin"]);
    let sts = || {
        let mut cmd = env.sts();
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd
    };
    let mut issued: Vec<String> = vec![sb.admin_token.clone()];
    for output in ["text", "json"] {
        let name = format!("ctx-{output}");
        // The token from stdin.
        let r = run(sts()
            .args(["context", "save", "--name", &name, "--url", &sb.url])
            .args(["--service-token", "-", "-vv", "-o", output])
            .args(storage)
            .write_stdin(format!("{token}\n")))
        .ok();
        assert_no_leak(
            &format!("save stdin {output}"),
            &r,
            &[&token],
            false,
            "X-API-Key: ***",
        );
        // The token as a flag.
        let r = run(sts()
            .args(["context", "save", "--name", &name, "--url", &sb.url])
            .args(["--service-token", &token, "-vv", "-o", output])
            .args(storage))
        .ok();
        assert_no_leak(
            &format!("save flag {output}"),
            &r,
            &[&token],
            false,
            "X-API-Key: ***",
        );

        let key = create_key(sb, &format!("k-{output}")).to_string();
        let commands: Vec<(Vec<&str>, bool)> = vec![
            (vec!["context", "validate"], false),
            (vec!["service-token", "list"], false),
            (
                vec![
                    "service-token",
                    "create",
                    "-n",
                    "m",
                    "--roles",
                    "stackstate-k8s-troubleshooter",
                ],
                true,
            ),
            (vec!["ingestion-api-key", "create", "-n", "m"], true),
            (vec!["ingestion-api-key", "rotate", "--id", &key], true),
            (vec!["ingestion-api-key", "list"], false),
        ];
        for (args, creates) in commands {
            let r = run(sts().args(&args).args(["-vv", "-o", output])).ok();
            let mut secrets = vec![token.as_str()];
            secrets.extend(issued.iter().map(String::as_str));
            assert_no_leak(
                &format!("{output} {args:?}"),
                &r,
                &secrets,
                creates,
                "X-API-Key: ***",
            );
            issued.extend(issued_secrets(&r.stdout));
        }
        // Commands without a request: nothing logged, and no secret either.
        for args in [
            vec!["context", "list"],
            vec!["context", "show"],
            vec!["context", "set", "--name", &name],
        ] {
            let r = run(sts().args(&args).args(["-vv", "-o", output])).ok();
            for secret in std::iter::once(&token).chain(&issued) {
                assert!(
                    !r.stdout.contains(secret.as_str()),
                    "{args:?}: {}",
                    r.stdout
                );
                assert!(
                    !r.stderr.contains(secret.as_str()),
                    "{args:?}: {}",
                    r.stderr
                );
            }
            assert!(issued_secrets(&r.stdout).is_empty(), "{}", r.stdout);
        }
    }
    // The config file holds no secret.
    let config = std::fs::read_to_string(env.config_home().join("sts/config.toml")).unwrap();
    assert!(!config.contains(&token), "{config}");
}

#[test]
fn a_token_from_the_keyring_never_shows() {
    let sb = Sandbox::start();
    let keyring = SecretService::start();
    let env = TestEnv::new();
    saved_context_commands(&env, &sb, &keyring.env(), &[]);
    // It really was in the keyring.
    let found = keyring.secret_tool_search("sts");
    assert!(found.contains("secret = svctok-"), "{found}");
}

#[test]
fn a_token_from_the_credentials_file_never_shows() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    saved_context_commands(&env, &sb, &[], &["--insecure-storage"]);
    let file = env.config_home().join("sts/credentials.toml");
    assert!(file.is_file(), "no {}", file.display());
}
