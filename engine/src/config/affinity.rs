//! `[affinity]`: session affinity's table size, TTL and the headroom a sticky pick must leave.

use std::time::Duration;

use serde::Deserialize;

use super::duration;
use super::invalid;
use crate::affinity::MAX_SESSIONS;
use crate::error::ConfigError;

/// `[affinity]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAffinity {
    /// Sessions remembered at once (0: affinity off).
    pub sessions: i64,
    /// How long after its last request a session is forgotten.
    #[serde(with = "duration")]
    pub ttl: Duration,
    /// Fraction of the tightest limit that must remain after a sticky pick.
    pub min_headroom: f64,
    /// Request header carrying a session key (gateway).
    pub header: String,
}

impl Default for RawAffinity {
    fn default() -> Self {
        RawAffinity {
            sessions: 0,
            ttl: Duration::from_secs(600),
            min_headroom: 0.1,
            header: DEFAULT_HEADER.to_owned(),
        }
    }
}

/// The header the gateway reads a session key from unless `[affinity] header` names another.
pub const DEFAULT_HEADER: &str = "x-session-id";

/// Session affinity as checked: requests with a session key go back to the deployment that
/// served their session last while it is usable and keeps `min_headroom` to spare.
#[derive(Debug, Clone, PartialEq)]
pub struct Affinity {
    /// Sessions remembered at once; 0 turns affinity off.
    pub sessions: usize,
    /// A session is forgotten this long after its last request.
    pub ttl: Duration,
    /// A sticky pick must leave at least this fraction of the deployment's tightest limit.
    pub min_headroom: f64,
    /// The gateway reads a request's session key from this header (lower case), before the
    /// body's `prompt_cache_key`, `user` or `metadata.user_id`.
    pub header: String,
}

impl Default for Affinity {
    fn default() -> Self {
        Affinity {
            sessions: 0,
            ttl: Duration::from_secs(600),
            min_headroom: 0.1,
            header: DEFAULT_HEADER.to_owned(),
        }
    }
}

/// Checks `[affinity]`: `sessions` from 0 to 2²⁴, `ttl` > 0, `min_headroom` from 0 to 1, a
/// header name.
pub(super) fn affinity(raw: &RawAffinity) -> Result<Affinity, ConfigError> {
    if !(0..=MAX_SESSIONS as i64).contains(&raw.sessions) {
        return Err(invalid(
            "affinity.sessions".into(),
            raw.sessions,
            "an integer from 0 (off, the default) to 16777216",
            None,
        ));
    }
    if raw.ttl.is_zero() {
        return Err(invalid("affinity.ttl".into(), "0s", "a duration > 0", None));
    }
    if !(0.0..=1.0).contains(&raw.min_headroom) {
        return Err(invalid(
            "affinity.min_headroom".into(),
            raw.min_headroom,
            "a fraction from 0 to 1",
            None,
        ));
    }
    let header = raw.header.trim().to_ascii_lowercase();
    if header.is_empty()
        || !header
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(
            "affinity.header".into(),
            format!("{:?}", raw.header),
            "a header name (letters, digits, - and _)",
            None,
        ));
    }
    Ok(Affinity {
        sessions: raw.sessions as usize,
        ttl: raw.ttl,
        min_headroom: raw.min_headroom,
        header,
    })
}
