//! The reloadable half of the gateway: one config and the upstreams built from it, swapped as a
//! whole under the engine's lock so that a deployment id handed out by the engine always names
//! the upstream of the same config.
//!
//! A request keeps an `Arc` of the upstream (and of its worker's HTTP client) for as long as an
//! attempt on it runs, so a reload that removes a deployment never pulls a connection from
//! under an in-flight request: the old upstream lives until its last attempt ends.

use sha2::{Digest as _, Sha256};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use engine::config::clients::ClientKey;
use engine::{Config, DeploymentId};
use subtle::ConstantTimeEq;

use crate::error::GatewayError;
use crate::upstream::{Upstream, UpstreamClient};

/// One config and what the gateway built from it.
pub(crate) struct Live {
    /// The checked config (the engine runs the same one).
    pub config: Config,
    /// One upstream per deployment, indexed by [`DeploymentId`].
    pub upstreams: Vec<Arc<Upstream>>,
    /// Deployment ids by [`DeploymentId`], shared with trace rows.
    pub deployment_names: Vec<Arc<str>>,
    /// Tier names by [`engine::TierId`], shared with trace rows.
    pub tier_names: Vec<Arc<str>>,
    /// `GET /v1/models`.
    pub models_json: Bytes,
    /// 0 for the config the gateway started with, +1 per successful reload.
    pub generation: u64,
    /// How each `[[client]]`'s key is recognised, in config order.
    pub client_keys: Vec<(Arc<str>, KnownKey)>,
    /// Some tier hedges: only then does an attempt ask the engine when to hedge (one lock
    /// fewer per attempt otherwise).
    pub hedging: bool,
}

/// A client key as the gateway holds it.
pub(crate) enum KnownKey {
    /// The key itself (read from `key_env`).
    Exact(Vec<u8>),
    /// Its SHA-256 (`key_sha256`).
    Hash([u8; 32]),
}

impl Live {
    /// Builds upstreams for `config`. An upstream whose deployment is unchanged since
    /// `previous` is shared with it (same key, same pooled clients). Every failing deployment
    /// is reported, not just the first.
    pub fn build(
        config: Config,
        env: &dyn Fn(&str) -> Option<String>,
        previous: Option<&Live>,
        generation: u64,
    ) -> Result<Live, Vec<GatewayError>> {
        let mut upstreams = Vec::with_capacity(config.deployments.len());
        let mut errors = Vec::new();
        for d in &config.deployments {
            let reused = previous.and_then(|p| {
                let old = p.config.deployment_by_id(&d.id)?;
                let same = p.config.deployment(old).endpoint == d.endpoint
                    && p.config.deployment(old).model == d.model;
                same.then(|| p.upstreams[old.index()].clone())
            });
            match reused.map_or_else(|| Upstream::new(d, env).map(Arc::new), Ok) {
                Ok(up) => upstreams.push(up),
                Err(e) => errors.push(e),
            }
        }
        let mut client_keys = Vec::with_capacity(config.clients.len());
        for c in &config.clients {
            let key = match &c.key {
                ClientKey::Sha256(h) => KnownKey::Hash(*h),
                ClientKey::Env(var) => match env(var).map(|k| k.trim().to_owned()) {
                    Some(k) if !k.is_empty() => KnownKey::Exact(k.into_bytes()),
                    _ => {
                        errors.push(GatewayError::MissingClientKey {
                            client: c.name.clone(),
                            variable: var.clone(),
                        });
                        continue;
                    }
                },
            };
            client_keys.push((Arc::from(c.name.as_str()), key));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Live {
            hedging: config.tiers.iter().any(|t| t.hedge.is_some()),
            deployment_names: config
                .deployments
                .iter()
                .map(|d| Arc::from(d.id.as_str()))
                .collect(),
            tier_names: config
                .tiers
                .iter()
                .map(|t| Arc::from(t.name.as_str()))
                .collect(),
            models_json: Bytes::from(crate::state::models_json(&config)),
            config,
            upstreams,
            generation,
            client_keys,
        })
    }

    /// The client whose key `token` is, if any (constant time per key).
    pub fn client_of(&self, token: &[u8]) -> Option<Arc<str>> {
        let mut hash = None;
        let mut found = None;
        for (name, key) in &self.client_keys {
            let same: bool = match key {
                KnownKey::Exact(k) => k.as_slice().ct_eq(token).into(),
                KnownKey::Hash(h) => {
                    let digest: &[u8; 32] =
                        hash.get_or_insert_with(|| Sha256::digest(token).into());
                    h.ct_eq(digest).into()
                }
            };
            if same && found.is_none() {
                found = Some(name.clone());
            }
        }
        found
    }
}

/// One worker's pooled HTTP clients, rebuilt lazily when the config generation changes; a
/// client of an upstream that survived the reload is kept (its pooled connections with it).
pub(crate) struct WorkerClients {
    table: Mutex<ClientTable>,
}

struct ClientTable {
    generation: u64,
    clients: Vec<(Arc<Upstream>, UpstreamClient)>,
}

impl WorkerClients {
    /// Clients for the upstreams of `live`.
    pub fn new(live: &Live) -> WorkerClients {
        WorkerClients {
            table: Mutex::new(ClientTable::of(live, None)),
        }
    }

    /// The client for deployment `d` of `live` (a cheap clone sharing the pool). A request
    /// still on an older config gets its upstream's pooled client if it survived, else a
    /// one-off client.
    pub fn get(&self, live: &Live, d: DeploymentId) -> UpstreamClient {
        let up = &live.upstreams[d.index()];
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if live.generation > table.generation {
            *table = ClientTable::of(live, Some(&table));
        }
        if live.generation == table.generation {
            return table.clients[d.index()].1.clone();
        }
        table
            .clients
            .iter()
            .find(|(old, _)| Arc::ptr_eq(old, up))
            .map_or_else(|| up.new_client(), |(_, c)| c.clone())
    }
}

impl ClientTable {
    fn of(live: &Live, previous: Option<&ClientTable>) -> ClientTable {
        let clients = live
            .upstreams
            .iter()
            .map(|up| {
                let kept = previous.and_then(|p| {
                    p.clients
                        .iter()
                        .find(|(old, _)| Arc::ptr_eq(old, up))
                        .map(|(_, c)| c.clone())
                });
                (up.clone(), kept.unwrap_or_else(|| up.new_client()))
            })
            .collect();
        ClientTable {
            generation: live.generation,
            clients,
        }
    }
}
