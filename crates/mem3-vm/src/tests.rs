//! Unit tests of the assembler's internals.

use crate::asm::assemble;
use crate::program::Instr;

fn code(src: &str) -> Vec<Instr> {
    assemble(src).unwrap_or_else(|e| panic!("{e:?}")).code
}

#[test]
fn labels_resolve_to_instruction_indices() {
    let program = assemble("jmp end\nstart: push 1\n\nloop:\n  jz start ; back\nend:").unwrap();
    assert_eq!(program.code, vec![Instr::Jmp(3), Instr::PushInt(1), Instr::Jz(1)]);
    assert_eq!(program.lines, vec![1, 2, 5]);
}

#[test]
fn strings_and_variables_are_interned() {
    let program =
        assemble("push \"a\"\npush \"b\"\npush \"a\"\nstore x\nstore y\nload x\n").unwrap();
    assert_eq!(program.code[..3], [Instr::PushStr(0), Instr::PushStr(1), Instr::PushStr(0)]);
    assert_eq!(program.code[3..], [Instr::Store(0), Instr::Store(1), Instr::Load(0)]);
    assert_eq!(&*program.strings[1], "b");
    assert_eq!(program.variables().collect::<Vec<_>>(), ["x", "y"]);
}

#[test]
fn literals() {
    assert_eq!(
        code("push 0\npush -0\npush 42\npush -9223372036854775808\npush 9223372036854775807"),
        [
            Instr::PushInt(0),
            Instr::PushInt(0),
            Instr::PushInt(42),
            Instr::PushInt(i64::MIN),
            Instr::PushInt(i64::MAX)
        ]
    );
    assert_eq!(
        code("push 3.5\npush -0.25\npush 1e9\npush 2.5e-3\npush 1.\npush .5\npush 1E+2"),
        [
            Instr::PushFloat(3.5),
            Instr::PushFloat(-0.25),
            Instr::PushFloat(1e9),
            Instr::PushFloat(2.5e-3),
            Instr::PushFloat(1.0),
            Instr::PushFloat(0.5),
            Instr::PushFloat(100.0)
        ]
    );
    let program = assemble(r#"push "a;b\"c\\d\ne	f ✓" ; comment"#).unwrap();
    assert_eq!(&*program.strings[0], "a;b\"c\\d\ne\tf ✓");
}

#[test]
fn whitespace_and_comments() {
    assert_eq!(
        code("  ; only a comment\n\t push\t1 ;x\n\r\nlbl:;c\nhalt\r\n"),
        [Instr::PushInt(1), Instr::Halt]
    );
    assert!(assemble("").unwrap().is_empty());
}

#[test]
fn every_mnemonic_round_trips_its_name() {
    let names = [
        "pop", "dup", "swap", "over", "add", "sub", "mul", "div", "mod", "neg", "concat", "tostr",
        "len", "eq", "ne", "lt", "le", "gt", "ge", "ret", "print", "free", "gc", "defrag", "halt",
    ];
    for name in names {
        assert_eq!(code(name)[0].name(), name);
    }
    for name in ["jmp", "jz", "jnz", "call"] {
        assert_eq!(code(&format!("l: {name} l"))[0].name(), name);
    }
    assert_eq!(code("store v\nload v")[1].name(), "load");
}

// --- with_vm: the region comes from an untrusted size --------------------------------------------------

#[test]
fn with_vm_refuses_a_pool_above_the_limit_without_running() {
    use crate::{MAX_POOL_SIZE, Options, with_vm};
    let program = assemble("push 1\n").unwrap();
    for size in [MAX_POOL_SIZE + 1, 100_000_000 << 20, usize::MAX] {
        let options = Options { pool_size: Some(size), ..Options::default() };
        let mut ran = false;
        let result = with_vm(&program, &options, |_| ran = true);
        assert_eq!(
            result,
            Err(mem3_object::Error::Pool(mem3_pool::Error::RegionTooLarge {
                len: size,
                max: MAX_POOL_SIZE
            })),
            "{size}"
        );
        assert!(!ran, "{size}: nothing runs");
    }
    // A `.pool` line above the limit is refused the same way.
    let program = assemble(".pool 100000000M\npush 1\n").unwrap();
    assert!(matches!(
        with_vm(&program, &Options::default(), |_| ()),
        Err(mem3_object::Error::Pool(mem3_pool::Error::RegionTooLarge { .. }))
    ));
}

#[test]
fn with_vm_makes_a_pool_at_the_limit_boundary_sizes() {
    use crate::{Options, with_vm};
    let program = assemble("push 1\nstore x\n").unwrap();
    // A small size works and the pool is that size: the limit does not change ordinary runs.
    let options = Options { pool_size: Some(4096), ..Options::default() };
    let capacity = with_vm(&program, &options, |vm| {
        vm.run(&mut std::io::sink()).unwrap();
        vm.heap().stats().pool.capacity
    })
    .unwrap();
    assert!(0 < capacity && capacity < 4096, "{capacity}");
}

/// `tostr` of an int writes its digits by hand: the text must be exactly what `{v}` formats, at every
/// length, at both ends of the range and across the sign.
#[test]
fn tostr_digits_match_the_formatter() {
    let mut values =
        vec![0, 1, -1, 9, 10, -10, 99, 100, i64::MAX, i64::MIN, i64::MIN + 1, i64::MAX - 1];
    let mut p = 1i64;
    while let Some(next) = p.checked_mul(10) {
        values.extend([p - 1, p, p + 1, -p + 1, -p, -p - 1]);
        p = next;
    }
    values.extend([p - 1, p, p + 1, -p, -p - 1]);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        values.push(x as i64 >> (x % 64));
    }
    let mut text = String::from("kept:");
    for v in values {
        text.truncate(5);
        crate::vm::push_int(&mut text, v);
        assert_eq!(text, format!("kept:{v}"));
    }
}
