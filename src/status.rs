//! `switchyard status`: what a running gateway's balancer believes right now (its
//! `GET /admin/state`), as terminal tables.
//!
//! The request is one HTTP/1.1 GET (hyper's client, over TLS for an `https://` URL) with a
//! deadline on the whole exchange, so a gateway that stops answering halfway cannot hang it.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION};
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

mod table;

/// Arguments of `switchyard status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// The gateway's base URL, e.g. http://127.0.0.1:8080 (or https://).
    #[arg(long)]
    pub url: String,
    /// Environment variable holding the admin key (the gateway's --admin-key-env).
    #[arg(long, value_name = "NAME")]
    pub admin_key_env: Option<String>,
    /// Print the raw JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Fetches `/admin/state` and prints it.
pub fn run(args: StatusArgs) -> anyhow::Result<()> {
    let key = match &args.admin_key_env {
        None => None,
        Some(name) => Some(
            std::env::var(name)
                .ok()
                .filter(|k| !k.trim().is_empty())
                .with_context(|| {
                    format!("environment variable {name} (--admin-key-env) is not set or empty")
                })?,
        ),
    };
    let (status, body) = get(&args.url, "/admin/state", key.as_deref())?;
    match status {
        200 => {}
        401 => bail!(
            "{}: the gateway refused the admin key (401){}",
            args.url,
            if key.is_none() {
                "; pass --admin-key-env NAME"
            } else {
                ""
            }
        ),
        404 => bail!(
            "{}: no /admin/state (404): start the gateway with --admin-key-env NAME",
            args.url
        ),
        other => bail!(
            "{}: GET /admin/state answered {other}: {}",
            args.url,
            body.trim()
        ),
    }
    let state: Value = serde_json::from_str(&body).context("the answer is not JSON")?;
    if args.json {
        println!("{state:#}");
    } else {
        print!("{}", table::render(&args.url, &state));
    }
    Ok(())
}

/// `GET path` at the scheme and authority of `base` (`http://` or `https://`), as one request
/// with a deadline on the whole exchange; returns the status and the body (at most 64 MiB).
fn get(base: &str, path: &str, key: Option<&str>) -> anyhow::Result<(u16, String)> {
    let uri = admin_uri(base, path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the HTTP client")?;
    runtime.block_on(async {
        tokio::time::timeout(TIMEOUT, fetch(uri, key))
            .await
            .map_err(|_| anyhow!("{base}: no whole answer within {} s", TIMEOUT.as_secs()))?
    })
}

/// How long `status` waits for the whole answer, from connecting to its last byte.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read.
const MAX_BODY: usize = 64 << 20;

/// `path` at `base`'s scheme and authority (any path in `base` is ignored).
fn admin_uri(base: &str, path: &str) -> anyhow::Result<Uri> {
    let parsed: Uri = base
        .trim()
        .parse()
        .with_context(|| format!("{base:?}: not a URL (expected e.g. http://127.0.0.1:8080)"))?;
    let scheme = match parsed.scheme_str() {
        Some(s @ ("http" | "https")) => s.to_owned(),
        _ => bail!("{base:?}: expected an http:// or https:// URL"),
    };
    let authority = parsed
        .authority()
        .filter(|a| !a.host().is_empty())
        .with_context(|| format!("{base:?}: no host"))?;
    Uri::builder()
        .scheme(scheme.as_str())
        .authority(authority.as_str())
        .path_and_query(path)
        .build()
        .with_context(|| format!("{base:?}: not a URL"))
}

async fn fetch(uri: Uri, key: Option<&str>) -> anyhow::Result<(u16, String)> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut request = Request::get(&uri).header(ACCEPT, "application/json");
    if let Some(k) = key {
        request = request.header(AUTHORIZATION, format!("Bearer {k}"));
    }
    let request = request
        .body(Empty::new())
        .context("the admin key cannot be sent as an HTTP header")?;
    let answer = client
        .request(request)
        .await
        .with_context(|| format!("cannot reach {uri}"))?;
    let status = answer.status().as_u16();
    let body = Limited::new(answer.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| anyhow!("reading the answer from {uri}: {e}"))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::admin_uri;

    #[test]
    fn the_admin_path_goes_to_the_bases_host() {
        let uri = |b: &str| admin_uri(b, "/admin/state").map(|u| u.to_string());
        assert_eq!(
            uri("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080/admin/state"
        );
        assert_eq!(
            uri(" https://gw.example/v1/ ").unwrap(),
            "https://gw.example/admin/state"
        );
        for (bad, says) in [
            ("127.0.0.1:8080", "expected an http:// or https:// URL"),
            ("ftp://host", "expected an http:// or https:// URL"),
            ("http://", "not a URL"),
            ("http://exa mple", "not a URL"),
        ] {
            let err = format!("{:#}", uri(bad).unwrap_err());
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
