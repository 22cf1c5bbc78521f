//! `[world]`: providers, their deployments' true behaviour and incidents, every value
//! range-checked (see [`super::limits`]).

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use engine::config::Api;
use engine::Config;

use super::limits::{MAX_LATENCY, MAX_TIME};
use super::raw::RawScenario;
use super::{Ctx, ScenarioError};
use crate::dist::{Dist, Unit};
use crate::limiter::WindowKind;
use crate::world::{
    HeaderFidelity, Incident, IncidentKind, OutageMode, Provider, World, WorldDeployment,
};

fn probability(
    ctx: &Ctx<'_>,
    span: &Range<usize>,
    path: &str,
    key: &str,
    p: f64,
) -> Result<f64, ScenarioError> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(ctx.key_err(
            span,
            path,
            key,
            format!("{p} is not a probability from 0 to 1"),
        ))
    }
}

fn true_limit(
    ctx: &Ctx<'_>,
    span: &Range<usize>,
    path: &str,
    key: &str,
    v: Option<i64>,
) -> Result<Option<u64>, ScenarioError> {
    match v {
        None => Ok(None),
        Some(v) if v > 0 => Ok(Some(v as u64)),
        Some(v) => Err(ctx.key_err(
            span,
            path,
            key,
            format!("{v} is not a positive limit (omit it for none)"),
        )),
    }
}

