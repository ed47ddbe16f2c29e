//! Instruction counts under callgrind: the repeatable figure beside the timings, which move by a tenth on a
//! shared machine. Used by the `report` (each allocator's instructions for a replay, counted inside the
//! workload's function) and `interpreters` (each interpreter's whole process) binaries.

use std::{
    process::{Command, Stdio},
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

/// Why the instruction counts are skipped, if they are: `MEM3_BENCH_INSTRUCTIONS=0` (they take a few
/// minutes), or no `valgrind` to run.
pub fn skipped() -> Option<&'static str> {
    if std::env::var("MEM3_BENCH_INSTRUCTIONS").is_ok_and(|v| v == "0") {
        return Some("MEM3_BENCH_INSTRUCTIONS=0");
    }
    let valgrind = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!valgrind).then_some("valgrind cannot be run (apt-get install -y valgrind)")
}

/// One command to count.
#[derive(Debug, Clone)]
pub struct Count {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Count only inside the functions whose names match this pattern (callgrind's `--toggle-collect`,
    /// `*` a wildcard), every call of them included; `None` counts the whole run.
    pub inside: Option<String>,
}

/// The instructions `count` executes, every process it starts included: the sum of callgrind's `Collected`
/// lines. `None` if valgrind or the program fails, or if nothing was collected (the function named in
/// [`Count::inside`] was inlined away).
pub fn instructions(count: &Count) -> Option<u64> {
    run(count, &[]).map(|events| events.instructions)
}

/// What callgrind's cache and branch simulators count in a run, besides its instructions: a stand-in for
/// hardware counters, which a shared or virtual machine may not give to `perf`. Unlike the instructions, the
/// misses and mispredictions move by a few percent between runs, with where the code and data are mapped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    /// Instructions executed (`Ir`).
    pub instructions: u64,
    /// Level-1 data-cache misses, reads and writes (`D1mr + D1mw`).
    pub d1_misses: u64,
    /// Mispredicted branches, conditional and indirect (`Bcm + Bim`).
    pub mispredictions: u64,
}

/// The [`Events`] of `count`, with callgrind's cache and branch simulators on (about twice as slow as
/// counting instructions alone); `None` as for [`instructions`].
pub fn events(count: &Count) -> Option<Events> {
    run(count, &["--cache-sim=yes", "--branch-sim=yes"])
}

/// Runs `count` under callgrind with the extra `options`, and sums its processes' `Collected` lines by the
/// event names of their `Events` lines.
fn run(count: &Count, options: &[&str]) -> Option<Events> {
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=callgrind", "--callgrind-out-file=/dev/null", "--trace-children=yes"]);
    cmd.args(options);
    if let Some(f) = &count.inside {
        cmd.arg(format!("--toggle-collect={f}"));
    }
    let out = cmd.args(&count.argv).stdin(Stdio::null()).stdout(Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let mut events = Events::default();
    // Each process prints its event names, then the counts in the same order; with no names before a count,
    // the count is taken as the instructions (`Ir`, callgrind's default event).
    let mut names = vec!["Ir".to_string()];
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        if let Some(rest) = line.split("Events    :").nth(1) {
            names = rest.split_whitespace().map(String::from).collect();
        } else if let Some(rest) = line.split("Collected :").nth(1) {
            let values = rest.split_whitespace().map(|v| v.parse::<u64>().ok());
            for (name, value) in names.iter().zip(values) {
                let value = value?;
                match name.as_str() {
                    "Ir" => events.instructions += value,
                    "D1mr" | "D1mw" => events.d1_misses += value,
                    "Bcm" | "Bim" => events.mispredictions += value,
                    _ => {}
                }
            }
        }
    }
    (events.instructions > 0).then_some(events)
}

/// [`instructions`] for each command, as many at once as the machine has cores (callgrind runs a process on
/// one core, some 50 times slower than natively).
pub fn instructions_of_all(counts: &[Count]) -> Vec<Option<u64>> {
    all(counts, instructions)
}

/// [`events`] for each command, as [`instructions_of_all`] runs them.
pub fn events_of_all(counts: &[Count]) -> Vec<Option<Events>> {
    all(counts, events)
}

/// `measure` of each command, as many at once as the machine has cores.
fn all<T: Copy + Send>(counts: &[Count], measure: fn(&Count) -> Option<T>) -> Vec<Option<T>> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![None; counts.len()]);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(count) = counts.get(i) else { break };
                    let n = measure(count);
                    results.lock().expect("no worker panics holding it")[i] = n;
                }
            });
        }
    });
    results.into_inner().expect("no worker panicked holding it")
}
