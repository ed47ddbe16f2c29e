//! The pool's model test harness, shared by the proptest test (`main.rs`) and the `pool_ops` fuzz target
//! (which includes this file by path): a sequence of operations runs on a pool with the indexed search and on
//! one with the linear reference search, against a shadow of the live blocks. Any difference or broken
//! invariant panics.
//!
//! After every step: `check()` passes on both pools, both placed every block at the same offset, no two live
//! blocks overlap, every block is aligned as asked, pins are as set, the figures add up, and every invalid
//! call was an error that changed nothing. Each live block holds a pattern derived from its identity, verified
//! at free, at realloc and after every compaction. At the end, freeing everything leaves one free block as
//! large as the pool.

use mem3_pool::{
    Block, BlockState, Coalescing, Config, Error, MIN_ALIGN, Policy, Pool, Search, block_size_for,
};

/// The largest pool the harness uses.
pub(crate) const MAX_LEN: usize = 1 << 16;

/// A region whose start is 4096-aligned, so that two pools over two such regions see the same alignments.
#[repr(C, align(4096))]
struct Region([u8; MAX_LEN]);

/// One operation. Indices pick among the live (or freed) blocks modulo their number; sizes and alignments are
/// reduced to the harness's ranges, so every value of every field is a valid input.
#[derive(Debug, Clone)]
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
pub(crate) enum Op {
    /// `alloc_aligned(size % 2048, 8 << (align_log2 % 10))`; alignments above 8 only for `align_log2 >= 4`.
    Alloc { size: u16, align_log2: u8 },
    /// Free a live block.
    Free { index: u16 },
    /// `realloc` a live block to `size % 4096` bytes.
    Realloc { index: u16, size: u16 },
    /// Pin a live block.
    Pin { index: u16 },
    /// Unpin a live block.
    Unpin { index: u16 },
    /// `coalesce()`.
    Coalesce,
    /// `compact()`.
    Compact,
    /// `compact()` with a relocation callback that unwinds at its `at`-th call (if it gets that far).
    CompactPanic { at: u8 },
    /// `retain` refusing every live block whose identity is a multiple of `2 + modulus % 4`, with a `keep`
    /// that unwinds at its `unwind_at`-th call if that is below 16. The reference (linear search) frees the
    /// same blocks one by one with `free`, so the two pools must come out alike.
    Retain { modulus: u8, unwind_at: u8 },
    /// `retain_only` keeping the live blocks whose identity is not a multiple of `2 + modulus % 4`. The
    /// reference frees the others one by one with `free`, then `coalesce`s (`retain_only` merges whatever the
    /// mode, and empties the front cache), so the two pools must come out alike. With `disorder` (and two
    /// blocks kept at least), two names are swapped first: both pools refuse the list and nothing changes.
    RetainOnly { modulus: u8, disorder: bool },
    /// Free an arbitrary offset that is not a live block's payload (inside a block, a header, past the end).
    FreeInvalid { offset: u32 },
    /// Free a block that was already freed, unless its offset is live again.
    FreeStale { index: u16 },
    /// `compact_trimmed()`, each block trimmed to the size asked for.
    CompactTrimmed,
    /// `move_to_end()` of a live block: it passes the used blocks after it, or, with a pinned one among them
    /// (or itself pinned), is refused and nothing changes.
    MoveToEnd { index: u16 },
}

impl Op {
    fn alignment(align_log2: u8) -> usize {
        if align_log2 < 4 { MIN_ALIGN } else { 8 << (align_log2 % 10) }
    }
}

/// Chooses a configuration from three bits.
pub(crate) fn config(best_fit: bool, deferred: bool, front_cache: bool) -> Config {
    Config {
        policy: if best_fit { Policy::BestFit } else { Policy::FirstFit },
        coalescing: if deferred { Coalescing::Deferred } else { Coalescing::Immediate },
        search: Search::Index,
        front_cache,
    }
}

/// A live block in the model: its name, the identity its pattern derives from, the size and alignment asked
/// for, and whether it is pinned.
#[derive(Debug, Clone, Copy)]
struct Live {
    block: Block,
    id: u32,
    size: usize,
    align: usize,
    pinned: bool,
}

