//! Synthetic traces of shapes the three recorded traces do not have, so that a design choice is not tuned
//! to `tests/data` alone. Each is generated from a fixed seed as trace text (docs/trace-format.md) and
//! parsed like a recorded one, so every allocator replays exactly the same requests.
//!
//! The shapes, by lifetime and size pattern:
//! * `queue`: a message queue; first in, first out; a window of live messages that widens and narrows;
//! * `passes`: a compiler's passes; each builds a batch of objects and frees it last in, first out, a tenth
//!   living on for three passes;
//! * `power-law`: sizes spread evenly over the powers of two from 8 B to 32 KiB, the small ones short-lived
//!   and the large ones long-lived, each freed at a random time;
//! * `growth`: buffers grown by `realloc` (half as much again each time) among small strings replaced at
//!   random;
//! * `size-shift`: the size mix changes between rounds (many small blocks, most freed, then larger ones that
//!   the holes cannot hold), the pattern that separates placement policies;
//! * `objects`: a VM's objects: mostly one small fixed size, some short strings, a live set replaced at
//!   random around a core of long-lived ones.

use std::{cmp::Reverse, collections::BinaryHeap, fmt::Write as _};

use mem3_trace::Trace;

/// The synthetic traces' names, as [`synthetic_trace`] and `profile trace NAME` take them.
pub const SYNTHETIC: [&str; 6] =
    ["queue", "passes", "power-law", "growth", "size-shift", "objects"];

/// The seed every generator starts from: the traces are the same on every run and machine.
const SEED: u64 = 0x7379_6e74;

/// The synthetic trace called `name` (one of [`SYNTHETIC`]), or `None` for another name.
pub fn synthetic_trace(name: &str) -> Option<Trace> {
    let mut g = Gen::new();
    match name {
        "queue" => queue(&mut g),
        "passes" => passes(&mut g),
        "power-law" => power_law(&mut g),
        "growth" => growth(&mut g),
        "size-shift" => size_shift(&mut g),
        "objects" => objects(&mut g),
        _ => return None,
    }
    Some(Trace::parse(g.text.as_bytes()).expect("a generator writes well-formed traces"))
}

/// Writes trace lines and hands out block IDs, reusing freed ones as a program reuses addresses.
struct Gen {
    text: String,
    rng: fastrand::Rng,
    free_ids: Vec<u32>,
    next_id: u32,
}

impl Gen {
    fn new() -> Gen {
        Gen {
            text: String::from("# mem3 trace v1\n"),
            rng: fastrand::Rng::with_seed(SEED),
            free_ids: Vec::new(),
            next_id: 0,
        }
    }

    fn alloc(&mut self, size: usize) -> u32 {
        let id = self.free_ids.pop().unwrap_or_else(|| {
            self.next_id += 1;
            self.next_id
        });
        let _ = writeln!(self.text, "a {id} {size}");
        id
    }

    fn free(&mut self, id: u32) {
        let _ = writeln!(self.text, "f {id}");
        self.free_ids.push(id);
    }

    fn resize(&mut self, id: u32, size: usize) {
        let _ = writeln!(self.text, "r {id} {size}");
    }

    /// A size spread evenly over the powers of two from `2^lo` to `2^hi` (log-uniform), the most common
    /// shape of real programs' request sizes.
    fn log_size(&mut self, lo: u32, hi: u32) -> usize {
        let exp = self.rng.u32(lo..hi);
        let base = 1usize << exp;
        base + self.rng.usize(..base)
    }
}

/// A message queue: each step sends a message (mostly small, some of a few KiB) and, while more than the
/// window are queued, the oldest is consumed. The window moves between 500 and 5000 every 20000 messages.
fn queue(g: &mut Gen) {
    let mut queued = std::collections::VecDeque::new();
    let mut window = 2000;
    for step in 0..300_000 {
        if step % 20_000 == 0 {
            window = g.rng.usize(500..5000);
        }
        let size = match g.rng.u32(..100) {
            0..70 => g.rng.usize(32..256),
            70..95 => g.rng.usize(256..2048),
            _ => g.rng.usize(2048..16384),
        };
        queued.push_back(g.alloc(size));
        while queued.len() > window {
            let id = queued.pop_front().expect("the queue is not empty");
            g.free(id);
        }
    }
    for id in queued {
        g.free(id);
    }
}

/// Passes of a compiler: each allocates 3000 to 8000 objects (log-uniform, 16 B to 4 KiB), keeps one in
/// ten for three passes and frees the rest in reverse order at its end.
fn passes(g: &mut Gen) {
    let mut kept: Vec<Vec<u32>> = Vec::new();
    for _ in 0..60 {
        let n = g.rng.usize(3000..8000);
        let mut batch = Vec::with_capacity(n);
        let mut keep = Vec::new();
        for _ in 0..n {
            let size = g.log_size(4, 12);
            let id = g.alloc(size);
            if g.rng.u32(..10) == 0 { keep.push(id) } else { batch.push(id) }
        }
        for id in batch.into_iter().rev() {
            g.free(id);
        }
        kept.push(keep);
        if kept.len() > 3 {
            for id in kept.remove(0) {
                g.free(id);
            }
        }
    }
    for id in kept.into_iter().flatten() {
        g.free(id);
    }
}

