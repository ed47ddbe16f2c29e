//! The free-block index of best fit: size bins, each an AVL tree whose nodes are the free blocks themselves.
//!
//! Free blocks (but the top) are split into **bins** by size: one bin per size below `EXACT` granules
//! (256 bytes), and above that `2^SUB_BITS` bins per power of two (TLSF's two levels, so a bin's sizes differ by
//! at most 1/16). A bitmap in the pool says which bins hold a block. Each bin is an AVL tree keyed by
//! `(size, address)`, in which every node also stores the largest block size in its subtree, and each free block
//! holds its node (see the [`tag`](crate::tag) diagram): the granule numbers of its left and right children, the
//! largest size in its subtree, and its height. The bins' roots live after the start bitmap, at the end of the
//! region (`4` bytes a bin, at most 464 bins).
//!
//! Best fit is "the smallest block that fits, the lowest address among equals": the first fitting node in
//! `(size, address)` order. The request's own bin is searched by one descent (go left whenever the left
//! subtree's maximum is large enough); if nothing there fits, every block of the next non-empty bin (one bitmap
//! scan) is larger than the request, and its leftmost node is the answer. Bins keep the trees small (on the
//! benchmarks' workloads a bin holds a few blocks), so a search, an insertion and a removal touch a few nodes;
//! the AVL balance still bounds each by O(log n) when one bin holds many blocks. No memory outside the pool is
//! used.
//!
//! The trees have no parent links: every operation descends from its bin's root, recording its path in a fixed
//! array on the stack, then walks back up. The walk up writes only fields that change and stops at the first
//! node whose height and maximum are unchanged, so most updates touch a few nodes near the bottom. An
//! allocation's search records the path to the block it finds, and the take removes the block through it.
//!
//! First fit keeps no trees: its index is the summary ([`crate::summary`]). The free set of both (the top block,
//! kept outside either index) is at the end of this file.

use core::mem::MaybeUninit;

use crate::{
    pool::{Block, Policy, Pool},
    summary::SLOT,
    tag::{BlockFlags, GRANULE, HEIGHT, LEFT, MAX, MIN_ALIGN, NIL, RIGHT},
};

/// Sizes below this many granules (256 bytes) have a bin each.
const EXACT: u32 = 1 << (SUB_BITS + 1);
/// Above `EXACT`, each power of two of sizes is split into `2^SUB_BITS` bins of equal width.
const SUB_BITS: u32 = 4;
/// Words of the bitmap of non-empty bins: enough for the bin of the largest `u32` size.
pub(crate) const BIN_WORDS: usize = 8;
static_assertions::const_assert!(bin_of(u32::MAX) < BIN_WORDS * 64);
static_assertions::const_assert!(BIN_WORDS <= 32);

/// The bin of a block of `g` granules. Bins are in size order: a block in a higher bin is larger than every
/// block in a lower one.
#[inline(always)]
pub(crate) const fn bin_of(g: u32) -> usize {
    if g < EXACT {
        g as usize
    } else {
        let log = 31 - g.leading_zeros();
        let sub = (g >> (log - SUB_BITS)) & ((1 << SUB_BITS) - 1);
        (EXACT + ((log - SUB_BITS - 1) << SUB_BITS) + sub) as usize
    }
}

/// The bins a best-fit heap of `heap_len` bytes needs: every block size it can hold has one.
pub(crate) const fn bin_count(heap_len: usize) -> usize {
    let g = heap_len / GRANULE;
    bin_of(if g > u32::MAX as usize { u32::MAX } else { g as u32 }) + 1
}

/// The best-fit bins' state kept in the pool itself; their roots are in the region (see [`Pool::bin_root`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bins {
    /// Offset from the pool's base of the roots: `count` granule numbers (`u32`), `NIL` for an empty bin.
    pub(crate) roots: usize,
    /// The number of bins (0 under first fit).
    pub(crate) count: usize,
    /// Bit `b % 64` of word `b / 64` set exactly where bin `b` is not empty.
    pub(crate) map: [u64; BIN_WORDS],
    /// Bit `w` set exactly where `map[w]` is not zero.
    pub(crate) words: u32,
}

