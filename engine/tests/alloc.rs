//! The hot path allocates nothing in steady state: `start` + `finish` round trips, for every
//! strategy at 16 and at 200 deployments (scanned, sampled and stride-scheduled tiers), with
//! rate-limit windows rolling, latency and error estimates updating, session affinity on (half
//! the requests in sessions, more sessions than the table holds), and the retry path (429
//! cooldowns, 5xx retries) exercised too.
//!
//! A counting global allocator counts per thread, and only on a thread that switched counting
//! on, so the test harness's other threads (and other tests running in parallel) cannot disturb
//! the count. This file is its own test binary, so the allocator affects nothing else.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::time::Duration;

use engine::{Config, Engine, FailureKind, LimitHeaders, Outcome, Request, Step, StrategyKind};

struct Counting;

thread_local! {
    /// Whether this thread is counting.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// This thread's count: per thread, so tests running in parallel cannot add to it.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn count_allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

/// One tier of `n` deployments with varied weights, limits and prices.
fn config(n: usize, strategy: StrategyKind) -> Config {
    let mut toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"{strategy}\"\n\n[retry]\nmax_attempts = 4\n\n\
         [affinity]\nsessions = 256\n\n"
    );
    for i in 0..n {
        writeln!(
            toml,
            "[[deployment]]\nid = \"d{i}\"\nprovider = \"p{}\"\nmodel = \"m\"\ntier = \"main\"\n\
             weight = {}\nrpm = {}\ntpm = 100000000\ninput_price = 0.5\noutput_price = 1.5\n",
            i % 4,
            1 + i % 3,
            100_000 + i * 1_000,
        )
        .unwrap();
    }
    Config::from_toml(&toml).expect("valid config")
}

/// A driver loop: `rounds` requests one millisecond apart; every 10th request's first attempt
/// gets a 5xx and every 25th a 429 with a short retry-after (both retried on another
/// deployment); every 7th success carries rate-limit headers.
struct Loop {
    engine: Engine,
    now: Duration,
    request: Request,
    i: u64,
}

impl Loop {
    fn new(strategy: StrategyKind, deployments: usize) -> Loop {
        let engine = Engine::new(config(deployments, strategy), 42);
        let request = Request {
            tier: engine.route("main").unwrap(),
            input_tokens: 400,
            output_tokens: 200,
        };
        Loop {
            engine,
            now: Duration::ZERO,
            request,
            i: 0,
        }
    }

    fn run(&mut self, rounds: u64, with_failures: bool) -> u64 {
        let mut done = 0;
        for _ in 0..rounds {
            self.i += 1;
            self.now += Duration::from_millis(1);
            let i = self.i;
            // Half the requests belong to one of 500 sessions (more than the table holds, so
            // sessions are evicted too).
            let mut step = if i.is_multiple_of(2) {
                self.engine
                    .start_in_session(self.request, i % 1000, self.now)
            } else {
                self.engine.start(self.request, self.now)
            };
            let mut attempt_no = 0;
            loop {
                match step {
                    Step::Send { request, .. } => {
                        attempt_no += 1;
                        let at = self.now + Duration::from_micros(300);
                        let outcome = if with_failures && attempt_no == 1 && i.is_multiple_of(10) {
                            Outcome::failure(FailureKind::Server)
                        } else if with_failures && attempt_no == 1 && i.is_multiple_of(25) {
                            Outcome::rate_limited(Some(Duration::from_millis(20)))
                        } else if i.is_multiple_of(7) {
                            Outcome::Success {
                                ttft: Duration::from_micros(100),
                                input_tokens: 400,
                                output_tokens: 150,
                                headers: LimitHeaders {
                                    limit_requests: None,
                                    limit_tokens: None,
                                    remaining_requests: Some(50_000),
                                    remaining_tokens: Some(90_000_000),
                                    reset_requests: None,
                                    reset_tokens: None,
                                },
                            }
                        } else {
                            Outcome::success(Duration::from_micros(100), 400, 150)
                        };
                        step = self.engine.finish(request, &outcome, at);
                    }
                    Step::Done { .. } => {
                        done += 1;
                        break;
                    }
                    other => panic!("unexpected {other:?} in round {i}"),
                }
            }
        }
        done
    }
}

