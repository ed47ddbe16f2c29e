//! "Compaction on real traces": each shared trace replayed through movable blocks
//! ([`mem3_trace::CompactingPool`]), its minimum pool beside the floor and every non-moving allocator's, and
//! what the compactions cost. The `compaction` binary writes this section into `docs/benchmarks.md` on its
//! own; the `report` binary includes it when it regenerates the whole file.

use std::{fmt::Write as _, time::Duration};

use mem3_pool::{Config, Policy};
use mem3_trace::{
    CompactingPool, Compaction, OwnedPool, Pinning, Replay, Trace, floor_bytes,
    min_pool_compacting, region_for_heap, replay,
};

use crate::{
    Job, Kind, TRACES, dispatch, load_trace,
    workloads::{MIN_TIMED, compaction, median, pool_compaction, repeat_timed, time_copy_within},
};

/// Where the section sits in `docs/benchmarks.md`, so that it can be replaced on its own.
pub const BEGIN: &str = "<!-- compaction on real traces: begin -->";
/// See [`BEGIN`].
pub const END: &str = "<!-- compaction on real traces: end -->";

/// Where the compaction speed section sits in `docs/benchmarks.md`.
pub const SPEED_BEGIN: &str = "<!-- compaction speed: begin -->";
/// See [`SPEED_BEGIN`].
pub const SPEED_END: &str = "<!-- compaction speed: end -->";

/// The heap the speed section compacts.
pub const SPEED_REGION: usize = 64 << 20;

/// A replay slower than this is not searched for its minimum pool (as in the report's section 1).
const SLOW_REPLAY_SECS: f64 = 0.5;

/// One target of the section and whether it was met.
#[derive(Debug, Clone)]
pub struct Target {
    /// What is asked.
    pub what: String,
    /// What was measured.
    pub measured: String,
    /// Whether it was met.
    pub met: bool,
}

/// The section's markdown (between [`BEGIN`] and [`END`]) and its targets.
#[derive(Debug, Clone)]
pub struct Section {
    /// The markdown, markers included.
    pub markdown: String,
    /// The targets, for the report's summary.
    pub targets: Vec<Target>,
}

struct MinPool<'a>(&'a Trace);

impl Job for MinPool<'_> {
    type Out = Option<usize>;
    fn run<A: crate::Arena>(&mut self) -> Option<usize> {
        // One replay first: a slow allocator is not searched.
        let mut a = A::new(4 * mem3_trace::default_pool_bytes(self.0))?;
        let r = replay(self.0, &mut a);
        if r.elapsed_ns as f64 / 1e9 > SLOW_REPLAY_SECS {
            return None;
        }
        mem3_trace::min_pool(self.0, A::new)
    }
}

fn config(policy: Policy) -> Config {
    Config { policy, ..Config::default() }
}

fn kib(x: usize) -> String {
    format!("{:.1} KiB", x as f64 / 1024.0)
}

fn over(x: usize, floor: usize) -> String {
    format!("{:+.2}%", (x as f64 / floor as f64 - 1.0) * 100.0)
}

/// Timed replays, interleaved: `reps` of the non-moving pool and of the compacting one at `bytes`;
/// the medians' nanoseconds, the compacting replays' figures, and whether both completed.
fn timed(
    trace: &Trace,
    config: Config,
    plain_bytes: usize,
    compact_bytes: usize,
    reps: usize,
) -> Timing {
    let (mut plain, mut moving) = (Vec::new(), Vec::new());
    let mut figures = Compaction::default();
    let mut completed = true;
    let nanos = |r: &Replay| Duration::from_nanos(r.elapsed_ns);
    for _ in 0..reps {
        // Each figure the mean of replays on fresh prefaulted pools, until `MIN_TIMED` is timed.
        let (r, took) = repeat_timed(
            || replay(trace, &mut OwnedPool::prefaulted(plain_bytes, config).expect("a pool")),
            nanos,
        );
        completed &= r.completed();
        plain.push(took.as_nanos() as f64);
        let ((r, pool_figures), took) = repeat_timed(
            || {
                let mut pool = CompactingPool::prefaulted(compact_bytes, config, Pinning::NONE)
                    .expect("a pool");
                (replay(trace, &mut pool), pool.figures())
            },
            |(r, _)| nanos(r),
        );
        completed &= r.completed();
        moving.push(took.as_nanos() as f64);
        figures = pool_figures;
    }
    Timing { plain: median(&plain), moving: median(&moving), figures, completed }
}

