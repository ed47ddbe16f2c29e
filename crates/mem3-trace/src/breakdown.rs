//! Where a pool's bytes go at one moment of a replay: the requested payload, what each block adds to it
//! (header, rounding, the smallest-block rule, absorbed remainders and padding), the pool's metadata, and the
//! free holes.

use mem3_pool::{Block, BlockState, Config, Error, GRANULE, HEADER_SIZE, Pool};

use crate::{Op, OwnedPool, Trace, TraceAllocator};

/// The moment of a replay a [`Breakdown`] is taken at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// Just after the request at which the trace's live requested bytes first reach their peak.
    Peak,
    /// Just before the first request that fails (it changes nothing), or at the end if none does.
    Failure,
}

/// Free blocks whose sizes lie in `[min, 2 * min)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoleBucket {
    /// The smallest size of the bucket, a power of two.
    pub min: usize,
    /// How many free blocks.
    pub count: usize,
    /// Their bytes, headers included.
    pub bytes: usize,
}

/// A pool's bytes split by what they hold. The parts sum to `region_bytes`; see
/// [`Breakdown::parts`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Breakdown {
    /// Index of the request the breakdown follows (the failing one's, for a failure), and its line.
    pub request: usize,
    /// The line of that request in the trace, if known.
    pub line: Option<usize>,
    /// The failing request's size, when the moment is a failure and a request failed.
    pub failed_request: Option<usize>,
    /// The region the pool was made over.
    pub region_bytes: usize,
    /// Live blocks.
    pub live_blocks: usize,
    /// Payload bytes the live requests asked for.
    pub requested_bytes: usize,
    /// One header per live block.
    pub header_bytes: usize,
    /// Rounding each live block's header and payload up to a whole granule.
    pub rounding_bytes: usize,
    /// Raising a block to the smallest block ([`Policy::min_block`](mem3_pool::Policy::min_block)), which a
    /// free block must fill.
    pub min_block_bytes: usize,
    /// Bytes of live blocks beyond what their requests need: split remainders too small to be blocks,
    /// alignment padding given to the block before, and blocks shrunk in place by less than a block.
    pub absorbed_bytes: usize,
    /// The pool's metadata after the heap (bitmaps, index).
    pub metadata_bytes: usize,
    /// Region bytes the pool cannot use: the start, advanced for alignment, and a tail below a granule.
    pub unused_bytes: usize,
    /// Free blocks below the last block, headers included.
    pub hole_bytes: usize,
    /// The free top block (after the last used block), or 0.
    pub top_bytes: usize,
    /// The free blocks but the top, by size (powers of two), smallest first; empty buckets left out.
    pub holes: Vec<HoleBucket>,
}

