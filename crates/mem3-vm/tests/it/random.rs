//! Random valid programs never panic, never corrupt the heap, and print the same with and without
//! defragmentation before every allocation (up to running out of memory).

use mem3_vm::{Options, RuntimeErrorKind, assemble};
use proptest::prelude::*;

const LABELS: usize = 4;
const VARIABLES: usize = 3;

fn instruction() -> impl Strategy<Value = String> {
    let simple = prop::sample::select(vec![
        "pop", "dup", "swap", "over", "add", "sub", "mul", "div", "mod", "neg", "concat", "tostr",
        "len", "eq", "ne", "lt", "le", "gt", "ge", "ret", "print", "free", "gc", "defrag", "halt",
    ])
    .prop_map(str::to_owned);
    let int =
        prop_oneof![-3i64..10, Just(i64::MAX), Just(i64::MIN)].prop_map(|v| format!("push {v}"));
    let float = prop::sample::select(vec!["0.0", "-0.0", "1.5", "-2.25", "1e300", "0.1"])
        .prop_map(|v| format!("push {v}"));
    let string =
        prop::sample::select(vec!["", "a", "héllo", "✓✓", "a much longer string that takes room"])
            .prop_map(|v| format!("push \"{v}\""));
    let variable = (prop::sample::select(vec!["store", "load"]), 0..VARIABLES)
        .prop_map(|(op, v)| format!("{op} v{v}"));
    let jump = (prop::sample::select(vec!["jmp", "jz", "jnz", "call"]), 0..LABELS)
        .prop_map(|(op, l)| format!("{op} l{l}"));
    // Short well-typed sequences, so programs get further than a random type error.
    let compound = prop::sample::select(vec![
        "push 3\npush 4\nadd",
        "push 2.5\nmul",
        "tostr\npush \"-\"\nconcat",
        "dup\nfree",
        "load v0\nfree",
        "load v1\npush \"x\"\nconcat\nstore v1",
        "load v0\npush 1\nadd\nstore v0",
        "load v0\npush 5\nmod\njnz l0",
        "load v1\nlen\npush 20\nlt\njnz l1",
        "push 1\njnz l2",
    ])
    .prop_map(str::to_owned);
    prop_oneof![3 => compound, 4 => simple, 3 => int, 1 => float, 2 => string, 3 => variable, 1 => jump]
}

/// A program: instructions with every label defined once, somewhere.
fn program() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(instruction(), 1..80),
        prop::collection::vec(any::<prop::sample::Index>(), LABELS),
    )
        .prop_map(|(instructions, labels)| {
            let at: Vec<usize> = labels.iter().map(|i| i.index(instructions.len() + 1)).collect();
            // Bind every variable and leave values on the stack, so fewer programs stop at once.
            let mut src = String::from(
                "push 1\nstore v0\npush \"s\"\nstore v1\npush 2.5\nstore v2\npush 3\npush \"t\"\npush 4\n",
            );
            for (i, instruction) in instructions.iter().enumerate() {
                for (l, _) in at.iter().enumerate().filter(|&(_, &pos)| pos == i) {
                    src.push_str(&format!("l{l}:\n"));
                }
                src.push_str(instruction);
                src.push('\n');
            }
            for (l, _) in at.iter().enumerate().filter(|&(_, &pos)| pos == instructions.len()) {
                src.push_str(&format!("l{l}:\n"));
            }
            src
        })
}

fn options() -> impl Strategy<Value = Options> {
    (prop::sample::select(vec![256usize, 384, 512, 1024, 4096]), any::<bool>(), any::<bool>())
        .prop_map(|(size, defragment, collect)| Options {
            pool_size: Some(size),
            max_steps: Some(500),
            max_stack: 64,
            max_call_depth: 16,
            collect,
            defragment,
            stress_defragment: false,
        })
}

/// What a run printed, and the line and cause of its error if it failed.
type Ending = (String, Option<(usize, &'static str)>);

/// Runs `src`, checking the heap afterwards.
fn run(src: &str, options: &Options) -> Result<Ending, TestCaseError> {
    let program = assemble(src).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    let mut out = Vec::new();
    let result = mem3_vm::with_vm(&program, options, |vm| {
        let result = vm.run(&mut out);
        vm.heap().check().map(|()| result)
    })
    .map_err(|e| TestCaseError::fail(e.to_string()))?
    .map_err(|e| TestCaseError::fail(format!("heap check failed: {e}")))?;
    if let Err(e) = &result {
        prop_assert!(!matches!(e.kind, RuntimeErrorKind::Heap(_)), "unexpected heap error: {e}");
    }
    Ok((String::from_utf8(out).unwrap(), result.err().map(|e| (e.line, e.kind.cause()))))
}

proptest! {
    // 256 cases by default; PROPTEST_CASES raises it for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_programs_are_safe(src in program(), options in options()) {
        let normal = run(&src, &options)?;
        if options.defragment {
            let stressed = run(&src, &Options { stress_defragment: true, ..options.clone() })?;
            if normal != stressed {
                // Only where memory runs out may they differ: a block keeps the slack of a hole too small
                // to split, so how much the same live objects occupy depends on where they were placed.
                // Up to the first failure they print the same.
                let oom = |run: &Ending| matches!(run.1, Some((_, "out of memory")));
                prop_assert!(oom(&normal) || oom(&stressed), "{:?} != {:?}", normal, stressed);
                let (short, long) =
                    if normal.0.len() <= stressed.0.len() { (&normal.0, &stressed.0) } else { (&stressed.0, &normal.0) };
                prop_assert!(long.starts_with(short.as_str()), "{:?} != {:?}", normal, stressed);
            }
        }
    }
}
