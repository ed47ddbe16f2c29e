//! Memory owned by a value: [`Region`], the zeroed memory an allocator under test is given, and
//! [`OwnedPool`], a mem3 pool over one.
//!
//! The benches, the command line and the tests all use these, so that every allocator measured gets the same
//! kind of memory and no one else writes unsafe code for it.

use core::{alloc::Layout, fmt, mem::ManuallyDrop, ptr::NonNull};

use mem3_pool::{Block, CompactStats, Config, Error, Pool};

use crate::TraceAllocator;

/// The largest region [`OwnedPool::new`] allocates: 4 GiB (2 GiB on 32-bit targets). Region sizes come
/// from input (`mem3 replay --pool-size`, a trace's sizes), so they are bounded before anything is allocated.
pub const MAX_POOL_BYTES: usize = if usize::BITS > 32 { 1 << (usize::BITS / 2) } else { 1 << 31 };

/// The page size [`Region::prefaulted`] assumes.
pub const PAGE: usize = 4096;

/// The alignment asked of the system allocator: at most what `calloc` gives (16 on the usual 64-bit
/// targets), so that zeroing stays lazy. A larger alignment makes the system allocator write every byte, so
/// a [`Region`]'s alignment is made by hand inside a slightly larger allocation.
const ALLOC_ALIGN: usize = 16;

/// Zeroed memory owned by this value, from the global allocator, freed when dropped.
///
/// [`zeroed`](Region::zeroed) leaves the zeroing to the system (`calloc`), so bytes never touched cost no
/// memory: a 1 GiB region of which a replay uses 1 MiB costs about 1 MiB.
/// [`prefaulted`](Region::prefaulted) touches every page once, so that no page fault lands in a timed
/// loop (the benches use it).
///
/// ```
/// use mem3_trace::{PAGE, Region};
///
/// let region = Region::prefaulted(3 * PAGE + 1, PAGE).unwrap();
/// assert_eq!((region.addr() % PAGE, region.len()), (0, 3 * PAGE + 1));
/// // SAFETY: the region is valid for `len` bytes while `region` lives, and nothing else uses it.
/// let bytes = unsafe { core::slice::from_raw_parts(region.as_ptr().as_ptr(), region.len()) };
/// assert!(bytes.iter().all(|&b| b == 0));
/// assert!(Region::zeroed(0, 8).is_err() && Region::zeroed(8, 3).is_err());
/// ```
pub struct Region {
    /// The region's first byte: aligned as asked, inside `allocation`.
    start: NonNull<u8>,
    len: usize,
    /// What was allocated: the region and fewer than `align` bytes of slack before it.
    allocation: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the region is plain memory owned by this value alone, like a `Box<[u8]>` (which is `Send`).
unsafe impl Send for Region {}
// SAFETY: `&Region` gives out only the region's address and length, never its bytes.
unsafe impl Sync for Region {}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region").field("addr", &self.addr()).field("len", &self.len).finish()
    }
}

impl Region {
    /// `len` zeroed bytes starting at a multiple of `align` (a power of two), zeroed lazily by the system.
    /// Errors: [`Error::RegionUnavailable`] when `len` is 0, `align` is not a power of two, or the system
    /// allocator refuses (never an abort).
    pub fn zeroed(len: usize, align: usize) -> Result<Region, Error> {
        let unavailable = Error::RegionUnavailable { len };
        if len == 0 || !align.is_power_of_two() {
            return Err(unavailable);
        }
        let size = len.checked_add(align).ok_or(unavailable.clone())?;
        let layout = Layout::from_size_align(size, ALLOC_ALIGN).map_err(|_| unavailable.clone())?;
        // SAFETY: `layout` has a non-zero size (`len > 0`).
        let allocation =
            NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) }).ok_or(unavailable)?;
        let pad = allocation.as_ptr().addr().wrapping_neg() % align;
        // SAFETY: `pad < align`, so the region's `len` bytes from `pad` lie inside the `len + align` bytes
        // allocated.
        let start = unsafe { allocation.add(pad) };
        Ok(Region { start, len, allocation, layout })
    }

    /// As [`zeroed`](Region::zeroed), then every page written once, so that using the region later takes
    /// no page fault.
    pub fn prefaulted(len: usize, align: usize) -> Result<Region, Error> {
        let region = Region::zeroed(len, align)?;
        for page in (0..len).step_by(PAGE) {
            // SAFETY: `page < len`, so the byte is inside the region, which nothing else uses yet; volatile
            // so the write is kept.
            unsafe { region.start.add(page).write_volatile(0) };
        }
        Ok(region)
    }

    /// The region's first byte. The region is valid for reads and writes of [`len`](Region::len) bytes
    /// for as long as this value lives.
    pub fn as_ptr(&self) -> NonNull<u8> {
        self.start
    }

    /// The region's first byte's address.
    pub fn addr(&self) -> usize {
        self.start.as_ptr().addr()
    }

    /// The region's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty (never: [`zeroed`](Region::zeroed) refuses 0 bytes).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with `layout`. Whoever used the region (an allocator over it) is
        // gone: every owner drops its allocator before the region.
        unsafe { std::alloc::dealloc(self.allocation.as_ptr(), self.layout) };
    }
}

/// The alignment of an [`OwnedPool`]'s region.
const POOL_REGION_ALIGN: usize = 64;

