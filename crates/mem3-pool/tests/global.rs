//! mem3-pool as the process's `#[global_allocator]`: ordinary `Vec`, `String` and `BTreeMap` work runs on it,
//! and the pool is consistent afterwards. Also the `allocator-api2` `Allocator`.
//!
//! This binary has no test harness (`harness = false`): libtest runs each test on a thread of its own, and
//! std's thread start-up frees its `Box<Self>` argument while that argument is still protected. An allocator
//! that writes its free-list bookkeeping into the freed block, as this one (and talc and rlsf) does, then trips
//! Miri's Stacked and Tree Borrows protectors (see rlsf issue #20, miri issue #5284). One thread, no spawns,
//! lets Miri check everything the allocator itself does. (The one test that needs a child process, a panic
//! inside the lock, is skipped under Miri, which cannot spawn one.)

use std::collections::BTreeMap;

use mem3_pool::{Config, LockedPool};

/// Smaller under Miri, where `check()`'s walk over the whole heap is interpreted.
const HEAP_SIZE: usize = if cfg!(miri) { 1 << 20 } else { 8 << 20 };
/// How much work each collection does.
const N: u32 = if cfg!(miri) { 1_000 } else { 20_000 };
static mut HEAP: [u8; HEAP_SIZE] = [0; HEAP_SIZE];

#[global_allocator]
// SAFETY: `HEAP` is touched by nothing but this allocator.
static ALLOCATOR: LockedPool =
    unsafe { LockedPool::with_region(&raw mut HEAP as *mut u8, HEAP_SIZE) };

fn heap_range() -> std::ops::Range<usize> {
    let start = (&raw const HEAP) as usize;
    start..start + HEAP_SIZE
}

fn ordinary_collections_run_on_the_pool() {
    let mut numbers: Vec<u64> = Vec::new();
    for i in 0..u64::from(N) {
        numbers.push(i * 3);
    }
    assert!(heap_range().contains(&(numbers.as_ptr() as usize)), "the Vec lives in the pool");
    let mut text = String::new();
    for i in 0..N / 10 {
        text.push_str(&i.to_string());
        text.push(' ');
    }
    let mut map = BTreeMap::new();
    for i in 0..N / 4 {
        map.insert(i.wrapping_mul(2_654_435_761), format!("value {i}"));
    }
    for i in (0..N / 4).step_by(2) {
        map.remove(&i.wrapping_mul(2_654_435_761));
    }
    // Alignments above the pool's 8.
    let boxed = Box::new(Aligned([7; 64]));
    assert_eq!((&*boxed as *const Aligned as usize) % 256, 0);
    let n = u64::from(N);
    assert_eq!(numbers.iter().sum::<u64>(), 3 * ((n - 1) * n / 2));
    assert!(text.starts_with("0 1 2 "));
    assert_eq!(map.len(), (N / 8) as usize);
    let (used, check) = ALLOCATOR.read(|view| (view.stats().used_blocks, view.check())).unwrap();
    assert!(used >= 3, "the live collections are pool blocks");
    check.unwrap();
    drop((numbers, text, map, boxed));
    ALLOCATOR.check().unwrap().unwrap();
}