pub(super) fn world(
    ctx: &Ctx<'_>,
    raw: &RawScenario,
    config: &Config,
) -> Result<World, ScenarioError> {
    let mut providers = Vec::new();
    let mut deployments: Vec<Option<WorldDeployment>> = vec![None; config.deployments.len()];
    for (pi, sp) in raw.world.providers.iter().enumerate() {
        let span = sp.span();
        let p = sp.get_ref();
        let path = format!("world.provider[{pi}]");
        ctx.name(&span, &path, "name", &p.name)?;
        if providers.iter().any(|o: &Provider| o.name == p.name) {
            return Err(ctx.key_err(&span, &path, "name", format!("{:?} is used twice", p.name)));
        }
        let concurrency = match p.concurrency {
            None => None,
            Some(c) if c > 0 => Some(u32::try_from(c).unwrap_or(u32::MAX)),
            Some(c) => {
                return Err(ctx.key_err(&span, &path, "concurrency", format!("{c} is not > 0")))
            }
        };
        let ttft = ctx.dist(&p.ttft, Unit::Seconds, &span, &path, "ttft")?;
        let per_token = match &p.per_token {
            Some(spec) => ctx.dist(spec, Unit::Seconds, &span, &path, "per_token")?,
            None => Dist::Constant(0.0),
        };
        let error_rate = probability(ctx, &span, &path, "error_rate", p.error_rate)?;
        let timeout_rate = probability(ctx, &span, &path, "timeout_rate", p.timeout_rate)?;
        let rejection_latency = ctx.duration(
            &span,
            &path,
            "rejection_latency",
            p.rejection_latency,
            (Duration::ZERO, MAX_LATENCY),
        )?;
        for (di, sd) in p.deployments.iter().enumerate() {
            let dspan = sd.span();
            let d = sd.get_ref();
            let dpath = format!("{path}.deployment[{di}]");
            ctx.name(&dspan, &dpath, "id", &d.id)?;
            let index = config.deployment_by_id(&d.id).ok_or_else(|| {
                ctx.key_err(
                    &dspan,
                    &dpath,
                    "id",
                    format!("{:?} is not the id of a gateway [[deployment]]", d.id),
                )
            })?;
            if deployments[index.index()].is_some() {
                return Err(ctx.key_err(
                    &dspan,
                    &dpath,
                    "id",
                    format!("{:?} appears twice in the world", d.id),
                ));
            }
            let window = match (d.window.as_str(), d.burst) {
                ("fixed", None) => WindowKind::Fixed,
                ("sliding", None) => WindowKind::Sliding,
                ("token-bucket", None) => WindowKind::TokenBucket { burst: 1.0 },
                ("token-bucket", Some(b)) if (0.01..=10.0).contains(&b) => {
                    WindowKind::TokenBucket { burst: b }
                }
                ("token-bucket", Some(b)) => {
                    return Err(ctx.key_err(
                        &dspan,
                        &dpath,
                        "burst",
                        format!("{b}; expected a multiple of the limit from 0.01 to 10"),
                    ))
                }
                ("fixed" | "sliding", Some(_)) => {
                    return Err(ctx.key_err(
                        &dspan,
                        &dpath,
                        "burst",
                        "only a token-bucket window has a burst".to_owned(),
                    ))
                }
                (other, _) => {
                    return Err(ctx.key_err(
                        &dspan,
                        &dpath,
                        "window",
                        format!("{other:?}; expected \"fixed\", \"sliding\" or \"token-bucket\""),
                    ))
                }
            };
            let error_rate = match d.error_rate {
                Some(e) => probability(ctx, &dspan, &dpath, "error_rate", e)?,
                None => error_rate,
            };
            if error_rate + timeout_rate > 1.0 {
                return Err(ctx.key_err(
                    &span,
                    &path,
                    "timeout_rate",
                    format!(
                        "error_rate {error_rate} + timeout_rate {timeout_rate} (deployment {:?}) \
                         is more than 1; expected probabilities whose sum is at most 1",
                        d.id
                    ),
                ));
            }
            let api = match d.api.as_deref() {
                None => None,
                Some("openai") => Some(Api::OpenAi),
                Some("anthropic") => Some(Api::Anthropic),
                Some(other) => {
                    return Err(ctx.key_err(
                        &dspan,
                        &dpath,
                        "api",
                        format!("{other:?}; expected \"openai\" or \"anthropic\""),
                    ))
                }
            };
            deployments[index.index()] = Some(WorldDeployment {
                id: d.id.clone(),
                provider: pi,
                ttft: match &d.ttft {
                    Some(spec) => ctx.dist(spec, Unit::Seconds, &dspan, &dpath, "ttft")?,
                    None => ttft.clone(),
                },
                per_token: match &d.per_token {
                    Some(spec) => ctx.dist(spec, Unit::Seconds, &dspan, &dpath, "per_token")?,
                    None => per_token.clone(),
                },
                error_rate,
                timeout_rate,
                rejection_latency,
                limits: [
                    true_limit(ctx, &dspan, &dpath, "rpm", d.rpm)?,
                    true_limit(ctx, &dspan, &dpath, "tpm", d.tpm)?,
                    true_limit(ctx, &dspan, &dpath, "rpd", d.rpd)?,
                ],
                window,
                context_window: true_limit(
                    ctx,
                    &dspan,
                    &dpath,
                    "context_window",
                    d.context_window,
                )?,
                api,
            });
        }
        let headers = match p.rate_limit_headers.as_str() {
            "full" => HeaderFidelity::Full,
            "remaining" => HeaderFidelity::Remaining,
            "none" => HeaderFidelity::None,
            other => {
                return Err(ctx.key_err(
                    &span,
                    &path,
                    "rate_limit_headers",
                    format!("{other:?}; expected \"full\", \"remaining\" or \"none\""),
                ))
            }
        };
        let prompt_cache = match &p.prompt_cache {
            None => None,
            Some(c) => {
                if !(0.0..=1.0).contains(&c.ttft_saving) {
                    return Err(ctx.key_err(
                        &span,
                        &path,
                        "prompt_cache.ttft_saving",
                        format!(
                            "{} is out of range; expected a fraction from 0 to 1",
                            c.ttft_saving
                        ),
                    ));
                }
                let ttl = ctx.duration(
                    &span,
                    &path,
                    "prompt_cache.ttl",
                    c.ttl,
                    (Duration::from_millis(1), MAX_LATENCY),
                )?;
                Some(crate::sessions::PromptCache {
                    ttl,
                    ttft_saving: c.ttft_saving,
                })
            }
        };
        providers.push(Provider {
            name: p.name.clone(),
            headers,
            concurrency,
            prompt_cache,
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
        let path = format!("world.incident[{i}]");
        ctx.name(&span, &path, "target", &inc.target)?;
        let start = ctx.duration(&span, &path, "start", inc.start, (Duration::ZERO, MAX_TIME))?;
        let end = ctx.duration(&span, &path, "end", inc.end, (Duration::ZERO, MAX_TIME))?;
        let targets: Vec<usize> = if let Some(&p) = provider_index.get(inc.target.as_str()) {
            (0..deployments.len())
                .filter(|&d| deployments[d].provider == p)
                .collect()
        } else if let Some(d) = config.deployment_by_id(&inc.target) {
            vec![d.index()]
        } else {
            return Err(ctx.key_err(
                &span,
                &path,
                "target",
                format!(
                    "{:?} is neither a provider name nor a deployment id",
                    inc.target
                ),
            ));
        };
        if end <= start {
            return Err(ctx.key_err(&span, &path, "end", "expected an end after the start"));
        }
        let factor = |what: &str, lo: f64, hi: f64| -> Result<f64, ScenarioError> {
            match inc.factor {
                Some(k) if k > lo && k <= hi => Ok(k),
                Some(k) => Err(ctx.key_err(
                    &span,
                    &path,
                    "factor",
                    format!("{k} is out of range for {what}"),
                )),
                None => Err(ctx.key_err(&span, &path, "factor", format!("required for {what}"))),
            }
        };
        let kind = match inc.kind.as_str() {
            "outage" => IncidentKind::Outage(match inc.mode.as_deref().unwrap_or("connection") {
                "connection" => OutageMode::Connection,
                "503" | "unavailable" => OutageMode::Unavailable,
                "hang" => OutageMode::Hang,
                other => {
                    return Err(ctx.key_err(&span, &path, "mode",
                        format!("{other:?}; expected \"connection\", \"503\" or \"hang\""),
                    ))
                }
            }),
            "degradation" => IncidentKind::Degradation(factor("a degradation (latency × factor, > 0)", 0.0, 1e6)?),
            "error_spike" => IncidentKind::ErrorSpike(probability(
                ctx,
                &span,
                &path,
                "error_rate",
                inc.error_rate
                    .ok_or_else(|| ctx.key_err(&span, &path, "error_rate", "required for an error_spike"))?,
            )?),
            "limit_cut" => IncidentKind::LimitCut(factor("a limit_cut (a fraction in (0, 1])", 0.0, 1.0)?),
            other => {
                return Err(ctx.key_err(&span, &path, "kind",
                    format!("{other:?}; expected \"outage\", \"degradation\", \"error_spike\" or \"limit_cut\""),
                ))
            }
        };
        out.push(Incident {
            kind,
            deployments: targets,
            target: inc.target.clone(),
            start,
            end,
        });
    }
    Ok(out)
}
