//! One test per runtime error of `docs/vm.md`, each checking the line and the cause.

use mem3_pool::Error as PoolError;
use mem3_vm::mem3_object::Error as HeapError;
use mem3_vm::{Options, RuntimeErrorKind as K};

use crate::{error, error_with, run_with};

/// Checks that `src` fails on `line` with `cause` (the words of `docs/vm.md`) and returns the error's kind.
fn fails(src: &str, line: usize, cause: &str) -> K {
    fails_with(src, &Options::default(), line, cause)
}

fn fails_with(src: &str, options: &Options, line: usize, cause: &str) -> K {
    let e = error_with(src, options);
    assert_eq!(e.line, line, "{e}");
    assert_eq!(e.kind.cause(), cause, "{e}");
    let text = e.to_string();
    assert!(text.starts_with(&format!("line {line}: {cause}")), "{text}");
    e.kind
}

#[test]
fn stack_underflow() {
    assert_eq!(
        fails("push 1\nadd\n", 2, "stack underflow"),
        K::StackUnderflow { instruction: "add", needed: 2, available: 1 }
    );
    for op in ["pop", "dup", "neg", "tostr", "len", "print", "free", "store x", "jz l"] {
        fails(&format!("l:\n{op}\n"), 2, "stack underflow");
    }
    for op in
        ["swap", "over", "sub", "mul", "div", "mod", "concat", "eq", "ne", "lt", "le", "gt", "ge"]
    {
        fails(&format!("push 1\n{op}\n"), 2, "stack underflow");
    }
    assert_eq!(fails("push 1\nret\n", 2, "stack underflow"), K::ReturnWithoutCall);
    assert_eq!(
        error("push 1\nret\n").to_string(),
        "line 2: stack underflow: `ret` with an empty call stack"
    );
}

#[test]
fn type_error() {
    assert_eq!(
        fails("push 1\npush \"a\"\nadd\n", 3, "type error"),
        K::TypeError { instruction: "add", expected: "numbers", found: "a string" }
    );
    assert_eq!(
        fails("push \"a\"\npush 1\nconcat\n", 3, "type error"),
        K::TypeError { instruction: "concat", expected: "strings", found: "an int" }
    );
    assert_eq!(
        fails("push 1.5\njz l\nl:\n", 2, "type error"),
        K::TypeError { instruction: "jz", expected: "an int", found: "a float" }
    );
    assert_eq!(
        fails("push \"1\"\njnz l\nl:\n", 2, "type error"),
        K::TypeError { instruction: "jnz", expected: "an int", found: "a string" }
    );
    assert_eq!(
        fails("push \"a\"\npush 1.0\nlt\n", 3, "type error"),
        K::TypeError {
            instruction: "lt",
            expected: "two numbers or two strings",
            found: "a string and a float"
        }
    );
    assert_eq!(
        fails("push 1\npush \"a\"\nge\n", 3, "type error"),
        K::TypeError {
            instruction: "ge",
            expected: "two numbers or two strings",
            found: "an int and a string"
        }
    );
    fails("push 1\nlen\n", 2, "type error");
    fails("push \"x\"\nneg\n", 2, "type error");
    fails("push \"x\"\npush 2\nmod\n", 3, "type error");
    assert_eq!(
        error("push 1\npush \"a\"\nadd\n").to_string(),
        "line 3: type error: `add` expects numbers, found a string"
    );
}

#[test]
fn division_by_zero() {
    assert_eq!(
        fails("push 7\npush 0\ndiv\n", 3, "division by zero"),
        K::DivisionByZero { instruction: "div" }
    );
    assert_eq!(
        fails("push 7\npush 0\nmod\n", 3, "division by zero"),
        K::DivisionByZero { instruction: "mod" }
    );
}

#[test]
fn integer_overflow() {
    let max = i64::MAX;
    let min = i64::MIN;
    for (src, op) in [
        (format!("push {max}\npush 1\nadd\n"), "add"),
        (format!("push {min}\npush 1\nsub\n"), "sub"),
        (format!("push {max}\npush 2\nmul\n"), "mul"),
        (format!("push {min}\npush -1\ndiv\n"), "div"),
    ] {
        assert_eq!(fails(&src, 3, "integer overflow"), K::IntegerOverflow { instruction: op });
    }
    assert_eq!(
        fails(&format!("push {min}\nneg\n"), 2, "integer overflow"),
        K::IntegerOverflow { instruction: "neg" }
    );
}

