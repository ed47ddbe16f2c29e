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
