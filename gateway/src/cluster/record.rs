//! A replica's record in the store: one hash field per deployment id, its value a short line of
//! numbers. Times cross hosts as Unix milliseconds; use as plain decimals.
//!
//! `v1 <used rpm> <used tpm> <used rpd> <fleet-used rpm> <fleet-used tpm> <fleet-used rpd>
//! <published ms> <cooldown ms> <breaker ms|-> <rpm seen: at ms limit|- remaining | - - ->
//! <tpm seen: …>`
//!
//! What another replica wrote is input like any other: a malformed or out-of-range value drops
//! that field (and is counted), never the exchange.

use std::fmt::Write as _;
use std::time::Duration;

use engine::cluster::{Observation, Published, ReplicaRecord};

/// Largest use a record may carry: far above any provider's limit, exact as an `f64`.
const MAX_USE: f64 = 1e15;

/// Converts between the engine's clock (time since the gateway started) and the fleet's
/// (Unix time), which is what crosses hosts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// Unix time when the engine's clock read zero.
    pub epoch_unix: Duration,
}

impl Clock {
    fn unix_ms(self, t: Duration) -> u64 {
        u64::try_from(self.epoch_unix.saturating_add(t).as_millis()).unwrap_or(u64::MAX)
    }

    fn engine_time(self, ms: u64) -> Duration {
        Duration::from_millis(ms).saturating_sub(self.epoch_unix)
    }
}

/// The hash field holding the record's incarnation (no deployment id is empty).
const INCARNATION: &str = "";
/// Prefix of a client's field (a NUL byte no deployment id carries), then its name; the value
/// is `c1`, its five running totals and what its five windows count now.
const CLIENT: &str = "\u{0}c:";

/// The hash fields and values of one record.
pub(crate) fn encode(record: &ReplicaRecord, clock: Clock) -> Vec<(String, String)> {
    let incarnation = (INCARNATION.to_owned(), record.incarnation.to_string());
    std::iter::once(incarnation)
        .chain(record.deployments.iter().map(|(id, p)| {
            let mut v = String::from("v1");
            for x in p.used_total.iter().chain(&p.fleet_used) {
                let _ = write!(v, " {x}");
            }
            let _ = write!(
                v,
                " {} {}",
                clock.unix_ms(p.at),
                clock.unix_ms(p.cooldown_until)
            );
            match p.breaker_open_until {
                Some(t) => {
                    let _ = write!(v, " {}", clock.unix_ms(t));
                }
                None => v.push_str(" -"),
            }
            for seen in p.observed {
                match seen {
                    Some(o) => {
                        let _ = write!(v, " {}", clock.unix_ms(o.at));
                        match o.limit {
                            Some(l) => {
                                let _ = write!(v, " {l}");
                            }
                            None => v.push_str(" -"),
                        }
                        let _ = write!(v, " {}", o.remaining);
                    }
                    None => v.push_str(" - - -"),
                }
            }
            (id.clone(), v)
        }))
        .chain(record.clients.iter().map(|(name, totals, in_window)| {
            let mut v = String::from("c1");
            for t in totals.iter().chain(in_window) {
                let _ = write!(v, " {t}");
            }
            (format!("{CLIENT}{name}"), v)
        }))
        .collect()
}

/// A record from hash fields and values; the second value counts fields that were dropped.
pub(crate) fn decode(fields: &[(String, String)], clock: Clock) -> (ReplicaRecord, usize) {
    let mut record = ReplicaRecord::default();
    let mut dropped = 0;
    for (id, value) in fields {
        if id == INCARNATION {
            match value.parse() {
                Ok(n) => record.incarnation = n,
                Err(_) => dropped += 1,
            }
            continue;
        }
        if let Some(name) = id.strip_prefix(CLIENT) {
            match decode_client(value) {
                Some((totals, in_window)) => {
                    record.clients.push((name.to_owned(), totals, in_window))
                }
                None => dropped += 1,
            }
            continue;
        }
        match decode_one(value, clock) {
            Some(p) => record.deployments.push((id.clone(), p)),
            None => dropped += 1,
        }
    }
    (record, dropped)
}

