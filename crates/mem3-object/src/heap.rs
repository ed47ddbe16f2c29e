//! The object heap: a pool for the objects and a handle table that says where each one is.

use alloc::vec::Vec;
use core::fmt;

use mem3_pool::{Block, BlockState, Coalescing, Config, Pool, Stats, block_size_for};

use crate::{
    error::{Error, Result},
    handle::{Handle, HandleTable, NO_SLOT, Slot},
    object::{self, NUMBER_OBJECT_SIZE, NUMBER_SIZE, OBJECT_HEADER_SIZE, ObjectKind, ObjectRef},
};

/// What [`ObjectHeap::defragment`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DefragStats {
    /// Runs of free blocks merged by the coalescing pass (always 0 with immediate coalescing).
    pub merges: usize,
    /// Objects moved by compaction.
    pub moved_objects: usize,
    /// Bytes moved by compaction (whole pool blocks, headers included).
    pub moved_bytes: usize,
}

/// The heap's figures at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HeapStats {
    /// The pool's figures.
    pub pool: Stats,
    /// Live objects (occupied handle slots). (How many are pinned is the pool's to say:
    /// [`ObjectHeap::pinned_objects`].)
    pub live_objects: usize,
    /// Slots in the handle table: occupied, vacant or retired.
    pub handle_slots: usize,
    /// Slots whose generations are used up; they are never reused.
    pub retired_slots: usize,
    /// Bytes the handle table holds on the global heap (outside the pool).
    pub handle_table_bytes: usize,
}

static_assertions::assert_impl_all!(ObjectHeap<'static>: Send, Sync);

/// Typed objects in a [`Pool`], named by generational [`Handle`]s.
///
/// See the [crate docs](crate) for an example and the guarantees.
pub struct ObjectHeap<'a> {
    pub(crate) pool: Pool<'a>,
    pub(crate) table: HandleTable,
    pub(crate) defragment_on_failure: bool,
}

impl fmt::Debug for ObjectHeap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectHeap")
            .field("pool", &self.pool)
            .field("live_objects", &self.table.live)
            .field("handle_slots", &self.table.slots.len())
            .field("defragment_on_failure", &self.defragment_on_failure)
            .finish_non_exhaustive()
    }
}

impl<'a> ObjectHeap<'a> {
    /// Makes an empty heap over `region` with the pool's default [`Config`].
    pub fn new(region: &'a mut [u8]) -> Result<Self> {
        Self::with_config(region, Config::default())
    }

    /// Makes an empty heap over `region`, whose pool uses `config`.
    pub fn with_config(region: &'a mut [u8], config: Config) -> Result<Self> {
        Ok(ObjectHeap {
            pool: Pool::with_config(region, config)?,
            table: HandleTable::new(),
            defragment_on_failure: true,
        })
    }

    /// Turns automatic defragmentation on or off (it is on by default). When it is on, an allocation that
    /// finds no free block large enough, although the free space would hold the object after compaction,
    /// defragments the heap and tries once more.
    pub fn set_defragment_on_failure(&mut self, on: bool) {
        self.defragment_on_failure = on;
    }

    /// Whether allocations defragment and retry when they do not fit (see
    /// [`set_defragment_on_failure`](ObjectHeap::set_defragment_on_failure)).
    pub fn defragment_on_failure(&self) -> bool {
        self.defragment_on_failure
    }

