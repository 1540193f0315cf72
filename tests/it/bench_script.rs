//! `scripts/bench` runs on a small seed and writes its report with every figure (issues 7, 15). The
//! figures' values are not checked here: a timing belongs in the report, not in a test.
//!
//! The script measures the debug binaries of this test build (`BENCH_BIN_DIR`), so the test
//! needs no release build. It needs what `scripts/install-test-tools` installs: hyperfine,
//! GNU time, curl, python3, dbus and gnome-keyring.

use std::path::Path;
use std::process::Command;

#[test]
fn bench_script_writes_a_report_with_every_figure() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let report = dir.path().join("out").join("benchmarks.md");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_sts"))
        .parent()
        .expect("folder of the sts binary");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench");

    let mut cmd = Command::new(&script);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("STS_") {
            cmd.env_remove(name);
        }
    }
    let output = cmd
        .env("BENCH_BIN_DIR", bin_dir)
        .env("BENCH_TOKENS", "100")
        .env("BENCH_HUGE_TOKENS", "300")
        .env("BENCH_FLEET_MAX", "22")
        .env("BENCH_RUNS", "3")
        .env("BENCH_LARGE_RUNS", "2")
        .env("BENCH_MEM_RUNS", "2")
        .env("BENCH_FLEET_RUNS", "2")
        .env("BENCH_SCRAPES", "150")
        .env("BENCH_OUT", &report)
        .env("HOME", dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scripts/bench failed ({}):\n{stderr}",
        output.status
    );

    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("no report at {}: {e}\n{stderr}", report.display()));
    // The goals table: one row per figure, each with a verdict.
    for row in [
        "| 1. `sts service-token list -o json` vs curl (one token) | ≤ 0.5 × curl | ",
        "| 2. the same, credential from the keyring | ≤ curl + 15 ms | ",
        "| 3. `sts --version` | ≤ 2 ms | ",
        "| 4. `service-token list -o text`, 100 tokens | ≤ 1.5 × curl; ≤ curl's peak + 2 × answer | ",
        "| 4. `service-token list -o json`, 100 tokens | ≤ 1.5 × curl; ≤ curl's peak + 2 × answer | ",
        "| 4. `service-token list -o jsonl`, 100 tokens | ≤ 1.5 × curl; ≤ curl's peak + 2 × answer | ",
        "| 4. `service-token list -o prometheus`, 100 tokens | ≤ 1.5 × curl; ≤ curl's peak + 2 × answer | ",
        "| 4. `service-token list -o text`, 300 tokens | ≤ 1.5 × curl; ≤ curl's peak + 2 × answer | ",
        "| 4. `service-token list -o prometheus`, 300 tokens | ≤ 1.5 × curl; ≤ curl's peak + 2 × answer | ",
        "| 9. `renew` over 20 contexts, nothing due | ≤ 2 × `service-token list -A` | ",
        "| 5. requests per command | exactly 1 (Go CLI: 2) | ",
        "| 6. stripped `sts` binary | < 8 MB | ",
        "| 7. `service-token list -A`, 20 contexts | ≤ 2 × 1 context | ",
        "| 7. `service-token list -A`, 22 contexts | ≤ 2 × 1 context | ",
        "| 8. a scrape of ",
        "| 8. exporter memory after 150 scrapes | within 10 % of after 100 | ",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no goal row {row:?} in the report:\n{text}"));
        assert!(
            line.ends_with("| **holds** |") || line.ends_with("| **does not hold** |"),
            "no verdict in {line:?}"
        );
    }
    // The details behind the figures, the machine and the versions.
    for needle in [
        "The numbers are from the machine below",
        "- cpu: ",
        "- sts: sts ",
        "- curl: curl ",
        "- hyperfine: hyperfine ",
        "| `curl -s -H 'X-API-Key: …' $URL/api/security/tokens` | ",
        "| `sts service-token list -o json` (saved context, keyring) | ",
        "| `sts --version` | ",
        "| `sts … service-token list` | ",
        "| `sts … service-token list -o json` | ",
        "| `service-token list (keyring context)` | ",
        "`sts` as built: ",
        "## 7. Every context at once",
        "| 1 | ",
        "| 5 | ",
        "| 20 | ",
        "| 20 (file) | ",
        "| 22 | ",
        "| 22 (file) | ",
        // Figure 7's processor time by process, and the floor it sets on the wall time.
        "| contexts | sts | the sandboxes | keyring daemon | bus | all | wall time |",
        "so a run cannot take less wall time than all its processor time",
        "| `sts … service-token list -o jsonl` | ",
        "| `sts … service-token list -o prometheus` | ",
        "pass before the answer's first byte arrives",
        "What `sts` adds to curl's wall time",
        "## 8. The exporter",
        "| `curl -s http://…/metrics` (",
        "## 9. `sts renew` with nothing due",
        "| `sts renew -o json` | ",
    ] {
        assert!(
            text.contains(needle),
            "the report lacks {needle:?}:\n{text}"
        );
    }
    // A row of processor times for each fleet of figure 7, in the keyring and in the file.
    for fleet in ["1", "22", "1 (file)", "22 (file)"] {
        let start = format!("| {fleet} | ");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&start) && l.matches(" ms |").count() == 6),
            "no processor times of {fleet} contexts:\n{text}"
        );
    }
    // The large list really held the seeded tokens, and no secret reached the report.
    assert!(
        text.contains("## 4. Large lists: 100 and 300 service tokens"),
        "{text}"
    );
    assert!(
        !text.contains("svctok-"),
        "a token leaked into the report:\n{text}"
    );
}
