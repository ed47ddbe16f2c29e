//! Whole-pool passes: coalescing every run of free blocks, and compaction.

use crate::{
    pool::{Block, Pool},
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
            self.free_blocks -= merges;
            self.rebuild_index();
        }
        merges
    }

    /// Slides every used, unpinned block toward the start of the pool, in address order, so that the free
    /// space ends up in one block (or one per gap before a pinned block). For each block moved it calls
    /// `relocate(old, new, payload)` after the move, with the block's new payload.
    ///
    /// Blocks move to [`MIN_ALIGN`](crate::MIN_ALIGN) boundaries: a block that needs a larger alignment must
    /// be pinned. Adjacent blocks move together, in one copy. O(n) in the number of blocks plus the bytes
    /// moved.
    pub fn compact(&mut self, mut relocate: impl FnMut(Block, Block, &[u8])) -> CompactStats {
        let mut stats = CompactStats::default();
        // Where the next movable block goes: the end of the packed blocks so far.
        let mut cursor = 0;
        // The run of adjacent movable blocks waiting to move: old start and length (it goes to
        // `cursor - run_len`).
        let (mut run_from, mut run_len) = (0, 0);
        let mut start = 0;
        while start < self.heap_len {
            let (size, flags) = self.header(start);
            let next = start + size;
            if flags.contains(BlockFlags::USED) && !flags.contains(BlockFlags::PINNED) {
                if run_len != 0 && run_from + run_len == start {
                    run_len += size;
                } else if cursor < start {
                    self.move_run(run_from, cursor - run_len, run_len, &mut stats, &mut relocate);
                    (run_from, run_len) = (start, size);
                } else {
                    // Already in place, after packed blocks.
                    self.set_header(start, size, flags - BlockFlags::PREV_FREE);
                }
                cursor += size;
            } else {
                self.move_run(run_from, cursor - run_len, run_len, &mut stats, &mut relocate);
                run_len = 0;
                if !flags.contains(BlockFlags::USED) {
                    self.set_start_bit(start, false);
                } else {
                    // A pinned block. The gap before it stays free; every free block is at least MIN_BLOCK
                    // bytes, so a gap made of them is too.
                    if cursor < start {
                        self.set_start_bit(cursor, true);
                        self.write_free(cursor, start - cursor, BlockFlags::empty());
                        self.set_header(start, size, flags | BlockFlags::PREV_FREE);
                        stats.free_blocks += 1;
                    }
                    cursor = next;
                }
            }
            start = next;
        }
        self.move_run(run_from, cursor - run_len, run_len, &mut stats, &mut relocate);
        if cursor < self.heap_len {
            self.set_start_bit(cursor, true);
            self.write_free(cursor, self.heap_len - cursor, BlockFlags::empty());
            stats.free_blocks += 1;
        }
        self.free_blocks = stats.free_blocks;
        self.rebuild_index();
        stats
    }

    /// Moves the `len` bytes of adjacent used blocks at `from` down to `to` in one copy, then fixes their
    /// start bits and the first one's `PREV_FREE` flag, and reports each move.
    fn move_run(
        &mut self,
        from: usize,
        to: usize,
        len: usize,
        stats: &mut CompactStats,
        relocate: &mut impl FnMut(Block, Block, &[u8]),
    ) {
        if len == 0 {
            return;
        }
        debug_assert!(to < from);
        self.copy_within(from, to, len);
        let delta = from - to;
        let (first_size, first_flags) = self.header(to);
        self.set_header(to, first_size, first_flags - BlockFlags::PREV_FREE);
        // In address order, each old start bit is cleared before any later block's new bit is set, and a new
        // start never lands on an old start still to be cleared (it is lower by `delta`).
        let mut block = to;
        while block < to + len {
            let size = self.block_size(block);
            self.set_start_bit(block + delta, false);
            self.set_start_bit(block, true);
            let old = Block::from_offset_unchecked(block + delta + HEADER_SIZE);
            let new = Block::from_offset_unchecked(block + HEADER_SIZE);
            if let (Some(old), Some(new)) = (old, new) {
                relocate(old, new, self.payload_at(block));
            }
            stats.moved_blocks += 1;
            block += size;
        }
        stats.moved_bytes += len;
    }
}
