//! A pool behind a lock: a `#[global_allocator]` for `no_std` programs, and an `allocator-api2` `Allocator`
//! for collections that live in a pool.
//!
//! ```no_run
//! use mem3_pool::LockedPool;
//!
//! static mut HEAP: [u8; 1 << 16] = [0; 1 << 16];
//!
//! #[global_allocator]
//! // SAFETY: `HEAP` is used by nothing but this allocator.
//! static ALLOCATOR: LockedPool = unsafe { LockedPool::with_region(&raw mut HEAP as *mut u8, 1 << 16) };
//! # fn main() {}
//! ```
//!
//! See [`LockedPool`] for what safe code can do with it, reentrancy, and the locks.

use core::{
    alloc::{GlobalAlloc, Layout},
    cell::UnsafeCell,
    fmt,
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, AtomicPtr, Ordering},
};

use lock_api::RawMutex;

use crate::{
    error::{Corruption, Result},
    map::{self, Cell, Figures},
    pool::{Block, Blocks, Config, Pool, Stats},
};

/// A [`Pool`] behind a lock `R` (by default a [`SpinLock`]), usable from `&self`: as `#[global_allocator]`, as
/// an `allocator-api2` `Allocator` (feature `allocator-api2`), read through [`LockedPool::read`], and, with
/// `unsafe`, changed through [`LockedPool::lock_mut`].
///
/// The pool is made from its region on first use, so a `LockedPool` can be a `static`.
///
/// # What safe code can do with a `LockedPool`
///
/// Every block the allocator interfaces hand out belongs to its caller until it is given back, so no safe
/// method reaches anything that could free, move, write or read such a block: [`LockedPool::read`] lends the
/// pool to a closure as a [`PoolView`], which has the figures, the block list, the integrity check and heap
/// maps, and no payloads. The `&mut Pool` path is [`LockedPool::lock_mut`], an `unsafe fn`. Safe code cannot
/// reach it:
///
/// ```compile_fail,E0133
/// # use mem3_pool::{Config, LockedPool};
/// # let region: &'static mut [u8] = Box::leak(vec![0u8; 4096].into_boxed_slice());
/// let pool = LockedPool::new(region, Config::default()).unwrap();
/// pool.lock_mut(|pool| pool.compact(|_, _, _| {})); // moves blocks that allocations own
/// ```
///
/// nor the payloads through the view:
///
/// ```compile_fail,E0599
/// # use mem3_pool::{Config, LockedPool};
/// # let region: &'static mut [u8] = Box::leak(vec![0u8; 4096].into_boxed_slice());
/// let pool = LockedPool::new(region, Config::default()).unwrap();
/// pool.read(|view| {
///     let block = view.blocks().find_map(|info| info.block()).unwrap();
///     view.payload(block).unwrap()[0] // another allocation's bytes
/// });
/// ```
///
/// # Reentrancy: the pool lent to a closure
///
/// While a closure given to [`read`](LockedPool::read) or [`lock_mut`](LockedPool::lock_mut) runs, the pool is
/// *lent*: the closure holds the lock, and anything it does that needs the lock again would wait for itself
/// forever. Without a thread id (which `no_std` does not have) the pool cannot tell a call from inside the
/// closure from a call on another thread, so a call that finds the pool lent waits a bounded time (about
/// 2^16 spins) for it to come back, and is refused if it does not, rather than waiting forever:
///
/// * an allocation, reallocation, `grow` or `shrink` fails (null, or `AllocError`); the old block is intact;
/// * a deallocation is deferred: the block goes on a list, linked through its payload, and is freed when the
///   closure returns (or, if it arrives too late for that, by the next operation);
/// * a nested `read` or `lock_mut` returns `None`.
///
/// So a panic inside the closure of a `#[global_allocator]` program does not hang: the panic machinery's
/// allocation fails and the program aborts, after the panic message, with "memory allocation of N bytes
/// failed" (with `RUST_BACKTRACE` set, reading it is the first allocation, before the message), instead of
/// spinning forever. Without a global allocator on the pool, the panic unwinds, and the lock is released on the way
/// out; the closure only ever sees the pool between operations, so the pool it leaves behind is whole.
///
/// The price is on other threads: while one thread runs a closure for longer than that wait, allocations
/// from others fail instead of waiting. Keep the closures short, or, in a multi-threaded program, use
/// [`LockedPool::stats`] and [`LockedPool::check`], which lend nothing: they hold the lock only for the
/// pool's own code, and others wait for them as for any operation.
///
/// # Locks
///
/// The lock is a [`lock_api::RawMutex`] type parameter. The default, [`SpinLock`], spins with
/// exponential backoff. Feature `critical-section` adds `CriticalSectionLock`, which holds a
/// `critical_section` for each operation, as embedded allocators do: on a single core that masks interrupts,
/// so an interrupt handler may allocate too. With a spin lock, an interrupt handler that allocates while the
/// code it interrupted is inside an allocation spins forever. Backoff cannot help a holder that the OS has
/// preempted: with more threads than cores, waiters spin out their time slices. On an OS, a lock that yields
/// or sleeps, such as `parking_lot::RawMutex`, avoids that.
pub struct LockedPool<R = SpinLock> {
    raw: R,
    /// Set while a closure given to `read` or `lock_mut` runs, which holds the lock. Written only with the
    /// lock held.
    lent: AtomicBool,
    /// Payloads given back while the pool was lent, waiting to be freed: a stack linked through the first word
    /// of each payload (every payload is word-aligned and at least a word long). Freed with the lock held.
    deferred: AtomicPtr<u8>,
    /// The region the pool is made from on first use, and the pool once made. Only touched under `raw`.
    state: UnsafeCell<State>,
}

