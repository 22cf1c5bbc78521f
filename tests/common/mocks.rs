//! Mock providers for the fidelity tests (`tests/fidelity/` and `tests/fidelity_*.rs`): one
//! in-process `mock::provider` per deployment of a world, each on its own port of 127.0.0.1,
//! started and stopped together.

use std::sync::Arc;
use std::time::Duration;

use mock::provider::{MockOptions, MockProvider};
use sim::Scenario;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// `n` listeners on 127.0.0.1 and their base URLs (`http://ADDR/v1`), bound before the world is
/// written, since the world's deployments name the URLs.
pub async fn bind(n: usize) -> (Vec<TcpListener>, Vec<String>) {
    let mut listeners = Vec::with_capacity(n);
    let mut urls = Vec::with_capacity(n);
    for _ in 0..n {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind a mock");
        urls.push(format!("http://{}/v1", l.local_addr().expect("addr")));
        listeners.push(l);
    }
    (listeners, urls)
}

/// Running mock providers: listener i serves deployment i of the world.
pub struct Mocks {
    /// The providers, in deployment order (their `stats()` count what they answered).
    pub providers: Vec<MockProvider>,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<Result<(), String>>>,
}

impl Mocks {
    /// Starts one provider per listener, modelled time running `1 / time_scale` times as fast as
    /// the real clock, with its own random streams from `seed`. Their clocks start now.
    pub fn start(
        world: &Arc<Scenario>,
        listeners: Vec<TcpListener>,
        time_scale: f64,
        seed: u64,
    ) -> Mocks {
        let mut mocks = Mocks {
            providers: Vec::new(),
            stops: Vec::new(),
            tasks: Vec::new(),
        };
        for (i, listener) in listeners.into_iter().enumerate() {
            let provider = MockProvider::new(MockOptions {
                scenario: world.clone(),
                deployment: i,
                time_scale,
                seed,
                api: world.config.deployments[i].endpoint.api,
            })
            .expect("mock options are valid");
            let (tx, rx) = oneshot::channel::<()>();
            let p = provider.clone();
            mocks.tasks.push(tokio::spawn(async move {
                p.serve(listener, async {
                    let _ = rx.await;
                })
                .await
                .map_err(|e| e.to_string())
            }));
            mocks.stops.push(tx);
            mocks.providers.push(provider);
        }
        mocks
    }

    /// Stops every provider and waits (at most 5 s each) for it to end cleanly.
    pub async fn stop(self) {
        for tx in self.stops {
            let _ = tx.send(());
        }
        for t in self.tasks {
            tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .expect("a mock stops")
                .expect("no panic")
                .expect("the mock ends cleanly");
        }
    }
}
