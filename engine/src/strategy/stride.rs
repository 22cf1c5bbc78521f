//! Stride scheduling (Waldspurger and Weihl, 1995): weighted round robin in O(log n) per pick.
//!
//! Every member has a pass value, (turns + ½) ÷ weight, and the member with the lowest pass has
//! the next turn. Over each span of Σw turns a member of integer weight w has exactly w of them
//! (the turns whose pass lies in that span), so shares are exact over every full cycle, as with
//! nginx's smooth round robin; starting half a stride in spreads each member's turns evenly
//! through the cycle. Passes are computed from the turn count, never accumulated, so equal
//! rationals compare equal however long the schedule runs. The lowest pass is kept in a
//! tournament tree, so taking a turn costs O(log n) instead of a pass over every member (Envoy's
//! EDF scheduler rests on the same idea).

use crate::ids::DeploymentId;

/// A stride schedule over one tier's deployments.
pub struct StrideSchedule {
    members: Vec<DeploymentId>,
    /// 2 × weight per member position (0 = never scheduled).
    double_weights: Vec<f64>,
    turns: Vec<u64>,
    /// Pass per leaf; leaves past the last member stay at infinity.
    pass: Vec<f64>,
    /// Tournament tree: node 1 is the root, node i's children are 2i and 2i + 1, and the
    /// `leaves` nodes from index `leaves` on are the member positions. Each node holds the
    /// position with the lowest pass below it (ties: the lower position).
    tree: Vec<u32>,
    leaves: usize,
    /// Member position of each deployment of the config (`u32::MAX`: not a member).
    position_of: Vec<u32>,
}

impl StrideSchedule {
    /// A schedule for `members` (deployment, weight) of a config with `deployments` deployments.
    pub fn new(deployments: usize, members: &[(DeploymentId, f64)]) -> StrideSchedule {
        let leaves = members.len().next_power_of_two().max(1);
        let mut position_of = vec![u32::MAX; deployments];
        for (position, &(d, _)) in members.iter().enumerate() {
            position_of[d.index()] = position as u32;
        }
        let double_weights: Vec<f64> = members.iter().map(|&(_, w)| 2.0 * w.max(0.0)).collect();
        let mut pass = vec![f64::INFINITY; leaves];
        for (p, &w2) in double_weights.iter().enumerate() {
            pass[p] = first_pass(w2);
        }
        let mut schedule = StrideSchedule {
            members: members.iter().map(|&(d, _)| d).collect(),
            double_weights,
            turns: vec![0; members.len()],
            pass,
            tree: vec![0; 2 * leaves],
            leaves,
            position_of,
        };
        for leaf in 0..leaves {
            schedule.tree[leaves + leaf] = leaf as u32;
        }
        for node in (1..leaves).rev() {
            schedule.tree[node] =
                schedule.lower(schedule.tree[2 * node], schedule.tree[2 * node + 1]);
        }
        schedule
    }

    /// The member with the next turn among those for which `usable` holds, without taking the
    /// turn. Members passed over lose their turn (as a down peer does in nginx). Gives up with
    /// `None` after `max_skips` of them, or when no member has a positive weight.
    pub fn peek_usable(
        &mut self,
        max_skips: usize,
        mut usable: impl FnMut(DeploymentId) -> bool,
    ) -> Option<DeploymentId> {
        for _ in 0..=max_skips {
            let position = self.tree[1] as usize;
            if self.pass[position].is_infinite() {
                return None;
            }
            let d = self.members[position];
            if usable(d) {
                return Some(d);
            }
            self.advance(position);
        }
        None
    }

    /// Takes the turn of whichever of `candidates` (members of this schedule, not empty) has the
    /// lowest pass, and returns it.
    pub fn take(&mut self, candidates: &[DeploymentId]) -> DeploymentId {
        let mut best = self.position_of[candidates[0].index()];
        for &c in &candidates[1..] {
            best = self.lower(best, self.position_of[c.index()]);
        }
        self.advance(best as usize);
        self.members[best as usize]
    }

    /// The position of `a` and `b` with the lower pass (ties: the lower position).
    fn lower(&self, a: u32, b: u32) -> u32 {
        let (pa, pb) = (self.pass[a as usize], self.pass[b as usize]);
        if pb < pa || (pb == pa && b < a) {
            b
        } else {
            a
        }
    }

    fn advance(&mut self, position: usize) {
        self.turns[position] += 1;
        let w2 = self.double_weights[position];
        self.pass[position] = if w2 > 0.0 {
            (2 * self.turns[position] + 1) as f64 / w2
        } else {
            f64::INFINITY
        };
        let mut node = (self.leaves + position) / 2;
        while node >= 1 {
            self.tree[node] = self.lower(self.tree[2 * node], self.tree[2 * node + 1]);
            node /= 2;
        }
    }
}

/// Pass of a member before its first turn: half a stride.
fn first_pass(double_weight: f64) -> f64 {
    if double_weight > 0.0 {
        1.0 / double_weight
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(weights: &[f64]) -> StrideSchedule {
        let members: Vec<_> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| (DeploymentId::from_index(i), w))
            .collect();
        StrideSchedule::new(weights.len(), &members)
    }

    fn next(s: &mut StrideSchedule) -> usize {
        let d = s.peek_usable(0, |_| true).expect("a member");
        s.take(&[d]).index()
    }

    #[test]
    fn interleaves_three_two_one_like_nginx() {
        let mut s = schedule(&[3.0, 2.0, 1.0]);
        let order: Vec<usize> = (0..12).map(|_| next(&mut s)).collect();
        assert_eq!(order, vec![0, 1, 0, 2, 1, 0, 0, 1, 0, 2, 1, 0]);
    }

    #[test]
    fn exact_shares_over_every_cycle_of_a_large_tier() {
        let weights: Vec<f64> = (0..300).map(|i| f64::from(1 + i % 7)).collect();
        let cycle: usize = weights.iter().map(|&w| w as usize).sum();
        let mut s = schedule(&weights);
        for _ in 0..3 {
            let mut counts = vec![0usize; weights.len()];
            for _ in 0..cycle {
                counts[next(&mut s)] += 1;
            }
            let expected: Vec<usize> = weights.iter().map(|&w| w as usize).collect();
            assert_eq!(counts, expected);
        }
    }

    #[test]
    fn unusable_members_lose_their_turn_and_zero_weights_never_play() {
        let mut s = schedule(&[1.0, 1.0, 0.0]);
        let d = s.peek_usable(4, |d| d.index() != 0).expect("member 1");
        assert_eq!(d.index(), 1);
        s.take(&[d]);
        assert_eq!(next(&mut s), 0, "member 0 is back after its skipped turn");
        assert_eq!(s.peek_usable(4, |d| d.index() == 2), None);
        assert_eq!(schedule(&[0.0]).peek_usable(4, |_| true), None);
    }

    #[test]
    fn take_picks_the_lowest_pass_among_candidates() {
        let mut s = schedule(&[3.0, 2.0, 1.0]);
        let picked = s.take(&[DeploymentId::from_index(2), DeploymentId::from_index(1)]);
        assert_eq!(picked.index(), 1);
    }
}
