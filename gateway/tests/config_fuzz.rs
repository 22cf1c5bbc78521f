//! Fuzz-style property test of gateway configs: a valid config with one or a few fields deleted,
//! duplicated, set to extreme values, to the wrong type or to unicode is either accepted (and
//! then checked by `gateway::check_endpoints`) or rejected with a message naming a field or a
//! table — never a panic.

use proptest::prelude::*;

/// One table of the base config: its header and its `key = value` lines.
type Table = (&'static str, Vec<(&'static str, &'static str)>);

fn base() -> Vec<Table> {
    vec![
        (
            "[[tier]]",
            vec![
                ("name", "\"frontier\""),
                ("strategy", "\"adaptive\""),
                ("fallback", "[\"fast\"]"),
            ],
        ),
        (
            "[[tier]]",
            vec![
                ("name", "\"fast\""),
                ("strategy", "\"weighted-round-robin\""),
            ],
        ),
        (
            "[[route]]",
            vec![("model", "\"gpt-4o\""), ("tier", "\"frontier\"")],
        ),
        (
            "[[deployment]]",
            vec![
                ("id", "\"openai-key1\""),
                ("provider", "\"openai\""),
                ("model", "\"gpt-4o\""),
                ("tier", "\"frontier\""),
                ("weight", "2"),
                ("rpm", "5000"),
                ("tpm", "450000"),
                ("first_byte_timeout", "\"20s\""),
                ("base_url", "\"https://api.openai.com/v1\""),
                ("api_key_env", "\"OPENAI_KEY\""),
                ("api_key_header", "\"api-key\""),
            ],
        ),
        (
            "[[deployment]]",
            vec![
                ("id", "\"mini\""),
                ("provider", "\"openai\""),
                ("model", "\"gpt-4o-mini\""),
                ("tier", "\"fast\""),
                ("weight", "1"),
                ("base_url", "\"http://127.0.0.1:9/v1\""),
            ],
        ),
        (
            "[retry]",
            vec![("max_attempts", "3"), ("max_wait", "\"10s\"")],
        ),
        (
            "[health]",
            vec![
                ("cooldown", "\"5s\""),
                ("failure_threshold", "5"),
                ("open_for", "\"30s\""),
            ],
        ),
        ("[balancing]", vec![]),
    ]
}

const EXTREMES: [&str; 22] = [
    "0",
    "-1",
    "1e308",
    "-1e308",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "nan",
    "inf",
    "0.0",
    "\"0s\"",
    "\"1ns\"",
    "\"18446744073709551615s\"",
    "\"-5s\"",
    "\"\"",
    "\"\u{2603}\u{fe0f}\u{200b}\"",
    "\"a\\u0000b\"",
    "true",
    "[]",
    "{}",
    "[1, \"x\"]",
    "1979-05-27T07:32:00Z",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete,
    Duplicate,
    Set(&'static str),
    Rename(&'static str),
    DropTable,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Delete),
        Just(Mutation::Duplicate),
        prop::sample::select(EXTREMES.to_vec()).prop_map(Mutation::Set),
        prop::sample::select(vec!["nmae", "\u{00e9}t\u{00e9}", "base-url", "weight.x"])
            .prop_map(Mutation::Rename),
        Just(Mutation::DropTable),
    ]
}

fn render(tables: &[Table], edits: &[(usize, usize, Mutation)]) -> (String, Vec<String>) {
    let mut touched = Vec::new();
    let mut text = String::new();
    for (ti, (header, fields)) in tables.iter().enumerate() {
        if edits
            .iter()
            .any(|(t, _, m)| *t % tables.len() == ti && matches!(m, Mutation::DropTable))
        {
            touched.push(header.trim_matches(['[', ']']).to_owned());
            continue;
        }
        text.push_str(header);
        text.push('\n');
        for (fi, (key, value)) in fields.iter().enumerate() {
            let mut line = format!("{key} = {value}\n");
            for (t, f, m) in edits {
                if *t % tables.len() != ti || fields.is_empty() || *f % fields.len() != fi {
                    continue;
                }
                touched.push((*key).to_owned());
                if let Mutation::Rename(k) = m {
                    touched.push((*k).to_owned());
                }
                line = match m {
                    Mutation::Delete => String::new(),
                    Mutation::Duplicate => format!("{line}{line}"),
                    Mutation::Set(v) => format!("{key} = {v}\n"),
                    Mutation::Rename(k) => format!("\"{k}\" = {value}\n"),
                    Mutation::DropTable => line,
                };
            }
            text.push_str(&line);
        }
        text.push('\n');
    }
    (text, touched)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_gateway_configs_never_panic(
        edits in prop::collection::vec((0usize..8, 0usize..16, mutation()), 1..4),
    ) {
        let (text, touched) = render(&base(), &edits);
        match engine::Config::from_toml(&text) {
            Ok(config) => {
                if let Err(e) = gateway::check_endpoints(&config) {
                    let msg = e.to_string();
                    prop_assert!(msg.contains("deployment"), "{msg}");
                }
            }
            Err(e) => {
                let msg = e.to_string();
                // The rejection names what was edited (the key, its new name, or the table
                // dropped) and the line `serve` and `check` print.
                let named = touched.iter().any(|t| msg.contains(t.as_str()));
                prop_assert!(named, "rejection names none of {touched:?}: {msg}\n{text}");
                // Only what is absent altogether (a dropped table) has no line to point at.
                let dropped = edits.iter().any(|(_, _, m)| matches!(m, Mutation::DropTable));
                prop_assert!(
                    e.line_in(&text).is_some() || dropped,
                    "no line: {msg}\n{text}"
                );
            }
        }
    }
}

#[test]
fn the_base_config_is_accepted() {
    let (text, _) = render(&base(), &[]);
    let config = engine::Config::from_toml(&text).expect("the base config is valid");
    gateway::check_endpoints(&config).expect("its endpoints are valid");
}
