//! `mem3 replay TRACE`: replay an allocation trace on a pool and report its figures.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mem3_pool::Config;
use mem3_trace::{self as trace, OwnedPool, Report, Trace};
use serde::Serialize;

use crate::heapmap::{self, HeapMap};
use crate::units::{bytes, percent, thousands};
use crate::{Failure, MapAt, Outcome, PolicyArg, emit, is_terminal_map, write_file};

/// The options of `mem3 replay`.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) trace: PathBuf,
    pub(crate) pool_size: Option<usize>,
    pub(crate) policy: PolicyArg,
    /// `--front-cache`: the pool's `Config::front_cache`.
    pub(crate) front_cache: bool,
    pub(crate) min_pool: bool,
    /// `--breakdown`: where the pool's bytes go.
    pub(crate) breakdown: bool,
    pub(crate) json: bool,
    pub(crate) map: Option<PathBuf>,
    pub(crate) map_at: MapAt,
    pub(crate) html: Option<PathBuf>,
    /// What the parser accepts at most.
    pub(crate) limits: trace::Limits,
    /// `--compact` (with `--pin-every`): replay through movable blocks, with these pinned.
    pub(crate) compact: Option<trace::Pinning>,
}

/// What `--json` prints: the fields `docs/trace-format.md` lists, in its order.
#[derive(Debug, Serialize)]
struct Json {
    ops: usize,
    failed_at: Option<usize>,
    /// The bytes the failed request asked for, or `null`.
    failed_request_bytes: Option<usize>,
    pool_bytes: usize,
    peak_live_bytes: usize,
    peak_extent_bytes: usize,
    largest_free_bytes: usize,
    free_bytes: usize,
    fragmentation: f64,
    elapsed_ns: u64,
    ops_per_sec: f64,
    /// Only with `--min-pool`; `null` when no pool up to the search's limit replays the trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    min_pool_bytes: Option<Option<usize>>,
    /// Requests in the trace (`ops` is less when one failed).
    requests: usize,
    policy: &'static str,
    /// `--front-cache`.
    front_cache: bool,
    /// Only with `--compact`: what the compactions did, and the trace's floor.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    compaction: Option<CompactionJson>,
    /// Only with `--breakdown`: where the pool's bytes go, at each moment.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    breakdown: Vec<BreakdownJson>,
}

/// One breakdown of `--breakdown`'s (`mem3_trace::Breakdown`), at one moment.
#[derive(Debug, Serialize)]
struct BreakdownJson {
    /// `peak`, `failure`, `peak in the smallest pool` or `failure 8 bytes below the smallest pool`.
    moment: &'static str,
    /// The trace line of the request it follows (or, for a failure, of the failing request).
    line: Option<usize>,
    region_bytes: usize,
    live_blocks: usize,
    requested_bytes: usize,
    header_bytes: usize,
    rounding_bytes: usize,
    min_block_bytes: usize,
    absorbed_bytes: usize,
    metadata_bytes: usize,
    unused_bytes: usize,
    hole_bytes: usize,
    top_bytes: usize,
    /// Free blocks but the top, by power-of-two size: `[min, count, bytes]`.
    holes: Vec<[usize; 3]>,
}

impl BreakdownJson {
    fn of(moment: &'static str, b: &trace::Breakdown) -> BreakdownJson {
        BreakdownJson {
            moment,
            line: b.line,
            region_bytes: b.region_bytes,
            live_blocks: b.live_blocks,
            requested_bytes: b.requested_bytes,
            header_bytes: b.header_bytes,
            rounding_bytes: b.rounding_bytes,
            min_block_bytes: b.min_block_bytes,
            absorbed_bytes: b.absorbed_bytes,
            metadata_bytes: b.metadata_bytes,
            unused_bytes: b.unused_bytes,
            hole_bytes: b.hole_bytes,
            top_bytes: b.top_bytes,
            holes: b.holes.iter().map(|h| [h.min, h.count, h.bytes]).collect(),
        }
    }
}

