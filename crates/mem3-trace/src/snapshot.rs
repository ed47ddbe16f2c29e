//! Timelines: a pool's figures over a run and a bounded number of snapshots of its blocks, for drawing how
//! the heap evolved (`mem3 replay --html`, `mem3 run --html`).
//!
//! A [`Recorder`] is told of each moment of a run ([`Recorder::observe`]), samples the figures at evenly
//! spaced moments, and takes a [`Snapshot`] of the pool's real blocks at the moments of its [`Plan`]:
//! evenly spaced, the peak always among them. Events (a failed request, a garbage collection, a
//! compaction) are marked with snapshots before and after. Everything is bounded by [`TimelineLimits`]:
//! a snapshot of more blocks than its budget keeps the largest free blocks exact and folds the blocks
//! between them into [`SegmentKind::Mixed`] runs of bounded span, so a 64 MiB pool of a million blocks
//! still shows where its holes are.
//!
//! [`replay_timeline`] and [`replay_timeline_compacting`] replay a trace with a recorder, through
//! [`replay_observed`], which reports each request and each compaction as it happens; any other loop (the
//! VM's observer) drives one the same way.

use std::collections::HashMap;

use mem3_pool::{Block, BlockState, Config, Error, Pool};

use crate::{
    CompactingPool, Compaction, CompactionPhase, Op, OwnedPool, Pinning, Replay, Report, Trace,
    TraceAllocator,
};

/// What a [`Segment`] of a snapshot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    /// One free block, or a run of free blocks (only under deferred coalescing).
    Free,
    /// Used blocks only.
    Used,
    /// Pinned blocks only.
    Pinned,
    /// Several blocks, free and used, folded together because the snapshot had more blocks than its
    /// budget; [`Segment::used`] says how full it is.
    Mixed,
}

/// A run of the pool in a snapshot: one block, or several adjacent blocks folded together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Segment {
    /// Offset of its first byte from the pool's base.
    pub start: usize,
    /// Bytes it covers, headers included.
    pub size: usize,
    /// What it holds.
    pub kind: SegmentKind,
    /// Blocks it stands for (1: an exact block).
    pub blocks: usize,
    /// Bytes of used or pinned blocks in it.
    pub used: usize,
    /// The caller's tag of its blocks (e.g. the trace line that allocated it, or an object kind), when all
    /// its used blocks have the same one; 0 for none.
    pub tag: u32,
}

/// A pool's figures at one moment. "Used" is always the bytes of used blocks, headers included, so that
/// `used_bytes + free_bytes == capacity`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    /// Bytes of used (and pinned) blocks, headers included.
    pub used_bytes: usize,
    /// Bytes of free blocks.
    pub free_bytes: usize,
    /// The largest free block.
    pub largest_free: usize,
    /// `1 - largest_free / free_bytes` (0 when nothing is free).
    pub fragmentation: f64,
    /// Number of used blocks.
    pub used_blocks: usize,
    /// Number of free blocks.
    pub free_blocks: usize,
}

impl Figures {
    /// The figures of `pool` now, in O(1).
    pub fn of(pool: &Pool<'_>) -> Figures {
        let s = pool.stats();
        Figures {
            used_bytes: s.used_bytes + s.overhead_bytes,
            free_bytes: s.free_bytes,
            largest_free: s.largest_free,
            fragmentation: s.fragmentation(),
            used_blocks: s.used_blocks,
            free_blocks: s.free_blocks,
        }
    }
}

/// The pool's blocks at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The moment: requests done (a replay) or allocations made (a VM run).
    pub at: usize,
    /// The input line of the last request or instruction, 0 if none.
    pub line: usize,
    /// Bytes the blocks tile.
    pub capacity: usize,
    /// The figures.
    pub figures: Figures,
    /// The blocks in address order, tiling `capacity`.
    pub segments: Vec<Segment>,
    /// Whether every segment is one block (the budget was not reached).
    pub exact: bool,
}

