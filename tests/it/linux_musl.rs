//! The static Linux build (CONTRACT §15): `cargo zigbuild --release --target
//! x86_64-unknown-linux-musl --bin sts` (zig as the C compiler and linker, from
//! `scripts/install-test-tools`) gives one binary with no dynamic loader, and it runs the demo
//! against the host's `sts-sandbox`.

use std::path::Path;
use std::process::Command;

use crate::common::cross::{cargo, cross_target_dir};
use crate::common::repo_root;

const TARGET: &str = "x86_64-unknown-linux-musl";

/// Whether the ELF file's program headers name an interpreter (`PT_INTERP`): a dynamically
/// linked executable does, a static one does not.
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not a 64-bit ELF file");
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap()) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (entry_size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| u32_at(phoff + i * entry_size) == 3)
}

#[test]
fn the_elf_reader_tells_a_dynamic_executable() {
    // The test binary itself is a dynamically linked glibc executable.
    let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    assert!(has_interpreter(&me));
}

#[test]
fn the_static_musl_build_runs_the_demo() {
    cargo(&[
        "zigbuild",
        "--release",
        "--locked",
        "--target",
        TARGET,
        "--bin",
        "sts",
    ]);
    let exe = cross_target_dir().join(TARGET).join("release/sts");
    let elf = std::fs::read(&exe).unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
    assert!(!has_interpreter(&elf), "{} is not static", exe.display());

    let sandbox_dir = Path::new(env!("CARGO_BIN_EXE_sts-sandbox"))
        .parent()
        .unwrap();
    let out = Command::new(repo_root().join("scripts/demo"))
        .env("DEMO_BIN_DIR", sandbox_dir)
        .env("DEMO_STS", &exe)
        .env("NO_COLOR", "1")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the demo failed with the musl build:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "created service token ci-demo",
        "$ sts ingestion-api-key create --name demo-agent",
        "# the deleted token no longer authenticates",
        "# demo complete",
    ] {
        assert!(stdout.contains(step), "no {step:?} in:\n{stdout}");
    }
}
