//! The pool: its memory, its counters, and the operations on blocks.

use core::{fmt, marker::PhantomData, num::NonZeroUsize, ptr::NonNull};

use crate::{
    cache::{CACHE_MAX, FrontCache},
    error::{Error, Result},
    index::{Bins, bin_count},
    summary::{BIAS, FANOUT, Found, NODE_ALIGN, SLOT, Summary, slot_of},
    tag::{
        self, BlockFlags, GRANULE, HEADER_SIZE, MAX_HEAP, MIN_ALIGN, MIN_BLOCK, MIN_BLOCK_BEST_FIT,
        SPLIT_MIN, WORD, block_size_for, is_usual_align, round_up,
    },
};

/// Where an allocation goes among the free blocks that can hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Policy {
    /// The lowest-addressed free block that fits (address-ordered first fit).
    #[default]
    FirstFit,
    /// The smallest free block that fits, the lowest-addressed among equals.
    BestFit,
}

impl Policy {
    /// The smallest block under this policy: [`MIN_BLOCK`] for first fit (a header and a footer), and
    /// [`MIN_BLOCK_BEST_FIT`] for best fit, whose free blocks also hold the tree's fields.
    pub const fn min_block(self) -> usize {
        match self {
            Policy::FirstFit => MIN_BLOCK,
            Policy::BestFit => MIN_BLOCK_BEST_FIT,
        }
    }
}

/// When freed blocks merge with their free neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Coalescing {
    /// `free` merges the block with its free neighbours at once.
    #[default]
    Immediate,
    /// Freed blocks stay apart until [`Pool::coalesce`] runs or an allocation would otherwise fail.
    Deferred,
}

/// How the pool finds the block its [`Policy`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Search {
    /// The free-block index: O(log n) in the number of free blocks.
    #[default]
    Index,
    /// A walk over every block in address order: O(n). The reference the index is tested against; it picks
    /// exactly the block the index picks.
    Linear,
}

/// How a [`Pool`] places and merges blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Config {
    /// The placement policy.
    pub policy: Policy,
    /// When freed blocks are merged.
    pub coalescing: Coalescing,
    /// How the placement is searched for.
    pub search: Search,
    /// Keep short per-size lists of recently freed blocks of up to [`CACHE_MAX`](crate::CACHE_MAX) bytes
    /// and serve allocations of those sizes from them first (most recently freed first), before the
    /// index is asked. Faster on programs that free and allocate the same small sizes again and again, at
    /// the cost of exact placement: a request served from the cache gets the most recently freed block of
    /// its size, not the block the policy picks. Cached blocks are freed for real before an allocation
    /// may fail and before blocks are walked or moved (`compact`, `retain`, `coalesce`, `move_to_end`).
    /// Off by default.
    pub front_cache: bool,
}

impl Config {
    /// The default configuration, usable in `const` contexts: first fit, immediate coalescing, indexed search.
    pub const DEFAULT: Config = Config {
        policy: Policy::FirstFit,
        coalescing: Coalescing::Immediate,
        search: Search::Index,
        front_cache: false,
    };
}

/// A block of a [`Pool`], named by the offset of its payload from the pool's base.
///
/// A `Block` is only a name: every `Pool` method checks that it names a live block of that pool, and returns
/// [`Error::InvalidBlock`] when it does not, so a stale or forged `Block` is harmless.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Block(NonZeroUsize);

impl Block {
    /// The offset of the block's payload from the pool's base (see [`Pool::base`]).
    #[inline]
    pub fn offset(self) -> usize {
        self.0.get()
    }

    /// The name of the block whose header is at heap offset `start`.
    #[inline]
    pub(crate) fn at(start: usize) -> Block {
        Block(
            NonZeroUsize::new(start + HEADER_SIZE)
                .expect("payload offsets are at least HEADER_SIZE"),
        )
    }

    /// [`Block::at`] without the check, for the allocation's hot path.
    ///
    /// # Safety
    ///
    /// `start` is a heap offset (below `MAX_HEAP`), so `start + HEADER_SIZE` neither wraps nor is 0.
    #[inline(always)]
    pub(crate) unsafe fn at_unchecked(start: usize) -> Block {
        debug_assert!(start < MAX_HEAP);
        // SAFETY: the caller's promise: `start + HEADER_SIZE` is not 0.
        Block(unsafe { NonZeroUsize::new_unchecked(start + HEADER_SIZE) })
    }

    /// The name of the block whose payload would start at `offset`; `None` for offset 0, which no payload
    /// has. It checks nothing else, and need not: every [`Pool`] method validates the name it is given (a
    /// wrong one gets [`Error::InvalidBlock`]). [`Pool::block_at`] checks the name against a pool at once.
    #[inline]
    pub fn from_offset(offset: usize) -> Option<Block> {
        NonZeroUsize::new(offset).map(Block)
    }
}

/// Whether a block is free, used, or used and pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockState {
    /// A free block.
    Free,
    /// An allocated block.
    Used,
    /// An allocated block that compaction leaves in place.
    Pinned,
}

/// One block as [`Pool::blocks`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockInfo {
    /// Offset of the block's header from the pool's base.
    pub start: usize,
    /// The whole block's size in bytes, header included.
    pub size: usize,
    /// Free, used or pinned.
    pub state: BlockState,
}

impl BlockInfo {
    /// The block's name, if it is allocated.
    pub fn block(&self) -> Option<Block> {
        match self.state {
            BlockState::Free => None,
            BlockState::Used | BlockState::Pinned => Block::from_offset(self.start + HEADER_SIZE),
        }
    }

    /// Bytes of payload (the block less its header).
    pub fn payload_size(&self) -> usize {
        self.size - HEADER_SIZE
    }
}

/// The pool's figures at one moment. `used_bytes + overhead_bytes + free_bytes == capacity`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    /// Bytes the blocks tile (the region less alignment and metadata).
    pub capacity: usize,
    /// Bytes of the caller's region the pool uses: `capacity` plus the metadata.
    pub region_bytes: usize,
    /// Payload bytes of used blocks (what their owners may use).
    pub used_bytes: usize,
    /// Header bytes of used blocks.
    pub overhead_bytes: usize,
    /// Bytes of free blocks, headers included.
    pub free_bytes: usize,
    /// The largest free block, header included.
    pub largest_free: usize,
    /// Number of used blocks.
    pub used_blocks: usize,
    /// Number of free blocks.
    pub free_blocks: usize,
    /// The high-water mark: the highest end of a used block since the pool was made.
    pub peak_extent: usize,
    /// Bytes of the pool's own metadata (the block-start bitmap; under first fit also the free-pair bitmap
    /// and the summary).
    pub metadata_bytes: usize,
}

impl Stats {
    /// `1 - largest_free / free_bytes`: 0 when the free space is one block (or there is none), near 1 when
    /// it is scattered in many small blocks.
    pub fn fragmentation(&self) -> f64 {
        fragmentation(self.free_bytes, self.largest_free)
    }
}

/// The fragmentation formula, written once: `1 - largest_free / free_bytes`, 0 when nothing is free.
/// [`Stats::fragmentation`] and [`map::Figures::fragmentation`](crate::map::Figures::fragmentation) use it.
pub(crate) fn fragmentation(free_bytes: usize, largest_free: usize) -> f64 {
    if free_bytes == 0 { 0.0 } else { 1.0 - largest_free as f64 / free_bytes as f64 }
}

/// The bit of the granule at heap offset `start` in its slot's start word (a shift of a `u64` takes its
/// count modulo 64, so the mask needs no masking on x86-64).
#[inline(always)]
pub(crate) fn start_mask(start: usize) -> u64 {
    1 << (start / GRANULE % 64)
}

/// The bit of the pair of granules holding heap offset `start` in its slot's free-pair word.
#[inline(always)]
pub(crate) fn free_pair_mask(start: usize) -> u32 {
    1 << (start / (2 * GRANULE) % 32)
}

/// The free-pair word of a slot's free-start word `free` (bit `i` for granule `i`): bit `j` set where granule
/// `2 * j` or `2 * j + 1` is a free block's start. The inverse of [`spread_pairs`] on words with at most one
/// bit in each pair. Not on a hot path: the bitmaps written a word at a time (compaction, `retain_only`).
#[inline]
pub(crate) fn pair_bits(free: u64) -> u32 {
    // Fold each pair onto its even bit, then gather the even bits into the low half, a doubling at a time.
    let mut x = (free | free >> 1) & 0x5555_5555_5555_5555;
    x = (x | x >> 1) & 0x3333_3333_3333_3333;
    x = (x | x >> 2) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | x >> 4) & 0x00ff_00ff_00ff_00ff;
    x = (x | x >> 8) & 0x0000_ffff_0000_ffff;
    x = (x | x >> 16) & 0x0000_0000_ffff_ffff;
    x as u32
}

/// Both bits of each pair of granules set where the pair's bit in `pairs` is set (bit `j` to bits `2 * j`
/// and `2 * j + 1`): a mask that, over a slot's start word, leaves the free blocks' starts. Not on a hot path
/// either: searches walk the pair bits ([`FreeStarts`]).
#[inline]
pub(crate) fn spread_pairs(pairs: u32) -> u64 {
    // Spread the bits apart a halving at a time, to the even bits, then copy each to the odd bit above it.
    let mut x = u64::from(pairs);
    x = (x | x << 16) & 0x0000_ffff_0000_ffff;
    x = (x | x << 8) & 0x00ff_00ff_00ff_00ff;
    x = (x | x << 4) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | x << 2) & 0x3333_3333_3333_3333;
    x = (x | x << 1) & 0x5555_5555_5555_5555;
    x * 3
}

/// The starts of the free blocks of one slot, in address order, as heap offsets: the slot's free-pair bits
/// walked lowest first, each pair's start picked from the slot's start word (the one start bit of the
/// pair). [`Pool::free_starts`] makes it.
#[derive(Clone, Copy)]
pub(crate) struct FreeStarts {
    /// The heap offset of the slot.
    slot_start: usize,
    /// The free-pair bits not yet walked.
    pairs: u32,
    /// The slot's start word shifted down by one: bit `2 * j` set where pair `j`'s block starts at its odd
    /// granule.
    odd: u64,
}

impl Iterator for FreeStarts {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        if self.pairs == 0 {
            return None;
        }
        let even = 2 * self.pairs.trailing_zeros() as usize;
        self.pairs &= self.pairs - 1;
        // The pair's one start: its odd granule if that bit is set, else its even one.
        let granule = even + (self.odd >> even) as usize % 2;
        Some(self.slot_start + granule * GRANULE)
    }
}

/// The region's base and the heap's length and bitmap offsets, copied out of a [`Pool`]: the one place where
/// headers, footers and the bitmaps' words are read and written (`Pool`'s accessors of the same names call
/// these). A hot path keeps a `Raw` in registers: LLVM cannot prove that a store into the region misses the
/// `Pool` itself, so fields read through `self` are read again after every such store.
///
/// Writes through a `Raw` need the `Pool` it came from borrowed mutably (so no payload slice is alive); the
/// crate upholds that by writing only in `&mut self` methods.
#[derive(Clone, Copy)]
pub(crate) struct Raw {
    base: *mut u8,
    pub(crate) heap_len: usize,
    free_map: usize,
}