impl Snapshot {
    /// Takes `pool`'s blocks in at most about `budget` segments (at least 16). `tag` names each used
    /// block's tag. O(blocks), plus a sort of the free blocks when over budget.
    pub fn capture(
        pool: &Pool<'_>,
        at: usize,
        line: usize,
        budget: usize,
        mut tag: impl FnMut(Block) -> u32,
    ) -> Snapshot {
        let budget = budget.max(16);
        let capacity = pool.capacity();
        let figures = Figures::of(pool);
        let exact_segment = |info: mem3_pool::BlockInfo, tag: &mut dyn FnMut(Block) -> u32| {
            let (kind, used) = match info.state {
                BlockState::Free => (SegmentKind::Free, 0),
                BlockState::Used => (SegmentKind::Used, info.size),
                BlockState::Pinned => (SegmentKind::Pinned, info.size),
            };
            let tag = info.block().map_or(0, &mut *tag);
            Segment { start: info.start, size: info.size, kind, blocks: 1, used, tag }
        };
        let blocks = figures.used_blocks + figures.free_blocks;
        if blocks <= budget {
            let segments = pool.blocks().map(|b| exact_segment(b, &mut tag)).collect();
            return Snapshot { at, line, capacity, figures, segments, exact: true };
        }
        // Keep the largest free blocks exact (a quarter of the budget), fold the rest into runs of at most
        // `span` bytes (half the budget's worth), cut at the kept blocks.
        let keep = budget / 4;
        let mut free: Vec<(usize, usize)> = pool
            .blocks()
            .filter(|b| b.state == BlockState::Free)
            .map(|b| (b.size, b.start))
            .collect();
        free.sort_unstable_by(|a, b| b.cmp(a));
        free.truncate(keep);
        let mut kept: Vec<usize> = free.into_iter().map(|(_, start)| start).collect();
        kept.sort_unstable();
        let span = capacity.div_ceil(budget / 2).max(1);
        let mut segments: Vec<Segment> = Vec::with_capacity(budget + 16);
        let mut open: Option<Segment> = None;
        for info in pool.blocks() {
            if kept.binary_search(&info.start).is_ok() {
                segments.extend(open.take());
                segments.push(exact_segment(info, &mut tag));
                continue;
            }
            let one = exact_segment(info, &mut tag);
            match &mut open {
                Some(run) if run.size + one.size <= span || run.size == 0 => {
                    run.kind = match (run.kind, one.kind) {
                        (a, b) if a == b => a,
                        _ => SegmentKind::Mixed,
                    };
                    if run.tag != one.tag && one.kind != SegmentKind::Free {
                        run.tag = if run.used == 0 { one.tag } else { 0 };
                    }
                    run.size += one.size;
                    run.blocks += 1;
                    run.used += one.used;
                }
                _ => {
                    segments.extend(open.take());
                    open = Some(one);
                }
            }
        }
        segments.extend(open);
        Snapshot { at, line, capacity, figures, segments, exact: false }
    }
}

/// The figures at one moment of a [`Timeline`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The moment (see [`Snapshot::at`]).
    pub at: usize,
    /// The figures then.
    pub figures: Figures,
}

/// What happened at an [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A request or an allocation failed.
    Failure,
    /// A garbage collection.
    Collection,
    /// A compaction (defragmentation): blocks moved.
    Compaction,
}

/// Something a timeline marks, with the snapshots before and after when they were taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The moment.
    pub at: usize,
    /// The input line, 0 if none.
    pub line: usize,
    /// The index in [`Timeline::snapshots`] of the pool before it.
    pub before: Option<usize>,
    /// The index in [`Timeline::snapshots`] of the pool after it.
    pub after: Option<usize>,
}

/// A run's figures over time and its snapshots, in order of their moments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    /// The figures at evenly spaced moments, and at every snapshot.
    pub samples: Vec<Sample>,
    /// The pool at the moments of the plan, and before and after events.
    pub snapshots: Vec<Snapshot>,
    /// Failures, collections and compactions, at most [`TimelineLimits::events`] of them.
    pub events: Vec<Event>,
    /// Events beyond [`TimelineLimits::events`], counted but not kept.
    pub events_dropped: usize,
    /// The index in `snapshots` of the peak.
    pub peak: Option<usize>,
    /// The last moment.
    pub end: usize,
}

