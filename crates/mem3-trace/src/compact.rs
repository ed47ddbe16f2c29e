//! Compacting replay: every trace ID names a movable block, as a handle names an object, so a request that
//! does not fit can compact the pool and try again.
//!
//! [`CompactingPool`] is a [`TraceAllocator`] whose block names are handles (from 1), not offsets: it
//! keeps a table from handle to block and a reverse table from block start to handle, which the relocation
//! callback of [`Pool::compact`] updates in O(1) per moved block. Since the names never change, [`replay`] and
//! [`min_pool`] run on it unchanged; [`replay_compacting_checked`] fills every block with a pattern of its
//! own and verifies every moved block after every compaction.

use std::num::NonZeroUsize;

use mem3_pool::{
    Block, Config, Error, HEADER_SIZE, MIN_ALIGN, MIN_BLOCK, Policy, Pool, block_size_for,
};

use crate::{
    CheckError, Observable, Op, OwnedPool, Replay, Trace, TraceAllocator, min_pool, replay,
};

/// Which blocks a compacting replay pins: none, or every `n`th allocation (`n = 100` pins 1%). A pinned
/// block never moves in a compaction; it may still move when the trace resizes it (the program gets a new
/// address from a resize anyway), and the resized block stays pinned. Blocks aligned above [`MIN_ALIGN`]
/// are always pinned, since compaction moves blocks to `MIN_ALIGN` boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pinning {
    /// Pin the `n`th, `2n`th, ... allocation; `None` pins nothing.
    pub every: Option<NonZeroUsize>,
}

impl Pinning {
    /// Nothing pinned.
    pub const NONE: Pinning = Pinning { every: None };

    /// Every `n`th allocation pinned (`n = 0` pins nothing).
    pub fn every(n: usize) -> Pinning {
        Pinning { every: NonZeroUsize::new(n) }
    }
}

/// What the compactions of one replay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Compaction {
    /// Compactions run.
    pub compactions: usize,
    /// Blocks moved by them.
    pub moved_blocks: usize,
    /// Bytes moved by them (whole blocks, headers included), and by the moves of
    /// [`end_moves`](Compaction::end_moves).
    pub moved_bytes: usize,
    /// Resizes that found no room after compacting and moved the block past the blocks after it, to just
    /// before the free space ([`Pool::move_to_end`](mem3_pool::Pool::move_to_end)), to grow it in place.
    pub end_moves: usize,
    /// Allocations pinned (by [`Pinning`] or their alignment).
    pub pinned_blocks: usize,
    /// The index (from 0) of the first request that needed a compaction, or `None`.
    pub first_request: Option<usize>,
}

/// When a compacting request calls its hook (see [`Observable`](crate::Observable)): just before the
/// compaction, or just after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompactionPhase {
    /// The pool as the request found it, too fragmented for it.
    Before,
    /// The pool compacted, before the request is tried again.
    After,
}

/// A hook a request calls around each compaction it runs.
type Hook<'h> = &'h mut dyn FnMut(&CompactingPool, CompactionPhase);

/// Where the block of a handle is; `VACANT` for a handle not in use.
const VACANT: usize = 0;

/// A mem3 pool over a region of its own whose blocks are named by handles, so that it can compact: a
/// request that does not fit, although the free bytes would hold it once compacted, compacts the pool and
/// is tried again.
///
/// A resize that still finds no room after compacting, although the block grown would fit in its own bytes
/// and the free space, moves the block past the blocks after it, to just before the free space
/// ([`Pool::move_to_end`](mem3_pool::Pool::move_to_end)), and grows it in place.
#[derive(Debug)]
pub struct CompactingPool {
    pool: OwnedPool,
    /// Handle to the block's payload offset, or `VACANT`. Handles start at 1.
    blocks: Vec<usize>,
    /// Handle to the size its block was last asked for, which compaction trims the block to.
    sizes: Vec<usize>,
    /// Handles not in use, to reuse.
    vacant: Vec<usize>,
    /// The handle of the block that starts at `(offset - HEADER_SIZE) / MIN_BLOCK`. Blocks are at least
    /// `MIN_BLOCK` bytes apart, so no two live blocks share an entry; entries of blocks gone are stale and
    /// never read.
    owner: Vec<u32>,
    pinning: Pinning,
    allocations: usize,
    /// Requests (calls of `alloc`, `free` and `realloc`) so far.
    requests: usize,
    /// Live blocks that are pinned.
    pinned_live: usize,
    /// Refuse, rather than run, the next compaction (see [`pause_before_compaction`](Self::pause_before_compaction)).
    pause: bool,
    paused: bool,
    /// Whether to record the handles each compaction moves (for the checked replay).
    track: bool,
    moved: Vec<usize>,
    figures: Compaction,
}

