//! `[[client]]`: callers of the gateway, each with its own key, allowed tiers and limits.
//!
//! The key never sits in the file: either the name of an environment variable holding it, or
//! its SHA-256 as 64 hex digits. The engine only checks and counts (see
//! [`crate::Engine::start_for`]); the gateway matches keys. Budgets (`usd_per_day`,
//! `usd_per_month`) are in US dollars, priced from the deployments' `input_price` and
//! `output_price` (see [`crate::clients`] for how spend is counted).

use std::collections::HashMap;

use super::raw::RawConfig;
use super::{invalid, limit, Limits, Span};
use crate::error::ConfigError;
use crate::ids::TierId;

/// How a client's key is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKey {
    /// The environment variable holding the key.
    Env(String),
    /// SHA-256 of the key.
    Sha256([u8; 32]),
}

/// One client.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    /// Unique name (metrics, state, errors).
    pub name: String,
    /// How its key is recognised.
    pub key: ClientKey,
    /// Tiers it may use; `None`: every tier.
    pub tiers: Option<Vec<TierId>>,
    /// Its own limits, over all tiers (`None` = unlimited).
    pub limits: Limits,
    /// Most it may spend in any 24 hours, in USD, priced from the deployments' prices.
    pub usd_per_day: Option<f64>,
    /// Most it may spend in any 30 days, in USD.
    pub usd_per_month: Option<f64>,
}

/// Largest client budget in USD (10^9): in nano-dollars it stays far inside a `u64`.
pub const MAX_BUDGET_USD: f64 = 1e9;
/// Smallest client budget in USD: one micro-dollar.
pub const MIN_BUDGET_USD: f64 = 1e-6;

fn budget(field: String, value: Option<f64>, span: &Span) -> Result<Option<f64>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) if (MIN_BUDGET_USD..=MAX_BUDGET_USD).contains(&v) => Ok(Some(v)),
        Some(v) => Err(invalid(
            field,
            v,
            "a dollar amount from 0.000001 to 1000000000 (omit it for no budget)",
            span.clone(),
        )),
    }
}

impl Client {
    /// Whether the client may use `tier`.
    pub fn allows(&self, tier: TierId) -> bool {
        self.tiers.as_ref().is_none_or(|t| t.contains(&tier))
    }
}

pub(super) fn clients(
    raw: &RawConfig,
    tier_index: &HashMap<String, TierId>,
) -> Result<Vec<Client>, ConfigError> {
    let mut out: Vec<Client> = Vec::with_capacity(raw.clients.len());
    for (i, spanned) in raw.clients.iter().enumerate() {
        let span: Span = Some(spanned.span());
        let c = spanned.get_ref();
        let field = |name: &str| format!("client[{i}].{name}");
        if c.name.trim().is_empty() {
            return Err(invalid(field("name"), "\"\"", "a non-empty name", span));
        }
        if out.iter().any(|o| o.name == c.name) {
            return Err(invalid(
                field("name"),
                format!("{:?}", c.name),
                "a client name used once",
                span,
            ));
        }
        let key = match (&c.key_env, &c.key_sha256) {
            (Some(var), None) if !var.trim().is_empty() => ClientKey::Env(var.clone()),
            (None, Some(hex)) => ClientKey::Sha256(sha256_hex(hex).ok_or_else(|| {
                invalid(
                    field("key_sha256"),
                    format!("{hex:?}"),
                    "the key's SHA-256 as 64 hex digits (e.g. from `printf %s KEY | sha256sum`)",
                    span.clone(),
                )
            })?),
            _ => {
                return Err(invalid(
                    field("key_env"),
                    "key_env and key_sha256 both or neither set",
                    "exactly one of key_env (a variable holding the key) or key_sha256",
                    span,
                ))
            }
        };
        let tiers = match &c.tiers {
            None => None,
            Some(names) => Some(
                names
                    .iter()
                    .map(|n| {
                        tier_index.get(n.as_str()).copied().ok_or_else(|| {
                            invalid(
                                field("tiers"),
                                format!("{n:?}"),
                                "names of [[tier]]s",
                                span.clone(),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        out.push(Client {
            name: c.name.clone(),
            key,
            tiers,
            limits: Limits {
                rpm: limit(field("rpm"), c.rpm, &span)?,
                tpm: limit(field("tpm"), c.tpm, &span)?,
                rpd: limit(field("rpd"), c.rpd, &span)?,
            },
            usd_per_day: budget(field("usd_per_day"), c.usd_per_day, &span)?,
            usd_per_month: budget(field("usd_per_month"), c.usd_per_month, &span)?,
        });
    }
    Ok(out)
}

fn sha256_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}