fn pattern(id: u32, i: usize) -> u8 {
    (id as usize).wrapping_mul(131).wrapping_add(i * 7) as u8
}

fn fill(pool: &mut Pool<'_>, live: &Live) {
    let bytes = pool.payload_mut(live.block).unwrap();
    assert!(bytes.len() >= live.size, "payload smaller than asked");
    for (i, b) in bytes[..live.size].iter_mut().enumerate() {
        *b = pattern(live.id, i);
    }
}

fn verify(pool: &Pool<'_>, live: &Live) {
    let bytes = pool.payload(live.block).unwrap();
    for (i, b) in bytes[..live.size].iter().enumerate() {
        assert_eq!(*b, pattern(live.id, i), "block {live:?} byte {i} corrupted");
    }
}

/// One pool and its shadow.
struct Model<'a> {
    pool: Pool<'a>,
    live: Vec<Live>,
    dead: Vec<Block>,
}

impl Model<'_> {
    /// Compacts with a callback that unwinds at call `at`, then checks the pool and finds every live block
    /// again. Compaction never reorders blocks, so the used blocks in address order are the live blocks in
    /// their old address order, whichever were moved (reported or not); their patterns prove it.
    fn compact_unwinding(&mut self, at: usize) {
        // A build that aborts on panic (a fuzzer's may) cannot unwind: compact to the end instead.
        let at = if cfg!(panic = "unwind") { at } else { usize::MAX };
        let mut calls = 0;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.pool.compact(|_, _, _| {
                if calls == at {
                    // `resume_unwind` skips the panic hook: no message, and no abort under a fuzzer's hook.
                    std::panic::resume_unwind(Box::new("relocation callback fails"));
                }
                calls += 1;
            })
        }));
        self.pool
            .check()
            .unwrap_or_else(|e| panic!("after a compaction unwound at call {at}: {e}"));
        self.live.sort_by_key(|l| l.block);
        let used: Vec<Block> = self.pool.blocks().filter_map(|info| info.block()).collect();
        assert_eq!(used.len(), self.live.len(), "compaction changed the number of used blocks");
        for (live, block) in self.live.iter_mut().zip(used) {
            if live.block != block {
                assert!(!live.pinned, "a pinned block moved");
                live.block = block;
                live.align = MIN_ALIGN;
            }
        }
        for live in &self.live {
            verify(&self.pool, live);
        }
    }

    /// Frees the live blocks whose identity is a multiple of `m` and that `keep` is asked about before its
    /// call `at` (blocks are asked in address order): with `retain` on the indexed pool, with `free` one
    /// by one on the reference.
    fn retain(&mut self, m: u32, at: usize) {
        // A build that aborts on panic cannot unwind: let `keep` run to the end instead.
        let at = if cfg!(panic = "unwind") && at < 16 { at } else { usize::MAX };
        self.live.sort_by_key(|l| l.block);
        let refused: Vec<Block> =
            self.live.iter().take(at).filter(|l| l.id % m == 0).map(|l| l.block).collect();
        if self.pool.config().search == Search::Index {
            let Model { pool, live, .. } = self;
            let (mut calls, mut wrong) = (0, None);
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.retain(|block, payload| {
                    if calls == at {
                        std::panic::resume_unwind(Box::new("keep fails"));
                    }
                    calls += 1;
                    let Some(l) = live.iter().find(|l| l.block == block) else {
                        wrong = Some(format!("asked about {block:?}, which is not live"));
                        return true;
                    };
                    if (0..l.size).any(|i| payload[i] != pattern(l.id, i)) {
                        wrong = Some(format!("the payload of {l:?} is not its pattern"));
                    }
                    l.id % m != 0
                })
            }));
            assert_eq!(wrong, None);
            if at == usize::MAX || at >= self.live.len() {
                assert_eq!(calls, self.live.len(), "retain asked about each used block once");
            }
            self.pool.check().unwrap_or_else(|e| panic!("after retain (unwinding at {at}): {e}"));
        } else {
            for &block in &refused {
                self.pool.free(block).unwrap();
            }
        }
        self.live.retain(|l| !refused.contains(&l.block));
        self.dead.extend(refused);
        for live in &self.live {
            verify(&self.pool, live);
        }
    }

    /// [`Op::RetainOnly`]: keeps the live blocks whose identity is not a multiple of `m`.
    fn retain_only(&mut self, m: u32, disorder: bool) {
        self.live.sort_by_key(|l| l.block);
        let mut kept: Vec<Block> =
            self.live.iter().filter(|l| l.id % m != 0).map(|l| l.block).collect();
        if disorder && kept.len() >= 2 {
            kept.swap(0, 1);
            let (before, stats) = (self.pool.blocks().collect::<Vec<_>>(), self.pool.stats());
            assert_eq!(
                self.pool.retain_only(&kept),
                Err(Error::OutOfOrder { offset: kept[1].offset() })
            );
            assert_eq!(
                before,
                self.pool.blocks().collect::<Vec<_>>(),
                "a refused list changed blocks"
            );
            assert_eq!(stats, self.pool.stats(), "a refused list changed the figures");
            return;
        }
        let refused: Vec<Block> =
            self.live.iter().filter(|l| l.id % m == 0).map(|l| l.block).collect();
        if self.pool.config().search == Search::Index {
            assert_eq!(self.pool.retain_only(&kept), Ok(refused.len()));
        } else {
            for &block in &refused {
                self.pool.free(block).unwrap();
            }
            self.pool.coalesce();
        }
        self.live.retain(|l| !refused.contains(&l.block));
        self.dead.extend(refused);
        for live in &self.live {
            verify(&self.pool, live);
        }
    }

    /// Applies `op`; returns what an allocation or resize returned, for the comparison of the two searches.
    fn apply(&mut self, op: &Op, id: u32) -> Option<Result<Block, Error>> {
        let base = self.pool.base().as_ptr() as usize;
        let pick = |index: u16, len: usize| usize::from(index) % len;
        match *op {
            Op::Alloc { size, align_log2 } => {
                let (size, align) = (usize::from(size) % 2048, Op::alignment(align_log2));
                let result = self.pool.alloc_aligned(size, align);
                if let Ok(block) = result {
                    assert_eq!((base + block.offset()) % align, 0, "misaligned");
                    let live = Live { block, id, size, align, pinned: false };
                    fill(&mut self.pool, &live);
                    self.live.push(live);
                }
                Some(result)
            }
            Op::Free { index } if !self.live.is_empty() => {
                let live = self.live.swap_remove(pick(index, self.live.len()));
                verify(&self.pool, &live);
                self.pool.free(live.block).unwrap();
                self.dead.push(live.block);
                None
            }
            Op::Realloc { index, size } if !self.live.is_empty() => {
                let (i, size) = (pick(index, self.live.len()), usize::from(size) % 4096);
                let old = self.live[i];
                verify(&self.pool, &old);
                let result = self.pool.realloc(old.block, size);
                match result {
                    Ok(block) => {
                        // The contents up to the smaller size survive; then the block gets its new pattern.
                        let kept =
                            Live { block, size: old.size.min(size), align: MIN_ALIGN, ..old };
                        verify(&self.pool, &kept);
                        let live = Live { size, ..kept };
                        fill(&mut self.pool, &live);
                        self.live[i] = live;
                        if block != old.block {
                            assert!(!old.pinned, "a pinned block moved");
                            self.dead.push(old.block);
                        }
                    }
                    Err(Error::Pinned { .. }) => assert!(old.pinned),
                    Err(Error::OutOfMemory { .. }) => verify(&self.pool, &old),
                    Err(ref e) => panic!("unexpected realloc error {e}"),
                }
                Some(result)
            }
            Op::Pin { index } if !self.live.is_empty() => {
                let i = pick(index, self.live.len());
                self.pool.pin(self.live[i].block).unwrap();
                self.live[i].pinned = true;
                None
            }
            Op::Unpin { index } if !self.live.is_empty() => {
                let i = pick(index, self.live.len());
                self.pool.unpin(self.live[i].block).unwrap();
                self.live[i].pinned = false;
                None
            }
            Op::Coalesce => {
                self.pool.coalesce();
                None
            }
            Op::Compact => {
                let mut moves = Vec::new();
                self.pool.compact(|old, new, _| moves.push((old, new)));
                for (old, new) in moves {
                    let live = self
                        .live
                        .iter_mut()
                        .find(|l| l.block == old)
                        .expect("moved a block not live");
                    assert!(!live.pinned, "a pinned block moved");
                    live.block = new;
                    live.align = MIN_ALIGN;
                }
                for live in &self.live {
                    verify(&self.pool, live);
                }
                let stats = self.pool.stats();
                if self.live.iter().all(|l| !l.pinned) {
                    assert!(stats.free_blocks <= 1);
                    assert_eq!(stats.largest_free, stats.free_bytes);
                }
                None
            }
            Op::CompactPanic { at } => {
                self.compact_unwinding(usize::from(at));
                None
            }
            Op::Retain { modulus, unwind_at } => {
                self.retain(2 + u32::from(modulus % 4), usize::from(unwind_at));
                None
            }
            Op::RetainOnly { modulus, disorder } => {
                self.retain_only(2 + u32::from(modulus % 4), disorder);
                None
            }
            Op::CompactTrimmed => {
                let min = self.pool.config().policy.min_block();
                let sizes: Vec<(Block, usize)> =
                    self.live.iter().map(|l| (l.block, l.size)).collect();
                let mut moves = Vec::new();
                self.pool.compact_trimmed(
                    |block| {
                        let size = sizes
                            .iter()
                            .find(|s| s.0 == block)
                            .expect("asked about a live block")
                            .1;
                        block_size_for(size, min).unwrap()
                    },
                    |old, new, _| moves.push((old, new)),
                );
                self.relocated(&moves);
                for live in &self.live {
                    if !live.pinned {
                        let whole =
                            self.pool.usable_size(live.block).unwrap() + mem3_pool::HEADER_SIZE;
                        let want = block_size_for(live.size, min).unwrap();
                        assert!(whole >= want, "trimmed below the size asked for: {live:?}");
                    }
                }
                None
            }
            Op::MoveToEnd { index } if !self.live.is_empty() => {
                let i = pick(index, self.live.len());
                let target = self.live[i];
                let before: Vec<_> = self.pool.blocks().collect();
                let mut moves = Vec::new();
                let result =
                    self.pool.move_to_end(target.block, |old, new, _| moves.push((old, new)));
                match result {
                    Ok(stats) => {
                        assert_eq!(stats.moved_blocks, moves.len());
                        if let Some(&(old, _)) = moves.last() {
                            assert_eq!(old, target.block, "the block itself is reported last");
                        }
                        self.relocated(&moves);
                    }
                    Err(Error::Pinned { .. }) => {
                        assert!(moves.is_empty());
                        assert_eq!(
                            before,
                            self.pool.blocks().collect::<Vec<_>>(),
                            "a refusal changed blocks"
                        );
                    }
                    Err(e) => panic!("move_to_end of a live block: {e}"),
                }
                let block = self.live.iter().find(|l| l.id == target.id).unwrap().block;
                Some(result.map(|_| block))
            }
            Op::FreeInvalid { offset } => {
                let offset = offset as usize % (MAX_LEN + 64);
                if !self.live.iter().any(|l| l.block.offset() == offset) {
                    self.expect_rejected(Block::from_offset(offset));
                }
                None
            }
            Op::FreeStale { index } if !self.dead.is_empty() => {
                let block = self.dead[pick(index, self.dead.len())];
                if !self.live.iter().any(|l| l.block == block) {
                    self.expect_rejected(Some(block));
                }
                None
            }
            _ => None,
        }
    }

    /// Follows the moves a compaction reported, then verifies every live block's contents.
    fn relocated(&mut self, moves: &[(Block, Block)]) {
        // A block's new name may be another's old one: map all of them from the names before the moves.
        let targets: Vec<(usize, Block)> = moves
            .iter()
            .map(|&(old, new)| {
                let i =
                    self.live.iter().position(|l| l.block == old).expect("moved a block not live");
                (i, new)
            })
            .collect();
        for (i, new) in targets {
            let live = &mut self.live[i];
            assert!(!live.pinned, "a pinned block moved");
            live.block = new;
            live.align = MIN_ALIGN;
        }
        for live in &self.live {
            verify(&self.pool, live);
        }
    }

    /// Every operation on `block` (not a live block) fails and changes nothing.
    fn expect_rejected(&mut self, block: Option<Block>) {
        let Some(block) = block else { return };
        let before: Vec<_> = self.pool.blocks().collect();
        let stats = self.pool.stats();
        assert_eq!(self.pool.free(block), Err(Error::InvalidBlock { offset: block.offset() }));
        assert!(self.pool.realloc(block, 10).is_err());
        assert!(self.pool.pin(block).is_err());
        assert!(self.pool.payload(block).is_err());
        assert!(self.pool.block_at(block.offset()).is_err());
        assert_eq!(before, self.pool.blocks().collect::<Vec<_>>());
        assert_eq!(stats, self.pool.stats());
    }

    fn check(&self) {
        if let Err(e) = self.pool.check() {
            panic!("check failed: {e}");
        }
        let mut spans: Vec<(usize, usize)> = self
            .live
            .iter()
            .map(|l| (l.block.offset(), self.pool.usable_size(l.block).unwrap()))
            .collect();
        spans.sort();
        for pair in spans.windows(2) {
            assert!(pair[0].0 + pair[0].1 < pair[1].0, "blocks overlap: {pair:?}");
        }
        let base = self.pool.base().as_ptr() as usize;
        for live in &self.live {
            assert_eq!((base + live.block.offset()) % live.align, 0);
            assert_eq!(self.pool.is_pinned(live.block).unwrap(), live.pinned);
        }
        let s = self.pool.stats();
        assert_eq!(s.used_bytes + s.overhead_bytes + s.free_bytes, s.capacity);
        assert_eq!(s.used_blocks, self.live.len());
    }

    /// Frees everything; one free block as large as the pool must remain.
    fn free_all(&mut self) {
        for live in std::mem::take(&mut self.live) {
            verify(&self.pool, &live);
            self.pool.free(live.block).unwrap();
        }
        self.pool.coalesce();
        self.check();
        let s = self.pool.stats();
        assert_eq!((s.free_blocks, s.largest_free), (1, s.capacity));
        let blocks: Vec<_> = self.pool.blocks().collect();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].state, BlockState::Free);
    }
}

