//! Per-tier objectives (`max_ttft`, `max_latency`), hedging (`hedge`) and the price knob of
//! `adaptive` (`[balancing] cost_factor`): parsed with the rest of the config, range-checked
//! once.

use std::time::Duration;

use serde::Deserialize;

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

/// `hedge = { after = "p95" | "3s", max = 1 }` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHedge {
    /// A TTFT quantile of the tier (`"p50"` … `"p99.9"`) or a duration.
    pub after: String,
    /// Hedges per request.
    #[serde(default = "one")]
    pub max: i64,
}

fn one() -> i64 {
    1
}

/// When a tier's attempt is hedged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HedgeAfter {
    /// After this quantile (0.5 to 0.999) of the tier's recent times to first token.
    Quantile(f64),
    /// After a fixed time without a first byte.
    Fixed(Duration),
}

/// A tier's hedging: when an attempt has shown no first byte `after`, a second attempt goes
/// to another usable deployment of the tier with spare headroom; the first first byte wins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hedge {
    /// When to hedge.
    pub after: HedgeAfter,
    /// Hedges per request (1 to 3).
    pub max: u8,
}

/// The `hedge` of tier `i`: `after` a quantile `"pNN"` from p50 to p99.9 or a duration from
/// 1 ms to [`MAX_OBJECTIVE`]; `max` from 1 to 3.
pub(super) fn hedge(i: usize, t: &RawTier, span: &Span) -> Result<Option<Hedge>, ConfigError> {
    let Some(h) = &t.hedge else {
        return Ok(None);
    };
    let text = h.after.trim();
    let quantile = text
        .strip_prefix('p')
        .and_then(|q| q.parse::<f64>().ok())
        .filter(|q| (50.0..=99.9).contains(q));
    let after = match quantile {
        Some(q) => HedgeAfter::Quantile(q / 100.0),
        None => match super::duration::parse(text) {
            Ok(d) if d >= Duration::from_millis(1) && d <= MAX_OBJECTIVE => HedgeAfter::Fixed(d),
            _ => {
                return Err(invalid(
                    format!("tier[{i}].hedge.after"),
                    format!("{:?}", h.after),
                    "a TTFT quantile from \"p50\" to \"p99.9\", or a duration from 1ms to 1h",
                    span.clone(),
                ))
            }
        },
    };
    if !(1..=3).contains(&h.max) {
        return Err(invalid(
            format!("tier[{i}].hedge.max"),
            h.max,
            "an integer from 1 to 3",
            span.clone(),
        ));
    }
    Ok(Some(Hedge {
        after,
        max: h.max as u8,
    }))
}
