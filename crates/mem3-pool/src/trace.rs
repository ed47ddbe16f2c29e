//! Trace replay: parse an allocation trace (see `TRACE-FORMAT.md`) and replay it against a [`Pool`] or any
//! other allocator, measuring speed and space.
//!
//! * [`Trace::parse`] (bytes) and [`Trace::read`] (a reader, streamed) read a trace, plain text or gzip
//!   (recognised by its magic bytes `1f 8b`, not by a file name), into a compact form of 8 bytes per request
//!   that [`Trace::ops`] decodes into [`Op`]s. Trace IDs are mapped to dense slots while parsing, so replay
//!   does no hashing. Malformed input is a [`TraceError`] naming the line; no input makes the parser panic,
//!   and [`Limits`] bound its memory whatever the input (a gzip bomb is an error).
//! * [`replay`] runs a trace against a [`TraceAllocator`] and times the requests alone; a request that fails
//!   stops the replay and is reported in [`Replay::failed_at`]: that is a result, not an error.
//!   [`replay_checked`] does the same while checking block contents (for tests; never timed).
//! * [`min_pool`] searches for the smallest region in which a trace replays completely.
//! * [`replay_on_pool`] is what `mem3 replay` calls: one replay on a fresh pool, with every figure of the
//!   command's JSON output in a [`Report`].
//!
//! ```
//! use mem3_pool::{Config, trace::{Trace, replay_on_pool, default_pool_bytes}};
//!
//! let trace = Trace::parse(b"# mem3 trace v1\na 1 100\na 2 30 64\nr 1 500\nf 2\nf 1\n")?;
//! assert_eq!(trace.peak_live_bytes(), 530);
//! let report = replay_on_pool(&trace, default_pool_bytes(&trace), Config::default())?;
//! assert_eq!((report.ops, report.failed_at), (5, None));
//! assert!(report.peak_live_bytes <= report.peak_extent_bytes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::{alloc::Layout, fmt, mem::ManuallyDrop, ptr::NonNull};
use std::{
    collections::HashMap,
    format,
    io::{BufRead, BufReader, Read},
    string::{String, ToString},
    vec::Vec,
};

use crate::{Block, Config, Error, Pool};

/// The first line of every trace.
pub const HEADER: &str = "# mem3 trace v1";

/// The alignment of an `a` line without an ALIGN field.
pub const DEFAULT_ALIGN: usize = 8;

/// The largest region [`OwnedPool::new`] allocates: 4 GiB (2 GiB on 32-bit targets). Region sizes come
/// from input (`mem3 replay --pool-size`, a trace's sizes), so they are bounded before anything is allocated.
pub const MAX_POOL_BYTES: usize = if usize::BITS > 32 { 1 << (usize::BITS / 2) } else { 1 << 31 };

/// One request of a parsed trace. `slot` is a dense number standing for the trace's ID while the block is
/// live (slots are reused after a free, like IDs); the sizes and alignment of the block are carried along so
/// that allocators which need the old layout at free or resize (talc, rlsf, ...) get it without a lookup.
///
/// This is the decoded form [`Trace::ops`] yields; the trace itself stores requests more compactly (see
/// [`Trace`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Allocate `size` bytes aligned to `align` into `slot`.
    Alloc {
        /// The block's slot.
        slot: u32,
        /// Bytes requested.
        size: usize,
        /// Alignment requested (a power of two).
        align: usize,
    },
    /// Free the block in `slot`, which was last given `size` bytes at `align`.
    Free {
        /// The block's slot.
        slot: u32,
        /// The block's current requested size.
        size: usize,
        /// The block's alignment.
        align: usize,
    },
    /// Resize the block in `slot` from `old_size` to `new_size` bytes, keeping its alignment.
    Realloc {
        /// The block's slot.
        slot: u32,
        /// The block's current requested size.
        old_size: usize,
        /// The size asked for.
        new_size: usize,
        /// The block's alignment.
        align: usize,
    },
}

/// What the parser accepts at most, so that parsing any input takes bounded memory and time.
///
/// The parsed form costs 8 bytes per request (16 per resize), 8 more per request whose line does not
/// directly follow the previous request's line (after a comment or a blank line), and 8 per size of 4 GiB
/// or more. While parsing, each block live at once costs about 30 bytes more (the ID map, its size and
/// alignment); the text is streamed through 64 KiB buffers and never held whole. So with the
/// [default](Limits::DEFAULT) of 8,388,608 requests a trace takes at most 8 Mi x 24 bytes = 192 MiB once
/// parsed, and parsing at most about 8 Mi x 56 bytes = 448 MiB, whatever the input; the shared traces take
/// a few MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes of text read, after decompression: more is [`TraceErrorKind::TooLarge`]. This is what
    /// stops a gzip bomb, whatever its lines hold.
    pub max_text_bytes: u64,
    /// The most requests (`a`, `f` and `r` lines): more is [`TraceErrorKind::TooLarge`].
    pub max_requests: usize,
}

impl Limits {
    /// 256 MiB of text and 8,388,608 (2^23) requests: 36 and 11 times what the largest shared trace has.
    pub const DEFAULT: Limits = Limits { max_text_bytes: 256 << 20, max_requests: 1 << 23 };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// The longest line the parser looks at: a longer line is an error ([`TraceErrorKind::TooLarge`]) unless
/// it is a comment (a valid request line is under 80 bytes).
pub const MAX_LINE: usize = 4096;

/// The most blocks a trace may have live at once: slot numbers have 24 bits in the compact form.
pub const MAX_LIVE: usize = 1 << 24;

/// One request in 8 bytes: `head` holds the slot (bits 8 and up), the alignment's log2 (bits 2..8) and the
/// kind (bits 0..2); `size` is the size, or [`BIG`] when the size is the next entry of [`Trace::big`]. A
/// resize is two records: the new size in a `REALLOC` record, then the old size in an `OLD_SIZE` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rec {
    head: u32,
    size: u32,
}

