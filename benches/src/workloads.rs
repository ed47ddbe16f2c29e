//! The workloads, generic over [`Arena`] so every allocator runs the same monomorphized code.

use std::time::{Duration, Instant};

use mem3_object::{ObjectHeap, ObjectRef};
use mem3_trace::{Replay, Trace, default_pool_bytes, min_pool, replay, replay_and_free};

use crate::peers::Arena;
use mem3_trace::{PAGE, Region};

/// talc's size distribution: `cap` uniform in `[16, max)`, then the size uniform in `[4, cap)`, which
/// favours small sizes.
pub fn generate_size(rng: &mut fastrand::Rng, max: usize) -> usize {
    let cap = rng.usize(16..max);
    rng.usize(4..cap)
}

/// talc's alignment distribution: `8 << (trailing_zeros(random u16) / 2)`: 8 three times in four, then 16,
/// 32, ... up to 2048.
pub fn generate_align(rng: &mut fastrand::Rng) -> usize {
    8 << (rng.u16(..).trailing_zeros() / 2)
}

/// The least time behind each timed figure: a rate is taken over work repeated until its timed parts add
/// up to this, so that the clock, the first requests' cold caches and a shared host's moments of noise weigh
/// little (a replay of gcc-as takes well under a millisecond).
pub const MIN_TIMED: Duration = Duration::from_millis(200);

/// The region the trace throughput runs use: four times [`default_pool_bytes`], so that every allocator
/// (the buddy allocator rounds every block up to a power of two) replays the whole trace.
pub fn trace_region(trace: &Trace) -> usize {
    4 * default_pool_bytes(trace)
}

/// One timed replay of `trace` on a fresh `A` over `region` bytes.
pub fn trace_throughput<A: Arena>(trace: &Trace, region: usize) -> Replay {
    let mut a = A::new(region).expect("the allocator can be made");
    replay(trace, &mut a)
}

/// Requests per second over replays of `trace`, each on a fresh `A` over `region` bytes, repeated until
/// the replays' timed parts add up to [`MIN_TIMED`] ([`repeat_timed`]): the last replay's figures, with
/// the mean time of one replay. The blocks a replay leaves are freed after its timing
/// ([`replay_and_free`]).
pub fn trace_rate<A: Arena>(trace: &Trace, region: usize) -> Replay {
    let (r, took) = repeat_timed(
        || replay_and_free(trace, &mut A::new(region).expect("the allocator can be made")),
        |r| Duration::from_nanos(r.elapsed_ns),
    );
    let elapsed_ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
    Replay { elapsed_ns, ops_per_sec: r.ops as f64 * 1e9 / elapsed_ns as f64, ..r }
}

/// The smallest region in which `A` replays `trace` completely (see [`min_pool`]).
pub fn trace_min_pool<A: Arena>(trace: &Trace) -> Option<usize> {
    min_pool(trace, A::new)
}

/// The figures of one random-actions run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActionsRun {
    /// Operations that succeeded.
    pub successes: u64,
    /// Time spent in the actions (the random numbers and the bookkeeping included, as in talc's).
    pub elapsed: Duration,
}