    /// The pool the objects live in.
    pub fn pool(&self) -> &Pool<'a> {
        &self.pool
    }

    // ---------------------------------------------------------------------------------------------------
    // Allocation.

    /// Bytes of pool block payload the object needs: its header plus its data. The whole pool block is
    /// [`mem3_pool::block_size_for`] of it.
    pub fn object_size(value: ObjectRef<'_>) -> usize {
        value.encoded_size()
    }

    /// Whether the free space could hold the object once [`defragment`](ObjectHeap::defragment) has run:
    /// whether one of the gaps compaction leaves between pinned objects (the whole free space, with nothing
    /// pinned) is large enough. O(1) when even the total free space is too small, else O(blocks) at most.
    pub fn would_fit_after_defragment(&self, value: ObjectRef<'_>) -> bool {
        self.fits_after_defragment(Self::object_size(value))
    }

    fn fits_after_defragment(&self, size: usize) -> bool {
        let Some(need) = block_size_for(size, self.pool.config().policy.min_block()) else {
            return false;
        };
        self.pool.fits_after_compaction(need)
    }

    /// Allocates an object holding `value` and returns its handle.
    ///
    /// When no free block is large enough but the free space would hold the object after compaction, and
    /// automatic defragmentation is on, it [defragments](ObjectHeap::defragment) and tries again.
    ///
    /// # Errors
    ///
    /// [`Error::Pool`] holding [`mem3_pool::Error::OutOfMemory`] when the object does not fit (see
    /// [`Error::is_out_of_memory`]), [`Error::TooManyHandles`] when the handle table cannot grow.
    #[inline(always)]
    pub fn alloc(&mut self, value: ObjectRef<'_>) -> Result<Handle> {
        match self.alloc_usual(value) {
            Some(handle) => Ok(handle),
            None => self.alloc_any(value),
        }
    }

    /// [`alloc_usual`](ObjectHeap::alloc_usual) for a number holding `bits`, an int if `INT` else a float: a
    /// pool block of a size known at compile time, whose first bytes come as an array, so no length is
    /// computed or checked. `None`, having changed nothing, as `alloc_usual`. (The kind a constant, one copy
    /// a kind: the header word is then a constant too, 1% of fib and arith.)
    ///
    /// The usual case, a vacant slot and the top carved, has no call in it, so it saves no registers; the
    /// rest is [`alloc_number_general`](ObjectHeap::alloc_number_general), a tail call.
    #[inline(never)]
    fn alloc_number<const INT: bool>(&mut self, bits: [u8; NUMBER_SIZE]) -> Option<Handle> {
        let kind = if INT { ObjectKind::Int } else { ObjectKind::Float };
        let index = self.table.free_head;
        if index != NO_SLOT {
            if let Some((block, object)) = self.pool.carve_with_array::<NUMBER_OBJECT_SIZE>() {
                let owner = self.table.claim(index, block);
                *object = object::number_object(kind, bits, owner);
                return Some(owner);
            }
        }
        self.alloc_number_general(kind, bits)
    }

    /// [`alloc_number`](ObjectHeap::alloc_number) when the table has no vacant slot or the pool's top is
    /// not carved.
    #[inline(never)]
    fn alloc_number_general(
        &mut self,
        kind: ObjectKind,
        bits: [u8; NUMBER_SIZE],
    ) -> Option<Handle> {
        // The head of the free list, read once: the pool does not touch the table.
        let index = self.table.free_head;
        if !self.table.can_claim(index) {
            return None;
        }
        let (block, object) = self.pool.alloc_with_array::<NUMBER_OBJECT_SIZE>().ok()?;
        let owner = self.table.claim(index, block);
        *object = object::number_object(kind, bits, owner);
        Some(owner)
    }

    /// The usual allocation, returning the handle in a register: the block allocated, then the handle slot
    /// claimed with one look at it, then the object written. `None`, having changed nothing, when the pool
    /// does not hold the object or the table would have to grow (or cannot): then
    /// [`alloc_any`](ObjectHeap::alloc_any) does it all again with its errors, retries and growth.
    #[inline]
    fn alloc_usual(&mut self, value: ObjectRef<'_>) -> Option<Handle> {
        let len = value.data_len();
        // The head of the free list, read once: the pool does not touch the table.
        let index = self.table.free_head;
        // The header's length field is a `u32`.
        if u32::try_from(len).is_err() || !self.table.can_claim(index) {
            return None;
        }
        let (block, payload) = self.pool.alloc_with_payload(OBJECT_HEADER_SIZE + len).ok()?;
        let owner = self.table.claim(index, block);
        object::encode(payload, value, owner);
        Some(owner)
    }

    /// [`alloc`](ObjectHeap::alloc) with the exact errors, the retry and the table's growth, after
    /// [`alloc_usual`](ObjectHeap::alloc_usual) did not allocate.
    #[cold]
    #[inline(never)]
    fn alloc_any(&mut self, value: ObjectRef<'_>) -> Result<Handle> {
        let len = value.data_len();
        let size = OBJECT_HEADER_SIZE + len;
        if u32::try_from(len).is_err() {
            // The header's length field is a `u32`.
            return Err(self.pool.out_of_memory(size).into());
        }
        // Nothing changes before the block is allocated: a failed allocation leaves the handle table (and
        // its capacity, counted in `handle_table_bytes`) as it was.
        let owner = self.table.prepare()?;
        let (block, payload) = match self.pool.alloc_with_payload(size) {
            Ok(allocated) => allocated,
            Err(e) => self.alloc_retry(size, e)?,
        };
        object::encode(payload, value, owner);
        if let Err(e) = self.table.reserve() {
            // Only the global allocator refusing a few bytes gets here. Give the block back; with deferred
            // coalescing the pool may keep it as a separate free block.
            self.pool.free(block).expect("the block was just allocated");
            return Err(e);
        }
        self.table.insert(owner, block);
        Ok(owner)
    }

    /// Allocates an integer object: [`alloc`](ObjectHeap::alloc) of an int, whose usual path knows its
    /// block's size at compile time.
    #[inline(always)]
    pub fn alloc_int(&mut self, v: i64) -> Result<Handle> {
        match self.alloc_number::<true>(v.to_ne_bytes()) {
            Some(handle) => Ok(handle),
            None => self.alloc_any(ObjectRef::Int(v)),
        }
    }

    /// Allocates a float object, as [`alloc_int`](ObjectHeap::alloc_int) an int.
    #[inline(always)]
    pub fn alloc_float(&mut self, v: f64) -> Result<Handle> {
        match self.alloc_number::<false>(v.to_ne_bytes()) {
            Some(handle) => Ok(handle),
            None => self.alloc_any(ObjectRef::Float(v)),
        }
    }

    /// Allocates a string object holding a copy of `s`.
    pub fn alloc_str(&mut self, s: &str) -> Result<Handle> {
        self.alloc(ObjectRef::Str(s))
    }

    /// The pool's first `alloc(size)` failed with `e`: if that is out of memory, automatic defragmentation is
    /// on and compaction would make room, defragment and try once more. The pool's error, out of memory
    /// included, is passed up as it is: its figures are the pool's at the failure, and its `requested` is
    /// `size`, the object's payload.
    #[cold]
    #[inline(never)]
    fn alloc_retry(&mut self, size: usize, e: mem3_pool::Error) -> Result<(Block, &mut [u8])> {
        match e {
            mem3_pool::Error::OutOfMemory { .. }
                if self.defragment_on_failure && self.fits_after_defragment(size) =>
            {
                self.defragment();
                Ok(self.pool.alloc_with_payload(size)?)
            }
            e => Err(e.into()),
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Reading.

    /// The pool block of `h`'s object. It changes when [`defragment`](ObjectHeap::defragment) moves the
    /// object.
    pub fn block(&self, h: Handle) -> Result<Block> {
        self.table.get(h)
    }

    /// The payload of `h`'s object, and the object's pool offset for errors.
    ///
    /// The table names live blocks only (every free, sweep and move updates it), so the pool's start-bitmap
    /// lookup would only repeat what the table proves: the read takes the pool's unverified payload, which
    /// is still bounded by the heap, and the object header's owner check that follows still catches a slot
    /// that names the wrong block.
    #[inline(always)]
    fn payload(&self, h: Handle) -> Result<(&[u8], usize)> {
        self.payload_of(self.table.get(h)?)
    }

    /// [`payload`](ObjectHeap::payload) of the block a live slot names.
    #[inline(always)]
    fn payload_of(&self, block: Block) -> Result<(&[u8], usize)> {
        match self.pool.payload_unverified(block) {
            Some(payload) => Ok((payload, block.offset())),
            None => Err(self.not_a_live_block(block)),
        }
    }

    /// The error for a table slot whose block the pool does not hold: the pool's own, as a checked read
    /// gives it.
    #[cold]
    #[inline(never)]
    fn not_a_live_block(&self, block: Block) -> Error {
        match self.pool.payload(block) {
            Err(e) => e.into(),
            Ok(_) => {
                Error::Corrupt { offset: block.offset(), what: "a live handle names no live block" }
            }
        }
    }

    /// The value of `h`'s object.
    ///
    /// # Errors
    ///
    /// [`Error::StaleHandle`] if `h` names no live object; [`Error::Corrupt`] if the object's header or data
    /// is invalid (which only memory corruption can cause).
    #[inline(always)]
    pub fn get(&self, h: Handle) -> Result<ObjectRef<'_>> {
        let (payload, offset) = self.payload(h)?;
        object::decode_owned(payload, offset, h)
    }

    /// The value of `h`'s object, as [`get`](ObjectHeap::get) gives it, for a caller that expects a number
    /// (an interpreter's arithmetic and tests): a number is read straight from the heap's bytes, the table
    /// proving the block live and the header's owner and kind words proving the object `h`'s number, in two
    /// word compares; anything else is read as `get` reads it, errors included.
    #[inline(always)]
    pub fn get_expecting_number(&self, h: Handle) -> Result<ObjectRef<'_>> {
        let block = self.table.get(h)?;
        if let Some(number) = object::decode_number(self.pool.heap_bytes(), block.offset(), h) {
            return Ok(number);
        }
        let (payload, offset) = self.payload_of(block)?;
        object::decode_owned(payload, offset, h)
    }

    /// The int `h`'s object holds, for an interpreter's fast path: `None` when `h` names anything but a
    /// live int (a float, a string, a stale handle, a corrupt object), which the caller then reads with
    /// [`get`](ObjectHeap::get) or [`get_expecting_number`](ObjectHeap::get_expecting_number) for the exact
    /// answer or error. It reads as `get_expecting_number` does (the table proves the block live, the
    /// header's owner and kind words the object `h`'s int), with the answer in one register.
    #[inline(always)]
    pub fn get_int(&self, h: Handle) -> Option<i64> {
        // The header's owner word names `h`'s generation too, so the slot's own is not compared.
        let block = self.table.occupant_block(h.index())?;
        object::decode_int(self.pool.heap_bytes(), block.offset(), h)
    }

    /// The kind of `h`'s object, without reading its data.
    pub fn kind(&self, h: Handle) -> Result<ObjectKind> {
        let (payload, offset) = self.payload(h)?;
        Ok(object::decode_header(payload, offset)?.kind)
    }

    /// Whether `h` names a live object.
    pub fn contains(&self, h: Handle) -> bool {
        self.table.get(h).is_ok()
    }

    /// Whether `h`'s object is pinned.
    pub fn is_pinned(&self, h: Handle) -> Result<bool> {
        Ok(self.pool.is_pinned(self.table.get(h)?)?)
    }

    /// The kind of the object stored in `block`, if `block` is a used block of this heap's pool holding a
    /// valid object header. For heap maps, together with [`Pool::blocks`].
    pub fn kind_of_block(&self, block: Block) -> Option<ObjectKind> {
        let payload = self.pool.payload(block).ok()?;
        object::decode_header(payload, block.offset()).ok().map(|hdr| hdr.kind)
    }

    /// Every live handle, in index order.
    pub fn handles(&self) -> impl Iterator<Item = Handle> + '_ {
        self.table.iter().map(|(h, _)| h)
    }

    /// The number of live objects.
    pub fn len(&self) -> usize {
        self.table.live
    }

    /// Whether there are no live objects.
    pub fn is_empty(&self) -> bool {
        self.table.live == 0
    }

    // ---------------------------------------------------------------------------------------------------
    // Freeing and pinning.

    /// Frees `h`'s object. `h` and every copy of it are stale from then on.
    pub fn free(&mut self, h: Handle) -> Result<()> {
        let block = self.table.get(h)?;
        self.pool.free(block)?;
        self.table.remove(h)?;
        Ok(())
    }

    /// Frees every object whose handle `keep` rejects (a garbage collector's sweep) and returns how many it
    /// freed: one pass over the pool's blocks in address order ([`Pool::retain`]), each object's header naming
    /// its handle, with the pool's index rebuilt once at the end rather than updated per object. O(blocks).
    /// Each object costs one read of the owner its header names and one look at that slot: the slot must
    /// hold the object's block, which proves the owner (a live handle's slot names its own block, which
    /// holds one object), so the rest of the header is not decoded. An object whose header names a slot that
    /// does not hold it is left alone ([`check`](ObjectHeap::check) reports it). If `keep` panics, the objects
    /// already rejected are freed (their handles stale) and the rest are as they were.
    ///
    /// # Errors
    ///
    /// None today: what a sweep could fail on (a header naming the wrong owner) is left for
    /// [`check`](ObjectHeap::check). The `Result` keeps room for a sweep that reports it.
    pub fn retain(&mut self, mut keep: impl FnMut(Handle) -> bool) -> Result<usize> {
        let table = &mut self.table;
        let freed = self.pool.retain(|block, payload| {
            // The slot proves ownership: it must hold this very block. A header naming another owner (or
            // none) leaves its object alone, for `check` to report; the rest of the header is not read.
            let Some(owner) = object::owner(payload) else {
                return true;
            };
            // The handle goes stale before the block is freed, so no handle ever names a free block.
            !table.remove_unless(owner, block, &mut keep)
        });
        Ok(freed)
    }

    /// Frees every object whose handle `keep` rejects and returns how many it freed, like
    /// [`retain`](ObjectHeap::retain), but found from the handle table instead of the heap: `keep` is asked
    /// about each live handle in index order, then the pool keeps exactly the survivors' blocks
    /// ([`Pool::retain_only`]) without visiting the garbage. O(handle slots + s log s for s survivors), plus
    /// a write of the pool's bitmap words (1/512 of the pool): a collector whose survivors are few pays
    /// for them, not for every dead object's block. A used block that no live handle names (only a corrupt
    /// heap has one) is freed with the garbage. If `keep` panics, nothing has changed.
    ///
    /// It needs 8 bytes of the global heap per live object and a bit per handle slot while it runs; if the
    /// global allocator refuses them, it does what [`retain`](ObjectHeap::retain) does instead.
    ///
    /// # Errors
    ///
    /// [`Error::Pool`] if the pool refuses the survivors' blocks, which only a corrupt handle table makes it
    /// do (a slot naming a block that is not live, two slots naming one block); nothing has changed then.
    pub fn retain_by_handles(&mut self, keep: impl FnMut(Handle) -> bool) -> Result<usize> {
        let Some((mut kept, mut blocks)) = self.survivor_lists(self.table.live) else {
            return self.retain(keep);
        };
        self.table.survivors(keep, &mut kept, &mut blocks);
        blocks.sort_unstable();
        self.retain_survivors(&kept, &blocks)
    }

    /// Frees every object but those `keep` names and returns how many it freed: the sweep of a collector that
    /// holds its roots in a list. A stale handle in `keep` keeps nothing, and a handle may appear more than
    /// once. [`retain_by_handles`](ObjectHeap::retain_by_handles) without asking about every live handle:
    /// O(k log k) for `keep`'s k handles, one pass over the handle slots to empty the rest, and the pool's
    /// bitmap words (1/512 of the pool). A used block that no live handle names (only a corrupt heap has
    /// one) is freed with the garbage.
    ///
    /// It needs 8 bytes of the global heap per handle of `keep` and a bit per handle slot while it runs; if
    /// the global allocator refuses them, it asks [`retain_by_handles`](ObjectHeap::retain_by_handles) about
    /// each live handle instead (O(k) per handle).
    ///
    /// # Errors
    ///
    /// As [`retain_by_handles`](ObjectHeap::retain_by_handles): only a corrupt handle table makes the pool
    /// refuse the survivors' blocks; nothing has changed then.
    pub fn retain_handles(&mut self, keep: &[Handle]) -> Result<usize> {
        let Some((mut kept, mut blocks)) = self.survivor_lists(keep.len()) else {
            return self.retain_by_handles(|h| keep.contains(&h));
        };
        for &h in keep {
            if let Ok(block) = self.table.get(h) {
                HandleTable::mark_kept(&mut kept, h.index());
                blocks.push(block);
            }
        }
        // A live handle's slot names its block and no other slot does, so a repeated handle is a repeated
        // block: without repeats, the blocks are the kept slots' own.
        blocks.sort_unstable();
        blocks.dedup();
        self.retain_survivors(&kept, &blocks)
    }

    /// A clear bitmap with a bit per handle slot, and room for `survivors` blocks; `None` if the global
    /// allocator refuses the memory.
    fn survivor_lists(&self, survivors: usize) -> Option<(Vec<u64>, Vec<Block>)> {
        let (mut kept, mut blocks) = (Vec::new(), Vec::new());
        kept.try_reserve_exact(self.table.kept_words()).ok()?;
        blocks.try_reserve_exact(survivors).ok()?;
        kept.resize(self.table.kept_words(), 0);
        Some((kept, blocks))
    }

    /// Keeps exactly the objects of the slots whose bits are set in `kept`, whose blocks are `blocks` (in
    /// ascending order), and frees the rest.
    fn retain_survivors(&mut self, kept: &[u64], blocks: &[Block]) -> Result<usize> {
        // The pool first: if it refuses the list, the table is still as it was.
        self.pool.retain_only(blocks)?;
        Ok(self.table.remove_all_but(kept))
    }

    /// Pins `h`'s object: [`defragment`](ObjectHeap::defragment) leaves it where it is. Pinning a pinned
    /// object does nothing (pins do not nest).
    pub fn pin(&mut self, h: Handle) -> Result<()> {
        self.set_pinned(h, true)
    }

    /// Unpins `h`'s object. Unpinning an unpinned object does nothing.
    pub fn unpin(&mut self, h: Handle) -> Result<()> {
        self.set_pinned(h, false)
    }

    /// The pin state is the pool block's `PINNED` flag and nothing else: the object header and the heap keep
    /// no copy to reconcile.
    fn set_pinned(&mut self, h: Handle, on: bool) -> Result<()> {
        let block = self.table.get(h)?;
        if on {
            self.pool.pin(block)?
        } else {
            self.pool.unpin(block)?
        }
        Ok(())
    }

    /// The number of pinned objects: the pool's pinned blocks (each used block holds one object), counted by
    /// a walk of the blocks. O(blocks).
    pub fn pinned_objects(&self) -> usize {
        self.pool.blocks().filter(|info| info.state == BlockState::Pinned).count()
    }

    // ---------------------------------------------------------------------------------------------------
    // Defragmentation.

    /// Merges runs of free blocks, then slides every unpinned object toward the start of the pool and
    /// updates its handle, so that the free space becomes one block (or one per gap before a pinned
    /// object). Handles stay valid; pinned objects stay where they are. O(blocks + bytes moved).
    pub fn defragment(&mut self) -> DefragStats {
        // Immediate coalescing never leaves two free blocks side by side: nothing to merge.
        let merges = match self.pool.config().coalescing {
            Coalescing::Immediate => 0,
            Coalescing::Deferred => self.pool.coalesce(),
        };
        let table = &mut self.table;
        let compact =
            self.pool.compact(|old, new, payload| {
                // The header names the owning slot, so fixing the handle is O(1); the slot must hold the
                // block that moved, so a corrupt header cannot fix the wrong one.
                let owner = object::owner_index(payload);
                if !owner.is_some_and(|index| table.relocate(index, old, new)) {
                    // A corrupt header: find the owner the slow way rather than leave a handle naming whatever
                    // block ends up at `old`. `check` still reports the header.
                    if let Some(index) = table.slots.iter().position(
                        |slot| matches!(slot, Slot::Occupied { block, .. } if *block == old),
                    ) {
                        table.relocate(index as u32, old, new);
                    }
                }
            });
        DefragStats {
            merges,
            moved_objects: compact.moved_blocks,
            moved_bytes: compact.moved_bytes,
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Figures and the integrity check.

    /// The heap's figures. O(1).
    pub fn stats(&self) -> HeapStats {
        HeapStats {
            pool: self.pool.stats(),
            live_objects: self.table.live,
            handle_slots: self.table.slots.len(),
            retired_slots: self.table.retired,
            handle_table_bytes: self.table.bytes(),
        }
    }

    /// Verifies the whole heap: the pool's own check; every live handle names a live pool block whose valid
    /// object header names that handle; every used block is
    /// owned that way (so no two handles share an object and no object is lost); the free list links exactly
    /// the vacant slots; and the counters agree. O(blocks + handle slots).
    ///
    /// # Errors
    ///
    /// [`Error::PoolCorrupt`] if the pool's check fails, else [`Error::Corrupt`] naming the first fault found.
    pub fn check(&self) -> Result<()> {
        self.pool.check()?;
        let corrupt = |offset, what| Err(Error::Corrupt { offset, what });
        let (mut live, mut vacant, mut retired) = (0, 0, 0);
        for (index, slot) in self.table.slots.iter().enumerate() {
            match *slot {
                Slot::Occupied { generation, block } => {
                    let offset = block.offset();
                    let Ok(payload) = self.pool.payload(block) else {
                        return corrupt(offset, "a live handle names no live block");
                    };
                    let (hdr, _) = object::decode(payload, offset)?;
                    if hdr.index as usize != index || hdr.generation != generation {
                        return corrupt(offset, "object header names another handle");
                    }
                    live += 1;
                }
                Slot::Vacant { .. } => vacant += 1,
                Slot::Retired => retired += 1,
            }
        }
        let mut next = self.table.free_head;
        let mut linked = 0;
        while next != NO_SLOT {
            linked += 1;
            match self.table.slots.get(next as usize) {
                Some(Slot::Vacant { next_free, .. }) if linked <= vacant => next = *next_free,
                _ => {
                    return corrupt(0, "handle free list loops or links a used slot");
                }
            }
        }
        if linked != vacant {
            return corrupt(0, "handle free list misses vacant slots");
        }
        if live != self.table.live || retired != self.table.retired {
            return corrupt(0, "heap counters disagree with the handle table");
        }
        // Every used block is owned by the live handle its header names. With the walk above (every live
        // handle names a distinct used block), handles and used blocks correspond one to one.
        for block in self.pool.blocks().filter_map(|info| info.block()) {
            let offset = block.offset();
            let hdr = object::decode_header(self.pool.payload(block)?, offset)?;
            if self.table.get(Handle::new(hdr.index, hdr.generation)) != Ok(block) {
                return corrupt(offset, "used block is not owned by the handle its header names");
            }
        }
        Ok(())
    }
}
