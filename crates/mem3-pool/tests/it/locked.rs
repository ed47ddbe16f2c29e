//! `LockedPool` off the global allocator: the read view, reentrant calls refused rather than deadlocked,
//! panics inside the lock, the locks, and threads allocating through the `Allocator` API.

use std::{
    alloc::{GlobalAlloc, Layout},
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Barrier, Mutex,
        atomic::{AtomicPtr, Ordering},
    },
};

use mem3_pool::{
    BlockState, Config, LockedPool, SpinLock,
    lock_api::RawMutex,
    map::{self, Cell},
};

/// Leaked regions, kept reachable from a static so that Miri does not report them as leaks.
static REGIONS: Mutex<Vec<AtomicPtr<u8>>> = Mutex::new(Vec::new());

/// A `'static` region of `len` zero bytes, as a `LockedPool` needs.
fn region(len: usize) -> &'static mut [u8] {
    let region = Box::leak(vec![0u8; len].into_boxed_slice());
    REGIONS.lock().unwrap().push(AtomicPtr::new(region.as_mut_ptr()));
    region
}

fn pool(len: usize) -> LockedPool {
    LockedPool::new(region(len), Config::default()).unwrap()
}

const LAYOUT: Layout = Layout::new::<[u64; 8]>();

#[test]
fn the_read_view_shows_figures_blocks_check_and_maps() {
    let pool = pool(8192);
    // SAFETY: `LAYOUT` is not zero-sized; `a` goes back to `pool` with it.
    let a = unsafe { pool.alloc(LAYOUT) };
    // SAFETY: as above.
    let b = unsafe { pool.alloc(LAYOUT) };
    // SAFETY: `a` came from `pool` with `LAYOUT`.
    unsafe { pool.dealloc(a, LAYOUT) };
    let stats = pool.stats().unwrap();
    pool.read(|view| {
        assert_eq!(view.stats(), stats);
        assert_eq!(view.capacity(), stats.capacity);
        assert_eq!(view.largest_free(), stats.largest_free);
        assert_eq!(view.config(), Config::default());
        let states: Vec<_> = view.blocks().map(|info| info.state).collect();
        assert_eq!(states, [BlockState::Free, BlockState::Used, BlockState::Free]);
        let used = view.blocks().find_map(|info| info.block()).unwrap();
        assert!(view.usable_size(used).unwrap() >= LAYOUT.size());
        assert_eq!(view.is_pinned(used), Ok(false));
        view.check().unwrap();
        let mut cells = [Cell::default(); 64];
        let figures =
            view.map(map::cell_bytes_for(view.capacity(), cells.len()), &mut cells, |_| Some(3));
        assert_eq!((figures.used_blocks, figures.free_blocks), (1, 2));
        assert_eq!(cells.iter().map(|c| c.kinds[3]).sum::<usize>(), figures.used_bytes);
    })
    .unwrap();
    assert_eq!(pool.check(), Some(Ok(())));
    // SAFETY: `b` came from `pool` with `LAYOUT`.
    unsafe { pool.dealloc(b, LAYOUT) };
    assert_eq!(pool.stats().unwrap().used_blocks, 0);
}

#[test]
fn a_region_that_holds_no_pool_gives_none_and_null() {
    // SAFETY: the region is leaked, so it lives for the rest of the program and is ours alone.
    let pool: LockedPool = unsafe { LockedPool::with_region(region(8).as_mut_ptr(), 8) };
    assert_eq!(pool.read(|view| view.capacity()), None);
    assert_eq!(pool.stats(), None);
    assert_eq!(pool.check(), None);
    // SAFETY: `LAYOUT` is not zero-sized.
    assert!(unsafe { pool.alloc(LAYOUT) }.is_null());
}

#[test]
fn allocating_inside_the_lock_fails_instead_of_hanging() {
    let pool = pool(8192);
    let nested = pool.read(|view| {
        // SAFETY: `LAYOUT` is not zero-sized.
        let global = unsafe { pool.alloc(LAYOUT) };
        // SAFETY: as above; `realloc` of a null pointer is never reached (`global` is checked first).
        let grown = (!global.is_null()).then(|| unsafe { pool.realloc(global, LAYOUT, 512) });
        (global, grown, pool.read(|_| ()), pool.stats(), view.stats().used_blocks)
    });
    let (global, grown, read, stats, used) = nested.unwrap();
    assert!(global.is_null(), "the allocation inside the lock fails");
    assert_eq!(grown, None);
    assert_eq!(read, None, "so does a nested read");
    assert_eq!(stats, None, "and stats, which would take the lock");
    assert_eq!(used, 0);
    // SAFETY: `f` touches only what it allocates through the pool itself; `LAYOUT` is not zero-sized.
    let inside_lock_mut = unsafe {
        pool.lock_mut(|p| {
            // `LAYOUT` is not zero-sized.
            let global = pool.alloc(LAYOUT);
            (global, pool.read(|_| ()), p.alloc(16).is_ok())
        })
    };
    let (global, read, own) = inside_lock_mut.unwrap();
    assert!(global.is_null());
    assert_eq!(read, None);
    assert!(own, "the pool itself works inside lock_mut");
    // Once the closure returns, everything works again.
    // SAFETY: `LAYOUT` is not zero-sized.
    let after = unsafe { pool.alloc(LAYOUT) };
    assert!(!after.is_null());
    assert_eq!(pool.stats().unwrap().used_blocks, 2);
    assert_eq!(pool.check(), Some(Ok(())));
}