struct Timing {
    plain: f64,
    moving: f64,
    figures: Compaction,
    completed: bool,
}

/// Measures every trace and writes the section; `reps` timed replays per figure (medians), `progress`
/// told what runs.
pub fn section(reps: usize, mut progress: impl FnMut(&str)) -> Section {
    let mut md = String::new();
    let mut targets = Vec::new();
    let traces: Vec<(&str, Trace)> = TRACES.iter().map(|&n| (n, load_trace(n))).collect();
    let policies = [Policy::BestFit, Policy::FirstFit];
    struct Row {
        floor: [usize; 2],
        floor_pool: [usize; 2],
        moving: [usize; 2],
        pinned: [usize; 2],
        plain: Vec<(Kind, Option<usize>)>,
    }
    let mut rows = Vec::new();
    for (name, trace) in &traces {
        progress(&format!("compaction on {name}: minimum pools"));
        let floor = policies.map(|p| floor_bytes(trace, p));
        let region = |i: usize| {
            region_for_heap(floor[i], config(policies[i])).expect("a region holds the floor")
        };
        let moving = |p, pins| min_pool_compacting(trace, config(p), pins).expect("a pool replays");
        let floor_pool = [region(0), region(1)];
        let moving_min = policies.map(|p| moving(p, Pinning::NONE));
        let pinned = policies.map(|p| moving(p, Pinning::every(100)));
        let plain = Kind::ARENAS.iter().map(|&k| (k, dispatch(k, &mut MinPool(trace)))).collect();
        rows.push(Row { floor, floor_pool, moving: moving_min, pinned, plain });
    }

    let _ = writeln!(md, "{BEGIN}\n\n## Compaction on real traces\n");
    let _ = writeln!(
        md,
        "Each shared trace replayed through movable blocks: every trace ID names a handle \
         (`mem3_trace::CompactingPool`), and a request that does not fit although the free bytes would \
         hold it compacts the pool (`Pool::compact_trimmed`, each block trimmed to the size last asked for) \
         and is tried again; a resize larger than the free space moves its block next to it first \
         (`Pool::move_to_end`). The **floor** is the most bytes the live blocks occupy at once under mem3's \
         layout (`mem3_trace::floor_bytes`: `block_size_for` of each live request: 8-byte header, 8-byte \
         rounding, the policy's smallest block: 16 bytes under first fit, 32 under best fit); the **floor's pool** is the smallest region whose heap holds it \
         (`region_for_heap`: the floor plus the pool's metadata, 1.6% under best fit, 3.1% under first fit). \
         Minimum pools are searched as in section 1 (`min_pool`, bisection at 8 bytes); in brackets the \
         excess over the floor's pool of the same policy, or for the non-moving allocators over the best-fit \
         floor's pool. Pinned: every 100th allocation pinned (`Pinning::every(100)`). Regenerate this \
         section alone with `cargo run --release -p mem3-benches --bin compaction` (about 1 minute).\n"
    );
    let _ = write!(md, "| | ");
    for (name, t) in &traces {
        let _ = write!(md, "{name} (peak live {}) | ", kib(t.peak_live_bytes()));
    }
    let _ = writeln!(md, "\n|---|{}", "---|".repeat(traces.len()));
    let line = |md: &mut String, label: &str, cell: &dyn Fn(&Row) -> String| {
        let _ = write!(md, "| {label} |");
        for row in &rows {
            let _ = write!(md, " {} |", cell(row));
        }
        let _ = writeln!(md);
    };
    for (i, p) in policies.iter().enumerate() {
        let name = if *p == Policy::BestFit { "best fit" } else { "first fit" };
        line(&mut md, &format!("floor, {name} (live blocks at most)"), &|r| kib(r.floor[i]));
        line(&mut md, &format!("floor's pool, {name}"), &|r| kib(r.floor_pool[i]));
        line(&mut md, &format!("**mem3 {name}, compacting**"), &|r| {
            format!("**{}** ({})", kib(r.moving[i]), over(r.moving[i], r.floor_pool[i]))
        });
        line(&mut md, &format!("mem3 {name}, compacting, 1% pinned"), &|r| {
            format!("{} ({})", kib(r.pinned[i]), over(r.pinned[i], r.floor_pool[i]))
        });
    }
    for (k, kind) in Kind::ARENAS.iter().enumerate() {
        line(&mut md, &format!("{}, not moving", kind.name()), &|r| match r.plain[k].1 {
            Some(m) => format!("{} ({})", kib(m), over(m, r.floor_pool[0])),
            None => format!("not searched (a replay takes over {SLOW_REPLAY_SECS} s)"),
        });
    }

    for ((name, _), row) in traces.iter().zip(&rows) {
        let b = if row.moving[0] <= row.moving[1] { 0 } else { 1 };
        let (best, best_pool, floor) = (row.moving[b], row.floor_pool[b], row.floor[b]);
        targets.push(Target {
            what: format!("compaction, {name}: minimum pool with compaction within 1% of the floor"),
            measured: format!(
                "{} vs floor {} ({}; {} over the floor's pool of the same policy, the gap being the \
                 pool's metadata)",
                kib(best),
                kib(floor),
                over(best, floor),
                over(best, best_pool)
            ),
            met: best as f64 <= floor as f64 * 1.01,
        });
        let peers: Vec<(Kind, usize)> =
            row.plain.iter().filter_map(|&(k, m)| m.map(|m| (k, m))).collect();
        let smallest = peers.iter().min_by_key(|&&(_, m)| m).copied();
        if let Some((kind, m)) = smallest {
            targets.push(Target {
                what: format!(
                    "compaction, {name}: minimum pool with compaction below every non-moving one"
                ),
                measured: format!("{} vs {} for {}", kib(best), kib(m), kind.name()),
                met: best < m,
            });
            let pinned = row.pinned[0].min(row.pinned[1]);
            targets.push(Target {
                what: format!(
                    "compaction, {name}: with 1% pinned, still below every non-moving one"
                ),
                measured: format!("{} vs {} for {}", kib(pinned), kib(m), kind.name()),
                met: pinned < m,
            });
        }
    }

    // What the compactions cost.
    let _ = writeln!(
        md,
        "\nWhat compaction costs (best fit). *At its minimum pool*: the compacting replay at its own minimum \
         pool, where it compacts the most, against the non-moving replay at its own (mem3 best fit's); \
         *both complete*: both at the non-moving minimum pool, where the compacting replay never needs to \
         compact (the cost of naming blocks by handles). Replay time: requests alone, on prefaulted pools; \
         each figure the mean of replays repeated until {} ms are timed, the two alternating, median of \
         {reps} such figures.\n",
        MIN_TIMED.as_millis()
    );
    let _ = writeln!(
        md,
        "| trace | compactions | blocks moved | bytes moved | resizes moved to the free space | \
         compacting replay at its minimum pool | non-moving at its minimum pool | ratio | both at the \
         non-moving minimum pool: compacting / non-moving |\n|---|---|---|---|---|---|---|---|---|"
    );
    for ((name, trace), row) in traces.iter().zip(&rows) {
        progress(&format!("compaction on {name}: timed replays"));
        let cfg = config(Policy::BestFit);
        let plain_min = row
            .plain
            .iter()
            .find(|(kind, _)| *kind == Kind::Mem3BestFit)
            .and_then(|&(_, bytes)| bytes)
            .expect("mem3 best fit is searched");
        let worst = timed(trace, cfg, plain_min, row.moving[0], reps);
        let common = timed(trace, cfg, plain_min, plain_min, reps);
        let c = worst.figures;
        let ratio = worst.moving / worst.plain;
        let common_ratio = common.moving / common.plain;
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {:.1} MiB | {} | {:.1} ms | {:.1} ms | {ratio:.2}× | {:.1} ms / {:.1} ms = \
             {common_ratio:.2}× ({} compactions) |",
            c.compactions,
            c.moved_blocks,
            c.moved_bytes as f64 / (1 << 20) as f64,
            c.end_moves,
            worst.moving / 1e6,
            worst.plain / 1e6,
            common.moving / 1e6,
            common.plain / 1e6,
            common.figures.compactions,
        );
        targets.push(Target {
            what: format!(
                "compaction, {name}: a compacting replay ≤ 2 × the non-moving one, where both complete"
            ),
            measured: format!(
                "{common_ratio:.2}× at the non-moving minimum pool; {ratio:.2}× with {} compactions at \
                 the compacting minimum pool",
                c.compactions
            ),
            met: common.completed && worst.completed && common_ratio <= 2.0,
        });
    }
    let _ = writeln!(
        md,
        "\nThis section's targets (also in the summary at the top when the whole report runs):\n"
    );
    let _ = writeln!(md, "| target | measured | met |\n|---|---|---|");
    for t in &targets {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            t.what,
            t.measured,
            if t.met { "yes" } else { "**no**" }
        );
    }
    let _ = writeln!(md, "\n{END}");
    Section { markdown: md, targets }
}

