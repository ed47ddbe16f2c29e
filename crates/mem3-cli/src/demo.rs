//! `mem3 demo`: fragmentation and defragmentation in one command.
//!
//! Built directly on the object heap, step by step, so that each step can be shown: fill a small pool with
//! VM objects, free some of them, watch a large allocation fail although enough bytes are free, defragment,
//! watch it succeed. The VM runs exactly these steps by itself when an allocation does not fit.

use std::fmt::Write as _;
use std::path::Path;

use mem3_pool::Error as PoolError;
use mem3_vm::ObjectHeap;
use mem3_vm::mem3_object::{Error as HeapError, Handle, ObjectRef};

use crate::heapmap::{self, HeapMap, TEXT_CELLS};
use crate::units::{bytes, thousands};
use crate::{Failure, Outcome, colour_stdout, emit, write_file};

/// The pool: small enough to draw in four lines of 64 cells.
const POOL_BYTES: usize = 16 << 10;
/// The large string the demo asks for.
const BIG_CHARS: usize = 4000;

/// What the fill loop allocates, 64 bytes at a time (one cell of the map), and whether it stays live.
/// A 40-byte string takes a 64-byte block; an int or a float a 32-byte one.
#[derive(Clone, Copy)]
enum Step {
    Str(bool),
    Int(bool),
    Float(bool),
}

/// Nine cells: live and freed strings, ints and floats, so the holes fall between live objects.
const PATTERN: [Step; 12] = [
    Step::Str(true),
    Step::Str(false),
    Step::Int(true),
    Step::Int(true),
    Step::Str(false),
    Step::Float(true),
    Step::Float(true),
    Step::Str(false),
    Step::Str(true),
    Step::Float(true),
    Step::Int(false),
    Step::Str(false),
];

/// The live object the demo pins: one in the first row of the map.
const PINNED: usize = 12;

/// A live object and the value it must still hold after it moves.
struct Live {
    handle: Handle,
    value: Value,
}

#[derive(PartialEq)]
enum Value {
    Int(i64),
    Float(f64),
    Str(String),
}

impl Value {
    fn as_ref(&self) -> ObjectRef<'_> {
        match self {
            Value::Int(v) => ObjectRef::Int(*v),
            Value::Float(v) => ObjectRef::Float(*v),
            Value::Str(s) => ObjectRef::Str(s),
        }
    }

    fn matches(&self, other: ObjectRef<'_>) -> bool {
        match (self, other) {
            (Value::Int(a), ObjectRef::Int(b)) => *a == b,
            (Value::Float(a), ObjectRef::Float(b)) => *a == b,
            (Value::Str(a), ObjectRef::Str(b)) => a == b,
            _ => false,
        }
    }
}

fn heap_failure(what: &str, e: HeapError) -> Failure {
    Failure::input(format!("demo: {what}: {e}"))
}

