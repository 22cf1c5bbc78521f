//! Whether one real run agrees with the simulator: each quantity within a target of the
//! simulator's mean over its seeds, or — where one seed of the simulator does not predict
//! another within that target — within [`SPREAD_SD`] standard deviations of the seeds' values.
//! One rule for every case and quantity; the test names the target, never a per-case margin.

/// Where one seed of the simulator does not predict another within a target (least-latency
/// herds onto one provider for stretches whose length depends on its first samples), the
/// real run, one more draw, may differ from the simulator's mean by this many standard
/// deviations of the seeds' values (× √(1 + 1/seeds), the spread of a new draw around a mean
/// of that many).
pub const SPREAD_SD: f64 = 3.0;

/// One compared quantity: its name, the real run's value and the simulator's per-seed values.
pub struct Metric {
    pub name: String,
    pub gateway: f64,
    pub seeds: Vec<f64>,
    /// Compared relative to the simulator's mean (`true`) or as a difference (points).
    pub relative: bool,
    pub target: f64,
}

impl Metric {
    /// The simulator's mean over its seeds.
    pub fn mean(&self) -> f64 {
        self.seeds.iter().sum::<f64>() / self.seeds.len() as f64
    }

    /// The gateway's difference from the simulator's mean: relative, or in the values' units.
    pub fn difference(&self) -> f64 {
        let d = self.gateway - self.mean();
        if self.relative {
            d / self.mean().max(1e-9)
        } else {
            d
        }
    }

    /// What the seeds' spread allows (same units as [`Metric::difference`]).
    pub fn spread_allowance(&self) -> f64 {
        let k = self.seeds.len() as f64;
        let m = self.mean();
        let sd = (self.seeds.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
        let sd = if self.relative { sd / m.max(1e-9) } else { sd };
        SPREAD_SD * sd * (1.0 + 1.0 / k).sqrt()
    }

    /// The larger of the target and what the seeds' spread allows.
    pub fn allowed(&self) -> f64 {
        self.target.max(self.spread_allowance())
    }

    /// One line: both values, the difference, what is allowed and why.
    pub fn line(&self) -> String {
        let (scale, unit) = if self.relative {
            (100.0, "%")
        } else {
            (1.0, "")
        };
        let lo = self.seeds.iter().copied().fold(f64::MAX, f64::min);
        let hi = self.seeds.iter().copied().fold(f64::MIN, f64::max);
        format!(
            "  {:<12} sim {:9.2} (seeds {:.2}–{:.2}) gw {:9.2}  Δ {:+6.1}{unit} allowed ±{:.1}{unit} ({}){}",
            self.name,
            self.mean(),
            lo,
            hi,
            self.gateway,
            self.difference() * scale,
            self.allowed() * scale,
            if self.spread_allowance() > self.target {
                "seeds' spread"
            } else {
                "target"
            },
            if self.difference().abs() > self.allowed() {
                "  ← OUT"
            } else {
                ""
            },
        )
    }
}

/// Prints every metric and panics naming those that disagree.
pub fn assert_agree(label: &str, metrics: &[Metric]) {
    for m in metrics {
        println!("{}", m.line());
    }
    let failed: Vec<String> = metrics
        .iter()
        .filter(|m| m.difference().abs() > m.allowed())
        .map(|m| m.line().trim().to_owned())
        .collect();
    assert!(failed.is_empty(), "{label}:\n{}", failed.join("\n"));
}
