//! Latency estimators beyond plain log-normal maximum likelihood: the correction for attempts
//! cut off by a timeout (a truncated sample), the joint fit of time to first token and
//! per-token time from non-streamed answers (whose only measure is the whole latency), and the
//! Kolmogorov–Smirnov distance used to say how well a fit matches.

use super::stats::LogNormalFit;

/// Φ(x), the standard normal CDF (Abramowitz & Stegun 7.1.26 on erfc, |error| < 1.5e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-z * z).exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

/// Φ⁻¹(p), the standard normal quantile, by bisection on [`normal_cdf`] (for p in (0, 1)).
pub fn probit(p: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0, 10.0);
    for _ in 0..80 {
        let mid = (lo + hi) / 2.0;
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// φ(x), the standard normal density.
fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

impl LogNormalFit {
    /// P(X > x) under the fit.
    pub fn survival(&self, x: f64) -> f64 {
        if x.is_nan() || x <= 0.0 {
            return 1.0;
        }
        if self.sigma <= 0.0 {
            return if x.ln() < self.mu { 1.0 } else { 0.0 };
        }
        1.0 - normal_cdf((x.ln() - self.mu) / self.sigma)
    }

    /// P(X ≤ x) under the fit.
    pub fn cdf(&self, x: f64) -> f64 {
        1.0 - self.survival(x)
    }
}

/// The untruncated log-normal behind `fit`, a sample of values that were all below `cut`
/// (values above it were cut off by a timeout and are counted elsewhere): solves the truncated
/// normal's mean and variance equations for μ and σ by fixed-point iteration. Returns `fit`
/// unchanged when the cut removes (next to) nothing, and gives up (also returning `fit`) when
/// the iteration does not settle, as it cannot when most of the distribution was cut.
pub fn untruncated(fit: LogNormalFit, cut: f64) -> LogNormalFit {
    if cut.is_nan() || cut <= 0.0 || fit.sigma <= 0.0 {
        return fit;
    }
    let (m, v, b) = (fit.mu, fit.sigma * fit.sigma, cut.ln());
    let (mut mu, mut sigma) = (m, fit.sigma);
    for _ in 0..200 {
        let beta = (b - mu) / sigma;
        let phi_big = normal_cdf(beta);
        if phi_big < 0.05 {
            return fit;
        }
        let lambda = normal_pdf(beta) / phi_big;
        let shrink = 1.0 - beta * lambda - lambda * lambda;
        if shrink.is_nan() || shrink <= 0.05 {
            return fit;
        }
        let next_sigma = (v / shrink).sqrt();
        let next_mu = m + next_sigma * lambda;
        let settled = (next_mu - mu).abs() < 1e-10 && (next_sigma - sigma).abs() < 1e-10;
        mu = next_mu;
        sigma = next_sigma;
        if settled {
            return LogNormalFit {
                mu,
                sigma,
                samples: fit.samples,
            };
        }
    }
    fit
}

/// Time to first token and per-token time fitted jointly from non-streamed answers
/// `(latency s, output tokens)`, whose latency is ttft + tokens × per-token: by moments,
/// E[L | n] = E[T] + n E[P] (least squares) and Var[L | n] = Var T + n² Var P (least squares on
/// the squared residuals), each then turned into a log-normal with that mean and variance.
/// `None` with fewer than two distinct token counts (the two parts cannot be told apart).
pub fn joint_from_whole(samples: &[(f64, u32)]) -> Option<(LogNormalFit, LogNormalFit)> {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return None;
    }
    let xs: Vec<f64> = samples.iter().map(|s| f64::from(s.1)).collect();
    let ys: Vec<f64> = samples.iter().map(|s| s.0).collect();
    let (b, a) = least_squares(&xs, &ys)?;
    let mean_y = ys.iter().sum::<f64>() / n;
    let mean_x = xs.iter().sum::<f64>() / n;
    // Both parts are positive: a fit that says otherwise puts the whole mean on the other.
    let (a, b) = if a <= 0.0 {
        (mean_y * 0.01, mean_y * 0.99 / mean_x.max(1.0))
    } else if b <= 0.0 {
        (mean_y * 0.99, mean_y * 0.01 / mean_x.max(1.0))
    } else {
        (a, b)
    };
    let x2: Vec<f64> = xs.iter().map(|x| x * x).collect();
    let r2: Vec<f64> = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (y - a - b * x).powi(2))
        .collect();
    let (vb, va) = least_squares(&x2, &r2).unwrap_or((0.0, r2.iter().sum::<f64>() / n));
    let floor = |mean: f64| (mean * 0.05).powi(2);
    let samples_n = samples.len() as u64;
    Some((
        from_moments(a, va.max(floor(a)), samples_n),
        from_moments(b, vb.max(floor(b)), samples_n),
    ))
}

