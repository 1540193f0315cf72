//! Every success path of `sts` checked against the official OpenAPI document with Prism: in proxy
//! mode in front of a real sandbox, and as a dynamic mock whose random answers fit the schemas.

use crate::cli_util::{Run, admin_at, run};
use crate::common::{Prism, Sandbox, TestEnv};

#[test]
fn every_success_path_conforms_through_prism_proxy() {
    let sb = Sandbox::start();
    let prism = Prism::proxy(&sb.url);
    let env = TestEnv::new();
    let at = |args: &[&str]| admin_at(&env, &prism.url, &sb, args).ok();

    for out in ["text", "json"] {
        at(&[
            "service-token",
            "create",
            "-n",
            "plain",
            "--roles",
            "r",
            "-o",
            out,
        ]);
        at(&[
            "service-token",
            "create",
            "-n",
            "full",
            "--roles",
            "a,b",
            "--roles",
            "c",
            "--expiration",
            "2030-05-22",
            "--dedicatedSubject",
            "someone",
            "-o",
            out,
        ]);
        at(&["service-token", "list", "-o", out]);
        at(&["ingestion-api-key", "create", "-n", "plain", "-o", out]);
        at(&[
            "ingestion-api-key",
            "create",
            "-n",
            "full",
            "--description",
            "d",
            "--expiration",
            "30d",
            "-o",
            out,
        ]);
        at(&["ingestion-api-key", "list", "-o", out]);
    }
    let tokens = crate::cli_util::server_tokens(&sb);
    let ids: Vec<String> = tokens.iter().map(|t| t["id"].to_string()).collect();
    at(&["service-token", "delete", &ids[0]]);
    at(&["service-token", "delete", "--id", &ids[1], "-o", "json"]);
    at(&["service-token", "delete", &ids[2], &ids[3]]);
    let keys = crate::cli_util::server_keys(&sb);
    let ids: Vec<String> = keys.iter().map(|k| k["id"].to_string()).collect();
    at(&["ingestion-api-key", "delete", "--id", &ids[0]]);
    at(&["ingestion-api-key", "delete", &ids[1], "-o", "json"]);
    at(&[
        "ingestion-api-key",
        "delete",
        &ids[2],
        "-i",
        &ids[3],
        "-o",
        "json",
    ]);
    assert!(crate::cli_util::server_tokens(&sb).is_empty());
    assert!(crate::cli_util::server_keys(&sb).is_empty());

    // A service token as the credential, through Prism too.
    let token = sb.create_service_token("ci", &["stackstate-admin"]);
    run(env
        .sts_at(&prism.url, &token, false)
        .args(["service-token", "list"]))
    .ok();

    prism.assert_no_error_violations();
    assert_eq!(sb.request_count("GET /api/server/info"), 0);
}

#[test]
fn random_answers_that_fit_the_spec_never_break_sts() {
    let env = TestEnv::new();
    let commands: &[&[&str]] = &[
        &["service-token", "list"],
        &[
            "service-token",
            "create",
            "-n",
            "x",
            "--roles",
            "r",
            "--expiration",
            "2030-05-22",
            "--dedicatedSubject",
            "s",
        ],
        &["service-token", "delete", "107484341630693"],
        &["service-token", "delete", "1", "--id", "2"],
        &["ingestion-api-key", "list"],
        &[
            "ingestion-api-key",
            "create",
            "-n",
            "x",
            "--description",
            "d",
            "--expiration",
            "1y",
        ],
        &["ingestion-api-key", "delete", "--id", "250558013078953"],
    ];
    for seed in [1, 2, 3, 42, 1234, 99999] {
        let prism = Prism::mock_dynamic(seed);
        for args in commands {
            for out in ["text", "json"] {
                let r: Run = run(env
                    .sts_at(&prism.url, "any-token", true)
                    .args(*args)
                    .args(["-o", out]));
                let r = r.no_panic();
                assert_eq!(
                    r.code, 0,
                    "seed {seed} {args:?} -o {out}\nstdout: {}\nstderr: {}",
                    r.stdout, r.stderr
                );
                if out == "json" {
                    r.json();
                }
            }
        }
    }
}
