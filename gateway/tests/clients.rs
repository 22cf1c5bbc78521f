//! `[[client]]` keys end to end: a client is recognised by its key (from an environment variable
//! or by SHA-256), kept to its tiers and its own limits, and refused in its own API shape with
//! `retry-after` — before any provider is asked.

mod common;

use common::*;
use gateway::Settings;
use http::StatusCode;
use mock::{Behaviour, MockUpstream};
use serde_json::Value;

/// SHA-256 of "team-b-secret".
const TEAM_B_SHA: &str = "8ba3bbf337d982a082b55108705db3e21654c9f692f5260cdf82275aa1da471c";

fn clients(extra: &str) -> String {
    format!(
        "[[client]]\nname = \"team-a\"\nkey_env = \"TEAM_A_KEY\"\nrpm = 3\ntiers = [\"standard\"]\n\n\
         [[client]]\nname = \"team-b\"\nkey_sha256 = \"{TEAM_B_SHA}\"\n{extra}\n"
    )
}

async fn start(url: String, extra: &str) -> TestGateway {
    let toml = config(&[Dep::plain("a", url)], &clients(extra));
    let path = std::env::temp_dir().join(format!("switchyard-clients-{}.toml", std::process::id()));
    std::fs::write(&path, &toml).expect("write");
    let settings = Settings {
        admin_key: Some("admin-key".into()),
        config_path: Some(path),
        ..Settings::default()
    };
    TestGateway::start_with(&toml, settings, |name| {
        (name == "TEAM_A_KEY").then(|| "team-a-secret".to_owned())
    })
    .await
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

#[tokio::test]
async fn a_client_over_its_own_rpm_gets_429_in_its_shape_and_no_provider_is_asked() {
    let up = MockUpstream::start(Behaviour::default())
        .await
        .expect("mock");
    let gw = start(up.base_url(), "").await;
    let chat_url = gw.url("/v1/chat/completions");
    let a = bearer("team-a-secret");
    for i in 0..3 {
        let (status, _, body) =
            post_with(&chat_url, chat("gpt-4o-mini"), &[("authorization", &a)]).await;
        assert_eq!(status, StatusCode::OK, "request {i}: {body:?}");
    }
    let (status, headers, body) =
        post_with(&chat_url, chat("gpt-4o-mini"), &[("authorization", &a)]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let e = error_of(&body);
    assert_eq!(e["code"], "client_rate_limit_exceeded");
    assert_eq!(e["type"], "rate_limit_error");
    assert!(e["message"].as_str().unwrap().contains("team-a"), "{e}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=61).contains(&retry), "{retry}");
    assert_eq!(up.hits(), 3, "the refused request never reached a provider");

    // Anthropic's shape for an Anthropic client, x-api-key as its key.
    let messages =
        r#"{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, headers, body) = post_with(
        &gw.url("/v1/messages"),
        messages,
        &[
            ("x-api-key", "team-a-secret"),
            ("anthropic-version", "2023-06-01"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key("retry-after"));
    let v: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");

    // Another client is not affected; its key is known by its hash only.
    for _ in 0..5 {
        let (status, _, _) = post_with(
            &chat_url,
            chat("gpt-4o-mini"),
            &[("authorization", &bearer("team-b-secret"))],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    // Unknown keys are refused once clients exist.
    let (status, _, _) = post_with(
        &chat_url,
        chat("gpt-4o-mini"),
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = post(&chat_url, chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The live state counts per client, and shows no key.
    let (status, _, body) = post_with(
        &gw.url("/admin/reload"),
        "",
        &[("authorization", "Bearer admin-key")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let req = http::Request::get(gw.url("/admin/state"))
        .header("authorization", "Bearer admin-key")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let res = client().request(req).await.expect("state");
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    assert!(
        !text.contains("team-a-secret")
            && !text.contains("team-b-secret")
            && !text.contains(TEAM_B_SHA),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let team_a = &v["clients"][0];
    assert_eq!(team_a["name"], "team-a");
    assert_eq!(
        team_a["admitted"], 3,
        "counters survive the reload: {team_a}"
    );
    assert_eq!(team_a["refused"], 2);
    assert_eq!(team_a["budgets"]["rpm"]["left"], 0);
    assert_eq!(v["clients"][1]["admitted"], 5);
}

#[tokio::test]
async fn a_client_is_kept_to_its_tiers() {
    let up = MockUpstream::start(Behaviour::default())
        .await
        .expect("mock");
    let frontier = format!(
        "[[tier]]\nname = \"frontier\"\nstrategy = \"random\"\n\n[[deployment]]\nid = \"f\"\n\
         provider = \"mock\"\nmodel = \"gpt-4o\"\ntier = \"frontier\"\nbase_url = \"{}\"\n",
        up.base_url()
    );
    let gw = start(up.base_url(), &frontier).await;
    let url = gw.url("/v1/chat/completions");
    let (status, _, body) = post_with(
        &url,
        chat("gpt-4o-mini"),
        &[
            ("authorization", &bearer("team-a-secret")),
            ("x-switchyard-tier", "frontier"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let e = error_of(&body);
    assert_eq!(e["code"], "tier_not_allowed", "{e}");
    let (status, _, _) = post_with(
        &url,
        chat("gpt-4o-mini"),
        &[
            ("authorization", &bearer("team-b-secret")),
            ("x-switchyard-tier", "frontier"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(up.hits(), 1);
}

/// GET with the admin key, as JSON.
async fn admin_state(gw: &TestGateway) -> Value {
    let req = http::Request::get(gw.url("/admin/state"))
        .header("authorization", "Bearer admin-key")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let res = client().request(req).await.expect("state");
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    serde_json::from_slice(&body).expect("JSON")
}

#[tokio::test]
async fn a_client_over_its_budget_gets_429_in_its_shape_and_its_spend_is_shown() {
    let up = MockUpstream::start(Behaviour::default())
        .await
        .expect("mock");
    // $1 a token, so the numbers are plain: the mock answers 9 + 7 tokens ($16); a chat
    // request reserves its estimate, 3 input + 16 max_tokens ($19).
    let dep = Dep {
        extra: "input_price = 1000000\noutput_price = 1000000",
        ..Dep::plain("a", up.base_url())
    };
    let team_c = "[[client]]\nname = \"team-c\"\nkey_env = \"TEAM_C_KEY\"\nusd_per_day = 40\n";
    let toml = config(&[dep], &format!("{}{team_c}", clients("")));
    let settings = Settings {
        admin_key: Some("admin-key".into()),
        ..Settings::default()
    };
    let gw = TestGateway::start_with(&toml, settings, |name| match name {
        "TEAM_A_KEY" => Some("team-a-secret".to_owned()),
        "TEAM_C_KEY" => Some("team-c-secret".to_owned()),
        _ => None,
    })
    .await;
    let chat_url = gw.url("/v1/chat/completions");
    let c = bearer("team-c-secret");
    for i in 0..2 {
        let (status, _, body) =
            post_with(&chat_url, chat("gpt-4o-mini"), &[("authorization", &c)]).await;
        assert_eq!(status, StatusCode::OK, "request {i}: {body:?}");
    }
    // $32 spent: another $19 reservation does not fit in $40.
    let (status, headers, body) =
        post_with(&chat_url, chat("gpt-4o-mini"), &[("authorization", &c)]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let e = error_of(&body);
    assert_eq!(e["code"], "client_budget_exceeded", "{e}");
    assert_eq!(e["type"], "rate_limit_error", "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("team-c") && message.contains("usd_per_day"),
        "{e}"
    );
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    // The day's first 24-minute bucket leaves the window 61 buckets after the start.
    assert!((86_400..=87_840).contains(&retry), "{retry}");
    assert_eq!(up.hits(), 2, "the refused request never reached a provider");

    let messages =
        r#"{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, headers, body) = post_with(
        &gw.url("/v1/messages"),
        messages,
        &[
            ("x-api-key", "team-c-secret"),
            ("anthropic-version", "2023-06-01"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((86_400..=87_840).contains(&retry), "{retry}");
    let v: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("usd_per_day"),
        "{v}"
    );
    // Team B has no budget and is not affected.
    let (status, _, _) = post_with(
        &chat_url,
        chat("gpt-4o-mini"),
        &[("authorization", &bearer("team-b-secret"))],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let state = admin_state(&gw).await;
    let team_c = &state["clients"][2];
    assert_eq!(team_c["name"], "team-c");
    let spend = &team_c["spend"];
    assert_eq!(spend["spent_usd"], 32.0, "{team_c}");
    assert_eq!(spend["reserved_usd"], 0.0, "{team_c}");
    assert_eq!(spend["usd_per_day"]["limit"], 40.0, "{team_c}");
    assert_eq!(spend["usd_per_day"]["used"], 32.0, "{team_c}");
    assert_eq!(spend["usd_per_day"]["left"], 8.0, "{team_c}");
    assert_eq!(spend["usd_per_month"]["limit"], Value::Null, "{team_c}");
    assert_eq!(spend["usd_per_month"]["used"], 32.0, "{team_c}");
    assert_eq!(state["clients"][1]["spend"]["spent_usd"], 16.0);

    // `/metrics`: per-client series labelled by name, never by key.
    let (status, _, body) = get(&gw.url("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&body);
    for line in [
        "switchyard_client_requests_total{client=\"team-c\",result=\"ok\"} 2",
        "switchyard_client_requests_total{client=\"team-c\",result=\"refused\"} 2",
        "switchyard_client_refusals_total{client=\"team-c\",reason=\"usd_per_day\"} 2",
        "switchyard_client_refusals_total{client=\"team-c\",reason=\"rpm\"} 0",
        "switchyard_client_spend_usd_total{client=\"team-c\"} 32",
        "switchyard_client_requests_total{client=\"team-b\",result=\"ok\"} 1",
        "switchyard_client_spend_usd_total{client=\"team-a\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    for secret in [
        "team-a-secret",
        "team-b-secret",
        "team-c-secret",
        TEAM_B_SHA,
    ] {
        assert!(!text.contains(secret), "{secret} in /metrics");
    }
}
