//! Admission of a `[[client]]`'s request: its tier and its own limits and budgets checked
//! before any deployment is picked, its highest possible price reserved (see
//! [`crate::clients`]).

use std::time::Duration;

use super::{ClientCharge, Engine};
use crate::clients::{ClientRefusal, ClientState};
use crate::ids::ClientId;
use crate::step::{Request, Step};

impl Engine {
    /// [`Engine::start`] for a request of `client` (a `[[client]]` of the config): refused
    /// before any deployment is picked if the client may not use the tier or is over one of
    /// its own limits or budgets (then nothing is counted anywhere and no request starts).
    /// Admitted, the request counts against the client's limits (its estimated tokens against
    /// `tpm`) and reserves its highest possible price against the budgets until it ends; a
    /// success is then priced with its real usage (see [`crate::clients`] for the bound).
    pub fn start_for(
        &mut self,
        client: ClientId,
        request: Request,
        now: Duration,
    ) -> Result<Step, ClientRefusal> {
        self.begin_for(client, request, None, now)
    }

    /// [`Engine::start_for`] with a session key, as [`Engine::start_in_session`]: sticky within
    /// the client's own sessions (the key is mixed with the client, so two clients' sessions
    /// with the same key never share a deployment by accident).
    pub fn start_for_in_session(
        &mut self,
        client: ClientId,
        request: Request,
        session: u64,
        now: Duration,
    ) -> Result<Step, ClientRefusal> {
        self.start_for_optional_session(client, request, Some(session), now)
    }

    /// [`Engine::start_for_in_session`] when `session` is given, else [`Engine::start_for`]:
    /// for drivers whose requests may or may not carry a session key.
    pub fn start_for_optional_session(
        &mut self,
        client: ClientId,
        request: Request,
        session: Option<u64>,
        now: Duration,
    ) -> Result<Step, ClientRefusal> {
        let salt = (client.index() as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.begin_for(client, request, session.map(|s| s ^ salt), now)
    }

    fn begin_for(
        &mut self,
        client: ClientId,
        request: Request,
        session: Option<u64>,
        now: Duration,
    ) -> Result<Step, ClientRefusal> {
        let state = &mut self.clients[client.index()];
        if !self.config.clients[client.index()].allows(request.tier) {
            state.refuse(ClientRefusal::TierNotAllowed);
            return Err(ClientRefusal::TierNotAllowed);
        }
        let reserved = crate::spend::nanos(
            &self.dearest[request.tier.index()],
            u64::from(request.input_tokens),
            u64::from(request.output_tokens),
        );
        state.admit(now, request.estimated_tokens(), reserved)?;
        let charge = ClientCharge {
            client,
            reserved,
            at: now,
        };
        Ok(self.begin(request, session, Some(charge), now))
    }

    /// Counters of every client, indexed by [`ClientId`].
    pub fn client_states(&self) -> &[ClientState] {
        &self.clients
    }
}
