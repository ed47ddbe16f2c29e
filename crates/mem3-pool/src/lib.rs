#![doc = include_str!("../README.md")]
#![no_std]
// Unsafe code is confined to the modules allowed below: the region's accessors (`pool`), the lock and the
// allocator traits (`global`), and the SSE2 node compare (`summary`). The rest is safe code over offsets.
#![deny(unsafe_code)]
#[cfg(test)]
extern crate std;

mod cache;
mod check;
mod defrag;
mod error;
#[allow(unsafe_code)]
mod global;
mod index;
pub mod map;
#[allow(unsafe_code)]
mod pool;
#[allow(unsafe_code)]
mod summary;
mod sweep;
pub mod tag;

pub use cache::{CACHE_LIMIT, CACHE_MAX};
pub use defrag::CompactStats;
pub use error::{Corruption, CorruptionKind, Error, Result};
#[cfg(feature = "critical-section")]
pub use global::CriticalSectionLock;
pub use global::{LockedPool, PoolView, SpinLock};
pub use lock_api;
pub use pool::{
    Block, BlockInfo, BlockState, Blocks, Coalescing, Config, Policy, Pool, Search, Stats,
};
pub use tag::{GRANULE, HEADER_SIZE, MIN_ALIGN, MIN_BLOCK, MIN_BLOCK_BEST_FIT, block_size_for};

#[cfg(test)]
mod tests;
