//! Public-API tests of mem3-pool: a model test against a shadow of the live blocks, run side by side on the
//! indexed search and its linear reference, which must place every block at the same offset.

use mem3_pool::{Block, BlockState, Coalescing, Config, Error, MIN_ALIGN, Policy, Pool, Search};
use proptest::prelude::*;

/// A region whose start is 4096-aligned, so that two pools over two such regions see the same alignments.
#[repr(C, align(4096))]
struct Region([u8; 1 << 16]);

fn region() -> Box<Region> {
    Box::new(Region([0; 1 << 16]))
}

#[derive(Debug, Clone)]
enum Op {
    Alloc {
        size: usize,
        align_log2: u32,
    },
    Free {
        index: usize,
    },
    Realloc {
        index: usize,
        size: usize,
    },
    Pin {
        index: usize,
    },
    Unpin {
        index: usize,
    },
    Coalesce,
    Compact,
    /// Free an offset that is not a live block's payload (an interior, past-the-end or stale offset).
    FreeInvalid {
        offset: usize,
    },
    /// Free a block that was already freed (if its offset is not live again).
    FreeStale {
        index: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0usize..700, 0u32..12).prop_map(|(size, a)| Op::Alloc { size, align_log2: if a < 8 { 3 } else { a } }),
        5 => any::<usize>().prop_map(|index| Op::Free { index }),
        3 => (any::<usize>(), 0usize..1500).prop_map(|(index, size)| Op::Realloc { index, size }),
        1 => any::<usize>().prop_map(|index| Op::Pin { index }),
        1 => any::<usize>().prop_map(|index| Op::Unpin { index }),
        1 => Just(Op::Coalesce),
        1 => Just(Op::Compact),
        1 => (0usize..70_000).prop_map(|offset| Op::FreeInvalid { offset }),
        1 => any::<usize>().prop_map(|index| Op::FreeStale { index }),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    (any::<bool>(), any::<bool>()).prop_map(|(best, deferred)| Config {
        policy: if best { Policy::BestFit } else { Policy::FirstFit },
        coalescing: if deferred { Coalescing::Deferred } else { Coalescing::Immediate },
        search: Search::Index,
    })
}

/// A live block in the model: its name, the identity its pattern derives from, the size and alignment
/// asked for, and whether it is pinned.
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
    assert!(bytes.len() >= live.size);
    for (i, b) in bytes[..live.size].iter_mut().enumerate() {
        *b = pattern(live.id, i);
    }
}

fn verify(pool: &Pool<'_>, live: &Live) -> Result<(), TestCaseError> {
    let bytes = pool.payload(live.block).unwrap();
    for (i, b) in bytes[..live.size].iter().enumerate() {
        prop_assert_eq!(*b, pattern(live.id, i), "block {:?} byte {} corrupted", live, i);
    }
    Ok(())
}

/// One pool and its shadow.
struct Model<'a> {
    pool: Pool<'a>,
    live: Vec<Live>,
    dead: Vec<Block>,
}

