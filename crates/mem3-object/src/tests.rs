//! Unit tests: each operation, each error, the encoding, and generation retirement.

use core::num::NonZeroU32;
use std::{
    format,
    string::{String, ToString},
    vec,
    vec::Vec,
};

use mem3_pool::{Block, BlockState, Config, Corruption, CorruptionKind, Error as PoolError};

use crate::{
    handle::{NO_SLOT, Slot},
    object::{self, GENERATION_OFFSET, INDEX_OFFSET, LEN_OFFSET, OBJECT_HEADER_SIZE},
    *,
};

fn region(len: usize) -> Vec<u8> {
    vec![0; len]
}

/// The `len` bytes of `r` from its first 64-aligned byte (`r` holds `len + 64`): pools over two such slices
/// have the same capacity and layout, whatever the allocator gave.
fn aligned(r: &mut [u8], len: usize) -> &mut [u8] {
    let at = r.as_ptr().align_offset(64);
    &mut r[at..at + len]
}

/// Overwrites `bytes` at `at` in the payload of `h`'s object, as memory corruption would.
fn poke(heap: &mut ObjectHeap<'_>, h: Handle, at: usize, bytes: &[u8]) {
    let block = heap.block(h).unwrap();
    heap.pool.payload_mut(block).unwrap()[at..at + bytes.len()].copy_from_slice(bytes);
}

fn corrupt_what(r: Result<impl core::fmt::Debug>) -> &'static str {
    match r {
        Err(Error::Corrupt { what, .. }) => what,
        other => panic!("expected Error::Corrupt, got {other:?}"),
    }
}

#[test]
fn alloc_and_get_each_kind() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    assert!(heap.is_empty());
    let i = heap.alloc_int(-42).unwrap();
    let f = heap.alloc_float(f64::NAN).unwrap();
    let s = heap.alloc_str("héllo").unwrap();
    let e = heap.alloc_str("").unwrap();
    let g = heap.alloc(ObjectRef::Int(i64::MIN)).unwrap();
    assert_eq!(heap.get(i), Ok(ObjectRef::Int(-42)));
    let Ok(ObjectRef::Float(nan)) = heap.get(f) else { panic!() };
    assert_eq!(nan.to_bits(), f64::NAN.to_bits());
    assert_eq!(heap.get(s), Ok(ObjectRef::Str("héllo")));
    assert_eq!(heap.get(e), Ok(ObjectRef::Str("")));
    assert_eq!(heap.get(g), Ok(ObjectRef::Int(i64::MIN)));
    assert_eq!(heap.kind(i), Ok(ObjectKind::Int));
    assert_eq!(heap.kind(f), Ok(ObjectKind::Float));
    assert_eq!(heap.kind(s), Ok(ObjectKind::Str));
    assert_eq!(heap.get(s).unwrap().kind(), ObjectKind::Str);
    assert!(heap.contains(i));
    assert_eq!(heap.len(), 5);
    assert_eq!(heap.handles().collect::<Vec<_>>(), [i, f, s, e, g]);
    heap.check().unwrap();
}

#[test]
fn object_sizes() {
    assert_eq!(ObjectHeap::object_size(ObjectRef::Int(0)), OBJECT_HEADER_SIZE + 8);
    assert_eq!(ObjectHeap::object_size(ObjectRef::Float(0.0)), OBJECT_HEADER_SIZE + 8);
    assert_eq!(ObjectHeap::object_size(ObjectRef::Str("abc")), OBJECT_HEADER_SIZE + 3);
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let h = heap.alloc_str("abcdefghij").unwrap();
    let usable = heap.pool().usable_size(heap.block(h).unwrap()).unwrap();
    assert!(usable >= ObjectHeap::object_size(ObjectRef::Str("abcdefghij")));
}

#[test]
fn stale_handle_errors_everywhere() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let h = heap.alloc_int(1).unwrap();
    heap.free(h).unwrap();
    assert_eq!(heap.get(h), Err(Error::StaleHandle));
    assert_eq!(heap.kind(h), Err(Error::StaleHandle));
    assert_eq!(heap.free(h), Err(Error::StaleHandle));
    assert_eq!(heap.pin(h), Err(Error::StaleHandle));
    assert_eq!(heap.unpin(h), Err(Error::StaleHandle));
    assert_eq!(heap.is_pinned(h), Err(Error::StaleHandle));
    assert_eq!(heap.block(h), Err(Error::StaleHandle));
    assert!(!heap.contains(h));
    // The slot is reused with a new generation; the old handle stays stale.
    let h2 = heap.alloc_int(2).unwrap();
    assert_eq!(h2.index(), h.index());
    assert_ne!(h2, h);
    assert_eq!(heap.get(h), Err(Error::StaleHandle));
    assert_eq!(heap.get(h2), Ok(ObjectRef::Int(2)));
    // A forged handle past the table is stale too.
    let forged = Handle::from_bits((1 << 32) | 999).unwrap();
    assert_eq!(heap.get(forged), Err(Error::StaleHandle));
    heap.check().unwrap();
}

#[test]
fn handle_bits_round_trip() {
    let h = Handle::new(7, NonZeroU32::new(9).unwrap());
    assert_eq!(Handle::from_bits(h.to_bits()), Some(h));
    assert_eq!(h.generation().get(), 9);
    assert_eq!(Handle::from_bits(7), None);
}

