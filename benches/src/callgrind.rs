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
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=callgrind", "--callgrind-out-file=/dev/null", "--trace-children=yes"]);
    if let Some(f) = &count.inside {
        cmd.arg(format!("--toggle-collect={f}"));
    }
    let out = cmd.args(&count.argv).stdin(Stdio::null()).stdout(Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let total: u64 = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.split("Collected :").nth(1)?.trim().parse::<u64>().ok())
        .sum();
    (total > 0).then_some(total)
}

/// [`instructions`] for each command, as many at once as the machine has cores (callgrind runs a process on
/// one core, some 50 times slower than natively).
pub fn instructions_of_all(counts: &[Count]) -> Vec<Option<u64>> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![None; counts.len()]);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(count) = counts.get(i) else { break };
                    let n = instructions(count);
                    results.lock().expect("no worker panics holding it")[i] = n;
                }
            });
        }
    });
    results.into_inner().expect("no worker panicked holding it")
}
