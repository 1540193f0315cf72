//! `sts ingestion-api-key` end to end against a real `sts-sandbox` (CONTRACT §3).

use chrono::Utc;
use serde_json::json;

use crate::cli_util::{admin, create_key, named, server_keys};
use crate::common::{Sandbox, TestEnv};

#[test]
fn docs_examples_work_verbatim_in_text() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let created = admin(
        &env,
        &sb,
        &[
            "ingestion-api-key",
            "create",
            "--name",
            "my-ingestion-api-key",
        ],
    )
    .ok();
    assert!(
        created
            .stdout
            .starts_with("✅ Ingestion API Key generated: iapikey-")
    );
    snap!("create", created.stdout);

    admin(
        &env,
        &sb,
        &[
            "ingestion-api-key",
            "create",
            "-n",
            "otel",
            "--description",
            "OTel collector",
            "--expiration",
            "2030-05-22",
        ],
    )
    .ok();
    let listed = admin(&env, &sb, &["ingestion-api-key", "list"]).ok();
    snap!("list", listed.stdout);

    let id = named(&server_keys(&sb), "my-ingestion-api-key")["id"]
        .as_i64()
        .unwrap();
    let deleted = admin(
        &env,
        &sb,
        &["ingestion-api-key", "delete", "--id", &id.to_string()],
    )
    .ok();
    assert_eq!(
        deleted.stdout,
        format!("✅ Ingestion Api Key deleted: {id}\n")
    );
    snap!("delete", deleted.stdout);

    let id = named(&server_keys(&sb), "otel")["id"].as_i64().unwrap();
    admin(&env, &sb, &["ingestion-api-key", "delete", &id.to_string()]).ok();
    let empty = admin(&env, &sb, &["ingestion-api-key", "list"]).ok();
    assert_eq!(empty.stdout, "No ingestion api keys found.\n");
    assert_eq!(sb.request_count("GET /api/server/info"), 0);
}

#[test]
fn json_shapes_follow_the_contract() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let created = admin(
        &env,
        &sb,
        &[
            "ingestion-api-key",
            "create",
            "-n",
            "k",
            "--description",
            "d",
            "--expiration",
            "2030-05-22",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(created.as_object().unwrap().len(), 1);
    let key = &created["ingestion-api-key"];
    assert!(key["apiKey"].as_str().unwrap().starts_with("iapikey-"));
    assert_eq!(key["name"], "k");
    assert_eq!(key["description"], "d");
    assert_eq!(key["expiration"], json!(1_905_638_400_000i64));
    assert!(key["id"].is_i64() && key["lastUpdateTimestamp"].is_i64());

    let list = admin(&env, &sb, &["ingestion-api-key", "list", "-o", "json"])
        .ok()
        .json();
    assert_eq!(list.as_object().unwrap().len(), 1);
    assert_eq!(
        list["ingestion-api-keys"].as_array().unwrap(),
        &server_keys(&sb)
    );

    let id = key["id"].as_i64().unwrap();
    let one = admin(
        &env,
        &sb,
        &[
            "ingestion-api-key",
            "delete",
            "-i",
            &id.to_string(),
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(one, json!({"deleted-ingestion-api-key": id}));
}

#[test]
fn description_and_expiration_are_sent_only_when_given() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    admin(&env, &sb, &["ingestion-api-key", "create", "-n", "bare"]).ok();
    let before = Utc::now().timestamp_millis();
    admin(
        &env,
        &sb,
        &[
            "ingestion-api-key",
            "create",
            "-n",
            "week",
            "--expiration",
            "1w",
        ],
    )
    .ok();
    let keys = server_keys(&sb);
    let bare = named(&keys, "bare");
    assert!(
        bare.get("description").is_none() && bare.get("expiration").is_none(),
        "{bare}"
    );
    let exp = named(&keys, "week")["expiration"].as_i64().unwrap();
    let week = 7 * 86_400_000;
    assert!((exp - (before + week)).abs() < 60_000, "{exp}");
}

#[test]
fn list_is_sorted_by_name() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    for name in ["zulu", "alpha", "mike"] {
        create_key(&sb, name);
    }
    let json = admin(&env, &sb, &["ingestion-api-key", "list", "-o", "json"])
        .ok()
        .json();
    let names: Vec<&str> = json["ingestion-api-keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "mike", "zulu"]);
}

#[test]
fn bad_expirations_fail_before_any_request() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    for bad in ["2001-01-01", "soon"] {
        admin(
            &env,
            &sb,
            &[
                "ingestion-api-key",
                "create",
                "-n",
                "x",
                "--expiration",
                bad,
            ],
        )
        .fails(3);
    }
    assert_eq!(sb.api_request_total(), 0);
}

#[test]
fn delete_several_ids() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let (a, b) = (create_key(&sb, "a"), create_key(&sb, "b"));
    let r = admin(
        &env,
        &sb,
        &[
            "ingestion-api-key",
            "delete",
            "5",
            &a.to_string(),
            &b.to_string(),
        ],
    )
    .fails(3);
    assert_eq!(
        r.stdout,
        format!("✅ Ingestion Api Key deleted: {a}\n✅ Ingestion Api Key deleted: {b}\n")
    );
    assert!(
        r.stderr.contains("5") && r.stderr.contains("404"),
        "{}",
        r.stderr
    );
    assert!(server_keys(&sb).is_empty());
    assert_eq!(
        sb.request_count("DELETE /api/security/ingestion/api_keys/{id}"),
        3
    );

    let (c, d) = (create_key(&sb, "c"), create_key(&sb, "d"));
    let r = admin(
        &env,
        &sb,
        &[
            "ingestion-api-key",
            "delete",
            "--id",
            &c.to_string(),
            "-i",
            &d.to_string(),
            "-o",
            "json",
        ],
    )
    .ok();
    assert_eq!(r.json(), json!({"deleted-ingestion-api-key": [c, d]}));
}

#[test]
fn one_request_per_command() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    admin(&env, &sb, &["ingestion-api-key", "list"]).ok();
    admin(&env, &sb, &["ingestion-api-key", "create", "-n", "x"]).ok();
    assert_eq!(sb.request_count("GET /api/security/ingestion/api_keys"), 1);
    assert_eq!(sb.request_count("POST /api/security/ingestion/api_keys"), 1);
    assert_eq!(sb.api_request_total(), 2);
}
