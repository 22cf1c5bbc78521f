//! Power of two choices (Mitzenmacher, 2001): draw two distinct candidates at random and keep
//! the cheaper. Nearly as good as scanning for the minimum, without the herd that a global
//! minimum draws when every picker sees the same stale numbers.

use rand::Rng as _;

use super::Rng;
use crate::ids::DeploymentId;

/// Picks the cheaper of two distinct random candidates (ties go to the first drawn).
pub(crate) fn pick_cheaper(
    candidates: &[DeploymentId],
    rng: &mut Rng,
    mut cost: impl FnMut(DeploymentId) -> f64,
) -> DeploymentId {
    let n = candidates.len();
    if n == 1 {
        return candidates[0];
    }
    let i = rng.random_range(0..n);
    let mut j = rng.random_range(0..n - 1);
    if j >= i {
        j += 1;
    }
    let (a, b) = (candidates[i], candidates[j]);
    if cost(b) < cost(a) {
        b
    } else {
        a
    }
}
