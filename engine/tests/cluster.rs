//! Replicas sharing limits through the fleet exchange (engine::cluster), driven here by an
//! in-memory store: combined use stays within each true limit, cooldowns, breaker openings and
//! the provider's headers reach every replica at the next exchange, a replica cut off from the
//! store keeps to its share, and one joining late or a store that lost everything converge.

use std::time::Duration;

use engine::cluster::{Replica, ReplicaRecord};
use engine::{Config, Engine, FailureKind, LimitHeaders, Outcome, Request, Step};
use proptest::prelude::*;

const MIN: Duration = Duration::from_secs(60);

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn config(rpm: u64, extra: &str) -> Config {
    Config::from_toml(&format!(
        r#"
        [retry]
        max_wait = "0s"
        max_attempts = 1

        [[tier]]
        name = "standard"
        strategy = "weighted-round-robin"

        [[deployment]]
        id = "key1"
        provider = "p"
        model = "m"
        tier = "standard"
        rpm = {rpm}
        {extra}
        "#
    ))
    .expect("valid test config")
}

/// N engines, each with its replica books, and a store holding each one's last record.
struct Fleet {
    engines: Vec<Engine>,
    replicas: Vec<Replica>,
    store: Vec<Option<ReplicaRecord>>,
    /// Per replica, its next exchange.
    next: Vec<Duration>,
    interval: Duration,
    connected: bool,
}

impl Fleet {
    fn new(n: usize, config: &Config, interval: Duration, phases: &[Duration]) -> Fleet {
        let start = |i: usize| {
            let mut e = Engine::new(config.clone(), i as u64);
            e.cluster_isolated(Duration::ZERO, n as u32);
            e
        };
        Fleet {
            engines: (0..n).map(start).collect(),
            replicas: (0..n)
                .map(|i| Replica::new(format!("r{i}"), 1, n as u32))
                .collect(),
            store: vec![None; n],
            next: (0..n)
                .map(|i| phases.get(i).copied().unwrap_or_default())
                .collect(),
            interval,
            connected: true,
        }
    }

    fn records(&self) -> Vec<(String, ReplicaRecord)> {
        self.store
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((format!("r{i}"), r.clone()?)))
            .collect()
    }

    /// Runs every exchange due by `now`, in time order.
    fn exchanges_until(&mut self, now: Duration) {
        loop {
            let (i, at) = self
                .next
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|&(_, t)| t)
                .expect("a replica");
            if at > now {
                return;
            }
            self.exchange(i, at);
            self.next[i] = at + self.interval;
        }
    }

    fn exchange(&mut self, i: usize, now: Duration) {
        if !self.connected {
            let n = self.engines.len() as u32;
            self.engines[i].cluster_isolated(now, n);
            return;
        }
        let record = self.replicas[i].publish(&mut self.engines[i], now);
        self.store[i] = Some(record);
        let records = self.records();
        self.replicas[i].absorb(&mut self.engines[i], now, &records);
    }

    /// One request on replica `i` at `now`; answered at once. True if it was sent.
    fn request(&mut self, i: usize, now: Duration) -> bool {
        self.exchanges_until(now);
        answer(&mut self.engines[i], now, Outcome::success(ms(1), 10, 10))
    }
}

fn start(e: &mut Engine, now: Duration) -> Step {
    let tier = e.route("standard").expect("tier");
    e.start(
        Request {
            tier,
            input_tokens: 10,
            output_tokens: 10,
        },
        now,
    )
}

fn answer(e: &mut Engine, now: Duration, outcome: Outcome) -> bool {
    match start(e, now) {
        Step::Send { request, .. } => {
            e.finish(request, &outcome, now);
            true
        }
        Step::Failed { .. } => false,
        other => panic!("unexpected {other:?}"),
    }
}

