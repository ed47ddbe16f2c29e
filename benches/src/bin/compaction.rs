//! Writes the sections "5. Compaction" (speed) and "Compaction on real traces" of `docs/benchmarks.md` on
//! their own (the `report` binary writes them too, with everything else): `cargo run --release -p mem3-benches --bin compaction` (about a
//! minute on 2 cores). Environment: `MEM3_BENCH_REPS` (default 5) timed replays per figure, medians
//! reported; `MEM3_BENCH_OUT` the file to update (default `docs/benchmarks.md` at the repository root). The
//! sections replace the ones between their markers, or are appended when the file has none.

use std::{path::PathBuf, time::Instant};

use mem3_benches::real_compaction::{BEGIN, END, SPEED_BEGIN, SPEED_END, section, speed_section};

fn main() {
    let reps: usize =
        std::env::var("MEM3_BENCH_REPS").ok().and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let out = std::env::var("MEM3_BENCH_OUT").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md")
    });
    let start = Instant::now();
    let progress = |what: &str| eprintln!("[{:>6.1}s] {what}", start.elapsed().as_secs_f64());
    progress("compaction speed");
    let speed = speed_section(reps, 0x6d65_6d33);
    let traces = section(reps, progress);
    let mut doc = std::fs::read_to_string(&out).unwrap_or_default();
    for (begin, end, text) in
        [(SPEED_BEGIN, SPEED_END, &speed.markdown), (BEGIN, END, &traces.markdown)]
    {
        doc = match (doc.find(begin), doc.find(end)) {
            (Some(b), Some(e)) if b < e => {
                format!("{}{}{}", &doc[..b], text.trim_end(), &doc[e + end.len()..])
            }
            _ => format!("{}\n\n{}", doc.trim_end(), text),
        };
    }
    std::fs::write(&out, doc).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    eprintln!("[{:>6.1}s] wrote {}", start.elapsed().as_secs_f64(), out.display());
}
