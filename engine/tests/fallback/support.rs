//! Helpers shared by the fallback tests: an engine from a TOML config, deployment and
//! request lookups, the outcomes a driver reports, and assertions on budgets tracked in f64.

use std::time::Duration;

use engine::{
    Config, DeploymentId, Engine, FailureKind, LimitHeaders, Outcome, Request, RequestId, Step,
};

pub(crate) fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

pub(crate) fn secs(v: u64) -> Duration {
    Duration::from_secs(v)
}

pub(crate) fn engine(toml: &str) -> Engine {
    Engine::new(Config::from_toml(toml).expect("test config is valid"), 7)
}

pub(crate) fn dep(e: &Engine, id: &str) -> DeploymentId {
    e.config().deployment_by_id(id).expect("known deployment")
}

pub(crate) fn request(e: &Engine, tier: &str, input_tokens: u32, output_tokens: u32) -> Request {
    Request {
        tier: e.route(tier).expect("known tier"),
        input_tokens,
        output_tokens,
    }
}

/// The (request, deployment, attempt) of a `Send`, or a panic naming what came instead.
#[track_caller]
pub(crate) fn sent(step: Step) -> (RequestId, DeploymentId, u8) {
    match step {
        Step::Send {
            request,
            deployment,
            attempt,
        } => (request, deployment, attempt),
        other => panic!("expected Send, got {other:?}"),
    }
}

pub(crate) fn ok() -> Outcome {
    Outcome::success(ms(50), 100, 50)
}

pub(crate) fn failure(kind: FailureKind) -> Outcome {
    let status = match kind {
        FailureKind::RateLimited => Some(429),
        FailureKind::Server => Some(503),
        _ => None,
    };
    Outcome::Failure {
        kind,
        status,
        retry_after: None,
        headers: LimitHeaders::default(),
    }
}

pub(crate) fn client_error(status: u16) -> Outcome {
    Outcome::Failure {
        kind: FailureKind::Client,
        status: Some(status),
        retry_after: None,
        headers: LimitHeaders::default(),
    }
}

/// Deployment `id` of tier `tier` with extra `key = value` lines.
pub(crate) fn deployment(id: &str, tier: &str, extra: &str) -> String {
    format!(
        "[[deployment]]\nid = \"{id}\"\nprovider = \"p-{id}\"\nmodel = \"m\"\ntier = \"{tier}\"\n{extra}\n\n"
    )
}

/// Every retryable failure kind, as the outcomes a driver would report.
pub(crate) fn retryable_failures() -> Vec<(&'static str, Outcome)> {
    vec![
        ("429 without retry-after", failure(FailureKind::RateLimited)),
        ("429 with retry-after", Outcome::rate_limited(Some(secs(2)))),
        ("5xx", failure(FailureKind::Server)),
        ("timeout", failure(FailureKind::Timeout)),
        ("connection", failure(FailureKind::Connection)),
    ]
}

/// Whether `actual` is `expected` up to 1µs (rate-limit budgets are tracked in f64).
#[track_caller]
pub(crate) fn assert_about(actual: Duration, expected: Duration) {
    let diff = actual.abs_diff(expected);
    assert!(
        diff <= Duration::from_micros(1),
        "{actual:?} is not {expected:?}"
    );
}

#[track_caller]
pub(crate) fn assert_share(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{actual} is not {expected}"
    );
}