#[test]
fn generation_retires_instead_of_wrapping() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let first = heap.alloc_int(1).unwrap();
    heap.free(first).unwrap();
    // Skip four billion frees: the vacant slot's next occupant gets generation u32::MAX - 1.
    let Slot::Vacant { generation, .. } = &mut heap.table.slots[0] else { panic!() };
    *generation = NonZeroU32::new(u32::MAX - 1).unwrap();
    let a = heap.alloc_int(2).unwrap();
    assert_eq!((a.index(), a.generation().get()), (0, u32::MAX - 1));
    heap.free(a).unwrap();
    let b = heap.alloc_int(3).unwrap();
    assert_eq!((b.index(), b.generation().get()), (0, u32::MAX));
    heap.free(b).unwrap();
    assert_eq!(heap.table.slots[0], Slot::Retired);
    assert_eq!(heap.stats().retired_slots, 1);
    // The next object gets a fresh slot; every old handle stays stale, and none of them reads it.
    let c = heap.alloc_int(4).unwrap();
    assert_eq!((c.index(), c.generation().get()), (1, 1));
    for old in [first, a, b] {
        assert_eq!(heap.get(old), Err(Error::StaleHandle));
        assert_eq!(heap.free(old), Err(Error::StaleHandle));
    }
    // A handle with the would-be wrapped generation (1) on the retired slot is stale as well.
    assert_eq!(heap.get(Handle::new(0, NonZeroU32::MIN)), Err(Error::StaleHandle));
    assert_eq!(heap.stats().handle_slots, 2);
    heap.check().unwrap();
}

#[test]
fn too_many_handles() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    heap.table.max_slots = 2;
    let a = heap.alloc_int(1).unwrap();
    let _b = heap.alloc_int(2).unwrap();
    let before = heap.stats();
    assert_eq!(heap.alloc_int(3), Err(Error::TooManyHandles));
    assert_eq!(heap.stats(), before, "a failed alloc changes nothing");
    heap.free(a).unwrap();
    let c = heap.alloc_int(3).unwrap();
    assert_eq!(c.index(), a.index());
    // Retiring the only reusable slot leaves no room either.
    heap.free(c).unwrap();
    let Slot::Vacant { generation, .. } = &mut heap.table.slots[0] else { panic!() };
    *generation = NonZeroU32::MAX;
    let d = heap.alloc_int(4).unwrap();
    heap.free(d).unwrap();
    assert_eq!(heap.alloc_int(5), Err(Error::TooManyHandles));
    heap.check().unwrap();
}

#[test]
fn out_of_memory() {
    let mut r = region(1024);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let big = "x".repeat(2000);
    let requested = ObjectHeap::object_size(ObjectRef::Str(&big));
    let free = heap.pool().stats().free_bytes;
    assert!(!heap.would_fit_after_defragment(ObjectRef::Str(&big)));
    assert_eq!(
        heap.alloc_str(&big),
        Err(Error::Pool(PoolError::OutOfMemory { requested, free, largest_free: free }))
    );
    assert!(heap.is_empty());
    assert_eq!(heap.stats().handle_slots, 0, "no slot is taken by a failed alloc");
    // Fill the pool: the last allocation fails with an exact report.
    while heap.alloc_int(0).is_ok() {}
    let s = heap.pool().stats();
    assert!(s.largest_free < mem3_pool::MIN_BLOCK);
    assert_eq!(
        heap.alloc_int(1),
        Err(Error::Pool(PoolError::OutOfMemory {
            requested: 24,
            free: s.free_bytes,
            largest_free: s.largest_free
        }))
    );
    heap.check().unwrap();
}

/// Issue 11: a failed allocation used to reserve room in the handle table before asking the pool, so
/// `handle_table_bytes` grew although the operation failed.
#[test]
fn a_failed_alloc_changes_no_figure() {
    let mut r = region(1024);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let big = "x".repeat(2000);
    // An empty table, then a table whose capacity is exactly its length: both would have to grow.
    let before = heap.stats();
    assert!(matches!(heap.alloc_str(&big), Err(Error::Pool(PoolError::OutOfMemory { .. }))));
    assert_eq!(heap.stats(), before, "a failed alloc on an empty table changes nothing");
    let mut live = Vec::new();
    while heap.stats().handle_slots == 0 || heap.table.slots.len() < heap.table.slots.capacity() {
        live.push(heap.alloc_int(live.len() as i64).unwrap());
    }
    let before = heap.stats();
    assert!(matches!(heap.alloc_str(&big), Err(Error::Pool(PoolError::OutOfMemory { .. }))));
    assert_eq!(heap.stats(), before, "a failed alloc on a full table changes nothing");
    for (i, &h) in live.iter().enumerate() {
        assert_eq!(heap.get(h), Ok(ObjectRef::Int(i as i64)));
    }
    heap.check().unwrap();
}