impl Raw {
    /// Reads the word at `off`, a header or footer of a block inside the heap.
    #[inline(always)]
    pub(crate) fn word(self, off: usize) -> usize {
        debug_assert!(off + WORD <= self.heap_len && off % WORD == 0, "word read at {off}");
        // SAFETY: callers pass the offset of a header or footer of a block inside the heap, so
        // `off + WORD <= heap_len` and the word is inside the region; block boundaries are granules from a
        // base that is word-aligned, so the read is aligned.
        unsafe { self.base.add(off).cast::<usize>().read() }
    }

    /// Writes the word at `off` (as [`Raw::word`]).
    #[inline(always)]
    pub(crate) fn set_word(self, off: usize, value: usize) {
        debug_assert!(off + WORD <= self.heap_len && off % WORD == 0, "word write at {off}");
        // SAFETY: as in `word`; the caller holds the `Pool` mutably, so no payload slice is alive.
        unsafe { self.base.add(off).cast::<usize>().write(value) }
    }

    /// Sets or clears the start bit of `start` (a multiple of `GRANULE` below `heap_len`), by a
    /// read-modify-write of its byte.
    #[inline(always)]
    pub(crate) fn set_start_bit(self, start: usize, value: bool) {
        debug_assert!(start < self.heap_len && start % GRANULE == 0);
        let granule = start / GRANULE;
        // SAFETY: the start bitmap holds a bit per granule of the heap from `heap_len`, inside the region, and
        // `start < heap_len`; the caller holds the `Pool` mutably.
        unsafe {
            let byte = self.base.add(self.heap_len + granule / 8);
            let mask = 1 << (granule % 8);
            byte.write(if value { byte.read() | mask } else { byte.read() & !mask });
        }
    }

    /// Clears the start bit of `start` (see [`Raw::set_start_bit`]).
    #[inline(always)]
    pub(crate) fn clear_start_bit(self, start: usize) {
        self.set_start_bit(start, false)
    }

    /// The start bits of the 64 granules of `slot` (bit `i` for granule `64 * slot + i`).
    #[inline(always)]
    pub(crate) fn start_word(self, slot: usize) -> u64 {
        debug_assert!(slot < self.heap_len.div_ceil(SLOT));
        // SAFETY: the start bitmap holds 8 bytes per slot (`Pool::from_raw_parts`) from `heap_len`, inside the
        // region, and `slot` is one of the heap's slots.
        let bytes = unsafe { self.base.add(self.heap_len + slot * 8).cast::<[u8; 8]>().read() };
        u64::from_le_bytes(bytes)
    }

    /// Writes the start bits of `slot` (as [`Raw::start_word`]).
    #[inline(always)]
    pub(crate) fn set_start_word(self, slot: usize, word: u64) {
        debug_assert!(slot < self.heap_len.div_ceil(SLOT));
        // SAFETY: as in `start_word`, for the same 8 bytes, which lie outside the heap; the caller holds the
        // `Pool` mutably.
        unsafe {
            self.base.add(self.heap_len + slot * 8).cast::<[u8; 8]>().write(word.to_le_bytes())
        }
    }

    /// Sets the start bit of granule `start / GRANULE` by a read-modify-write of its slot's whole word, whose
    /// bit index needs no masking (a shift of a `u64` takes its count modulo 64).
    #[inline(always)]
    pub(crate) fn add_start_bit(self, start: usize) {
        debug_assert!(start < self.heap_len && start % GRANULE == 0);
        let slot = start / SLOT;
        self.set_start_word(slot, self.start_word(slot) | start_mask(start));
    }

    /// The free-pair bits of `slot` (first fit only; see [`Pool::free_pairs`]).
    #[inline(always)]
    pub(crate) fn free_pairs(self, slot: usize) -> u32 {
        debug_assert!(slot < self.heap_len.div_ceil(SLOT));
        // SAFETY: under first fit (the callers' promise) the free-pair bitmap, 4 bytes per slot, lies at
        // `free_map` inside the region (`Pool::from_raw_parts`), and `slot` is one of the heap's slots.
        unsafe {
            u32::from_le_bytes(self.base.add(self.free_map + slot * 4).cast::<[u8; 4]>().read())
        }
    }

    /// Writes the free-pair bits of `slot` (as [`Raw::free_pairs`]).
    #[inline(always)]
    pub(crate) fn set_free_pairs(self, slot: usize, pairs: u32) {
        debug_assert!(slot < self.heap_len.div_ceil(SLOT));
        // SAFETY: as in `free_pairs`, for the same 4 bytes, outside the heap; the caller holds the `Pool`
        // mutably.
        unsafe {
            self.base.add(self.free_map + slot * 4).cast::<[u8; 4]>().write(pairs.to_le_bytes())
        }
    }

    /// Moves a block's start bit from `from` to `to`, both in one slot: one read-modify-write of its word.
    #[inline(always)]
    pub(crate) fn move_start_bit_in_slot(self, from: usize, to: usize) {
        let slot = from / SLOT;
        debug_assert!(to / SLOT == slot && from % GRANULE == 0 && to % GRANULE == 0);
        self.set_start_word(slot, self.start_word(slot) & !start_mask(from) | start_mask(to));
    }

    /// Moves a free-pair bit from the pair holding `from` (set) to the pair holding `to` (clear), both in one
    /// slot (first fit only): one read-modify-write of the slot's word.
    #[inline(always)]
    pub(crate) fn move_free_pair_bit_in_slot(self, from: usize, to: usize) {
        let slot = from / SLOT;
        debug_assert!(to / SLOT == slot);
        self.set_free_pairs(
            slot,
            self.free_pairs(slot) & !free_pair_mask(from) | free_pair_mask(to),
        );
    }

    /// Sets or clears the free-pair bit of the pair holding `start` (first fit only). At most one block starts
    /// in a pair, so the bit is that block's.
    #[inline(always)]
    pub(crate) fn set_free_pair_bit(self, start: usize, value: bool) {
        debug_assert!(start < self.heap_len && start % GRANULE == 0);
        // The slot's whole word (as `set_free_pairs`), whose bit index needs no masking on x86-64.
        let slot = start / SLOT;
        let mask = free_pair_mask(start);
        let pairs = self.free_pairs(slot);
        self.set_free_pairs(slot, if value { pairs | mask } else { pairs & !mask });
    }
}

/// The fewest bytes a shrinking resize must free to move the block down (first fit): moving smaller blocks
/// was measured to change no trace's minimum pool.
const SHRINK_MOVE_MIN: usize = 4096;
/// A shrinking resize moves the block down (first fit) only if its new size is at most `1 / SHRINK_MOVE_RATIO`
/// of the old: the copy is the cost (at a third, 5.2% more instructions on random actions of up to 30000
/// bytes, nearly all of them in the copies; at a quarter, 2.9%).
const SHRINK_MOVE_RATIO: usize = 4;

/// A memory pool over one caller-provided region.
///
/// See the [crate docs](crate) for the layout and the guarantees.
pub struct Pool<'a> {
    /// The heap's first byte: the caller's region start, advanced so that payloads are `MIN_ALIGN`-aligned.
    pub(crate) base: NonNull<u8>,
    /// Bytes of the heap, a multiple of `GRANULE`, at most `MAX_HEAP`. The block-start bitmap follows it.
    pub(crate) heap_len: usize,
    /// Bytes of the caller's region in use: alignment padding not counted, heap and bitmap counted.
    pub(crate) region_bytes: usize,
    /// Offset from `base` of the free-pair bitmap (first fit), just after the block-start bitmap: one bit per
    /// aligned pair of granules, set where the block starting in that pair is free.
    pub(crate) free_map: usize,
    /// The best-fit index's bins (none under first fit).
    pub(crate) bins: Bins,
    /// The first-fit index (no levels under best fit).
    pub(crate) summary: Summary,
    /// Start of the top block (the last block, when it is free; kept out of the index), or `heap_len`.
    pub(crate) top: usize,
    pub(crate) config: Config,
    /// `config` is [`Config::DEFAULT`] (first fit, immediate coalescing, indexed search, no front cache): the
    /// allocation's and the free's specialised paths test this once instead of each field.
    pub(crate) default_config: bool,
    // The counters' order matters: with `used_blocks` next to `used_size`, LLVM paired their updates into one
    // SSE add through a constant vector (six instructions for two adds), on every allocation and free.
    /// Sum of the sizes of used blocks, headers included.
    pub(crate) used_size: usize,
    pub(crate) peak_extent: usize,
    pub(crate) free_blocks: usize,
    pub(crate) used_blocks: usize,
    /// The policy's smallest block ([`Policy::min_block`]).
    pub(crate) min_block: usize,
    /// The front cache's lists (empty unless `config.front_cache`).
    pub(crate) cache: FrontCache,
    _region: PhantomData<&'a mut [u8]>,
}

// SAFETY: a `Pool` is the only way to reach its region (it holds the region's `&mut` borrow), like the
// `&mut [u8]` it is made from, which is `Send`.
unsafe impl Send for Pool<'_> {}
// SAFETY: `&Pool` methods only read the region, like `&[u8]`, which is `Sync`.
unsafe impl Sync for Pool<'_> {}

impl fmt::Debug for Pool<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("capacity", &self.heap_len)
            .field("config", &self.config)
            .field("used_blocks", &self.used_blocks)
            .field("free_blocks", &self.free_blocks)
            .field("free_bytes", &self.free_size())
            .finish_non_exhaustive()
    }
}

impl<'a> Pool<'a> {
    /// Makes a pool over `region` with the default [`Config`] (first fit, immediate coalescing, indexed
    /// search).
    pub fn new(region: &'a mut [u8]) -> Result<Self> {
        Self::with_config(region, Config::default())
    }

    /// Makes a pool over `region` with `config`.
    ///
    /// The pool aligns the region's start internally and keeps a block-start bitmap (1 bit per 8 bytes,
    /// about 1.5% of the region) at its end, under first fit with a free-pair bitmap (1 bit per 16 bytes) and
    /// the summary after it (about 3.1% in all), under best fit with the roots of its size bins (4 bytes a
    /// bin, about 1 KiB for a 4 MiB heap); [`Stats::capacity`] is what remains for blocks.
    pub fn with_config(region: &'a mut [u8], config: Config) -> Result<Self> {
        let len = region.len();
        // SAFETY: the pointer and length come from a live `&'a mut [u8]`, which the returned pool borrows for
        // `'a`, so the region is valid and exclusively the pool's for the pool's whole life.
        unsafe {
            Self::from_raw_parts(
                NonNull::new(region.as_mut_ptr()).unwrap_or(NonNull::dangling()),
                len,
                config,
            )
        }
    }

