//! mem3 and its peers behind one trait, [`TraceAllocator`], each over a [`Region`] of its own (an [`ArenaRegion`]: one that a dropped arena left is used again).
//!
//! Every wrapper does what the allocator's own `GlobalAlloc`/`Allocator` glue does, and no more: a resize
//! tries the allocator's in-place path when it has one, else allocates, copies the smaller size and frees.
//! Peers never see a zero size (`Layout` users must not ask for one): a zero-size request becomes 1 byte.
//! Block names are addresses (offsets for mem3).

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::{Cell, RefCell},
    ptr::{self, NonNull},
};

use mem3_pool::{Config, Policy, Pool};
use mem3_trace::TraceAllocator;

use mem3_trace::{PAGE, Region};

/// An allocator the benchmarks can make over a fresh region of a given size.
pub trait Arena: TraceAllocator + Sized {
    /// A fresh allocator over a fresh `bytes`-byte region; `None` if it cannot be made (a region too small
    /// for the allocator's metadata, or no memory).
    fn new(bytes: usize) -> Option<Self>;
}

/// The allocators compared, in the order the report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// mem3-pool, first fit.
    Mem3FirstFit,
    /// mem3-pool, first fit with the front cache (`Config::front_cache`: placements are not exact first fit).
    Mem3FirstFitCached,
    /// mem3-pool, best fit.
    Mem3BestFit,
    /// talc 5 (`Talc<Manual, DefaultBinning>`).
    Talc,
    /// rlsf 0.2 (`Tlsf<usize, usize, 52, 64>`, the configuration talc's benchmarks use).
    Rlsf,
    /// linked_list_allocator 0.10 (`Heap`, first fit).
    LinkedList,
    /// buddy_system_allocator 0.13 (`Heap<33>`).
    Buddy,
    /// dlmalloc 0.2 over the region as its one segment.
    Dlmalloc,
    /// The system allocator (throughput only: it has no fixed region).
    System,
}

impl Kind {
    /// Every allocator, in report order.
    pub const ALL: [Kind; 9] = [
        Kind::Mem3FirstFit,
        Kind::Mem3FirstFitCached,
        Kind::Mem3BestFit,
        Kind::Talc,
        Kind::Rlsf,
        Kind::LinkedList,
        Kind::Buddy,
        Kind::Dlmalloc,
        Kind::System,
    ];

    /// Every allocator that works over a fixed region (all but the system allocator).
    pub const ARENAS: [Kind; 8] = [
        Kind::Mem3FirstFit,
        Kind::Mem3FirstFitCached,
        Kind::Mem3BestFit,
        Kind::Talc,
        Kind::Rlsf,
        Kind::LinkedList,
        Kind::Buddy,
        Kind::Dlmalloc,
    ];

    /// Whether this is mem3 itself, in one of its configurations, rather than a peer.
    pub fn is_mem3(self) -> bool {
        matches!(self, Kind::Mem3FirstFit | Kind::Mem3FirstFitCached | Kind::Mem3BestFit)
    }

    /// The allocator's name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mem3FirstFit => "mem3 first-fit",
            Kind::Mem3FirstFitCached => "mem3 first-fit + cache",
            Kind::Mem3BestFit => "mem3 best-fit",
            Kind::Talc => "talc 5",
            Kind::Rlsf => "rlsf 0.2",
            Kind::LinkedList => "linked_list_allocator 0.10",
            Kind::Buddy => "buddy_system_allocator 0.13",
            Kind::Dlmalloc => "dlmalloc 0.2",
            Kind::System => "system (glibc)",
        }
    }
}

/// Work that runs on any [`Arena`]: the way to call generic code for a [`Kind`] chosen at run time, with
/// every call monomorphized (no dynamic dispatch in timed loops).
pub trait Job {
    /// What the work yields.
    type Out;
    /// Does the work with allocator type `A`.
    fn run<A: Arena>(&mut self) -> Self::Out;
}

/// Runs `job` with the allocator type of `kind`.
pub fn dispatch<J: Job>(kind: Kind, job: &mut J) -> J::Out {
    match kind {
        Kind::Mem3FirstFit => job.run::<Mem3<false>>(),
        Kind::Mem3FirstFitCached => job.run::<Mem3<false, true>>(),
        Kind::Mem3BestFit => job.run::<Mem3<true>>(),
        Kind::Talc => job.run::<Talc>(),
        Kind::Rlsf => job.run::<Rlsf>(),
        Kind::LinkedList => job.run::<LinkedList>(),
        Kind::Buddy => job.run::<Buddy>(),
        Kind::Dlmalloc => job.run::<Dlmalloc>(),
        Kind::System => job.run::<SystemAlloc>(),
    }
}

