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
}