#[test]
fn start_and_finish_allocate_nothing_in_steady_state() {
    for (strategy, n) in cases() {
        let mut l = Loop::new(strategy, n);
        assert_eq!(l.run(1_000, false), 1_000, "{strategy}/{n}: warm-up");
        let mut done = 0;
        let allocations = count_allocations(|| done = l.run(10_000, false));
        assert_eq!(done, 10_000);
        assert_eq!(
            allocations, 0,
            "{strategy}/{n}: {allocations} allocations in 10,000 round trips"
        );
        assert_eq!(l.engine.metrics().totals.succeeded, 11_000);
    }
}

/// Every strategy on a scanned-or-sampled tier (16) and a sampled-or-scheduled one (200).
fn cases() -> impl Iterator<Item = (StrategyKind, usize)> {
    StrategyKind::EVERY
        .into_iter()
        .flat_map(|s| [(s, 16), (s, 200)])
}

#[test]
fn the_retry_path_allocates_nothing_in_steady_state() {
    for (strategy, n) in cases() {
        let mut l = Loop::new(strategy, n);
        assert_eq!(l.run(1_000, true), 1_000, "{strategy}/{n}: warm-up");
        let mut done = 0;
        let allocations = count_allocations(|| done = l.run(10_000, true));
        assert_eq!(done, 10_000);
        assert_eq!(
            allocations, 0,
            "{strategy}/{n}: {allocations} allocations in 10,000 round trips with retries"
        );
        let retries: u64 = l
            .engine
            .metrics()
            .deployments
            .iter()
            .map(|d| d.retries)
            .sum();
        assert_eq!(
            retries,
            1_100 + 440 - 220,
            "every 10th and every 25th, once each (not both)"
        );
    }
}

#[test]
fn a_reload_keeps_the_hot_path_allocation_free() {
    let mut drained = 0;
    for (strategy, n) in cases() {
        let mut l = Loop::new(strategy, n);
        assert_eq!(l.run(1_000, true), 1_000, "{strategy}/{n}: warm-up");
        // Requests held in flight across the reload, some on deployments it removes.
        let held: Vec<_> = (0..8)
            .map(|_| match l.engine.start(l.request, l.now) {
                Step::Send { request, .. } => request,
                other => panic!("{other:?}"),
            })
            .collect();
        let report = l.engine.reconfigure(config(n - 4, strategy), l.now);
        assert_eq!(report.removed.len(), 4);
        l.request.tier = l.engine.route("main").unwrap();
        assert_eq!(
            l.run(1_000, true),
            1_000,
            "{strategy}/{n}: warm-up after the reload"
        );
        let mut done = 0;
        let draining = l.engine.draining().count();
        let allocations = count_allocations(|| done = l.run(10_000, true));
        // Their end may grow the free list once: outside the count.
        for &r in &held {
            let ok = Outcome::success(Duration::from_millis(1), 400, 150);
            let step = l.engine.finish(r, &ok, l.now);
            assert!(matches!(step, Step::Done { .. }));
        }
        assert_eq!(done, 10_000);
        assert_eq!(
            allocations, 0,
            "{strategy}/{n}: {allocations} allocations after a reload"
        );
        assert!(draining <= 4);
        drained += draining;
        assert_eq!(l.engine.draining().count(), 0);
    }
    assert!(drained > 0, "some held request was on a removed deployment");
}

#[test]
fn the_counter_sees_allocations() {
    let allocations = count_allocations(|| {
        let v: Vec<u64> = (0..100).collect();
        std::hint::black_box(v);
    });
    assert_eq!(allocations, 1);
}
