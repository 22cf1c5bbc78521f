//! `switchyard fit --config`: the gateway's own config kept as it is, the fitted limits and the
//! goodness of fit (with KS distances) printed; `mock-provider --speed` and its deprecated
//! alias parse.

mod cli;

use cli::*;

#[test]
fn fit_with_the_config_keeps_it_and_prints_limits_and_ks() {
    let d = fresh_dir("fit-cli", "config");
    let trace = d.join("trace.csv");
    let fitted = d.join("fitted.toml");
    let o = switchyard(&[
        "simulate",
        DEFAULT,
        "--requests",
        "3000",
        "--trace-out",
        trace.to_str().expect("UTF-8"),
        "--out",
        d.join("sim").to_str().expect("UTF-8"),
    ]);
    assert!(o.ok, "{}", o.stderr);
    let o = switchyard(&[
        "fit",
        trace.to_str().expect("UTF-8"),
        "--config",
        DEFAULT,
        "--out",
        fitted.to_str().expect("UTF-8"),
    ]);
    assert!(o.ok, "{}", o.stderr);
    assert!(o.stdout.contains("rate limits:"), "{}", o.stdout);
    assert!(o.stdout.contains("KS"), "{}", o.stdout);
    let text = std::fs::read_to_string(&fitted).expect("fitted");
    let default = std::fs::read_to_string(DEFAULT).expect("default");
    // The config's tiers, fallbacks, strategies and retry policy are kept.
    for line in [
        "fallback = [",
        "max_attempts = 3",
        "strategy = \"adaptive\"",
    ] {
        assert_eq!(
            text.contains(line),
            default.contains(line),
            "{line}\n{text}"
        );
    }
    assert!(text.contains("as given (`fit --config`)"), "{text}");
    let tiers = |t: &str| t.matches("[[tier]]").count();
    assert_eq!(tiers(&text), tiers(&default));
    let o = switchyard(&[
        "simulate",
        fitted.to_str().expect("UTF-8"),
        "--out",
        d.join("sim2").to_str().expect("UTF-8"),
    ]);
    assert!(o.ok, "{}", o.stderr);
    // A config that is not one is refused, naming it.
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "[[tier]]\nname = 3\n").expect("write");
    let o = switchyard(&[
        "fit",
        trace.to_str().expect("UTF-8"),
        "--config",
        bad.to_str().expect("UTF-8"),
        "--out",
        d.join("never.toml").to_str().expect("UTF-8"),
    ]);
    assert!(!o.ok);
    assert!(o.stderr.contains("bad.toml"), "{}", o.stderr);
    assert!(!d.join("never.toml").exists());
}

#[test]
fn mock_provider_speed_and_its_deprecated_alias() {
    let o = switchyard(&["mock-provider", "--help"]);
    assert!(o.ok, "{}", o.stderr);
    assert!(o.stdout.contains("--speed <N>"), "{}", o.stdout);
    assert!(!o.stdout.contains("--time-scale"), "hidden: {}", o.stdout);
    for args in [["--speed", "0"], ["--speed", "-2"]] {
        let mut all = vec![
            "mock-provider",
            "--scenario",
            DEFAULT,
            "--deployment",
            "openai-key1",
            "--listen",
            "127.0.0.1:1",
        ];
        all.extend(args);
        let o = switchyard(&all);
        assert!(!o.ok);
        assert!(o.stderr.contains("must be a number > 0"), "{}", o.stderr);
    }
    let o = switchyard(&[
        "mock-provider",
        "--scenario",
        DEFAULT,
        "--deployment",
        "openai-key1",
        "--listen",
        "127.0.0.1:1",
        "--speed",
        "10",
        "--time-scale",
        "0.1",
    ]);
    assert!(!o.ok);
    assert!(o.stderr.contains("cannot be used with"), "{}", o.stderr);
}
