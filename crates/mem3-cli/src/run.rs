//! `mem3 run FILE`: assemble and run a VM program.

use std::io::{BufWriter, Write as _};
use std::path::PathBuf;

use mem3_vm::{HeapStats, Options, RunStats};

use crate::heapmap::{self, HeapMap};
use crate::units::{bytes, count, percent, thousands};
use crate::{Failure, Outcome, read_file, write_file};

/// The options of `mem3 run`.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) file: PathBuf,
    pub(crate) pool_size: Option<usize>,
    pub(crate) max_steps: Option<u64>,
    pub(crate) stats: bool,
    pub(crate) map: Option<PathBuf>,
}

pub(crate) fn run(args: &Args) -> Outcome {
    let name = args.file.display();
    let source = read_file(&args.file)?;
    let source = String::from_utf8(source).map_err(|e| {
        Failure::input(format!("{name}: not UTF-8 text (at byte {})", e.utf8_error().valid_up_to()))
    })?;
    let program = mem3_vm::assemble(&source).map_err(|errors| Failure {
        status: 1,
        lines: errors.iter().map(|e| format!("{name}: {e}")).collect(),
    })?;
    let options =
        Options { pool_size: args.pool_size, max_steps: args.max_steps, ..Options::default() };
    let pool_bytes = options.pool_size_for(&program);

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (result, stats, (heap, pinned), map) = mem3_vm::with_vm(&program, &options, |vm| {
        let result = vm.run(&mut out);
        let map = args.map.as_ref().map(|_| HeapMap::of_heap(vm.heap(), heapmap::SVG_CELLS));
        (result, vm.stats(), (vm.heap().stats(), vm.heap().pinned_objects()), map)
    })
    .map_err(|e| Failure::no_pool(e, pool_bytes, args.pool_size.is_some(), &name))?;
    // The VM flushed its output; nothing is buffered here any more.
    drop(out.flush());

    if args.stats {
        eprint!(
            "{}",
            stats_text(&args.file.display().to_string(), pool_bytes, &heap, pinned, &stats)
        );
    }
    if let (Some(path), Some(map)) = (&args.map, &map) {
        let title = format!("mem3 run {}: the pool at the end", file_name(&args.file));
        let heading = match &result {
            Ok(_) => format!("after {} steps", thousands(stats.steps)),
            Err(e) => format!("stopped at line {}: {}", e.line, e.kind.cause()),
        };
        write_file(path, &heapmap::svg(&title, &[(&heading, map)]))?;
    }
    result.map(|_| ()).map_err(|e| Failure::input(format!("{name}: {e}")))
}

/// The last component of a path, for titles.
fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The pool's and the run's figures, for `--stats`.
fn stats_text(
    name: &str,
    pool_bytes: usize,
    heap: &HeapStats,
    pinned: usize,
    run: &RunStats,
) -> String {
    let p = &heap.pool;
    let n = |x: usize| thousands(x as u64);
    let rows = [
        ("pool", format!("{} region, {} for blocks", bytes(pool_bytes), bytes(p.capacity))),
        (
            "used",
            format!(
                "{} in {} ({} pinned), {} of block headers",
                bytes(p.used_bytes),
                count(heap.live_objects, "object"),
                n(pinned),
                bytes(p.overhead_bytes)
            ),
        ),
        (
            "free",
            format!(
                "{} in {}, largest free block {}, fragmentation {}",
                bytes(p.free_bytes),
                count(p.free_blocks, "block"),
                bytes(p.largest_free),
                percent(p.fragmentation())
            ),
        ),
        ("peak extent", bytes(p.peak_extent)),
        ("steps", thousands(run.steps)),
        ("allocations", thousands(run.allocations)),
        (
            "frees",
            format!(
                "{} by `free`, {} by {}",
                thousands(run.explicit_frees),
                thousands(run.objects_collected),
                count(usize::try_from(run.collections).unwrap_or(usize::MAX), "garbage collection")
            ),
        ),
        (
            "defrags",
            format!(
                "{}, moving {} ({})",
                thousands(run.defragmentations),
                count(usize::try_from(run.objects_moved).unwrap_or(usize::MAX), "object"),
                bytes(usize::try_from(run.bytes_moved).unwrap_or(usize::MAX))
            ),
        ),
        (
            "peak stack",
            format!("{}, call depth {}", count(run.peak_stack, "value"), n(run.peak_call_depth)),
        ),
    ];
    let mut text = format!("mem3: stats for {name}\n");
    for (label, value) in rows {
        text += &format!("  {label:<12} {value}\n");
    }
    text
}
