use super::*;

const BASE: &str = r#"
[[tier]]
name = "frontier"
strategy = "weighted-round-robin"
fallback = ["cheap"]

[[tier]]
name = "cheap"

[[deployment]]
id = "openai-key1"
provider = "openai"
model = "gpt-4o"
tier = "frontier"
weight = 3
rpm = 500
tpm = 300000

[[deployment]]
id = "anthropic"
provider = "anthropic"
model = "claude"
tier = "frontier"

[[deployment]]
id = "mini"
provider = "openai"
model = "gpt-4o-mini"
tier = "cheap"
input_price = 0.15
output_price = 0.6

[[route]]
model = "gpt-4o"
tier = "frontier"

[[route]]
model = "gpt-4o-mini*"
tier = "cheap"
"#;

fn err(text: &str) -> ConfigError {
    Config::from_toml(text).expect_err("config should be rejected")
}

#[test]
fn parses_a_complete_config() {
    let c = Config::from_toml(BASE).unwrap();
    assert_eq!(c.deployments.len(), 3);
    assert_eq!(c.tiers[0].strategy, StrategyKind::WeightedRoundRobin);
    assert_eq!(
        c.tiers[1].strategy,
        StrategyKind::Adaptive,
        "adaptive is the default"
    );
    assert_eq!(c.tiers[0].fallback, vec![TierId::from_index(1)]);
    assert_eq!(c.deployments[0].limits.rpm, Some(500));
    assert_eq!(c.deployments[1].weight, 1.0);
    assert_eq!(c.retry.max_attempts, 3);
    assert!((c.deployments[2].price.cost(1_000_000, 1_000_000) - 0.75).abs() < 1e-12);
}

#[test]
fn routes_exact_then_prefix_then_tier_name() {
    let c = Config::from_toml(BASE).unwrap();
    assert_eq!(c.route("gpt-4o"), Some(TierId::from_index(0)));
    assert_eq!(c.route("gpt-4o-mini-2024"), Some(TierId::from_index(1)));
    assert_eq!(c.route("cheap"), Some(TierId::from_index(1)));
    assert_eq!(c.route("llama"), None);
}

#[test]
fn rejects_unknown_tier_in_route() {
    let text = format!("{BASE}\n[[route]]\nmodel = \"x\"\ntier = \"nope\"\n");
    let e = err(&text);
    assert!(e.to_string().contains("route[2].tier = \"nope\""), "{e}");
    assert_eq!(e.line_in(&text), Some(text.lines().count() - 2));
}

#[test]
fn rejects_all_zero_weights() {
    let text = BASE.replace("weight = 3", "weight = 0").replace(
        "tier = \"frontier\"\n\n[[deployment]]\nid = \"mini\"",
        "tier = \"frontier\"\nweight = 0\n\n[[deployment]]\nid = \"mini\"",
    );
    let e = err(&text);
    assert!(e.to_string().contains("weight = 0 for all"), "{e}");
}

#[test]
fn rejects_negative_limits_and_weights() {
    let e = err(&BASE.replace("rpm = 500", "rpm = -5"));
    assert_eq!(
        e.to_string(),
        "deployment[0].rpm = -5: expected an integer from 1 to 10^12 (omit it for no limit)"
    );
    let e = err(&BASE.replace("weight = 3", "weight = -1"));
    assert!(
        e.to_string().starts_with("deployment[0].weight = -1"),
        "{e}"
    );
}

#[test]
fn rejects_fallback_cycles() {
    let text = BASE.replace(
        "name = \"cheap\"",
        "name = \"cheap\"\nfallback = [\"frontier\"]",
    );
    let e = err(&text);
    assert!(e.to_string().contains("frontier → cheap → frontier"), "{e}");
}

#[test]
fn rejects_duplicate_ids() {
    let e = err(&BASE.replace("id = \"anthropic\"", "id = \"openai-key1\""));
    assert!(
        e.to_string().contains("deployment[1].id = \"openai-key1\""),
        "{e}"
    );
}

#[test]
fn rejects_unknown_keys_with_a_line() {
    let text = BASE.replace("rpm = 500", "rpm = 500\nrmp = 3");
    let e = err(&text);
    assert!(e.to_string().contains("unknown field `rmp`"), "{e}");
    let line = text.lines().position(|l| l.starts_with("rmp")).unwrap() + 1;
    assert_eq!(e.line_in(&text), Some(line));
}

#[test]
fn checks_of_plain_tables_name_their_line() {
    let text = format!("{BASE}\n[retry]\nmax_wait = \"1s\"\nmax_attempts = 0\n");
    let e = err(&text);
    assert!(e.to_string().starts_with("retry.max_attempts = 0"), "{e}");
    let line = text
        .lines()
        .position(|l| l.starts_with("max_attempts"))
        .unwrap()
        + 1;
    assert_eq!(e.line_in(&text), Some(line));
}

#[test]
fn a_scenario_given_as_a_gateway_config_is_named_as_one() {
    for table in [
        "[simulation]\nseed = 1",
        "[workload]\nmix = []",
        "[world]\n",
    ] {
        let text = format!("{BASE}\n{table}\n");
        let e = err(&text).to_string();
        assert!(e.contains("make a scenario file"), "{e}");
        assert!(e.contains("a gateway config is the rest of it"), "{e}");
    }
    // Other unknown keys keep the plain message.
    let e = err(&BASE.replace("rpm = 500", "rpm = 500\nrmp = 3")).to_string();
    assert!(!e.contains("scenario"), "{e}");
}

