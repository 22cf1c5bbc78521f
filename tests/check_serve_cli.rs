//! `switchyard check` and `switchyard serve` agree on what a gateway config must hold, and both
//! refuse bad input early, through the binary.

mod cli;

use cli::{Output, BIN};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn switchyard(args: &[&str], env: &[(&str, &str)]) -> Output {
    cli::switchyard_env(args, env)
}

/// Runs `serve` (expected to exit on its own) and kills it after 20 s if it does not.
fn serve_expecting_exit(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("serve kept running instead of refusing to start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn file(name: &str, text: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("check-serve-cli");
    std::fs::create_dir_all(&d).expect("tmp dir");
    let p = d.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn config(endpoint: &str) -> String {
    format!(
        "[[tier]]\nname = \"t\"\n[[route]]\nmodel = \"m\"\ntier = \"t\"\n\
         [[deployment]]\nid = \"dep-a\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\n{endpoint}\n"
    )
}

#[test]
fn check_and_serve_refuse_the_same_endpoints() {
    for (name, endpoint, want) in [
        (
            "ftp.toml",
            "base_url = \"ftp://example.com/v1\"",
            "http:// or https://",
        ),
        (
            "userinfo.toml",
            "base_url = \"http://user:pw@example.com/v1\"",
            "user:password@",
        ),
        (
            "header.toml",
            "base_url = \"http://127.0.0.1:9/v1\"\napi_key_header = \"bad header\"",
            "api_key_header",
        ),
    ] {
        let path = file(name, &config(endpoint));
        let p = path.to_str().expect("utf-8 path");
        let check = switchyard(&["check", p], &[]);
        assert!(!check.ok, "check accepted {name}: {}", check.stdout);
        assert!(
            check.stdout.contains(want) && check.stdout.contains("dep-a"),
            "{name}: {}",
            check.stdout
        );
        let serve = serve_expecting_exit(&["--config", p, "--listen", "127.0.0.1:0"], &[]);
        assert!(!serve.ok);
        assert!(serve.stderr.contains(want), "{name}: {}", serve.stderr);
    }
    let good = file(
        "good.toml",
        &config("base_url = \"https://api.example.com/v1\"\napi_key_env = \"NOT_SET_HERE\""),
    );
    let check = switchyard(&["check", good.to_str().expect("utf-8")], &[]);
    assert!(check.ok, "{}{}", check.stdout, check.stderr);
    assert!(
        check
            .stdout
            .contains("gateway config: 1 deployment in 1 tier, 1 route"),
        "{}",
        check.stdout
    );
}

#[test]
fn serve_given_a_scenario_says_which_file_it_reads() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/default.toml");
    let check = switchyard(&["check", scenario], &[]);
    assert!(check.ok, "{}{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains(
            "5 deployments in 2 tiers, 3 providers, 1 incident, 10m simulated, 8 strategies"
        ),
        "{}",
        check.stdout
    );
    let serve = serve_expecting_exit(&["--config", scenario, "--listen", "127.0.0.1:0"], &[]);
    assert!(!serve.ok);
    assert!(
        serve
            .stderr
            .contains("default.toml:27: simulation: unknown field `simulation`")
            && serve.stderr.contains("make a scenario file")
            && serve.stderr.contains("a gateway config is the rest of it"),
        "{}",
        serve.stderr
    );
}

#[test]
fn serve_refuses_an_empty_api_key_naming_deployment_and_variable() {
    let path = file(
        "empty-key.toml",
        &config(
            "base_url = \"http://127.0.0.1:9/v1\"\napi_key_env = \"SWITCHYARD_TEST_EMPTY_KEY\"",
        ),
    );
    let p = path.to_str().expect("utf-8");
    let serve = serve_expecting_exit(
        &["--config", p, "--listen", "127.0.0.1:0"],
        &[("SWITCHYARD_TEST_EMPTY_KEY", " ")],
    );
    assert!(!serve.ok);
    assert!(
        serve.stderr.contains("dep-a")
            && serve.stderr.contains("SWITCHYARD_TEST_EMPTY_KEY")
            && serve.stderr.contains("empty"),
        "{}",
        serve.stderr
    );
}

#[test]
fn serve_refuses_a_port_above_65535() {
    let path = file("port.toml", &config("base_url = \"http://127.0.0.1:9/v1\""));
    let serve = serve_expecting_exit(
        &[
            "--config",
            path.to_str().expect("utf-8"),
            "--listen",
            "127.0.0.1:99999",
        ],
        &[],
    );
    assert!(!serve.ok);
    assert!(
        serve.stderr.contains("99999") && serve.stderr.contains("0 to 65535"),
        "{}",
        serve.stderr
    );
}

#[test]
fn check_refuses_devices_directories_and_huge_files_at_once() {
    let start = Instant::now();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    #[cfg(unix)]
    {
        let out = switchyard(&["check", "/dev/zero"], &[]);
        assert!(!out.ok);
        assert!(out.stdout.contains("not a regular file"), "{}", out.stdout);
    }
    let out = switchyard(&["check", dir.to_str().expect("utf-8")], &[]);
    assert!(!out.ok);
    assert!(out.stdout.contains("not a regular file"), "{}", out.stdout);
    let big = dir.join("check-serve-cli-big.toml");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(65 * 1024 * 1024).expect("sparse file");
    let out = switchyard(&["check", big.to_str().expect("utf-8")], &[]);
    let _ = std::fs::remove_file(&big);
    assert!(!out.ok);
    assert!(out.stdout.contains("64 MiB"), "{}", out.stdout);
    assert!(start.elapsed() < Duration::from_secs(20), "fails fast");
}