const ALLOC: u32 = 0;
const FREE: u32 = 1;
const REALLOC: u32 = 2;
const OLD_SIZE: u32 = 3;
/// A size too large for a `u32` field: the real one is in [`Trace::big`], in record order.
const BIG: u32 = u32::MAX;

/// A parsed trace: its requests in a compact form, the line each came from, and its own figures.
///
/// See [`Limits`] for what it costs in memory. [`ops`](Trace::ops) decodes the requests in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    recs: Vec<Rec>,
    /// The sizes of [`BIG`] records, in record order.
    big: Vec<usize>,
    /// `(request index, line)` for every request whose line is not the previous request's line + 1.
    lines: Vec<(u32, u32)>,
    /// Number of requests.
    len: usize,
    /// Number of slots: the most blocks live at once.
    slots: usize,
    peak_live_bytes: usize,
}

/// The requests of a [`Trace`], decoded in order.
#[derive(Debug, Clone)]
pub struct Ops<'a> {
    recs: core::slice::Iter<'a, Rec>,
    big: core::slice::Iter<'a, usize>,
    left: usize,
}

impl Ops<'_> {
    #[inline]
    fn size(&mut self, size: u32) -> usize {
        if size == BIG { self.big.next().copied().unwrap_or(usize::MAX) } else { size as usize }
    }
}

