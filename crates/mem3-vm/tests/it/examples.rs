//! Golden tests of the example programs: exact output and exit behaviour, in normal mode, with
//! defragmentation before every allocation, in a huge pool and in the smallest pool that works.

use mem3_vm::{Options, RunStats, RuntimeError, assemble, run_program};

/// How an example ends: its output and, if it fails, the line and cause.
struct Golden {
    name: &'static str,
    output: &'static str,
    error: Option<(usize, &'static str)>,
}

const FIB: &str = "fib(0) = 0\nfib(1) = 1\nfib(2) = 1\nfib(3) = 2\nfib(4) = 3\nfib(5) = 5\nfib(6) = 8\n\
fib(7) = 13\nfib(8) = 21\nfib(9) = 34\nfib(10) = 55\nfib(11) = 89\nfib(12) = 144\nfib(13) = 233\n\
fib(14) = 377\nfib(15) = 610\nfib(16) = 987\nfib(17) = 1597\nfib(18) = 2584\nfib(19) = 4181\n\
fib(20) = 6765\nfib(21) = 10946\nfib(22) = 17711\nfib(23) = 28657\nfib(24) = 46368\nfib(25) = 75025\n\
fib(26) = 121393\nfib(27) = 196418\nfib(28) = 317811\nfib(29) = 514229\nfib(30) = 832040\n\
the golden ratio is about\n1\n1.6180339887496482\n";

const STRINGS: &str = "*\n**\n***\n****\n*****\npi is about 3.1415929203539825\none tenth is 0.1\n\
2.5e-7\ninf\nhéllo, wörld ✓\n14\n1\n1\n0\ntab:\there, quote: \"; backslash: \\\nsecond line\n";

const DEFRAG: &str = "149\nstring b is live and survives the move\nstring d is live and survives the move\n\
string f is live and survives the move\nstring h is live and survives the move\n";

const GOLDEN: &[Golden] = &[
    Golden { name: "hello", output: "hello, world\n", error: None },
    Golden { name: "fib", output: FIB, error: None },
    Golden { name: "strings", output: STRINGS, error: None },
    Golden { name: "defrag", output: DEFRAG, error: None },
    Golden {
        name: "stale",
        output: "freed; now reading the stale copy\n",
        error: Some((9, "stale handle")),
    },
];

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
    out == golden.output && exit == golden.error
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
        e.kind,
        mem3_vm::RuntimeErrorKind::OutOfMemory { requested: 16 + 149, free: 288, largest_free: 64 }
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
