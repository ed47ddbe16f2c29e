//! Unit tests of each operation and each error.

use std::{boxed::Box, vec::Vec};

use crate::{tag::WORD, *};

#[repr(C, align(4096))]
struct Region([u8; 8192]);

fn region() -> Box<Region> {
    Box::new(Region([0; 8192]))
}

fn pool_with(r: &mut Region, config: Config) -> Pool<'_> {
    Pool::with_config(&mut r.0, config).unwrap()
}

fn best_fit() -> Config {
    Config { policy: Policy::BestFit, ..Config::default() }
}

fn deferred() -> Config {
    Config { coalescing: Coalescing::Deferred, ..Config::default() }
}

#[test]
fn a_region_too_small_is_an_error() {
    let mut tiny = [0u8; 16];
    assert!(matches!(Pool::new(&mut tiny), Err(Error::RegionTooSmall { len: 16, .. })));
    let mut empty: [u8; 0] = [];
    assert!(matches!(Pool::new(&mut empty), Err(Error::RegionTooSmall { .. })));
}

#[test]
fn the_smallest_region_named_by_the_error_works() {
    for config in [Config::default(), best_fit()] {
        let mut r = region();
        let min_block = config.policy.min_block();
        let Err(Error::RegionTooSmall { min, .. }) =
            Pool::with_config(&mut r.0[..min_block], config)
        else {
            panic!()
        };
        let mut pool = Pool::with_config(&mut r.0[..min], config).unwrap();
        assert_eq!(pool.capacity(), min_block);
        pool.alloc(0).unwrap();
        pool.check().unwrap();
    }
}

#[test]
fn every_region_length_makes_a_pool_whose_metadata_fits() {
    // Every length up to 8 KiB, and lengths around a larger heap: the heap, the bitmaps and (best fit) the
    // bins' roots fit in the region, the pool checks, and a region too small names a length that works.
    let mut big = std::vec![0u8; 1 << 17];
    // Under Miri, a whole-pool check costs too much for every length: every 1009th of each range.
    let step = if cfg!(miri) { 1009 } else { 1 };
    let lengths = (0..8192).step_by(step).chain(((1 << 17) - 600..=1 << 17).step_by(step));
    let region_end = big.as_ptr() as usize;
    for config in [Config::default(), best_fit()] {
        for len in lengths.clone() {
            match Pool::with_config(&mut big[..len], config) {
                Ok(mut pool) => {
                    let stats = pool.stats();
                    assert!(stats.capacity + stats.metadata_bytes <= len, "{len}: {stats:?}");
                    // The bins' roots: one for every size the heap holds, inside the region.
                    let roots_end =
                        pool.base().as_ptr() as usize + pool.bins.roots + 4 * pool.bins.count;
                    assert!(roots_end <= region_end + len, "{len}: roots past the region");
                    if config.policy == Policy::BestFit {
                        assert_eq!(pool.bins.count, crate::index::bin_count(stats.capacity));
                    }
                    pool.check().unwrap();
                    let b = pool.alloc(stats.capacity - HEADER_SIZE).unwrap();
                    pool.free(b).unwrap();
                    pool.check().unwrap();
                }
                Err(Error::RegionTooSmall { min, .. }) => {
                    assert!(min > len);
                    Pool::with_config(&mut big[..min], config).unwrap().check().unwrap();
                }
                Err(e) => panic!("{len}: {e}"),
            }
        }
    }
}

#[test]
fn an_unaligned_region_gives_aligned_payloads() {
    let mut r = region();
    for skip in 1..8 {
        let mut pool = Pool::new(&mut r.0[skip..]).unwrap();
        let b = pool.alloc(3).unwrap();
        assert_eq!((pool.base().as_ptr() as usize + b.offset()) % MIN_ALIGN, 0);
        pool.check().unwrap();
    }
}

#[test]
fn zero_size_requests_get_distinct_blocks() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let a = pool.alloc(0).unwrap();
    let b = pool.alloc(0).unwrap();
    assert_ne!(a, b);
    assert!(pool.usable_size(a).unwrap() > 0 || a.offset().abs_diff(b.offset()) >= MIN_BLOCK);
    pool.free(a).unwrap();
    pool.free(b).unwrap();
    pool.check().unwrap();
}

#[test]
fn a_request_larger_than_the_pool_is_an_error_and_changes_nothing() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let before = pool.stats();
    for size in [pool.capacity(), usize::MAX, usize::MAX - 7] {
        assert!(
            matches!(pool.alloc(size), Err(Error::OutOfMemory { requested, .. }) if requested == size)
        );
    }
    assert_eq!(before, pool.stats());
    pool.check().unwrap();
}

#[test]
fn the_whole_pool_can_be_one_block() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let b = pool.alloc(pool.capacity() - HEADER_SIZE).unwrap();
    assert_eq!(pool.stats().free_bytes, 0);
    assert!(matches!(pool.alloc(0), Err(Error::OutOfMemory { free: 0, largest_free: 0, .. })));
    pool.free(b).unwrap();
    pool.check().unwrap();
}

#[test]
fn alignment_must_be_a_power_of_two() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    for align in [0, 3, 24, 100] {
        assert_eq!(pool.alloc_aligned(8, align), Err(Error::BadAlignment { align }));
    }
    let b = pool.alloc(8).unwrap();
    assert_eq!(pool.realloc_aligned(b, 8, 12), Err(Error::BadAlignment { align: 12 }));
    pool.check().unwrap();
}

#[test]
fn aligned_blocks_are_aligned_and_padding_stays_usable() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let base = pool.base().as_ptr() as usize;
    let mut blocks = Vec::new();
    for align in [16, 32, 64, 128, 256, 1024] {
        let b = pool.alloc_aligned(40, align).unwrap();
        assert_eq!((base + b.offset()) % align, 0, "align {align}");
        blocks.push(b);
        pool.check().unwrap();
    }
    // The padding became free blocks, which small requests can use.
    assert!(pool.stats().free_blocks > 1);
    for b in blocks {
        pool.free(b).unwrap();
    }
    assert_eq!(pool.stats().free_blocks, 1);
}

#[test]
fn freeing_anything_but_a_live_block_is_an_error_and_changes_nothing() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let a = pool.alloc(100).unwrap();
    let b = pool.alloc(100).unwrap();
    let bad = [
        a.offset() + 8,           // inside a block
        b.offset() - HEADER_SIZE, // a header
        a.offset() + 1,           // unaligned
        pool.capacity() + 8,      // past the end
        usize::MAX,               // far past the end
        pool.capacity(),          // the end
        b.offset() + 112,         // the free block after b
    ];
    let before: Vec<_> = pool.blocks().collect();
    for offset in bad {
        let block = Block::from_offset(offset).unwrap();
        assert_eq!(pool.free(block), Err(Error::InvalidBlock { offset }), "offset {offset}");
        assert_eq!(pool.realloc(block, 5), Err(Error::InvalidBlock { offset }));
        assert!(
            pool.payload(block).is_err()
                && pool.pin(block).is_err()
                && pool.block_at(offset).is_err()
        );
    }
    pool.free(a).unwrap();
    assert_eq!(pool.free(a), Err(Error::InvalidBlock { offset: a.offset() }), "double free");
    assert_eq!(pool.realloc(a, 5), Err(Error::InvalidBlock { offset: a.offset() }));
    assert_eq!(pool.block_at(0), Err(Error::InvalidBlock { offset: 0 }));
    assert_eq!(pool.block_at(b.offset()), Ok(b));
    assert_eq!(before.len(), pool.blocks().count(), "a freed in place: nothing to merge with");
    pool.check().unwrap();
}

