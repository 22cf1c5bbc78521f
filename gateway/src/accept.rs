//! Accepting client connections: hyper's HTTP/1 settings, the connection cap, and what to do
//! when `accept()` fails (typically `EMFILE`/`ENFILE`: out of file descriptors).

use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tracing::warn;

/// Largest request head hyper buffers (request line + headers). A longer head is refused with
/// 431 (given an OpenAI error body by the gateway); also the cap on chunked trailers.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How often at most an accept error is logged (per accept loop); the others are counted and
/// reported with the next logged one.
pub const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// The HTTP/1 server settings the gateway and the mock provider (`switchyard-mock`) share: keep-alive, and
/// `header_read_timeout` to read a request head (which also bounds an idle keep-alive
/// connection, since hyper starts the timer when it waits for the next head).
pub fn http1_server(header_read_timeout: Duration) -> http1::Builder {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    http
}

/// Rate-limits the log of accept errors and picks the pause after one.
#[derive(Debug, Default)]
pub struct AcceptErrors {
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl AcceptErrors {
    /// Records an error at `now`; returns `Some(n)` when it should be logged, `n` being the
    /// errors not logged since the previous logged one.
    pub fn note(&mut self, now: Instant) -> Option<u64> {
        match self.last_logged {
            Some(t) if now.saturating_duration_since(t) < ACCEPT_ERROR_LOG_INTERVAL => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last_logged = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// Whether an accept error means the process or system is out of descriptors or memory: the
/// pending connections stay in the backlog until something is closed, so wait longer.
fn out_of_resources(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            e.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// The accepted connection, or `None` after a pause when accepting failed: 100 ms when out of
/// file descriptors (accepting again at once would fail again and spin), 5 ms otherwise. The
/// error is logged at most once per [`ACCEPT_ERROR_LOG_INTERVAL`] with the count of the ones
/// not logged.
pub async fn accepted_or_back_off(
    accepted: std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)>,
    errors: &mut AcceptErrors,
) -> Option<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match accepted {
        Ok(a) => Some(a),
        Err(e) => {
            if let Some(suppressed) = errors.note(Instant::now()) {
                warn!(error = %e, suppressed, "accept failed (suppressed = errors not logged in the previous second)");
            }
            let pause = if out_of_resources(&e) { 100 } else { 5 };
            tokio::time::sleep(Duration::from_millis(pause)).await;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_logged_once_per_interval_with_a_count() {
        let mut errors = AcceptErrors::default();
        let t0 = Instant::now();
        assert_eq!(errors.note(t0), Some(0));
        let mut logged = 0;
        for i in 1..=47u32 {
            if errors.note(t0 + Duration::from_millis(20) * i).is_some() {
                logged += 1;
            }
        }
        assert_eq!(
            logged, 0,
            "47 errors within 0.94 s: none logged after the first"
        );
        assert_eq!(errors.note(t0 + Duration::from_millis(1000)), Some(47));
        assert_eq!(errors.note(t0 + Duration::from_millis(1001)), None);
        assert_eq!(errors.note(t0 + Duration::from_millis(2500)), Some(1));
    }

    #[cfg(unix)]
    #[test]
    fn descriptor_exhaustion_is_recognised() {
        assert!(out_of_resources(&std::io::Error::from_raw_os_error(
            libc::EMFILE
        )));
        assert!(out_of_resources(&std::io::Error::from_raw_os_error(
            libc::ENFILE
        )));
        assert!(!out_of_resources(&std::io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
    }
}
