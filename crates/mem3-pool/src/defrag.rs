//! Whole-pool passes: coalescing every run of free blocks, and compaction.

use crate::{
    error::{Error, Result},
    pool::{Block, BlockState, Coalescing, Pool},
    summary::SLOT,
    tag::{BlockFlags, GRANULE, HEADER_SIZE, round_up},
};

/// How far ahead of the block it reads compaction asks the processor to fetch the heap: the walk from
/// header to header is a chain of dependent loads that the hardware prefetcher does not always run ahead of.
const PREFETCH: usize = 2048;

/// Lays down the start bits (and free-start bits) of a stretch of the heap in address order, a word at a
/// time: bits below its first offset are kept, every word after is written whole.
struct BitWriter {
    slot: usize,
    start: u64,
    free: u64,
}

impl BitWriter {
    /// A writer from heap offset `from` (a block start) on, keeping the bits below it.
    fn new(pool: &Pool<'_>, from: usize) -> BitWriter {
        let slot = from / SLOT;
        let keep = (1u64 << ((from % SLOT) / GRANULE)) - 1;
        let free = if pool.summary.count() != 0 { pool.free_word(slot) & keep } else { 0 };
        BitWriter { slot, start: pool.start_word(slot) & keep, free }
    }

    /// A block (free if `free`) starts at `at`, after every block marked so far.
    #[inline(always)]
    fn mark(&mut self, pool: &mut Pool<'_>, at: usize, free: bool) {
        let slot = at / SLOT;
        if slot != self.slot {
            self.flush(pool, slot);
        }
        let bit = 1u64 << ((at % SLOT) / GRANULE);
        self.start |= bit;
        if free {
            self.free |= bit;
        }
    }

    /// Writes the current word and empty words up to `slot`, which becomes the current one.
    #[cold]
    fn flush(&mut self, pool: &mut Pool<'_>, slot: usize) {
        pool.set_bit_words(self.slot, self.start, self.free);
        for empty in self.slot + 1..slot {
            pool.set_bit_words(empty, 0, 0);
        }
        (self.slot, self.start, self.free) = (slot, 0, 0);
    }

    /// Writes the current word and empty words to the end of the bitmaps.
    fn finish(mut self, pool: &mut Pool<'_>) {
        let slots = pool.heap_len.div_ceil(SLOT);
        self.flush(pool, slots);
    }
}

/// What [`Pool::compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompactStats {
    /// Blocks moved.
    pub moved_blocks: usize,
    /// Bytes moved (whole blocks, headers included).
    pub moved_bytes: usize,
    /// Free blocks left: one, or one per gap before a pinned block (zero if the pool is full).
    pub free_blocks: usize,
}

