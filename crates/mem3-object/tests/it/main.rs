//! Public-API tests: a model test against a `HashMap`, and the fragmentation failure compaction cures.

#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};

use mem3_object::{Error, Handle, ObjectHeap, ObjectKind, ObjectRef};
use mem3_pool::{Block, Coalescing, Config, Error as PoolError, Policy};
use proptest::prelude::*;

/// A value as the model holds it. Floats are kept as bits so that NaNs compare equal to themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Int(i64),
    Float(u64),
    Str(String),
}

impl Value {
    fn as_ref(&self) -> ObjectRef<'_> {
        match self {
            Value::Int(v) => ObjectRef::Int(*v),
            Value::Float(bits) => ObjectRef::Float(f64::from_bits(*bits)),
            Value::Str(s) => ObjectRef::Str(s),
        }
    }

    fn of(r: ObjectRef<'_>) -> Value {
        match r {
            ObjectRef::Int(v) => Value::Int(v),
            ObjectRef::Float(v) => Value::Float(v.to_bits()),
            ObjectRef::Str(s) => Value::Str(s.to_owned()),
        }
    }

    fn kind(&self) -> ObjectKind {
        self.as_ref().kind()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Alloc(Value),
    /// Operations on the live handle at this position (modulo the number of live handles).
    Free(usize),
    Pin(usize),
    Unpin(usize),
    Defragment,
    /// Uses the stale handle at this position.
    UseStale(usize),
    SetAutoDefragment(bool),
    /// A collector's sweep keeping the live handles whose position is not a multiple of `2 + modulus % 3`:
    /// `retain_by_handles` if `by_handles`, else `retain`.
    Collect {
        modulus: u8,
        by_handles: bool,
    },
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        // Every bit pattern, so NaNs with payloads, infinities and -0.0 all occur.
        any::<u64>().prop_map(Value::Float),
        "\\PC{0,12}".prop_map(Value::Str),
        // Strings long enough to need a large hole.
        (40usize..400).prop_map(|n| Value::Str("é".repeat(n / 2))),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => value().prop_map(Op::Alloc),
        5 => any::<usize>().prop_map(Op::Free),
        2 => any::<usize>().prop_map(Op::Pin),
        2 => any::<usize>().prop_map(Op::Unpin),
        1 => Just(Op::Defragment),
        2 => any::<usize>().prop_map(Op::UseStale),
        1 => any::<bool>().prop_map(Op::SetAutoDefragment),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(modulus, by_handles)| Op::Collect { modulus, by_handles }),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop_oneof![Just(Policy::FirstFit), Just(Policy::BestFit)],
        prop_oneof![Just(Coalescing::Immediate), Just(Coalescing::Deferred)],
    )
        .prop_map(|(policy, coalescing)| Config { policy, coalescing, ..Config::default() })
}

struct Model {
    live: HashMap<Handle, Value>,
    pinned: HashSet<Handle>,
    stale: Vec<Handle>,
    /// Live handles in allocation order, so that an index picks the same handle on every run.
    order: Vec<Handle>,
}

fn pick(order: &[Handle], i: usize) -> Option<Handle> {
    (!order.is_empty()).then(|| order[i % order.len()])
}