/// Sizes log-uniform from 8 B to 32 KiB; each block lives a random time whose mean grows with its size
/// (50 requests below 256 B, 1000 below 4 KiB, 5000 above): many small short-lived blocks among few large
/// long-lived ones.
fn power_law(g: &mut Gen) {
    let mut deaths: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();
    for now in 0..250_000u64 {
        while let Some(&Reverse((when, id))) = deaths.peek() {
            if when > now {
                break;
            }
            deaths.pop();
            g.free(id);
        }
        let size = g.log_size(3, 15);
        let mean = match size {
            0..256 => 50,
            256..4096 => 1000,
            _ => 5000,
        };
        // Uniform in [0, 2 * mean): the mean is what matters here, not the tail.
        let life = g.rng.u64(..2 * mean);
        let id = g.alloc(size);
        deaths.push(Reverse((now + life, id)));
    }
    while let Some(Reverse((_, id))) = deaths.pop() {
        g.free(id);
    }
}

/// 64 buffers, each grown from 16 B by half as much again per resize up to a cap (log-uniform, 1 KiB to
/// 1 MiB), then freed and started again, among 5000 small strings (8 B to 128 B) replaced at random.
fn growth(g: &mut Gen) {
    let mut strings: Vec<u32> = (0..5000)
        .map(|_| {
            let size = g.rng.usize(8..128);
            g.alloc(size)
        })
        .collect();
    let mut buffers: Vec<(u32, usize, usize)> = (0..64)
        .map(|_| {
            let cap = g.log_size(10, 20);
            (g.alloc(16), 16, cap)
        })
        .collect();
    for _ in 0..200_000 {
        if g.rng.u32(..4) == 0 {
            let b = g.rng.usize(..buffers.len());
            let (id, size, cap) = buffers[b];
            if size >= cap {
                g.free(id);
                let cap = g.log_size(10, 20);
                buffers[b] = (g.alloc(16), 16, cap);
            } else {
                let size = size + size / 2;
                g.resize(id, size);
                buffers[b] = (id, size, cap);
            }
        } else {
            let s = g.rng.usize(..strings.len());
            g.free(strings[s]);
            let size = g.rng.usize(8..128);
            strings[s] = g.alloc(size);
        }
    }
    for id in strings.into_iter().chain(buffers.into_iter().map(|(id, ..)| id)) {
        g.free(id);
    }
}

/// Six rounds, the size mix changing between them: fill with 20000 blocks of one range, free nine in
/// ten at random, allocate 3000 blocks of a range eight times larger (which the holes cannot hold), then free
/// everything but a few hundred survivors, which fragment the next round.
fn size_shift(g: &mut Gen) {
    let mut survivors: Vec<u32> = Vec::new();
    for round in 0..6 {
        let small = if round % 2 == 0 { 16..64 } else { 64..256 };
        let large = small.start * 8..small.end * 8;
        let mut blocks: Vec<u32> = (0..20_000)
            .map(|_| {
                let size = g.rng.usize(small.clone());
                g.alloc(size)
            })
            .collect();
        g.rng.shuffle(&mut blocks);
        for id in blocks.drain(..18_000) {
            g.free(id);
        }
        for _ in 0..3000 {
            let size = g.rng.usize(large.clone());
            blocks.push(g.alloc(size));
        }
        g.rng.shuffle(&mut blocks);
        let keep = blocks.split_off(blocks.len() - 300);
        for id in blocks.into_iter().chain(std::mem::replace(&mut survivors, keep)) {
            g.free(id);
        }
    }
    for id in survivors {
        g.free(id);
    }
}

/// A VM's objects: nine in ten a number (24 bytes: the object header and 8 bytes of data), one in ten a
/// string of 16 + 4 to 100 bytes; a live set of 3000 replaced at random, 500 of them never replaced.
fn objects(g: &mut Gen) {
    let object = |g: &mut Gen| {
        let size = if g.rng.u32(..10) == 0 { 16 + g.rng.usize(4..100) } else { 24 };
        g.alloc(size)
    };
    let mut live: Vec<u32> = (0..3000).map(|_| object(g)).collect();
    for _ in 0..250_000 {
        let i = g.rng.usize(500..live.len());
        g.free(live[i]);
        live[i] = object(g);
    }
    for id in live {
        g.free(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        peers::Mem3,
        workloads::{trace_region, trace_throughput},
    };

    /// Every shape generates a well-formed trace (the parser refuses a free of a dead ID or an allocation of
    /// a live one) of the intended length, the same on a second generation, that mem3 replays completely.
    #[test]
    fn every_shape_parses_and_replays() {
        for name in SYNTHETIC {
            let trace = synthetic_trace(name).expect("a listed name");
            assert!(trace.len() > 100_000, "{name}: {} requests", trace.len());
            let again = synthetic_trace(name).expect("a listed name");
            assert_eq!(trace.len(), again.len(), "{name}");
            assert_eq!(trace.peak_live_bytes(), again.peak_live_bytes(), "{name}");
            let replay = trace_throughput::<Mem3<false>>(&trace, trace_region(&trace));
            assert!(replay.completed(), "{name}: failed at line {:?}", replay.failed_at);
            assert_eq!(replay.ops, trace.len(), "{name}");
        }
        assert!(synthetic_trace("no-such-shape").is_none());
    }
}
