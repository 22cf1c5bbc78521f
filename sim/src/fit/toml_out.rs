//! Writing a fitted scenario as TOML: the gateway config given with `--config` (as it is),
//! `[simulation]`, `[workload]`, else the gateway config tables fitted from the trace (its tiers,
//! fallbacks and routes), and `[world]` with one provider per deployment (so each gets its own
//! latency, error, timeout and limit model).

use std::fmt::Write as _;
use std::time::Duration;

use super::stats::Z;
use super::Fit;
use crate::scenario::limits;

/// A TOML basic string.
pub(super) fn quote(s: &str) -> String {
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
            "# Latency: log-normal fits by maximum likelihood on log values of streamed successes\n\
             # (time to first token, corrected for attempts a timeout cut off; per-token time =\n\
             # (latency - ttft) / output_tokens), or jointly on the whole latency of non-streamed\n\
             # successes (latency = ttft + tokens x per-token). error_rate and timeout_rate are per\n\
             # attempt that reached the provider (429s, connection errors and cancels excluded);\n\
             # timeout_rate counts only the timeouts the latency tail does not explain. True limits\n\
             # come from recorded x-ratelimit-limit headers, else from the minutes with 429s.\n\
             # Outages: stretches where a deployment's attempts failed far above its base rate\n\
             # (their attempts left out of its rates). Not fitted: provider concurrency (unbounded\n\
             # here), degradations, error spikes, limit cuts, prices. Arrivals are Poisson at the\n\
             # observed mean rate."
        );
        for warning in &self.warnings {
            let _ = writeln!(w, "# warning: {warning}");
        }
        if let Some(c) = &self.config {
            let _ = writeln!(
                w,
                "\n# ---- gateway config: {}, as given (`fit --config`) ----\n",
                c.file
            );
            let _ = writeln!(w, "{}", c.text.trim_end());
        }
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
        if let Some(max) = self.max_tokens {
            let _ = writeln!(w, "max_tokens = {max}");
        }
        if self.stream_share < 1.0 {
            let _ = writeln!(w, "stream_share = {:.6}", self.stream_share.max(0.0));
        }
        super::mix::write_mix(w, &self.mix);
        if self.config.is_none() {
            super::mix::write_clients(w, &self.mix);
            self.write_gateway(w);
        }
        let _ = writeln!(w, "\n# ---- the world: fitted provider behaviour ----");
        for d in &self.deployments {
            write_provider(w, d);
        }
        for o in &self.outages {
            let _ = writeln!(
                w,
                "\n# {} attempt(s) failed ({} succeeded) from {:.1} s to {:.1} s of the trace.\n\
                 [[world.incident]]\nkind = \"outage\"\ntarget = {}\nmode = \"{}\"\nstart = {}\nend = {}",
                o.failures,
                o.successes,
                o.start.as_secs_f64(),
                o.end.as_secs_f64(),
                quote(&o.deployment),
                o.mode.name(),
                duration(o.start.as_secs_f64()),
                duration(o.end.as_secs_f64())
            );
        }
        t
    }

    /// The gateway tables fitted from the trace: its tiers (with the fallbacks it shows), a
    /// route per model, each deployment in its tier weighted by its share of attempts.
    fn write_gateway(&self, w: &mut String) {
        let _ = writeln!(
            w,
            "\n# ---- gateway config: the same tables `switchyard serve --config` reads ----\n\
             # The trace does not say which strategy routed it: give `fit --config gateway.toml`\n\
             # to keep the gateway's own config (strategies, weights, retry, health) instead."
        );
        for tier in &self.tiers {
            let _ = writeln!(
                w,
                "\n[[tier]]\nname = {}\nstrategy = \"adaptive\"",
                quote(&tier.name)
            );
            if !tier.fallback.is_empty() {
                let list: Vec<String> = tier.fallback.iter().map(|f| quote(f)).collect();
                let _ = writeln!(w, "fallback = [{}]", list.join(", "));
            }
        }
        for (model, tier) in self.routes.iter().filter(|(m, t)| m != t) {
            let _ = writeln!(
                w,
                "\n[[route]]\nmodel = {}\ntier = {}",
                quote(model),
                quote(tier)
            );
        }
        let first_tier = self
            .tiers
            .first()
            .map_or(super::topology::DEFAULT_TIER, |t| t.name.as_str());
        for d in &self.deployments {
            let _ = writeln!(w, "\n[[deployment]]");
            let _ = writeln!(w, "id = {}", quote(&d.id));
            let _ = writeln!(w, "provider = {}", quote(&d.id));
            let _ = writeln!(w, "model = {}", quote(&d.model));
            let _ = writeln!(
                w,
                "tier = {}",
                quote(d.tier.as_deref().unwrap_or(first_tier))
            );
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
    }
}

