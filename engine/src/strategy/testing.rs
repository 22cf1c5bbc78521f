//! A small fixture for strategy unit tests: deployments with weights and limits, and their state.

use std::time::Duration;

use super::{Balancer, PickContext, Rng};
use crate::config::{BalancingParams, Deployment, Endpoint, HealthPolicy, Limits, Price};
use crate::ids::{DeploymentId, TierId};
use crate::latency::DecayRates;
use crate::state::DeploymentState;
use rand::SeedableRng;

pub(crate) struct Fixture {
    pub deployments: Vec<Deployment>,
    pub states: Vec<DeploymentState>,
    pub balancing: BalancingParams,
    pub health: HealthPolicy,
    pub now: Duration,
}

impl Fixture {
    fn new(specs: impl Iterator<Item = (f64, Option<u64>)>) -> Fixture {
        let deployments: Vec<Deployment> = specs
            .enumerate()
            .map(|(i, (weight, rpm))| Deployment {
                id: format!("d{i}"),
                provider: "p".into(),
                model: "m".into(),
                key: "k".into(),
                tier: TierId::from_index(0),
                weight,
                limits: Limits {
                    rpm,
                    tpm: None,
                    rpd: None,
                },
                price: Price::default(),
                endpoint: Endpoint::default(),
            })
            .collect();
        let states = deployments.iter().map(DeploymentState::new).collect();
        Fixture {
            deployments,
            states,
            balancing: BalancingParams {
                latency_decay: Duration::from_secs(10),
                failure_penalty: Duration::from_secs(2),
                default_latency: Duration::from_secs(1),
                error_sensitivity: 50.0,
                cost_factor: 0.0,
            },
            health: HealthPolicy {
                cooldown: Duration::from_secs(5),
                max_cooldown: Duration::from_secs(60),
                failure_threshold: 5,
                open_for: Duration::from_secs(30),
                max_open_for: Duration::from_secs(300),
                error_window: Duration::from_secs(60),
            },
            now: Duration::from_secs(1),
        }
    }

    pub fn weighted(weights: &[f64]) -> Fixture {
        Fixture::new(weights.iter().map(|&w| (w, None)))
    }

    pub fn with_rpm(limits: &[u64]) -> Fixture {
        Fixture::new(limits.iter().map(|&l| (1.0, Some(l))))
    }

    pub fn record_latency(&mut self, i: usize, latency: Duration) {
        let tau = self.balancing.latency_decay;
        self.states[i].latency.record(self.now, latency, tau);
        self.states[i].peak_latency.record(self.now, latency, tau);
        self.states[i].ttft.record(self.now, latency, tau);
    }

    pub fn record_results(&mut self, i: usize, total: u32, failed: u32) {
        for n in 0..total {
            self.states[i]
                .errors
                .record(self.now, self.health.error_window, n < failed);
        }
    }

    /// Every deployment with its weight, as a tier's members.
    pub fn members(&self) -> Vec<(DeploymentId, f64)> {
        self.deployments
            .iter()
            .enumerate()
            .map(|(i, d)| (DeploymentId::from_index(i), d.weight))
            .collect()
    }

    fn candidates(&self) -> Vec<DeploymentId> {
        (0..self.deployments.len())
            .map(DeploymentId::from_index)
            .collect()
    }

    pub fn ctx(&self) -> PickContext<'_> {
        PickContext::new(
            self.now,
            1,
            1,
            &self.deployments,
            &self.states,
            &self.balancing,
            &self.health,
            &[],
            DecayRates::new(&self.balancing, &self.health),
        )
    }

    pub fn pick(&self, b: &mut dyn Balancer) -> DeploymentId {
        let mut rng = Rng::seed_from_u64(7);
        b.pick(&self.ctx(), &self.candidates(), &mut rng)
    }

    pub fn count_picks(&self, b: &mut dyn Balancer, n: usize) -> Vec<usize> {
        let mut rng = Rng::seed_from_u64(42);
        let candidates = self.candidates();
        let ctx = self.ctx();
        let mut counts = vec![0; candidates.len()];
        for _ in 0..n {
            counts[b.pick(&ctx, &candidates, &mut rng).index()] += 1;
        }
        counts
    }
}
