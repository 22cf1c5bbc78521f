//! Multi-turn sessions and providers' prompt caches, the world model behind session affinity.
//!
//! **Sessions** (`[workload] sessions = { active = 40, turns = 12 }`): arrivals are spread over
//! `active` conversations at a time, each picked uniformly, so a session's turns arrive about
//! `active ÷ rate` apart. A turn's prompt is the session's whole history — every earlier prompt
//! and answer — plus a new message drawn from `input_tokens`: the prompt prefix grows turn by
//! turn, as in a multi-turn agent. After `turns` turns the conversation ends and a new one
//! takes its place.
//!
//! **Prompt caches** (`[[world.provider]] prompt_cache = { ttl = "5m", ttft_saving = 0.8 }`):
//! each deployment (key, region) of the provider caches the prompts it served, per session,
//! for `ttl` after their last use. A prompt that starts with a cached one reads that prefix
//! from the cache: those input tokens are billed at the deployment's `cached_input_price` and
//! its time to first token shrinks by `ttft_saving` × the cached share of the prompt. Another
//! deployment of the same provider has its own, cold cache.

use std::collections::HashMap;
use std::time::Duration;

use rand::Rng as _;

use crate::Rng;

/// How arrivals form sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSpec {
    /// Conversations going on at once.
    pub active: u32,
    /// Turns per conversation.
    pub turns: u32,
}

#[derive(Debug, Clone, Copy)]
struct Session {
    id: u64,
    turn: u32,
    /// Tokens of the history: the last prompt and its answer.
    history: u32,
}

/// The conversations going on, for one run.
#[derive(Debug, Clone)]
pub struct SessionPool {
    spec: SessionSpec,
    sessions: Vec<Session>,
    next_id: u64,
}

impl SessionPool {
    /// `spec.active` fresh conversations.
    pub fn new(spec: SessionSpec) -> SessionPool {
        let sessions = (1..=u64::from(spec.active))
            .map(|id| Session {
                id,
                turn: 0,
                history: 0,
            })
            .collect();
        SessionPool {
            spec,
            sessions,
            next_id: u64::from(spec.active) + 1,
        }
    }

    /// The next turn of a random conversation with a new message of `message` tokens and an
    /// answer of `output` tokens: (session key, prompt tokens = history + message).
    pub fn next_turn(&mut self, rng: &mut Rng, message: u32, output: u32) -> (u64, u32) {
        let i = rng.random_range(0..self.sessions.len());
        let s = &mut self.sessions[i];
        let prompt = s.history.saturating_add(message);
        let id = s.id;
        s.turn += 1;
        s.history = prompt.saturating_add(output);
        if s.turn >= self.spec.turns {
            *s = Session {
                id: self.next_id,
                turn: 0,
                history: 0,
            };
            self.next_id += 1;
        }
        (id, prompt)
    }
}

/// A provider's prompt cache behaviour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PromptCache {
    /// A cached prompt is dropped this long after its last use.
    pub ttl: Duration,
    /// Fraction of the time to first token saved when the whole prompt is cached.
    pub ttft_saving: f64,
}

/// Every deployment's cached prompts: per deployment, session → (prompt tokens, expiry).
#[derive(Debug, Clone, Default)]
pub struct PromptCaches {
    caches: Vec<HashMap<u64, (u32, Duration)>>,
}

impl PromptCaches {
    /// Empty caches for `deployments` deployments.
    pub fn new(deployments: usize) -> PromptCaches {
        PromptCaches {
            caches: vec![HashMap::new(); deployments],
        }
    }

    /// Deployment `d` (whose provider caches with `cache`) processes a prompt of `prompt`
    /// tokens of `session` at `now`: returns how many of them it read from its cache, and
    /// caches the prompt for the session's next turn.
    pub fn serve(
        &mut self,
        d: usize,
        cache: &PromptCache,
        session: u64,
        prompt: u32,
        now: Duration,
    ) -> u32 {
        let Some(entries) = self.caches.get_mut(d) else {
            return 0;
        };
        let cached = match entries.get(&session) {
            Some(&(tokens, expires)) if now < expires => tokens.min(prompt),
            _ => 0,
        };
        entries.insert(session, (prompt, now.saturating_add(cache.ttl)));
        if entries.len() > 4096 {
            // Keep memory bounded in long runs: drop whatever has expired.
            entries.retain(|_, &mut (_, expires)| now < expires);
        }
        cached
    }
}

/// Prompt-cache totals of one run, over successful attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CacheStats {
    /// Input tokens of successful attempts.
    pub input_tokens: u64,
    /// Of which read from a prompt cache.
    pub cached_input_tokens: u64,
    /// Successful attempts that read anything from a cache.
    pub hits: u64,
    /// Successful attempts.
    pub attempts: u64,
}

impl CacheStats {
    /// Share of input tokens read from a cache (0 with no input).
    pub fn hit_share(&self) -> f64 {
        if self.input_tokens == 0 {
            0.0
        } else {
            self.cached_input_tokens as f64 / self.input_tokens as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn prompts_grow_by_history_and_sessions_end_after_their_turns() {
        let mut pool = SessionPool::new(SessionSpec {
            active: 1,
            turns: 3,
        });
        let mut rng = Rng::seed_from_u64(1);
        assert_eq!(pool.next_turn(&mut rng, 100, 50), (1, 100));
        assert_eq!(pool.next_turn(&mut rng, 100, 50), (1, 250));
        assert_eq!(pool.next_turn(&mut rng, 100, 50), (1, 400));
        assert_eq!(
            pool.next_turn(&mut rng, 70, 50),
            (2, 70),
            "a new conversation"
        );
    }

    #[test]
    fn a_cache_serves_the_prefix_on_its_own_deployment_until_the_ttl() {
        let cache = PromptCache {
            ttl: Duration::from_secs(300),
            ttft_saving: 0.8,
        };
        let mut c = PromptCaches::new(2);
        let t = Duration::from_secs(10);
        assert_eq!(c.serve(0, &cache, 7, 1000, t), 0, "cold");
        assert_eq!(
            c.serve(0, &cache, 7, 1500, t + t),
            1000,
            "the first prompt is a prefix"
        );
        assert_eq!(
            c.serve(1, &cache, 7, 2000, t + t),
            0,
            "another deployment is cold"
        );
        assert_eq!(c.serve(0, &cache, 7, 2500, Duration::from_secs(300)), 1500);
        assert_eq!(
            c.serve(0, &cache, 7, 3000, Duration::from_secs(701)),
            0,
            "expired"
        );
    }
}
