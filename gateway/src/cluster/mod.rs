//! `[cluster]`: this replica's half of the fleet exchange (see `engine::cluster`), carried to
//! Redis by one background task on a timer — never on a request's path.
//!
//! Every `sync_interval` the task locks the engine for the export (microseconds), makes one
//! script call to the store, and locks it again for the import. When the store cannot be
//! reached or answers late, the engine keeps every deployment to limit ÷ replicas on its own
//! count, the task says so once in the log and in `switchyard_cluster_connected`, and the next
//! exchange that succeeds brings the replica back into the fleet. No client request waits on,
//! or fails because of, the store.

mod record;
mod store;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use engine::cluster::{Replica, ReplicaRecord};
use engine::config::cluster::Cluster;
use tracing::{info, warn};

pub(crate) use record::Clock;
use store::Store;

/// What `/metrics` and `/admin/state` show of the exchange.
#[derive(Debug, Default)]
pub(crate) struct ClusterStatus {
    /// The task has been started (one per gateway, whatever the number of event loops).
    pub started: AtomicBool,
    /// The last exchange succeeded.
    pub connected: AtomicBool,
    /// Replicas the fleet counts, this one included.
    pub replicas: AtomicU32,
    /// Exchanges that succeeded.
    pub exchanges_ok: AtomicU64,
    /// Exchanges that failed (store unreachable, slow or answering nonsense).
    pub exchanges_failed: AtomicU64,
    /// Fields of other replicas' records dropped as malformed.
    pub fields_dropped: AtomicU64,
}

/// This replica's name when `[cluster] replica` is not set: host name and process id.
pub(crate) fn default_replica_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .take(40)
        .collect();
    let host = if host.is_empty() {
        "replica".into()
    } else {
        host
    };
    format!("{host}-{}", std::process::id())
}

/// The fleet's time when the engine's clock, reading `now`, read zero: Unix time × the speed
/// (`serve --speed`), so that replicas running at the same speed agree on it whenever each
/// started.
pub(crate) fn clock_now(now: Duration, clock: &crate::clock::Clock) -> Clock {
    let unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Clock {
        epoch_unix: clock.engine(unix).saturating_sub(now),
    }
}

/// How long a record outlives its replica: long enough that a few slow exchanges do not make a
/// live replica vanish, short enough that a dead one stops counting within seconds.
pub(crate) fn record_ttl(interval: Duration) -> Duration {
    (interval * 10).max(Duration::from_secs(2))
}

/// The sync loop; runs until the runtime stops.
pub(crate) async fn run(gw: Arc<crate::state::Shared>, cluster: Cluster) {
    let name = cluster.replica.clone().unwrap_or_else(default_replica_name);
    let status = &gw.cluster_status;
    status.replicas.store(cluster.replicas, Ordering::Relaxed);
    // The interval is modelled time (`serve --speed`); the timer runs on the real clock.
    let interval = gw
        .clock
        .real(cluster.sync_interval)
        .max(Duration::from_millis(1));
    // An exchange may take at most one interval, and never less than 50 ms to connect.
    let timeout = interval.max(Duration::from_millis(50));
    let mut store = match Store::new(&cluster.redis_url, timeout) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "cluster.redis_url cannot be used: this replica keeps limit ÷ replicas alone");
            return;
        }
    };
    let ttl = record_ttl(interval);
    // This run of the replica: its start time and process id, so a restart under the same
    // name is not taken for the old run's use going backwards.
    let incarnation =
        clock_now(gw.now(), &gw.clock).epoch_unix.as_nanos() as u64 ^ u64::from(std::process::id());
    let mut replica = Replica::new(name.clone(), incarnation, cluster.replicas);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_connected: Option<bool> = None;
    info!(replica = %name, interval_ms = cluster.sync_interval.as_millis() as u64, "cluster: joining the fleet");
    loop {
        ticker.tick().await;
        let clock = clock_now(gw.now(), &gw.clock);
        let record = {
            let mut engine = gw.lock();
            let now = gw.now();
            replica.publish(&mut engine, now)
        };
        let fields = record::encode(&record, clock);
        let answer = store
            .exchange(&cluster.key_prefix, &name, ttl, &fields)
            .await;
        let connected = match answer {
            Ok(replies) => {
                let mut records: Vec<(String, ReplicaRecord)> = Vec::with_capacity(replies.len());
                for (who, fields) in replies {
                    let (record, dropped) = record::decode(&fields, clock);
                    status
                        .fields_dropped
                        .fetch_add(dropped as u64, Ordering::Relaxed);
                    records.push((who, record));
                }
                let mut engine = gw.lock();
                let now = gw.now();
                let fleet = replica.absorb(&mut engine, now, &records);
                status.replicas.store(fleet, Ordering::Relaxed);
                status.exchanges_ok.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                let mut engine = gw.lock();
                let now = gw.now();
                engine.cluster_isolated(now, replica.fleet_size());
                status.exchanges_failed.fetch_add(1, Ordering::Relaxed);
                if was_connected != Some(false) {
                    warn!(
                        error = %e,
                        replicas = replica.fleet_size(),
                        "cluster: the store cannot be reached; serving on local counts at limit ÷ replicas"
                    );
                }
                false
            }
        };
        if connected && was_connected != Some(true) {
            info!(
                replicas = replica.fleet_size(),
                "cluster: exchanging with the fleet"
            );
        }
        status.connected.store(connected, Ordering::Relaxed);
        was_connected = Some(connected);
    }
}