#[test]
fn stale_handle() {
    assert_eq!(
        fails("push 1\ndup\nfree\nprint\n", 4, "stale handle"),
        K::StaleHandle { instruction: "print" }
    );
    // Freeing twice, and computing with a stale copy kept in a variable.
    fails("push \"s\"\ndup\nfree\nfree\n", 4, "stale handle");
    fails("push 2\nstore x\nload x\nfree\nload x\npush 1\nadd\n", 7, "stale handle");
    // The slot is reused by a new object: the stale copy still does not reach it.
    let src = "push 1\nstore x\nload x\nfree\npush 99\nload x\nprint\n";
    fails(src, 7, "stale handle");
}

#[test]
fn unbound_variable() {
    assert_eq!(
        fails("push 1\nstore x\nload y\n", 3, "unbound variable"),
        K::UnboundVariable { name: "y".into() }
    );
    assert_eq!(error("load counter").to_string(), "line 1: unbound variable `counter`");
}

#[test]
fn out_of_memory() {
    // 600 characters cannot fit a 512-byte pool whatever the VM does.
    let long = "x".repeat(600);
    let src = format!(".pool 512\npush 1\npush \"{long}\"\n");
    let kind = fails(&src, 3, "out of memory");
    let Some(&PoolError::OutOfMemory { requested, free, largest_free }) = kind.pool_out_of_memory()
    else {
        panic!("{kind:?}")
    };
    assert_eq!(requested, 16 + 600);
    assert!(free < requested && largest_free <= free, "{kind:?}");
    let text = error(&src).to_string();
    assert_eq!(
        text,
        format!(
            "line 3: out of memory: requested {requested} bytes, {free} bytes free, largest free block {largest_free} bytes (a 624-byte block: 616 + 8 bytes of block header, rounded up to 8)"
        )
    );
}