/// The bounds of a [`Timeline`], which bound the size of a drawing of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineLimits {
    /// Snapshots at evenly spaced moments (the peak and the end come on top).
    pub snapshots: usize,
    /// Events whose snapshots before and after are taken; later events are marked only.
    pub event_snapshots: usize,
    /// Events kept at most.
    pub events: usize,
    /// Samples of the figures.
    pub samples: usize,
    /// Segments of a snapshot (see [`Snapshot::capture`]).
    pub segments: usize,
    /// Segments of the peak's snapshot, which is kept exact when it can be.
    pub peak_segments: usize,
}

impl TimelineLimits {
    /// 40 snapshots of 4,096 segments, the peak's of 160,000 (exact for the shared traces), 24 events
    /// with snapshots of 2,000 marked, 2,000 samples: a few MiB drawn.
    pub const DEFAULT: TimelineLimits = TimelineLimits {
        snapshots: 40,
        event_snapshots: 24,
        events: 2000,
        samples: 2000,
        segments: 4096,
        peak_segments: 160_000,
    };
}

impl Default for TimelineLimits {
    fn default() -> Self {
        TimelineLimits::DEFAULT
    }
}

/// When a [`Recorder`] takes its snapshots: at `total` moments in all, the peak at `peak`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The last moment of the run.
    pub total: usize,
    /// The moment of the peak.
    pub peak: usize,
}

impl Plan {
    /// The plan of a replay of `trace`: its requests, and the first request after which the requested
    /// live bytes are at their peak ([`Trace::peak_live_bytes`]).
    pub fn of_trace(trace: &Trace) -> Plan {
        Plan::of_trace_prefix(trace, trace.len())
    }

    /// The plan of a replay of the first `ops` requests of `trace` (e.g. those before a failure).
    pub fn of_trace_prefix(trace: &Trace, ops: usize) -> Plan {
        let (mut live, mut peak, mut at) = (0usize, 0usize, 0usize);
        for (i, op) in trace.ops().take(ops).enumerate() {
            live = match op {
                Op::Alloc { size, .. } => live.saturating_add(size),
                Op::Free { size, .. } => live.saturating_sub(size),
                Op::Realloc { old_size, new_size, .. } => {
                    live.saturating_sub(old_size).saturating_add(new_size)
                }
            };
            if live > peak {
                (peak, at) = (live, i + 1);
            }
        }
        Plan { total: ops.min(trace.len()), peak: at }
    }
}

/// Builds a [`Timeline`] from the moments of a run it is told of.
#[derive(Debug)]
pub struct Recorder {
    plan: Plan,
    limits: TimelineLimits,
    /// Moments still to snapshot, in decreasing order (the next is last).
    points: Vec<usize>,
    sample_every: usize,
    timeline: Timeline,
}

impl Recorder {
    /// A recorder for a run of `plan.total` moments.
    pub fn new(plan: Plan, limits: TimelineLimits) -> Recorder {
        let n = limits.snapshots.max(1);
        let mut points: Vec<usize> =
            (1..=n).map(|k| plan.total.saturating_mul(k) / n).chain([plan.peak]).collect();
        points.sort_unstable_by(|a, b| b.cmp(a));
        points.dedup();
        let sample_every = plan.total.div_ceil(limits.samples.max(1)).max(1);
        Recorder { plan, limits, points, sample_every, timeline: Timeline::default() }
    }

    /// Tells the recorder of moment `at` (from 0, increasing; `line` the input line then): samples the
    /// figures every so often, and takes the plan's snapshots.
    pub fn observe(
        &mut self,
        pool: &Pool<'_>,
        at: usize,
        line: usize,
        tag: impl FnMut(Block) -> u32,
    ) {
        if at % self.sample_every == 0 {
            self.timeline.samples.push(Sample { at, figures: Figures::of(pool) });
        }
        let mut due = false;
        while self.points.last().is_some_and(|&p| p <= at) {
            due |= self.points.pop() == Some(at);
        }
        if due {
            let index = self.snapshot(pool, at, line, tag);
            if at == self.plan.peak && self.timeline.peak.is_none() {
                self.timeline.peak = Some(index);
            }
        }
    }

