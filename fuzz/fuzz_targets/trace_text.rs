//! Traces from arbitrary input: raw bytes (plain, or anything starting with the gzip magic), arbitrary text
//! the target gzips itself (so decompression succeeds and the parser sees the text), and valid traces of
//! arbitrary requests with sizes of every width (0 to `usize::MAX`, across the compact form's 32-bit field)
//! and alignments up to 2^63, plain or gzipped.
//!
//! Each parse is an error naming a line (limits included: small ones here, so the fuzzer reaches them), or
//! a trace that decodes to exactly the requests written and replays on both policies, leaving the pool
//! consistent. Never a panic.
#![no_main]
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::Write as _;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mem3_pool::{Config, Policy};
use mem3_trace::{Limits, Op, Trace, default_pool_bytes, replay_on_pool_inspect};

#[derive(Arbitrary, Debug)]
enum Input {
    /// Parsed as given.
    Bytes(Vec<u8>),
    /// Gzipped by the target, then parsed.
    Gzip(Vec<u8>),
    /// Requests written as a valid trace.
    Requests { requests: Vec<Request>, gzip: bool },
}

#[derive(Arbitrary, Debug)]
struct Request {
    /// Allocates (when the ID is free), frees (even) or resizes (odd) the block of ID `id % 16`.
    choice: u8,
    id: u8,
    size: Size,
    /// log2 of the alignment, modulo 64.
    align: u8,
}

#[derive(Arbitrary, Debug)]
enum Size {
    Small(u16),
    Any(u64),
    /// `u32::MAX - 2 + k`: around the compact form's escape value.
    NearU32(u8),
    Max,
}

impl Size {
    fn bytes(&self) -> usize {
        match *self {
            Size::Small(n) => n.into(),
            Size::Any(n) => n as usize,
            Size::NearU32(k) => (u32::MAX as usize - 2).wrapping_add(usize::from(k % 5)),
            Size::Max => usize::MAX,
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Small limits, so that the fuzzer reaches them.
const LIMITS: Limits = Limits { max_text_bytes: 1 << 16, max_requests: 300 };

fn parse(bytes: &[u8]) -> Option<Trace> {
    match Trace::read(bytes, LIMITS) {
        Ok(trace) => Some(trace),
        Err(e) => {
            assert!(e.line >= 1 && e.to_string().starts_with("line "), "error without a line: {e}");
            None
        }
    }
}

fn replay_both(trace: &Trace) {
    for policy in [Policy::FirstFit, Policy::BestFit] {
        let config = Config { policy, ..Config::default() };
        // Small pools: `check` walks the whole pool, and huge sizes would make every pool the largest.
        let bytes = default_pool_bytes(trace).min(1 << 16);
        if let Ok((report, check)) =
            replay_on_pool_inspect(trace, bytes, config, |pool| pool.check())
        {
            check.unwrap();
            assert_eq!(report.failed_at.is_some(), report.failed_request.is_some());
        }
    }
}

/// Writes `requests` as a trace of valid lines, and the ops it must decode to.
fn write(requests: &[Request]) -> (Vec<u8>, Vec<Op>) {
    let mut text = b"# mem3 trace v1\n".to_vec();
    let mut ops = Vec::new();
    // Live ID to (slot, size, align); free slots, most recently freed last.
    let mut live: HashMap<u8, (u32, usize, usize)> = HashMap::new();
    let mut free_slots = Vec::new();
    let mut slots = 0;
    for r in requests {
        let id = r.id % 16;
        let size = r.size.bytes();
        match live.get(&id).copied() {
            None => {
                let align = 1usize << (r.align % 64);
                let slot = free_slots.pop().unwrap_or_else(|| {
                    slots += 1;
                    slots - 1
                });
                writeln!(text, "a {id} {size} {align}").unwrap();
                live.insert(id, (slot, size, align));
                ops.push(Op::Alloc { slot, size, align });
            }
            Some((slot, old, align)) if r.choice % 2 == 0 => {
                writeln!(text, "f {id}").unwrap();
                live.remove(&id);
                free_slots.push(slot);
                ops.push(Op::Free { slot, size: old, align });
            }
            Some((slot, old, align)) => {
                writeln!(text, "r {id} {size}").unwrap();
                live.insert(id, (slot, size, align));
                ops.push(Op::Realloc { slot, old_size: old, new_size: size, align });
            }
        }
    }
    (text, ops)
}

fuzz_target!(|input: Input| {
    match input {
        Input::Bytes(bytes) => {
            if let Some(trace) = parse(&bytes) {
                replay_both(&trace);
            }
        }
        Input::Gzip(text) => {
            let plain = parse(&text);
            let zipped = parse(&gzip(&text));
            // Gzip changes nothing about what the text means (unless the text is itself gzip).
            if !text.starts_with(&[0x1f, 0x8b]) {
                assert_eq!(plain, zipped);
            }
            if let Some(trace) = zipped {
                replay_both(&trace);
            }
        }
        Input::Requests { requests, gzip: zip } => {
            let (text, want) = write(&requests);
            let bytes = if zip { gzip(&text) } else { text };
            let Some(trace) = parse(&bytes) else {
                assert!(want.len() > LIMITS.max_requests, "a valid trace within the limits");
                return;
            };
            assert_eq!(trace.ops().collect::<Vec<_>>(), want);
            assert_eq!(trace.len(), want.len());
            for i in 0..trace.len() {
                assert_eq!(trace.line(i), Some(i + 2));
            }
            replay_both(&trace);
        }
    }
});