/// Every name from 1 to past the end: where `payload` accepts it the unverified payload is the same slice,
/// and wherever it gives one it lies in the heap, even over a payload that looks like headers of huge and
/// of zero-sized used blocks (and one that fits).
#[test]
fn unverified_payloads_agree_on_live_blocks_and_never_leave_the_heap() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let blocks: Vec<_> = [40, 8, 200, 16, 64].map(|n| pool.alloc(n).unwrap()).into();
    pool.free(blocks[1]).unwrap();
    // Words that read as the headers of used blocks: the largest size, size 0, and 32 bytes.
    let used = crate::tag::BlockFlags::USED.bits();
    let huge = (usize::MAX & !(GRANULE - 1)) | used;
    for (block, word) in [(blocks[2], huge), (blocks[4], used), (blocks[3], 32 | used)] {
        for chunk in pool.payload_mut(block).unwrap().chunks_exact_mut(WORD) {
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
    }
    let heap = pool.base().as_ptr() as usize..pool.base().as_ptr() as usize + pool.capacity();
    let (mut live, mut unverified) = (0, 0);
    for offset in (1..pool.capacity() + 64).chain([usize::MAX]) {
        let block = Block::from_offset(offset).unwrap();
        let seen = pool.payload_unverified(block);
        if let Ok(payload) = pool.payload(block) {
            live += 1;
            assert_eq!(
                seen.map(|s| (s.as_ptr(), s.len())),
                Some((payload.as_ptr(), payload.len()))
            );
            assert_eq!(pool.heap_bytes()[offset..].as_ptr(), payload.as_ptr(), "the same offsets");
        } else if let Some(s) = seen {
            unverified += 1;
            let (start, end) = (s.as_ptr() as usize, s.as_ptr() as usize + s.len());
            assert!(
                heap.contains(&start) && end <= heap.end,
                "offset {offset}: {start:#x}..{end:#x}"
            );
        }
    }
    assert_eq!(live, 4);
    assert_eq!(pool.heap_bytes().len(), pool.capacity());
    assert!(unverified > 0, "the 32-byte words read as used blocks that fit");
    pool.check().unwrap();
}

#[test]
fn a_block_from_another_pool_is_rejected_unless_it_names_a_live_block_here() {
    let (mut r1, mut r2) = (region(), region());
    let mut p1 = Pool::new(&mut r1.0).unwrap();
    let mut p2 = Pool::new(&mut r2.0).unwrap();
    let _ = p1.alloc(10).unwrap();
    let b = p1.alloc(10).unwrap();
    assert!(p2.free(b).is_err());
    p2.check().unwrap();
}

#[test]
fn first_fit_takes_the_lowest_hole_and_best_fit_the_smallest() {
    for (config, expect_small_hole) in [(Config::default(), false), (best_fit(), true)] {
        let mut r = region();
        let mut pool = pool_with(&mut r, config);
        let big_hole = pool.alloc(400).unwrap();
        let _sep1 = pool.alloc(8).unwrap();
        let small_hole = pool.alloc(100).unwrap();
        let _sep2 = pool.alloc(8).unwrap();
        pool.free(big_hole).unwrap();
        pool.free(small_hole).unwrap();
        let b = pool.alloc(90).unwrap();
        let expected = if expect_small_hole { small_hole } else { big_hole };
        assert_eq!(b, expected, "{config:?}");
        pool.check().unwrap();
    }
}

#[test]
fn free_merges_with_both_neighbours() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let blocks: Vec<_> = (0..5).map(|_| pool.alloc(50).unwrap()).collect();
    pool.free(blocks[1]).unwrap();
    pool.free(blocks[3]).unwrap();
    assert_eq!(pool.stats().free_blocks, 3);
    pool.free(blocks[2]).unwrap();
    assert_eq!(pool.stats().free_blocks, 2, "1, 2 and 3 merged");
    pool.check().unwrap();
}

#[test]
fn deferred_coalescing_merges_on_demand() {
    let mut r = region();
    let mut pool = pool_with(&mut r, deferred());
    let blocks: Vec<_> = (0..8).map(|_| pool.alloc(500).unwrap()).collect();
    for b in &blocks {
        pool.free(*b).unwrap();
    }
    assert_eq!(pool.stats().free_blocks, 9);
    pool.check().unwrap();
    assert_eq!(pool.coalesce(), 8);
    assert_eq!(pool.coalesce(), 0);
    assert_eq!(pool.stats().free_blocks, 1);
    pool.check().unwrap();
}

#[test]
fn deferred_coalescing_merges_when_an_allocation_would_fail() {
    let mut r = region();
    let mut pool = pool_with(&mut r, deferred());
    let blocks: Vec<_> = (0..8).map(|_| pool.alloc(900).unwrap()).collect();
    for b in &blocks {
        pool.free(*b).unwrap();
    }
    let big = pool.alloc(3000).unwrap();
    assert!(pool.usable_size(big).unwrap() >= 3000);
    pool.check().unwrap();
}

#[test]
fn realloc_shrinks_in_place() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let a = pool.alloc(1000).unwrap();
    let _b = pool.alloc(10).unwrap();
    pool.payload_mut(a).unwrap()[..4].copy_from_slice(b"abcd");
    assert_eq!(pool.realloc(a, 100), Ok(a));
    assert!(pool.usable_size(a).unwrap() < 200);
    assert_eq!(&pool.payload(a).unwrap()[..4], b"abcd");
    assert_eq!(pool.stats().free_blocks, 2, "the tail became a hole");
    pool.check().unwrap();
}

#[test]
fn realloc_grows_in_place_into_a_free_successor() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let a = pool.alloc(100).unwrap();
    let b = pool.alloc(1000).unwrap();
    let _c = pool.alloc(10).unwrap();
    pool.free(b).unwrap();
    assert_eq!(pool.realloc(a, 600), Ok(a));
    assert_eq!(pool.realloc(a, 1100), Ok(a), "takes the whole successor");
    pool.check().unwrap();
}

#[test]
fn realloc_moves_and_keeps_contents_when_it_must() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let a = pool.alloc(100).unwrap();
    let _b = pool.alloc(10).unwrap();
    let bytes: Vec<u8> = (0..100).collect();
    pool.payload_mut(a).unwrap()[..100].copy_from_slice(&bytes);
    let moved = pool.realloc(a, 2000).unwrap();
    assert_ne!(moved, a);
    assert_eq!(&pool.payload(moved).unwrap()[..100], &bytes[..]);
    assert!(pool.free(a).is_err(), "the old block is gone");
    pool.check().unwrap();
}

#[test]
fn realloc_moves_a_block_shrunk_to_a_quarter_down_to_the_first_fit() {
    for search in [Search::Index, Search::Linear] {
        let mut r = region();
        let mut pool = pool_with(&mut r, Config { search, ..Config::default() });
        let a = pool.alloc(100).unwrap();
        let _b = pool.alloc(10).unwrap();
        let big = pool.alloc(6000).unwrap();
        let _c = pool.alloc(10).unwrap();
        let bytes: Vec<u8> = (0..100).collect();
        pool.payload_mut(big).unwrap()[..100].copy_from_slice(&bytes);
        pool.free(a).unwrap();
        let moved = pool.realloc(big, 100).unwrap();
        assert_eq!(moved, a, "the lowest free block that holds it ({search:?})");
        assert_eq!(&pool.payload(moved).unwrap()[..100], &bytes[..]);
        assert!(pool.free(big).is_err(), "the old block is gone");
        pool.check().unwrap();
        // Shrunk to more than a quarter, it stays, though a block below would hold it.
        pool.free(moved).unwrap();
        let big = pool.alloc(6000).unwrap();
        assert_eq!(pool.realloc(big, 2000), Ok(big));
        pool.check().unwrap();
    }
    // With no free block below, it stays; so it does under best fit.
    for config in [Config::default(), best_fit()] {
        let mut r = region();
        let mut pool = pool_with(&mut r, config);
        let a = pool.alloc(100).unwrap();
        let big = pool.alloc(6000).unwrap();
        let _c = pool.alloc(10).unwrap();
        if config.policy == Policy::BestFit {
            pool.free(a).unwrap();
        }
        assert_eq!(pool.realloc(big, 100), Ok(big));
        pool.check().unwrap();
    }
}

#[test]
fn a_failed_realloc_leaves_the_block_intact() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let a = pool.alloc(100).unwrap();
    pool.payload_mut(a).unwrap()[0] = 42;
    let before = pool.stats();
    assert!(matches!(pool.realloc(a, 1 << 20), Err(Error::OutOfMemory { .. })));
    assert_eq!(pool.payload(a).unwrap()[0], 42);
    assert_eq!(before, pool.stats());
    pool.check().unwrap();
}

