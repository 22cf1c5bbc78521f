//! Errors: [`GatewayError`] for starting the gateway, [`ApiError`] for answering a client in
//! OpenAI's error shape `{"error":{"message":…,"type":…,"code":…}}`.

use std::path::PathBuf;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use thiserror::Error;

use crate::body::Body;

/// Why the gateway could not start or stopped abnormally.
#[derive(Debug, Error)]
pub enum GatewayError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {cause}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The config file was read but rejected.
    #[error("{path}{}: {cause}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Config {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending table, when known.
        line: Option<usize>,
        /// What is wrong.
        cause: Box<engine::ConfigError>,
    },
    /// A deployment's `base_url` is missing or not a usable http(s) URL.
    #[error("deployment {deployment:?}: base_url {url:?} is not usable: {reason}")]
    BaseUrl {
        /// Deployment id.
        deployment: String,
        /// The URL as configured (no secret lives here).
        url: String,
        /// Why.
        reason: String,
    },
    /// `[cluster] redis_url` is not a URL the Redis client accepts.
    #[error("cluster.redis_url is not usable: {reason}")]
    ClusterUrl {
        /// Why (the URL itself is left out: it may carry a password).
        reason: String,
    },
    /// A deployment's `api_key_env` names an environment variable that is not set.
    #[error(
        "deployment {deployment:?}: environment variable {variable} (its api_key_env) is not set"
    )]
    MissingKey {
        /// Deployment id.
        deployment: String,
        /// Name of the variable.
        variable: String,
    },
    /// A deployment's `api_key_env` names a variable that is set but empty (or only spaces).
    #[error("deployment {deployment:?}: environment variable {variable} (its api_key_env) is set but empty")]
    EmptyKey {
        /// Deployment id.
        deployment: String,
        /// Name of the variable.
        variable: String,
    },
    /// A key's value cannot be sent in an HTTP header (e.g. contains a newline).
    #[error("deployment {deployment:?}: the value of {variable} is not a valid header value")]
    InvalidKey {
        /// Deployment id.
        deployment: String,
        /// Name of the variable.
        variable: String,
    },
    /// A `[[client]]`'s `key_env` names a variable that is not set or is empty.
    #[error(
        "client {client:?}: environment variable {variable} (its key_env) is not set or empty"
    )]
    MissingClientKey {
        /// Client name.
        client: String,
        /// Name of the variable.
        variable: String,
    },
    /// The admin-key variable is named but not set or empty.
    #[error("environment variable {0} (--admin-key-env) is not set or empty")]
    MissingAdminKey(String),
    /// The gateway-keys variable is named but not set or empty.
    #[error("environment variable {0} (--gateway-keys-env) is not set or holds no key")]
    MissingGatewayKeys(String),
    /// The trace file could not be created.
    #[error("cannot create trace file {path}: {cause}")]
    Trace {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// Binding the listen address failed.
    #[error("cannot listen on {addr}: {cause}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The speed is out of range.
    #[error(
        "speed {0} is not a number from 0.001 to 10000 (1 = real time, 10 = ten times faster)"
    )]
    Speed(f64),
    /// Any other I/O failure (runtime start, accept loop).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// An error answered to a client in OpenAI's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable message (never contains a secret).
    pub message: String,
    /// OpenAI `type`, e.g. `invalid_request_error`.
    pub kind: &'static str,
    /// Machine-readable `code`, e.g. `model_not_found`.
    pub code: &'static str,
    /// Seconds for a `retry-after` header, if any.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with this status, type, code and message.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            kind,
            code,
            retry_after: None,
        }
    }

    /// 400 `invalid_request_error`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message,
        )
    }

    /// The `{"error":{...}}` JSON document.
    pub fn json(&self) -> String {
        error_json(&self.message, self.kind, self.code)
    }

    /// The HTTP response; logged at debug level (status, code and message: never a key, which
    /// no message holds).
    pub fn response(&self) -> Response<Body> {
        tracing::debug!(
            status = self.status.as_u16(),
            code = self.code,
            message = %self.message,
            "request rejected"
        );
        let mut res = Response::new(Body::full(Bytes::from(self.json())));
        *res.status_mut() = self.status;
        let h = res.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(s) = self.retry_after {
            h.insert(http::header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

/// `{"error":{"message":…,"type":…,"code":…}}` with proper JSON escaping.
pub fn error_json(message: &str, kind: &str, code: &str) -> String {
    serde_json::json!({"error": {"message": message, "type": kind, "code": code}}).to_string()
}