impl Pool<'_> {
    /// Frees the blocks of the front cache for real, merges every run of adjacent free blocks into one
    /// block, and returns how many blocks it freed from the cache and merges it did. With immediate
    /// coalescing there is never anything to merge but what the cache held; with deferred coalescing this
    /// is the pass that does it. O(n) in the number of blocks, plus the index's rebuild when anything
    /// merged.
    pub fn coalesce(&mut self) -> usize {
        let mut merges = self.cache_flush();
        if self.config.coalescing == Coalescing::Immediate {
            return merges;
        }
        // The run of free blocks being merged: its start, size and header flags.
        let mut run: Option<(usize, usize, BlockFlags)> = None;
        let mut start = 0;
        while start < self.heap_len {
            let (size, flags) = self.header(start);
            if flags.contains(BlockFlags::USED) {
                run = None;
            } else if let Some((run_start, run_size, run_flags)) = run {
                self.set_start_bit(start, false);
                self.write_free(run_start, run_size + size, run_flags);
                run = Some((run_start, run_size + size, run_flags));
                merges += 1;
            } else {
                run = Some((start, size, flags));
            }
            start += size;
        }
        if merges > 0 {
            self.rebuild_index();
        }
        merges
    }

    /// Whether [`compact`](Pool::compact) would leave a free block of at least `need` bytes. Compaction never
    /// moves a block across a pinned one, so the free bytes of each stretch between pinned blocks become one
    /// free block. O(1) when all the free bytes together are too few, else O(n) in the number of blocks.
    pub fn fits_after_compaction(&self, need: usize) -> bool {
        if need > self.free_size() {
            return false;
        }
        let mut gap = 0;
        for info in self.blocks() {
            match info.state {
                BlockState::Free => gap += info.size,
                BlockState::Pinned => gap = 0,
                BlockState::Used => {}
            }
            if gap >= need {
                return true;
            }
        }
        false
    }

    /// Whether some run of adjacent free blocks, once merged, would hold a `need`-byte block aligned to
    /// `align`: the question [`coalesce`](Pool::coalesce) answers by doing it, asked without changing
    /// anything. O(n) in the number of blocks.
    pub(crate) fn merged_run_fits(&self, need: usize, align: usize) -> bool {
        let mut run: Option<(usize, usize)> = None;
        for info in self.blocks() {
            if info.state != BlockState::Free {
                run = None;
                continue;
            }
            let (run_start, run_size) = match run {
                Some((run_start, run_size)) => (run_start, run_size + info.size),
                None => (info.start, info.size),
            };
            run = Some((run_start, run_size));
            if run_size >= need && self.fit(run_start, run_size, need, align).is_some() {
                return true;
            }
        }
        false
    }

    /// Slides every used, unpinned block toward the start of the pool, in address order, so that the free
    /// space ends up in one block (or one per gap before a pinned block). For each block moved it calls
    /// `relocate(old, new, payload)` after the move, with the block's new payload.
    ///
    /// Blocks move to [`MIN_ALIGN`](crate::MIN_ALIGN) boundaries: a block that needs a larger alignment must
    /// be pinned. Adjacent blocks move together, in one copy. O(n) in the number of blocks from the first
    /// free one on, plus the bytes moved.
    ///
    /// Every block the callback has not yet been told about was either not moved or moved in the same run
    /// as the block it is told about now. The callback cannot reach the pool, which is mid-pass while it
    /// runs (the run's old bytes not yet a free block, the bitmaps half rewritten). If `relocate` panics,
    /// the unwind leaves a sound pool (that gap written as a free block, the bitmaps, index and counters
    /// rebuilt) in which the blocks already moved stay moved, those reported and those of the same run
    /// alike, and every payload is intact.
    pub fn compact(&mut self, mut relocate: impl FnMut(Block, Block, &[u8])) -> CompactStats {
        /// If compaction ends by unwinding out of a callback, writes the gap the moves were being reported
        /// from as a free block (the blocks then tile the heap again), and rebuilds the bitmaps from `from`
        /// on, the free-block index and the counters; on return they are already right.
        struct Unwind<'p, 'a> {
            pool: &'p mut Pool<'a>,
            from: usize,
            /// The bytes a run left behind and the free blocks after them, while its moves are reported.
            gap: (usize, usize),
            done: bool,
        }
        impl Drop for Unwind<'_, '_> {
            fn drop(&mut self) {
                if !self.done {
                    let (gap, gap_end) = self.gap;
                    if gap < gap_end {
                        self.pool.write_free(gap, gap_end - gap, BlockFlags::empty());
                        self.pool.set_prev_free(gap_end, true);
                    }
                    self.pool.rebuild_bits(self.from);
                    self.pool.rebuild_index();
                }
            }
        }
        // Cached blocks are freed for real first: compaction moves used blocks only.
        self.cache_flush();
        let mut stats = CompactStats::default();
        // The blocks below the first free block stay as they are, and so do their bits.
        let mut start = 0;
        while start < self.heap_len && !self.is_free(start) {
            start += self.block_size(start);
        }
        if start >= self.heap_len {
            return stats;
        }
        let mut guard = Unwind { pool: self, from: start, gap: (0, 0), done: false };
        let pool = &mut *guard.pool;
        // The free blocks change: the index is built again from the gaps as they become final, and the
        // bitmaps from `start` on are written a word at a time as the new layout is laid down, in address
        // order (any bit written meanwhile, as by `write_free`, is overwritten).
        pool.bins_clear();
        pool.top = pool.heap_len;
        pool.free_blocks = 0;
        pool.summary_clear();
        let mut bits = BitWriter::new(pool, start);
        // Everything below `cursor` is final; `[cursor, start)` is free (a free block, or several under
        // deferred coalescing, or moved blocks' old bytes covered by one free block); from `start` on the heap
        // is as it was.
        let mut cursor = start;
        while start < pool.heap_len {
            pool.prefetch(start + PREFETCH);
            let (size, flags) = pool.header(start);
            if !flags.contains(BlockFlags::USED) {
                start += size;
            } else if flags.contains(BlockFlags::PINNED) || cursor == start {
                // Stays where it is; the gap before it (if any) is final.
                if cursor < start {
                    pool.final_gap(&mut bits, cursor, start);
                    stats.free_blocks += 1;
                    pool.set_header(start, size, flags | BlockFlags::PREV_FREE);
                } else if flags.contains(BlockFlags::PREV_FREE) {
                    pool.set_header(start, size, flags - BlockFlags::PREV_FREE);
                }
                bits.mark(pool, start, false);
                start += size;
                cursor = start;
            } else {
                // A run of adjacent movable blocks goes down into the gap in one copy.
                let mut end = start + size;
                while end < pool.heap_len {
                    pool.prefetch(end + PREFETCH);
                    let (size, flags) = pool.header(end);
                    if flags & (BlockFlags::USED | BlockFlags::PINNED) != BlockFlags::USED {
                        break;
                    }
                    end += size;
                }
                let (to, delta, len) = (cursor, start - cursor, end - start);
                pool.copy_within(start, to, len);
                let (first_size, first_flags) = pool.header(to);
                pool.set_header(to, first_size, first_flags - BlockFlags::PREV_FREE);
                // The bytes left behind and the free blocks after them are the new gap: the unwind guard
                // makes it a free block if a callback panics, the loop ahead otherwise.
                let gap = to + len;
                let mut gap_end = end;
                while gap_end < pool.heap_len && pool.is_free(gap_end) {
                    gap_end += pool.block_size(gap_end);
                }
                guard.gap = (gap, gap_end);
                stats.moved_bytes += len;
                let mut at = to;
                while at < gap {
                    let size = pool.block_size(at);
                    bits.mark(pool, at, false);
                    stats.moved_blocks += 1;
                    if let (Some(old), Some(new)) = (
                        Block::from_offset(at + delta + HEADER_SIZE),
                        Block::from_offset(at + HEADER_SIZE),
                    ) {
                        relocate(old, new, pool.payload_at_sized(at, size));
                    }
                    at += size;
                }
                (cursor, start) = (gap, gap_end);
            }
        }
        if cursor < pool.heap_len {
            pool.final_gap(&mut bits, cursor, pool.heap_len);
            stats.free_blocks += 1;
        }
        bits.finish(pool);
        guard.done = true;
        stats
    }

    /// Makes `[start, end)` one free block for good (a gap compaction leaves): header, footer, start bits,
    /// the index.
    fn final_gap(&mut self, bits: &mut BitWriter, start: usize, end: usize) {
        self.write_free(start, end - start, BlockFlags::empty());
        bits.mark(self, start, true);
        self.free_insert(start);
        self.free_blocks += 1;
    }

    /// Writes the start bitmap (and the free-start bitmap) from `from` on again from the headers.
    fn rebuild_bits(&mut self, from: usize) {
        let mut bits = BitWriter::new(self, from);
        let mut start = from;
        while start < self.heap_len {
            let (size, flags) = self.header(start);
            bits.mark(self, start, !flags.contains(BlockFlags::USED));
            // A zero size could only come from a corrupt header; stop rather than loop.
            start += size.max(GRANULE);
        }
        bits.finish(self);
    }

    /// As [`compact`](Pool::compact), and trims the blocks it moves: `size_of(block)` says how many bytes
    /// each movable block needs (whole block, header included, as [`block_size_for`](crate::block_size_for)
    /// computes it from the size its owner asked for), and a block larger than that (one that took a
    /// whole free block because the rest was too small to stay free) gives its slack to the free space as it
    /// moves. A block that does not move is trimmed too when its slack can join a free block. `size_of` is
    /// called with each movable block's name before it moves; the sizes are rounded up to a granule and
    /// taken between the policy's smallest block ([`Policy::min_block`](crate::Policy::min_block)) and the
    /// block's size.
    ///
    /// The pool is whole whenever `size_of` or `relocate` runs (the blocks tile the heap, every gap a free
    /// block); a panic in either leaves a sound pool, its index rebuilt, with every payload intact up to
    /// each block's size.
    pub fn compact_trimmed(
        &mut self,
        mut size_of: impl FnMut(Block) -> usize,
        mut relocate: impl FnMut(Block, Block, &[u8]),
    ) -> CompactStats {
        /// Rebuilds the free-block index and counters when compaction ends, by return or by unwinding.
        struct Reindex<'p, 'a>(&'p mut Pool<'a>);
        impl Drop for Reindex<'_, '_> {
            fn drop(&mut self) {
                self.0.rebuild_index();
            }
        }
        // Cached blocks are freed for real first: compaction moves used blocks only.
        self.cache_flush();
        let mut stats = CompactStats::default();
        let pool = Reindex(self);
        let pool = &mut *pool.0;
        let mut wanted = |pool: &Pool<'_>, start: usize, size: usize| -> usize {
            match Block::from_offset(start + HEADER_SIZE) {
                Some(block) => {
                    round_up(size_of(block).min(size), GRANULE).clamp(pool.min_block, size)
                }
                None => size,
            }
            .min(pool.block_size(start))
        };
        // As in `compact`: below `cursor` packed used blocks; `[cursor, start)` one free block or empty; from
        // `start` on the heap as it was.
        let mut cursor = 0;
        let mut start = 0;
        while start < pool.heap_len {
            let (size, flags) = pool.header(start);
            if !flags.contains(BlockFlags::USED) {
                if cursor < start {
                    pool.set_start_bit(start, false);
                    pool.write_free(cursor, start + size - cursor, BlockFlags::empty());
                }
                start += size;
            } else if flags.contains(BlockFlags::PINNED) {
                if cursor < start {
                    stats.free_blocks += 1;
                } else if flags.contains(BlockFlags::PREV_FREE) {
                    pool.set_header(start, size, flags - BlockFlags::PREV_FREE);
                }
                start += size;
                cursor = start;
            } else if cursor == start {
                // Stays where it is; its slack can go only to a free block after it, or be one.
                let want = wanted(pool, start, size);
                let next = start + size;
                let next_free = next < pool.heap_len && pool.is_free(next);
                let flags = flags - BlockFlags::PREV_FREE;
                if want < size && (next_free || size - want >= pool.min_block) {
                    let end = if next_free { next + pool.block_size(next) } else { next };
                    pool.set_header(start, want, flags);
                    if next_free {
                        pool.set_start_bit(next, false);
                    }
                    pool.set_start_bit(start + want, true);
                    pool.write_free(start + want, end - start - want, BlockFlags::empty());
                    pool.set_prev_free(end, true);
                    pool.used_size -= size - want;
                    (cursor, start) = (start + want, end);
                } else if want < size {
                    pool.set_header(start, size, flags);
                    (cursor, start) =
                        pool.gather_slack(start, want, &mut wanted, &mut stats, &mut relocate);
                } else {
                    pool.set_header(start, size, flags);
                    start += size;
                    cursor = start;
                }
            } else {
                // A run of adjacent movable blocks that need no trim goes down in one copy; a block that
                // needs one goes alone, and is trimmed in its new place.
                let want = wanted(pool, start, size);
                let mut end = start + size;
                if want == size {
                    while end < pool.heap_len && pool.is_movable(end) {
                        let size = pool.block_size(end);
                        if wanted(pool, end, size) < size {
                            break;
                        }
                        end += size;
                    }
                }
                let to = cursor;
                (cursor, start) = pool.move_run(to, start, end, &mut stats, &mut relocate);
                if want < size {
                    // The block is at `to`, the gap `[to + size, start)` after it: the slack joins the gap.
                    let (_, flags) = pool.header(to);
                    pool.set_header(to, want, flags);
                    pool.set_start_bit(cursor, false);
                    cursor = to + want;
                    pool.set_start_bit(cursor, true);
                    pool.write_free(cursor, start - cursor, BlockFlags::empty());
                    pool.used_size -= size - want;
                }
            }
        }
        if cursor < pool.heap_len {
            stats.free_blocks += 1;
        }
        stats
    }

    /// Trims the used block at `first` (which does not move) to `want` bytes when its slack is too small
    /// to be a free block and a used block follows: each following movable block slides down over the
    /// slack gathered so far, trimmed in turn, and holds the gathered slack at its end until the slack is
    /// large enough to be a free block, which then becomes the gap of [`compact_trimmed`](Pool::compact_trimmed).
    /// Each moved block is reported with the slack inside it, so the pool is whole at every call. Stops
    /// at a pinned block or the heap's end (the slack stays in the last block) or at a free block (which
    /// takes the slack). Returns the new `(cursor, start)`.
    fn gather_slack(
        &mut self,
        first: usize,
        want: usize,
        wanted: &mut impl FnMut(&Pool<'_>, usize, usize) -> usize,
        stats: &mut CompactStats,
        relocate: &mut impl FnMut(Block, Block, &[u8]),
    ) -> (usize, usize) {
        // The block at `last` wants `last_want` bytes and holds `gap` bytes of slack after them; the next
        // block starts at `pos`.
        let (mut last, mut last_want) = (first, want);
        let mut pos = first + self.block_size(first);
        let mut gap = pos - first - want;
        loop {
            if pos >= self.heap_len || !self.is_movable(pos) {
                if pos < self.heap_len && self.is_free(pos) {
                    // The free block after takes the slack.
                    let end = pos + self.block_size(pos);
                    let (_, flags) = self.header(last);
                    self.set_header(last, last_want, flags);
                    self.set_start_bit(pos, false);
                    let free = last + last_want;
                    self.set_start_bit(free, true);
                    self.write_free(free, end - free, BlockFlags::empty());
                    self.used_size -= gap;
                    return (free, end);
                }
                // A pinned block or the end: the slack stays where it is.
                return (pos, pos);
            }
            let (size, flags) = self.header(pos);
            let next_want = wanted(self, pos, size);
            let to = pos - gap;
            self.copy_within(pos, to, next_want);
            let (_, last_flags) = self.header(last);
            self.set_header(last, last_want, last_flags);
            self.set_header(to, size + gap, flags - BlockFlags::PREV_FREE);
            self.set_start_bit(pos, false);
            self.set_start_bit(to, true);
            stats.moved_blocks += 1;
            stats.moved_bytes += next_want;
            if let (Some(old), Some(new)) =
                (Block::from_offset(pos + HEADER_SIZE), Block::from_offset(to + HEADER_SIZE))
            {
                relocate(old, new, self.payload_at(to));
            }
            let end = pos + size;
            gap += size - next_want;
            if gap >= self.min_block {
                // Enough slack for a free block: the gap of `compact_trimmed`.
                let (_, flags) = self.header(to);
                self.set_header(to, next_want, flags);
                let free = to + next_want;
                self.set_start_bit(free, true);
                self.write_free(free, end - free, BlockFlags::empty());
                self.set_prev_free(end, true);
                self.used_size -= gap;
                return (free, end);
            }
            (last, last_want, pos) = (to, next_want, end);
        }
    }

    /// Moves `block` up past the used blocks that follow it, up to the next free block (or the heap's end),
    /// sliding them down over it in one rotation of their bytes, so that the free block follows `block` and
    /// a resize can grow it in place: after [`compact`](Pool::compact), the way to grow a block larger than
    /// the free space. For each block moved it calls `relocate(old, new, payload)` after the move, in the
    /// order of the new addresses, so `block` last.
    ///
    /// Nothing changes when a free block already follows `block`, and nothing but `relocate` runs when it
    /// is called: no free block changes, so the pool is whole and its index untouched, and a panicking
    /// callback leaves a sound pool with every payload intact. O(blocks moved + bytes moved).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBlock`] if `block` is not live; [`Error::Pinned`] if it or one of the blocks it would
    /// pass is pinned (the offset names the pinned one). Nothing changes on error.
    pub fn move_to_end(
        &mut self,
        block: Block,
        mut relocate: impl FnMut(Block, Block, &[u8]),
    ) -> Result<CompactStats> {
        let start = self.validate(block)?;
        let (size, flags) = self.header(start);
        if flags.contains(BlockFlags::PINNED) {
            return Err(Error::Pinned { offset: block.offset() });
        }
        // The used blocks after `block`, up to a free (or cached) block.
        let mut end = start + size;
        while end < self.heap_len && self.header(end).1.contains(BlockFlags::USED) {
            if self.header(end).1.contains(BlockFlags::PINNED) {
                return Err(Error::Pinned { offset: end + HEADER_SIZE });
            }
            end += self.block_size(end);
        }
        // Cached blocks are freed for real before any block moves; the block at `end` (after used blocks)
        // keeps its start, and `block`'s `PREV_FREE` is read again (a cached block before it is now free).
        self.cache_flush();
        let flags = self.header(start).1;
        let mut stats = CompactStats::default();
        if end == start + size {
            return Ok(stats);
        }
        self.rotate_bytes(start, end - start, size);
        // The blocks that followed now start `size` lower, `block` at `end - size`. Each old start bit is
        // cleared before a later block's new bit is set, and no new start is an old start still to be
        // cleared (it is lower by `size`); the bit at `start` stays, the first block's new start.
        let to = end - size;
        let mut at = start;
        while at < to {
            self.set_start_bit(at + size, false);
            self.set_start_bit(at, true);
            at += self.block_size(at);
        }
        self.set_start_bit(to, true);
        // Every block passed had a used block before it; the first one now has `block`'s predecessor.
        let (first_size, first_flags) = self.header(start);
        self.set_header(start, first_size, first_flags | (flags & BlockFlags::PREV_FREE));
        self.set_header(to, size, flags - BlockFlags::PREV_FREE);
        stats.moved_bytes = end - start;
        // The heap tiles again: report the moves, in address order.
        let mut at = start;
        while at < end {
            let old = if at < to { at + size } else { start };
            stats.moved_blocks += 1;
            if let (Some(old), Some(new)) =
                (Block::from_offset(old + HEADER_SIZE), Block::from_offset(at + HEADER_SIZE))
            {
                relocate(old, new, self.payload_at(at));
            }
            at += self.block_size(at);
        }
        Ok(stats)
    }

    /// Whether the block at `start` is used and not pinned.
    fn is_movable(&self, start: usize) -> bool {
        let flags = self.header(start).1;
        flags.contains(BlockFlags::USED) && !flags.contains(BlockFlags::PINNED)
    }

    /// Moves the adjacent used blocks `[from, end)` down to `to`, the start of the free gap before them, in
    /// one copy; fixes their start bits and the first one's `PREV_FREE`; makes the space left behind, with
    /// any free blocks after it, the new gap; then reports each move. Returns the new gap's start and end.
    fn move_run(
        &mut self,
        to: usize,
        from: usize,
        end: usize,
        stats: &mut CompactStats,
        relocate: &mut impl FnMut(Block, Block, &[u8]),
    ) -> (usize, usize) {
        debug_assert!(to < from && from < end);
        let len = end - from;
        let delta = from - to;
        self.copy_within(from, to, len);
        let (first_size, first_flags) = self.header(to);
        self.set_header(to, first_size, first_flags - BlockFlags::PREV_FREE);
        self.set_free_bit(to, false);
        // In address order, each old start bit is cleared before any later block's new bit is set, and a new
        // start never lands on an old start still to be cleared (it is lower by `delta`). The gap's own bit,
        // at `to`, is the first block's new bit.
        let mut block = to;
        while block < to + len {
            self.set_start_bit(block + delta, false);
            self.set_start_bit(block, true);
            block += self.block_size(block);
        }
        // The new gap: the `delta` bytes left behind, and every free block after them.
        let gap = to + len;
        let mut gap_end = end;
        while gap_end < self.heap_len && self.is_free(gap_end) {
            self.set_start_bit(gap_end, false);
            gap_end += self.block_size(gap_end);
        }
        self.set_start_bit(gap, true);
        self.write_free(gap, gap_end - gap, BlockFlags::empty());
        self.set_prev_free(gap_end, true);
        stats.moved_bytes += len;
        // The heap tiles again: report the moves.
        let mut block = to;
        while block < gap {
            let old = Block::from_offset(block + delta + HEADER_SIZE);
            let new = Block::from_offset(block + HEADER_SIZE);
            stats.moved_blocks += 1;
            if let (Some(old), Some(new)) = (old, new) {
                relocate(old, new, self.payload_at(block));
            }
            block += self.block_size(block);
        }
        (gap, gap_end)
    }
}
