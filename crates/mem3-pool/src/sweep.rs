//! Freeing many blocks in one pass: [`Pool::retain`].

use crate::{
    pool::{Block, Coalescing, Pool},
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
        /// Rebuilds the index when the sweep ends, by return or by unwinding out of `keep`.
        struct Reindex<'p, 'a>(&'p mut Pool<'a>, usize);
        impl Drop for Reindex<'_, '_> {
            fn drop(&mut self) {
                if self.1 != 0 {
                    self.0.rebuild_index();
                }
            }
        }
        let merge = self.config.coalescing == Coalescing::Immediate;
        let mut sweep = Reindex(self, 0);
        let pool = &mut *sweep.0;
        // With immediate coalescing, the free block that ends where the walk is (start and size), which a
        // block freed now, or a free block after one freed, merges into.
        let mut run: Option<(usize, usize)> = None;
        let mut start = 0;
        while start < pool.heap_len {
            let (size, flags) = pool.header(start);
            let free = if flags.contains(BlockFlags::USED) {
                let block = Block::from_offset(start + HEADER_SIZE).expect("payloads are past 0");
                if keep(block, pool.payload_at(start)) {
                    false
                } else if pool.cache_push(start, size) {
                    // Into the front cache, as `free` would put it: not free to its neighbours.
                    sweep.1 += 1;
                    false
                } else {
                    pool.used_blocks -= 1;
                    pool.used_size -= size;
                    pool.free_size += size;
                    pool.set_prev_free(start + size, true);
                    sweep.1 += 1;
                    true
                }
            } else {
                // A free block, or one in the front cache (which stays there, and is not asked about).
                pool.is_free(start)
            };
            // The heap is whole at every call of `keep`: a freed block is at once a free block, merged with
            // the free one before it; only the index lags, and nothing searches it until the end.
            run = match (free, run) {
                (false, _) => None,
                (true, Some((run_start, run_size))) if merge => {
                    let run_flags = pool.header(run_start).1 & BlockFlags::PREV_FREE;
                    pool.set_start_bit(start, false);
                    pool.write_free(run_start, run_size + size, run_flags);
                    Some((run_start, run_size + size))
                }
                (true, _) => {
                    if flags.contains(BlockFlags::USED) {
                        pool.write_free(start, size, flags & BlockFlags::PREV_FREE);
                    }
                    Some((start, size))
                }
            };
            start += size;
        }
        sweep.1
    }
}