/// An allocation claims its handle slot only once its block is allocated: one that fails while a vacant
/// slot waits (or while the table has room for a new one) leaves the free list, the slots and every figure
/// as they were, and later allocations take the slots in the order the free list gives them.
#[test]
fn a_failed_alloc_leaves_the_free_list_and_the_slots_as_they_were() {
    let mut r = region(1024);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let table =
        |heap: &ObjectHeap<'_>| (heap.stats(), heap.table.slots.clone(), heap.table.free_head);
    let hs: Vec<_> = (0..3).map(|i| heap.alloc_int(i).unwrap()).collect();
    assert!(heap.table.slots.len() < heap.table.slots.capacity(), "room for a new slot");
    let big = "x".repeat(2000);
    let before = table(&heap);
    assert!(matches!(heap.alloc_str(&big), Err(Error::Pool(PoolError::OutOfMemory { .. }))));
    assert_eq!(table(&heap), before, "no vacant slot, room for a new one");
    // Two vacant slots; a string then takes the head of the free list and the whole free space.
    heap.free(hs[1]).unwrap();
    heap.free(hs[2]).unwrap();
    let fill =
        "y".repeat(heap.pool().stats().largest_free - mem3_pool::HEADER_SIZE - OBJECT_HEADER_SIZE);
    let s = heap.alloc_str(&fill).unwrap();
    assert_eq!(s.index(), hs[2].index());
    assert_eq!(heap.table.free_head, hs[1].index());
    let before = table(&heap);
    for attempt in 0..2 {
        assert!(
            matches!(heap.alloc_int(7), Err(Error::Pool(PoolError::OutOfMemory { .. }))),
            "attempt {attempt}"
        );
        assert!(matches!(heap.alloc_float(0.5), Err(Error::Pool(PoolError::OutOfMemory { .. }))));
        assert_eq!(table(&heap), before, "a vacant slot waiting");
    }
    // The string's slot joins the free list before the one that waited.
    heap.free(s).unwrap();
    let a = heap.alloc_int(7).unwrap();
    assert_eq!((a.index(), a.generation().get()), (s.index(), 3));
    let b = heap.alloc_float(0.5).unwrap();
    assert_eq!((b.index(), b.generation().get()), (hs[1].index(), 2));
    assert_eq!(heap.table.free_head, NO_SLOT);
    assert_eq!((heap.get(a), heap.get(b)), (Ok(ObjectRef::Int(7)), Ok(ObjectRef::Float(0.5))));
    heap.check().unwrap();
}

#[test]
fn retain_frees_exactly_the_rejected_objects() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let hs: Vec<_> = (0..20).map(|i| heap.alloc_int(i).unwrap()).collect();
    heap.pin(hs[3]).unwrap();
    heap.pin(hs[4]).unwrap();
    let freed = heap.retain(|h| h.index() % 3 == 0).unwrap();
    assert_eq!(freed, 13);
    for (i, &h) in hs.iter().enumerate() {
        assert_eq!(heap.contains(h), i % 3 == 0, "handle {i}");
    }
    assert_eq!(heap.get(hs[9]), Ok(ObjectRef::Int(9)));
    assert_eq!(heap.pinned_objects(), 1, "the freed pinned object is no longer counted");
    // The garbage between and above the kept objects merged into free blocks around them.
    assert_eq!(heap.pool().stats().used_blocks, 7);
    heap.check().unwrap();
    assert_eq!(heap.retain(|_| true), Ok(0));
    assert_eq!(heap.retain(|_| false), Ok(7));
    assert!(heap.is_empty());
    assert_eq!(heap.pool().stats().free_blocks, 1);
    heap.check().unwrap();
}

#[test]
fn a_panicking_keep_leaves_the_rejected_objects_freed_and_the_rest_whole() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let hs: Vec<_> = (0..12).map(|i| heap.alloc_int(i).unwrap()).collect();
    let mut calls = 0;
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        heap.retain(|h| {
            calls += 1;
            if calls == 6 {
                std::panic::resume_unwind(std::boxed::Box::new("keep fails"));
            }
            h.index() % 2 == 0
        })
    }));
    assert!(unwound.is_err());
    heap.check().unwrap();
    // Objects are asked in address order, here allocation order: the odd ones among the first five went.
    for (i, &h) in hs.iter().enumerate() {
        let freed = i < 5 && i % 2 == 1;
        assert_eq!(heap.contains(h), !freed, "handle {i}");
        if !freed {
            assert_eq!(heap.get(h), Ok(ObjectRef::Int(i as i64)));
        }
    }
    assert_eq!(heap.len(), 10);
}

#[test]
fn pool_errors_pass_through() {
    let mut r = region(8);
    assert!(matches!(
        ObjectHeap::new(&mut r),
        Err(Error::Pool(mem3_pool::Error::RegionTooSmall { len: 8, .. }))
    ));
}

#[test]
fn pin_keeps_objects_in_place() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let hs: Vec<_> = (0..10).map(|i| heap.alloc_int(i).unwrap()).collect();
    heap.pin(hs[5]).unwrap();
    heap.pin(hs[5]).unwrap(); // idempotent
    assert_eq!(heap.is_pinned(hs[5]), Ok(true));
    assert_eq!(heap.pinned_objects(), 1);
    let pinned_at = heap.block(hs[5]).unwrap();
    for &h in hs.iter().step_by(2) {
        heap.free(h).unwrap();
    }
    heap.check().unwrap();
    let moved_before = heap.block(hs[7]).unwrap();
    let d = heap.defragment();
    heap.check().unwrap();
    assert_eq!(heap.block(hs[5]).unwrap(), pinned_at);
    assert!(heap.block(hs[7]).unwrap() < moved_before);
    assert!(d.moved_objects > 0 && d.moved_bytes >= d.moved_objects * mem3_pool::MIN_BLOCK);
    for (i, &h) in hs.iter().enumerate().skip(1).step_by(2) {
        assert_eq!(heap.get(h), Ok(ObjectRef::Int(i as i64)));
    }
    // The gap before the pinned object stays free: two free blocks.
    assert_eq!(heap.pool().stats().free_blocks, 2);
    heap.unpin(hs[5]).unwrap();
    heap.unpin(hs[5]).unwrap(); // idempotent
    assert_eq!(heap.pinned_objects(), 0);
    heap.defragment();
    let s = heap.pool().stats();
    assert_eq!((s.free_blocks, s.largest_free), (1, s.free_bytes));
    // Freeing a pinned object is allowed and unpins it.
    heap.pin(hs[3]).unwrap();
    heap.free(hs[3]).unwrap();
    assert_eq!(heap.pinned_objects(), 0);
    heap.check().unwrap();
}

