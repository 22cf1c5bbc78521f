//! `[cluster]`: replicas of the gateway sharing provider limits and health through Redis.
//!
//! The engine only checks the table and carries its numbers (see [`crate::cluster`] for the
//! exchange itself); the gateway opens the connection. Without the table nothing changes.

use std::time::Duration;

use super::raw::RawConfig;
use super::{invalid, Span};
use crate::error::ConfigError;

/// Shortest `sync_interval`: below it the exchange would cost more than it saves.
pub const MIN_SYNC_INTERVAL: Duration = Duration::from_millis(10);
/// Longest `sync_interval`: a minute-long window must see several exchanges.
pub const MAX_SYNC_INTERVAL: Duration = Duration::from_secs(10);
/// Largest fleet `replicas` may name.
pub const MAX_REPLICAS: i64 = 1000;

/// A checked `[cluster]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// `redis://` or `rediss://` (TLS) URL of the shared store.
    pub redis_url: String,
    /// How often each replica exchanges its use for the fleet's (default 100 ms).
    pub sync_interval: Duration,
    /// This replica's name in the store; `None`: the driver picks one (host and process id).
    pub replica: Option<String>,
    /// The fleet size assumed while the store cannot be reached (each replica then spends at
    /// most limit ÷ `replicas`); once connected, the live count replaces it.
    pub replicas: u32,
    /// Prefix of every key the fleet writes (default `switchyard`), so fleets can share a store.
    pub key_prefix: String,
}

pub(super) fn cluster(raw: &RawConfig) -> Result<Option<Cluster>, ConfigError> {
    let Some(spanned) = &raw.cluster else {
        return Ok(None);
    };
    let span: Span = Some(spanned.span());
    let c = spanned.get_ref();
    let url = c.redis_url.trim();
    if !valid_redis_url(url) {
        return Err(invalid(
            "cluster.redis_url".to_owned(),
            format!("{:?}", redact(&c.redis_url)),
            "a redis://host[:port][/db] or rediss://… URL",
            span,
        ));
    }
    let interval = c.sync_interval.unwrap_or(Duration::from_millis(100));
    if !(MIN_SYNC_INTERVAL..=MAX_SYNC_INTERVAL).contains(&interval) {
        return Err(invalid(
            "cluster.sync_interval".to_owned(),
            format!("{interval:?}"),
            "a duration from 10ms to 10s",
            span,
        ));
    }
    let replicas = c.replicas.unwrap_or(2);
    if !(1..=MAX_REPLICAS).contains(&replicas) {
        return Err(invalid(
            "cluster.replicas".to_owned(),
            replicas,
            "an integer from 1 to 1000",
            span,
        ));
    }
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if let Some(name) = c.replica.as_deref().filter(|n| !name_ok(n)) {
        return Err(invalid(
            "cluster.replica".to_owned(),
            format!("{name:?}"),
            "1 to 64 letters, digits, '-', '_' or '.'",
            span,
        ));
    }
    let prefix = c.key_prefix.clone().unwrap_or_else(|| "switchyard".into());
    if !name_ok(&prefix) {
        return Err(invalid(
            "cluster.key_prefix".to_owned(),
            format!("{prefix:?}"),
            "1 to 64 letters, digits, '-', '_' or '.'",
            span,
        ));
    }
    Ok(Some(Cluster {
        redis_url: url.to_owned(),
        sync_interval: interval,
        replica: c.replica.clone(),
        replicas: replicas as u32,
        key_prefix: prefix,
    }))
}

/// The URL with any credentials replaced, for error messages.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Scheme `redis` or `rediss`, a host, an optional numeric port and an optional `/db` number.
/// The driver's Redis client parses it again; this catches typos at `check` time.
fn valid_redis_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("redis://")
        .or_else(|| url.strip_prefix("rediss://"))
    else {
        return false;
    };
    let (authority, db) = match rest.split_once('/') {
        Some((a, db)) => (a, db),
        None => (rest, ""),
    };
    if !(db.is_empty() || db.parse::<u16>().is_ok()) {
        return false;
    }
    // Credentials may precede the host: user:password@host.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, Some(p)),
        _ => (host_port, None),
    };
    !host.is_empty()
        && !host.contains(char::is_whitespace)
        && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn with(cluster: &str) -> Result<Config, ConfigError> {
        Config::from_toml(&format!(
            "[[tier]]\nname = \"t\"\n[[deployment]]\nid = \"d\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\n[cluster]\n{cluster}"
        ))
    }

    #[test]
    fn defaults_and_checked_fields() {
        let c = with("redis_url = \"redis://127.0.0.1:6379\"")
            .expect("valid")
            .cluster
            .expect("cluster");
        assert_eq!(c.sync_interval, Duration::from_millis(100));
        assert_eq!(
            (c.replicas, c.replica, c.key_prefix.as_str()),
            (2, None, "switchyard")
        );
        for (text, field) in [
            ("redis_url = \"http://x\"", "cluster.redis_url"),
            (
                "redis_url = \"redis://x\"\nsync_interval = \"1ms\"",
                "cluster.sync_interval",
            ),
            (
                "redis_url = \"redis://x\"\nsync_interval = \"soon\"",
                "sync_interval",
            ),
            (
                "redis_url = \"redis://x\"\nreplicas = 0",
                "cluster.replicas",
            ),
            (
                "redis_url = \"redis://x\"\nreplica = \"a b\"",
                "cluster.replica",
            ),
            (
                "redis_url = \"redis://x\"\nkey_prefix = \"\"",
                "cluster.key_prefix",
            ),
            ("redis_url = \"redis://x\"\nsync = \"1s\"", "sync"),
            ("redis_url = \"redis://u:hunter2@x:0\"", "***@x:0"),
        ] {
            let e = with(text).expect_err(text).to_string();
            assert!(e.contains(field), "{text}: {e}");
            assert!(!e.contains("hunter2"), "no password in errors: {e}");
        }
    }

    #[test]
    fn urls() {
        for good in [
            "redis://127.0.0.1:6379",
            "redis://localhost",
            "rediss://user:secret@cache.example.com:6380/2",
            "redis://[::1]:6379",
        ] {
            assert!(valid_redis_url(good), "{good}");
        }
        for bad in [
            "",
            "http://x",
            "redis://",
            "redis://host:0",
            "redis://host:99999",
            "redis://host:port",
            "redis://host/x",
            "redis://ho st",
        ] {
            assert!(!valid_redis_url(bad), "{bad}");
        }
    }
}