impl CompactingPool {
    /// The pool's smallest block, by its policy.
    fn min_block(&self) -> usize {
        self.pool.pool().config().policy.min_block()
    }

    /// A compacting pool over a fresh `bytes`-byte region with `config`. Errors as from [`OwnedPool::new`];
    /// [`Error::RegionUnavailable`] too when the system allocator refuses the reverse table (4 bytes per
    /// `MIN_BLOCK` bytes of pool).
    pub fn new(bytes: usize, config: Config, pinning: Pinning) -> Result<CompactingPool, Error> {
        CompactingPool::over(OwnedPool::new(bytes, config)?, pinning)
    }

    /// As [`new`](CompactingPool::new), over a region whose pages are all written first
    /// ([`OwnedPool::prefaulted`]), so that no page fault lands in a timed replay.
    pub fn prefaulted(
        bytes: usize,
        config: Config,
        pinning: Pinning,
    ) -> Result<CompactingPool, Error> {
        CompactingPool::over(OwnedPool::prefaulted(bytes, config)?, pinning)
    }

    /// A compacting pool over `pool`, which is empty.
    fn over(pool: OwnedPool, pinning: Pinning) -> Result<CompactingPool, Error> {
        let bytes = pool.region_bytes();
        let entries = pool.pool().capacity() / MIN_BLOCK + 1;
        let mut owner = Vec::new();
        owner.try_reserve_exact(entries).map_err(|_| Error::RegionUnavailable { len: bytes })?;
        owner.resize(entries, 0);
        Ok(CompactingPool {
            pool,
            // Handle 0 is never given out: a replay's 0 means "no block" (see `Live::ptrs`).
            blocks: vec![VACANT],
            sizes: vec![0],
            vacant: Vec::new(),
            owner,
            pinning,
            allocations: 0,
            requests: 0,
            pinned_live: 0,
            pause: false,
            paused: false,
            track: false,
            moved: Vec::new(),
            figures: Compaction::default(),
        })
    }

