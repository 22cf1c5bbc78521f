//! What the loop keeps per request: the request itself and up to two attempts out at providers
//! at once (the one in flight and, when its tier hedges, a hedge beside it).

use std::time::Duration;

use engine::{ClientId, Outcome, RequestId, TierId};

use super::Arrival;

/// Where an attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No attempt in this lane.
    Idle,
    /// Waiting for a place at a provider that serves a limited number at once.
    Queued,
    /// Its answer (`Flight::pending`) is scheduled.
    Pending,
}

/// One attempt out at a provider. Events name it by `token`, unique over the run, so an event
/// for an attempt that was cancelled or replaced finds no lane and is dropped.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flight {
    pub token: u64,
    pub phase: Phase,
    pub deployment: u32,
    /// The engine's attempt number (hedges are numbered like any other attempt).
    pub attempt: u8,
    pub sent_at: Duration,
    pub pending: Option<Outcome>,
    /// Input tokens read from the deployment's prompt cache (set when service starts).
    pub cached: u32,
}

impl Flight {
    const IDLE: Flight = Flight {
        token: 0,
        phase: Phase::Idle,
        deployment: 0,
        attempt: 0,
        sent_at: Duration::ZERO,
        pending: None,
        cached: 0,
    };
}

/// A request between its arrival and its end.
#[derive(Debug, Clone, Copy)]
pub(super) struct SimRequest {
    pub live: bool,
    pub id: Option<RequestId>,
    pub uid: u64,
    /// The request as it arrived (`a.at`: when).
    pub a: Arrival,
    pub client: Option<ClientId>,
    /// Token of the scheduled `Resume` while the engine has the request wait.
    pub wait_token: u64,
    /// Attempts sent so far (the highest attempt number).
    pub attempts: u8,
    /// Attempts out at providers: at most two, in any order.
    pub lanes: [Flight; 2],
}

impl SimRequest {
    /// An empty slot.
    pub fn empty(tier: TierId) -> SimRequest {
        SimRequest {
            live: false,
            id: None,
            uid: 0,
            a: Arrival {
                at: Duration::ZERO,
                model: 0,
                tier,
                input_tokens: 0,
                output_tokens: 0,
                estimated_output: 0,
                stream: true,
                session: None,
            },
            client: None,
            wait_token: 0,
            attempts: 0,
            lanes: [Flight::IDLE; 2],
        }
    }

    /// Request `uid` that just arrived as `a`.
    pub fn arrived(a: Arrival, id: RequestId, uid: u64, client: Option<ClientId>) -> SimRequest {
        SimRequest {
            live: true,
            id: Some(id),
            uid,
            a,
            client,
            wait_token: 0,
            attempts: 0,
            lanes: [Flight::IDLE; 2],
        }
    }

    /// The lane of the attempt events call `token`, while the request lives and it is out.
    pub fn lane_of(&self, token: u64) -> Option<usize> {
        if !self.live || token == 0 {
            return None;
        }
        self.lanes
            .iter()
            .position(|f| f.token == token && f.phase != Phase::Idle)
    }

    /// The lane of attempt number `attempt`, if it is out.
    pub fn lane_of_attempt(&self, attempt: u8) -> Option<usize> {
        self.lanes
            .iter()
            .position(|f| f.attempt == attempt && f.phase != Phase::Idle)
    }

    /// A lane with no attempt in it (the engine never has more than two out).
    pub fn free_lane(&self) -> usize {
        self.lanes
            .iter()
            .position(|f| f.phase == Phase::Idle)
            .unwrap_or(0)
    }

    /// Empties a lane: events for its attempt are dropped from now on.
    pub fn clear(&mut self, lane: usize) {
        self.lanes[lane] = Flight::IDLE;
    }
}