    /// Makes a pool over the `len` bytes at `ptr`.
    ///
    /// # Safety
    ///
    /// * `ptr` is valid for reads and writes of `len` bytes for `'a`.
    /// * Nothing else reads or writes those bytes during `'a`, except through the pool's payloads.
    pub unsafe fn from_raw_parts(ptr: NonNull<u8>, len: usize, config: Config) -> Result<Self> {
        let addr = ptr.as_ptr().addr();
        // Advance the start so that `base + HEADER_SIZE` (the first payload) is a multiple of `GRANULE`.
        let pad = (GRANULE - (addr.wrapping_add(HEADER_SIZE) % GRANULE)) % GRANULE;
        let first_fit = config.policy == Policy::FirstFit;
        // Metadata after the heap: the block-start bitmap (8 bytes per slot), then under first fit the
        // free-pair bitmap (4 bytes per slot) and the summary, aligned to a cache line, under best fit the
        // bins' roots (4 bytes a bin). Its size does not depend on the region's address.
        let meta = |heap_len: usize| {
            let slots = heap_len.div_ceil(SLOT);
            slots * 8
                + if first_fit {
                    slots * 4 + Summary::align_reserve(heap_len) + Summary::bytes(heap_len)
                } else {
                    bin_count(heap_len) * 4
                }
        };
        let min_block = config.policy.min_block();
        let min = pad + min_block + meta(min_block);
        if len < min {
            return Err(Error::RegionTooSmall { len, min });
        }
        let avail = len - pad;
        let per_slot = 8 + if first_fit { 4 + 4 + 1 } else { 0 };
        let mut heap_len = (avail / (SLOT + per_slot) * SLOT).min(MAX_HEAP) & tag::SIZE_MASK;
        while heap_len + SLOT + meta(heap_len + SLOT) <= avail && heap_len + SLOT <= MAX_HEAP {
            heap_len += SLOT;
        }
        while heap_len + GRANULE + meta(heap_len + GRANULE) <= avail
            && heap_len + GRANULE <= MAX_HEAP
        {
            heap_len += GRANULE;
        }
        while heap_len >= min_block && heap_len + meta(heap_len) > avail {
            heap_len -= GRANULE;
        }
        if heap_len < min_block {
            return Err(Error::RegionTooSmall { len, min: min + GRANULE });
        }
        let bitmap_len = heap_len.div_ceil(SLOT) * 8;
        let pairs_len = if first_fit { heap_len.div_ceil(SLOT) * 4 } else { 0 };
        // `wrapping_add` keeps the region's provenance; `pad < len` so the result is inside it.
        let base = NonNull::new(ptr.as_ptr().wrapping_add(pad)).unwrap_or(ptr);
        let (summary, _) = if first_fit {
            // The free-pair bitmap follows the start bitmap, then the levels.
            let end = base.as_ptr().addr().wrapping_add(heap_len + bitmap_len + pairs_len);
            let align_pad =
                end.wrapping_neg() % NODE_ALIGN % (Summary::align_reserve(heap_len) + 1);
            Summary::layout(heap_len, heap_len + bitmap_len + pairs_len + align_pad)
        } else {
            (Summary::NONE, 0)
        };
        let bins = if first_fit {
            Bins::NONE
        } else {
            Bins { roots: heap_len + bitmap_len, count: bin_count(heap_len), ..Bins::NONE }
        };
        let mut pool = Pool {
            base,
            heap_len,
            region_bytes: meta(heap_len) + heap_len,
            free_map: heap_len + bitmap_len,
            bins,
            summary,
            top: heap_len,
            config,
            default_config: config == Config::DEFAULT,
            used_blocks: 0,
            used_size: 0,
            free_blocks: 1,
            peak_extent: 0,
            min_block: config.policy.min_block(),
            cache: FrontCache::EMPTY,
            _region: PhantomData,
        };
        // (`pad + heap_len + meta(heap_len) <= len`, ensured above.)
        // SAFETY: the bitmaps' bytes start at `base + heap_len` and end inside the region, as above.
        unsafe { pool.base.as_ptr().add(heap_len).write_bytes(0, bitmap_len + pairs_len) };
        // SAFETY: the bins' roots follow the start bitmap inside the region, as above (none under first fit).
        // Every byte `0xFF` makes every root `NIL`.
        unsafe { pool.base.as_ptr().add(pool.bins.roots).write_bytes(0xFF, pool.bins.count * 4) };
        pool.summary_clear();
        pool.set_start_bit(0, true);
        pool.write_free(0, heap_len, BlockFlags::empty());
        pool.free_insert(0);
        Ok(pool)
    }

    /// The pool's configuration.
    pub fn config(&self) -> Config {
        self.config
    }

    /// The address that block offsets are measured from.
    pub fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// Bytes available to blocks (see [`Stats::capacity`]).
    pub fn capacity(&self) -> usize {
        self.heap_len
    }

    /// Sum of the sizes of free blocks (cached blocks included): every byte of the heap is in a used block or
    /// a free one, so this is what the used blocks leave, and only `used_size` is kept.
    #[inline(always)]
    pub(crate) fn free_size(&self) -> usize {
        self.heap_len - self.used_size
    }

    // ---------------------------------------------------------------------------------------------------
    // Raw memory. Every read and write of the region goes through the functions of this section (and those
    // of `Raw`, a copy of the pool's base and offsets).

    /// The base and offsets, for the accessors below and for a hot path to keep in registers. Writes through
    /// it are for `&mut self` methods only (see [`Raw`]).
    #[inline(always)]
    pub(crate) fn raw(&self) -> Raw {
        Raw { base: self.base.as_ptr(), heap_len: self.heap_len, free_map: self.free_map }
    }

    /// Reads the word at `off` (see [`Raw::word`]).
    #[inline(always)]
    pub(crate) fn word(&self, off: usize) -> usize {
        self.raw().word(off)
    }

    #[inline(always)]
    pub(crate) fn set_word(&mut self, off: usize, value: usize) {
        self.raw().set_word(off, value)
    }

    /// Reads the index field (a `u32`) at `off`.
    #[inline(always)]
    pub(crate) fn field(&self, off: usize) -> u32 {
        debug_assert!(off + 4 <= self.heap_len && off % 4 == 0, "field read at {off}");
        // SAFETY: callers pass `start + LEFT..HEIGHT` of a free block of a best-fit pool (only its tree has
        // fields), whose size is at least `MIN_BLOCK_BEST_FIT`, so the field lies inside the block;
        // `start + HEADER_SIZE` is 4-aligned.
        unsafe { self.base.as_ptr().add(off).cast::<u32>().read() }
    }

    #[inline(always)]
    pub(crate) fn set_field(&mut self, off: usize, value: u32) {
        debug_assert!(off + 4 <= self.heap_len && off % 4 == 0, "field write at {off}");
        // SAFETY: as in `field`; `&mut self` means no payload slice is alive.
        unsafe { self.base.as_ptr().add(off).cast::<u32>().write(value) }
    }

    /// The root of best-fit bin `bin` (a granule number), `NIL` if the bin is empty.
    #[inline(always)]
    pub(crate) fn bin_root(&self, bin: usize) -> u32 {
        assert!(bin < self.bins.count, "bin out of bounds");
        // SAFETY: the roots of `bins.count` bins lie inside the region (`from_raw_parts` laid them out in the
        // metadata it reserved), `bin` is among them (asserted), and they start 4-aligned: `base` is, and
        // the heap and the start bitmap before them are multiples of 8 bytes.
        unsafe { self.base.as_ptr().add(self.bins.roots + bin * 4).cast::<u32>().read() }
    }

    #[inline(always)]
    pub(crate) fn set_bin_root(&mut self, bin: usize, root: u32) {
        assert!(bin < self.bins.count, "bin out of bounds");
        // SAFETY: as in `bin_root`; `&mut self` means no payload slice is alive, and the roots lie outside the
        // heap, so no payload overlaps them.
        unsafe { self.base.as_ptr().add(self.bins.roots + bin * 4).cast::<u32>().write(root) }
    }

    /// Whether a block starts at heap offset `start` (a multiple of `GRANULE` below `heap_len`).
    #[inline(always)]
    pub(crate) fn start_bit(&self, start: usize) -> bool {
        debug_assert!(start < self.heap_len && start % GRANULE == 0);
        // The slot's whole word, whose bit index needs no masking on x86-64 (`bt` takes it modulo 64): fewer
        // instructions than a byte's.
        self.start_word(start / SLOT) >> (start / GRANULE % 64) & 1 != 0
    }

    #[inline(always)]
    pub(crate) fn set_start_bit(&mut self, start: usize, value: bool) {
        debug_assert!(start < self.heap_len && start % GRANULE == 0);
        if !value {
            // A start that goes away is no free block's start either.
            self.set_free_bit(start, false);
        }
        self.raw().set_start_bit(start, value);
    }

    /// The start bits of the 64 granules of `slot` (see [`Raw::start_word`]).
    #[inline(always)]
    pub(crate) fn start_word(&self, slot: usize) -> u64 {
        self.raw().start_word(slot)
    }

    #[inline(always)]
    fn set_start_word(&mut self, slot: usize, word: u64) {
        self.raw().set_start_word(slot, word)
    }

    /// The free-start bits of `slot` (first fit only): bit `i` set where a free block starts at granule
    /// `64 * slot + i`. Computed from the slot's free-pair word ([`Pool::free_pairs`]) and its start word:
    /// every block is at least 16 bytes, so at most one block starts in a pair, and a set pair bit names the
    /// one start bit of its pair. For the word at once (compaction); searches walk [`Pool::free_starts`].
    #[inline]
    pub(crate) fn free_word(&self, slot: usize) -> u64 {
        spread_pairs(self.free_pairs(slot)) & self.start_word(slot)
    }

    /// The starts of the free blocks of `slot` (first fit only), in address order, as heap offsets.
    #[inline(always)]
    pub(crate) fn free_starts(&self, slot: usize) -> FreeStarts {
        FreeStarts {
            slot_start: slot * SLOT,
            pairs: self.free_pairs(slot),
            odd: self.start_word(slot) >> 1,
        }
    }

    /// The free-pair bits of `slot` (first fit only): bit `j` set where the block starting at granule
    /// `64 * slot + 2 * j` or `+ 2 * j + 1` is free.
    #[inline(always)]
    pub(crate) fn free_pairs(&self, slot: usize) -> u32 {
        debug_assert!(self.summary.count() != 0);
        self.raw().free_pairs(slot)
    }

    /// Writes the start bits of `slot` and, under first fit, its free-start bits (bit `i` for granule
    /// `64 * slot + i`; stored as the pair bits of the free-pair bitmap), as whole words.
    #[inline(always)]
    pub(crate) fn set_bit_words(&mut self, slot: usize, start: u64, free: u64) {
        debug_assert_eq!(free & !start, 0, "a free start that is no block start");
        debug_assert_eq!(
            free & free >> 1 & 0x5555_5555_5555_5555,
            0,
            "two free starts in one pair"
        );
        self.set_start_word(slot, start);
        if self.summary.count() != 0 {
            self.set_free_pairs(slot, pair_bits(free));
        }
    }

    /// Writes the free-pair bits of `slot` (first fit only; see [`Pool::free_pairs`]).
    #[inline(always)]
    fn set_free_pairs(&mut self, slot: usize, pairs: u32) {
        debug_assert!(self.summary.count() != 0);
        self.raw().set_free_pairs(slot, pairs)
    }

    /// Sets or clears the free-pair bit of the granule pair holding `start` (nothing under best fit). At most
    /// one block starts in a pair, so the bit is that block's.
    #[inline(always)]
    pub(crate) fn set_free_bit(&mut self, start: usize, value: bool) {
        if self.summary.count() != 0 {
            self.raw().set_free_pair_bit(start, value);
        }
    }