#[test]
fn a_realloc_no_free_block_holds_grows_into_its_free_neighbours() {
    let configs = [
        Config::default(),
        Config { search: Search::Linear, ..Config::default() },
        best_fit(),
        deferred(),
        Config { front_cache: true, ..Config::default() },
    ];
    for config in configs {
        // A free block before `a` (and, the second time, after it), the rest of the heap used, so that
        // no free block holds the new size but `a` with its free neighbours does.
        for with_next in [false, true] {
            let mut r = region();
            let mut pool = pool_with(&mut r, config);
            let prev = pool.alloc(2000).unwrap();
            let a = pool.alloc(2000).unwrap();
            let next = pool.alloc(2000).unwrap();
            let _rest = pool.alloc(pool.stats().largest_free - HEADER_SIZE).unwrap();
            let bytes: Vec<u8> = (0..2000).map(|i| (i % 251) as u8).collect();
            pool.payload_mut(a).unwrap()[..2000].copy_from_slice(&bytes);
            pool.free(prev).unwrap();
            let new_size = if with_next {
                pool.free(next).unwrap();
                5000
            } else {
                3000
            };
            assert!(pool.stats().largest_free < new_size, "no free block holds it ({config:?})");
            // Too large even for the three together: refused, nothing changed.
            let before = pool.stats();
            assert!(matches!(pool.realloc(a, 7000), Err(Error::OutOfMemory { .. })));
            assert_eq!(pool.stats(), before);
            assert_eq!(&pool.payload(a).unwrap()[..2000], &bytes[..]);
            let moved = pool.realloc(a, new_size).unwrap();
            assert_eq!(moved, prev, "at the free predecessor's start ({config:?}, {with_next})");
            assert!(pool.usable_size(moved).unwrap() >= new_size);
            assert_eq!(&pool.payload(moved).unwrap()[..2000], &bytes[..]);
            assert!(pool.free(a).is_err(), "the old block is gone");
            pool.check().unwrap();
            assert_eq!(pool.stats().used_blocks, if with_next { 2 } else { 3 });
        }
    }
    // A payload at the predecessor's start without the alignment asked for: refused, nothing changed.
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let prev = pool.alloc(2000).unwrap();
    let a = pool.alloc(2000).unwrap();
    let _rest = pool.alloc(pool.stats().largest_free - HEADER_SIZE).unwrap();
    pool.free(prev).unwrap();
    let align = 1 << ((pool.base().as_ptr() as usize + prev.offset()).trailing_zeros() + 1);
    let before = pool.stats();
    assert!(matches!(pool.realloc_aligned(a, 3000, align), Err(Error::OutOfMemory { .. })));
    assert_eq!(pool.stats(), before);
    pool.check().unwrap();
}

#[test]
fn a_pinned_block_never_moves() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let a = pool.alloc(100).unwrap();
    let _b = pool.alloc(10).unwrap();
    pool.pin(a).unwrap();
    pool.pin(a).unwrap();
    assert!(pool.is_pinned(a).unwrap());
    assert_eq!(pool.realloc(a, 2000), Err(Error::Pinned { offset: a.offset() }));
    assert_eq!(pool.realloc(a, 50), Ok(a), "shrinking in place is allowed");
    pool.unpin(a).unwrap();
    assert!(pool.realloc(a, 2000).is_ok());
    pool.check().unwrap();
}

#[test]
fn compact_slides_blocks_down_and_leaves_one_hole_per_pinned_gap() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let blocks: Vec<_> = (0..12u8).map(|i| (i, pool.alloc(100).unwrap())).collect();
    for &(i, b) in &blocks {
        pool.payload_mut(b).unwrap()[0] = i;
    }
    for &(_, b) in blocks.iter().step_by(2) {
        pool.free(b).unwrap();
    }
    let pinned = blocks[7].1;
    pool.pin(pinned).unwrap();
    let mut moves = Vec::new();
    let stats = pool.compact(|old, new, payload| moves.push((old, new, payload[0])));
    pool.check().unwrap();
    assert_eq!(stats.moved_blocks, moves.len());
    assert_eq!(stats.free_blocks, 2, "one hole before the pinned block, one at the end");
    assert_eq!(pool.stats().free_blocks, 2);
    assert!(moves.iter().all(|&(old, _, _)| old != pinned));
    for (old, new, first) in moves {
        assert!(new < old);
        let i = blocks.iter().find(|(_, b)| *b == old).unwrap().0;
        assert_eq!(first, i);
        assert_eq!(pool.payload(new).unwrap()[0], i);
    }
    pool.unpin(pinned).unwrap();
    pool.compact(|_, _, _| {});
    assert_eq!(pool.stats().free_blocks, 1);
    assert_eq!(pool.stats().fragmentation(), 0.0);
    pool.check().unwrap();
}

#[test]
fn stats_add_up_and_track_the_high_water_mark() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let a = pool.alloc(1000).unwrap();
    let b = pool.alloc(1000).unwrap();
    let _c = pool.alloc(10).unwrap();
    pool.free(a).unwrap();
    let s = pool.stats();
    assert_eq!(s.used_bytes + s.overhead_bytes + s.free_bytes, s.capacity);
    assert_eq!(s.used_blocks, 2);
    assert_eq!(s.free_blocks, 2);
    assert!(s.peak_extent >= 2000 && s.peak_extent < 2100);
    let expected = 1.0 - s.largest_free as f64 / s.free_bytes as f64;
    assert!(s.fragmentation() > 0.0 && (s.fragmentation() - expected).abs() < 1e-12);
    assert_eq!(s.region_bytes, s.capacity + s.metadata_bytes);
    pool.free(b).unwrap();
    assert_eq!(pool.stats().peak_extent, s.peak_extent, "the high-water mark stays");
}

#[test]
fn blocks_tile_the_pool_in_address_order() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let a = pool.alloc(10).unwrap();
    let b = pool.alloc(10).unwrap();
    pool.pin(b).unwrap();
    let infos: Vec<_> = pool.blocks().collect();
    assert_eq!(infos.len(), 3);
    assert_eq!(infos.iter().map(|i| i.size).sum::<usize>(), pool.capacity());
    assert_eq!(infos[0].block(), Some(a));
    assert_eq!(infos[1].state, BlockState::Pinned);
    assert_eq!(infos[2].state, BlockState::Free);
    assert_eq!(infos[2].block(), None);
}

#[test]
fn check_reports_corruption_with_its_offset() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let a = pool.alloc(100).unwrap();
    let b = pool.alloc(100).unwrap();
    pool.free(a).unwrap();
    let hole = a.offset() - HEADER_SIZE;
    let size = pool.block_size(hole);
    // A footer that disagrees with its header.
    pool.set_word(hole + size - WORD, size + 8);
    assert_eq!(
        pool.check().unwrap_err(),
        Corruption {
            offset: hole,
            kind: CorruptionKind::FooterMismatch { size, footer: size + 8 }
        }
    );
    pool.set_word(hole + size - WORD, size);
    pool.check().unwrap();
    // A stray block-start bit inside a block.
    let inside = b.offset() - HEADER_SIZE + 16;
    pool.set_start_bit(inside, true);
    assert_eq!(
        pool.check().unwrap_err(),
        Corruption { offset: inside, kind: CorruptionKind::StartBitmap(true) }
    );
    pool.set_start_bit(inside, false);
    // A wrong counter.
    pool.used_blocks += 1;
    assert_eq!(pool.check().unwrap_err().kind, CorruptionKind::Counter("used_blocks"));
    pool.used_blocks -= 1;
    // A wrong entry in the first-fit summary: too small hides a block, too large promises one (once no
    // slot is left marked, when every entry must be exact).
    pool.summary_settle_all();
    pool.check().unwrap();
    let slot = hole / summary::SLOT;
    let entry = pool.summary_entry(0, slot);
    for wrong in [entry - 1, entry + 1] {
        pool.set_summary_entry(0, slot, wrong);
        assert!(matches!(pool.check().unwrap_err().kind, CorruptionKind::Index(_)));
    }
    pool.set_summary_entry(0, slot, entry);
    pool.check().unwrap();
    // A wrong maximum above it.
    let top = pool.summary.count() - 1;
    pool.set_summary_entry(top, 0, entry + 1);
    assert!(matches!(pool.check().unwrap_err().kind, CorruptionKind::Index(_)));
}

