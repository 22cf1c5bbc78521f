//! Hostile input: 200 mutated bodies and hostile headers (from a seeded generator, so a failure
//! reproduces) all get well-formed HTTP answers, every 4xx with an OpenAI error body.

use std::time::Duration;

use gateway::Settings;
use http::StatusCode;

use crate::common::{chat, post};
use crate::support::*;

/// A small deterministic generator (xorshift64*), so that a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A valid body mutated by a few byte edits, splices or truncations.
fn mutated_body(rng: &mut Rng) -> Vec<u8> {
    const SNIPPETS: [&str; 10] = [
        "\"stream\":\"yes\"",
        "\"max_tokens\":-1",
        "\"max_tokens\":1e308",
        "\"model\":3",
        "[",
        "{",
        "\"model\":\"gpt-4o-mini\",",
        "\u{2603}\u{0}",
        "null",
        "\"messages\":{\"a\":[[[[]]]]}",
    ];
    let mut body = chat("gpt-4o-mini").into_bytes();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(body.len() + 1);
        match rng.below(4) {
            0 => body.insert(at, rng.next() as u8),
            1 if at < body.len() => {
                body.remove(at);
            }
            2 => {
                let s = SNIPPETS[rng.below(SNIPPETS.len())];
                body.splice(at..at, s.bytes());
            }
            _ => body.truncate(at),
        }
    }
    body
}

/// Headers a hostile client might send (each makes a complete request with a short body).
const HOSTILE: [&str; 16] = [
    "content-length: 99999999999999999999999\r\n",
    "content-length: 5\r\ncontent-length: 6\r\n",
    "transfer-encoding: gzip\r\n",
    "transfer-encoding: chunked\r\n",
    "x-switchyard-tier: \u{00e9}\r\n",
    "x-switchyard-tier: nope\r\n",
    "authorization: Bearer \r\n",
    "expect: 100-continue\r\n",
    "x-folded: a\r\n b\r\n",
    "x-bin: \u{1}\u{7f}\r\n",
    ": empty-name\r\n",
    "content-type: text/plain\r\n",
    "connection: keep-alive, upgrade\r\nupgrade: h2c\r\n",
    "accept: */*\r\nx-a: 1\r\nx-a: 2\r\n",
    "host: a\r\nhost: b\r\n",
    "x-long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_bodies_and_hostile_headers_get_well_formed_answers() {
    let up = mock().await;
    let settings = Settings {
        body_read_timeout: Duration::from_millis(500),
        ..Settings::default()
    };
    let gw = behind_one_upstream(&up, settings).await;
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let paths = [
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/models",
        "/nope",
    ];
    for i in 0..200u32 {
        let body = mutated_body(&mut rng);
        let path = if i.is_multiple_of(5) {
            paths[rng.below(paths.len())]
        } else {
            paths[0]
        };
        let extra = if !i.is_multiple_of(2) {
            HOSTILE[rng.below(HOSTILE.len())]
        } else {
            ""
        };
        let mut request =
            format!("POST {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{extra}").into_bytes();
        if !extra.contains("content-length") {
            request.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(&body);
        let (bytes, closed) = raw_exchange(&gw, &request).await;
        let shown = String::from_utf8_lossy(&request);
        assert!(closed, "#{i}: no close after {shown:?}");
        let raw = parse_raw(&bytes).unwrap_or_else(|| {
            panic!(
                "#{i}: not an HTTP answer {:?} to {shown:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert!((200..600).contains(&raw.status), "#{i}: {}", raw.head);
        if (400..500).contains(&raw.status) {
            let v: serde_json::Value = serde_json::from_slice(&raw.body).unwrap_or_else(|_| {
                panic!(
                    "#{i}: {} body is not JSON: {:?} (request {shown:?})",
                    raw.status,
                    String::from_utf8_lossy(&raw.body)
                )
            });
            let e = &v["error"];
            for field in ["message", "type", "code"] {
                assert!(
                    e[field].is_string(),
                    "#{i}: error lacks {field}: {v} (request {shown:?})"
                );
            }
        }
    }
    let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK, "still serving after the fuzzing");
}