impl ActionsRun {
    /// Successful operations per second.
    pub fn per_sec(&self) -> f64 {
        self.successes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// talc's "random actions": `actions` steps on a fresh `A` over `region` bytes, each uniform in 0..=6: 6
/// resizes a random live block to a size in `[1, 3 * max)`; below 3, or with fewer than 300 live blocks,
/// allocates ([`generate_size`], [`generate_align`]); otherwise frees a random live block. The score is the
/// number of successful operations. (The live blocks wander above 300 as the run goes on, so a longer run
/// is another workload: timings repeat the same run instead, see [`repeat_timed`].)
pub fn random_actions<A: Arena>(
    region: usize,
    max: usize,
    actions: usize,
    seed: u64,
) -> ActionsRun {
    let mut a = A::new(region).expect("the allocator can be made");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut live: Vec<(usize, usize, usize)> = Vec::with_capacity(100_000);
    let mut successes = 0;
    let start = Instant::now();
    for _ in 0..actions {
        let action = rng.usize(0..=6);
        if action == 6 {
            if !live.is_empty() {
                let i = rng.usize(0..live.len());
                let (p, size, align) = live[i];
                let new = rng.usize(1..3 * max);
                if let Some(q) = a.realloc(p, size, align, new) {
                    live[i] = (q, new, align);
                    successes += 1;
                }
            }
        } else if action < 3 || live.len() < 300 {
            let size = generate_size(&mut rng, max);
            let align = generate_align(&mut rng);
            if let Some(p) = a.alloc(size, align) {
                live.push((p, size, align));
                successes += 1;
            }
        } else {
            let (p, size, align) = live.swap_remove(rng.usize(0..live.len()));
            a.free(p, size, align);
            successes += 1;
        }
    }
    let elapsed = start.elapsed();
    for (p, size, align) in live {
        a.free(p, size, align);
    }
    ActionsRun { successes, elapsed }
}

/// talc's "heap efficiency": `rounds` rounds on one `A` over `region` bytes. Each step allocates (50%, size
/// by [`generate_size`] with max 10000), frees a random block (10%) or resizes a random block to a size in
/// `[1, 100000)` (40%); a round ends at the first failure, and everything is freed before the next. The
/// score is the live requested bytes at the failures over `rounds * region`.
pub fn heap_efficiency<A: Arena>(region: usize, rounds: usize, seed: u64) -> f64 {
    let mut a = A::new(region).expect("the allocator can be made");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut live: Vec<(usize, usize, usize)> = Vec::with_capacity(100_000);
    let mut used: u128 = 0;
    for _ in 0..rounds {
        loop {
            match rng.usize(0..10) {
                0..=4 => {
                    let size = generate_size(&mut rng, 10_000);
                    let align = generate_align(&mut rng);
                    match a.alloc(size, align) {
                        Some(p) => live.push((p, size, align)),
                        None => break,
                    }
                }
                5 => {
                    if !live.is_empty() {
                        let (p, size, align) = live.swap_remove(rng.usize(0..live.len()));
                        a.free(p, size, align);
                    }
                }
                _ => {
                    if !live.is_empty() {
                        let i = rng.usize(0..live.len());
                        let (p, size, align) = live[i];
                        let new = rng.usize(1..100_000);
                        match a.realloc(p, size, align, new) {
                            Some(q) => live[i] = (q, new, align),
                            None => break,
                        }
                    }
                }
            }
        }
        used += live.iter().map(|&(_, size, _)| size as u128).sum::<u128>();
        for (p, size, align) in live.drain(..) {
            a.free(p, size, align);
        }
    }
    used as f64 / (rounds as f64 * region as f64)
}

/// The region [`scaling`] uses for `live` live blocks.
pub fn scaling_region(live: usize) -> usize {
    live * 2 * 320 + (16 << 20)
}

/// The cost of an alloc+free pair with `live` blocks live: allocate `2 * live` blocks of 8 to 128 bytes,
/// free every other one (from the top down, so that address-ordered free lists insert at their head), then
/// time `pairs` pairs of an allocation (8 to 128 bytes) freed at once, repeated until [`MIN_TIMED`] has
/// passed, `reps` times on the same heap. Returns the nanoseconds per pair of each repetition.
pub fn scaling<A: Arena>(live: usize, pairs: usize, reps: usize, seed: u64) -> Vec<f64> {
    let mut a = A::new(scaling_region(live)).expect("the allocator can be made");
    let mut rng = fastrand::Rng::with_seed(seed);
    let blocks: Vec<(usize, usize)> = (0..2 * live)
        .map(|_| {
            let size = rng.usize(8..=128);
            (a.alloc(size, 8).expect("the scaling region is large enough"), size)
        })
        .collect();
    for &(p, size) in blocks.iter().step_by(2).rev() {
        a.free(p, size, 8);
    }
    let sizes: Vec<usize> = (0..pairs).map(|_| rng.usize(8..=128)).collect();
    let mut out = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        let mut passes = 0;
        while passes == 0 || start.elapsed() < MIN_TIMED {
            alloc_free_pairs(&mut a, &sizes);
            passes += 1;
        }
        out.push(start.elapsed().as_nanos() as f64 / (passes * pairs) as f64);
    }
    for &(p, size) in blocks.iter().skip(1).step_by(2) {
        a.free(p, size, 8);
    }
    out
}

/// One pass of [`scaling`]'s timed pairs: an allocation of each size, freed at once. Out of line, so that a
/// profiler can count the pairs apart from the set-up
/// (`valgrind --tool=callgrind --toggle-collect='*alloc_free_pairs*' target/release/profile scaling LIVE A`).
#[inline(never)]
fn alloc_free_pairs<A: Arena>(a: &mut A, sizes: &[usize]) {
    for &size in sizes {
        let p = a.alloc(size, 8).expect("the scaling region is large enough");
        a.free(std::hint::black_box(p), size, 8);
    }
}

/// The figures of one compaction run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompactionRun {
    /// Objects live when defragmenting.
    pub objects: usize,
    /// Bytes `defragment` moved.
    pub moved_bytes: usize,
    /// Time `defragment` took.
    pub defragment: Duration,
    /// Time `copy_within` took to move the same number of bytes (overlapping, 1/2 of the distance down).
    pub copy_within: Duration,
}

