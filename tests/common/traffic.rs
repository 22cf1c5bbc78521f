//! The traffic both drivers of a fidelity test receive, and the simulator's view of it.
//!
//! When each request arrives, its input tokens, its `max_tokens` and whether it streams are
//! drawn once from the traffic's seed. The real client sends exactly these requests and the
//! simulator replays them ([`TrafficSource`]), as `whatif` replays a recorded trace; what the
//! providers do with them (latencies, output lengths, limits, errors) is drawn from independent
//! streams on each side. Comparing one real run with simulator runs that each drew their own
//! arrivals mixed the traffic's randomness into the comparison: a 15–22 % spread of 429 counts
//! between arrival sequences, and a constant arrival process phase-locked to the providers'
//! refills in the simulator only (docs/mock-provider.md, "Fidelity where it is hard").

use std::time::Duration;

use sim::Scenario;

/// The requests, in arrival order.
pub struct Traffic {
    pub requests: Vec<Sent>,
    /// The name of its random streams (the simulator's output lengths use `name`-outputs).
    name: String,
}

/// One request of the traffic.
#[derive(Clone, Copy)]
pub struct Sent {
    /// Arrival, modelled time from the start.
    pub at: Duration,
    pub input_tokens: u32,
    pub max_tokens: u32,
    pub stream: bool,
}

impl Traffic {
    /// `n` requests of `scenario`'s workload (arrival process, sizes, stream share) under
    /// `seed`, from the random streams named `name`-arrivals and `name`-client.
    pub fn draw(scenario: &Scenario, n: usize, seed: u64, name: &str) -> Traffic {
        let w = &scenario.workload;
        let mut arrivals = sim::run::stream(seed, &format!("{name}-arrivals"));
        let mut sizes = sim::run::stream(seed, &format!("{name}-client"));
        let mut clock = sim::workload::ArrivalClock::new(w.arrivals.clone(), &mut arrivals);
        let requests = (0..n)
            .map(|_| {
                let at = Duration::from_secs_f64(clock.next(&mut arrivals).expect("a rate"));
                let (input_tokens, _, max_tokens) = w.draw_tokens(&mut sizes);
                Sent {
                    at,
                    input_tokens,
                    max_tokens,
                    stream: w.draws_stream(&mut sizes),
                }
            })
            .collect();
        Traffic {
            requests,
            name: name.to_owned(),
        }
    }
}

impl Sent {
    /// The request's body for `model`, sized so the gateway's estimate (characters ÷ 4) is its
    /// input tokens.
    pub fn body(&self, model: &str) -> String {
        let content =
            "lorem ipsum ".repeat((self.input_tokens as usize * 4).div_ceil(12).min(40_000));
        serde_json::json!({
            "model": model,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": self.max_tokens,
            "stream": self.stream,
        })
        .to_string()
    }
}

/// [`Traffic`] as the simulator's arrivals, all of the workload's first model; each request's
/// true output length is drawn from the workload under the simulator's seed (the mocks draw
/// theirs from their own).
pub struct TrafficSource<'a> {
    scenario: &'a Scenario,
    traffic: &'a Traffic,
    next: usize,
    outputs: sim::Rng,
}

impl<'a> TrafficSource<'a> {
    /// The traffic for a simulator run under `seed`.
    pub fn new(scenario: &'a Scenario, traffic: &'a Traffic, seed: u64) -> TrafficSource<'a> {
        TrafficSource {
            scenario,
            traffic,
            next: 0,
            outputs: sim::run::stream(seed, &format!("{}-outputs", traffic.name)),
        }
    }
}

impl sim::ArrivalSource for TrafficSource<'_> {
    fn next_arrival(&mut self) -> Option<sim::Arrival> {
        let r = self.traffic.requests.get(self.next)?;
        self.next += 1;
        let w = &self.scenario.workload;
        let (_, output, _) = w.draw_tokens(&mut self.outputs);
        Some(sim::Arrival {
            at: r.at,
            model: 0,
            tier: w.mix[0].tier,
            input_tokens: r.input_tokens,
            output_tokens: output.min(r.max_tokens),
            estimated_output: r.max_tokens,
            stream: r.stream,
            session: None,
        })
    }

    fn models(&self) -> Vec<String> {
        vec![self.scenario.workload.mix[0].model.clone()]
    }
}
