//! The ecosystems' URL variables (`CONNECT_SERVER`, `QUALYTICS_URL`) take part in the binding of
//! a saved context to its server exactly as `STS_CLI_URL` does (CONTRACT §1, §9; issue 25
//! finding 2): with a context current, an env key never goes to the context's server, and the
//! context's key never goes, nor is printed by `auth token`, for the server the variable names.

use crate::cli_util::run;
use crate::common::loopback::Server;
use crate::common::{Sandbox, TestEnv};

const SAVED_KEY: &str = "saved-key-of-the-context-0123456789";
const ENV_KEY: &str = "env-key-for-the-other-server-987654";

/// A config whose current context is `ctx` on `platform` at `url`, its key in `credentials.toml`.
#[test]
fn vendor_url_variables_bind_like_sts_cli_url() {
    for (platform, url_var, token_var) in [
        ("posit-connect", "CONNECT_SERVER", "CONNECT_API_KEY"),
        ("qualytics", "QUALYTICS_URL", "QUALYTICS_TOKEN"),
    ] {
        let context_server = Server::trap();
        let other = Server::trap();
        let env = TestEnv::new();
        env.write_current_context(platform, &context_server.url, SAVED_KEY);

        // The env key goes to the server its variable names, never to the context's.
        let r = run(env
            .sts()
            .env(url_var, &other.url)
            .env(token_var, ENV_KEY)
            .args(["service-token", "list"]));
        assert_eq!(r.code, 3, "{platform}: {}", r.stderr);
        assert_eq!(context_server.requests().len(), 0, "{platform}");
        let sent = other.received();
        assert!(sent.contains(ENV_KEY), "{platform}: {sent}");
        assert!(!sent.contains(SAVED_KEY), "{platform}: {sent}");

        // `auth token` prints the env key for that server, not the context's.
        let r = run(env
            .sts()
            .env(url_var, &other.url)
            .env(token_var, ENV_KEY)
            .args(["auth", "token"]))
        .ok();
        assert_eq!(r.stdout.trim(), ENV_KEY, "{platform}");

        // Without an env key, the context's key is neither sent nor printed for another host.
        let before = other.requests().len();
        for args in [&["service-token", "list"][..], &["auth", "token"][..]] {
            let r = run(env.sts().env(url_var, &other.url).args(args)).fails(1);
            assert!(!r.stdout.contains(SAVED_KEY), "{platform} {args:?}");
            assert!(
                r.stderr.contains(url_var) && r.stderr.contains(&other.url),
                "{platform} {args:?}: {}",
                r.stderr
            );
        }
        assert_eq!(other.requests().len(), before, "{platform}");
        assert!(!other.received().contains(SAVED_KEY), "{platform}");
        assert_eq!(context_server.requests().len(), 0, "{platform}");

        // The context's own URL in the variable: the context applies as before.
        let r = run(env
            .sts()
            .env(url_var, &context_server.url)
            .args(["auth", "token"]))
        .ok();
        assert_eq!(r.stdout.trim(), SAVED_KEY, "{platform}");
        let r = run(env
            .sts()
            .env(url_var, format!("{}/", context_server.url))
            .args(["auth", "status", "-o", "json"]));
        let status: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(status["context"], "ctx", "{platform}: {status}");
        assert_eq!(status["sources"]["url"], url_var, "{platform}: {status}");
    }
}

/// A config holding the context `other` on `platform` at `url` (not current).
fn other_context(env: &TestEnv, platform: &str, url: &str) {
    let dir = env.config_home().join("sts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[contexts.other]\nurl = \"{url}\"\nplatform = \"{platform}\"\nauth = \
             \"api-token\"\nstorage = \"file\"\ncredential-id = \"cid\"\n"
        ),
    )
    .unwrap();
}

#[test]
fn rotate_saves_only_into_a_context_of_its_own_server() {
    for platform in ["stackstate", "qualytics"] {
        let sb = if platform == "qualytics" {
            Sandbox::start_platform("qualytics", &["--service-user", "Loader:Admin"])
        } else {
            Sandbox::start()
        };
        let env = TestEnv::new();
        let sts = || {
            let mut cmd = env.sts_at(&sb.url, &sb.admin_token, true);
            cmd.env("STS_CLI_PLATFORM", platform);
            cmd
        };
        let mut create = sts();
        create.args(["service-token", "create", "--name", "ci", "-o", "json"]);
        if platform == "qualytics" {
            create.args(["--service-user", "loader@service"]);
        } else {
            create.args(["--roles", "stackstate-admin"]);
        }
        let created = run(&mut create).ok().json();
        let id = match &created["service-token"]["id"] {
            serde_json::Value::Null => crate::cli_util::token_id(&sb, "ci").to_string(),
            id => id.to_string(),
        };
        let other = Server::trap();
        other_context(&env, platform, &other.url);
        let before = sb.requests();

        let r = run(sts().args(["service-token", "rotate", &id, "--save-to-context", "other"]))
            .fails(3);
        assert!(
            r.stderr.contains("--save-to-context") && r.stderr.contains(&other.url),
            "{platform}: {}",
            r.stderr
        );
        // Nothing was created, nothing asked of the sandbox, nothing sent to the other server.
        assert_eq!(sb.requests(), before, "{platform}");
        assert_eq!(other.requests().len(), 0, "{platform}");

        // The same server, written differently, is the same server.
        let url = sb.url.replace("http://127.0.0.1", "HTTP://127.0.0.1") + "/";
        other_context(&env, platform, &url);
        let r = run(sts().args(["service-token", "rotate", &id, "--save-to-context", "other"]));
        assert!(
            !r.stderr
                .contains("saved only into a context of its own server"),
            "{platform}: {}",
            r.stderr
        );
    }
}