/// A [`Pool`] over a [`Region`] of its own (64-aligned, zeroed lazily), so that it can be made from a size
/// alone, as [`min_pool`](crate::min_pool) needs. Replays like the pool it holds; its
/// [`extent`](TraceAllocator::extent) is measured from the region's start.
pub struct OwnedPool {
    /// Borrows `region`; dropped before it.
    pool: ManuallyDrop<Pool<'static>>,
    region: Region,
}

impl fmt::Debug for OwnedPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPool")
            .field("region_bytes", &self.region.len())
            .field("pool", &*self.pool)
            .finish()
    }
}

impl OwnedPool {
    /// Allocates a `bytes`-byte region and makes a pool over it. Errors: [`Error::RegionTooSmall`] as from
    /// [`Pool::with_config`], [`Error::RegionTooLarge`] above [`MAX_POOL_BYTES`], and
    /// [`Error::RegionUnavailable`] when the system allocator refuses the region (never an abort).
    pub fn new(bytes: usize, config: Config) -> Result<OwnedPool, Error> {
        if bytes > MAX_POOL_BYTES {
            return Err(Error::RegionTooLarge { len: bytes, max: MAX_POOL_BYTES });
        }
        if bytes == 0 {
            // A zero-size allocation is not allowed; let the pool name the minimum.
            return Pool::with_config(&mut [], config).map(|_| unreachable!("empty region"));
        }
        OwnedPool::over(Region::zeroed(bytes, POOL_REGION_ALIGN)?, config)
    }

    /// As [`new`](OwnedPool::new), over a region whose pages are all written first
    /// ([`Region::prefaulted`]), so that no page fault lands in a timed replay.
    pub fn prefaulted(bytes: usize, config: Config) -> Result<OwnedPool, Error> {
        if bytes > MAX_POOL_BYTES || bytes == 0 {
            return OwnedPool::new(bytes, config);
        }
        OwnedPool::over(Region::prefaulted(bytes, POOL_REGION_ALIGN)?, config)
    }

    /// A pool over all of `region`.
    fn over(region: Region, config: Config) -> Result<OwnedPool, Error> {
        // SAFETY: the region is valid for `len` bytes and nothing else reaches it: it is freed only when
        // this value drops, after the pool, and the pool is never handed out by value or `&mut` (so it
        // cannot be swapped out and outlive the region).
        let pool = unsafe { Pool::from_raw_parts(region.as_ptr(), region.len(), config) }?;
        Ok(OwnedPool { pool: ManuallyDrop::new(pool), region })
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<'_> {
        &self.pool
    }

    /// Bytes of the region.
    pub fn region_bytes(&self) -> usize {
        self.region.len()
    }

    /// Slides the unpinned blocks down, calling `relocate` for each move: [`Pool::compact`], for the
    /// compacting replay (the pool itself is never lent out by `&mut`, so that it cannot outlive the region).
    pub fn compact(&mut self, relocate: impl FnMut(Block, Block, &[u8])) -> CompactStats {
        self.pool.compact(relocate)
    }

    /// Compacts, trimming each movable block to `size_of(block)` bytes ([`Pool::compact_trimmed`]).
    pub fn compact_trimmed(
        &mut self,
        size_of: impl FnMut(Block) -> usize,
        relocate: impl FnMut(Block, Block, &[u8]),
    ) -> CompactStats {
        self.pool.compact_trimmed(size_of, relocate)
    }

    /// Moves `block` past the used blocks after it, to just before the next free block
    /// ([`Pool::move_to_end`]).
    pub fn move_to_end(
        &mut self,
        block: Block,
        relocate: impl FnMut(Block, Block, &[u8]),
    ) -> Result<CompactStats, Error> {
        self.pool.move_to_end(block, relocate)
    }

    /// Pins `block` ([`Pool::pin`]).
    pub fn pin(&mut self, block: Block) -> Result<(), Error> {
        self.pool.pin(block)
    }

    /// Unpins `block` ([`Pool::unpin`]).
    pub fn unpin(&mut self, block: Block) -> Result<(), Error> {
        self.pool.unpin(block)
    }

    /// The payload of `block`, writable ([`Pool::payload_mut`]).
    pub fn payload_mut(&mut self, block: Block) -> Result<&mut [u8], Error> {
        self.pool.payload_mut(block)
    }

    /// The pool base's offset from the region's start.
    fn base_offset(&self) -> usize {
        self.pool.base().as_ptr().addr() - self.region.addr()
    }
}

impl Drop for OwnedPool {
    fn drop(&mut self) {
        // SAFETY: the pool is dropped once, here, and not used after; the region drops after this.
        unsafe { ManuallyDrop::drop(&mut self.pool) };
    }
}

impl TraceAllocator for OwnedPool {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        TraceAllocator::alloc(&mut *self.pool, size, align)
    }
    #[inline]
    fn free(&mut self, ptr: usize, size: usize, align: usize) {
        TraceAllocator::free(&mut *self.pool, ptr, size, align);
    }
    #[inline]
    fn realloc(
        &mut self,
        ptr: usize,
        old_size: usize,
        align: usize,
        new_size: usize,
    ) -> Option<usize> {
        TraceAllocator::realloc(&mut *self.pool, ptr, old_size, align, new_size)
    }
    fn extent(&self) -> usize {
        self.base_offset() + self.pool.stats().peak_extent
    }
    fn payload_mut(&mut self, ptr: usize, size: usize) -> Option<&mut [u8]> {
        TraceAllocator::payload_mut(&mut *self.pool, ptr, size)
    }
}
