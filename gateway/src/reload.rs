//! Reload without restart: re-read the config file, check it whole (the engine's validation,
//! then every deployment's endpoint and API key variable), and swap it in atomically.
//!
//! The engine and the upstream table change under one lock ([`crate::state::Core`]), so an id
//! the engine hands out always names an upstream of the same config; requests keep the
//! upstreams they are using until they end. A file that fails any check changes nothing: every
//! error is logged as `file:line: field: what is wrong` and counted in
//! `switchyard_config_reloads_total{result="error"}`. API keys are read again from the process
//! environment (as [`Gateway::new`]'s `env` sees it), which a running process cannot see
//! change: a rotated key needs a new variable name in the file (the upstream is rebuilt when its
//! `api_key_env` changes).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tracing::{error, info};

use crate::error::GatewayError;
use crate::live::Live;
use crate::state::{Gateway, Shared};

/// What a successful reload changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    /// The config's generation: 0 at start, +1 per successful reload.
    pub generation: u64,
    /// Deployment ids kept, with their learned state.
    pub kept: Vec<String>,
    /// Deployment ids added (fresh state).
    pub added: Vec<String>,
    /// Deployment ids removed (draining while attempts are out on them).
    pub removed: Vec<String>,
    /// Live requests whose tier vanished (each fails at its next decision unless its attempt
    /// in flight succeeds).
    pub orphaned: usize,
}

/// Why a reload was refused; the running config is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadError {
    /// Every problem found, each `file:line: field: what is wrong` where the line is known.
    pub errors: Vec<String>,
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.errors.join("\n"))
    }
}

impl Gateway {
    /// Re-reads the config file the gateway was started with (`Settings::config_path`) and
    /// swaps it in; on any error the running config stays.
    pub fn reload(&self) -> Result<ReloadReport, ReloadError> {
        reload(&self.inner)
    }
}

/// [`Gateway::reload`] on the shared state.
pub(crate) fn reload(gw: &Shared) -> Result<ReloadReport, ReloadError> {
    let result = match &gw.settings.config_path {
        None => Err(vec![
            "the gateway was started without a config file: nothing to reload".to_owned(),
        ]),
        Some(path) => swap(gw, path),
    };
    match result {
        Ok(report) => {
            gw.reloads.ok.fetch_add(1, Ordering::Relaxed);
            info!(
                generation = report.generation,
                kept = report.kept.len(),
                added = ?report.added,
                removed = ?report.removed,
                orphaned = report.orphaned,
                "config reloaded"
            );
            Ok(report)
        }
        Err(errors) => {
            gw.reloads.error.fetch_add(1, Ordering::Relaxed);
            for e in &errors {
                error!("config reload rejected: {e}");
            }
            error!(
                errors = errors.len(),
                "config reload rejected: the running config is unchanged"
            );
            Err(ReloadError { errors })
        }
    }
}

fn swap(gw: &Shared, path: &Path) -> Result<ReloadReport, Vec<String>> {
    // One reload at a time: generations must not interleave.
    let _one = gw.reloading.lock().unwrap_or_else(|e| e.into_inner());
    let text = crate::config_file::read_config(path)
        .map_err(|e| vec![format!("{}: cannot read the config: {e}", path.display())])?;
    let config = engine::Config::from_toml(&text).map_err(|cause| {
        vec![GatewayError::Config {
            path: path.to_owned(),
            line: cause.line_in(&text),
            cause: Box::new(cause),
        }
        .to_string()]
    })?;
    let previous = gw.live();
    let live = Live::build(
        config.clone(),
        &*gw.env,
        Some(&previous),
        previous.generation + 1,
    )
    .map_err(|errors| {
        errors
            .iter()
            .map(|e| located(e, path, &text, &config))
            .collect::<Vec<_>>()
    })?;
    let generation = live.generation;
    let now = gw.now();
    let mut engine = gw.lock();
    let core = engine.core();
    let r = core.engine.reconfigure(config, now);
    core.live = Arc::new(live);
    drop(engine);
    Ok(ReloadReport {
        generation,
        kept: r.kept,
        added: r.added,
        removed: r.removed,
        orphaned: r.orphaned,
    })
}

/// An upstream error as `file:line: deployment[i].field: message`.
fn located(e: &GatewayError, path: &Path, text: &str, config: &engine::Config) -> String {
    let deployment = |id: &str| config.deployment_by_id(id).map_or(0, |d| d.index());
    let (table, index, field) = match e {
        GatewayError::BaseUrl { deployment: d, .. } => ("deployment", deployment(d), "base_url"),
        GatewayError::MissingKey { deployment: d, .. }
        | GatewayError::EmptyKey { deployment: d, .. }
        | GatewayError::InvalidKey { deployment: d, .. } => {
            ("deployment", deployment(d), "api_key_env")
        }
        GatewayError::MissingClientKey { client, .. } => (
            "client",
            config.client_by_name(client).map_or(0, |c| c.index()),
            "key_env",
        ),
        other => return format!("{}: {other}", path.display()),
    };
    let line = table_line(text, table, index)
        .map(|l| format!(":{l}"))
        .unwrap_or_default();
    format!("{}{line}: {table}[{index}].{field}: {e}", path.display())
}

/// The 1-based line of the `index`-th `[[table]]` header.
fn table_line(text: &str, table: &str, index: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim();
            l.strip_prefix("[[")
                .and_then(|l| l.strip_suffix("]]"))
                .is_some_and(|name| name.trim() == table)
        })
        .nth(index)
        .map(|(n, _)| n + 1)
}

#[cfg(test)]
mod tests {
    use super::table_line;

    #[test]
    fn deployment_tables_are_found_by_position() {
        let text =
            "[[tier]]\nname = \"t\"\n\n[[deployment]]\nid = \"a\"\n[[ deployment ]]\nid = \"b\"\n";
        assert_eq!(table_line(text, "deployment", 0), Some(4));
        assert_eq!(table_line(text, "deployment", 1), Some(6));
        assert_eq!(table_line(text, "deployment", 2), None);
        assert_eq!(table_line(text, "tier", 0), Some(1));
    }
}