/// Runs `ops` on a heap over `region_len` bytes and compares it with the model after every step.
fn run(region_len: usize, config: Config, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut region = vec![0u8; region_len];
    let mut heap = ObjectHeap::with_config(&mut region, config).unwrap();
    let mut m = Model {
        live: HashMap::new(),
        pinned: HashSet::new(),
        stale: Vec::new(),
        order: Vec::new(),
    };
    let mut auto = true;
    for op in ops {
        match op {
            Op::Alloc(v) => {
                let would_fit = heap.would_fit_after_defragment(v.as_ref());
                let r = heap.alloc(v.as_ref());
                if auto && would_fit {
                    prop_assert!(
                        r.is_ok(),
                        "{:?} would fit after defragmenting but got {:?}",
                        v,
                        r
                    );
                }
                match r {
                    Ok(h) => {
                        prop_assert!(!m.live.contains_key(&h), "{h:?} handed out twice");
                        prop_assert!(!m.stale.contains(&h), "stale {h:?} came back to life");
                        m.live.insert(h, v.clone());
                        m.order.push(h);
                    }
                    Err(Error::Pool(PoolError::OutOfMemory { requested, free, largest_free })) => {
                        let s = heap.pool().stats();
                        prop_assert_eq!(requested, ObjectHeap::object_size(v.as_ref()));
                        prop_assert_eq!((free, largest_free), (s.free_bytes, s.largest_free));
                        prop_assert!(requested + mem3_pool::HEADER_SIZE > largest_free);
                        if auto {
                            // With auto-defragmentation an allocation only fails when compaction could
                            // not have made room.
                            prop_assert!(!heap.would_fit_after_defragment(v.as_ref()));
                        }
                    }
                    Err(e) => prop_assert!(false, "alloc failed with {e:?}"),
                }
            }
            Op::Free(i) => {
                if let Some(h) = pick(&m.order, *i) {
                    prop_assert_eq!(heap.free(h), Ok(()));
                    m.live.remove(&h);
                    m.pinned.remove(&h);
                    m.order.retain(|&x| x != h);
                    m.stale.push(h);
                }
            }
            Op::Pin(i) => {
                if let Some(h) = pick(&m.order, *i) {
                    prop_assert_eq!(heap.pin(h), Ok(()));
                    m.pinned.insert(h);
                }
            }
            Op::Unpin(i) => {
                if let Some(h) = pick(&m.order, *i) {
                    prop_assert_eq!(heap.unpin(h), Ok(()));
                    m.pinned.remove(&h);
                }
            }
            Op::Defragment => {
                let pinned_at: Vec<(Handle, Block)> =
                    m.pinned.iter().map(|&h| (h, heap.block(h).unwrap())).collect();
                let d = heap.defragment();
                let s = heap.pool().stats();
                prop_assert!(d.moved_objects <= m.live.len());
                if m.pinned.is_empty() {
                    prop_assert_eq!(s.largest_free, s.free_bytes);
                }
                for (h, block) in pinned_at {
                    prop_assert_eq!(heap.block(h), Ok(block), "pinned {:?} moved", h);
                }
            }
            Op::UseStale(i) => {
                if let Some(h) = pick(&m.stale, *i) {
                    prop_assert_eq!(heap.get(h), Err(Error::StaleHandle));
                    prop_assert_eq!(heap.free(h), Err(Error::StaleHandle));
                    prop_assert_eq!(heap.pin(h), Err(Error::StaleHandle));
                    prop_assert_eq!(heap.unpin(h), Err(Error::StaleHandle));
                }
            }
            Op::SetAutoDefragment(on) => {
                auto = *on;
                heap.set_defragment_on_failure(auto);
            }
            Op::Collect { modulus, by_handles } => {
                let every = 2 + usize::from(*modulus % 3);
                let refused: HashSet<Handle> = m
                    .order
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % every == 0)
                    .map(|(_, &h)| h)
                    .collect();
                let mut asked = HashSet::new();
                let keep = |h: Handle| {
                    asked.insert(h);
                    !refused.contains(&h)
                };
                let freed =
                    if *by_handles { heap.retain_by_handles(keep) } else { heap.retain(keep) };
                prop_assert_eq!(freed, Ok(refused.len()));
                prop_assert_eq!(asked.len(), m.live.len(), "asked about every live handle");
                for &h in &refused {
                    m.live.remove(&h);
                    m.pinned.remove(&h);
                    m.stale.push(h);
                }
                m.order.retain(|h| !refused.contains(h));
                let s = heap.pool().stats();
                prop_assert_eq!(s.used_blocks, m.live.len(), "every refused block freed");
            }
        }
        // After every step: the heap is consistent and agrees with the model.
        prop_assert_eq!(heap.check(), Ok(()), "after {:?}", op);
        prop_assert_eq!(heap.len(), m.live.len());
        let handles: HashSet<Handle> = heap.handles().collect();
        prop_assert_eq!(handles.len(), m.live.len());
        for (&h, v) in &m.live {
            prop_assert!(handles.contains(&h));
            prop_assert_eq!(heap.get(h).map(Value::of), Ok(v.clone()), "{:?}", h);
            prop_assert_eq!(heap.kind(h), Ok(v.kind()));
            prop_assert_eq!(heap.is_pinned(h), Ok(m.pinned.contains(&h)));
        }
        for &h in &m.stale {
            prop_assert!(!heap.contains(h));
            prop_assert_eq!(heap.kind(h), Err(Error::StaleHandle));
        }
        let s = heap.stats();
        prop_assert_eq!((s.live_objects, heap.pinned_objects()), (m.live.len(), m.pinned.len()));
        prop_assert_eq!(s.pool.used_blocks, m.live.len());
    }
    Ok(())
}

