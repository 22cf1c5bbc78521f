//! Sending one attempt: the client's body in the deployment's API shape (the model name
//! rewritten, or the request translated once and rendered per shape) and the upstream request;
//! its answer awaited in place, or as an owned future when a hedged request has two out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use engine::DeploymentId;
use http_body_util::Full;

use crate::attempt::{attempt_once, AttemptResult};
use crate::clock::Clock;
use crate::life::Attempt;
use crate::live::{Live, WorkerClients};
use crate::protocol::canonical::{ChatRequest, Untranslatable};
use crate::request::{self, Endpoint, ParsedRequest};
use crate::state::Shared;
use crate::translate::{self, Plan};
use crate::upstream::{Upstream, UpstreamClient};

/// An attempt ready to go: its upstream request, and what reading its answer needs.
pub(crate) struct Launched {
    pub a: Attempt,
    pub deployment: DeploymentId,
    /// The config the deployment id refers to (its upstream lives while the attempt runs).
    pub live: Arc<Live>,
    pub plan: Plan,
    request: Option<http::Request<Full<Bytes>>>,
    client: UpstreamClient,
    stream: bool,
    deadline: Option<Instant>,
}

/// An attempt's answer as an owned future, to race it against another.
pub(crate) type Answer = Pin<Box<dyn Future<Output = AttemptResult> + Send>>;

impl Launched {
    /// The deployment the attempt goes to (an upstream of the config it was launched from).
    #[inline]
    pub fn upstream(&self) -> &Upstream {
        &self.live.upstreams[self.deployment.index()]
    }

    fn take_request(&mut self) -> http::Request<Full<Bytes>> {
        self.request.take().expect("an attempt is sent once")
    }

    /// Sends the attempt and awaits its answer in place (one attempt out: nothing allocated).
    pub async fn answer(&mut self, clock: &Clock) -> AttemptResult {
        let req = self.take_request();
        let up = &self.live.upstreams[self.deployment.index()];
        let timing = (self.a.sent, self.deadline);
        attempt_once(up, &self.client, req, self.stream, timing, clock).await
    }

    /// Sends the attempt as an owned future (a hedged request has two out at once).
    pub fn answer_owned(&mut self, gw: &Arc<Shared>) -> Answer {
        let req = self.take_request();
        let (live, client, gw) = (self.live.clone(), self.client.clone(), gw.clone());
        let (d, stream, timing) = (self.deployment, self.stream, (self.a.sent, self.deadline));
        Box::pin(async move {
            let up = &live.upstreams[d.index()];
            attempt_once(up, &client, req, stream, timing, &gw.clock).await
        })
    }
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
        Ok(Launched {
            a,
            deployment: d,
            live: live.clone(),
            plan,
            request: Some(up.request(endpoint, body, self.parsed.stream)),
            client: self.clients.get(live, d),
            stream: self.parsed.stream,
            deadline: self.deadline,
        })
    }
}