impl Model<'_> {
    /// Applies `op` and returns what it placed (for the differential comparison).
    fn apply(
        &mut self,
        op: &Op,
        next_id: u32,
    ) -> Result<Option<Result<Block, Error>>, TestCaseError> {
        let base = self.pool.base().as_ptr() as usize;
        Ok(match *op {
            Op::Alloc { size, align_log2 } => {
                let align = 1usize << align_log2;
                let result = self.pool.alloc_aligned(size, align);
                if let Ok(block) = result {
                    prop_assert_eq!((base + block.offset()) % align, 0, "misaligned");
                    let live = Live { block, id: next_id, size, align, pinned: false };
                    fill(&mut self.pool, &live);
                    self.live.push(live);
                }
                Some(result)
            }
            Op::Free { index } if !self.live.is_empty() => {
                let live = self.live.swap_remove(index % self.live.len());
                verify(&self.pool, &live)?;
                self.pool.free(live.block).unwrap();
                self.dead.push(live.block);
                None
            }
            Op::Realloc { index, size } if !self.live.is_empty() => {
                let i = index % self.live.len();
                let old = self.live[i];
                verify(&self.pool, &old)?;
                let result = self.pool.realloc(old.block, size);
                match &result {
                    &Ok(block) => {
                        let kept = old.size.min(size);
                        let live = Live { block, size: kept, align: MIN_ALIGN, ..old };
                        verify(&self.pool, &live)?;
                        let live = Live { size, ..live };
                        fill(&mut self.pool, &live);
                        self.live[i] = live;
                        if block != old.block {
                            prop_assert!(!old.pinned, "a pinned block moved");
                            self.dead.push(old.block);
                        }
                    }
                    Err(Error::Pinned { .. }) => prop_assert!(old.pinned),
                    Err(Error::OutOfMemory { .. }) => verify(&self.pool, &old)?,
                    Err(e) => prop_assert!(false, "unexpected realloc error {e}"),
                }
                Some(result)
            }
            Op::Pin { index } if !self.live.is_empty() => {
                let i = index % self.live.len();
                self.pool.pin(self.live[i].block).unwrap();
                self.live[i].pinned = true;
                None
            }
            Op::Unpin { index } if !self.live.is_empty() => {
                let i = index % self.live.len();
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
                    prop_assert!(!live.pinned, "a pinned block moved");
                    live.block = new;
                    live.align = MIN_ALIGN;
                }
                for live in &self.live {
                    verify(&self.pool, live)?;
                }
                let stats = self.pool.stats();
                if self.live.iter().all(|l| !l.pinned) {
                    prop_assert!(stats.free_blocks <= 1);
                    prop_assert_eq!(stats.largest_free, stats.free_bytes);
                }
                None
            }
            Op::FreeInvalid { offset } => {
                if !self.live.iter().any(|l| l.block.offset() == offset) {
                    self.expect_rejected(Block::from_offset_unchecked(offset))?;
                }
                None
            }
            Op::FreeStale { index } if !self.dead.is_empty() => {
                let block = self.dead[index % self.dead.len()];
                if !self.live.iter().any(|l| l.block == block) {
                    self.expect_rejected(Some(block))?;
                }
                None
            }
            _ => None,
        })
    }

    /// Every operation on `block` (not a live block) fails and changes nothing.
    fn expect_rejected(&mut self, block: Option<Block>) -> Result<(), TestCaseError> {
        let Some(block) = block else { return Ok(()) };
        let before: Vec<_> = self.pool.blocks().collect();
        let stats = self.pool.stats();
        prop_assert_eq!(self.pool.free(block), Err(Error::InvalidBlock { offset: block.offset() }));
        prop_assert!(self.pool.realloc(block, 10).is_err());
        prop_assert!(self.pool.pin(block).is_err());
        prop_assert!(self.pool.payload(block).is_err());
        prop_assert!(self.pool.block_at(block.offset()).is_err());
        prop_assert_eq!(before, self.pool.blocks().collect::<Vec<_>>());
        prop_assert_eq!(stats, self.pool.stats());
        Ok(())
    }

    fn check(&self) -> Result<(), TestCaseError> {
        if let Err(e) = self.pool.check() {
            prop_assert!(false, "check failed: {e}");
        }
        let mut spans: Vec<(usize, usize)> = self
            .live
            .iter()
            .map(|l| (l.block.offset(), self.pool.usable_size(l.block).unwrap()))
            .collect();
        spans.sort();
        for pair in spans.windows(2) {
            prop_assert!(pair[0].0 + pair[0].1 < pair[1].0, "blocks overlap: {:?}", pair);
        }
        let base = self.pool.base().as_ptr() as usize;
        for live in &self.live {
            prop_assert_eq!((base + live.block.offset()) % live.align, 0);
            prop_assert_eq!(self.pool.is_pinned(live.block).unwrap(), live.pinned);
        }
        let s = self.pool.stats();
        prop_assert_eq!(s.used_bytes + s.overhead_bytes + s.free_bytes, s.capacity);
        prop_assert_eq!(s.used_blocks, self.live.len());
        Ok(())
    }
}

fn run(config: Config, len: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let (mut r1, mut r2) = (region(), region());
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
        let a = fast.apply(op, step as u32)?;
        let b = slow.apply(op, step as u32)?;
        prop_assert_eq!(&a, &b, "index and linear search differ at step {} ({:?})", step, op);
        fast.check()?;
        slow.check()?;
    }
    // Freeing everything leaves one free block as large as the pool.
    for model in [&mut fast, &mut slow] {
        for live in std::mem::take(&mut model.live) {
            verify(&model.pool, &live)?;
            model.pool.free(live.block).unwrap();
        }
        model.pool.coalesce();
        model.check()?;
        let s = model.pool.stats();
        prop_assert_eq!(s.free_blocks, 1);
        prop_assert_eq!(s.largest_free, s.capacity);
        let blocks: Vec<_> = model.pool.blocks().collect();
        prop_assert_eq!(blocks.len(), 1);
        prop_assert_eq!(blocks[0].state, BlockState::Free);
    }
    Ok(())
}

/// `cases` cases natively; a handful under Miri, with no failure file (Miri isolates the file system).
fn miri_aware(cases: u32) -> ProptestConfig {
    if cfg!(miri) {
        ProptestConfig { cases: 4, failure_persistence: None, ..ProptestConfig::default() }
    } else {
        ProptestConfig::with_cases(cases)
    }
}

proptest! {
    #![proptest_config(miri_aware(200))]

    #[test]
    fn pool_matches_model_and_reference(
        config in config(),
        len in if cfg!(miri) { (1500usize..6000).boxed() } else { prop_oneof![Just(1usize << 16), 2000usize..20_000].boxed() },
        ops in prop::collection::vec(op(), 0..if cfg!(miri) { 40 } else { 300 }),
    ) {
        run(config, len, &ops)?;
    }
}