/// Moderate by default (the suite must run in seconds on a shared machine); `PROPTEST_CASES` raises it for a
/// longer hunt.
fn cases() -> u32 {
    let default = if cfg!(miri) { 4 } else { 96 };
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

/// Under Miri, no failure file: Miri isolates the file system.
fn proptest_config() -> ProptestConfig {
    let config = ProptestConfig::with_cases(cases());
    if cfg!(miri) { ProptestConfig { failure_persistence: None, ..config } } else { config }
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn heap_matches_model_small(config in config(), ops in prop::collection::vec(op(), 0..200)) {
        run(1024, config, &ops)?;
    }

    #[test]
    fn heap_matches_model_4k(config in config(), ops in prop::collection::vec(op(), 0..300)) {
        run(4096, config, &ops)?;
    }
}

/// Fills the pool with equal strings, frees every other one, and returns the survivors with their values
/// and a string whose object is larger than any hole but smaller than the total free space.
fn fragment(heap: &mut ObjectHeap<'_>) -> (Vec<(Handle, String)>, String) {
    let mut all = Vec::new();
    for i in 0.. {
        let s = format!("{i:040}");
        match heap.alloc_str(&s) {
            Ok(h) => all.push((h, s)),
            Err(Error::Pool(PoolError::OutOfMemory { .. })) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let mut kept = Vec::new();
    for (i, (h, s)) in all.into_iter().enumerate() {
        if i % 2 == 0 { heap.free(h).unwrap() } else { kept.push((h, s)) }
    }
    let s = heap.pool().stats();
    assert!(s.free_blocks > 10, "the free space is scattered");
    // Twice the largest hole: fits nowhere now, but well inside the total free space.
    let big = "b".repeat(2 * s.largest_free);
    let need = ObjectHeap::object_size(ObjectRef::Str(&big)) + mem3_pool::HEADER_SIZE;
    assert!(need > s.largest_free && need < s.free_bytes);
    (kept, big)
}

#[test]
fn fragmented_alloc_succeeds_through_defragmentation() {
    let mut region = vec![0u8; 4096];
    let mut heap = ObjectHeap::new(&mut region).unwrap();
    let (kept, big) = fragment(&mut heap);
    assert!(heap.would_fit_after_defragment(ObjectRef::Str(&big)));
    let h = heap.alloc_str(&big).expect("alloc defragments and retries");
    assert_eq!(heap.get(h), Ok(ObjectRef::Str(&big)));
    for (h, s) in &kept {
        assert_eq!(heap.get(*h), Ok(ObjectRef::Str(s)), "survivors keep their values after moving");
    }
    heap.check().unwrap();
}

#[test]
fn fragmented_alloc_fails_without_auto_defragmentation() {
    let mut region = vec![0u8; 4096];
    let mut heap = ObjectHeap::new(&mut region).unwrap();
    heap.set_defragment_on_failure(false);
    let (kept, big) = fragment(&mut heap);
    let before = heap.pool().stats();
    let requested = ObjectHeap::object_size(ObjectRef::Str(&big));
    assert_eq!(
        heap.alloc_str(&big),
        Err(Error::Pool(PoolError::OutOfMemory {
            requested,
            free: before.free_bytes,
            largest_free: before.largest_free
        }))
    );
    assert_eq!(heap.pool().stats(), before, "nothing moved");
    // Defragmenting by hand makes the same request succeed.
    let d = heap.defragment();
    assert_eq!(d.moved_objects, kept.len());
    let after = heap.pool().stats();
    assert_eq!((after.free_blocks, after.largest_free), (1, after.free_bytes));
    let h = heap.alloc_str(&big).unwrap();
    assert_eq!(heap.get(h), Ok(ObjectRef::Str(&big)));
    for (h, s) in &kept {
        assert_eq!(heap.get(*h), Ok(ObjectRef::Str(s)));
    }
    heap.check().unwrap();
}

#[test]
fn pinned_objects_can_block_defragmentation() {
    let mut region = vec![0u8; 4096];
    let mut heap = ObjectHeap::new(&mut region).unwrap();
    let (kept, big) = fragment(&mut heap);
    // Pin every survivor: no gap grows, so the request fails even with auto-defragmentation.
    for (h, _) in &kept {
        heap.pin(*h).unwrap();
    }
    assert!(!heap.would_fit_after_defragment(ObjectRef::Str(&big)));
    assert!(matches!(heap.alloc_str(&big), Err(Error::Pool(PoolError::OutOfMemory { .. }))));
    for (h, _) in &kept {
        heap.unpin(*h).unwrap();
    }
    heap.alloc_str(&big).unwrap();
    heap.check().unwrap();
}