impl Iterator for Ops<'_> {
    type Item = Op;

    #[inline]
    fn next(&mut self) -> Option<Op> {
        let rec = *self.recs.next()?;
        self.left -= 1;
        let slot = rec.head >> 8;
        let align = 1usize << ((rec.head >> 2) & 63);
        let size = self.size(rec.size);
        Some(match rec.head & 3 {
            ALLOC => Op::Alloc { slot, size, align },
            FREE => Op::Free { slot, size, align },
            _ => {
                let old = self.recs.next().map_or(0, |r| r.size);
                let old_size = self.size(old);
                Op::Realloc { slot, old_size, new_size: size, align }
            }
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Ops<'_> {}

/// A malformed trace: the line (1-based) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct TraceError {
    /// The offending line, counting from 1.
    pub line: usize,
    /// What is wrong with it.
    pub kind: TraceErrorKind,
}

/// What is wrong with a line of a trace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceErrorKind {
    /// The first line is not `# mem3 trace v1`.
    #[error("missing header line `{HEADER}`")]
    MissingHeader,
    /// The line's first field is not `a`, `f` or `r`.
    #[error("unknown operation `{0}` (expected `a`, `f` or `r`)")]
    UnknownOp(String),
    /// The line has the wrong number of fields for its operation.
    #[error("`{op}` takes {expected} fields, found {found}")]
    FieldCount {
        /// The operation.
        op: char,
        /// How many fields it takes.
        expected: &'static str,
        /// How many the line has.
        found: usize,
    },
    /// A field that should be a decimal integer is not one (or does not fit a `usize`).
    #[error("bad {field} `{text}`: expected a decimal integer")]
    BadNumber {
        /// Which field: `ID`, `SIZE` or `ALIGN`.
        field: &'static str,
        /// The field's text (cut to 32 characters).
        text: String,
    },
    /// An ID of 2^32 or more.
    #[error("ID {0} is not below 2^32")]
    IdTooLarge(String),
    /// An alignment that is not a power of two.
    #[error("alignment {0} is not a power of two")]
    BadAlign(usize),
    /// An `a` of an ID that is live.
    #[error("ID {0} is already live")]
    LiveId(u32),
    /// An `f` or `r` of an ID that is not live.
    #[error("ID {0} is not live")]
    NotLive(u32),
    /// The input starts like gzip (`1f 8b`) but does not decompress; the line is the one decompression
    /// reached.
    #[error("invalid gzip data: {0}")]
    Gzip(String),
    /// The reader the trace came from failed.
    #[error("cannot read the trace: {0}")]
    Read(String),
    /// The trace is beyond one of the parser's bounds (see [`Limits`], [`MAX_LINE`], [`MAX_LIVE`]); the
    /// line is the one that crossed it.
    #[error("trace too large: more than {limit} {what}")]
    TooLarge {
        /// What was counted: `bytes of text`, `requests`, `blocks live at once`, `bytes in one line` or
        /// `lines`.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// The system allocator refused memory for the parsed form (within the limits).
    #[error("not enough memory for the parsed trace")]
    NoMemory,
}

/// The field's text for an error message, cut short.
fn text_of(field: &[u8]) -> String {
    let s = String::from_utf8_lossy(field);
    if s.chars().count() > 32 {
        s.chars().take(32).chain("...".chars()).collect()
    } else {
        s.into()
    }
}

enum Number {
    Ok(u64),
    /// All digits, but too large for a `u64`.
    Overflow,
    Invalid,
}

fn decimal(field: &[u8]) -> Number {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return Number::Invalid;
    }
    let mut n: u64 = 0;
    for &d in field {
        match n.checked_mul(10).and_then(|n| n.checked_add(u64::from(d - b'0'))) {
            Some(v) => n = v,
            None => return Number::Overflow,
        }
    }
    Number::Ok(n)
}

fn id(field: &[u8]) -> Result<u32, TraceErrorKind> {
    match decimal(field) {
        Number::Ok(n) => u32::try_from(n).map_err(|_| TraceErrorKind::IdTooLarge(text_of(field))),
        Number::Overflow => Err(TraceErrorKind::IdTooLarge(text_of(field))),
        Number::Invalid => Err(TraceErrorKind::BadNumber { field: "ID", text: text_of(field) }),
    }
}

fn number(field: &[u8], name: &'static str) -> Result<usize, TraceErrorKind> {
    match decimal(field) {
        Number::Ok(n) => usize::try_from(n).ok(),
        Number::Overflow | Number::Invalid => None,
    }
    .ok_or_else(|| TraceErrorKind::BadNumber { field: name, text: text_of(field) })
}

/// Makes room for one more element without aborting when the system allocator refuses.
fn room<T>(v: &mut Vec<T>) -> Result<(), TraceErrorKind> {
    if v.len() == v.capacity() {
        v.try_reserve(1).map_err(|_| TraceErrorKind::NoMemory)?;
    }
    Ok(())
}

fn too_large(what: &'static str, limit: usize) -> TraceErrorKind {
    TraceErrorKind::TooLarge { what, limit: limit as u64 }
}

/// The parser's state between lines.
#[derive(Default)]
struct Parser {
    trace: Trace,
    limits: Limits,
    /// Live ID to slot.
    ids: HashMap<u32, u32>,
    /// Per slot: the live block's requested size and its alignment's log2.
    sizes: Vec<usize>,
    aligns: Vec<u8>,
    free_slots: Vec<u32>,
    live_bytes: usize,
    /// The line of the previous request.
    last_line: usize,
}

impl Parser {
    /// Appends one record (and its size to `big` if it does not fit the record).
    fn rec(
        &mut self,
        kind: u32,
        slot: u32,
        align_log2: u32,
        size: usize,
    ) -> Result<(), TraceErrorKind> {
        let small = u32::try_from(size).ok().filter(|&s| s != BIG);
        if small.is_none() {
            room(&mut self.trace.big)?;
            self.trace.big.push(size);
        }
        room(&mut self.trace.recs)?;
        self.trace
            .recs
            .push(Rec { head: slot << 8 | align_log2 << 2 | kind, size: small.unwrap_or(BIG) });
        Ok(())
    }

    /// Records that the next request comes from `line`.
    fn at_line(&mut self, line: usize) -> Result<(), TraceErrorKind> {
        if self.trace.len >= self.limits.max_requests.min(u32::MAX as usize) {
            return Err(too_large("requests", self.limits.max_requests.min(u32::MAX as usize)));
        }
        if self.trace.len == 0 || line != self.last_line + 1 {
            let line32 = u32::try_from(line).map_err(|_| too_large("lines", u32::MAX as usize))?;
            room(&mut self.trace.lines)?;
            // The request count is below `u32::MAX` (checked above).
            self.trace.lines.push((self.trace.len as u32, line32));
        }
        self.last_line = line;
        Ok(())
    }

    /// Parses one line (trimmed, not a comment) that is the `line`th of the text.
    fn line(&mut self, text: &[u8], line: usize) -> Result<(), TraceErrorKind> {
        let mut fields = [&[][..]; 4];
        let mut found = 0;
        for field in text.split(u8::is_ascii_whitespace).filter(|f| !f.is_empty()) {
            if found < fields.len() {
                fields[found] = field;
            }
            found += 1;
        }
        if found == 0 {
            return Ok(());
        }
        let count = |op, expected, ok: bool| {
            if ok { Ok(()) } else { Err(TraceErrorKind::FieldCount { op, expected, found }) }
        };
        match fields[0] {
            b"a" => {
                count('a', "3 or 4", found == 3 || found == 4)?;
                let id = id(fields[1])?;
                let size = number(fields[2], "SIZE")?;
                let align = if found == 4 { number(fields[3], "ALIGN")? } else { DEFAULT_ALIGN };
                if !align.is_power_of_two() {
                    return Err(TraceErrorKind::BadAlign(align));
                }
                if self.ids.contains_key(&id) {
                    return Err(TraceErrorKind::LiveId(id));
                }
                self.at_line(line)?;
                let log2 = align.trailing_zeros();
                let slot = match self.free_slots.pop() {
                    Some(slot) => {
                        self.sizes[slot as usize] = size;
                        self.aligns[slot as usize] = log2 as u8;
                        slot
                    }
                    None => {
                        if self.trace.slots >= MAX_LIVE {
                            return Err(too_large("blocks live at once", MAX_LIVE));
                        }
                        room(&mut self.sizes)?;
                        room(&mut self.aligns)?;
                        self.sizes.push(size);
                        self.aligns.push(log2 as u8);
                        self.trace.slots += 1;
                        // Below MAX_LIVE, so it fits the record's 24 bits.
                        (self.trace.slots - 1) as u32
                    }
                };
                if self.ids.len() == self.ids.capacity() {
                    self.ids.try_reserve(1).map_err(|_| TraceErrorKind::NoMemory)?;
                }
                self.ids.insert(id, slot);
                self.rec(ALLOC, slot, log2, size)?;
                self.live_bytes = self.live_bytes.saturating_add(size);
            }
            b"f" => {
                count('f', "2", found == 2)?;
                let id = id(fields[1])?;
                let &slot = self.ids.get(&id).ok_or(TraceErrorKind::NotLive(id))?;
                self.at_line(line)?;
                room(&mut self.free_slots)?;
                let (size, log2) = (self.sizes[slot as usize], self.aligns[slot as usize]);
                self.rec(FREE, slot, u32::from(log2), size)?;
                self.ids.remove(&id);
                self.free_slots.push(slot);
                self.live_bytes = self.live_bytes.saturating_sub(size);
            }
            b"r" => {
                count('r', "3", found == 3)?;
                let id = id(fields[1])?;
                let new_size = number(fields[2], "SIZE")?;
                let &slot = self.ids.get(&id).ok_or(TraceErrorKind::NotLive(id))?;
                self.at_line(line)?;
                let (old_size, log2) = (self.sizes[slot as usize], self.aligns[slot as usize]);
                self.rec(REALLOC, slot, u32::from(log2), new_size)?;
                self.rec(OLD_SIZE, 0, 0, old_size)?;
                self.sizes[slot as usize] = new_size;
                self.live_bytes = self.live_bytes.saturating_sub(old_size).saturating_add(new_size);
            }
            other => return Err(TraceErrorKind::UnknownOp(text_of(other))),
        }
        self.trace.len += 1;
        self.trace.peak_live_bytes = self.trace.peak_live_bytes.max(self.live_bytes);
        Ok(())
    }
}

/// The size of the buffers the text is streamed through.
const BUFFER: usize = 64 << 10;

/// Reads a trace's text line by line, keeping at most [`MAX_LINE`] bytes of a line and counting the
/// bytes against [`Limits::max_text_bytes`].
struct LineReader<R> {
    reader: R,
    gzip: bool,
    max_text_bytes: u64,
    text_bytes: u64,
    /// The current line's first [`MAX_LINE`] bytes, without its `\n`.
    line: Vec<u8>,
    /// Whether the current line is longer than [`MAX_LINE`].
    overlong: bool,
    /// The current line's number, from 1.
    number: usize,
}

impl<R: BufRead> LineReader<R> {
    /// Skips the empty lines that start the rest of the text, counting them, so that a text of empty lines
    /// (the cheapest gzip bomb) goes by at memory speed.
    /// (A read error is left for [`next`](Self::next) to report.)
    fn skip_empty_lines(&mut self) -> Result<(), TraceErrorKind> {
        if let Ok(buf) = self.reader.fill_buf() {
            let run = buf.iter().take_while(|&&b| b == b'\n').count();
            // Stop at the line that crosses the limit, so the error names it.
            let left = self.max_text_bytes.saturating_sub(self.text_bytes);
            let run = run.min(usize::try_from(left).unwrap_or(usize::MAX).saturating_add(1));
            self.reader.consume(run);
            self.number += run;
            self.count(run)?;
        }
        Ok(())
    }

    /// Counts `n` more bytes of text against the limit.
    fn count(&mut self, n: usize) -> Result<(), TraceErrorKind> {
        self.text_bytes += n as u64;
        if self.text_bytes > self.max_text_bytes {
            return Err(TraceErrorKind::TooLarge {
                what: "bytes of text",
                limit: self.max_text_bytes,
            });
        }
        Ok(())
    }

    /// Reads the next line into `self.line`; `false` at the end of the text.
    fn next(&mut self) -> Result<bool, TraceErrorKind> {
        self.line.clear();
        self.overlong = false;
        self.number += 1;
        let mut any = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if self.gzip => return Err(TraceErrorKind::Gzip(e.to_string())),
                Err(e) => return Err(TraceErrorKind::Read(e.to_string())),
            };
            if buf.is_empty() {
                return Ok(any);
            }
            any = true;
            let (end, used) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (Some(i), i + 1),
                None => (None, buf.len()),
            };
            let keep = end.unwrap_or(buf.len()).min(MAX_LINE - self.line.len());
            self.line.extend_from_slice(&buf[..keep]);
            self.overlong |= keep < end.unwrap_or(buf.len());
            self.reader.consume(used);
            self.count(used)?;
            if end.is_some() {
                return Ok(true);
            }
        }
    }
}

