//! The official `openai` and `anthropic` Python SDKs as clients (sdk-tests/clients.py), through
//! the gateway to OpenAI- and Anthropic-shaped mock upstreams over real HTTP: plain and
//! streamed answers, tool-call round trips, Responses, `/v1/models`, error shapes, and fallback
//! from one API shape to the other on 503, 429 and 529.
//!
//! Needs the SDKs in `.venv-sdk/` (`scripts/sdk-venv.sh`) or a Python named by
//! `SWITCHYARD_SDK_PYTHON`. Without them the test says so and passes, unless
//! `SWITCHYARD_REQUIRE_SDK=1` (set by `.ci/run`), where it fails.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::TestGateway;
use mock::{Behaviour, MockUpstream};

async fn mock(b: Behaviour) -> MockUpstream {
    MockUpstream::start(b).await.expect("mock starts")
}

fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SWITCHYARD_SDK_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../.venv-sdk/bin/python"
    ));
    venv.exists().then_some(venv)
}

/// One tier `name` routed from the model `name`, with these deployments (id, base URL, api,
/// weight).
fn tier(name: &str, deps: &[(&str, String, &str, u32)]) -> String {
    let mut s = format!("[[tier]]\nname = \"{name}\"\nstrategy = \"weighted-round-robin\"\n\n");
    for (id, url, api, weight) in deps {
        let key = if *api == "anthropic" {
            "ANTHROPIC_KEY"
        } else {
            "OPENAI_KEY"
        };
        s.push_str(&format!(
            "[[deployment]]\nid = \"{name}-{id}\"\nprovider = \"{api}\"\nmodel = \"m-{id}\"\n\
             tier = \"{name}\"\nweight = {weight}\napi = \"{api}\"\nbase_url = \"{url}\"\n\
             api_key_env = \"{key}\"\n\n"
        ));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdks_work_through_the_gateway() {
    let Some(python) = python() else {
        assert!(
            std::env::var_os("SWITCHYARD_REQUIRE_SDK").is_none(),
            "SWITCHYARD_REQUIRE_SDK is set but no SDK venv: run scripts/sdk-venv.sh"
        );
        eprintln!("skipped: no SDK venv (run scripts/sdk-venv.sh to include this test)");
        return;
    };
    let ok_openai = mock(Behaviour::default()).await;
    let ok_anthropic = mock(Behaviour::default()).await;
    let down = mock(Behaviour::status(503)).await;
    let limited = mock(Behaviour::rate_limited("30")).await;
    let overloaded = mock(Behaviour::status(529)).await;
    let broken = mock(Behaviour::status(500)).await;
    let oa = |m: &MockUpstream| m.base_url();
    let an = |m: &MockUpstream| format!("http://{}", m.addr());
    let toml = [
        tier(
            "mixed",
            &[
                ("gpt", oa(&ok_openai), "openai", 1),
                ("claude", an(&ok_anthropic), "anthropic", 1),
            ],
        ),
        tier(
            "openai-down",
            &[
                ("gpt", oa(&down), "openai", 100),
                ("claude", an(&ok_anthropic), "anthropic", 1),
            ],
        ),
        tier(
            "anthropic-429",
            &[
                ("claude", an(&limited), "anthropic", 100),
                ("gpt", oa(&ok_openai), "openai", 1),
            ],
        ),
        tier(
            "anthropic-529",
            &[
                ("claude", an(&overloaded), "anthropic", 100),
                ("gpt", oa(&ok_openai), "openai", 1),
            ],
        ),
        tier(
            "anthropic-only",
            &[("claude", an(&ok_anthropic), "anthropic", 1)],
        ),
        tier("openai-only", &[("gpt", oa(&ok_openai), "openai", 1)]),
        tier(
            "broken",
            &[
                ("gpt", oa(&broken), "openai", 1),
                ("claude", an(&broken), "anthropic", 1),
            ],
        ),
    ]
    .concat();
    let settings = gateway::Settings {
        gateway_keys: vec!["sk-gw-sdk".into()],
        ..gateway::Settings::default()
    };
    let gw = TestGateway::start_with(&toml, settings, |name| match name {
        "ANTHROPIC_KEY" => Some("sk-ant-mock".into()),
        "OPENAI_KEY" => Some("sk-oa-mock".into()),
        _ => None,
    })
    .await;
    let url = format!("http://{}", gw.addr);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk-tests/clients.py");
    let run = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(url)
            .arg("sk-gw-sdk")
            .output()
            .expect("python runs")
    });
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the SDK checks finish within 300 s")
        .expect("the runner thread does not panic");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "SDK checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    // The fallbacks were real: each failing upstream was tried (and its answer turned into a
    // fallback) before the healthy one served; `broken` answered the error-shape checks.
    for (name, m) in [
        ("503", &down),
        ("429", &limited),
        ("529", &overloaded),
        ("500", &broken),
    ] {
        assert!(m.hits() >= 1, "the mock answering {name} was never asked");
    }
}