impl Bins {
    /// No bins (a first-fit pool).
    pub(crate) const NONE: Bins = Bins { roots: 0, count: 0, map: [0; BIN_WORDS], words: 0 };

    /// Whether bin `bin` holds a block.
    #[inline(always)]
    pub(crate) fn is_used(&self, bin: usize) -> bool {
        self.map[bin / 64 % BIN_WORDS] >> (bin % 64) & 1 != 0
    }

    #[inline(always)]
    fn mark(&mut self, bin: usize) {
        let w = bin / 64 % BIN_WORDS;
        self.map[w] |= 1 << (bin % 64);
        self.words |= 1 << w;
    }

    #[inline(always)]
    fn unmark(&mut self, bin: usize) {
        let w = bin / 64 % BIN_WORDS;
        self.map[w] &= !(1 << (bin % 64));
        if self.map[w] == 0 {
            self.words &= !(1 << w);
        }
    }

    /// The lowest non-empty bin at or above `from`.
    #[inline(always)]
    pub(crate) fn next_used(&self, from: usize) -> Option<usize> {
        let w = from / 64;
        if w >= BIN_WORDS {
            return None;
        }
        let bits = self.map[w] & (u64::MAX << (from % 64));
        if bits != 0 {
            return Some(w * 64 + bits.trailing_zeros() as usize);
        }
        let above = self.words & (u32::MAX << w << 1);
        if above == 0 {
            return None;
        }
        let w = above.trailing_zeros() as usize;
        Some(w * 64 + self.map[w % BIN_WORDS].trailing_zeros() as usize)
    }

    /// The highest non-empty bin.
    fn last_used(&self) -> Option<usize> {
        let w = self.words.checked_ilog2()? as usize;
        Some(w * 64 + self.map[w % BIN_WORDS].ilog2() as usize)
    }
}

/// The longest path: deeper than any AVL tree of `u32` nodes. A power of two, so `% PATH_MAX` is a mask.
const PATH_MAX: usize = 64;
static_assertions::const_assert!(PATH_MAX.is_power_of_two());

/// A granule number: a block start divided by `GRANULE`.
type Node = u32;

#[inline(always)]
fn node(start: usize) -> Node {
    debug_assert!(start % GRANULE == 0 && start / GRANULE < NIL as usize);
    (start / GRANULE) as Node
}

#[inline(always)]
fn start(node: Node) -> usize {
    node as usize * GRANULE
}

/// A path in a bin's tree, root first. AVL trees of `u32` nodes are at most 1.44 log2(2^32 + 2) < 47 deep.
///
/// Its entries are left uninitialised until pushed: a path is made on every insertion and removal, and
/// filling its 256 bytes cost 3.7% of best fit's instructions on random actions.
struct Path {
    nodes: [MaybeUninit<Node>; PATH_MAX],
    len: usize,
    /// The bin whose tree it is.
    bin: usize,
}

#[allow(unsafe_code)]
impl Path {
    #[inline(always)]
    fn new(bin: usize) -> Path {
        Path { nodes: [const { MaybeUninit::uninit() }; PATH_MAX], len: 0, bin }
    }

    #[inline(always)]
    fn push(&mut self, n: Node) {
        // The modulo keeps the index in bounds without a check; the AVL bound keeps `len` below PATH_MAX.
        self.nodes[self.len % PATH_MAX] = MaybeUninit::new(n);
        self.len += 1;
    }

    /// Replaces entry `i` (below `len`).
    #[inline(always)]
    fn set(&mut self, i: usize, n: Node) {
        assert!(i < self.len, "path entry out of bounds");
        self.nodes[i % PATH_MAX] = MaybeUninit::new(n);
    }

    #[inline(always)]
    fn node(&self, i: usize) -> Node {
        assert!(i < self.len, "path entry out of bounds");
        // SAFETY: every entry below `len` was written: `push` writes entry `len % PATH_MAX` before raising
        // `len`, so entries `0..len` are written while `len <= PATH_MAX`, and all of them once it is more.
        unsafe { self.nodes[i % PATH_MAX].assume_init() }
    }

