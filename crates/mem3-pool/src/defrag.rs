//! Whole-pool passes: coalescing every run of free blocks, and compaction.

use crate::{
    pool::{Block, BlockState, Pool},
    tag::{BlockFlags, HEADER_SIZE},
};

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
    /// Merges every run of adjacent free blocks into one block and returns how many merges it did. With
    /// immediate coalescing there is never anything to merge; with deferred coalescing this is the pass that
    /// does it. O(n) in the number of blocks, plus O(f log f) to rebuild the index when anything merged.
    pub fn coalesce(&mut self) -> usize {
        let mut merges = 0;
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
    /// be pinned. Adjacent blocks move together, in one copy. O(n) in the number of blocks plus the bytes
    /// moved.
    ///
    /// The pool is whole whenever `relocate` runs: every block the callback has not yet been told about was
    /// either not moved or moved in the same run as the block it is told about now. If `relocate` panics,
    /// the unwind leaves a sound pool (its index and counters rebuilt) in which the blocks already moved stay
    /// moved, those reported and those of the same run alike, and every payload is intact.
    pub fn compact(&mut self, mut relocate: impl FnMut(Block, Block, &[u8])) -> CompactStats {
        /// Rebuilds the free-block index and the free-block count from the heap when compaction ends, by
        /// return or by unwinding out of a callback.
        struct Reindex<'p, 'a>(&'p mut Pool<'a>);
        impl Drop for Reindex<'_, '_> {
            fn drop(&mut self) {
                self.0.rebuild_index();
            }
        }
        let mut stats = CompactStats::default();
        let pool = Reindex(self);
        let pool = &mut *pool.0;
        // Everything below `cursor` is packed used blocks; `[cursor, start)` is one free block (the gap),
        // or empty; from `start` on the heap is as it was.
        let mut cursor = 0;
        let mut start = 0;
        while start < pool.heap_len {
            let (size, flags) = pool.header(start);
            if !flags.contains(BlockFlags::USED) {
                if cursor < start {
                    // Grow the gap over this free block.
                    pool.set_start_bit(start, false);
                    pool.write_free(cursor, start + size - cursor, BlockFlags::empty());
                }
                start += size;
            } else if flags.contains(BlockFlags::PINNED) || cursor == start {
                // Stays where it is; the gap before it (if any) stays free.
                if cursor < start {
                    stats.free_blocks += 1;
                } else if flags.contains(BlockFlags::PREV_FREE) {
                    pool.set_header(start, size, flags - BlockFlags::PREV_FREE);
                }
                start += size;
                cursor = start;
            } else {
                // A run of adjacent movable blocks goes down into the gap.
                let mut end = start;
                while end < pool.heap_len && pool.is_movable(end) {
                    end += pool.block_size(end);
                }
                (cursor, start) = pool.move_run(cursor, start, end, &mut stats, &mut relocate);
            }
        }
        if cursor < pool.heap_len {
            stats.free_blocks += 1;
        }
        stats
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
