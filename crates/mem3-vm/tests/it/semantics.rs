//! What each instruction does, through printed output.

use mem3_vm::{ObjectHeap, Options, Vm, assemble};

use crate::output;

/// What `a b op print` prints.
fn binary(a: &str, b: &str, op: &str) -> String {
    let out = output(&format!("push {a}\npush {b}\n{op}\nprint\n"));
    out.strip_suffix('\n').unwrap().to_owned()
}

#[test]
fn integer_arithmetic() {
    assert_eq!(binary("2", "3", "add"), "5");
    assert_eq!(binary("2", "3", "sub"), "-1");
    assert_eq!(binary("-4", "3", "mul"), "-12");
    assert_eq!(binary("7", "2", "div"), "3");
    assert_eq!(binary("-7", "2", "div"), "-3");
    assert_eq!(binary("7", "-2", "div"), "-3");
    assert_eq!(binary("7", "2", "mod"), "1");
    assert_eq!(binary("-7", "2", "mod"), "-1");
    assert_eq!(binary("7", "-2", "mod"), "1");
    assert_eq!(binary("-9223372036854775808", "-1", "mod"), "0");
    assert_eq!(output("push 5\nneg\nprint\npush -0.0\nneg\nprint\n"), "-5\n0.0\n");
}

#[test]
fn float_arithmetic_and_mixing() {
    assert_eq!(binary("1", "0.5", "add"), "1.5");
    assert_eq!(binary("0.5", "1", "sub"), "-0.5");
    assert_eq!(binary("3", "2.0", "div"), "1.5");
    assert_eq!(binary("2.0", "3", "mul"), "6.0");
    assert_eq!(binary("7.5", "2", "mod"), "1.5");
    assert_eq!(binary("-7.5", "2", "mod"), "-1.5");
    assert_eq!(binary("1.0", "0", "div"), "inf");
    assert_eq!(binary("-1", "0.0", "div"), "-inf");
    assert_eq!(binary("0.0", "0", "div"), "NaN");
    assert_eq!(binary("1.0", "0", "mod"), "NaN");
    assert_eq!(binary("1e308", "10", "mul"), "inf");
}

#[test]
fn printing_numbers() {
    let src = "push 1.0\nprint\npush 0.1\nprint\npush 2.5e-7\nprint\npush 1e300\nprint\npush -0.0\nprint\n\
               push 123456789.125\nprint\npush 1e16\nprint\npush -9223372036854775808\nprint\n";
    assert_eq!(
        output(src),
        "1.0\n0.1\n2.5e-7\n1e300\n-0.0\n123456789.125\n1e16\n-9223372036854775808\n"
    );
}

#[test]
fn tostr_matches_print() {
    for lit in ["42", "-7", "1.0", "0.1", "2.5e-7", "1e300", "\"text\"", "\"\""] {
        let printed = output(&format!("push {lit}\nprint\n"));
        let converted = output(&format!("push {lit}\ntostr\nprint\n"));
        assert_eq!(printed, converted, "{lit}");
    }
    assert_eq!(output("push 1\ntostr\npush 2\ntostr\nconcat\nprint\n"), "12\n");
    // tostr of a string is a new object: freeing it leaves the original alone.
    assert_eq!(output("push \"s\"\ndup\ntostr\nfree\nprint\n"), "s\n");
}

#[test]
fn strings() {
    assert_eq!(output("push \"ab\"\npush \"cd\"\nconcat\nprint\n"), "abcd\n");
    assert_eq!(output("push \"\"\nlen\nprint\npush \"héllo ✓ 🦀\"\nlen\nprint\n"), "0\n9\n");
    assert_eq!(output("push \"\\t\\\"\\\\\"\nlen\nprint\n"), "3\n");
}

#[test]
fn comparisons() {
    let cases = [
        ("1", "1", [1, 0, 0, 1, 0, 1]),
        ("1", "2", [0, 1, 1, 1, 0, 0]),
        ("2", "1.5", [0, 1, 0, 0, 1, 1]),
        ("1", "1.0", [1, 0, 0, 1, 0, 1]),
        ("-0.0", "0", [1, 0, 0, 1, 0, 1]),
        ("\"a\"", "\"b\"", [0, 1, 1, 1, 0, 0]),
        ("\"b\"", "\"abc\"", [0, 1, 0, 0, 1, 1]),
        ("\"é\"", "\"z\"", [0, 1, 0, 0, 1, 1]),
        ("\"x\"", "\"x\"", [1, 0, 0, 1, 0, 1]),
    ];
    for (a, b, expected) in cases {
        for (op, want) in ["eq", "ne", "lt", "le", "gt", "ge"].into_iter().zip(expected) {
            assert_eq!(binary(a, b, op), want.to_string(), "{a} {op} {b}");
        }
    }
    // Large ints compare exactly, not as floats.
    assert_eq!(binary("9223372036854775807", "9223372036854775806", "eq"), "0");
    // NaN is unequal to everything, itself included, and unordered.
    let nan = "push 0.0\npush 0.0\ndiv\nstore n\n";
    for (op, want) in [("eq", "0"), ("ne", "1"), ("lt", "0"), ("le", "0"), ("gt", "0"), ("ge", "0")]
    {
        assert_eq!(
            output(&format!("{nan}load n\nload n\n{op}\nprint\n")),
            format!("{want}\n"),
            "{op}"
        );
    }
    // A string and a number are never equal, and always unequal.
    assert_eq!(binary("\"1\"", "1", "eq"), "0");
    assert_eq!(binary("1.0", "\"1.0\"", "ne"), "1");
}