    /// The last node, or `NIL` for an empty path.
    #[inline(always)]
    fn last(&self) -> Node {
        self.last_node().unwrap_or(NIL)
    }

    #[inline(always)]
    fn last_node(&self) -> Option<Node> {
        self.len.checked_sub(1).map(|i| self.node(i))
    }
}

impl Pool<'_> {
    #[inline(always)]
    pub(crate) fn left(&self, n: Node) -> Node {
        self.field(start(n) + LEFT)
    }

    #[inline(always)]
    pub(crate) fn right(&self, n: Node) -> Node {
        self.field(start(n) + RIGHT)
    }

    #[inline(always)]
    fn set_left(&mut self, n: Node, child: Node) {
        self.set_field(start(n) + LEFT, child);
    }

    #[inline(always)]
    fn set_right(&mut self, n: Node, child: Node) {
        self.set_field(start(n) + RIGHT, child);
    }

    /// The block's size in granules.
    #[inline(always)]
    pub(crate) fn node_size(&self, n: Node) -> u32 {
        (self.block_size(start(n)) / GRANULE) as u32
    }

    /// The largest block size (in granules) in the subtree at `n`, 0 for `NIL`.
    #[inline(always)]
    pub(crate) fn subtree_max(&self, n: Node) -> u32 {
        if n == NIL { 0 } else { self.field(start(n) + MAX) }
    }

    #[inline(always)]
    pub(crate) fn height(&self, n: Node) -> u32 {
        if n == NIL { 0 } else { self.field(start(n) + HEIGHT) }
    }

    /// The node's key: `(size, address)`.
    #[inline(always)]
    pub(crate) fn key(&self, n: Node) -> u64 {
        (u64::from(self.node_size(n)) << 32) | u64::from(n)
    }

    /// The largest block size (in granules) in the subtree at `n`, whose right child is `r`: the rightmost
    /// node's size, since sizes lead the key. So it is the right child's maximum, or `n`'s own size without
    /// one; the left subtree never holds a larger block.
    #[inline(always)]
    fn node_max(&self, n: Node, r: Node) -> u32 {
        if r == NIL { self.node_size(n) } else { self.field(start(r) + MAX) }
    }

    /// Whether the key `key` of a node of bin `bin` comes before the node `cur` of the same bin. In a bin
    /// below `EXACT` every block has the bin's one size, so the addresses decide, without `cur`'s header.
    #[inline(always)]
    fn precedes(&self, bin: usize, key: u64, cur: Node) -> bool {
        if bin < EXACT as usize { (key as Node) < cur } else { key < self.key(cur) }
    }

    /// Recomputes the height and subtree maximum of `n` from its children, writing only what changed;
    /// returns whether anything did.
    #[inline(always)]
    fn update(&mut self, n: Node) -> bool {
        let (l, r) = (self.left(n), self.right(n));
        let height = 1 + self.height(l).max(self.height(r));
        let max = self.node_max(n, r);
        let changed = height != self.height(n) || max != self.subtree_max(n);
        if changed {
            self.set_field(start(n) + HEIGHT, height);
            self.set_field(start(n) + MAX, max);
        }
        changed
    }

    fn rotate_right(&mut self, n: Node) -> Node {
        let l = self.left(n);
        self.set_left(n, self.right(l));
        self.set_right(l, n);
        self.update(n);
        self.update(l);
        l
    }

    fn rotate_left(&mut self, n: Node) -> Node {
        let r = self.right(n);
        self.set_right(n, self.left(r));
        self.set_left(r, n);
        self.update(n);
        self.update(r);
        r
    }

    /// Restores the AVL balance at `n` (whose subtrees are balanced and differ in height by at most 2),
    /// updates its fields, and returns the subtree's root (`n` unless it rotated) and whether its height or
    /// maximum changed (always, after a rotation).
    #[inline(always)]
    fn rebalance(&mut self, n: Node) -> (Node, bool) {
        let (l, r) = (self.left(n), self.right(n));
        let (hl, hr) = (self.height(l), self.height(r));
        if hl > hr + 1 {
            if self.height(self.left(l)) < self.height(self.right(l)) {
                let new_l = self.rotate_left(l);
                self.set_left(n, new_l);
            }
            (self.rotate_right(n), true)
        } else if hr > hl + 1 {
            if self.height(self.right(r)) < self.height(self.left(r)) {
                let new_r = self.rotate_right(r);
                self.set_right(n, new_r);
            }
            (self.rotate_left(n), true)
        } else {
            // Balanced: refresh from the children's fields already at hand.
            let height = 1 + hl.max(hr);
            let max = self.node_max(n, r);
            let changed =
                height != self.field(start(n) + HEIGHT) || max != self.field(start(n) + MAX);
            if changed {
                self.set_field(start(n) + HEIGHT, height);
                self.set_field(start(n) + MAX, max);
            }
            (n, changed)
        }
    }

    /// Makes `new` the child of `parent` that `old` was (the root of `bin` if `parent` is `NIL`).
    #[inline(always)]
    fn replace_child(&mut self, bin: usize, parent: Node, old: Node, new: Node) {
        if parent == NIL {
            self.set_bin_root(bin, new);
        } else if self.left(parent) == old {
            self.set_left(parent, new);
        } else {
            debug_assert_eq!(self.right(parent), old);
            self.set_right(parent, new);
        }
    }

    /// Walks `path` bottom-up (each entry the parent of the next), rebalancing and refreshing each node. Nodes
    /// at index `forced` and below are always refreshed; above, the walk stops at the first node whose height
    /// and maximum did not change, since nothing above it can change either.
    #[inline(always)]
    fn fix_up(&mut self, path: &Path, forced: usize) {
        for i in (0..path.len).rev() {
            let n = path.node(i);
            let (top, changed) = self.rebalance(n);
            if top != n {
                let parent = if i == 0 { NIL } else { path.node(i - 1) };
                self.replace_child(path.bin, parent, n, top);
            } else if i < forced && !changed {
                return;
            }
        }
    }

    /// The ancestors of the indexed node `n`, from its bin's root down to its parent.
    fn path_to(&self, n: Node) -> Path {
        let key = self.key(n);
        let mut path = Path::new(bin_of(self.node_size(n)));
        let mut cur = self.bin_root(path.bin);
        while cur != n {
            debug_assert_ne!(cur, NIL, "node {n} is not in the index");
            path.push(cur);
            cur = if self.precedes(path.bin, key, cur) { self.left(cur) } else { self.right(cur) };
        }
        path
    }

    /// Adds the free block at `start` (header and footer already written) to the index.
    #[inline(always)]
    pub(crate) fn index_insert(&mut self, start: usize) {
        let n = node(start);
        self.set_left(n, NIL);
        self.set_right(n, NIL);
        self.set_field(start + HEIGHT, 1);
        let size = self.node_size(n);
        self.set_field(start + MAX, size);
        let bin = bin_of(size);
        let root = self.bin_root(bin);
        if root == NIL {
            self.set_bin_root(bin, n);
            self.bins.mark(bin);
            return;
        }
        let key = self.key(n);
        let mut path = Path::new(bin);
        let mut cur = root;
        loop {
            path.push(cur);
            if self.precedes(bin, key, cur) {
                let l = self.left(cur);
                if l == NIL {
                    self.set_left(cur, n);
                    break;
                }
                cur = l;
            } else {
                let r = self.right(cur);
                if r == NIL {
                    self.set_right(cur, n);
                    break;
                }
                cur = r;
            }
        }
        self.fix_up(&path, path.len);
    }

    /// Removes the free block at `start` from the index (its header must still hold its indexed size).
    fn index_remove(&mut self, start: usize) {
        let n = node(start);
        let mut path = self.path_to(n);
        self.remove_below(n, &mut path);
    }

    /// Removes the indexed node `n`, whose ancestors are `path` (from its bin's root down to its parent).
    #[inline(always)]
    fn remove_below(&mut self, n: Node, path: &mut Path) {
        let parent = path.last();
        let (l, r) = (self.left(n), self.right(n));
        if l == NIL || r == NIL {
            let child = if l == NIL { r } else { l };
            self.replace_child(path.bin, parent, n, child);
            if parent == NIL && child == NIL {
                self.bins.unmark(path.bin);
            }
            self.fix_up(path, path.len);
            return;
        }
        // Two children: the successor (the leftmost node on the right) takes `n`'s place.
        // The path goes on through the successor's slot (filled in below) down to the successor's parent.
        let forced = path.len;
        path.push(NIL);
        let mut successor = r;
        while self.left(successor) != NIL {
            path.push(successor);
            successor = self.left(successor);
        }
        path.set(forced, successor);
        if successor != r {
            let successor_parent = path.last();
            self.set_left(successor_parent, self.right(successor));
            self.set_right(successor, r);
        }
        self.set_left(successor, l);
        self.replace_child(path.bin, parent, n, successor);
        // Fix up from the successor's old parent to the root; the successor sits where `n` was and its
        // fields must be recomputed whatever happens below it.
        self.fix_up(path, forced);
    }

    /// The indexed free block at `old` becomes a free block at `new` of `size` bytes with header flags
    /// `flags` (best fit: its key changes, so it leaves its place in its tree, and usually its bin).
    fn reindex(&mut self, old: usize, new: usize, size: usize, flags: BlockFlags) {
        self.index_remove(old);
        self.write_free(new, size, flags);
        self.index_insert(new);
    }

    // ---------------------------------------------------------------------------------------------------
    // The free set: the index plus the top block. The last block of the heap, when it is free, is the "top":
    // it stays out of the index, since it is the highest-addressed free block (first fit considers it last)
    // and usually the largest (in the index it would hold the maximum of every node above it, so each
    // allocation carved from it would refresh the whole path). Carving from it and merging into it is O(1).

    /// The size of the top block, 0 if the last block is used.
    #[inline(always)]
    pub(crate) fn top_size(&self) -> usize {
        if self.top < self.heap_len { self.block_size(self.top) } else { 0 }
    }

    /// Adds the free block at `start` (header and footer written) to the free set.
    #[inline]
    pub(crate) fn free_insert(&mut self, start: usize) {
        self.free_insert_sized(start, self.block_size(start));
    }

    /// [`Pool::free_insert`] for a caller that has the block's `size` at hand (just written).
    #[inline(always)]
    pub(crate) fn free_insert_sized(&mut self, start: usize, size: usize) {
        debug_assert_eq!(size, self.block_size(start));
        if start + size == self.heap_len {
            debug_assert!(self.top >= self.heap_len, "two top blocks");
            self.top = start;
        } else {
            self.index_add(start, size);
        }
    }

    /// Removes the free block at `start` from the free set (its header must still hold its size).
    #[inline]
    pub(crate) fn free_remove(&mut self, start: usize) {
        if start == self.top {
            self.top = self.heap_len;
        } else {
            self.index_take(start);
        }
    }

    /// The free block at `old` becomes a free block at `new` of `size` bytes with header flags `flags`. No
    /// other free block may lie between `old` and `new`.
    ///
    /// Inline: first fit's common case, a block that is not the top and does not become it, is a few header
    /// writes and summary updates; every other case is out of line.
    #[inline(always)]
    pub(crate) fn free_replace(&mut self, old: usize, new: usize, size: usize, flags: BlockFlags) {
        self.free_replace_sized(old, self.block_size(old), new, size, flags);
    }

    /// [`Pool::free_replace`] for a caller that has read the old block's size, `old_size`.
    #[inline(always)]
    pub(crate) fn free_replace_sized(
        &mut self,
        old: usize,
        old_size: usize,
        new: usize,
        size: usize,
        flags: BlockFlags,
    ) {
        debug_assert_eq!(old_size, self.block_size(old));
        if self.config.policy == Policy::FirstFit && old != self.top && new + size != self.heap_len
        {
            self.write_free(new, size, flags);
            if old / SLOT != new / SLOT {
                self.summary_lower(old, old_size);
                self.summary_raise(new, size);
            } else if size < old_size {
                // No raise: the slot's entry is at least `old_size` already.
                self.summary_lower(old, old_size);
            } else {
                self.summary_raise(new, size);
            }
        } else {
            self.free_replace_other(old, new, size, flags);
        }
    }

    /// [`Pool::free_replace`] in every case but first fit's common one (inline in
    /// [`Pool::free_replace_sized`]): the top is the old block or becomes the new one, or the policy is best fit.
    #[inline(never)]
    fn free_replace_other(&mut self, old: usize, new: usize, size: usize, flags: BlockFlags) {
        let is_top = new + size == self.heap_len;
        if old == self.top {
            self.write_free(new, size, flags);
            if is_top {
                self.top = new;
            } else {
                self.top = self.heap_len;
                self.index_add(new, size);
            }
        } else if is_top {
            self.index_take(old);
            self.write_free(new, size, flags);
            self.top = new;
        } else {
            debug_assert!(self.config.policy == Policy::BestFit, "first fit's case is inline");
            self.reindex(old, new, size, flags);
        }
    }

    /// Adds the free block at `start` (not the top) to the policy's index.
    #[inline(always)]
    fn index_add(&mut self, start: usize, size: usize) {
        match self.config.policy {
            Policy::FirstFit => self.summary_raise(start, size),
            Policy::BestFit => self.index_insert(start),
        }
    }

    /// Removes the free block at `start` (not the top) from the policy's index.
    #[inline(always)]
    fn index_take(&mut self, start: usize) {
        match self.config.policy {
            Policy::FirstFit => self.summary_lower(start, self.block_size(start)),
            Policy::BestFit => self.index_remove(start),
        }
    }

    /// The free block (and padding) the policy picks for a `need`-byte block aligned to `align`.
    pub(crate) fn index_find(&mut self, need: usize, align: usize) -> Option<(usize, usize)> {
        if self.config.policy == Policy::FirstFit {
            // Every indexed block lies below the top.
            return self
                .summary_find(need, align)
                .map(|found| (found.start, found.pad))
                .or_else(|| self.top_fit(need, align));
        }
        let need_g = (need / GRANULE) as u32;
        let found = match self.first_fitting(need_g, &mut Path::new(0)) {
            None => None,
            Some(n) if align <= MIN_ALIGN => Some((start(n), 0)),
            // Larger alignments: the first large-enough block usually fits once padded; if not, walk on.
            Some(n) => match self.fit(start(n), self.block_size(start(n)), need, align) {
                Some(pad) => Some((start(n), pad)),
                None => self.first_fitting_aligned(need_g, need, align),
            },
        };
        match (found, self.top_fit(need, align)) {
            // First fit: every indexed block lies below the top.
            (Some(found), Some(top))
                if self.config.policy == Policy::BestFit
                    && self.top_beats(top.0, self.block_size(found.0)) =>
            {
                Some(top)
            }
            (Some(found), _) => Some(found),
            (None, top) => top,
        }
    }

    /// Whether best fit takes the top block at `top` rather than an indexed block of `size` bytes, when both
    /// hold the request: the smaller block, and the indexed one (the lower address) among equals.
    #[inline(always)]
    fn top_beats(&self, top: usize, size: usize) -> bool {
        self.block_size(top) < size
    }

    /// The top block and its padding, if it holds a `need`-byte block aligned to `align`.
    #[inline]
    pub(crate) fn top_fit(&self, need: usize, align: usize) -> Option<(usize, usize)> {
        if self.top < self.heap_len {
            self.fit(self.top, self.block_size(self.top), need, align).map(|pad| (self.top, pad))
        } else {
            None
        }
    }

    /// The first block in key order that holds `need` bytes aligned to `align` once padded: the bins from the
    /// request's own on, each walked in order.
    fn first_fitting_aligned(
        &self,
        need_g: u32,
        need: usize,
        align: usize,
    ) -> Option<(usize, usize)> {
        let mut bin = bin_of(need_g);
        while let Some(b) = self.bins.next_used(bin) {
            if let Some(found) =
                self.first_fitting_aligned_in(self.bin_root(b), need_g, need, align)
            {
                return Some(found);
            }
            bin = b + 1;
        }
        None
    }

    /// The first block in key order, in the subtree at `n`, that holds `need` bytes aligned to `align` once
    /// padded: an in-order walk that skips every subtree whose maximum is too small.
    fn first_fitting_aligned_in(
        &self,
        n: Node,
        need_g: u32,
        need: usize,
        align: usize,
    ) -> Option<(usize, usize)> {
        if n == NIL || self.subtree_max(n) < need_g {
            return None;
        }
        if let Some(found) = self.first_fitting_aligned_in(self.left(n), need_g, need, align) {
            return Some(found);
        }
        let (s, size) = (start(n), self.block_size(start(n)));
        if size >= need {
            if let Some(pad) = self.fit(s, size, need, align) {
                return Some((s, pad));
            }
        }
        self.first_fitting_aligned_in(self.right(n), need_g, need, align)
    }

    /// The first node in key order whose block has at least `need` granules: in the request's bin if one
    /// there fits, else the first node of the next non-empty bin, whose every block is larger. Its ancestors
    /// (the path its removal needs) are left in `path`, which must be empty.
    #[inline]
    fn first_fitting(&self, need: u32, path: &mut Path) -> Option<Node> {
        debug_assert_eq!(path.len, 0);
        let bin = bin_of(need);
        let n = self.bin_root(bin);
        path.bin = bin;
        // A bin below `EXACT` holds blocks of its one size, `need`: its first node is the answer.
        if bin < EXACT as usize && n != NIL {
            return Some(self.leftmost(n, path));
        }
        if self.subtree_max(n) < need {
            path.bin = self.bins.next_used(bin + 1)?;
            return Some(self.leftmost(self.bin_root(path.bin), path));
        }
        let mut n = n;
        loop {
            let l = self.left(n);
            if self.subtree_max(l) >= need {
                path.push(n);
                n = l;
            } else if self.node_size(n) >= need {
                return Some(n);
            } else {
                // The subtree holds a fitting block and it is neither on the left nor here.
                path.push(n);
                n = self.right(n);
            }
        }
    }

    /// The first node in key order of the subtree at `n` (not `NIL`), reached from the end of `path`; the
    /// path is extended down to its parent.
    #[inline(always)]
    fn leftmost(&self, mut n: Node, path: &mut Path) -> Node {
        let mut l = self.left(n);
        while l != NIL {
            path.push(n);
            n = l;
            l = self.left(n);
        }
        n
    }

    /// Best fit's allocation of a `need`-byte block at the usual alignment: the search, and the take of the
    /// block it picks. An indexed block leaves its tree through the path the search walked, without a second
    /// descent. `None` if no free block holds it.
    pub(crate) fn bins_alloc(&mut self, need: usize) -> Option<Block> {
        debug_assert!(self.config.policy == Policy::BestFit);
        let mut path = Path::new(0);
        let found = self.first_fitting((need / GRANULE) as u32, &mut path);
        let top = self.top_fit(need, MIN_ALIGN);
        if let Some(n) = found {
            if top.is_none_or(|(top, _)| !self.top_beats(top, self.block_size(start(n)))) {
                self.remove_below(n, &mut path);
                return Some(self.take_detached(start(n), need));
            }
        }
        let (top, pad) = top?;
        Some(self.take(top, pad, need))
    }

    /// Empties every bin (best fit; nothing under first fit).
    pub(crate) fn bins_clear(&mut self) {
        while let Some(bin) = self.bins.next_used(0) {
            self.set_bin_root(bin, NIL);
            self.bins.unmark(bin);
        }
    }

    /// The largest indexed block's size in granules under best fit (0 if none): the maximum of the highest
    /// non-empty bin.
    pub(crate) fn bins_max(&self) -> u32 {
        self.bins.last_used().map_or(0, |bin| self.subtree_max(self.bin_root(bin)))
    }

    /// Empties the index and fills it again from a walk of the heap, counting the free blocks (after
    /// coalescing or compaction).
    pub(crate) fn rebuild_index(&mut self) {
        self.bins_clear();
        self.top = self.heap_len;
        self.free_blocks = 0;
        self.summary_clear();
        let mut s = 0;
        while s < self.heap_len {
            let size = self.block_size(s);
            if self.is_free(s) {
                self.free_insert(s);
                self.free_blocks += 1;
            }
            s += size;
        }
    }
}
