//! Public-API tests of mem3-vm.

#![forbid(unsafe_code)]

mod asm;
mod errors;
mod examples;
mod random;
mod semantics;

use mem3_vm::{Options, RunStats, RuntimeError, assemble, run_program};

/// Assembles and runs `src` with `options`; returns what it printed and how it ended. Checks the heap
/// afterwards.
fn run_with(src: &str, options: &Options) -> (String, Result<RunStats, RuntimeError>) {
    let program = assemble(src).unwrap_or_else(|e| panic!("assembly failed: {e:?}"));
    let mut out = Vec::new();
    let result = mem3_vm::with_vm(&program, options, |vm| {
        let result = vm.run(&mut out);
        vm.heap().check().expect("the heap is sound after the run");
        result
    })
    .expect("the pool can be made");
    (String::from_utf8(out).expect("output is UTF-8"), result)
}

/// What `src` prints; it must run without error.
fn output(src: &str) -> String {
    let (out, result) = run_with(src, &Options::default());
    result.unwrap_or_else(|e| panic!("runtime error {e} after output {out:?}"));
    out
}

/// The runtime error `src` stops with (with `options`).
fn error_with(src: &str, options: &Options) -> RuntimeError {
    run_with(src, options).1.expect_err("the program fails")
}

fn error(src: &str) -> RuntimeError {
    error_with(src, &Options::default())
}

/// Runs with [`run_program`], for tests of that entry point.
#[test]
fn run_program_reports_heap_figures() {
    let program = assemble("push 1\nstore x\npush \"abc\"\n").unwrap();
    let mut out = Vec::new();
    let outcome = run_program(&program, &Options::default(), &mut out).unwrap();
    let stats = outcome.result.unwrap();
    assert_eq!(stats, outcome.stats);
    assert_eq!(stats.steps, 3);
    assert_eq!(stats.allocations, 2);
    assert_eq!(outcome.heap.live_objects, 2);
    assert_eq!(
        outcome.heap.pool.capacity + outcome.heap.pool.metadata_bytes,
        outcome.heap.pool.region_bytes
    );
}

#[test]
fn pool_size_comes_from_options_then_program_then_default() {
    let with_pool = assemble(".pool 8K\npush 1\n").unwrap();
    let without = assemble("push 1\n").unwrap();
    assert_eq!(with_pool.pool_size(), Some(8192));
    assert_eq!(without.pool_size(), None);
    let options = Options::default();
    assert_eq!(options.pool_size_for(&with_pool), 8192);
    assert_eq!(options.pool_size_for(&without), mem3_vm::DEFAULT_POOL_SIZE);
    let options = Options { pool_size: Some(1000), ..Options::default() };
    assert_eq!(options.pool_size_for(&with_pool), 1000);
    let outcome = run_program(&with_pool, &options, &mut std::io::sink()).unwrap();
    assert!(outcome.heap.pool.region_bytes <= 1000);
}

#[test]
fn a_pool_too_small_to_make_is_a_setup_error() {
    let program = assemble(".pool 8\npush 1\n").unwrap();
    assert!(run_program(&program, &Options::default(), &mut std::io::sink()).is_err());
}

#[test]
fn parse_size_accepts_suffixes_and_rejects_junk() {
    use mem3_vm::{SizeError, parse_size};
    assert_eq!(parse_size("64K"), Ok(64 * 1024));
    assert_eq!(parse_size(" 3m "), Ok(3 << 20));
    assert_eq!(parse_size("12"), Ok(12));
    assert_eq!(parse_size(""), Err(SizeError::Empty));
    assert_eq!(parse_size("0K"), Err(SizeError::Zero));
    for bad in ["K", "1.5K", "-1", "1KB", "1G", "0x10", "1 K"] {
        assert!(matches!(parse_size(bad), Err(SizeError::Invalid(_))), "{bad}");
    }
    assert!(matches!(parse_size("99999999999999999999"), Err(SizeError::TooLarge(_))));
    assert!(matches!(parse_size("18446744073709551615M"), Err(SizeError::TooLarge(_))));
}