    /// Node `node` of summary level `level`: its `FANOUT` entries, in their stored form (top bit flipped,
    /// see [`BIAS`]).
    #[inline(always)]
    pub(crate) fn summary_node(&self, level: usize, node: usize) -> &[u32; FANOUT] {
        let level = self.summary.level(level);
        assert!((node + 1) * FANOUT <= level.len, "summary node out of bounds");
        // SAFETY: the level's `len` entries lie inside the region (`from_raw_parts` laid them out within the
        // metadata it reserved), the node's entries are among them (asserted), and every level starts
        // 4-aligned: `base` is, the heap and bitmaps before it are multiples of 4 bytes, and the levels are
        // multiples of 64. `&self` keeps every writer (`&mut self` methods)
        // out while the reference lives.
        unsafe {
            &*self.base.as_ptr().add(level.offset + node * FANOUT * 4).cast::<[u32; FANOUT]>()
        }
    }

    /// Entry `i` of summary level `level`, as a value (unflipped; the setter flips it back).
    #[inline(always)]
    pub(crate) fn summary_entry(&self, level: usize, i: usize) -> u32 {
        let level = self.summary.level(level);
        assert!(i < level.len, "summary entry out of bounds");
        // SAFETY: as in `summary_node`, for one entry.
        unsafe { self.base.as_ptr().add(level.offset + i * 4).cast::<u32>().read() ^ BIAS }
    }

    #[inline(always)]
    pub(crate) fn set_summary_entry(&mut self, level: usize, i: usize, value: u32) {
        let level = self.summary.level(level);
        assert!(i < level.len, "summary entry out of bounds");
        // SAFETY: as in `summary_entry`; `&mut self` means no payload slice is alive, and the summary lies
        // outside the heap, so no payload overlaps it.
        unsafe { self.base.as_ptr().add(level.offset + i * 4).cast::<u32>().write(value ^ BIAS) }
    }

    /// [`Pool::summary_node`] without the bounds checks, for the nodes on the path of a checked slot (see
    /// [`Summary`]'s shape invariant).
    ///
    /// # Safety
    ///
    /// `level < self.summary.count()` and `(node + 1) * FANOUT <= ` that level's `len`.
    #[inline(always)]
    pub(crate) unsafe fn summary_node_unchecked(
        &self,
        level: usize,
        node: usize,
    ) -> &[u32; FANOUT] {
        // SAFETY: the caller's `level < count`.
        let level = unsafe { self.summary.level_unchecked(level) };
        debug_assert!((node + 1) * FANOUT <= level.len, "summary node out of bounds");
        // SAFETY: as in `summary_node`, the node's entries being among the level's by the caller's promise.
        unsafe {
            &*self.base.as_ptr().add(level.offset + node * FANOUT * 4).cast::<[u32; FANOUT]>()
        }
    }

    /// [`Pool::summary_entry`] in its stored form (see [`BIAS`]) without the bounds checks, for the entries on
    /// the path of a checked slot.
    ///
    /// # Safety
    ///
    /// `level < self.summary.count()` and `i <` that level's `len`.
    #[inline(always)]
    pub(crate) unsafe fn summary_stored_unchecked(&self, level: usize, i: usize) -> u32 {
        // SAFETY: the caller's `level < count`.
        let level = unsafe { self.summary.level_unchecked(level) };
        debug_assert!(i < level.len, "summary entry out of bounds");
        // SAFETY: as in `summary_entry`, `i < len` by the caller's promise.
        unsafe { self.base.as_ptr().add(level.offset + i * 4).cast::<u32>().read() }
    }

    /// [`Pool::set_summary_entry`] in its stored form (see [`BIAS`]) without the bounds checks, for the entries
    /// on the path of a checked slot.
    ///
    /// # Safety
    ///
    /// `level < self.summary.count()` and `i <` that level's `len`.
    #[inline(always)]
    pub(crate) unsafe fn set_summary_stored_unchecked(
        &mut self,
        level: usize,
        i: usize,
        stored: u32,
    ) {
        // SAFETY: the caller's `level < count`.
        let level = unsafe { self.summary.level_unchecked(level) };
        debug_assert!(i < level.len, "summary entry out of bounds");
        // SAFETY: as in `set_summary_entry`, `i < len` by the caller's promise.
        unsafe { self.base.as_ptr().add(level.offset + i * 4).cast::<u32>().write(stored) }
    }

    /// Copies `len` bytes from heap offset `from` to `to` (the ranges may overlap).
    pub(crate) fn copy_within(&mut self, from: usize, to: usize, len: usize) {
        debug_assert!(from.max(to) + len <= self.heap_len);
        // SAFETY: both ranges lie in the heap (blocks of this pool); `ptr::copy` allows overlap.
        unsafe { core::ptr::copy(self.base.as_ptr().add(from), self.base.as_ptr().add(to), len) }
    }