#[cfg(feature = "allocator-api2")]
#[test]
fn allocator_api_calls_inside_the_lock_fail_and_frees_wait_for_it() {
    use allocator_api2::{boxed::Box, vec::Vec};
    let pool = pool(8192);
    let mut kept = Vec::new_in(&pool);
    kept.extend_from_slice(&[7u8; 100]);
    let given_back = Box::new_in([1u64; 4], &pool);
    let inside = pool.read(|view| {
        let failed = Box::try_new_in(5u32, &pool).is_err();
        let grow_failed = kept.try_reserve(10_000).is_err();
        drop(given_back);
        (failed, grow_failed, view.stats().used_blocks)
    });
    assert_eq!(
        inside,
        Some((true, true, 2)),
        "the given-back box is still used inside the closure"
    );
    assert_eq!(kept, [7u8; 100], "the vector whose growth failed is intact");
    assert_eq!(pool.stats().unwrap().used_blocks, 1, "the box was freed when the closure returned");
    assert_eq!(pool.check(), Some(Ok(())));
}

#[test]
fn a_panic_inside_the_lock_unlocks_and_leaves_the_pool_whole() {
    let pool = pool(8192);
    let panicked = catch_unwind(AssertUnwindSafe(|| pool.read(|_| panic!("in read"))));
    assert!(panicked.is_err());
    // SAFETY: `f` allocates and frees only blocks of its own.
    let panicked = catch_unwind(AssertUnwindSafe(|| unsafe {
        pool.lock_mut(|p| {
            let a = p.alloc(100).unwrap();
            let _b = p.alloc(100).unwrap();
            p.free(a).unwrap();
            panic!("in lock_mut")
        })
    }));
    assert!(panicked.is_err());
    // SAFETY: `LAYOUT` is not zero-sized.
    let p = unsafe { pool.alloc(LAYOUT) };
    assert!(!p.is_null(), "the lock was released on unwind");
    assert_eq!(pool.stats().unwrap().used_blocks, 2);
    assert_eq!(pool.check(), Some(Ok(())));
}

#[test]
fn another_thread_is_refused_while_the_pool_is_lent() {
    let pool = pool(8192);
    // SAFETY: `LAYOUT` is not zero-sized.
    let given_back = AtomicPtr::new(unsafe { pool.alloc(LAYOUT) });
    let (inside, done) = (Barrier::new(2), Barrier::new(2));
    std::thread::scope(|s| {
        s.spawn(|| {
            pool.read(|_| {
                inside.wait();
                done.wait();
            })
            .unwrap();
        });
        s.spawn(|| {
            inside.wait();
            // SAFETY: `LAYOUT` is not zero-sized.
            assert!(unsafe { pool.alloc(LAYOUT) }.is_null(), "refused, not waited for");
            assert_eq!(pool.read(|_| ()), None);
            // SAFETY: `given_back` came from `pool` with `LAYOUT` and is not used again.
            unsafe { pool.dealloc(given_back.load(Ordering::Relaxed), LAYOUT) };
            done.wait();
        });
    });
    assert_eq!(pool.stats().unwrap().used_blocks, 0, "the deferred free happened");
    assert_eq!(pool.check(), Some(Ok(())));
}

/// A small xorshift generator: the stress test needs no more.
#[cfg(feature = "allocator-api2")]
struct Rng(u64);

