//! Provider rate-limit headers → [`engine::LimitHeaders`] and `retry-after`.
//!
//! Understood headers (all optional; anything unparsable is ignored, never an error):
//! - `x-ratelimit-limit-requests`, `x-ratelimit-limit-tokens`, `x-ratelimit-remaining-requests`,
//!   `x-ratelimit-remaining-tokens`: non-negative integers.
//! - `x-ratelimit-reset-requests`, `x-ratelimit-reset-tokens`: Go-style durations as OpenAI sends
//!   them (`1s`, `6m0s`, `20ms`, `1m30.5s`, `2h3m`), or a plain number of seconds.
//! - `retry-after-ms`: milliseconds (sent by OpenAI and Azure; preferred when present).
//! - `retry-after`: seconds (integer or decimal) or an HTTP date (RFC 9110).
//! - Anthropic's `anthropic-ratelimit-requests-{limit,remaining,reset}` and
//!   `anthropic-ratelimit-tokens-*` (else `-input-tokens-*`, the one that binds first for most
//!   traffic), resets as RFC 3339 times.

use std::time::{Duration, SystemTime};

use engine::LimitHeaders;
use http::{HeaderMap, HeaderName};

/// Longest duration any header may ask for; larger values are clamped (a day).
pub const MAX_HEADER_DURATION: Duration = Duration::from_secs(86_400);

// The rate-limit header names, shared with the mock provider (`switchyard-mock`) that writes
// them.
/// `x-ratelimit-limit-requests`.
pub const LIMIT_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-limit-requests");
/// `x-ratelimit-limit-tokens`.
pub const LIMIT_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-limit-tokens");
/// `x-ratelimit-remaining-requests`.
pub const REMAINING_REQUESTS: HeaderName =
    HeaderName::from_static("x-ratelimit-remaining-requests");
/// `x-ratelimit-remaining-tokens`.
pub const REMAINING_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-tokens");
/// `x-ratelimit-reset-requests`.
pub const RESET_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-reset-requests");
/// `x-ratelimit-reset-tokens`.
pub const RESET_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-reset-tokens");
/// `retry-after-ms`.
pub const RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");

/// Reads the `x-ratelimit-*` headers of a response.
pub fn limit_headers(headers: &HeaderMap) -> LimitHeaders {
    let mut out = LimitHeaders::default();
    // Most answers carry none of these: skip the lookups when no name starts like one.
    let mut openai = false;
    let mut anthropic = false;
    for k in headers.keys() {
        openai |= k.as_str().starts_with("x-ratelimit-");
        anthropic |= k.as_str().starts_with("anthropic-ratelimit-");
        if openai {
            break;
        }
    }
    if !openai {
        if anthropic {
            return anthropic_limit_headers(headers, SystemTime::now());
        }
        return out;
    }
    let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    out.limit_requests = text(&LIMIT_REQUESTS).and_then(parse_count);
    out.limit_tokens = text(&LIMIT_TOKENS).and_then(parse_count);
    out.remaining_requests = text(&REMAINING_REQUESTS).and_then(parse_count);
    out.remaining_tokens = text(&REMAINING_TOKENS).and_then(parse_count);
    out.reset_requests = text(&RESET_REQUESTS).and_then(parse_reset);
    out.reset_tokens = text(&RESET_TOKENS).and_then(parse_reset);
    out
}

/// Reads Anthropic's `anthropic-ratelimit-*` headers, resets relative to `now`.
pub fn anthropic_limit_headers(headers: &HeaderMap, now: SystemTime) -> LimitHeaders {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let reset = |name: &str| {
        let at = humantime::parse_rfc3339_weak(text(name)?.trim()).ok()?;
        Some(
            at.duration_since(now)
                .unwrap_or(Duration::ZERO)
                .min(MAX_HEADER_DURATION),
        )
    };
    let tokens = if headers.contains_key("anthropic-ratelimit-tokens-remaining") {
        "anthropic-ratelimit-tokens"
    } else {
        "anthropic-ratelimit-input-tokens"
    };
    LimitHeaders {
        limit_requests: text("anthropic-ratelimit-requests-limit").and_then(parse_count),
        remaining_requests: text("anthropic-ratelimit-requests-remaining").and_then(parse_count),
        reset_requests: reset("anthropic-ratelimit-requests-reset"),
        limit_tokens: text(&format!("{tokens}-limit")).and_then(parse_count),
        remaining_tokens: text(&format!("{tokens}-remaining")).and_then(parse_count),
        reset_tokens: reset(&format!("{tokens}-reset")),
    }
}