/// The fields `--compact` adds to `--json`.
#[derive(Debug, Serialize)]
struct CompactionJson {
    compactions: usize,
    moved_blocks: usize,
    bytes_moved: usize,
    pinned_blocks: usize,
    /// The most bytes the live blocks occupy at once under mem3's layout.
    floor_bytes: usize,
    /// The smallest pool whose heap holds the floor.
    floor_pool_bytes: Option<usize>,
}

pub(crate) fn replay(args: &Args) -> Outcome {
    let name = args.trace.display();
    // Progress goes to a terminal's standard error only, and never with --json.
    let progress = Progress::start(!args.json && std::io::stderr().is_terminal());
    progress.say(format!("reading {name}"));
    let file = std::fs::File::open(&args.trace)
        .map_err(|e| Failure::input(format!("cannot read {name}: {e}")))?;
    // Streamed: neither the file nor its decompressed text is ever held whole (see `trace::Limits`).
    let trace =
        Trace::read(file, args.limits).map_err(|e| Failure::input(format!("{name}: {e}")))?;

    let config =
        Config { policy: args.policy.policy(), front_cache: args.front_cache, ..Config::default() };
    let pool_bytes = args.pool_size.unwrap_or_else(|| trace::default_pool_bytes(&trace));
    progress.say(format!("replaying {} requests", thousands(trace.len() as u64)));
    let no_pool = |e| Failure::no_pool(e, pool_bytes, args.pool_size.is_some(), &name);
    let map_cells = match &args.map {
        Some(path) if is_terminal_map(path) => heapmap::TEXT_CELLS,
        _ => heapmap::SVG_CELLS,
    };
    let limits = trace::TimelineLimits::DEFAULT;
    let (report, compaction, timeline) = match (args.compact, &args.html) {
        (Some(pinning), Some(_)) => {
            progress.say("replaying again for the explorer".into());
            let (report, figures, timeline) =
                trace::replay_timeline_compacting(&trace, pool_bytes, config, pinning, limits)
                    .map_err(no_pool)?;
            (report, Some(figures), Some(timeline))
        }
        (Some(pinning), None) => {
            let (report, figures) =
                trace::replay_on_pool_compacting(&trace, pool_bytes, config, pinning)
                    .map_err(no_pool)?;
            (report, Some(figures), None)
        }
        (None, Some(_)) => {
            let (report, timeline) =
                trace::replay_timeline(&trace, pool_bytes, config, limits).map_err(no_pool)?;
            (report, None, Some(timeline))
        }
        (None, None) => {
            (trace::replay_on_pool(&trace, pool_bytes, config).map_err(no_pool)?, None, None)
        }
    };
    // With --compact and --map, the heap just before and after the first compaction, if one runs.
    let first_compaction = match (args.compact, &args.map) {
        (Some(pinning), Some(_)) => {
            progress.say("drawing the heap at the first compaction".into());
            trace::first_compaction_inspect(&trace, pool_bytes, config, pinning, |pool| {
                HeapMap::of_pool(pool, map_cells)
            })
            .map_err(no_pool)?
        }
        _ => None,
    };
    // The map's moment, in requests done.
    let map_at = match args.map_at {
        MapAt::Peak => trace::Plan::of_trace(&trace).peak.min(report.ops),
        MapAt::End => report.ops,
        MapAt::Line(line) => (0..trace.len())
            .find(|&i| trace.line(i).is_some_and(|l| l >= line))
            .map_or(report.ops, |i| (i + 1).min(report.ops)),
    };
    // A compacting replay that never compacted left the heap as a plain one does.
    let map = match (&args.map, &first_compaction) {
        (Some(_), None) => {
            progress.say("drawing the map".into());
            let mut pool = OwnedPool::new(pool_bytes, config).map_err(no_pool)?;
            let mut map = None;
            trace::replay_observed(&trace, &mut pool, |pool, step, _| {
                if step == trace::Step::Done(map_at) {
                    map = Some(HeapMap::of_pool(pool.pool(), map_cells));
                }
            });
            map
        }
        _ => None,
    };
    let min_pool = args.min_pool.then(|| {
        let mut tries = 0;
        let mut say = |n| {
            tries += 1;
            progress.say(format!("searching the smallest pool: replay {tries}, {}", bytes(n)));
        };
        match args.compact {
            Some(pinning) => trace::min_pool(&trace, |n| {
                say(n);
                trace::CompactingPool::new(n, config, pinning).ok()
            }),
            None => trace::min_pool(&trace, |n| {
                say(n);
                OwnedPool::new(n, config).ok()
            }),
        }
    });
    let compaction = compaction.map(|c| {
        let floor_bytes = trace::floor_bytes(&trace, config.policy);
        CompactionJson {
            compactions: c.compactions,
            moved_blocks: c.moved_blocks,
            bytes_moved: c.moved_bytes,
            pinned_blocks: c.pinned_blocks,
            floor_bytes,
            floor_pool_bytes: trace::region_for_heap(floor_bytes, config),
        }
    });
    let breakdowns = if args.breakdown {
        progress.say("splitting the pool's bytes".into());
        let at = |n: usize, moment| trace::breakdown(&trace, n, config, moment).map_err(no_pool);
        let mut all = vec![("peak", at(pool_bytes, trace::Moment::Peak)?)];
        if report.failed_at.is_some() {
            all.push(("failure", at(pool_bytes, trace::Moment::Failure)?));
        }
        if let Some(Some(min)) = min_pool {
            all.push(("peak in the smallest pool", at(min, trace::Moment::Peak)?));
            all.push((
                "failure 8 bytes below the smallest pool",
                at(min - 8, trace::Moment::Failure)?,
            ));
        }
        all
    } else {
        Vec::new()
    };
    progress.finish();

    let file = args
        .trace
        .file_name()
        .map_or_else(|| args.trace.display().to_string(), |n| n.to_string_lossy().into_owned());
    let file = crate::units::printable(&file);
    let title = format!("mem3 replay {file}: {} pool, {}", bytes(pool_bytes), args.policy.name());
    // The title of the drawings of a compacting replay.
    let compact_title = args.compact.map(|pinning| {
        let pins = pinning.every.map_or(String::new(), |n| format!(" --pin-every {n}"));
        format!(
            "mem3 replay {file} --compact{pins}: {} pool, {}",
            bytes(pool_bytes),
            args.policy.name()
        )
    });
    if let (Some(path), Some((at, before, after))) = (&args.map, &first_compaction) {
        let title = compact_title.as_deref().unwrap_or(&title);
        let line = thousands(trace.line(*at).unwrap_or(0) as u64);
        let before_heading = format!("before the first compaction (the request on line {line})");
        let after_heading = "after it".to_string();
        if is_terminal_map(path) {
            let colour = if args.json { crate::colour_stderr() } else { crate::colour_stdout() };
            let text = format!(
                "{title}: {before_heading}\n{}{title}: {after_heading}\n{}",
                before.text_block(colour),
                after.text_block(colour)
            );
            if args.json {
                eprint!("{text}");
            } else {
                emit(&text);
            }
        } else {
            write_file(
                path,
                &heapmap::svg(title, &[(&before_heading, before), (&after_heading, after)]),
            )?;
        }
    }
    if let (Some(path), Some(map)) = (&args.map, &map) {
        let when = match args.map_at {
            MapAt::Peak => "at the peak of live bytes, ",
            MapAt::End => "at the end, ",
            MapAt::Line(_) => "",
        };
        let line = map_at.checked_sub(1).and_then(|i| trace.line(i));
        let heading = match (line, report.failed_at) {
            (None, _) => "before the first request".to_string(),
            (Some(_), Some(failed)) if map_at == report.ops => format!(
                "{when}after {} requests, stopped by the request on line {} for {} (largest free block {})",
                thousands(map_at as u64),
                thousands(failed as u64),
                bytes(report.failed_request.unwrap_or(0)),
                bytes(report.largest_free_bytes),
            ),
            (Some(line), _) => format!(
                "{when}after {} requests (line {})",
                thousands(map_at as u64),
                thousands(line as u64)
            ),
        };
        if is_terminal_map(path) {
            // With --json standard output is the JSON alone, so the map goes to standard error.
            if args.json {
                eprint!("{title}: {heading}\n{}", map.text_block(crate::colour_stderr()));
            } else {
                emit(&format!("{title}: {heading}\n{}", map.text_block(crate::colour_stdout())));
            }
        } else {
            write_file(path, &heapmap::svg(&title, &[(&heading, map)]))?;
        }
    }
    if let (Some(path), Some(timeline)) = (&args.html, &timeline) {
        let page = crate::html::page(&crate::html::Explorer {
            title: compact_title.as_deref().unwrap_or(&title),
            moment: "request",
            tag_meaning: crate::html::TagMeaning::TraceLine,
            timeline,
        });
        write_file(path, &page)?;
    }

    if args.json {
        let json = Json {
            ops: report.ops,
            failed_at: report.failed_at,
            failed_request_bytes: report.failed_request,
            pool_bytes: report.pool_bytes,
            peak_live_bytes: report.peak_live_bytes,
            peak_extent_bytes: report.peak_extent_bytes,
            largest_free_bytes: report.largest_free_bytes,
            free_bytes: report.free_bytes,
            fragmentation: report.fragmentation,
            elapsed_ns: report.elapsed_ns,
            ops_per_sec: report.ops_per_sec,
            min_pool_bytes: min_pool,
            requests: trace.len(),
            policy: args.policy.json_name(),
            front_cache: args.front_cache,
            compaction,
            breakdown: breakdowns.iter().map(|(m, b)| BreakdownJson::of(m, b)).collect(),
        };
        let text = serde_json::to_string(&json)
            .map_err(|e| Failure::input(format!("cannot write JSON: {e}")))?;
        emit(&(text + "\n"));
    } else {
        let mut text = table(
            &crate::units::printable(&name.to_string()),
            &trace,
            &report,
            args.policy,
            min_pool,
        );
        if let Some(c) = &compaction {
            text += &compaction_rows(c);
        }
        for (moment, b) in &breakdowns {
            text += &breakdown_rows(moment, b);
        }
        emit(&text);
    }
    Ok(())
}