    /// The pool.
    pub fn pool(&self) -> &mem3_pool::Pool<'_> {
        self.pool.pool()
    }

    /// What the compactions so far did.
    pub fn figures(&self) -> Compaction {
        self.figures
    }

    /// From now on, a request that would need a compaction fails instead (as on a pool that cannot
    /// move blocks), and [`paused`](Self::paused) says so: to look at the heap just before its first
    /// compaction, then [`compact`](Self::compact) and look again.
    pub fn pause_before_compaction(&mut self, on: bool) {
        self.pause = on;
    }

    /// Whether a request failed because [`pause_before_compaction`](Self::pause_before_compaction) refused
    /// its compaction.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The block of handle `name`, if it is live.
    pub fn block(&self, name: usize) -> Option<Block> {
        self.blocks.get(name).and_then(|&offset| Block::from_offset(offset))
    }

    /// The handle of the live block `block`, from the reverse table in O(1); `None` if no handle names it
    /// (any `Block`, even one that names no block of this pool, gets an answer).
    pub fn handle(&self, block: Block) -> Option<usize> {
        let entry = block.offset().checked_sub(HEADER_SIZE)? / MIN_BLOCK;
        let name = *self.owner.get(entry)? as usize;
        (self.blocks.get(name) == Some(&block.offset())).then_some(name)
    }

    fn entry(block: Block) -> usize {
        (block.offset() - HEADER_SIZE) / MIN_BLOCK
    }

    /// Names `block`, asked for `size` bytes, by a fresh handle.
    fn insert(&mut self, block: Block, size: usize) -> usize {
        let name = match self.vacant.pop() {
            Some(name) => name,
            None => {
                self.blocks.push(VACANT);
                self.sizes.push(0);
                self.blocks.len() - 1
            }
        };
        self.set(name, block);
        self.sizes[name] = size;
        name
    }

    fn set(&mut self, name: usize, block: Block) {
        self.blocks[name] = block.offset();
        self.owner[Self::entry(block)] = name as u32;
    }

    /// Compacts the pool now, updating every moved block's handle and trimming every block to the size
    /// last asked for ([`Pool::compact_trimmed`](mem3_pool::Pool::compact_trimmed)); returns the figures so far.
    pub fn compact(&mut self) -> Compaction {
        let min_block = self.min_block();
        let (blocks, sizes, moved, track) =
            (&mut self.blocks, &self.sizes, &mut self.moved, self.track);
        // Both callbacks read the reverse table; the relocation writes it.
        let owner = std::cell::Cell::from_mut(&mut self.owner[..]).as_slice_of_cells();
        let stats = self.pool.compact_trimmed(
            |block| {
                let name = owner[Self::entry(block)].get() as usize;
                block_size_for(sizes[name], min_block).unwrap_or(usize::MAX)
            },
            |old, new, _| {
                let name = owner[Self::entry(old)].get() as usize;
                debug_assert_eq!(blocks[name], old.offset(), "the reverse table names the owner");
                blocks[name] = new.offset();
                owner[Self::entry(new)].set(name as u32);
                if track {
                    moved.push(name);
                }
            },
        );
        self.figures.compactions += 1;
        self.figures.moved_blocks += stats.moved_blocks;
        self.figures.moved_bytes += stats.moved_bytes;
        if self.figures.first_request.is_none() {
            self.figures.first_request = self.requests.checked_sub(1);
        }
        self.figures
    }

    /// Whether compacting would leave a free stretch of at least `need` bytes: with nothing pinned, whether
    /// the free bytes are enough; else whether one stretch between pinned blocks holds enough free bytes.
    fn fits_after_compaction(&self, need: usize) -> bool {
        let pool = self.pool.pool();
        if self.pinned_live == 0 {
            // Nothing pinned: compaction gathers all the free bytes into one block.
            return pool.stats().free_bytes >= need;
        }
        pool.fits_after_compaction(need)
    }

    /// Compacts unless paused, calling `hook` just before and just after; whether it did.
    fn try_compact(&mut self, hook: Hook<'_>) -> bool {
        if self.pause {
            self.paused = true;
            return false;
        }
        hook(self, CompactionPhase::Before);
        self.compact();
        hook(self, CompactionPhase::After);
        true
    }

    fn pin(&mut self, block: Block) {
        if self.pool.pin(block).is_ok() {
            self.pinned_live += 1;
        }
    }

    fn unpin(&mut self, block: Block) {
        if self.pool.unpin(block).is_ok() {
            self.pinned_live -= 1;
        }
    }

    fn is_pinned(&self, block: Block) -> bool {
        self.pool.pool().is_pinned(block).unwrap_or(false)
    }

    /// Resizes `block`, unpinned for the call if it is pinned (a resize may move it) and pinned again
    /// after, whether it moved or not.
    fn resize(&mut self, block: Block, new_size: usize, align: usize) -> Option<Block> {
        let pinned = self.is_pinned(block);
        if pinned {
            self.unpin(block);
        }
        let result = TraceAllocator::realloc(&mut self.pool, block.offset(), 0, align, new_size)
            .and_then(Block::from_offset);
        if pinned {
            self.pin(result.unwrap_or(block));
        }
        result
    }

    /// Moves the unpinned `block` of handle `name` past the used blocks after it, to just before the free
    /// space ([`Pool::move_to_end`](mem3_pool::Pool::move_to_end)), updating every moved block's handle.
    fn move_to_end(&mut self, name: usize, block: Block) -> Option<Block> {
        let (blocks, owner, moved, track) =
            (&mut self.blocks, &mut self.owner, &mut self.moved, self.track);
        let stats = self
            .pool
            .move_to_end(block, |old, new, _| {
                // `block` is reported last, after the blocks that passed it took its old entry.
                let owned = if old == block { name } else { owner[Self::entry(old)] as usize };
                debug_assert_eq!(blocks[owned], old.offset(), "the reverse table names the owner");
                blocks[owned] = new.offset();
                owner[Self::entry(new)] = owned as u32;
                if track {
                    moved.push(owned);
                }
            })
            .ok()?;
        self.figures.end_moves += 1;
        self.figures.moved_blocks += stats.moved_blocks;
        self.figures.moved_bytes += stats.moved_bytes;
        self.block(name)
    }
}

