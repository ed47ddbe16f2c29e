//! `mem3 run FILE`: assemble and run a VM program.

use std::cell::RefCell;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::rc::Rc;

use mem3_trace::{EventKind, Plan, Recorder, Timeline, TimelineLimits};
use mem3_vm::{Event, HeapStats, ObjectHeap, Options, Program, RunStats, Vm};
use serde::Serialize;

use crate::heapmap::{self, HeapMap};
use crate::units::{bytes, count, percent, thousands};
use crate::{Failure, MapAt, Outcome, is_terminal_map, read_file, write_file};

/// The options of `mem3 run`.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) file: PathBuf,
    pub(crate) options: Options,
    pub(crate) stats: bool,
    pub(crate) json: bool,
    pub(crate) map: Option<PathBuf>,
    pub(crate) map_at: MapAt,
    pub(crate) html: Option<PathBuf>,
}

/// What the first run found out for the second: allocations in all, and the one after which the most
/// bytes were in use.
#[derive(Debug, Default, Clone, Copy)]
struct Peak {
    allocations: usize,
    at: usize,
    used: usize,
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
    let options = &args.options;
    let pool_bytes = options.pool_size_for(&program);
    let no_pool = |e| Failure::no_pool(e, pool_bytes, options.pool_size.is_some(), &name);

    // The real run: the program's output, the figures, the end's map, and where the peak is.
    let wants_peak = args.html.is_some() || (args.map.is_some() && args.map_at == MapAt::Peak);
    let peak = Rc::new(RefCell::new(Peak::default()));
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (result, stats, (heap, pinned), end_map) = mem3_vm::with_vm(&program, options, |vm| {
        if wants_peak {
            let peak = Rc::clone(&peak);
            vm.set_observer(Some(Box::new(move |event, vm: &Vm<'_, '_>| {
                if event == Event::Allocated {
                    let mut p = peak.borrow_mut();
                    p.allocations = vm.stats().allocations as usize;
                    let used = used_bytes(vm.heap());
                    if used > p.used {
                        (p.used, p.at) = (used, p.allocations);
                    }
                }
            })));
        }
        let result = vm.run(&mut out);
        // Also the fallback of a peak map for a program that allocates nothing.
        let map = args.map.is_some().then(|| map_of(args, vm.heap()));
        (result, vm.stats(), (vm.heap().stats(), vm.heap().pinned_objects()), map)
    })
    .map_err(no_pool)?;
    // The VM flushed its output; nothing is buffered here any more.
    drop(out.flush());
    let peak = *peak.borrow();

    if args.stats {
        let text = if args.json {
            json_stats(pool_bytes, &heap, pinned, &stats, &result)?
        } else {
            stats_text(
                &crate::units::printable(&args.file.display().to_string()),
                pool_bytes,
                &heap,
                pinned,
                &stats,
            )
        };
        eprint!("{text}");
    }

    // A second, silent run for what needs a moment other than the end: programs are deterministic, so it
    // makes the same allocations in the same places.
    let target = match args.map_at {
        MapAt::Peak => Target::Allocation(peak.at),
        MapAt::End => Target::None,
        MapAt::Line(line) => Target::Line(line),
    };
    let (map, timeline) = if args.html.is_some() || (args.map.is_some() && target != Target::None) {
        second_run(&program, options, args, target, peak).map_err(no_pool)?
    } else {
        (None, None)
    };
    let end_map = end_map.map(|m| (m, "at the end".to_string()));
    let map = match args.map_at {
        MapAt::End => end_map,
        MapAt::Peak => map.or(end_map),
        MapAt::Line(_) => map,
    };

