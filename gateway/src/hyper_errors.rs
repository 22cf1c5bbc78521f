//! OpenAI error bodies for the answers hyper writes by itself.
//!
//! When a request head cannot be parsed, hyper never calls the service: it writes a bare
//! `400 Bad Request` (malformed request line or header), `414 URI Too Long` or
//! `431 Request Header Fields Too Large` with `content-length: 0` and closes the connection. No
//! hyper option changes that body, so [`ErrorBodies`] wraps the client socket and replaces such a
//! head, as it is written, by the same status with a `{"error":{…}}` body.
//!
//! A head is recognised as hyper's own when, at the end of one write, it has status 400, 414 or
//! 431 and no header but `content-length: 0`, `date` and `connection`. The service never answers
//! like that (its errors carry `content-type`; proxied answers carry `x-switchyard-deployment`).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::error_json;

/// Writes longer than this are never hyper's error heads (those are ~100 bytes).
const MAX_INSPECTED: usize = 1024;

/// A client socket whose hyper-generated error heads get OpenAI error bodies.
#[derive(Debug)]
pub(crate) struct ErrorBodies<S> {
    inner: S,
    /// Bytes still to write before anything else (a replaced error answer).
    pending: Vec<u8>,
    written: usize,
}

impl<S> ErrorBodies<S> {
    /// Wraps a socket.
    pub fn new(inner: S) -> ErrorBodies<S> {
        ErrorBodies {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<S: AsyncWrite + Unpin> ErrorBodies<S> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Takes `data` (reported as written whole) when it ends with one of hyper's error heads.
    fn take_error_head(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Option<io::Result<()>> {
        let replaced = replace_error_head(data)?;
        self.pending = replaced;
        self.written = 0;
        match self.drain(cx) {
            Poll::Ready(Err(e)) => Some(Err(e)),
            // The rest is written by the next write, flush or shutdown.
            Poll::Ready(Ok(())) | Poll::Pending => Some(Ok(())),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ErrorBodies<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ErrorBodies<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        if buf.len() <= MAX_INSPECTED {
            if let Some(r) = this.take_error_head(cx, buf) {
                return Poll::Ready(r.map(|()| buf.len()));
            }
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        // Joined (copied) only when the write could end with an error head: every answer's head
        // and body pass through here, and a body never ends with an empty line.
        if total <= MAX_INSPECTED && ends_with_empty_line(bufs) {
            let mut joined = Vec::with_capacity(total);
            for b in bufs {
                joined.extend_from_slice(b);
            }
            if let Some(r) = this.take_error_head(cx, &joined) {
                return Poll::Ready(r.map(|()| total));
            }
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// Whether the bytes of `bufs`, written one after the other, end with `\r\n\r\n` (the end of
/// a head with no body), without copying them.
fn ends_with_empty_line(bufs: &[io::IoSlice<'_>]) -> bool {
    const END: &[u8] = b"\r\n\r\n";
    let mut want = END.len();
    for b in bufs.iter().rev() {
        let take = want.min(b.len());
        if b[b.len() - take..] != END[want - take..want] {
            return false;
        }
        want -= take;
        if want == 0 {
            return true;
        }
    }
    false
}

/// `data` with a trailing hyper error head replaced by a full OpenAI error answer, or `None`
/// when `data` does not end with one.
fn replace_error_head(data: &[u8]) -> Option<Vec<u8>> {
    if !data.ends_with(b"\r\n\r\n") {
        return None;
    }
    let start = data.windows(9).rposition(|w| w == b"HTTP/1.1 ")?;
    let head = &data[start..data.len() - 2];
    let mut lines = head.split(|&b| b == b'\n');
    let status_line = lines.next()?;
    let (status, message, code) = match status_line.get(9..13)? {
        b"400 " => (
            400,
            "malformed HTTP request: the request line or a header could not be parsed",
            "malformed_request",
        ),
        b"414 " => (414, "the request URI is too long", "uri_too_long"),
        b"431 " => (
            431,
            "the request head (request line and headers) is too large",
            "headers_too_large",
        ),
        _ => return None,
    };
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let line = line.strip_suffix(b"\r")?;
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        let ok = if name.eq_ignore_ascii_case(b"content-length") {
            value == b"0"
        } else {
            name.eq_ignore_ascii_case(b"date") || name.eq_ignore_ascii_case(b"connection")
        };
        if !ok {
            return None;
        }
    }
    let reason = std::str::from_utf8(status_line.get(13..)?).ok()?.trim_end();
    let body = error_json(message, "invalid_request_error", code);
    let mut out = data[..start].to_vec();
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\ndate: {}\r\n\r\n{body}",
            body.len(),
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        )
        .as_bytes(),
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::replace_error_head;

    #[test]
    fn hyper_error_heads_get_a_body() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replace_error_head(head).expect("replaced")).expect("utf8");
        assert!(out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(out.contains("connection: close\r\n"));
        assert!(out.contains(r#""code":"headers_too_large""#), "{out}");
        let body = out.split("\r\n\r\n").nth(1).expect("body");
        let len: usize = out
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.parse().ok())
            .expect("length");
        assert_eq!(body.len(), len);
    }

    #[test]
    fn a_previous_answer_in_the_same_write_is_kept() {
        let data = b"}HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        let out = replace_error_head(data).expect("replaced");
        assert!(out.starts_with(b"}HTTP/1.1 400 Bad Request\r\n"));
    }

    #[test]
    fn service_answers_are_left_alone() {
        for data in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-switchyard-deployment: a\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}",
            b"0\r\n\r\n",
            b"",
        ] {
            assert_eq!(replace_error_head(data), None, "{:?}", String::from_utf8_lossy(data));
        }
    }

    proptest::proptest! {
        /// The no-copy check agrees with the joined bytes for any split of any write, in
        /// particular an empty line split across two or more slices.
        #[test]
        fn the_empty_line_is_found_across_slices(
            parts in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec![b'\r', b'\n', b'x']), 0..6),
                0..6,
            )
        ) {
            let slices: Vec<std::io::IoSlice<'_>> =
                parts.iter().map(|p| std::io::IoSlice::new(p)).collect();
            let joined = parts.concat();
            proptest::prop_assert_eq!(
                super::ends_with_empty_line(&slices),
                joined.ends_with(b"\r\n\r\n")
            );
        }
    }
}
