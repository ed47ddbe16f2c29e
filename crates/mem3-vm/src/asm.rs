//! The assembler: `.m3` text to a [`Program`].

use std::collections::HashMap;

use crate::error::{AsmError, AsmErrorKind, SizeError};
use crate::program::{Instr, Program};

/// Assembles `.m3` source text into a [`Program`].
///
/// Labels are resolved to instruction indices, literals are checked and variable names are interned.
/// On failure, returns every error found, each with its 1-based line number, in line order.
///
/// ```
/// let program = mem3_vm::assemble("push 1\nprint\n").unwrap();
/// assert_eq!(program.len(), 2);
///
/// let errors = mem3_vm::assemble("push 1\nfrob\njmp nowhere\n").unwrap_err();
/// assert_eq!(errors[0].to_string(), "line 2: unknown instruction `frob`");
/// assert_eq!(errors[1].to_string(), "line 3: undefined label `nowhere`");
/// ```
pub fn assemble(src: &str) -> Result<Program, Vec<AsmError>> {
    let mut asm = Assembler::default();
    for (index, text) in src.lines().enumerate() {
        asm.line(index + 1, text);
    }
    asm.finish()
}

/// Parses a size in bytes: decimal digits with an optional suffix `K` (×1024) or `M` (×1024²).
/// Lower-case `k` and `m` are accepted too. Surrounding whitespace is ignored; zero is an error.
///
/// ```
/// assert_eq!(mem3_vm::parse_size("64K"), Ok(65536));
/// assert_eq!(mem3_vm::parse_size("2M"), Ok(2 * 1024 * 1024));
/// assert_eq!(mem3_vm::parse_size("1000"), Ok(1000));
/// assert!(mem3_vm::parse_size("1G").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<usize, SizeError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(SizeError::Empty);
    }
    let (digits, multiplier) = match text.as_bytes()[text.len() - 1] {
        b'K' | b'k' => (&text[..text.len() - 1], 1024),
        b'M' | b'm' => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SizeError::Invalid(text.to_owned()));
    }
    let size = digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| SizeError::TooLarge(text.to_owned()))?;
    if size == 0 {
        return Err(SizeError::Zero);
    }
    Ok(size)
}

/// Whether `name` matches `[A-Za-z_][A-Za-z0-9_]*`.
fn is_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The line without its comment: everything from the first `;` outside a string literal is dropped.
fn strip_comment(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ';' {
            return &line[..i];
        }
    }
    line
}

/// A parsed `push` literal.
enum Literal {
    Int(i64),
    Float(f64),
    Str(String),
}

/// Parses the operand of `push` (already trimmed).
fn parse_literal(text: &str) -> Result<Literal, AsmErrorKind> {
    if text.is_empty() {
        return Err(AsmErrorKind::MissingOperand { instruction: "push", expected: "a literal" });
    }
    if let Some(body) = text.strip_prefix('"') {
        return parse_string(body).map(Literal::Str);
    }
    parse_number(text)
}

/// Parses a string literal's body (after the opening quote) up to its closing quote.
fn parse_string(body: &str) -> Result<String, AsmErrorKind> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let rest = body[i + 1..].trim();
                if !rest.is_empty() {
                    return Err(AsmErrorKind::TrailingText(rest.to_owned()));
                }
                return Ok(out);
            }
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, other)) => return Err(AsmErrorKind::BadEscape(other)),
                None => return Err(AsmErrorKind::UnterminatedString),
            },
            c => out.push(c),
        }
    }
    Err(AsmErrorKind::UnterminatedString)
}

