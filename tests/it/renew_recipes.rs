//! The recipes of `docs/renew.md`: the page shows each file of `docs/renew/` verbatim, and the
//! renewals file runs green against real sandboxes of the three platforms, with stand-ins that
//! record their arguments and standard input for `kubectl`, `gh`, `systemctl` and the identity
//! provider's script, and the collector's file in a temporary folder.

use std::path::Path;

use base64::Engine;

use crate::cli_util::run;
use crate::common::secret_service::SecretService;
use crate::common::{Sandbox, TestEnv, repo_root};

const FILES: [&str; 4] = [
    "renewals.toml",
    "sts-renew.service",
    "sts-renew.timer",
    "nightly-renew.yml",
];

#[test]
fn the_page_shows_each_recipe_file_verbatim() {
    let page = std::fs::read_to_string(repo_root().join("docs/renew.md")).unwrap();
    for f in FILES {
        let text = std::fs::read_to_string(repo_root().join("docs/renew").join(f)).unwrap();
        assert!(
            page.contains(&text),
            "docs/renew.md does not show {f} as it is"
        );
    }
}

/// A stand-in that records its arguments and standard input under `rec`.
fn stand_in(bin: &Path, rec: &Path, name: &str, extra: &str) {
    let path = bin.join(name);
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{rec}/{name}.args'\n{extra}cat > '{rec}/{name}.stdin'\n",
            rec = rec.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
}

#[test]
fn the_renewals_recipe_delivers_to_each_consumer() {
    let env = TestEnv::new();
    let keyring = SecretService::start();
    let prod = Sandbox::start();
    let connect = Sandbox::start_platform("posit-connect", &[]);
    let qualytics =
        Sandbox::start_platform("qualytics", &["--service-user", "Nightly Loader:Admin"]);
    let dir = env.dir.path().join("recipes");
    let (bin, rec, etc) = (dir.join("bin"), dir.join("rec"), dir.join("etc"));
    for d in [&bin, &rec, &etc] {
        std::fs::create_dir_all(d).unwrap();
    }
    // `kubectl create … -o yaml` prints the secret's manifest; `kubectl apply -f -` keeps it.
    let kubectl = bin.join("kubectl");
    std::fs::write(
        &kubectl,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{rec}/kubectl.args'\n\
             if [ \"$1\" = create ]; then\n  key=$(base64 -w0)\n  \
             printf 'apiVersion: v1\\nkind: Secret\\nmetadata:\\n  name: %s\\ndata:\\n  sts-api-key: %s\\n' \"$4\" \"$key\"\n\
             else\n  cat > '{rec}/kubectl.applied'\nfi\n",
            rec = rec.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&kubectl).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&kubectl, perms).unwrap();
    for name in ["gh", "systemctl", "update-idp-scim-token"] {
        stand_in(&bin, &rec, name, "");
    }

    let sts = || {
        let mut cmd = env.sts();
        cmd.envs(keyring.env()).env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        );
        cmd
    };
    for (name, sb) in [
        ("prod", &prod),
        ("connect", &connect),
        ("qualytics", &qualytics),
    ] {
        run(sts()
            .args(["context", "save", "--name", name, "--url", &sb.url])
            .args(["--platform", &sb.platform, "--api-token", "-"])
            .write_stdin(format!("{}\n", sb.admin_token)))
        .ok();
    }
    let recipe = std::fs::read_to_string(repo_root().join("docs/renew/renewals.toml")).unwrap();
    let file = dir.join("renewals.toml");
    std::fs::write(
        &file,
        recipe.replace("/etc/otelcol-contrib/", &format!("{}/", etc.display())),
    )
    .unwrap();

    let r = run(sts()
        .arg("renew")
        .arg("--file")
        .arg(&file)
        .args(["-o", "json"]))
    .ok();
    for c in r.json()["credentials"].as_array().unwrap() {
        assert_eq!(c["action"], "created", "{c}");
    }
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();

    // The Kubernetes secret: the applied manifest holds the key that was piped in.
    let applied = read(&rec.join("kubectl.applied"));
    let encoded = applied
        .lines()
        .find_map(|l| l.trim().strip_prefix("sts-api-key: "))
        .unwrap_or_else(|| panic!("{applied}"));
    let agent_key = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    assert!(read(&rec.join("kubectl.args")).contains("create secret generic stackstate-agent"));
    let authorized = |k: &str| {
        prod.admin(
            "POST",
            "/security/ingestion/authorize",
            Some(serde_json::json!({ "apiKey": k })),
        )
        .0
    };
    assert!((200..300).contains(&authorized(&agent_key)));

    // The collector's file, and its restart.
    let otel = read(&etc.join("stackstate-api-key"));
    assert!((200..300).contains(&authorized(&otel)));
    assert_eq!(
        read(&rec.join("systemctl.args")).trim(),
        "restart otelcol-contrib"
    );

    // The identity provider's script got the SCIM token; it works against Connect's SCIM.
    let scim = read(&rec.join("update-idp-scim-token.stdin"));
    let status = connect
        .http()
        .get(format!("{}/scim/v2/Users?count=1", connect.url))
        .header("Authorization", format!("Bearer {scim}"))
        .send()
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");

    // The CI variable got the Qualytics token.
    assert_eq!(
        read(&rec.join("gh.args")).trim(),
        "secret set QUALYTICS_TOKEN --repo acme/pipelines"
    );
    let token = read(&rec.join("gh.stdin"));
    let status = qualytics
        .http()
        .get(format!("{}/api/user-tokens", qualytics.url))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");

    // Run again: nothing to do.
    let r = run(sts()
        .arg("renew")
        .arg("--file")
        .arg(&file)
        .args(["-o", "json"]))
    .ok();
    for c in r.json()["credentials"].as_array().unwrap() {
        assert_eq!(c["action"], "ok", "{c}");
    }
}