    /// Takes a snapshot now and returns its index in [`Timeline::snapshots`]; the peak's is taken with
    /// [`TimelineLimits::peak_segments`].
    pub fn snapshot(
        &mut self,
        pool: &Pool<'_>,
        at: usize,
        line: usize,
        tag: impl FnMut(Block) -> u32,
    ) -> usize {
        let budget = if at == self.plan.peak && self.timeline.peak.is_none() {
            self.limits.peak_segments
        } else {
            self.limits.segments
        };
        let t = &mut self.timeline;
        if t.samples.last().is_none_or(|s| s.at != at) {
            t.samples.push(Sample { at, figures: Figures::of(pool) });
        }
        if let Some(last) = t.snapshots.last() {
            if last.at == at && last.figures == Figures::of(pool) && budget == self.limits.segments
            {
                return t.snapshots.len() - 1;
            }
        }
        t.snapshots.push(Snapshot::capture(pool, at, line, budget, tag));
        t.snapshots.len() - 1
    }

    /// Whether an event now would get snapshots (fewer than [`TimelineLimits::event_snapshots`] so far).
    pub fn wants_event_snapshots(&self) -> bool {
        let with = self.timeline.events.iter().filter(|e| e.before.is_some()).count();
        with < self.limits.event_snapshots
    }

    /// Marks an event at `at`, with the snapshots (from [`snapshot`](Recorder::snapshot)) before and after
    /// it if taken.
    pub fn event(
        &mut self,
        kind: EventKind,
        at: usize,
        line: usize,
        before: Option<usize>,
        after: Option<usize>,
    ) {
        if self.timeline.events.len() < self.limits.events || kind == EventKind::Failure {
            self.timeline.events.push(Event { kind, at, line, before, after });
        } else {
            self.timeline.events_dropped += 1;
        }
    }

    /// The timeline, with a last snapshot of `pool` at `at`.
    pub fn finish(
        mut self,
        pool: &Pool<'_>,
        at: usize,
        line: usize,
        tag: impl FnMut(Block) -> u32,
    ) -> Timeline {
        let index = self.snapshot(pool, at, line, tag);
        if self.timeline.peak.is_none() {
            // The run stopped before its peak: the end is the most it got to.
            self.timeline.peak = Some(index);
        }
        self.timeline.end = at;
        self.timeline
    }
}

/// The live blocks of a replay in progress, by slot (see [`Op`](crate::Op)).
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The block each slot names, 0 when the slot is not live.
    pub ptrs: Vec<usize>,
    /// The request (counting from 0) that allocated or last resized each slot's block.
    pub origins: Vec<u32>,
}

impl Live {
    /// The input line that allocated (or last resized) each live block, by block name.
    pub fn lines(&self, trace: &Trace) -> HashMap<usize, u32> {
        self.ptrs
            .iter()
            .zip(&self.origins)
            .filter(|&(&ptr, _)| ptr != 0)
            .map(|(&ptr, &origin)| {
                let line = trace.line(origin as usize).unwrap_or(0);
                (ptr, u32::try_from(line).unwrap_or(u32::MAX))
            })
            .collect()
    }
}

/// An allocator over a mem3 pool whose replay a timeline can watch ([`replay_observed`]): its pool, the
/// name it gives each block, and the compactions its requests run, as they happen. [`OwnedPool`] names
/// blocks by their offsets and never compacts; [`CompactingPool`] names them by handles.
pub trait Observable: TraceAllocator {
    /// The pool.
    fn pool(&self) -> &Pool<'_>;

    /// The name a replay holds for the used block `block` (what [`Live::ptrs`] holds), `None` if none.
    fn name_of(&self, block: Block) -> Option<usize>;

