//! Handles and the handle table: the one place that knows where each object lives.
//!
//! A slot holds a generation. While the slot is occupied, the generation is its object's handle's; when the
//! object is freed the generation goes up by one, so every handle to the old object is stale from then on.
//! Generations only ever grow: a slot whose generation reaches `u32::MAX` is retired when its object is
//! freed instead of wrapping, so no handle can ever come back to life and read another object's data.

use alloc::vec::Vec;
use core::num::NonZeroU32;

use mem3_pool::Block;
use static_assertions::{assert_eq_size, assert_impl_all, const_assert};

use crate::error::{Error, Result};

/// A handle to an object in an [`ObjectHeap`](crate::ObjectHeap): a slot index and the generation of the
/// slot's occupant when the handle was made.
///
/// A handle is only a name. Once its object is freed every use of it returns [`Error::StaleHandle`], however
/// often its slot is reused afterwards. A forged handle (or one from another heap) is harmless in the same
/// way: at worst it names a live object of this heap.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Handle {
    index: u32,
    generation: NonZeroU32,
}

assert_eq_size!(Handle, u64);
assert_eq_size!(Option<Handle>, u64);
assert_impl_all!(Handle: Copy, Send, Sync, core::hash::Hash, Ord);

impl Handle {
    pub(crate) fn new(index: u32, generation: NonZeroU32) -> Handle {
        Handle { index, generation }
    }

    /// The handle's slot in the handle table.
    pub fn index(self) -> u32 {
        self.index
    }

    /// The generation of the slot's occupant this handle names.
    pub fn generation(self) -> NonZeroU32 {
        self.generation
    }

    /// The handle as one `u64` (generation in the high half, index in the low half), never zero: for a VM
    /// that packs handles into its values.
    pub fn to_bits(self) -> u64 {
        (u64::from(self.generation.get()) << 32) | u64::from(self.index)
    }

    /// The handle whose [`to_bits`](Handle::to_bits) is `bits`; `None` when the generation half is zero.
    pub fn from_bits(bits: u64) -> Option<Handle> {
        let generation = NonZeroU32::new((bits >> 32) as u32)?;
        Some(Handle { index: bits as u32, generation })
    }
}

/// One entry of the handle table.
///
/// `repr(u32)` lays every variant out in declaration order after the tag, so the generation sits at the
/// same offset in an occupied and a vacant slot: filling a vacant slot writes the tag and the block only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Slot {
    /// The slot holds a live object in `block`; its handle carries `generation`.
    Occupied { generation: NonZeroU32, block: Block },
    /// The slot is free; its next occupant gets `generation`. `next_free` links the free slots (LIFO),
    /// [`NO_SLOT`] ending the list.
    Vacant { generation: NonZeroU32, next_free: u32 },
    /// The slot's generations are used up: it is never reused.
    Retired,
}

// The table lives on the global heap and is counted in `HeapStats::handle_table_bytes`; keep it small.
const_assert!(core::mem::size_of::<Slot>() <= 16);

/// The end of the free list. No slot has this index: the table holds at most `u32::MAX` slots, numbered
/// from 0. (A plain `u32` rather than an `Option`: the collector's loop that links thousands of slots keeps
/// one register for the head, not two.)
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// The first generation a slot gives out.
const FIRST_GENERATION: NonZeroU32 = NonZeroU32::MIN;

/// Empties `slot`, number `index`, whose occupant of `generation` goes: vacant with the next generation, at
/// the head of the free list `free_head`, or retired (counted in `retired`) if the generation cannot move on.
/// (It writes the slot rather than return it: built as a return value, the collector's loop assembled each
/// slot on the stack first, 6% of a collection.)
#[inline(always)]
fn vacate_slot(
    slot: &mut Slot,
    index: u32,
    generation: NonZeroU32,
    free_head: &mut u32,
    retired: &mut usize,
) {
    if let Some(generation) = generation.checked_add(1) {
        *slot = Slot::Vacant { generation, next_free: *free_head };
        *free_head = index;
    } else {
        *slot = Slot::Retired;
        *retired += 1;
    }
}

/// The handle table: slots, a free list through the vacant slots, and counters.
#[derive(Debug, Clone)]
pub(crate) struct HandleTable {
    pub(crate) slots: Vec<Slot>,
    /// The most recently vacated slot, the head of the free list; [`NO_SLOT`] when it is empty.
    pub(crate) free_head: u32,
    /// Occupied slots.
    pub(crate) live: usize,
    /// Retired slots.
    pub(crate) retired: usize,
    /// The table never grows beyond this many slots. `u32::MAX` normally (indices `0..u32::MAX`); tests
    /// lower it to reach [`Error::TooManyHandles`].
    pub(crate) max_slots: u32,
}

