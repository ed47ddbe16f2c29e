//! Runs one workload on one allocator, for a profiler:
//! `cargo build --release -p mem3-benches --bin profile` then e.g.
//! `valgrind --tool=callgrind target/release/profile trace perl-hash mem3` or
//! `perf record -g target/release/profile actions 1000 talc`.
//!
//! Workloads: `trace NAME` (a trace of `tests/data`, a synthetic shape of `mem3_benches::synthetic`, or a
//! trace file's path: a name with a `/`), `min-pool NAME` (the smallest pool for that trace), `actions MAX`, `efficiency MIB` (talc's heap efficiency over MIB MiB), `scaling LIVE`, `compaction -` (mem3-object only), `pool-compaction -` (mem3-pool only). Allocators: `mem3` (first fit), `mem3-cache` (first fit with the front cache), `mem3-best`,
//! `talc`, `rlsf`, `linked-list`, `buddy`, `dlmalloc`, `system`, and for `trace` and `actions` `null`
//! (`peers::Null`: no allocator, the workload's own loop, which the report's instruction counts subtract).

#![forbid(unsafe_code)]

use mem3_benches::{
    Arena, Job, Kind, dispatch,
    peers::Null,
    trace_named,
    workloads::{
        compaction, heap_efficiency, pool_compaction, random_actions, scaling, trace_min_pool,
        trace_region, trace_throughput,
    },
};

struct Work(Vec<String>);

impl Job for Work {
    /// The figures to print, or what is wrong with the arguments.
    type Out = Result<String, String>;
    fn run<A: Arena>(&mut self) -> Result<String, String> {
        let arg = |i: usize| self.0.get(i).cloned().unwrap_or_default();
        let number =
            |what: &str| arg(1).parse::<usize>().map_err(|e| format!("{what} {:?}: {e}", arg(1)));
        let reps: usize = std::env::var("REPS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
        Ok(match arg(0).as_str() {
            "trace" => {
                let trace = trace_named(&arg(1))?;
                let mut out = String::new();
                for _ in 0..reps {
                    let r = trace_throughput::<A>(&trace, trace_region(&trace));
                    out += &format!(
                        "{:.2} M requests/s (failed at {:?})\n",
                        r.ops_per_sec / 1e6,
                        r.failed_at
                    );
                }
                out
            }
            "min-pool" => {
                // The smallest region in which the trace replays whole, bisected to 8 bytes.
                let trace = trace_named(&arg(1))?;
                match trace_min_pool::<A>(&trace) {
                    Some(bytes) => format!(
                        "{bytes} bytes ({:.1} KiB, {:.3} x the peak live bytes)\n",
                        bytes as f64 / 1024.0,
                        bytes as f64 / trace.peak_live_bytes() as f64
                    ),
                    None => "no pool holds the trace\n".to_string(),
                }
            }
            "actions" => {
                let max = number("MAX")?;
                let r = random_actions::<A>(128 << 20, max, 200_000 * reps, 1);
                format!("{:.2} M ops/s\n", r.per_sec() / 1e6)
            }
            "efficiency" => {
                // talc's heap efficiency, 300 rounds over a region of MIB MiB.
                let mib = number("MIB")?;
                format!("{:.2}%\n", 100.0 * heap_efficiency::<A>(mib << 20, 300, 0x6d65_6d33))
            }
            "scaling" => {
                let live = number("LIVE")?;
                format!("{:?} ns per pair\n", scaling::<A>(live, 100_000, reps, 1))
            }
            "compaction" => {
                // Ignores the allocator: mem3-object's defragment on a 64 MiB heap, against copy_within.
                let mut out = String::new();
                for seed in 0..reps as u64 {
                    let r = compaction(64 << 20, seed);
                    let gib = |d: std::time::Duration| {
                        r.moved_bytes as f64 / d.as_secs_f64() / (1u64 << 30) as f64
                    };
                    out += &format!(
                        "{} objects, {} bytes moved: defragment {:.2} GiB/s, copy_within {:.2} GiB/s\n",
                        r.objects,
                        r.moved_bytes,
                        gib(r.defragment),
                        gib(r.copy_within)
                    );
                }
                out
            }
            "pool-compaction" => {
                // Ignores the allocator: mem3-pool's compact on a 64 MiB pool, against copy_within.
                let mut out = String::new();
                for seed in 0..reps as u64 {
                    let r = pool_compaction(64 << 20, seed);
                    let gib = |d: std::time::Duration| {
                        r.moved_bytes as f64 / d.as_secs_f64() / (1u64 << 30) as f64
                    };
                    out += &format!(
                        "{} blocks, {} bytes moved: compact {:.2} GiB/s, copy_within {:.2} GiB/s\n",
                        r.blocks,
                        r.moved_bytes,
                        gib(r.compact),
                        gib(r.copy_within)
                    );
                }
                out
            }
            other => return Err(format!("unknown workload {other:?}")),
        })
    }
}

const USAGE: &str =
    "usage: profile WORKLOAD ARG ALLOCATOR (see the module docs of benches/src/bin/profile.rs)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 {
        eprintln!("{USAGE}");
        std::process::exit(2);
    }
    let mut work = Work(args[..2].to_vec());
    let kind = match args[2].as_str() {
        // The workload's own loop, which the report subtracts from every allocator's count. (Never failing,
        // `Null` would run the heap-efficiency rounds for ever.)
        "null" if matches!(args[0].as_str(), "trace" | "actions") => {
            return finish(work.run::<Null>());
        }
        "mem3" => Kind::Mem3FirstFit,
        "mem3-cache" => Kind::Mem3FirstFitCached,
        "mem3-best" => Kind::Mem3BestFit,
        "talc" => Kind::Talc,
        "rlsf" => Kind::Rlsf,
        "linked-list" => Kind::LinkedList,
        "buddy" => Kind::Buddy,
        "dlmalloc" => Kind::Dlmalloc,
        "system" => Kind::System,
        other => {
            eprintln!("unknown allocator {other:?}; {USAGE}");
            std::process::exit(2);
        }
    };
    finish(dispatch(kind, &mut work));
}

fn finish(out: Result<String, String>) {
    match out {
        Ok(figures) => print!("{figures}"),
        Err(e) => {
            eprintln!("{e}; {USAGE}");
            std::process::exit(2);
        }
    }
}
