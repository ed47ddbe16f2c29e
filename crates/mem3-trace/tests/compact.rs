//! Compacting replay: trace IDs as movable handles; the floor; the minimum pool with compaction; pinning;
//! every moved block's contents.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use mem3_pool::{BlockState, Config, Policy, block_size_for};
use mem3_trace::{
    CompactingPool, Pinning, Trace, TraceAllocator, floor_bytes, min_pool_bytes,
    min_pool_compacting, region_for_heap, replay, replay_compacting, replay_compacting_checked,
};

const TRACES: [&str; 3] = ["gcc-as", "sqlite-mem", "perl-hash"];

fn load(name: &str) -> Trace {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(format!("{name}.trace.gz"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Trace::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn best_fit() -> Config {
    Config { policy: Policy::BestFit, ..Config::default() }
}

/// Twenty 1000-byte blocks, every other one freed, then one 5000-byte block: it fits in the free bytes of
/// a pool at the floor only once the holes are compacted into one.
fn holes() -> Trace {
    let mut text = String::from("# mem3 trace v1\n");
    for id in 1..=20 {
        text += &format!("a {id} 1000\n");
    }
    for id in (2..=20).step_by(2) {
        text += &format!("f {id}\n");
    }
    text += "a 100 5000\n";
    Trace::parse(text.as_bytes()).unwrap()
}

/// A 3000-byte block at the bottom, ten small blocks after it, then the first block grown by 500 bytes:
/// at the floor, the free space is smaller than the block, so it must move past the small blocks to grow.
fn growing() -> Trace {
    let mut text = String::from("# mem3 trace v1\na 1 3000\n");
    for id in 2..=11 {
        text += &format!("a {id} 100\n");
    }
    text += "r 1 3500\n";
    Trace::parse(text.as_bytes()).unwrap()
}

#[test]
fn the_floor_counts_whole_blocks_after_each_request() {
    let t = Trace::parse(b"# mem3 trace v1\na 1 100\na 2 10\nr 1 200\nf 2\na 3 0\n").unwrap();
    // Best fit: 112 + 32, then 208 + 32, then 208, then 208 + 32. First fit: 112 + 24, 208 + 24, 208, 208
    // + 16.
    assert_eq!(floor_bytes(&t, Policy::BestFit), 240);
    assert_eq!(floor_bytes(&t, Policy::FirstFit), 232);
    assert_eq!(block_size_for(0, Policy::BestFit.min_block()), Some(32));
    assert_eq!(floor_bytes(&Trace::parse(b"# mem3 trace v1\n").unwrap(), Policy::FirstFit), 0);
    let huge = Trace::parse(b"# mem3 trace v1\na 1 18446744073709551615\n").unwrap();
    assert_eq!(
        floor_bytes(&huge, Policy::FirstFit),
        usize::MAX,
        "a block no pool can hold counts as the most"
    );
}

#[test]
fn the_floors_region_is_the_smallest_whose_heap_holds_the_floor() {
    for config in [Config::default(), best_fit()] {
        let floor = floor_bytes(&holes(), config.policy);
        let n = region_for_heap(floor, config).unwrap();
        let capacity = |n| CompactingPool::new(n, config, Pinning::NONE).unwrap().pool().capacity();
        assert!(capacity(n) >= floor && capacity(n - 8) < floor, "{config:?}");
    }
    assert_eq!(region_for_heap(usize::MAX, Config::default()), None);
}

#[test]
fn a_request_that_fits_only_after_compaction_compacts_once_and_succeeds() {
    let t = holes();
    let n = region_for_heap(floor_bytes(&t, Policy::FirstFit), Config::default()).unwrap();
    let plain = replay(&t, &mut mem3_trace::OwnedPool::new(n, Config::default()).unwrap());
    assert_eq!(plain.failed_request, Some(5000), "without compaction the last request fails");
    let mut pool = CompactingPool::new(n, Config::default(), Pinning::NONE).unwrap();
    let r = replay_compacting_checked(&t, &mut pool, |p, _| {
        p.pool().check().map_err(|e| e.to_string())
    })
    .unwrap();
    assert!(r.completed(), "{r:?}");
    let c = pool.figures();
    assert_eq!((c.compactions, c.moved_blocks, c.end_moves), (1, 9, 0), "{c:?}");
    assert_eq!(c.moved_bytes, 9 * 1008, "blocks 3, 5, ... 19 slide down");
    assert_eq!(c.first_request, Some(t.len() - 1));
}

#[test]
fn a_block_larger_than_the_free_space_moves_past_its_neighbours_to_grow() {
    let t = growing();
    let n = region_for_heap(floor_bytes(&t, Policy::BestFit), best_fit()).unwrap();
    let mut pool = CompactingPool::new(n, best_fit(), Pinning::NONE).unwrap();
    let r = replay_compacting_checked(&t, &mut pool, |p, _| {
        p.pool().check().map_err(|e| e.to_string())
    })
    .unwrap();
    assert!(r.completed(), "{r:?}");
    let c = pool.figures();
    assert_eq!(c.end_moves, 1, "{c:?}");
    assert!(pool.pool().stats().free_bytes < 3008, "the free space was smaller than the block");
}

#[test]
fn pausing_stops_at_the_first_request_that_needs_compaction() {
    let t = holes();
    let n = region_for_heap(floor_bytes(&t, Policy::FirstFit), Config::default()).unwrap();
    let mut pool = CompactingPool::new(n, Config::default(), Pinning::NONE).unwrap();
    pool.pause_before_compaction(true);
    let r = replay(&t, &mut pool);
    assert!(pool.paused());
    assert_eq!((r.ops, r.failed_request, pool.figures().compactions), (t.len() - 1, Some(5000), 0));
    let fragmented = pool.pool().stats().free_blocks;
    pool.compact();
    assert_eq!((fragmented, pool.pool().stats().free_blocks), (10, 1), "ten holes, then one");
    assert!(pool.alloc(5000, 8).is_some(), "after the compaction the request fits");
}

#[test]
fn the_shared_traces_replay_near_their_floor_with_every_moved_block_intact() {
    for name in TRACES {
        let t = load(name);
        let config = best_fit();
        // 0.05% above the floor's region: compaction is needed, and runs often on perl-hash.
        let n =
            region_for_heap(floor_bytes(&t, config.policy), config).map(|n| n + n / 2000).unwrap();
        let mut pool = CompactingPool::new(n, config, Pinning::NONE).unwrap();
        let r = replay_compacting_checked(&t, &mut pool, |p, i| {
            if i % 50_000 == 0 { p.pool().check().map_err(|e| e.to_string()) } else { Ok(()) }
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(r.completed(), "{name}: {r:?}");
        let c = pool.figures();
        assert!(c.compactions >= 1 && c.moved_blocks > 1000, "{name}: {c:?}");
        pool.pool().check().unwrap();
        assert_eq!(pool.pool().stats().used_blocks, 0);
        // Without compaction the same pool is too small.
        let plain = replay(&t, &mut mem3_trace::OwnedPool::new(n, config).unwrap());
        assert!(!plain.completed(), "{name}");
    }
}

/// The offsets of the pinned blocks.
fn pinned(p: &CompactingPool) -> Vec<usize> {
    p.pool().blocks().filter(|b| b.state == BlockState::Pinned).map(|b| b.start).collect()
}

#[test]
fn pinned_blocks_stay_put_and_compaction_fills_the_stretch_between_them_that_has_room() {
    // Pinned: the 5th, 10th, 15th and 20th allocations; 10 and 20 are freed. The 5000-byte block fits in the
    // five holes between blocks 5 and 15 once they are compacted, and nowhere else.
    let t = holes();
    let n = region_for_heap(floor_bytes(&t, Policy::FirstFit), Config::default()).unwrap();
    let mut pool = CompactingPool::new(n, Config::default(), Pinning::every(5)).unwrap();
    let mut before = Vec::new();
    let r = replay_compacting_checked(&t, &mut pool, |p, i| {
        if i == t.len() - 2 {
            before = pinned(p);
        }
        p.pool().check().map_err(|e| e.to_string())
    })
    .unwrap();
    assert!(r.completed(), "{r:?}");
    assert_eq!(before.len(), 2);
    assert_eq!(pinned(&pool), before, "the compaction moved no pinned block");
    let c = pool.figures();
    assert_eq!((c.compactions, c.pinned_blocks), (1, 4), "{c:?}");
    let new = pool.pool().blocks().find(|b| b.size >= 5008).unwrap();
    assert!(before[0] < new.start && new.start < before[1], "between the pinned blocks: {new:?}");
}

#[test]
fn with_one_percent_pinned_a_shared_trace_compacts_and_completes_where_no_moving_fails() {
    let t = load("sqlite-mem");
    let config = best_fit();
    // Between the minimum pool with 1% pinned (8,727,392 bytes) and without compaction (8,744,288).
    let n = 8_735_000;
    assert!(!replay(&t, &mut mem3_trace::OwnedPool::new(n, config).unwrap()).completed());
    let mut pool = CompactingPool::new(n, config, Pinning::every(100)).unwrap();
    let mut before = pinned(&pool);
    let mut last = 0;
    let r = replay_compacting_checked(&t, &mut pool, |p, _| {
        let now = pinned(p);
        if p.figures().compactions > last {
            // A compaction ran during this request: every pinned block from before is still there, but
            // the one the request itself may have freed or resized.
            last = p.figures().compactions;
            let gone = before.iter().filter(|s| now.binary_search(s).is_err()).count();
            if gone > 1 {
                return Err(format!("{gone} pinned blocks moved"));
            }
        }
        before = now;
        Ok(())
    })
    .unwrap();
    assert!(r.completed(), "{r:?}");
    let c = pool.figures();
    assert!(c.compactions >= 1 && c.moved_blocks > 100, "{c:?}");
    assert_eq!(c.pinned_blocks, 76_672 / 100, "every hundredth of sqlite-mem's 76,672 allocations");
}

#[test]
fn the_minimum_pool_with_compaction_is_at_the_floor_and_below_the_one_without() {
    let t = load("gcc-as");
    for config in [Config::default(), best_fit()] {
        let floor = region_for_heap(floor_bytes(&t, config.policy), config).unwrap();
        let min = min_pool_compacting(&t, config, Pinning::NONE).unwrap();
        let plain = min_pool_bytes(&t, config).unwrap();
        assert!(floor <= min && min < plain, "{config:?}: floor {floor}, {min}, without {plain}");
        assert!(min <= floor + floor / 1000, "{config:?}: within 0.1% of the floor's region");
        let (r, _) = replay_compacting(&t, min, config, Pinning::NONE).unwrap();
        assert!(r.completed());
        let (r, _) = replay_compacting(&t, min - 8, config, Pinning::NONE).unwrap();
        assert!(!r.completed(), "{config:?}: 8 bytes less does not replay");
        let pinned = min_pool_compacting(&t, config, Pinning::every(100)).unwrap();
        assert!(pinned >= min, "{config:?}: pins cost room");
    }
}

#[test]
fn a_pool_too_small_for_anything_is_an_error_not_a_panic() {
    assert!(CompactingPool::new(16, Config::default(), Pinning::NONE).is_err());
    assert!(CompactingPool::new(usize::MAX, Config::default(), Pinning::NONE).is_err());
    let mut pool = CompactingPool::new(4096, Config::default(), Pinning::every(1)).unwrap();
    assert_eq!(pool.alloc(1 << 20, 8), None, "a request larger than the pool fails, no compaction");
    assert_eq!(pool.figures().compactions, 0);
    let a = pool.alloc(100, 64).unwrap();
    assert!(pool.pool().is_pinned(pool.block(a).unwrap()).unwrap(), "aligned blocks are pinned");
    assert_eq!(pool.realloc(a, 100, 64, 1 << 20), None);
    assert!(pool.block(a).is_some(), "a failed resize keeps the block");
    pool.free(a, 100, 64);
    assert!(pool.block(a).is_none());
    pool.pool().check().unwrap();
}

#[test]
fn handles_start_at_1_and_the_reverse_table_names_only_live_blocks() {
    let mut pool = CompactingPool::new(4096, Config::default(), Pinning::NONE).unwrap();
    let (a, b) = (pool.alloc(100, 8).unwrap(), pool.alloc(100, 8).unwrap());
    assert_eq!((a, b), (1, 2), "0 is a replay's 'no block'");
    let (block_a, block_b) = (pool.block(a).unwrap(), pool.block(b).unwrap());
    assert_eq!((pool.handle(block_a), pool.handle(block_b)), (Some(a), Some(b)));
    pool.free(a, 100, 8);
    assert_eq!(pool.handle(block_a), None, "a freed block has no handle");
    // Names of no block of this pool get an answer, not a panic.
    for offset in [1, 7, 8, 12, usize::MAX] {
        let stray = mem3_pool::Block::from_offset(offset).unwrap();
        assert_eq!(pool.handle(stray), None, "{offset}");
    }
}

#[test]
fn prefaulted_pools_are_the_pools_new_makes() {
    let t = load("gcc-as");
    let bytes = mem3_trace::default_pool_bytes(&t);
    let figures = |r: mem3_trace::Replay| (r.ops, r.failed_at, r.peak_extent_bytes);
    let mut fresh = mem3_trace::OwnedPool::new(bytes, best_fit()).unwrap();
    let mut faulted = mem3_trace::OwnedPool::prefaulted(bytes, best_fit()).unwrap();
    assert_eq!(faulted.region_bytes(), bytes);
    assert_eq!(figures(replay(&t, &mut fresh)), figures(replay(&t, &mut faulted)));
    // The same errors for a size no pool takes.
    for bad in [0, 8, mem3_trace::MAX_POOL_BYTES + 1] {
        let (a, b) = (
            mem3_trace::OwnedPool::new(bad, best_fit()).map(|_| ()),
            mem3_trace::OwnedPool::prefaulted(bad, best_fit()).map(|_| ()),
        );
        assert!(a.is_err(), "{bad}");
        assert_eq!(a, b, "{bad}");
    }
    // A compacting one, at a pool small enough that it must compact, compacts alike.
    let tight = min_pool_compacting(&t, best_fit(), Pinning::NONE).unwrap();
    let mut fresh = CompactingPool::new(tight, best_fit(), Pinning::NONE).unwrap();
    let mut faulted = CompactingPool::prefaulted(tight, best_fit(), Pinning::NONE).unwrap();
    let (a, b) = (replay(&t, &mut fresh), replay(&t, &mut faulted));
    assert!(a.completed() && fresh.figures().compactions > 0, "{:?}", fresh.figures());
    assert_eq!((figures(a), fresh.figures()), (figures(b), faulted.figures()));
}

#[test]
fn a_free_of_a_name_that_is_not_live_changes_nothing_and_does_not_panic() {
    let mut region = vec![0u8; 4096];
    let mut pool = mem3_pool::Pool::new(&mut region).unwrap();
    let live = TraceAllocator::alloc(&mut pool, 40, 8).unwrap();
    let block = mem3_pool::Block::from_offset(live).unwrap();
    pool.payload_mut(block).unwrap().fill(7);
    let before = pool.stats();
    for bogus in [0, 1, 12345, live + 8, usize::MAX] {
        TraceAllocator::free(&mut pool, bogus, 8, 8);
    }
    assert_eq!(pool.stats(), before);
    pool.check().unwrap();
    assert!(pool.payload(block).unwrap().iter().all(|&b| b == 7));

    let mut pool = CompactingPool::new(4096, best_fit(), Pinning::NONE).unwrap();
    let live = TraceAllocator::alloc(&mut pool, 40, 8).unwrap();
    let before = pool.pool().stats();
    for bogus in [0, live + 1, 999, usize::MAX] {
        TraceAllocator::free(&mut pool, bogus, 8, 8);
    }
    assert_eq!(pool.pool().stats(), before);
    pool.pool().check().unwrap();
    // The live handle still frees.
    TraceAllocator::free(&mut pool, live, 40, 8);
    assert_eq!(pool.pool().stats().used_blocks, 0);
}
