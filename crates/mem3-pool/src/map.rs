//! Heap maps: a pool's blocks folded into a fixed number of equal cells, for drawing.
//!
//! [`fill`] walks [`Pool::blocks`] once and writes, for each slice of the pool, how many of its bytes are
//! free, used and pinned, and (through a classifier the caller gives, since the pool knows nothing about
//! what its blocks hold) how many used bytes belong to each kind tag. It returns the pool's [`Figures`]:
//! free bytes, largest free block, fragmentation. The caller owns the cells (`&mut [Cell]`), so this
//! needs no allocator; a million blocks fold into a few thousand cells in one pass.
//!
//! ```
//! use mem3_pool::{Pool, map::{self, Cell}};
//!
//! let mut region = [0u8; 4096];
//! let mut pool = Pool::new(&mut region)?;
//! let a = pool.alloc(100)?;
//! let _b = pool.alloc(100)?;
//! pool.free(a)?;
//!
//! let mut cells = [Cell::default(); 64];
//! let cell_bytes = map::cell_bytes_for(pool.capacity(), cells.len());
//! let figures = map::fill(&pool, cell_bytes, &mut cells, |_| None);
//! assert_eq!(figures.free_blocks, 2); // the hole left by `a`, and the tail
//! assert!(figures.fragmentation() > 0.0);
//! let cells = &cells[..figures.cells];
//! assert_eq!(cells.iter().map(|c| c.free).sum::<usize>(), figures.free_bytes);
//! # Ok::<(), mem3_pool::Error>(())
//! ```

use crate::{
    pool::{Block, BlockInfo, BlockState, Pool},
    tag::GRANULE,
};

/// How many kind tags a [`Cell`] counts apart: tags `0..KINDS` from the classifier. Bytes of used blocks
/// with no tag, or a tag of `KINDS` or more, are counted as used without a kind.
pub const KINDS: usize = 8;

/// One slice of the pool: `len` bytes from `start`, and how they are used. `free + used + pinned == len`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Cell {
    /// Offset of the cell's first byte from the pool's base.
    pub start: usize,
    /// Bytes the cell covers (the last cell may be shorter than the others).
    pub len: usize,
    /// Bytes of free blocks, headers included.
    pub free: usize,
    /// Bytes of used, unpinned blocks, headers included.
    pub used: usize,
    /// Bytes of pinned blocks, headers included.
    pub pinned: usize,
    /// Bytes of used or pinned blocks by kind tag (see [`KINDS`]).
    pub kinds: [usize; KINDS],
    /// Number of blocks whose first byte is in this cell.
    pub starts: usize,
}

impl Cell {
    /// Bytes of used and pinned blocks.
    pub fn occupied(&self) -> usize {
        self.used + self.pinned
    }

    /// The fraction of the cell in used or pinned blocks, from 0 to 1 (0 for an empty cell).
    pub fn occupied_fraction(&self) -> f64 {
        if self.len == 0 { 0.0 } else { self.occupied() as f64 / self.len as f64 }
    }

    /// The kind tag holding the most bytes of the cell, if tagged bytes are at least half of its occupied
    /// bytes; the lowest tag among equals.
    pub fn majority_kind(&self) -> Option<u8> {
        let (tag, bytes) =
            self.kinds.iter().enumerate().fold((0, 0), |best, (tag, &bytes)| {
                if bytes > best.1 { (tag, bytes) } else { best }
            });
        // `tag < KINDS`, which fits a `u8`.
        (bytes > 0 && 2 * bytes >= self.occupied()).then_some(tag as u8)
    }
}

/// A pool's figures, from the same walk as the cells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Figures {
    /// Bytes the blocks tile (see [`Pool::capacity`]).
    pub capacity: usize,
    /// Bytes per cell (the last cell may cover fewer).
    pub cell_bytes: usize,
    /// Cells written: the first `cells` of the caller's slice.
    pub cells: usize,
    /// Bytes of free blocks, headers included.
    pub free_bytes: usize,
    /// Bytes of used, unpinned blocks, headers included.
    pub used_bytes: usize,
    /// Bytes of pinned blocks, headers included.
    pub pinned_bytes: usize,
    /// The largest free block, header included.
    pub largest_free: usize,
    /// Number of free blocks.
    pub free_blocks: usize,
    /// Number of used, unpinned blocks.
    pub used_blocks: usize,
    /// Number of pinned blocks.
    pub pinned_blocks: usize,
}

impl Figures {
    /// `1 - largest free / total free`: 0 when the free space is one block (or there is none), near 1 when
    /// it is scattered in many small blocks.
    pub fn fragmentation(&self) -> f64 {
        crate::pool::fragmentation(self.free_bytes, self.largest_free)
    }
}

