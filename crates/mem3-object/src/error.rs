//! The errors of `mem3-object`.

/// Errors returned by [`ObjectHeap`](crate::ObjectHeap) operations.
///
/// An operation that returns an error changes no object and no handle. (An allocation that fails after
/// defragmenting has still moved objects; their handles keep working.)
///
/// The pool's errors are carried whole, not restated: an object that does not fit is
/// `Error::Pool(mem3_pool::Error::OutOfMemory { .. })`, with the pool's figures, and a failed pool check is
/// [`Error::PoolCorrupt`] with the pool's [`Corruption`](mem3_pool::Corruption). Each message includes the
/// pool's, and [`source`](core::error::Error::source) returns the pool's error itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The handle was freed (or never came from this heap): it names no live object.
    #[error("stale handle")]
    StaleHandle,
    /// The pool refused an operation. [`mem3_pool::Error::OutOfMemory`] when no free block can hold the object,
    /// even after defragmenting (if that is turned on); its `requested` is the object's pool payload size (see
    /// [`ObjectHeap::object_size`](crate::ObjectHeap::object_size)).
    #[error("{0}")]
    Pool(#[from] mem3_pool::Error),
    /// The pool's own check ([`Pool::check`](mem3_pool::Pool::check)) found its blocks inconsistent.
    #[error("{0}")]
    PoolCorrupt(#[from] mem3_pool::Corruption),
    /// An object header, length, kind or string was invalid when decoded, or [`check`](crate::ObjectHeap::check)
    /// found the handle table and the objects inconsistent.
    #[error("corrupt object heap at offset {offset}: {what}")]
    Corrupt {
        /// The pool offset where the fault was found: an object's payload offset, or 0 when the fault has no
        /// place in the pool (the handle table's free list, its counters).
        offset: usize,
        /// What is wrong there.
        what: &'static str,
    },
    /// The handle table cannot grow: its `u32` index space is used up (or every slot is retired), or the
    /// global allocator refused more memory for it.
    #[error("too many handles")]
    TooManyHandles,
}

impl Error {
    /// Whether this is the pool's out-of-memory error (the object did not fit).
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, Error::Pool(mem3_pool::Error::OutOfMemory { .. }))
    }
}

/// A shorthand for results of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
