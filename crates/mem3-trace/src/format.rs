//! The trace format: parsing text or gzip, streamed and bounded, into a compact form of 8 bytes per request.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read},
};

use crate::{TraceError, TraceErrorKind};

/// The first line of every trace.
pub const HEADER: &str = "# mem3 trace v1";

/// The alignment of an `a` line without an ALIGN field.
pub const DEFAULT_ALIGN: usize = 8;

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
