//! Rate-limit headers as each provider writes them: OpenAI's `x-ratelimit-*` counts with
//! Go-style reset durations (`1s`, `6m0s`, `250ms`) and `retry-after` / `retry-after-ms` on a
//! 429; Anthropic's `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}` with resets
//! as RFC 3339 UTC times, and `retry-after` alone.

use std::time::{Duration, SystemTime};

use engine::config::Api;
use engine::LimitHeaders;
use http::{HeaderMap, HeaderValue};

use gateway::headers::{
    LIMIT_REQUESTS, LIMIT_TOKENS, REMAINING_REQUESTS, REMAINING_TOKENS, RESET_REQUESTS,
    RESET_TOKENS, RETRY_AFTER_MS,
};

/// Formats a duration the way OpenAI's `x-ratelimit-reset-*` headers do (Go's
/// `time.Duration.String`, at millisecond precision): `250ms`, `1s`, `8.64s`, `6m0s`, `1h2m3s`.
pub fn go_duration(d: Duration) -> String {
    let ms = (d.as_secs_f64() * 1000.0).round();
    if !ms.is_finite() || ms <= 0.0 {
        return "0s".to_owned();
    }
    // Beyond u64 milliseconds nothing is meaningful; saturate.
    let ms = if ms >= u64::MAX as f64 {
        u64::MAX
    } else {
        ms as u64
    };
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, frac) = (rest / 1000, rest % 1000);
    let seconds = if frac == 0 {
        format!("{s}s")
    } else {
        let f = format!("{frac:03}");
        format!("{s}.{}s", f.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{seconds}")
    } else if m > 0 {
        format!("{m}m{seconds}")
    } else {
        seconds
    }
}

/// Writes the `x-ratelimit-*` headers present in `h`.
pub fn insert_limit_headers(map: &mut HeaderMap, h: &LimitHeaders) {
    let counts = [
        (LIMIT_REQUESTS, h.limit_requests),
        (LIMIT_TOKENS, h.limit_tokens),
        (REMAINING_REQUESTS, h.remaining_requests),
        (REMAINING_TOKENS, h.remaining_tokens),
    ];
    for (name, v) in counts {
        if let Some(v) = v {
            map.insert(name, HeaderValue::from(v));
        }
    }
    for (name, v) in [
        (RESET_REQUESTS, h.reset_requests),
        (RESET_TOKENS, h.reset_tokens),
    ] {
        if let Some(v) = v.and_then(|d| HeaderValue::from_str(&go_duration(d)).ok()) {
            map.insert(name, v);
        }
    }
}

/// Writes Anthropic's `anthropic-ratelimit-requests-{limit,remaining,reset}` and
/// `anthropic-ratelimit-tokens-{limit,remaining,reset}` present in `h`; a reset is the RFC 3339
/// UTC time `now` + the reset duration, at millisecond precision (`2026-12-02T09:00:01.250Z`).
pub fn insert_anthropic_limit_headers(map: &mut HeaderMap, h: &LimitHeaders, now: SystemTime) {
    let counts = [
        ("anthropic-ratelimit-requests-limit", h.limit_requests),
        (
            "anthropic-ratelimit-requests-remaining",
            h.remaining_requests,
        ),
        ("anthropic-ratelimit-tokens-limit", h.limit_tokens),
        ("anthropic-ratelimit-tokens-remaining", h.remaining_tokens),
    ];
    for (name, v) in counts {
        if let Some(v) = v {
            map.insert(name, HeaderValue::from(v));
        }
    }
    for (name, v) in [
        ("anthropic-ratelimit-requests-reset", h.reset_requests),
        ("anthropic-ratelimit-tokens-reset", h.reset_tokens),
    ] {
        let at = v.and_then(|d| now.checked_add(d));
        let value = at.and_then(|at| {
            HeaderValue::from_str(&humantime::format_rfc3339_millis(at).to_string()).ok()
        });
        if let Some(value) = value {
            map.insert(name, value);
        }
    }
}

/// Writes the rate-limit headers of `h` in `api`'s names and forms (resets from `now`).
pub fn insert_limits(map: &mut HeaderMap, api: Api, h: &LimitHeaders, now: SystemTime) {
    match api {
        Api::OpenAi => insert_limit_headers(map, h),
        Api::Anthropic => insert_anthropic_limit_headers(map, h, now),
    }
}

