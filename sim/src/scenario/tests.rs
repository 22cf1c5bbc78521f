use super::*;

pub(super) const GOOD: &str = r#"
[simulation]
duration = "1m"

[workload]
arrivals = { poisson = { rate = 2.0 } }
input_tokens = { constant = 10 }
output_tokens = { constant = 10 }

[[tier]]
name = "t"

[[deployment]]
id = "a"
provider = "p"
model = "m"
tier = "t"

[[world.provider]]
name = "p"
ttft = { constant = "100ms" }

  [[world.provider.deployment]]
  id = "a"
"#;

fn err(text: &str) -> ScenarioError {
    Scenario::parse(text, "s.toml", "s").expect_err("scenario should be rejected")
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text")
        + 1
}

#[test]
fn a_minimal_scenario_parses_with_defaults() {
    let s = Scenario::parse(GOOD, "s.toml", "fallback-name").unwrap();
    assert_eq!(s.name, "fallback-name");
    assert_eq!(s.settings.seed, 1);
    assert_eq!(s.settings.strategies.len(), 8);
    assert_eq!(s.settings.bucket, Duration::from_secs(1));
    assert_eq!(s.workload.mix[0].model, "t");
    assert_eq!(s.world.deployments[0].id, "a");
}

#[test]
fn unknown_keys_name_file_line_and_key() {
    let text = GOOD.replace("rate = 2.0", "rate = 2.0, burst = 3");
    let e = err(&text);
    assert_eq!(e.file, "s.toml");
    assert_eq!(e.line, Some(line_of(&text, "burst")));
    assert!(e.message.contains("burst"), "{e}");
    let text = GOOD.replace("[simulation]", "[simulation]\ndurration = \"1m\"");
    let e = err(&text);
    assert!(
        e.to_string()
            .starts_with(&format!("s.toml:{}:", line_of(&text, "durration"))),
        "{e}"
    );
}

#[test]
fn bad_durations_and_distributions_say_what_was_expected() {
    let e = err(&GOOD.replace("duration = \"1m\"", "duration = \"soon\""));
    assert!(e.message.contains("expected e.g. \"500ms\""), "{e}");
    let text = GOOD.replace(
        "ttft = { constant = \"100ms\" }",
        "ttft = { lognormal = { median = \"1s\" } }",
    );
    let e = err(&text);
    assert_eq!(e.field.as_deref(), Some("world.provider[0].ttft"));
    assert!(e.message.contains("p99 or sigma"), "{e}");
    assert_eq!(e.line, Some(line_of(&text, "ttft = { lognormal")));
    let e = err(&GOOD.replace(
        "ttft = { constant = \"100ms\" }",
        "ttft = { constant = 100 }",
    ));
    assert!(e.message.contains("duration string"), "{e}");
}

#[test]
fn world_and_gateway_must_describe_the_same_deployments() {
    let e = err(&GOOD.replace("  id = \"a\"", "  id = \"b\""));
    assert_eq!(
        e.field.as_deref(),
        Some("world.provider[0].deployment[0].id")
    );
    assert!(
        e.message
            .contains("\"b\" is not the id of a gateway [[deployment]]"),
        "{e}"
    );
    let text = GOOD.replace("[[world.provider]]", "[[deployment]]\nid = \"c\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\n\n[[world.provider]]");
    let e = err(&text);
    assert!(
        e.message
            .contains("\"c\" has no [[world.provider.deployment]]"),
        "{e}"
    );
}

#[test]
fn a_world_deployment_may_name_its_api() {
    let s = Scenario::parse(GOOD, "s.toml", "s").unwrap();
    assert_eq!(s.world.deployments[0].api, None);
    let text = GOOD.replace("  id = \"a\"", "  id = \"a\"\n  api = \"anthropic\"");
    let s = Scenario::parse(&text, "s.toml", "s").unwrap();
    assert_eq!(
        s.world.deployments[0].api,
        Some(engine::config::Api::Anthropic)
    );
    let text = GOOD.replace("  id = \"a\"", "  id = \"a\"\n  api = \"gemini\"");
    let e = err(&text);
    assert_eq!(
        e.field.as_deref(),
        Some("world.provider[0].deployment[0].api")
    );
    assert_eq!(e.line, Some(line_of(&text, "api = \"gemini\"")));
    assert!(
        e.message.contains("expected \"openai\" or \"anthropic\""),
        "{e}"
    );
}

