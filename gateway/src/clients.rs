//! `[[client]]` requests: the engine checks the client's tier and its own limits before a
//! deployment is picked; a refusal is answered here, clearly apart from provider capacity.

use std::time::Duration;

use engine::{ClientRefusal, Request, Step};
use http::StatusCode;

use crate::error::ApiError;
use crate::state::EngineGuard;

/// Starts a client's request, or says why the client may not send it now.
pub(crate) fn start(
    engine: &mut EngineGuard<'_>,
    name: &str,
    request: Request,
    now: Duration,
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
        .start_for(client, request, now)
        .map_err(|refusal| refused(name, &tier, refusal, now))
}

fn refused(name: &str, tier: &str, refusal: ClientRefusal, now: Duration) -> ApiError {
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
                None => "this request alone exceeds that limit: it never fits",
            };
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "client_rate_limit_exceeded",
                format!(
                    "client {name:?} is over its own {} limit (set for this client in the \
                     gateway's config, not a provider's capacity): {when}",
                    limit.name()
                ),
            );
            e.retry_after =
                retry_at.map(|t| (t.saturating_sub(now).as_secs_f64().ceil() as u64).max(1));
            e
        }
    }
}