    /// As [`TraceAllocator::alloc`], calling `hook` just before and just after each compaction the request
    /// runs. By default: no compaction, no call.
    fn alloc_observed(
        &mut self,
        size: usize,
        align: usize,
        hook: &mut dyn FnMut(&Self, CompactionPhase),
    ) -> Option<usize> {
        let _ = hook;
        self.alloc(size, align)
    }

    /// As [`TraceAllocator::realloc`], calling `hook` as [`alloc_observed`](Observable::alloc_observed)
    /// does.
    fn realloc_observed(
        &mut self,
        ptr: usize,
        old_size: usize,
        align: usize,
        new_size: usize,
        hook: &mut dyn FnMut(&Self, CompactionPhase),
    ) -> Option<usize> {
        let _ = hook;
        self.realloc(ptr, old_size, align, new_size)
    }
}

/// Blocks are named by their offsets; nothing compacts.
impl Observable for OwnedPool {
    fn pool(&self) -> &Pool<'_> {
        OwnedPool::pool(self)
    }

    fn name_of(&self, block: Block) -> Option<usize> {
        Some(block.offset())
    }
}

/// A moment of a replay that [`replay_observed`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// `n` requests done: 0 before the first request, then after each successful one.
    Done(usize),
    /// The request after the first `n` (request `n`, counting from 0) compacts the pool: just before or
    /// just after the compaction.
    Compaction(usize, CompactionPhase),
}

/// Replays `trace` on `pool` as [`replay`](crate::replay) does, calling `observe(pool, step, live)` before
/// the first request ([`Step::Done`] 0), after each successful one (`Done(n)`, `n` requests done), and
/// just before and just after each compaction a request runs ([`Step::Compaction`]). Returns the figures
/// (the timing includes `observe`) and the live blocks at the end.
pub fn replay_observed<A: Observable>(
    trace: &Trace,
    pool: &mut A,
    mut observe: impl FnMut(&A, Step, &Live),
) -> (Replay, Live) {
    let mut live = Live { ptrs: vec![0; trace.slots()], origins: vec![0; trace.slots()] };
    let mut failed = None;
    let mut done = 0;
    let start = std::time::Instant::now();
    observe(pool, Step::Done(0), &live);
    for (i, op) in trace.ops().enumerate() {
        let origin = u32::try_from(i).unwrap_or(u32::MAX);
        match op {
            Op::Alloc { slot, size, align } => {
                let got = pool.alloc_observed(size, align, &mut |pool, phase| {
                    observe(pool, Step::Compaction(done, phase), &live)
                });
                match got {
                    Some(p) => {
                        (live.ptrs[slot as usize], live.origins[slot as usize]) = (p, origin)
                    }
                    None => {
                        failed = Some(size);
                        break;
                    }
                }
            }
            Op::Free { slot, size, align } => {
                pool.free(live.ptrs[slot as usize], size, align);
                live.ptrs[slot as usize] = 0;
            }
            Op::Realloc { slot, old_size, new_size, align } => {
                let ptr = live.ptrs[slot as usize];
                let got =
                    pool.realloc_observed(ptr, old_size, align, new_size, &mut |pool, phase| {
                        observe(pool, Step::Compaction(done, phase), &live)
                    });
                match got {
                    Some(p) => {
                        (live.ptrs[slot as usize], live.origins[slot as usize]) = (p, origin)
                    }
                    None => {
                        failed = Some(new_size);
                        break;
                    }
                }
            }
        }
        done += 1;
        observe(pool, Step::Done(done), &live);
    }
    (Replay::new(trace, &*pool, done, failed, start.elapsed()), live)
}

/// Replays `trace` on a fresh `pool_bytes`-byte pool with `config` and returns
/// [`replay_on_pool`](crate::replay_on_pool)'s report (timed without recording), then replays it again,
/// recording a timeline over the requests the first replay got through: moments are requests done, and
/// each used block's tag is the line of the request that allocated (or last resized) it. A failed request
/// is an [`EventKind::Failure`] with the pool's snapshot. Errors are those of [`OwnedPool::new`].
pub fn replay_timeline(
    trace: &Trace,
    pool_bytes: usize,
    config: Config,
    limits: TimelineLimits,
) -> Result<(Report, Timeline), Error> {
    let report = crate::replay_on_pool(trace, pool_bytes, config)?;
    let mut pool = OwnedPool::new(pool_bytes, config)?;
    Ok((report, record(trace, &mut pool, report.ops, limits)))
}

