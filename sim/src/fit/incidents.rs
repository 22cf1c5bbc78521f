//! Outages fitted from a trace: stretches where a deployment's attempts fail (connection errors,
//! 5xx, timeouts) far above its base rate, written as the scenario's `[[world.incident]]`
//! `kind = "outage"` with the mode the failures show (`connection`, `503` or `hang`). The
//! attempts inside a stretch are taken out of the deployment's base error and timeout rates,
//! so the outage is not also smeared over the whole run.
//!
//! Each deployment's attempts are counted per [`BUCKET_NS`] of send time. A bucket with at
//! least as many failures as successes opens (or continues) a stretch, a bucket with more
//! successes closes it, empty buckets (a breaker keeping traffic away) change nothing. A
//! stretch is an outage when it holds at least [`MIN_FAILURES`] failures and at least
//! [`MIN_FAILED_SHARE`] of its attempts failed; it starts at its first failure and ends halfway
//! between its last failure and the next success.

use std::collections::BTreeMap;
use std::time::Duration;

use super::estimate::DeploymentAcc;
use super::row::{Attempt, Class};

/// Width of a counting bucket: 5 s of send time, in ns.
pub const BUCKET_NS: i64 = 5_000_000_000;
/// Buckets remembered per deployment (about 58 days of 5 s buckets); later ones are not counted.
const MAX_BUCKETS: usize = 1_000_000;
/// Failures a stretch needs to be an outage.
pub const MIN_FAILURES: u64 = 5;
/// Share of a stretch's attempts that must have failed.
pub const MIN_FAILED_SHARE: f64 = 0.8;

/// One bucket of a deployment's attempts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bucket {
    /// Successes.
    ok: u64,
    /// Failures: connection errors, 5xx, timeouts.
    failed: [u64; 3],
    /// Send times of the first and last failure, ns.
    failed_at: Option<(i64, i64)>,
    /// Send time of the first success, ns.
    first_ok: Option<i64>,
}

impl Bucket {
    fn failures(&self) -> u64 {
        self.failed.iter().sum()
    }
}

/// Counts one attempt into its deployment's buckets.
pub(super) fn count(buckets: &mut BTreeMap<i64, Bucket>, a: &Attempt<'_>) {
    let kind = match a.class {
        Class::Connection => Some(0),
        Class::Server => Some(1),
        Class::Timeout => Some(2),
        Class::Ok => None,
        _ => return,
    };
    let key = a.at.div_euclid(BUCKET_NS);
    if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
        return;
    }
    let b = buckets.entry(key).or_default();
    match kind {
        Some(k) => {
            b.failed[k] += 1;
            b.failed_at = Some(match b.failed_at {
                None => (a.at, a.at),
                Some((lo, hi)) => (lo.min(a.at), hi.max(a.at)),
            });
        }
        None => {
            b.ok += 1;
            b.first_ok = Some(b.first_ok.map_or(a.at, |t| t.min(a.at)));
        }
    }
}

/// How a fitted outage fails attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageMode {
    /// Connections refused.
    Connection,
    /// 503s.
    Unavailable,
    /// No answer (attempts time out).
    Hang,
}

impl OutageMode {
    /// The scenario's `mode` value.
    pub fn name(self) -> &'static str {
        match self {
            OutageMode::Connection => "connection",
            OutageMode::Unavailable => "503",
            OutageMode::Hang => "hang",
        }
    }
}

/// An outage of one deployment seen in the trace.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedOutage {
    /// The deployment.
    pub deployment: String,
    /// How it failed attempts.
    pub mode: OutageMode,
    /// Start, from the trace's first request.
    pub start: Duration,
    /// End, from the trace's first request.
    pub end: Duration,
    /// Attempts it failed.
    pub failures: u64,
    /// Attempts that succeeded inside it.
    pub successes: u64,
}

/// A stretch being followed.
struct Open {
    first_fail: i64,
    last_fail: i64,
    failed: [u64; 3],
    ok: u64,
}

/// Finds `d`'s outages (times from `origin`, ns) and takes their attempts out of its counts.
pub(super) fn detect(d: &mut DeploymentAcc, origin: i64) -> Vec<FittedOutage> {
    let mut found = Vec::new();
    let mut open: Option<Open> = None;
    let buckets: Vec<Bucket> = d.buckets.values().copied().collect();
    for b in buckets.iter().chain(std::iter::once(&Bucket {
        ok: 1,
        ..Bucket::default()
    })) {
        let failures = b.failures();
        if failures == 0 && b.ok == 0 {
            continue;
        }
        if failures >= b.ok {
            let (lo, hi) = b.failed_at.unwrap_or_default();
            let s = open.get_or_insert(Open {
                first_fail: lo,
                last_fail: hi,
                failed: [0; 3],
                ok: 0,
            });
            s.last_fail = s.last_fail.max(hi);
            for (t, n) in s.failed.iter_mut().zip(b.failed) {
                *t += n;
            }
            s.ok += b.ok;
            continue;
        }
        if let Some(s) = open.take() {
            let next_ok = b.first_ok.filter(|&t| t > s.last_fail);
            if let Some(o) = close(d, &s, next_ok, origin) {
                found.push(o);
            }
        }
    }
    found
}

fn close(
    d: &mut DeploymentAcc,
    s: &Open,
    next_ok: Option<i64>,
    origin: i64,
) -> Option<FittedOutage> {
    let failures: u64 = s.failed.iter().sum();
    let share = failures as f64 / (failures + s.ok).max(1) as f64;
    if failures < MIN_FAILURES || share < MIN_FAILED_SHARE {
        return None;
    }
    let mode = match (0..3).max_by_key(|&k| (s.failed[k], k)) {
        Some(0) => OutageMode::Connection,
        Some(1) => OutageMode::Unavailable,
        _ => OutageMode::Hang,
    };
    let end = next_ok.map_or(s.last_fail, |t| s.last_fail + (t - s.last_fail) / 2);
    let at = |t: i64| Duration::from_nanos(u64::try_from(t.saturating_sub(origin)).unwrap_or(0));
    // The stretch's attempts are the outage's, not the deployment's base behaviour.
    d.connection = d.connection.saturating_sub(s.failed[0]);
    d.server = d.server.saturating_sub(s.failed[1]);
    d.timeout = d.timeout.saturating_sub(s.failed[2]);
    d.attempts = d.attempts.saturating_sub(failures);
    Some(FittedOutage {
        deployment: d.id.clone(),
        mode,
        start: at(s.first_fail),
        end: at(end).max(at(s.first_fail) + Duration::from_millis(1)),
        failures,
        successes: s.ok,
    })
}
