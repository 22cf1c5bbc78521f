//! The client side of the fidelity run: request bodies drawn from the scenario's workload,
//! one request sent with a deadline (what came back, from which deployment, whether complete),
//! and counters read off `/metrics`.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use sim::Scenario;

use crate::answers;
use crate::support::*;

/// The value of the metric line `name{labels}`.
pub(crate) fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

pub(crate) fn dep_metric(text: &str, name: &str, id: &str) -> u64 {
    metric(
        text,
        &format!("{name}{{deployment=\"{id}\",tier=\"standard\"}}"),
    )
    .unwrap_or_else(|| panic!("/metrics has no {name} for {id}")) as u64
}

/// What the client saw of one request.
#[derive(Debug)]
pub(crate) struct Seen {
    pub(crate) status: StatusCode,
    pub(crate) deployment: Option<String>,
    pub(crate) complete: bool,
}

pub(crate) type HttpClient =
    Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub(crate) async fn send(
    client: &HttpClient,
    url: &str,
    body: String,
    stream: bool,
) -> Result<Seen, String> {
    let req = Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let work = async {
        let res = client.request(req).await.map_err(|e| e.to_string())?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        let deployment = parts
            .headers
            .get(gateway::DEPLOYMENT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let complete = answers::answer_complete(&body, stream);
        Ok(Seen {
            status: parts.status,
            deployment,
            complete,
        })
    };
    tokio::time::timeout(REQUEST_LIMIT, work)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {REQUEST_LIMIT:?}")))
}

/// One request body: input size from the scenario's workload, its `max_tokens`.
pub(crate) fn body(scenario: &Scenario, rng: &mut sim::Rng, stream: bool) -> String {
    let (input, _, max_tokens) = scenario.workload.draw_tokens(rng);
    // The gateway estimates input tokens as characters ÷ 4.
    let content = "lorem ipsum ".repeat((input as usize * 4).div_ceil(12).min(40_000));
    serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        "stream": stream,
    })
    .to_string()
}
