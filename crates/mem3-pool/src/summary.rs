//! The first-fit index: an address-ordered summary of the free blocks, kept in the region beside the heap.
//!
//! The heap is cut into **slots** of [`SLOT`] bytes (64 granules, so one `u64` of the block-start bitmap
//! covers one slot). For each slot the summary keeps one `u32`: the size, in granules, of the largest free
//! block that *starts* in it (the top block left out). Above that level sit levels of maxima, each entry the
//! largest of [`FANOUT`] entries below it, up to a single node. A node is 16 `u32`s, one 64-byte cache line,
//! and "the first entry at least `g`" is one vector compare over it.
//!
//! First fit for a block of `g` granules descends from the root node, taking at each level the first entry
//! that is at least `g`, to the lowest-addressed slot holding a large enough block, then walks that slot's
//! block starts in address order. Every slot before it holds no free block of `g` granules, and the entries
//! are exact (not size classes), so the first fitting block of that slot is the first fitting block of the
//! heap: exact address-ordered first fit, O(levels x 16) for the descent plus at most 64 headers in the slot.
//! A 64 MiB heap has five levels, of which the top three (2 KiB) stay in cache.
//!
//! Free blocks carry no index fields: the summary is a function of the headers and the start bitmap, and
//! [`Pool::check`] recomputes it. Updates keep it so:
//! * a block that becomes free (or grows) **raises** its slot's entry and the maxima above it, stopping at
//!   the first that is already large enough;
//! * a block that stops being free (or shrinks) while it held its slot's maximum **marks** the slot, and at
//!   the end of the operation the slot is **settled**: its entry is recomputed from its blocks and the
//!   change carried up, stopping at the first node whose maximum is unchanged.
//!
//! A marked slot's entry can only be too large, never too small, so the summary never hides a fitting
//! block: a search that reaches it finds no block large enough among its headers, settles it, and walks
//! on. That lets a **hot** slot, one marked again soon after it was last settled, stay marked past the end
//! of its operation (at most [`KEEP`] of them, oldest settled first): real programs lower the same slot
//! again and again, as when small blocks are carved one by one off the front of one large free block,
//! and when that block is the largest of the heap each settle climbs to the root. The levels above the
//! slots are always exactly the maxima of their nodes, so a descent never meets a dead end.

use crate::{
    pool::{Pool, pair_bits},
    tag::{BlockFlags, GRANULE, MIN_ALIGN},
};

/// Granules per slot: one `u64` of the block-start bitmap.
pub(crate) const SLOT_GRANULES: usize = 64;
/// Bytes of heap per slot.
pub(crate) const SLOT: usize = SLOT_GRANULES * GRANULE;
/// Entries per node: 16 `u32`s, one cache line.
pub(crate) const FANOUT: usize = 16;
/// Levels enough for any heap: 16^8 slots of 512 bytes is 2 TiB, more than `MAX_HEAP`.
const MAX_LEVELS: usize = 8;
/// Hot marked slots left unsettled at the end of an operation.
pub(crate) const KEEP: usize = 2;
/// Marked slots the summary can hold: `KEEP` from earlier operations and those of the current one (at
/// most two); more falls back to recomputing the whole summary.
const MARKS: usize = KEEP + 4;
static_assertions::const_assert!(MARKS > KEEP);
/// Recently settled slots remembered: a slot marked again while among them is hot.
const RECENT: usize = 2;
/// The alignment of the summary's levels, so that every node is one cache line.
pub(crate) const NODE_ALIGN: usize = FANOUT * 4;

static_assertions::const_assert_eq!(SLOT_GRANULES, u64::BITS as usize);
static_assertions::const_assert!(FANOUT <= u32::BITS as usize);

/// One level of the summary: `len` `u32` entries (a multiple of `FANOUT`) at heap offset `offset`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Level {
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

