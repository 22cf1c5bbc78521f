//! Validation of the `[[deployment]]` tables: ids, tiers, weights, limits, prices, endpoints.

use std::collections::HashMap;

use super::raw::RawConfig;
use super::*;
use crate::error::ConfigError;
use crate::ids::{DeploymentId, TierId};

impl Validator {
    pub(super) fn deployments(
        raw: &RawConfig,
        tier_index: &HashMap<String, TierId>,
        tiers: &mut [Tier],
    ) -> Result<Vec<Deployment>, ConfigError> {
        if raw.deployments.is_empty() {
            return Err(invalid(
                "deployment".into(),
                "none",
                "at least one [[deployment]]",
                None,
            ));
        }
        let mut out: Vec<Deployment> = Vec::with_capacity(raw.deployments.len());
        for (i, spanned) in raw.deployments.iter().enumerate() {
            let span: Span = Some(spanned.span());
            let d = spanned.get_ref();
            let field = |name: &str| format!("deployment[{i}].{name}");
            if d.id.trim().is_empty() {
                return Err(invalid(field("id"), "\"\"", "a non-empty id", span));
            }
            if out.iter().any(|o| o.id == d.id) {
                return Err(invalid(
                    field("id"),
                    format!("{:?}", d.id),
                    "an id used once",
                    span,
                ));
            }
            let tier = *tier_index.get(d.tier.as_str()).ok_or_else(|| {
                invalid(
                    field("tier"),
                    format!("{:?}", d.tier),
                    "the name of a [[tier]]",
                    span.clone(),
                )
            })?;
            if !(0.0..=MAX_WEIGHT).contains(&d.weight) {
                return Err(invalid(
                    field("weight"),
                    d.weight,
                    "a number from 0 to 1000000",
                    span,
                ));
            }
            for (name, price) in [
                ("input_price", d.input_price),
                ("output_price", d.output_price),
                (
                    "cached_input_price",
                    d.cached_input_price.unwrap_or(d.input_price),
                ),
            ] {
                if !(0.0..=MAX_PRICE).contains(&price) {
                    return Err(invalid(
                        field(name),
                        price,
                        "a price per million tokens from 0 to 1000000",
                        span,
                    ));
                }
            }
            for (name, timeout) in [
                ("connect_timeout", d.connect_timeout),
                ("first_byte_timeout", d.first_byte_timeout),
                ("total_timeout", d.total_timeout),
            ] {
                if timeout.is_some_and(|t| t.is_zero()) {
                    return Err(invalid(
                        field(name),
                        "0s",
                        "a duration > 0 (omit it for the default)",
                        span,
                    ));
                }
            }
            let limits = Limits {
                rpm: limit(field("rpm"), d.rpm, &span)?,
                tpm: limit(field("tpm"), d.tpm, &span)?,
                rpd: limit(field("rpd"), d.rpd, &span)?,
            };
            let id = DeploymentId::from_index(out.len());
            tiers[tier.index()].deployments.push(id);
            out.push(Deployment {
                id: d.id.clone(),
                provider: d.provider.clone(),
                model: d.model.clone(),
                key: d.key.clone().unwrap_or_else(|| "default".to_owned()),
                tier,
                weight: d.weight,
                limits,
                price: Price {
                    input_per_million: d.input_price,
                    output_per_million: d.output_price,
                    cached_input_per_million: d.cached_input_price.unwrap_or(d.input_price),
                },
                endpoint: Endpoint {
                    api: match d.api.as_deref() {
                        None | Some("openai") => Api::OpenAi,
                        Some("anthropic") => Api::Anthropic,
                        Some(other) => {
                            return Err(invalid(
                                field("api"),
                                format!("{other:?}"),
                                "\"openai\" (the default) or \"anthropic\"",
                                span,
                            ))
                        }
                    },
                    anthropic_version: d.anthropic_version.clone(),
                    anthropic_beta: d.anthropic_beta.clone(),
                    base_url: d.base_url.clone(),
                    api_key_env: d.api_key_env.clone(),
                    api_key_header: d.api_key_header.clone(),
                    upstream_model: d.upstream_model.clone(),
                    connect_timeout: d.connect_timeout,
                    first_byte_timeout: d.first_byte_timeout,
                    total_timeout: d.total_timeout,
                },
            });
        }
        for (i, tier) in tiers.iter().enumerate() {
            let span = Some(raw.tiers[i].span());
            if tier.deployments.is_empty() {
                return Err(invalid(
                    format!("tier[{i}]"),
                    format!("{:?}", tier.name),
                    "a tier that at least one [[deployment]] names",
                    span,
                ));
            }
            if tier
                .deployments
                .iter()
                .all(|d| out[d.index()].weight == 0.0)
            {
                return Err(invalid(
                    format!("tier[{i}] deployments' weight"),
                    "0 for all",
                    "at least one deployment with weight > 0",
                    span,
                ));
            }
        }
        Ok(out)
    }
}
