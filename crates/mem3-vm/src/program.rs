//! The assembled form of a program: instructions with resolved jump targets and interned names.

/// One instruction, ready to run: jump targets are instruction indices, literals are parsed and
/// variable names are indices into [`Program`]'s name table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Instr {
    PushInt(i64),
    PushFloat(f64),
    /// Index into [`Program::strings`].
    PushStr(usize),
    Pop,
    Dup,
    Swap,
    Over,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Neg,
    Concat,
    ToStr,
    Len,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// Index into [`Program::globals`].
    Store(usize),
    /// Index into [`Program::globals`].
    Load(usize),
    Jmp(usize),
    Jz(usize),
    Jnz(usize),
    Call(usize),
    Ret,
    Print,
    Free,
    Gc,
    Defrag,
    Halt,
}

impl Instr {
    /// The mnemonic, for error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Instr::PushInt(_) | Instr::PushFloat(_) | Instr::PushStr(_) => "push",
            Instr::Pop => "pop",
            Instr::Dup => "dup",
            Instr::Swap => "swap",
            Instr::Over => "over",
            Instr::Add => "add",
            Instr::Sub => "sub",
            Instr::Mul => "mul",
            Instr::Div => "div",
            Instr::Mod => "mod",
            Instr::Neg => "neg",
            Instr::Concat => "concat",
            Instr::ToStr => "tostr",
            Instr::Len => "len",
            Instr::Eq => "eq",
            Instr::Ne => "ne",
            Instr::Lt => "lt",
            Instr::Le => "le",
            Instr::Gt => "gt",
            Instr::Ge => "ge",
            Instr::Store(_) => "store",
            Instr::Load(_) => "load",
            Instr::Jmp(_) => "jmp",
            Instr::Jz(_) => "jz",
            Instr::Jnz(_) => "jnz",
            Instr::Call(_) => "call",
            Instr::Ret => "ret",
            Instr::Print => "print",
            Instr::Free => "free",
            Instr::Gc => "gc",
            Instr::Defrag => "defrag",
            Instr::Halt => "halt",
        }
    }
}

/// An assembled program, made by [`assemble`](crate::assemble).
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub(crate) code: Vec<Instr>,
    /// The 1-based source line of each instruction.
    pub(crate) lines: Vec<usize>,
    /// String literals, by index.
    pub(crate) strings: Vec<Box<str>>,
    /// Global variable names, by index.
    pub(crate) globals: Vec<Box<str>>,
    pub(crate) pool_size: Option<usize>,
}

impl Program {
    /// The pool size set by the `.pool` directive, if the program has one.
    pub fn pool_size(&self) -> Option<usize> {
        self.pool_size
    }

    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.code.len()
    }

    /// Whether the program has no instructions.
    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }

    /// The 1-based source line of instruction `index`, if there is such an instruction.
    pub fn line(&self, index: usize) -> Option<usize> {
        self.lines.get(index).copied()
    }

    /// The names of the global variables the program uses, in order of first appearance.
    pub fn variables(&self) -> impl Iterator<Item = &str> + '_ {
        self.globals.iter().map(|s| &**s)
    }
}