/// Where the summary's levels are, and the slots marked for recomputation.
///
/// The levels' shape is set by [`Summary::layout`] alone (the fields are private to this module, and no
/// other code here writes them), and the unchecked entry accessors rely on it: `count <= MAX_LEVELS`; every
/// level in use has a non-zero multiple of `FANOUT` entries; and each level above the first has at least one
/// entry per node of the level below (`levels[l + 1].len * FANOUT >= levels[l].len`); a level not in use
/// has no entries. So if slot `s` is below `levels[0].len`, then `s / FANOUT^l` is an entry of level `l`
/// and `s / FANOUT^(l + 1)` a node of it, for every level in use; and `i < levels[l].len` means level `l`
/// is in use and `i / FANOUT` is one of its nodes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    /// Level 0 (one entry per slot) first; the last level is a single node.
    levels: [Level; MAX_LEVELS],
    /// Levels in use: 0 when the pool has no summary (best fit).
    count: usize,
    /// Marked slots: the first `kept` left from earlier operations (oldest first), then this one's.
    marked: [usize; MARKS],
    marked_len: usize,
    kept: usize,
    /// The slots settled last, most recent first (`usize::MAX` for none).
    recent: [usize; RECENT],
    /// More slots were marked than `marked` holds: recompute everything.
    overflow: bool,
    /// The lowest slot with a non-zero entry (level 0's length if none): searches climb from it rather than
    /// descend from the root, since small requests usually fit near the lowest free block.
    pub(crate) first: usize,
}

impl Summary {
    /// No summary (best fit's pools).
    pub(crate) const NONE: Summary = Summary {
        levels: [Level { offset: 0, len: 0 }; MAX_LEVELS],
        count: 0,
        marked: [0; MARKS],
        marked_len: 0,
        kept: 0,
        recent: [usize::MAX; RECENT],
        overflow: false,
        first: 0,
    };

    /// The levels for a heap of `heap_len` bytes, laid out from heap offset `offset`, and their bytes.
    pub(crate) fn layout(heap_len: usize, offset: usize) -> (Summary, usize) {
        let mut summary = Summary::NONE;
        let mut entries = heap_len.div_ceil(SLOT);
        let mut at = offset;
        loop {
            let len = entries.div_ceil(FANOUT).max(1) * FANOUT;
            summary.levels[summary.count] = Level { offset: at, len };
            summary.count += 1;
            at += len * 4;
            if len == FANOUT || summary.count == MAX_LEVELS {
                break;
            }
            entries = len / FANOUT;
        }
        (summary, at - offset)
    }

    /// Levels in use: 0 when the pool has no summary (best fit).
    #[inline(always)]
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Level `level` (checked: below `MAX_LEVELS`).
    #[inline(always)]
    pub(crate) fn level(&self, level: usize) -> Level {
        self.levels[level]
    }

    /// Level `level`, unchecked.
    ///
    /// # Safety
    ///
    /// `level < self.count()` (so below `MAX_LEVELS`).
    #[inline(always)]
    pub(crate) unsafe fn level_unchecked(&self, level: usize) -> Level {
        debug_assert!(level < self.count);
        // SAFETY: the caller's `level < count`, and `count <= MAX_LEVELS` (the type's invariant).
        unsafe { *self.levels.get_unchecked(level) }
    }

    /// Bytes reserved to align the levels to a cache line: none for a heap of one node (at most
    /// `FANOUT` slots), whose node is read whole whatever its alignment, so that small pools stay small.
    pub(crate) fn align_reserve(heap_len: usize) -> usize {
        if heap_len.div_ceil(SLOT) <= FANOUT { 0 } else { NODE_ALIGN - 1 }
    }

    /// Bytes of the levels for a heap of `heap_len` bytes.
    pub(crate) fn bytes(heap_len: usize) -> usize {
        Summary::layout(heap_len, 0).1
    }
}

/// The stored form of an entry: its value with the top bit flipped, so that signed order (SSE2's only
/// compare) is the values' unsigned order and a node is compared without flipping every lane.
/// [`Pool::summary_entry`] and its kin store and read values; only [`at_least`], [`node_max`] and
/// [`Pool::exact_node_max`] see nodes in the stored form.
pub(crate) const BIAS: u32 = 1 << 31;