#[test]
fn would_fit_counts_gaps_between_pinned_objects() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    // Fill the pool with 64-byte blocks, then free all but every fourth one and pin those.
    let s40 = "a".repeat(40);
    let mut hs = Vec::new();
    while let Ok(h) = heap.alloc_str(&s40) {
        hs.push(h);
    }
    for (i, &h) in hs.iter().enumerate() {
        // Pinning the last one too keeps the pool's tail from forming a larger gap.
        if i % 4 == 0 || i == hs.len() - 1 { heap.pin(h).unwrap() } else { heap.free(h).unwrap() }
    }
    let free = heap.pool().stats().free_bytes;
    // Each gap between pinned objects is 3 * 64 = 192 bytes: a 180-byte block fits, a 200-byte one does not
    // although the total free space is far larger.
    let fits = "b".repeat(192 - 8 - OBJECT_HEADER_SIZE);
    let too_big = "b".repeat(200 - 8 - OBJECT_HEADER_SIZE);
    assert!(free > 1000);
    assert!(heap.would_fit_after_defragment(ObjectRef::Str(&fits)));
    assert!(!heap.would_fit_after_defragment(ObjectRef::Str(&too_big)));
    assert!(matches!(heap.alloc_str(&too_big), Err(Error::Pool(PoolError::OutOfMemory { .. }))));
    heap.alloc_str(&fits).unwrap();
    heap.check().unwrap();
}

#[test]
fn kind_of_block_for_heap_maps() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    heap.alloc_int(1).unwrap();
    heap.alloc_float(1.0).unwrap();
    heap.alloc_str("s").unwrap();
    let kinds: Vec<_> = heap
        .pool()
        .blocks()
        .filter(|b| b.state != BlockState::Free)
        .map(|b| heap.kind_of_block(b.block().unwrap()))
        .collect();
    assert_eq!(kinds, [Some(ObjectKind::Int), Some(ObjectKind::Float), Some(ObjectKind::Str)]);
    assert_eq!(heap.kind_of_block(Block::from_offset(12345).unwrap()), None);
}

/// The number-first read gives what `get` gives, for every kind and for a stale handle.
#[test]
fn get_expecting_number_reads_as_get_reads() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let values = [
        ObjectRef::Int(-3),
        ObjectRef::Float(0.25),
        ObjectRef::Str("eight by"),
        ObjectRef::Str(""),
    ];
    let hs: Vec<_> = values.iter().map(|&v| heap.alloc(v).unwrap()).collect();
    for (&h, &v) in hs.iter().zip(&values) {
        assert_eq!(heap.get_expecting_number(h), Ok(v));
    }
    heap.free(hs[0]).unwrap();
    assert_eq!(heap.get_expecting_number(hs[0]), Err(Error::StaleHandle));
    // Moved by compaction, read at its new place.
    assert_eq!(heap.defragment().moved_objects, 3);
    assert_eq!(heap.get_expecting_number(hs[1]), Ok(values[1]));
}

/// The int fast path answers only for a live int of its own handle: a float, a string, a stale handle (also
/// one whose slot a new int took) and a corrupt header all give `None`, so the caller takes the general read.
#[test]
fn get_int_answers_only_for_a_live_int() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let i = heap.alloc_int(i64::MIN).unwrap();
    let f = heap.alloc_float(7.0).unwrap();
    let s = heap.alloc_str("eight by").unwrap();
    assert_eq!(heap.get_int(i), Some(i64::MIN));
    assert_eq!(heap.get_int(f), None);
    assert_eq!(heap.get_int(s), None);
    heap.free(i).unwrap();
    assert_eq!(heap.get_int(i), None);
    // The freed slot's next occupant is an int too, in the same block: the old handle still reads nothing.
    let j = heap.alloc_int(42).unwrap();
    assert_eq!(j.index(), i.index());
    assert_eq!(heap.get_int(i), None);
    assert_eq!(heap.get_int(j), Some(42));
    // Moved by compaction, read at its new place.
    heap.free(f).unwrap();
    heap.defragment();
    assert_eq!(heap.get_int(j), Some(42));
    // A header that is not an int's in every word, or names another owner.
    for (at, bytes) in [
        (0, &[2u8][..]),
        (1, &[1]),
        (LEN_OFFSET, &9u32.to_ne_bytes()),
        (INDEX_OFFSET, &77u32.to_ne_bytes()),
        (GENERATION_OFFSET, &9u32.to_ne_bytes()),
    ] {
        let k = heap.alloc_int(5).unwrap();
        assert_eq!(heap.get_int(k), Some(5));
        poke(&mut heap, k, at, bytes);
        assert_eq!(heap.get_int(k), None, "after poking {bytes:?} at {at}");
    }
}

