//! Replay: a trace against any allocator behind [`TraceAllocator`], timed or checked, and the search for
//! the smallest pool.

use mem3_pool::{Block, Pool};

use crate::{CheckError, MAX_POOL_BYTES, Op, Trace};

/// An allocator a trace can be replayed against.
///
/// Blocks are named by a `usize` the allocator chooses (an address, or an offset such as a [`Block`]'s);
/// every call passes the block's requested size and alignment, since some allocators need the old layout to
/// free or resize.
pub trait TraceAllocator {
    /// Allocates `size` bytes aligned to `align` (a power of two); `None` when it cannot.
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize>;

    /// Frees the block `ptr`, which was allocated (or last resized) with `size` and `align`. mem3's pools
    /// ignore a `ptr` that names no live block (the pool refuses it and changes nothing); a peer behind the
    /// benches cannot tell, so a replay never passes one.
    fn free(&mut self, ptr: usize, size: usize, align: usize);

    /// Resizes the block `ptr` from `old_size` to `new_size` bytes, keeping its contents up to the smaller
    /// size and its alignment; returns its new name, or `None` (the block unchanged) when it cannot.
    fn realloc(
        &mut self,
        ptr: usize,
        old_size: usize,
        align: usize,
        new_size: usize,
    ) -> Option<usize>;

    /// The highest end of a used block so far, in bytes from the region's start (a high-water mark); 0 if
    /// the allocator cannot tell.
    fn extent(&self) -> usize;

    /// The first `size` bytes of the block `ptr`, for [`replay_checked`]; `None` (the default) if the
    /// allocator does not give access, in which case contents are not checked.
    fn payload_mut(&mut self, ptr: usize, size: usize) -> Option<&mut [u8]> {
        let _ = (ptr, size);
        None
    }
}

impl<A: TraceAllocator + ?Sized> TraceAllocator for &mut A {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        (**self).alloc(size, align)
    }
    #[inline]
    fn free(&mut self, ptr: usize, size: usize, align: usize) {
        (**self).free(ptr, size, align);
    }
    #[inline]
    fn realloc(
        &mut self,
        ptr: usize,
        old_size: usize,
        align: usize,
        new_size: usize,
    ) -> Option<usize> {
        (**self).realloc(ptr, old_size, align, new_size)
    }
    fn extent(&self) -> usize {
        (**self).extent()
    }
    fn payload_mut(&mut self, ptr: usize, size: usize) -> Option<&mut [u8]> {
        (**self).payload_mut(ptr, size)
    }
}

/// Blocks are named by their [`Block::offset`]; the extent is [`Stats::peak_extent`](mem3_pool::Stats), measured
/// from the pool's base (which is at most a few bytes past the region's start).
impl TraceAllocator for Pool<'_> {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        self.alloc_aligned(size, align).ok().map(Block::offset)
    }

    #[inline]
    fn free(&mut self, ptr: usize, _size: usize, _align: usize) {
        // A name that is not a live block is refused by the pool, which then changes nothing.
        if let Some(block) = Block::from_offset(ptr) {
            let _ = Pool::free(self, block);
        }
    }

    #[inline]
    fn realloc(
        &mut self,
        ptr: usize,
        _old_size: usize,
        align: usize,
        new_size: usize,
    ) -> Option<usize> {
        let block = Block::from_offset(ptr)?;
        self.realloc_aligned(block, new_size, align).ok().map(Block::offset)
    }

    fn extent(&self) -> usize {
        self.stats().peak_extent
    }

    fn payload_mut(&mut self, ptr: usize, size: usize) -> Option<&mut [u8]> {
        let block = Block::from_offset(ptr)?;
        Pool::payload_mut(self, block).ok()?.get_mut(..size)
    }
}

/// The figures of one replay.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Replay {
    /// Requests replayed successfully.
    pub ops: usize,
    /// The line of the first request that failed (which stopped the replay), or `None` if all succeeded.
    pub failed_at: Option<usize>,
    /// The bytes that failed request asked for (an `a` line's SIZE, or an `r` line's new SIZE).
    pub failed_request: Option<usize>,
    /// The most requested bytes live at once among the requests replayed (from the trace alone).
    pub peak_live_bytes: usize,
    /// The allocator's [`extent`](TraceAllocator::extent) at the end: the highest end of a used block.
    pub peak_extent_bytes: usize,
    /// Nanoseconds spent in the requests (parsing and setup excluded), at least 1.
    pub elapsed_ns: u64,
    /// `ops` per second of `elapsed_ns`.
    pub ops_per_sec: f64,
}

impl Replay {
    /// Whether every request succeeded.
    pub fn completed(&self) -> bool {
        self.failed_at.is_none()
    }