/// The figures for people.
fn table(
    name: &str,
    trace: &Trace,
    r: &Report,
    policy: PolicyArg,
    min_pool: Option<Option<usize>>,
) -> String {
    let replayed = match r.failed_at {
        None => format!("all {} requests", thousands(r.ops as u64)),
        Some(line) => format!(
            "{} of {} requests: the request on line {} for {} did not fit (largest free block {}), \
             which stopped the replay",
            thousands(r.ops as u64),
            thousands(trace.len() as u64),
            thousands(line as u64),
            bytes(r.failed_request.unwrap_or(0)),
            bytes(r.largest_free_bytes),
        ),
    };
    let mut rows = vec![
        ("trace", format!("{name}: {} requests", thousands(trace.len() as u64))),
        ("pool", format!("{}, {}", bytes(r.pool_bytes), policy.name())),
        ("replayed", replayed),
        (
            "time",
            format!(
                "{:.3} ms, {} requests/s",
                r.elapsed_ns as f64 / 1e6,
                thousands(r.ops_per_sec as u64)
            ),
        ),
        ("peak live", bytes(r.peak_live_bytes)),
        ("peak extent", bytes(r.peak_extent_bytes)),
        (
            "at the end",
            format!(
                "free {}, largest free block {}, fragmentation {}",
                bytes(r.free_bytes),
                bytes(r.largest_free_bytes),
                percent(r.fragmentation)
            ),
        ),
    ];
    match min_pool {
        Some(Some(min)) => {
            let overhead = if trace.peak_live_bytes() > 0 {
                format!(
                    " ({:.3} x the peak live bytes)",
                    min as f64 / trace.peak_live_bytes() as f64
                )
            } else {
                String::new()
            };
            rows.push(("min pool", format!("{}{overhead}", bytes(min))));
        }
        Some(None) => rows.push(("min pool", "none found up to the search's limit".into())),
        None => {}
    }
    rows.into_iter().map(|(label, value)| format!("{label:<12} {value}\n")).collect()
}

