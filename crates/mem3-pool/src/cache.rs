//! The front cache ([`Config::front_cache`]): short per-size LIFO lists of recently freed small blocks,
//! taken before the index is asked.
//!
//! Real programs free and allocate the same small sizes again and again. With the cache on, `free` of a
//! block of at most [`CACHE_MAX`] bytes does not merge it with its neighbours or index it: it pushes the
//! block on the list of its exact size (at most [`CACHE_LIMIT`] blocks a list), and an allocation of that
//! size pops it. Both are O(1) and touch the block's header and the list head only. This is deferred
//! coalescing in front of the index: the cached blocks are merged back (*flushed*, freed for real) before
//! an allocation may fail, and before anything that walks or moves blocks (`compact`, `compact_trimmed`,
//! `move_to_end`, `retain`, `coalesce`).
//!
//! A cached block keeps its header with the flags `PINNED` without `USED`, a state no other block has:
//! validation refuses it (it is not `USED`), so a stale [`Block`](crate::Block) of a cached block is an
//! error like any other stale name, and its neighbours treat it as used (it is not free: no footer, no
//! merging). The list link, the next cached block's granule number, is in its first payload word.
//!
//! Placements then differ from exact first fit: a request served from the cache gets the most recently
//! freed block of its size, not the lowest-addressed block that fits. That is why the cache is off by
//! default.

use crate::{
    pool::Pool,
    tag::{BlockFlags, GRANULE, HEADER_SIZE, NIL},
};

/// The largest block the cache keeps, header included.
pub const CACHE_MAX: usize = 256;
/// The most blocks one size's list keeps; a block freed beyond that is freed for real.
pub const CACHE_LIMIT: usize = 32;
/// One list per block size in granules, `0..=CACHE_MAX / GRANULE` (the sizes below the smallest block
/// stay empty).
const CLASSES: usize = CACHE_MAX / GRANULE + 1;

static_assertions::const_assert!(CACHE_MAX % GRANULE == 0);
static_assertions::const_assert!(CACHE_LIMIT <= u8::MAX as usize);

/// The lists of the front cache.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrontCache {
    /// The granule number of the last cached block of each size, or `NIL`.
    pub(crate) heads: [u32; CLASSES],
    /// The number of blocks on each list.
    pub(crate) lens: [u8; CLASSES],
    /// Blocks on all lists.
    pub(crate) blocks: usize,
}

impl FrontCache {
    pub(crate) const EMPTY: FrontCache =
        FrontCache { heads: [NIL; CLASSES], lens: [0; CLASSES], blocks: 0 };
}

/// The header flags that mark a cached block (see the module docs).
pub(crate) const CACHED: BlockFlags = BlockFlags::PINNED;

impl Pool<'_> {
    /// Pops a cached block of exactly `size` bytes (a whole block size) and makes it used; its start.
    #[inline]
    pub(crate) fn cache_pop(&mut self, size: usize) -> Option<usize> {
        debug_assert!(size <= CACHE_MAX && size % GRANULE == 0);
        let k = size / GRANULE;
        let head = self.cache.heads[k];
        if head == NIL {
            return None;
        }
        let start = head as usize * GRANULE;
        self.cache.heads[k] = self.word(start + HEADER_SIZE) as u32;
        self.cache.lens[k] -= 1;
        self.cache.blocks -= 1;
        let flags = self.header(start).1 & BlockFlags::PREV_FREE;
        self.set_header(start, size, BlockFlags::USED | flags);
        self.used_blocks += 1;
        self.used_size += size;
        Some(start)
    }

    /// Pushes the used block at `start` of `size` bytes on its list, if the cache is on, the block small
    /// enough and its list not full; whether it did. The block is then free in the figures, and cached.
    #[inline]
    pub(crate) fn cache_push(&mut self, start: usize, size: usize) -> bool {
        let k = size / GRANULE;
        if !self.config.front_cache
            || size > CACHE_MAX
            || self.cache.lens[k] as usize >= CACHE_LIMIT
        {
            return false;
        }
        let flags = self.header(start).1 & BlockFlags::PREV_FREE;
        self.set_header(start, size, CACHED | flags);
        self.set_word(start + HEADER_SIZE, self.cache.heads[k] as usize);
        self.cache.heads[k] = (start / GRANULE) as u32;
        self.cache.lens[k] += 1;
        self.cache.blocks += 1;
        self.used_blocks -= 1;
        self.used_size -= size;
        true
    }

    /// Frees every cached block for real (merging it with its free neighbours); returns how many there were.
    pub(crate) fn cache_flush(&mut self) -> usize {
        let flushed = self.cache.blocks;
        if flushed == 0 {
            return 0;
        }
        for k in 0..CLASSES {
            while let Some(start) = self.cache_pop(k * GRANULE) {
                self.release(start);
            }
        }
        debug_assert_eq!(self.cache.blocks, 0);
        flushed
    }

    /// The largest cached block's size, 0 if none.
    pub(crate) fn cache_largest(&self) -> usize {
        if self.cache.blocks == 0 {
            return 0;
        }
        (0..CLASSES).rev().find(|&k| self.cache.heads[k] != NIL).map_or(0, |k| k * GRANULE)
    }

    /// Checks the lists against the heap, given the number of cached blocks the heap walk found: each list
    /// holds at most `CACHE_LIMIT` distinct cached blocks of its size (each a block start whose header
    /// marks it cached), as many as its length says, and the lists together hold `walked` blocks, so they
    /// hold every cached block of the heap exactly once.
    pub(crate) fn cache_check(&self, walked: usize) -> Result<(), (usize, &'static str)> {
        let mut total = 0;
        for k in 0..CLASSES {
            let mut seen = [NIL; CACHE_LIMIT];
            let mut at = self.cache.heads[k];
            for n in 0..=CACHE_LIMIT {
                if at == NIL {
                    if n != self.cache.lens[k] as usize {
                        return Err((0, "front cache list length is wrong"));
                    }
                    total += n;
                    break;
                }
                let start = at as usize * GRANULE;
                if n == CACHE_LIMIT
                    || start >= self.heap_len
                    || !self.start_bit(start)
                    || self.block_size(start) != k * GRANULE
                    || self.header(start).1 - BlockFlags::PREV_FREE != CACHED
                {
                    return Err((
                        start.min(self.heap_len),
                        "front cache holds a block it should not",
                    ));
                }
                if seen[..n].contains(&at) {
                    return Err((start, "front cache holds a block twice"));
                }
                seen[n] = at;
                at = self.word(start + HEADER_SIZE) as u32;
            }
        }
        if total != walked || total != self.cache.blocks {
            return Err((0, "front cache lists do not hold exactly the cached blocks"));
        }
        Ok(())
    }
}