    pub(crate) fn new<A: TraceAllocator>(
        trace: &Trace,
        alloc: &A,
        ops: usize,
        failed: Option<usize>,
        elapsed: std::time::Duration,
    ) -> Replay {
        let elapsed_ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).max(1);
        Replay {
            ops,
            failed_at: failed.and_then(|_| trace.line(ops)),
            failed_request: failed,
            peak_live_bytes: trace.peak_live_bytes_of(ops),
            peak_extent_bytes: alloc.extent(),
            elapsed_ns,
            ops_per_sec: ops as f64 * 1e9 / elapsed_ns as f64,
        }
    }
}

/// Replays `trace` against `alloc`, timing the requests alone. A failed request stops the replay (see
/// [`Replay::failed_at`]); blocks still live at the end stay allocated.
pub fn replay<A: TraceAllocator>(trace: &Trace, alloc: &mut A) -> Replay {
    let mut ptrs = std::vec![0usize; trace.slots()];
    replay_into(trace, alloc, &mut ptrs)
}

/// [`replay`], then frees the blocks still live (after the timing, so the figures are `replay`'s): the
/// allocator ends as empty as it began, so that replays can be repeated on it, or on the system
/// allocator, without keeping every replay's blocks.
pub fn replay_and_free<A: TraceAllocator>(trace: &Trace, alloc: &mut A) -> Replay {
    let mut ptrs = std::vec![0usize; trace.slots()];
    let replay = replay_into(trace, alloc, &mut ptrs);
    // Each slot's block and its layout after the requests that succeeded; a failed request changed nothing.
    let mut live: std::vec::Vec<Option<(usize, usize)>> = std::vec![None; trace.slots()];
    for op in trace.ops().take(replay.ops) {
        match op {
            Op::Alloc { slot, size, align } => live[slot as usize] = Some((size, align)),
            Op::Free { slot, .. } => live[slot as usize] = None,
            Op::Realloc { slot, new_size, align, .. } => {
                live[slot as usize] = Some((new_size, align));
            }
        }
    }
    for (&ptr, layout) in ptrs.iter().zip(live) {
        if let Some((size, align)) = layout {
            alloc.free(ptr, size, align);
        }
    }
    replay
}

/// The timed loop of [`replay`], each slot's block named in `ptrs` (one entry per slot of the trace).
#[inline(always)]
fn replay_into<A: TraceAllocator>(trace: &Trace, alloc: &mut A, ptrs: &mut [usize]) -> Replay {
    let mut ops = 0;
    let mut failed = None;
    let start = std::time::Instant::now();
    for op in trace.ops() {
        match op {
            Op::Alloc { slot, size, align } => match alloc.alloc(size, align) {
                Some(p) => ptrs[slot as usize] = p,
                None => {
                    failed = Some(size);
                    break;
                }
            },
            Op::Free { slot, size, align } => alloc.free(ptrs[slot as usize], size, align),
            Op::Realloc { slot, old_size, new_size, align } => {
                match alloc.realloc(ptrs[slot as usize], old_size, align, new_size) {
                    Some(p) => ptrs[slot as usize] = p,
                    None => {
                        failed = Some(new_size);
                        break;
                    }
                }
            }
        }
        ops += 1;
    }
    let elapsed = start.elapsed();
    Replay::new(trace, alloc, ops, failed, elapsed)
}

/// Like [`replay`], but checks contents (for tests; the figures' timing is meaningless): each block's first
/// and last requested bytes get a tag when it is allocated or resized, and the tags must still be there
/// when it is freed or resized (resizing keeps the bytes below the smaller size). `after` runs after every
/// request with the request's index, e.g. to call [`Pool::check`] every N requests; an error from it stops
/// the replay. Contents are checked only where the allocator implements
/// [`payload_mut`](TraceAllocator::payload_mut).
pub fn replay_checked<A: TraceAllocator>(
    trace: &Trace,
    alloc: &mut A,
    mut after: impl FnMut(&mut A, usize) -> Result<(), String>,
) -> Result<Replay, CheckError> {
    let mut ptrs = std::vec![0usize; trace.slots()];
    let mut tags = std::vec![0u8; trace.slots()];
    let mut ops = 0;
    let mut failed = None;
    let start = std::time::Instant::now();
    for (i, op) in trace.ops().enumerate() {
        let fail = |message: String| CheckError { line: trace.line(i).unwrap_or(0), message };
        // Checks that the bytes at `at` of the block in `slot` hold its tag.
        let verify = |alloc: &mut A, ptr: usize, size: usize, tag: u8, at: &[usize]| {
            if let Some(bytes) = alloc.payload_mut(ptr, size) {
                for &at in at {
                    match bytes.get(at) {
                        Some(&b) if b != tag => {
                            return Err(fail(format!(
                                "block {ptr}: byte {at} is {b:#04x}, expected tag {tag:#04x}"
                            )));
                        }
                        _ => {}
                    }
                }
            }
            Ok(())
        };
        let mark = |alloc: &mut A, tags: &mut [u8], slot: u32, ptr: usize, size: usize| {
            let tag = (i as u8).wrapping_mul(31) | 1;
            tags[slot as usize] = tag;
            if size > 0 {
                if let Some(bytes) = alloc.payload_mut(ptr, size) {
                    for at in [0, size - 1] {
                        if let Some(b) = bytes.get_mut(at) {
                            *b = tag;
                        }
                    }
                }
            }
        };
        match op {
            Op::Alloc { slot, size, align } => match alloc.alloc(size, align) {
                Some(p) => {
                    ptrs[slot as usize] = p;
                    mark(alloc, &mut tags, slot, p, size);
                }
                None => {
                    failed = Some(size);
                    break;
                }
            },
            Op::Free { slot, size, align } => {
                let p = ptrs[slot as usize];
                verify(alloc, p, size, tags[slot as usize], &[0, size.wrapping_sub(1)])?;
                alloc.free(p, size, align);
            }
            Op::Realloc { slot, old_size, new_size, align } => {
                let p = ptrs[slot as usize];
                let tag = tags[slot as usize];
                verify(alloc, p, old_size, tag, &[0, old_size.wrapping_sub(1)])?;
                match alloc.realloc(p, old_size, align, new_size) {
                    Some(new) => {
                        // The kept bytes: the first, and the old last when the block grew.
                        let kept = if new_size >= old_size {
                            [0, old_size.wrapping_sub(1)]
                        } else {
                            [0, usize::MAX]
                        };
                        verify(alloc, new, new_size.min(old_size), tag, &kept)?;
                        ptrs[slot as usize] = new;
                        mark(alloc, &mut tags, slot, new, new_size);
                    }
                    None => {
                        failed = Some(new_size);
                        break;
                    }
                }
            }
        }
        ops += 1;
        after(alloc, i).map_err(fail)?;
    }
    let elapsed = start.elapsed();
    Ok(Replay::new(trace, alloc, ops, failed, elapsed))
}

