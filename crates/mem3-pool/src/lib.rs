#![doc = include_str!("../README.md")]
#![no_std]
#[cfg(test)]
extern crate std;

mod check;
mod defrag;
mod error;
mod global;
mod index;
pub mod map;
mod pool;
mod summary;
pub mod tag;

pub use defrag::CompactStats;
pub use error::{Corruption, CorruptionKind, Error, Result};
#[cfg(feature = "critical-section")]
pub use global::CriticalSectionLock;
pub use global::{LockedPool, PoolView, SpinLock};
pub use lock_api;
pub use pool::{
    Block, BlockInfo, BlockState, Blocks, Coalescing, Config, Policy, Pool, Search, Stats,
};
pub use tag::{GRANULE, HEADER_SIZE, MIN_ALIGN, MIN_BLOCK, block_size_for};

#[cfg(test)]
mod tests;