impl CompactingPool {
    /// [`TraceAllocator::alloc`], calling `hook` around a compaction.
    fn alloc_hooked(&mut self, size: usize, align: usize, hook: Hook<'_>) -> Option<usize> {
        self.requests += 1;
        let block = match TraceAllocator::alloc(&mut self.pool, size, align) {
            Some(offset) => offset,
            None => {
                // Room for the block and, above MIN_ALIGN, its worst padding.
                let pad = if align > MIN_ALIGN { align } else { 0 };
                let need = block_size_for(size, self.min_block())?.checked_add(pad)?;
                if !self.fits_after_compaction(need) || !self.try_compact(hook) {
                    return None;
                }
                TraceAllocator::alloc(&mut self.pool, size, align)?
            }
        };
        let block = Block::from_offset(block)?;
        self.allocations += 1;
        let every = self.pinning.every.is_some_and(|n| self.allocations % n.get() == 0);
        if every || align > MIN_ALIGN {
            self.pin(block);
            self.figures.pinned_blocks += 1;
        }
        Some(self.insert(block, size))
    }

    /// [`TraceAllocator::realloc`], calling `hook` around a compaction.
    fn realloc_hooked(
        &mut self,
        name: usize,
        align: usize,
        new_size: usize,
        hook: Hook<'_>,
    ) -> Option<usize> {
        self.requests += 1;
        let block = self.block(name)?;
        if let Some(new) = self.resize(block, new_size, align) {
            self.set(name, new);
            self.sizes[name] = new_size;
            return Some(name);
        }
        let size = self.pool.pool().usable_size(block).ok()? + HEADER_SIZE;
        let need = block_size_for(new_size, self.min_block())?;
        // Once compacted, either the free space holds the new block, or the block, moved past the blocks after it, grows
        // into the free space after it.
        let movable = align <= MIN_ALIGN;
        let room = self.pool.pool().stats().free_bytes + if movable { size } else { 0 };
        if room < need || !self.try_compact(hook) {
            return None;
        }
        let block = self.block(name)?;
        if let Some(new) = self.resize(block, new_size, align) {
            self.set(name, new);
            self.sizes[name] = new_size;
            return Some(name);
        }
        if !movable {
            return None;
        }
        let pinned = self.is_pinned(block);
        if pinned {
            self.unpin(block);
        }
        let block = self.move_to_end(name, block).unwrap_or(block);
        let result = self.resize(block, new_size, align);
        if pinned {
            self.pin(result.unwrap_or(block));
        }
        let new = result?;
        self.set(name, new);
        self.sizes[name] = new_size;
        Some(name)
    }
}

impl TraceAllocator for CompactingPool {
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        self.alloc_hooked(size, align, &mut |_, _| {})
    }

    fn free(&mut self, name: usize, size: usize, align: usize) {
        // A name that is not a live handle is ignored: not a request, and nothing changes.
        let Some(block) = self.block(name) else {
            return;
        };
        self.requests += 1;
        if self.is_pinned(block) {
            self.pinned_live -= 1;
        }
        TraceAllocator::free(&mut self.pool, block.offset(), size, align);
        self.blocks[name] = VACANT;
        self.vacant.push(name);
    }

    fn realloc(
        &mut self,
        name: usize,
        _old_size: usize,
        align: usize,
        new_size: usize,
    ) -> Option<usize> {
        self.realloc_hooked(name, align, new_size, &mut |_, _| {})
    }

    fn extent(&self) -> usize {
        self.pool.extent()
    }

    fn payload_mut(&mut self, name: usize, size: usize) -> Option<&mut [u8]> {
        let block = self.block(name)?;
        TraceAllocator::payload_mut(&mut self.pool, block.offset(), size)
    }
}

