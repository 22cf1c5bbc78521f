//! The engine's per-request records: the slab's slots, the attempts they have on the wire, a
//! client's reservation, and the passes a selection makes over a tier.

use std::time::Duration;

use crate::config::MAX_ATTEMPTS_LIMIT;
use crate::ids::{ClientId, DeploymentId, TierId};
use crate::outcome::FailureKind;
use crate::step::Request;

/// One attempt on the wire.
#[derive(Debug, Clone, Copy)]
pub(super) struct InFlight {
    pub(super) deployment: DeploymentId,
    pub(super) sent_at: Duration,
    pub(super) charged_tokens: u64,
    pub(super) probe: bool,
    pub(super) first_byte: bool,
    /// Input tokens the provider read from its prompt cache ([`Engine::cache_read`]).
    pub(super) cached_input: u32,
    /// The attempt's number (1-based), as its `Send` step said.
    pub(super) attempt: u8,
}

/// A client's request: its reservation against the client's budgets (see [`crate::clients`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct ClientCharge {
    pub(super) client: ClientId,
    /// Nano-dollars reserved at admission.
    pub(super) reserved: u64,
    /// When it was admitted (where the reservation is counted).
    pub(super) at: Duration,
}

/// Per-request bookkeeping, kept in a reusable slab.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub(super) generation: u32,
    pub(super) live: bool,
    pub(super) request: Request,
    /// The tier whose chain is being tried: the routed tier, or the context fallback the
    /// request moved to after a context-length error.
    pub(super) tier: TierId,
    pub(super) started: Duration,
    /// When the request fails with [`FailReason::Deadline`] (`Duration::MAX`: never).
    pub(super) deadline: Duration,
    /// Time spent in `Wait` steps so far (the budget `max_wait` bounds).
    pub(super) waited: Duration,
    /// When the current `Wait` step began, if the request is waiting.
    pub(super) waiting_since: Option<Duration>,
    pub(super) attempts: u8,
    pub(super) tried: [DeploymentId; MAX_ATTEMPTS_LIMIT],
    pub(super) tried_len: u8,
    pub(super) last_failed: Option<DeploymentId>,
    pub(super) last_failure: Option<FailureKind>,
    pub(super) backoff_until: Duration,
    pub(super) fell_back: bool,
    pub(super) current: Option<InFlight>,
    /// Its tier vanished in a reload: the attempt in flight may still succeed, but the request
    /// fails at its next decision and counts in no tier.
    pub(super) orphaned: bool,
    /// The request's session key ([`Engine::start_in_session`]), if any.
    pub(super) session: Option<u64>,
    /// A hedged attempt in flight beside `current` ([`Engine::hedge`]).
    pub(super) hedge: Option<InFlight>,
    /// Hedges sent for this request.
    pub(super) hedges: u8,
    /// How long the request's first attempt had been out when a hedge that won was sent: the
    /// winner's time to first token plus this is the request's, which the tier's quantile
    /// learns (not the winner's own, which would leave out exactly the slow tail).
    pub(super) hedge_lead: Duration,
    /// The `[[client]]` that sent it, until its reservation is settled.
    pub(super) client: Option<ClientCharge>,
}

impl Slot {
    #[inline]
    pub(super) fn empty() -> Slot {
        Slot {
            generation: 0,
            live: false,
            request: Request {
                tier: TierId::from_index(0),
                input_tokens: 0,
                output_tokens: 0,
            },
            tier: TierId::from_index(0),
            started: Duration::ZERO,
            deadline: Duration::MAX,
            waited: Duration::ZERO,
            waiting_since: None,
            attempts: 0,
            tried: [DeploymentId::from_index(0); MAX_ATTEMPTS_LIMIT],
            tried_len: 0,
            last_failed: None,
            last_failure: None,
            backoff_until: Duration::ZERO,
            fell_back: false,
            current: None,
            orphaned: false,
            session: None,
            hedge: None,
            hedges: 0,
            hedge_lead: Duration::ZERO,
            client: None,
        }
    }

    #[inline]
    pub(super) fn has_tried(&self, d: DeploymentId) -> bool {
        self.tried[..usize::from(self.tried_len)].contains(&d)
    }

    /// Records that an attempt on `d` failed with `kind`: `d` counts as tried and as the last
    /// failed deployment (never picked again while another is usable).
    pub(super) fn failed_on(&mut self, d: DeploymentId, kind: FailureKind) {
        if !self.has_tried(d) {
            self.tried[usize::from(self.tried_len)] = d;
            self.tried_len += 1;
        }
        self.last_failed = Some(d);
        self.last_failure = Some(kind);
    }
}

/// Which deployments a selection pass considers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Pass {
    /// Not yet tried by this request.
    Fresh,
    /// Tried before, backoff over, but not the one that just failed.
    Tried,
    /// The one that just failed, backoff over.
    LastFailed,
    /// Anything blocked only by its circuit breaker.
    Panic,
}
