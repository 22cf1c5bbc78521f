//! Context-length errors: moved to the longer-context tier when the tier has a context
//! fallback, passed through byte for byte when it has none.

use http::StatusCode;
use mock::{Behaviour, MockUpstream};

use crate::common::*;
use crate::support::*;

/// What OpenAI answers for an input longer than the model's context window.
const CONTEXT_LENGTH_ERROR: &str = r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9100 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;

/// Tier `standard` = {short}, whose context fallback (when `context` is true) is `long` = {long}.
fn short_and_long(short: &MockUpstream, long: &MockUpstream, context: bool) -> String {
    format!(
        "[[tier]]\nname = \"standard\"\nstrategy = \"weighted-round-robin\"\n{}\n\n\
         [[tier]]\nname = \"long\"\n\n\
         [[route]]\nmodel = \"gpt-4o-mini\"\ntier = \"standard\"\n\n\
         [[deployment]]\nid = \"short\"\nprovider = \"mock\"\nmodel = \"gpt-4o-mini\"\ntier = \"standard\"\nbase_url = \"{}\"\n\n\
         [[deployment]]\nid = \"long\"\nprovider = \"mock\"\nmodel = \"gpt-4.1\"\ntier = \"long\"\nbase_url = \"{}\"\n",
        if context { "context_fallback = \"long\"" } else { "" },
        short.base_url(),
        long.base_url(),
    )
}

#[tokio::test]
async fn context_length_errors_move_to_the_longer_context_tier() {
    let too_long = Behaviour {
        error_body: Some(CONTEXT_LENGTH_ERROR.to_owned()),
        ..Behaviour::status(400)
    };
    let short = mock(too_long.clone()).await;
    let long = mock(Behaviour::default()).await;
    let gw = TestGateway::start(&short_and_long(&short, &long, true)).await;
    let url = gw.url("/v1/chat/completions");
    let (status, headers, body) = post(&url, chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(headers[gateway::DEPLOYMENT_HEADER], "long");
    assert_eq!(&body[..], mock::CHAT_ANSWER.as_bytes());
    assert_eq!((short.hits(), long.hits()), (1, 1));
    assert_eq!(
        long.stats().last_model.lock().unwrap().as_deref(),
        Some("gpt-4.1"),
        "the longer-context tier's model is asked"
    );

    // Any other 400 is the client's fault wherever it goes: passed through, not moved.
    short.set_behaviour(Behaviour::status(400));
    let (status, _, body) = post(&url, chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&body)["message"], "mock answer 400");
    assert_eq!((short.hits(), long.hits()), (2, 1));
}

#[tokio::test]
async fn context_length_errors_without_a_context_fallback_pass_through_as_they_are() {
    let short = mock(Behaviour {
        error_body: Some(CONTEXT_LENGTH_ERROR.to_owned()),
        ..Behaviour::status(400)
    })
    .await;
    let long = mock(Behaviour::default()).await;
    let gw = TestGateway::start(&short_and_long(&short, &long, false)).await;
    let (status, headers, body) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers[gateway::DEPLOYMENT_HEADER], "short");
    assert_eq!(&body[..], CONTEXT_LENGTH_ERROR.as_bytes(), "byte for byte");
    assert_eq!((short.hits(), long.hits()), (1, 0));
}
