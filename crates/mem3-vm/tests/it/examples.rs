//! Golden tests of the example programs: exact output and exit behaviour, in normal mode, with
//! defragmentation before every allocation, in a huge pool and in the smallest pool that works.

use mem3_vm::{Options, RunStats, RuntimeError, assemble, run_program};

/// How an example ends: if it fails, the line and cause. Its output is `examples/NAME.out` (the CLI's tests
/// read the same files).
struct Golden {
    name: &'static str,
    error: Option<(usize, &'static str)>,
}

const GOLDEN: &[Golden] = &[
    Golden { name: "hello", error: None },
    Golden { name: "fib", error: None },
    Golden { name: "strings", error: None },
    Golden { name: "defrag", error: None },
    Golden { name: "stale", error: Some((9, "stale handle")) },
];

/// The golden output of an example: `examples/NAME.out`.
fn expected_output(name: &str) -> String {
    let path = format!("{}/../../examples/{name}.out", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn source(name: &str) -> String {
    let path = format!("{}/../../examples/{name}.m3", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs an example; `None` when the pool cannot be made.
fn run(src: &str, options: &Options) -> Option<(String, Result<RunStats, RuntimeError>)> {
    let program = assemble(src).expect("examples assemble");
    let mut out = Vec::new();
    let outcome = run_program(&program, options, &mut out).ok()?;
    Some((String::from_utf8(out).unwrap(), outcome.result))
}

/// Whether the run matches the golden output and exit.
fn matches(golden: &Golden, run: &Option<(String, Result<RunStats, RuntimeError>)>) -> bool {
    let Some((out, result)) = run else { return false };
    let exit = result.as_ref().err().map(|e| (e.line, e.kind.cause()));
    *out == expected_output(golden.name) && exit == golden.error
}

fn check(golden: &Golden, options: &Options) {
    let run = run(&source(golden.name), options);
    assert!(matches(golden, &run), "{} with {options:?}: got {run:?}", golden.name);
}

#[test]
fn examples_print_their_golden_output() {
    for golden in GOLDEN {
        check(golden, &Options::default());
    }
}

#[test]
fn examples_are_the_same_when_defragmenting_before_every_allocation() {
    for golden in GOLDEN {
        check(golden, &Options { stress_defragment: true, ..Options::default() });
    }
}

#[test]
fn examples_are_the_same_in_a_huge_pool() {
    for golden in GOLDEN {
        for stress_defragment in [false, true] {
            let options =
                Options { pool_size: Some(16 << 20), stress_defragment, ..Options::default() };
            check(golden, &options);
        }
    }
}

#[test]
fn examples_are_the_same_in_the_smallest_pool_that_works() {
    for golden in GOLDEN {
        let src = source(golden.name);
        let program = assemble(&src).unwrap();
        let works = |size: usize, stress_defragment: bool| {
            let options =
                Options { pool_size: Some(size), stress_defragment, ..Options::default() };
            matches(golden, &run(&src, &options))
        };
        // Binary search keeping `works(hi)` true and `works(lo)` false.
        let mut hi = Options::default().pool_size_for(&program);
        assert!(works(hi, false), "{}", golden.name);
        let mut lo = 0;
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if works(mid, false) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        assert!(works(hi, true), "{} in a {hi}-byte pool with stress defragmentation", golden.name);
        assert!(works(hi, false));
    }
}

#[test]
fn defrag_example_needs_defragmentation() {
    let src = source("defrag");
    let options = Options { defragment: false, ..Options::default() };
    let (out, result) = run(&src, &options).unwrap();
    assert_eq!(out, "");
    let e = result.unwrap_err();
    let line = src.lines().position(|l| l.contains("push \"This literal")).unwrap() + 1;
    assert_eq!((e.line, e.kind.cause()), (line, "out of memory"), "{e}");
    assert_eq!(
        e.kind.pool_out_of_memory(),
        Some(&mem3_pool::Error::OutOfMemory { requested: 16 + 149, free: 296, largest_free: 64 })
    );
    // With defragmentation it moves the live strings once, and gc found nothing to free first.
    let (_, result) = run(&src, &Options::default()).unwrap();
    let stats = result.unwrap();
    assert_eq!(stats.defragmentations, 1);
    assert_eq!(stats.collections, 1);
    assert_eq!(stats.objects_collected, 0);
}

#[test]
fn fib_example_collects_garbage() {
    let (_, result) = run(&source("fib"), &Options::default()).unwrap();
    let stats = result.unwrap();
    assert!(stats.collections > 0 && stats.objects_collected > 0, "{stats:?}");
}
