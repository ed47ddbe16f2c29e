//! How an object is laid out in the payload of its pool block, and how it is read back.
//!
//! ```text
//!   pool block payload (8-aligned)
//!   +--------+-------------------------+
//!   | kind u8| reserved: 3 bytes       |   0   kind: ObjectKind (1..=3); reserved: 0
//!   +--------+-------------------------+
//!   | len: u32                         |   4   bytes of data (8 for numbers, the UTF-8 length for strings)
//!   +----------------------------------+
//!   | handle index: u32                |   8   the handle that owns the object: compaction reads it to
//!   +----------------------------------+        fix that handle, check() to prove the owner is unique
//!   | handle generation: u32           |  12
//!   +----------------------------------+
//!   | data: i64 | f64 | UTF-8 bytes    |  16   native byte order
//!   | ...                              |
//!   +----------------------------------+
//! ```
//!
//! Every field is read with `from_ne_bytes`, so decoding needs no alignment and no `unsafe`, and every field is
//! validated: decoding a corrupt payload returns [`Error::Corrupt`], never a panic or a wrong value.
//!
//! The header holds no pin flag: whether an object is pinned is its pool block's `PINNED` flag, the one
//! record of it ([`ObjectHeap::is_pinned`](crate::ObjectHeap::is_pinned) asks the pool).

use core::num::NonZeroU32;

use static_assertions::{const_assert, const_assert_eq};

use crate::{
    error::{Error, Result},
    handle::Handle,
};

/// Offset of the kind byte in the object header.
pub(crate) const KIND_OFFSET: usize = 0;
/// Offset of the 3 reserved bytes, always 0.
pub(crate) const RESERVED_OFFSET: usize = 1;
/// Offset of the data length (`u32`).
pub(crate) const LEN_OFFSET: usize = 4;
/// Offset of the owning handle's index (`u32`).
pub(crate) const INDEX_OFFSET: usize = 8;
/// Offset of the owning handle's generation (`u32`, non-zero).
pub(crate) const GENERATION_OFFSET: usize = 12;
/// Bytes of the object header; the data follows it.
pub const OBJECT_HEADER_SIZE: usize = 16;
/// Bytes of an `Int` or `Float` object's data.
pub(crate) const NUMBER_SIZE: usize = 8;

/// The header as a struct: the byte offsets above are this struct's `repr(C)` field offsets, which the
/// assertions below prove, so the layout is written down once and checked by the compiler.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ObjectHdr {
    pub(crate) kind: ObjectKind,
    pub(crate) reserved: [u8; 3],
    pub(crate) len: u32,
    pub(crate) index: u32,
    pub(crate) generation: NonZeroU32,
}

const_assert_eq!(core::mem::offset_of!(ObjectHdr, kind), KIND_OFFSET);
const_assert_eq!(core::mem::offset_of!(ObjectHdr, reserved), RESERVED_OFFSET);
const_assert_eq!(core::mem::offset_of!(ObjectHdr, len), LEN_OFFSET);
const_assert_eq!(core::mem::offset_of!(ObjectHdr, index), INDEX_OFFSET);
const_assert_eq!(core::mem::offset_of!(ObjectHdr, generation), GENERATION_OFFSET);
const_assert_eq!(core::mem::size_of::<ObjectHdr>(), OBJECT_HEADER_SIZE);
// The data starts on an 8-byte boundary (payloads are `MIN_ALIGN`-aligned), so an `i64` or `f64` there is
// naturally aligned even though we never rely on it.
const_assert!(OBJECT_HEADER_SIZE % mem3_pool::MIN_ALIGN == 0);
const_assert_eq!(core::mem::size_of::<i64>(), NUMBER_SIZE);
const_assert_eq!(core::mem::size_of::<f64>(), NUMBER_SIZE);
// On 64-bit targets a number object's block is exactly its bytes, header included, with nothing rounded and
// nothing raised to a smallest block under either policy, so ints and floats never waste a byte.
#[cfg(target_pointer_width = "64")]
const_assert!(
    (OBJECT_HEADER_SIZE + NUMBER_SIZE + mem3_pool::HEADER_SIZE) % mem3_pool::GRANULE == 0
        && OBJECT_HEADER_SIZE + NUMBER_SIZE + mem3_pool::HEADER_SIZE
            >= mem3_pool::MIN_BLOCK_BEST_FIT
);

/// What an object is.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    /// A 64-bit signed integer.
    Int = 1,
    /// A 64-bit float.
    Float = 2,
    /// A UTF-8 string.
    Str = 3,
}