/// Most sends in any window of `len` (two pointers over sorted times).
fn busiest(sent: &[Duration], len: Duration) -> usize {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..sent.len() {
        while sent[hi] - sent[lo] >= len {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

/// Overloaded replicas (each asked every `gap`, round robin) for `minutes`; send times.
fn overload(fleet: &mut Fleet, gap: Duration, minutes: u64, weights: &[u32]) -> Vec<Duration> {
    let order: Vec<usize> = weights
        .iter()
        .enumerate()
        .flat_map(|(i, &w)| std::iter::repeat_n(i, w as usize))
        .collect();
    let mut sent = Vec::new();
    let mut now = Duration::ZERO;
    let mut k = 0;
    while now < MIN * minutes as u32 {
        if fleet.request(order[k % order.len()], now) {
            sent.push(now);
        }
        k += 1;
        now += gap;
    }
    sent
}

#[test]
fn three_replicas_spend_one_limit_between_them() {
    let config = config(600, "");
    let phases = [ms(0), ms(33), ms(66)];
    let mut fleet = Fleet::new(3, &config, ms(100), &phases);
    let sent = overload(&mut fleet, ms(5), 10, &[1, 1, 1]);
    // A token bucket of 600/min with a burst of 600: at most 600 + 10 × 600 over ten minutes,
    // and under constant overload every later minute takes about 600.
    assert!(sent.len() <= 6612, "{} sent", sent.len());
    assert!(
        sent.len() >= 6500,
        "the fleet wastes the limit: {}",
        sent.len()
    );
    for minute in 1..10 {
        let n = sent
            .iter()
            .filter(|t| (MIN * minute..MIN * (minute + 1)).contains(*t))
            .count();
        assert!(n <= 612, "minute {minute}: {n} sent, limit 600 (+2 %)");
        assert!(n >= 580, "minute {minute}: only {n} sent");
    }

    // The same load without the exchange: each replica spends the whole limit.
    let mut alone = Fleet::new(3, &config, ms(100), &phases);
    alone.next = vec![Duration::MAX; 3];
    alone.engines = (0..3).map(|i| Engine::new(config.clone(), i)).collect();
    let sent = overload(&mut alone, ms(5), 10, &[1, 1, 1]);
    let late = sent.iter().filter(|t| **t >= MIN).count();
    assert!(
        late >= 3 * 9 * 590,
        "alone, three replicas spend ≈ 3×: {late}"
    );
}

#[test]
fn a_busy_replica_can_use_what_idle_ones_leave() {
    let config = config(600, "");
    let mut fleet = Fleet::new(3, &config, ms(100), &[ms(0), ms(50), ms(75)]);
    // All traffic on replica 0: it must get (nearly) the whole limit, not a third.
    let sent = overload(&mut fleet, ms(5), 5, &[1, 0, 0]);
    let late = sent.iter().filter(|t| **t >= MIN).count();
    assert!(late >= 4 * 570, "one busy replica got {late} of 2400");
    assert!(late <= 4 * 612, "{late}");
}

#[test]
fn a_cooldown_reaches_every_replica_at_the_next_exchange() {
    let config = config(6000, "");
    let mut fleet = Fleet::new(3, &config, ms(100), &[ms(0), ms(0), ms(0)]);
    fleet.exchanges_until(ms(0));
    let limited = Outcome::rate_limited(Some(Duration::from_secs(30)));
    assert!(answer(&mut fleet.engines[0], ms(10), limited));
    assert!(
        fleet.request(1, ms(50)),
        "not yet exchanged: replica 1 still sends"
    );
    assert!(!fleet.request(0, ms(60)), "replica 0 cools down itself");
    // Exchanges at 100 ms (all three): replica 1 and 2 learn the cooldown.
    assert!(!fleet.request(1, ms(150)));
    assert!(!fleet.request(2, ms(150)));
    assert!(fleet.request(2, ms(30_100)), "over after retry-after");
}

#[test]
fn a_breaker_opened_by_one_replica_shuts_the_deployment_everywhere() {
    let config = config(6000, "");
    let mut fleet = Fleet::new(2, &config, ms(100), &[ms(0), ms(0)]);
    fleet.exchanges_until(ms(0));
    for t in 0..5 {
        let failed = Outcome::failure(FailureKind::Server);
        answer(&mut fleet.engines[0], ms(t), failed);
    }
    assert!(fleet.engines[0].states()[0].breaker.is_open());
    assert!(fleet.request(1, ms(20)));
    fleet.exchanges_until(ms(100));
    let opened = fleet.engines[0].states()[0].breaker.open_until();
    assert_eq!(fleet.engines[1].states()[0].breaker.open_until(), opened);
    assert!(
        fleet.engines[1].states()[0].check(ms(120), 1).is_err(),
        "shut on replica 1 too"
    );
}

#[test]
fn a_limit_the_provider_reports_to_one_replica_binds_them_all() {
    // Configured at 600 a minute; the provider says 60.
    let config = config(600, "");
    let mut fleet = Fleet::new(2, &config, ms(100), &[ms(0), ms(50)]);
    let headers = LimitHeaders {
        limit_requests: Some(60),
        remaining_requests: Some(59),
        ..LimitHeaders::default()
    };
    let answered = Outcome::Success {
        ttft: ms(1),
        input_tokens: 10,
        output_tokens: 10,
        headers,
    };
    fleet.exchanges_until(ms(0));
    assert!(answer(&mut fleet.engines[0], ms(1), answered));
    fleet.exchanges_until(ms(200));
    for e in &fleet.engines {
        assert_eq!(e.states()[0].rpm.limit(), Some(60), "limit learned");
    }
    // Replica 1 never saw the headers; together they now send at most the provider's 60.
    let mut sent = 0;
    let mut now = ms(200);
    while now < MIN * 2 {
        sent += usize::from(fleet.request((now.as_millis() / 10 % 2) as usize, now));
        now += ms(10);
    }
    assert!(
        sent <= 60 + 120 + 2,
        "{sent} sent in two minutes under a limit of 60"
    );
    assert!(sent >= 150, "{sent}");
}

#[test]
fn cut_off_from_the_store_each_replica_keeps_to_its_share() {
    let config = config(600, "");
    let mut fleet = Fleet::new(3, &config, ms(100), &[ms(0), ms(33), ms(66)]);
    fleet.connected = false;
    let sent = overload(&mut fleet, ms(5), 3, &[1, 1, 1]);
    let late = sent.iter().filter(|t| **t >= MIN).count();
    // Limit ÷ 3 each, counted alone: the fleet stays within the limit.
    assert!(late <= 2 * 606, "{late}");
    assert!(late >= 2 * 590, "{late}");
    // Back: shares converge and the fleet spends the limit again.
    fleet.connected = true;
    let mut now = MIN * 3;
    let mut after = 0;
    while now < MIN * 5 {
        for i in 0..3 {
            after += usize::from(fleet.request(i, now));
        }
        now += ms(15);
    }
    assert!((1140..=1212).contains(&after), "{after} in two minutes");
}

#[test]
fn a_replica_joining_late_starts_from_the_fleets_budget() {
    let config = config(600, "");
    let mut fleet = Fleet::new(2, &config, ms(100), &[ms(0), Duration::MAX]);
    // Replica 0 alone (replica 1 not started) spends the burst.
    let mut now = Duration::ZERO;
    let mut sent = 0;
    while now < Duration::from_secs(5) {
        sent += usize::from(fleet.request(0, now));
        now += ms(1);
    }
    assert!(sent >= 600, "{sent}");
    // Replica 1 starts: after one exchange it knows the budget is spent.
    fleet.engines[1] = Engine::new(config.clone(), 9);
    fleet.engines[1].cluster_isolated(now, 2);
    fleet.next[1] = now;
    let mut joined = 0;
    let mut t = now;
    while t < now + Duration::from_secs(1) {
        joined += usize::from(fleet.request(1, t));
        t += ms(1);
    }
    // The fleet refills 10 a second, shared by two: not the 300 a fresh half budget would give.
    assert!(
        joined <= 12,
        "the newcomer sent {joined} in its first second"
    );
}

#[test]
fn a_store_that_lost_everything_loses_nothing_of_the_books() {
    let config = config(600, "");
    let mut fleet = Fleet::new(2, &config, ms(100), &[ms(0), ms(50)]);
    let before = overload(&mut fleet, ms(5), 2, &[1, 1]).len();
    fleet.store = vec![None; 2]; // a restarted Redis
    let mut now = MIN * 2;
    let mut after = 0;
    while now < MIN * 4 {
        after += usize::from(fleet.request((now.as_millis() / 5 % 2) as usize, now));
        now += ms(5);
    }
    assert!(before <= 600 + 1200 + 12, "{before}");
    assert!(
        (1180..=1212).contains(&after),
        "{after} in two minutes after the loss"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the fleet size, phases, interval and spread of traffic, the combined sends
    /// never exceed what a token bucket of the true limit allows plus the documented bound,
    /// (replicas − 1) ÷ (2 × replicas) of the limit (what replicas exchanging out of phase
    /// can spend before they hear of each other) and one request per replica for rounding;
    /// and under steady overload no minute takes more than the limit + 2 % (and one request per
    /// replica: fuzzing found four replicas at 66 rpm sending in rounds of four every 3.6 s,
    /// 69 of them in one minute).
    ///
    /// The bound is reached at start-up: three replicas each spend their isolated third
    /// before their first exchange; the second to exchange then misses two thirds, the third
    /// one: 60 + 13 + 6 = 79 sent in one second at 60 rpm with a 1 s interval and phases
    /// 0 / 463 / 582 ms, which fuzzing found against the (replicas − 1) ÷ replicas² (+13)
    /// first claimed.
    #[test]
    fn the_fleet_never_overspends(
        n in 2usize..5,
        interval_ms in prop::sample::select(vec![20u64, 100, 250, 1000]),
        phases in prop::collection::vec(0u64..1000, 4),
        weights in prop::collection::vec(0u32..4, 4),
        rpm in 60u64..3000,
    ) {
        let config = config(rpm, "");
        let phases: Vec<Duration> = phases.iter().map(|p| ms(p % interval_ms)).collect();
        let mut weights = weights[..n].to_vec();
        weights[0] = weights[0].max(1);
        let mut fleet = Fleet::new(n, &config, ms(interval_ms), &phases);
        let sent = overload(&mut fleet, ms(7), 3, &weights);
        let r = rpm as f64;
        let out_of_phase = r * (n as f64 - 1.0) / (2 * n) as f64;
        for len in [Duration::from_secs(1), Duration::from_secs(10), MIN] {
            let allowed = r + r * len.as_secs_f64() / 60.0 + out_of_phase + n as f64;
            let busiest = busiest(&sent, len);
            prop_assert!(busiest as f64 <= allowed, "{busiest} in {len:?}, allowed {allowed}");
        }
        // Steady overload: the replicas each send one request as their budget reaches one, in
        // step at low limits, so a minute's edge can cut through one round of them.
        for minute in 1..3u32 {
            let k = sent.iter().filter(|t| (MIN * minute..MIN * (minute + 1)).contains(*t)).count();
            prop_assert!(k as f64 <= r * 1.02 + n as f64, "minute {minute}: {k} sent, limit {rpm}");
        }
    }
}

#[test]
fn a_clients_limits_hold_for_the_whole_fleet() {
    let config = config(
        6000,
        "[[client]]\nname = \"team\"\nkey_env = \"K\"\nrpm = 30\n",
    );
    let team = config.client_by_name("team").expect("client");
    let mut fleet = Fleet::new(3, &config, ms(100), &[ms(0), ms(33), ms(66)]);
    let tier = config.route("standard").expect("tier");
    let request = Request {
        tier,
        input_tokens: 10,
        output_tokens: 10,
    };
    // One request every 200 ms, round robin over the replicas, for two minutes.
    let mut admitted = [0usize; 2];
    let mut now = Duration::ZERO;
    let mut k = 0;
    while now < MIN * 2 {
        fleet.exchanges_until(now);
        let e = &mut fleet.engines[k % 3];
        if let Ok(Step::Send { request: id, .. }) = e.start_for(team, request, now) {
            e.finish(id, &Outcome::success(ms(1), 10, 10), now);
            admitted[(now >= MIN) as usize] += 1;
        }
        k += 1;
        now += ms(200);
    }
    // 30 a minute for the fleet, not 30 per replica (90).
    assert_eq!(admitted, [30, 30], "admitted per minute");
}