impl Trace {
    /// Parses a trace from its bytes: plain text, or gzip when the bytes start with `1f 8b`, within the
    /// [default limits](Limits::DEFAULT).
    ///
    /// Lines end with `\n` (a `\r` before it is ignored); fields are separated by spaces or tabs. Besides
    /// the header, comments (`#` first) and blank lines are skipped. Every other line must be a well-formed
    /// `a`, `f` or `r` whose ID is live (or, for `a`, not live); anything else is an error naming the line.
    pub fn parse(input: &[u8]) -> Result<Trace, TraceError> {
        Self::read(input, Limits::DEFAULT)
    }

    /// Parses a trace from a reader, as [`parse`](Trace::parse) does, within `limits`. The text is streamed
    /// (decompressed on the fly) and never held whole, so memory stays within what [`Limits`] states; the
    /// reader is read to the end of the trace or to the first error, and an error from it is
    /// [`TraceErrorKind::Read`] (or [`Gzip`](TraceErrorKind::Gzip)) on the line it stopped.
    pub fn read(mut input: impl Read, limits: Limits) -> Result<Trace, TraceError> {
        let mut magic = [0u8; 2];
        let mut have = 0;
        while have < magic.len() {
            match input.read(&mut magic[have..]) {
                Ok(0) => break,
                Ok(n) => have += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(TraceError { line: 1, kind: TraceErrorKind::Read(e.to_string()) });
                }
            }
        }
        let head = &magic[..have];
        let input = head.chain(input);
        if head == [0x1f, 0x8b] {
            let text = flate2::read::MultiGzDecoder::new(input);
            Self::parse_lines(BufReader::with_capacity(BUFFER, text), true, limits)
        } else {
            Self::parse_lines(BufReader::with_capacity(BUFFER, input), false, limits)
        }
    }

    fn parse_lines(reader: impl BufRead, gzip: bool, limits: Limits) -> Result<Trace, TraceError> {
        let mut lines = LineReader {
            reader,
            gzip,
            max_text_bytes: limits.max_text_bytes,
            text_bytes: 0,
            line: Vec::with_capacity(MAX_LINE),
            overlong: false,
            number: 0,
        };
        let fail = |lines: &LineReader<_>, kind| TraceError { line: lines.number, kind };
        let header = lines.next().map_err(|kind| fail(&lines, kind))?;
        if !header || lines.overlong || lines.line.trim_ascii_end() != HEADER.as_bytes() {
            return Err(TraceError { line: 1, kind: TraceErrorKind::MissingHeader });
        }
        let mut parser = Parser { limits, ..Parser::default() };
        loop {
            lines.skip_empty_lines().map_err(|kind| fail(&lines, kind))?;
            if !lines.next().map_err(|kind| fail(&lines, kind))? {
                break;
            }
            let text = lines.line.trim_ascii();
            if text.starts_with(b"#") {
                continue;
            }
            if lines.overlong {
                return Err(fail(&lines, too_large("bytes in one line", MAX_LINE)));
            }
            let number = lines.number;
            parser.line(text, number).map_err(|kind| TraceError { line: number, kind })?;
        }
        let mut trace = parser.trace;
        trace.recs.shrink_to_fit();
        trace.lines.shrink_to_fit();
        Ok(trace)
    }

    /// The requests, in order.
    pub fn ops(&self) -> Ops<'_> {
        Ops { recs: self.recs.iter(), big: self.big.iter(), left: self.len }
    }

    /// The 1-based line number of the request `index` (counting from 0, as [`ops`](Trace::ops) yields them).
    pub fn line(&self, index: usize) -> Option<usize> {
        if index >= self.len {
            return None;
        }
        // The first request always has an entry, so `at >= 1`.
        let at = self.lines.partition_point(|&(op, _)| op as usize <= index);
        let (op, line) = *self.lines.get(at.checked_sub(1)?)?;
        Some(line as usize + (index - op as usize))
    }

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the trace has no request.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of slots, the most blocks live at once.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The most requested bytes live at once over the whole trace (allocator-free).
    pub fn peak_live_bytes(&self) -> usize {
        self.peak_live_bytes
    }

    /// The most requested bytes live at once over the first `ops` requests.
    pub fn peak_live_bytes_of(&self, ops: usize) -> usize {
        let (mut live, mut peak) = (0usize, 0usize);
        for op in self.ops().take(ops) {
            live = match op {
                Op::Alloc { size, .. } => live.saturating_add(size),
                Op::Free { size, .. } => live.saturating_sub(size),
                Op::Realloc { old_size, new_size, .. } => {
                    live.saturating_sub(old_size).saturating_add(new_size)
                }
            };
            peak = peak.max(live);
        }
        peak
    }

    /// Bytes the parsed form holds (its buffers' capacities), for the memory figures of [`Limits`].
    pub fn heap_bytes(&self) -> usize {
        self.recs.capacity() * core::mem::size_of::<Rec>()
            + self.big.capacity() * core::mem::size_of::<usize>()
            + self.lines.capacity() * core::mem::size_of::<(u32, u32)>()
    }
}

