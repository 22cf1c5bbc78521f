//! Every sim-side number is range-checked at load, with file:line:field and what was expected.

use super::tests::GOOD;
use super::*;

fn err(text: &str) -> ScenarioError {
    Scenario::parse(text, "s.toml", "s").expect_err("scenario should be rejected")
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text")
        + 1
}

/// Replaces `from` by `to` in GOOD and expects an error at `to`'s line about `field`, saying
/// `says`.
fn rejects(from: &str, to: &str, field: &str, says: &str) {
    assert!(GOOD.contains(from), "{from}");
    let text = GOOD.replacen(from, to, 1);
    let e = err(&text);
    let needle = to.lines().last().unwrap_or(to);
    assert_eq!(e.line, Some(line_of(&text, needle)), "{to}: {e}");
    assert_eq!(e.field.as_deref(), Some(field), "{to}: {e}");
    assert!(e.message.contains(says), "{to}: {e}");
    assert!(e.to_string().starts_with("s.toml:"), "{e}");
}

const POISSON: &str = "arrivals = { poisson = { rate = 2.0 } }";

#[test]
fn arrival_processes_that_would_spin_are_rejected() {
    for mean in ["0s", "1ns", "999us"] {
        let bursty = format!(
            "arrivals = {{ bursty = {{ base_rate = 1.0, burst_rate = 5.0, mean_burst = \"{mean}\", mean_gap = \"10s\" }} }}"
        );
        rejects(
            POISSON,
            &bursty,
            "workload.arrivals.bursty.mean_burst",
            "at least 1ms",
        );
    }
    let rare = "arrivals = { bursty = { base_rate = 0.0, burst_rate = 1e-6, mean_burst = \"1ms\", mean_gap = \"1ms\" } }";
    rejects(
        POISSON,
        rare,
        "workload.arrivals.bursty.burst_rate",
        "requests per burst",
    );
    let tiny = "arrivals = { diurnal = { mean_rate = 5e-324, amplitude = 0.5, period = \"1h\", peak = \"0s\" } }";
    rejects(
        POISSON,
        tiny,
        "workload.arrivals.diurnal.mean_rate",
        "from 1e-6",
    );
    let huge = "arrivals = { poisson = { rate = 1e308 } }";
    rejects(POISSON, huge, "workload.arrivals.poisson.rate", "to 1e6");
    let long = "arrivals = { diurnal = { mean_rate = 1.0, amplitude = 0.5, period = \"18446744073709551615s\", peak = \"0s\" } }";
    rejects(
        POISSON,
        long,
        "workload.arrivals.diurnal.period",
        "at most 365 days",
    );
}

#[test]
fn times_are_bounded() {
    let max = "duration = \"18446744073709551615s\"";
    rejects(
        "duration = \"1m\"",
        max,
        "simulation.duration",
        "at most 365 days",
    );
    let drain = "duration = \"1m\"\ndrain = \"400days\"";
    rejects(
        "duration = \"1m\"",
        drain,
        "simulation.drain",
        "at most 365 days",
    );
    let timeout = "output_tokens = { constant = 10 }\nclient_timeout = \"400days\"";
    rejects(
        "output_tokens = { constant = 10 }",
        timeout,
        "workload.client_timeout",
        "at most 365 days",
    );
    let reject = "ttft = { constant = \"100ms\" }\nrejection_latency = \"18446744073709551615s\"";
    rejects(
        "ttft = { constant = \"100ms\" }",
        reject,
        "world.provider[0].rejection_latency",
        "at most 365 days",
    );
    let incident = "\n[[world.incident]]\nkind = \"outage\"\ntarget = \"p\"\nstart = \"1s\"\nend = \"18446744073709551615s\"\n";
    let text = format!("{GOOD}{incident}");
    let e = err(&text);
    assert_eq!(e.field.as_deref(), Some("world.incident[0].end"), "{e}");
    assert_eq!(e.line, Some(line_of(&text, "end = ")), "{e}");
}

#[test]
fn buckets_are_bounded() {
    let b = "duration = \"1m\"\nbucket = \"1ns\"";
    rejects(
        "duration = \"1m\"",
        b,
        "simulation.bucket",
        "at most 100000 time buckets",
    );
    let ok = GOOD.replace("duration = \"1m\"", "duration = \"1m\"\nbucket = \"10ms\"");
    Scenario::parse(&ok, "s.toml", "s").expect("66,000 buckets are fine");
}

