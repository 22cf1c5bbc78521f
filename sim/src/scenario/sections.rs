//! `[simulation]` and `[workload]`: every value range-checked (see [`super::limits`]).

use std::time::Duration;

use engine::{Config, StrategyKind};
use toml::Spanned;

use super::limits::{self, MAX_TIME};
use super::raw::{self, ArrivalSpec};
use super::{Ctx, ScenarioError, Settings};
use crate::dist::Unit;
use crate::workload::{MixEntry, Workload};

const NANO: Duration = Duration::from_nanos(1);

pub(super) fn settings(
    ctx: &Ctx<'_>,
    s: &Spanned<raw::RawSimulation>,
) -> Result<Settings, ScenarioError> {
    let span = s.span();
    let s = s.get_ref();
    let path = "simulation";
    let duration = ctx.duration(&span, path, "duration", s.duration, (NANO, MAX_TIME))?;
    let drain = ctx.duration(&span, path, "drain", s.drain, (Duration::ZERO, MAX_TIME))?;
    let strategies = match &s.strategies {
        None => StrategyKind::ALL.to_vec(),
        Some(names) if names.is_empty() => {
            return Err(ctx.key_err(&span, path, "strategies", "expected at least one strategy"))
        }
        Some(names) => names
            .iter()
            .map(|n| n.parse::<StrategyKind>())
            .collect::<Result<_, _>>()
            .map_err(|m| ctx.key_err(&span, path, "strategies", m))?,
    };
    // At most MAX_BUCKETS buckets over the run and its drain.
    let min_bucket = ((duration + drain) / limits::MAX_BUCKETS as u32).max(NANO);
    let bucket = match s.bucket {
        Some(b) => {
            if b < min_bucket || b > MAX_TIME {
                return Err(ctx.key_err(
                    &span,
                    path,
                    "bucket",
                    format!(
                        "{} is out of range; expected a duration from {} ((duration + drain) / {}, \
                         so a run has at most {} time buckets) to {}",
                        limits::show(b),
                        limits::show(min_bucket),
                        limits::MAX_BUCKETS,
                        limits::MAX_BUCKETS,
                        limits::show(MAX_TIME)
                    ),
                ));
            }
            b
        }
        None => (duration / 120).max(Duration::from_secs(1)).max(min_bucket),
    };
    let replicas = replicas(ctx, &span, s)?;
    Ok(Settings {
        seed: s.seed,
        duration,
        max_requests: s.requests,
        strategies,
        bucket,
        drain,
        replicas,
    })
}

/// Largest simulated fleet.
const MAX_REPLICAS: i64 = 64;

fn replicas(
    ctx: &Ctx<'_>,
    span: &std::ops::Range<usize>,
    s: &raw::RawSimulation,
) -> Result<super::Replicas, ScenarioError> {
    let path = "simulation";
    let count = s.replicas.unwrap_or(1);
    if !(1..=MAX_REPLICAS).contains(&count) {
        return Err(ctx.key_err(
            span,
            path,
            "replicas",
            format!("{count} is out of range; expected an integer from 1 to {MAX_REPLICAS}"),
        ));
    }
    let interval = s.sync_interval.unwrap_or(Duration::from_millis(100));
    let (lo, hi) = (
        engine::config::cluster::MIN_SYNC_INTERVAL,
        engine::config::cluster::MAX_SYNC_INTERVAL,
    );
    let sync_interval = ctx.duration(span, path, "sync_interval", interval, (lo, hi))?;
    let delay = s.sync_delay.unwrap_or(Duration::from_millis(1));
    let sync_delay = ctx.duration(
        span,
        path,
        "sync_delay",
        delay,
        (Duration::ZERO, sync_interval),
    )?;
    let weights = match &s.replica_weights {
        None => vec![1.0; count as usize],
        Some(w) => {
            let ok = w.len() == count as usize
                && w.iter().all(|x| x.is_finite() && (0.0..=1e6).contains(x))
                && w.iter().sum::<f64>() > 0.0;
            if !ok {
                return Err(ctx.key_err(
                    span,
                    path,
                    "replica_weights",
                    format!("expected {count} weights (one per replica) from 0 to 10^6, not all 0"),
                ));
            }
            w.clone()
        }
    };
    Ok(super::Replicas {
        count: count as u32,
        sync_interval,
        sync_delay,
        weights,
        shared: s.shared_limits,
    })
}