#[test]
fn corrupt_headers_are_errors() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let cases: [(&str, usize, &[u8], &str); 8] = [
        ("s", 0, &[0], "unknown object kind"),
        ("s", 0, &[9], "unknown object kind"),
        ("s", 1, &[1], "reserved header bytes are not zero"),
        ("s", 3, &[0x80], "reserved header bytes are not zero"),
        ("s", LEN_OFFSET, &u32::MAX.to_ne_bytes(), "string length runs past the block"),
        ("s", OBJECT_HEADER_SIZE, &[0xff], "string is not UTF-8"),
        ("s", GENERATION_OFFSET, &0u32.to_ne_bytes(), "owner generation is zero"),
        ("s", INDEX_OFFSET, &77u32.to_ne_bytes(), "object header names another handle"),
    ];
    for (s, at, bytes, what) in cases {
        let h = heap.alloc_str(s).unwrap();
        poke(&mut heap, h, at, bytes);
        assert_eq!(corrupt_what(heap.get(h)), what, "get after poking {bytes:?} at {at}");
        assert_eq!(heap.get_expecting_number(h), heap.get(h));
        assert_eq!(corrupt_what(heap.check()), what, "check after poking {bytes:?} at {at}");
        // Defragmenting with a corrupt header still keeps every other handle right.
        heap.defragment();
        poke(&mut heap, h, 0, &[3, 0, 0, 0]);
        poke(&mut heap, h, LEN_OFFSET, &1u32.to_ne_bytes());
        poke(&mut heap, h, INDEX_OFFSET, &h.index().to_ne_bytes());
        poke(&mut heap, h, GENERATION_OFFSET, &h.generation().get().to_ne_bytes());
        poke(&mut heap, h, OBJECT_HEADER_SIZE, b"s");
        heap.check().unwrap();
        heap.free(h).unwrap();
    }
    let n = heap.alloc_int(5).unwrap();
    poke(&mut heap, n, LEN_OFFSET, &9u32.to_ne_bytes());
    assert_eq!(corrupt_what(heap.get(n)), "number object with a length other than 8");
    assert_eq!(heap.get_expecting_number(n), heap.get(n));
    // A number's kind with a string's length, and a header naming another owner: the checked read's errors.
    let f = heap.alloc_float(2.5).unwrap();
    poke(&mut heap, f, 0, &[3, 0, 0, 0]);
    assert_eq!(heap.get_expecting_number(f), heap.get(f));
    assert_eq!(heap.get(f), Ok(ObjectRef::Str("\0\0\0\0\0\0\u{4}@")));
    let g = heap.alloc_int(9).unwrap();
    poke(&mut heap, g, INDEX_OFFSET, &77u32.to_ne_bytes());
    assert_eq!(corrupt_what(heap.get_expecting_number(g)), "object header names another handle");
    assert_eq!(corrupt_what(heap.kind(n)), "number object with a length other than 8");
}

#[test]
fn defragment_survives_a_corrupt_owner_index() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let a = heap.alloc_int(1).unwrap();
    let b = heap.alloc_int(2).unwrap();
    let c = heap.alloc_int(3).unwrap();
    heap.free(a).unwrap();
    // `c`'s header claims `b` owns it; compaction must still move `c`'s handle along with `c`.
    poke(&mut heap, c, INDEX_OFFSET, &b.index().to_ne_bytes());
    heap.defragment();
    assert_eq!(heap.get(b), Ok(ObjectRef::Int(2)));
    assert_eq!(corrupt_what(heap.get(c)), "object header names another handle");
    poke(&mut heap, c, INDEX_OFFSET, &c.index().to_ne_bytes());
    assert_eq!(heap.get(c), Ok(ObjectRef::Int(3)));
    heap.check().unwrap();
}

#[test]
fn retain_leaves_an_object_whose_header_names_another_slot() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let a = heap.alloc_int(1).unwrap();
    let b = heap.alloc_int(2).unwrap();
    // `b`'s header claims `a`'s slot, which holds `a`'s block: the sweep must not free `a` for it, nor `b`.
    poke(&mut heap, b, INDEX_OFFSET, &a.index().to_ne_bytes());
    assert_eq!(heap.retain(|h| h != a), Ok(1));
    assert!(!heap.contains(a));
    assert_eq!(corrupt_what(heap.get(b)), "object header names another handle");
    assert_eq!(heap.pool().stats().used_blocks, 1);
    assert_eq!(heap.retain(|_| false), Ok(0));
    poke(&mut heap, b, INDEX_OFFSET, &b.index().to_ne_bytes());
    assert_eq!(heap.retain(|_| false), Ok(1));
    assert!(heap.is_empty());
    heap.check().unwrap();
}

#[test]
fn retain_proves_ownership_by_the_slot_not_the_rest_of_the_header() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let a = heap.alloc_str("abc").unwrap();
    let b = heap.alloc_int(2).unwrap();
    // A corrupt kind with the right owner: `check` and `get` report it, and the sweep still frees the
    // object when it is garbage, since its slot holds exactly its block.
    poke(&mut heap, a, 0, &[9]);
    assert_eq!(corrupt_what(heap.check()), "unknown object kind");
    assert_eq!(heap.retain(|_| true), Ok(0));
    assert_eq!(heap.retain(|h| h == b), Ok(1));
    assert!(!heap.contains(a));
    assert_eq!(heap.get(a), Err(Error::StaleHandle));
    assert_eq!(heap.get(b), Ok(ObjectRef::Int(2)));
    heap.check().unwrap();
    // A zero generation names no handle: left alone.
    poke(&mut heap, b, GENERATION_OFFSET, &0u32.to_ne_bytes());
    assert_eq!(heap.retain(|_| false), Ok(0));
    assert_eq!(heap.pool().stats().used_blocks, 1);
}