#[test]
fn stack_shuffling() {
    assert_eq!(output("push 1\npush 2\nswap\nprint\nprint\n"), "1\n2\n");
    assert_eq!(output("push 1\npush 2\nover\nprint\nprint\nprint\n"), "1\n2\n1\n");
    assert_eq!(output("push 1\ndup\nadd\nprint\n"), "2\n");
    assert_eq!(output("push 1\npush 2\npop\nprint\n"), "1\n");
}

/// A result takes its operands' place: the values below them stay, in order, and the stack is one value
/// deep where the operands were (two operands, one, and a push beside them).
#[test]
fn results_replace_their_operands_and_keep_the_values_below() {
    let src = "push \"under\"\npush 9\npush 7\npush 2\nsub\nneg\npush 4\nlt\npush \"a\"\npush \"b\"\n\
               concat\nlen\ntostr\nprint\nprint\nprint\nprint\n";
    assert_eq!(output(src), "2\n1\n9\nunder\n");
    let program = assemble("push 1\npush 2\npush 3\nadd\npush 4\nmul\n").unwrap();
    let mut region = vec![0u8; 4096];
    let mut vm = Vm::new(&program, ObjectHeap::new(&mut region).unwrap(), Options::default());
    let stats = vm.run(&mut std::io::sink()).unwrap();
    let values: Vec<_> = vm.stack().iter().map(|&h| vm.heap().get(h).unwrap()).collect();
    use mem3_vm::mem3_object::ObjectRef::Int;
    assert_eq!(values, [Int(1), Int(20)]);
    assert_eq!(stats.peak_stack, 3);
}

/// The peaks are the deepest the stacks went, whichever instruction took them there (`push`, `dup`,
/// `over`, `load`, `call`), not where they ended.
#[test]
fn peaks_are_the_deepest_the_stacks_went() {
    let src = "push 1\ndup\nover\nstore x\npop\npop\ncall a\nload x\nload x\npop\npop\nhalt\n\
               a: call b\nret\nb: call c\nret\nc: push 2\npush 3\npop\npop\nret\n";
    let program = assemble(src).unwrap();
    let mut region = vec![0u8; 4096];
    let mut vm = Vm::new(&program, ObjectHeap::new(&mut region).unwrap(), Options::default());
    let stats = vm.run(&mut std::io::sink()).unwrap();
    assert!(vm.stack().is_empty());
    // 3 from `over`, not 2 from the pushes in the calls or the `load`s.
    assert_eq!((stats.peak_stack, stats.peak_call_depth), (3, 3));
}

#[test]
fn control_flow() {
    assert_eq!(output("push 0\njz a\npush \"no\"\nprint\na: push \"yes\"\nprint\n"), "yes\n");
    assert_eq!(output("push 5\njz a\npush \"no jump\"\nprint\na:\n"), "no jump\n");
    assert_eq!(output("push -1\njnz a\npush \"no\"\nprint\na: push \"yes\"\nprint\n"), "yes\n");
    assert_eq!(output("jmp b\na: push 1\nprint\nhalt\nb: jmp a\n"), "1\n");
    assert_eq!(output("push \"x\"\nprint\nhalt\npush \"y\"\nprint\n"), "x\n");
    let src = "call f\ncall f\npush \"done\"\nprint\nhalt\nf: push \"in f\"\nprint\ncall g\nret\ng: push \"in g\"\nprint\nret\n";
    assert_eq!(output(src), "in f\nin g\nin f\nin g\ndone\n");
}

#[test]
fn variables() {
    assert_eq!(
        output(
            "push 1\nstore x\npush 2\nstore y\nload x\nprint\nload y\nprint\npush 3\nstore x\nload x\nprint\n"
        ),
        "1\n2\n3\n"
    );
    // store binds the handle: free through one name makes the other stale.
    let src = "push \"v\"\nstore a\nload a\nstore b\nload a\nfree\nload b\nprint\n";
    let e = crate::error(src);
    assert_eq!((e.line, e.kind.cause()), (8, "stale handle"));
}

/// Runs `src` in a VM over a heap made here and returns the VM's heap's live object count after it.
fn live_after(src: &str) -> usize {
    let program = assemble(src).unwrap();
    let mut region = vec![0u8; 8192];
    let heap = ObjectHeap::new(&mut region).unwrap();
    let mut vm = Vm::new(&program, heap, Options::default());
    vm.run(&mut std::io::sink()).unwrap();
    vm.heap().check().unwrap();
    vm.heap().len()
}

