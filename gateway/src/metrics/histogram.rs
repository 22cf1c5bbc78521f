//! Latency histograms in the Prometheus form: cumulative buckets with upper bounds [`BUCKETS`],
//! a `+Inf` bucket, a sum and a count.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::{header, num};

/// Upper bounds (seconds) of the latency histogram buckets.
pub(super) const BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// A histogram reduced to Prometheus buckets.
pub(super) struct Buckets {
    cumulative: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Buckets {
    /// One pass over the recorded values (microseconds).
    fn of(h: &Histogram<u64>) -> Buckets {
        let mut per_bucket = [0u64; BUCKETS.len()];
        let mut sum_micros = 0f64;
        for v in h.iter_recorded() {
            let value = h.lowest_equivalent(v.value_iterated_to());
            let n = v.count_at_value();
            sum_micros += h.median_equivalent(v.value_iterated_to()) as f64 * n as f64;
            let seconds = value as f64 / 1e6;
            if let Some(i) = BUCKETS.iter().position(|&le| seconds <= le) {
                per_bucket[i] += n;
            }
        }
        let mut cumulative = [0u64; BUCKETS.len()];
        let mut running = 0;
        for (c, n) in cumulative.iter_mut().zip(per_bucket) {
            running += n;
            *c = running;
        }
        Buckets {
            cumulative,
            count: h.len(),
            sum_seconds: sum_micros / 1e6,
        }
    }

    /// [`Buckets::of`] for each histogram.
    pub(super) fn all(hs: &[Histogram<u64>]) -> Vec<Buckets> {
        hs.iter().map(Buckets::of).collect()
    }
}

/// Writes one histogram series per label set; `hs` is indexed like `labels`.
pub(super) fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    labels: &[String],
    hs: &[Buckets],
) {
    header(out, name, "histogram", help);
    for (l, h) in labels.iter().zip(hs) {
        for (le, c) in BUCKETS.iter().zip(h.cumulative) {
            let _ = writeln!(out, "{name}_bucket{{{l},le=\"{le}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{l},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{{l}}} {}", num(h.sum_seconds));
        let _ = writeln!(out, "{name}_count{{{l}}} {}", h.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let mut h = engine::metrics::new_histogram();
        for micros in [1000, 1000, 1000, 20_000, 2_000_000] {
            h.record(micros).unwrap();
        }
        let b = Buckets::of(&h);
        assert_eq!(b.count, 5);
        let at = |le: f64| b.cumulative[BUCKETS.iter().position(|&x| x == le).unwrap()];
        assert_eq!(
            (at(0.005), at(0.01), at(0.025), at(1.0), at(2.5), at(300.0)),
            (3, 3, 4, 4, 5, 5)
        );
        assert!((b.sum_seconds - 2.023).abs() < 0.03, "{}", b.sum_seconds);
    }
}
