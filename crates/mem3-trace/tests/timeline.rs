//! Timelines: snapshots of the pool's real blocks, bounded, the peak among them, the failure marked.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use mem3_pool::{BlockState, Config, Pool};
use mem3_trace::{
    EventKind, OwnedPool, Plan, Recorder, SegmentKind, Snapshot, TimelineLimits, Trace,
    replay_observed, replay_on_pool, replay_timeline,
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