/// The rows `--compact` adds to the table.
/// The rows of one breakdown: each part with its share of the region, then the holes by size.
fn breakdown_rows(moment: &str, b: &trace::Breakdown) -> String {
    let at = b.line.map_or(String::new(), |l| format!(", line {}", thousands(l as u64)));
    let mut text = format!(
        "breakdown    {moment}{at}: {} region, {} live blocks\n",
        bytes(b.region_bytes),
        thousands(b.live_blocks as u64)
    );
    for (part, n) in b.parts() {
        text += &format!(
            "  {part:<16} {:>12} {:>7}\n",
            bytes(n),
            percent(n as f64 / b.region_bytes.max(1) as f64)
        );
    }
    if !b.holes.is_empty() {
        let holes: Vec<String> = b
            .holes
            .iter()
            .map(|h| {
                format!("{}+: {} ({})", bytes(h.min), thousands(h.count as u64), bytes(h.bytes))
            })
            .collect();
        text += &format!("  holes by size    {}\n", holes.join(", "));
    }
    text
}

fn compaction_rows(c: &CompactionJson) -> String {
    let floor_pool =
        c.floor_pool_bytes.map_or(String::new(), |n| format!(", in a pool of {}", bytes(n)));
    let pinned = if c.pinned_blocks > 0 {
        format!("; {} blocks pinned", thousands(c.pinned_blocks as u64))
    } else {
        String::new()
    };
    [
        (
            "compaction",
            format!(
                "{} compactions moved {} blocks, {}{pinned}",
                thousands(c.compactions as u64),
                thousands(c.moved_blocks as u64),
                bytes(c.bytes_moved)
            ),
        ),
        ("floor", format!("{} of live blocks at most{floor_pool}", bytes(c.floor_bytes))),
    ]
    .into_iter()
    .map(|(label, value)| format!("{label:<12} {value}\n"))
    .collect()
}

