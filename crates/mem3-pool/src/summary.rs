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
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    /// Level 0 (one entry per slot) first; the last level is a single node.
    pub(crate) levels: [Level; MAX_LEVELS],
    /// Levels in use: 0 when the pool has no summary (best fit).
    pub(crate) count: usize,
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

/// Bit `i` set where `node[i] >= g`: four SSE2 compares (the x86-64 baseline) and one movemask.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn at_least(node: &[u32; FANOUT], g: u32) -> u32 {
    use core::arch::x86_64::{
        __m128i, _mm_cmpgt_epi32, _mm_movemask_epi8, _mm_packs_epi16, _mm_packs_epi32,
        _mm_set_epi32, _mm_set1_epi32, _mm_xor_si128,
    };
    // SSE2 compares signed lanes: flipping the sign bit of both sides orders unsigned values.
    // SAFETY: these intrinsics only need SSE2, which every x86-64 processor has (it is in the target's
    // baseline features); they touch no memory but their arguments.
    unsafe {
        let bias = _mm_set1_epi32(i32::MIN);
        let g = _mm_xor_si128(_mm_set1_epi32(g as i32), bias);
        let below = |i: usize| -> __m128i {
            let lane = |k: usize| node[i + k] as i32;
            _mm_cmpgt_epi32(
                g,
                _mm_xor_si128(_mm_set_epi32(lane(3), lane(2), lane(1), lane(0)), bias),
            )
        };
        let low = _mm_packs_epi32(below(0), below(4));
        let high = _mm_packs_epi32(below(8), below(12));
        !(_mm_movemask_epi8(_mm_packs_epi16(low, high)) as u32) & 0xffff
    }
}

/// The largest entry of `node`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn node_max(node: &[u32; FANOUT]) -> u32 {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpgt_epi32, _mm_cvtsi128_si32, _mm_set_epi32, _mm_set1_epi32,
        _mm_shuffle_epi32, _mm_xor_si128,
    };
    // SAFETY: as in `at_least`: SSE2 only, on registers.
    unsafe {
        // Lanes hold entries with the sign bit flipped, so signed order is unsigned order.
        let bias = _mm_set1_epi32(i32::MIN);
        let lanes = |i: usize| -> __m128i {
            let lane = |k: usize| node[i + k] as i32;
            _mm_xor_si128(_mm_set_epi32(lane(3), lane(2), lane(1), lane(0)), bias)
        };
        let max = |a: __m128i, b: __m128i| {
            _mm_xor_si128(b, _mm_and_si128(_mm_xor_si128(a, b), _mm_cmpgt_epi32(a, b)))
        };
        let m = max(max(lanes(0), lanes(4)), max(lanes(8), lanes(12)));
        let m = max(m, _mm_shuffle_epi32::<0b01_00_11_10>(m));
        let m = max(m, _mm_shuffle_epi32::<0b10_11_00_01>(m));
        (_mm_cvtsi128_si32(m) as u32) ^ (1 << 31)
    }
}

/// The largest entry of `node`.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn node_max(node: &[u32; FANOUT]) -> u32 {
    node.iter().copied().max().unwrap_or(0)
}

/// Bit `i` set where `node[i] >= g`.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn at_least(node: &[u32; FANOUT], g: u32) -> u32 {
    let mut mask = 0;
    for (i, &entry) in node.iter().enumerate() {
        mask |= u32::from(entry >= g) << i;
    }
    mask
}

#[inline(always)]
fn slot_of(start: usize) -> usize {
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
        for (k, &entry) in self.summary_node(level, node).iter().enumerate() {
            let i = node * FANOUT + k;
            let exact = if stale & (1 << k) == 0 {
                entry
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
    #[inline]
    fn first_slot(&self, g: u32) -> Option<usize> {
        let first = self.summary.first;
        if first >= self.summary.levels[0].len {
            return None;
        }
        let node = first / FANOUT;
        let mask = at_least(self.summary_node(0, node), g) & (u32::MAX << (first % FANOUT));
        if mask != 0 {
            return Some(node * FANOUT + mask.trailing_zeros() as usize);
        }
        let top = self.summary.count - 1;
        let mask = at_least(self.summary_node(top, 0), g);
        if mask == 0 {
            return None;
        }
        self.descend(top, mask.trailing_zeros() as usize, g)
    }

    /// The first slot under entry `i` of `level` whose entry is at least `g`, given that entry `i` is. An
    /// entry is the maximum of its node below, so each node on the way down has an entry at least `g`.
    #[inline(always)]
    fn descend(&self, mut level: usize, mut i: usize, g: u32) -> Option<usize> {
        while level > 0 {
            level -= 1;
            let mask = at_least(self.summary_node(level, i), g);
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
        let top = self.summary.count - 1;
        // Climb until a node holds a large enough entry at or after `i`.
        let (mut level, mut i) = (0, from);
        loop {
            let node = i / FANOUT;
            if i >= self.summary.levels[level].len {
                return None;
            }
            let mask = at_least(self.summary_node(level, node), g) & (u32::MAX << (i % FANOUT));
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
    #[inline]
    pub(crate) fn summary_find(&mut self, need: usize, align: usize) -> Option<(usize, usize)> {
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
                    if align <= MIN_ALIGN {
                        return Some((start, 0));
                    }
                    if let Some(pad) = self.fit(start, size, need, align) {
                        return Some((start, pad));
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
            slot = self.next_slot(s + 1, g);
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
    #[inline]
    pub(crate) fn summary_raise(&mut self, start: usize, size: usize) {
        if !self.has_summary() {
            return;
        }
        let g = (size / GRANULE) as u32;
        let mut i = slot_of(start);
        self.summary.first = self.summary.first.min(i);
        for level in 0..self.summary.count {
            if self.summary_entry(level, i) >= g {
                break;
            }
            self.set_summary_entry(level, i, g);
            i /= FANOUT;
        }
    }

    /// The indexed free block at `start`, of `size` bytes, is going away or shrinking: if it held its slot's
    /// maximum, the slot is recomputed at the end of the operation ([`Pool::summary_settle`]).
    #[inline]
    pub(crate) fn summary_lower(&mut self, start: usize, size: usize) {
        if !self.has_summary() {
            return;
        }
        let slot = slot_of(start);
        if self.summary_entry(0, slot) != (size / GRANULE) as u32 {
            return;
        }
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

    /// Ends an operation: settles the slots it marked, except hot ones, and the oldest kept beyond
    /// [`KEEP`].
    #[inline(always)]
    pub(crate) fn summary_settle(&mut self) {
        if self.summary.marked_len != self.summary.kept || self.summary.overflow {
            self.settle_marked();
        }
    }

    #[inline(never)]
    fn settle_marked(&mut self) {
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
        let mut new = max.unwrap_or_else(|| self.slot_max(slot));
        debug_assert_eq!(new, self.slot_max(slot));
        if new == old {
            return;
        }
        self.set_summary_entry(0, slot, new);
        if new == 0 && slot == self.summary.first {
            self.summary.first = self.next_slot(slot + 1, 1).unwrap_or(self.summary.levels[0].len);
        }
        // An entry only falls, from `old`; a parent changes only if `old` was its maximum.
        let mut i = slot;
        for level in 1..self.summary.count {
            let node = i / FANOUT;
            if self.summary_entry(level, node) != old {
                break;
            }
            new = node_max(self.summary_node(level - 1, node));
            if new == old {
                break;
            }
            self.set_summary_entry(level, node, new);
            i = node;
        }
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