/// The region an [`Arena`] works over: prefaulted, and when dropped kept for the next arena of the same size
/// (one region kept per thread). Timed figures repeat their work on fresh allocators, and faulting in a
/// fresh region for each would cost more than the work itself; a region that is used again has its pages
/// already, and its bytes as the last allocator left them, which no allocator here reads before writing.
#[derive(Debug)]
pub struct ArenaRegion(Option<Region>);

thread_local! {
    /// The region of the arena dropped last on this thread.
    static SPARE_REGION: RefCell<Option<Region>> = const { RefCell::new(None) };
}

impl ArenaRegion {
    /// The spare region if it has `bytes` bytes, else a fresh prefaulted one; `None` if there is no memory.
    pub fn new(bytes: usize) -> Option<ArenaRegion> {
        let spare = SPARE_REGION.with(|spare| spare.borrow_mut().take_if(|r| r.len() == bytes));
        match spare {
            Some(region) => Some(ArenaRegion(Some(region))),
            None => Region::prefaulted(bytes, PAGE).ok().map(|r| ArenaRegion(Some(r))),
        }
    }
}

impl std::ops::Deref for ArenaRegion {
    type Target = Region;
    fn deref(&self) -> &Region {
        self.0.as_ref().expect("only `drop` takes the region")
    }
}

impl Drop for ArenaRegion {
    fn drop(&mut self) {
        // The allocator over it is gone (arenas declare their region last, so it drops last).
        let region = self.0.take();
        SPARE_REGION.with(|spare| *spare.borrow_mut() = region);
    }
}

#[inline(always)]
fn layout(size: usize, align: usize) -> Option<Layout> {
    Layout::from_size_align(size.max(1), align).ok()
}

fn to_ptr(addr: usize) -> *mut u8 {
    ptr::with_exposed_provenance_mut(addr)
}

fn to_addr(p: NonNull<u8>) -> usize {
    p.as_ptr().expose_provenance()
}

/// Moves a block by allocating, copying the smaller size and freeing: the generic resize.
fn move_block<A: TraceAllocator>(
    a: &mut A,
    ptr: usize,
    old_size: usize,
    align: usize,
    new_size: usize,
) -> Option<usize> {
    let new = a.alloc(new_size, align)?;
    // SAFETY: both blocks are live and distinct, each at least as large as the smaller size (peers are
    // given at least 1 byte, so `max(1)` matches what they were asked for).
    unsafe {
        ptr::copy_nonoverlapping(to_ptr(ptr), to_ptr(new), old_size.min(new_size).max(1));
    }
    a.free(ptr, old_size, align);
    Some(new)
}

// ---------------------------------------------------------------------------------------------------------

/// mem3-pool over a region; `BEST` picks best fit instead of first fit, `CACHE` turns the front cache on.
#[derive(Debug)]
pub struct Mem3<const BEST: bool, const CACHE: bool = false> {
    /// Borrows `_region`: declared first, so dropped first.
    pool: Pool<'static>,
    _region: ArenaRegion,
}

impl<const BEST: bool, const CACHE: bool> Mem3<BEST, CACHE> {
    /// The pool.
    pub fn pool(&self) -> &Pool<'_> {
        &self.pool
    }
}

impl<const BEST: bool, const CACHE: bool> Arena for Mem3<BEST, CACHE> {
    fn new(bytes: usize) -> Option<Self> {
        let region = ArenaRegion::new(bytes)?;
        let policy = if BEST { Policy::BestFit } else { Policy::FirstFit };
        // SAFETY: the region is valid for `len` bytes, owned by this value and dropped after the pool (field
        // order); the pool is never handed out by value or `&mut`, so it cannot outlive the region.
        let pool = unsafe {
            Pool::from_raw_parts(
                region.as_ptr(),
                region.len(),
                Config { policy, front_cache: CACHE, ..Config::default() },
            )
        }
        .ok()?;
        Some(Mem3 { pool, _region: region })
    }
}

impl<const BEST: bool, const CACHE: bool> TraceAllocator for Mem3<BEST, CACHE> {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        TraceAllocator::alloc(&mut self.pool, size, align)
    }
    #[inline]
    fn free(&mut self, ptr: usize, size: usize, align: usize) {
        TraceAllocator::free(&mut self.pool, ptr, size, align);
    }
    #[inline]
    fn realloc(&mut self, ptr: usize, old: usize, align: usize, new: usize) -> Option<usize> {
        TraceAllocator::realloc(&mut self.pool, ptr, old, align, new)
    }
    fn extent(&self) -> usize {
        self.pool.extent()
    }
}

