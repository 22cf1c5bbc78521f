//! `[[client]]` budgets (`usd_per_day`, `usd_per_month`): reserved at admission, priced with the
//! real usage at the end, never exceeded by more than the bound documented in `engine::clients`.

use std::time::Duration;

use engine::spend::{nanos, to_nanos};
use engine::{
    ClientLimit, ClientRefusal, Config, Engine, FailureKind, Outcome, Request, RequestId, Step,
};
use proptest::prelude::*;

const DAY: Duration = Duration::from_secs(86_400);

/// `cheap` (one deployment at $1/$2 per million) falls back to `frontier` ($10/$30).
fn config(clients: &str) -> Config {
    let text = format!(
        "[[tier]]\nname = \"cheap\"\nfallback = [\"frontier\"]\n[[tier]]\nname = \"frontier\"\n\
         [[deployment]]\nid = \"a\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"cheap\"\n\
         input_price = 1.0\noutput_price = 2.0\n\
         [[deployment]]\nid = \"b\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"frontier\"\n\
         input_price = 10.0\noutput_price = 30.0\n{clients}"
    );
    Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn start(
    engine: &mut Engine,
    tier: &str,
    input: u32,
    max_out: u32,
    now: Duration,
) -> Result<(RequestId, usize), ClientRefusal> {
    let client = engine.config().client_by_name("c").unwrap();
    let request = Request {
        tier: engine.route(tier).unwrap(),
        input_tokens: input,
        output_tokens: max_out,
    };
    match engine.start_for(client, request, now)? {
        Step::Send {
            request,
            deployment,
            ..
        } => Ok((request, deployment.index())),
        other => panic!("{other:?}"),
    }
}

fn succeed(engine: &mut Engine, id: RequestId, input: u32, output: u32, now: Duration) {
    let step = engine.finish(
        id,
        &Outcome::success(Duration::from_millis(5), input, output),
        now,
    );
    assert!(matches!(step, Step::Done { .. }), "{step:?}");
}

#[test]
fn budgets_are_range_checked_with_their_field() {
    let ok = config(
        "[[client]]\nname = \"c\"\nkey_env = \"K\"\nusd_per_day = 2.5\nusd_per_month = 40\n",
    );
    assert_eq!(ok.clients[0].usd_per_day, Some(2.5));
    assert_eq!(ok.clients[0].usd_per_month, Some(40.0));
    for (value, field) in [
        ("usd_per_day = 0", "client[0].usd_per_day"),
        ("usd_per_day = -1.0", "client[0].usd_per_day"),
        ("usd_per_day = nan", "client[0].usd_per_day"),
        ("usd_per_month = inf", "client[0].usd_per_month"),
        ("usd_per_month = 2e9", "client[0].usd_per_month"),
        ("usd_per_month = \"10\"", "usd_per_month"),
    ] {
        let text = format!(
            "[[tier]]\nname = \"cheap\"\n[[deployment]]\nid = \"a\"\nprovider = \"p\"\nmodel = \"m\"\n\
             tier = \"cheap\"\n[[client]]\nname = \"c\"\nkey_env = \"K\"\n{value}\n"
        );
        let e = Config::from_toml(&text).expect_err(value);
        let message = e.to_string();
        assert!(message.contains(field), "{value}: {message}");
        // A range error points at the `[[client]]` table, a type error at the value's line.
        let line = if value.contains('"') { 11 } else { 8 };
        assert_eq!(e.line_in(&text), Some(line), "{value}: {message}");
    }
}

#[test]
fn a_budget_reserves_the_dearest_price_then_charges_the_real_one() {
    // $0.10 a day. On `cheap` a request may fall back to `frontier`: it reserves at $10/$30.
    let mut engine = Engine::new(
        config("[[client]]\nname = \"c\"\nkey_env = \"K\"\nusd_per_day = 0.1\n"),
        1,
    );
    let reserve = nanos(&engine.config().deployments[1].price, 1000, 1000);
    assert_eq!(reserve, 40_000_000); // 1000 × $10/M + 1000 × $30/M = $0.04
    let t = Duration::from_secs(10);
    let (r1, d1) = start(&mut engine, "cheap", 1000, 1000, t).unwrap();
    let (r2, _) = start(&mut engine, "cheap", 1000, 1000, t).unwrap();
    assert_eq!(d1, 0, "served by the cheap deployment");
    // $0.08 reserved: a third $0.04 does not fit while both are in flight.
    let refused = start(&mut engine, "cheap", 1000, 1000, t).unwrap_err();
    assert_eq!(
        refused,
        ClientRefusal::OverLimit {
            limit: ClientLimit::UsdPerDay,
            // Everything sits in the day's first 24-minute bucket: free once it leaves.
            retry_at: Some(Duration::from_secs(61 * 1440)),
        }
    );
    assert_eq!(engine.client_states()[0].reserved_nanos, 80_000_000);
    // Real usage on `a`: 1000 in, 500 out = $0.002; the failed one costs nothing.
    succeed(&mut engine, r1, 1000, 500, t);
    let step = engine.finish(r2, &Outcome::failure(FailureKind::Client), t);
    assert!(matches!(step, Step::Failed { .. }), "{step:?}");
    let s = &engine.client_states()[0];
    assert_eq!((s.spent_nanos, s.reserved_nanos), (2_000_000, 0));
    assert_eq!(s.usd_per_day.used(t), 2_000_000);
    assert_eq!((s.admitted, s.succeeded, s.failed, s.refused), (2, 1, 1, 1));
    assert_eq!(s.refused_over[ClientLimit::UsdPerDay as usize], 1);
    // $0.098 left: two more reservations fit, a third does not.
    start(&mut engine, "cheap", 1000, 1000, t).unwrap();
    start(&mut engine, "cheap", 1000, 1000, t).unwrap();
    assert!(start(&mut engine, "cheap", 1000, 1000, t).is_err());
    // A request that alone exceeds the budget never fits.
    let never = start(&mut engine, "frontier", 1_000_000, 0, t).unwrap_err();
    assert_eq!(
        never,
        ClientRefusal::OverLimit {
            limit: ClientLimit::UsdPerDay,
            retry_at: None
        }
    );
}

#[test]
fn the_month_is_thirty_days_of_engine_time_and_a_reload_keeps_the_spend() {
    let text = |month: &str| {
        format!("[[client]]\nname = \"c\"\nkey_env = \"K\"\nusd_per_month = {month}\n")
    };
    let mut engine = Engine::new(config(&text("0.05")), 1);
    // Tier `frontier` alone: reserve 1000 × $10/M = $0.01, spend the same.
    for day in 0..5 {
        let now = DAY * day;
        let (id, _) = start(&mut engine, "frontier", 1000, 0, now).unwrap();
        succeed(&mut engine, id, 1000, 0, now);
    }
    let e = start(&mut engine, "frontier", 1000, 0, DAY * 6).unwrap_err();
    assert!(
        matches!(e, ClientRefusal::OverLimit { limit: ClientLimit::UsdPerMonth, retry_at: Some(at) } if at > DAY * 30),
        "{e:?}"
    );
    engine.reconfigure(config(&text("0.06")), DAY * 6);
    assert_eq!(engine.client_states()[0].spent_nanos, to_nanos(0.05));
    let (id, _) = start(&mut engine, "frontier", 1000, 0, DAY * 6).unwrap();
    succeed(&mut engine, id, 1000, 0, DAY * 6);
    assert!(start(&mut engine, "frontier", 1000, 0, DAY * 7).is_err());
    // Day 0's spend leaves the window 30 days (and at most one 12-hour bucket) later.
    start(&mut engine, "frontier", 1000, 0, DAY * 31).unwrap();
}

/// One step of the property test's driver.
#[derive(Debug, Clone)]
enum Op {
    Start {
        frontier: bool,
        input: u32,
        max_out: u32,
    },
    Succeed {
        which: usize,
        input_extra: u32,
        output: u32,
    },
    Fail {
        which: usize,
    },
    Cancel {
        which: usize,
    },
    Wait {
        minutes: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 1u32..4000, 0u32..2000)
            .prop_map(|(frontier, input, max_out)| Op::Start { frontier, input, max_out }),
        3 => (any::<usize>(), 0u32..200, 0u32..2500)
            .prop_map(|(which, input_extra, output)| Op::Succeed { which, input_extra, output }),
        1 => any::<usize>().prop_map(|which| Op::Fail { which }),
        1 => any::<usize>().prop_map(|which| Op::Cancel { which }),
        2 => (0u64..300).prop_map(|minutes| Op::Wait { minutes }),
    ]
}