#[cfg(feature = "allocator-api2")]
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Threads allocate, resize and free through the `Allocator` API, each checking that its blocks keep their
/// contents, while another thread reads the figures and runs the check without lending the pool: no allocation
/// may fail (the pool is large enough), and the pool is whole at the end.
#[cfg(feature = "allocator-api2")]
fn stress<R: RawMutex + Sync>(pool: &LockedPool<R>, threads: u64, ops: u64) {
    use allocator_api2::vec::Vec;
    use std::sync::atomic::AtomicBool;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let workers: std::vec::Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t + 1));
                    let mut live: std::vec::Vec<(u8, Vec<u8, &LockedPool<R>>)> = Default::default();
                    for op in 0..ops {
                        let r = rng.next();
                        if live.len() < 8 && r % 3 != 0 {
                            let fill = (t as u8).wrapping_mul(31).wrapping_add(op as u8);
                            let len = (r >> 8) as usize % 300;
                            let mut v = Vec::new_in(pool);
                            v.resize(len, fill);
                            live.push((fill, v));
                        } else if !live.is_empty() {
                            let (fill, mut v) = live.swap_remove((r >> 8) as usize % live.len());
                            assert!(v.iter().all(|&b| b == fill), "thread {t}: a block changed");
                            if r % 2 == 0 && v.len() < 2000 {
                                // Grow it (in place or by a move), check it again, keep it.
                                let len = v.len() + 100;
                                v.resize(len, fill);
                                assert!(v.iter().all(|&b| b == fill));
                                live.push((fill, v));
                            }
                        }
                    }
                })
            })
            .collect();
        s.spawn(|| {
            // A few walks under Miri, where each one is slow; as many as fit natively.
            let mut walks = if cfg!(miri) { 2 } else { u32::MAX };
            while !stop.load(Ordering::Relaxed) && walks > 0 {
                walks -= 1;
                assert!(pool.stats().is_some());
                assert_eq!(pool.check(), Some(Ok(())));
                std::thread::yield_now();
            }
        });
        for worker in workers {
            worker.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    let (used, check) = pool.read(|view| (view.stats().used_blocks, view.check())).unwrap();
    assert_eq!(used, 0, "every block was freed");
    check.unwrap();
}

/// Threads, operations per thread and pool size: small under Miri, which interprets every step of every
/// thread (and every `check()` walks the whole pool).
#[cfg(feature = "allocator-api2")]
const STRESS: (u64, u64, usize) = if cfg!(miri) { (2, 40, 1 << 16) } else { (4, 20_000, 1 << 20) };

#[cfg(feature = "allocator-api2")]
#[test]
fn threads_allocate_and_free_with_contents_intact() {
    stress(&pool(STRESS.2), STRESS.0, STRESS.1);
}

#[test]
fn the_spin_lock_excludes_and_releases() {
    let lock = SpinLock::new();
    assert!(!lock.is_locked());
    assert!(lock.try_lock());
    assert!(lock.is_locked());
    assert!(!lock.try_lock());
    // SAFETY: locked just above.
    unsafe { lock.unlock() };
    lock.lock();
    // SAFETY: locked just above.
    unsafe { lock.unlock() };
    assert!(!lock.is_locked());
}

#[cfg(feature = "critical-section")]
mod critical_section_lock {
    use super::*;
    use mem3_pool::CriticalSectionLock;

    fn pool(len: usize) -> LockedPool<CriticalSectionLock> {
        LockedPool::from_region(region(len), Config::default()).unwrap()
    }

    #[test]
    fn a_nested_lock_in_the_same_context_is_refused() {
        let lock = CriticalSectionLock::new();
        assert!(lock.try_lock());
        assert!(!lock.try_lock(), "critical sections nest; the lock must not");
        assert!(lock.is_locked());
        // Other critical sections still nest inside.
        critical_section::with(|_| ());
        // SAFETY: locked above, in this context.
        unsafe { lock.unlock() };
        assert!(!lock.is_locked());
        lock.lock();
        // SAFETY: locked just above.
        unsafe { lock.unlock() };
    }

    #[test]
    fn a_pool_behind_critical_sections_refuses_reentrant_calls() {
        let pool = pool(8192);
        let inside = pool.read(|_| {
            // SAFETY: `LAYOUT` is not zero-sized.
            (unsafe { pool.alloc(LAYOUT) }.is_null(), pool.read(|_| ()))
        });
        assert_eq!(inside, Some((true, None)));
        // SAFETY: `LAYOUT` is not zero-sized.
        let p = unsafe { pool.alloc(LAYOUT) };
        assert!(!p.is_null());
        // SAFETY: `p` came from `pool` with `LAYOUT`.
        unsafe { pool.dealloc(p, LAYOUT) };
        assert_eq!(pool.check(), Some(Ok(())));
    }

    #[cfg(feature = "allocator-api2")]
    #[test]
    fn threads_allocate_and_free_behind_critical_sections() {
        stress(&pool(STRESS.2), STRESS.0, STRESS.1 / 4);
    }
}