// The pool is much larger than the unmade region, but a `LockedPool` lives in a static with no allocator
// to box it into, and is made once.
#[allow(clippy::large_enum_variant)]
enum State {
    Unmade {
        ptr: *mut u8,
        len: usize,
        config: Config,
    },
    Made(Pool<'static>),
    /// The region could not hold a pool: every allocation fails.
    Failed,
}

// SAFETY: the state (the raw region pointer and the pool) is only reached under the lock, which gives one
// thread at a time exclusive access (and `R: Sync` makes the lock itself usable from many threads); the pool
// itself is `Send`. `lent` and `deferred` are atomics, and a deferred payload is only read under the lock.
unsafe impl<R: RawMutex + Sync> Sync for LockedPool<R> {}
// SAFETY: as above; moving the lock moves the only access to the region.
unsafe impl<R: RawMutex + Send> Send for LockedPool<R> {}

impl<R: RawMutex> fmt::Debug for LockedPool<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockedPool")
            .field("locked", &self.raw.is_locked())
            .field("lent", &self.lent.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Why a call found no pool to work on.
enum Refused {
    /// The pool is lent to a closure (perhaps the caller's own).
    Lent,
    /// The region could not hold a pool.
    NoPool,
}

impl LockedPool {
    /// A pool over a `'static` region, made at once, behind the default [`SpinLock`]. For another lock, see
    /// [`LockedPool::from_region`].
    pub fn new(region: &'static mut [u8], config: Config) -> Result<Self> {
        Self::from_region(region, config)
    }
}

impl<R: RawMutex> LockedPool<R> {
    /// A pool over the `len` bytes at `ptr`, made on first use with the default [`Config`].
    ///
    /// # Safety
    ///
    /// * `ptr` is valid for reads and writes of `len` bytes for the rest of the program (`'static`).
    /// * Nothing else reads or writes those bytes, except through memory this allocator hands out.
    pub const unsafe fn with_region(ptr: *mut u8, len: usize) -> Self {
        // SAFETY: the caller's promise is this function's.
        unsafe { Self::with_region_and_config(ptr, len, Config::DEFAULT) }
    }

    /// As [`with_region`](LockedPool::with_region), with `config`.
    ///
    /// # Safety
    ///
    /// As [`with_region`](LockedPool::with_region).
    pub const unsafe fn with_region_and_config(ptr: *mut u8, len: usize, config: Config) -> Self {
        Self::from_state(State::Unmade { ptr, len, config })
    }

    /// A pool over a `'static` region, made at once, behind the lock `R`.
    pub fn from_region(region: &'static mut [u8], config: Config) -> Result<Self> {
        Ok(Self::from_state(State::Made(Pool::with_config(region, config)?)))
    }

    const fn from_state(state: State) -> Self {
        LockedPool {
            raw: R::INIT,
            lent: AtomicBool::new(false),
            deferred: AtomicPtr::new(ptr::null_mut()),
            state: UnsafeCell::new(state),
        }
    }

    /// Runs `f` on a read-only view of the pool, with the lock held; `None` if the region could not hold a
    /// pool, or if the pool is already lent to a closure (this one's caller, or another thread's: see the
    /// [`LockedPool`] docs). While `f` runs, this pool's allocations fail and its deallocations wait for `f` to
    /// return.
    ///
    /// ```
    /// use core::alloc::{GlobalAlloc, Layout};
    /// # use mem3_pool::{Config, LockedPool};
    /// static mut REGION: [u8; 4096] = [0; 4096];
    /// // SAFETY: nothing else uses `REGION`.
    /// let pool = LockedPool::new(unsafe { &mut *&raw mut REGION }, Config::default())?;
    /// let layout = Layout::new::<[u64; 4]>();
    /// // SAFETY: the layout is not zero-sized.
    /// let p = unsafe { pool.alloc(layout) };
    /// let (used, check) = pool.read(|view| (view.stats().used_blocks, view.check())).unwrap();
    /// assert_eq!(used, 1);
    /// check.expect("the pool is consistent");
    /// // SAFETY: `p` came from `pool` with `layout`.
    /// unsafe { pool.dealloc(p, layout) };
    /// # Ok::<(), mem3_pool::Error>(())
    /// ```
    pub fn read<T>(&self, f: impl FnOnce(PoolView<'_>) -> T) -> Option<T> {
        self.run(true, |pool| f(PoolView { pool })).ok()
    }

    /// Runs `f` on the pool itself, with the lock held; `None` as for [`read`](LockedPool::read), which also
    /// says what happens to allocations while `f` runs. Use it for blocks that the pool's own API allocates
    /// (`f` may allocate, free, pin and compact those), or to compact a pool whose allocations are all gone.
    ///
    /// # Safety
    ///
    /// Every block this allocator handed out (through `GlobalAlloc` or `Allocator`) and that is not given back
    /// belongs to its caller, who may be using it on another thread right now; so does a block given back while
    /// `f` runs (it stays used until `f` returns, see the [`LockedPool`] docs). `f` must not free, resize, move
    /// (as [`Pool::compact`] does to every unpinned block), unpin, read or write any of them, nor replace the
    /// pool.
    ///
    /// ```
    /// # use mem3_pool::{Config, LockedPool};
    /// static mut REGION: [u8; 4096] = [0; 4096];
    /// // SAFETY: nothing else uses `REGION`.
    /// let pool = LockedPool::new(unsafe { &mut *&raw mut REGION }, Config::default())?;
    /// // SAFETY: `f` touches only the block it allocates itself.
    /// let copied = unsafe {
    ///     pool.lock_mut(|pool| {
    ///         let scratch = pool.alloc(64)?;
    ///         pool.payload_mut(scratch)?[..5].copy_from_slice(b"hello");
    ///         let copied = pool.payload(scratch)?[..5].to_vec();
    ///         pool.free(scratch)?;
    ///         Ok::<_, mem3_pool::Error>(copied)
    ///     })
    /// };
    /// assert_eq!(copied, Some(Ok(b"hello".to_vec())));
    /// # Ok::<(), mem3_pool::Error>(())
    /// ```
    pub unsafe fn lock_mut<T>(&self, f: impl FnOnce(&mut Pool<'static>) -> T) -> Option<T> {
        self.run(true, f).ok()
    }

    /// The pool's figures ([`Pool::stats`]), under the lock but without lending the pool to a closure, so
    /// other threads' allocations wait for it rather than fail. `None` as for [`read`](LockedPool::read).
    pub fn stats(&self) -> Option<Stats> {
        self.run(false, |pool| pool.stats()).ok()
    }

    /// The integrity check ([`Pool::check`]) without lending the pool, as [`stats`](LockedPool::stats).
    pub fn check(&self) -> Option<Result<(), Corruption>> {
        self.run(false, |pool| pool.check()).ok()
    }

    /// Runs `op` on the pool with the lock held, unless the pool is lent (to a caller up this thread's stack,
    /// or to another thread) or could not be made. `lend` marks the pool lent while `op` runs: it must be set
    /// whenever `op` runs code other than the pool's own.
    fn run<T>(
        &self,
        lend: bool,
        op: impl FnOnce(&mut Pool<'static>) -> T,
    ) -> core::result::Result<T, Refused> {
        // Program order makes this exact for the calling thread: if a closure up its own stack holds the
        // lock, `lent` was set before that closure started, and waiting cannot end it. Another thread's closure
        // usually ends within the wait, so a short one costs its neighbours a delay, not a failure. A closure
        // that starts after this load is waited for in `lock`, which ends.
        let mut patience = LENT_PATIENCE;
        while self.lent.load(Ordering::Acquire) {
            if patience == 0 {
                return Err(Refused::Lent);
            }
            patience -= 1;
            core::hint::spin_loop();
        }
        self.raw.lock();
        // Unlocks even if `op` panics: `op` only sees the pool between operations, so the pool is whole.
        let held = Held { owner: self, lent: lend };
        if lend {
            self.lent.store(true, Ordering::Release);
        }
        // SAFETY: the lock is held, so nothing else reaches the state until `held` drops.
        let pool = unsafe { held.owner.pool_mut() }.ok_or(Refused::NoPool)?;
        // Before `op`, so that a `lock_mut` closure sees no block given back before it started.
        self.free_deferred(pool);
        Ok(op(pool))
    }

    /// The pool, made from the region if this is the first use; `None` if the region cannot hold one.
    ///
    /// # Safety
    ///
    /// The lock is held, and no other reference into the state is live.
    #[allow(clippy::mut_from_ref, reason = "the lock makes the access exclusive")]
    unsafe fn pool_mut(&self) -> Option<&mut Pool<'static>> {
        // SAFETY: the caller holds the lock, so this is the only reference to the state.
        let state = unsafe { &mut *self.state.get() };
        if let State::Unmade { ptr, len, config } = *state {
            let made = NonNull::new(ptr)
                // SAFETY: `with_region`'s caller promised the region is ours alone for `'static`.
                .and_then(|ptr| unsafe { Pool::from_raw_parts(ptr, len, config) }.ok());
            *state = made.map_or(State::Failed, State::Made);
        }
        match state {
            State::Made(pool) => Some(pool),
            State::Unmade { .. } | State::Failed => None,
        }
    }

    /// Frees the payloads deferred while the pool was lent.
    fn free_deferred(&self, pool: &mut Pool<'static>) {
        let mut ptr = self.deferred.swap(ptr::null_mut(), Ordering::Acquire);
        while !ptr.is_null() {
            // SAFETY: `defer` wrote the next link into the first word of this payload (word-aligned, at least a
            // word long) before publishing it with `Release`, which the `swap` above acquired; nobody else
            // uses a payload once it is given back.
            let next = unsafe { ptr.cast::<*mut u8>().read() };
            if let Some(block) = Self::block_of(pool, ptr) {
                let _ = pool.free(block);
            }
            ptr = next;
        }
    }

    /// Puts the payload at `ptr`, given back while the pool is lent, on the deferred list.
    ///
    /// # Safety
    ///
    /// `ptr` is a payload this allocator handed out, given back by its owner (who will not touch it again).
    unsafe fn defer(&self, ptr: *mut u8) {
        let mut head = self.deferred.load(Ordering::Relaxed);
        loop {
            // SAFETY: the payload is ours again (the caller's promise), word-aligned and at least a word long
            // (`MIN_ALIGN` is a word; the smallest block's payload is longer), and not yet on the list.
            unsafe { ptr.cast::<*mut u8>().write(head) };
            match self.deferred.compare_exchange_weak(
                head,
                ptr,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Allocates for `layout` and returns the payload's address (null on failure).
    fn allocate_raw(&self, layout: Layout) -> *mut u8 {
        self.run(false, |pool| match pool.alloc_aligned(layout.size(), layout.align()) {
            Ok(block) => Self::ptr_of(pool, block),
            Err(_) => ptr::null_mut(),
        })
        .unwrap_or(ptr::null_mut())
    }

    /// Frees the payload at `ptr`, or defers it if the pool is lent.
    ///
    /// # Safety
    ///
    /// As `GlobalAlloc::dealloc`: `ptr` came from this allocator and is not used again.
    unsafe fn deallocate_raw(&self, ptr: *mut u8) {
        let done = self.run(false, |pool| {
            // A pointer this allocator did not hand out is rejected by the pool's validation; `dealloc`
            // cannot report it, and the pool is unchanged.
            if let Some(block) = Self::block_of(pool, ptr) {
                let _ = pool.free(block);
            }
        });
        if let Err(Refused::Lent) = done {
            // SAFETY: the caller's promise.
            unsafe { self.defer(ptr) };
        }
    }

    /// The block whose payload is at `ptr` (checked again by every pool method).
    fn block_of(pool: &Pool<'_>, ptr: *mut u8) -> Option<Block> {
        Block::from_offset(ptr.addr().wrapping_sub(pool.base().as_ptr().addr()))
    }

    /// The address of `block`'s payload, the inverse of `block_of` (keeps the region's provenance).
    fn ptr_of(pool: &Pool<'_>, block: Block) -> *mut u8 {
        pool.base().as_ptr().wrapping_add(block.offset())
    }

    /// `block`'s whole usable payload, as the `Allocator` trait returns it.
    #[cfg(feature = "allocator-api2")]
    fn slice_of(pool: &Pool<'_>, block: Block) -> Option<NonNull<[u8]>> {
        let len = pool.usable_size(block).ok()?;
        Some(NonNull::slice_from_raw_parts(NonNull::new(Self::ptr_of(pool, block))?, len))
    }
}

/// Spins a call waits for a lent pool to come back before it is refused: about a millisecond, long enough for
/// a short closure on another thread, and a bounded delay for a call from inside the closure itself.
const LENT_PATIENCE: u32 = 1 << 16;

/// The lock while it is held: releases it on drop, after freeing what was deferred while the pool was lent.
struct Held<'l, R: RawMutex> {
    owner: &'l LockedPool<R>,
    lent: bool,
}

impl<R: RawMutex> Drop for Held<'_, R> {
    fn drop(&mut self) {
        // SAFETY: the lock is held, and the pool reference `run` handed to its operation is dead: `held` is
        // dropped after it (on return or on unwind).
        if let Some(pool) = unsafe { self.owner.pool_mut() } {
            self.owner.free_deferred(pool);
        }
        if self.lent {
            self.owner.lent.store(false, Ordering::Release);
        }
        // SAFETY: `run` locked `raw` before making this guard, and only this guard unlocks it.
        unsafe { self.owner.raw.unlock() };
    }
}

/// What [`LockedPool::read`] shows of the pool: its figures, its blocks and the integrity check, and nothing of
/// the payloads, which belong to the allocations' owners (who may be writing them on another thread).
#[derive(Clone, Copy, Debug)]
pub struct PoolView<'p> {
    pool: &'p Pool<'static>,
}

impl<'p> PoolView<'p> {
    /// [`Pool::config`].
    pub fn config(&self) -> Config {
        self.pool.config()
    }

    /// [`Pool::capacity`].
    pub fn capacity(&self) -> usize {
        self.pool.capacity()
    }

    /// [`Pool::stats`].
    pub fn stats(&self) -> Stats {
        self.pool.stats()
    }

    /// [`Pool::largest_free`].
    pub fn largest_free(&self) -> usize {
        self.pool.largest_free()
    }

    /// [`Pool::blocks`]: every block's offset, size and state (read from the block headers, which no
    /// allocation owns).
    pub fn blocks(&self) -> Blocks<'p, 'static> {
        self.pool.blocks()
    }

    /// [`Pool::usable_size`].
    pub fn usable_size(&self, block: Block) -> Result<usize> {
        self.pool.usable_size(block)
    }

    /// [`Pool::is_pinned`].
    pub fn is_pinned(&self, block: Block) -> Result<bool> {
        self.pool.is_pinned(block)
    }

    /// [`Pool::check`].
    pub fn check(&self) -> Result<(), Corruption> {
        self.pool.check()
    }

    /// A heap map: [`map::fill`] on this pool.
    pub fn map(
        &self,
        cell_bytes: usize,
        cells: &mut [Cell],
        classify: impl FnMut(Block) -> Option<u8>,
    ) -> Figures {
        map::fill(self.pool, cell_bytes, cells, classify)
    }
}

// SAFETY: `alloc` returns null or a payload of at least `layout.size()` bytes aligned to `layout.align()`, owned
// by the caller until `dealloc`: the pool never hands out overlapping live blocks (`Pool::check` invariants),
// the lock serialises every access to the pool, and no safe method frees, moves, reads or writes a block
// handed out (`read` shows no payloads; `lock_mut`, which could, is unsafe and its caller promises not to).
// Calls that find the pool lent fail (allocations) or are deferred (deallocations) rather than wait.
unsafe impl<R: RawMutex> GlobalAlloc for LockedPool<R> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocate_raw(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `dealloc`'s contract is `deallocate_raw`'s.
        unsafe { self.deallocate_raw(ptr) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.run(false, |pool| {
            let block = Self::block_of(pool, ptr)?;
            // Shrinks or grows in place when it can; otherwise moves the contents and frees the old block.
            let block = pool.realloc_aligned(block, new_size, layout.align()).ok()?;
            Some(Self::ptr_of(pool, block))
        })
        .ok()
        .flatten()
        .unwrap_or(ptr::null_mut())
    }
}

#[cfg(feature = "allocator-api2")]
// SAFETY: allocated blocks stay valid and unmoved until deallocated: nothing safe frees, moves or touches a
// block handed out (see the `GlobalAlloc` impl above), and `lock_mut`'s caller promises not to; a block may be
// passed to any method of this allocator; copies of `&LockedPool` are the same allocator.
unsafe impl<R: RawMutex> allocator_api2::alloc::Allocator for LockedPool<R> {
    fn allocate(
        &self,
        layout: Layout,
    ) -> core::result::Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        self.run(false, |pool| {
            let block = pool.alloc_aligned(layout.size(), layout.align()).ok()?;
            Self::slice_of(pool, block)
        })
        .ok()
        .flatten()
        .ok_or(allocator_api2::alloc::AllocError)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, _layout: Layout) {
        // SAFETY: `deallocate`'s contract is `deallocate_raw`'s.
        unsafe { self.deallocate_raw(ptr.as_ptr()) }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        _old_layout: Layout,
        new_layout: Layout,
    ) -> core::result::Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        self.resize(ptr, new_layout)
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        _old_layout: Layout,
        new_layout: Layout,
    ) -> core::result::Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        self.resize(ptr, new_layout)
    }
}

#[cfg(feature = "allocator-api2")]
impl<R: RawMutex> LockedPool<R> {
    /// Resizes the block at `ptr` through [`Pool::realloc_aligned`] (in place when it can).
    fn resize(
        &self,
        ptr: NonNull<u8>,
        layout: Layout,
    ) -> core::result::Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        self.run(false, |pool| {
            let block = Self::block_of(pool, ptr.as_ptr())?;
            let block = pool.realloc_aligned(block, layout.size(), layout.align()).ok()?;
            Self::slice_of(pool, block)
        })
        .ok()
        .flatten()
        .ok_or(allocator_api2::alloc::AllocError)
    }
}

