#![doc = include_str!("../README.md")]
#![no_std]
// Every byte is read through the pool's checked payload slices; nothing here needs `unsafe`.
#![forbid(unsafe_code)]
extern crate alloc;
#[cfg(test)]
extern crate std;

mod error;
mod handle;
mod heap;
pub mod object;

pub use error::{Error, Result};
pub use handle::Handle;
pub use heap::{DefragStats, HeapStats, ObjectHeap};
pub use object::{OBJECT_HEADER_SIZE, ObjectKind, ObjectRef};

#[cfg(test)]
mod tests;
