//! Latency estimators: a time-weighted EWMA and its peak-sensitive variant.
//!
//! Both weigh a new sample by 1 − e^(−Δt/τ), so the estimate forgets at the same rate however
//! bursty the traffic. Read at `now`, an estimate also decays towards zero while the deployment
//! sits idle, so a deployment that once looked slow is probed again later (tower's peak-EWMA
//! does the same; the peak variant jumps straight up to any sample above the estimate, after
//! Finagle/Linkerd).

use std::time::Duration;

use crate::config::{BalancingParams, HealthPolicy};

/// e^(−x) for x ≥ 0, by a third-order Taylor step when x is small (the common case: estimates
/// are read moments after their last update), else by `exp`. Relative error below 3·10⁻⁷.
pub fn decay(x: f64) -> f64 {
    const THIRD: f64 = 1.0 / 3.0;
    if x < 0.05 {
        1.0 - x * (1.0 - 0.5 * x * (1.0 - THIRD * x))
    } else {
        (-x).exp()
    }
}

/// How fast an idle estimate decays, per second, for an EWMA time constant `tau`: idle
/// estimates fade four times slower than samples are forgotten.
pub fn idle_rate(tau: Duration) -> f64 {
    1.0 / (4.0 * tau.as_secs_f64())
}

/// Reciprocals of the estimators' time constants, derived once from the config so that the hot
/// path multiplies instead of dividing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecayRates {
    /// 1 ÷ the latency EWMAs' time constant (`balancing.latency_decay`).
    pub latency: f64,
    /// How fast idle latency estimates fade, per second ([`idle_rate`]).
    pub idle: f64,
    /// 1 ÷ the error-rate window (`health.error_window`).
    pub errors: f64,
}

impl DecayRates {
    /// The rates of a config's estimator constants.
    pub fn new(balancing: &BalancingParams, health: &HealthPolicy) -> DecayRates {
        DecayRates {
            latency: 1.0 / balancing.latency_decay.as_secs_f64(),
            idle: idle_rate(balancing.latency_decay),
            errors: 1.0 / health.error_window.as_secs_f64(),
        }
    }
}

/// A latency estimate in seconds; `None` until the first sample.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Ewma {
    value: Option<f64>,
    /// When the last sample was recorded, in seconds.
    last: f64,
    peak: bool,
}

impl Ewma {
    /// A plain EWMA.
    pub fn plain() -> Ewma {
        Ewma::default()
    }

    /// A peak-sensitive EWMA: samples above the estimate replace it.
    pub fn peak() -> Ewma {
        Ewma {
            peak: true,
            ..Ewma::default()
        }
    }

    /// Records a latency sample observed at `now`.
    pub fn record(&mut self, now: Duration, sample: Duration, tau: Duration) {
        self.record_at(
            now.as_secs_f64(),
            sample.as_secs_f64(),
            1.0 / tau.as_secs_f64(),
        );
    }

    /// [`Ewma::record`] with times in seconds and 1 ÷ τ precomputed (the engine's hot path).
    pub fn record_at(&mut self, now_secs: f64, sample_secs: f64, inv_tau: f64) {
        let sample = sample_secs;
        self.value = Some(match self.value {
            None => sample,
            Some(v) if self.peak && sample > v => sample,
            Some(v) => {
                let dt = (now_secs - self.last).max(0.0);
                let w = decay(dt * inv_tau);
                v * w + sample * (1.0 - w)
            }
        });
        self.last = now_secs;
    }

    /// The estimate at `now_secs`, decayed by idle time; `None` if never measured. `idle_rate`
    /// is [`idle_rate`] of the time constant ([`DecayRates::idle`]), derived once per engine.
    pub fn decayed_at(&self, now_secs: f64, idle_rate: f64) -> Option<f64> {
        let v = self.value?;
        let idle = (now_secs - self.last).max(0.0);
        Some(v * decay(idle * idle_rate))
    }

    /// The estimate as of its last sample, not decayed by idle time since (what
    /// [`Ewma::decayed_at`] gives at an idle rate of 0); `None` if never measured.
    pub fn value(&self) -> Option<f64> {
        self.value
    }

    /// Whether any sample was recorded.
    pub fn is_measured(&self) -> bool {
        self.value.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The estimate at `now` for time constant `tau`.
    fn decayed(e: &Ewma, now: Duration, tau: Duration) -> Option<f64> {
        e.decayed_at(now.as_secs_f64(), idle_rate(tau))
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn fast_decay_matches_exp() {
        for i in 0..2000 {
            let x = f64::from(i) * 1e-4;
            assert!((decay(x) / (-x).exp() - 1.0).abs() < 3e-7, "{x}");
        }
        assert_eq!(decay(3.0), (-3.0f64).exp());
    }

    #[test]
    fn converges_to_a_steady_sample() {
        let tau = Duration::from_secs(1);
        let mut e = Ewma::plain();
        for i in 0..100 {
            e.record(ms(100 * i), ms(200), tau);
        }
        let v = decayed(&e, ms(9900), tau).unwrap();
        assert!((v - 0.2).abs() < 1e-9, "{v}");
    }

    #[test]
    fn peak_jumps_up_and_decays_down() {
        let tau = Duration::from_secs(1);
        let mut e = Ewma::peak();
        e.record(ms(0), ms(100), tau);
        e.record(ms(10), ms(900), tau);
        assert!((decayed(&e, ms(10), tau).unwrap() - 0.9).abs() < 1e-9);
        for i in 2..200 {
            e.record(ms(100 * i), ms(100), tau);
        }
        assert!(decayed(&e, ms(19900), tau).unwrap() < 0.11);
    }

    #[test]
    fn idle_estimates_decay_so_they_get_probed() {
        let tau = Duration::from_secs(1);
        let mut e = Ewma::plain();
        e.record(ms(0), ms(1000), tau);
        assert!(decayed(&e, Duration::from_secs(20), tau).unwrap() < 0.01);
        assert!(!Ewma::plain().is_measured());
    }
}