#[test]
fn check_reports_a_wrong_free_pair_bit() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    // 24-byte blocks: the second starts at granule 3, the odd granule of its pair.
    let a = pool.alloc(16).unwrap();
    let b = pool.alloc(16).unwrap();
    let c = pool.alloc(100).unwrap();
    pool.alloc(100).unwrap();
    pool.free(b).unwrap();
    pool.check().unwrap();
    let (a, hole, c) =
        (a.offset() - HEADER_SIZE, b.offset() - HEADER_SIZE, c.offset() - HEADER_SIZE);
    assert_eq!((hole / GRANULE) % 2, 1);
    // The free block's start is found from its pair's bit and the start bitmap.
    assert_eq!(pool.free_word(0) & !(1 << (pool.top / GRANULE)), 1 << (hole / GRANULE));
    // A free block whose pair bit is clear, a used block whose pair bit is set, and a bit set in a pair
    // where no block starts (inside `c`, which `free_word` alone would not show).
    for (at, value) in [(hole, false), (a, true), (c, true), (c + 16, true)] {
        pool.set_free_bit(at, value);
        assert!(
            matches!(pool.check().unwrap_err().kind, CorruptionKind::Index(_)),
            "bit of {at} set to {value}"
        );
        pool.set_free_bit(at, !value);
        pool.check().unwrap();
    }
}

#[test]
fn free_starts_are_found_at_either_granule_of_their_pair() {
    // Blocks of 16 and 24 bytes, every other one freed: free blocks start at even and odd granules,
    // among them granule 63, the odd granule of a slot's last pair.
    for pattern in [[16usize, 16, 16], [16, 24, 16], [24, 24, 24], [24, 16, 24]] {
        let mut r = region();
        let mut pool = Pool::new(&mut r.0).unwrap();
        let blocks: Vec<Block> =
            (0..120).map(|i| pool.alloc(pattern[i % 3] - HEADER_SIZE).unwrap()).collect();
        for b in blocks.iter().skip(1).step_by(2) {
            pool.free(*b).unwrap();
        }
        pool.check().unwrap();
        let free: Vec<usize> =
            pool.blocks().filter(|b| b.state == BlockState::Free).map(|b| b.start).collect();
        for slot in 0..pool.capacity().div_ceil(summary::SLOT) {
            let in_slot: Vec<usize> =
                free.iter().copied().filter(|s| s / summary::SLOT == slot).collect();
            assert_eq!(pool.free_starts(slot).collect::<Vec<_>>(), in_slot, "slot {slot}");
            let word = in_slot.iter().fold(0u64, |w, s| w | 1 << (s % summary::SLOT / GRANULE));
            assert_eq!(pool.free_word(slot), word, "slot {slot}");
        }
        if pattern == [24, 24, 24] {
            assert!(free.contains(&(63 * GRANULE)));
        }
    }
}

#[test]
fn pair_bits_and_spread_pairs_are_inverse() {
    use crate::pool::{pair_bits, spread_pairs};
    // Each granule's bit goes to its pair's bit, and back to both granules of the pair.
    for g in 0..64 {
        assert_eq!(pair_bits(1 << g), 1 << (g / 2), "granule {g}");
        assert_eq!(spread_pairs(1 << (g / 2)), 3 << (g & 62), "granule {g}");
    }
    for pairs in [0, 1, 1 << 31, 0x8000_0001, 0xdead_beef, u32::MAX] {
        assert_eq!(pair_bits(spread_pairs(pairs)), pairs);
        // One start in each pair, at either granule.
        for starts in [0x5555_5555_5555_5555u64, 0xaaaa_aaaa_aaaa_aaaa, 0x9999_6666_a5a5_5a5a] {
            let free = spread_pairs(pairs) & starts;
            assert_eq!(free.count_ones(), pairs.count_ones());
            assert_eq!(pair_bits(free), pairs);
        }
    }
}

#[test]
fn check_reports_a_corrupt_best_fit_tree() {
    let mut r = region();
    let mut pool = pool_with(&mut r, best_fit());
    let blocks: Vec<Block> = (0..8).map(|_| pool.alloc(40).unwrap()).collect();
    pool.free(blocks[2]).unwrap();
    pool.free(blocks[5]).unwrap();
    pool.check().unwrap();
    let bin = pool.bins.next_used(0).unwrap();
    let root = pool.bin_root(bin) as usize * GRANULE;
    pool.set_field(root + tag::MAX, 1);
    assert!(matches!(pool.check().unwrap_err().kind, CorruptionKind::Index(_)));
}

#[test]
fn the_block_that_absorbs_a_padding_is_the_used_block_just_before_within_reach() {
    // Blocks of 8 bytes to 5 KiB, every third one freed: free blocks whose predecessor starts in the same slot,
    // a few slots back, and farther than the reach (4096 bytes); predecessors free and used.
    let mut r = std::vec![0u8; 1 << 18];
    for config in [Config::default(), best_fit()] {
        let mut pool = Pool::with_config(&mut r, config).unwrap();
        let sizes = [8, 500, 40, 1500, 4200, 16, 4090, 700, 5000, 24, 3000, 100];
        let blocks: Vec<Block> =
            (0..60).map(|i| pool.alloc(sizes[i % sizes.len()] + i).unwrap()).collect();
        for b in blocks.iter().skip(1).step_by(3) {
            pool.free(*b).unwrap();
        }
        let all: Vec<BlockInfo> = pool.blocks().collect();
        let mut checked = 0;
        for pair in all.windows(2) {
            let (before, free) = (&pair[0], &pair[1]);
            if free.state != BlockState::Free {
                continue;
            }
            let expected = (before.state == BlockState::Used && free.start - before.start <= 4096)
                .then_some(before.start);
            assert_eq!(
                pool.absorbing_neighbour(free.start),
                expected,
                "free block at {}",
                free.start
            );
            checked += usize::from(expected.is_some());
        }
        assert!(checked >= 10, "only {checked} free blocks had a neighbour in reach");
    }
}

#[test]
fn best_fit_bins_are_in_size_order_and_narrow() {
    use crate::index::{BIN_WORDS, bin_count, bin_of};
    // Consecutive sizes share a bin or take the next one: every bin holds one range of sizes, and a larger
    // bin larger sizes, which is what lets a search skip to the next non-empty bin.
    let steps = if cfg!(miri) { 1 << 12 } else { 1 << 22 };
    let ranges = [(0u32, steps), (u32::MAX - steps, u32::MAX)];
    for (from, to) in ranges {
        let (mut bin, mut low) = (bin_of(from), from);
        for g in from + 1..=to {
            let b = bin_of(g);
            if b != bin {
                assert_eq!(b, bin + 1, "size {g} skips a bin");
                // Below 32 granules every size has its bin; above, a bin spans at most 1/16 of its sizes.
                let width = g - low;
                assert!(
                    if low < 32 { width == 1 } else { width <= low / 16 },
                    "bin {bin}: {low}..{g}"
                );
                (bin, low) = (b, g);
            }
        }
    }
    assert!(bin_of(u32::MAX) < BIN_WORDS * 64);
    // The largest heap's bins reach its largest block (2^32 - 1 granules on 64-bit targets, 2^29 - 1 on 32-bit).
    let largest = u32::try_from(tag::MAX_HEAP / GRANULE).unwrap();
    assert_eq!(bin_count(tag::MAX_HEAP), bin_of(largest) + 1);
    // A heap's bins reach its largest block, and no further.
    assert_eq!(bin_count(64 << 10), bin_of((64 << 10) / GRANULE as u32) + 1);
}

#[test]
fn best_fit_places_as_the_linear_reference_in_every_bin() {
    // Sizes from a few bytes to 64 KiB, so that blocks fall in the exact bins and in the classes above them,
    // with many blocks in a bin: every placement equal to the linear reference's.
    // Both regions 4096-aligned, so that aligned requests see the same addresses in both.
    let mut regions = [std::vec![0u8; (1 << 20) + 4096], std::vec![0u8; (1 << 20) + 4096]];
    let [a, b] = regions.each_mut().map(|v| {
        let skip = v.as_ptr().align_offset(4096);
        &mut v[skip..skip + (1 << 20)]
    });
    let config = best_fit();
    let mut pool = Pool::with_config(a, config).unwrap();
    let mut reference = Pool::with_config(b, Config { search: Search::Linear, ..config }).unwrap();
    let mut live: Vec<Block> = Vec::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let rounds = if cfg!(miri) { 150 } else { 20_000 };
    for round in 0..rounds {
        let r = next();
        let size = match r % 4 {
            0 => (r >> 8) as usize % 64,
            1 => (r >> 8) as usize % 1024,
            2 => (r >> 8) as usize % 8192,
            _ => (r >> 8) as usize % 65536,
        };
        if r >> 40 & 1 == 0 || live.is_empty() {
            let align = 1 << ((r >> 41) % 8);
            let got = pool.alloc_aligned(size, align);
            assert_eq!(got, reference.alloc_aligned(size, align), "round {round}");
            live.extend(got.ok());
        } else {
            let victim = live.swap_remove((r >> 42) as usize % live.len());
            if r >> 60 & 1 == 0 {
                pool.free(victim).unwrap();
                reference.free(victim).unwrap();
            } else {
                let got = pool.realloc(victim, size);
                assert_eq!(got, reference.realloc(victim, size), "round {round}");
                live.push(got.unwrap_or(victim));
            }
        }
        if round % 500 == 0 {
            pool.check().unwrap();
        }
    }
    assert!(pool.stats().free_blocks > 20, "the pool should have been fragmented");
    pool.check().unwrap();
    reference.check().unwrap();
}