    /// Rotates the `len` heap bytes at `from` left by `mid`: the bytes at `from + mid..from + len` move to
    /// `from`, and the first `mid` bytes after them.
    pub(crate) fn rotate_bytes(&mut self, from: usize, len: usize, mid: usize) {
        debug_assert!(mid <= len && from + len <= self.heap_len);
        // SAFETY: the range lies in the heap (blocks of this pool), so inside the region; `&mut self` means no
        // payload slice is alive, so this slice is the only access to those bytes while it lives.
        let bytes = unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr().add(from), len) };
        bytes.rotate_left(mid);
    }

    /// The payload of the used block at `start`.
    #[inline]
    pub(crate) fn payload_at(&self, start: usize) -> &[u8] {
        let size = self.block_size(start);
        // SAFETY: a used block's payload `start + HEADER_SIZE .. start + size` lies in the heap; `&self`
        // keeps every `&mut self` method (the only writers) out while the slice lives.
        unsafe {
            core::slice::from_raw_parts(
                self.base.as_ptr().add(start + HEADER_SIZE),
                size - HEADER_SIZE,
            )
        }
    }

    /// Hints that the heap bytes at `off` will be read soon (a prefetch on x86-64, nothing elsewhere).
    #[inline(always)]
    pub(crate) fn prefetch(&self, off: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            let at = self.base.as_ptr().wrapping_add(off);
            // SAFETY: a prefetch reads nothing the program can observe and never faults, whatever the address;
            // `wrapping_add` keeps the pointer arithmetic defined even past the region's end.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(at.cast())
            };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = off;
    }

    /// The payload of the used block at `start`, whose size (header included) is `size`.
    #[inline(always)]
    pub(crate) fn payload_at_sized(&self, start: usize, size: usize) -> &[u8] {
        debug_assert_eq!(size, self.block_size(start));
        // SAFETY: as in `payload_at`; `size` is the block's size (asserted in debug builds, passed by callers
        // that just read it from the header).
        unsafe {
            core::slice::from_raw_parts(
                self.base.as_ptr().add(start + HEADER_SIZE),
                size - HEADER_SIZE,
            )
        }
    }

    #[inline]
    fn payload_at_mut(&mut self, start: usize) -> &mut [u8] {
        let size = self.block_size(start);
        self.payload_at_sized_mut(start, size)
    }

    /// The payload of the used block at `start`, whose size (header included) is `size`, to write.
    #[inline(always)]
    fn payload_at_sized_mut(&mut self, start: usize, size: usize) -> &mut [u8] {
        debug_assert_eq!(size, self.block_size(start));
        // SAFETY: as in `payload_at_sized`, and `&mut self` makes the slice the only access to those bytes.
        unsafe {
            core::slice::from_raw_parts_mut(
                self.base.as_ptr().add(start + HEADER_SIZE),
                size - HEADER_SIZE,
            )
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Headers and footers.

    #[inline(always)]
    pub(crate) fn header(&self, start: usize) -> (usize, BlockFlags) {
        tag::decode(self.word(start))
    }

    #[inline(always)]
    pub(crate) fn block_size(&self, start: usize) -> usize {
        self.header(start).0
    }

    #[inline(always)]
    pub(crate) fn set_header(&mut self, start: usize, size: usize, flags: BlockFlags) {
        self.set_word(start, tag::encode(size, flags));
    }

    /// Writes a free block's header and footer (`flags` may only hold `PREV_FREE`).
    #[inline(always)]
    pub(crate) fn write_free(&mut self, start: usize, size: usize, flags: BlockFlags) {
        debug_assert!(
            size >= self.min_block && !flags.intersects(BlockFlags::USED | BlockFlags::PINNED)
        );
        self.set_header(start, size, flags);
        self.set_word(start + size - WORD, size);
        self.set_free_bit(start, true);
    }

    /// Sets or clears `PREV_FREE` in the header at `start`, if `start` is inside the heap.
    #[inline(always)]
    pub(crate) fn set_prev_free(&mut self, start: usize, value: bool) {
        if start < self.heap_len {
            let (size, mut flags) = self.header(start);
            flags.set(BlockFlags::PREV_FREE, value);
            self.set_header(start, size, flags);
        }
    }

    #[inline(always)]
    pub(crate) fn is_free(&self, start: usize) -> bool {
        // Neither used nor cached (`PINNED` without `USED`, see `cache`).
        !self.header(start).1.intersects(BlockFlags::USED | BlockFlags::PINNED)
    }

    // ---------------------------------------------------------------------------------------------------
    // Checked names.

    /// Checks that `block` names a live block of this pool and returns its start, in O(1).
    #[inline]
    pub(crate) fn validate(&self, block: Block) -> Result<usize> {
        let offset = block.offset();
        // An offset below `HEADER_SIZE` wraps to a start beyond the heap.
        let start = offset.wrapping_sub(HEADER_SIZE);
        // Rotated, an offset off the granules has a high bit set: one compare checks both the alignment and
        // the bound, and leaves the granule's number for the start bitmap.
        let granule = start.rotate_right(GRANULE.trailing_zeros());
        if granule >= self.heap_len / GRANULE
            || self.start_word(granule / 64) >> (granule % 64) & 1 == 0
            || !self.header(start).1.contains(BlockFlags::USED)
        {
            return Err(Error::InvalidBlock { offset });
        }
        Ok(start)
    }

    /// The block whose payload starts at `offset`, if that is a live block of this pool.
    pub fn block_at(&self, offset: usize) -> Result<Block> {
        let block = Block::from_offset(offset).ok_or(Error::InvalidBlock { offset })?;
        self.validate(block).map(|_| block)
    }

    /// The payload of `block`: its usable bytes, at least as many as were asked for.
    #[inline]
    pub fn payload(&self, block: Block) -> Result<&[u8]> {
        let start = self.validate(block)?;
        Ok(self.payload_at(start))
    }

    /// The heap's bytes, read-only, at the offsets [`Block::offset`] counts from: every block's header and
    /// payload, and whatever free blocks hold. For a reader that keeps its own record of where its data lies
    /// (mem3-object reads numbers straight from here); reading needs no valid name, so it is safe for any
    /// offset the slice's bounds allow.
    #[inline(always)]
    pub fn heap_bytes(&self) -> &[u8] {
        // SAFETY: the heap is the region's first `heap_len` bytes from `base`; `&self` keeps every `&mut self`
        // method (the only writers) out while the slice lives.
        unsafe { core::slice::from_raw_parts(self.base.as_ptr(), self.heap_len) }
    }

    /// The payload of `block` for a caller that keeps its own record of the blocks it was given (a handle
    /// table, say) and so knows `block` is live: [`payload`](Pool::payload) without the start-bitmap lookup
    /// that makes a forged name harmless there. It is memory-safe for any name all the same: the header must
    /// say `USED` and the block must lie in the heap, so a wrong name gives `None` or bytes of the heap
    /// that mean nothing, never bytes outside it. Read-only: writing still takes a checked name
    /// ([`payload_mut`](Pool::payload_mut)).
    #[inline(always)]
    pub fn payload_unverified(&self, block: Block) -> Option<&[u8]> {
        // An offset below `HEADER_SIZE` wraps to a start beyond the heap.
        let start = block.offset().wrapping_sub(HEADER_SIZE);
        if start >= self.heap_len || start % GRANULE != 0 {
            return None;
        }
        // `start` is a granule inside the heap, so its header word is too (the heap is whole granules).
        let (size, flags) = self.header(start);
        if !flags.contains(BlockFlags::USED) || size < HEADER_SIZE || size > self.heap_len - start {
            return None;
        }
        // SAFETY: `start + HEADER_SIZE ..= start + size` lies in the heap (checked just above), so inside
        // the region; `&self` keeps every `&mut self` method (the only writers) out while the slice lives.
        Some(unsafe {
            core::slice::from_raw_parts(
                self.base.as_ptr().add(start + HEADER_SIZE),
                size - HEADER_SIZE,
            )
        })
    }

    /// The payload of `block`, writable.
    #[inline]
    pub fn payload_mut(&mut self, block: Block) -> Result<&mut [u8]> {
        let start = self.validate(block)?;
        Ok(self.payload_at_mut(start))
    }

    /// The number of usable bytes of `block`.
    pub fn usable_size(&self, block: Block) -> Result<usize> {
        let start = self.validate(block)?;
        Ok(self.block_size(start) - HEADER_SIZE)
    }

    /// Whether `block` is pinned.
    pub fn is_pinned(&self, block: Block) -> Result<bool> {
        let start = self.validate(block)?;
        Ok(self.header(start).1.contains(BlockFlags::PINNED))
    }

    /// Pins `block`: [`compact`](Pool::compact) leaves it where it is, and [`realloc`](Pool::realloc) may
    /// only resize it in place. Pinning a pinned block does nothing.
    pub fn pin(&mut self, block: Block) -> Result<()> {
        self.set_pinned(block, true)
    }

    /// Unpins `block`. Unpinning an unpinned block does nothing.
    pub fn unpin(&mut self, block: Block) -> Result<()> {
        self.set_pinned(block, false)
    }

    fn set_pinned(&mut self, block: Block, value: bool) -> Result<()> {
        let start = self.validate(block)?;
        let (size, mut flags) = self.header(start);
        flags.set(BlockFlags::PINNED, value);
        self.set_header(start, size, flags);
        Ok(())
    }

    // ---------------------------------------------------------------------------------------------------
    // Allocation.

    /// Allocates a block with at least `size` payload bytes, aligned to [`MIN_ALIGN`].
    ///
    /// A zero-size request gets a distinct block like any other.
    pub fn alloc(&mut self, size: usize) -> Result<Block> {
        if self.only_top_is_free() {
            if let Some((block, _)) = self.alloc_from_top(size) {
                return Ok(block);
            }
        }
        self.alloc_searched(size, MIN_ALIGN)
    }

    /// Allocates like [`alloc`](Pool::alloc) and returns the new block's payload with it, to be filled at once
    /// without [`payload_mut`](Pool::payload_mut)'s check of a name that is known to be good.
    ///
    /// The fast path (carving the top when it is the only free block) is inline here, so a caller that
    /// allocates only through this method (the object heap) carves the top without a call, and sizes the slice
    /// with the size it carved instead of reading the header back; `alloc` stays out of line for the pool's
    /// other callers.
    #[inline]
    pub fn alloc_with_payload(&mut self, size: usize) -> Result<(Block, &mut [u8])> {
        if self.only_top_is_free() {
            let carved = block_size_for(size, self.min_block)
                .and_then(|need| Some((self.carve_top(need)?, need)));
            if let Some((block, need)) = carved {
                return Ok((block, self.payload_at_sized_mut(block.offset() - HEADER_SIZE, need)));
            }
        }
        let block = self.alloc(size)?;
        Ok((block, self.payload_at_mut(block.offset() - HEADER_SIZE)))
    }

    /// Allocates like [`alloc`](Pool::alloc) a block of at least `N` payload bytes and returns its first `N`
    /// bytes as an array, for a caller whose objects have a size known at compile time (the object heap's
    /// numbers): the block's size is a constant when `N` is large enough for either policy's smallest block,
    /// and the caller writes the array without a length check.
    #[inline]
    pub fn alloc_with_array<const N: usize>(&mut self) -> Result<(Block, &mut [u8; N])> {
        match self.carve_array_block::<N>() {
            Some((block, need)) => Ok((block, self.array_at(block, need))),
            None => self.alloc_array_searched(),
        }
    }

    /// [`Pool::alloc_with_array`]'s fast path alone, with no call in it: the block carved off the top when
    /// the top is the only free block and holds it with a remainder, else `None`, having changed nothing
    /// (then `alloc_with_array` places the block, as `alloc` would have). For a caller whose fast path
    /// should save no registers, with everything else out of line.
    #[inline(always)]
    pub fn carve_with_array<const N: usize>(&mut self) -> Option<(Block, &mut [u8; N])> {
        let (block, need) = self.carve_array_block::<N>()?;
        Some((block, self.array_at(block, need)))
    }

    /// The top carved for a block of `N` payload bytes, and the block's size, if the top is the only free
    /// block and holds it with a remainder.
    #[inline(always)]
    fn carve_array_block<const N: usize>(&mut self) -> Option<(Block, usize)> {
        if !self.only_top_is_free() {
            return None;
        }
        // Both policies' smallest blocks are at most `MIN_BLOCK_BEST_FIT`: a request whose block is at least
        // that has the same block under either, a constant.
        let need = match block_size_for(N, MIN_BLOCK_BEST_FIT) {
            Some(need) if need == block_size_for(N, 0).unwrap_or(0) => need,
            _ => block_size_for(N, self.min_block)?,
        };
        Some((self.carve_top(need)?, need))
    }

    /// The first `N` payload bytes of the used block `block` of `size` bytes, carved for them.
    #[inline(always)]
    fn array_at<const N: usize>(&mut self, block: Block, size: usize) -> &mut [u8; N] {
        match self.payload_at_sized_mut(block.offset() - HEADER_SIZE, size).first_chunk_mut() {
            Some(array) => array,
            None => unreachable!("a block carved for `N` payload bytes holds them"),
        }
    }

    /// [`Pool::alloc_with_array`] when the top is not carved.
    #[inline(never)]
    fn alloc_array_searched<const N: usize>(&mut self) -> Result<(Block, &mut [u8; N])> {
        let block = self.alloc_searched(N, MIN_ALIGN)?;
        let payload = self.payload_at_mut(block.offset() - HEADER_SIZE);
        match payload.first_chunk_mut() {
            Some(array) => Ok((block, array)),
            None => unreachable!("a block allocated for `N` payload bytes holds them"),
        }
    }

    /// Allocates a block with at least `size` payload bytes whose payload address is a multiple of `align`
    /// (a power of two).
    pub fn alloc_aligned(&mut self, size: usize, align: usize) -> Result<Block> {
        // The search, the usual case, is a tail call: the carve is out of line, so that this function saves
        // no registers.
        if !self.only_top_is_free() {
            return self.alloc_searched(size, align);
        }
        self.alloc_aligned_top(size, align)
    }

    /// [`Pool::alloc_aligned`] when the top is the only free block (tested by the caller), out of line.
    #[inline(never)]
    fn alloc_aligned_top(&mut self, size: usize, align: usize) -> Result<Block> {
        self.alloc_top_first(size, align)
    }

    /// [`Pool::alloc_aligned`], inline in `realloc_aligned`.
    #[inline(always)]
    fn alloc_aligned_inline(&mut self, size: usize, align: usize) -> Result<Block> {
        if self.only_top_is_free() {
            self.alloc_top_first(size, align)
        } else {
            self.alloc_searched(size, align)
        }
    }

    /// An allocation when the top is the only free block: carved off the top if the alignment is a usual
    /// one and the top holds the block, else searched.
    #[inline(always)]
    fn alloc_top_first(&mut self, size: usize, align: usize) -> Result<Block> {
        if is_usual_align(align) {
            if let Some((block, _)) = self.alloc_from_top(size) {
                return Ok(block);
            }
        }
        self.alloc_searched(size, align)
    }

    /// Whether the top is the only free block (a heap growing, or just compacted), with nothing in the front
    /// cache: then it is the one candidate of either policy and either search.
    #[inline(always)]
    fn only_top_is_free(&self) -> bool {
        self.free_blocks == 1 && self.cache.blocks == 0
    }

    /// The fast path of [`alloc`](Pool::alloc) and [`alloc_aligned`](Pool::alloc_aligned) when
    /// [`only_top_is_free`](Pool::only_top_is_free): the block carved off the top without a search, if the
    /// top holds it, and the block's size. The search is out of line, so that this path does not pay its
    /// prologue.
    #[inline(always)]
    fn alloc_from_top(&mut self, size: usize) -> Option<(Block, usize)> {
        let need = block_size_for(size, self.min_block)?;
        Some((self.carve_top(need)?, need))
    }

    /// Every allocation [`Pool::alloc_from_top`] does not serve.
    #[inline(never)]
    fn alloc_searched(&mut self, size: usize, align: usize) -> Result<Block> {
        // The usual alignment gets a copy of its own, in which no padding is ever computed.
        if is_usual_align(align) {
            if self.default_config {
                // The default configuration's usual case: one test of the configuration, the smallest block
                // a constant, and no front cache to ask. A block of `need <= heap_len` bytes holds `size`
                // exactly when `size <= heap_len - HEADER_SIZE` (`heap_len` is a multiple of `GRANULE`, at
                // least the smallest block), one compare instead of an overflow check and a bound.
                if size <= self.heap_len - HEADER_SIZE {
                    let need = ((size + HEADER_SIZE + GRANULE - 1) & !(GRANULE - 1)).max(MIN_BLOCK);
                    debug_assert_eq!(
                        Some(need),
                        block_size_for(size, Policy::FirstFit.min_block())
                    );
                    if let Some(found) = self.summary_find(need, MIN_ALIGN) {
                        return Ok(self.take_found(found, need, true));
                    }
                }
                return self.alloc_searched_slow(size);
            }
            self.alloc_searched_at(size, MIN_ALIGN)
        } else {
            self.alloc_searched_at(size, align)
        }
    }

    /// [`Pool::alloc_searched`] for `MIN_ALIGN` when the default configuration's search found no indexed
    /// block for the `need` bytes of a `size`-byte request (`None`: too large for the heap): the top, else
    /// the failure, out of line.
    #[inline(never)]
    fn alloc_searched_slow(&mut self, size: usize) -> Result<Block> {
        let Some(need) = block_size_for(size, self.min_block).filter(|&need| need <= self.heap_len)
        else {
            return Err(self.out_of_memory(size));
        };
        // The top's usual case, a carve with a rest to split off, without `take`'s branches.
        if let Some(block) = self.carve_top(need) {
            return Ok(block);
        }
        let (start, pad) = self
            .top_fit(need, MIN_ALIGN)
            .or_else(|| self.find_after_merging(need, MIN_ALIGN))
            .ok_or_else(|| self.out_of_memory(size))?;
        Ok(self.take(start, pad, need))
    }

    /// [`Pool::alloc_searched`] for `align`, inline in it.
    #[inline(always)]
    fn alloc_searched_at(&mut self, size: usize, align: usize) -> Result<Block> {
        if !align.is_power_of_two() {
            return Err(Error::BadAlignment { align });
        }
        let align = align.max(MIN_ALIGN);
        let Some(need) = block_size_for(size, self.min_block).filter(|&need| need <= self.heap_len)
        else {
            return Err(self.out_of_memory(size));
        };
        if self.cache.blocks != 0 && align == MIN_ALIGN && need <= CACHE_MAX {
            if let Some(start) = self.cache_pop(need) {
                return Ok(Block::at(start));
            }
        }
        // The default configuration's search inline; the others, and the retry, out of line.
        let found = if self.config.policy == Policy::FirstFit && self.config.search == Search::Index
        {
            if let Some(found) = self.summary_find(need, align) {
                return Ok(self.take_found(found, need, false));
            }
            self.top_fit(need, align)
        } else if self.config.search == Search::Index && align == MIN_ALIGN {
            // Best fit's usual case: the search and the take in one.
            if let Some(block) = self.bins_alloc(need) {
                return Ok(block);
            }
            None
        } else {
            self.find_placement(need, align)
        };
        let (start, pad) = match found {
            Some(found) => found,
            None => self.find_after_merging(need, align).ok_or_else(|| self.out_of_memory(size))?,
        };
        Ok(self.take(start, pad, need))
    }

    /// The placement of a request the search found no block for, once the cached blocks are freed and the
    /// deferred ones merged; they are only when a merged run would hold the block, so a failure changes
    /// nothing.
    #[cold]
    #[inline(never)]
    fn find_after_merging(&mut self, need: usize, align: usize) -> Option<(usize, usize)> {
        if (self.cache.blocks != 0 || self.config.coalescing == Coalescing::Deferred)
            && self.merged_run_fits(need, align)
        {
            self.coalesce();
            self.find_placement(need, align)
        } else {
            None
        }
    }

    /// The error a request for `requested` payload bytes fails with now: [`Error::OutOfMemory`] with the pool's
    /// free bytes and largest free block. Allocations make their errors with it, and so can code above the
    /// pool that refuses a request itself (mem3-object, for an object too long for its header).
    pub fn out_of_memory(&self, requested: usize) -> Error {
        Error::OutOfMemory { requested, free: self.free_size(), largest_free: self.largest_free() }
    }

    /// The largest free block's size.
    pub fn largest_free(&self) -> usize {
        let indexed = match self.config.policy {
            Policy::FirstFit => self.summary_max(),
            Policy::BestFit => self.bins_max(),
        };
        (indexed as usize * GRANULE).max(self.top_size()).max(self.cache_largest())
    }

    /// The padding needed in the free block at `start` (of `size` bytes) to place a `need`-byte block whose
    /// payload is `align`-aligned, if it fits. A padding below the smallest block is only possible when the block
    /// before is used and near enough to find ([`Pool::absorbing_neighbour`]): it takes the padding. Any other
    /// padding becomes a free block of its own, so it is at least the smallest block.
    #[inline]
    pub(crate) fn fit(
        &self,
        start: usize,
        size: usize,
        need: usize,
        align: usize,
    ) -> Option<usize> {
        let payload = self.base.as_ptr().addr().wrapping_add(start + HEADER_SIZE);
        let mut pad = payload.wrapping_neg() & (align - 1);
        if pad.checked_add(need)? > size {
            return None;
        }
        if pad != 0 && pad < self.min_block && self.absorbing_neighbour(start).is_none() {
            pad += round_up(self.min_block - pad, align);
        }
        (pad.checked_add(need)? <= size).then_some(pad)
    }

    /// The start of the used block just before the free block at `start`, if it begins at most
    /// `ABSORB_REACH` bytes earlier, found by scanning the block-start bitmap backwards (used blocks have no
    /// footer), and not in the front cache. Such a block can absorb a padding smaller than the smallest
    /// block.
    pub(crate) fn absorbing_neighbour(&self, start: usize) -> Option<usize> {
        /// How far back the scan looks: 512 granules, at most nine words of the start bitmap, read a word (a
        /// slot) at a time from the nearest.
        const ABSORB_REACH: usize = 4096;
        if start == 0 || self.header(start).1.contains(BlockFlags::PREV_FREE) {
            return None;
        }
        let lowest = start.saturating_sub(ABSORB_REACH) / GRANULE;
        // Granules below `end` are yet to be scanned, a slot's word at a time, highest first.
        let mut end = start / GRANULE;
        while end > lowest {
            let slot = (end - 1) / 64;
            // The start bits of the slot's granules below `end`.
            let bits = self.start_word(slot) & (u64::MAX >> (63 - (end - 1) % 64));
            if bits != 0 {
                let granule = slot * 64 + (63 - bits.leading_zeros()) as usize;
                // Not a block in the front cache, whose size is its list's.
                return (granule >= lowest
                    && self.header(granule * GRANULE).1.contains(BlockFlags::USED))
                .then_some(granule * GRANULE);
            }
            end = slot * 64;
        }
        None
    }

    /// Finds the free block the policy picks for a `need`-byte block aligned to `align`, and the padding
    /// at its start.
    fn find_placement(&mut self, need: usize, align: usize) -> Option<(usize, usize)> {
        match self.config.search {
            Search::Index => self.index_find(need, align),
            Search::Linear => self.linear_find(need, align),
        }
    }

    /// The reference search: a walk over every block in address order.
    fn linear_find(&self, need: usize, align: usize) -> Option<(usize, usize)> {
        let mut best: Option<(usize, usize, usize)> = None;
        for info in self.blocks() {
            // Free, and not in the front cache.
            if !self.is_free(info.start) {
                continue;
            }
            if let Some(pad) = self.fit(info.start, info.size, need, align) {
                match self.config.policy {
                    Policy::FirstFit => return Some((info.start, pad)),
                    Policy::BestFit => {
                        if best.is_none_or(|(_, _, size)| info.size < size) {
                            best = Some((info.start, pad, info.size));
                        }
                    }
                }
            }
        }
        best.map(|(start, pad, _)| (start, pad))
    }

    /// The fast path of an allocation when the top is the only free block: carves `need` bytes off its front,
    /// if it is there and holds them with a remainder to split off (else `None`, having changed nothing, and
    /// the general path decides). What [`Pool::take`] does for that case, without the search or its branches,
    /// and with the base and offsets read once into registers (see `Raw`). (Under `alloc_aligned_top`, whose
    /// registers are few, this form cost gcc-as 0.3% over one that read them through `self`; the object
    /// heap's ways in gained 2.2%.)
    #[inline(always)]
    fn carve_top(&mut self, need: usize) -> Option<Block> {
        let top = self.top;
        // Read before the stores into the region, after which they would be read again (see `Raw`).
        let first_fit = self.summary.count() != 0;
        let r = self.raw();
        if top >= r.heap_len {
            return None;
        }
        let (size, flags) = tag::decode(r.word(top));
        // At least `SPLIT_MIN` must be left (`need` is at least the smallest block, never 0, so a top below
        // `SPLIT_MIN` fails too): one compare, where `checked_sub` and a filter took two branches.
        if need > size.saturating_sub(SPLIT_MIN) {
            return None;
        }
        let rest = size - need;
        // The payload of a block at a granule is `MIN_ALIGN`-aligned: no padding.
        debug_assert_eq!(self.fit(top, size, need, MIN_ALIGN), Some(0));
        let rest_start = top + need;
        r.set_word(top, tag::encode(need, BlockFlags::USED | (flags & BlockFlags::PREV_FREE)));
        // The rest's header and footer, and the free bit moved from the top's pair to the rest's.
        r.set_word(rest_start, tag::encode(rest, BlockFlags::empty()));
        r.set_word(rest_start + rest - WORD, rest);
        if first_fit {
            if rest_start / SLOT == top / SLOT {
                // One read-modify-write of the slot's free-pair word, as a carve nearly always does.
                r.move_free_pair_bit_in_slot(top, rest_start);
            } else {
                r.set_free_pair_bit(top, false);
                r.set_free_pair_bit(rest_start, true);
            }
        }
        r.add_start_bit(rest_start);
        self.top = rest_start;
        self.used_blocks += 1;
        self.used_size += need;
        self.peak_extent = self.peak_extent.max(rest_start);
        // SAFETY: `top < heap_len <= MAX_HEAP`.
        Some(unsafe { Block::at_unchecked(top) })
    }

    /// Carves a used block of `need` bytes out of the free block at `start`, `pad` bytes in, and returns it.
    #[inline(always)]
    pub(crate) fn take(&mut self, start: usize, pad: usize, need: usize) -> Block {
        if pad == 0 { self.take_front(start, need) } else { self.take_padded(start, pad, need) }
    }

    /// [`Pool::take`] without padding, the usual case: the used block at the free block's start, the rest
    /// (if large enough to split off) staying free after it.
    #[inline(always)]
    fn take_front(&mut self, start: usize, need: usize) -> Block {
        let (size, flags) = self.header(start);
        let rest = size - need;
        // Update the free set first: the rest, if any, keeps the block's place in key order.
        let split = rest >= SPLIT_MIN;
        if split {
            self.free_replace_sized(start, size, start + need, rest, BlockFlags::empty());
        } else {
            self.free_remove(start);
            self.free_blocks -= 1;
        }
        self.take_front_rest(start, size, flags, need, split)
    }

    /// [`Pool::take_front`] of a best-fit block already removed from its bin (not the top, so neither is
    /// its rest): the rest, if split off, is indexed afresh.
    pub(crate) fn take_detached(&mut self, start: usize, need: usize) -> Block {
        let (size, flags) = self.header(start);
        let rest = size - need;
        let split = rest >= SPLIT_MIN;
        if split {
            self.write_free(start + need, rest, BlockFlags::empty());
            self.index_insert(start + need);
        } else {
            self.free_blocks -= 1;
        }
        self.take_front_rest(start, size, flags, need, split)
    }

    /// The end of a take of the front of the free block at `start` (of `size` bytes, header flags `flags`)
    /// whose free set is updated: the used block's tags and bits, and the counters.
    #[inline(always)]
    fn take_front_rest(
        &mut self,
        start: usize,
        size: usize,
        flags: BlockFlags,
        need: usize,
        split: bool,
    ) -> Block {
        let (used_size, rest_start) =
            if split { (need, start + need) } else { (size, start + size) };
        self.set_header(start, used_size, BlockFlags::USED | (flags & BlockFlags::PREV_FREE));
        self.set_free_bit(start, false);
        if split {
            self.set_start_bit(rest_start, true);
        } else {
            self.set_prev_free(rest_start, false);
        }
        self.used_blocks += 1;
        self.used_size += used_size;
        self.peak_extent = self.peak_extent.max(rest_start);
        self.summary_settle();
        Block::at(start)
    }

    /// [`Pool::take`] of the block a first-fit search found: without padding, [`Pool::take_front`] with what
    /// the search read (the header, and whether the block holds its slot's entry) instead of reading it
    /// again, and for a block that is not the top. `default`: the pool has the default configuration, so a used
    /// block follows the free one (no two free blocks are adjacent, none is cached), and its end is within
    /// `peak_extent` already: the take leaves it alone.
    #[inline(always)]
    fn take_found(&mut self, found: Found, need: usize, default: bool) -> Block {
        let Found { start, pad, size, flags, lowers } = found;
        if pad != 0 {
            return self.take_padded(start, pad, need);
        }
        debug_assert_eq!((size, flags), self.header(start));
        debug_assert!(start != self.top && self.config.policy == Policy::FirstFit);
        let rest = size - need;
        let split = rest >= SPLIT_MIN;
        let slot = slot_of(start);
        // The block is not the top, so it is not the last block: neither is the rest, and a block follows it.
        let used_flags = BlockFlags::USED | (flags & BlockFlags::PREV_FREE);
        // The base and offsets in registers (see `Raw`).
        let r = self.raw();
        // The slot's free-pair bits after the take: when they name one block, or none, the slot's new
        // maximum is known without a walk of its blocks (the top's pair counts as a block, so a slot that
        // holds the top is walked).
        let (used_size, rest_start, left) = if split {
            let rest_start = start + need;
            // The rest's header and footer; its free bit moves from the block's pair, in one word of the
            // free-pair bitmap when both are in one slot.
            r.set_word(rest_start, rest);
            r.set_word(rest_start + rest - WORD, rest);
            let pairs = r.free_pairs(slot) & !free_pair_mask(start);
            let left = if slot_of(rest_start) != slot {
                r.set_free_pairs(slot, pairs);
                r.set_free_pair_bit(rest_start, true);
                self.summary_raise(rest_start, rest);
                (pairs == 0).then_some(0)
            } else {
                r.set_free_pairs(slot, pairs | free_pair_mask(rest_start));
                (pairs == 0).then_some((rest / GRANULE) as u32)
            };
            r.add_start_bit(rest_start);
            r.set_word(start, tag::encode(need, used_flags));
            (need, rest_start, left)
        } else {
            self.free_blocks -= 1;
            r.set_word(start, tag::encode(size, used_flags));
            let pairs = r.free_pairs(slot) & !free_pair_mask(start);
            r.set_free_pairs(slot, pairs);
            // A block follows, since this one is not the top.
            let next = start + size;
            r.set_word(next, r.word(next) & !BlockFlags::PREV_FREE.bits());
            (size, start + size, (pairs == 0).then_some(0))
        };
        self.used_blocks += 1;
        self.used_size += used_size;
        if default {
            debug_assert!(self.default_config && rest_start < self.peak_extent);
        } else {
            self.peak_extent = self.peak_extent.max(rest_start);
        }
        if lowers {
            self.summary_lowered(slot, left);
        }
        // SAFETY: `start` is the start of a block of the heap, below `heap_len <= MAX_HEAP`.
        unsafe { Block::at_unchecked(start) }
    }

    /// [`Pool::take`] with padding in front of the used block (larger alignments).
    #[inline(never)]
    fn take_padded(&mut self, start: usize, pad: usize, need: usize) -> Block {
        let (size, flags) = self.header(start);
        let used = start + pad;
        let rest = size - pad - need;
        let (used_size, rest_size) =
            if rest >= SPLIT_MIN { (need, rest) } else { (need + rest, 0) };
        let rest_start = used + used_size;
        // A padding below the smallest block goes to the used block before (see `fit`); a larger one stays free.
        let (kept_pad, absorbed) = if pad >= self.min_block { (pad, 0) } else { (0, pad) };
        if absorbed != 0 {
            let prev = self
                .absorbing_neighbour(start)
                .expect("fit found a neighbour to absorb the padding");
            let (prev_size, prev_flags) = self.header(prev);
            self.set_header(prev, prev_size + absorbed, prev_flags);
        }
        // Update the free set first: the pieces that stay free keep their places in key order.
        match (kept_pad, rest_size) {
            (0, 0) => {
                self.free_remove(start);
                self.free_blocks -= 1;
            }
            (0, _) => self.free_replace(start, rest_start, rest_size, BlockFlags::empty()),
            (_, 0) => self.free_replace(start, start, pad, flags),
            (_, _) => {
                self.free_replace(start, start, pad, flags);
                self.write_free(rest_start, rest_size, BlockFlags::empty());
                self.free_insert_sized(rest_start, rest_size);
                self.free_blocks += 1;
            }
        }
        let used_flags =
            if kept_pad == 0 { flags & BlockFlags::PREV_FREE } else { BlockFlags::PREV_FREE };
        self.set_header(used, used_size, BlockFlags::USED | used_flags);
        if pad == 0 {
            self.set_free_bit(start, false);
        }
        if absorbed != 0 {
            self.set_start_bit(start, false);
        }
        if pad != 0 {
            self.set_start_bit(used, true);
        }
        if rest_size != 0 {
            self.set_start_bit(rest_start, true);
        } else {
            self.set_prev_free(rest_start, false);
        }
        self.used_blocks += 1;
        self.used_size += absorbed + used_size;
        self.peak_extent = self.peak_extent.max(rest_start);
        self.summary_settle();
        Block::at(used)
    }

    // ---------------------------------------------------------------------------------------------------
    // Freeing.

    /// Frees `block`. With immediate coalescing it merges with its free neighbours at once; with the front
    /// cache on, a small block goes on the cache's list of its size instead.
    #[inline]
    pub fn free(&mut self, block: Block) -> Result<()> {
        if self.default_config {
            self.free_default(block)
        } else if self.config.front_cache {
            self.free_with_cache(block)
        } else {
            self.free_without_cache(block)
        }
    }

    /// `free` in the default configuration (first fit, immediate coalescing, no front cache), tested once in
    /// `free`: the validation and the specialised release, with no further test of the configuration.
    #[inline(never)]
    fn free_default(&mut self, block: Block) -> Result<()> {
        let start = self.validate(block)?;
        self.release_first_fit(start);
        Ok(())
    }

    /// `free` without the front cache: the validation and the release in one function.
    #[inline(never)]
    fn free_without_cache(&mut self, block: Block) -> Result<()> {
        let start = self.validate(block)?;
        self.release_dispatch(start);
        Ok(())
    }

    /// Frees the used block at `start`. The default configuration (first fit, immediate coalescing) is
    /// tested once, here: its usual free, a block with no free neighbour, then needs no further check of
    /// the configuration and no settle.
    #[inline(always)]
    fn release_dispatch(&mut self, start: usize) {
        if self.summary.count() != 0 && self.config.coalescing == Coalescing::Immediate {
            self.release_first_fit(start);
        } else {
            self.release_other(start);
        }
    }

    /// [`Pool::release`] for the configurations but the default one, out of line.
    #[inline(never)]
    fn release_other(&mut self, start: usize) {
        self.release_inline(start);
    }

    /// [`Pool::release`] under first fit with immediate coalescing, with no further check of the
    /// configuration. The region's base and offsets are read once, into [`Raw`]: read through `self` they
    /// would be read again after every store into the region. A block with no free neighbour (the usual
    /// case) raises its slot and marks nothing, so it needs no settle.
    #[inline(always)]
    fn release_first_fit(&mut self, start: usize) {
        debug_assert!(self.summary.count() != 0 && self.config.coalescing == Coalescing::Immediate);
        let r = self.raw();
        let (size, flags) = tag::decode(r.word(start));
        let next = start + size;
        self.used_blocks -= 1;
        self.used_size -= size;
        // The heap's end reads as a used block.
        let next_word = if next < r.heap_len { r.word(next) } else { BlockFlags::USED.bits() };
        let next_free = next_word & (BlockFlags::USED | BlockFlags::PINNED).bits() == 0;
        let next_size = next_word & tag::SIZE_MASK;
        if !flags.contains(BlockFlags::PREV_FREE) {
            if !next_free {
                self.free_blocks += 1;
                r.set_word(start, size);
                r.set_word(next - WORD, size);
                r.set_free_pair_bit(start, true);
                if next == r.heap_len {
                    debug_assert!(self.top >= r.heap_len, "two top blocks");
                    self.top = start;
                } else {
                    // SAFETY: the pool has a summary (first fit), and `start < next < heap_len`.
                    unsafe { self.summary_raise_unchecked(start, size) };
                    r.set_word(next, next_word | BlockFlags::PREV_FREE.bits());
                }
                return;
            }
            // The freed block takes the place of its free successor.
            let merged = size + next_size;
            r.clear_start_bit(next);
            r.set_free_pair_bit(next, false);
            r.set_free_pair_bit(start, true);
            r.set_word(start, merged);
            r.set_word(start + merged - WORD, merged);
            if next == self.top {
                self.top = start;
                return;
            }
            // A free block that ends the heap is the top, so neither it nor the merged block does.
            if slot_of(next) != slot_of(start) {
                self.summary_lower(next, next_size);
            }
            // SAFETY: as above, `start < next < heap_len`.
            unsafe { self.summary_raise_unchecked(start, merged) };
        } else {
            let prev = start - r.word(start - WORD);
            let (prev_size, prev_flags) = tag::decode(r.word(prev));
            // The freed block was used, so its free-pair bit is clear already.
            r.clear_start_bit(start);
            let mut merged = prev_size + size;
            if next_free {
                merged += next_size;
                self.free_blocks -= 1;
                r.clear_start_bit(next);
                r.set_free_pair_bit(next, false);
                if next == self.top {
                    self.top = r.heap_len;
                } else {
                    self.summary_lower(next, next_size);
                }
            }
            r.set_word(prev, tag::encode(merged, prev_flags));
            r.set_word(prev + merged - WORD, merged);
            // `prev` is followed by a used block, so it is not the top.
            if prev + merged == r.heap_len {
                self.summary_lower(prev, prev_size);
                self.top = prev;
            } else {
                // SAFETY: as above, `prev < start < heap_len`.
                unsafe { self.summary_raise_unchecked(prev, merged) };
                if !next_free {
                    r.set_word(next, next_word | BlockFlags::PREV_FREE.bits());
                }
            }
        }
        self.summary_settle();
    }

    /// `free` with the front cache on: a function of its own, so that neither path pays for the other's
    /// registers.
    #[inline(never)]
    fn free_with_cache(&mut self, block: Block) -> Result<()> {
        let start = self.validate(block)?;
        self.free_used(start);
        Ok(())
    }

    /// Frees the used block at `start`: into the front cache if it takes it, else for real.
    #[inline]
    fn free_used(&mut self, start: usize) {
        if !(self.config.front_cache && self.cache_push(start, self.block_size(start))) {
            self.release(start);
        }
    }

    /// Frees the used block at `start`.
    pub(crate) fn release(&mut self, start: usize) {
        self.release_dispatch(start);
    }

    /// [`Pool::release`] for any configuration.
    #[inline(always)]
    fn release_inline(&mut self, start: usize) {
        let (size, flags) = self.header(start);
        self.used_blocks -= 1;
        self.used_size -= size;
        let next = start + size;
        let prev_free = flags.contains(BlockFlags::PREV_FREE);
        if self.config.coalescing == Coalescing::Deferred {
            self.write_free(start, size, flags & BlockFlags::PREV_FREE);
            self.free_insert(start);
            self.free_blocks += 1;
            self.set_prev_free(next, true);
            return;
        }
        self.merge_freed(start, size, prev_free, next);
        self.summary_settle();
    }

    /// Frees the block at `start` of `size` bytes into its free neighbours (immediate coalescing).
    #[inline(always)]
    fn merge_freed(&mut self, start: usize, size: usize, prev_free: bool, next: usize) {
        let next_free = next < self.heap_len && self.is_free(next);
        match (prev_free, next_free) {
            (false, false) => {
                self.write_free(start, size, BlockFlags::empty());
                self.free_insert_sized(start, size);
                self.free_blocks += 1;
                self.set_prev_free(next, true);
            }
            (false, true) => {
                // The freed block takes the place of its free successor.
                let next_size = self.block_size(next);
                self.set_start_bit(next, false);
                self.free_replace_sized(
                    next,
                    next_size,
                    start,
                    size + next_size,
                    BlockFlags::empty(),
                );
            }
            (true, false) => {
                let prev = start - self.word(start - WORD);
                let (prev_size, prev_flags) = self.header(prev);
                self.set_start_bit(start, false);
                self.free_replace_sized(prev, prev_size, prev, prev_size + size, prev_flags);
                self.set_prev_free(next, true);
            }
            (true, true) => {
                let prev = start - self.word(start - WORD);
                let (prev_size, prev_flags) = self.header(prev);
                let next_size = self.block_size(next);
                self.free_remove(next);
                self.free_blocks -= 1;
                self.set_start_bit(start, false);
                self.set_start_bit(next, false);
                self.free_replace_sized(
                    prev,
                    prev_size,
                    prev,
                    prev_size + size + next_size,
                    prev_flags,
                );
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Resizing.

    /// Resizes `block` to at least `new_size` payload bytes, keeping its contents (up to the smaller size).
    ///
    /// It shrinks in place, grows in place when the next block is free and large enough, and otherwise moves
    /// the contents to a new block (aligned to [`MIN_ALIGN`]) and frees the old one. Under first fit, a block
    /// shrunk to at most a quarter of its size (freeing at least 4 KiB) moves down instead, to the lowest free
    /// block that holds it, when one lies below it. If no free block holds the new size but the block with
    /// its free neighbours does, it moves down to its free predecessor's start and takes what it needs of the
    /// three (as freeing it and then allocating would place it). On error `block` is unchanged and still
    /// valid.
    pub fn realloc(&mut self, block: Block, new_size: usize) -> Result<Block> {
        self.realloc_aligned(block, new_size, MIN_ALIGN)
    }

    /// As [`realloc`](Pool::realloc), keeping the payload `align`-aligned (a power of two).
    pub fn realloc_aligned(
        &mut self,
        block: Block,
        new_size: usize,
        align: usize,
    ) -> Result<Block> {
        let start = self.validate(block)?;
        if !align.is_power_of_two() {
            return Err(Error::BadAlignment { align });
        }
        let Some(need) =
            block_size_for(new_size, self.min_block).filter(|&need| need <= self.heap_len)
        else {
            return Err(self.out_of_memory(new_size));
        };
        let (size, flags) = self.header(start);
        // Every payload has the usual alignments; a larger one is the block's if its address has it.
        if is_usual_align(align) || self.payload_is_aligned(start, align) {
            if need <= size {
                if self.config.policy == Policy::FirstFit
                    && size - need >= SHRINK_MOVE_MIN
                    && need <= size / SHRINK_MOVE_RATIO
                    && !flags.contains(BlockFlags::PINNED)
                {
                    if let Some(moved) = self.shrink_down(start, need, align) {
                        return Ok(moved);
                    }
                }
                self.shrink(start, need);
                return Ok(block);
            }
            if self.grow_in_place(start, need) {
                return Ok(block);
            }
        }
        if flags.contains(BlockFlags::PINNED) {
            return Err(Error::Pinned { offset: block.offset() });
        }
        let new = match self.alloc_aligned_inline(new_size, align) {
            Ok(new) => new,
            Err(error) => return self.grow_into_neighbours(start, need, align).ok_or(error),
        };
        let new_start = new.offset() - HEADER_SIZE;
        let len = (size - HEADER_SIZE).min(self.block_size(new_start) - HEADER_SIZE);
        self.copy_within(start + HEADER_SIZE, new_start + HEADER_SIZE, len);
        self.free_used(start);
        Ok(new)
    }

    /// Under first fit, a resize that shrinks a block to at most a quarter of its size, freeing at least
    /// `SHRINK_MOVE_MIN` bytes, moves it to the lowest free block that holds it if that lies below it: taken as
    /// an allocation takes it (the same search, so the linear reference places it identically), the contents
    /// copied, the old block freed. `None` if there is none below: the block shrinks in place.
    #[inline(never)]
    fn shrink_down(&mut self, start: usize, need: usize, align: usize) -> Option<Block> {
        let (found, pad) = self.find_placement(need, align)?;
        if found >= start {
            return None;
        }
        let new = self.take(found, pad, need);
        let new_start = new.offset() - HEADER_SIZE;
        self.copy_within(start + HEADER_SIZE, new_start + HEADER_SIZE, need - HEADER_SIZE);
        self.free_used(start);
        Some(new)
    }

    /// Whether the payload of a block at `start` has the alignment `align` (a power of two).
    #[inline(always)]
    fn payload_is_aligned(&self, start: usize, align: usize) -> bool {
        self.base.as_ptr().addr().wrapping_add(start + HEADER_SIZE) % align == 0
    }

    /// A resize's last resort, when no free block holds its `need` bytes: the used block at `start` with its
    /// free predecessor (and its free successor, if the two are not enough) becomes one block of `need` bytes
    /// at the predecessor's start, the contents moved down. `None`, changing nothing, if they do not hold it
    /// or the predecessor's payload lacks `align`. Only a resize that would fail comes here, so it moves no
    /// block that the policy would have placed elsewhere.
    #[cold]
    #[inline(never)]
    fn grow_into_neighbours(&mut self, start: usize, need: usize, align: usize) -> Option<Block> {
        let (size, flags) = self.header(start);
        if !flags.contains(BlockFlags::PREV_FREE) {
            return None;
        }
        let prev = start - self.word(start - WORD);
        let prev_size = self.block_size(prev);
        let next = start + size;
        let next_size =
            if next < self.heap_len && self.is_free(next) { self.block_size(next) } else { 0 };
        if prev_size + size + next_size < need || !self.payload_is_aligned(prev, align) {
            return None;
        }
        // The predecessor taken whole, then the two used blocks made one.
        self.take(prev, 0, prev_size);
        let (_, prev_flags) = self.header(prev);
        self.set_header(prev, prev_size + size, prev_flags);
        self.set_start_bit(start, false);
        self.used_blocks -= 1;
        self.copy_within(start + HEADER_SIZE, prev + HEADER_SIZE, size - HEADER_SIZE);
        if prev_size + size < need {
            let grown = self.grow_in_place(prev, need);
            debug_assert!(grown, "the free successor holds the rest");
        } else {
            self.shrink(prev, need);
        }
        Some(Block::at(prev))
    }

    /// Shrinks the used block at `start` to `need` bytes if the rest can form a block.
    fn shrink(&mut self, start: usize, need: usize) {
        let (size, flags) = self.header(start);
        let rest = size - need;
        if rest < SPLIT_MIN {
            return;
        }
        self.set_header(start, need, flags);
        // Cut the tail off as a used block of its own, then free it (merging it with a free successor).
        let tail = start + need;
        self.set_header(tail, rest, BlockFlags::USED);
        self.set_start_bit(tail, true);
        self.used_blocks += 1;
        self.release(tail);
    }

    /// Grows the used block at `start` to at least `need` bytes into a free successor, if that is enough.
    /// (Inline in `realloc_aligned`, whose usual growth it is; measured, a call costs sqlite-mem's replay 3.7%.)
    #[inline(always)]
    fn grow_in_place(&mut self, start: usize, need: usize) -> bool {
        let (size, flags) = self.header(start);
        let next = start + size;
        if next >= self.heap_len || !self.is_free(next) {
            return false;
        }
        let next_size = self.block_size(next);
        if size + next_size < need {
            return false;
        }
        let rest = size + next_size - need;
        let rest_start = start + need;
        if rest >= SPLIT_MIN
            && self.summary.count() != 0
            && next != self.top
            && slot_of(next) == slot_of(rest_start)
        {
            // First fit's usual case: the free successor gives up its front and stays in its slot, so its
            // start bit and its free-pair bit each move within one word. (It is not the top, so neither is
            // its rest.)
            // (Through one `Raw`, so that the region's pointer stays in a register across the writes.)
            let raw = self.raw();
            raw.move_start_bit_in_slot(next, rest_start);
            raw.move_free_pair_bit_in_slot(next, rest_start);
            raw.set_word(rest_start, tag::encode(rest, BlockFlags::empty()));
            raw.set_word(rest_start + rest - WORD, rest);
            raw.set_word(start, tag::encode(need, flags));
            // It shrank within its slot: no raise, and a mark if it held the slot's entry.
            self.summary_lower(next, next_size);
            self.used_size += need - size;
            self.peak_extent = self.peak_extent.max(rest_start);
            self.summary_settle();
            return true;
        }
        self.set_start_bit(next, false);
        let new_size = if rest >= SPLIT_MIN {
            self.set_start_bit(start + need, true);
            self.free_replace_sized(next, next_size, start + need, rest, BlockFlags::empty());
            need
        } else {
            self.free_remove(next);
            self.free_blocks -= 1;
            self.set_prev_free(next + next_size, false);
            size + next_size
        };
        self.set_header(start, new_size, flags);
        self.used_size += new_size - size;
        self.peak_extent = self.peak_extent.max(start + new_size);
        self.summary_settle();
        true
    }

    // ---------------------------------------------------------------------------------------------------
    // Figures.

    /// The pool's figures, in O(1).
    pub fn stats(&self) -> Stats {
        let largest_free = self.largest_free();
        Stats {
            capacity: self.heap_len,
            region_bytes: self.region_bytes,
            used_bytes: self.used_size - self.used_blocks * HEADER_SIZE,
            overhead_bytes: self.used_blocks * HEADER_SIZE,
            free_bytes: self.free_size(),
            largest_free,
            used_blocks: self.used_blocks,
            free_blocks: self.free_blocks + self.cache.blocks,
            peak_extent: self.peak_extent,
            metadata_bytes: self.region_bytes - self.heap_len,
        }
    }

    /// Every block in address order.
    pub fn blocks(&self) -> Blocks<'_, 'a> {
        Blocks { pool: self, start: 0 }
    }
}

/// The iterator of [`Pool::blocks`].
#[derive(Debug)]
pub struct Blocks<'p, 'a> {
    pool: &'p Pool<'a>,
    start: usize,
}

impl Iterator for Blocks<'_, '_> {
    type Item = BlockInfo;

    fn next(&mut self) -> Option<BlockInfo> {
        if self.start >= self.pool.heap_len {
            return None;
        }
        let (size, flags) = self.pool.header(self.start);
        // A block in the front cache is free to its owner and to every request of its size.
        let state = if !flags.contains(BlockFlags::USED) {
            BlockState::Free
        } else if flags.contains(BlockFlags::PINNED) {
            BlockState::Pinned
        } else {
            BlockState::Used
        };
        let info = BlockInfo { start: self.start, size, state };
        // A zero size could only come from a corrupt header; stop rather than loop.
        self.start = if size == 0 { self.pool.heap_len } else { self.start + size };
        Some(info)
    }
}
