//! Scenario files: parsed once, validated into a [`Scenario`] whose errors name the file, the
//! line, the field and what was expected.

pub mod limits;
pub mod raw;
mod sections;
use engine::config::toml_error;
mod world;

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use engine::{Config, ConfigError, StrategyKind};

use crate::dist::{Dist, DistSpec, Unit};
use crate::workload::Workload;
use crate::world::World;
use raw::RawScenario;

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
    /// Gateway replicas sharing limits through the fleet exchange (1: one gateway).
    pub replicas: Replicas,
}

/// `[simulation] replicas`, `sync_interval`, `sync_delay`, `replica_weights`: a fleet of
/// gateways, each with its own engine, exchanging use like `[cluster]` does through Redis.
#[derive(Debug, Clone, PartialEq)]
pub struct Replicas {
    /// How many (1 = a single gateway, no exchange).
    pub count: u32,
    /// Time between two exchanges of one replica (they are spread evenly over it).
    pub sync_interval: Duration,
    /// Time from a replica's publish to its import of what the store held (the round trip).
    pub sync_delay: Duration,
    /// Share of the requests each replica receives (its load balancer's spread).
    pub weights: Vec<f64>,
    /// Whether the replicas exchange their use (`[cluster]` on); false: each counts every
    /// limit alone, as replicas without `[cluster]` do.
    pub shared: bool,
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

    /// The span of the line assigning `key` in the table whose header is at `table` (the
    /// header's span when the key is not written there, e.g. a default).
    fn at(&self, table: &Range<usize>, key: &str) -> Range<usize> {
        let start = table.start.min(self.source.len());
        let mut offset = start;
        for (i, line) in self.source[start..].split_inclusive('\n').enumerate() {
            if i > 0 && toml_error::header_name(line).is_some() {
                break;
            }
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix(key).or_else(|| {
                t.strip_prefix('"')
                    .and_then(|r| r.strip_prefix(key))
                    .and_then(|r| r.strip_prefix('"'))
            }) {
                if rest.trim_start().starts_with('=') {
                    return offset..offset + line.len();
                }
            }
            offset += line.len();
        }
        table.clone()
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

    /// An error about `key` of the table at `table` (whose dotted path is `path`).
    fn key_err(
        &self,
        table: &Range<usize>,
        path: &str,
        key: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.err(Some(&self.at(table, key)), format!("{path}.{key}"), message)
    }

    fn config_err(&self, e: ConfigError) -> ScenarioError {
        ScenarioError {
            file: self.file.to_owned(),
            line: e.line_in(self.source),
            field: None,
            message: e.to_string(),
        }
    }

    fn toml_err(&self, e: toml::de::Error) -> ScenarioError {
        let span = e.span();
        ScenarioError {
            file: self.file.to_owned(),
            line: span.as_ref().map(|s| self.line_of(s)),
            field: span.and_then(|s| toml_error::key_at(self.source, &s)),
            message: toml_error::readable(e.message()),
        }
    }

    /// Checks a name, id or model: 1 to [`limits::MAX_NAME_CHARS`] characters.
    fn name(
        &self,
        table: &Range<usize>,
        path: &str,
        key: &str,
        value: &str,
    ) -> Result<(), ScenarioError> {
        limits::name(value)
            .map(drop)
            .map_err(|m| self.key_err(table, path, key, m))
    }

    /// Checks a duration against `min..=max`.
    fn duration(
        &self,
        table: &Range<usize>,
        path: &str,
        key: &str,
        d: Duration,
        (min, max): (Duration, Duration),
    ) -> Result<Duration, ScenarioError> {
        limits::duration_in(d, min, max).map_err(|m| self.key_err(table, path, key, m))
    }

    fn dist(
        &self,
        spec: &DistSpec,
        unit: Unit,
        table: &Range<usize>,
        path: &str,
        key: &str,
    ) -> Result<Dist, ScenarioError> {
        spec.build(unit)
            .map_err(|m| self.key_err(table, path, key, m))
    }
}

impl Scenario {
    /// Reads and validates a scenario file: a regular file of at most
    /// [`crate::files::MAX_SCENARIO_BYTES`], UTF-8.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let source =
            crate::files::read_text(path, crate::files::MAX_SCENARIO_BYTES).map_err(|e| {
                ScenarioError {
                    file: file.clone(),
                    line: None,
                    field: None,
                    message: format!("cannot read the scenario: {e}"),
                }
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
        let raw: RawScenario = toml::from_str(source).map_err(|e| ctx.toml_err(e))?;
        let config = Config::from_raw(raw.gateway_config()).map_err(|e| ctx.config_err(e))?;
        let settings = sections::settings(&ctx, &raw.simulation)?;
        let workload = sections::workload(&ctx, &raw.workload, &config, &settings)?;
        let world = world::world(&ctx, &raw, &config)?;
        let name = match &raw.simulation.get_ref().name {
            Some(name) => {
                ctx.name(&raw.simulation.span(), "simulation", "name", name)?;
                name.clone()
            }
            None => default_name.chars().take(limits::MAX_NAME_CHARS).collect(),
        };
        Ok(Scenario {
            name,
            settings,
            workload,
            world,
            config,
        })
    }
}

#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod tests;
