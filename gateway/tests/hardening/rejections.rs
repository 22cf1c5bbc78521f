//! hyper's own rejections (a garbage request line, a malformed header, a bad content-length, a
//! NUL byte, a URI or head too long) carry OpenAI error bodies, and the gateway keeps serving.

use http::StatusCode;

use crate::common::{chat, config, error_of, post, Dep, TestGateway};
use crate::support::*;

#[tokio::test]
async fn hyper_rejections_carry_openai_error_bodies() {
    let up = mock().await;
    let gw = TestGateway::start(&config(&[Dep::plain("a", up.base_url())], "")).await;
    let long_uri = format!(
        "GET /v1/models?{} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        "q".repeat(10_000)
    );
    let big_header = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "v".repeat(70_000)
    );
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "garbage request line",
            b"GARBAGE\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            "header without a colon",
            b"GET /health HTTP/1.1\r\nhost x\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            "bad content-length",
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            "NUL in a header value",
            b"GET /health HTTP/1.1\r\nhost: x\r\nx-a: a\0b\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        ("URI too long", long_uri.into_bytes(), 414, "uri_too_long"),
        (
            "head too large",
            big_header.into_bytes(),
            431,
            "headers_too_large",
        ),
    ];
    for (name, request, status, code) in cases {
        let (bytes, closed) = raw_exchange(&gw, &request).await;
        assert!(
            closed,
            "{name}: the connection was closed after the answer: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        let raw = parse_raw(&bytes)
            .unwrap_or_else(|| panic!("{name}: no answer: {:?}", String::from_utf8_lossy(&bytes)));
        assert_eq!(raw.status, status, "{name}: {}", raw.head);
        assert!(
            raw.head
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{name}: {}",
            raw.head
        );
        assert_eq!(error_of(&raw.body)["code"], code, "{name}");
    }
    let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK, "still serving");
}