/// A type whose alignment is above the pool's 8 bytes.
#[repr(align(256))]
struct Aligned(#[allow(dead_code, reason = "only its alignment matters")] [u8; 64]);

fn global_alloc_realloc_grows_in_place_and_foreign_pointers_change_nothing() {
    use std::alloc::{GlobalAlloc, Layout};
    let region: &'static mut [u8] = Box::leak(vec![0u8; 1 << 16].into_boxed_slice());
    let pool = LockedPool::new(region, Config::default()).unwrap();
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: `layout` has a non-zero size; every pointer passed back came from `pool` with that layout.
    unsafe {
        let a = pool.alloc(layout);
        assert!(!a.is_null());
        a.write_bytes(0xAB, 100);
        let grown = pool.realloc(a, layout, 4000);
        assert_eq!(grown, a, "the successor is free, so the block grows in place");
        assert_eq!(*grown.add(99), 0xAB);
        let blocker = pool.alloc(layout);
        let moved = pool.realloc(grown, Layout::from_size_align(4000, 8).unwrap(), 8000);
        assert_ne!(moved, grown, "the successor is taken, so the contents move");
        assert_eq!(*moved.add(99), 0xAB);
        let before = pool.stats().unwrap();
        let mut outside = [0u8; 16];
        pool.dealloc(outside.as_mut_ptr(), layout);
        pool.dealloc(moved.add(8), layout);
        assert_eq!(pool.stats().unwrap(), before, "foreign pointers are rejected");
        pool.dealloc(moved, Layout::from_size_align(8000, 8).unwrap());
        pool.dealloc(blocker, layout);
    }
    assert_eq!(pool.read(|v| (v.stats().used_blocks, v.check())).unwrap(), (0, Ok(())));
}

#[cfg(feature = "allocator-api2")]
fn allocator_api2_collections_live_in_a_pool_of_their_own() {
    let region: &'static mut [u8] = Box::leak(vec![0u8; 1 << 16].into_boxed_slice());
    let range = region.as_ptr() as usize..region.as_ptr() as usize + region.len();
    let pool = LockedPool::new(region, Config::default()).unwrap();
    let mut v = allocator_api2::vec::Vec::new_in(&pool);
    for i in 0..1_000u32 {
        v.push(i);
    }
    assert!(range.contains(&(v.as_ptr() as usize)));
    assert_eq!(v.iter().sum::<u32>(), 999 * 1_000 / 2);
    v.shrink_to_fit();
    let used = pool.stats().unwrap().used_blocks;
    assert_eq!(used, 1);
    drop(v);
    assert_eq!(pool.read(|p| (p.stats().used_blocks, p.check())).unwrap(), (0, Ok(())));
    // Exhaustion is an error, not an abort.
    let mut big = allocator_api2::vec::Vec::<u8, _>::new_in(&pool);
    assert!(big.try_reserve(1 << 20).is_err());
}

/// Inside the lock, the global allocator refuses allocations (which would wait for the lock forever) and
/// defers frees until the closure returns.
fn allocating_inside_the_lock_fails_and_frees_wait_for_it() {
    use std::alloc::{GlobalAlloc, Layout};
    let given_back = vec![1u8; 1000];
    let used_before = ALLOCATOR.stats().unwrap().used_blocks;
    let inside = ALLOCATOR.read(|view| {
        let layout = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: `layout` is not zero-sized.
        let raw = unsafe { ALLOCATOR.alloc(layout) };
        let mut v: Vec<u8> = Vec::new();
        let reserve = v.try_reserve(100);
        drop(given_back);
        (raw.is_null(), reserve.is_err(), view.stats().used_blocks)
    });
    assert_eq!(
        inside,
        Some((true, true, used_before)),
        "the freed Vec stays used inside the closure"
    );
    assert_eq!(ALLOCATOR.stats().unwrap().used_blocks, used_before - 1, "and is freed after it");
    ALLOCATOR.check().unwrap().unwrap();
}

/// The argument that makes this binary panic inside the lock instead of running the tests.
const PANIC_INSIDE_LOCK: &str = "--panic-inside-lock";

/// A panic inside the lock of the global allocator: the panic machinery allocates while the lock is held. That
/// allocation fails, so the program aborts with the panic message and the failed allocation on standard error,
/// rather than spinning forever. Runs this binary again as a child, with a time limit. (Before the pool was
/// lent to closures, the child spun forever.)
#[cfg(not(miri))]
fn a_panic_inside_the_lock_does_not_hang() {
    use std::{
        process::{Command, Stdio},
        time::{Duration, Instant},
    };
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg(PANIC_INSIDE_LOCK)
        // Reading `RUST_BACKTRACE` allocates too: with it set, the hook's first allocation fails before the
        // message is printed (the program still aborts at once).
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("a panic inside the lock hung the program");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert!(!status.success(), "{status}");
    assert!(stderr.contains("panicked") && stderr.contains("inside the lock"), "{stderr}");
    assert!(stderr.contains("memory allocation of"), "{stderr}");
}

fn main() {
    if std::env::args().any(|arg| arg == PANIC_INSIDE_LOCK) {
        ALLOCATOR.read(|_| panic!("inside the lock"));
        unreachable!("the panic aborts");
    }
    let tests: &[(&str, fn())] = &[
        ("ordinary_collections_run_on_the_pool", ordinary_collections_run_on_the_pool),
        (
            "global_alloc_realloc_grows_in_place_and_foreign_pointers_change_nothing",
            global_alloc_realloc_grows_in_place_and_foreign_pointers_change_nothing,
        ),
        #[cfg(feature = "allocator-api2")]
        (
            "allocator_api2_collections_live_in_a_pool_of_their_own",
            allocator_api2_collections_live_in_a_pool_of_their_own,
        ),
        (
            "allocating_inside_the_lock_fails_and_frees_wait_for_it",
            allocating_inside_the_lock_fails_and_frees_wait_for_it,
        ),
        #[cfg(not(miri))]
        ("a_panic_inside_the_lock_does_not_hang", a_panic_inside_the_lock_does_not_hang),
    ];
    for (name, test) in tests {
        test();
        println!("test {name} ... ok");
    }
    println!("test result: ok. {} passed; 0 failed", tests.len());
}
