//! Writing a fitted scenario as TOML: `[simulation]`, `[workload]`, the gateway config tables
//! (one tier holding every deployment seen) and `[world]` with one provider per deployment (so
//! each gets its own latency, error and timeout model).

use std::fmt::Write as _;
use std::time::Duration;

use super::stats::Z;
use super::Fit;
use crate::scenario::limits;

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A rate the scenario parser accepts: 6 decimals as before, within the documented range
/// (1e-6 to 1e6 requests per second; a slower trace is written at the slowest rate).
fn rate(r: f64) -> String {
    let r = r.clamp(limits::MIN_RATE, limits::MAX_RATE);
    if r >= 1e-3 {
        format!("{r:.6}")
    } else {
        format!("{r:e}")
    }
}

/// A duration string the scenario parser reads, to the microsecond (at least 1 µs, at most
/// 365 days).
fn duration(seconds: f64) -> String {
    let micros = (seconds * 1e6)
        .round()
        .clamp(1.0, limits::MAX_TIME.as_secs_f64() * 1e6) as u64;
    quote(&humantime::format_duration(Duration::from_micros(micros)).to_string())
}

fn percentiles(points: &[(f64, u64)]) -> String {
    let cells: Vec<String> = points
        .iter()
        .map(|(p, v)| {
            let key = format!("p{p}");
            let key = if key.contains('.') { quote(&key) } else { key };
            // Scenarios state at most MAX_TOKENS (a sample is clamped there anyway).
            format!("{key} = {}", (*v).min(limits::MAX_TOKENS as u64))
        })
        .collect();
    format!("{{ percentiles = {{ {} }} }}", cells.join(", "))
}