/// The most `spin_loop` hints [`SpinLock`] waits between two looks at a held lock.
const MAX_SPINS: u32 = 1 << 10;

/// The default lock of a [`LockedPool`]: a test-and-test-and-set spin lock with exponential backoff.
///
/// A waiting core reads the lock (which keeps the cache line shared) and, each time it finds it held, waits
/// twice as many `core::hint::spin_loop` hints as before, up to 1024, so waiters do not all rush at the line
/// the moment it is released.
#[derive(Debug)]
pub struct SpinLock {
    locked: AtomicBool,
}

impl SpinLock {
    /// An unlocked lock.
    pub const fn new() -> Self {
        SpinLock { locked: AtomicBool::new(false) }
    }
}

impl Default for SpinLock {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: `locked` goes from false to true only by a successful compare-exchange, so one holder at a time;
// taking it is an `Acquire` and releasing it a `Release`, so each holder sees everything the previous one did.
unsafe impl RawMutex for SpinLock {
    #[allow(clippy::declare_interior_mutable_const, reason = "the trait's way to make a new lock")]
    const INIT: Self = SpinLock::new();
    type GuardMarker = lock_api::GuardSend;

    fn lock(&self) {
        let mut spins = 1;
        while !self.try_lock() {
            while self.locked.load(Ordering::Relaxed) {
                for _ in 0..spins {
                    core::hint::spin_loop();
                }
                spins = (spins * 2).min(MAX_SPINS);
            }
        }
    }