impl HandleTable {
    pub(crate) fn new() -> HandleTable {
        HandleTable {
            slots: Vec::new(),
            free_head: NO_SLOT,
            live: 0,
            retired: 0,
            max_slots: u32::MAX,
        }
    }

    /// The handle the next [`insert`](HandleTable::insert) will return, or [`Error::TooManyHandles`] when
    /// the index space is used up. Changes nothing: the caller calls [`reserve`](HandleTable::reserve)
    /// once the object's block is allocated, so a failed allocation leaves the table as it was.
    #[inline]
    pub(crate) fn prepare(&self) -> Result<Handle> {
        let index = self.free_head;
        if index != NO_SLOT {
            let Some(Slot::Vacant { generation, .. }) = self.slots.get(index as usize) else {
                unreachable!("the free list links vacant slots only");
            };
            return Ok(Handle::new(index, *generation));
        }
        let index = u32::try_from(self.slots.len())
            .ok()
            .filter(|&index| index < self.max_slots)
            .ok_or(Error::TooManyHandles)?;
        Ok(Handle::new(index, FIRST_GENERATION))
    }

    /// Makes sure [`insert`](HandleTable::insert) cannot fail: room for one more slot when no vacant one is
    /// left. [`Error::TooManyHandles`] when the global allocator refuses the memory.
    #[inline]
    pub(crate) fn reserve(&mut self) -> Result<()> {
        if self.free_head == NO_SLOT && self.slots.len() == self.slots.capacity() {
            self.grow()?;
        }
        Ok(())
    }

    #[cold]
    fn grow(&mut self) -> Result<()> {
        self.slots.try_reserve(1).map_err(|_| Error::TooManyHandles)
    }

    /// Puts `block` in `owner`'s slot, the one [`prepare`](HandleTable::prepare) returned `owner` for (with no
    /// change to the table since). Call [`reserve`](HandleTable::reserve) first.
    #[inline]
    pub(crate) fn insert(&mut self, owner: Handle, block: Block) {
        self.live += 1;
        let occupied = Slot::Occupied { generation: owner.generation, block };
        if let Some(slot) = self.slots.get_mut(owner.index as usize) {
            let Slot::Vacant { next_free, .. } = *slot else {
                unreachable!("`prepare` names a vacant slot or the next new one");
            };
            debug_assert_eq!(self.free_head, owner.index);
            *slot = occupied;
            self.free_head = next_free;
        } else {
            debug_assert_eq!(owner.index as usize, self.slots.len());
            self.slots.push(occupied);
        }
    }

    /// Whether [`claim`](HandleTable::claim) has a slot to give without growing the table, `index` being
    /// the head of the free list: a vacant slot, or room for a new one within the vector's capacity and
    /// `max_slots`. Changes nothing.
    #[inline(always)]
    pub(crate) fn can_claim(&self, index: u32) -> bool {
        let len = self.slots.len();
        index != NO_SLOT || (len < self.slots.capacity() && len < self.max_slots as usize)
    }

    /// Puts `block` in the slot [`prepare`](HandleTable::prepare) would name and returns its handle, with one
    /// look at the slot: `index`, the head of the free list, or a new slot. The caller checked
    /// [`can_claim`](HandleTable::can_claim) with the same `index`, so the table does not grow.
    #[inline(always)]
    pub(crate) fn claim(&mut self, index: u32, block: Block) -> Handle {
        debug_assert!(self.can_claim(index) && index == self.free_head);
        self.live += 1;
        if index != NO_SLOT {
            let slot = &mut self.slots[index as usize];
            let Slot::Vacant { generation, next_free } = *slot else {
                unreachable!("the free list links vacant slots only");
            };
            *slot = Slot::Occupied { generation, block };
            self.free_head = next_free;
            return Handle::new(index, generation);
        }
        let index = self.slots.len() as u32;
        self.slots.push(Slot::Occupied { generation: FIRST_GENERATION, block });
        Handle::new(index, FIRST_GENERATION)
    }

    /// The block of the object `h` names.
    #[inline]
    pub(crate) fn get(&self, h: Handle) -> Result<Block> {
        match self.slots.get(h.index as usize) {
            Some(&Slot::Occupied { generation, block }) if generation == h.generation => Ok(block),
            _ => Err(Error::StaleHandle),
        }
    }

    /// The block of the object in slot `index`, whatever its generation: for a read that then checks the
    /// owner the object's header names, which proves the generation as the slot would (every occupied slot
    /// names a block whose header names that slot and generation). One compare fewer than
    /// [`get`](HandleTable::get).
    #[inline(always)]
    pub(crate) fn occupant_block(&self, index: u32) -> Option<Block> {
        match self.slots.get(index as usize) {
            Some(&Slot::Occupied { block, .. }) => Some(block),
            _ => None,
        }
    }

