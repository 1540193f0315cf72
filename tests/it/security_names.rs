//! Context names with control characters (issue 25 finding 7): refused by `context save`,
//! `rename` and `import`; and a name that got into a config anyway (edited by hand) reaches no
//! shell raw through completion, in any shell's protocol.

use crate::cli_util::run;
use crate::common::TestEnv;

const BAD: [&str; 4] = [
    "ev\u{1b}[31mil",
    "osc\u{1b}]52;c;aGk=\u{7}",
    "new\nline",
    "bidi\u{202e}x",
];

fn write_config(env: &TestEnv, body: &str) {
    let dir = env.config_home().join("sts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), body).unwrap();
}

#[test]
fn save_rename_and_import_refuse_control_characters_in_names() {
    let env = TestEnv::new();
    write_config(
        &env,
        "[contexts.ok]\nurl = \"http://127.0.0.1:9\"\nauth = \"api-token\"\nstorage = \
         \"file\"\ncredential-id = \"cid\"\n",
    );
    for bad in BAD {
        let r = run(env.sts().args([
            "context",
            "save",
            "--name",
            bad,
            "--url",
            "http://127.0.0.1:9",
            "--service-token",
            "svctok-name-test-0123456789",
            "--skip-validate",
            "--insecure-storage",
        ]))
        .fails(3);
        assert!(r.stderr.contains("control character"), "{}", r.stderr);
        assert!(!r.stderr.contains('\u{1b}') && !r.stderr.contains('\u{7}'));
        let r = run(env.sts().args(["context", "rename", "ok", bad])).fails(3);
        assert!(r.stderr.contains("control character"), "{}", r.stderr);
        let r = run(env.sts().args([
            "context",
            "import",
            "qualytics",
            "--name",
            bad,
            "--from",
            "/nonexistent",
        ]))
        .fails(3);
        assert!(r.stderr.contains("control character"), "{}", r.stderr);
    }
    // An rsconnect file whose nicknames hold control characters: those entries are skipped.
    let file = env.dir.path().join("servers.json");
    let entries: Vec<String> = BAD
        .iter()
        .chain(["fine"].iter())
        .map(|n| {
            let n = serde_json::to_string(n).unwrap();
            format!(
                r#"{n}: {{"name": {n}, "url": "https://c.example.com", "api_key": "key-0123456789abcdef"}}"#
            )
        })
        .collect();
    std::fs::write(&file, format!("{{{}}}", entries.join(","))).unwrap();
    let r = run(env
        .sts()
        .args([
            "context",
            "import",
            "rsconnect",
            "--insecure-storage",
            "--from",
        ])
        .arg(&file))
    .ok();
    let config = std::fs::read_to_string(env.config_home().join("sts/config.toml")).unwrap();
    assert!(config.contains("[contexts.fine]"), "{config}");
    assert!(
        !config.contains("\\u001b") && !config.contains("\\n"),
        "{config}"
    );
    assert_eq!(
        r.stderr.matches("control character").count(),
        4,
        "{}",
        r.stderr
    );
}

#[test]
fn completion_never_hands_a_raw_control_character_to_a_shell() {
    let env = TestEnv::new();
    let mut config = String::new();
    for bad in BAD {
        let key = serde_json::to_string(bad).unwrap();
        config.push_str(&format!(
            "[contexts.{key}]\nurl = \"http://127.0.0.1:9/\\u001b]0;x\\u0007\"\nauth = \
             \"api-token\"\nstorage = \"file\"\ncredential-id = \"c{}\"\n\n",
            bad.len()
        ));
    }
    write_config(&env, &config);
    for shell in ["bash", "zsh", "fish"] {
        let out = env
            .sts()
            .env("COMPLETE", shell)
            .env("_CLAP_IFS", "\n")
            .env("_CLAP_COMPLETE_INDEX", "2")
            .args(["--", "sts", "--context", ""])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        let candidates: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        // One line per name: no newline split a candidate.
        assert_eq!(candidates.len(), BAD.len(), "{shell}: {text:?}");
        for c in text.chars() {
            assert!(
                c == '\n' || c == '\t' || !needs_escape(c),
                "{shell}: raw {:?} in {text:?}",
                c
            );
        }
    }
}

/// A control character or a bidirectional override.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