    fn try_lock(&self) -> bool {
        self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    unsafe fn unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }

    fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }
}

/// A lock that holds a critical section ([`critical_section::acquire`]) from `lock` to `unlock` (feature
/// `critical-section`), as embedded allocators do. On a single core that masks interrupts, so interrupt
/// handlers may allocate; multi-core implementations of `critical-section` exclude the other cores too.
///
/// Critical sections nest, so a second `lock` in the same context would get one: the lock remembers that it is
/// held and refuses (`try_lock` is false; `lock` panics, as waiting could never end). A [`LockedPool`] never
/// locks twice: it refuses reentrant calls before locking (see the [`LockedPool`] docs).
#[cfg(feature = "critical-section")]
pub struct CriticalSectionLock {
    /// Whether a `lock` holds the critical section. Only read or written inside a critical section.
    held: AtomicBool,
    /// What `unlock` passes to `critical_section::release`: written by the `lock` that set `held`.
    restore: UnsafeCell<critical_section::RestoreState>,
}

#[cfg(feature = "critical-section")]
impl CriticalSectionLock {
    /// An unlocked lock.
    pub const fn new() -> Self {
        CriticalSectionLock {
            held: AtomicBool::new(false),
            restore: UnsafeCell::new(critical_section::RestoreState::invalid()),
        }
    }
}

