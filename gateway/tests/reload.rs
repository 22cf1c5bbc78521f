//! Reload without restart (`POST /admin/reload`, SIGHUP) and the admin endpoints, end to end:
//! the gateway in front of mock upstreams on 127.0.0.1, its config in a temporary file.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use gateway::Settings;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use mock::{Behaviour, MockUpstream};
use serde_json::Value;

const ADMIN: &str = "admin-secret-7f3a";

async fn mock(b: Behaviour) -> MockUpstream {
    MockUpstream::start(b).await.expect("mock starts")
}

/// A config file of its own for one test.
fn config_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "switchyard-reload-{}-{name}.toml",
        std::process::id()
    ));
    std::fs::write(&path, text).expect("write config");
    path
}

fn settings(path: &std::path::Path) -> Settings {
    Settings {
        config_path: Some(path.to_owned()),
        admin_key: Some(ADMIN.to_owned()),
        ..Settings::default()
    }
}

/// A request to the gateway with an optional admin key.
async fn admin(method: &str, url: &str, key: Option<&str>) -> (StatusCode, Value, String) {
    let mut req = Request::builder().method(method).uri(url);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let req = req.body(Full::new(Bytes::new())).expect("request");
    let res = tokio::time::timeout(Duration::from_secs(20), client().request(req))
        .await
        .expect("answer within 20 s")
        .expect("request succeeds");
    let status = res.status();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8(body.to_vec()).expect("UTF-8");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

async fn state(gw: &TestGateway) -> Value {
    let (status, v, text) = admin("GET", &gw.url("/admin/state"), Some(ADMIN)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    v
}

fn deployment<'a>(state: &'a Value, id: &str) -> &'a Value {
    state["deployments"]
        .as_array()
        .expect("deployments")
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in state: {state}"))
}

/// Whether an error starts with `file:line:`.
fn has_line(e: &str, path: &std::path::Path) -> bool {
    e.strip_prefix(&format!("{}:", path.display()))
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(line, _)| line.parse::<usize>().is_ok())
}

/// What a deployment learned from answers: latency and error estimates, breaker, cooldown and
/// the request limit in force.
fn learned(gw: &TestGateway, id: &str) -> String {
    gw.gateway.with_engine(|e| {
        let d = e.config().deployment_by_id(id).expect("deployment");
        let s = &e.states()[d.index()];
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?}",
            s.latency,
            s.peak_latency,
            s.errors,
            s.breaker,
            s.cooldown_until,
            s.rpm.limit()
        )
    })
}

