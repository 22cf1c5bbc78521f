//! Session affinity and prompt-cache accounting: a request with a session key goes back to the
//! deployment that served its session last while that one is usable (no cooldown, breaker
//! closed, not disabled, the request fits its limits) and keeps `[affinity] min_headroom` of
//! its tightest limit to spare; otherwise the tier's strategy places it as usual. Only a first
//! attempt is sticky: a retry never returns to the deployment that just failed because of it.

use std::time::Duration;

use super::Engine;
use crate::affinity::AffinityStats;
use crate::ids::{DeploymentId, RequestId};
use crate::step::{Request, Step};

impl Engine {
    /// [`Engine::start`] for a request of session `session` (an opaque hash of whatever names
    /// the conversation: a header, an OpenAI `user` or `prompt_cache_key`, an Anthropic
    /// `metadata.user_id`). With `[affinity] sessions = 0` the key is ignored.
    pub fn start_in_session(&mut self, request: Request, session: u64, now: Duration) -> Step {
        self.begin(request, Some(session), None, now)
    }

    /// Reports that the provider read `tokens` of the attempt in flight's input from its prompt
    /// cache (OpenAI `usage.prompt_tokens_details.cached_tokens`, Anthropic
    /// `cache_read_input_tokens`), before [`Engine::finish`]: a success is then priced with the
    /// deployment's `cached_input_price` for those tokens. Ignored for a request with no
    /// attempt in flight.
    pub fn cache_read(&mut self, id: RequestId, tokens: u32) {
        let Some(slot) = self.try_slot_index(id) else {
            return;
        };
        if let Some(flight) = self.slots[slot].current.as_mut() {
            flight.cached_input = tokens;
        }
    }

    /// Counters of the session table: sticky picks, strategy picks of requests with a session
    /// key, evictions.
    pub fn affinity_stats(&self) -> AffinityStats {
        self.affinity.stats
    }

    /// The deployment a first attempt of a session goes back to, if any.
    pub(super) fn sticky(&mut self, slot: usize, now: Duration) -> Option<DeploymentId> {
        let s = &self.slots[slot];
        let key = s
            .session
            .filter(|_| s.attempts == 0 && self.affinity.enabled())?;
        let found = self.affinity.get(key, now).filter(|&d| {
            let Some(deployment) = self.config.deployments.get(d.index()) else {
                return false;
            };
            let state = &self.states[d.index()];
            let (now_secs, tokens) = (now.as_secs_f64(), s.request.estimated_tokens() as f64);
            deployment.tier == s.tier
                && state.check_at(now, now_secs, tokens).is_ok()
                && state.headroom_after_at(now_secs, tokens) >= self.config.affinity.min_headroom
        });
        match found {
            Some(_) => self.affinity.stats.hits += 1,
            None => self.affinity.stats.misses += 1,
        }
        found
    }

    /// Remembers that `d` served the request's session, if it has one.
    pub(super) fn remember_session(&mut self, slot: usize, d: DeploymentId, now: Duration) {
        if let Some(key) = self.slots[slot].session {
            if !self.is_retired(d) {
                self.affinity.put(key, d, now);
            }
        }
    }
}
