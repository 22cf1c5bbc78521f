//! The validator: turns a [`RawConfig`] into a checked [`Config`], one table at a time (the
//! deployments, fallbacks and policies each in their own module).

use std::collections::HashMap;

use super::raw::RawConfig;
use super::*;
use crate::error::ConfigError;
use crate::ids::TierId;

/// Validates a parsed config (see [`Config::from_raw`]).
#[derive(Default)]
pub(super) struct Validator;

impl Validator {
    pub(super) fn run(self, raw: RawConfig) -> Result<Config, ConfigError> {
        let tiers = Self::tiers(&raw)?;
        let tier_index: HashMap<String, TierId> = tiers
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), TierId::from_index(i)))
            .collect();
        let mut tiers = tiers;
        let deployments = Self::deployments(&raw, &tier_index, &mut tiers)?;
        Self::fallbacks(&raw, &tier_index, &mut tiers)?;
        Self::check_acyclic(&tiers, &raw)?;
        let routes = Self::routes(&raw, &tier_index)?;
        let clients = clients::clients(&raw, &tier_index)?;
        let cluster = cluster::cluster(&raw)?;
        let exact_routes = routes
            .iter()
            .filter(|r| !r.pattern.ends_with('*'))
            .map(|r| (r.pattern.clone(), r.tier))
            .collect();
        Ok(Config {
            deployments,
            tiers,
            routes,
            retry: Self::retry(&raw)?,
            health: Self::health(&raw)?,
            balancing: BalancingParams {
                latency_decay: nonzero(raw.balancing.latency_decay, "balancing.latency_decay")?,
                failure_penalty: raw.balancing.failure_penalty,
                default_latency: raw.balancing.default_latency,
                error_sensitivity: Self::sensitivity(&raw)?,
                cost_factor: objectives::cost_factor(&raw)?,
            },
            clients,
            cluster,
            affinity: affinity::affinity(&raw.affinity)?,
            exact_routes,
        })
    }

    pub(super) fn tiers(raw: &RawConfig) -> Result<Vec<Tier>, ConfigError> {
        let mut tiers: Vec<Tier> = Vec::with_capacity(raw.tiers.len());
        for (i, spanned) in raw.tiers.iter().enumerate() {
            let span = Some(spanned.span());
            let t = spanned.get_ref();
            if t.name.trim().is_empty() {
                return Err(invalid(
                    format!("tier[{i}].name"),
                    "\"\"",
                    "a non-empty name",
                    span,
                ));
            }
            if tiers.iter().any(|other| other.name == t.name) {
                return Err(invalid(
                    format!("tier[{i}].name"),
                    format!("{:?}", t.name),
                    "a tier name used once",
                    span,
                ));
            }
            let strategy: StrategyKind = t.strategy.parse().map_err(|_| {
                invalid(
                    format!("tier[{i}].strategy"),
                    format!("{:?}", t.strategy),
                    StrategyKind::EXPECTED,
                    span.clone(),
                )
            })?;
            tiers.push(Tier {
                name: t.name.clone(),
                strategy,
                fallback: Vec::new(),
                context_fallback: None,
                deployments: Vec::new(),
                objectives: objectives::objectives(i, t, &span)?,
                hedge: objectives::hedge(i, t, &span)?,
            });
        }
        Ok(tiers)
    }

    pub(super) fn routes(
        raw: &RawConfig,
        tier_index: &HashMap<String, TierId>,
    ) -> Result<Vec<Route>, ConfigError> {
        let mut routes: Vec<Route> = Vec::with_capacity(raw.routes.len());
        for (i, spanned) in raw.routes.iter().enumerate() {
            let span = Some(spanned.span());
            let r = spanned.get_ref();
            if r.model.is_empty() {
                return Err(invalid(
                    format!("route[{i}].model"),
                    "\"\"",
                    "a model name or a prefix ending in *",
                    span,
                ));
            }
            if routes.iter().any(|o| o.pattern == r.model) {
                return Err(invalid(
                    format!("route[{i}].model"),
                    format!("{:?}", r.model),
                    "a model pattern routed once",
                    span,
                ));
            }
            let tier = *tier_index.get(r.tier.as_str()).ok_or_else(|| {
                invalid(
                    format!("route[{i}].tier"),
                    format!("{:?}", r.tier),
                    "the name of a [[tier]]",
                    span.clone(),
                )
            })?;
            routes.push(Route {
                pattern: r.model.clone(),
                tier,
            });
        }
        Ok(routes)
    }
}
