//! Fuzz-style properties over the shipped scenarios: a scenario mutated in its `[simulation]`,
//! `[workload]` or `[world]` tables (a key deleted or duplicated, an extreme value, a wrong
//! type, a long or unicode string) is either rejected with an error naming file:line and a
//! field, or loads and simulates to completion within a request cap, without panicking.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::Index;
use sim::{RunOptions, Scenario};
use toml::{Table, Value};

const SCENARIOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");

/// Most requests a mutated scenario may simulate (each case must run in milliseconds).
const REQUEST_CAP: u64 = 150;

fn shipped() -> Vec<(PathBuf, Table)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(SCENARIOS)
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 9, "{files:?}");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("scenario text");
            let table: Table = toml::from_str(&text).expect("a TOML table");
            (p, table)
        })
        .collect()
}

/// A step into a table or array.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every path under the sim-owned tables (tables, arrays and leaves).
fn paths(table: &Table) -> Vec<Vec<Step>> {
    fn walk(v: &Value, prefix: Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(prefix.clone());
        match v {
            Value::Table(t) => {
                for (k, v) in t {
                    let mut p = prefix.clone();
                    p.push(Step::Key(k.clone()));
                    walk(v, p, out);
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    let mut p = prefix.clone();
                    p.push(Step::Index(i));
                    walk(v, p, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for key in ["simulation", "workload", "world"] {
        if let Some(v) = table.get(key) {
            walk(v, vec![Step::Key(key.into())], &mut out);
        }
    }
    out
}

/// The parent container of `path` (below the top level) and the last step.
fn parent<'a>(table: &'a mut Table, path: &[Step]) -> Option<(&'a mut Value, Step)> {
    let (last, init) = path.split_last()?;
    let (Step::Key(first), rest) = init.split_first()? else {
        return None;
    };
    let mut v = table.get_mut(first)?;
    for step in rest {
        v = match step {
            Step::Key(k) => v.as_table_mut()?.get_mut(k)?,
            Step::Index(i) => v.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some((v, last.clone()))
}

/// Extreme and wrong values a file may hold.
fn extremes() -> Vec<Value> {
    vec![
        Value::Integer(0),
        Value::Integer(-1),
        Value::Integer(i64::MAX),
        Value::Float(1e308),
        Value::Float(-1.0),
        Value::Float(5e-324),
        Value::Float(f64::NAN),
        Value::Float(f64::INFINITY),
        Value::String("0s".into()),
        Value::String("1ns".into()),
        Value::String("18446744073709551615s".into()),
        Value::String("-1s".into()),
        Value::String(String::new()),
        Value::String("x".repeat(70_000)),
        Value::String("é漢🙂\u{202e}".repeat(30)),
        Value::Boolean(true),
        Value::Array(vec![]),
        Value::Table(Table::new()),
    ]
}

/// Applies mutation `m` to the value at `path`; `false` when it does not apply.
fn mutate(table: &mut Table, path: &[Step], m: usize) -> bool {
    let extremes = extremes();
    if let [Step::Key(top)] = path {
        if m == extremes.len() {
            table.remove(top);
        } else {
            table.insert(top.clone(), extremes[m % extremes.len()].clone());
        }
        return true;
    }
    let Some((container, last)) = parent(table, path) else {
        return false;
    };
    match (container, last) {
        (Value::Table(t), Step::Key(k)) => {
            if m == extremes.len() {
                t.remove(&k);
            } else {
                t.insert(k, extremes[m % extremes.len()].clone());
            }
            true
        }
        (Value::Array(a), Step::Index(i)) => {
            if m == extremes.len() {
                a.remove(i);
            } else if m & 1 == 0 {
                let copy = a[i].clone();
                a.push(copy);
            } else {
                a[i] = extremes[m % extremes.len()].clone();
            }
            true
        }
        _ => false,
    }
}

/// Duplicates the `n`-th `key = value` line of the sim-owned tables (a TOML error).
fn duplicate_line(text: &str, n: usize) -> String {
    let candidates: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(" = ") && !l.trim_start().starts_with('#'))
        .map(|(i, _)| i)
        .collect();
    let Some(&at) = candidates.get(n % candidates.len().max(1)) else {
        return text.to_owned();
    };
    let mut lines: Vec<&str> = text.lines().collect();
    let line = lines[at];
    lines.insert(at, line);
    lines.join("\n")
}

fn check(file: &Path, text: &str) -> Result<(), TestCaseError> {
    let name = file.display().to_string();
    match Scenario::parse(text, &name, "fuzz") {
        Err(e) => {
            let shown = e.to_string();
            prop_assert!(e.line.is_some(), "no line: {shown}");
            prop_assert!(
                shown.starts_with(&format!("{name}:{}:", e.line.unwrap_or(0))),
                "{shown}"
            );
            prop_assert!(
                e.field.is_some() || shown.contains(" = ") || shown.contains('`'),
                "no field: {shown}"
            );
        }
        Ok(s) => {
            simulate_capped(s)?;
        }
    }
    Ok(())
}

/// Runs `s` for at most [`REQUEST_CAP`] requests; every request is accounted for. Returns how
/// many arrived.
fn simulate_capped(mut s: Scenario) -> Result<u64, TestCaseError> {
    s.settings.max_requests = Some(REQUEST_CAP);
    let r = sim::run(
        &s,
        RunOptions {
            strategy: None,
            seed: 1,
            trace: None,
            progress: None,
        },
    );
    prop_assert!(r.summary.requests <= REQUEST_CAP);
    prop_assert_eq!(
        r.summary.requests,
        r.summary.successes + r.summary.failures + r.summary.in_flight_at_end
    );
    Ok(r.summary.requests)
}

/// `text` must load (a rejection fails the test, naming why) and simulate.
fn must_simulate(file: &Path, text: &str) -> u64 {
    let name = file.display().to_string();
    let scenario = Scenario::parse(text, &name, "fuzz").unwrap_or_else(|e| panic!("{e}"));
    simulate_capped(scenario).unwrap_or_else(|e| panic!("{name}: {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_shipped_scenarios_are_rejected_with_a_location_or_simulate(
        file in any::<Index>(),
        path in any::<Index>(),
        mutation in 0usize..=18,
        second in any::<Option<(Index, usize)>>(),
        duplicate in any::<Option<usize>>(),
    ) {
        let all = shipped();
        let (file, table) = &all[file.index(all.len())];
        let mut table = table.clone();
        let ps = paths(&table);
        let p = &ps[path.index(ps.len())];
        mutate(&mut table, p, mutation);
        if let Some((path, m)) = second {
            let ps = paths(&table);
            if !ps.is_empty() {
                mutate(&mut table, &ps[path.index(ps.len())], m % 19);
            }
        }
        let mut text = toml::to_string(&table).unwrap_or_default();
        if let Some(n) = duplicate {
            text = duplicate_line(&text, n);
        }
        check(file, &text)?;
    }
}

#[test]
fn every_shipped_scenario_loads_and_runs_capped() {
    for (file, _) in shipped() {
        let text = std::fs::read_to_string(&file).expect("text");
        let requests = must_simulate(&file, &text);
        assert!(requests > 0, "{}: no request arrived", file.display());
    }
}

/// Values on the edge of each documented range load and simulate quickly.
#[test]
fn edge_values_simulate_quickly() {
    let base = std::fs::read_to_string(Path::new(SCENARIOS).join("default.toml")).expect("text");
    let table: Table = toml::from_str(&base).expect("table");
    let arrivals = [
        "{ bursty = { base_rate = 0.0, burst_rate = 1.0, mean_burst = \"1ms\", mean_gap = \"1ms\" } }",
        "{ diurnal = { mean_rate = 1e-6, amplitude = 1.0, period = \"1ns\", peak = \"365days\" } }",
        "{ constant = { rate = 1e6 } }",
    ];
    for a in arrivals {
        let mut t = table.clone();
        let w: Table = toml::from_str(&format!("a = {a}")).expect("arrivals");
        t["workload"]["arrivals"] = w["a"].clone();
        t["simulation"]["duration"] = Value::String("1000s".into());
        let text = toml::to_string(&t).expect("text");
        // Loads (a value on the edge of its range is accepted) and every request ends.
        must_simulate(Path::new(&format!("edge ({a})")), &text);
    }
}