impl Breakdown {
    /// The parts, named, in a fixed order; they sum to `region_bytes`.
    pub fn parts(&self) -> [(&'static str, usize); 9] {
        [
            ("requested", self.requested_bytes),
            ("headers", self.header_bytes),
            ("rounding", self.rounding_bytes),
            ("smallest block", self.min_block_bytes),
            ("absorbed", self.absorbed_bytes),
            ("metadata", self.metadata_bytes),
            ("unused", self.unused_bytes),
            ("holes", self.hole_bytes),
            ("top", self.top_bytes),
        ]
    }

    /// The pool's bytes beyond the requested ones: everything but `requested_bytes` and the top.
    pub fn overhead_bytes(&self) -> usize {
        self.region_bytes - self.requested_bytes - self.top_bytes
    }
}

/// What a block of `requested` payload bytes costs beyond them by the pool's rules, in a pool whose smallest
/// block is `min_block`: header, rounding to a granule, and the raise to the smallest block. `None` for a
/// size no block can hold.
pub fn block_cost(requested: usize, min_block: usize) -> Option<(usize, usize, usize)> {
    let rounded = requested.checked_add(HEADER_SIZE + GRANULE - 1)? / GRANULE * GRANULE;
    let rounding = rounded - requested - HEADER_SIZE;
    Some((HEADER_SIZE, rounding, rounded.max(min_block) - rounded))
}

/// Replays `trace` on a fresh `pool_bytes`-byte pool with `config` up to `moment` and splits the pool's
/// bytes there. Errors are those of [`OwnedPool::new`].
pub fn breakdown(
    trace: &Trace,
    pool_bytes: usize,
    config: Config,
    moment: Moment,
) -> Result<Breakdown, Error> {
    let mut pool = OwnedPool::new(pool_bytes, config)?;
    let peak = trace.peak_live_bytes();
    // Per slot: the live block's name and its requested size.
    let mut live: Vec<Option<(usize, usize)>> = vec![None; trace.slots()];
    let (mut live_bytes, mut request, mut failed_request) = (0usize, 0, None);
    for (i, op) in trace.ops().enumerate() {
        request = i;
        match op {
            Op::Alloc { slot, size, align } => match pool.alloc(size, align) {
                Some(name) => {
                    live[slot as usize] = Some((name, size));
                    live_bytes += size;
                }
                None => {
                    failed_request = Some(size);
                }
            },
            Op::Free { slot, size, align } => {
                if let Some((name, _)) = live[slot as usize].take() {
                    pool.free(name, size, align);
                    live_bytes -= size;
                }
            }
            Op::Realloc { slot, old_size, new_size, align } => {
                if let Some((name, _)) = live[slot as usize] {
                    match pool.realloc(name, old_size, align, new_size) {
                        Some(new) => {
                            live[slot as usize] = Some((new, new_size));
                            live_bytes = live_bytes - old_size + new_size;
                        }
                        None => failed_request = Some(new_size),
                    }
                }
            }
        }
        // A replay stops at its first failure, whatever the moment asked for.
        if failed_request.is_some() || (moment == Moment::Peak && live_bytes == peak) {
            break;
        }
    }
    let mut b = split(pool.pool(), live.iter().flatten().copied(), pool.region_bytes());
    b.request = request;
    b.line = trace.line(request);
    b.failed_request = failed_request;
    Ok(b)
}

/// Splits `pool`'s bytes, made over a `region_bytes`-byte region, given its live blocks as (name,
/// requested size) pairs.
pub fn split(
    pool: &Pool<'_>,
    live: impl IntoIterator<Item = (usize, usize)>,
    region_bytes: usize,
) -> Breakdown {
    let stats = pool.stats();
    let mut b = Breakdown {
        region_bytes,
        metadata_bytes: stats.metadata_bytes,
        unused_bytes: region_bytes - stats.region_bytes,
        ..Breakdown::default()
    };
    for (name, requested) in live {
        let size = Block::from_offset(name)
            .and_then(|block| pool.usable_size(block).ok())
            .map_or(0, |usable| usable + HEADER_SIZE);
        let Some((header, rounding, min_block)) =
            block_cost(requested, pool.config().policy.min_block())
        else {
            continue;
        };
        b.live_blocks += 1;
        b.requested_bytes += requested;
        b.header_bytes += header;
        b.rounding_bytes += rounding;
        b.min_block_bytes += min_block;
        b.absorbed_bytes += size.saturating_sub(requested + header + rounding + min_block);
    }
    let blocks: Vec<_> = pool.blocks().collect();
    let mut holes = &blocks[..];
    if let Some(top) = blocks.last().filter(|info| info.state == BlockState::Free) {
        b.top_bytes = top.size;
        holes = &blocks[..blocks.len() - 1];
    }
    let mut buckets: Vec<HoleBucket> = Vec::new();
    for info in holes.iter().filter(|info| info.state == BlockState::Free) {
        b.hole_bytes += info.size;
        let min = 1usize << info.size.ilog2();
        match buckets.iter_mut().find(|h| h.min == min) {
            Some(h) => {
                h.count += 1;
                h.bytes += info.size;
            }
            None => buckets.push(HoleBucket { min, count: 1, bytes: info.size }),
        }
    }
    buckets.sort_by_key(|h| h.min);
    b.holes = buckets;
    b
}