#[test]
fn rejects_unknown_strategy_and_bad_durations() {
    let e = err(&BASE.replace("weighted-round-robin", "fastest"));
    assert!(
        e.to_string().contains("tier[0].strategy = \"fastest\""),
        "{e}"
    );
    let e = err(&format!("{BASE}\n[retry]\nbackoff_base = \"fast\"\n"));
    assert!(e.to_string().contains("invalid duration \"fast\""), "{e}");
}

#[test]
fn rejects_client_errors_in_retry_on() {
    let e = err(&format!("{BASE}\n[retry]\nretry_on = [\"client_error\"]\n"));
    assert!(e.to_string().contains("never retried"), "{e}");
}

#[test]
fn with_strategy_replaces_every_tier() {
    let c = Config::from_toml(BASE)
        .unwrap()
        .with_strategy(StrategyKind::PeakEwma);
    assert!(c.tiers.iter().all(|t| t.strategy == StrategyKind::PeakEwma));
}

#[test]
fn context_fallback_names_another_tier_without_a_cycle() {
    let c = Config::from_toml(&BASE.replace(
        "fallback = [\"cheap\"]",
        "fallback = [\"cheap\"]\ncontext_fallback = \"cheap\"",
    ))
    .unwrap();
    assert_eq!(c.tiers[0].context_fallback, Some(TierId::from_index(1)));
    assert_eq!(c.tiers[1].context_fallback, None);

    let e = err(&BASE.replace(
        "name = \"cheap\"",
        "name = \"cheap\"\ncontext_fallback = \"long\"",
    ));
    assert!(
        e.to_string()
            .contains("tier[1].context_fallback = \"long\""),
        "{e}"
    );
    let e = err(&BASE.replace(
        "name = \"cheap\"",
        "name = \"cheap\"\ncontext_fallback = \"cheap\"",
    ));
    assert!(e.to_string().contains("another tier"), "{e}");
    let e = err(&BASE
        .replace(
            "fallback = [\"cheap\"]",
            "fallback = [\"cheap\"]\ncontext_fallback = \"cheap\"",
        )
        .replace(
            "name = \"cheap\"",
            "name = \"cheap\"\ncontext_fallback = \"frontier\"",
        ));
    assert!(e.to_string().contains("frontier → cheap → frontier"), "{e}");
}

#[test]
fn rejects_context_length_in_retry_on() {
    let e = err(&format!(
        "{BASE}\n[retry]\nretry_on = [\"context_length\"]\n"
    ));
    assert!(e.to_string().contains("context_fallback"), "{e}");
}

#[test]
fn tier_objectives_parse_and_are_range_checked_with_a_line() {
    let text = BASE.replace(
        "name = \"cheap\"",
        "name = \"cheap\"\nmax_ttft = \"800ms\"\nmax_latency = \"6s\"",
    );
    let c = Config::from_toml(&text).unwrap();
    assert_eq!(
        c.tiers[1].objectives.max_ttft,
        Some(Duration::from_millis(800))
    );
    assert_eq!(
        c.tiers[1].objectives.max_latency,
        Some(Duration::from_secs(6))
    );
    assert!(!c.tiers[0].objectives.any());
    let cheap_line = BASE
        .lines()
        .position(|l| l == "name = \"cheap\"")
        .expect("BASE has the cheap tier");
    for (setting, message) in [
        (
            "max_latency = \"2h\"",
            "tier[1].max_latency = 2h: expected a duration from 1ms to 1h (omit it for no objective)",
        ),
        (
            "max_ttft = \"0s\"",
            "tier[1].max_ttft = 0s: expected a duration from 1ms to 1h (omit it for no objective)",
        ),
        (
            "max_ttft = \"3s\"\nmax_latency = \"2s\"",
            "tier[1].max_latency = 2s: expected at least the tier's max_ttft",
        ),
    ] {
        let text = BASE.replace("name = \"cheap\"", &format!("name = \"cheap\"\n{setting}"));
        let e = err(&text);
        assert_eq!(e.to_string(), message);
        // The span is the [[tier]] table's: its header is the line before `name`.
        assert_eq!(e.line_in(&text), Some(cheap_line));
    }
}

#[test]
fn cost_factor_defaults_to_off_and_is_range_checked() {
    assert_eq!(Config::from_toml(BASE).unwrap().balancing.cost_factor, 0.0);
    let c = Config::from_toml(&format!("{BASE}\n[balancing]\ncost_factor = 1.5\n")).unwrap();
    assert_eq!(c.balancing.cost_factor, 1.5);
    let e = err(&format!("{BASE}\n[balancing]\ncost_factor = -1\n"));
    assert_eq!(
        e.to_string(),
        "balancing.cost_factor = -1: expected a number from 0 (price ignored, the default) to 10"
    );
}

#[test]
fn cost_aware_is_a_strategy_name() {
    let c = Config::from_toml(&BASE.replace("weighted-round-robin", "cost-aware")).unwrap();
    assert_eq!(c.tiers[0].strategy, StrategyKind::CostAware);
}
