//! `fit --config gateway.toml`: the gateway's own config, kept as it is in the fitted scenario
//! (tiers, routes, deployments with their weights, models and timeouts, strategies, retry,
//! health and every other table), so only the world and the workload are fitted.

use std::path::Path;
use std::time::Duration;

use super::FitError;

/// The gateway config a trace was recorded under.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The file it was read from.
    pub file: String,
    /// Its tables as TOML, without `[simulation]`, `[workload]` and `[world]` (a scenario may
    /// be given as the config).
    pub text: String,
    /// Its deployments, in order.
    pub deployments: Vec<ConfigDeployment>,
    /// `[retry] max_attempts`, if set.
    pub max_attempts: Option<u32>,
    /// Tier names, in order.
    pub tiers: Vec<String>,
    /// `[[client]]` names, in order.
    pub clients: Vec<String>,
}

/// One `[[deployment]]` of the config.
#[derive(Debug, Clone)]
pub struct ConfigDeployment {
    /// Its id.
    pub id: String,
    /// Its model.
    pub model: Option<String>,
    /// Its `first_byte_timeout`, if set.
    pub first_byte_timeout: Option<Duration>,
}

/// Sections of a scenario that are not the gateway's.
const NOT_GATEWAY: [&str; 3] = ["simulation", "workload", "world"];

impl GatewayConfig {
    /// Reads `path` (a gateway config, or a scenario whose gateway tables are used) and checks
    /// it is a config the engine accepts.
    pub fn load(path: &Path) -> Result<GatewayConfig, FitError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| FitError::Io {
            file: file.clone(),
            cause,
        })?;
        let bad = |message: String| FitError::Config {
            file: file.clone(),
            message,
        };
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| bad(e.to_string()))?;
        for key in NOT_GATEWAY {
            table.remove(key);
        }
        let text = toml::to_string(&table).map_err(|e| bad(e.to_string()))?;
        engine::Config::from_toml(&text).map_err(|e| bad(e.to_string()))?;
        let str_of =
            |t: &toml::Table, k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let tables = |k: &str| -> Vec<toml::Table> {
            table
                .get(k)
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|v| v.as_table().cloned()).collect())
                .unwrap_or_default()
        };
        let deployments = tables("deployment")
            .iter()
            .map(|d| ConfigDeployment {
                id: str_of(d, "id").unwrap_or_default(),
                model: str_of(d, "model"),
                first_byte_timeout: str_of(d, "first_byte_timeout")
                    .and_then(|s| humantime::parse_duration(&s).ok()),
            })
            .collect();
        let tiers = tables("tier")
            .iter()
            .filter_map(|t| str_of(t, "name"))
            .collect();
        let clients = tables("client")
            .iter()
            .filter_map(|c| str_of(c, "name"))
            .collect();
        let max_attempts = table
            .get("retry")
            .and_then(|r| r.get("max_attempts"))
            .and_then(|v| v.as_integer())
            .and_then(|n| u32::try_from(n).ok());
        Ok(GatewayConfig {
            file,
            text,
            deployments,
            max_attempts,
            tiers,
            clients,
        })
    }

    /// The deployment `id`, if the config has it.
    pub fn deployment(&self, id: &str) -> Option<&ConfigDeployment> {
        self.deployments.iter().find(|d| d.id == id)
    }
}
