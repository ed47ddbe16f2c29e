//! Timelines: snapshots of the pool's real blocks, bounded, the peak among them, the failure marked.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use mem3_pool::{BlockState, Config, Pool};
use mem3_trace::{
    CompactingPool, CompactionPhase, EventKind, OwnedPool, Pinning, Plan, Recorder, SegmentKind,
    Snapshot, Step, TimelineLimits, Trace, first_compaction_inspect, floor_bytes, region_for_heap,
    replay_observed, replay_on_pool, replay_on_pool_compacting, replay_timeline,
    replay_timeline_compacting,
};

fn load(name: &str) -> Trace {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(format!("{name}.trace.gz"));
    Trace::parse(&std::fs::read(path).unwrap()).unwrap()
}

/// The segments tile the pool and agree with its figures.
fn check_tiling(s: &Snapshot) {
    let mut at = 0;
    for seg in &s.segments {
        assert_eq!(seg.start, at);
        assert!(seg.used <= seg.size && seg.blocks >= 1);
        at += seg.size;
    }
    assert_eq!(at, s.capacity);
    let used: usize = s.segments.iter().map(|g| g.used).sum();
    assert_eq!(used, s.figures.used_bytes);
    assert_eq!(used + s.figures.free_bytes, s.capacity);
}

#[test]
fn a_snapshot_is_exact_within_its_budget_and_folded_beyond_it() {
    let mut region = vec![0u8; 64 << 10];
    let mut pool = Pool::new(&mut region).unwrap();
    let blocks: Vec<_> = (0..400).map(|_| pool.alloc(40).unwrap()).collect();
    for b in blocks.iter().step_by(2) {
        pool.free(*b).unwrap();
    }
    let exact = Snapshot::capture(&pool, 7, 3, 10_000, |b| b.offset() as u32);
    assert!(exact.exact);
    assert_eq!(exact.segments.len(), pool.blocks().count());
    assert!(exact.segments.iter().all(|s| s.blocks == 1));
    let used = exact.segments.iter().find(|s| s.kind == SegmentKind::Used).unwrap();
    assert_eq!(used.tag as usize, used.start + mem3_pool::HEADER_SIZE);
    check_tiling(&exact);

    let folded = Snapshot::capture(&pool, 7, 3, 64, |_| 1);
    assert!(!folded.exact);
    assert!(folded.segments.len() <= 64 + 16, "{}", folded.segments.len());
    assert!(folded.segments.iter().any(|s| s.kind == SegmentKind::Mixed && s.blocks > 1));
    // The largest free block (the tail) is kept exact.
    let largest = pool.blocks().filter(|b| b.state == BlockState::Free).map(|b| b.size).max();
    assert!(folded.segments.iter().any(|s| s.kind == SegmentKind::Free && Some(s.size) == largest));
    check_tiling(&folded);
}

#[test]
fn a_replay_timeline_is_bounded_has_its_peak_and_matches_the_plain_replay() {
    let trace = load("gcc-as");
    let pool_bytes = 4 << 20;
    let (report, timeline) =
        replay_timeline(&trace, pool_bytes, Config::default(), TimelineLimits::DEFAULT).unwrap();
    let plain = replay_on_pool(&trace, pool_bytes, Config::default()).unwrap();
    assert_eq!((report.ops, report.free_bytes), (plain.ops, plain.free_bytes));
    let limits = TimelineLimits::DEFAULT;
    assert!(timeline.snapshots.len() <= limits.snapshots + 3);
    assert!(timeline.samples.len() <= limits.samples + limits.snapshots + 3);
    let peak = &timeline.snapshots[timeline.peak.unwrap()];
    assert_eq!(peak.at, Plan::of_trace(&trace).peak);
    assert!(peak.exact);
    for s in &timeline.snapshots {
        check_tiling(s);
        assert!(s.figures.used_bytes <= peak.figures.used_bytes + (64 << 10));
    }
    // Used blocks carry the line that allocated them.
    assert!(peak.segments.iter().any(|s| s.kind == SegmentKind::Used && s.tag > 1));
    assert!(timeline.events.is_empty());
    assert_eq!(timeline.end, trace.len());
}

#[test]
fn a_failed_replay_marks_the_failure_with_its_snapshot() {
    let trace = load("gcc-as");
    let (report, timeline) =
        replay_timeline(&trace, 64 << 10, Config::default(), TimelineLimits::DEFAULT).unwrap();
    let line = report.failed_at.expect("64 KiB is too small for gcc-as");
    let failure = timeline.events.iter().find(|e| e.kind == EventKind::Failure).unwrap();
    assert_eq!(failure.line, line);
    let snapshot = &timeline.snapshots[failure.before.unwrap()];
    assert_eq!(snapshot.at, report.ops);
    assert_eq!(snapshot.figures.largest_free, report.largest_free_bytes);
}