#[cfg(feature = "critical-section")]
impl Default for CriticalSectionLock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "critical-section")]
impl fmt::Debug for CriticalSectionLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CriticalSectionLock").finish_non_exhaustive()
    }
}

// SAFETY: `held` and `restore` are only touched inside a critical section, which excludes every other context
// (interrupts, other cores) until it is released, so they need no other synchronisation.
#[cfg(feature = "critical-section")]
unsafe impl Sync for CriticalSectionLock {}

// SAFETY: a critical section excludes every other context, and `held` keeps a nested one in the same context
// out, so one holder at a time; `critical_section` orders acquire and release like `Acquire` and `Release`.
#[cfg(feature = "critical-section")]
unsafe impl RawMutex for CriticalSectionLock {
    #[allow(clippy::declare_interior_mutable_const, reason = "the trait's way to make a new lock")]
    const INIT: Self = CriticalSectionLock::new();
    // A critical section must be released in the context that acquired it.
    type GuardMarker = lock_api::GuardNoSend;

    fn lock(&self) {
        assert!(self.try_lock(), "CriticalSectionLock locked again by the context that holds it");
    }

    fn try_lock(&self) -> bool {
        // SAFETY: released below (a nested section, properly nested), or by `unlock`, in this context: a lock
        // is unlocked by the context that holds it (`RawMutex::unlock`'s contract, and `GuardNoSend`).
        let restore = unsafe { critical_section::acquire() };
        if self.held.load(Ordering::Relaxed) {
            // SAFETY: `restore` came from the `acquire` just above, nested inside the holder's.
            unsafe { critical_section::release(restore) };
            return false;
        }
        self.held.store(true, Ordering::Relaxed);
        // SAFETY: inside the critical section, so nothing else reads or writes `restore`.
        unsafe { *self.restore.get() = restore };
        true
    }

    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock, so this context holds the critical section that `try_lock`
        // acquired and `restore` is its state.
        let restore = unsafe { *self.restore.get() };
        self.held.store(false, Ordering::Relaxed);
        // SAFETY: as above: the matching release, in the context that acquired it.
        unsafe { critical_section::release(restore) };
    }

    fn is_locked(&self) -> bool {
        critical_section::with(|_| self.held.load(Ordering::Relaxed))
    }
}