fn decode_one(value: &str, clock: Clock) -> Option<Published> {
    let mut parts = value.split(' ');
    if parts.next()? != "v1" {
        return None;
    }
    let mut number = || -> Option<f64> {
        let x: f64 = parts.next()?.parse().ok()?;
        (x.is_finite() && x.abs() <= MAX_USE).then_some(x)
    };
    let mut p = Published::default();
    for slot in p.used_total.iter_mut() {
        *slot = number()?;
    }
    for slot in p.fleet_used.iter_mut() {
        *slot = number()?.max(0.0);
    }
    let mut rest = parts;
    p.at = unix_time(rest.next()?, clock)?;
    p.cooldown_until = unix_time(rest.next()?, clock)?;
    p.breaker_open_until = optional(rest.next()?, |t| unix_time(t, clock))?;
    for slot in p.observed.iter_mut() {
        let (at, limit, remaining) = (rest.next()?, rest.next()?, rest.next()?);
        *slot = match optional(at, |t| unix_time(t, clock))? {
            None => None,
            Some(at) => Some(Observation {
                at,
                limit: optional(limit, count)?,
                remaining: count(remaining)?,
            }),
        };
    }
    rest.next().is_none().then_some(p)
}

fn decode_client(value: &str) -> Option<([i64; 5], [i64; 5])> {
    let mut parts = value.split(' ');
    if parts.next()? != "c1" {
        return None;
    }
    let (mut totals, mut in_window) = ([0i64; 5], [0i64; 5]);
    for t in totals.iter_mut().chain(in_window.iter_mut()) {
        *t = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some((totals, in_window))
}

fn unix_time(text: &str, clock: Clock) -> Option<Duration> {
    Some(clock.engine_time(text.parse().ok()?))
}

fn count(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().filter(|&n| n as f64 <= MAX_USE)
}

/// `-` is none; anything else must parse.
fn optional<T>(text: &str, parse: impl Fn(&str) -> Option<T>) -> Option<Option<T>> {
    match text {
        "-" => Some(None),
        t => parse(t).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CLOCK: Clock = Clock {
        epoch_unix: Duration::from_secs(1_700_000_000),
    };

    fn sample() -> Published {
        Published {
            used_total: [12.0, 3456.0, 12.0],
            fleet_used: [40.0, 9000.5, 400.0],
            at: Duration::from_millis(1500),
            cooldown_until: Duration::from_millis(31_500),
            breaker_open_until: Some(Duration::from_secs(60)),
            observed: [
                Some(Observation {
                    at: Duration::from_millis(1400),
                    limit: Some(500),
                    remaining: 3,
                }),
                None,
            ],
        }
    }

    #[test]
    fn round_trip() {
        let record = ReplicaRecord {
            incarnation: 42,
            deployments: vec![("openai-key1".into(), sample())],
            clients: vec![(
                "team-a".into(),
                [3, 4000, 3, 5_000_000, -2],
                [1, 900, 3, 5_000_000, 7],
            )],
        };
        let fields = encode(&record, CLOCK);
        assert_eq!(decode(&fields, CLOCK), (record, 0));
    }

    #[test]
    fn bad_fields_are_dropped_not_fatal() {
        for bad in [
            "",
            "v2 1 2 3 4 5 6 7 8 - - - - - - -",
            "v1 1 2 3",
            "v1 NaN 2 3 4 5 6 7 8 - - - - - - -",
            "v1 1e300 2 3 4 5 6 7 8 - - - - - - -",
            "v1 1 2 3 4 5 6 x 8 - - - - - - -",
            "v1 1 2 3 4 5 6 7 8 - - - - - - - extra",
        ] {
            let fields = vec![("d".to_owned(), bad.to_owned())];
            let (record, dropped) = decode(&fields, CLOCK);
            assert_eq!((record.deployments.len(), dropped), (0, 1), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn any_text_decodes_or_is_dropped(value in ".{0,120}", spaced in "v1( [-0-9.e]{1,6}){15,17}") {
            for v in [value, spaced] {
                let fields = vec![("d".to_owned(), v)];
                let (record, dropped) = decode(&fields, CLOCK);
                prop_assert_eq!(record.deployments.len() + dropped, 1);
            }
        }
    }
}