impl PolicyArg {
    /// The name `--policy` takes.
    fn json_name(self) -> &'static str {
        match self {
            PolicyArg::FirstFit => "first-fit",
            PolicyArg::BestFit => "best-fit",
        }
    }
}

/// A spinner on standard error that appears only once the work has taken a second.
struct Progress {
    bar: Option<ProgressBar>,
    stop: Option<mpsc::Sender<()>>,
    waiter: Option<JoinHandle<()>>,
}

impl Progress {
    fn start(enabled: bool) -> Progress {
        if !enabled {
            return Progress { bar: None, stop: None, waiter: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        let (stop, stopped) = mpsc::channel::<()>();
        let shown = bar.clone();
        let waiter = std::thread::spawn(move || {
            if stopped.recv_timeout(Duration::from_secs(1)) == Err(mpsc::RecvTimeoutError::Timeout)
            {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(120));
            }
        });
        Progress { bar: Some(bar), stop: Some(stop), waiter: Some(waiter) }
    }

    fn say(&self, message: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
    }

    fn finish(mut self) {
        self.end();
    }

    fn end(&mut self) {
        // Dropping the sender wakes the waiter at once.
        self.stop.take();
        if let Some(waiter) = self.waiter.take() {
            let _ = waiter.join();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.end();
    }
}
