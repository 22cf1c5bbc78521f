//! Streaming estimators: log-normal maximum likelihood (mean and standard deviation of the
//! logs, Welford's update) and quantiles from HDR histograms.

use hdrhistogram::Histogram;

/// z-scores of the 50th, 90th and 99th percentiles of a standard normal.
pub const Z: [f64; 3] = [0.0, 1.281_551_565_5, 2.326_347_874];

/// The quantiles reported everywhere: p50, p90, p99.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// A fitted log-normal: ln X ~ N(μ, σ²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogNormalFit {
    /// Mean of ln x.
    pub mu: f64,
    /// Standard deviation of ln x (maximum likelihood: divided by n).
    pub sigma: f64,
    /// Values it was fitted on.
    pub samples: u64,
}

impl LogNormalFit {
    /// The median, e^μ.
    pub fn median(&self) -> f64 {
        self.mu.exp()
    }

    /// The quantile at standard-normal score `z`, e^(μ + zσ).
    pub fn at_z(&self, z: f64) -> f64 {
        (self.mu + z * self.sigma).exp()
    }

    /// p50, p90, p99.
    pub fn quantiles(&self) -> [f64; 3] {
        Z.map(|z| self.at_z(z))
    }
}

/// Accumulates ln x for positive x.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogAcc {
    n: u64,
    mean: f64,
    m2: f64,
}

impl LogAcc {
    /// Adds a value; non-positive or non-finite values are ignored.
    pub fn add(&mut self, x: f64) {
        if !(x > 0.0 && x.is_finite()) {
            return;
        }
        let l = x.ln();
        self.n += 1;
        let d = l - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (l - self.mean);
    }

    /// Merges another accumulator (Chan et al.).
    pub fn merge(&mut self, o: &LogAcc) {
        if o.n == 0 {
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.mean += d * o.n as f64 / n as f64;
        self.m2 += o.m2 + d * d * self.n as f64 * o.n as f64 / n as f64;
        self.n = n;
    }

    /// The fit, if any value was added.
    pub fn fit(&self) -> Option<LogNormalFit> {
        (self.n > 0).then(|| LogNormalFit {
            mu: self.mean,
            sigma: (self.m2 / self.n as f64).max(0.0).sqrt(),
            samples: self.n,
        })
    }
}

/// Robust standard deviations from the median (in logs) beyond which [`trimmed_fit`] leaves a
/// value out: a log-normal puts 6 in 10 million values there.
pub const TRIM: f64 = 5.0;

/// Log-normal maximum likelihood over the values recorded in `h` (in units of `unit` seconds),
/// leaving out those more than [`TRIM`] robust standard deviations (the interquartile range of
/// the logs ÷ 1.349) from the median of the logs. On log-normal data it is the plain fit (to
/// the histogram's 0.1 % resolution); a few gross outliers cannot move it. `None` when empty.
pub fn trimmed_fit(h: &Histogram<u64>, unit: f64) -> Option<LogNormalFit> {
    if h.is_empty() {
        return None;
    }
    let ln_at = |q: f64| (h.value_at_quantile(q).max(1) as f64).ln();
    let (lo, median, hi) = (ln_at(0.25), ln_at(0.5), ln_at(0.75));
    let reach = TRIM * (hi - lo) / 1.349;
    let mut acc = LogAcc::default();
    for v in h.iter_recorded() {
        let x = h.median_equivalent(v.value_iterated_to()).max(1) as f64;
        if reach > 0.0 && (x.ln() - median).abs() > reach {
            continue;
        }
        acc.merge(&LogAcc {
            n: v.count_at_value(),
            mean: (x * unit).ln(),
            m2: 0.0,
        });
    }
    acc.fit()
}

/// An auto-resizing histogram with 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant figures is a valid precision")
}

/// Records a value, growing the histogram's range as needed.
pub fn record(h: &mut Histogram<u64>, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

/// p50, p90, p99 of a histogram, or `None` if empty.
pub fn quantiles(h: &Histogram<u64>) -> Option<[f64; 3]> {
    (!h.is_empty()).then(|| QUANTILES.map(|q| h.value_at_quantile(q) as f64))
}

/// p50, p90, p99 of values (sorted in place).
pub fn sample_quantiles(values: &mut [f64]) -> [f64; 3] {
    values.sort_unstable_by(f64::total_cmp);
    QUANTILES.map(|q| {
        let i = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len().max(1)) - 1;
        values.get(i).copied().unwrap_or(f64::NAN)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimmed_fit_is_the_plain_fit_without_outliers_and_ignores_a_few() {
        // Log-normal μ = ln 0.008, σ = 0.4 by quantiles, in ns.
        let mut h = histogram();
        let mut plain = LogAcc::default();
        let n = 20_000;
        for i in 0..n {
            let z = super::super::latency::probit((i as f64 + 0.5) / n as f64);
            let x = 0.008 * (0.4 * z).exp();
            plain.add(x);
            record(&mut h, (x * 1e9).round() as u64);
        }
        let (p, t) = (plain.fit().unwrap(), trimmed_fit(&h, 1e-9).unwrap());
        assert!(
            (p.mu - t.mu).abs() < 1e-3 && (p.sigma - t.sigma).abs() < 1e-3,
            "{p:?} {t:?}"
        );
        // Ten streams delivered in one burst: per-token times near zero.
        for _ in 0..10 {
            record(&mut h, 10_000);
        }
        let t = trimmed_fit(&h, 1e-9).unwrap();
        assert!((p.sigma - t.sigma).abs() < 1e-3, "{t:?}");
        assert_eq!(t.samples, n);
    }

    #[test]
    fn lognormal_mle_of_known_logs() {
        let mut a = LogAcc::default();
        for l in [1.0f64, 2.0, 3.0, 4.0] {
            a.add(l.exp());
        }
        a.add(0.0);
        let f = a.fit().unwrap();
        assert!((f.mu - 2.5).abs() < 1e-12);
        assert!((f.sigma - 1.25f64.sqrt()).abs() < 1e-12);
        let (mut x, mut y) = (LogAcc::default(), LogAcc::default());
        for l in [1.0f64, 2.0] {
            x.add(l.exp());
        }
        for l in [3.0f64, 4.0] {
            y.add(l.exp());
        }
        x.merge(&y);
        let g = x.fit().unwrap();
        assert!((g.mu - f.mu).abs() < 1e-12 && (g.sigma - f.sigma).abs() < 1e-12);
    }
}