/// The out-of-memory fact is the pool's, defined once: `source()` leads from the VM's error through the
/// object heap's to the pool's, each a distinct layer, and the pool's figures are those the VM reports.
#[test]
fn out_of_memory_source_chain_reaches_the_pool() {
    let src = format!(".pool 512\npush 1\npush \"{}\"\n", "x".repeat(600));
    let e = error(&src);
    let top: &(dyn std::error::Error + 'static) = &e;
    let chain: Vec<&(dyn std::error::Error + 'static)> =
        std::iter::successors(Some(top), |e| e.source()).collect();
    assert_eq!(chain.len(), 4, "RuntimeError, RuntimeErrorKind, heap error, pool error: {chain:?}");
    assert!(chain[0].is::<mem3_vm::RuntimeError>());
    assert!(matches!(chain[1].downcast_ref::<K>(), Some(K::OutOfMemory(_))), "{:?}", chain[1]);
    assert!(
        matches!(
            chain[2].downcast_ref::<HeapError>(),
            Some(HeapError::Pool(PoolError::OutOfMemory { .. }))
        ),
        "{:?}",
        chain[2]
    );
    let pool = chain[3].downcast_ref::<PoolError>().expect("the chain ends at the pool's error");
    assert_eq!(Some(pool), e.kind.pool_out_of_memory());
    let PoolError::OutOfMemory { requested, .. } = *pool else { panic!("{pool:?}") };
    assert_eq!(requested, 16 + 600);
    // Every message down the chain is complete, holding the pool's own (the VM's adds the block size).
    assert!(chain.iter().all(|link| link.to_string().contains(&pool.to_string())), "{chain:?}");
}

#[test]
fn out_of_memory_only_after_collecting() {
    // Each turn leaves garbage; a small pool survives because allocation collects it.
    let src = ".pool 1K\npush 0\nstore i\nl: load i\npush 1\nadd\ndup\nstore i\npush 1000\nlt\njnz l\nload i\nprint\n";
    let (out, result) = run_with(src, &Options::default());
    let stats = result.unwrap();
    assert_eq!(out, "1000\n");
    assert!(stats.collections > 0 && stats.objects_collected > 0, "{stats:?}");
    // Keeping everything alive fills the pool instead.
    let src = ".pool 1K\nl: push 1\njmp l\n";
    fails(src, 2, "out of memory");
}

#[test]
fn step_limit() {
    let options = Options { max_steps: Some(100), ..Options::default() };
    let kind = fails_with("push 0\nl: push 1\npop\njmp l\n", &options, 2, "step limit");
    assert_eq!(kind, K::StepLimit { limit: 100 });
    // A program of exactly `max_steps` instructions finishes.
    let options = Options { max_steps: Some(3), ..Options::default() };
    assert!(run_with("push 1\npush 2\nadd\n", &options).1.is_ok());
    let (_, result) = run_with("push 1\npush 2\nadd\nhalt\n", &options);
    assert_eq!(result.unwrap_err().line, 4);
}

/// The step figure counts the instructions that ran, with a limit or without one, up to the limit, and not
/// a failed one.
#[test]
fn steps_are_counted_with_and_without_a_limit() {
    let program = mem3_vm::assemble("push 1\npush 2\nadd\nprint\n").unwrap();
    for max_steps in [None, Some(4), Some(1000)] {
        let options = Options { max_steps, ..Options::default() };
        let outcome = mem3_vm::run_program(&program, &options, &mut Vec::new()).unwrap();
        assert_eq!(outcome.result.unwrap().steps, 4, "{max_steps:?}");
        assert_eq!(outcome.stats.steps, 4);
    }
    // Stopped by the limit after 2; with room, by a type error after 4 (the failed `add` not counted).
    let program = mem3_vm::assemble("push 1\npush 2\npop\npush \"s\"\nadd\n").unwrap();
    let options = Options { max_steps: Some(2), ..Options::default() };
    let outcome = mem3_vm::run_program(&program, &options, &mut Vec::new()).unwrap();
    assert_eq!(outcome.result.unwrap_err().kind, K::StepLimit { limit: 2 });
    assert_eq!(outcome.stats.steps, 2);
    let options = Options { max_steps: Some(100), ..Options::default() };
    let outcome = mem3_vm::run_program(&program, &options, &mut Vec::new()).unwrap();
    assert_eq!(outcome.result.unwrap_err().kind.cause(), "type error");
    assert_eq!(outcome.stats.steps, 4);
}

#[test]
fn stack_limit() {
    let options = Options { max_stack: 10, ..Options::default() };
    let kind = fails_with("l: push 1\ndup\njmp l\n", &options, 1, "stack limit");
    assert_eq!(kind, K::ValueStackLimit { limit: 10 });
    fails_with("push 1\nl: dup\njmp l\n", &options, 2, "stack limit");
    fails_with("push 1\nstore x\nl: load x\njmp l\n", &options, 3, "stack limit");
    fails_with("push 1\npush 2\nl: over\njmp l\n", &options, 3, "stack limit");
    let options = Options { max_call_depth: 10, ..Options::default() };
    let kind = fails_with("f: call f\n", &options, 1, "stack limit");
    assert_eq!(kind, K::CallStackLimit { limit: 10 });
    // The defaults stop runaway recursion too, quickly.
    let e = error("f: call f\n");
    assert_eq!(e.kind, K::CallStackLimit { limit: mem3_vm::DEFAULT_MAX_CALL_DEPTH });
}

#[test]
fn output_before_an_error_stays_printed() {
    let (out, result) = run_with("push \"before\"\nprint\npop\n", &Options::default());
    assert_eq!(out, "before\n");
    assert_eq!(result.unwrap_err().line, 3);
}

#[test]
fn output_errors_stop_the_program() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let program = mem3_vm::assemble("push 1\nprint\npush 2\nprint\n").unwrap();
    let outcome = mem3_vm::run_program(&program, &Options::default(), &mut Broken).unwrap();
    let e = outcome.result.unwrap_err();
    assert_eq!(e.line, 2);
    assert_eq!(e.kind, K::Output(std::io::ErrorKind::BrokenPipe));
}

/// Issue 11: an instruction that fails changes nothing. `src` is straight-line code (one instruction per
/// line, no directives) whose line `line` allocates; in the smallest pool where that line runs out of
/// memory, the stack, the variables and the live objects after the error are those before the instruction,
/// and running again retries it (the same error, not "stack underflow" for operands already popped).
fn all_or_nothing(src: &str, line: usize) {
    let program = mem3_vm::assemble(src).unwrap();
    let state = |vm: &mem3_vm::Vm<'_, '_>| {
        let vars: Vec<_> = program.variables().map(|name| vm.variable(name)).collect();
        (vm.stack().to_vec(), vars, vm.heap().len())
    };
    let fails_here =
        |e: &mem3_vm::RuntimeError| e.line == line && e.kind.cause() == "out of memory";
    let pool = (64..4096)
        .step_by(8)
        .find(|&size| {
            let options = Options { pool_size: Some(size), ..Options::default() };
            mem3_vm::with_vm(&program, &options, |vm| vm.run(&mut std::io::sink()))
                .is_ok_and(|r| r.is_err_and(|e| fails_here(&e)))
        })
        .unwrap_or_else(|| panic!("no pool size makes line {line} run out of memory:\n{src}"));
    // The state just before the instruction: stop there with a step limit.
    let before_options =
        Options { pool_size: Some(pool), max_steps: Some(line as u64 - 1), ..Options::default() };
    let before = mem3_vm::with_vm(&program, &before_options, |vm| {
        assert_eq!(vm.run(&mut std::io::sink()).unwrap_err().kind.cause(), "step limit");
        state(vm)
    })
    .unwrap();
    let options = Options { pool_size: Some(pool), ..Options::default() };
    mem3_vm::with_vm(&program, &options, |vm| {
        let first = vm.run(&mut std::io::sink()).unwrap_err();
        assert!(fails_here(&first), "{first}");
        assert_eq!(state(vm), before, "line {line} failed but changed the VM:\n{src}");
        let again = vm.run(&mut std::io::sink()).unwrap_err();
        assert_eq!(again, first, "the retry fails the same way");
        assert_eq!(state(vm), before);
        vm.heap().check().unwrap();
    })
    .unwrap();
}

#[test]
fn a_failed_instruction_leaves_its_operands_on_the_stack() {
    // Operands also held by variables: collecting cannot free them, so the result cannot fit.
    all_or_nothing("push 1\nstore a\npush 2\nstore b\nload a\nload b\nadd\nprint\n", 7);
    all_or_nothing("push 1\nstore a\npush 2\nstore b\nload a\nload b\nmul\nprint\n", 7);
    all_or_nothing("push 1.5\nstore a\npush 2\nstore b\nload a\nload b\nlt\nprint\n", 7);
    all_or_nothing("push \"ab\"\nstore a\npush \"ab\"\nstore b\nload a\nload b\neq\nprint\n", 7);
    all_or_nothing("push 5\nstore a\nload a\nneg\nprint\n", 4);
    all_or_nothing("push 12345\nstore a\nload a\ntostr\nprint\n", 4);
    all_or_nothing("push \"héllo\"\nstore a\nload a\nlen\nprint\n", 4);
    // Operands on the stack only: collecting could free them, but the result is larger than both.
    let (s, t) = ("s".repeat(40), "t".repeat(40));
    all_or_nothing(&format!("push \"{s}\"\npush \"{t}\"\nconcat\nprint\n"), 3);
    all_or_nothing(&format!("push \"{s}\"\nstore a\npush 7\nstore b\npush \"{t}\"\nprint\n"), 5);
}

/// The arithmetic, comparisons and conditions read two ints in one step and take the general read for
/// anything else: a stale operand in either place is still "stale handle", named by the instruction.
#[test]
fn int_fast_paths_fall_back_to_exact_errors() {
    for op in ["add", "sub", "mul", "div", "mod", "eq", "ne", "lt", "le", "gt", "ge"] {
        let left = format!("push 2\nstore x\nload x\nfree\nload x\npush 1\n{op}\n");
        let right = format!("push 2\nstore x\nload x\nfree\npush 1\nload x\n{op}\n");
        for src in [left, right] {
            assert_eq!(fails(&src, 7, "stale handle"), K::StaleHandle { instruction: op }, "{src}");
        }
    }
    for op in ["jz", "jnz"] {
        let src = format!("push 0\ndup\nfree\n{op} l\nl:\n");
        assert_eq!(fails(&src, 4, "stale handle"), K::StaleHandle { instruction: op });
    }
}