/// The compaction speed section: `Pool::compact` and `ObjectHeap::defragment` against `copy_within` of the
/// same bytes on a [`SPEED_REGION`] heap, `reps` runs each with its own seed, medians; markers included.
pub fn speed_section(reps: usize, seed: u64) -> Section {
    let gib =
        |bytes: usize, d: std::time::Duration| bytes as f64 / d.as_secs_f64() / (1u64 << 30) as f64;
    let (mut defrag, mut defrag_copy, mut compact, mut compact_copy) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut objects, mut moved, mut blocks, mut pool_moved) = (0, 0, 0, 0);
    for i in 0..reps as u64 {
        // The same seed's heap made again for each timing, until the timings add up to `MIN_TIMED`.
        let (r, took) = repeat_timed(|| compaction(SPEED_REGION, seed + i), |r| r.defragment);
        defrag.push(gib(r.moved_bytes, took));
        defrag_copy.push(gib(r.moved_bytes, time_copy_within(r.moved_bytes, MIN_TIMED)));
        (objects, moved) = (r.objects, r.moved_bytes);
        let (r, took) = repeat_timed(|| pool_compaction(SPEED_REGION, seed + i), |r| r.compact);
        compact.push(gib(r.moved_bytes, took));
        compact_copy.push(gib(r.moved_bytes, time_copy_within(r.moved_bytes, MIN_TIMED)));
        (blocks, pool_moved) = (r.blocks, r.moved_bytes);
    }
    // Each ratio against the copy of the same run, then the median.
    let ratio =
        |x: &[f64], y: &[f64]| median(&x.iter().zip(y).map(|(a, b)| a / b).collect::<Vec<_>>());
    let (d, c) = (ratio(&defrag, &defrag_copy), ratio(&compact, &compact_copy));
    let mut md = String::new();
    let _ = writeln!(
        md,
        "{SPEED_BEGIN}\n\n## 5. Compaction\n\nA {} MiB pool filled until full with the sizes of mixed objects \
         (ints, floats, strings of 0 to 200 bytes, a third each), a random half freed, then compacted: \
         `mem3_object::ObjectHeap::defragment()` (objects, handles fixed through each object's header) and \
         `mem3_pool::Pool::compact()` alone on the same layout of pool blocks (its callback adds the moves \
         to a checksum); next to each, in the same run, `copy_within` (one overlapping move) of the same \
         number of bytes. Each time is the mean over repetitions (the heap made again from the same seed for \
         each) until {} ms are timed; ratios are taken within each seed's run, medians of {reps} runs (each \
         with its own seed). \
         Regenerate with `cargo run --release -p mem3-benches --bin compaction` (it writes this section and \
         the next).\n\n| | bytes/s | × copy_within |\n|---|---|---|",
        SPEED_REGION >> 20,
        MIN_TIMED.as_millis()
    );
    let _ = writeln!(
        md,
        "| `ObjectHeap::defragment` ({objects} live objects, {:.1} MiB moved) | {:.2} GiB/s | {d:.2}× |\n\
         | `Pool::compact` ({blocks} live blocks, {:.1} MiB moved) | {:.2} GiB/s | {c:.2}× |\n\
         | `copy_within` | {:.2} GiB/s | 1.00× |",
        moved as f64 / (1 << 20) as f64,
        median(&defrag),
        pool_moved as f64 / (1 << 20) as f64,
        median(&compact),
        median(&compact_copy),
    );
    let _ = writeln!(
        md,
        "\nWhat limits both is in the analysis at the end (\"Compaction\").\n\n{SPEED_END}"
    );
    let targets = vec![
        Target {
            what: "compaction: `Pool::compact` ≥ 0.5 × copy_within's bytes/s (64 MiB)".into(),
            measured: format!("{c:.2}×"),
            met: c >= 0.5,
        },
        Target {
            what: "compaction: `ObjectHeap::defragment` ≥ 0.5 × copy_within's bytes/s (64 MiB)"
                .into(),
            measured: format!("{d:.2}×"),
            met: d >= 0.5,
        },
    ];
    Section { markdown: md, targets }
}