fn slow(delay_ms: u64) -> Behaviour {
    Behaviour {
        delay: Duration::from_millis(delay_ms),
        chunk_gap: Duration::from_millis(20),
        ..Behaviour::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reload_under_load_fails_no_request_and_keeps_what_was_learned() {
    // Slow answers keep a few hundred requests in flight while the config changes.
    let (a, c) = (mock(slow(2500)).await, mock(slow(2500)).await);
    // b teaches the gateway its true limit through headers.
    let b = mock(Behaviour {
        headers: vec![
            ("x-ratelimit-limit-requests".into(), "5000".into()),
            ("x-ratelimit-remaining-requests".into(), "4000".into()),
        ],
        ..slow(2500)
    })
    .await;
    let before = config(
        &[
            Dep::plain("a", a.base_url()),
            Dep {
                extra: "rpm = 100000",
                ..Dep::plain("b", b.base_url())
            },
        ],
        "",
    );
    let path = config_file("load", &before);
    let gw = TestGateway::start_with(&before, settings(&path), |_| None).await;
    let url = gw.url("/v1/chat/completions");
    for _ in 0..4 {
        let (status, _, body) = post(&url, chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK, "{body:?}");
    }
    let s = state(&gw).await;
    let b_before = deployment(&s, "b").clone();
    assert_eq!(b_before["budgets"]["rpm"]["limit"], 5000, "{b_before}");
    assert_eq!(b_before["budgets"]["rpm"]["learned"], true);
    assert!(b_before["latency_ms"].as_f64().is_some());

    // A few hundred requests in flight, a third of them streams.
    let mut tasks = Vec::new();
    for i in 0..300 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let body = if i % 3 == 0 {
                chat_stream("gpt-4o-mini")
            } else {
                chat("gpt-4o-mini")
            };
            (i % 3 == 0, post(&url, body).await)
        }));
    }
    assert!(
        eventually(Duration::from_secs(15), || async {
            gw.gateway.with_engine(|e| e.live_requests()) >= 200
        })
        .await,
        "requests in flight"
    );
    // What b learned, taken while its answers are still on their way (nothing finishes now).
    let b_learned = learned(&gw, "b");
    // a goes, c comes, b stays.
    let after = config(
        &[
            Dep {
                extra: "rpm = 100000",
                ..Dep::plain("b", b.base_url())
            },
            Dep::plain("c", c.base_url()),
        ],
        "",
    );
    std::fs::write(&path, &after).expect("rewrite config");
    let (status, report, text) = admin("POST", &gw.url("/admin/reload"), Some(ADMIN)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(report["generation"], 1);
    assert_eq!(report["kept"], serde_json::json!(["b"]));
    assert_eq!(report["added"], serde_json::json!(["c"]));
    assert_eq!(report["removed"], serde_json::json!(["a"]));

    // Right after the swap: b kept what it learned, c is fresh, a drains.
    let s = state(&gw).await;
    let b_now = deployment(&s, "b");
    assert_eq!(b_now["budgets"]["rpm"]["limit"], 5000, "{b_now}");
    assert!(b_now["latency_ms"].as_f64().is_some());
    assert_eq!(
        learned(&gw, "b"),
        b_learned,
        "b's estimates survive the swap"
    );
    assert!(b_now["attempts"].as_u64() >= b_before["attempts"].as_u64());
    assert!(b_now["in_flight"].as_u64().unwrap() > 0);
    let c_now = deployment(&s, "c");
    // Fresh: requests still arriving may already be on their way to it, none answered yet.
    assert_eq!(c_now["successes"], 0);
    assert!(c_now["latency_ms"].is_null());
    let draining = s["draining"].as_array().expect("draining");
    assert_eq!(draining.len(), 1, "{s}");
    assert_eq!(draining[0]["id"], "a");
    assert!(draining[0]["in_flight"].as_u64().unwrap() > 0);

    for t in tasks {
        let (stream, (status, _, body)) = t.await.expect("task");
        assert_eq!(status, StatusCode::OK, "{body:?}");
        if stream {
            assert!(
                String::from_utf8_lossy(&body).contains("[DONE]"),
                "a whole stream"
            );
        }
    }
    // The removed deployment gets no new traffic; the new one does.
    b.set_behaviour(Behaviour::default());
    c.set_behaviour(Behaviour::default());
    let a_hits = a.hits();
    for _ in 0..20 {
        let (status, headers, _) = post(&url, chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(headers[gateway::DEPLOYMENT_HEADER], "a");
    }
    assert_eq!(a.hits(), a_hits);
    assert!(c.hits() > 0);
    let s = state(&gw).await;
    assert!(s["draining"].as_array().expect("draining").is_empty());
    let m = gw.metrics().await;
    assert_eq!(
        metric(&m, "switchyard_config_reloads_total{result=\"ok\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "switchyard_http_responses_total{class=\"5xx\"}"),
        Some(0.0)
    );
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn an_invalid_file_changes_nothing_and_says_where() {
    let (a, b) = (
        mock(Behaviour::default()).await,
        mock(Behaviour::default()).await,
    );
    let good = config(&[Dep::plain("a", a.base_url())], "");
    let path = config_file("invalid", &good);
    let gw = TestGateway::start_with(&good, settings(&path), |_| None).await;
    let reload_url = gw.url("/admin/reload");
    let reload = || admin("POST", &reload_url, Some(ADMIN));

    // The engine's checks: a strategy that does not exist.
    std::fs::write(&path, good.replace("weighted-round-robin", "nope")).expect("write");
    let (status, v, text) = reload().await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    let e = v["errors"][0].as_str().expect("an error");
    assert!(has_line(e, &path) && e.contains("tier[0].strategy"), "{e}");

    // The gateway's checks: every deployment whose key variable is unset, each with its line.
    let two_bad = config(
        &[
            Dep::plain("a", a.base_url()),
            Dep {
                extra: "api_key_env = \"SWITCHYARD_TEST_UNSET_1\"",
                ..Dep::plain("b", b.base_url())
            },
            Dep {
                extra: "api_key_env = \"SWITCHYARD_TEST_UNSET_2\"",
                ..Dep::plain("c", b.base_url())
            },
        ],
        "",
    );
    std::fs::write(&path, &two_bad).expect("write");
    let (status, v, text) = reload().await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    let errors: Vec<&str> = v["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("deployment[1].api_key_env")
            && errors[0].contains("SWITCHYARD_TEST_UNSET_1"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("deployment[2].api_key_env"),
        "{errors:?}"
    );
    for e in &errors {
        assert!(has_line(e, &path), "{e}");
    }

    // Nothing changed: generation 0, only a, requests served.
    let s = state(&gw).await;
    assert_eq!(s["generation"], 0);
    assert_eq!(s["deployments"].as_array().map(Vec::len), Some(1));
    let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    let m = gw.metrics().await;
    assert_eq!(
        metric(&m, "switchyard_config_reloads_total{result=\"error\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&m, "switchyard_config_reloads_total{result=\"ok\"}"),
        Some(0.0)
    );
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn admin_endpoints_need_the_admin_key_and_show_no_secret() {
    let a = mock(Behaviour::default()).await;
    let toml = config(
        &[Dep {
            extra: "api_key_env = \"PROVIDER_KEY\"",
            ..Dep::plain("a", a.base_url())
        }],
        "",
    );
    let path = config_file("auth", &toml);
    let settings = Settings {
        gateway_keys: vec!["client-secret-abc".into()],
        ..settings(&path)
    };
    let gw = TestGateway::start_with(&toml, settings, |name| {
        (name == "PROVIDER_KEY").then(|| "sk-provider-secret-1".to_owned())
    })
    .await;
    for (method, path) in [("GET", "/admin/state"), ("POST", "/admin/reload")] {
        let url = gw.url(path);
        let (status, v, _) = admin(method, &url, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(v["error"]["code"], "invalid_admin_key");
        let (status, _, _) = admin(method, &url, Some("wrong")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        // A client key is not an admin key.
        let (status, _, _) = admin(method, &url, Some("client-secret-abc")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let (status, _, _) = post_with(
        &gw.url("/v1/chat/completions"),
        chat("gpt-4o-mini"),
        &[("authorization", "Bearer client-secret-abc")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, state) = admin("GET", &gw.url("/admin/state"), Some(ADMIN)).await;
    let (_, _, reload) = admin("POST", &gw.url("/admin/reload"), Some(ADMIN)).await;
    let metrics = gw.metrics().await;
    for text in [&state, &reload, &metrics] {
        for secret in ["sk-provider-secret-1", "client-secret-abc", ADMIN] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
    assert!(state.contains("\"budgets\""), "{state}");
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn without_an_admin_key_the_admin_endpoints_do_not_exist() {
    let a = mock(Behaviour::default()).await;
    let gw = TestGateway::start(&config(&[Dep::plain("a", a.base_url())], "")).await;
    for (method, path) in [("GET", "/admin/state"), ("POST", "/admin/reload")] {
        let (status, _, _) = admin(method, &gw.url(path), Some(ADMIN)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_file() {
    let (a, b) = (
        mock(Behaviour::default()).await,
        mock(Behaviour::default()).await,
    );
    let before = config(&[Dep::plain("a", a.base_url())], "");
    let path = config_file("hup", &before);
    let gw = TestGateway::start_with(&before, settings(&path), |_| None).await;
    tokio::spawn(gateway::reload_on_hangup(gw.gateway.clone()));
    // Let the task install its handler before the signal (the default action ends the process).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = config(
        &[Dep::plain("a", a.base_url()), Dep::plain("b", b.base_url())],
        "",
    );
    std::fs::write(&path, after).expect("write");
    // SAFETY: sends SIGHUP to this process, whose handler tokio installed above.
    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGHUP) }, 0);
    assert!(
        eventually(Duration::from_secs(5), || async {
            gw.gateway.config().deployments.len() == 2
        })
        .await,
        "SIGHUP reloaded the file"
    );
    let _ = std::fs::remove_file(&path);
}
