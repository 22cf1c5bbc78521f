//! A deployment's true rate limits from a trace: the provider's own `x-ratelimit-limit-*`
//! headers when they were recorded, else what it admitted in the minutes it also refused (a
//! minute with 429s is a minute the limit bound, so what got through is the limit).

use std::collections::HashMap;

use super::estimate::{most, DeploymentAcc};

/// Where a fitted limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// The provider's `x-ratelimit-limit-requests` / `-tokens` header.
    Header,
    /// The median admitted per minute over the minutes with 429s.
    BindingMinutes,
    /// The largest `x-ratelimit-remaining-*` recorded (a full budget).
    Remaining,
}

impl LimitSource {
    /// How it is described in the fit's output.
    pub fn describe(self) -> &'static str {
        match self {
            LimitSource::Header => "the provider's x-ratelimit-limit header",
            LimitSource::BindingMinutes => "the median admitted per minute over minutes with 429s",
            LimitSource::Remaining => "the largest x-ratelimit-remaining header (a full budget)",
        }
    }
}

/// A deployment's fitted limits.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FittedLimits {
    /// Requests per minute, and where it comes from.
    pub rpm: Option<(u64, LimitSource)>,
    /// Tokens per minute, and where it comes from.
    pub tpm: Option<(u64, LimitSource)>,
    /// Minutes with at least one 429.
    pub binding_minutes: u64,
    /// Which headers the provider sent: `full`, `remaining` or `none` (the scenario's
    /// `rate_limit_headers`).
    pub headers: &'static str,
    /// The window's kind: `fixed` when the 429s bunch at one point of the minute (a window
    /// that resets on the minute), else `token-bucket`.
    pub window: &'static str,
}

/// 429s needed before their timing decides the window's kind.
const MIN_REJECTIONS_FOR_WINDOW: u64 = 10;

/// How bunched the 429s' phases must be (mean resultant length, 0 = spread evenly over the
/// minute, 1 = all at one instant) to call the window fixed.
const FIXED_WINDOW_BUNCHING: f64 = 0.5;

/// Fits `d`'s limits.
pub fn fit_limits(d: &DeploymentAcc) -> FittedLimits {
    let header = |map: &HashMap<u64, u64>| most(map).copied().filter(|v| *v > 0);
    let binding: Vec<_> = d.minutes.values().filter(|m| m.rejected > 0).collect();
    let mut limits = FittedLimits {
        rpm: header(&d.limit_requests).map(|v| (v, LimitSource::Header)),
        tpm: header(&d.limit_tokens).map(|v| (v, LimitSource::Header)),
        binding_minutes: binding.len() as u64,
        headers: "none",
        window: "token-bucket",
    };
    let (c, s) = d.rejection_phase;
    if d.rate_limited >= MIN_REJECTIONS_FOR_WINDOW
        && (c * c + s * s).sqrt() / d.rate_limited as f64 > FIXED_WINDOW_BUNCHING
    {
        limits.window = "fixed";
    }
    if limits.rpm.is_some() || limits.tpm.is_some() {
        limits.headers = "full";
        return limits;
    }
    if d.max_remaining.0.is_some() || d.max_remaining.1.is_some() {
        limits.headers = "remaining";
    }
    let remaining = |v: Option<u64>| v.filter(|v| *v > 0).map(|v| (v, LimitSource::Remaining));
    limits.rpm = remaining(d.max_remaining.0);
    limits.tpm = remaining(d.max_remaining.1);
    if binding.is_empty() {
        return limits;
    }
    let requests: Vec<f64> = binding.iter().map(|m| m.admitted as f64).collect();
    let tokens: Vec<f64> = binding.iter().map(|m| m.tokens as f64).collect();
    let source = LimitSource::BindingMinutes;
    // The resource that bound: what the 429s' remaining headers said ran out, else the one
    // admitted at a steadier level each binding minute (the other varies with the traffic mix).
    let tokens_bound = match d.out_of_tokens.cmp(&d.out_of_requests) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => spread(&tokens) < spread(&requests),
    };
    // A budget seen full is at least that large: the larger of the two estimates stands.
    let larger = |a: Option<(u64, LimitSource)>, b: u64| match a {
        Some((v, s)) if v >= b => Some((v, s)),
        _ => Some((b, source)),
    };
    if tokens_bound {
        limits.tpm = larger(limits.tpm, median(tokens).round().max(1.0) as u64);
    } else {
        limits.rpm = larger(limits.rpm, median(requests).round().max(1.0) as u64);
    }
    limits
}

/// Coefficient of variation (0 for fewer than two values).
fn spread(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    if mean > 0.0 {
        var.sqrt() / mean
    } else {
        0.0
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_spreads() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(spread(&[5.0, 5.0, 5.0]), 0.0);
        assert!(spread(&[1.0, 9.0]) > 0.7);
    }
}