/// Reads `retry-after-ms` or `retry-after` as a duration from `now`.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = headers
        .get(RETRY_AFTER_MS)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| parse_seconds(t, 1e-3))
    {
        return Some(ms);
    }
    let text = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(text, now)
}

/// Parses a `retry-after` value: seconds (`"30"`, `"1.5"`) or an HTTP date, relative to `now`.
/// A date in the past gives zero.
pub fn parse_retry_after(text: &str, now: SystemTime) -> Option<Duration> {
    let text = text.trim();
    if let Some(d) = parse_seconds(text, 1.0) {
        return Some(d);
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_HEADER_DURATION),
    )
}

/// Parses a non-negative integer count such as `"59"`.
pub fn parse_count(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A plain non-negative number times `unit` seconds, clamped to [`MAX_HEADER_DURATION`].
fn parse_seconds(text: &str, unit: f64) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    seconds(v * unit)
}

fn seconds(v: f64) -> Option<Duration> {
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        v.min(MAX_HEADER_DURATION.as_secs_f64()),
    ))
}

/// Parses a reset duration: a sequence of `<number><unit>` with units `h`, `m`, `s`, `ms`,
/// `us`/`µs`, `ns` (`"6m0s"`, `"1m30.5s"`, `"20ms"`), or a plain number of seconds.
/// Returns `None` for anything else. Clamped to [`MAX_HEADER_DURATION`].
pub fn parse_reset(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Some(d) = parse_seconds(text, 1.0) {
        return Some(d);
    }
    let mut rest = text;
    let mut total = 0.0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    seconds(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    fn ms(v: u64) -> Option<Duration> {
        Some(Duration::from_millis(v))
    }

    #[test]
    fn anthropic_headers_feed_the_same_limits() {
        let now = httpdate::parse_http_date("Wed, 02 Dec 2026 08:00:00 GMT").unwrap();
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", "49"),
            ("anthropic-ratelimit-requests-reset", "2026-12-02T08:00:01Z"),
            ("anthropic-ratelimit-input-tokens-limit", "40000"),
            ("anthropic-ratelimit-input-tokens-remaining", "39000"),
            (
                "anthropic-ratelimit-input-tokens-reset",
                "2026-12-02T08:00:30Z",
            ),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        let l = limit_headers(&h);
        assert_eq!(
            (l.limit_requests, l.remaining_requests),
            (Some(50), Some(49))
        );
        assert_eq!(
            (l.limit_tokens, l.remaining_tokens),
            (Some(40000), Some(39000))
        );
        let l = anthropic_limit_headers(&h, now);
        assert_eq!(l.reset_requests, ms(1000));
        assert_eq!(l.reset_tokens, ms(30_000));
        // The combined tokens window wins when it is sent.
        h.insert(
            "anthropic-ratelimit-tokens-remaining",
            HeaderValue::from_static("7"),
        );
        assert_eq!(anthropic_limit_headers(&h, now).remaining_tokens, Some(7));
        // A reset in the past is now; garbage is ignored.
        h.insert(
            "anthropic-ratelimit-requests-reset",
            HeaderValue::from_static("2020-01-01T00:00:00Z"),
        );
        assert_eq!(
            anthropic_limit_headers(&h, now).reset_requests,
            Some(Duration::ZERO)
        );
        h.insert(
            "anthropic-ratelimit-requests-reset",
            HeaderValue::from_static("soon"),
        );
        assert_eq!(anthropic_limit_headers(&h, now).reset_requests, None);
    }

    #[test]
    fn reset_forms() {
        assert_eq!(parse_reset("1s"), ms(1000));
        assert_eq!(parse_reset("6m0s"), ms(360_000));
        assert_eq!(parse_reset("20ms"), ms(20));
        assert_eq!(parse_reset("1m30.5s"), ms(90_500));
        assert_eq!(parse_reset("2h3m"), ms(7_380_000));
        assert_eq!(parse_reset("0.5s"), ms(500));
        assert_eq!(parse_reset(" 7 "), ms(7000));
        assert_eq!(
            parse_reset("1500us"),
            ms(1).map(|d| d + Duration::from_micros(500))
        );
        assert_eq!(parse_reset(""), None);
        assert_eq!(parse_reset("s"), None);
        assert_eq!(parse_reset("5x"), None);
        assert_eq!(parse_reset("1m-3s"), None);
        assert_eq!(parse_reset("1..2s"), None);
        assert_eq!(parse_reset("-1s"), None);
        assert_eq!(parse_reset("99999999h"), Some(MAX_HEADER_DURATION));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("30", now), ms(30_000));
        assert_eq!(parse_retry_after("1.5", now), ms(1500));
        assert_eq!(parse_retry_after("0", now), ms(0));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(parse_retry_after(&later, now), ms(120_000));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(120));
        assert_eq!(parse_retry_after(&earlier, now), ms(0));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn header_map_parsing() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-remaining-requests",
            HeaderValue::from_static("59"),
        );
        h.insert(
            "x-ratelimit-remaining-tokens",
            HeaderValue::from_static("149984"),
        );
        h.insert("x-ratelimit-reset-requests", HeaderValue::from_static("1s"));
        h.insert("x-ratelimit-reset-tokens", HeaderValue::from_static("6m0s"));
        h.insert("x-ratelimit-limit-requests", HeaderValue::from_static("60"));
        h.insert(
            "x-ratelimit-limit-tokens",
            HeaderValue::from_static("150000"),
        );
        h.insert("retry-after", HeaderValue::from_static("2"));
        let l = limit_headers(&h);
        assert_eq!(l.remaining_requests, Some(59));
        assert_eq!(l.remaining_tokens, Some(149_984));
        assert_eq!(l.reset_requests, ms(1000));
        assert_eq!(l.reset_tokens, ms(360_000));
        assert_eq!(
            (l.limit_requests, l.limit_tokens),
            (Some(60), Some(150_000))
        );
        assert_eq!(retry_after(&h, SystemTime::now()), ms(2000));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h, SystemTime::now()), ms(250));
        let empty = limit_headers(&HeaderMap::new());
        assert_eq!(empty, LimitHeaders::default());
        h.insert(
            "x-ratelimit-remaining-requests",
            HeaderValue::from_static("lots"),
        );
        assert_eq!(limit_headers(&h).remaining_requests, None);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,24}") {
            let _ = parse_reset(&s);
            let _ = parse_count(&s);
            let _ = parse_retry_after(&s, SystemTime::now());
        }

        #[test]
        fn reset_parsers_never_panic_on_near_misses(s in "[0-9.hmsunµ -]{0,16}") {
            if let Some(d) = parse_reset(&s) {
                prop_assert!(d <= MAX_HEADER_DURATION);
            }
        }

        #[test]
        fn go_durations_round_trip(h in 0u64..5, m in 0u64..60, s in 0u64..60, milli in 0u64..1000) {
            let text = format!("{h}h{m}m{s}.{milli:03}s");
            let want = Duration::from_millis(((h * 60 + m) * 60 + s) * 1000 + milli);
            let got = parse_reset(&text).expect("valid duration");
            let diff = got.abs_diff(want);
            prop_assert!(diff < Duration::from_micros(10), "{text}: {got:?} vs {want:?}");
        }
    }
}