/// The cell size to draw a pool of `capacity` bytes in at most `max_cells` cells: the smallest power of
/// two, at least [`GRANULE`], with `ceil(capacity / size) <= max_cells`. A power of two keeps the offsets
/// on a drawing's axis round. `max_cells` of 0 is taken as 1.
pub fn cell_bytes_for(capacity: usize, max_cells: usize) -> usize {
    let max_cells = max_cells.max(1);
    let mut size = GRANULE;
    while capacity.div_ceil(size) > max_cells {
        match size.checked_mul(2) {
            Some(bigger) => size = bigger,
            None => break,
        }
    }
    size
}

/// Folds `pool`'s blocks into cells of `cell_bytes` bytes (see [`cell_bytes_for`]) written to the start of
/// `cells`, and returns the pool's figures. `classify` is called with every used or pinned block and
/// returns its kind tag (below [`KINDS`]) or `None`.
///
/// Writes `min(cells.len(), ceil(capacity / cell_bytes))` cells ([`Figures::cells`]); blocks beyond the
/// last cell still count in the figures. A `cell_bytes` of 0 is taken as [`GRANULE`]. O(blocks + cells).
pub fn fill(
    pool: &Pool<'_>,
    cell_bytes: usize,
    cells: &mut [Cell],
    classify: impl FnMut(Block) -> Option<u8>,
) -> Figures {
    fill_blocks(pool.blocks(), pool.capacity(), cell_bytes, cells, classify)
}

