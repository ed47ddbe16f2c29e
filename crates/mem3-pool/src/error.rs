//! The errors of `mem3-pool`.

/// Errors returned by [`Pool`](crate::Pool) operations. An operation that returns an error changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The region cannot hold even one block (plus the pool's metadata).
    #[error("region of {len} bytes is too small for a pool (at least {min} bytes are needed)")]
    RegionTooSmall {
        /// The region's length.
        len: usize,
        /// The smallest region that works (at the region's alignment).
        min: usize,
    },
    /// No free block can hold the request, even after coalescing.
    #[error(
        "out of memory: requested {requested} bytes, {free} bytes free, largest free block {largest_free} bytes"
    )]
    OutOfMemory {
        /// The payload size asked for.
        requested: usize,
        /// Free bytes in the pool (whole free blocks, headers included).
        free: usize,
        /// The largest free block (header included).
        largest_free: usize,
    },
    /// The alignment is not a power of two.
    #[error("alignment {align} is not a power of two")]
    BadAlignment {
        /// The alignment asked for.
        align: usize,
    },
    /// The offset does not name the payload of a live block of this pool.
    #[error("offset {offset} is not the start of a live block")]
    InvalidBlock {
        /// The offset given.
        offset: usize,
    },
    /// A list of blocks that must be in ascending address order, each named once, is not: the block at
    /// `offset` does not lie above the one named before it.
    #[error(
        "block at offset {offset} is out of order: blocks must be named in ascending address order, once each"
    )]
    OutOfOrder {
        /// The offset of the first block out of order.
        offset: usize,
    },
    /// The block is pinned and the operation would have to move it.
    #[error("block at offset {offset} is pinned and cannot move")]
    Pinned {
        /// The block's offset.
        offset: usize,
    },
    /// A region asked for is larger than the limit of the code that allocates it. The pool itself never
    /// allocates; this comes from code that allocates a region to make a pool over (from an untrusted size).
    #[error("a region of {len} bytes is larger than the limit of {max} bytes")]
    RegionTooLarge {
        /// The size asked for.
        len: usize,
        /// The largest size allowed.
        max: usize,
    },
    /// The system allocator refused a region (within the limit) that was to hold a pool.
    #[error("the system allocator refused a region of {len} bytes")]
    RegionUnavailable {
        /// The size asked for.
        len: usize,
    },
}

/// A shorthand for results of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What [`Pool::check`](crate::Pool::check) found wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pool corrupt at offset {offset}: {kind}")]
pub struct Corruption {
    /// The block start (from the pool's base) where the fault was found.
    pub offset: usize,
    /// What is wrong there.
    pub kind: CorruptionKind,
}

/// The kinds of fault [`Pool::check`](crate::Pool::check) detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorruptionKind {
    /// A header's size is below the minimum, not a granule multiple, or runs past the heap's end.
    #[error("bad block size {0}")]
    BadSize(usize),
    /// A free block's footer does not repeat its header's size.
    #[error("footer {footer} does not match header size {size}")]
    FooterMismatch {
        /// The header's size.
        size: usize,
        /// The footer's value.
        footer: usize,
    },
    /// A header's `PREV_FREE` flag disagrees with the block before it.
    #[error("PREV_FREE flag is {flag} but the previous block is {}", if *.prev_free { "free" } else { "used" })]
    PrevFreeFlag {
        /// The flag's value.
        flag: bool,
        /// Whether the previous block is free.
        prev_free: bool,
    },
    /// Two free blocks are neighbours although coalescing is immediate.
    #[error("two adjacent free blocks with immediate coalescing")]
    AdjacentFree,
    /// A free block is marked pinned.
    #[error("free block is marked pinned")]
    PinnedFree,
    /// The block-start bitmap disagrees with the blocks.
    #[error("block-start bitmap is {}", if *.0 { "set inside a block" } else { "clear at a block start" })]
    StartBitmap(bool),
    /// The free-block index is inconsistent (order, balance, heights, maxima, or a node that is not free).
    #[error("free-block index: {0}")]
    Index(&'static str),
    /// The free-block index does not hold exactly the free blocks (all but the top block).
    #[error("free-block index holds {indexed} blocks, the heap has {free} free blocks to index")]
    IndexCount {
        /// Nodes in the index.
        indexed: usize,
        /// Free blocks found by walking the heap.
        free: usize,
    },
    /// The pool's counters disagree with a walk of the heap.
    #[error("counter {0} disagrees with the heap")]
    Counter(&'static str),
}