/// Blocks are named by handles ([`handle`](CompactingPool::handle) finds a block's in the reverse table);
/// the hook runs around each compaction a request runs.
impl Observable for CompactingPool {
    fn pool(&self) -> &Pool<'_> {
        self.pool.pool()
    }

    fn name_of(&self, block: Block) -> Option<usize> {
        self.handle(block)
    }

    fn alloc_observed(&mut self, size: usize, align: usize, hook: Hook<'_>) -> Option<usize> {
        self.alloc_hooked(size, align, hook)
    }

    fn realloc_observed(
        &mut self,
        name: usize,
        _old_size: usize,
        align: usize,
        new_size: usize,
        hook: Hook<'_>,
    ) -> Option<usize> {
        self.realloc_hooked(name, align, new_size, hook)
    }
}

// -------------------------------------------------------------------------------------------------------
// The floor and the searches.

/// The floor of `trace` on a mem3 pool with `policy`: the most bytes its live blocks occupy at once under
/// mem3's layout (each block as [`block_size_for`] sizes it with the policy's smallest block: header and
/// rounding included), after each request. No such pool can replay the trace with a smaller heap,
/// compacting or not. A size no block can have counts as `usize::MAX`.
pub fn floor_bytes(trace: &Trace, policy: Policy) -> usize {
    let min_block = policy.min_block();
    let block = |size: usize| block_size_for(size, min_block).unwrap_or(usize::MAX);
    let (mut live, mut peak) = (0usize, 0usize);
    for op in trace.ops() {
        live = match op {
            Op::Alloc { size, .. } => live.saturating_add(block(size)),
            Op::Free { size, .. } => live.saturating_sub(block(size)),
            Op::Realloc { old_size, new_size, .. } => {
                live.saturating_sub(block(old_size)).saturating_add(block(new_size))
            }
        };
        peak = peak.max(live);
    }
    peak
}

/// The smallest region (a multiple of 8 bytes) whose pool with `config` has a heap of at least `heap`
/// bytes: the floor's region, metadata included. `None` if no region up to
/// [`MAX_POOL_BYTES`](crate::MAX_POOL_BYTES) does.
pub fn region_for_heap(heap: usize, config: Config) -> Option<usize> {
    let holds = |n: usize| OwnedPool::new(n, config).is_ok_and(|p| p.pool().capacity() >= heap);
    let (mut lo, mut hi) = (heap & !7, heap.max(64).checked_add(7)? & !7);
    while !holds(hi) {
        lo = hi;
        hi = hi.checked_mul(2)?.min(crate::MAX_POOL_BYTES);
        if lo == hi {
            return None;
        }
    }
    while hi - lo > 8 {
        let mid = lo + (hi - lo) / 16 * 8;
        if holds(mid) { hi = mid } else { lo = mid }
    }
    Some(hi)
}

/// The smallest pool with `config` in which `trace` replays completely with compaction and `pinning`, by
/// [`min_pool`].
pub fn min_pool_compacting(trace: &Trace, config: Config, pinning: Pinning) -> Option<usize> {
    min_pool(trace, |n| CompactingPool::new(n, config, pinning).ok())
}

/// Replays `trace` once on a fresh compacting pool (see [`replay`]); the figures of the replay and of its
/// compactions.
pub fn replay_compacting(
    trace: &Trace,
    pool_bytes: usize,
    config: Config,
    pinning: Pinning,
) -> Result<(Replay, Compaction), Error> {
    let mut pool = CompactingPool::new(pool_bytes, config, pinning)?;
    let r = replay(trace, &mut pool);
    Ok((r, pool.figures()))
}

// -------------------------------------------------------------------------------------------------------
// The checked replay.

