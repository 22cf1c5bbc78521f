//! Shared helpers of the command-line tests: run the built `switchyard` binary and capture what
//! it printed, and give each test a fresh folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
/// The shipped default scenario.
pub const DEFAULT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/default.toml");

/// What a run printed and whether it succeeded.
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `switchyard ARGS…` with extra environment variables (logs at `error` only).
pub fn switchyard_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "error")
        .output()
        .expect("the binary runs");
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `switchyard ARGS…`.
pub fn switchyard(args: &[&str]) -> Output {
    switchyard_env(args, &[])
}

/// A fresh, empty folder `suite/name` under cargo's test scratch folder.
pub fn fresh_dir(suite: &str, name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(suite)
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("a scratch folder");
    d
}

/// A fresh empty folder `switchyard-SUITE-PID-NAME` under the system temp dir, removed when
/// dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates it (emptied if a previous run left it).
    pub fn new(suite: &str, name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("switchyard-{suite}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
