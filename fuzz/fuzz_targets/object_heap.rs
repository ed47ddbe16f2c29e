//! Arbitrary sequences on an `ObjectHeap`: every live handle reads back exactly its value after any sequence
//! of frees, pins, collections and defragmentations; stale handles always error; `check()` passes after
//! every step.
#![no_main]
#![forbid(unsafe_code)]

use std::collections::HashMap;

use libfuzzer_sys::{arbitrary::Arbitrary, fuzz_target};
use mem3_object::{Error, Handle, ObjectHeap, ObjectRef};

#[derive(Arbitrary, Debug)]
enum Op {
    Int(i64),
    Float(f64),
    Str(String),
    Free(u16),
    Pin(u16),
    Unpin(u16),
    Defragment,
    UseStale(u16),
    AutoDefragment(bool),
    /// A collector's sweep keeping the live handles whose position is not a multiple of `2 + modulus % 3`.
    Collect { modulus: u8, sweep: Sweep },
}

/// Which of the object heap's sweeps a collection uses.
#[derive(Arbitrary, Debug)]
enum Sweep {
    /// `retain`: a callback per object, in address order.
    Blocks,
    /// `retain_by_handles`: a callback per live handle.
    Handles,
    /// `retain_handles`: a list of the kept handles, each twice, with every stale handle too.
    Roots,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(i64),
    FloatBits(u64),
    Str(String),
}

fn value(r: ObjectRef<'_>) -> Value {
    match r {
        ObjectRef::Int(v) => Value::Int(v),
        ObjectRef::Float(v) => Value::FloatBits(v.to_bits()),
        ObjectRef::Str(s) => Value::Str(s.to_owned()),
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    pool_len: u16,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let mut region = vec![0u8; usize::from(input.pool_len) + 64];
    let Ok(mut heap) = ObjectHeap::new(&mut region) else { return };
    let mut model: HashMap<Handle, Value> = HashMap::new();
    let mut live: Vec<Handle> = Vec::new();
    let mut stale: Vec<Handle> = Vec::new();
    for op in input.ops {
        let pick = |i: u16, n: usize| usize::from(i) % n;
        match op {
            Op::Int(v) => alloc(&mut heap, ObjectRef::Int(v), &mut model, &mut live),
            Op::Float(v) => alloc(&mut heap, ObjectRef::Float(v), &mut model, &mut live),
            Op::Str(s) => alloc(&mut heap, ObjectRef::Str(&s), &mut model, &mut live),
            Op::Free(i) if !live.is_empty() => {
                let h = live.swap_remove(pick(i, live.len()));
                heap.free(h).unwrap();
                model.remove(&h);
                stale.push(h);
            }
            Op::Pin(i) if !live.is_empty() => heap.pin(live[pick(i, live.len())]).unwrap(),
            Op::Unpin(i) if !live.is_empty() => heap.unpin(live[pick(i, live.len())]).unwrap(),
            Op::Defragment => {
                heap.defragment();
            }
            Op::UseStale(i) if !stale.is_empty() => {
                let h = stale[pick(i, stale.len())];
                assert_eq!(heap.get(h), Err(Error::StaleHandle));
                assert_eq!(heap.free(h), Err(Error::StaleHandle));
                assert_eq!(heap.pin(h), Err(Error::StaleHandle));
            }
            Op::AutoDefragment(on) => heap.set_defragment_on_failure(on),
            Op::Collect { modulus, sweep } => {
                let m = 2 + usize::from(modulus % 3);
                let refused: Vec<Handle> = live.iter().copied().step_by(m).collect();
                let keep = |h: Handle| !refused.contains(&h);
                let freed = match sweep {
                    Sweep::Blocks => heap.retain(keep),
                    Sweep::Handles => heap.retain_by_handles(keep),
                    Sweep::Roots => {
                        let kept = live.iter().copied().filter(|&h| keep(h));
                        let roots: Vec<Handle> =
                            kept.clone().chain(stale.iter().copied()).chain(kept).collect();
                        heap.retain_handles(&roots)
                    }
                };
                assert_eq!(freed, Ok(refused.len()));
                live.retain(|h| !refused.contains(h));
                for h in refused {
                    model.remove(&h);
                    stale.push(h);
                }
            }
            _ => {}
        }
        heap.check().unwrap();
        for (h, v) in &model {
            assert_eq!(&value(heap.get(*h).unwrap()), v);
        }
    }
});

fn alloc(
    heap: &mut ObjectHeap<'_>,
    v: ObjectRef<'_>,
    model: &mut HashMap<Handle, Value>,
    live: &mut Vec<Handle>,
) {
    match heap.alloc(v) {
        Ok(h) => {
            assert!(model.insert(h, value(v)).is_none(), "a live handle was handed out twice");
            live.push(h);
        }
        Err(e) if e.is_out_of_memory() || matches!(e, Error::TooManyHandles) => {}
        Err(e) => panic!("unexpected error {e}"),
    }
}