    /// Empties the slot `h` names if it holds `block` and `keep(h)` refuses it, with one look at the slot (a
    /// collector's sweep: the header names `h`, the slot proves it). Returns whether it emptied the slot.
    #[inline]
    pub(crate) fn remove_unless(
        &mut self,
        h: Handle,
        block: Block,
        keep: impl FnOnce(Handle) -> bool,
    ) -> bool {
        let Some(slot) = self.slots.get_mut(h.index as usize) else {
            return false;
        };
        if *slot != (Slot::Occupied { generation: h.generation, block }) || keep(h) {
            return false;
        }
        self.vacate(h);
        true
    }

    /// Asks `keep` about every live handle, in index order, and for each one it keeps sets the slot's bit in
    /// `kept` (one bit per slot, [`kept_words`](HandleTable::kept_words) words, all clear) and appends its
    /// block to `blocks`. Changes nothing in the table.
    pub(crate) fn survivors(
        &self,
        mut keep: impl FnMut(Handle) -> bool,
        kept: &mut [u64],
        blocks: &mut Vec<Block>,
    ) {
        for (index, slot) in self.slots.iter().enumerate() {
            if let Slot::Occupied { generation, block } = *slot {
                if keep(Handle::new(index as u32, generation)) {
                    Self::mark_kept(kept, index as u32);
                    blocks.push(block);
                }
            }
        }
    }

    /// Sets slot `index`'s bit in `kept`, a bitmap of [`kept_words`](HandleTable::kept_words) words.
    #[inline(always)]
    pub(crate) fn mark_kept(kept: &mut [u64], index: u32) {
        let index = index as usize;
        kept[index / 64] |= 1 << (index % 64);
    }

    /// The `u64` words of a bitmap with one bit per slot, for [`survivors`](HandleTable::survivors) and
    /// [`remove_all_but`](HandleTable::remove_all_but).
    pub(crate) fn kept_words(&self) -> usize {
        self.slots.len().div_ceil(64)
    }

    /// Empties every occupied slot whose bit in `kept` (one bit per slot) is clear and returns how many it
    /// emptied. The slots are emptied from the highest down, so the free list gives out the lowest first.
    pub(crate) fn remove_all_but(&mut self, kept: &[u64]) -> usize {
        let (mut free_head, mut removed, mut retired) = (self.free_head, 0, 0);
        // 64 slots at a time, their bitmap word in a register.
        for (chunk, (slots, &bits)) in self.slots.chunks_mut(64).zip(kept).enumerate().rev() {
            for (i, slot) in slots.iter_mut().enumerate().rev() {
                let Slot::Occupied { generation, .. } = *slot else { continue };
                if bits & (1 << i) != 0 {
                    continue;
                }
                vacate_slot(
                    slot,
                    (chunk * 64 + i) as u32,
                    generation,
                    &mut free_head,
                    &mut retired,
                );
                removed += 1;
            }
        }
        self.free_head = free_head;
        self.live -= removed;
        self.retired += retired;
        removed
    }

    /// Empties the slot `h` names and returns the block it held. The slot's generation moves on, or the slot
    /// retires if its generation cannot.
    pub(crate) fn remove(&mut self, h: Handle) -> Result<Block> {
        let block = self.get(h)?;
        self.vacate(h);
        Ok(block)
    }

    /// Empties the occupied slot `h` names: its generation moves on and it joins the free list, or it
    /// retires if its generation cannot move on.
    #[inline]
    fn vacate(&mut self, h: Handle) {
        let slot = &mut self.slots[h.index as usize];
        vacate_slot(slot, h.index, h.generation, &mut self.free_head, &mut self.retired);
        self.live -= 1;
    }

    /// Records that the object owned by slot `index` moved from `old` to `new`. Returns `false` (and changes
    /// nothing) if that slot does not hold `old`.
    pub(crate) fn relocate(&mut self, index: u32, old: Block, new: Block) -> bool {
        match self.slots.get_mut(index as usize) {
            Some(Slot::Occupied { block, .. }) if *block == old => {
                *block = new;
                true
            }
            _ => false,
        }
    }

    /// Every live handle and its block, in index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Handle, Block)> + '_ {
        self.slots.iter().enumerate().filter_map(|(index, slot)| match *slot {
            Slot::Occupied { generation, block } => {
                Some((Handle::new(index as u32, generation), block))
            }
            _ => None,
        })
    }

    /// Bytes of memory the table holds on the global heap.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<Slot>()
    }
}
