//! Unit tests of [`super`] (limits.rs).

use super::*;

const MIN: Duration = Duration::from_secs(60);

fn s(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

#[test]
fn unlimited_always_fits() {
    let w = Window::new(None, MIN);
    assert!(w.fits(s(0.0), u64::MAX / 2));
    assert_eq!(w.headroom_after(s(0.0), 10), 1.0);
    assert_eq!(w.available_at(s(3.0), 1 << 40), Some(s(3.0)));
}

#[test]
fn drains_then_refills_continuously() {
    let mut w = Window::new(Some(60), MIN);
    for _ in 0..60 {
        assert!(w.fits(s(0.0), 1));
        w.charge(s(0.0), 1);
    }
    assert!(!w.fits(s(0.5), 1));
    assert_eq!(w.available_at(s(0.5), 1), Some(s(1.0)));
    assert!(w.fits(s(1.0), 1));
    assert!(!w.fits(s(1.0), 2));
    assert_eq!(
        w.available_at(s(0.0), 61),
        None,
        "more than the limit never fits"
    );
    assert!((w.utilisation(s(30.0)) - 0.5).abs() < 1e-9);
}

#[test]
fn correction_refunds_an_over_estimate() {
    let mut w = Window::new(Some(1000), MIN);
    w.charge(s(0.0), 500);
    w.correct(s(0.0), 500, 120);
    assert!((w.available(s(0.0)) - 880.0).abs() < 1e-9);
    w.correct(s(0.0), 0, 10_000);
    assert!(w.available(s(0.0)) < 0.0, "an under-estimate can overdraw");
    assert!(!w.fits(s(1.0), 1));
}

#[test]
fn headers_override_the_local_count_and_reset_time() {
    let mut w = Window::new(Some(100), MIN);
    w.observe(s(0.0), None, Some(5), Some(s(10.0)));
    assert!((w.available(s(0.0)) - 5.0).abs() < 1e-9);
    assert!(
        (w.available(s(10.0)) - 100.0).abs() < 1e-9,
        "full again at the reported reset"
    );
    // Back at full, the budget returns to its own refill rate.
    w.charge(s(20.0), 100);
    assert!((w.available(s(50.0)) - 50.0).abs() < 1e-9);
}

#[test]
fn a_reported_limit_replaces_a_wrong_or_missing_one() {
    let mut w = Window::new(Some(300), MIN);
    w.observe(s(0.0), Some(120), Some(60), Some(s(30.0)));
    assert_eq!(w.limit(), Some(120));
    assert!((w.headroom_after(s(0.0), 0) - 0.5).abs() < 1e-9);
    let mut unknown = Window::new(None, MIN);
    unknown.observe(s(0.0), Some(60), Some(0), Some(s(60.0)));
    assert!(
        !unknown.fits(s(0.5), 1),
        "learned from headers that nothing is left"
    );
    assert!(unknown.fits(s(1.0), 1));
}

#[test]
fn a_new_limit_keeps_what_was_used() {
    let mut w = Window::new(Some(100), MIN);
    w.charge(s(0.0), 60);
    w.set_limit(s(0.0), Some(200));
    assert_eq!(w.limit(), Some(200));
    assert!((w.available(s(0.0)) - 40.0).abs() < 1e-9, "used stays used");
    assert!(
        (w.available(s(6.0)) - 60.0).abs() < 1e-9,
        "refills at the new rate"
    );
    w.set_limit(s(6.0), Some(30));
    assert!(
        (w.available(s(6.0)) - 30.0).abs() < 1e-9,
        "clamped to the new limit"
    );
    w.set_limit(s(6.0), None);
    assert!(w.fits(s(6.0), 1 << 40));
    w.set_limit(s(6.0), Some(10));
    assert!(
        (w.available(s(6.0)) - 10.0).abs() < 1e-9,
        "a new limit starts full"
    );
}