#[test]
fn check_finds_handle_table_faults() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let _a = heap.alloc_int(1).unwrap();
    let b = heap.alloc_int(2).unwrap();
    heap.check().unwrap();

    // Two handles naming one object.
    let saved = heap.table.slots[1];
    let Slot::Occupied { block: block_a, .. } = heap.table.slots[0] else { panic!() };
    let Slot::Occupied { block, .. } = &mut heap.table.slots[1] else { panic!() };
    *block = block_a;
    assert_eq!(corrupt_what(heap.check()), "object header names another handle");
    heap.table.slots[1] = saved;

    // A handle naming a freed block.
    let block_b = heap.block(b).unwrap();
    heap.pool.free(block_b).unwrap();
    assert_eq!(corrupt_what(heap.check()), "a live handle names no live block");
    heap.table.slots[1] = Slot::Retired;
    heap.table.live -= 1;
    heap.table.retired += 1;
    heap.check().unwrap();

    // An object no handle owns.
    let orphan = heap.alloc_int(3).unwrap();
    heap.table.slots[orphan.index() as usize] =
        Slot::Vacant { generation: NonZeroU32::MIN, next_free: NO_SLOT };
    heap.table.live -= 1;
    heap.table.free_head = orphan.index();
    assert_eq!(
        corrupt_what(heap.check()),
        "used block is not owned by the handle its header names"
    );

    // A free-list loop, and a free list that misses a vacant slot.
    heap.table.slots[orphan.index() as usize] =
        Slot::Vacant { generation: NonZeroU32::MIN, next_free: orphan.index() };
    assert_eq!(corrupt_what(heap.check()), "handle free list loops or links a used slot");
    heap.table.free_head = NO_SLOT;
    assert_eq!(corrupt_what(heap.check()), "handle free list misses vacant slots");
}

/// The pin state has one record, the pool block's flag: pinning the block behind the heap's back is pinning
/// the object, with nothing left to disagree (`check` used to compare an object flag and a counter with it).
#[test]
fn the_pool_block_is_the_only_record_of_a_pin() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let a = heap.alloc_int(1).unwrap();
    let b = heap.alloc_int(2).unwrap();
    heap.pool.pin(heap.block(a).unwrap()).unwrap();
    heap.check().unwrap();
    assert_eq!((heap.is_pinned(a), heap.is_pinned(b)), (Ok(true), Ok(false)));
    assert_eq!(heap.pinned_objects(), 1);
    // The heap's unpin clears the pool's flag, which is what compaction reads.
    heap.unpin(a).unwrap();
    assert_eq!(heap.pool().is_pinned(heap.block(a).unwrap()), Ok(false));
    heap.pin(b).unwrap();
    assert_eq!(heap.pool().is_pinned(heap.block(b).unwrap()), Ok(true));
    assert_eq!(heap.pinned_objects(), 1);
    // The header carries no copy: pinning leaves the object's bytes as they were.
    let before =
        heap.pool().payload(heap.block(a).unwrap()).unwrap()[..OBJECT_HEADER_SIZE].to_vec();
    heap.pin(a).unwrap();
    assert_eq!(
        &heap.pool().payload(heap.block(a).unwrap()).unwrap()[..OBJECT_HEADER_SIZE],
        &before[..]
    );
    assert_eq!(heap.pinned_objects(), 2);
    heap.check().unwrap();
}

/// The pool's check failure is carried as the pool's own `Corruption`, message and all, not restated.
#[test]
fn pool_corruption_is_carried_whole() {
    let c =
        Corruption { offset: 64, kind: CorruptionKind::FooterMismatch { size: 32, footer: 40 } };
    let e: Error = c.clone().into();
    assert_eq!(e, Error::PoolCorrupt(c.clone()));
    assert_eq!(e.to_string(), "pool corrupt at offset 64: footer 40 does not match header size 32");
    let source = core::error::Error::source(&e).expect("the pool's corruption is the source");
    assert_eq!(source.downcast_ref::<Corruption>(), Some(&c));
}

/// Out of memory is the pool's error: the heap passes it up, and `source` reaches it.
#[test]
fn out_of_memory_is_the_pools_error() {
    let mut r = region(1024);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let e = heap.alloc_str(&"x".repeat(2000)).unwrap_err();
    assert!(e.is_out_of_memory());
    assert!(!Error::TooManyHandles.is_out_of_memory());
    let source = core::error::Error::source(&e).expect("the pool's error is the source");
    let pool = source.downcast_ref::<PoolError>().expect("a mem3_pool::Error");
    assert!(matches!(pool, PoolError::OutOfMemory { requested: 2016, .. }), "{pool:?}");
    assert_eq!(e.to_string(), pool.to_string());
}

#[test]
fn error_messages() {
    let cases: [(Error, &str); 4] = [
        (Error::StaleHandle, "stale handle"),
        (Error::TooManyHandles, "too many handles"),
        (
            Error::Pool(PoolError::OutOfMemory { requested: 40, free: 32, largest_free: 32 }),
            "out of memory: requested 40 bytes, 32 bytes free, largest free block 32 bytes",
        ),
        (
            Error::Corrupt { offset: 8, what: "unknown object kind" },
            "corrupt object heap at offset 8: unknown object kind",
        ),
    ];
    for (e, msg) in cases {
        assert_eq!(format!("{e}"), msg);
    }
    let pool = Error::from(mem3_pool::Error::InvalidBlock { offset: 3 });
    assert_eq!(format!("{pool}"), "offset 3 is not the start of a live block");
}

#[test]
fn deferred_coalescing_defragments_too() {
    let mut r = region(4096);
    let config = Config { coalescing: mem3_pool::Coalescing::Deferred, ..Config::default() };
    let mut heap = ObjectHeap::with_config(&mut r, config).unwrap();
    let hs: Vec<_> = (0..20).map(|i| heap.alloc_str(&"z".repeat(i)).unwrap()).collect();
    for &h in &hs[..10] {
        heap.free(h).unwrap();
    }
    let d = heap.defragment();
    assert_eq!(d.merges, 9);
    assert_eq!(d.moved_objects, 10);
    let s = heap.pool().stats();
    assert_eq!(s.largest_free, s.free_bytes);
    for (i, &h) in hs.iter().enumerate().skip(10) {
        assert_eq!(heap.get(h), Ok(ObjectRef::Str(&"z".repeat(i))));
    }
    heap.check().unwrap();
}

