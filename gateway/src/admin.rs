//! Admin endpoints, behind their own key (`--admin-key-env`, sent as `Authorization: Bearer …`):
//! `POST /admin/reload` re-reads the config file; `GET /admin/state` says what the balancer
//! believes right now, per deployment and per tier.
//!
//! Without an admin key configured, `/admin/*` answers 404 like any unknown path: the
//! endpoints do not exist rather than being open. A missing or wrong key is 401. No key of any
//! kind (admin, client or provider) appears in these answers.

use std::time::Duration;

use bytes::Bytes;
use engine::latency::DecayRates;
use engine::limits::Window;
use engine::spend::usd;
use engine::state::DeploymentState;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::body::Body;
use crate::error::ApiError;
use crate::state::Shared;

/// Answers a request under `/admin/`.
pub(crate) fn handle(gw: &Shared, req: &Request<Incoming>) -> Response<Body> {
    let Some(key) = &gw.admin_key else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "unknown_url",
            "admin endpoints are off: start the gateway with --admin-key-env NAME",
        )
        .response();
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| bearer(h.as_bytes()));
    let ok: bool = given.is_some_and(|g| bool::from(key.as_slice().ct_eq(g)));
    if !ok {
        let mut res = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_admin_key",
            match given {
                None => "missing admin key: send Authorization: Bearer <admin key>",
                Some(_) => "invalid admin key",
            },
        )
        .response();
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return res;
    }
    match (req.uri().path(), req.method()) {
        ("/admin/reload", &Method::POST) => match crate::reload::reload(gw) {
            Ok(r) => json(
                StatusCode::OK,
                &json!({
                    "status": "ok",
                    "generation": r.generation,
                    "kept": r.kept,
                    "added": r.added,
                    "removed": r.removed,
                    "orphaned": r.orphaned,
                }),
            ),
            Err(e) => json(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({"status": "error", "errors": e.errors}),
            ),
        },
        ("/admin/state", &Method::GET) => json(StatusCode::OK, &state(gw)),
        ("/admin/reload", _) | ("/admin/state", _) => ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "method_not_allowed",
            "POST /admin/reload, GET /admin/state",
        )
        .response(),
        (path, _) => ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "unknown_url",
            format!("unknown admin path {path:?}; see POST /admin/reload, GET /admin/state"),
        )
        .response(),
    }
}

