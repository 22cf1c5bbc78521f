//! `switchyard status` against a real `switchyard serve`, both through the binary: the admin key
//! is required (401 without or with a wrong one), the state prints as tables, and SIGHUP
//! reloads the file; a stalled answer ends at the deadline.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
const KEY_VAR: &str = "SWITCHYARD_TEST_ADMIN_KEY";

/// Kills the gateway when the test ends, however it ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(deployments: &[&str]) -> String {
    let mut s = String::from("[[tier]]\nname = \"t\"\n[[route]]\nmodel = \"m\"\ntier = \"t\"\n");
    for d in deployments {
        s.push_str(&format!(
            "[[deployment]]\nid = \"{d}\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\n\
             rpm = 600\nbase_url = \"http://127.0.0.1:9/v1\"\n"
        ));
    }
    s
}

fn status(url: &str, key: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(["status", "--url", url, "--admin-key-env", KEY_VAR]);
    match key {
        Some(k) => cmd.env(KEY_VAR, k),
        None => cmd.env_remove(KEY_VAR),
    };
    cmd.output().expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn status_needs_the_admin_key_and_prints_tables() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-cli");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("gateway.toml");
    std::fs::write(&path, config(&["dep-a"])).expect("write");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let serve = Serve(
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&path)
            .args([
                "--listen",
                &listen,
                "--admin-key-env",
                KEY_VAR,
                "--workers",
                "1",
            ])
            .env(KEY_VAR, "the-admin-key")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve runs"),
    );
    let url = format!("http://{listen}");
    let start = Instant::now();
    let first = loop {
        let out = status(&url, Some("the-admin-key"));
        if out.status.success() || start.elapsed() > Duration::from_secs(20) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let table = text(&first.stdout);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(table.contains("config generation 0"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("dep-a ") && l.contains("0/600")),
        "{table}"
    );

    let wrong = status(&url, Some("not-the-key"));
    assert!(!wrong.status.success());
    assert!(
        text(&wrong.stderr).contains("refused the admin key (401)"),
        "{}",
        text(&wrong.stderr)
    );
    let missing = Command::new(BIN)
        .args(["status", "--url", &url])
        .output()
        .expect("the binary runs");
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("401"),
        "{}",
        text(&missing.stderr)
    );
    assert!(!text(&wrong.stdout).contains("the-admin-key"));

    // SIGHUP re-reads the file.
    std::fs::write(&path, config(&["dep-a", "dep-b"])).expect("write");
    // SAFETY: sends SIGHUP to the child we spawned (its pid is live until it is reaped).
    #[cfg(unix)]
    unsafe {
        libc::kill(serve.0.id() as libc::pid_t, libc::SIGHUP);
    }
    #[cfg(unix)]
    {
        let start = Instant::now();
        loop {
            let out = text(&status(&url, Some("the-admin-key")).stdout);
            if out.contains("config generation 1") {
                assert!(out.lines().any(|l| l.starts_with("dep-b ")), "{out}");
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no reload: {out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    drop(serve);
}

/// A gateway that sends half an answer and then nothing: `status` gives up after its 10 s
/// deadline on the whole answer, naming it, instead of waiting on the socket.
#[test]
fn a_stalled_answer_ends_at_the_deadline() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let stall = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("status connects");
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf);
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"config");
        // Keep the connection open past the deadline, then let it go.
        std::thread::sleep(Duration::from_secs(12));
    });
    let start = Instant::now();
    let out = Command::new(BIN)
        .args(["status", "--url", &url])
        .output()
        .expect("the binary runs");
    let waited = start.elapsed();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no whole answer within 10 s"),
        "{}",
        text(&out.stderr)
    );
    assert!(waited < Duration::from_secs(12), "{waited:?}");
    stall.join().expect("the stalling server ends");
}