// ---------------------------------------------------------------------------------------------------------

/// talc 5: `Talc<Manual, DefaultBinning>` that has claimed the region.
pub struct Talc {
    talc: talc::base::Talc<talc::source::Manual, talc::DefaultBinning>,
    _region: ArenaRegion,
}

impl std::fmt::Debug for Talc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Talc").field("region", &self._region).finish_non_exhaustive()
    }
}

impl Arena for Talc {
    fn new(bytes: usize) -> Option<Self> {
        let region = ArenaRegion::new(bytes)?;
        let mut talc = talc::base::Talc::new(talc::source::Manual);
        // SAFETY: the region is valid, unused by anything else, and outlives the allocator (field order).
        unsafe { talc.claim(region.as_ptr().as_ptr(), region.len()) }?;
        Some(Talc { talc, _region: region })
    }
}

impl TraceAllocator for Talc {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        // SAFETY: `layout` is valid and non-zero in size.
        unsafe { self.talc.allocate(layout(size, align)?) }.map(to_addr)
    }
    #[inline]
    fn free(&mut self, ptr: usize, size: usize, align: usize) {
        let Some(layout) = layout(size, align) else { return };
        // SAFETY: `ptr` is a live block of this allocator, allocated with this layout.
        unsafe { self.talc.deallocate(to_ptr(ptr), layout) }
    }
    #[inline]
    fn realloc(&mut self, ptr: usize, old: usize, align: usize, new: usize) -> Option<usize> {
        // SAFETY: `ptr` is live with this layout, and `new.max(1)` is a valid non-zero size.
        if unsafe { self.talc.try_realloc_in_place(to_ptr(ptr), layout(old, align)?, new.max(1)) } {
            return Some(ptr);
        }
        move_block(self, ptr, old, align, new)
    }
    fn extent(&self) -> usize {
        0
    }
}

// ---------------------------------------------------------------------------------------------------------

type RlsfTlsf =
    rlsf::Tlsf<'static, usize, usize, { usize::BITS as usize - 12 }, { usize::BITS as usize }>;

/// rlsf 0.2: a TLSF with the region inserted as its free memory.
#[derive(Debug)]
pub struct Rlsf {
    tlsf: Box<RlsfTlsf>,
    _region: ArenaRegion,
}

impl Arena for Rlsf {
    fn new(bytes: usize) -> Option<Self> {
        let region = ArenaRegion::new(bytes)?;
        let mut tlsf = Box::new(RlsfTlsf::new());
        // SAFETY: the region is valid, unused by anything else, and outlives the allocator (field order).
        unsafe {
            tlsf.insert_free_block_ptr(NonNull::slice_from_raw_parts(region.as_ptr(), region.len()))
        }?;
        Some(Rlsf { tlsf, _region: region })
    }
}

impl TraceAllocator for Rlsf {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        self.tlsf.allocate(layout(size, align)?).map(to_addr)
    }
    #[inline]
    fn free(&mut self, ptr: usize, _size: usize, align: usize) {
        let Some(p) = NonNull::new(to_ptr(ptr)) else { return };
        // SAFETY: `ptr` is a live block of this allocator, allocated with `align`.
        unsafe { self.tlsf.deallocate(p, align) }
    }
    #[inline]
    fn realloc(&mut self, ptr: usize, _old: usize, align: usize, new: usize) -> Option<usize> {
        let p = NonNull::new(to_ptr(ptr))?;
        // SAFETY: `ptr` is a live block of this allocator, allocated with `align`.
        unsafe { self.tlsf.reallocate(p, layout(new, align)?) }.map(to_addr)
    }
    fn extent(&self) -> usize {
        0
    }
}

// ---------------------------------------------------------------------------------------------------------

/// linked_list_allocator 0.10: a first-fit list of holes in address order.
pub struct LinkedList {
    heap: linked_list_allocator::Heap,
    _region: ArenaRegion,
}

impl std::fmt::Debug for LinkedList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkedList").field("region", &self._region).finish_non_exhaustive()
    }
}

// SAFETY: the heap's pointers all point into the region, which this value owns.
unsafe impl Send for LinkedList {}

impl Arena for LinkedList {
    fn new(bytes: usize) -> Option<Self> {
        let region = ArenaRegion::new(bytes)?;
        if bytes < 4 * std::mem::size_of::<usize>() {
            return None;
        }
        let mut heap = linked_list_allocator::Heap::empty();
        // SAFETY: the region is valid, unused by anything else, and outlives the heap (field order).
        unsafe { heap.init(region.as_ptr().as_ptr(), region.len()) };
        Some(LinkedList { heap, _region: region })
    }
}