fn bearer(header: &[u8]) -> Option<&[u8]> {
    let header = header.trim_ascii();
    let (scheme, rest) = header.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

fn json(status: StatusCode, v: &Value) -> Response<Body> {
    let mut res = Response::new(Body::full(Bytes::from(v.to_string())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// `GET /admin/state`: the engine's beliefs now. Copied under the lock, formatted after.
pub(crate) fn state(gw: &Shared) -> Value {
    let now = gw.now();
    let (live, snapshot, states, draining, clients, fleet_share) = {
        let engine = gw.lock();
        (
            engine.live().clone(),
            engine.snapshot(now),
            engine.states().to_vec(),
            engine
                .draining()
                .map(|(id, n)| json!({"id": id, "in_flight": n}))
                .collect::<Vec<_>>(),
            engine.client_states().to_vec(),
            engine.fleet_share(),
        )
    };
    let config = &live.config;
    let rates = DecayRates::new(&config.balancing, &config.health);
    let now_s = now.as_secs_f64();
    let deployments: Vec<Value> = snapshot
        .deployments
        .iter()
        .zip(&states)
        .zip(&config.deployments)
        .map(|((d, s), c)| {
            json!({
                "id": d.id,
                "tier": d.tier,
                "provider": c.provider,
                "model": c.model,
                "weight": c.weight,
                "budgets": {
                    "rpm": window(&s.rpm, c.limits.rpm, now),
                    "tpm": window(&s.tpm, c.limits.tpm, now),
                    "rpd": window(&s.rpd, c.limits.rpd, now),
                },
                "cooldown_until_s": (s.cooldown_until > now).then(|| secs(s.cooldown_until)),
                "cooldown_left_s": secs(s.cooldown_until.saturating_sub(now)),
                "breaker": breaker(s, now),
                "disabled": s.disabled,
                "latency_ms": s.latency.decayed_at(now_s, rates.idle).map(|v| v * 1000.0),
                "ttft_ms": s.ttft.decayed_at(now_s, rates.idle).map(|v| v * 1000.0),
                "error_rate": s.errors.rate_at(now_s, rates.errors),
                "in_flight": s.in_flight,
                "configured_share": d.configured_share,
                "actual_share": d.actual_share,
                "attempts": d.attempts,
                "successes": d.successes,
                "rate_limited": d.rate_limited,
                "cost": d.cost,
            })
        })
        .collect();
    let tiers: Vec<Value> = snapshot
        .tiers
        .iter()
        .zip(&config.tiers)
        .map(|(t, c)| {
            let members = c.deployments.iter().map(|m| &states[m.index()]);
            let in_flight: u32 = members.clone().map(|s| s.in_flight).sum();
            let usable = members.filter(|s| s.check(now, 1).is_ok()).count();
            json!({
                "name": t.name,
                "strategy": t.strategy,
                "deployments": c.deployments.len(),
                "usable": usable,
                "in_flight": in_flight,
                "requests": t.requests,
                "successes": t.successes,
                "failures": t.failures,
                "fell_back": t.fell_back,
                "latency_p50_ms": t.latency.p50_ms,
                "latency_p99_ms": t.latency.p99_ms,
            })
        })
        .collect();
    let clients: Vec<Value> = config
        .clients
        .iter()
        .zip(&clients)
        .map(|(c, s)| {
            let budget = |w: &engine::clients::SlidingLimit| match w.limit() {
                None => json!({"limit": null}),
                Some(limit) => {
                    let used = w.used(now);
                    json!({"limit": limit, "used": used, "left": limit.saturating_sub(used)})
                }
            };
            // Dollars in the window (reservations of requests in flight included).
            let spend = |w: &engine::clients::SlidingLimit| {
                let used = w.used(now);
                match w.limit() {
                    None => json!({"limit": null, "used": usd(used)}),
                    Some(limit) => json!({
                        "limit": usd(limit),
                        "used": usd(used),
                        "left": usd(limit.saturating_sub(used)),
                    }),
                }
            };
            json!({
                "name": c.name,
                "tiers": c.tiers.as_ref().map(|t| {
                    t.iter().map(|&t| config.tier(t).name.clone()).collect::<Vec<_>>()
                }),
                "budgets": {"rpm": budget(&s.rpm), "tpm": budget(&s.tpm), "rpd": budget(&s.rpd)},
                "spend": {
                    "usd_per_day": spend(&s.usd_per_day),
                    "usd_per_month": spend(&s.usd_per_month),
                    "spent_usd": usd(s.spent_nanos),
                    "reserved_usd": usd(s.reserved_nanos),
                },
                "admitted": s.admitted,
                "succeeded": s.succeeded,
                "failed": s.failed,
                "refused": s.refused,
            })
        })
        .collect();
    json!({
        "generation": live.generation,
        "clients": clients,
        "uptime_s": now_s,
        "deployments": deployments,
        "tiers": tiers,
        "draining": draining,
        "totals": snapshot.totals,
        "reloads": {
            "ok": gw.reloads.ok.load(std::sync::atomic::Ordering::Relaxed),
            "error": gw.reloads.error.load(std::sync::atomic::Ordering::Relaxed),
        },
        "cluster": cluster(gw, fleet_share),
    })
}

/// The fleet exchange as this replica sees it (`null` without `[cluster]`).
fn cluster(gw: &Shared, share: f64) -> Value {
    use std::sync::atomic::Ordering::Relaxed;
    let c = &gw.cluster_status;
    if !c.started.load(Relaxed) {
        return Value::Null;
    }
    json!({
        "connected": c.connected.load(Relaxed),
        "replicas": c.replicas.load(Relaxed),
        "share": share,
        "exchanges_ok": c.exchanges_ok.load(Relaxed),
        "exchanges_failed": c.exchanges_failed.load(Relaxed),
    })
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// One rate-limit budget: the limit in force (learned from headers, else configured), what is
/// used and left of it now.
fn window(w: &Window, configured: Option<u64>, now: Duration) -> Value {
    match w.limit() {
        None => json!({"limit": null, "configured": configured}),
        Some(limit) => {
            let left = w.available(now).max(0.0);
            json!({
                "limit": limit,
                "configured": configured,
                "learned": Some(limit) != configured,
                "used": (limit as f64 - left).max(0.0),
                "left": left,
            })
        }
    }
}

fn breaker(s: &DeploymentState, now: Duration) -> Value {
    let b = &s.breaker;
    let (state, until) = match b.allowed_at(now) {
        _ if !b.is_open() => ("closed", None),
        Some(t) if t > now => ("open", Some(secs(t))),
        _ => ("half-open", None),
    };
    json!({"state": state, "open_until_s": until})
}
