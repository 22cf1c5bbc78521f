//! Sending one attempt: the client's body in the deployment's API shape (the model name
//! rewritten, or the request translated once and rendered per shape), the upstream request, and
//! the attempt's future — owned, so that a hedged request can have two out at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use engine::DeploymentId;

use crate::attempt::{attempt_once, AttemptResult};
use crate::life::Attempt;
use crate::live::{Live, WorkerClients};
use crate::protocol::canonical::{ChatRequest, Untranslatable};
use crate::request::{self, Endpoint, ParsedRequest};
use crate::state::Shared;
use crate::translate::{self, Plan};

/// An attempt on its way: the future of its answer and what reading that answer needs.
pub(crate) struct Launched {
    pub a: Attempt,
    pub deployment: DeploymentId,
    /// The config the deployment id refers to (its upstream lives while the attempt runs).
    pub live: Arc<Live>,
    pub plan: Plan,
    pub answer: Pin<Box<dyn Future<Output = AttemptResult> + Send>>,
}

/// An attempt that cannot be sent: the client's request has no equivalent in the deployment's
/// API shape. The proxy answers 400 (or, for a hedge, reports it and keeps the other attempt).
pub(crate) struct Unsendable {
    pub a: Attempt,
    pub deployment_id: Arc<str>,
    pub why: String,
}

/// Builds attempts of one client request: its body, parsed fields and the translation cache.
pub(crate) struct Sender<'a> {
    pub gw: &'a Arc<Shared>,
    pub clients: &'a WorkerClients,
    pub endpoint: Endpoint,
    pub parsed: &'a ParsedRequest,
    pub body: &'a Bytes,
    pub deadline: Option<Instant>,
    /// The client's request in the shape-neutral form, parsed on the first translation.
    pub canonical: Option<Result<ChatRequest, Untranslatable>>,
}

impl Sender<'_> {
    /// Sends attempt `number` to deployment `d` of `live`.
    pub fn launch(
        &mut self,
        live: &Arc<Live>,
        d: DeploymentId,
        number: u8,
    ) -> Result<Launched, Unsendable> {
        let up = &live.upstreams[d.index()];
        let sent = Instant::now();
        let a = Attempt {
            name: live.deployment_names[d.index()].clone(),
            number,
            sent,
            sent_at: self.gw.clock.since(sent),
        };
        let unsendable = |a: Attempt, why: String| Unsendable {
            a,
            deployment_id: Arc::from(up.id.as_str()),
            why,
        };
        let plan = translate::plan(self.endpoint, up.api);
        let (endpoint, body) = match plan {
            Plan::Passthrough => (
                self.endpoint,
                request::rewrite_model(self.body, self.parsed.model_span, &up.model_json),
            ),
            Plan::Translate { from, to } => {
                let body = self.body;
                let canonical = self
                    .canonical
                    .get_or_insert_with(|| from.parse_request(body));
                match canonical
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|c| to.render_request(c, &up.model))
                {
                    Ok(b) => (to.endpoint(), Bytes::from(b)),
                    Err(u) => return Err(unsendable(a, u.to_string())),
                }
            }
            Plan::Refuse => {
                let why = format!(
                    "{} has no equivalent at an Anthropic deployment",
                    self.endpoint.suffix()
                );
                return Err(unsendable(a, why));
            }
        };
        let req = up.request(endpoint, body, self.parsed.stream);
        let client = self.clients.get(live, d);
        let (owned, stream, deadline) = (live.clone(), self.parsed.stream, self.deadline);
        let gw = self.gw.clone();
        let answer = Box::pin(async move {
            let up = &owned.upstreams[d.index()];
            attempt_once(up, &client, req, stream, (sent, deadline), &gw.clock).await
        });
        Ok(Launched {
            a,
            deployment: d,
            live: live.clone(),
            plan,
            answer,
        })
    }
}
