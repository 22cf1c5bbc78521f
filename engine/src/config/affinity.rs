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
}

impl Default for RawAffinity {
    fn default() -> Self {
        RawAffinity {
            sessions: 0,
            ttl: Duration::from_secs(600),
            min_headroom: 0.1,
        }
    }
}

/// Session affinity as checked: requests with a session key go back to the deployment that
/// served their session last while it is usable and keeps `min_headroom` to spare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affinity {
    /// Sessions remembered at once; 0 turns affinity off.
    pub sessions: usize,
    /// A session is forgotten this long after its last request.
    pub ttl: Duration,
    /// A sticky pick must leave at least this fraction of the deployment's tightest limit.
    pub min_headroom: f64,
}

impl Default for Affinity {
    fn default() -> Self {
        Affinity {
            sessions: 0,
            ttl: Duration::from_secs(600),
            min_headroom: 0.1,
        }
    }
}

/// Checks `[affinity]`: `sessions` from 0 to 2²⁴, `ttl` > 0, `min_headroom` from 0 to 1.
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
    Ok(Affinity {
        sessions: raw.sessions as usize,
        ttl: raw.ttl,
        min_headroom: raw.min_headroom,
    })
}