#[test]
fn check_reports_a_wrong_best_fit_bin() {
    let mut r = region();
    let mut pool = pool_with(&mut r, best_fit());
    let blocks: Vec<Block> = (0..12).map(|i| pool.alloc(40 + 24 * (i % 3)).unwrap()).collect();
    for b in [1, 4, 7] {
        pool.free(blocks[b]).unwrap();
    }
    pool.check().unwrap();
    let bin = pool.bins.next_used(0).unwrap();
    let root = pool.bin_root(bin);
    // A non-empty bin whose root is lost.
    pool.set_bin_root(bin, tag::NIL);
    assert!(matches!(pool.check().unwrap_err().kind, CorruptionKind::Index(_)));
    // Its tree moved to the next bin, which was empty, the bitmap with it: only the blocks' sizes tell.
    assert!(!pool.bins.is_used(bin + 1) && bin / 64 == (bin + 1) / 64);
    pool.set_bin_root(bin + 1, root);
    pool.bins.map[bin / 64] ^= 0b11 << (bin % 64);
    assert_eq!(
        pool.check().unwrap_err(),
        Corruption {
            offset: root as usize * GRANULE,
            kind: CorruptionKind::Index("node in another size's bin")
        }
    );
    pool.bins.map[bin / 64] ^= 0b11 << (bin % 64);
    pool.set_bin_root(bin + 1, tag::NIL);
    pool.set_bin_root(bin, root);
    pool.check().unwrap();
    // The bitmap saying a bin is empty while it has a root.
    let saved = pool.bins;
    pool.bins.map[bin / 64] &= !(1 << (bin % 64));
    assert!(matches!(pool.check().unwrap_err().kind, CorruptionKind::Index(_)));
    pool.bins = saved;
    pool.check().unwrap();
}

#[test]
#[cfg_attr(miri, ignore = "10,000 blocks are too slow under Miri")]
fn the_index_stays_balanced_with_many_free_blocks() {
    let mut r = std::vec![0u8; 1 << 20];
    for config in [Config::default(), best_fit()] {
        let mut pool = Pool::with_config(&mut r, config).unwrap();
        let blocks: Vec<_> = (0..10_000).map(|i| pool.alloc(i % 50).unwrap()).collect();
        for b in blocks.iter().step_by(2) {
            pool.free(*b).unwrap();
        }
        assert_eq!(pool.stats().free_blocks, 5001);
        // AVL height is at most 1.44 log2(n + 2) (no bins under first fit).
        let height = (0..pool.bins.count).map(|bin| pool.height(pool.bin_root(bin))).max();
        assert!(height.unwrap_or(0) <= 18, "height {height:?}");
        pool.check().unwrap();
    }
}

/// Fills a pool with blocks whose payloads carry their own number, frees every third, and pins one, so that a
/// compaction moves several runs.
fn fragmented(pool: &mut Pool<'_>) -> Vec<(Block, u8)> {
    let mut live = Vec::new();
    for i in 0..60u8 {
        let block = pool.alloc(16 + usize::from(i % 5) * 24).unwrap();
        pool.payload_mut(block).unwrap().fill(i);
        live.push((block, i));
    }
    let mut kept = Vec::new();
    for (n, (block, i)) in live.into_iter().enumerate() {
        if n % 3 == 1 {
            pool.free(block).unwrap();
        } else {
            kept.push((block, i));
        }
    }
    pool.pin(kept[20].0).unwrap();
    kept
}

/// The payload patterns of the used blocks, sorted: what no compaction may change.
fn contents(pool: &Pool<'_>) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = pool
        .blocks()
        .filter_map(|info| info.block())
        .map(|block| pool.payload(block).unwrap().to_vec())
        .collect();
    all.sort();
    all
}

#[test]
fn a_compaction_callback_that_panics_leaves_a_sound_pool_at_every_point() {
    for config in [Config::default(), best_fit(), deferred()] {
        let mut r = region();
        let mut pool = pool_with(&mut r, config);
        fragmented(&mut pool);
        let before = contents(&pool);
        let moves = {
            let mut r2 = region();
            let mut twin = pool_with(&mut r2, config);
            fragmented(&mut twin);
            twin.compact(|_, _, _| {}).moved_blocks
        };
        assert!(moves > 10, "the layout must make compaction move several runs");
        for panic_at in 0..moves {
            let mut r = region();
            let mut pool = pool_with(&mut r, config);
            fragmented(&mut pool);
            let mut calls = 0;
            let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.compact(|_, _, _| {
                    if calls == panic_at {
                        panic!("relocation callback fails");
                    }
                    calls += 1;
                })
            }));
            assert!(unwound.is_err());
            pool.check().unwrap_or_else(|e| panic!("{config:?}, panic at move {panic_at}: {e}"));
            assert_eq!(contents(&pool), before, "panic at move {panic_at}");
            // The pool goes on working: allocate, free, compact to the end.
            let block = pool.alloc(24).unwrap();
            pool.payload_mut(block).unwrap().fill(0xee);
            pool.free(block).unwrap();
            pool.compact(|_, _, _| {});
            pool.check().unwrap();
            assert_eq!(contents(&pool), before);
            assert_eq!(pool.stats().free_blocks, 2, "one hole before the pinned block, one after");
        }
    }
}

#[test]
fn a_failed_allocation_under_deferred_coalescing_merges_nothing() {
    let mut r = region();
    let mut pool = pool_with(&mut r, deferred());
    let blocks: Vec<Block> = (0..6).map(|_| pool.alloc(100).unwrap()).collect();
    let _rest = pool.alloc(pool.largest_free() - HEADER_SIZE).unwrap();
    for &block in &blocks[..3] {
        pool.free(block).unwrap();
    }
    let before = pool.stats();
    assert_eq!(before.free_blocks, 3);
    // Three merged holes hold about 330 bytes: a 1000-byte request cannot fit, merged or not.
    assert!(pool.alloc(1000).is_err());
    assert_eq!(pool.stats(), before, "a failed allocation changes nothing");
    pool.check().unwrap();
    // One that only the merged holes can hold still succeeds, by merging.
    let block = pool.alloc(250).unwrap();
    assert_eq!(block, blocks[0]);
    pool.check().unwrap();
}

/// Blocks with their requested sizes, a payload pattern of their own, and slack: every fourth block took a
/// whole hole larger than it needs (a hole for a 10-byte request with a rest just too small to split off),
/// the first one included, so that a trimming compaction must gather slack from the start of the heap.
/// Frees every fifth block; pins one block if `pin`.
fn with_slack(pool: &mut Pool<'_>, pin: bool) -> Vec<(Block, usize, u8)> {
    let mut live = Vec::new();
    for i in 0..48u8 {
        let size = 16 + usize::from(i % 7) * 8;
        if i % 4 == 0 {
            // A block one granule short of the 10-byte request's block plus a split, freed and taken again
            // by that request, which keeps the rest.
            let need = block_size_for(10, pool.config().policy.min_block()).unwrap();
            let hole_size = need + crate::tag::SPLIT_MIN - GRANULE - HEADER_SIZE;
            let hole = pool.alloc(hole_size).unwrap();
            let keep = pool.alloc(size).unwrap();
            pool.free(hole).unwrap();
            let small = pool.alloc(10).unwrap();
            assert_eq!((small, pool.usable_size(small).unwrap()), (hole, hole_size));
            live.push((small, 10, i));
            live.push((keep, size, i + 100));
        } else {
            live.push((pool.alloc(size).unwrap(), size, i));
        }
    }
    let mut kept = Vec::new();
    for (n, (block, size, i)) in live.into_iter().enumerate() {
        if n % 5 == 3 {
            pool.free(block).unwrap();
        } else {
            pool.payload_mut(block).unwrap()[..size].fill(i);
            kept.push((block, size, i));
        }
    }
    if pin {
        pool.pin(kept[30].0).unwrap();
    }
    kept
}

