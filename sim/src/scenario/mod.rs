//! Scenario files: parsed once, validated into a [`Scenario`] whose errors name the file, the
//! line, the field and what was expected.

pub mod raw;

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use engine::{Config, ConfigError, StrategyKind};
use toml::Spanned;

use crate::dist::{Dist, DistSpec, Unit};
use crate::limiter::WindowKind;
use crate::workload::{MixEntry, Workload};
use crate::world::{
    HeaderFidelity, Incident, IncidentKind, OutageMode, Provider, World, WorldDeployment,
};
use raw::{ArrivalSpec, RawScenario};

/// A scenario that cannot be used, located as precisely as the file allows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field path, e.g. `world.provider[1].ttft`, when known.
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Run settings from `[simulation]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Seed of every random stream.
    pub seed: u64,
    /// Arrivals stop after this much simulated time …
    pub duration: Duration,
    /// … or after this many requests, whichever comes first.
    pub max_requests: Option<u64>,
    /// Strategies `compare` runs by default.
    pub strategies: Vec<StrategyKind>,
    /// Width of a time-series bucket.
    pub bucket: Duration,
    /// How long after the last arrival in-flight requests may still finish.
    pub drain: Duration,
}

/// A checked scenario: settings, workload, world and the gateway config.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name (from `[simulation] name` or the file stem).
    pub name: String,
    /// Run settings.
    pub settings: Settings,
    /// Traffic.
    pub workload: Workload,
    /// True provider behaviour.
    pub world: World,
    /// The gateway config, exactly as `serve` would build it.
    pub config: Config,
}

struct Ctx<'a> {
    file: &'a str,
    source: &'a str,
}

impl Ctx<'_> {
    fn line_of(&self, span: &Range<usize>) -> usize {
        let start = span.start.min(self.source.len());
        self.source.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(
        &self,
        span: Option<&Range<usize>>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            file: self.file.to_owned(),
            line: span.map(|s| self.line_of(s)),
            field: Some(field.into()),
            message: message.into(),
        }
    }

    fn config_err(&self, e: ConfigError) -> ScenarioError {
        ScenarioError {
            file: self.file.to_owned(),
            line: e.line_in(self.source),
            field: None,
            message: e.to_string(),
        }
    }

    fn dist(
        &self,
        spec: &DistSpec,
        unit: Unit,
        span: &Range<usize>,
        field: String,
    ) -> Result<Dist, ScenarioError> {
        spec.build(unit).map_err(|m| self.err(Some(span), field, m))
    }
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            line: None,
            field: None,
            message: format!("cannot read the scenario: {e}"),
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Scenario::parse(&source, &file, &stem)
    }

    /// Validates scenario text; `file` names it in errors, `default_name` is used without
    /// `[simulation] name`.
    pub fn parse(source: &str, file: &str, default_name: &str) -> Result<Scenario, ScenarioError> {
        let ctx = Ctx { file, source };
        let raw: RawScenario =
            toml::from_str(source).map_err(|e| ctx.config_err(ConfigError::from_toml(e)))?;
        let config = Config::from_raw(raw.gateway_config()).map_err(|e| ctx.config_err(e))?;
        let settings = settings(&ctx, &raw.simulation)?;
        let workload = workload(&ctx, &raw.workload, &config)?;
        let world = world(&ctx, &raw, &config)?;
        let name = raw
            .simulation
            .get_ref()
            .name
            .clone()
            .unwrap_or_else(|| default_name.to_owned());
        Ok(Scenario {
            name,
            settings,
            workload,
            world,
            config,
        })
    }
}

fn settings(ctx: &Ctx<'_>, s: &Spanned<raw::RawSimulation>) -> Result<Settings, ScenarioError> {
    let span = s.span();
    let s = s.get_ref();
    if s.duration.is_zero() {
        return Err(ctx.err(
            Some(&span),
            "simulation.duration",
            "expected a duration > 0, e.g. \"10m\"",
        ));
    }
    let strategies = match &s.strategies {
        None => StrategyKind::ALL.to_vec(),
        Some(names) if names.is_empty() => {
            return Err(ctx.err(
                Some(&span),
                "simulation.strategies",
                "expected at least one strategy",
            ))
        }
        Some(names) => names
            .iter()
            .map(|n| n.parse::<StrategyKind>())
            .collect::<Result<_, _>>()
            .map_err(|m| ctx.err(Some(&span), "simulation.strategies", m))?,
    };
    let bucket = s
        .bucket
        .unwrap_or_else(|| (s.duration / 120).max(Duration::from_secs(1)));
    if bucket.is_zero() {
        return Err(ctx.err(Some(&span), "simulation.bucket", "expected a duration > 0"));
    }
    Ok(Settings {
        seed: s.seed,
        duration: s.duration,
        max_requests: s.requests,
        strategies,
        bucket,
        drain: s.drain,
    })
}

fn workload(
    ctx: &Ctx<'_>,
    w: &Spanned<raw::RawWorkload>,
    config: &Config,
) -> Result<Workload, ScenarioError> {
    let span = w.span();
    let w = w.get_ref();
    let rate_ok = |r: f64| r.is_finite() && r >= 0.0;
    let bad_rate = match &w.arrivals {
        ArrivalSpec::Constant { rate } | ArrivalSpec::Poisson { rate } => {
            !(rate_ok(*rate) && *rate > 0.0)
        }
        ArrivalSpec::Bursty {
            base_rate,
            burst_rate,
            ..
        } => !(rate_ok(*base_rate) && rate_ok(*burst_rate) && base_rate.max(*burst_rate) > 0.0),
        ArrivalSpec::Diurnal {
            mean_rate,
            amplitude,
            period,
            ..
        } => {
            !(rate_ok(*mean_rate)
                && *mean_rate > 0.0
                && (0.0..=1.0).contains(amplitude)
                && !period.is_zero())
        }
    };
    if bad_rate {
        return Err(ctx.err(
            Some(&span),
            "workload.arrivals",
            "expected rates > 0 (requests per second), an amplitude from 0 to 1 and a period > 0",
        ));
    }
    let mut mix = Vec::new();
    if w.mix.is_empty() {
        mix.push(MixEntry {
            model: config.tiers[0].name.clone(),
            tier: engine::TierId::from_index(0),
            cumulative: 1.0,
        });
    } else {
        let total: f64 = w.mix.iter().map(|m| m.share).sum();
        let mut cumulative = 0.0;
        for (i, m) in w.mix.iter().enumerate() {
            if !(m.share.is_finite() && m.share > 0.0) {
                return Err(ctx.err(
                    Some(&span),
                    format!("workload.mix[{i}].share"),
                    format!("{} is not > 0", m.share),
                ));
            }
            let tier = config.route(&m.model).ok_or_else(|| {
                ctx.err(
                    Some(&span),
                    format!("workload.mix[{i}].model"),
                    format!("{:?} matches no [[route]] and no tier name", m.model),
                )
            })?;
            cumulative += m.share / total;
            mix.push(MixEntry {
                model: m.model.clone(),
                tier,
                cumulative,
            });
        }
        if let Some(last) = mix.last_mut() {
            last.cumulative = 1.0;
        }
    }
    if w.client_timeout.is_zero() {
        return Err(ctx.err(
            Some(&span),
            "workload.client_timeout",
            "expected a duration > 0",
        ));
    }
    Ok(Workload {
        arrivals: w.arrivals.clone(),
        input_tokens: ctx.dist(
            &w.input_tokens,
            Unit::Count,
            &span,
            "workload.input_tokens".into(),
        )?,
        output_tokens: ctx.dist(
            &w.output_tokens,
            Unit::Count,
            &span,
            "workload.output_tokens".into(),
        )?,
        max_tokens: w.max_tokens,
        client_timeout: w.client_timeout,
        mix,
    })
}

fn probability(
    ctx: &Ctx<'_>,
    span: &Range<usize>,
    field: String,
    p: f64,
) -> Result<f64, ScenarioError> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(ctx.err(
            Some(span),
            field,
            format!("{p} is not a probability from 0 to 1"),
        ))
    }
}

fn true_limit(
    ctx: &Ctx<'_>,
    span: &Range<usize>,
    field: String,
    v: Option<i64>,
) -> Result<Option<u64>, ScenarioError> {
    match v {
        None => Ok(None),
        Some(v) if v > 0 => Ok(Some(v as u64)),
        Some(v) => Err(ctx.err(
            Some(span),
            field,
            format!("{v} is not a positive limit (omit it for none)"),
        )),
    }
}

fn world(ctx: &Ctx<'_>, raw: &RawScenario, config: &Config) -> Result<World, ScenarioError> {
    let mut providers = Vec::new();
    let mut deployments: Vec<Option<WorldDeployment>> = vec![None; config.deployments.len()];
    for (pi, sp) in raw.world.providers.iter().enumerate() {
        let span = sp.span();
        let p = sp.get_ref();
        let field = |name: &str| format!("world.provider[{pi}].{name}");
        if providers.iter().any(|o: &Provider| o.name == p.name) {
            return Err(ctx.err(
                Some(&span),
                field("name"),
                format!("{:?} is used twice", p.name),
            ));
        }
        let concurrency = match p.concurrency {
            None => None,
            Some(c) if c > 0 => Some(u32::try_from(c).unwrap_or(u32::MAX)),
            Some(c) => {
                return Err(ctx.err(Some(&span), field("concurrency"), format!("{c} is not > 0")))
            }
        };
        let ttft = ctx.dist(&p.ttft, Unit::Seconds, &span, field("ttft"))?;
        let per_token = match &p.per_token {
            Some(spec) => ctx.dist(spec, Unit::Seconds, &span, field("per_token"))?,
            None => Dist::Constant(0.0),
        };
        let error_rate = probability(ctx, &span, field("error_rate"), p.error_rate)?;
        let timeout_rate = probability(ctx, &span, field("timeout_rate"), p.timeout_rate)?;
        for (di, d) in p.deployments.iter().enumerate() {
            let dfield = |name: &str| format!("world.provider[{pi}].deployment[{di}].{name}");
            let index = config.deployment_by_id(&d.id).ok_or_else(|| {
                ctx.err(
                    Some(&span),
                    dfield("id"),
                    format!("{:?} is not the id of a gateway [[deployment]]", d.id),
                )
            })?;
            if deployments[index.index()].is_some() {
                return Err(ctx.err(
                    Some(&span),
                    dfield("id"),
                    format!("{:?} appears twice in the world", d.id),
                ));
            }
            let window = match d.window.as_str() {
                "fixed" => WindowKind::Fixed,
                "sliding" => WindowKind::Sliding,
                other => {
                    return Err(ctx.err(
                        Some(&span),
                        dfield("window"),
                        format!("{other:?}; expected \"fixed\" or \"sliding\""),
                    ))
                }
            };
            deployments[index.index()] = Some(WorldDeployment {
                id: d.id.clone(),
                provider: pi,
                ttft: match &d.ttft {
                    Some(spec) => ctx.dist(spec, Unit::Seconds, &span, dfield("ttft"))?,
                    None => ttft.clone(),
                },
                per_token: match &d.per_token {
                    Some(spec) => ctx.dist(spec, Unit::Seconds, &span, dfield("per_token"))?,
                    None => per_token.clone(),
                },
                error_rate: match d.error_rate {
                    Some(e) => probability(ctx, &span, dfield("error_rate"), e)?,
                    None => error_rate,
                },
                timeout_rate,
                rejection_latency: p.rejection_latency,
                limits: [
                    true_limit(ctx, &span, dfield("rpm"), d.rpm)?,
                    true_limit(ctx, &span, dfield("tpm"), d.tpm)?,
                    true_limit(ctx, &span, dfield("rpd"), d.rpd)?,
                ],
                window,
                context_window: true_limit(ctx, &span, dfield("context_window"), d.context_window)?,
            });
        }
        let headers = match p.rate_limit_headers.as_str() {
            "full" => HeaderFidelity::Full,
            "remaining" => HeaderFidelity::Remaining,
            "none" => HeaderFidelity::None,
            other => {
                return Err(ctx.err(
                    Some(&span),
                    field("rate_limit_headers"),
                    format!("{other:?}; expected \"full\", \"remaining\" or \"none\""),
                ))
            }
        };
        providers.push(Provider {
            name: p.name.clone(),
            headers,
            concurrency,
        });
    }
    let deployments = deployments
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            d.ok_or_else(|| ScenarioError {
                file: ctx.file.to_owned(),
                line: Some(ctx.line_of(&raw_deployment_span(raw, config, i))),
                field: Some("world.provider".into()),
                message: format!(
                    "gateway deployment {:?} has no [[world.provider.deployment]]; every deployment needs a true behaviour",
                    config.deployments[i].id
                ),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let incidents = incidents(ctx, raw, config, &providers, &deployments)?;
    Ok(World {
        providers,
        deployments,
        incidents,
    })
}

fn raw_deployment_span(raw: &RawScenario, config: &Config, i: usize) -> Range<usize> {
    raw.gateway_config()
        .deployments
        .iter()
        .find(|d| d.get_ref().id == config.deployments[i].id)
        .map(|d| d.span())
        .unwrap_or(0..0)
}

fn incidents(
    ctx: &Ctx<'_>,
    raw: &RawScenario,
    config: &Config,
    providers: &[Provider],
    deployments: &[WorldDeployment],
) -> Result<Vec<Incident>, ScenarioError> {
    let provider_index: HashMap<&str, usize> = providers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let mut out = Vec::new();
    for (i, si) in raw.world.incidents.iter().enumerate() {
        let span = si.span();
        let inc = si.get_ref();
        let field = |name: &str| format!("world.incident[{i}].{name}");
        let targets: Vec<usize> = if let Some(&p) = provider_index.get(inc.target.as_str()) {
            (0..deployments.len())
                .filter(|&d| deployments[d].provider == p)
                .collect()
        } else if let Some(d) = config.deployment_by_id(&inc.target) {
            vec![d.index()]
        } else {
            return Err(ctx.err(
                Some(&span),
                field("target"),
                format!(
                    "{:?} is neither a provider name nor a deployment id",
                    inc.target
                ),
            ));
        };
        if inc.end <= inc.start {
            return Err(ctx.err(Some(&span), field("end"), "expected an end after the start"));
        }
        let factor = |what: &str, lo: f64, hi: f64| -> Result<f64, ScenarioError> {
            match inc.factor {
                Some(k) if k > lo && k <= hi => Ok(k),
                Some(k) => Err(ctx.err(
                    Some(&span),
                    field("factor"),
                    format!("{k} is out of range for {what}"),
                )),
                None => Err(ctx.err(Some(&span), field("factor"), format!("required for {what}"))),
            }
        };
        let kind = match inc.kind.as_str() {
            "outage" => IncidentKind::Outage(match inc.mode.as_deref().unwrap_or("connection") {
                "connection" => OutageMode::Connection,
                "503" | "unavailable" => OutageMode::Unavailable,
                "hang" => OutageMode::Hang,
                other => {
                    return Err(ctx.err(
                        Some(&span),
                        field("mode"),
                        format!("{other:?}; expected \"connection\", \"503\" or \"hang\""),
                    ))
                }
            }),
            "degradation" => IncidentKind::Degradation(factor("a degradation (latency × factor, > 0)", 0.0, 1e6)?),
            "error_spike" => IncidentKind::ErrorSpike(probability(
                ctx,
                &span,
                field("error_rate"),
                inc.error_rate
                    .ok_or_else(|| ctx.err(Some(&span), field("error_rate"), "required for an error_spike"))?,
            )?),
            "limit_cut" => IncidentKind::LimitCut(factor("a limit_cut (a fraction in (0, 1])", 0.0, 1.0)?),
            other => {
                return Err(ctx.err(
                    Some(&span),
                    field("kind"),
                    format!("{other:?}; expected \"outage\", \"degradation\", \"error_spike\" or \"limit_cut\""),
                ))
            }
        };
        out.push(Incident {
            kind,
            deployments: targets,
            target: inc.target.clone(),
            start: inc.start,
            end: inc.end,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
