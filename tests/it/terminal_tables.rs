//! Tables in a real terminal (tmux panes of 60 and 80 columns) and piped (issue 14): ids and
//! dates are never broken, text columns wrap to fit, and piped output keeps the Go CLI's look.

use crate::common::tmux;

use std::path::PathBuf;

use serde_json::json;
use unicode_width::UnicodeWidthStr;

use crate::cli_util::run;
use crate::common::{Sandbox, TestEnv};
use tmux::{DONE, Tmux};

const ROLES: [&str; 4] = [
    "stackstate-k8s-troubleshooter",
    "stackstate-power-user",
    "stackstate-admin",
    "a-custom-role-with-a-long-name",
];

/// Service tokens with long names, roles and subjects, an expired one among them; their ids.
fn seed(sb: &Sandbox) -> Vec<String> {
    for i in 0..4 {
        let (status, body) = sb.admin(
            "POST",
            "/security/tokens",
            Some(json!({
                "name": format!("a-service-token-with-a-rather-long-name-{i}"),
                "roles": ROLES,
                "dedicatedSubject": format!("system:serviceaccount:observability:agent-number-{i}"),
            })),
        );
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = sb.admin("GET", "/security/tokens", None);
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap().to_string())
        .collect()
}

fn sts_line(env: &TestEnv, sb: &Sandbox, args: &str) -> String {
    format!(
        "env -i PATH=/usr/bin:/bin HOME='{}' XDG_CONFIG_HOME='{}' TERM=xterm-256color \
         STS_CLI_URL='{}' STS_CLI_API_TOKEN='{}' '{}' {args}",
        env.home().display(),
        env.config_home().display(),
        sb.url,
        sb.admin_token,
        PathBuf::from(env!("CARGO_BIN_EXE_sts")).display()
    )
}

/// The table's lines in a pane: from the header to the end marker.
fn table_lines(pane: &str) -> Vec<&str> {
    pane.lines()
        .skip_while(|l| !l.starts_with("ID"))
        .take_while(|l| *l != DONE)
        .collect()
}

/// Runs `service-token list` in a pane `width` columns wide; its table's lines.
fn list_in_pane(width: u16, env: &TestEnv, sb: &Sandbox) -> Vec<String> {
    let tmux = Tmux::start(width);
    tmux.run_script("list", &sts_line(env, sb, "service-token list"));
    let pane = tmux.wait_done("list");
    table_lines(&pane).iter().map(|l| l.to_string()).collect()
}

#[test]
fn ids_stay_whole_at_60_and_80_columns_and_80_columns_fit() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    std::fs::create_dir_all(env.config_home()).unwrap();
    let ids = seed(&sb);
    for width in [60u16, 80] {
        let lines = list_in_pane(width, &env, &sb);
        let text = lines.join("\n");
        assert!(lines.len() > ids.len() + 1, "nothing wrapped:\n{text}");
        for id in &ids {
            let starts = lines.iter().filter(|l| l.starts_with(id.as_str())).count();
            assert_eq!(
                starts, 1,
                "id {id} is not whole at {width} columns:\n{text}"
            );
        }
        for line in &lines {
            assert!(!line.ends_with(' '), "{line:?} ends in a space");
        }
        if width == 80 {
            for line in &lines {
                assert!(line.width() <= 80, "wider than the pane: {line:?}\n{text}");
            }
        }
    }
}

#[test]
fn piped_tables_keep_the_go_header_and_no_trailing_space() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let ids = seed(&sb);
    let out = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["service-token", "list"]))
    .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), ids.len() + 1, "{}", out.stdout);
    let header: Vec<&str> = lines[0].split(" | ").map(str::trim_end).collect();
    assert_eq!(
        header,
        ["ID", "NAME", "EXPIRATION", "ROLES", "DEDICATED_SUBJECT"]
    );
    assert!(lines.iter().all(|l| !l.ends_with(' ')), "{}", out.stdout);
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains(&format!("[{}]", ROLES.join(" ")))),
        "{}",
        out.stdout
    );

    let out = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["ingestion-api-key", "list"]))
    .ok();
    assert_eq!(out.stdout, "No ingestion api keys found.\n");
    let (status, _) = sb.admin(
        "POST",
        "/security/ingestion/api_keys",
        Some(json!({"name": "k", "description": "a description"})),
    );
    assert_eq!(status, 200);
    let out = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["ingestion-api-key", "list"]))
    .ok();
    let header: Vec<&str> = out
        .stdout
        .lines()
        .next()
        .unwrap()
        .split(" | ")
        .map(str::trim_end)
        .collect();
    assert_eq!(header, ["ID", "NAME", "EXPIRATION", "DESCRIPTION"]);
    assert!(
        out.stdout.lines().all(|l| !l.ends_with(' ')),
        "{}",
        out.stdout
    );
}
