//! Workloads: when requests arrive, how big they are and which model they ask for.

use std::time::Duration;

use rand::Rng as _;
use rand_distr::{Distribution, Exp1};

use crate::dist::Dist;
use crate::scenario::raw::ArrivalSpec;
use crate::Rng;

/// A share of the traffic asking for one model name.
#[derive(Debug, Clone)]
pub struct MixEntry {
    /// Requested model name.
    pub model: String,
    /// Tier the gateway routes it to.
    pub tier: engine::TierId,
    /// Cumulative share up to and including this entry (last is 1).
    pub cumulative: f64,
    /// The `[[client]]` sending this share (`[[workload.mix]] client`), if any.
    pub client: Option<engine::ClientId>,
}

/// A validated workload.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Arrival process.
    pub arrivals: ArrivalSpec,
    /// Input tokens per request.
    pub input_tokens: Dist,
    /// Output tokens per request.
    pub output_tokens: Dist,
    /// `max_tokens` the client sends: the gateway's output estimate, and a cap on output.
    pub max_tokens: Option<u32>,
    /// The client gives up after this long.
    pub client_timeout: Duration,
    /// Share of requests that ask for a streamed answer (default 1: all stream).
    pub stream_share: f64,
    /// Model mix.
    pub mix: Vec<MixEntry>,
    /// Multi-turn sessions, if arrivals form any (see [`crate::sessions`]).
    pub sessions: Option<crate::sessions::SessionSpec>,
}

impl Workload {
    /// Whether the next request streams: `stream_share` of them do (no draw when it is 0 or 1).
    pub fn draws_stream(&self, rng: &mut Rng) -> bool {
        if self.stream_share >= 1.0 {
            true
        } else if self.stream_share <= 0.0 {
            false
        } else {
            rng.random::<f64>() < self.stream_share
        }
    }

    /// Picks a mix entry.
    pub fn pick_model(&self, rng: &mut Rng) -> usize {
        if self.mix.len() == 1 {
            return 0;
        }
        let u = rng.random::<f64>();
        self.mix
            .iter()
            .position(|m| u < m.cumulative)
            .unwrap_or(self.mix.len() - 1)
    }

    /// Draws (input, true output, estimated output) token counts.
    pub fn draw_tokens(&self, rng: &mut Rng) -> (u32, u32, u32) {
        let input = self
            .input_tokens
            .sample(rng)
            .round()
            .clamp(1.0, 2_000_000.0) as u32;
        let mut output = self
            .output_tokens
            .sample(rng)
            .round()
            .clamp(1.0, 2_000_000.0) as u32;
        let estimate = match self.max_tokens {
            Some(max) => {
                output = output.min(max);
                max
            }
            None => output,
        };
        (input, output, estimate)
    }
}

/// Generates arrival times (seconds) for an [`ArrivalSpec`].
#[derive(Debug, Clone)]
pub struct ArrivalClock {
    spec: ArrivalSpec,
    now: f64,
    bursting: bool,
    state_ends: f64,
}

impl ArrivalClock {
    /// A clock at time zero.
    pub fn new(spec: ArrivalSpec, rng: &mut Rng) -> ArrivalClock {
        let mut clock = ArrivalClock {
            spec,
            now: 0.0,
            bursting: false,
            state_ends: 0.0,
        };
        if let ArrivalSpec::Bursty { mean_gap, .. } = clock.spec {
            clock.state_ends = exp(rng) * mean_gap.as_secs_f64();
        }
        clock
    }

    /// The next arrival time in seconds, or `None` if the rate is zero forever (or so small the
    /// next arrival is beyond any finite time). Each call takes time proportional to the state
    /// changes (bursty) or rejected candidates (diurnal) it passes: the scenario's limits on
    /// rates and burst lengths (at least one request per 1000 bursts
    /// on average) keep those bounded.
    pub fn next(&mut self, rng: &mut Rng) -> Option<f64> {
        match self.spec {
            ArrivalSpec::Constant { rate } => {
                self.now += 1.0 / positive(rate)?;
            }
            ArrivalSpec::Poisson { rate } => {
                self.now += exp(rng) / positive(rate)?;
            }
            ArrivalSpec::Bursty {
                base_rate,
                burst_rate,
                mean_burst,
                mean_gap,
            } => {
                positive(base_rate.max(burst_rate))?;
                // Memorylessness: restart the draw at each state change.
                loop {
                    let rate = if self.bursting { burst_rate } else { base_rate };
                    let candidate = if rate > 0.0 {
                        self.now + exp(rng) / rate
                    } else {
                        f64::INFINITY
                    };
                    if candidate < self.state_ends {
                        self.now = candidate;
                        break;
                    }
                    self.now = self.state_ends;
                    self.bursting = !self.bursting;
                    let mean = if self.bursting { mean_burst } else { mean_gap };
                    self.state_ends = self.now + exp(rng) * mean.as_secs_f64();
                }
            }
            ArrivalSpec::Diurnal {
                mean_rate,
                amplitude,
                period,
                peak,
            } => {
                // Lewis–Shedler thinning against the peak rate.
                let max_rate = positive(mean_rate * (1.0 + amplitude))?;
                let (period, peak) = (period.as_secs_f64(), peak.as_secs_f64());
                loop {
                    self.now += exp(rng) / max_rate;
                    if !self.now.is_finite() {
                        return None;
                    }
                    let phase = std::f64::consts::TAU * (self.now - peak) / period;
                    let rate = mean_rate * (1.0 + amplitude * phase.cos());
                    if rng.random::<f64>() * max_rate < rate {
                        break;
                    }
                }
            }
        }
        Some(self.now)
    }
}

fn exp(rng: &mut Rng) -> f64 {
    Exp1.sample(rng)
}

fn positive(rate: f64) -> Option<f64> {
    (rate > 0.0).then_some(rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn count(spec: ArrivalSpec, horizon: f64) -> usize {
        let mut rng = Rng::seed_from_u64(3);
        let mut clock = ArrivalClock::new(spec, &mut rng);
        std::iter::from_fn(|| clock.next(&mut rng))
            .take_while(|&t| t < horizon)
            .count()
    }

    #[test]
    fn rates_match_over_a_long_horizon() {
        assert_eq!(count(ArrivalSpec::Constant { rate: 4.0 }, 100.0), 399);
        let n = count(ArrivalSpec::Poisson { rate: 10.0 }, 10_000.0) as f64;
        assert!((n / 100_000.0 - 1.0).abs() < 0.01, "{n}");
        let bursty = ArrivalSpec::Bursty {
            base_rate: 1.0,
            burst_rate: 21.0,
            mean_burst: Duration::from_secs(10),
            mean_gap: Duration::from_secs(10),
        };
        let n = count(bursty, 100_000.0) as f64;
        assert!((n / 1_100_000.0 - 1.0).abs() < 0.03, "{n}");
        let diurnal = ArrivalSpec::Diurnal {
            mean_rate: 5.0,
            amplitude: 0.9,
            period: Duration::from_secs(1000),
            peak: Duration::from_secs(250),
        };
        let n = count(diurnal, 100_000.0) as f64;
        assert!((n / 500_000.0 - 1.0).abs() < 0.01, "{n}");
    }

    #[test]
    fn vanishing_rates_end_instead_of_spinning() {
        let tiny = ArrivalSpec::Diurnal {
            mean_rate: 5e-324,
            amplitude: 0.5,
            period: Duration::from_secs(60),
            peak: Duration::ZERO,
        };
        assert_eq!(count(tiny, 100.0), 0);
    }
}
