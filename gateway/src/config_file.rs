//! Reading what `switchyard serve` starts from: the config file (bounded, regular files only)
//! and the keys named by environment variables.

use crate::error::GatewayError;
use crate::upstream::check_endpoints;

/// Largest config file the gateway reads.
const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// A config's text: a regular file of at most [`MAX_CONFIG_BYTES`] (never a FIFO or a device
/// read without end).
pub(crate) fn read_config(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() > MAX_CONFIG_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "not a regular file of at most 64 MiB",
        ));
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES).read_to_string(&mut text)?;
    Ok(text)
}

/// Reads and checks a gateway config file (the engine's checks, then [`check_endpoints`]);
/// errors name the file and line.
pub fn load_config(path: &std::path::Path) -> Result<engine::Config, GatewayError> {
    let text = read_config(path).map_err(|cause| GatewayError::ReadConfig {
        path: path.to_owned(),
        cause,
    })?;
    let config = engine::Config::from_toml(&text).map_err(|cause| GatewayError::Config {
        path: path.to_owned(),
        line: cause.line_in(&text),
        cause: Box::new(cause),
    })?;
    check_endpoints(&config)?;
    Ok(config)
}

/// Reads comma-separated client keys from the environment variable `name`.
pub fn gateway_keys_from_env(name: &str) -> Result<Vec<String>, GatewayError> {
    let keys: Vec<String> = std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    if keys.is_empty() {
        return Err(GatewayError::MissingGatewayKeys(name.to_owned()));
    }
    Ok(keys)
}

/// Reads the admin key from the environment variable `name` (`--admin-key-env`).
pub fn admin_key_from_env(name: &str) -> Result<String, GatewayError> {
    match std::env::var(name) {
        Ok(k) if !k.trim().is_empty() => Ok(k.trim().to_owned()),
        _ => Err(GatewayError::MissingAdminKey(name.to_owned())),
    }
}