    let file = file_name(&args.file);
    let ending = match &result {
        Ok(_) => format!("ran {} steps", thousands(stats.steps)),
        Err(e) => format!("stopped at line {}: {}", e.line, e.kind.cause()),
    };
    if let Some(path) = &args.map {
        let Some((map, when)) = map else {
            let line = match args.map_at {
                MapAt::Line(line) => line.to_string(),
                MapAt::Peak | MapAt::End => "peak".into(),
            };
            return Err(Failure::usage(format!("--map-at {line}: no allocation on that line")));
        };
        if is_terminal_map(path) {
            eprint!("mem3: the pool {when} ({ending})\n{}", map.text_block(crate::colour_stderr()));
        } else {
            let title = format!("mem3 run {file}: the pool {when}");
            write_file(path, &heapmap::svg(&title, &[(&ending, &map)]))?;
        }
    }
    if let (Some(path), Some(timeline)) = (&args.html, &timeline) {
        let title = format!("mem3 run {file}: {} pool, {ending}", bytes(pool_bytes));
        let page = crate::html::page(&crate::html::Explorer {
            title: &title,
            moment: "allocation",
            tag_meaning: crate::html::TagMeaning::ObjectKind,
            timeline,
        });
        write_file(path, &page)?;
    }
    result.map(|_| ()).map_err(|e| Failure::input(format!("{name}: {e}")))
}

/// The moment of the map the second run takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    None,
    Allocation(usize),
    Line(usize),
}

/// Bytes of used blocks, headers included: the one meaning of "used".
fn used_bytes(heap: &ObjectHeap<'_>) -> usize {
    let s = heap.pool().stats();
    s.used_bytes + s.overhead_bytes
}

/// The map `--map` asks for, SVG- or terminal-sized.
fn map_of(args: &Args, heap: &ObjectHeap<'_>) -> HeapMap {
    let cells = match &args.map {
        Some(path) if is_terminal_map(path) => heapmap::TEXT_CELLS,
        _ => heapmap::SVG_CELLS,
    };
    HeapMap::of_heap(heap, cells)
}

/// A used block's tag in the explorer: its object kind's discriminant (from 1; 0: none).
fn kind_tag(heap: &ObjectHeap<'_>, block: mem3_pool::Block) -> u32 {
    heap.kind_of_block(block).map_or(0, |k| k as u32)
}

/// What the second run's observer keeps.
struct Second {
    recorder: Option<Recorder>,
    /// Snapshot taken before the collection or defragmentation in progress.
    before: Option<usize>,
    target: Target,
    map: Option<(HeapMap, String)>,
}

type SecondResult = (Option<(HeapMap, String)>, Option<Timeline>);

/// Runs `program` again with its output discarded, taking the map at `target` and, for `--html`, the
/// timeline.
fn second_run(
    program: &Program,
    options: &Options,
    args: &Args,
    target: Target,
    peak: Peak,
) -> Result<SecondResult, mem3_vm::mem3_object::Error> {
    let recorder = args.html.as_ref().map(|_| {
        Recorder::new(Plan { total: peak.allocations, peak: peak.at }, TimelineLimits::DEFAULT)
    });
    let state = Rc::new(RefCell::new(Second { recorder, before: None, target, map: None }));
    let map_cells = match &args.map {
        Some(path) if is_terminal_map(path) => heapmap::TEXT_CELLS,
        _ => heapmap::SVG_CELLS,
    };
    let timeline = mem3_vm::with_vm(program, options, |vm| {
        // The empty pool, before the first allocation, as a replay's timeline starts.
        if let Some(recorder) = &mut state.borrow_mut().recorder {
            let heap = vm.heap();
            recorder.observe(heap.pool(), 0, vm.line(), |b| kind_tag(heap, b));
        }
        let shared = Rc::clone(&state);
        vm.set_observer(Some(Box::new(move |event, vm: &Vm<'_, '_>| {
            let mut s = shared.borrow_mut();
            let heap = vm.heap();
            let at = vm.stats().allocations as usize;
            let line = vm.line();
            let tag = |b| kind_tag(heap, b);
            if event == Event::Allocated && s.map.is_none() {
                let when = match s.target {
                    Target::Allocation(n) if n == at => Some("at its peak".to_string()),
                    Target::Line(l) if l == line => Some(format!("after line {l}")),
                    _ => None,
                };
                if let Some(when) = when {
                    s.map = Some((HeapMap::of_heap(heap, map_cells), when));
                }
            }
            let s = &mut *s;
            let Some(recorder) = &mut s.recorder else { return };
            match event {
                Event::Allocated => recorder.observe(heap.pool(), at, line, tag),
                Event::CollectionStart | Event::DefragmentStart => {
                    s.before = recorder
                        .wants_event_snapshots()
                        .then(|| recorder.snapshot(heap.pool(), at, line, tag));
                }
                Event::CollectionEnd { .. } | Event::DefragmentEnd { .. } => {
                    let after = s.before.map(|_| recorder.snapshot(heap.pool(), at, line, tag));
                    let kind = if matches!(event, Event::CollectionEnd { .. }) {
                        EventKind::Collection
                    } else {
                        EventKind::Compaction
                    };
                    recorder.event(kind, at, line, s.before.take(), after);
                }
                _ => {}
            }
        })));
        let result = vm.run(&mut std::io::sink());
        vm.set_observer(None);
        let mut s = state.borrow_mut();
        let heap = vm.heap();
        let at = vm.stats().allocations as usize;
        let line = vm.line();
        s.recorder.take().map(|mut recorder| {
            if let Err(e) = &result {
                if matches!(e.kind, mem3_vm::RuntimeErrorKind::OutOfMemory { .. }) {
                    let index = recorder.snapshot(heap.pool(), at, e.line, |b| kind_tag(heap, b));
                    recorder.event(EventKind::Failure, at, e.line, Some(index), None);
                }
            }
            recorder.finish(heap.pool(), at, line, |b| kind_tag(heap, b))
        })
    })?;
    let map = state.borrow_mut().map.take();
    Ok((map, timeline))
}

