//! Block headers, boundary tags and the layout arithmetic.
//!
//! Every block starts at a multiple of [`GRANULE`] from the pool's base and begins with a one-word header:
//!
//! ```text
//!   used block                          free block (also a node of the free-block index)
//!   +--------------------------+        +--------------------------+
//!   | header: size | flags     |  word  | header: size | flags     |  word
//!   +--------------------------+        +-------------+------------+
//!   | payload ...              |        | left: u32   | right: u32 |  links (granule numbers)
//!   |                          |        +-------------+------------+
//!   |                          |        | max: u32    | height: u32|  subtree max size (granules), AVL height
//!   |                          |        +-------------+------------+
//!   |                          |        | ...                      |
//!   |                          |        +--------------------------+
//!   |                          |        | footer: size             |  word (the boundary tag)
//!   +--------------------------+        +--------------------------+
//! ```
//!
//! The header's size is the whole block (header included), a multiple of [`GRANULE`]; its low bits hold
//! [`BlockFlags`]. A used block carries no footer: the next block's `PREV_FREE` flag says whether the
//! footer before it is there to read.

use static_assertions::const_assert;

/// The size of a machine word, the header and the footer.
pub(crate) const WORD: usize = core::mem::size_of::<usize>();
/// Every block size and every block start is a multiple of this many bytes.
pub const GRANULE: usize = 8;
/// Bytes of a block header.
pub const HEADER_SIZE: usize = WORD;
/// The alignment every payload has without padding (the header's size, since block starts are granules).
pub const MIN_ALIGN: usize = HEADER_SIZE;
/// Offsets of the free-block index fields, from the block's start.
pub(crate) const LEFT: usize = HEADER_SIZE;
pub(crate) const RIGHT: usize = HEADER_SIZE + 4;
pub(crate) const MAX: usize = HEADER_SIZE + 8;
pub(crate) const HEIGHT: usize = HEADER_SIZE + 12;
/// The smallest block: a header, the index fields and a footer.
pub const MIN_BLOCK: usize = round_up(HEADER_SIZE + 16 + WORD, GRANULE);
/// The mask of the header's size bits.
pub(crate) const SIZE_MASK: usize = !(GRANULE - 1);
/// Index links are granule numbers in a `u32`; this one means "no node".
pub(crate) const NIL: u32 = u32::MAX;
/// The largest heap the `u32` granule links can address.
pub const MAX_HEAP: usize =
    if usize::BITS > 32 { (NIL as usize) * GRANULE } else { usize::MAX & SIZE_MASK };

const_assert!(GRANULE.is_power_of_two());
const_assert!(HEADER_SIZE % 4 == 0 && GRANULE % HEADER_SIZE == 0);
const_assert!(MIN_BLOCK % GRANULE == 0);
// The footer of the smallest block must not overlap its index fields.
const_assert!(HEIGHT + 4 <= MIN_BLOCK - WORD);
// Three flags fit below the size bits.
const_assert!(BlockFlags::all().bits() < GRANULE);

bitflags::bitflags! {
    /// Flags in the low bits of a block header.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct BlockFlags: usize {
        /// The block is allocated.
        const USED = 1 << 0;
        /// The block before this one is free, so the word before this header is its footer.
        const PREV_FREE = 1 << 1;
        /// The block is allocated and must not be moved by compaction.
        const PINNED = 1 << 2;
    }
}

/// Rounds `n` up to a multiple of `align` (a power of two), without overflow checks.
pub(crate) const fn round_up(n: usize, align: usize) -> usize {
    (n + align - 1) & !(align - 1)
}

/// The block size that holds a `size`-byte payload: the payload and the header rounded up to a multiple of
/// [`GRANULE`], at least [`MIN_BLOCK`]; `None` if it cannot be represented. Public so that messages can
/// say what a failed request needed.
pub fn block_size_for(size: usize) -> Option<usize> {
    let total = size.checked_add(HEADER_SIZE + GRANULE - 1)? & SIZE_MASK;
    Some(total.max(MIN_BLOCK))
}

/// Splits a header word into its size and flags.
#[inline]
pub(crate) fn decode(word: usize) -> (usize, BlockFlags) {
    (word & SIZE_MASK, BlockFlags::from_bits_truncate(word))
}

/// Makes a header word.
#[inline]
pub(crate) fn encode(size: usize, flags: BlockFlags) -> usize {
    debug_assert_eq!(size & !SIZE_MASK, 0);
    size | flags.bits()
}
