//! Validation of the tiers' fallbacks: known targets, context-window chains, no cycles.

use std::collections::HashMap;

use super::raw::RawConfig;
use super::*;
use crate::error::ConfigError;
use crate::ids::TierId;

impl Validator {
    pub(super) fn fallbacks(
        raw: &RawConfig,
        tier_index: &HashMap<String, TierId>,
        tiers: &mut [Tier],
    ) -> Result<(), ConfigError> {
        for (i, spanned) in raw.tiers.iter().enumerate() {
            let span = Some(spanned.span());
            for (j, name) in spanned.get_ref().fallback.iter().enumerate() {
                let target = *tier_index.get(name.as_str()).ok_or_else(|| {
                    invalid(
                        format!("tier[{i}].fallback[{j}]"),
                        format!("{name:?}"),
                        "the name of a [[tier]]",
                        span.clone(),
                    )
                })?;
                if tiers[i].fallback.contains(&target) {
                    return Err(invalid(
                        format!("tier[{i}].fallback[{j}]"),
                        format!("{name:?}"),
                        "each fallback tier listed once",
                        span,
                    ));
                }
                tiers[i].fallback.push(target);
            }
            if let Some(name) = &spanned.get_ref().context_fallback {
                let field = format!("tier[{i}].context_fallback");
                let target = *tier_index.get(name.as_str()).ok_or_else(|| {
                    invalid(
                        field.clone(),
                        format!("{name:?}"),
                        "the name of a [[tier]]",
                        span.clone(),
                    )
                })?;
                if target.index() == i {
                    return Err(invalid(
                        field,
                        format!("{name:?}"),
                        "another tier (one whose models take longer inputs)",
                        span,
                    ));
                }
                tiers[i].context_fallback = Some(target);
            }
        }
        Self::check_context_chains(raw, tiers)
    }

    /// Rejects context fallbacks that come back round (a → b → a): a request too long for `a`
    /// would never reach a tier that takes it.
    pub(super) fn check_context_chains(raw: &RawConfig, tiers: &[Tier]) -> Result<(), ConfigError> {
        for start in 0..tiers.len() {
            let mut path = vec![start];
            let mut at = start;
            while let Some(next) = tiers[at].context_fallback {
                at = next.index();
                path.push(at);
                if at == start {
                    let names: Vec<&str> = path.iter().map(|&t| tiers[t].name.as_str()).collect();
                    return Err(invalid(
                        format!("tier[{start}].context_fallback"),
                        names.join(" → "),
                        "context fallbacks without a cycle",
                        Some(raw.tiers[start].span()),
                    ));
                }
                if path.len() > tiers.len() {
                    break; // a cycle that does not pass through `start`: reported from its own tiers
                }
            }
        }
        Ok(())
    }

    /// Rejects fallback cycles (a → b → a), which would bounce a request between tiers, counting
    /// context fallbacks as edges too: a request moved to a longer-context tier must never come
    /// back to a tier that already said its input is too long.
    pub(super) fn check_acyclic(tiers: &[Tier], raw: &RawConfig) -> Result<(), ConfigError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        fn visit(
            t: usize,
            tiers: &[Tier],
            marks: &mut [Mark],
            path: &mut Vec<usize>,
        ) -> Option<Vec<usize>> {
            match marks[t] {
                Mark::Done => return None,
                Mark::Active => {
                    let start = path.iter().position(|&p| p == t).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(t);
                    return Some(cycle);
                }
                Mark::New => {}
            }
            marks[t] = Mark::Active;
            path.push(t);
            for next in tiers[t].fallback.iter().chain(&tiers[t].context_fallback) {
                if let Some(cycle) = visit(next.index(), tiers, marks, path) {
                    return Some(cycle);
                }
            }
            path.pop();
            marks[t] = Mark::Done;
            None
        }
        let mut marks = vec![Mark::New; tiers.len()];
        for t in 0..tiers.len() {
            if let Some(cycle) = visit(t, tiers, &mut marks, &mut Vec::new()) {
                let names: Vec<&str> = cycle.iter().map(|&i| tiers[i].name.as_str()).collect();
                return Err(invalid(
                    format!("tier[{}].fallback", cycle[0]),
                    names.join(" → "),
                    "fallback and context_fallback tiers without a cycle",
                    Some(raw.tiers[cycle[0]].span()),
                ));
            }
        }
        Ok(())
    }
}