impl ObjectKind {
    /// The kind whose header byte is `byte`. Zero is no kind, so zeroed memory never decodes as an object.
    pub(crate) fn from_u8(byte: u8) -> Option<ObjectKind> {
        match byte {
            1 => Some(ObjectKind::Int),
            2 => Some(ObjectKind::Float),
            3 => Some(ObjectKind::Str),
            _ => None,
        }
    }
}

/// A borrowed view of an object's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ObjectRef<'h> {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(&'h str),
}

impl ObjectRef<'_> {
    /// The object's kind.
    pub fn kind(&self) -> ObjectKind {
        match self {
            ObjectRef::Int(_) => ObjectKind::Int,
            ObjectRef::Float(_) => ObjectKind::Float,
            ObjectRef::Str(_) => ObjectKind::Str,
        }
    }

    /// Bytes of the object's data (after the header).
    pub(crate) fn data_len(&self) -> usize {
        match self {
            ObjectRef::Int(_) | ObjectRef::Float(_) => NUMBER_SIZE,
            ObjectRef::Str(s) => s.len(),
        }
    }

    /// Bytes the object needs in its pool block's payload: the header plus the data.
    pub(crate) fn encoded_size(&self) -> usize {
        OBJECT_HEADER_SIZE + self.data_len()
    }
}

impl From<i64> for ObjectRef<'_> {
    fn from(v: i64) -> Self {
        ObjectRef::Int(v)
    }
}

impl From<f64> for ObjectRef<'_> {
    fn from(v: f64) -> Self {
        ObjectRef::Float(v)
    }
}

impl<'h> From<&'h str> for ObjectRef<'h> {
    fn from(s: &'h str) -> Self {
        ObjectRef::Str(s)
    }
}

/// The first 8 bytes of an object's data (`decode_header` checked that they are there).
fn data8(data: &[u8]) -> [u8; NUMBER_SIZE] {
    *data.first_chunk().expect("decode_header checked the length")
}

/// Two `u32` fields, `first` before `second` in memory, as one native-endian `u64`.
#[inline(always)]
fn two_fields(first: u32, second: u32) -> u64 {
    if cfg!(target_endian = "little") {
        u64::from(first) | u64::from(second) << 32
    } else {
        u64::from(first) << 32 | u64::from(second)
    }
}

/// Writes `value`, owned by `owner`, into `payload`, which holds at least `value.encoded_size()` bytes.
/// The header is built as two words (kind and reserved bytes with the length; the owner's index with its
/// generation), so a number and its header are three word stores behind one bounds check; a string's
/// header is two and its bytes one copy.
#[inline]
pub(crate) fn encode(payload: &mut [u8], value: ObjectRef<'_>, owner: Handle) {
    let header = |kind: ObjectKind, len: u32| {
        // `reserved` stays 0.
        let mut hdr = [0u8; OBJECT_HEADER_SIZE];
        hdr[KIND_OFFSET..INDEX_OFFSET]
            .copy_from_slice(&two_fields(kind_word(kind), len).to_ne_bytes());
        hdr[INDEX_OFFSET..]
            .copy_from_slice(&two_fields(owner.index(), owner.generation().get()).to_ne_bytes());
        hdr
    };
    match value {
        ObjectRef::Int(v) => {
            *payload.first_chunk_mut().expect("the block holds the object") =
                number_object(ObjectKind::Int, v.to_ne_bytes(), owner);
        }
        ObjectRef::Float(v) => {
            *payload.first_chunk_mut().expect("the block holds the object") =
                number_object(ObjectKind::Float, v.to_ne_bytes(), owner);
        }
        ObjectRef::Str(s) => {
            debug_assert!(u32::try_from(s.len()).is_ok());
            let (head, data) = payload
                .split_first_chunk_mut::<OBJECT_HEADER_SIZE>()
                .expect("the block holds the object");
            *head = header(ObjectKind::Str, s.len() as u32);
            data[..s.len()].copy_from_slice(s.as_bytes());
        }
    }
}

/// Bytes of a number object: its header and its data.
pub(crate) const NUMBER_OBJECT_SIZE: usize = OBJECT_HEADER_SIZE + NUMBER_SIZE;

/// The bytes of a number object of `kind` (`Int` or `Float`) holding `bits`, owned by `owner`: three words,
/// for [`encode`] and for the heap's allocation of numbers, which writes them into an array the pool hands it.
#[inline(always)]
pub(crate) fn number_object(
    kind: ObjectKind,
    bits: [u8; NUMBER_SIZE],
    owner: Handle,
) -> [u8; NUMBER_OBJECT_SIZE] {
    debug_assert!(kind != ObjectKind::Str);
    let mut object = [0u8; NUMBER_OBJECT_SIZE];
    object[KIND_OFFSET..INDEX_OFFSET]
        .copy_from_slice(&two_fields(kind_word(kind), NUMBER_SIZE as u32).to_ne_bytes());
    object[INDEX_OFFSET..OBJECT_HEADER_SIZE]
        .copy_from_slice(&two_fields(owner.index(), owner.generation().get()).to_ne_bytes());
    object[OBJECT_HEADER_SIZE..].copy_from_slice(&bits);
    object
}