impl Fit {
    /// The fitted scenario as TOML text.
    pub fn to_toml(&self) -> String {
        let mut t = String::new();
        let w = &mut t;
        let _ = writeln!(w, "# Fitted by `switchyard fit` from {}.", self.file);
        let _ = writeln!(
            w,
            "# {} requests, {} attempts over {:.1} s, {} deployment(s).",
            self.requests,
            self.attempts,
            self.span_seconds,
            self.deployments.len()
        );
        let _ = writeln!(
            w,
            "# Latency: log-normal fits by maximum likelihood on log values (time to first token of\n\
             # successes; per-token time = (latency - ttft) / output_tokens of successes with output).\n\
             # error_rate and timeout_rate are per attempt that reached the provider (429s and\n\
             # connection errors excluded). Not fitted: true rate limits (see the 429 notes below),\n\
             # provider concurrency (unbounded here), incidents, prices, retry/health policy beyond\n\
             # max_attempts. Arrivals are Poisson at the observed mean rate."
        );
        let _ = writeln!(w, "\n[simulation]");
        let _ = writeln!(w, "name = {}", quote(&self.name));
        let _ = writeln!(w, "seed = 1");
        let _ = writeln!(
            w,
            "duration = {}",
            duration(
                self.span_seconds
                    .ceil()
                    .clamp(1.0, limits::MAX_TIME.as_secs_f64())
            )
        );
        let _ = writeln!(w, "\n[workload]");
        let _ = writeln!(
            w,
            "arrivals = {{ poisson = {{ rate = {} }} }}",
            rate(self.arrival_rate)
        );
        let _ = writeln!(w, "input_tokens = {}", percentiles(&self.input_tokens));
        let _ = writeln!(w, "output_tokens = {}", percentiles(&self.output_tokens));
        let _ = writeln!(w, "client_timeout = \"120s\"");
        for (model, share) in &self.mix {
            let _ = writeln!(
                w,
                "\n[[workload.mix]]\nmodel = {}\nshare = {share:.6}",
                quote(model)
            );
        }
        let _ = writeln!(
            w,
            "\n# ---- gateway config: the same tables `switchyard serve --config` reads ----"
        );
        let _ = writeln!(
            w,
            "\n[[tier]]\nname = {}\nstrategy = \"adaptive\"",
            quote(&self.tier)
        );
        for (model, _) in self.mix.iter().filter(|(m, _)| *m != self.tier) {
            let _ = writeln!(
                w,
                "\n[[route]]\nmodel = {}\ntier = {}",
                quote(model),
                quote(&self.tier)
            );
        }
        for d in &self.deployments {
            let _ = writeln!(w, "\n[[deployment]]");
            let _ = writeln!(w, "id = {}", quote(&d.id));
            let _ = writeln!(w, "provider = {}", quote(&d.id));
            let _ = writeln!(w, "model = {}", quote(&d.model));
            let _ = writeln!(w, "tier = {}", quote(&self.tier));
            let _ = writeln!(w, "weight = {:.4}", d.share.max(1e-4));
            if let Some(after) = d.timeout_after.or(self.timeout_after) {
                let _ = writeln!(w, "first_byte_timeout = {}", duration(after.as_secs_f64()));
            }
        }
        let _ = writeln!(
            w,
            "\n[retry]\nmax_attempts = {}",
            self.max_attempt
                .clamp(1, engine::config::MAX_ATTEMPTS_LIMIT as u32)
        );
        let _ = writeln!(w, "\n# ---- the world: fitted provider behaviour ----");
        for d in &self.deployments {
            let _ = writeln!(w, "\n[[world.provider]]");
            let _ = writeln!(w, "name = {}", quote(&d.id));
            let pooled = |p: bool| {
                if p {
                    " (pooled over all deployments: none of its own)"
                } else {
                    ""
                }
            };
            let _ = writeln!(
                w,
                "# ttft p50 {:.1} ms, p99 {:.1} ms from {} successes{}",
                d.ttft.median() * 1000.0,
                d.ttft.at_z(Z[2]) * 1000.0,
                d.ttft.samples,
                pooled(d.ttft_pooled)
            );
            let _ = writeln!(
                w,
                "ttft = {{ lognormal = {{ median = {}, sigma = {:.6} }} }}",
                duration(d.ttft.median()),
                d.ttft.sigma.min(limits::MAX_SIGMA)
            );
            let _ = writeln!(
                w,
                "# per-token p50 {:.3} ms, p99 {:.3} ms from {} successes{}",
                d.per_token.median() * 1000.0,
                d.per_token.at_z(Z[2]) * 1000.0,
                d.per_token.samples,
                pooled(d.per_token_pooled)
            );
            let _ = writeln!(
                w,
                "per_token = {{ lognormal = {{ median = {}, sigma = {:.6} }} }}",
                duration(d.per_token.median()),
                d.per_token.sigma.min(limits::MAX_SIGMA)
            );
            let _ = writeln!(
                w,
                "# {} attempts: {} ok, {} 5xx, {} timeouts, {} 429s, {} connection errors, {} other 4xx",
                d.attempts,
                d.successes,
                d.server_errors,
                d.timeouts,
                d.rate_limited,
                d.connection_errors,
                d.client_errors
            );
            let _ = writeln!(w, "error_rate = {:.6}", d.error_rate.min(1.0));
            let _ = writeln!(w, "timeout_rate = {:.6}", d.timeout_rate.min(1.0));
            let _ = writeln!(
                w,
                "\n  [[world.provider.deployment]]\n  id = {}",
                quote(&d.id)
            );
            let (rpm, tpm) = d.peak_minute;
            let _ = writeln!(
                w,
                "  # 429s: {} of {} attempts ({:.2}%); busiest minute admitted {rpm} requests, {tpm} tokens.",
                d.rate_limited,
                d.attempts,
                d.rate_limited_share * 100.0
            );
            if d.rate_limited > 0 {
                let _ = writeln!(
                    w,
                    "  # If these 429s came from the provider's limits, its true rpm/tpm is near the\n  \
                     # busiest minute: e.g. rpm = {rpm} or tpm = {tpm} (here and in [[deployment]])."
                );
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_durations() {
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(duration(0.412345), "\"412ms 345us\"");
        assert_eq!(duration(2.0), "\"2s\"");
    }
}