// -------------------------------------------------------------------------------------------------------
// Replay.

/// An allocator a trace can be replayed against.
///
/// Blocks are named by a `usize` the allocator chooses (an address, or an offset such as a [`Block`]'s);
/// every call passes the block's requested size and alignment, since some allocators need the old layout to
/// free or resize.
pub trait TraceAllocator {
    /// Allocates `size` bytes aligned to `align` (a power of two); `None` when it cannot.
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize>;

    /// Frees the block `ptr`, which was allocated (or last resized) with `size` and `align`.
    fn free(&mut self, ptr: usize, size: usize, align: usize);

    /// Resizes the block `ptr` from `old_size` to `new_size` bytes, keeping its contents up to the smaller
    /// size and its alignment; returns its new name, or `None` (the block unchanged) when it cannot.
    fn realloc(
        &mut self,
        ptr: usize,
        old_size: usize,
        align: usize,
        new_size: usize,
    ) -> Option<usize>;

    /// The highest end of a used block so far, in bytes from the region's start (a high-water mark); 0 if
    /// the allocator cannot tell.
    fn extent(&self) -> usize;

    /// The first `size` bytes of the block `ptr`, for [`replay_checked`]; `None` (the default) if the
    /// allocator does not give access, in which case contents are not checked.
    fn payload_mut(&mut self, ptr: usize, size: usize) -> Option<&mut [u8]> {
        let _ = (ptr, size);
        None
    }
}

impl<A: TraceAllocator + ?Sized> TraceAllocator for &mut A {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        (**self).alloc(size, align)
    }
    #[inline]
    fn free(&mut self, ptr: usize, size: usize, align: usize) {
        (**self).free(ptr, size, align);
    }
    #[inline]
    fn realloc(
        &mut self,
        ptr: usize,
        old_size: usize,
        align: usize,
        new_size: usize,
    ) -> Option<usize> {
        (**self).realloc(ptr, old_size, align, new_size)
    }
    fn extent(&self) -> usize {
        (**self).extent()
    }
    fn payload_mut(&mut self, ptr: usize, size: usize) -> Option<&mut [u8]> {
        (**self).payload_mut(ptr, size)
    }
}

/// Blocks are named by their [`Block::offset`]; the extent is [`Stats::peak_extent`](crate::Stats), measured
/// from the pool's base (which is at most a few bytes past the region's start).
impl TraceAllocator for Pool<'_> {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        self.alloc_aligned(size, align).ok().map(Block::offset)
    }

    #[inline]
    fn free(&mut self, ptr: usize, _size: usize, _align: usize) {
        let freed = Block::from_offset_unchecked(ptr).map(|b| Pool::free(self, b));
        debug_assert!(matches!(freed, Some(Ok(()))), "freeing {ptr}: {freed:?}");
    }

    #[inline]
    fn realloc(
        &mut self,
        ptr: usize,
        _old_size: usize,
        align: usize,
        new_size: usize,
    ) -> Option<usize> {
        let block = Block::from_offset_unchecked(ptr)?;
        self.realloc_aligned(block, new_size, align).ok().map(Block::offset)
    }

    fn extent(&self) -> usize {
        self.stats().peak_extent
    }

    fn payload_mut(&mut self, ptr: usize, size: usize) -> Option<&mut [u8]> {
        let block = Block::from_offset_unchecked(ptr)?;
        Pool::payload_mut(self, block).ok()?.get_mut(..size)
    }
}