/// Bit `i` set where entry `i` of `node` (stored form) is at least `g`, which is not 0 (every caller asks
/// for at least a granule): four SSE2 compares (the x86-64 baseline) and one movemask.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn at_least(node: &[u32; FANOUT], g: u32) -> u32 {
    use core::arch::x86_64::{
        __m128i, _mm_cmpgt_epi32, _mm_movemask_epi8, _mm_packs_epi16, _mm_packs_epi32,
        _mm_set_epi32, _mm_set1_epi32,
    };
    debug_assert_ne!(g, 0);
    // SSE2 compares signed lanes: the stored entries and `g` flipped order as unsigned values. "At least
    // `g`" is "above `g - 1`", a compare whose destination is the loaded lanes (no copy of `g` per
    // compare, no inversion of the mask); `g != 0`, so `g - 1` does not wrap.
    // SAFETY: these intrinsics only need SSE2, which every x86-64 processor has (it is in the target's
    // baseline features); they touch no memory but their arguments.
    unsafe {
        let below = _mm_set1_epi32(((g - 1) ^ BIAS) as i32);
        let fits = |i: usize| -> __m128i {
            let lane = |k: usize| node[i + k] as i32;
            _mm_cmpgt_epi32(_mm_set_epi32(lane(3), lane(2), lane(1), lane(0)), below)
        };
        let low = _mm_packs_epi32(fits(0), fits(4));
        let high = _mm_packs_epi32(fits(8), fits(12));
        _mm_movemask_epi8(_mm_packs_epi16(low, high)) as u32
    }
}

/// The largest entry of `node` (stored form), as a value.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn node_max(node: &[u32; FANOUT]) -> u32 {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpgt_epi32, _mm_cvtsi128_si32, _mm_set_epi32,
        _mm_shuffle_epi32, _mm_xor_si128,
    };
    // SAFETY: as in `at_least`: SSE2 only, on registers.
    unsafe {
        // Lanes hold stored entries, whose signed order is their values' unsigned order.
        let lanes = |i: usize| -> __m128i {
            let lane = |k: usize| node[i + k] as i32;
            _mm_set_epi32(lane(3), lane(2), lane(1), lane(0))
        };
        let max = |a: __m128i, b: __m128i| {
            _mm_xor_si128(b, _mm_and_si128(_mm_xor_si128(a, b), _mm_cmpgt_epi32(a, b)))
        };
        let m = max(max(lanes(0), lanes(4)), max(lanes(8), lanes(12)));
        let m = max(m, _mm_shuffle_epi32::<0b01_00_11_10>(m));
        let m = max(m, _mm_shuffle_epi32::<0b10_11_00_01>(m));
        (_mm_cvtsi128_si32(m) as u32) ^ BIAS
    }
}

/// The largest entry of `node` (stored form), as a value.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn node_max(node: &[u32; FANOUT]) -> u32 {
    node.iter().map(|&entry| entry ^ BIAS).max().unwrap_or(0)
}

/// Bit `i` set where entry `i` of `node` (stored form) is at least `g`.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn at_least(node: &[u32; FANOUT], g: u32) -> u32 {
    let mut mask = 0;
    for (i, &entry) in node.iter().enumerate() {
        mask |= u32::from((entry ^ BIAS) >= g) << i;
    }
    mask
}

/// The block a first-fit search found, with what the search read of it, for the take that follows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    /// The free block's start (never the top).
    pub(crate) start: usize,
    /// The padding in front of the used block.
    pub(crate) pad: usize,
    /// The block's size and header flags.
    pub(crate) size: usize,
    pub(crate) flags: BlockFlags,
    /// Its size is its slot's entry: taking it may lower the entry, so the take marks the slot.
    pub(crate) lowers: bool,
}

#[inline(always)]
pub(crate) fn slot_of(start: usize) -> usize {
    start / SLOT
}

