//! Block headers, boundary tags and the layout arithmetic.
//!
//! Every block starts at a multiple of [`GRANULE`] from the pool's base and begins with a one-word header:
//!
//! ```text
//!   used block                          free block (under best fit, also a node of its bin's tree)
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
//! footer before it is there to read. Under first fit a free block keeps nothing between its header and
//! footer: the summary over the heap's slots and the pool's bitmaps index it from outside.

use static_assertions::const_assert;

/// The size of a machine word, the header and the footer.
pub(crate) const WORD: usize = core::mem::size_of::<usize>();
/// Every block size and every block start is a multiple of this many bytes.
pub const GRANULE: usize = 8;
/// Bytes of a block header.
pub const HEADER_SIZE: usize = WORD;
/// The alignment every payload has without padding (the header's size, since block starts are granules).
pub const MIN_ALIGN: usize = HEADER_SIZE;
/// Whether `align` is a power of two at most [`MIN_ALIGN`]: an alignment every payload has, so a request for it
/// needs no padding. One shift and test of a constant with bit `a` set for each such `a` (1, 2, 4 and 8 on
/// 64-bit targets, 1, 2 and 4 on 32-bit ones).
#[inline(always)]
pub(crate) const fn is_usual_align(align: usize) -> bool {
    const USUAL_ALIGNS: u32 = {
        let mut bits = 0;
        let mut align = 1;
        while align <= MIN_ALIGN {
            bits |= 1 << align;
            align *= 2;
        }
        bits
    };
    const_assert!(MIN_ALIGN < u32::BITS as usize);
    align <= MIN_ALIGN && (USUAL_ALIGNS >> align) & 1 != 0
}

/// Offsets of the best-fit index's fields in a free block, from the block's start.
pub(crate) const LEFT: usize = HEADER_SIZE;
pub(crate) const RIGHT: usize = HEADER_SIZE + 4;
pub(crate) const MAX: usize = HEADER_SIZE + 8;
pub(crate) const HEIGHT: usize = HEADER_SIZE + 12;
/// The smallest block of a first-fit pool: a header and a footer (a free block needs both; the summary keeps
/// nothing in it), and at least two granules, so that at most one block starts in an aligned pair of granules
/// (the free-pair bitmap keeps one bit per pair). On 64-bit targets the header and footer are those 16 bytes;
/// on 32-bit ones they would fit in one granule, and the block is raised to two.
pub const MIN_BLOCK: usize = max(round_up(HEADER_SIZE + WORD, GRANULE), 2 * GRANULE);
/// The smallest block of a best-fit pool: a header, the tree's fields and a footer.
pub const MIN_BLOCK_BEST_FIT: usize = round_up(HEADER_SIZE + 16 + WORD, GRANULE);
/// The smallest remainder that splitting, shrinking or growing a block in place leaves as a free block of its
/// own; a smaller one stays in the block. Under first fit this is above the smallest block: kept as free
/// blocks, fragments below it were measured to save almost no space (0.2% of perl-hash's minimum pool) and to
/// cost 7-10% more instructions per operation on the traces in `tests/data`, as searches walk over them.
pub(crate) const SPLIT_MIN: usize = MIN_BLOCK_BEST_FIT;
/// The mask of the header's size bits.
pub(crate) const SIZE_MASK: usize = !(GRANULE - 1);
/// Index links are granule numbers in a `u32`; this one means "no node".
pub(crate) const NIL: u32 = u32::MAX;
/// The largest heap the `u32` granule links can address.
pub const MAX_HEAP: usize =
    if usize::BITS > 32 { (NIL as usize) * GRANULE } else { usize::MAX & SIZE_MASK };

const_assert!(GRANULE.is_power_of_two());
const_assert!(HEADER_SIZE % 4 == 0 && GRANULE % HEADER_SIZE == 0);
const_assert!(MIN_BLOCK % GRANULE == 0 && MIN_BLOCK_BEST_FIT % GRANULE == 0);
const_assert!(SPLIT_MIN >= MIN_BLOCK && SPLIT_MIN >= MIN_BLOCK_BEST_FIT);
// At most one block starts in each aligned pair of granules: the free-pair bitmap keeps one bit per pair.
const_assert!(MIN_BLOCK >= 2 * GRANULE && MIN_BLOCK_BEST_FIT >= 2 * GRANULE);
// The footer of the smallest block must not overlap its index fields.
const_assert!(HEIGHT + 4 <= MIN_BLOCK_BEST_FIT - WORD);
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

/// The larger of `a` and `b`, in a constant.
const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// The whole block (header included) that holds a `size`-byte payload at [`MIN_ALIGN`] in a pool whose
/// smallest block is `min_block` ([`Policy::min_block`](crate::Policy::min_block)): `size` plus the header,
/// rounded up to [`GRANULE`], at least `min_block`. `None` if that overflows a `usize`.
///
/// This is the one statement of the rule; the pool allocates blocks of this size (plus alignment padding for
/// larger alignments), and callers that reason about what fits (mem3-object's defragmentation test) use it too.
///
/// ```
/// use mem3_pool::{GRANULE, HEADER_SIZE, Policy, block_size_for};
/// let min = Policy::FirstFit.min_block();
/// assert_eq!(block_size_for(0, min), Some(min));
/// assert_eq!(block_size_for(100, min), Some((100 + HEADER_SIZE).next_multiple_of(GRANULE).max(min)));
/// assert_eq!(block_size_for(1, Policy::BestFit.min_block()), Some(Policy::BestFit.min_block()));
/// assert_eq!(block_size_for(usize::MAX, min), None);
/// ```
#[inline]
pub fn block_size_for(size: usize, min_block: usize) -> Option<usize> {
    let total = size.checked_add(HEADER_SIZE + GRANULE - 1)? & SIZE_MASK;
    Some(total.max(min_block))
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