fn write_provider(w: &mut String, d: &super::DeploymentFit) {
    let _ = writeln!(w, "\n[[world.provider]]");
    let _ = writeln!(w, "name = {}", quote(&d.id));
    let _ = writeln!(
        w,
        "# latency from {} ({} streamed, {} non-streamed successes)",
        d.latency_source.describe(),
        d.streamed,
        d.whole
    );
    let _ = writeln!(
        w,
        "# ttft p50 {:.1} ms, p99 {:.1} ms; per-token p50 {:.3} ms, p99 {:.3} ms",
        d.ttft.median() * 1000.0,
        d.ttft.at_z(Z[2]) * 1000.0,
        d.per_token.median() * 1000.0,
        d.per_token.at_z(Z[2]) * 1000.0,
    );
    let _ = writeln!(
        w,
        "ttft = {{ lognormal = {{ median = {}, sigma = {:.6} }} }}",
        duration(d.ttft.median()),
        d.ttft.sigma.min(limits::MAX_SIGMA)
    );
    let _ = writeln!(
        w,
        "per_token = {{ lognormal = {{ median = {}, sigma = {:.6} }} }}",
        duration(d.per_token.median()),
        d.per_token.sigma.min(limits::MAX_SIGMA)
    );
    let _ = writeln!(
        w,
        "# {} attempts: {} ok, {} 5xx, {} timeouts ({:.1} explained by the latency tail), {} 429s, \
         {} connection errors, {} other 4xx, {} cancelled",
        d.attempts,
        d.successes,
        d.server_errors,
        d.timeouts,
        d.timeouts_explained,
        d.rate_limited,
        d.connection_errors,
        d.client_errors,
        d.cancelled
    );
    let _ = writeln!(w, "rate_limit_headers = {}", quote(d.limits.headers));
    let _ = writeln!(w, "error_rate = {:.6}", d.error_rate.min(1.0));
    let _ = writeln!(
        w,
        "timeout_rate = {:.6}",
        d.timeout_rate.min(1.0 - d.error_rate.min(1.0))
    );
    let _ = writeln!(
        w,
        "\n  [[world.provider.deployment]]\n  id = {}",
        quote(&d.id)
    );
    let (rpm, tpm) = d.peak_minute;
    let _ = writeln!(
        w,
        "  # 429s: {} of {} attempts ({:.2}%) in {} minute(s); busiest minute admitted {rpm} requests, {tpm} tokens.",
        d.rate_limited,
        d.attempts,
        d.rate_limited_share * 100.0,
        d.limits.binding_minutes
    );
    if d.limits.rpm.is_some() || d.limits.tpm.is_some() {
        let _ = writeln!(w, "  window = {}", quote(d.limits.window));
    }
    for (key, limit) in [("rpm", d.limits.rpm), ("tpm", d.limits.tpm)] {
        if let Some((value, source)) = limit {
            let _ = writeln!(w, "  # {key} from {}", source.describe());
            let _ = writeln!(w, "  {key} = {}", value.min(i64::MAX as u64));
        }
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