/// Byte `at` of the contents a block allocated by request `tag` holds: a pattern that differs from block
/// to block and from byte to byte, so that a block moved to the wrong place, or shifted, or overwritten
/// by another, does not match.
fn pattern(tag: usize, at: usize) -> u8 {
    let word = ((tag as u64) << 32 ^ (at / 8) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    word.to_le_bytes()[at % 8]
}

/// Like [`replay_checked`](crate::replay_checked), on a [`CompactingPool`], and checks every byte: each
/// block is filled with a pattern of its own when it is allocated or resized; its contents must still be
/// there (the kept part, on a resize) when it is freed or resized, and after every compaction every block
/// it moved must hold its whole contents. `after` runs after every request with its index; an error from it
/// stops the replay.
pub fn replay_compacting_checked(
    trace: &Trace,
    pool: &mut CompactingPool,
    mut after: impl FnMut(&mut CompactingPool, usize) -> Result<(), String>,
) -> Result<Replay, CheckError> {
    pool.track = true;
    pool.moved.clear();
    let mut names = vec![0usize; trace.slots()];
    // Per handle: the request that filled it, and its requested size.
    let mut filled: Vec<(usize, usize)> = Vec::new();
    let mut ops = 0;
    let mut failed = None;
    let start = std::time::Instant::now();
    let result = (|| {
        for (i, op) in trace.ops().enumerate() {
            let fail = |message: String| CheckError { line: trace.line(i).unwrap_or(0), message };
            let verify = |pool: &mut CompactingPool, name: usize, tag: usize, len: usize| {
                let bytes = pool
                    .payload_mut(name, len)
                    .ok_or_else(|| fail(format!("handle {name}: no payload of {len} bytes")))?;
                match (0..len).find(|&at| bytes[at] != pattern(tag, at)) {
                    Some(at) => Err(fail(format!(
                        "handle {name} (filled by request {tag}): byte {at} of {len} is {:#04x}, \
                         expected {:#04x}",
                        bytes[at],
                        pattern(tag, at)
                    ))),
                    None => Ok(()),
                }
            };
            let fill = |pool: &mut CompactingPool,
                        filled: &mut Vec<(usize, usize)>,
                        name: usize,
                        len: usize| {
                if filled.len() <= name {
                    filled.resize(name + 1, (0, 0));
                }
                filled[name] = (i, len);
                if let Some(bytes) = pool.payload_mut(name, len) {
                    for (at, b) in bytes.iter_mut().enumerate() {
                        *b = pattern(i, at);
                    }
                }
            };
            match op {
                Op::Alloc { slot, size, align } => match pool.alloc(size, align) {
                    Some(name) => {
                        names[slot as usize] = name;
                        fill(pool, &mut filled, name, size);
                    }
                    None => {
                        failed = Some(size);
                        break;
                    }
                },
                Op::Free { slot, size, align } => {
                    let name = names[slot as usize];
                    verify(pool, name, filled[name].0, size)?;
                    pool.free(name, size, align);
                }
                Op::Realloc { slot, old_size, new_size, align } => {
                    let name = names[slot as usize];
                    let tag = filled[name].0;
                    verify(pool, name, tag, old_size)?;
                    match pool.realloc(name, old_size, align, new_size) {
                        Some(new) => {
                            verify(pool, new, tag, old_size.min(new_size))?;
                            names[slot as usize] = new;
                            fill(pool, &mut filled, new, new_size);
                        }
                        None => {
                            failed = Some(new_size);
                            break;
                        }
                    }
                }
            }
            // Every block the request's compactions moved holds its whole contents.
            let moved = std::mem::take(&mut pool.moved);
            for &name in &moved {
                if pool.block(name).is_some() {
                    let (tag, len) = filled[name];
                    verify(pool, name, tag, len)?;
                }
            }
            pool.moved = moved;
            pool.moved.clear();
            ops += 1;
            after(pool, i).map_err(fail)?;
        }
        Ok(())
    })();
    pool.track = false;
    result?;
    let elapsed = start.elapsed();
    Ok(Replay::new(trace, &*pool, ops, failed, elapsed))
}