/// The figures of one replay.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Replay {
    /// Requests replayed successfully.
    pub ops: usize,
    /// The line of the first request that failed (which stopped the replay), or `None` if all succeeded.
    pub failed_at: Option<usize>,
    /// The bytes that failed request asked for (an `a` line's SIZE, or an `r` line's new SIZE).
    pub failed_request: Option<usize>,
    /// The most requested bytes live at once among the requests replayed (from the trace alone).
    pub peak_live_bytes: usize,
    /// The allocator's [`extent`](TraceAllocator::extent) at the end: the highest end of a used block.
    pub peak_extent_bytes: usize,
    /// Nanoseconds spent in the requests (parsing and setup excluded), at least 1.
    pub elapsed_ns: u64,
    /// `ops` per second of `elapsed_ns`.
    pub ops_per_sec: f64,
}

impl Replay {
    /// Whether every request succeeded.
    pub fn completed(&self) -> bool {
        self.failed_at.is_none()
    }

    fn new<A: TraceAllocator>(
        trace: &Trace,
        alloc: &A,
        ops: usize,
        failed: Option<usize>,
        elapsed: std::time::Duration,
    ) -> Replay {
        let elapsed_ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).max(1);
        Replay {
            ops,
            failed_at: failed.and_then(|_| trace.line(ops)),
            failed_request: failed,
            peak_live_bytes: trace.peak_live_bytes_of(ops),
            peak_extent_bytes: alloc.extent(),
            elapsed_ns,
            ops_per_sec: ops as f64 * 1e9 / elapsed_ns as f64,
        }
    }
}

/// Replays `trace` against `alloc`, timing the requests alone. A failed request stops the replay (see
/// [`Replay::failed_at`]); blocks still live at the end stay allocated.
pub fn replay<A: TraceAllocator>(trace: &Trace, alloc: &mut A) -> Replay {
    let mut ptrs = std::vec![0usize; trace.slots];
    let mut ops = 0;
    let mut failed = None;
    let start = std::time::Instant::now();
    for op in trace.ops() {
        match op {
            Op::Alloc { slot, size, align } => match alloc.alloc(size, align) {
                Some(p) => ptrs[slot as usize] = p,
                None => {
                    failed = Some(size);
                    break;
                }
            },
            Op::Free { slot, size, align } => alloc.free(ptrs[slot as usize], size, align),
            Op::Realloc { slot, old_size, new_size, align } => {
                match alloc.realloc(ptrs[slot as usize], old_size, align, new_size) {
                    Some(p) => ptrs[slot as usize] = p,
                    None => {
                        failed = Some(new_size);
                        break;
                    }
                }
            }
        }
        ops += 1;
    }
    let elapsed = start.elapsed();
    Replay::new(trace, alloc, ops, failed, elapsed)
}

/// What [`replay_checked`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CheckError {
    /// The line of the request after which the fault was found.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

/// Like [`replay`], but checks contents (for tests; the figures' timing is meaningless): each block's first
/// and last requested bytes get a tag when it is allocated or resized, and the tags must still be there
/// when it is freed or resized (resizing keeps the bytes below the smaller size). `after` runs after every
/// request with the request's index, e.g. to call [`Pool::check`] every N requests; an error from it stops
/// the replay. Contents are checked only where the allocator implements
/// [`payload_mut`](TraceAllocator::payload_mut).
pub fn replay_checked<A: TraceAllocator>(
    trace: &Trace,
    alloc: &mut A,
    mut after: impl FnMut(&mut A, usize) -> Result<(), String>,
) -> Result<Replay, CheckError> {
    let mut ptrs = std::vec![0usize; trace.slots];
    let mut tags = std::vec![0u8; trace.slots];
    let mut ops = 0;
    let mut failed = None;
    let start = std::time::Instant::now();
    for (i, op) in trace.ops().enumerate() {
        let fail = |message: String| CheckError { line: trace.line(i).unwrap_or(0), message };
        // Checks that the bytes at `at` of the block in `slot` hold its tag.
        let verify = |alloc: &mut A, ptr: usize, size: usize, tag: u8, at: &[usize]| {
            if let Some(bytes) = alloc.payload_mut(ptr, size) {
                for &at in at {
                    match bytes.get(at) {
                        Some(&b) if b != tag => {
                            return Err(fail(format!(
                                "block {ptr}: byte {at} is {b:#04x}, expected tag {tag:#04x}"
                            )));
                        }
                        _ => {}
                    }
                }
            }
            Ok(())
        };
        let mark = |alloc: &mut A, tags: &mut [u8], slot: u32, ptr: usize, size: usize| {
            let tag = (i as u8).wrapping_mul(31) | 1;
            tags[slot as usize] = tag;
            if size > 0 {
                if let Some(bytes) = alloc.payload_mut(ptr, size) {
                    for at in [0, size - 1] {
                        if let Some(b) = bytes.get_mut(at) {
                            *b = tag;
                        }
                    }
                }
            }
        };
        match op {
            Op::Alloc { slot, size, align } => match alloc.alloc(size, align) {
                Some(p) => {
                    ptrs[slot as usize] = p;
                    mark(alloc, &mut tags, slot, p, size);
                }
                None => {
                    failed = Some(size);
                    break;
                }
            },
            Op::Free { slot, size, align } => {
                let p = ptrs[slot as usize];
                verify(alloc, p, size, tags[slot as usize], &[0, size.wrapping_sub(1)])?;
                alloc.free(p, size, align);
            }
            Op::Realloc { slot, old_size, new_size, align } => {
                let p = ptrs[slot as usize];
                let tag = tags[slot as usize];
                verify(alloc, p, old_size, tag, &[0, old_size.wrapping_sub(1)])?;
                match alloc.realloc(p, old_size, align, new_size) {
                    Some(new) => {
                        // The kept bytes: the first, and the old last when the block grew.
                        let kept = if new_size >= old_size {
                            [0, old_size.wrapping_sub(1)]
                        } else {
                            [0, usize::MAX]
                        };
                        verify(alloc, new, new_size.min(old_size), tag, &kept)?;
                        ptrs[slot as usize] = new;
                        mark(alloc, &mut tags, slot, new, new_size);
                    }
                    None => {
                        failed = Some(new_size);
                        break;
                    }
                }
            }
        }
        ops += 1;
        after(alloc, i).map_err(fail)?;
    }
    let elapsed = start.elapsed();
    Ok(Replay::new(trace, alloc, ops, failed, elapsed))
}