/// An admitted request as the test sees it.
struct Admitted {
    at: Duration,
    reserved: u64,
    /// Its real price once ended (0 unless it succeeded).
    actual: u64,
}

proptest! {
    /// Whatever the requests and their real usage, (1) the client's spend is exactly the sum of
    /// its successes' prices, and (2) the spend of the requests admitted in any 24 hours is at
    /// most the budget plus their usage beyond their reservations (0 when usage stays within the
    /// estimates).
    #[test]
    fn spend_is_exact_and_stays_within_the_documented_bound(
        ops in prop::collection::vec(op(), 1..300),
        budget_millis in 1u64..400,
    ) {
        let budget = budget_millis as f64 / 1000.0;
        let clients = format!("[[client]]\nname = \"c\"\nkey_env = \"K\"\nusd_per_day = {budget}\n");
        let mut engine = Engine::new(config(&clients), 7);
        let prices: Vec<_> = engine.config().deployments.iter().map(|d| d.price).collect();
        let dearest = prices[1]; // both tiers can reach `frontier`, the dearer on both prices
        let mut now = Duration::ZERO;
        let mut admitted: Vec<Admitted> = Vec::new();
        // (request, deployment, its index in `admitted`, input tokens)
        let mut flying: Vec<(RequestId, usize, usize, u32)> = Vec::new();
        for op in ops {
            match op {
                Op::Start { frontier, input, max_out } => {
                    let tier = if frontier { "frontier" } else { "cheap" };
                    if let Ok((id, d)) = start(&mut engine, tier, input, max_out, now) {
                        let reserved = nanos(&dearest, input.into(), max_out.into());
                        admitted.push(Admitted { at: now, reserved, actual: 0 });
                        flying.push((id, d, admitted.len() - 1, input));
                    }
                }
                Op::Succeed { which, input_extra, output } if !flying.is_empty() => {
                    let (id, d, k, input) = flying.swap_remove(which % flying.len());
                    let input = input + input_extra;
                    succeed(&mut engine, id, input, output, now);
                    admitted[k].actual = nanos(&prices[d], input.into(), output.into());
                }
                Op::Fail { which } if !flying.is_empty() => {
                    let (id, ..) = flying.swap_remove(which % flying.len());
                    let step = engine.finish(id, &Outcome::failure(FailureKind::Client), now);
                    prop_assert!(matches!(step, Step::Failed { .. }), "{step:?}");
                }
                Op::Cancel { which } if !flying.is_empty() => {
                    let (id, ..) = flying.swap_remove(which % flying.len());
                    prop_assert!(engine.cancel(id, now));
                }
                Op::Wait { minutes } => now += Duration::from_secs(60 * minutes),
                _ => {}
            }
        }
        let s = &engine.client_states()[0];
        let in_flight: Vec<usize> = flying.iter().map(|f| f.2).collect();
        let spent: u64 = admitted.iter().map(|a| a.actual).sum();
        prop_assert_eq!(s.spent_nanos, spent);
        let reserved: u64 = in_flight.iter().map(|&k| admitted[k].reserved).sum();
        prop_assert_eq!(s.reserved_nanos, reserved);
        // Requests still in flight are charged their reservation.
        let charge = |k: usize| match in_flight.contains(&k) {
            true => admitted[k].reserved,
            false => admitted[k].actual,
        };
        let limit = to_nanos(budget);
        for (end_k, end) in admitted.iter().enumerate() {
            let window = (0..=end_k).filter(|&k| admitted[k].at + DAY > end.at);
            let (sum, excess) = window.fold((0u64, 0u64), |(sum, excess), k| {
                let a = &admitted[k];
                (sum + charge(k), excess + charge(k).saturating_sub(a.reserved))
            });
            prop_assert!(
                sum <= limit + excess,
                "{sum} nano-USD admitted in the day ending {:?} (budget {limit}, excess {excess})",
                end.at
            );
        }
    }
}
