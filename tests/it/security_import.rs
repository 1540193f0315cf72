//! Crafted import files (issue 25 finding 8): a deeply nested YAML file is refused before it is
//! parsed, and an import of thousands of entries writes `credentials.toml` in one transaction
//! (counted with strace: the renames onto that file), not once per entry.

use crate::cli_util::run;
use crate::common::TestEnv;

#[test]
fn a_deeply_nested_yaml_import_is_refused_before_parsing() {
    for source in ["stackstate-cli", "qualytics"] {
        let env = TestEnv::new();
        let file = env.dir.path().join("nested.yaml");
        std::fs::write(&file, "[".repeat(1 << 20)).unwrap();
        let r = run(env
            .sts()
            .args(["context", "import", source, "--from"])
            .arg(&file))
        .fails(1);
        assert!(
            r.stderr.contains("nests deeper than 64 levels"),
            "{source}: {}",
            r.stderr
        );
        // Block sequences on one line nest too.
        std::fs::write(&file, format!("{}x\n", "- ".repeat(10_000))).unwrap();
        let r = run(env
            .sts()
            .args(["context", "import", source, "--from"])
            .arg(&file))
        .fails(1);
        assert!(
            r.stderr.contains("nests deeper than 64 levels"),
            "{source}: {}",
            r.stderr
        );
    }
}

#[test]
fn thousands_of_rsconnect_entries_are_stored_in_one_write() {
    let env = TestEnv::new();
    let servers: Vec<String> = (0..4000)
        .map(|i| {
            format!(
                r#""s{i}": {{"name": "s{i}", "url": "https://c{i}.example.com", "api_key": "key-of-server-{i:05}-abcdef", "insecure": false}}"#
            )
        })
        .collect();
    let file = env.dir.path().join("servers.json");
    std::fs::write(&file, format!("{{{}}}", servers.join(","))).unwrap();
    let log = env.dir.path().join("strace.log");
    let home = env.home();
    for sub in [".config", ".local/share", ".cache", "runtime"] {
        std::fs::create_dir_all(home.join(sub)).unwrap();
    }
    // strace runs sts: the renames of every process it starts are in the log.
    let mut strace = assert_cmd::Command::new("strace");
    strace
        .args(["-f", "-e", "trace=rename,renameat,renameat2", "-o"])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_sts"))
        .args([
            "context",
            "import",
            "rsconnect",
            "--insecure-storage",
            "--from",
        ])
        .arg(&file)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_RUNTIME_DIR", home.join("runtime"))
        .env("RUST_BACKTRACE", "0");
    let r = run(&mut strace).ok();
    assert_eq!(r.stdout.matches("✅ Imported context").count(), 4000);
    let log = std::fs::read_to_string(&log).unwrap();
    let onto = |name: &str| {
        log.lines()
            .filter(|l| l.contains("rename") && l.contains(&format!("/{name}\"")))
            .count()
    };
    assert_eq!(onto("credentials.toml"), 1, "{log}");
    let creds = std::fs::read_to_string(env.config_home().join("sts/credentials.toml")).unwrap();
    assert_eq!(creds.matches("key-of-server-").count(), 4000);
}
