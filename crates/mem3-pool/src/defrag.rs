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
    /// be pinned. O(n) in the number of blocks plus the bytes moved.
    pub fn compact(&mut self, mut relocate: impl FnMut(Block, Block, &[u8])) -> CompactStats {
        let mut stats = CompactStats::default();
        // Where the next movable block goes: the end of the packed blocks so far.
        let mut cursor = 0;
        let mut start = 0;
        while start < self.heap_len {
            let (size, flags) = self.header(start);
            let next = start + size;
            if !flags.contains(BlockFlags::USED) {
                self.set_start_bit(start, false);
            } else if flags.contains(BlockFlags::PINNED) {
                if cursor < start {
                    // The gap before the pinned block stays free. Every free block is at least MIN_BLOCK
                    // bytes, so a gap made of them is too.
                    self.set_start_bit(cursor, true);
                    self.write_free(cursor, start - cursor, BlockFlags::empty());
                    self.set_header(start, size, flags | BlockFlags::PREV_FREE);
                    stats.free_blocks += 1;
                }
                cursor = next;
            } else {
                if cursor < start {
                    self.copy_within(start, cursor, size);
                    self.set_start_bit(start, false);
                    self.set_start_bit(cursor, true);
                    self.set_header(cursor, size, flags - BlockFlags::PREV_FREE);
                    stats.moved_blocks += 1;
                    stats.moved_bytes += size;
                    let old = Block::from_offset_unchecked(start + HEADER_SIZE);
                    let new = Block::from_offset_unchecked(cursor + HEADER_SIZE);
                    if let (Some(old), Some(new)) = (old, new) {
                        relocate(old, new, self.payload_at(cursor));
                    }
                } else {
                    self.set_header(cursor, size, flags - BlockFlags::PREV_FREE);
                }
                cursor += size;
            }
            start = next;
        }
        if cursor < self.heap_len {
            self.set_start_bit(cursor, true);
            self.write_free(cursor, self.heap_len - cursor, BlockFlags::empty());
            stats.free_blocks += 1;
        }
        self.free_blocks = stats.free_blocks;
        self.rebuild_index();
        stats
    }
}
