//! `switchyard serve`: the OpenAI-compatible gateway (see `docs/gateway.md`).

use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `switchyard serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Gateway config file (TOML, same schema as a scenario's gateway section).
    #[arg(long)]
    pub config: PathBuf,
    /// Address to listen on, HOST:PORT (port 0–65535).
    #[arg(long, default_value = gateway::DEFAULT_LISTEN, value_parser = parse_listen)]
    pub listen: String,
    /// Environment variable holding comma-separated client keys (Authorization: Bearer KEY).
    /// Without it the gateway accepts every client.
    #[arg(long, value_name = "NAME")]
    pub gateway_keys_env: Option<String>,
    /// Largest accepted request body in bytes (413 above).
    #[arg(long, default_value_t = gateway::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Write one CSV row per upstream attempt to this file.
    #[arg(long, value_name = "FILE")]
    pub trace_out: Option<PathBuf>,
    /// Seed of the engine's random choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seconds in-flight requests may run on after SIGTERM/Ctrl-C.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub shutdown_timeout: f64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// `per-core`: one single-threaded event loop per worker, each with its own listener
    /// (SO_REUSEPORT) and upstream pools; `work-stealing`: one tokio multi-thread runtime.
    #[arg(long, default_value = "per-core")]
    pub threading: gateway::Threading,
    /// Seconds a client gets to send a whole request body after its head; then 408 and the
    /// connection is closed.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub body_read_timeout: f64,
    /// Seconds a client gets to send a request head (also how long an idle keep-alive
    /// connection stays open).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub header_read_timeout: f64,
    /// Most client connections open at once; more wait in the listen backlog until one closes.
    /// Default: 4096, or less if the file-descriptor limit (ulimit -n) is lower than ~8300.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Environment variable holding the admin key for `POST /admin/reload` and
    /// `GET /admin/state` (`Authorization: Bearer KEY`). Without it those endpoints answer 404.
    /// SIGHUP reloads the config file either way.
    #[arg(long, value_name = "NAME")]
    pub admin_key_env: Option<String>,
    /// Run N times faster than the config's modelled time, for a gateway in front of
    /// `mock-provider --speed N`: every duration of the config (windows, cooldowns, backoff,
    /// breaker, latency decay, waits, timeouts) is compressed N times, what providers say in
    /// real time is converted, and the trace is written in modelled time. The same direction
    /// as `mock-provider --speed` and `replay --speed`. From 0.001 to 10000.
    #[arg(long, value_name = "N", default_value_t = 1.0, allow_negative_numbers = true,
          value_parser = speed)]
    pub speed: f64,
}

/// `--speed`: a number from 0.001 to 10000.
fn speed(s: &str) -> Result<f64, String> {
    match crate::args::positive(s) {
        Ok(v) if gateway::clock::speed_ok(v) => Ok(v),
        _ => Err(format!(
            "{s:?} must be a number from 0.001 to 10000 (1 = real time)"
        )),
    }
}

/// `--listen`: HOST:PORT with a port that fits in 16 bits (`[::1]:8080` for IPv6).
fn parse_listen(s: &str) -> Result<String, String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?}: expected HOST:PORT, e.g. 127.0.0.1:8080"))?;
    if host.is_empty() {
        return Err(format!("{s:?}: the host is missing (e.g. 0.0.0.0:{port})"));
    }
    port.parse::<u16>()
        .map_err(|_| format!("{s:?}: the port {port:?} is not a number from 0 to 65535"))?;
    Ok(s.to_owned())
}

/// Seconds from a flag, as a duration; `positive` refuses 0.
fn seconds(flag: &str, value: f64, positive: bool) -> anyhow::Result<Duration> {
    match Duration::try_from_secs_f64(value) {
        Ok(d) if !positive || !d.is_zero() => Ok(d),
        _ => anyhow::bail!(
            "--{flag} {value}: expected a number of seconds {}",
            if positive { "> 0" } else { "≥ 0" }
        ),
    }
}

/// Runs the gateway until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let shutdown_timeout = seconds("shutdown-timeout", args.shutdown_timeout, false)?;
    let body_read_timeout = seconds("body-read-timeout", args.body_read_timeout, true)?;
    let header_read_timeout = seconds("header-read-timeout", args.header_read_timeout, true)?;
    let opts = gateway::ServeOptions {
        config: args.config,
        listen: args.listen,
        gateway_keys_env: args.gateway_keys_env,
        max_body_bytes: args.max_body_bytes,
        trace_out: args.trace_out,
        seed: args.seed,
        shutdown_timeout,
        worker_threads: args.workers,
        threading: args.threading,
        body_read_timeout,
        header_read_timeout,
        max_connections: args.max_connections.map(|n| n as usize),
        admin_key_env: args.admin_key_env,
        speed: args.speed,
    };
    gateway::run(opts)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{parse_listen, seconds, speed};

    #[test]
    fn listen_addresses() {
        assert!(parse_listen("127.0.0.1:8080").is_ok());
        assert!(parse_listen("[::1]:0").is_ok());
        assert!(parse_listen("localhost:65535").is_ok());
        let e = parse_listen("127.0.0.1:99999").unwrap_err();
        assert!(e.contains("99999") && e.contains("0 to 65535"), "{e}");
        assert!(parse_listen("127.0.0.1").is_err());
        assert!(parse_listen(":80").is_err());
    }

    #[test]
    fn speeds() {
        assert_eq!(speed("10"), Ok(10.0));
        assert_eq!(speed("0.001"), Ok(0.001));
        for bad in ["0", "-2", "nan", "inf", "10001", "fast"] {
            let e = speed(bad).unwrap_err();
            assert!(e.contains("from 0.001 to 10000"), "{bad}: {e}");
        }
    }

    #[test]
    fn timeouts() {
        assert!(seconds("x", 0.0, true).is_err());
        assert!(seconds("x", -1.0, false).is_err());
        assert!(seconds("x", f64::NAN, false).is_err());
        assert_eq!(
            seconds("x", 1.5, true).ok(),
            Some(std::time::Duration::from_millis(1500))
        );
    }
}