/// The requested bytes of every used block, sorted; each block's first byte names it in `live` (which gives
/// its size), whatever its name now.
fn requested(pool: &Pool<'_>, live: &[(Block, usize, u8)]) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = renamed(pool, live)
        .iter()
        .map(|&(b, size, _)| pool.payload(b).unwrap()[..size].to_vec())
        .collect();
    all.sort();
    all
}

/// `live` under the blocks' current names, found by their first bytes.
fn renamed(pool: &Pool<'_>, live: &[(Block, usize, u8)]) -> Vec<(Block, usize, u8)> {
    pool.blocks()
        .filter_map(|info| info.block())
        .map(|b| {
            let first = pool.payload(b).unwrap()[0];
            let &(_, size, i) = live.iter().find(|l| l.2 == first).expect("a block of the layout");
            (b, size, i)
        })
        .collect()
}

/// Runs `compact_trimmed` on `pool` with the sizes of `live`, following the moves; returns the live blocks
/// under their new names.
fn compact_trimmed_following(
    pool: &mut Pool<'_>,
    live: &[(Block, usize, u8)],
) -> Vec<(Block, usize, u8)> {
    let live = core::cell::RefCell::new(live.to_vec());
    let min = pool.config().policy.min_block();
    pool.compact_trimmed(
        |block| {
            let size = live.borrow().iter().find(|l| l.0 == block).expect("a live block").1;
            block_size_for(size, min).unwrap()
        },
        |old, new, _| {
            let mut live = live.borrow_mut();
            let entry = live.iter_mut().find(|l| l.0 == old).expect("a live block moves");
            entry.0 = new;
        },
    );
    live.into_inner()
}

#[test]
fn compact_trimmed_gives_every_blocks_slack_to_the_free_space() {
    for config in [Config::default(), best_fit(), deferred()] {
        let mut r = region();
        let mut pool = pool_with(&mut r, config);
        let min = config.policy.min_block();
        let live = with_slack(&mut pool, false);
        let before = requested(&pool, &live);
        let slack: usize = live
            .iter()
            .map(|&(b, size, _)| {
                pool.usable_size(b).unwrap() + HEADER_SIZE - block_size_for(size, min).unwrap()
            })
            .sum();
        assert!(slack >= 12 * 16, "the layout must have slack, the first block's included");
        pool.coalesce();
        let live = compact_trimmed_following(&mut pool, &live);
        pool.check().unwrap_or_else(|e| panic!("{config:?}: {e}"));
        assert_eq!(requested(&pool, &live), before, "{config:?}");
        for &(b, size, _) in &live {
            assert_eq!(
                pool.usable_size(b).unwrap() + HEADER_SIZE,
                block_size_for(size, min).unwrap()
            );
        }
        let s = pool.stats();
        let wanted: usize =
            live.iter().map(|&(_, size, _)| block_size_for(size, min).unwrap()).sum();
        assert_eq!((s.used_bytes + s.overhead_bytes, s.free_blocks), (wanted, 1), "{config:?}");
        assert_eq!(s.free_bytes, s.capacity - wanted);
    }
}

#[test]
fn a_trimming_compaction_whose_callbacks_panic_leaves_a_sound_pool_at_every_point() {
    for pin in [false, true] {
        let calls = {
            let mut r = region();
            let mut pool = Pool::new(&mut r.0).unwrap();
            let live = with_slack(&mut pool, pin);
            let mut calls = 0;
            let live = core::cell::RefCell::new(live);
            let n = core::cell::Cell::new(0);
            pool.compact_trimmed(
                |b| {
                    n.set(n.get() + 1);
                    block_size_for(live.borrow().iter().find(|l| l.0 == b).unwrap().1, MIN_BLOCK)
                        .unwrap()
                },
                |old, new, _| {
                    n.set(n.get() + 1);
                    live.borrow_mut().iter_mut().find(|l| l.0 == old).unwrap().0 = new;
                },
            );
            calls += n.get();
            calls
        };
        assert!(calls > 40, "the layout must make many callback calls");
        // Every call natively; a spread of them under Miri, which interprets each run slowly.
        let step = if cfg!(miri) { 29 } else { 1 };
        for panic_at in (0..calls).step_by(step) {
            let mut r = region();
            let mut pool = Pool::new(&mut r.0).unwrap();
            let live = core::cell::RefCell::new(with_slack(&mut pool, pin));
            let before = requested(&pool, &live.borrow());
            let n = core::cell::Cell::new(0);
            let tick = || {
                if n.get() == panic_at {
                    panic!("a compaction callback fails");
                }
                n.set(n.get() + 1);
            };
            let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.compact_trimmed(
                    |b| {
                        tick();
                        block_size_for(
                            live.borrow().iter().find(|l| l.0 == b).unwrap().1,
                            MIN_BLOCK,
                        )
                        .unwrap()
                    },
                    |old, new, _| {
                        tick();
                        live.borrow_mut().iter_mut().find(|l| l.0 == old).unwrap().0 = new;
                    },
                )
            }));
            assert!(unwound.is_err());
            pool.check().unwrap_or_else(|e| panic!("pin {pin}, panic at call {panic_at}: {e}"));
            assert_eq!(requested(&pool, &live.borrow()), before, "panic at call {panic_at}");
            let live = renamed(&pool, &live.into_inner());
            let live = compact_trimmed_following(&mut pool, &live);
            pool.check().unwrap();
            assert_eq!(requested(&pool, &live), before);
        }
    }
}

#[test]
fn move_to_end_passes_the_blocks_after_it_so_it_can_grow_in_place() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let blocks: Vec<Block> = (0..6u8)
        .map(|i| {
            let b = pool.alloc(40 + usize::from(i) * 8).unwrap();
            pool.payload_mut(b).unwrap().fill(i + 1);
            b
        })
        .collect();
    let gap = pool.alloc(64).unwrap();
    let after = pool.alloc(64).unwrap();
    pool.free(gap).unwrap();
    let before = contents(&pool);
    let mut moves = Vec::new();
    let stats = pool
        .move_to_end(blocks[1], |old, new, payload| moves.push((old, new, payload[0])))
        .unwrap();
    pool.check().unwrap();
    assert_eq!(contents(&pool), before);
    assert_eq!(stats.moved_blocks, 5);
    assert_eq!(moves.len(), 5);
    // The blocks after it come down in address order, then the block itself, last, before the free block.
    for (k, &(old, new, first)) in moves.iter().enumerate() {
        assert!(k == 0 || moves[k - 1].1 < new, "reported in address order");
        if k < 4 {
            assert_eq!((old, first), (blocks[k + 2], k as u8 + 3));
            assert!(new < old);
        } else {
            assert_eq!((old, first), (blocks[1], 2));
            assert_eq!(new.offset() + pool.usable_size(new).unwrap() + HEADER_SIZE, gap.offset());
        }
    }
    let moved = moves[4].1;
    assert_eq!(pool.payload(moved).unwrap()[0], 2);
    assert_eq!(pool.realloc(moved, 60).unwrap(), moved, "it grows in place into the free block");
    pool.check().unwrap();
    assert_eq!(pool.payload(moved).unwrap()[..48], [2; 48]);
    // A free block already after it: nothing moves.
    let last = moves[3].1;
    assert_eq!(pool.move_to_end(moved, |_, _, _| panic!("nothing moves")).unwrap().moved_blocks, 0);
    // A pinned block on the way, or the block pinned: an error that changes nothing.
    pool.pin(last).unwrap();
    let first = moves[0].1;
    let pinned_offset = last.offset();
    assert_eq!(
        pool.move_to_end(first, |_, _, _| panic!("nothing moves")),
        Err(Error::Pinned { offset: pinned_offset })
    );
    assert_eq!(
        pool.move_to_end(last, |_, _, _| panic!("nothing moves")),
        Err(Error::Pinned { offset: pinned_offset })
    );
    pool.free(after).unwrap();
    assert!(matches!(pool.move_to_end(after, |_, _, _| {}), Err(Error::InvalidBlock { .. })));
    pool.check().unwrap();
}

