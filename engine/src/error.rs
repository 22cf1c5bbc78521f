//! The engine's one error type: a config that cannot be accepted.

use std::ops::Range;

use thiserror::Error;

/// Why a config was rejected. Both forms name the field and the offending value.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum ConfigError {
    /// The TOML did not parse or did not fit the schema (unknown key, wrong type).
    #[error("{message}")]
    Parse {
        /// The parser's message, naming the key and what was expected.
        message: String,
        /// Byte span in the source, when known.
        span: Option<Range<usize>>,
    },
    /// A value parsed but is not acceptable.
    #[error("{field} = {value}: expected {expected}")]
    Invalid {
        /// Path of the field, e.g. `deployment[2].weight`.
        field: String,
        /// The value found.
        value: String,
        /// What would have been accepted.
        expected: String,
        /// Byte span of the enclosing table in the source, when known.
        span: Option<Range<usize>>,
    },
}

/// The top-level tables a scenario adds to a gateway config.
const SCENARIO_TABLES: [&str; 3] = ["simulation", "workload", "world"];

impl ConfigError {
    /// Wraps a TOML parse error, keeping its span but not its rendered snippet.
    pub fn from_toml(e: toml::de::Error) -> ConfigError {
        ConfigError::Parse {
            message: e.message().to_owned(),
            span: e.span(),
        }
    }

    /// Wraps a TOML parse error of `source`, naming the dotted key it is about (e.g.
    /// `retry.max_attempts: wrong type: …`) and rephrasing serde's wording for a person.
    pub fn from_toml_in(e: toml::de::Error, source: &str) -> ConfigError {
        let span = e.span();
        let message = crate::config::toml_error::readable(e.message());
        let message = match span
            .as_ref()
            .and_then(|s| crate::config::toml_error::key_at(source, s))
        {
            Some(key) => format!("{key}: {message}"),
            None => message,
        };
        ConfigError::Parse { message, span }
    }

    /// A gateway config holding one of a scenario's own tables is most likely a scenario file
    /// given to `serve`: the error says which file each command reads.
    pub(crate) fn with_scenario_hint(self) -> ConfigError {
        match self {
            ConfigError::Parse { message, span }
                if SCENARIO_TABLES
                    .iter()
                    .any(|t| message.starts_with(&format!("{t}: unknown field `{t}`"))) =>
            {
                ConfigError::Parse {
                    message: format!(
                        "{message}. [simulation], [workload] and [world] make a scenario \
                         file (what `simulate`, `compare` and `check` read); a gateway config \
                         is the rest of it: its [[tier]], [[deployment]] (each with a \
                         base_url) and other tables in a file of their own"
                    ),
                    span,
                }
            }
            other => other,
        }
    }

    /// Byte span in the source file the error points at, if known.
    pub fn span(&self) -> Option<Range<usize>> {
        match self {
            ConfigError::Parse { span, .. } | ConfigError::Invalid { span, .. } => span.clone(),
        }
    }

    /// 1-based line of the error in `source`, if the error has a span.
    pub fn line_in(&self, source: &str) -> Option<usize> {
        let Some(span) = self.span() else {
            // A plain table's checks keep no span: find the field by its name.
            return match self {
                ConfigError::Invalid { field, .. } => {
                    crate::config::toml_error::line_of_field(source, field)
                }
                ConfigError::Parse { .. } => None,
            };
        };
        let start = span.start.min(source.len());
        Some(
            source.as_bytes()[..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1,
        )
    }
}
