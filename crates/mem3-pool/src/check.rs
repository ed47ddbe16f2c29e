//! The integrity check: a walk over the whole pool that verifies every invariant.

use crate::{
    cache::{CACHE_MAX, CACHED},
    error::{Corruption, CorruptionKind},
    index::bin_of,
    pool::{Coalescing, Policy, Pool},
    tag::{BlockFlags, GRANULE, NIL, WORD},
};

/// Deeper than any AVL tree of `u32` nodes can be: a deeper walk means a cycle.
const MAX_DEPTH: u32 = 64;

impl Pool<'_> {
    /// Walks the whole pool and verifies every invariant: the blocks tile the heap exactly, every size is
    /// valid, free blocks' footers repeat their headers, `PREV_FREE` flags agree with their neighbours, no
    /// two free blocks are adjacent under immediate coalescing, the block-start bitmap marks exactly the block
    /// starts, the free-block index holds exactly the free blocks (ordered, balanced, with correct heights and
    /// maxima), the front cache's lists hold exactly the cached blocks, and the counters match. O(n) in the
    /// pool's size.
    pub fn check(&self) -> Result<(), Corruption> {
        let fail = |offset, kind| Err(Corruption { offset, kind });
        let (mut used_blocks, mut used_size, mut free_blocks, mut free_size) = (0, 0, 0, 0);
        let mut cached_blocks = 0;
        let mut highest_used_end = 0;
        let mut prev_free = false;
        let mut last_start = None;
        let mut start = 0;
        while start < self.heap_len {
            if !self.start_bit(start) {
                return fail(start, CorruptionKind::StartBitmap(false));
            }
            let (size, flags) = self.header(start);
            if size < self.min_block || size > self.heap_len - start {
                return fail(start, CorruptionKind::BadSize(size));
            }
            let flag = flags.contains(BlockFlags::PREV_FREE);
            if flag != prev_free {
                return fail(start, CorruptionKind::PrevFreeFlag { flag, prev_free });
            }
            if let Some(inside) =
                (start + GRANULE..start + size).step_by(GRANULE).find(|&g| self.start_bit(g))
            {
                return fail(inside, CorruptionKind::StartBitmap(true));
            }
            let used = flags.contains(BlockFlags::USED);
            let cached = !used && flags.contains(CACHED) && self.config.front_cache;
            if used {
                used_blocks += 1;
                used_size += size;
                highest_used_end = start + size;
            } else if cached {
                // In the front cache: free in the counters, used to its neighbours (no footer, no merging).
                if size > CACHE_MAX {
                    return fail(
                        start,
                        CorruptionKind::Index("front cache holds a block it should not"),
                    );
                }
                cached_blocks += 1;
                free_size += size;
                highest_used_end = start + size;
            } else {
                if flags.contains(BlockFlags::PINNED) {
                    return fail(start, CorruptionKind::PinnedFree);
                }
                let footer = self.word(start + size - WORD);
                if footer != size {
                    return fail(start, CorruptionKind::FooterMismatch { size, footer });
                }
                if prev_free && self.config.coalescing == Coalescing::Immediate {
                    return fail(start, CorruptionKind::AdjacentFree);
                }
                free_blocks += 1;
                free_size += size;
            }
            prev_free = !used && !cached;
            last_start = Some(start);
            start += size;
        }
        let counters = [
            ("used_blocks", used_blocks == self.used_blocks),
            ("used_size", used_size == self.used_size),
            ("free_blocks", free_blocks == self.free_blocks),
            ("free_size", free_size == self.free_size()),
            ("peak_extent", highest_used_end <= self.peak_extent),
        ];
        if let Some((name, _)) = counters.iter().find(|(_, ok)| !ok) {
            return fail(0, CorruptionKind::Counter(name));
        }
        if let Err((offset, what)) = self.cache_check(cached_blocks) {
            return fail(offset, CorruptionKind::Index(what));
        }
        // The top block: the last block if it is free, and then not in the index.
        let last_free = last_start.filter(|&last| self.is_free(last));
        if last_free.unwrap_or(self.heap_len) != self.top {
            return fail(
                self.top.min(self.heap_len),
                CorruptionKind::Index("top block is not the last free block"),
            );
        }
        if self.config.policy == Policy::FirstFit {
            if self.bins.count != 0 || self.bins.words != 0 {
                return fail(0, CorruptionKind::Index("best-fit bins in a first-fit pool"));
            }
            return self.summary_check().or_else(|what| fail(0, CorruptionKind::Index(what)));
        }
        // The bitmap of non-empty bins names exactly the bins with a root, and each tree holds its bin's sizes.
        let mut indexed = 0;
        for (w, &word) in self.bins.map.iter().enumerate() {
            if (word != 0) != (self.bins.words >> w & 1 != 0) {
                return fail(0, CorruptionKind::Index("bin words disagree with the bin map"));
            }
            let bins_here = self.bins.count.saturating_sub(w * 64);
            if bins_here < 64 && word >> bins_here != 0 {
                return fail(0, CorruptionKind::Index("a bin past the last marked used"));
            }
        }
        if self.bins.words >> self.bins.map.len() != 0 {
            return fail(0, CorruptionKind::Index("bin words past the map"));
        }
        for bin in 0..self.bins.count {
            let root = self.bin_root(bin);
            if (root != NIL) != self.bins.is_used(bin) {
                return fail(0, CorruptionKind::Index("bin map disagrees with the bin's root"));
            }
            indexed += self.check_subtree(root, bin, None, None, 0)?.2;
        }
        let expected = free_blocks - usize::from(last_free.is_some());
        if indexed != expected {
            return fail(0, CorruptionKind::IndexCount { indexed, free: expected });
        }
        Ok(())
    }

    /// Checks the subtree at `n` of bin `bin`'s tree, whose keys must lie strictly between `low` and `high`;
    /// returns its height, its largest block (in granules) and its number of nodes.
    fn check_subtree(
        &self,
        n: u32,
        bin: usize,
        low: Option<u64>,
        high: Option<u64>,
        depth: u32,
    ) -> Result<(u32, u32, usize), Corruption> {
        if n == NIL {
            return Ok((0, 0, 0));
        }
        let start = n as usize * GRANULE;
        let fail = |what| Err(Corruption { offset: start, kind: CorruptionKind::Index(what) });
        if depth > MAX_DEPTH {
            return fail("deeper than any balanced tree (a cycle?)");
        }
        // The walk has verified every block start, so a node whose start bit is set has a valid size.
        if start >= self.heap_len
            || !self.start_bit(start)
            || !self.is_free(start)
            || start == self.top
        {
            return fail("node is not an indexed free block");
        }
        if bin_of(self.node_size(n)) != bin {
            return fail("node in another size's bin");
        }
        let key = self.key(n);
        if low.is_some_and(|low| key <= low) || high.is_some_and(|high| key >= high) {
            return fail("keys out of order");
        }
        let (lh, lmax, lcount) =
            self.check_subtree(self.left(n), bin, low, Some(key), depth + 1)?;
        let (rh, rmax, rcount) =
            self.check_subtree(self.right(n), bin, Some(key), high, depth + 1)?;
        if lh.abs_diff(rh) > 1 {
            return fail("unbalanced");
        }
        let height = 1 + lh.max(rh);
        if self.height(n) != height {
            return fail("wrong height");
        }
        let max = self.node_size(n).max(lmax).max(rmax);
        if self.subtree_max(n) != max {
            return fail("wrong subtree maximum");
        }
        Ok((height, max, lcount + rcount + 1))
    }
}
