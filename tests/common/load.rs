//! A bounded closed-loop client for the end-to-end tests: `concurrency` workers each take the
//! next request index until all `n` are taken, so at most `n` requests are ever sent.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Sends requests `0..n` through `send` from `concurrency` workers and returns what each
/// returned (in completion order), or `None` if they did not all finish within `limit`.
pub async fn closed_loop<T, F, Fut>(
    n: usize,
    concurrency: usize,
    limit: Duration,
    send: F,
) -> Option<Vec<T>>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (next, seen, send) = (next.clone(), seen.clone(), send.clone());
            tokio::spawn(async move {
                // Bounded: each worker takes at most n requests.
                for _ in 0..n {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let r = send(i).await;
                    seen.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                }
            })
        })
        .collect();
    let finished = tokio::time::timeout(limit, async {
        for w in workers {
            w.await.expect("a client worker panicked");
        }
    })
    .await;
    finished.ok()?;
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    Some(seen)
}
