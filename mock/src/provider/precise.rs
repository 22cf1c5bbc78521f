//! Sub-millisecond waits for the mock's answers. Tokio's timer has a resolution of one
//! millisecond and rounds every deadline up to it, and its driver parks for whole milliseconds
//! too: measured, a first token sent with `tokio::time::sleep_until` went out 1.07 ms late on
//! average (localhost, 8 streams at once). On the real clock that is noise; in a mock running
//! 10× faster (`--speed 10`) it is 10.7 ms of modelled time added to every time to first token
//! and every answer, which a fit of the gateway's trace then reports as provider latency.
//!
//! [`Sleep`] waits on tokio's timer until [`HANDOVER`] before its deadline, then hands the rest
//! to one shared timer thread that sleeps on a condition variable (nanosecond timeouts; the
//! kernel's timer slack, about 50 µs, is what remains) and wakes the task at the deadline. The
//! thread only ever holds waits of under [`HANDOVER`], so a wait given up (a client that went
//! away) leaves its entry for at most that long.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;

/// How long before its deadline a wait moves from tokio's timer to the precise one: tokio's
/// lateness (under 2 ms) plus a margin.
pub const HANDOVER: Duration = Duration::from_millis(3);

/// Waits due on the timer thread, earliest first; `seq` keeps entries with equal deadlines
/// apart (wakers are not ordered).
struct Due {
    at: std::time::Instant,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Due>>,
    seq: u64,
}

struct Timer {
    queue: Mutex<Queue>,
    changed: Condvar,
}

/// The shared timer, its thread started on first use; `None` if the thread could not start
/// (waits then stay on tokio's timer).
fn timer() -> Option<&'static Timer> {
    static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();
    *TIMER.get_or_init(|| {
        let t: &'static Timer = Box::leak(Box::new(Timer {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("mock-precise-timer".into())
            .spawn(move || t.run())
            .ok()
            .map(|_| t)
    })
}

impl Timer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // The queue stays consistent after a panic elsewhere (every change is one push or pop).
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, at: std::time::Instant, waker: Waker) {
        let mut q = self.lock();
        q.seq += 1;
        let seq = q.seq;
        let earliest = q.heap.peek().is_none_or(|Reverse(d)| at < d.at);
        q.heap.push(Reverse(Due { at, seq, waker }));
        drop(q);
        if earliest {
            self.changed.notify_one();
        }
    }

    fn run(&self) {
        let mut q = self.lock();
        loop {
            let now = std::time::Instant::now();
            while q.heap.peek().is_some_and(|Reverse(d)| d.at <= now) {
                if let Some(Reverse(d)) = q.heap.pop() {
                    d.waker.wake();
                }
            }
            q = match q.heap.peek().map(|Reverse(d)| d.at - now) {
                Some(wait) => {
                    self.changed
                        .wait_timeout(q, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.changed.wait(q).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

/// A wait until a deadline, precise to well under a millisecond.
pub struct Sleep {
    deadline: Instant,
    coarse: Pin<Box<tokio::time::Sleep>>,
    /// The waker handed to the timer thread for this deadline, if any.
    handed: Option<Waker>,
}

impl Sleep {
    /// A wait until `deadline`.
    pub fn until(deadline: Instant) -> Sleep {
        Sleep {
            deadline,
            coarse: Box::pin(tokio::time::sleep_until(early(deadline))),
            handed: None,
        }
    }

    /// Waits for `deadline` instead.
    pub fn reset(&mut self, deadline: Instant) {
        if deadline != self.deadline {
            self.deadline = deadline;
            self.coarse.as_mut().reset(early(deadline));
            self.handed = None;
        }
    }
}

/// When a wait for `deadline` moves to the timer thread.
fn early(deadline: Instant) -> Instant {
    deadline.checked_sub(HANDOVER).unwrap_or(deadline)
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let s = self.get_mut();
        let now = Instant::now();
        if now >= s.deadline {
            return Poll::Ready(());
        }
        // (A tokio sleep whose deadline has passed still waits for the timer's next tick.)
        if now < early(s.deadline) && s.coarse.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let Some(timer) = timer() else {
            // No timer thread: the rest of the wait on tokio's timer.
            s.coarse.as_mut().reset(s.deadline);
            return s.coarse.as_mut().poll(cx);
        };
        if !s.handed.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            s.handed = Some(cx.waker().clone());
            timer.add(s.deadline.into_std(), cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Waits until `deadline` (see [`Sleep`]).
pub async fn sleep_until(deadline: Instant) {
    Sleep::until(deadline).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_at_the_deadline_not_before() {
        let mut late = Duration::ZERO;
        for i in 0..20u64 {
            let deadline = Instant::now() + Duration::from_micros(4_000 + i * 137);
            sleep_until(deadline).await;
            let now = Instant::now();
            assert!(now >= deadline);
            late = late.max(now - deadline);
        }
        // Not a timing assertion on speed: only that it wakes at all, and reports the worst
        // lateness for the record.
        println!("worst lateness {late:?}");
    }

    #[tokio::test]
    async fn a_reset_wait_waits_for_the_new_deadline() {
        let start = Instant::now();
        let mut s = Sleep::until(start + Duration::from_millis(500));
        s.reset(start + Duration::from_millis(5));
        (&mut s).await;
        assert!(Instant::now() >= start + Duration::from_millis(5));
    }
}
