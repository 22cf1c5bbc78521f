//! The answer to the client built from the upstream's: which headers pass and which are added.

use http::header::{HeaderName, HeaderValue};
use http::Response;

use crate::body::Body;
use crate::proxy::DEPLOYMENT;

/// Hop-by-hop and framing headers not copied from the upstream answer.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "content-length",
];

fn skip_header(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

/// The upstream's answer as the client's: hop-by-hop and framing headers dropped (hyper frames
/// the body itself), the deployment named in `x-switchyard-deployment`, extensions cleared.
pub(crate) fn respond(
    mut parts: http::response::Parts,
    body: Body,
    deployment: &HeaderValue,
) -> Response<Body> {
    if parts.headers.keys().any(skip_header) {
        for name in HOP_BY_HOP {
            parts.headers.remove(name);
        }
    }
    parts.headers.insert(DEPLOYMENT, deployment.clone());
    parts.extensions.clear();
    Response::from_parts(parts, body)
}