#[test]
fn fits_after_compaction_counts_the_free_bytes_between_pinned_blocks() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    // [a 100][b 100][c 100 pinned][d 100][top]: freeing a and d leaves free space on both sides of c.
    let blocks: Vec<Block> = (0..4).map(|_| pool.alloc(100).unwrap()).collect();
    let rest = pool.alloc(pool.stats().largest_free - 2 * HEADER_SIZE).unwrap();
    pool.pin(blocks[2]).unwrap();
    pool.free(blocks[0]).unwrap();
    pool.free(blocks[3]).unwrap();
    let block = block_size_for(100, MIN_BLOCK).unwrap();
    let free = pool.stats().free_bytes;
    assert!(free >= 2 * block);
    // Below c lie a's bytes (and b moves down over them); above it, d's and the top's.
    assert!(pool.fits_after_compaction(block));
    assert!(!pool.fits_after_compaction(free), "the pin splits the free bytes");
    assert!(!pool.fits_after_compaction(free + 8));
    pool.unpin(blocks[2]).unwrap();
    assert!(pool.fits_after_compaction(free), "unpinned, compaction gathers every free byte");
    pool.free(rest).unwrap();
    pool.check().unwrap();
}

fn front_cache() -> Config {
    Config { front_cache: true, ..Config::default() }
}

#[test]
fn the_front_cache_serves_the_last_freed_block_of_a_size_first() {
    for (config, expected) in [(Config::default(), [0, 2]), (front_cache(), [2, 0])] {
        let mut r = region();
        let mut pool = pool_with(&mut r, config);
        let blocks: Vec<Block> = (0..4).map(|_| pool.alloc(24).unwrap()).collect();
        pool.free(blocks[0]).unwrap();
        pool.free(blocks[2]).unwrap();
        pool.check().unwrap();
        // Exact first fit takes the lowest hole; the cache, the most recently freed block of the size.
        assert_eq!(pool.alloc(24).unwrap(), blocks[expected[0]]);
        assert_eq!(pool.alloc(24).unwrap(), blocks[expected[1]]);
        pool.check().unwrap();
    }
}

#[test]
fn a_cached_block_counts_as_free_and_its_name_is_stale() {
    let mut r = region();
    let mut pool = pool_with(&mut r, front_cache());
    let a = pool.alloc(40).unwrap();
    let _b = pool.alloc(40).unwrap();
    let before = pool.stats();
    pool.free(a).unwrap();
    let s = pool.stats();
    assert_eq!((s.used_blocks, s.free_blocks), (before.used_blocks - 1, before.free_blocks + 1));
    assert_eq!(s.free_bytes, before.free_bytes + 48);
    assert_eq!(s.used_bytes + s.overhead_bytes + s.free_bytes, s.capacity);
    let blocks: Vec<BlockInfo> = pool.blocks().collect();
    assert_eq!(blocks[0].state, BlockState::Free, "a cached block is free to its owner");
    // Every use of the freed name is refused and changes nothing.
    assert_eq!(pool.free(a), Err(Error::InvalidBlock { offset: a.offset() }));
    assert!(pool.payload(a).is_err());
    assert!(pool.payload_mut(a).is_err());
    assert!(pool.pin(a).is_err());
    assert!(pool.realloc(a, 8).is_err());
    assert!(pool.block_at(a.offset()).is_err());
    assert_eq!(pool.stats(), s);
    assert_eq!(pool.blocks().collect::<Vec<_>>(), blocks);
    pool.check().unwrap();
}

#[test]
fn cached_blocks_are_freed_for_real_before_an_allocation_fails() {
    let mut r = region();
    let mut pool = pool_with(&mut r, front_cache());
    let mut blocks = Vec::new();
    while let Ok(b) = pool.alloc(100) {
        blocks.push(b);
    }
    for &b in &blocks[..CACHE_LIMIT.min(blocks.len())] {
        pool.free(b).unwrap();
    }
    assert!(pool.stats().largest_free < 2000, "only small cached blocks are free");
    // Only the cached blocks, merged, hold it.
    let big = pool.alloc(2000).unwrap();
    pool.check().unwrap();
    assert!(pool.stats().used_blocks == blocks.len() - CACHE_LIMIT.min(blocks.len()) + 1);
    pool.free(big).unwrap();
    pool.check().unwrap();
}

#[test]
fn a_failed_allocation_with_cached_blocks_changes_nothing() {
    let mut r = region();
    let mut pool = pool_with(&mut r, front_cache());
    let mut blocks = Vec::new();
    while let Ok(b) = pool.alloc(100) {
        blocks.push(b);
    }
    // Every other block cached: no two of them are adjacent, so no merged run holds 300 bytes.
    let cached: Vec<Block> = blocks.iter().step_by(2).take(CACHE_LIMIT).copied().collect();
    for &b in &cached {
        pool.free(b).unwrap();
    }
    let (stats, map) = (pool.stats(), pool.blocks().collect::<Vec<_>>());
    assert!(matches!(pool.alloc(300), Err(Error::OutOfMemory { .. })));
    assert_eq!(pool.stats(), stats);
    assert_eq!(pool.blocks().collect::<Vec<_>>(), map);
    pool.check().unwrap();
    // The cache is still there: the last block freed comes back first.
    assert_eq!(pool.alloc(100).unwrap(), cached[cached.len() - 1]);
}

#[test]
fn compaction_and_coalescing_free_the_cache_first() {
    let mut r = region();
    let mut pool = pool_with(&mut r, front_cache());
    let blocks: Vec<Block> = (0..20).map(|_| pool.alloc(56).unwrap()).collect();
    for &b in blocks.iter().step_by(3) {
        pool.free(b).unwrap();
    }
    let cached = blocks.iter().step_by(3).count();
    assert_eq!(pool.coalesce(), cached, "each cached block freed for real");
    pool.check().unwrap();
    let free_after_coalesce = pool.stats().free_blocks;
    for &b in blocks.iter().skip(1).step_by(3) {
        pool.free(b).unwrap();
    }
    let mut moved = 0;
    pool.compact(|_, _, _| moved += 1);
    pool.check().unwrap();
    let s = pool.stats();
    assert!(moved > 0 && free_after_coalesce > 1);
    assert_eq!((s.free_blocks, s.largest_free), (1, s.free_bytes), "one hole after compaction");
}

#[test]
fn retain_puts_refused_blocks_in_the_cache_as_free_would() {
    let (mut r1, mut r2) = (region(), region());
    let mut swept = pool_with(&mut r1, front_cache());
    let mut freed = pool_with(&mut r2, front_cache());
    for pool in [&mut swept, &mut freed] {
        for size in [24, 300, 24, 40, 500, 24] {
            pool.alloc(size).unwrap();
        }
    }
    let refused = |b: Block| b.offset() % 3 != 0;
    let doomed: Vec<Block> =
        freed.blocks().filter_map(|info| info.block()).filter(|&b| refused(b)).collect();
    for b in doomed {
        freed.free(b).unwrap();
    }
    assert!(swept.retain(|b, _| !refused(b)) > 0);
    swept.check().unwrap();
    assert_eq!(swept.blocks().collect::<Vec<_>>(), freed.blocks().collect::<Vec<_>>());
    assert_eq!(swept.stats(), freed.stats());
    assert_eq!(swept.alloc(24).unwrap(), freed.alloc(24).unwrap());
}

#[test]
fn check_finds_a_broken_front_cache() {
    let mut r = region();
    let mut pool = pool_with(&mut r, front_cache());
    let a = pool.alloc(24).unwrap();
    let b = pool.alloc(24).unwrap();
    let c = pool.alloc(24).unwrap();
    pool.free(a).unwrap();
    pool.free(c).unwrap();
    pool.check().unwrap();
    let k = 32 / GRANULE;
    let head = pool.cache.heads[k];
    // A list that names a used block.
    pool.cache.heads[k] = ((b.offset() - HEADER_SIZE) / GRANULE) as u32;
    assert!(pool.check().is_err());
    pool.cache.heads[k] = head;
    // A length that disagrees with the list.
    pool.cache.lens[k] += 1;
    assert!(pool.check().is_err());
    pool.cache.lens[k] -= 1;
    // A list that holds a block twice, so that another cached block is on no list.
    let c_start = c.offset() - HEADER_SIZE;
    pool.set_word(c_start + HEADER_SIZE, head as usize);
    assert!(pool.check().is_err());
    pool.set_word(c_start + HEADER_SIZE, (a.offset() - HEADER_SIZE) / GRANULE);
    pool.check().unwrap();
}