/// Runs `ops` on a pool of `len` bytes (clamped to the harness's range) with `config`, and on the same pool
/// with the linear reference search; panics on any difference or broken invariant.
pub(crate) fn run(config: Config, len: usize, ops: &[Op]) {
    let len = len.clamp(256, MAX_LEN);
    let (mut r1, mut r2) = (Box::new(Region([0; MAX_LEN])), Box::new(Region([0; MAX_LEN])));
    let reference = Config { search: Search::Linear, ..config };
    let mut fast = Model {
        pool: Pool::with_config(&mut r1.0[..len], config).unwrap(),
        live: vec![],
        dead: vec![],
    };
    let mut slow = Model {
        pool: Pool::with_config(&mut r2.0[..len], reference).unwrap(),
        live: vec![],
        dead: vec![],
    };
    for (step, op) in ops.iter().enumerate() {
        let a = fast.apply(op, step as u32);
        let b = slow.apply(op, step as u32);
        assert_eq!(a, b, "index and linear search differ at step {step} ({op:?})");
        if matches!(op, Op::Retain { .. } | Op::RetainOnly { .. }) {
            let (fast_blocks, slow_blocks): (Vec<_>, Vec<_>) =
                (fast.pool.blocks().collect(), slow.pool.blocks().collect());
            assert_eq!(
                fast_blocks, slow_blocks,
                "retain and free one by one differ at step {step}"
            );
            assert_eq!(
                fast.pool.stats(),
                slow.pool.stats(),
                "retain's figures differ at step {step}"
            );
        }
        fast.check();
        slow.check();
    }
    fast.free_all();
    slow.free_all();
}
