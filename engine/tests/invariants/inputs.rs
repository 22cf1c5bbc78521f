//! Generated inputs: random configs (1–12 or 65–90 deployments over 1–3 tiers with
//! fallbacks and context fallbacks, random weights, limits, retry and health settings),
//! outcomes with optional rate-limit headers, and arrivals.

use std::fmt::Write as _;

use engine::{Config, StrategyKind};
use proptest::prelude::*;

#[derive(Debug, Clone)]
pub(crate) struct TierSpec {
    pub(crate) strategy: StrategyKind,
    pub(crate) fallback: Vec<usize>,
    /// A later tier taking requests too long for this one.
    pub(crate) context: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct DeploymentSpec {
    pub(crate) tier: usize,
    pub(crate) weight: u32,
    pub(crate) rpm: Option<u32>,
    pub(crate) tpm: Option<u32>,
    pub(crate) rpd: Option<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct ConfigSpec {
    pub(crate) tiers: Vec<TierSpec>,
    pub(crate) deployments: Vec<DeploymentSpec>,
    pub(crate) max_attempts: u32,
    pub(crate) backoff_base_ms: u64,
    pub(crate) jitter: f64,
    pub(crate) max_wait_s: u64,
    /// rate_limited, server_error, timeout, connection.
    pub(crate) retry_on: [bool; 4],
    pub(crate) cooldown_ms: u64,
    pub(crate) failure_threshold: u32,
    pub(crate) open_for_ms: u64,
}

impl ConfigSpec {
    fn toml(&self) -> String {
        let mut s = String::new();
        for (i, t) in self.tiers.iter().enumerate() {
            let fallback: Vec<String> = t.fallback.iter().map(|f| format!("\"t{f}\"")).collect();
            writeln!(
                s,
                "[[tier]]\nname = \"t{i}\"\nstrategy = \"{}\"\nfallback = [{}]",
                t.strategy.name(),
                fallback.join(", ")
            )
            .unwrap();
            if let Some(c) = t.context {
                writeln!(s, "context_fallback = \"t{c}\"").unwrap();
            }
            s.push('\n');
        }
        for (i, d) in self.deployments.iter().enumerate() {
            writeln!(
                s,
                "[[deployment]]\nid = \"d{i}\"\nprovider = \"p{}\"\nmodel = \"m\"\ntier = \"t{}\"\n\
                 weight = {}\ninput_price = 1.5\noutput_price = 6.0",
                i % 3,
                d.tier,
                d.weight
            )
            .unwrap();
            for (name, limit) in [("rpm", d.rpm), ("tpm", d.tpm), ("rpd", d.rpd)] {
                if let Some(v) = limit {
                    writeln!(s, "{name} = {v}").unwrap();
                }
            }
            s.push('\n');
        }
        let kinds = ["rate_limited", "server_error", "timeout", "connection"];
        let retry_on: Vec<String> = kinds
            .iter()
            .zip(self.retry_on)
            .filter(|(_, on)| *on)
            .map(|(k, _)| format!("\"{k}\""))
            .collect();
        writeln!(
            s,
            "[retry]\nmax_attempts = {}\nbackoff_base = \"{}ms\"\nbackoff_max = \"{}ms\"\n\
             jitter = {:?}\nmax_wait = \"{}s\"\nretry_on = [{}]\n",
            self.max_attempts,
            self.backoff_base_ms,
            self.backoff_base_ms * 8,
            self.jitter,
            self.max_wait_s,
            retry_on.join(", ")
        )
        .unwrap();
        writeln!(
            s,
            "[health]\ncooldown = \"{}ms\"\nfailure_threshold = {}\nopen_for = \"{}ms\"\n",
            self.cooldown_ms, self.failure_threshold, self.open_for_ms
        )
        .unwrap();
        s
    }

    pub(crate) fn config(&self) -> Config {
        let text = self.toml();
        Config::from_toml(&text)
            .unwrap_or_else(|e| panic!("generated config rejected: {e}\n{text}"))
    }
}

fn strategy_kind() -> impl Strategy<Value = StrategyKind> {
    proptest::sample::select(StrategyKind::EVERY.to_vec())
}

pub(crate) fn config_spec() -> impl Strategy<Value = ConfigSpec> {
    // Mostly small tiers (scanned); sometimes tiers large enough to be sampled or scheduled.
    (1usize..=3, prop_oneof![3 => 1usize..=12, 1 => 65usize..=90])
        .prop_flat_map(|(tiers, deployments)| {
            let tiers = tiers.min(deployments);
            (
                proptest::collection::vec(
                    (
                        strategy_kind(),
                        any::<u8>(),
                        any::<bool>(),
                        proptest::option::of(any::<u8>()),
                    ),
                    tiers,
                ),
                proptest::collection::vec(
                    (
                        0..tiers,
                        0u32..=5,
                        proptest::option::of(1u32..=30),
                        proptest::option::of(2_000u32..=20_000),
                        proptest::option::of(1u32..=60),
                    ),
                    deployments,
                ),
                1u32..=6,
                1u64..=500,
                prop_oneof![Just(0.0), Just(0.2), Just(0.5), Just(1.0)],
                0u64..=120,
                any::<[bool; 4]>(),
                100u64..=10_000,
                1u32..=5,
                100u64..=30_000,
            )
        })
        .prop_map(
            |(
                tiers,
                deployments,
                max_attempts,
                backoff_base_ms,
                jitter,
                max_wait_s,
                retry_on,
                cooldown_ms,
                failure_threshold,
                open_for_ms,
            )| {
                let n = tiers.len();
                let tiers = tiers
                    .into_iter()
                    .enumerate()
                    .map(|(i, (strategy, mask, reverse, context))| {
                        // Only tiers after this one: fallbacks stay acyclic.
                        let mut fallback: Vec<usize> =
                            (i + 1..n).filter(|j| mask & (1 << j) != 0).collect();
                        if reverse {
                            fallback.reverse();
                        }
                        // Only later tiers, too: context fallbacks stay acyclic.
                        let context = context
                            .filter(|_| i + 1 < n)
                            .map(|p| i + 1 + usize::from(p) % (n - i - 1));
                        TierSpec {
                            strategy,
                            fallback,
                            context,
                        }
                    })
                    .collect();
                let deployments = deployments
                    .into_iter()
                    .enumerate()
                    .map(|(i, (tier, weight, rpm, tpm, rpd))| {
                        // Every tier gets a deployment with a positive weight.
                        let (tier, weight) = if i < n {
                            (i, weight.max(1))
                        } else {
                            (tier, weight)
                        };
                        DeploymentSpec {
                            tier,
                            weight,
                            rpm,
                            tpm,
                            rpd,
                        }
                    })
                    .collect();
                ConfigSpec {
                    tiers,
                    deployments,
                    max_attempts,
                    backoff_base_ms,
                    jitter,
                    max_wait_s,
                    retry_on,
                    cooldown_ms,
                    failure_threshold,
                    open_for_ms,
                }
            },
        )
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Success,
    RateLimited {
        retry_after_ms: Option<u64>,
    },
    Server,
    Timeout,
    Connection,
    Client {
        status: u16,
    },
    /// A 400 saying the input exceeds the context window.
    ContextLength,
    /// The driver gives up on the request while the attempt is out.
    Cancel,
}

/// Rate-limit headers: remaining requests, reset requests (ms), remaining tokens, reset tokens (ms).
pub(crate) type HeaderSpec = (Option<u64>, Option<u64>, Option<u64>, Option<u64>);

#[derive(Debug, Clone, Copy)]
pub(crate) struct OutcomeSpec {
    pub(crate) kind: Kind,
    pub(crate) latency_ms: u64,
    pub(crate) headers: Option<HeaderSpec>,
}

pub(crate) fn outcome_spec() -> impl Strategy<Value = OutcomeSpec> {
    let kind = prop_oneof![
        5 => Just(Kind::Success),
        2 => proptest::option::of(0u64..=20_000)
            .prop_map(|retry_after_ms| Kind::RateLimited { retry_after_ms }),
        1 => Just(Kind::Server),
        1 => Just(Kind::Timeout),
        1 => Just(Kind::Connection),
        1 => proptest::sample::select(vec![400u16, 401, 404, 413])
            .prop_map(|status| Kind::Client { status }),
        1 => Just(Kind::ContextLength),
        1 => Just(Kind::Cancel),
    ];
    let headers = proptest::option::weighted(
        0.2,
        (
            proptest::option::of(0u64..=40),
            proptest::option::of(0u64..=60_000),
            proptest::option::of(0u64..=30_000),
            proptest::option::of(0u64..=60_000),
        ),
    );
    (kind, 1u64..=8_000, headers).prop_map(|(kind, latency_ms, headers)| OutcomeSpec {
        kind,
        latency_ms,
        headers,
    })
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    pub(crate) gap_ms: u64,
    pub(crate) tier: usize,
    pub(crate) input_tokens: u32,
    pub(crate) output_tokens: u32,
}

pub(crate) fn arrivals() -> impl Strategy<Value = Vec<Arrival>> {
    proptest::collection::vec(
        (0u64..=3_000, 0usize..3, 1u32..=3_000, 1u32..=3_000).prop_map(
            |(gap_ms, tier, input_tokens, output_tokens)| Arrival {
                gap_ms,
                tier,
                input_tokens,
                output_tokens,
            },
        ),
        1..=50,
    )
}