// -------------------------------------------------------------------------------------------------------
// Minimum pool.

/// The smallest region size (in bytes, a multiple of 8) in which `trace` replays with no failed request,
/// where `make(n)` builds an allocator over a fresh `n`-byte region (`None` if it cannot, e.g. a region too
/// small for the allocator's metadata, which counts as a failure).
///
/// Failure is not strictly monotone in the region size (a larger region can change where blocks go, e.g.
/// under best fit, whose choice depends on the size of the free tail, or through alignment padding), so this
/// is not a global minimum: it is the smallest size found by bisection, at 8-byte resolution, between a
/// failing lower bound and a succeeding upper bound, and it has been verified to replay. The lower bound
/// starts at the trace's peak live bytes (if that already succeeds it is the answer, since no region can be
/// smaller); the upper bound starts at [`default_pool_bytes`] and doubles until it succeeds. `None` when no
/// size up to 64 times the default (at least 1 GiB, at most [`MAX_POOL_BYTES`]) succeeds, or `make` fails
/// at that size.
///
/// Each step replays the whole trace, about log2(upper / 8) + a few replays in all.
pub fn min_pool<A: TraceAllocator>(
    trace: &Trace,
    mut make: impl FnMut(usize) -> Option<A>,
) -> Option<usize> {
    let mut fits = |n: usize| make(n).is_some_and(|mut a| replay(trace, &mut a).completed());
    let mut lo = trace.peak_live_bytes() & !7;
    if fits(lo) {
        return Some(lo);
    }
    let start = default_pool_bytes(trace);
    let limit = start.saturating_mul(64).clamp(1 << 30, MAX_POOL_BYTES);
    let mut hi = start;
    while !fits(hi) {
        if hi >= limit {
            return None;
        }
        lo = hi;
        hi = (hi.saturating_mul(2) & !7).min(limit);
    }
    while hi - lo > 8 {
        let mid = lo + (hi - lo) / 16 * 8;
        if fits(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// The largest pool [`default_pool_bytes`] picks: 1 GiB. A trace's sizes are untrusted input: a trace of
/// one `a 1 1000000000000` line must not make a 2 TB region. Above the cap, the request that does not fit
/// is a reported result ([`Replay::failed_at`], [`Replay::failed_request`]), not an error.
pub const DEFAULT_POOL_CAP: usize = 1 << 30;

/// The pool size `mem3 replay` uses when none is given: twice the trace's peak live bytes plus 32 bytes per
/// slot (a block header and rounding for each block live at the peak) plus 64 KiB, rounded up to 4 KiB,
/// and at most [`DEFAULT_POOL_CAP`]. Twice leaves room for fragmentation (the shared traces need 1.1 to 1.4
/// times their peak live bytes); the rest covers traces of many small blocks and the pool's bitmap.
pub fn default_pool_bytes(trace: &Trace) -> usize {
    let bytes = trace
        .peak_live_bytes
        .saturating_mul(2)
        .saturating_add(trace.slots.saturating_mul(32))
        .saturating_add(64 << 10)
        .saturating_add(4095)
        & !4095;
    bytes.min(DEFAULT_POOL_CAP)
}

// -------------------------------------------------------------------------------------------------------
// A pool that owns its region.

/// A [`Pool`] over a region it allocated itself (zeroed, from the global allocator), so that it can be made
/// from a size alone, as [`min_pool`] needs. Replays like the pool it holds; its
/// [`extent`](TraceAllocator::extent) is measured from the region's start, which is 64-aligned.
///
/// The region's pages are zeroed lazily by the system (`calloc`), so a pool costs memory for the bytes a
/// replay touches, not for its size: a 1 GiB default pool for a trace whose only request cannot fit stays
/// small. (An alignment above 16 would make the system allocator write every byte instead, so the 64-byte
/// alignment is made by hand inside a slightly larger allocation.)
pub struct OwnedPool {
    /// Borrows `region`; dropped before it.
    pool: ManuallyDrop<Pool<'static>>,
    /// The region's start: 64-aligned, inside `allocation`.
    region: NonNull<u8>,
    /// The region's size.
    bytes: usize,
    /// What was allocated: the region and up to [`REGION_ALIGN`] bytes of slack before it.
    allocation: NonNull<u8>,
    layout: Layout,
}

/// The alignment of an [`OwnedPool`]'s region.
const REGION_ALIGN: usize = 64;

/// The alignment asked of the system allocator: at most what `calloc` gives, so zeroing stays lazy.
const ALLOC_ALIGN: usize = 16;

// SAFETY: the region is owned by this value alone (like a `Box<[u8]>`, which is `Send` and `Sync`) and only
// reached through the pool, which is `Send` and `Sync`.
unsafe impl Send for OwnedPool {}
// SAFETY: as above; `&OwnedPool` only reads.
unsafe impl Sync for OwnedPool {}

impl fmt::Debug for OwnedPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPool")
            .field("region_bytes", &self.bytes)
            .field("pool", &*self.pool)
            .finish()
    }
}

impl OwnedPool {
    /// Allocates a `bytes`-byte region and makes a pool over it. Errors: [`Error::RegionTooSmall`] as from
    /// [`Pool::with_config`], [`Error::RegionTooLarge`] above [`MAX_POOL_BYTES`], and
    /// [`Error::RegionUnavailable`] when the system allocator refuses the region (never an abort).
    pub fn new(bytes: usize, config: Config) -> Result<OwnedPool, Error> {
        if bytes > MAX_POOL_BYTES {
            return Err(Error::RegionTooLarge { len: bytes, max: MAX_POOL_BYTES });
        }
        let oom = Error::RegionUnavailable { len: bytes };
        if bytes == 0 {
            // A zero-size allocation is not allowed; let the pool name the minimum.
            return Pool::with_config(&mut [], config).map(|_| unreachable!("empty region"));
        }
        // `bytes <= MAX_POOL_BYTES`, far below `isize::MAX`, so neither this nor the layout overflows.
        let layout =
            Layout::from_size_align(bytes + REGION_ALIGN, ALLOC_ALIGN).map_err(|_| oom.clone())?;
        // SAFETY: `layout` has a non-zero size.
        let allocation = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) }).ok_or(oom)?;
        let pad = allocation.as_ptr().addr().wrapping_neg() % REGION_ALIGN;
        // SAFETY: `pad < REGION_ALIGN`, so the region's `bytes` bytes lie inside the allocation.
        let region = unsafe { allocation.add(pad) };
        // SAFETY: the region is valid for `bytes` bytes and nothing else reaches it: it is freed only in
        // `drop`, after the pool is dropped, and the pool is never handed out by value or `&mut` (so it cannot
        // be swapped out and outlive the region).
        match unsafe { Pool::from_raw_parts(region, bytes, config) } {
            Ok(pool) => {
                Ok(OwnedPool { pool: ManuallyDrop::new(pool), region, bytes, allocation, layout })
            }
            Err(e) => {
                // SAFETY: allocated above with `layout`, and no pool was made over it.
                unsafe { std::alloc::dealloc(allocation.as_ptr(), layout) };
                Err(e)
            }
        }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<'_> {
        &self.pool
    }

    /// Bytes of the region.
    pub fn region_bytes(&self) -> usize {
        self.bytes
    }

    /// The pool base's offset from the region's start.
    fn base_offset(&self) -> usize {
        self.pool.base().as_ptr().addr() - self.region.as_ptr().addr()
    }
}

