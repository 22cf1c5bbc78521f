//! Unit tests of [`super`] (state.rs).

use super::{bearer_token, models_json};

#[test]
fn models_are_listed_once() {
    let config = engine::Config::from_toml(
        "[[tier]]\nname = \"gpt-4o\"\n[[tier]]\nname = \"cheap\"\n\
         [[route]]\nmodel = \"gpt-4o\"\ntier = \"gpt-4o\"\n\
         [[route]]\nmodel = \"mini\"\ntier = \"cheap\"\n\
         [[deployment]]\nid = \"a\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"gpt-4o\"\n\
         [[deployment]]\nid = \"b\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"cheap\"\n",
    )
    .expect("valid config");
    let v: serde_json::Value = serde_json::from_str(&models_json(&config)).expect("JSON");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["gpt-4o", "mini", "cheap"]);
}

#[test]
fn bearer_tokens() {
    assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
    assert_eq!(bearer_token(b"bearer  abc "), Some(&b"abc"[..]));
    assert_eq!(bearer_token(b"Basic abc"), None);
    assert_eq!(bearer_token(b"Bear"), None);
}
