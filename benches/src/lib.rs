//! Benchmarks of mem3 against its peers: talc 5, rlsf 0.2, linked_list_allocator 0.10,
//! buddy_system_allocator 0.13, dlmalloc 0.2 and the system allocator, each behind
//! [`mem3_trace::TraceAllocator`] over a region of its own, in the same process and run.
//!
//! The `report` binary runs every workload and writes `docs/benchmarks.md`; the criterion benches
//! (`benches/trace.rs`, `benches/random_actions.rs`) time the trace and random-actions workloads.

// `unsafe` only where a peer's API or a region needs it, each block with its SAFETY comment.
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod peers;

#[allow(unsafe_code)]
pub mod workloads;

pub mod space;

pub mod callgrind;

pub mod real_compaction;

pub mod synthetic;

pub use mem3_trace::Region;
pub use peers::{Arena, Job, Kind, dispatch};

use std::path::{Path, PathBuf};

use mem3_trace::Trace;

/// The shared traces, smallest first.
pub const TRACES: [&str; 3] = ["gcc-as", "sqlite-mem", "perl-hash"];

/// A trace by name: one of the [`synthetic`](synthetic::SYNTHETIC) shapes, else `tests/data/NAME.trace.gz`,
/// or a name with a `/` in it is a trace file's path (one recorded with `benches/record`, say); an error naming
/// the file if it cannot be read or parsed.
pub fn trace_named(name: &str) -> Result<Trace, String> {
    if name.contains('/') {
        return parse_trace_file(Path::new(name));
    }
    synthetic::synthetic_trace(name).map_or_else(|| read_trace(name), Ok)
}

/// Reads and parses `tests/data/NAME.trace.gz` from the repository, one of the shared traces the benches
/// are built around (so a failure is a broken checkout, and panics).
pub fn load_trace(name: &str) -> Trace {
    read_trace(name).unwrap_or_else(|e| panic!("{e}"))
}

fn read_trace(name: &str) -> Result<Trace, String> {
    parse_trace_file(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data")
            .join(format!("{name}.trace.gz")),
    )
}

fn parse_trace_file(path: &Path) -> Result<Trace, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Trace::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