#[test]
fn a_recorder_takes_events_with_snapshots_before_and_after() {
    // As a compacting replay would: a snapshot, the compaction, a snapshot, the event.
    let mut pool = OwnedPool::new(64 << 10, Config::default()).unwrap();
    let trace = Trace::parse(b"# mem3 trace v1\na 1 100\na 2 100\nf 1\n").unwrap();
    let (replay, live) = replay_observed(&trace, &mut pool, |_, _, _| {});
    assert!(replay.completed());
    assert_eq!(live.ptrs.iter().filter(|&&p| p != 0).count(), 1);
    let mut recorder = Recorder::new(Plan { total: 3, peak: 2 }, TimelineLimits::DEFAULT);
    let before = recorder.snapshot(pool.pool(), 3, 4, |_| 0);
    let after = recorder.snapshot(pool.pool(), 3, 4, |_| 0);
    assert!(recorder.wants_event_snapshots());
    recorder.event(EventKind::Compaction, 3, 4, Some(before), Some(after));
    let timeline = recorder.finish(pool.pool(), 3, 4, |_| 0);
    assert_eq!(timeline.events.len(), 1);
    assert_eq!(timeline.events[0].kind, EventKind::Compaction);
    assert!(timeline.events[0].after.is_some());
}

/// `rounds` rounds of: twenty 1000-byte blocks, every other one freed, one 5000-byte block, then the
/// round's blocks freed. In a pool at the floor the 5000-byte block fits only once the ten holes are
/// compacted into one, so each round compacts once.
fn rounds(rounds: usize) -> Trace {
    let mut text = String::from("# mem3 trace v1\n");
    for r in 0..rounds {
        let id = |k: usize| r * 100 + k;
        for k in 1..=20 {
            text += &format!("a {} 1000\n", id(k));
        }
        for k in (2..=20).step_by(2) {
            text += &format!("f {}\n", id(k));
        }
        text += &format!("a {} 5000\n", id(50));
        for k in (1..=20).step_by(2).chain([50]) {
            text += &format!("f {}\n", id(k));
        }
    }
    Trace::parse(text.as_bytes()).unwrap()
}

/// The lines of the trace's 5000-byte requests, which compact.
fn big_lines(trace: &Trace) -> Vec<usize> {
    (0..trace.len())
        .filter(|&i| matches!(trace.ops().nth(i), Some(mem3_trace::Op::Alloc { size: 5000, .. })))
        .map(|i| trace.line(i).unwrap())
        .collect()
}

/// The segments without their tags: where the blocks are and what they hold.
fn layout(s: &Snapshot) -> Vec<(usize, usize, SegmentKind)> {
    s.segments.iter().map(|g| (g.start, g.size, g.kind)).collect()
}

#[test]
fn a_compacting_timeline_marks_each_compaction_with_the_real_heap_before_and_after() {
    let trace = rounds(5);
    let config = Config::default();
    let pool_bytes = region_for_heap(floor_bytes(&trace, config.policy), config).unwrap();
    // Without compaction the pool is too small.
    assert!(replay_on_pool(&trace, pool_bytes, config).unwrap().failed_at.is_some());
    let (report, compaction, timeline) = replay_timeline_compacting(
        &trace,
        pool_bytes,
        config,
        Pinning::NONE,
        TimelineLimits::DEFAULT,
    )
    .unwrap();
    let (plain, figures) =
        replay_on_pool_compacting(&trace, pool_bytes, config, Pinning::NONE).unwrap();
    assert_eq!((report.ops, report.failed_at, compaction), (plain.ops, None, figures));
    assert_eq!(compaction.compactions, 5);
    assert_eq!(timeline.end, trace.len());
    // One event per compaction, at its request, each with the pool just before and just after it.
    let lines = big_lines(&trace);
    assert_eq!(timeline.events.len(), 5);
    for (e, &line) in timeline.events.iter().zip(&lines) {
        assert_eq!((e.kind, e.line), (EventKind::Compaction, line), "{e:?}");
        let before = &timeline.snapshots[e.before.unwrap()];
        let after = &timeline.snapshots[e.after.unwrap()];
        assert_eq!((before.at, after.at, before.line), (e.at, e.at, line));
        assert_eq!(
            trace.line(e.at),
            Some(line),
            "`at` counts the requests before the one compacting"
        );
        // Before: ten holes, none large enough; after: one free block that holds the request.
        assert!(
            before.figures.free_blocks >= 10 && before.figures.largest_free < 5008,
            "{before:?}"
        );
        assert_eq!(after.figures.free_blocks, 1, "{after:?}");
        assert!(after.figures.largest_free >= 5008);
        assert_eq!(before.figures.used_bytes, after.figures.used_bytes, "compaction frees nothing");
        check_tiling(before);
        check_tiling(after);
        // Used blocks carry the line of the request that allocated them, through the handles.
        for s in [before, after] {
            for g in s.segments.iter().filter(|g| g.kind == SegmentKind::Used) {
                // The round's allocations are on the 30 lines before its big request; the odd ones live.
                let line = g.tag as usize;
                let start = e.line - 30;
                assert!(
                    (start..start + 20).contains(&line) && (line - start) % 2 == 0,
                    "{g:?} in the round of line {}",
                    e.line
                );
            }
        }
    }
    // The snapshots are the pool's real blocks: the first pair is the heap the paused replay sees.
    let (at, real_before, real_after) =
        first_compaction_inspect(&trace, pool_bytes, config, Pinning::NONE, |pool| {
            Snapshot::capture(pool, 0, 0, 100_000, |_| 0)
        })
        .unwrap()
        .unwrap();
    let first = &timeline.events[0];
    assert_eq!(at, first.at);
    assert_eq!(layout(&timeline.snapshots[first.before.unwrap()]), layout(&real_before));
    assert_eq!(layout(&timeline.snapshots[first.after.unwrap()]), layout(&real_after));
    assert_ne!(layout(&real_before), layout(&real_after));
}