/// [`fill`] over any list of blocks in address order that tile `capacity` bytes from offset 0, e.g. a
/// snapshot of [`Pool::blocks`] taken earlier.
pub fn fill_blocks(
    blocks: impl IntoIterator<Item = BlockInfo>,
    capacity: usize,
    cell_bytes: usize,
    cells: &mut [Cell],
    mut classify: impl FnMut(Block) -> Option<u8>,
) -> Figures {
    let cell_bytes = if cell_bytes == 0 { GRANULE } else { cell_bytes };
    let count = cells.len().min(capacity.div_ceil(cell_bytes));
    let cells = &mut cells[..count];
    for (i, cell) in cells.iter_mut().enumerate() {
        let start = i * cell_bytes;
        *cell = Cell { start, len: cell_bytes.min(capacity - start), ..Cell::default() };
    }
    let mut figures = Figures { capacity, cell_bytes, cells: count, ..Figures::default() };
    for info in blocks {
        let tag = info.block().and_then(&mut classify).map(usize::from).filter(|&t| t < KINDS);
        match info.state {
            BlockState::Free => {
                figures.free_bytes += info.size;
                figures.free_blocks += 1;
                figures.largest_free = figures.largest_free.max(info.size);
            }
            BlockState::Used => {
                figures.used_bytes += info.size;
                figures.used_blocks += 1;
            }
            BlockState::Pinned => {
                figures.pinned_bytes += info.size;
                figures.pinned_blocks += 1;
            }
        }
        let end = info.start.saturating_add(info.size).min(count * cell_bytes).min(capacity);
        if info.start >= end {
            continue;
        }
        cells[info.start / cell_bytes].starts += 1;
        // Every cell the block overlaps gets the bytes of the overlap.
        let mut at = info.start;
        while at < end {
            let cell = &mut cells[at / cell_bytes];
            let next = (cell.start + cell.len).min(end);
            let bytes = next - at;
            match info.state {
                BlockState::Free => cell.free += bytes,
                BlockState::Used => cell.used += bytes,
                BlockState::Pinned => cell.pinned += bytes,
            }
            if let Some(tag) = tag {
                cell.kinds[tag] += bytes;
            }
            at = next;
        }
    }
    figures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, HEADER_SIZE};

    fn info(start: usize, size: usize, state: BlockState) -> BlockInfo {
        BlockInfo { start, size, state }
    }

    #[test]
    fn cell_size_is_the_smallest_power_of_two_that_fits() {
        assert_eq!(cell_bytes_for(64 << 10, 4096), 16);
        assert_eq!(cell_bytes_for(64 << 20, 4096), 16 << 10);
        assert_eq!(cell_bytes_for((64 << 10) + 1, 4096), 32);
        assert_eq!(cell_bytes_for(100, 4096), GRANULE);
        assert_eq!(cell_bytes_for(0, 0), GRANULE);
        assert_eq!(cell_bytes_for(1 << 20, 0), 1 << 20);
    }

    #[test]
    fn blocks_spread_over_the_cells_they_overlap() {
        // 0..24 used (kind 1), 24..40 free, 40..48 pinned (no kind), 48..60 used (kind 9: no kind).
        let blocks = [
            info(0, 24, BlockState::Used),
            info(24, 16, BlockState::Free),
            info(40, 8, BlockState::Pinned),
            info(48, 12, BlockState::Used),
        ];
        let mut cells = [Cell::default(); 10];
        let figures = fill_blocks(blocks, 60, 16, &mut cells, |b| match b.offset() - HEADER_SIZE {
            0 => Some(1),
            48 => Some(9),
            _ => None,
        });
        assert_eq!(figures.cells, 4);
        let c = &cells[..4];
        assert_eq!((c[0].start, c[0].len, c[0].used, c[0].free, c[0].starts), (0, 16, 16, 0, 1));
        assert_eq!(c[0].kinds[1], 16);
        assert_eq!((c[1].used, c[1].free, c[1].pinned, c[1].starts), (8, 8, 0, 1));
        assert_eq!(c[1].kinds[1], 8);
        assert_eq!((c[2].used, c[2].free, c[2].pinned, c[2].starts), (0, 8, 8, 1));
        assert_eq!((c[3].start, c[3].len, c[3].used, c[3].starts), (48, 12, 12, 1));
        assert_eq!(c[3].kinds, [0; KINDS]);
        for cell in c {
            assert_eq!(cell.free + cell.used + cell.pinned, cell.len);
        }
        assert_eq!(cells[4], Cell::default(), "cells past the pool are not written");
        assert_eq!(
            figures,
            Figures {
                capacity: 60,
                cell_bytes: 16,
                cells: 4,
                free_bytes: 16,
                used_bytes: 36,
                pinned_bytes: 8,
                largest_free: 16,
                free_blocks: 1,
                used_blocks: 2,
                pinned_blocks: 1,
            }
        );
        assert_eq!(figures.fragmentation(), 0.0);
    }

    #[test]
    fn too_few_cells_cover_the_start_and_the_figures_cover_everything() {
        let blocks = [info(0, 32, BlockState::Free), info(32, 32, BlockState::Used)];
        let mut cells = [Cell::default(); 1];
        let figures = fill_blocks(blocks, 64, 16, &mut cells, |_| None);
        assert_eq!(figures.cells, 1);
        assert_eq!((cells[0].free, cells[0].len), (16, 16));
        assert_eq!((figures.free_bytes, figures.used_bytes), (32, 32));
        let figures = fill_blocks(blocks, 64, 16, &mut [], |_| None);
        assert_eq!((figures.cells, figures.free_bytes), (0, 32));
    }

    #[test]
    fn majority_kind_needs_half_the_occupied_bytes() {
        let mut cell = Cell { len: 64, used: 48, free: 16, ..Cell::default() };
        assert_eq!(cell.majority_kind(), None);
        cell.kinds[2] = 20;
        assert_eq!(cell.majority_kind(), None);
        cell.kinds[2] = 24;
        assert_eq!(cell.majority_kind(), Some(2));
        cell.kinds[1] = 24;
        assert_eq!(cell.majority_kind(), Some(1), "the lowest tag among equals");
        assert_eq!(cell.occupied_fraction(), 0.75);
        assert_eq!(Cell::default().occupied_fraction(), 0.0);
    }

    #[test]
    fn a_fragmented_pool_maps_its_holes() {
        let mut region = [0u8; 8192];
        let mut pool = Pool::with_config(&mut region, Config::default()).unwrap();
        let blocks: std::vec::Vec<Block> = (0..32).map(|_| pool.alloc(100).unwrap()).collect();
        for b in blocks.iter().step_by(2) {
            pool.free(*b).unwrap();
        }
        pool.pin(blocks[1]).unwrap();
        let mut cells = [Cell::default(); 256];
        let cell_bytes = cell_bytes_for(pool.capacity(), cells.len());
        let pinned = blocks[1];
        let figures = fill(&pool, cell_bytes, &mut cells, |b| Some(u8::from(b == pinned)));
        let cells = &cells[..figures.cells];
        let stats = pool.stats();
        assert_eq!(figures.capacity, stats.capacity);
        assert_eq!(figures.free_bytes, stats.free_bytes);
        assert_eq!(figures.largest_free, stats.largest_free);
        assert_eq!(figures.free_blocks, stats.free_blocks);
        assert_eq!(figures.used_blocks + figures.pinned_blocks, stats.used_blocks);
        assert_eq!(
            figures.used_bytes + figures.pinned_bytes,
            stats.used_bytes + stats.overhead_bytes
        );
        assert_eq!(figures.fragmentation(), stats.fragmentation());
        assert_eq!(figures.pinned_blocks, 1);
        assert_eq!(cells.iter().map(|c| c.pinned).sum::<usize>(), figures.pinned_bytes);
        assert_eq!(cells.iter().map(|c| c.free).sum::<usize>(), figures.free_bytes);
        assert_eq!(cells.iter().map(|c| c.kinds[1]).sum::<usize>(), figures.pinned_bytes);
        assert_eq!(cells.iter().map(|c| c.starts).sum::<usize>(), pool.blocks().count());
        assert_eq!(cells.iter().map(|c| c.len).sum::<usize>(), pool.capacity());
    }
}