#[test]
fn allocations_carve_the_top_in_order_until_a_hole_below_it_fits() {
    for config in [Config::default(), best_fit(), deferred(), front_cache()] {
        let mut r = region();
        let mut pool = pool_with(&mut r, config);
        // With no free block but the top, each request is carved off the top's front, in address order.
        let blocks: Vec<Block> = (0..6).map(|i| pool.alloc(40 + 16 * i).unwrap()).collect();
        for pair in blocks.windows(2) {
            assert!(pair[0] < pair[1], "{config:?}: the top moves up");
        }
        let s = pool.stats();
        assert_eq!((s.used_blocks, s.free_blocks), (6, 1), "{config:?}");
        assert_eq!(s.used_bytes + s.overhead_bytes + s.free_bytes, s.capacity, "{config:?}");
        assert_eq!(s.peak_extent, pool.capacity() - s.largest_free, "{config:?}");
        pool.check().unwrap();
        // A hole below the top that fits is taken before the top, by either policy (or the cache).
        pool.free(blocks[3]).unwrap();
        assert_eq!(pool.alloc(40 + 16 * 3).unwrap(), blocks[3], "{config:?}");
        pool.check().unwrap();
        // When the top is too small to split, the general path decides; the pool runs out cleanly.
        while pool.alloc(200).is_ok() {}
        let before = pool.stats();
        assert!(pool.alloc(before.largest_free).is_err(), "{config:?}");
        assert_eq!(pool.stats(), before, "{config:?}: a failed request changes nothing");
        pool.check().unwrap();
    }
}

#[test]
fn alloc_with_payload_gives_the_blocks_own_payload() {
    let mut r = region();
    let mut pool = Pool::new(&mut r.0).unwrap();
    let first = pool.alloc(24).unwrap();
    let (block, payload) = pool.alloc_with_payload(100).unwrap();
    assert!(payload.len() >= 100);
    payload.fill(0xAB);
    assert_ne!(block, first);
    assert_eq!(pool.payload(block).unwrap().len(), pool.usable_size(block).unwrap());
    assert!(pool.payload(block).unwrap().iter().all(|&b| b == 0xAB));
    pool.check().unwrap(); // the top's header after the payload is intact
    let before = pool.stats();
    assert!(matches!(pool.alloc_with_payload(usize::MAX), Err(Error::OutOfMemory { .. })));
    assert_eq!(pool.stats(), before);
    pool.check().unwrap();
}

#[test]
fn retain_only_keeps_the_named_blocks_and_refuses_a_bad_list_whole() {
    for config in [Config::default(), best_fit(), deferred(), front_cache()] {
        let mut r = region();
        let mut pool = pool_with(&mut r, config);
        let blocks: Vec<Block> = (0..8).map(|i| pool.alloc(24 + 40 * i).unwrap()).collect();
        pool.pin(blocks[5]).unwrap();
        pool.free(blocks[6]).unwrap();
        pool.payload_mut(blocks[3]).unwrap().fill(7);
        let before = (pool.blocks().collect::<Vec<_>>(), pool.stats());
        let unchanged = |pool: &Pool<'_>| (pool.blocks().collect::<Vec<_>>(), pool.stats());
        // A freed block, a repeated one, one out of order: each refused, and nothing changes.
        let stale = Err(Error::InvalidBlock { offset: blocks[6].offset() });
        assert_eq!(pool.retain_only(&[blocks[1], blocks[6]]), stale, "{config:?}");
        let repeated = Err(Error::OutOfOrder { offset: blocks[3].offset() });
        assert_eq!(pool.retain_only(&[blocks[3], blocks[3]]), repeated, "{config:?}");
        let swapped = Err(Error::OutOfOrder { offset: blocks[1].offset() });
        assert_eq!(pool.retain_only(&[blocks[3], blocks[1]]), swapped, "{config:?}");
        assert_eq!(unchanged(&pool), before, "{config:?}");
        // The pinned block and the others not named are freed; the kept ones stay where they are.
        assert_eq!(pool.retain_only(&[blocks[1], blocks[3]]), Ok(5), "{config:?}");
        pool.check().unwrap();
        assert!(pool.payload(blocks[3]).unwrap().iter().all(|&b| b == 7));
        let states: Vec<_> = pool.blocks().map(|info| (info.state, info.block())).collect();
        assert_eq!(
            states,
            [
                (BlockState::Free, None),
                (BlockState::Used, Some(blocks[1])),
                (BlockState::Free, None),
                (BlockState::Used, Some(blocks[3])),
                (BlockState::Free, None),
            ],
            "{config:?}"
        );
        // Keeping nothing leaves one free block as large as the pool.
        assert_eq!(pool.retain_only(&[]), Ok(2));
        assert_eq!(pool.stats().largest_free, pool.capacity());
        pool.check().unwrap();
    }
}

/// `alloc_with_array::<N>` (after `carve_with_array::<N>`, every other time) and `alloc_with_payload(N)` place
/// every block where `alloc(N)` does (from the top, and searched once frees
/// leave holes), under both policies and with the front cache, for sizes whose block is a constant (24, 40)
/// and one whose block is each policy's smallest (8); the array is the payload's first `N` bytes, and a
/// request that does not fit fails on both and changes nothing.
#[test]
fn alloc_with_array_places_blocks_as_alloc_does() {
    // Under Miri a check of the whole pool takes about half a second, and 900 rounds checked every 64th
    // took 8.6 minutes: there 120 rounds (the carve, its refusal and the searched allocation all happen
    // within them; the full pool only natively) with the pools checked after rounds 59 and 119; natively 900
    // rounds, every one checked.
    const ROUNDS: usize = if cfg!(miri) { 120 } else { 900 };
    fn checked(round: usize) -> bool {
        !cfg!(miri) || round % 60 == 59
    }
    fn run<const N: usize>(config: Config) {
        let (mut ra, mut rb, mut rc) = (region(), region(), region());
        let (mut a, mut b) = (pool_with(&mut ra, config), pool_with(&mut rb, config));
        let mut c = pool_with(&mut rc, config);
        let mut live = Vec::new();
        for round in 0..ROUNDS {
            if round % 3 == 2 && !live.is_empty() {
                let (x, y, z) = live.swap_remove(round * 7 % live.len());
                a.free(x).unwrap();
                b.free(y).unwrap();
                c.free(z).unwrap();
            } else {
                let x = a.alloc(N);
                // Every other request tries the carve alone first: `None` changes nothing.
                let before = b.stats();
                let carved = if round % 2 == 0 {
                    b.carve_with_array::<N>().map(|(block, array)| {
                        array.fill(0xa5);
                        block
                    })
                } else {
                    None
                };
                if carved.is_none() {
                    assert_eq!(before, b.stats());
                    if checked(round) {
                        b.check().unwrap();
                    }
                }
                let y = carved.map(Ok).unwrap_or_else(|| {
                    b.alloc_with_array::<N>().map(|(block, array)| {
                        array.fill(0xa5);
                        block
                    })
                });
                let z = c.alloc_with_payload(N).map(|(block, payload)| {
                    assert!(payload.len() >= N);
                    block
                });
                assert_eq!(x, y, "request {round} of {N} bytes under {config:?}");
                assert_eq!(x, z, "request {round} of {N} bytes under {config:?}");
                let (Ok(x), Ok(y), Ok(z)) = (x, y, z) else {
                    assert_eq!(a.stats(), b.stats());
                    assert_eq!(a.stats(), c.stats());
                    continue;
                };
                assert_eq!(b.payload(y).unwrap()[..N], [0xa5; N]);
                live.push((x, y, z));
            }
            if checked(round) {
                a.check().unwrap();
                b.check().unwrap();
                c.check().unwrap();
            }
        }
    }
    for config in [
        Config::default(),
        best_fit(),
        deferred(),
        Config { front_cache: true, ..Config::default() },
    ] {
        run::<8>(config);
        run::<24>(config);
        run::<40>(config);
    }
}