impl TraceAllocator for LinkedList {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        self.heap.allocate_first_fit(layout(size, align)?).ok().map(to_addr)
    }
    #[inline]
    fn free(&mut self, ptr: usize, size: usize, align: usize) {
        let (Some(p), Some(layout)) = (NonNull::new(to_ptr(ptr)), layout(size, align)) else {
            return;
        };
        // SAFETY: `ptr` is a live block of this heap, allocated with this layout.
        unsafe { self.heap.deallocate(p, layout) }
    }
    #[inline]
    fn realloc(&mut self, ptr: usize, old: usize, align: usize, new: usize) -> Option<usize> {
        move_block(self, ptr, old, align, new)
    }
    fn extent(&self) -> usize {
        0
    }
}

// ---------------------------------------------------------------------------------------------------------

/// buddy_system_allocator 0.13: power-of-two blocks, up to 2^32 bytes.
#[derive(Debug)]
pub struct Buddy {
    heap: Box<buddy_system_allocator::Heap<33>>,
    _region: ArenaRegion,
}

impl Arena for Buddy {
    fn new(bytes: usize) -> Option<Self> {
        let region = ArenaRegion::new(bytes)?;
        let mut heap = Box::new(buddy_system_allocator::Heap::<33>::new());
        // SAFETY: the region is valid, unused by anything else, and outlives the heap (field order).
        unsafe { heap.init(region.addr(), region.len()) };
        Some(Buddy { heap, _region: region })
    }
}

impl TraceAllocator for Buddy {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        self.heap.alloc(layout(size, align)?).ok().map(to_addr)
    }
    #[inline]
    fn free(&mut self, ptr: usize, size: usize, align: usize) {
        let (Some(p), Some(layout)) = (NonNull::new(to_ptr(ptr)), layout(size, align)) else {
            return;
        };
        // SAFETY: `ptr` is a live block of this heap, allocated with this layout.
        unsafe { self.heap.dealloc(p, layout) }
    }
    #[inline]
    fn realloc(&mut self, ptr: usize, old: usize, align: usize, new: usize) -> Option<usize> {
        move_block(self, ptr, old, align, new)
    }
    fn extent(&self) -> usize {
        0
    }
}

// ---------------------------------------------------------------------------------------------------------

/// dlmalloc's "system" for a fixed region: hands the whole region out once, as an external segment that
/// dlmalloc never releases, and nothing after.
struct OneSegment {
    ptr: *mut u8,
    len: usize,
    given: Cell<bool>,
}

// SAFETY: the segment is memory owned by the `Dlmalloc` wrapper that owns this value; moving both to another
// thread together is fine.
unsafe impl Send for OneSegment {}

// SAFETY: `alloc` returns the region once (valid, unused memory of `len` bytes) and null after; nothing is
// ever released or remapped.
unsafe impl dlmalloc::Allocator for OneSegment {
    fn alloc(&self, _size: usize) -> (*mut u8, usize, u32) {
        if self.given.replace(true) {
            (ptr::null_mut(), 0, 0)
        } else {
            // Flag 1 (EXTERN_BIT): not allocated by the system, never to be freed or merged.
            (self.ptr, self.len, 1)
        }
    }
    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }
    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }
    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }
    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }
    fn allocates_zeros(&self) -> bool {
        false
    }
    fn page_size(&self) -> usize {
        PAGE
    }
}

/// dlmalloc 0.2 with the region as its only segment.
pub struct Dlmalloc {
    dl: dlmalloc::Dlmalloc<OneSegment>,
    _region: ArenaRegion,
}

impl std::fmt::Debug for Dlmalloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dlmalloc").field("region", &self._region).finish_non_exhaustive()
    }
}

impl Arena for Dlmalloc {
    fn new(bytes: usize) -> Option<Self> {
        // dlmalloc carves its top chunk's footer out of the segment: too small a segment underflows.
        if bytes < 1024 {
            return None;
        }
        let region = ArenaRegion::new(bytes)?;
        let seg = OneSegment {
            ptr: region.as_ptr().as_ptr(),
            len: region.len(),
            given: Cell::new(false),
        };
        Some(Dlmalloc { dl: dlmalloc::Dlmalloc::new_with_allocator(seg), _region: region })
    }
}