impl Drop for OwnedPool {
    fn drop(&mut self) {
        // SAFETY: the pool is dropped once, here, and not used after.
        unsafe { ManuallyDrop::drop(&mut self.pool) };
        // SAFETY: allocated in `new` with `layout`; the pool that borrowed it is gone.
        unsafe { std::alloc::dealloc(self.allocation.as_ptr(), self.layout) };
    }
}

impl TraceAllocator for OwnedPool {
    #[inline]
    fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        TraceAllocator::alloc(&mut *self.pool, size, align)
    }
    #[inline]
    fn free(&mut self, ptr: usize, size: usize, align: usize) {
        TraceAllocator::free(&mut *self.pool, ptr, size, align);
    }
    #[inline]
    fn realloc(
        &mut self,
        ptr: usize,
        old_size: usize,
        align: usize,
        new_size: usize,
    ) -> Option<usize> {
        TraceAllocator::realloc(&mut *self.pool, ptr, old_size, align, new_size)
    }
    fn extent(&self) -> usize {
        self.base_offset() + self.pool.stats().peak_extent
    }
    fn payload_mut(&mut self, ptr: usize, size: usize) -> Option<&mut [u8]> {
        TraceAllocator::payload_mut(&mut *self.pool, ptr, size)
    }
}

// -------------------------------------------------------------------------------------------------------
// What `mem3 replay` reports.

/// Every figure `mem3 replay --json` prints (see `CLI.md`), from one replay on a fresh pool.
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
    /// At the end, `1 - largest_free_bytes / free_bytes` (0 when nothing is free).
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

    /// The report as one JSON object with the fields of `CLI.md` (`min_pool_bytes` only when known).
    pub fn to_json(&self) -> String {
        fn num(x: f64) -> String {
            if x.is_finite() { format!("{x}") } else { "null".into() }
        }
        let failed_at = self.failed_at.map_or("null".into(), |l| l.to_string());
        let mut json = format!(
            "{{\"ops\":{},\"failed_at\":{},\"pool_bytes\":{},\"peak_live_bytes\":{},\
             \"peak_extent_bytes\":{},\"largest_free_bytes\":{},\"free_bytes\":{},\"fragmentation\":{},\
             \"elapsed_ns\":{},\"ops_per_sec\":{}",
            self.ops,
            failed_at,
            self.pool_bytes,
            self.peak_live_bytes,
            self.peak_extent_bytes,
            self.largest_free_bytes,
            self.free_bytes,
            num(self.fragmentation),
            self.elapsed_ns,
            num(self.ops_per_sec),
        );
        if let Some(min) = self.min_pool_bytes {
            json += &format!(",\"min_pool_bytes\":{min}");
        }
        json.push('}');
        json
    }
}

/// Replays `trace` once on a fresh `pool_bytes`-byte pool with `config` and reports every figure of
/// `mem3 replay` but `min_pool_bytes` (see [`min_pool_bytes`]). Errors are those of [`OwnedPool::new`]; a
/// failed request is not an error (see [`Report::failed_at`]). Use [`default_pool_bytes`] when the user
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
        fragmentation: stats.fragmentation,
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