impl Pool<'_> {
    #[inline(always)]
    fn has_summary(&self) -> bool {
        self.summary.count != 0
    }

    /// The largest indexed free block, in granules (0 if there is none): the root's maximum, recomputed
    /// beneath the entries of marked slots, which may be too large.
    #[inline]
    pub(crate) fn summary_max(&self) -> u32 {
        let top = self.summary.count - 1;
        if self.summary.marked_len == 0 {
            node_max(self.summary_node(top, 0))
        } else {
            self.exact_node_max(top, 0)
        }
    }

    /// The largest free block under node `node` of `level`: its stored entries, except that an entry with
    /// a marked slot beneath is recomputed (from the slot's blocks at level 0). At most `MARKS` paths of
    /// `MAX_LEVELS` nodes.
    fn exact_node_max(&self, level: usize, node: usize) -> u32 {
        let span = FANOUT.pow(level as u32);
        let mut stale = 0u32;
        for &slot in &self.summary.marked[..self.summary.marked_len] {
            if slot / span / FANOUT == node {
                stale |= 1 << (slot / span % FANOUT);
            }
        }
        let mut max = 0;
        for (k, &stored) in self.summary_node(level, node).iter().enumerate() {
            let i = node * FANOUT + k;
            let exact = if stale & (1 << k) == 0 {
                stored ^ BIAS
            } else if level == 0 {
                self.slot_max(i)
            } else {
                self.exact_node_max(level - 1, i)
            };
            max = max.max(exact);
        }
        max
    }

    /// The first slot whose entry is at least `g`: in the node of the lowest slot with a free block if it is
    /// there (small requests usually are), else by a descent from the root.
    #[inline(always)]
    fn first_slot(&self, g: u32) -> Option<usize> {
        let first = self.summary.first;
        if first >= self.summary.levels[0].len {
            return None;
        }
        let node = first / FANOUT;
        // SAFETY: `first < levels[0].len`, so level 0 is in use and `node` is one of its nodes (the shape
        // invariant of `Summary`).
        let mask = at_least(unsafe { self.summary_node_unchecked(0, node) }, g)
            & (u32::MAX << (first % FANOUT));
        if mask != 0 {
            return Some(node * FANOUT + mask.trailing_zeros() as usize);
        }
        let top = self.summary.count - 1;
        // SAFETY: level 0 is in use, so `count >= 1` and `top` is the last level in use, which has a node.
        let mask = at_least(unsafe { self.summary_node_unchecked(top, 0) }, g);
        if mask == 0 {
            return None;
        }
        if top >= 2 {
            // Some block fits: look in the parent node of `first`'s node before descending from the root,
            // since a block just past that node is found in two levels.
            let parent = node / FANOUT;
            // SAFETY: `node` is an entry of level 1, which is in use (`top >= 2`), and `parent` one of its
            // nodes (the shape invariant of `Summary`).
            let near = at_least(unsafe { self.summary_node_unchecked(1, parent) }, g)
                & (u32::MAX << (node % FANOUT) << 1);
            if near != 0 {
                return self.descend(1, parent * FANOUT + near.trailing_zeros() as usize, g);
            }
        }
        self.descend(top, mask.trailing_zeros() as usize, g)
    }

    /// The first slot under entry `i` of `level` whose entry is at least `g`, given that entry `i` is. An
    /// entry is the maximum of its node below, so each node on the way down has an entry at least `g`.
    #[inline(always)]
    fn descend(&self, mut level: usize, mut i: usize, g: u32) -> Option<usize> {
        debug_assert!(level < self.summary.count);
        while level > 0 {
            level -= 1;
            debug_assert!(self.summary_entry(level + 1, i) >= g && g != 0);
            // SAFETY: entry `i` of `level + 1` is at least `g`, which is not 0 (the caller's promise, then the
            // mask's), and an entry that is not 0 is the maximum of node `i` of the level below, which
            // exists: entries with no node below are 0 (the summary's invariant, which `summary_check`
            // checks). `level < count`, as `level + 1` was.
            let mask = at_least(unsafe { self.summary_node_unchecked(level, i) }, g);
            if mask == 0 {
                debug_assert!(false, "summary entry larger than its node's maximum");
                return None;
            }
            i = i * FANOUT + mask.trailing_zeros() as usize;
        }
        Some(i)
    }

    /// The first slot at or after `from` whose entry is at least `g`.
    #[inline]
    fn next_slot(&self, from: usize, g: u32) -> Option<usize> {
        self.climb(0, from, g)
    }

    /// The first slot under an entry at or after entry `i` of `level` whose entry is at least `g`: climbs
    /// until a node holds a large enough entry at or after the path's, then descends.
    #[inline]
    fn climb(&self, mut level: usize, mut i: usize, g: u32) -> Option<usize> {
        let top = self.summary.count - 1;
        loop {
            let node = i / FANOUT;
            if i >= self.summary.levels[level].len {
                return None;
            }
            // SAFETY: `i < levels[level].len`, so `level` is in use and `node` is one of its nodes (the shape
            // invariant of `Summary`).
            let mask = at_least(unsafe { self.summary_node_unchecked(level, node) }, g)
                & (u32::MAX << (i % FANOUT));
            if mask != 0 {
                i = node * FANOUT + mask.trailing_zeros() as usize;
                break;
            }
            if level == top {
                return None;
            }
            level += 1;
            i = node + 1;
        }
        self.descend(level, i, g)
    }

    /// The lowest-addressed indexed free block that holds `need` bytes aligned to `align`, and its padding.
    /// A marked slot whose entry promised a block it does not hold is settled on the way, so a stale entry
    /// misleads one search at most.
    #[inline(always)]
    pub(crate) fn summary_find(&mut self, need: usize, align: usize) -> Option<Found> {
        let g = (need / GRANULE) as u32;
        let mut slot = self.first_slot(g);
        while let Some(s) = slot {
            // The slot's free blocks in address order; for `MIN_ALIGN`, the entry guarantees one fits.
            // The largest block walked: if none fits, the slot's maximum.
            let mut max = 0;
            for start in self.free_starts(s) {
                let (size, flags) = self.header(start);
                debug_assert!(!flags.contains(BlockFlags::USED));
                if start == self.top {
                    continue;
                }
                if size >= need {
                    let pad = if align <= MIN_ALIGN {
                        Some(0)
                    } else {
                        self.fit(start, size, need, align)
                    };
                    if let Some(pad) = pad {
                        // Taking the block lowers the slot's entry only if the block holds it.
                        // SAFETY: the search's slots are entries of level 0 (below its length), which
                        // is in use.
                        let entry = unsafe { self.summary_stored_unchecked(0, s) } ^ BIAS;
                        let lowers = (size / GRANULE) as u32 == entry;
                        return Some(Found { start, pad, size, flags, lowers });
                    }
                }
                max = max.max(size);
            }
            // Only a marked slot's stale entry, or padding for a larger alignment, can make every block of
            // the slot too small: settle the one (with the maximum just walked), walk on past both.
            if let Some(m) =
                self.summary.marked[..self.summary.marked_len].iter().position(|&m| m == s)
            {
                self.settle_mark(m, Some((max / GRANULE) as u32));
            }
            // If that emptied the lowest slot with a free block, the next such slot is at hand (every entry
            // between is 0): take it if it holds a block large enough.
            let first = self.summary.first;
            slot = if first > s
                && first < self.summary.levels[0].len
                && self.summary_entry(0, first) >= g
            {
                Some(first)
            } else {
                self.next_slot(s + 1, g)
            };
        }
        None
    }

    /// The largest indexed free block starting in `slot`, in granules, from its headers.
    #[inline]
    pub(crate) fn slot_max(&self, slot: usize) -> u32 {
        let mut max = 0;
        for start in self.free_starts(slot) {
            if start != self.top {
                max = max.max((self.block_size(start) / GRANULE) as u32);
            }
        }
        max
    }

    /// The free block at `start` (header written, not the top) is new or has grown to `size` bytes.
    #[inline(always)]
    pub(crate) fn summary_raise(&mut self, start: usize, size: usize) {
        if !self.has_summary() {
            return;
        }
        let g = (size / GRANULE) as u32;
        let mut i = slot_of(start);
        assert!(i < self.summary.levels[0].len, "summary slot out of bounds");
        // Stored forms compare as signed values.
        let stored = g ^ BIAS;
        for level in 0..self.summary.count {
            // SAFETY: `level < count`, and `i` is the checked slot divided by `FANOUT^level`, an entry of
            // the level (the shape invariant of `Summary`).
            unsafe {
                if self.summary_stored_unchecked(level, i) as i32 >= stored as i32 {
                    break;
                }
                self.set_summary_stored_unchecked(level, i, stored);
            }
            if level == 0 {
                // An entry left as it was is not 0 (`g` is), so its slot is at or after `first` already.
                self.summary.first = self.summary.first.min(i);
            }
            i /= FANOUT;
        }
    }

    /// [`Pool::summary_raise`] for a pool known to have a summary (first fit), with no bounds check: for the
    /// free path of the default configuration.
    ///
    /// # Safety
    ///
    /// The pool has a summary (`self.summary.count() != 0`), and `start < self.heap_len`.
    #[inline(always)]
    pub(crate) unsafe fn summary_raise_unchecked(&mut self, start: usize, size: usize) {
        debug_assert!(self.has_summary() && start < self.heap_len);
        let g = (size / GRANULE) as u32;
        let mut i = slot_of(start);
        debug_assert!(i < self.summary.levels[0].len);
        let stored = g ^ BIAS;
        // SAFETY: `i` is the slot of a heap offset, so an entry of level 0 (the levels cover the heap), which
        // is in use.
        unsafe {
            if self.summary_stored_unchecked(0, i) as i32 >= stored as i32 {
                // Not 0 (`g` is not), so the slot is at or after `first` already.
                return;
            }
            self.set_summary_stored_unchecked(0, i, stored);
        }
        self.summary.first = self.summary.first.min(i);
        let count = self.summary.count;
        let mut level = 1;
        while level < count {
            i /= FANOUT;
            // SAFETY: `level < count`; `i` is the slot divided by `FANOUT^level`: an entry of the level (the
            // shape invariant of `Summary`).
            unsafe {
                if self.summary_stored_unchecked(level, i) as i32 >= stored as i32 {
                    break;
                }
                self.set_summary_stored_unchecked(level, i, stored);
            }
            level += 1;
        }
    }

    /// The indexed free block at `start`, of `size` bytes, is going away or shrinking: if it held its slot's
    /// maximum, the slot is recomputed at the end of the operation ([`Pool::summary_settle`]).
    #[inline(always)]
    pub(crate) fn summary_lower(&mut self, start: usize, size: usize) {
        if !self.has_summary() {
            return;
        }
        let slot = slot_of(start);
        if self.summary_entry(0, slot) != (size / GRANULE) as u32 {
            return;
        }
        self.summary_mark(slot);
    }

    /// Marks `slot`, whose entry a block that held it no longer holds, for [`Pool::summary_settle`].
    #[inline(always)]
    pub(crate) fn summary_mark(&mut self, slot: usize) {
        let s = &mut self.summary;
        if s.marked[..s.marked_len].contains(&slot) {
            return;
        }
        if s.marked_len == MARKS {
            s.overflow = true;
        } else {
            s.marked[s.marked_len] = slot;
            s.marked_len += 1;
        }
    }

    /// Marks `slot` and ends the operation, for an operation (an allocation's take) whose only mark this is:
    /// what [`Pool::summary_mark`] and [`Pool::summary_settle`] would do, without the list of this
    /// operation's marks. `max` is the slot's largest block if the caller knows it.
    #[inline(always)]
    pub(crate) fn summary_lowered(&mut self, slot: usize, max: Option<u32>) {
        let s = &mut self.summary;
        debug_assert!(!s.overflow && s.marked_len == s.kept);
        let kept = s.kept;
        if s.marked[..kept].contains(&slot) {
            return;
        }
        if s.recent.contains(&slot) {
            // A hot slot: kept marked.
            debug_assert!(kept < MARKS);
            s.marked[kept % MARKS] = slot;
            s.kept = kept + 1;
            s.marked_len = kept + 1;
            if kept + 1 > KEEP {
                self.settle_mark(0, None);
            }
        } else {
            self.settle_slot_max(slot, max);
        }
    }

    /// [`Pool::settle_slot`] out of line, for `summary_lowered`.
    #[inline(never)]
    fn settle_slot_max(&mut self, slot: usize, max: Option<u32>) {
        self.settle_slot(slot, max);
    }

    /// Ends an operation: settles the slots it marked, except hot ones, and the oldest kept beyond
    /// [`KEEP`].
    #[inline(always)]
    pub(crate) fn summary_settle(&mut self) {
        // An overflow leaves `marked_len` at `MARKS`, above `KEEP`, so it is not `kept`: one compare.
        debug_assert!(!self.summary.overflow || self.summary.marked_len != self.summary.kept);
        if self.summary.marked_len != self.summary.kept {
            self.settle_marked();
        }
    }

    /// The work `summary_settle` found. Its usual case, one mark, needs no registers of its own: the work is
    /// in the functions it jumps to.
    #[inline(never)]
    fn settle_marked(&mut self) {
        let kept = self.summary.kept;
        if self.summary.overflow || self.summary.marked_len != kept + 1 {
            return self.settle_marks();
        }
        let slot = self.summary.marked[kept];
        if self.summary.recent.contains(&slot) {
            self.summary.kept = kept + 1;
            if kept + 1 > KEEP {
                self.settle_mark(0, None);
            }
        } else {
            self.summary.marked_len = kept;
            self.settle_slot_now(slot);
        }
    }

    /// [`Pool::settle_slot`] out of line, for `settle_marked`.
    #[inline(never)]
    fn settle_slot_now(&mut self, slot: usize) {
        self.settle_slot(slot, None);
    }

    /// `settle_marked` for an overflow or more than one mark.
    #[inline(never)]
    fn settle_marks(&mut self) {
        if self.summary.overflow {
            self.summary_rebuild();
            return;
        }
        // This operation's marks: settle each unless it is hot, which joins the kept ones.
        let mut kept = self.summary.kept;
        for m in self.summary.kept..self.summary.marked_len {
            let slot = self.summary.marked[m];
            if self.summary.recent.contains(&slot) {
                self.summary.marked[kept] = slot;
                kept += 1;
            } else {
                self.settle_slot(slot, None);
            }
        }
        self.summary.marked_len = kept;
        self.summary.kept = kept;
        while self.summary.kept > KEEP {
            self.settle_mark(0, None);
        }
    }

    /// Settles the `m`th marked slot, one kept from an earlier operation, and forgets its mark; `max` is the
    /// slot's largest block if the caller has just walked it.
    fn settle_mark(&mut self, m: usize, max: Option<u32>) {
        let slot = self.summary.marked[m];
        let s = &mut self.summary;
        for k in m + 1..s.marked_len {
            s.marked[k - 1] = s.marked[k];
        }
        s.marked_len -= 1;
        s.kept -= 1;
        self.settle_slot(slot, max);
    }

    /// Recomputes `slot`'s entry from its blocks (or sets it to `max`, its largest block, if the caller
    /// knows it), and the maxima above it.
    #[inline(always)]
    fn settle_slot(&mut self, slot: usize, max: Option<u32>) {
        for k in (1..RECENT).rev() {
            self.summary.recent[k] = self.summary.recent[k - 1];
        }
        self.summary.recent[0] = slot;
        let old = self.summary_entry(0, slot);
        let new = max.unwrap_or_else(|| self.slot_max(slot));
        debug_assert_eq!(new, self.slot_max(slot));
        if new == old {
            return;
        }
        self.set_summary_entry(0, slot, new);
        if new == 0 && slot == self.summary.first {
            // The next non-empty slot, in the same node if it is there (no climb).
            let node = slot / FANOUT;
            // SAFETY: `slot < levels[0].len` (checked by `summary_entry` above), so level 0 is in use and
            // `node` is one of its nodes (the shape invariant of `Summary`).
            let mask = at_least(unsafe { self.summary_node_unchecked(0, node) }, 1)
                & (u32::MAX << (slot % FANOUT));
            self.summary.first = if mask != 0 {
                node * FANOUT + mask.trailing_zeros() as usize
            } else {
                self.first_after_node(node)
            };
        }
        // An entry only falls, from `old`; a parent changes only if `old` was its maximum.
        // `slot` is an entry of level 0 (`summary_entry` checked it above), so each `node` below is an
        // entry of `level` and a node of the level under it (the shape invariant of `Summary`), and
        // `level < count`: the accesses below need no checks.
        let mut i = slot;
        let old = old ^ BIAS;
        for level in 1..self.summary.count {
            let node = i / FANOUT;
            // SAFETY: as above.
            if unsafe { self.summary_stored_unchecked(level, node) } != old {
                break;
            }
            // SAFETY: as above.
            let stored = node_max(unsafe { self.summary_node_unchecked(level - 1, node) }) ^ BIAS;
            if stored == old {
                break;
            }
            // SAFETY: as above.
            unsafe { self.set_summary_stored_unchecked(level, node, stored) };
            i = node;
        }
    }

    /// The lowest slot with a free block after level-0 node `node`, given that no slot at or before the end
    /// of `node` holds one (level 0's length if none does): in the parent node if it is there (a step up and
    /// one down, inline), else by a climb.
    #[inline(always)]
    fn first_after_node(&self, node: usize) -> usize {
        if self.summary.count >= 2 {
            let parent = node / FANOUT;
            // SAFETY: `node` is a node of level 0, so an entry of level 1, which is in use (`count >= 2`), and
            // `parent` one of its nodes (the shape invariant of `Summary`).
            let near = at_least(unsafe { self.summary_node_unchecked(1, parent) }, 1)
                & (u32::MAX << (node % FANOUT) << 1);
            if near != 0 {
                let next = parent * FANOUT + near.trailing_zeros() as usize;
                let mask = at_least(self.summary_node(0, next), 1);
                return next * FANOUT + mask.trailing_zeros() as usize;
            }
            return self.climb(2, parent + 1, 1).unwrap_or(self.summary.levels[0].len);
        }
        self.summary.levels[0].len
    }

    /// Settles every marked slot.
    #[cfg(test)]
    pub(crate) fn summary_settle_all(&mut self) {
        while self.summary.marked_len != 0 {
            self.settle_mark(0, None);
        }
    }

    /// Sets every entry to 0 and forgets the marks: the summary of a heap with no indexed free block.
    pub(crate) fn summary_clear(&mut self) {
        self.summary.first = self.summary.levels[0].len;
        self.summary.marked_len = 0;
        self.summary.kept = 0;
        self.summary.overflow = false;
        for level in 0..self.summary.count {
            for i in 0..self.summary.levels[level].len {
                self.set_summary_entry(level, i, 0);
            }
        }
    }

    /// Recomputes the whole summary from the heap (after too many marks in one operation).
    fn summary_rebuild(&mut self) {
        self.summary_clear();
        let mut start = 0;
        while start < self.heap_len {
            let size = self.block_size(start);
            if self.is_free(start) && start != self.top {
                self.summary_raise(start, size);
            }
            start += size;
        }
    }

    /// Checks every entry against the heap: level 0 against each slot's blocks, every level above against
    /// the maxima of its nodes below, and nothing marked. The heap walk must have passed first.
    pub(crate) fn summary_check(&self) -> Result<(), &'static str> {
        if !self.has_summary() {
            return Ok(());
        }
        let marks = &self.summary.marked[..self.summary.marked_len];
        if self.summary.overflow || marks.len() != self.summary.kept || marks.len() > KEEP {
            return Err("summary has more marked slots than an operation may leave");
        }
        if marks.iter().enumerate().any(|(k, m)| marks[..k].contains(m)) {
            return Err("summary has a slot marked twice");
        }
        let slots = self.heap_len.div_ceil(SLOT);
        for slot in 0..slots {
            let mut expected = 0u64;
            let mut bits = self.start_word(slot);
            while bits != 0 {
                let i = bits.trailing_zeros();
                bits &= bits - 1;
                if self.is_free((slot * SLOT_GRANULES + i as usize) * GRANULE) {
                    expected |= 1 << i;
                }
            }
            // The stored pair bits themselves, so that a bit set in a pair where no block starts is found too.
            if self.free_pairs(slot) != pair_bits(expected) {
                return Err(
                    "free-pair bitmap is not set exactly at the pairs where free blocks start",
                );
            }
        }
        let len = self.summary.levels[0].len;
        if self.summary.first != (0..len).find(|&s| self.summary_entry(0, s) != 0).unwrap_or(len) {
            return Err("summary's first slot is not the lowest with a free block");
        }
        for slot in 0..self.summary.levels[0].len {
            let expected = if slot < slots { self.slot_max(slot) } else { 0 };
            let entry = self.summary_entry(0, slot);
            if entry < expected {
                return Err("summary slot entry is below its largest free block");
            }
            if entry != expected && !marks.contains(&slot) {
                return Err(
                    "summary slot entry is not its largest free block, and the slot is not marked",
                );
            }
        }
        for level in 1..self.summary.count {
            for i in 0..self.summary.levels[level].len {
                let below = self.summary.levels[level - 1].len / FANOUT;
                let expected =
                    if i < below { node_max(self.summary_node(level - 1, i)) } else { 0 };
                if self.summary_entry(level, i) != expected {
                    return Err("summary entry is not the maximum of its node");
                }
            }
        }
        Ok(())
    }
}