/// Checks the arrival process's rates and times.
fn arrivals(
    ctx: &Ctx<'_>,
    span: &std::ops::Range<usize>,
    spec: &ArrivalSpec,
    settings: &Settings,
) -> Result<(), ScenarioError> {
    let key = |kind: &str, name: &str| format!("arrivals.{kind}.{name}");
    let err = |kind: &str, name: &str, m: String| {
        ctx.err(
            Some(&ctx.at(span, "arrivals")),
            format!("workload.{}", key(kind, name)),
            m,
        )
    };
    match spec {
        ArrivalSpec::Constant { rate } => {
            limits::rate(*rate, false).map_err(|m| err("constant", "rate", m))?;
        }
        ArrivalSpec::Poisson { rate } => {
            limits::rate(*rate, false).map_err(|m| err("poisson", "rate", m))?;
        }
        ArrivalSpec::Bursty {
            base_rate,
            burst_rate,
            mean_burst,
            mean_gap,
        } => {
            limits::rate(*base_rate, true).map_err(|m| err("bursty", "base_rate", m))?;
            limits::rate(*burst_rate, true).map_err(|m| err("bursty", "burst_rate", m))?;
            if base_rate.max(*burst_rate) <= 0.0 {
                return Err(err(
                    "bursty",
                    "burst_rate",
                    "0 with base_rate 0: no request would ever arrive; expected a rate > 0".into(),
                ));
            }
            let per_cycle =
                burst_rate * mean_burst.as_secs_f64() + base_rate * mean_gap.as_secs_f64();
            if per_cycle < limits::MIN_REQUESTS_PER_BURST {
                return Err(err(
                    "bursty",
                    "burst_rate",
                    format!(
                        "{per_cycle} requests per burst and gap on average \
                         (burst_rate × mean_burst + base_rate × mean_gap); expected at least {}",
                        limits::MIN_REQUESTS_PER_BURST
                    ),
                ));
            }
            let min = (settings.duration / limits::MAX_BURSTY_STATES).max(limits::MIN_BURSTY_STATE);
            for (name, d) in [("mean_burst", mean_burst), ("mean_gap", mean_gap)] {
                limits::duration_in(*d, min, MAX_TIME).map_err(|m| {
                    err(
                        "bursty",
                        name,
                        format!(
                            "{m} (at least 1ms and duration / {}, so a run has at most about {} bursts)",
                            limits::MAX_BURSTY_STATES,
                            limits::MAX_BURSTY_STATES
                        ),
                    )
                })?;
            }
        }
        ArrivalSpec::Diurnal {
            mean_rate,
            amplitude,
            period,
            peak,
        } => {
            limits::rate(*mean_rate, false).map_err(|m| err("diurnal", "mean_rate", m))?;
            if !(0.0..=1.0).contains(amplitude) {
                return Err(err(
                    "diurnal",
                    "amplitude",
                    format!("{amplitude:?} is out of range; expected a relative swing from 0 to 1"),
                ));
            }
            limits::duration_in(*period, NANO, MAX_TIME)
                .map_err(|m| err("diurnal", "period", m))?;
            limits::duration_in(*peak, Duration::ZERO, MAX_TIME)
                .map_err(|m| err("diurnal", "peak", m))?;
        }
    }
    Ok(())
}

pub(super) fn workload(
    ctx: &Ctx<'_>,
    w: &Spanned<raw::RawWorkload>,
    config: &Config,
    settings: &Settings,
) -> Result<Workload, ScenarioError> {
    let span = w.span();
    let w = w.get_ref();
    let path = "workload";
    arrivals(ctx, &span, &w.arrivals, settings)?;
    let mut mix = Vec::new();
    if w.mix.is_empty() {
        mix.push(MixEntry {
            model: config.tiers[0].name.clone(),
            tier: engine::TierId::from_index(0),
            cumulative: 1.0,
            client: None,
        });
    } else {
        let mut total = 0.0;
        for (i, m) in w.mix.iter().enumerate() {
            let entry = format!("workload.mix[{i}]");
            if !(m.share.is_finite() && m.share > 0.0 && m.share <= 1e6) {
                return Err(ctx.err(
                    Some(&span),
                    format!("{entry}.share"),
                    format!(
                        "{:?} is out of range; expected a share > 0 and ≤ 1e6",
                        m.share
                    ),
                ));
            }
            limits::name(&m.model)
                .map_err(|e| ctx.err(Some(&span), format!("{entry}.model"), e))?;
            total += m.share;
        }
        let mut cumulative = 0.0;
        for (i, m) in w.mix.iter().enumerate() {
            let tier = config.route(&m.model).ok_or_else(|| {
                ctx.err(
                    Some(&span),
                    format!("workload.mix[{i}].model"),
                    format!("{:?} matches no [[route]] and no tier name", m.model),
                )
            })?;
            let client = match &m.client {
                None => None,
                Some(name) => Some(config.client_by_name(name).ok_or_else(|| {
                    ctx.err(
                        Some(&span),
                        format!("workload.mix[{i}].client"),
                        format!("{name:?} is not the name of a [[client]]"),
                    )
                })?),
            };
            cumulative += m.share / total;
            mix.push(MixEntry {
                model: m.model.clone(),
                tier,
                cumulative,
                client,
            });
        }
        if let Some(last) = mix.last_mut() {
            last.cumulative = 1.0;
        }
    }
    let client_timeout = ctx.duration(
        &span,
        path,
        "client_timeout",
        w.client_timeout,
        (NANO, MAX_TIME),
    )?;
    let stream_share = w.stream_share.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&stream_share) {
        return Err(ctx.err(
            Some(&span),
            "workload.stream_share".to_owned(),
            format!("{stream_share:?} is out of range; expected a share from 0 to 1"),
        ));
    }
    Ok(Workload {
        arrivals: w.arrivals.clone(),
        input_tokens: ctx.dist(&w.input_tokens, Unit::Count, &span, path, "input_tokens")?,
        output_tokens: ctx.dist(&w.output_tokens, Unit::Count, &span, path, "output_tokens")?,
        max_tokens: w.max_tokens,
        client_timeout,
        stream_share,
        mix,
        sessions: match &w.sessions {
            None => None,
            Some(s) => Some(crate::sessions::SessionSpec {
                active: count_in(ctx, &span, path, "sessions.active", s.active, 1_000_000)?,
                turns: count_in(ctx, &span, path, "sessions.turns", s.turns, 10_000)?,
            }),
        },
    })
}

/// An integer from 1 to `max`, or an error naming the key.
fn count_in(
    ctx: &Ctx<'_>,
    span: &std::ops::Range<usize>,
    path: &str,
    key: &str,
    value: i64,
    max: u32,
) -> Result<u32, ScenarioError> {
    match u32::try_from(value) {
        Ok(v) if (1..=max).contains(&v) => Ok(v),
        _ => Err(ctx.key_err(
            span,
            path,
            key,
            format!("{value} is out of range; expected an integer from 1 to {max}"),
        )),
    }
}
