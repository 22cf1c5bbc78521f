//! Replay options that reshape the trace: `speed` compresses time, `window` slices it (shifted
//! to start at zero), and `model` sends every row to one route.

use std::path::Path;
use std::time::Duration;

use sim::replay::{ReplayOptions, Window};
use sim::Arrival;

use crate::support::*;

#[test]
fn speed_compresses_time_and_window_slices_it() {
    let s = scenario();
    let base = open(Path::new(AZURE), &s, ReplayOptions::default()).unwrap();
    let span = base.info().last_arrival.as_secs_f64();
    let fast = open(
        Path::new(AZURE),
        &s,
        ReplayOptions {
            speed: 2.0,
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    assert!((fast.info().last_arrival.as_secs_f64() - span / 2.0).abs() < 1e-6);
    assert_eq!(fast.info().arrivals, base.info().arrivals);

    let window: Window = "10m..20m".parse().unwrap();
    let sliced = open(
        Path::new(AZURE),
        &s,
        ReplayOptions {
            window,
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    let a = arrivals(&sliced, &s);
    let all = arrivals(&base, &s);
    let expected: Vec<&Arrival> = all
        .iter()
        .filter(|a| (600.0..1200.0).contains(&a.at.as_secs_f64()))
        .collect();
    assert_eq!(a.len(), expected.len());
    assert!(a.len() > 1000 && a.len() < all.len() / 2, "{}", a.len());
    assert_eq!(sliced.info().arrivals, a.len() as u64);
    // Shifted to start at the window's start, tokens unchanged.
    let first = expected[0];
    assert!((a[0].at.as_secs_f64() - (first.at.as_secs_f64() - 600.0)).abs() < 1e-6);
    assert_eq!(a[0].input_tokens, first.input_tokens);
    assert!(a.iter().all(|x| x.at < Duration::from_secs(600)));

    assert!("..5m".parse::<Window>().is_ok());
    assert!("30s..".parse::<Window>().is_ok());
    assert!("20m..10m".parse::<Window>().is_err());
    assert!("10m".parse::<Window>().is_err());
    let empty = ReplayOptions {
        window: "2h..3h".parse().unwrap(),
        ..ReplayOptions::default()
    };
    let e = open(Path::new(AZURE), &s, empty).err().unwrap().to_string();
    assert!(e.contains("no rows to replay"), "{e}");
    let stopped = ReplayOptions {
        speed: 0.0,
        ..ReplayOptions::default()
    };
    assert!(open(Path::new(AZURE), &s, stopped).is_err());
}

#[test]
fn a_model_option_sends_everything_to_one_route() {
    let s = scenario();
    let options = ReplayOptions {
        model: Some("gpt-4o-mini".into()),
        ..ReplayOptions::default()
    };
    let replay = open(Path::new(AZURE), &s, options).unwrap();
    assert!(!replay.info().models_from_mix);
    assert_eq!(replay.info().models[0].rows, replay.info().arrivals);
    let a = arrivals(&replay, &s);
    assert!(a
        .iter()
        .all(|a| s.config.tiers[a.tier.index()].name == "fast"));
    let bad = ReplayOptions {
        model: Some("nope".into()),
        ..ReplayOptions::default()
    };
    assert!(open(Path::new(AZURE), &s, bad).is_err());
}
