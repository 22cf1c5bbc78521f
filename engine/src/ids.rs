//! Small copyable handles into the engine's tables.

/// Index of a deployment in [`crate::Config::deployments`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeploymentId(u32);

/// Index of a tier in [`crate::Config::tiers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TierId(u32);

/// Index of a client in [`crate::Config::clients`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(u32);

macro_rules! index_id {
    ($t:ty) => {
        impl $t {
            /// The handle for a table index.
            pub fn from_index(index: usize) -> Self {
                Self(u32::try_from(index).expect("fewer than 2^32 entries"))
            }
            /// The table index behind the handle.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}
index_id!(DeploymentId);
index_id!(TierId);
index_id!(ClientId);

/// A request in flight through the engine; stale handles are detected, never misapplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

impl RequestId {
    /// A dense number for the request, reused after the request ends (for drivers' tables).
    pub fn slot(self) -> usize {
        self.slot as usize
    }

    /// For a driver running `of` engines side by side (a simulated fleet): the handle issued
    /// by engine `tag`, made unique across them (its slot becomes `slot × of + tag`).
    pub fn tagged(self, tag: u32, of: u32) -> RequestId {
        RequestId {
            slot: self.slot.saturating_mul(of).saturating_add(tag),
            generation: self.generation,
        }
    }

    /// Undoes [`RequestId::tagged`]: which engine issued it, and its own handle.
    pub fn untagged(self, of: u32) -> (u32, RequestId) {
        let of = of.max(1);
        (
            self.slot % of,
            RequestId {
                slot: self.slot / of,
                generation: self.generation,
            },
        )
    }
}