/// Writes a 429's retry headers as `api` does: OpenAI's `retry-after` and `retry-after-ms`
/// ([`insert_retry_after`]), Anthropic's `retry-after` (whole seconds, rounded up) alone.
pub fn insert_retry(map: &mut HeaderMap, api: Api, after: Duration) {
    insert_retry_after(map, after);
    if api == Api::Anthropic {
        map.remove(RETRY_AFTER_MS);
    }
}

/// Writes `retry-after` (whole seconds, rounded up, as RFC 9110 wants) and `retry-after-ms`
/// (milliseconds, rounded up, at least 1), which OpenAI also sends and the gateway prefers.
pub fn insert_retry_after(map: &mut HeaderMap, after: Duration) {
    let secs = after.as_secs_f64();
    let whole = secs.ceil().min(u32::MAX as f64) as u64;
    let ms = (secs * 1000.0).ceil().clamp(1.0, u32::MAX as f64) as u64;
    map.insert(http::header::RETRY_AFTER, HeaderValue::from(whole));
    map.insert(RETRY_AFTER_MS, HeaderValue::from(ms));
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway::headers::{anthropic_limit_headers, limit_headers, parse_reset, retry_after};

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn go_forms() {
        assert_eq!(go_duration(ms(0)), "0s");
        assert_eq!(go_duration(ms(250)), "250ms");
        assert_eq!(go_duration(ms(1000)), "1s");
        assert_eq!(go_duration(ms(8640)), "8.64s");
        assert_eq!(go_duration(ms(360_000)), "6m0s");
        assert_eq!(go_duration(ms(90_500)), "1m30.5s");
        assert_eq!(go_duration(ms(3_723_000)), "1h2m3s");
        assert_eq!(go_duration(Duration::from_micros(400)), "0s");
        assert_eq!(go_duration(Duration::from_micros(600)), "1ms");
    }

    #[test]
    fn the_gateway_reads_what_the_mock_writes() {
        for v in [
            1u64, 250, 999, 1000, 1500, 59_999, 60_000, 360_000, 3_723_456,
        ] {
            assert_eq!(parse_reset(&go_duration(ms(v))), Some(ms(v)), "{v} ms");
        }
        let h = LimitHeaders {
            limit_requests: Some(60),
            limit_tokens: Some(150_000),
            remaining_requests: Some(59),
            remaining_tokens: None,
            reset_requests: Some(ms(1000)),
            reset_tokens: None,
        };
        let mut map = HeaderMap::new();
        insert_limit_headers(&mut map, &h);
        assert_eq!(limit_headers(&map), h);
        insert_retry_after(&mut map, ms(1250));
        assert_eq!(map["retry-after"], "2");
        assert_eq!(map["retry-after-ms"], "1250");
        assert_eq!(
            retry_after(&map, std::time::SystemTime::now()),
            Some(ms(1250))
        );
    }

    #[test]
    fn the_gateway_reads_what_the_anthropic_mock_writes() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let h = LimitHeaders {
            limit_requests: Some(50),
            limit_tokens: Some(40_000),
            remaining_requests: Some(49),
            remaining_tokens: Some(39_000),
            reset_requests: Some(ms(1200)),
            reset_tokens: Some(ms(60_000)),
        };
        let mut map = HeaderMap::new();
        insert_limits(&mut map, Api::Anthropic, &h, now);
        assert_eq!(map["anthropic-ratelimit-requests-limit"], "50");
        assert_eq!(map["anthropic-ratelimit-tokens-remaining"], "39000");
        assert_eq!(
            map["anthropic-ratelimit-requests-reset"],
            "2027-01-15T08:00:01.200Z"
        );
        assert!(!map.keys().any(|k| k.as_str().starts_with("x-ratelimit-")));
        assert_eq!(anthropic_limit_headers(&map, now), h);
        assert_eq!(limit_headers(&map).remaining_requests, Some(49));
        insert_retry(&mut map, Api::Anthropic, ms(1250));
        assert_eq!(map["retry-after"], "2");
        assert!(map.get("retry-after-ms").is_none());
    }
}
