//! `switchyard status`: what a running gateway's balancer believes right now (its
//! `GET /admin/state`), as terminal tables.
//!
//! The request is one blocking HTTP/1.1 GET over a plain TCP connection (`Connection: close`):
//! enough for an operator's command talking to a gateway's admin port, with no TLS.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

mod table;

/// Arguments of `switchyard status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// The gateway's base URL, e.g. http://127.0.0.1:8080 (plain HTTP).
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

/// `GET path` at an `http://host:port` base URL; returns the status and the body.
fn get(base: &str, path: &str, key: Option<&str>) -> anyhow::Result<(u16, String)> {
    let rest = base.strip_prefix("http://").with_context(|| {
        format!("{base:?}: expected an http:// URL (https is not supported here)")
    })?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        bail!("{base:?}: no host");
    }
    let addr = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let timeout = Duration::from_secs(10);
    let addrs = std::net::ToSocketAddrs::to_socket_addrs(&addr)
        .with_context(|| format!("cannot resolve {addr}"))?;
    let mut stream = addrs
        .into_iter()
        .find_map(|a| TcpStream::connect_timeout(&a, timeout).ok())
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n");
    if let Some(k) = key {
        req.push_str(&format!("Authorization: Bearer {k}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream
        .take(64 << 20)
        .read_to_end(&mut raw)
        .with_context(|| format!("reading the answer from {addr}"))?;
    parse_response(&raw)
}

/// Status and body of a whole HTTP/1.1 response (`Content-Length`, chunked, or until close).
fn parse_response(raw: &[u8]) -> anyhow::Result<(u16, String)> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no complete HTTP response head")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .context("no HTTP status line")?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("truncated chunk")?;
        let size_text = String::from_utf8_lossy(&body[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("bad chunk size")?;
        body = &body[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::parse_response;

    #[test]
    fn responses_are_parsed() {
        let (s, b) = parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!((s, b.as_str()), (200, "{}"));
        let chunked = b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let (s, b) = parse_response(chunked).unwrap();
        assert_eq!((s, b.as_str()), (401, "abcde"));
        assert!(parse_response(b"HTTP/1.1 200").is_err());
    }
}
