//! `[[client]]` requests: the engine checks the client's tier and its own limits before a
//! deployment is picked; a refusal is answered here, clearly apart from provider capacity.

use std::fmt::Write as _;
use std::time::Duration;

use engine::clients::ClientState;
use engine::{ClientLimit, ClientRefusal, Request, Step};
use http::StatusCode;

use crate::clock::Clock;
use crate::error::ApiError;
use crate::metrics::escape;
use crate::state::EngineGuard;

/// Starts a client's request at engine time `now`, or says why the client may not send it now
/// (a `retry-after` in real seconds, converted by `clock`).
pub(crate) fn start(
    engine: &mut EngineGuard<'_>,
    name: &str,
    request: Request,
    session: Option<u64>,
    (now, clock): (Duration, &Clock),
) -> Result<Step, ApiError> {
    let Some(client) = engine.config().client_by_name(name) else {
        // Removed by a reload between authentication and now.
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            "this client key is no longer configured",
        ));
    };
    let tier = engine.config().tier(request.tier).name.clone();
    engine
        .start_for_optional_session(client, request, session, now)
        .map_err(|refusal| refused(name, &tier, refusal, (now, clock)))
}

fn refused(
    name: &str,
    tier: &str,
    refusal: ClientRefusal,
    (now, clock): (Duration, &Clock),
) -> ApiError {
    match refusal {
        ClientRefusal::TierNotAllowed => ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "tier_not_allowed",
            format!("client {name:?} may not use tier {tier:?}"),
        ),
        ClientRefusal::OverLimit { limit, retry_at } => {
            let when = match retry_at {
                Some(_) => "retry after the time in retry-after",
                None => "this request alone exceeds it: it never fits",
            };
            let (code, what) = match limit.is_budget() {
                true => ("client_budget_exceeded", "budget"),
                false => ("client_rate_limit_exceeded", "limit"),
            };
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                code,
                format!(
                    "client {name:?} is over its own {} {what} (set for this client in the \
                     gateway's config, not a provider's capacity): {when}",
                    limit.name()
                ),
            );
            e.retry_after = retry_at.map(|t| clock.retry_after_secs(t, now));
            e
        }
    }
}

/// Appends the per-client counters to the `/metrics` page: one series per `[[client]]`,
/// labelled by its name only (never its key).
pub(crate) fn render_metrics(out: &mut String, names: &[String], states: &[ClientState]) {
    if names.is_empty() {
        return;
    }
    let label = |i: usize| format!("client=\"{}\"", escape(&names[i]));
    let mut counter = |name: &str, help: &str, rows: &mut dyn Iterator<Item = (String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (labels, v) in rows {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    };
    counter(
        "switchyard_client_requests_total",
        "Requests of each client by result: admitted then ok or failed, or refused by the client's own limits.",
        &mut states.iter().enumerate().flat_map(|(i, s)| {
            [("ok", s.succeeded), ("failed", s.failed), ("refused", s.refused)]
                .map(|(result, n)| (format!("{},result=\"{result}\"", label(i)), n as f64))
        }),
    );
    counter(
        "switchyard_client_refusals_total",
        "Requests refused by the client's own tiers, limits or budgets, by reason (tier or the limit's field).",
        &mut states.iter().enumerate().flat_map(|(i, s)| {
            let tier = std::iter::once(("tier", s.refused_tier));
            let limits = ClientLimit::ALL.iter().map(|l| (l.name(), s.refused_over[*l as usize]));
            tier.chain(limits)
                .map(move |(reason, n)| (format!("{},reason=\"{reason}\"", label(i)), n as f64))
                .collect::<Vec<_>>()
        }),
    );
    counter(
        "switchyard_client_spend_usd_total",
        "US dollars spent by each client: its successful requests priced from the serving deployment's prices.",
        &mut states
            .iter()
            .enumerate()
            .map(|(i, s)| (label(i), engine::spend::usd(s.spent_nanos))),
    );
}