pub(crate) fn demo(map: Option<&Path>) -> Outcome {
    let colour = colour_stdout();
    // Printed at the end, in one write (see `crate::emit`).
    let mut out = String::new();
    let mut region = vec![0u8; POOL_BYTES];
    let mut heap = ObjectHeap::new(&mut region).map_err(|e| heap_failure("making the heap", e))?;
    // The demo defragments by hand, to show the failure first.
    heap.set_defragment_on_failure(false);

    let _ = writeln!(
        out,
        "mem3 demo: fragmentation and defragmentation in a {} KiB pool",
        POOL_BYTES >> 10
    );
    let _ = writeln!(out);

    // 1. Fill the pool, then free every object the pattern does not keep.
    let mut live: Vec<Live> = Vec::new();
    let mut doomed: Vec<Handle> = Vec::new();
    let mut n: i64 = 0;
    'fill: loop {
        for step in PATTERN {
            n += 1;
            let (value, keep) = match step {
                Step::Str(keep) => {
                    (Value::Str(format!("object {n:>4}: a string of 40 bytes.")), keep)
                }
                Step::Int(keep) => (Value::Int(n), keep),
                Step::Float(keep) => (Value::Float(n as f64 + 0.5), keep),
            };
            match heap.alloc(value.as_ref()) {
                Ok(handle) if keep => live.push(Live { handle, value }),
                Ok(handle) => doomed.push(handle),
                Err(e) if e.is_out_of_memory() => break 'fill,
                Err(e) => return Err(heap_failure("filling the pool", e)),
            }
        }
    }
    let pinned = live.get(PINNED).map(|l| l.handle);
    if let Some(h) = pinned {
        heap.pin(h).map_err(|e| heap_failure("pinning", e))?;
    }
    for &h in &doomed {
        heap.free(h).map_err(|e| heap_failure("freeing", e))?;
    }
    let _ = writeln!(
        out,
        "1. Fill the pool with {} objects (strings, ints, floats), then free {} of them,",
        thousands((live.len() + doomed.len()) as u64),
        thousands(doomed.len() as u64)
    );
    let _ = writeln!(
        out,
        "   leaving holes between the {} that stay live. One of them is pinned.",
        live.len()
    );

    // 2. A large allocation fails for lack of a contiguous block.
    let big: String = "x".repeat(BIG_CHARS);
    let request = ObjectHeap::object_size(ObjectRef::Str(&big));
    let _ = writeln!(
        out,
        "2. Allocate a {}-character string ({} with its object header):",
        thousands(BIG_CHARS as u64),
        bytes(request)
    );
    match heap.alloc_str(&big) {
        Err(HeapError::Pool(PoolError::OutOfMemory { free, largest_free, .. })) => {
            let _ = writeln!(
                out,
                "   FAILS: {} are free, enough in total, but the largest free block holds only {}.",
                bytes(free),
                bytes(largest_free)
            );
        }
        Ok(_) => return Err(Failure::input("demo: the large allocation fit before defragmenting")),
        Err(e) => return Err(heap_failure("allocating", e)),
    }
    let before = HeapMap::of_heap(&heap, TEXT_CELLS);
    let before_svg = map.map(|_| HeapMap::of_heap(&heap, heapmap::SVG_CELLS));
    print_map(&mut out, &before, colour);

    // 3. Defragment: live objects slide together; handles still find them.
    let moved = heap.defragment();
    let intact = live.iter().all(|l| heap.get(l.handle).is_ok_and(|value| l.value.matches(value)));
    let _ = writeln!(
        out,
        "3. Defragment: {} live objects move toward the start ({} copied); their handles",
        thousands(moved.moved_objects as u64),
        bytes(moved.moved_bytes)
    );
    let _ = writeln!(
        out,
        "   {} them. The pinned object stays put, so a hole stays before it.",
        if intact { "still find" } else { "DO NOT find" }
    );
    if !intact {
        return Err(Failure::input("demo: a handle lost its object in defragmentation"));
    }

    // 4. The same allocation now succeeds.
    let block = heap
        .alloc_str(&big)
        .and_then(|h| heap.block(h))
        .map_err(|e| heap_failure("allocating after defragmenting", e))?;
    let _ = writeln!(
        out,
        "4. Allocate the {}-character string again: OK, at offset {}.",
        thousands(BIG_CHARS as u64),
        thousands(block.offset() as u64)
    );
    let after = HeapMap::of_heap(&heap, TEXT_CELLS);
    print_map(&mut out, &after, colour);

    let _ = writeln!(out, "{}", after.text_legend(colour));
    let _ = writeln!(out, "The VM does steps 3 and 4 by itself when an allocation does not fit:");
    let _ = writeln!(out, "try `mem3 run examples/defrag.m3 --stats`.");

    if let (Some(path), Some(before_svg)) = (map, before_svg) {
        let title = format!("mem3 demo: a {} KiB pool of VM objects", POOL_BYTES >> 10);
        let after_svg = HeapMap::of_heap(&heap, heapmap::SVG_CELLS);
        let svg = heapmap::svg(
            &title,
            &[
                ("Before defragmentation: the large string does not fit", &before_svg),
                ("After defragmentation and the large allocation", &after_svg),
            ],
        );
        write_file(path, &svg)?;
    }
    emit(&out);
    Ok(())
}

fn print_map(out: &mut String, map: &HeapMap, colour: bool) {
    let _ = writeln!(out);
    let _ = write!(out, "{}", map.text(64, "   ", colour));
    let _ = writeln!(out, "   {}", map.figures_line());
    let _ = writeln!(out);
}