#[test]
fn a_compacting_timeline_takes_a_bounded_number_of_before_and_after_pairs_and_marks_the_rest() {
    let trace = rounds(5);
    let config = Config::default();
    let pool_bytes = region_for_heap(floor_bytes(&trace, config.policy), config).unwrap();
    let limits = TimelineLimits { event_snapshots: 2, ..TimelineLimits::DEFAULT };
    let (_, _, timeline) =
        replay_timeline_compacting(&trace, pool_bytes, config, Pinning::NONE, limits).unwrap();
    let with: Vec<bool> = timeline.events.iter().map(|e| e.before.is_some()).collect();
    assert_eq!(with, [true, true, false, false, false]);
    assert!(timeline.events.iter().all(|e| e.kind == EventKind::Compaction));
    assert!(timeline.events.iter().skip(2).all(|e| e.after.is_none()));
    // Events beyond the limit of events are counted, not kept.
    let limits = TimelineLimits { events: 3, ..limits };
    let (_, _, timeline) =
        replay_timeline_compacting(&trace, pool_bytes, config, Pinning::NONE, limits).unwrap();
    assert_eq!((timeline.events.len(), timeline.events_dropped), (3, 2));
}

#[test]
fn a_compacting_replay_that_still_fails_marks_its_compactions_and_its_failure() {
    let trace = rounds(3);
    let config = Config::default();
    // 8 bytes short of the floor: the first round's big request cannot fit even compacted.
    let pool_bytes = region_for_heap(floor_bytes(&trace, config.policy), config).unwrap() - 8;
    let (report, compaction, timeline) = replay_timeline_compacting(
        &trace,
        pool_bytes,
        config,
        Pinning::NONE,
        TimelineLimits::DEFAULT,
    )
    .unwrap();
    let line = report.failed_at.expect("below the floor the replay fails");
    assert_eq!(compaction.compactions, 0, "a compaction that cannot make room is not run");
    let kinds: Vec<EventKind> = timeline.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Failure]);
    assert_eq!(timeline.events[0].line, line);
    // A pool the system cannot give is an error, not a panic.
    assert!(
        replay_timeline_compacting(&trace, 8, config, Pinning::NONE, TimelineLimits::DEFAULT)
            .is_err()
    );
}

#[test]
fn replay_observed_reports_each_compaction_before_and_after_within_its_request() {
    let trace = rounds(3);
    let config = Config::default();
    let pool_bytes = region_for_heap(floor_bytes(&trace, config.policy), config).unwrap();
    let mut pool = CompactingPool::new(pool_bytes, config, Pinning::NONE).unwrap();
    let mut steps = Vec::new();
    let (replay, _) = replay_observed(&trace, &mut pool, |pool, step, live| {
        if let Step::Compaction(_, phase) = step {
            // Every live slot's handle names a block of the pool, found back through the reverse table.
            for &name in live.ptrs.iter().filter(|&&p| p != 0) {
                let block = pool.block(name).expect("a live handle names a block");
                assert_eq!(pool.handle(block), Some(name));
            }
            let largest = pool.pool().stats().largest_free;
            steps.push((step, phase, largest));
        }
    });
    assert!(replay.completed());
    let lines = big_lines(&trace);
    assert_eq!(steps.len(), 6);
    for (pair, line) in steps.chunks(2).zip(lines) {
        let [
            (Step::Compaction(a, _), CompactionPhase::Before, small),
            (Step::Compaction(b, _), CompactionPhase::After, large),
        ] = pair
        else {
            panic!("{pair:?}")
        };
        assert_eq!((a, trace.line(*a)), (b, Some(line)));
        assert!(small < &5008 && large >= &5008, "{pair:?}");
    }
    // A plain pool never compacts.
    let mut plain = OwnedPool::new(pool_bytes * 2, config).unwrap();
    let (_, _) = replay_observed(&trace, &mut plain, |_, step, _| {
        assert!(matches!(step, Step::Done(_)), "{step:?}");
    });
}