// -------------------------------------------------------------------------------------------------------
// Minimum pool.

/// The smallest region size (in bytes, a multiple of 8) in which `trace` replays with no failed request,
/// where `make(n)` builds an allocator over a fresh `n`-byte region (`None` if it cannot, e.g. a region too
/// small for the allocator's metadata, which counts as a failure).
///
/// Failure is not strictly monotone in the region size (a larger region can change where blocks go, e.g.
/// under best fit, whose choice depends on the size of the free tail, or through alignment padding), so this
/// is not a global minimum: it is the smallest size found by bisection, at 8-byte resolution, between a
/// failing lower bound and a succeeding upper bound, and it has been verified to replay. The lower bound
/// starts at the trace's peak live bytes (if that already succeeds it is the answer, since no region can be
/// smaller); the upper bound starts at [`default_pool_bytes`] and doubles until it succeeds. `None` when no
/// size up to 64 times the default (at least 1 GiB, at most [`MAX_POOL_BYTES`]) succeeds, or `make` fails
/// at that size.
///
/// Each step replays the whole trace, about log2(upper / 8) + a few replays in all.
pub fn min_pool<A: TraceAllocator>(
    trace: &Trace,
    mut make: impl FnMut(usize) -> Option<A>,
) -> Option<usize> {
    let mut fits = |n: usize| make(n).is_some_and(|mut a| replay(trace, &mut a).completed());
    let mut lo = trace.peak_live_bytes() & !7;
    if fits(lo) {
        return Some(lo);
    }
    let start = default_pool_bytes(trace);
    let limit = start.saturating_mul(64).clamp(1 << 30, MAX_POOL_BYTES);
    let mut hi = start;
    while !fits(hi) {
        if hi >= limit {
            return None;
        }
        lo = hi;
        hi = (hi.saturating_mul(2) & !7).min(limit);
    }
    while hi - lo > 8 {
        let mid = lo + (hi - lo) / 16 * 8;
        if fits(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// The largest pool [`default_pool_bytes`] picks: 1 GiB. A trace's sizes are untrusted input: a trace of
/// one `a 1 1000000000000` line must not make a 2 TB region. Above the cap, the request that does not fit
/// is a reported result ([`Replay::failed_at`], [`Replay::failed_request`]), not an error.
pub const DEFAULT_POOL_CAP: usize = 1 << 30;

/// The pool size `mem3 replay` uses when none is given: twice the trace's peak live bytes plus 32 bytes per
/// slot (a block header and rounding for each block live at the peak) plus 64 KiB, rounded up to 4 KiB,
/// and at most [`DEFAULT_POOL_CAP`]. Twice leaves room for fragmentation (the shared traces need 1.1 to 1.4
/// times their peak live bytes); the rest covers traces of many small blocks and the pool's bitmap.
pub fn default_pool_bytes(trace: &Trace) -> usize {
    let bytes = trace
        .peak_live_bytes()
        .saturating_mul(2)
        .saturating_add(trace.slots().saturating_mul(32))
        .saturating_add(64 << 10)
        .saturating_add(4095)
        & !4095;
    bytes.min(DEFAULT_POOL_CAP)
}
