//! A client request's intake: its body read within the gateway's size and time limits and
//! parsed for what routing needs, and the tier that serves it.

use std::sync::Arc;

use bytes::Bytes;
use engine::TierId;
use http::header::{self, HeaderName};
use http::StatusCode;
use hyper::body::Incoming;

use crate::attempt::{read_body, ReadError};
use crate::error::ApiError;
use crate::proxy::TIER_HEADER;
use crate::request::{self, Endpoint, ParsedRequest};
use crate::state::Shared;

const TIER: HeaderName = HeaderName::from_static(TIER_HEADER);

/// Reads and checks the client's body (size, time, JSON with a `model`) and the tier header.
pub(crate) async fn prepare(
    gw: &Arc<Shared>,
    endpoint: Endpoint,
    req: http::Request<Incoming>,
) -> Result<(ParsedRequest, Bytes, (Option<String>, http::HeaderMap)), ApiError> {
    let limit = gw.settings.max_body_bytes;
    let (parts, body) = req.into_parts();
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("request body exceeds the gateway's limit of {limit} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let timeout = gw.settings.body_read_timeout;
    let body = match tokio::time::timeout(timeout, read_body(body, limit)).await {
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request_error",
                "request_timeout",
                format!(
                    "the request body was not received within {} s (--body-read-timeout)",
                    timeout.as_secs_f64()
                ),
            ))
        }
        Ok(Ok(bytes)) => bytes,
        Ok(Err(ReadError::TooLarge)) => return Err(too_large()),
        Ok(Err(ReadError::Body(e))) => {
            return Err(ApiError::bad_request(
                "body_read_error",
                format!("could not read the request body: {e}"),
            ))
        }
    };
    let parsed =
        request::parse(&body, endpoint).map_err(|e| ApiError::bad_request("invalid_json", e.0))?;
    let tier = parts
        .headers
        .get(&TIER)
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    Ok((parsed, body, (tier, parts.headers)))
}

/// The tier serving a request: the one `x-switchyard-tier` names, else routing by model. Done
/// under the engine's lock, with the config the engine runs.
pub(crate) fn resolve(
    config: &engine::Config,
    parsed: &ParsedRequest,
    tier: Option<&str>,
) -> Result<TierId, ApiError> {
    match tier {
        Some(name) => config.tier_by_name(name).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "tier_not_found",
                format!("{TIER_HEADER} names no configured tier: {name:?}"),
            )
        }),
        None => config.route(&parsed.model).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                format!(
                    "the model {:?} does not exist or is not routed by this gateway (see GET /v1/models)",
                    parsed.model
                ),
            )
        }),
    }
}
