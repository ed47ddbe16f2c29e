#![doc = include_str!("../README.md")]
// Only `region` (allocating and freeing regions, making a pool over one) needs `unsafe`.
#![deny(unsafe_code)]

mod breakdown;
mod compact;
mod error;
mod format;
#[allow(unsafe_code)] // the one module that allocates raw memory; every block says why it is sound
mod region;
mod replay;
mod report;
mod snapshot;

pub use breakdown::{Breakdown, HoleBucket, Moment, block_cost, breakdown, split};
pub use compact::{
    CompactingPool, Compaction, CompactionPhase, Pinning, floor_bytes, min_pool_compacting,
    region_for_heap, replay_compacting, replay_compacting_checked,
};
pub use error::{CheckError, TraceError, TraceErrorKind};
pub use format::{DEFAULT_ALIGN, HEADER, Limits, MAX_LINE, MAX_LIVE, Op, Ops, Trace};
pub use region::{MAX_POOL_BYTES, OwnedPool, PAGE, Region};
pub use replay::{
    DEFAULT_POOL_CAP, Replay, TraceAllocator, default_pool_bytes, min_pool, replay,
    replay_and_free, replay_checked,
};
pub use report::{
    Report, first_compaction_inspect, min_pool_bytes, replay_on_pool, replay_on_pool_compacting,
    replay_on_pool_inspect,
};
pub use snapshot::{
    Event, EventKind, Figures, Live, Observable, Plan, Recorder, Sample, Segment, SegmentKind,
    Snapshot, Step, Timeline, TimelineLimits, replay_observed, replay_timeline,
    replay_timeline_compacting,
};
