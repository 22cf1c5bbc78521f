//! `first_byte_timeout` means one thing in both drivers: the time until the head of the answer,
//! which for a non-streamed request is the whole answer (the gateway sees no byte before it).
//! The simulator knows which requests stream from the workload's `stream_share`.

mod common;

use common::{assert_conserved, run, scenario};
use engine::StrategyKind;
use sim::trace::{CsvTrace, TraceRow, TraceSink};

/// One provider: first token after exactly 1 s, then 200 tokens at 10 ms (3 s in all); the
/// gateway's first-byte timeout is 2 s; arrivals at 1/s for a minute.
fn world(stream_share: &str) -> String {
    format!(
        r#"
[simulation]
seed = 3
duration = "60s"

[workload]
arrivals = {{ constant = {{ rate = 1.0 }} }}
input_tokens = {{ constant = 100 }}
output_tokens = {{ constant = 200 }}
{stream_share}

[[tier]]
name = "t"

[retry]
max_attempts = 1

[[world.provider]]
name = "p"
ttft = {{ constant = "1s" }}
per_token = {{ constant = "10ms" }}

  [[world.provider.deployment]]
  id = "a"

[[deployment]]
id = "a"
provider = "p"
model = "m"
tier = "t"
first_byte_timeout = "2s"
"#
    )
}

#[test]
fn streamed_requests_beat_the_first_byte_timeout_and_whole_answers_do_not() {
    // Default: every request streams; the first token at 1 s beats the 2 s timeout.
    let r = run(&scenario(&world("")), Some(StrategyKind::Random), 1);
    assert_conserved(&r);
    assert_eq!(r.summary.successes, r.summary.requests);
    assert_eq!(r.deployments[0].timeouts, 0);
    // Nothing streams: the head is the whole answer at 3 s, past the timeout, every time.
    let r = run(
        &scenario(&world("stream_share = 0.0")),
        Some(StrategyKind::Random),
        1,
    );
    assert_eq!(r.summary.successes, 0);
    assert_eq!(r.deployments[0].timeouts, r.summary.requests);
}

#[derive(Default)]
struct Rows(Vec<TraceRow>);

impl TraceSink for Rows {
    fn attempt(&mut self, row: &TraceRow) {
        self.0.push(row.clone());
    }
}

#[test]
fn the_trace_says_which_attempts_streamed_and_a_whole_answer_has_its_head_at_the_end() {
    let mut text = world("stream_share = 0.5");
    text = text.replace(
        "first_byte_timeout = \"2s\"",
        "first_byte_timeout = \"10s\"",
    );
    let s = scenario(&text);
    let mut rows = Rows::default();
    let options = sim::RunOptions {
        strategy: Some(StrategyKind::Random),
        seed: 1,
        trace: Some(&mut rows),
        progress: None,
    };
    let r = sim::run(&s, options);
    assert_eq!(rows.0.len() as u64, r.summary.requests);
    let streamed = rows.0.iter().filter(|r| r.stream).count();
    assert!(
        streamed > 15 && streamed < 45,
        "{streamed} of {}",
        rows.0.len()
    );
    for row in &rows.0 {
        assert_eq!(row.outcome, "ok");
        assert_eq!(row.latency_ms, 3000.0);
        assert_eq!(row.ttft_ms, if row.stream { 1000.0 } else { 3000.0 });
    }
    // And the CSV carries it.
    let mut buf = Vec::new();
    let mut csv = CsvTrace::new(&mut buf);
    for row in &rows.0 {
        csv.attempt(row);
    }
    csv.finish().expect("written");
    let text = String::from_utf8(buf).expect("UTF-8");
    assert!(text
        .lines()
        .skip(1)
        .all(|l| l.contains(",true,") || l.contains(",false,")));
}

#[test]
fn a_stream_share_outside_0_to_1_is_refused() {
    let e = sim::Scenario::parse(&world("stream_share = 1.5"), "s.toml", "s")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("workload.stream_share"), "{e}");
}