#[test]
fn gc_frees_exactly_the_unreachable() {
    assert_eq!(live_after("push 1\npush 2\npop\npush 3\nstore x\npush 4\nstore x\n"), 4);
    // Reachable: the 1 on the stack and the 4 in x.
    assert_eq!(live_after("push 1\npush 2\npop\npush 3\nstore x\npush 4\nstore x\ngc\n"), 2);
    // A stale handle in a variable keeps nothing alive and upsets nothing.
    assert_eq!(live_after("push 1\ndup\nstore x\nfree\npush 5\ngc\n"), 1);
    // Values of finished calls are garbage too.
    assert_eq!(live_after("call f\ngc\nhalt\nf: push 1\npush 2\nadd\npop\nret\n"), 0);
}

#[test]
fn handles_survive_gc_and_defrag() {
    let src = "push \"a\"\npush 1\npop\npush \"bb\"\nstore b\npush 2.5\npop\npush \"ccc\"\nstore c\n\
               gc\ndefrag\nload b\nprint\nload c\nprint\nprint\n";
    assert_eq!(output(src), "bb\nccc\na\n");
    let program = assemble(src).unwrap();
    let outcome =
        mem3_vm::run_program(&program, &Options::default(), &mut std::io::sink()).unwrap();
    let stats = outcome.result.unwrap();
    assert_eq!(stats.collections, 1);
    assert_eq!(stats.objects_collected, 2);
    assert_eq!(stats.defragmentations, 1);
    assert!(stats.objects_moved >= 2 && stats.bytes_moved > 0, "{stats:?}");
    assert_eq!(outcome.heap.pool.free_blocks, 1);
}

#[test]
fn vm_accessors() {
    let program = assemble("push 7\nstore seven\npush \"top\"\n").unwrap();
    let mut region = vec![0u8; 4096];
    let mut vm = Vm::new(&program, ObjectHeap::new(&mut region).unwrap(), Options::default());
    let stats = vm.run(&mut std::io::sink()).unwrap();
    assert_eq!(stats, vm.stats());
    assert_eq!(stats.peak_stack, 1);
    let seven = vm.variable("seven").unwrap();
    assert_eq!(vm.heap().get(seven).unwrap(), mem3_vm::mem3_object::ObjectRef::Int(7));
    assert_eq!(vm.stack().len(), 1);
    assert_eq!(vm.variable("nothing"), None);
    assert!(vm.options().defragment);
    // Running again after the end does nothing more.
    assert_eq!(vm.run(&mut std::io::sink()).unwrap().steps, 3);
    let heap = vm.into_heap();
    assert_eq!(heap.len(), 2);
}

/// A loop that makes garbage: every turn allocates a new int and drops the old one.
const GARBAGE: &str = ".pool 1K\npush 0\nstore i\nloop: load i\npush 1\nadd\nstore i\nload i\npush 200\nlt\njnz loop\n";

#[test]
fn without_collect_garbage_fills_the_pool() {
    let (_, result) = crate::run_with(GARBAGE, &Options::default());
    let stats = result.expect("collecting makes room");
    assert!(stats.collections > 0);
    let error = crate::error_with(GARBAGE, &Options { collect: false, ..Options::default() });
    assert_eq!(error.kind.cause(), "out of memory");
    assert!(
        error.to_string().contains("(a 32-byte block: 24 + 8 bytes of block header"),
        "{error}"
    );
}

#[test]
fn the_observer_sees_allocations_collections_and_defragmentations() {
    use std::{cell::RefCell, rc::Rc};
    let program = assemble(GARBAGE).unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let stats = mem3_vm::with_vm(&program, &Options::default(), |vm| {
        let log = Rc::clone(&seen);
        vm.set_observer(Some(Box::new(move |event, vm: &Vm<'_, '_>| {
            log.borrow_mut().push((event, vm.stats().allocations, vm.line()));
        })));
        vm.run(&mut std::io::sink()).unwrap()
    })
    .unwrap();
    let seen = seen.borrow();
    let count = |e: mem3_vm::Event| seen.iter().filter(|s| s.0 == e).count() as u64;
    assert_eq!(count(mem3_vm::Event::Allocated), stats.allocations);
    assert_eq!(count(mem3_vm::Event::CollectionStart), stats.collections);
    assert_eq!(count(mem3_vm::Event::DefragmentStart), stats.defragmentations);
    let ends = seen.iter().filter(|s| matches!(s.0, mem3_vm::Event::CollectionEnd { .. })).count();
    assert_eq!(ends as u64, stats.collections);
    // Lines are the source's: the allocations are by `push` (lines 2, 5, 9), `add` (6) and `lt` (10).
    let stray = seen.iter().find(|s| ![2, 5, 6, 9, 10].contains(&s.2));
    assert_eq!(stray, None);
}
