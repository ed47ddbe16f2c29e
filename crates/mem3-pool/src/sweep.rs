//! Freeing many blocks at once: [`Pool::retain`] asks about every block, [`Pool::retain_only`] is told
//! which to keep.

use crate::{
    cache::FrontCache,
    error::{Error, Result},
    pool::{Block, Coalescing, Pool},
    summary::SLOT,
    tag::{BlockFlags, HEADER_SIZE},
};

impl Pool<'_> {
    /// Frees every used block for which `keep(block, payload)` returns `false`, in one pass over the heap in
    /// address order, and returns how many it freed: the sweep of a garbage collector. The pool ends exactly
    /// as if each had been freed by [`free`](Pool::free) (with immediate coalescing, runs of free blocks
    /// merge; with deferred coalescing they stay apart until [`coalesce`](Pool::coalesce)), but the index is
    /// rebuilt once instead of updated per block: O(n) in the number of blocks, plus the index's size.
    ///
    /// With the front cache on, a refused block goes into the cache as `free` would put it. Pinned blocks are
    /// asked too; a pin only stops compaction. If `keep` panics, the unwind leaves a sound
    /// pool in which the blocks already refused are freed and every other block is as it was.
    pub fn retain(&mut self, mut keep: impl FnMut(Block, &[u8]) -> bool) -> usize {
        let merge = self.config.coalescing == Coalescing::Immediate;
        let mut sweep = Sweep { pool: self, freed: 0, run: None };
        let mut start = 0;
        while start < sweep.pool.heap_len {
            let pool = &mut *sweep.pool;
            let (size, flags) = pool.header(start);
            let freed_now = flags.contains(BlockFlags::USED) && {
                let block = Block::from_offset(start + HEADER_SIZE).expect("payloads are past 0");
                !keep(block, pool.payload_at(start))
            };
            let free = if freed_now {
                sweep.freed += 1;
                if pool.cache_push(start, size) {
                    // Into the front cache, as `free` would put it: not free to its neighbours.
                    false
                } else {
                    pool.used_blocks -= 1;
                    pool.used_size -= size;
                    true
                }
            } else {
                // A kept block, a free block, or one in the front cache (which stays there, unasked).
                !flags.contains(BlockFlags::USED) && pool.is_free(start)
            };
            sweep.run = match sweep.run {
                Some(run) if free && merge => {
                    // The block joins the run: its start goes; the run's tags are written when it ends.
                    sweep.pool.set_start_bit(start, false);
                    Some(Run { size: run.size + size, changed: true, ..run })
                }
                run => {
                    if let Some(run) = run {
                        sweep.pool.close_run(run);
                    }
                    free.then_some(Run { start, size, changed: freed_now })
                }
            };
            start += size;
        }
        sweep.freed
    }

    /// Keeps exactly the used blocks named in `keep`, which must be in ascending address order, and frees
    /// every other used block (pinned ones too: a pin only stops compaction); returns how many it freed.
    /// The space between two kept blocks becomes one free block, whatever the coalescing mode, and the
    /// front cache is emptied into it. The freed blocks are never visited: the cost is O(`keep.len()`) plus
    /// one write per bitmap word (1/512 of the heap) and an index rebuilt from the at most
    /// `2 * keep.len() + 1` blocks left. A collector that knows its survivors (a copying collector's view)
    /// pays for them, not for its garbage; [`retain`](Pool::retain) asks about every block instead.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBlock`] for a name that is not a live block, [`Error::OutOfOrder`] for a block that
    /// does not lie above the one before it (a repeated name included). Nothing changes then.
    pub fn retain_only(&mut self, keep: &[Block]) -> Result<usize> {
        let mut end = 0;
        for &block in keep {
            let start = self.validate(block)?;
            if start < end {
                return Err(Error::OutOfOrder { offset: block.offset() });
            }
            end = start + self.block_size(start);
        }
        let freed = self.used_blocks - keep.len();
        // Cached blocks lie between kept ones: they become part of the free blocks written below.
        self.cache = FrontCache::EMPTY;
        for slot in 0..self.heap_len.div_ceil(SLOT) {
            self.set_bit_words(slot, 0, 0);
        }
        let (mut end, mut used_size) = (0, 0);
        for &block in keep {
            let start = block.offset() - HEADER_SIZE;
            let (size, mut flags) = self.header(start);
            flags.set(BlockFlags::PREV_FREE, self.free_span(end, start));
            self.set_header(start, size, flags);
            self.set_start_bit(start, true);
            used_size += size;
            end = start + size;
        }
        self.free_span(end, self.heap_len);
        self.used_blocks = keep.len();
        self.used_size = used_size;
        self.rebuild_index();
        Ok(freed)
    }

    /// Makes the bytes `start..end` one free block, after a used block, and returns whether there were any.
    /// The span is made of whole blocks, so it is empty or at least the smallest block.
    fn free_span(&mut self, start: usize, end: usize) -> bool {
        if start == end {
            return false;
        }
        self.write_free(start, end - start, BlockFlags::empty());
        self.set_start_bit(start, true);
        true
    }

    /// Writes the tags of a swept run of free blocks that changed: one free block's header and footer, and
    /// `PREV_FREE` in the block after it.
    fn close_run(&mut self, run: Run) {
        if run.changed {
            let flags = self.header(run.start).1 & BlockFlags::PREV_FREE;
            self.write_free(run.start, run.size, flags);
            self.set_prev_free(run.start + run.size, true);
        }
    }
}

/// A run of free blocks the sweep has passed, to be written as one free block when it ends: at `start`,
/// `size` bytes, and whether it holds a block freed in this sweep or merged (else it is one free block,
/// already as it should be).
#[derive(Clone, Copy)]
struct Run {
    start: usize,
    size: usize,
    changed: bool,
}

/// A sweep in progress. When it ends, by return or by unwinding out of `keep`, it writes the open run's tags
/// (so the heap is whole: between calls of `keep` only the open run's tags lag) and rebuilds the index if
/// any block was freed.
struct Sweep<'p, 'a> {
    pool: &'p mut Pool<'a>,
    freed: usize,
    run: Option<Run>,
}

impl Drop for Sweep<'_, '_> {
    fn drop(&mut self) {
        if let Some(run) = self.run.take() {
            self.pool.close_run(run);
        }
        if self.freed != 0 {
            self.pool.rebuild_index();
        }
    }
}
