//! The memory every arena allocator is given: one zeroed, page-aligned, pre-faulted block.

use std::{alloc::Layout, ptr::NonNull};

/// A region of memory owned by one benchmark allocator, freed when dropped.
///
/// Its pages are touched once when it is made, so no allocator pays page faults inside a timed loop.
#[derive(Debug)]
pub struct Region {
    ptr: NonNull<u8>,
    layout: Layout,
}

/// The page size assumed for alignment and pre-faulting.
pub const PAGE: usize = 4096;

impl Region {
    /// A fresh `bytes`-byte region, or `None` if `bytes` is 0 or the memory cannot be had.
    pub fn new(bytes: usize) -> Option<Region> {
        if bytes == 0 {
            return None;
        }
        let layout = Layout::from_size_align(bytes, PAGE).ok()?;
        // SAFETY: `layout` has a non-zero size (checked above).
        let ptr = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })?;
        for page in (0..bytes).step_by(PAGE) {
            // SAFETY: `page < bytes`, so the byte is inside the allocation; volatile so the write is kept.
            unsafe { ptr.as_ptr().add(page).write_volatile(0) };
        }
        Some(Region { ptr, layout })
    }

    /// The region's first byte.
    pub fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// The region's first byte's address.
    pub fn addr(&self) -> usize {
        self.ptr.as_ptr().addr()
    }

    /// The region's size in bytes.
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    /// Whether the region is empty (never: `new` refuses 0 bytes).
    pub fn is_empty(&self) -> bool {
        self.layout.size() == 0
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with `layout`. The allocator that used the region is dropped before it
        // (every wrapper declares its region last, or frees it explicitly after the allocator).
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

// SAFETY: the region is plain owned memory, like a `Box<[u8]>`.
unsafe impl Send for Region {}
