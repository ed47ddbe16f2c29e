//! The errors of `mem3-object`.

/// Errors returned by [`ObjectHeap`](crate::ObjectHeap) operations.
///
/// An operation that returns an error changes no object and no handle. (An allocation that fails after
/// defragmenting has still moved objects; their handles keep working.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The handle was freed (or never came from this heap): it names no live object.
    #[error("stale handle")]
    StaleHandle,
    /// No free block can hold the object, even after defragmenting (if that is turned on).
    #[error(
        "out of memory: requested {requested} bytes, {free} bytes free, largest free block {largest_free} bytes"
    )]
    OutOfMemory {
        /// The object's pool payload size in bytes (see [`ObjectHeap::object_size`](crate::ObjectHeap::object_size)).
        requested: usize,
        /// Free bytes in the pool (whole free blocks, headers included).
        free: usize,
        /// The largest free block (header included).
        largest_free: usize,
    },
    /// The pool refused an operation.
    #[error(transparent)]
    Pool(#[from] mem3_pool::Error),
    /// An object header, length, kind or string was invalid when decoded, or [`check`](crate::ObjectHeap::check)
    /// found the heap inconsistent.
    #[error("corrupt object heap at offset {offset}: {what}")]
    Corrupt {
        /// The pool offset where the fault was found: a block's payload offset for an object, a block start for
        /// a fault the pool's own check found, 0 when the fault has no place in the pool.
        offset: usize,
        /// What is wrong there.
        what: &'static str,
    },
    /// The handle table cannot grow: its `u32` index space is used up (or every slot is retired), or the
    /// global allocator refused more memory for it.
    #[error("too many handles")]
    TooManyHandles,
}

/// A shorthand for results of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl From<mem3_pool::Corruption> for Error {
    fn from(c: mem3_pool::Corruption) -> Self {
        use mem3_pool::CorruptionKind as K;
        let what = match c.kind {
            K::BadSize(_) => "pool: bad block size",
            K::FooterMismatch { .. } => "pool: footer does not match header",
            K::PrevFreeFlag { .. } => "pool: PREV_FREE flag disagrees with the previous block",
            K::AdjacentFree => "pool: two adjacent free blocks",
            K::PinnedFree => "pool: free block is marked pinned",
            K::StartBitmap(_) => "pool: block-start bitmap disagrees with the blocks",
            K::Index(_) => "pool: free-block index is inconsistent",
            K::IndexCount { .. } => "pool: free-block index does not hold exactly the free blocks",
            K::Counter(_) => "pool: a counter disagrees with the heap",
            _ => "pool: check failed",
        };
        Error::Corrupt { offset: c.offset, what }
    }
}