impl TraceAllocator for Dlmalloc {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        // SAFETY: a non-zero size and a power-of-two alignment.
        NonNull::new(unsafe { self.dl.malloc(size.max(1), align) }).map(to_addr)
    }
    #[inline]
    fn free(&mut self, ptr: usize, size: usize, align: usize) {
        // SAFETY: `ptr` is a live block of this allocator, allocated with this size and alignment.
        unsafe { self.dl.free(to_ptr(ptr), size.max(1), align) }
    }
    #[inline]
    fn realloc(&mut self, ptr: usize, old: usize, align: usize, new: usize) -> Option<usize> {
        // SAFETY: `ptr` is a live block of this allocator, allocated with this size and alignment.
        NonNull::new(unsafe { self.dl.realloc(to_ptr(ptr), old.max(1), align, new.max(1)) })
            .map(to_addr)
    }
    fn extent(&self) -> usize {
        0
    }
}

// ---------------------------------------------------------------------------------------------------------

/// The system allocator (glibc malloc here). It ignores the region size.
#[derive(Debug, Default)]
pub struct SystemAlloc;

impl Arena for SystemAlloc {
    fn new(_bytes: usize) -> Option<Self> {
        Some(SystemAlloc)
    }
}

impl TraceAllocator for SystemAlloc {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        // SAFETY: `layout` has a non-zero size.
        NonNull::new(unsafe { System.alloc(layout(size, align)?) }).map(to_addr)
    }
    #[inline]
    fn free(&mut self, ptr: usize, size: usize, align: usize) {
        let Some(layout) = layout(size, align) else { return };
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(to_ptr(ptr), layout) }
    }
    #[inline]
    fn realloc(&mut self, ptr: usize, old: usize, align: usize, new: usize) -> Option<usize> {
        // SAFETY: `ptr` was allocated by `System` with this layout; `new.max(1)` is non-zero.
        NonNull::new(unsafe { System.realloc(to_ptr(ptr), layout(old, align)?, new.max(1)) })
            .map(to_addr)
    }
    fn extent(&self) -> usize {
        0
    }
}

// ---------------------------------------------------------------------------------------------------------

/// No allocator at all: each allocation names the next unused address of a count that only grows, and frees
/// and resizes do nothing. A workload run over it costs what the workload's own loop costs (reading the
/// trace's requests, the random numbers, the table of live blocks), which the instruction counts subtract to
/// leave each allocator's own work. Its names are never dereferenced; nothing here touches memory. It never
/// fails, so a workload that runs until an allocation fails (heap efficiency) would never end over it.
#[derive(Debug)]
pub struct Null {
    next: usize,
}

impl Arena for Null {
    fn new(_bytes: usize) -> Option<Self> {
        Some(Null { next: PAGE })
    }
}

impl TraceAllocator for Null {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        let at = self.next.checked_next_multiple_of(align.max(1))?;
        self.next = at.checked_add(size.max(1))?;
        Some(at)
    }
    #[inline]
    fn free(&mut self, _ptr: usize, _size: usize, _align: usize) {}
    #[inline]
    fn realloc(&mut self, ptr: usize, _old: usize, _align: usize, _new: usize) -> Option<usize> {
        Some(ptr)
    }
    fn extent(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_arenas_region_serves_the_next_arena_of_its_size_only() {
        const BYTES: usize = 1 << 20;
        let mut first = Mem3::<false>::new(BYTES).unwrap();
        let addr = first._region.addr();
        // Leave the region dirty: headers, tags and the pool's metadata.
        let blocks: Vec<usize> = (1..200).map(|i| first.alloc(i * 40, 8).unwrap()).collect();
        for (i, &p) in blocks.iter().enumerate().step_by(3) {
            first.free(p, (i + 1) * 40, 8);
        }
        drop(first);
        let other_size = ArenaRegion::new(BYTES + PAGE).unwrap();
        assert_ne!(other_size.addr(), addr, "a region of another size is a fresh one");
        drop(other_size);
        // The spare is now the other size's: a new arena of the first size gets a fresh region too.
        let fresh = Mem3::<false>::new(BYTES).unwrap();
        let fresh_addr = fresh._region.addr();
        drop(fresh);
        // And the next one of that size the same region again, on which a new pool works as on a fresh one.
        let mut again = Mem3::<false>::new(BYTES).unwrap();
        assert_eq!(again._region.addr(), fresh_addr);
        let p = again.alloc(1000, 8).unwrap();
        assert_eq!(again.pool().stats().used_blocks, 1);
        again.pool().check().unwrap();
        again.free(p, 1000, 8);
        assert_eq!(again.pool().stats().used_blocks, 0);
    }
}