/// The owning slot's index the object header at the start of `payload` names, read without validating the
/// header: for `defragment`'s relocation callback, which checks the slot itself (the slot must hold the block
/// that moved), so a corrupt header only sends it down its slow path.
#[inline(always)]
pub(crate) fn owner_index(payload: &[u8]) -> Option<u32> {
    let h = payload.first_chunk::<OBJECT_HEADER_SIZE>()?;
    Some(u32::from_ne_bytes([h[8], h[9], h[10], h[11]]))
}

/// The handle the object header at the start of `payload` names as its owner, read without validating the
/// rest of the header: for the collector's sweep, which proves ownership by the slot (the slot must hold
/// this very block), so a header that names the wrong owner only leaves its object alone. `None` when the
/// payload is shorter than a header or the generation is zero.
#[inline(always)]
pub(crate) fn owner(payload: &[u8]) -> Option<Handle> {
    let h = payload.first_chunk::<OBJECT_HEADER_SIZE>()?;
    let index = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
    let generation = NonZeroU32::new(u32::from_ne_bytes([h[12], h[13], h[14], h[15]]))?;
    Some(Handle::new(index, generation))
}

/// Decodes and validates the header at the start of `payload`. `offset` is the payload's pool offset, for
/// the error. The object's data is checked to lie inside the payload, for every kind.
#[inline(always)]
pub(crate) fn decode_header(payload: &[u8], offset: usize) -> Result<ObjectHdr> {
    let corrupt = |what| Error::Corrupt { offset, what };
    // One bounds check for the whole header; the fields below index a fixed-size array.
    let Some(h) = payload.first_chunk::<OBJECT_HEADER_SIZE>() else {
        return Err(corrupt("block is smaller than an object header"));
    };
    let Some(kind) = ObjectKind::from_u8(h[KIND_OFFSET]) else {
        return Err(corrupt("unknown object kind"));
    };
    let reserved = [h[RESERVED_OFFSET], h[RESERVED_OFFSET + 1], h[RESERVED_OFFSET + 2]];
    if reserved != [0; 3] {
        return Err(corrupt("reserved header bytes are not zero"));
    }
    let len = u32::from_ne_bytes([h[4], h[5], h[6], h[7]]);
    if kind != ObjectKind::Str && len != NUMBER_SIZE as u32 {
        return Err(corrupt("number object with a length other than 8"));
    }
    // `len as usize` cannot wrap on the targets mem3 supports (16-bit `usize` is not one of them).
    if (payload.len() - OBJECT_HEADER_SIZE) < len as usize {
        return Err(corrupt(if kind == ObjectKind::Str {
            "string length runs past the block"
        } else {
            "number runs past the block"
        }));
    }
    let index = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
    let Some(generation) = NonZeroU32::new(u32::from_ne_bytes([h[12], h[13], h[14], h[15]])) else {
        return Err(corrupt("owner generation is zero"));
    };
    Ok(ObjectHdr { kind, reserved, len, index, generation })
}

/// The first header word (kind byte and the three reserved bytes) of a valid object of `kind`.
const fn kind_word(kind: ObjectKind) -> u32 {
    u32::from_ne_bytes([kind as u8, 0, 0, 0])
}

/// The three words of a number object at heap offset `offset` in the heap's bytes `heap`: its header's kind
/// and length, its header's owner, its data. One bounds check; `None` if the heap ends first.
#[inline(always)]
fn number_words(heap: &[u8], offset: usize) -> Option<[u64; 3]> {
    let object = heap.get(offset..)?.first_chunk::<{ OBJECT_HEADER_SIZE + NUMBER_SIZE }>()?;
    let word = |at: usize| {
        u64::from_ne_bytes([
            object[at],
            object[at + 1],
            object[at + 2],
            object[at + 3],
            object[at + 4],
            object[at + 5],
            object[at + 6],
            object[at + 7],
        ])
    };
    Some([word(KIND_OFFSET), word(INDEX_OFFSET), word(OBJECT_HEADER_SIZE)])
}