/// As [`replay_timeline`], on a [`CompactingPool`] with `pinning`: the report and the compactions'
/// figures of [`replay_on_pool_compacting`](crate::replay_on_pool_compacting), and the timeline, in which
/// each compaction is an [`EventKind::Compaction`] (the first [`TimelineLimits::event_snapshots`] with
/// the pool's snapshots just before and just after it). Used blocks are tagged through the pool's reverse
/// table: block to handle to the line of the request that allocated (or last resized) it. Errors are
/// those of [`CompactingPool::new`].
pub fn replay_timeline_compacting(
    trace: &Trace,
    pool_bytes: usize,
    config: Config,
    pinning: Pinning,
    limits: TimelineLimits,
) -> Result<(Report, Compaction, Timeline), Error> {
    let (report, compaction) =
        crate::replay_on_pool_compacting(trace, pool_bytes, config, pinning)?;
    let mut pool = CompactingPool::new(pool_bytes, config, pinning)?;
    Ok((report, compaction, record(trace, &mut pool, report.ops, limits)))
}

/// Replays the first `ops` requests of `trace` on `pool` and records their timeline: moments are
/// requests done; each used block's tag is the line of the request that allocated (or last resized) it;
/// a compaction is an [`EventKind::Compaction`] at the request that ran it, with snapshots before and
/// after while [`Recorder::wants_event_snapshots`]; a failed request is an [`EventKind::Failure`] with
/// the pool's snapshot.
fn record<A: Observable>(
    trace: &Trace,
    pool: &mut A,
    ops: usize,
    limits: TimelineLimits,
) -> Timeline {
    let mut recorder = Recorder::new(Plan::of_trace_prefix(trace, ops), limits);
    let line_of = |done: usize| done.checked_sub(1).and_then(|i| trace.line(i)).unwrap_or(0);
    // The tag of each used block: its handle's or offset's line (`lines` from `Live::lines`).
    let tag = |pool: &A, lines: &HashMap<usize, u32>, b: Block| {
        pool.name_of(b).and_then(|name| lines.get(&name).copied()).unwrap_or(0)
    };
    // The snapshot just before the compaction in progress, if one was taken.
    let mut before = None;
    let (r, live) = replay_observed(trace, pool, |pool, step, live| match step {
        Step::Done(done) if recorder.points.last().is_some_and(|&p| p <= done) => {
            let lines = live.lines(trace);
            recorder.observe(pool.pool(), done, line_of(done), |b| tag(pool, &lines, b));
        }
        Step::Done(done) => recorder.observe(pool.pool(), done, line_of(done), |_| 0),
        Step::Compaction(done, CompactionPhase::Before) => {
            let line = trace.line(done).unwrap_or(0);
            before = recorder.wants_event_snapshots().then(|| {
                let lines = live.lines(trace);
                recorder.snapshot(pool.pool(), done, line, |b| tag(pool, &lines, b))
            });
        }
        Step::Compaction(done, CompactionPhase::After) => {
            let line = trace.line(done).unwrap_or(0);
            let after = before.map(|_| {
                let lines = live.lines(trace);
                recorder.snapshot(pool.pool(), done, line, |b| tag(pool, &lines, b))
            });
            recorder.event(EventKind::Compaction, done, line, before.take(), after);
        }
    });
    let lines = live.lines(trace);
    let tag = |b: Block| tag(pool, &lines, b);
    if let Some(line) = r.failed_at {
        let index = recorder.snapshot(pool.pool(), r.ops, line, tag);
        recorder.event(EventKind::Failure, r.ops, line, Some(index), None);
        recorder.finish(pool.pool(), r.ops, line, tag)
    } else {
        recorder.finish(pool.pool(), r.ops, line_of(r.ops), tag)
    }
}
