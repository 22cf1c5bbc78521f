//! Property tests of the engine's invariants, driven through the public API only.
//!
//! A small event-driven driver feeds the engine random configs (1–12 deployments over 1–3 tiers
//! with fallbacks, random weights, limits and strategies) and random arrivals and outcomes, and
//! follows every step the way a real driver must: `Send` → `finish` after the attempt's latency
//! (or `cancel`), `Wait` → `resume` at `until`. Along the way it checks, at every decision:
//!
//! * (a) every started request ends exactly once: one `Done`/`Failed` (or the driver's cancel),
//!   never a step for a request that already ended, and nothing left live at the end;
//! * (b) every `Send` goes to a deployment that was usable at that instant — not cooling down,
//!   with rate-limit headroom, breaker closed (or panic mode, which ignores only the breaker) —
//!   and follows the fallback order (untried before tried, own tier before fallback tiers, never
//!   the deployment that just failed while another is usable; a tier whose strategy declines
//!   it may be passed over, but never in favour of panic mode);
//! * (c) smooth weighted round robin gives exactly the configured shares over every full cycle;
//! * (d) same config + seed + inputs ⇒ the same steps; another seed changes `random`'s picks.

mod checks;
mod driver;
mod inputs;
mod properties;