/// The number `owner` owns at heap offset `offset`, read straight from the heap's bytes `heap`: the header's
/// second word must name `owner` and its first be a number's (its kind, zero reserved bytes, length 8), two
/// `u64` compares behind one bounds check. `None` for anything else (a string, a corrupt header), which the
/// caller reads through the pool's payload and [`decode_owned`], so errors stay exact.
#[inline(always)]
pub(crate) fn decode_number(
    heap: &[u8],
    offset: usize,
    owner: Handle,
) -> Option<ObjectRef<'static>> {
    let [first, owner_word, data] = number_words(heap, offset)?;
    if owner_word != two_fields(owner.index(), owner.generation().get()) {
        return None;
    }
    let data = data.to_ne_bytes();
    if first == two_fields(kind_word(ObjectKind::Int), NUMBER_SIZE as u32) {
        Some(ObjectRef::Int(i64::from_ne_bytes(data)))
    } else if first == two_fields(kind_word(ObjectKind::Float), NUMBER_SIZE as u32) {
        Some(ObjectRef::Float(f64::from_ne_bytes(data)))
    } else {
        None
    }
}

/// The int `owner` owns at heap offset `offset`, read straight from the heap's bytes `heap`: [`decode_number`]
/// for an int only, so the answer is one register. `None` for anything else (a float, a string, a corrupt
/// header), which the caller reads the general way for the exact answer.
#[inline(always)]
pub(crate) fn decode_int(heap: &[u8], offset: usize, owner: Handle) -> Option<i64> {
    let [first, owner_word, data] = number_words(heap, offset)?;
    if owner_word != two_fields(owner.index(), owner.generation().get())
        || first != two_fields(kind_word(ObjectKind::Int), NUMBER_SIZE as u32)
    {
        return None;
    }
    Some(i64::from_ne_bytes(data.to_ne_bytes()))
}

/// Decodes the object that `owner` owns in `payload`: [`decode`]'s answer with the owner check of
/// [`ObjectHeap::get`](crate::ObjectHeap::get), in as few loads and compares as the layout allows. The kind
/// and the reserved bytes are one `u32` compare, the owning handle one `u64` compare, the length one more;
/// a header that fails any of them goes to [`decode`] again for the exact error, so a corrupt object gives
/// the same [`Error::Corrupt`] as before and never another object's data.
#[inline]
pub(crate) fn decode_owned(payload: &[u8], offset: usize, owner: Handle) -> Result<ObjectRef<'_>> {
    if let Some((h, data)) = payload.split_first_chunk::<OBJECT_HEADER_SIZE>() {
        let word = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]);
        let len = u32::from_ne_bytes([h[4], h[5], h[6], h[7]]);
        let index = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
        let generation = u32::from_ne_bytes([h[12], h[13], h[14], h[15]]);
        if index == owner.index() && generation == owner.generation().get() {
            let number = if len == NUMBER_SIZE as u32 { data.first_chunk() } else { None };
            match (word, number) {
                (w, Some(&n)) if w == kind_word(ObjectKind::Int) => {
                    return Ok(ObjectRef::Int(i64::from_ne_bytes(n)));
                }
                (w, Some(&n)) if w == kind_word(ObjectKind::Float) => {
                    return Ok(ObjectRef::Float(f64::from_ne_bytes(n)));
                }
                (w, _) if w == kind_word(ObjectKind::Str) => {
                    if let Some(Ok(s)) = data.get(..len as usize).map(core::str::from_utf8) {
                        return Ok(ObjectRef::Str(s));
                    }
                }
                _ => {}
            }
        }
    }
    decode_owned_slow(payload, offset, owner)
}

/// [`decode_owned`] for a header that failed a fast check: the full validation, in [`decode`]'s order.
#[cold]
#[inline(never)]
fn decode_owned_slow(payload: &[u8], offset: usize, owner: Handle) -> Result<ObjectRef<'_>> {
    let (hdr, value) = decode(payload, offset)?;
    if hdr.index != owner.index() || hdr.generation != owner.generation() {
        return Err(Error::Corrupt { offset, what: "object header names another handle" });
    }
    Ok(value)
}

/// Decodes the object in `payload` (header and data), validating everything it reads.
#[inline]
pub(crate) fn decode(payload: &[u8], offset: usize) -> Result<(ObjectHdr, ObjectRef<'_>)> {
    let hdr = decode_header(payload, offset)?;
    // `decode_header` checked that the data lies inside the payload.
    let data = &payload[OBJECT_HEADER_SIZE..];
    let value = match hdr.kind {
        ObjectKind::Int => ObjectRef::Int(i64::from_ne_bytes(data8(data))),
        ObjectKind::Float => ObjectRef::Float(f64::from_ne_bytes(data8(data))),
        ObjectKind::Str => {
            let bytes = &data[..hdr.len as usize];
            ObjectRef::Str(
                core::str::from_utf8(bytes)
                    .map_err(|_| Error::Corrupt { offset, what: "string is not UTF-8" })?,
            )
        }
    };
    Ok((hdr, value))
}
