//! Per-tier objectives (`max_ttft`, `max_latency`) and the price knob of `adaptive`
//! (`[balancing] cost_factor`): parsed with the rest of the config, range-checked once.

use std::time::Duration;

use super::raw::{RawConfig, RawTier};
use super::{invalid, Span};
use crate::error::ConfigError;

/// The longest latency objective a tier may set: an hour, far beyond any answer worth waiting
/// for, and small enough that sums of it never overflow.
pub const MAX_OBJECTIVE: Duration = Duration::from_secs(3600);

/// Largest `[balancing] cost_factor`.
pub const MAX_COST_FACTOR: f64 = 10.0;

/// A tier's latency objectives, which `cost-aware` keeps while choosing the cheapest
/// deployment. `None`: no objective of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Objectives {
    /// Longest acceptable time to first token.
    pub max_ttft: Option<Duration>,
    /// Longest acceptable latency of the whole answer.
    pub max_latency: Option<Duration>,
}

impl Objectives {
    /// Whether any objective is set.
    pub fn any(&self) -> bool {
        self.max_ttft.is_some() || self.max_latency.is_some()
    }
}

/// The objectives of tier `i`, each from 1 ms to [`MAX_OBJECTIVE`], and `max_latency` no
/// shorter than `max_ttft` (an answer cannot end before its first token).
pub(super) fn objectives(i: usize, t: &RawTier, span: &Span) -> Result<Objectives, ConfigError> {
    for (name, value) in [("max_ttft", t.max_ttft), ("max_latency", t.max_latency)] {
        if let Some(v) = value {
            if v < Duration::from_millis(1) || v > MAX_OBJECTIVE {
                return Err(invalid(
                    format!("tier[{i}].{name}"),
                    humantime::format_duration(v),
                    "a duration from 1ms to 1h (omit it for no objective)",
                    span.clone(),
                ));
            }
        }
    }
    if let (Some(ttft), Some(latency)) = (t.max_ttft, t.max_latency) {
        if latency < ttft {
            return Err(invalid(
                format!("tier[{i}].max_latency"),
                humantime::format_duration(latency),
                "at least the tier's max_ttft",
                span.clone(),
            ));
        }
    }
    Ok(Objectives {
        max_ttft: t.max_ttft,
        max_latency: t.max_latency,
    })
}

/// `[balancing] cost_factor`, from 0 to [`MAX_COST_FACTOR`].
pub(super) fn cost_factor(raw: &RawConfig) -> Result<f64, ConfigError> {
    let k = raw.balancing.cost_factor;
    if (0.0..=MAX_COST_FACTOR).contains(&k) {
        Ok(k)
    } else {
        Err(invalid(
            "balancing.cost_factor".into(),
            k,
            "a number from 0 (price ignored, the default) to 10",
            None,
        ))
    }
}
