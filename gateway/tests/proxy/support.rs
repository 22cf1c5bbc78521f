//! Helper shared by the proxy tests: starting a mock upstream.

use mock::{Behaviour, MockUpstream};

pub(crate) async fn mock(b: Behaviour) -> MockUpstream {
    MockUpstream::start(b).await.expect("mock starts")
}