/// The last component of a path, for titles.
fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// What `--stats --json` prints.
#[derive(Debug, Serialize)]
struct Json {
    pool_bytes: usize,
    capacity_bytes: usize,
    /// Bytes of used blocks, headers included (as in the heap maps).
    used_bytes: usize,
    payload_bytes: usize,
    header_bytes: usize,
    free_bytes: usize,
    free_blocks: usize,
    largest_free_bytes: usize,
    fragmentation: f64,
    peak_extent_bytes: usize,
    live_objects: usize,
    pinned_objects: usize,
    steps: u64,
    allocations: u64,
    explicit_frees: u64,
    collections: u64,
    objects_collected: u64,
    defragmentations: u64,
    objects_moved: u64,
    bytes_moved: u64,
    peak_stack: usize,
    peak_call_depth: usize,
    /// `null`, or the runtime error's cause (`"out of memory"`, ...).
    error: Option<&'static str>,
}

fn json_stats(
    pool_bytes: usize,
    heap: &HeapStats,
    pinned: usize,
    run: &RunStats,
    result: &Result<RunStats, mem3_vm::RuntimeError>,
) -> Result<String, Failure> {
    let p = &heap.pool;
    let json = Json {
        pool_bytes,
        capacity_bytes: p.capacity,
        used_bytes: p.used_bytes + p.overhead_bytes,
        payload_bytes: p.used_bytes,
        header_bytes: p.overhead_bytes,
        free_bytes: p.free_bytes,
        free_blocks: p.free_blocks,
        largest_free_bytes: p.largest_free,
        fragmentation: p.fragmentation(),
        peak_extent_bytes: p.peak_extent,
        live_objects: heap.live_objects,
        pinned_objects: pinned,
        steps: run.steps,
        allocations: run.allocations,
        explicit_frees: run.explicit_frees,
        collections: run.collections,
        objects_collected: run.objects_collected,
        defragmentations: run.defragmentations,
        objects_moved: run.objects_moved,
        bytes_moved: run.bytes_moved,
        peak_stack: run.peak_stack,
        peak_call_depth: run.peak_call_depth,
        error: result.as_ref().err().map(|e| e.kind.cause()),
    };
    serde_json::to_string(&json)
        .map(|t| t + "\n")
        .map_err(|e| Failure::input(format!("cannot write JSON: {e}")))
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
                "{} in {} ({} pinned): {} of payload, {} of block headers",
                bytes(p.used_bytes + p.overhead_bytes),
                count(heap.live_objects, "object"),
                n(pinned),
                bytes(p.used_bytes),
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