#[test]
fn stats_count_the_handle_table() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let hs: Vec<_> = (0..10).map(|i| heap.alloc_int(i).unwrap()).collect();
    heap.free(hs[0]).unwrap();
    let s = heap.stats();
    assert_eq!((s.live_objects, s.handle_slots, s.retired_slots), (9, 10, 0));
    assert!(s.handle_table_bytes >= 10 * core::mem::size_of::<Slot>());
    assert_eq!(s.pool.used_blocks, 9);
}

proptest::proptest! {
    // Under Miri: a few cases, and no failure file (Miri isolates the file system).
    #![proptest_config(if cfg!(miri) {
        proptest::prelude::ProptestConfig { cases: 4, failure_persistence: None, ..Default::default() }
    } else {
        proptest::prelude::ProptestConfig::with_cases(256)
    })]

    /// Decoding arbitrary bytes returns a value or an error, never a panic; a value it returns is what the
    /// bytes say.
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
                           kind in 0u8..5, len in 0u32..64) {
        let mut bytes = bytes;
        if bytes.len() >= OBJECT_HEADER_SIZE {
            bytes[0] = kind;
            bytes[LEN_OFFSET..INDEX_OFFSET].copy_from_slice(&len.to_ne_bytes());
        }
        if let Ok((hdr, value)) = object::decode(&bytes, 8) {
            proptest::prop_assert_eq!(hdr.kind, value.kind());
            if let ObjectRef::Str(s) = value {
                proptest::prop_assert_eq!(s.as_bytes(), &bytes[16..16 + len as usize]);
            }
        }
    }

    /// The fast read `ObjectHeap::get` uses gives exactly the full decode's answer followed by the owner
    /// check, on any bytes: the same value, or the same error. Headers near a valid one (each field chosen
    /// from valid and invalid values) make every fast-path compare both pass and fail.
    #[test]
    fn decode_owned_matches_the_full_decode(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
        kind in 0u8..5, reserved in proptest::prop_oneof![proptest::strategy::Just(0u8), 1u8..=255],
        len in proptest::prop_oneof![proptest::strategy::Just(8u32), 0u32..32, proptest::prelude::any::<u32>()],
        index in proptest::prop_oneof![proptest::strategy::Just(1u32), 0u32..3],
        generation in proptest::prop_oneof![proptest::strategy::Just(1u32), 0u32..3],
        short in 0usize..20,
    ) {
        let owner = Handle::new(1, NonZeroU32::new(1).unwrap());
        let mut bytes = vec![kind, 0, reserved, 0];
        bytes.extend_from_slice(&len.to_ne_bytes());
        bytes.extend_from_slice(&index.to_ne_bytes());
        bytes.extend_from_slice(&generation.to_ne_bytes());
        bytes.extend_from_slice(&data);
        // Sometimes a payload shorter than the header.
        if short < 4 {
            bytes.truncate(short * 5);
        }
        let reference = object::decode(&bytes, 8).and_then(|(hdr, value)| {
            if hdr.index != owner.index() || hdr.generation != owner.generation() {
                return Err(Error::Corrupt { offset: 8, what: "object header names another handle" });
            }
            Ok(value)
        });
        let fast = object::decode_owned(&bytes, 8, owner);
        match (fast, reference) {
            (Ok(ObjectRef::Float(a)), Ok(ObjectRef::Float(b))) => {
                proptest::prop_assert_eq!(a.to_bits(), b.to_bits());
            }
            (fast, reference) => proptest::prop_assert_eq!(fast, reference),
        }
    }
}

#[test]
fn encode_decode_round_trip() {
    let owner = Handle::new(3, NonZeroU32::new(5).unwrap());
    let long = String::from("ünïcödé");
    for value in [ObjectRef::Int(-1), ObjectRef::Float(-0.0), ObjectRef::Str(&long)] {
        let mut buf = [0u8; 64];
        object::encode(&mut buf, value, owner);
        let (hdr, back) = object::decode(&buf, 8).unwrap();
        assert_eq!((hdr.index, hdr.generation, hdr.reserved), (3, owner.generation(), [0; 3]));
        match (value, back) {
            (ObjectRef::Float(a), ObjectRef::Float(b)) => assert_eq!(a.to_bits(), b.to_bits()),
            (a, b) => assert_eq!(a, b),
        }
    }
}

#[test]
fn retain_by_handles_frees_what_retain_frees_and_leaves_the_same_pool() {
    // Two regions at the same alignment, so that the two pools have the same capacity and layout.
    let (mut r1, mut r2) = (region(4096 + 64), region(4096 + 64));
    let mut by_blocks = ObjectHeap::new(aligned(&mut r1, 4096)).unwrap();
    let mut by_handles = ObjectHeap::new(aligned(&mut r2, 4096)).unwrap();
    for heap in [&mut by_blocks, &mut by_handles] {
        let hs: Vec<_> = (0..20).map(|i| heap.alloc_int(i).unwrap()).collect();
        heap.alloc_str("a string among the ints").unwrap();
        heap.pin(hs[3]).unwrap();
        heap.free(hs[7]).unwrap();
    }
    let keep = |h: Handle| h.index() % 3 == 0;
    assert_eq!(by_blocks.retain(keep), Ok(13));
    assert_eq!(by_handles.retain_by_handles(keep), Ok(13));
    by_handles.check().unwrap();
    assert_eq!(by_handles.handles().collect::<Vec<_>>(), by_blocks.handles().collect::<Vec<_>>());
    for h in by_handles.handles() {
        assert_eq!(by_handles.get(h), by_blocks.get(h));
    }
    let blocks = |heap: &ObjectHeap<'_>| heap.pool().blocks().collect::<Vec<_>>();
    assert_eq!(blocks(&by_handles), blocks(&by_blocks));
    assert_eq!(by_handles.pool().stats(), by_blocks.pool().stats());
    assert_eq!(by_handles.retain_by_handles(|_| false), Ok(7));
    assert!(by_handles.is_empty());
    assert_eq!(by_handles.pool().stats().free_blocks, 1);
    by_handles.check().unwrap();
}