/// Fills a `region`-byte [`ObjectHeap`] with mixed objects (ints, floats and strings of 0 to 200 bytes, a
/// third each) until an allocation fails, frees a random half, and times `defragment()` and then a
/// `copy_within` of the same number of bytes.
pub fn compaction(region: usize, seed: u64) -> CompactionRun {
    let mem = Region::prefaulted(region, PAGE).expect("memory for the object heap");
    // SAFETY: the region is valid for `len` bytes and owned by `mem`, which outlives the slice (it is
    // dropped at the end of this function, after the heap).
    let bytes = unsafe { std::slice::from_raw_parts_mut(mem.as_ptr().as_ptr(), mem.len()) };
    let mut heap = ObjectHeap::new(bytes).expect("a heap over the region");
    heap.set_defragment_on_failure(false);
    let mut rng = fastrand::Rng::with_seed(seed);
    let text = "x".repeat(200);
    let mut handles = Vec::new();
    loop {
        let value = match rng.u8(0..3) {
            0 => ObjectRef::Int(rng.i64(..)),
            1 => ObjectRef::Float(rng.f64()),
            _ => ObjectRef::Str(&text[..rng.usize(0..=200)]),
        };
        match heap.alloc(value) {
            Ok(h) => handles.push(h),
            Err(_) => break,
        }
    }
    rng.shuffle(&mut handles);
    let half = handles.len() / 2;
    for h in handles.drain(..half) {
        heap.free(h).expect("a live handle");
    }
    let objects = handles.len();
    let start = Instant::now();
    let stats = heap.defragment();
    let defragment = start.elapsed();
    drop(heap);
    let moved = stats.moved_bytes;
    let copy_within = time_copy_within(moved, Duration::ZERO);
    CompactionRun { objects, moved_bytes: moved, defragment, copy_within }
}

/// The figures of one [`pool_compaction`] run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolCompactionRun {
    /// Blocks live when compacting.
    pub blocks: usize,
    /// Bytes `compact` moved.
    pub moved_bytes: usize,
    /// Time `compact` took (its callback only adds the moves' offsets to a checksum).
    pub compact: Duration,
    /// Time `copy_within` took to move the same number of bytes (overlapping, 1/2 of the distance down).
    pub copy_within: Duration,
}

/// The object heap's layout without the object heap: fills a `region`-byte [`mem3_pool::Pool`] with blocks
/// of the sizes [`compaction`]'s objects take (24-byte payloads for numbers, 16 + 0 to 200 bytes for
/// strings, a third each) until an allocation fails, frees a random half, and times `Pool::compact()`
/// and then a `copy_within` of the same number of bytes.
pub fn pool_compaction(region: usize, seed: u64) -> PoolCompactionRun {
    let mem = Region::prefaulted(region, PAGE).expect("memory for the pool");
    // SAFETY: the region is valid for `len` bytes and owned by `mem`, which outlives the slice (it is
    // dropped at the end of this function, after the pool).
    let bytes = unsafe { std::slice::from_raw_parts_mut(mem.as_ptr().as_ptr(), mem.len()) };
    let mut pool = mem3_pool::Pool::new(bytes).expect("a pool over the region");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut blocks = Vec::new();
    loop {
        let size = match rng.u8(0..3) {
            0 | 1 => 24,
            _ => 16 + rng.usize(0..=200),
        };
        match pool.alloc(size) {
            Ok(b) => blocks.push(b),
            Err(_) => break,
        }
    }
    rng.shuffle(&mut blocks);
    let half = blocks.len() / 2;
    for b in blocks.drain(..half) {
        pool.free(b).expect("a live block");
    }
    let mut sum = 0usize;
    let start = Instant::now();
    let stats = pool.compact(|old, new, _| sum = sum.wrapping_add(old.offset() ^ new.offset()));
    let compact = start.elapsed();
    std::hint::black_box(sum);
    let moved = stats.moved_bytes;
    let copy_within = time_copy_within(moved, Duration::ZERO);
    PoolCompactionRun { blocks: blocks.len(), moved_bytes: moved, compact, copy_within }
}

