//! One test per assembly error of `docs/vm.md`, each checking the line it names.

use mem3_vm::{AsmError, AsmErrorKind as K, SizeError, assemble};

/// The errors of `src`, which must not assemble.
fn errors(src: &str) -> Vec<AsmError> {
    assemble(src).expect_err("the program must not assemble")
}

/// The one error of `src`, checking its line.
fn only_error(src: &str, line: usize) -> K {
    let mut errors = errors(src);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = errors.remove(0);
    assert_eq!(error.line, line, "{error}");
    assert!(error.to_string().starts_with(&format!("line {line}: ")));
    error.kind
}

#[test]
fn unknown_instruction() {
    assert_eq!(only_error("push 1\n\nPUSH 2\n", 3), K::UnknownInstruction("PUSH".into()));
    assert_eq!(only_error("nop", 1), K::UnknownInstruction("nop".into()));
    assert_eq!(errors("x: frob 1")[0].to_string(), "line 1: unknown instruction `frob`");
}

#[test]
fn unknown_directive() {
    assert_eq!(only_error(".stack 10", 1), K::UnknownDirective(".stack".into()));
}

#[test]
fn wrong_operand() {
    assert_eq!(
        only_error("push", 1),
        K::MissingOperand { instruction: "push", expected: "a literal" }
    );
    assert_eq!(
        only_error("\njmp", 2),
        K::MissingOperand { instruction: "jmp", expected: "a label" }
    );
    assert_eq!(
        only_error("load ; no name", 1),
        K::MissingOperand { instruction: "load", expected: "a variable name" }
    );
    assert_eq!(
        only_error("push 1\npop 1", 2),
        K::UnexpectedOperand { instruction: "pop", found: "1".into() }
    );
    assert_eq!(
        only_error("l:\njz 1l", 2),
        K::BadOperand { instruction: "jz", expected: "a label", found: "1l".into() }
    );
    assert_eq!(
        only_error("store a b", 1),
        K::BadOperand { instruction: "store", expected: "a variable name", found: "a b".into() }
    );
    assert_eq!(
        only_error("l: call l l", 1),
        K::BadOperand { instruction: "call", expected: "a label", found: "l l".into() }
    );
}

#[test]
fn bad_literal() {
    for bad in [
        "12x", "1.2.3", "abc", "--1", "+1", "1e", "1e+", ".", "-", "1_000", "0x1F", "inf", "NaN",
        "1 2",
    ] {
        assert_eq!(only_error(&format!("push {bad}"), 1), K::BadLiteral(bad.into()), "{bad}");
    }
    assert_eq!(
        only_error("push 9223372036854775808", 1),
        K::IntegerOutOfRange("9223372036854775808".into())
    );
    assert_eq!(
        only_error("push -9223372036854775809", 1),
        K::IntegerOutOfRange("-9223372036854775809".into())
    );
    assert_eq!(only_error("push 1e400", 1), K::FloatOutOfRange("1e400".into()));
    assert_eq!(only_error(r#"push "a\qb""#, 1), K::BadEscape('q'));
    assert_eq!(only_error(r#"push "abc"#, 1), K::UnterminatedString);
    assert_eq!(only_error(r#"push "abc\""#, 1), K::UnterminatedString);
    assert_eq!(only_error(r#"push "abc" "d""#, 1), K::TrailingText("\"d\"".into()));
    // A `;` inside a string is not a comment, and one after it is.
    assert!(assemble(r#"push "a;b" ; "unterminated"#).is_ok());
}

#[test]
fn bad_label_name() {
    assert_eq!(only_error("1abc: halt", 1), K::BadLabelName("1abc".into()));
    assert_eq!(only_error("a-b: halt", 1), K::BadLabelName("a-b".into()));
    assert_eq!(only_error(": halt", 1), K::BadLabelName("".into()));
}

#[test]
fn undefined_label() {
    assert_eq!(only_error("push 1\njnz nowhere\n", 2), K::UndefinedLabel("nowhere".into()));
    // Every use is reported.
    let errors = errors("jmp a\ncall a\n");
    assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn duplicate_label() {
    assert_eq!(
        only_error("a: push 1\nb:\na: pop\n", 3),
        K::DuplicateLabel { name: "a".into(), first_line: 1 }
    );
    assert_eq!(
        errors("a:\na:\n")[0].to_string(),
        "line 2: duplicate label `a` (first defined on line 1)"
    );
}

#[test]
fn misplaced_pool() {
    assert_eq!(only_error("push 1\n.pool 1K\n", 2), K::PoolAfterInstruction);
    assert_eq!(only_error(".pool 1K\n.pool 2K\n", 2), K::DuplicatePool { first_line: 1 });
    assert_eq!(only_error(".pool 12Q", 1), K::BadPoolSize(SizeError::Invalid("12Q".into())));
    assert_eq!(only_error(".pool", 1), K::BadPoolSize(SizeError::Empty));
    assert_eq!(only_error(".pool 0", 1), K::BadPoolSize(SizeError::Zero));
    // Comments and labels may come before `.pool`.
    let program = assemble("; header\nstart:\n.pool 2M ; two megabytes\npush 1\n").unwrap();
    assert_eq!(program.pool_size(), Some(2 << 20));
}

#[test]
fn every_error_is_reported_in_line_order() {
    let src = "jmp missing\nfrob\npush 1x\na:\na:\npush 1\n.pool 1K\npop 2\n";
    let errors = errors(src);
    let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [1, 2, 3, 5, 7, 8]);
    assert_eq!(errors[0].kind, K::UndefinedLabel("missing".into()));
    assert_eq!(errors[2].message(), "bad literal `1x`");
}

#[test]
fn labels_may_share_a_line_and_names_with_instructions() {
    let program = assemble("push: push 1\njmp push\n").unwrap();
    assert_eq!(program.len(), 2);
    assert_eq!(program.line(1), Some(2));
    assert_eq!(program.line(2), None);
}