/// A root list with repeats and stale handles (one of them sharing its slot with a live object it must not
/// keep) frees exactly what `retain_by_handles` frees when asked about membership in that list.
#[test]
fn retain_handles_frees_what_retain_by_handles_frees() {
    let (mut r1, mut r2) = (region(4096 + 64), region(4096 + 64));
    let mut by_list = ObjectHeap::new(aligned(&mut r1, 4096)).unwrap();
    let mut by_keep = ObjectHeap::new(aligned(&mut r2, 4096)).unwrap();
    let mut roots = Vec::new();
    for heap in [&mut by_list, &mut by_keep] {
        let hs: Vec<_> = (0..70).map(|i| heap.alloc_int(i).unwrap()).collect();
        heap.alloc_str("a string among the ints").unwrap();
        heap.pin(hs[3]).unwrap();
        heap.free(hs[7]).unwrap();
        // Slot 7 again, a newer generation: the stale `hs[7]` among the roots must not keep it.
        let reused = heap.alloc_float(7.5).unwrap();
        assert_eq!(reused.index(), hs[7].index());
        roots = vec![hs[66], hs[3], hs[7], hs[66], hs[0], hs[65], hs[7], hs[40]];
    }
    assert_eq!(by_list.retain_handles(&roots), Ok(66));
    assert_eq!(by_keep.retain_by_handles(|h| roots.contains(&h)), Ok(66));
    by_list.check().unwrap();
    let live: Vec<_> = by_list.handles().collect();
    assert_eq!(live, by_keep.handles().collect::<Vec<_>>());
    assert_eq!(live, [roots[4], roots[1], roots[7], roots[5], roots[0]]);
    for &h in &live {
        assert_eq!(by_list.get(h), by_keep.get(h));
    }
    let blocks = |heap: &ObjectHeap<'_>| heap.pool().blocks().collect::<Vec<_>>();
    assert_eq!(blocks(&by_list), blocks(&by_keep));
    assert_eq!(by_list.stats(), by_keep.stats());
    assert_eq!(by_list.retain_handles(&[]), Ok(5));
    assert!(by_list.is_empty());
    by_list.check().unwrap();
}

#[test]
fn retain_by_handles_changes_nothing_when_keep_panics_or_the_table_is_corrupt() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let hs: Vec<_> = (0..12).map(|i| heap.alloc_int(i).unwrap()).collect();
    let snapshot = |heap: &ObjectHeap<'_>| {
        (heap.handles().collect::<Vec<_>>(), heap.pool().blocks().collect::<Vec<_>>())
    };
    let before = snapshot(&heap);
    let mut calls = 0;
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        heap.retain_by_handles(|h| {
            calls += 1;
            if calls == 6 {
                std::panic::resume_unwind(std::boxed::Box::new("keep fails"));
            }
            h.index() % 2 == 0
        })
    }));
    assert!(unwound.is_err());
    assert_eq!(snapshot(&heap), before, "the rejected objects before the panic are still there");
    heap.check().unwrap();
    // Two slots naming one block: the pool refuses the survivors' list, and nothing changes.
    let saved = heap.table.slots[1];
    let Slot::Occupied { block, .. } = heap.table.slots[0] else { unreachable!() };
    let Slot::Occupied { generation, .. } = saved else { unreachable!() };
    heap.table.slots[1] = Slot::Occupied { generation, block };
    let before = snapshot(&heap);
    assert!(matches!(
        heap.retain_by_handles(|h| h != hs[5]),
        Err(Error::Pool(mem3_pool::Error::OutOfOrder { .. }))
    ));
    assert_eq!(snapshot(&heap), before);
    heap.table.slots[1] = saved;
    heap.check().unwrap();
}

#[test]
fn retain_by_handles_retires_a_slot_whose_generation_is_used_up() {
    let mut r = region(4096);
    let mut heap = ObjectHeap::new(&mut r).unwrap();
    let first = heap.alloc_int(1).unwrap();
    let kept = heap.alloc_int(2).unwrap();
    heap.free(first).unwrap();
    // Skip four billion frees: slot 0's next occupant gets the last generation.
    let Slot::Vacant { generation, .. } = &mut heap.table.slots[0] else { panic!() };
    *generation = NonZeroU32::MAX;
    let last = heap.alloc_int(3).unwrap();
    assert_eq!((last.index(), last.generation()), (0, NonZeroU32::MAX));
    assert_eq!(heap.retain_by_handles(|h| h == kept), Ok(1));
    assert_eq!(heap.table.slots[0], Slot::Retired);
    assert_eq!(heap.stats().retired_slots, 1);
    assert_eq!(heap.get(last), Err(Error::StaleHandle));
    assert_eq!(heap.get(kept), Ok(ObjectRef::Int(2)));
    // The retired slot is never handed out again.
    assert_eq!(heap.alloc_int(4).unwrap().index(), 2);
    heap.check().unwrap();
}
