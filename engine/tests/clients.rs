//! `[[client]]` limits, checked by `Engine::start_for` before any deployment is picked.

use std::time::Duration;

use engine::{ClientLimit, ClientRefusal, Config, Engine, Outcome, Request, Step};
use proptest::prelude::*;

const SECOND: Duration = Duration::from_secs(1);

fn config(clients: &str) -> Config {
    let text = format!(
        "[[tier]]\nname = \"cheap\"\n[[tier]]\nname = \"frontier\"\n\
         [[deployment]]\nid = \"a\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"cheap\"\n\
         [[deployment]]\nid = \"b\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"frontier\"\n{clients}"
    );
    Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn request(engine: &Engine, tier: &str, tokens: u32) -> Request {
    Request {
        tier: engine.route(tier).unwrap(),
        input_tokens: tokens,
        output_tokens: 0,
    }
}

/// Admits and immediately answers a request; the refusal otherwise.
fn call(
    engine: &mut Engine,
    client: &str,
    tier: &str,
    tokens: u32,
    now: Duration,
) -> Result<(), ClientRefusal> {
    let c = engine.config().client_by_name(client).unwrap();
    let r = request(engine, tier, tokens);
    match engine.start_for(c, r, now)? {
        Step::Send { request, .. } => {
            let done = engine.finish(
                request,
                &Outcome::success(Duration::from_millis(5), tokens, 0),
                now,
            );
            assert!(matches!(done, Step::Done { .. }));
            Ok(())
        }
        other => panic!("{other:?}"),
    }
}

const SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"; // "hello"

#[test]
fn clients_are_checked_when_the_config_is() {
    let ok = config(&format!(
        "[[client]]\nname = \"team-a\"\nkey_env = \"TEAM_A_KEY\"\ntiers = [\"cheap\"]\nrpm = 10\n\
         [[client]]\nname = \"team-b\"\nkey_sha256 = \"{SHA}\"\n"
    ));
    assert_eq!(ok.clients.len(), 2);
    assert_eq!(ok.clients[1].limits.rpm, None);
    for (clients, field) in [
        ("[[client]]\nname = \"x\"\n", "client[0].key_env"),
        (&*format!("[[client]]\nname = \"x\"\nkey_env = \"K\"\nkey_sha256 = \"{SHA}\"\n"), "client[0].key_env"),
        ("[[client]]\nname = \"x\"\nkey_sha256 = \"abc\"\n", "client[0].key_sha256"),
        ("[[client]]\nname = \"x\"\nkey_env = \"K\"\ntiers = [\"nope\"]\n", "client[0].tiers"),
        ("[[client]]\nname = \"x\"\nkey_env = \"K\"\nrpm = 0\n", "client[0].rpm"),
        ("[[client]]\nname = \"x\"\nkey_env = \"K\"\n[[client]]\nname = \"x\"\nkey_env = \"L\"\n", "client[1].name"),
        ("[[client]]\nname = \"x\"\nkey = \"sk-in-clear\"\n", "key"),
    ] {
        let text = format!(
            "[[tier]]\nname = \"cheap\"\n[[deployment]]\nid = \"a\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"cheap\"\n{clients}"
        );
        let e = Config::from_toml(&text).expect_err(clients).to_string();
        assert!(e.contains(field), "{clients}: {e}");
    }
}

#[test]
fn a_client_gets_exactly_its_rpm_then_429_until_the_window_slides() {
    let mut engine = Engine::new(
        config("[[client]]\nname = \"c\"\nkey_env = \"K\"\nrpm = 10\n"),
        1,
    );
    for i in 0..10 {
        call(
            &mut engine,
            "c",
            "cheap",
            10,
            Duration::from_millis(100 * i),
        )
        .unwrap();
    }
    let refused = call(&mut engine, "c", "cheap", 10, SECOND * 30).unwrap_err();
    let ClientRefusal::OverLimit {
        limit: ClientLimit::Rpm,
        retry_at: Some(at),
    } = refused
    else {
        panic!("{refused:?}")
    };
    // All ten fell in the first one-second bucket: free again once it leaves the window.
    assert_eq!(at, SECOND * 61);
    assert!(call(&mut engine, "c", "cheap", 10, at - Duration::from_millis(1)).is_err());
    call(&mut engine, "c", "cheap", 10, at).unwrap();
    let state = &engine.client_states()[0];
    assert_eq!((state.admitted, state.refused), (11, 2));
    // Nothing refused ever started: the engine saw 11 requests.
    assert_eq!(engine.metrics().totals.started, 11);
}

#[test]
fn tiers_and_tokens_are_the_clients_own() {
    let mut engine = Engine::new(
        config("[[client]]\nname = \"c\"\nkey_env = \"K\"\ntiers = [\"cheap\"]\ntpm = 1000\n[[client]]\nname = \"d\"\nkey_env = \"L\"\n"),
        1,
    );
    assert_eq!(
        call(&mut engine, "c", "frontier", 10, SECOND),
        Err(ClientRefusal::TierNotAllowed)
    );
    call(&mut engine, "d", "frontier", 10, SECOND).unwrap();
    call(&mut engine, "c", "cheap", 900, SECOND).unwrap();
    let e = call(&mut engine, "c", "cheap", 200, SECOND).unwrap_err();
    assert!(
        matches!(
            e,
            ClientRefusal::OverLimit {
                limit: ClientLimit::Tpm,
                retry_at: Some(_)
            }
        ),
        "{e:?}"
    );
    let e = call(&mut engine, "c", "cheap", 2000, SECOND).unwrap_err();
    assert_eq!(
        e,
        ClientRefusal::OverLimit {
            limit: ClientLimit::Tpm,
            retry_at: None
        },
        "never fits"
    );
    call(&mut engine, "c", "cheap", 100, SECOND).unwrap();
}

#[test]
fn a_reload_keeps_a_clients_counters_under_its_new_limit() {
    let text = |rpm: u32| format!("[[client]]\nname = \"c\"\nkey_env = \"K\"\nrpm = {rpm}\n");
    let mut engine = Engine::new(config(&text(3)), 1);
    for _ in 0..3 {
        call(&mut engine, "c", "cheap", 1, SECOND).unwrap();
    }
    engine.reconfigure(config(&text(3)), SECOND);
    assert!(
        call(&mut engine, "c", "cheap", 1, SECOND).is_err(),
        "still used up"
    );
    engine.reconfigure(config(&text(5)), SECOND);
    call(&mut engine, "c", "cheap", 1, SECOND).unwrap();
    call(&mut engine, "c", "cheap", 1, SECOND).unwrap();
    assert!(
        call(&mut engine, "c", "cheap", 1, SECOND).is_err(),
        "5 in the minute"
    );
    assert_eq!(engine.client_states()[0].admitted, 5);
}

proptest! {
    /// No client ever gets more than its rpm (or tpm) in any window of a minute, however its
    /// requests arrive.
    #[test]
    fn no_client_exceeds_its_limits_in_any_window(
        gaps_ms in prop::collection::vec(0u64..4_000, 1..400),
        tokens in prop::collection::vec(1u32..400, 400),
        rpm in 1u32..40,
        tpm in 400u32..4_000,
    ) {
        let clients = format!("[[client]]\nname = \"c\"\nkey_env = \"K\"\nrpm = {rpm}\ntpm = {tpm}\n");
        let mut engine = Engine::new(config(&clients), 1);
        let mut now = Duration::ZERO;
        let mut admitted: Vec<(Duration, u32)> = Vec::new();
        for (gap, &t) in gaps_ms.iter().zip(&tokens) {
            now += Duration::from_millis(*gap);
            match call(&mut engine, "c", "cheap", t, now) {
                Ok(()) => admitted.push((now, t)),
                Err(ClientRefusal::OverLimit { retry_at, .. }) => {
                    prop_assert!(retry_at.is_none_or(|at| at > now));
                }
                Err(e) => prop_assert!(false, "{e:?}"),
            }
        }
        let minute = Duration::from_secs(60);
        for &(end, _) in &admitted {
            let window = admitted.iter().filter(|(t, _)| *t + minute > end && *t <= end);
            let (n, sum) = window.fold((0u32, 0u32), |(n, s), (_, t)| (n + 1, s + t));
            prop_assert!(n <= rpm, "{n} requests in the minute ending {end:?} (rpm {rpm})");
            prop_assert!(sum <= tpm, "{sum} tokens in the minute ending {end:?} (tpm {tpm})");
        }
    }
}

#[test]
fn tpm_counts_the_estimate_until_the_real_usage_is_known() {
    let mut engine = Engine::new(
        config("[[client]]\nname = \"c\"\nkey_env = \"K\"\ntpm = 1000\n"),
        1,
    );
    let c = engine.config().client_by_name("c").unwrap();
    // 100 in + max_tokens 800: 900 counted while in flight.
    let big = Request {
        tier: engine.route("cheap").unwrap(),
        input_tokens: 100,
        output_tokens: 800,
    };
    let Step::Send { request: id, .. } = engine.start_for(c, big, SECOND).unwrap() else {
        panic!()
    };
    assert_eq!(engine.client_states()[0].tpm.used(SECOND), 900);
    assert!(
        call(&mut engine, "c", "cheap", 200, SECOND).is_err(),
        "900 + 200 > 1000"
    );
    // It used 100 + 50: the window holds 150, so 850 more fit.
    let done = engine.finish(
        id,
        &Outcome::success(Duration::from_millis(5), 100, 50),
        SECOND,
    );
    assert!(matches!(done, Step::Done { .. }));
    assert_eq!(engine.client_states()[0].tpm.used(SECOND), 150);
    call(&mut engine, "c", "cheap", 850, SECOND).unwrap();
    assert!(call(&mut engine, "c", "cheap", 1, SECOND).is_err());
}