#[test]
fn windows_are_named_for_what_they_do() {
    use crate::limiter::WindowKind;
    let s = Scenario::parse(GOOD, "s.toml", "s").unwrap();
    assert_eq!(
        s.world.deployments[0].window,
        WindowKind::TokenBucket { burst: 1.0 }
    );
    for (line, kind) in [
        ("window = \"sliding\"", WindowKind::Sliding),
        ("window = \"fixed\"", WindowKind::Fixed),
        ("burst = 0.5", WindowKind::TokenBucket { burst: 0.5 }),
    ] {
        let text = GOOD.replace("  id = \"a\"", &format!("  id = \"a\"\n  {line}"));
        let s = Scenario::parse(&text, "s.toml", "s").unwrap();
        assert_eq!(s.world.deployments[0].window, kind, "{line}");
    }
    for (line, says) in [
        (
            "window = \"leaky\"",
            "expected \"fixed\", \"sliding\" or \"token-bucket\"",
        ),
        ("burst = 50.0", "from 0.01 to 10"),
        (
            "window = \"sliding\"\n  burst = 2.0",
            "only a token-bucket window has a burst",
        ),
    ] {
        let text = GOOD.replace("  id = \"a\"", &format!("  id = \"a\"\n  {line}"));
        let e = err(&text);
        assert!(e.message.contains(says), "{line}: {e}");
    }
}

#[test]
fn gateway_config_errors_keep_their_field() {
    let e = err(&GOOD.replace("tier = \"t\"\n\n[[world", "tier = \"nope\"\n\n[[world"));
    assert!(e.message.contains("deployment[0].tier = \"nope\""), "{e}");
    assert!(e.line.is_some());
}

#[test]
fn incidents_are_checked() {
    let incident =
        "\n[[world.incident]]\nkind = \"meltdown\"\ntarget = \"p\"\nstart = \"1s\"\nend = \"2s\"\n";
    let e = err(&format!("{GOOD}{incident}"));
    assert!(e.message.contains("expected \"outage\""), "{e}");
    let e = err(&format!(
        "{GOOD}{}",
        incident.replace("meltdown", "degradation")
    ));
    assert!(e.message.contains("required for a degradation"), "{e}");
    let e = err(&format!(
        "{GOOD}{}",
        incident
            .replace("meltdown", "outage")
            .replace("\"p\"", "\"q\"")
    ));
    assert!(
        e.message
            .contains("neither a provider name nor a deployment id"),
        "{e}"
    );
    let e = err(&format!(
        "{GOOD}{}",
        incident
            .replace("meltdown", "outage")
            .replace("end = \"2s\"", "end = \"1s\"")
    ));
    assert!(e.message.contains("end after the start"), "{e}");
}

#[test]
fn workload_mix_must_route() {
    // Appended after [world], the array of tables still belongs to [workload].
    let e = err(&format!(
        "{GOOD}\n[[workload.mix]]\nmodel = \"gpt-9\"\nshare = 1.0\n"
    ));
    assert!(e.message.contains("\"gpt-9\" matches no [[route]]"), "{e}");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn on_mutated_scenarios(cut in 0usize..GOOD.len(), insert in "[ -~]{0,12}") {
            let mut text = GOOD.to_owned();
            let cut = (0..=cut).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            text.insert_str(cut, &insert);
            let _ = Scenario::parse(&text, "fuzz.toml", "fuzz");
        }

        #[test]
        fn on_arbitrary_text(text in "\\PC{0,300}") {
            let _ = Scenario::parse(&text, "fuzz.toml", "fuzz");
        }
    }
}
