//! One configured deployment as the gateway reaches it: a pooled HTTP client, the endpoint URIs,
//! the API key (as a sensitive header value, never printed) and the timeouts.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use engine::config::{Api, DEFAULT_ANTHROPIC_VERSION};

use crate::error::GatewayError;
use crate::request::Endpoint;

/// Connect timeout when a deployment sets none.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-attempt timeout when a deployment sets none.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(600);
/// How long an idle pooled upstream connection is kept.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

#[cfg(feature = "tls")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "tls"))]
type Connector = HttpConnector;

/// The HTTP client used for upstream requests (pooled, keep-alive).
pub type UpstreamClient = Client<Connector, Full<Bytes>>;

/// How the gateway reaches one deployment.
pub struct Upstream {
    /// Deployment id (for logs, metrics, traces).
    pub id: String,
    /// The deployment id as a response header value.
    pub id_header: HeaderValue,
    connect_timeout: Duration,
    /// The API the deployment speaks.
    pub api: Api,
    uris: [Uri; 5],
    auth: Option<(HeaderName, HeaderValue)>,
    /// Headers every request carries (Anthropic's `anthropic-version`, `anthropic-beta`).
    fixed_headers: Vec<(HeaderName, HeaderValue)>,
    /// The upstream model name.
    pub model: String,
    /// The upstream model name as an encoded JSON string, spliced into request bodies.
    pub model_json: String,
    /// Time allowed until the response head (and, for streams, between two chunks).
    pub first_byte_timeout: Option<Duration>,
    /// Time allowed for the whole attempt.
    pub total_timeout: Duration,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("id", &self.id)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("model_json", &self.model_json)
            .field("first_byte_timeout", &self.first_byte_timeout)
            .field("total_timeout", &self.total_timeout)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    /// Sets up a deployment; `env` looks up environment variables (the API key).
    pub fn new(
        d: &engine::config::Deployment,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Upstream, GatewayError> {
        let e = &d.endpoint;
        let Checked {
            uris,
            key_header,
            id_header,
            fixed_headers,
        } = check_endpoint(d)?;
        let auth = match &e.api_key_env {
            None => None,
            Some(var) => {
                let key = env(var).ok_or_else(|| GatewayError::MissingKey {
                    deployment: d.id.clone(),
                    variable: var.clone(),
                })?;
                let key = key.trim();
                if key.is_empty() {
                    return Err(GatewayError::EmptyKey {
                        deployment: d.id.clone(),
                        variable: var.clone(),
                    });
                }
                let text = match &key_header {
                    None => format!("Bearer {key}"),
                    Some(_) => key.to_owned(),
                };
                let mut value =
                    HeaderValue::try_from(text).map_err(|_| GatewayError::InvalidKey {
                        deployment: d.id.clone(),
                        variable: var.clone(),
                    })?;
                value.set_sensitive(true);
                Some((key_header.unwrap_or(AUTHORIZATION), value))
            }
        };
        let model = e.upstream_model.as_deref().unwrap_or(&d.model);
        Ok(Upstream {
            id: d.id.clone(),
            id_header,
            connect_timeout: e.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            api: e.api,
            uris,
            auth,
            fixed_headers,
            model: model.to_owned(),
            model_json: serde_json::Value::from(model).to_string(),
            first_byte_timeout: e.first_byte_timeout,
            total_timeout: e.total_timeout.unwrap_or(DEFAULT_TOTAL_TIMEOUT),
        })
    }

    /// The upstream request for an endpoint with an already rewritten body.
    pub fn request(&self, endpoint: Endpoint, body: Bytes, stream: bool) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.uris[endpoint.index()].clone();
        let h = req.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if stream {
            h.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        }
        if let Some((name, value)) = &self.auth {
            h.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.fixed_headers {
            h.insert(name.clone(), value.clone());
        }
        req
    }

    /// A new pooled client for this deployment (one per event loop, so that a connection is
    /// always driven by the thread that uses it).
    pub fn new_client(&self) -> UpstreamClient {
        client(self.connect_timeout)
    }
}

/// What [`check_endpoint`] derives from a deployment's static fields.
struct Checked {
    uris: [Uri; 5],
    key_header: Option<HeaderName>,
    id_header: HeaderValue,
    fixed_headers: Vec<(HeaderName, HeaderValue)>,
}

/// Checks what the gateway needs of every deployment, from the config alone (no environment
/// variable is read): an `http://` or `https://` `base_url` with a host and no `user:password@`,
/// a valid `api_key_header` name, and an id usable as a header value. `switchyard serve` and
/// `switchyard check` both run it, so they accept the same gateway configs.
pub fn check_endpoints(config: &engine::Config) -> Result<(), GatewayError> {
    if let Some(cluster) = &config.cluster {
        redis::Client::open(cluster.redis_url.as_str()).map_err(|e| GatewayError::ClusterUrl {
            reason: e.to_string(),
        })?;
    }
    config
        .deployments
        .iter()
        .try_for_each(|d| check_endpoint(d).map(drop))
}

fn check_endpoint(d: &engine::config::Deployment) -> Result<Checked, GatewayError> {
    let e = &d.endpoint;
    let bad = |url: &str, reason: &str| GatewayError::BaseUrl {
        deployment: d.id.clone(),
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let base = e.base_url.as_deref().ok_or_else(|| {
        bad(
            "",
            "every deployment served by the gateway needs a base_url",
        )
    })?;
    // A query (Azure's `?api-version=…`) stays at the end, after the endpoint's path.
    let (path, query) = match base.split_once('?') {
        Some((path, query)) => (path, format!("?{query}")),
        None => (base, String::new()),
    };
    let trimmed = path.trim_end_matches('/');
    let mut uris = Vec::with_capacity(Endpoint::ALL.len());
    for endpoint in Endpoint::ALL {
        // An Anthropic deployment serves every request at its Messages path.
        let suffix = match e.api {
            Api::OpenAi => endpoint.suffix(),
            Api::Anthropic => Endpoint::Messages.suffix(),
        };
        let uri: Uri = format!("{trimmed}{suffix}{query}")
            .parse()
            .map_err(|err: http::uri::InvalidUri| bad(base, &err.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") if cfg!(feature = "tls") => {}
            Some("https") => return Err(bad(base, "built without the `tls` feature")),
            _ => return Err(bad(base, "expected an http:// or https:// URL")),
        }
        if uri
            .authority()
            .is_none_or(|a| a.as_str().contains('@') || a.host().is_empty())
        {
            return Err(bad(base, "expected a host and no user:password@ part"));
        }
        uris.push(uri);
    }
    let uris: [Uri; 5] = uris
        .try_into()
        .map_err(|_| bad(base, "internal: wrong number of endpoints"))?;
    let key_header = match e.api_key_header.as_deref() {
        None if e.api == Api::Anthropic => Some(HeaderName::from_static("x-api-key")),
        None => None,
        Some(header) => Some(HeaderName::try_from(header).map_err(|_| {
            bad(
                base,
                &format!("api_key_header {header:?} is not a valid HTTP header name"),
            )
        })?),
    };
    let id_header = HeaderValue::try_from(d.id.as_str()).map_err(|_| {
        bad(
            base,
            "deployment id must be printable ASCII to appear in headers",
        )
    })?;
    let mut fixed_headers = Vec::new();
    if e.api == Api::Anthropic {
        let version = e
            .anthropic_version
            .as_deref()
            .unwrap_or(DEFAULT_ANTHROPIC_VERSION);
        for (name, value) in [
            ("anthropic-version", Some(version)),
            ("anthropic-beta", e.anthropic_beta.as_deref()),
        ] {
            let Some(value) = value else { continue };
            let value = HeaderValue::try_from(value).map_err(|_| {
                bad(
                    base,
                    &format!("{name} {value:?} is not a valid HTTP header value"),
                )
            })?;
            fixed_headers.push((HeaderName::from_static(name), value));
        }
    }
    Ok(Checked {
        uris,
        key_header,
        id_header,
        fixed_headers,
    })
}

fn client(connect_timeout: Duration) -> UpstreamClient {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    http.set_keepalive(Some(Duration::from_secs(60)));
    http.enforce_http(false);
    #[cfg(feature = "tls")]
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    #[cfg(not(feature = "tls"))]
    let connector = http;
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(1024)
        .build(connector)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(
        extra: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Upstream, GatewayError> {
        let config = engine::Config::from_toml(&format!(
            "[[tier]]\nname = \"t\"\n[[deployment]]\nid = \"az\"\nprovider = \"azure\"\nmodel = \"gpt-4o\"\ntier = \"t\"\napi_key_env = \"AZ_KEY\"\n{extra}"
        ))
        .unwrap();
        Upstream::new(&config.deployments[0], env)
    }

    #[test]
    fn azure_style_deployments_keep_the_query_and_send_an_api_key_header() {
        let u = upstream(
            "base_url = \"https://res.openai.azure.com/openai/deployments/gpt-4o?api-version=2024-06-01\"\napi_key_header = \"api-key\"\n",
            &|_| Some("secret-1".into()),
        )
        .unwrap();
        let req = u.request(Endpoint::Chat, Bytes::new(), false);
        assert_eq!(
            req.uri().to_string(),
            "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01"
        );
        assert_eq!(req.headers()["api-key"], "secret-1");
        assert!(req.headers().get(AUTHORIZATION).is_none());
    }

    #[test]
    fn openai_style_deployments_send_a_bearer_token() {
        let u = upstream("base_url = \"http://127.0.0.1:9/v1/\"\n", &|_| {
            Some("k".into())
        })
        .unwrap();
        let req = u.request(Endpoint::Chat, Bytes::new(), false);
        assert_eq!(
            req.uri().to_string(),
            "http://127.0.0.1:9/v1/chat/completions"
        );
        assert_eq!(req.headers()[AUTHORIZATION], "Bearer k");
    }

    #[test]
    fn an_empty_key_is_rejected_naming_deployment_and_variable() {
        for value in ["", "  "] {
            let e = upstream("base_url = \"http://127.0.0.1:9/v1\"\n", &|_| {
                Some(value.into())
            })
            .unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("\"az\"") && text.contains("AZ_KEY") && text.contains("empty"),
                "{text}"
            );
        }
    }

    #[test]
    fn static_checks_need_no_environment() {
        for (extra, want) in [
            ("base_url = \"ftp://h/v1\"\n", "http:// or https://"),
            ("base_url = \"http://user:pw@h/v1\"\n", "user:password@"),
            (
                "base_url = \"http://h/v1\"\napi_key_header = \"a b\"\n",
                "api_key_header",
            ),
            ("", "needs a base_url"),
        ] {
            let config = engine::Config::from_toml(&format!(
                "[[tier]]\nname = \"t\"\n[[deployment]]\nid = \"d\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\n{extra}"
            ))
            .unwrap();
            let e = check_endpoints(&config).unwrap_err().to_string();
            assert!(e.contains(want), "{e} should say {want}");
        }
    }

    #[test]
    fn a_bad_key_header_name_is_rejected() {
        let e = upstream(
            "base_url = \"http://127.0.0.1:9/v1\"\napi_key_header = \"bad header\"\n",
            &|_| Some("k".into()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("api_key_header"), "{e}");
    }
}