/// Parses an integer (`-?[0-9]+`) or a float (`-?` digits with a `.` and/or an exponent).
fn parse_number(text: &str) -> Result<Literal, AsmErrorKind> {
    let bad = || AsmErrorKind::BadLiteral(text.to_owned());
    let body = text.strip_prefix('-').unwrap_or(text).as_bytes();
    let digits_from = |mut i: usize| {
        while i < body.len() && body[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = digits_from(0);
    let mut mantissa_digits = i;
    let mut is_float = false;
    if body.get(i) == Some(&b'.') {
        is_float = true;
        let end = digits_from(i + 1);
        mantissa_digits += end - (i + 1);
        i = end;
    }
    if mantissa_digits == 0 {
        return Err(bad());
    }
    if matches!(body.get(i), Some(b'e' | b'E')) {
        is_float = true;
        i += 1;
        if matches!(body.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits_from(i);
        if end == i {
            return Err(bad());
        }
        i = end;
    }
    if i != body.len() {
        return Err(bad());
    }
    if is_float {
        let value: f64 = text.parse().map_err(|_| bad())?;
        if !value.is_finite() {
            return Err(AsmErrorKind::FloatOutOfRange(text.to_owned()));
        }
        Ok(Literal::Float(value))
    } else {
        text.parse().map(Literal::Int).map_err(|_| AsmErrorKind::IntegerOutOfRange(text.to_owned()))
    }
}

/// The assembler's state while it reads lines.
#[derive(Default)]
struct Assembler<'s> {
    code: Vec<Instr>,
    lines: Vec<usize>,
    strings: Vec<Box<str>>,
    string_ids: HashMap<String, usize>,
    globals: Vec<Box<str>>,
    global_ids: HashMap<&'s str, usize>,
    /// Label name to (instruction index, line of definition).
    labels: HashMap<&'s str, (usize, usize)>,
    /// Jumps to patch: (instruction index, label, line of use).
    fixups: Vec<(usize, &'s str, usize)>,
    /// The `.pool` size and its line.
    pool: Option<(usize, usize)>,
    errors: Vec<AsmError>,
}

impl<'s> Assembler<'s> {
    fn error(&mut self, line: usize, kind: AsmErrorKind) {
        self.errors.push(AsmError { line, kind });
    }

    fn line(&mut self, line: usize, raw: &'s str) {
        let mut text = strip_comment(raw).trim();
        if text.is_empty() {
            return;
        }
        // A label: a name followed directly by `:`.
        let name_end =
            text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
        if text[name_end..].starts_with(':') {
            let name = &text[..name_end];
            self.define_label(line, name);
            text = text[name_end + 1..].trim_start();
            if text.is_empty() {
                return;
            }
        } else {
            let first = text.split_whitespace().next().unwrap_or("");
            if let Some(name) = first.strip_suffix(':') {
                if !name.starts_with(['.', '"']) {
                    self.error(line, AsmErrorKind::BadLabelName(name.to_owned()));
                    return;
                }
            }
        }
        let (mnemonic, operand) = match text.find(char::is_whitespace) {
            Some(i) => (&text[..i], text[i..].trim()),
            None => (text, ""),
        };
        if mnemonic.starts_with('.') {
            self.directive(line, mnemonic, operand);
            return;
        }
        let instr = match self.instruction(line, mnemonic, operand) {
            Ok(instr) => instr,
            Err(kind) => {
                self.error(line, kind);
                // A placeholder keeps the instruction count right for `.pool` placement checks.
                Instr::Halt
            }
        };
        self.code.push(instr);
        self.lines.push(line);
    }

    fn define_label(&mut self, line: usize, name: &'s str) {
        if !is_name(name) {
            self.error(line, AsmErrorKind::BadLabelName(name.to_owned()));
            return;
        }
        if let Some(&(_, first_line)) = self.labels.get(name) {
            self.error(line, AsmErrorKind::DuplicateLabel { name: name.to_owned(), first_line });
            return;
        }
        self.labels.insert(name, (self.code.len(), line));
    }

    fn directive(&mut self, line: usize, name: &str, operand: &str) {
        if name != ".pool" {
            self.error(line, AsmErrorKind::UnknownDirective(name.to_owned()));
            return;
        }
        if !self.code.is_empty() {
            self.error(line, AsmErrorKind::PoolAfterInstruction);
        } else if let Some((_, first_line)) = self.pool {
            self.error(line, AsmErrorKind::DuplicatePool { first_line });
        } else {
            match parse_size(operand) {
                Ok(size) => self.pool = Some((size, line)),
                Err(e) => self.error(line, AsmErrorKind::BadPoolSize(e)),
            }
        }
    }

    fn instruction(
        &mut self,
        line: usize,
        mnemonic: &str,
        operand: &'s str,
    ) -> Result<Instr, AsmErrorKind> {
        let simple = match mnemonic {
            "push" => {
                return Ok(match parse_literal(operand)? {
                    Literal::Int(v) => Instr::PushInt(v),
                    Literal::Float(v) => Instr::PushFloat(v),
                    Literal::Str(s) => Instr::PushStr(self.intern_string(s)),
                });
            }
            "store" => return Ok(Instr::Store(self.variable("store", operand)?)),
            "load" => return Ok(Instr::Load(self.variable("load", operand)?)),
            "jmp" => Instr::Jmp(usize::MAX),
            "jz" => Instr::Jz(usize::MAX),
            "jnz" => Instr::Jnz(usize::MAX),
            "call" => Instr::Call(usize::MAX),
            "pop" => Instr::Pop,
            "dup" => Instr::Dup,
            "swap" => Instr::Swap,
            "over" => Instr::Over,
            "add" => Instr::Add,
            "sub" => Instr::Sub,
            "mul" => Instr::Mul,
            "div" => Instr::Div,
            "mod" => Instr::Mod,
            "neg" => Instr::Neg,
            "concat" => Instr::Concat,
            "tostr" => Instr::ToStr,
            "len" => Instr::Len,
            "eq" => Instr::Eq,
            "ne" => Instr::Ne,
            "lt" => Instr::Lt,
            "le" => Instr::Le,
            "gt" => Instr::Gt,
            "ge" => Instr::Ge,
            "ret" => Instr::Ret,
            "print" => Instr::Print,
            "free" => Instr::Free,
            "gc" => Instr::Gc,
            "defrag" => Instr::Defrag,
            "halt" => Instr::Halt,
            other => return Err(AsmErrorKind::UnknownInstruction(other.to_owned())),
        };
        if let Instr::Jmp(_) | Instr::Jz(_) | Instr::Jnz(_) | Instr::Call(_) = simple {
            let instruction = simple.name();
            if operand.is_empty() {
                return Err(AsmErrorKind::MissingOperand { instruction, expected: "a label" });
            }
            if !is_name(operand) {
                return Err(AsmErrorKind::BadOperand {
                    instruction,
                    expected: "a label",
                    found: operand.to_owned(),
                });
            }
            self.fixups.push((self.code.len(), operand, line));
        } else if !operand.is_empty() {
            return Err(AsmErrorKind::UnexpectedOperand {
                instruction: simple.name(),
                found: operand.to_owned(),
            });
        }
        Ok(simple)
    }

    fn intern_string(&mut self, s: String) -> usize {
        if let Some(&id) = self.string_ids.get(&s) {
            return id;
        }
        let id = self.strings.len();
        self.strings.push(s.as_str().into());
        self.string_ids.insert(s, id);
        id
    }

    fn variable(
        &mut self,
        instruction: &'static str,
        name: &'s str,
    ) -> Result<usize, AsmErrorKind> {
        if name.is_empty() {
            return Err(AsmErrorKind::MissingOperand { instruction, expected: "a variable name" });
        }
        if !is_name(name) {
            return Err(AsmErrorKind::BadOperand {
                instruction,
                expected: "a variable name",
                found: name.to_owned(),
            });
        }
        let next = self.globals.len();
        let id = *self.global_ids.entry(name).or_insert(next);
        if id == next {
            self.globals.push(name.into());
        }
        Ok(id)
    }

    fn finish(mut self) -> Result<Program, Vec<AsmError>> {
        for (pc, name, line) in std::mem::take(&mut self.fixups) {
            match self.labels.get(name) {
                Some(&(target, _)) => match &mut self.code[pc] {
                    Instr::Jmp(t) | Instr::Jz(t) | Instr::Jnz(t) | Instr::Call(t) => *t = target,
                    _ => unreachable!("fixups only name jumps"),
                },
                None => self.error(line, AsmErrorKind::UndefinedLabel(name.to_owned())),
            }
        }
        if !self.errors.is_empty() {
            self.errors.sort_by_key(|e| e.line);
            return Err(self.errors);
        }
        Ok(Program {
            code: self.code,
            lines: self.lines,
            strings: self.strings,
            globals: self.globals,
            pool_size: self.pool.map(|(size, _)| size),
        })
    }
}
