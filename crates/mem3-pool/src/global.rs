//! A pool behind a spin lock: a `#[global_allocator]` for `no_std` programs, and an `allocator-api2`
//! `Allocator` for collections that live in a pool.
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

use core::{
    alloc::{GlobalAlloc, Layout},
    cell::UnsafeCell,
    fmt,
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, Ordering},
};

use crate::{
    error::Result,
    pool::{Block, Config, Pool},
};

/// A [`Pool`] behind a spin lock, usable from `&self`: as `#[global_allocator]`, as an `allocator-api2`
/// `Allocator` (feature `allocator-api2`), or directly through [`LockedPool::lock`].
///
/// The pool is made from its region on first use, so a `LockedPool` can be a `static`.
pub struct LockedPool {
    locked: AtomicBool,
    /// The region the pool is made from on first use, and the pool once made. Only touched under `locked`.
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

// SAFETY: the state (the raw region pointer and the pool) is only reached under the spin lock, which gives one
// thread at a time exclusive access, and the pool itself is `Send`.
unsafe impl Sync for LockedPool {}
// SAFETY: as above; moving the lock moves the only access to the region.
unsafe impl Send for LockedPool {}

impl fmt::Debug for LockedPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockedPool")
            .field("locked", &self.locked.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl LockedPool {
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
        LockedPool {
            locked: AtomicBool::new(false),
            state: UnsafeCell::new(State::Unmade { ptr, len, config }),
        }
    }

    /// A pool over a `'static` region, made at once.
    pub fn new(region: &'static mut [u8], config: Config) -> Result<Self> {
        let pool = Pool::with_config(region, config)?;
        Ok(LockedPool { locked: AtomicBool::new(false), state: UnsafeCell::new(State::Made(pool)) })
    }

    /// Runs `f` on the pool under the lock; `None` if the region could not hold a pool.
    pub fn lock<R>(&self, f: impl FnOnce(&mut Pool<'static>) -> R) -> Option<R> {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while self.locked.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        }
        // Unlocks even if `f` panics.
        struct Unlock<'l>(&'l AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _unlock = Unlock(&self.locked);
        // SAFETY: the lock is held, so this is the only reference to the state.
        let state = unsafe { &mut *self.state.get() };
        if let State::Unmade { ptr, len, config } = *state {
            let made = NonNull::new(ptr)
                // SAFETY: `with_region`'s caller promised the region is ours alone for `'static`.
                .and_then(|ptr| unsafe { Pool::from_raw_parts(ptr, len, config) }.ok());
            *state = made.map_or(State::Failed, State::Made);
        }
        match state {
            State::Made(pool) => Some(f(pool)),
            State::Unmade { .. } | State::Failed => None,
        }
    }

    /// Allocates for `layout` and returns the payload's address (null on failure).
    fn allocate_raw(&self, layout: Layout) -> *mut u8 {
        self.lock(|pool| match pool.alloc_aligned(layout.size(), layout.align()) {
            Ok(block) => Self::ptr_of(pool, block),
            Err(_) => ptr::null_mut(),
        })
        .unwrap_or(ptr::null_mut())
    }

    /// The block whose payload is at `ptr` (checked again by every pool method).
    fn block_of(pool: &Pool<'_>, ptr: *mut u8) -> Option<Block> {
        Block::from_offset_unchecked(ptr.addr().wrapping_sub(pool.base().as_ptr().addr()))
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

// SAFETY: `alloc` returns null or a payload of at least `layout.size()` bytes aligned to `layout.align()`, owned
// by the caller until `dealloc`; the pool never hands out overlapping live blocks (`Pool::check` invariants),
// and the lock serialises every access to the pool.
unsafe impl GlobalAlloc for LockedPool {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocate_raw(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        self.lock(|pool| {
            // A pointer this allocator did not hand out is rejected by the pool's validation; `dealloc`
            // cannot report it, and the pool is unchanged.
            if let Some(block) = Self::block_of(pool, ptr) {
                let _ = pool.free(block);
            }
        });
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.lock(|pool| {
            let block = Self::block_of(pool, ptr)?;
            // Shrinks or grows in place when it can; otherwise moves the contents and frees the old block.
            let block = pool.realloc_aligned(block, new_size, layout.align()).ok()?;
            Some(Self::ptr_of(pool, block))
        })
        .flatten()
        .unwrap_or(ptr::null_mut())
    }
}

#[cfg(feature = "allocator-api2")]
// SAFETY: allocated blocks stay valid and unmoved until deallocated (nothing compacts a `LockedPool`'s pool
// behind an allocation: `compact` needs the `&mut Pool` that only `lock` gives, and moving live allocations
// through it is the caller's own contract to keep); a block may be passed to any method of this allocator;
// copies of `&LockedPool` are the same allocator.
unsafe impl allocator_api2::alloc::Allocator for LockedPool {
    fn allocate(
        &self,
        layout: Layout,
    ) -> core::result::Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        self.lock(|pool| {
            let block = pool.alloc_aligned(layout.size(), layout.align()).ok()?;
            Self::slice_of(pool, block)
        })
        .flatten()
        .ok_or(allocator_api2::alloc::AllocError)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, _layout: Layout) {
        self.lock(|pool| {
            if let Some(block) = Self::block_of(pool, ptr.as_ptr()) {
                let _ = pool.free(block);
            }
        });
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
impl LockedPool {
    /// Resizes the block at `ptr` through [`Pool::realloc_aligned`] (in place when it can).
    fn resize(
        &self,
        ptr: NonNull<u8>,
        layout: Layout,
    ) -> core::result::Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        self.lock(|pool| {
            let block = Self::block_of(pool, ptr.as_ptr())?;
            let block = pool.realloc_aligned(block, layout.size(), layout.align()).ok()?;
            Self::slice_of(pool, block)
        })
        .flatten()
        .ok_or(allocator_api2::alloc::AllocError)
    }
}
