//! [`fit_trace`]: one streaming pass over the trace, then every fit from its tallies —
//! deployments (with the config's, if given), workload, topology, mix and outages.

use std::path::Path;

use super::deployment::{deployment_fit, pooled};
use super::reader::AttemptReader;
use super::tally::TraceTally;
use super::tokens::token_percentiles;
use super::{estimate, incidents, mix, topology, DeploymentFit, Fit, FitError, FitOptions};

/// Reads the trace at `path` and fits it.
pub fn fit_trace(path: &Path, options: &FitOptions) -> Result<Fit, FitError> {
    let file = path.display().to_string();
    let mut reader = AttemptReader::open(path, options.skip_bad_rows)?;
    let has_model = reader.has_model();
    let mut tally = TraceTally::default();
    while let Some(a) = reader.next_attempt()? {
        tally.add(&a);
    }
    let origin = tally.span.map_or(0, |s| s.0);
    let mut outages: Vec<incidents::FittedOutage> = Vec::new();
    for d in &mut tally.deployments {
        outages.extend(incidents::detect(d, origin));
    }
    let insufficient = |message: &str| FitError::Insufficient {
        file: file.clone(),
        message: message.to_owned(),
    };
    if tally.requests == 0 {
        return Err(insufficient(
            "no requests to fit (no rows, or no first attempts)",
        ));
    }
    let config = options.config.as_ref();
    // The timeout of the deployment with the most timeouts, for those without any.
    let timeout_after = tally
        .deployments
        .iter()
        .filter(|d| d.timeout > 0)
        .max_by_key(|d| d.timeout)
        .and_then(|d| d.timeout_after());
    // Each deployment's censoring point: its configured first-byte timeout, else the observed.
    let cut = |d: &estimate::DeploymentAcc| match config {
        Some(c) => c.deployment(&d.id).and_then(|cd| cd.first_byte_timeout),
        None => d.timeout_after().or(timeout_after),
    };
    let pooled = pooled(&tally, &cut).ok_or_else(|| {
        insufficient(
            "no successful attempt with a time to first token and output tokens: nothing to fit latency on",
        )
    })?;
    let mut warnings = Vec::new();
    let mut deployments: Vec<DeploymentFit> = tally
        .deployments
        .iter()
        .map(|d| {
            let model = match (config.and_then(|c| c.deployment(&d.id)), d.model()) {
                (Some(cd), _) if cd.model.is_some() => cd.model.clone().unwrap_or_default(),
                (_, Some(m)) if has_model => m.to_owned(),
                _ => d.id.clone(),
            };
            let mut f = deployment_fit(d, &pooled, cut(d), model, &mut warnings);
            f.share = f.attempts as f64 / tally.attempts.max(1) as f64;
            f
        })
        .collect();
    if let Some(c) = config {
        deployments.retain(|d| {
            let known = c.deployment(&d.id).is_some();
            if !known {
                warnings.push(format!(
                    "{}: in the trace but not in {}: left out of the fitted world",
                    d.id, c.file
                ));
            }
            known
        });
        for cd in &c.deployments {
            if !deployments.iter().any(|d| d.id == cd.id) {
                warnings.push(format!(
                    "{}: in {} but not in the trace: given the pooled latency and rates",
                    cd.id, c.file
                ));
                let mut f = deployment_fit(
                    &estimate::DeploymentAcc::empty(&cd.id),
                    &pooled,
                    cd.first_byte_timeout,
                    cd.model.clone().unwrap_or_else(|| cd.id.clone()),
                    &mut Vec::new(),
                );
                f.tier = None;
                deployments.push(f);
            }
        }
    }
    let span = tally.span_seconds();
    let arrival_rate = if tally.requests > 1 && span > 0.0 {
        (tally.requests - 1) as f64 / span
    } else {
        tally.requests as f64
    };
    let (tiers, routes) = topology::topology(&tally, &deployments);
    let mix = mix::fit_mix(&tally, config, &mut warnings);
    outages.retain(|o| deployments.iter().any(|d| d.id == o.deployment));
    let stream_share = match tally.stream_known {
        (known, streamed) if known > 0 => streamed as f64 / known as f64,
        _ => {
            let ok: u64 = tally.deployments.iter().map(|d| d.ok).sum();
            let streamed: u64 = tally.deployments.iter().map(|d| d.streamed_ok).sum();
            streamed as f64 / ok.max(1) as f64
        }
    };
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem.strip_suffix(".gz").unwrap_or(&stem);
    let stem = stem.strip_suffix(".csv").unwrap_or(stem);
    Ok(Fit {
        file,
        name: options
            .name
            .clone()
            .unwrap_or_else(|| format!("fitted-{stem}")),
        rows: reader.rows,
        skipped: reader.skipped,
        first_skipped: reader.first_skipped.clone(),
        requests: tally.requests,
        refused: tally.refused,
        client_refused: tally.client_refused.values().sum(),
        attempts: tally.attempts,
        max_attempt: config
            .and_then(|c| c.max_attempts)
            .unwrap_or(tally.max_attempt),
        span_seconds: span,
        arrival_rate,
        input_tokens: token_percentiles(&tally.input_tokens),
        output_tokens: token_percentiles(&tally.output_tokens),
        tiers,
        routes,
        mix,
        stream_share,
        max_tokens: tally.max_tokens(),
        config: config.cloned(),
        warnings,
        deployments,
        timeout_after,
        outages,
    })
}
