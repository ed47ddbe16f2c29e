//! What `mem3 replay` reports: every figure of one replay on a fresh pool.

use mem3_pool::{Config, Error, Pool};

use crate::{OwnedPool, Trace, min_pool, replay};

/// Every figure `mem3 replay` prints (see `docs/trace-format.md`), from one replay on a fresh pool.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Report {
    /// Requests replayed successfully.
    pub ops: usize,
    /// The line of the first failed request, or `None`.
    pub failed_at: Option<usize>,
    /// The bytes the failed request asked for, or `None`.
    pub failed_request: Option<usize>,
    /// The region's size.
    pub pool_bytes: usize,
    /// The most requested bytes live at once among the requests replayed.
    pub peak_live_bytes: usize,
    /// The highest end of a used block, from the region's start.
    pub peak_extent_bytes: usize,
    /// The largest free block at the end, header included.
    pub largest_free_bytes: usize,
    /// Free bytes at the end (whole free blocks).
    pub free_bytes: usize,
    /// At the end, the pool's [`Stats::fragmentation`](mem3_pool::Stats::fragmentation).
    pub fragmentation: f64,
    /// Nanoseconds spent in the requests alone.
    pub elapsed_ns: u64,
    /// Requests per second.
    pub ops_per_sec: f64,
    /// The smallest pool that replays the whole trace (see [`min_pool`]), when asked for.
    pub min_pool_bytes: Option<usize>,
}

impl Report {
    /// The trace's space overhead on this allocator: `min_pool_bytes / trace peak live bytes - 1`, when
    /// `min_pool_bytes` is known and the trace has live bytes.
    pub fn min_pool_overhead(&self, trace: &Trace) -> Option<f64> {
        let min = self.min_pool_bytes?;
        (trace.peak_live_bytes() > 0).then(|| min as f64 / trace.peak_live_bytes() as f64 - 1.0)
    }
}

/// Replays `trace` once on a fresh `pool_bytes`-byte pool with `config` and reports every figure of
/// `mem3 replay` but `min_pool_bytes` (see [`min_pool_bytes`]). Errors are those of [`OwnedPool::new`]; a
/// failed request is not an error (see [`Report::failed_at`]). Use [`default_pool_bytes`](crate::default_pool_bytes) when the user
/// gives no size.
pub fn replay_on_pool(trace: &Trace, pool_bytes: usize, config: Config) -> Result<Report, Error> {
    replay_on_pool_inspect(trace, pool_bytes, config, |_| ()).map(|(report, ())| report)
}

/// As [`replay_on_pool`], and calls `inspect` with the pool as the replay left it (e.g. to draw its map).
pub fn replay_on_pool_inspect<R>(
    trace: &Trace,
    pool_bytes: usize,
    config: Config,
    inspect: impl FnOnce(&Pool<'_>) -> R,
) -> Result<(Report, R), Error> {
    let mut pool = OwnedPool::new(pool_bytes, config)?;
    let r = replay(trace, &mut pool);
    let stats = pool.pool().stats();
    let report = Report {
        ops: r.ops,
        failed_at: r.failed_at,
        failed_request: r.failed_request,
        pool_bytes,
        peak_live_bytes: r.peak_live_bytes,
        peak_extent_bytes: r.peak_extent_bytes,
        largest_free_bytes: stats.largest_free,
        free_bytes: stats.free_bytes,
        fragmentation: stats.fragmentation(),
        elapsed_ns: r.elapsed_ns,
        ops_per_sec: r.ops_per_sec,
        min_pool_bytes: None,
    };
    Ok((report, inspect(pool.pool())))
}

/// The smallest pool with `config` in which `trace` replays completely, by [`min_pool`].
pub fn min_pool_bytes(trace: &Trace, config: Config) -> Option<usize> {
    min_pool(trace, |n| OwnedPool::new(n, config).ok())
}