#[test]
fn latency_and_token_distributions_are_bounded() {
    let heavy = "ttft = { lognormal = { median = \"1ns\", p99 = \"1day\" } }";
    rejects(
        "ttft = { constant = \"100ms\" }",
        heavy,
        "world.provider[0].ttft",
        "σ",
    );
    let huge = "ttft = { constant = \"100days\" }";
    rejects(
        "ttft = { constant = \"100ms\" }",
        huge,
        "world.provider[0].ttft",
        "0 to 1 day",
    );
    let tokens = "input_tokens = { constant = 1e308 }";
    rejects(
        "input_tokens = { constant = 10 }",
        tokens,
        "workload.input_tokens",
        "out of range",
    );
    let sigma = "output_tokens = { lognormal = { median = 10, sigma = 1e300 } }";
    rejects(
        "output_tokens = { constant = 10 }",
        sigma,
        "workload.output_tokens",
        "sigma",
    );
}

#[test]
fn error_and_timeout_rates_must_sum_to_at_most_one() {
    let rates = "ttft = { constant = \"100ms\" }\nerror_rate = 0.6\ntimeout_rate = 0.5";
    rejects(
        "ttft = { constant = \"100ms\" }",
        rates,
        "world.provider[0].timeout_rate",
        "more than 1",
    );
}

#[test]
fn names_are_at_most_200_characters() {
    let long = "é".repeat(70_000);
    let named = format!("[simulation]\nname = \"{long}\"");
    let e = err(&GOOD.replacen("[simulation]", &named, 1));
    assert_eq!(e.field.as_deref(), Some("simulation.name"));
    assert!(e.message.contains("at most 200"), "{}", e.message);
    let e = err(&GOOD.replace("name = \"p\"", &format!("name = \"{long}\"")));
    assert_eq!(e.field.as_deref(), Some("world.provider[0].name"));
    let short = "x".repeat(200);
    let s = Scenario::parse(
        &GOOD.replacen(
            "[simulation]",
            &format!("[simulation]\nname = \"{short}\""),
            1,
        ),
        "s.toml",
        "s",
    )
    .expect("200 characters are fine");
    assert_eq!(s.name, short);
}

#[test]
fn parse_errors_name_the_key() {
    let e = err(&GOOD.replacen("[simulation]", "[simulation]\nseed = \"x\"", 1));
    assert_eq!(e.line, Some(3));
    assert_eq!(e.field.as_deref(), Some("simulation.seed"));
    assert!(
        e.to_string()
            .starts_with("s.toml:3: simulation.seed: wrong type: found string \"x\""),
        "{e}"
    );
    let two = "arrivals = { poisson = { rate = 2.0 }, constant = { rate = 1.0 } }";
    let e = err(&GOOD.replace(POISSON, two));
    assert_eq!(e.field.as_deref(), Some("workload.arrivals"), "{e}");
    assert!(e.message.contains("exactly one kind"), "{e}");
    assert!(!e.message.contains("wanted exactly 1 element"), "{e}");
    let e = err(&GOOD.replace("rate = 2.0", "rate = \"fast\""));
    assert_eq!(
        e.field.as_deref(),
        Some("workload.arrivals.poisson.rate"),
        "{e}"
    );
    let e = err(&GOOD.replace("  id = \"a\"", "  id = \"a\"\n  rpm = \"many\""));
    assert_eq!(
        e.field.as_deref(),
        Some("world.provider[0].deployment[0].rpm"),
        "{e}"
    );
}

#[test]
fn files_must_be_regular_utf8_and_small() {
    let dir = std::env::temp_dir().join(format!("sy-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, b"[simulation]\nname = \"\xff\"\n").unwrap();
    let e = Scenario::load(&bad).unwrap_err();
    assert!(
        e.message
            .contains("line 2: invalid UTF-8 at byte offset 21"),
        "{e}"
    );
    #[cfg(unix)]
    {
        let e = Scenario::load(std::path::Path::new("/dev/zero")).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