/// Slope and intercept of y on x by least squares; `None` when x does not vary.
fn least_squares(xs: &[f64], ys: &[f64]) -> Option<(f64, f64)> {
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    if sxx.is_nan() || sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    Some((slope, my - slope * mx))
}

/// The log-normal with this mean and variance.
fn from_moments(mean: f64, var: f64, samples: u64) -> LogNormalFit {
    let s2 = (1.0 + var / (mean * mean)).ln();
    LogNormalFit {
        mu: mean.ln() - s2 / 2.0,
        sigma: s2.sqrt(),
        samples,
    }
}

/// The Kolmogorov–Smirnov distance sup |F_observed − F_fitted| between a histogram of
/// observations (µs) and a fitted CDF (of seconds).
pub fn ks_histogram(h: &hdrhistogram::Histogram<u64>, fitted: impl Fn(f64) -> f64) -> Option<f64> {
    let total = h.len();
    if total == 0 {
        return None;
    }
    let mut below = 0u64;
    let mut worst: f64 = 0.0;
    for v in h.iter_recorded() {
        let x = h.highest_equivalent(v.value_iterated_to()) as f64 / 1e6;
        let f = fitted(x);
        worst = worst.max((below as f64 / total as f64 - f).abs());
        below += v.count_at_value();
        worst = worst.max((below as f64 / total as f64 - f).abs());
    }
    Some(worst)
}

/// The empirical CDF of sorted `values` at `x`.
pub fn ecdf(sorted: &[f64], x: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.partition_point(|v| *v <= x) as f64 / sorted.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-2.326_348) - 0.01).abs() < 1e-6);
    }

    #[test]
    fn truncation_is_undone() {
        // Sample a log-normal (μ = 0, σ = 1) by quantiles, cut at e^1 (84 % kept).
        let n = 200_000;
        let mut acc = super::super::stats::LogAcc::default();
        for i in 0..n {
            let p = (i as f64 + 0.5) / n as f64;
            let z = probit(p);
            if z < 1.0 {
                acc.add(z.exp());
            }
        }
        let cut = acc.fit().unwrap();
        assert!(cut.mu < -0.2 && cut.sigma < 0.8, "{cut:?}");
        let fixed = untruncated(cut, 1f64.exp());
        assert!(
            fixed.mu.abs() < 0.01 && (fixed.sigma - 1.0).abs() < 0.01,
            "{fixed:?}"
        );
    }

    #[test]
    fn joint_fit_recovers_means() {
        // Deterministic: ttft 0.5 s, per-token 0.01 s, tokens 10..=400.
        let samples: Vec<(f64, u32)> = (10..=400).map(|n| (0.5 + 0.01 * f64::from(n), n)).collect();
        let (t, p) = joint_from_whole(&samples).unwrap();
        let mean = |f: LogNormalFit| (f.mu + f.sigma * f.sigma / 2.0).exp();
        assert!((mean(t) - 0.5).abs() < 1e-6, "{t:?}");
        assert!((mean(p) - 0.01).abs() < 1e-8, "{p:?}");
        assert!(joint_from_whole(&[(1.0, 5), (2.0, 5)]).is_none());
    }
}