/// The time `copy_within` takes to move `moved` bytes half their length down (overlapping), the baseline
/// both compaction figures are measured against: the mean over copies repeated until `min_time` has
/// passed (one copy for `Duration::ZERO`), on a buffer written before the timing.
pub fn time_copy_within(moved: usize, min_time: Duration) -> Duration {
    let mut buf = vec![1u8; moved + moved / 2];
    let mut copies = 0;
    let start = Instant::now();
    while copies == 0 || start.elapsed() < min_time {
        buf.copy_within(moved / 2.., 0);
        std::hint::black_box(&mut buf);
        copies += 1;
    }
    start.elapsed() / copies
}

/// Runs `run` until the durations `timed` reads from its results add up to [`MIN_TIMED`]: the last
/// result and the mean duration (for destructive work, such as a compaction, that must be set up again
/// before each timing).
pub fn repeat_timed<R>(
    mut run: impl FnMut() -> R,
    timed: impl Fn(&R) -> Duration,
) -> (R, Duration) {
    let (mut total, mut runs) = (Duration::ZERO, 0);
    loop {
        let r = run();
        total += timed(&r);
        runs += 1;
        if total >= MIN_TIMED {
            return (r, total / runs);
        }
    }
}

/// The median of `xs` (the mean of the middle two for an even count); NaN when empty.
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// An allocation-heavy VM program: a million turns of a loop that makes five objects each (numbers and
/// strings), all garbage a turn later, in a 64 KiB pool, so the VM collects thousands of times.
pub const VM_ALLOCATION_LOOP: &str = r#"; a loop that allocates on every instruction it can
.pool 64K
        push 0
        store i
loop:   load i
        push 1000000
        lt
        jz done
        load i
        tostr
        push "x"
        concat
        pop
        load i
        push 1
        add
        store i
        jmp loop
done:   halt
"#;

/// The figures of VM runs of one program.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmRun {
    /// Instructions executed per run.
    pub steps: u64,
    /// Objects allocated per run.
    pub allocations: u64,
    /// Collections per run.
    pub collections: u64,
    /// Runs timed together (a short program is repeated until the time is measurable).
    pub runs: u32,
    /// Time of all `runs`, output discarded.
    pub elapsed: Duration,
}

/// Assembles `source` and runs it (output to a sink) as many times as it takes to pass [`MIN_TIMED`].
pub fn vm_run(source: &str) -> VmRun {
    let program = mem3_vm::assemble(source).expect("a valid program");
    let options = mem3_vm::Options::default();
    let mut runs = 0;
    let mut last = None;
    let start = Instant::now();
    while runs == 0 || start.elapsed() < MIN_TIMED {
        let outcome =
            mem3_vm::run_program(&program, &options, &mut std::io::sink()).expect("a pool");
        last = Some(outcome.stats);
        runs += 1;
    }
    let elapsed = start.elapsed();
    let stats = last.expect("at least one run");
    VmRun {
        steps: stats.steps,
        allocations: stats.allocations,
        collections: stats.collections,
        runs,
        elapsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::{Mem3, SystemAlloc};

    #[test]
    fn a_trace_rate_is_one_whole_replay_over_its_mean_time() {
        let trace = crate::load_trace("gcc-as");
        let region = trace_region(&trace);
        let mem3 = trace_rate::<Mem3<false>>(&trace, region);
        let system = trace_rate::<SystemAlloc>(&trace, region);
        for r in [mem3, system] {
            assert_eq!((r.ops, r.failed_at), (trace.len(), None));
            // One replay's time: well under the time the repetition took.
            assert!(Duration::from_nanos(r.elapsed_ns) < MIN_TIMED, "{r:?}");
            assert_eq!(r.ops_per_sec, r.ops as f64 * 1e9 / r.elapsed_ns as f64);
        }
    }
}
