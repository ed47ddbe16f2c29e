//! Where the bytes of mem3's tightest pool go on each shared trace (issue 14): the section "Where the bytes
//! go" of `docs/benchmarks.md`, made by the report and by the `breakdown` binary alone.

use std::fmt::Write as _;

use mem3_pool::{Config, Policy};
use mem3_trace::{Breakdown, Moment, Op, Trace, breakdown, min_pool_bytes};

use crate::{TRACES, load_trace};

/// dlmalloc's in-use chunk for a request, on a 64-bit machine: one size word of overhead, chunks in
/// multiples of 16 bytes, at least 32 (its documented layout).
fn dlmalloc_chunk(requested: usize) -> usize {
    if requested < 32 - 8 - 1 { 32 } else { (requested + 8 + 15) & !15 }
}

/// The requested sizes live when the trace's live bytes first reach their peak.
fn live_at_peak(trace: &Trace) -> Vec<usize> {
    let mut live = vec![None; trace.slots()];
    let mut bytes = 0;
    for op in trace.ops() {
        match op {
            Op::Alloc { slot, size, .. } => {
                live[slot as usize] = Some(size);
                bytes += size;
            }
            Op::Free { slot, size, .. } => {
                live[slot as usize] = None;
                bytes -= size;
            }
            Op::Realloc { slot, old_size, new_size, .. } => {
                live[slot as usize] = Some(new_size);
                bytes = bytes - old_size + new_size;
            }
        }
        if bytes == trace.peak_live_bytes() {
            break;
        }
    }
    live.into_iter().flatten().collect()
}

fn kib(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / 1024.0)
}

fn row(label: &str, b: &Breakdown) -> String {
    let pct = |n: usize| 100.0 * n as f64 / b.region_bytes as f64;
    let mut cells = vec![label.to_string(), kib(b.region_bytes)];
    for (_, bytes) in b.parts() {
        cells.push(format!("{} ({:.1}%)", kib(bytes), pct(bytes)));
    }
    format!("| {} |", cells.join(" | "))
}

fn holes(b: &Breakdown) -> String {
    if b.holes.is_empty() {
        return "none".to_string();
    }
    let size =
        |min: usize| if min >= 1024 { format!("{} KiB", min / 1024) } else { format!("{min} B") };
    let cells: Vec<String> = b
        .holes
        .iter()
        .map(|h| format!("{}: {} ({} KiB)", size(h.min), h.count, kib(h.bytes)))
        .collect();
    cells.join(", ")
}

/// The section's markdown: for each trace and policy, the split of the smallest pool at the trace's peak
/// and at the failing request of a pool 8 bytes smaller; the free holes there; and the per-block cost of
/// the live blocks at the peak by mem3's rules and by dlmalloc's.
pub fn breakdown_section() -> String {
    let mut md = String::new();
    let mut header = vec!["trace, moment".to_string(), "region KiB".to_string()];
    header.extend(Breakdown::default().parts().iter().map(|(name, _)| format!("{name} KiB")));
    let _ = writeln!(md, "| {} |", header.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(header.len()));
    let mut hole_lines = Vec::new();
    let mut dl_lines = Vec::new();
    for name in TRACES {
        let trace = load_trace(name);
        for (policy, label) in [(Policy::FirstFit, "first fit"), (Policy::BestFit, "best fit")] {
            let config = Config { policy, ..Config::default() };
            let min = min_pool_bytes(&trace, config).expect("the trace replays in some pool");
            let peak = breakdown(&trace, min, config, Moment::Peak).expect("pool");
            let fail = breakdown(&trace, min - 8, config, Moment::Failure).expect("pool");
            let _ = writeln!(
                md,
                "{}",
                row(&format!("{name}, {label}, peak in the smallest pool"), &peak)
            );
            let _ = writeln!(
                md,
                "{}",
                row(
                    &format!(
                        "{name}, {label}, failure 8 bytes below (line {}, {} bytes)",
                        fail.line.unwrap_or(0),
                        fail.failed_request.unwrap_or(0)
                    ),
                    &fail
                )
            );
            hole_lines.push(format!("- {name}, {label}: {}", holes(&fail)));
        }
        let live = live_at_peak(&trace);
        let requested: usize = live.iter().sum();
        let chunks: usize = live.iter().map(|&r| dlmalloc_chunk(r)).sum();
        let ours: usize = live
            .iter()
            .map(|&r| mem3_pool::block_size_for(r, mem3_pool::MIN_BLOCK).unwrap_or(0))
            .sum();
        dl_lines.push(format!(
            "| {name} | {} | {} | {} KiB (+{:.1}%) | {} KiB (+{:.1}%) |",
            live.len(),
            kib(requested),
            kib(ours),
            100.0 * (ours as f64 / requested as f64 - 1.0),
            kib(chunks),
            100.0 * (chunks as f64 / requested as f64 - 1.0),
        ));
    }
    let _ = writeln!(
        md,
        "\nFree holes at the failure, by size (power-of-two buckets: count and bytes):\n"
    );
    for line in hole_lines {
        let _ = writeln!(md, "{line}");
    }
    let _ = writeln!(
        md,
        "\nThe blocks live at the peak, by each allocator's per-block rule alone (no holes, no metadata; in brackets the excess over the requested bytes):\n"
    );
    let _ = writeln!(md, "| trace | live blocks | requested KiB | mem3 blocks | dlmalloc chunks |");
    let _ = writeln!(md, "|---|---|---|---|---|");
    for line in dl_lines {
        let _ = writeln!(md, "{line}");
    }
    md
}
