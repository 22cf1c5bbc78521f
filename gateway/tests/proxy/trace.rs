//! The trace CSV (`Settings::trace_out`): one row per attempt, with its columns.

use gateway::Settings;
use http::StatusCode;
use mock::Behaviour;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn trace_has_one_row_per_attempt() {
    let dir = std::env::temp_dir().join(format!("switchyard-gw-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trace.csv");
    let limited = mock(Behaviour::rate_limited("30")).await;
    let ok = mock(Behaviour::default()).await;
    let toml = config(
        &[
            Dep::plain("limited", limited.base_url()),
            Dep::plain("ok", ok.base_url()),
        ],
        "",
    );
    let settings = Settings {
        trace_out: Some(path.clone()),
        ..Settings::default()
    };
    let mut gw = TestGateway::start_with(&toml, settings, |_| None).await;
    for _ in 0..3 {
        let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK);
    }
    gw.stop().await;
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(gateway::trace::HEADER));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert_eq!(
        &rows[0][1..9],
        [
            "1",
            "1",
            "gpt-4o-mini",
            "standard",
            "limited",
            "rate_limited",
            "429",
            "3"
        ]
    );
    assert_eq!(
        &rows[1][1..10],
        [
            "1",
            "2",
            "gpt-4o-mini",
            "standard",
            "ok",
            "ok",
            "200",
            "9",
            "7"
        ]
    );
    assert_eq!(
        &rows[2][1..7],
        ["2", "1", "gpt-4o-mini", "standard", "ok", "ok"]
    );
    // The 429's head is its first byte; every row has one here.
    assert!(rows.iter().all(|r| r[11].parse::<f64>().is_ok()), "{text}");
    // The 429 carried `retry-after: 30`: the cooldown it set, in ms; no other row has one.
    assert_eq!(rows[0][20], "30000.000", "{text}");
    assert!(rows[1..].iter().all(|r| r[20].is_empty()), "{text}");
    for r in &rows {
        assert_eq!(r.len(), 21, "{text}");
        // Not streamed, no client key.
        assert_eq!(&r[12..14], ["false", ""], "{text}");
        let t: f64 = r[0].parse().unwrap();
        let latency: f64 = r[10].parse().unwrap();
        assert!(t >= 0.0 && latency >= 0.0);
    }
    std::fs::remove_dir_all(&dir).ok();
}
