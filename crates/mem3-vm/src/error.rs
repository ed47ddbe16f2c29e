//! The errors of `mem3-vm`: assembly errors, runtime errors and size-parsing errors.
//!
//! Every message is complete on its own (a wrapper's message includes the one it wraps), so printing the
//! top error says everything; [`source`](core::error::Error::source) returns the wrapped error, so a
//! program can walk from a [`RuntimeError`] through its [`RuntimeErrorKind`] and the object heap's
//! [`mem3_object::Error`] down to the pool's [`mem3_pool::Error`].

/// An assembly error: what is wrong and on which line.
///
/// Displays as `line N: message`; its source is the [`AsmErrorKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct AsmError {
    /// The 1-based source line.
    pub line: usize,
    /// What is wrong.
    #[source]
    pub kind: AsmErrorKind,
}

impl AsmError {
    /// The message without the line number.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

/// What is wrong with a line of assembly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AsmErrorKind {
    /// The mnemonic is not an instruction.
    #[error("unknown instruction `{0}`")]
    UnknownInstruction(String),
    /// A directive other than `.pool`.
    #[error("unknown directive `{0}`")]
    UnknownDirective(String),
    /// The instruction needs an operand and has none.
    #[error("`{instruction}` needs {expected}")]
    MissingOperand {
        /// The mnemonic.
        instruction: &'static str,
        /// What kind of operand, e.g. "a label".
        expected: &'static str,
    },
    /// The instruction takes no operand but has one.
    #[error("`{instruction}` takes no operand, found `{found}`")]
    UnexpectedOperand {
        /// The mnemonic.
        instruction: &'static str,
        /// The text found.
        found: String,
    },
    /// The operand is not of the expected form (e.g. a label that is not a name).
    #[error("`{instruction}` needs {expected}, found `{found}`")]
    BadOperand {
        /// The mnemonic.
        instruction: &'static str,
        /// What kind of operand, e.g. "a label".
        expected: &'static str,
        /// The text found.
        found: String,
    },
    /// A literal that is not an integer, float or string.
    #[error("bad literal `{0}`")]
    BadLiteral(String),
    /// An integer literal outside the signed 64-bit range.
    #[error("integer literal `{0}` is out of the signed 64-bit range")]
    IntegerOutOfRange(String),
    /// A float literal too large for an `f64`.
    #[error("float literal `{0}` is out of range")]
    FloatOutOfRange(String),
    /// A backslash escape other than `\n`, `\t`, `\\`, `\"`.
    #[error("unknown escape `\\{0}` in string literal")]
    BadEscape(char),
    /// A string literal without its closing quote.
    #[error("unterminated string literal")]
    UnterminatedString,
    /// Text after a string literal.
    #[error("unexpected text `{0}` after string literal")]
    TrailingText(String),
    /// A label name that does not match `[A-Za-z_][A-Za-z0-9_]*`.
    #[error("invalid label name `{0}`")]
    BadLabelName(String),
    /// A jump or call to a label that is never defined.
    #[error("undefined label `{0}`")]
    UndefinedLabel(String),
    /// A label defined a second time.
    #[error("duplicate label `{name}` (first defined on line {first_line})")]
    DuplicateLabel {
        /// The label.
        name: String,
        /// Where it was defined first.
        first_line: usize,
    },
    /// `.pool` after the first instruction.
    #[error("`.pool` must come before the first instruction")]
    PoolAfterInstruction,
    /// `.pool` given a second time.
    #[error("`.pool` given twice (first on line {first_line})")]
    DuplicatePool {
        /// Where it was given first.
        first_line: usize,
    },
    /// `.pool` with a bad or missing size.
    #[error("bad pool size: {0}")]
    BadPoolSize(#[source] SizeError),
}

/// Why a size such as `64K` did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SizeError {
    /// No size given.
    #[error("missing size")]
    Empty,
    /// Not decimal digits with an optional `K` or `M` suffix.
    #[error("`{0}` is not a size (decimal digits with an optional K or M suffix)")]
    Invalid(String),
    /// The size does not fit in a `usize`.
    #[error("`{0}` is too large")]
    TooLarge(String),
    /// A size of zero.
    #[error("the size must not be zero")]
    Zero,
}

/// A runtime error: what stopped the program and on which line.
///
/// Displays as `line N: cause`; its source is the [`RuntimeErrorKind`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct RuntimeError {
    /// The 1-based source line of the instruction that failed.
    pub line: usize,
    /// The cause.
    #[source]
    pub kind: RuntimeErrorKind,
}

/// The cause of a [`RuntimeError`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeErrorKind {
    /// An instruction needs more values than the stack holds.
    #[error(
        "stack underflow: `{instruction}` needs {needed} value(s), the stack holds {available}"
    )]
    StackUnderflow {
        /// The mnemonic.
        instruction: &'static str,
        /// Values the instruction pops.
        needed: usize,
        /// Values on the stack.
        available: usize,
    },
    /// `ret` with an empty call stack.
    #[error("stack underflow: `ret` with an empty call stack")]
    ReturnWithoutCall,
    /// An operand of the wrong kind.
    #[error("type error: `{instruction}` expects {expected}, found {found}")]
    TypeError {
        /// The mnemonic.
        instruction: &'static str,
        /// What it accepts, e.g. "numbers".
        expected: &'static str,
        /// What it got, e.g. "a string".
        found: &'static str,
    },
    /// Integer `div` or `mod` by zero.
    #[error("division by zero in `{instruction}`")]
    DivisionByZero {
        /// The mnemonic.
        instruction: &'static str,
    },
    /// An integer result outside the signed 64-bit range.
    #[error("integer overflow in `{instruction}`")]
    IntegerOverflow {
        /// The mnemonic.
        instruction: &'static str,
    },
    /// A handle whose object was freed by `free`.
    #[error("stale handle: `{instruction}` used a handle whose object was freed")]
    StaleHandle {
        /// The mnemonic.
        instruction: &'static str,
    },
    /// `load` of a variable never stored.
    #[error("unbound variable `{name}`")]
    UnboundVariable {
        /// The variable.
        name: String,
    },
    /// An allocation that does not fit even after collecting and defragmenting: the object heap's error,
    /// which holds the pool's [`mem3_pool::Error::OutOfMemory`] (the object's size as `requested`, the free
    /// bytes and the largest free block) and displays as it does, followed by the block the request takes.
    #[error("{0}{needed}", needed = needed_block(.0))]
    OutOfMemory(#[source] mem3_object::Error),
    /// The program ran `max_steps` instructions and was about to run another.
    #[error("step limit: {limit} steps executed")]
    StepLimit {
        /// The limit.
        limit: u64,
    },
    /// The value stack would grow past `max_stack`.
    #[error("stack limit: the value stack would exceed {limit} values")]
    ValueStackLimit {
        /// The limit.
        limit: usize,
    },
    /// The call stack would grow past `max_call_depth`.
    #[error("stack limit: the call stack would exceed {limit} frames")]
    CallStackLimit {
        /// The limit.
        limit: usize,
    },
    /// A stack the VM keeps outside the pool (the value stack, the call stack, or the collector's list of
    /// roots) could not grow: the system refused the memory.
    #[error("stack limit: no memory to grow the {stack} past {len} entries")]
    StackMemory {
        /// Which stack.
        stack: &'static str,
        /// Its length when it could not grow.
        len: usize,
    },
    /// A string could not be built: strings are built outside the pool before their object is allocated,
    /// and the system refused the memory.
    #[error("out of memory: no memory outside the pool to build a string of {len} bytes")]
    StringMemory {
        /// The string's length in bytes.
        len: usize,
    },
    /// Writing the output failed.
    #[error("output error: {0}")]
    Output(std::io::ErrorKind),
    /// The object heap reported an error the VM does not expect (a bug in the heap).
    #[error("heap error: {0}")]
    Heap(#[source] mem3_object::Error),
}

impl RuntimeErrorKind {
    /// The pool's out-of-memory error, for [`RuntimeErrorKind::OutOfMemory`]: the figures are its fields.
    pub fn pool_out_of_memory(&self) -> Option<&mem3_pool::Error> {
        match self {
            Self::OutOfMemory(mem3_object::Error::Pool(
                e @ mem3_pool::Error::OutOfMemory { .. },
            )) => Some(e),
            _ => None,
        }
    }

    /// A short name for the cause, matching the words of `docs/vm.md`: `"stack underflow"`, `"type error"`,
    /// `"division by zero"`, `"integer overflow"`, `"stale handle"`, `"unbound variable"`,
    /// `"out of memory"`, `"step limit"`, `"stack limit"`, plus `"output error"` and `"heap error"`.
    pub fn cause(&self) -> &'static str {
        match self {
            Self::StackUnderflow { .. } | Self::ReturnWithoutCall => "stack underflow",
            Self::TypeError { .. } => "type error",
            Self::DivisionByZero { .. } => "division by zero",
            Self::IntegerOverflow { .. } => "integer overflow",
            Self::StaleHandle { .. } => "stale handle",
            Self::UnboundVariable { .. } => "unbound variable",
            Self::OutOfMemory(_) | Self::StringMemory { .. } => "out of memory",
            Self::StepLimit { .. } => "step limit",
            Self::ValueStackLimit { .. }
            | Self::CallStackLimit { .. }
            | Self::StackMemory { .. } => "stack limit",
            Self::Output(_) => "output error",
            Self::Heap(_) => "heap error",
        }
    }
}

/// What the request of an out-of-memory error takes in the pool, for its message: the block size with its
/// header and rounding, e.g. " (a 176-byte block: 165 + 8 bytes of block header, rounded up to 8)". The
/// smallest block is first fit's, the VM's pool's policy (a best-fit pool's smallest block is larger, which
/// only matters for objects below it).
fn needed_block(error: &mem3_object::Error) -> String {
    use mem3_pool::{GRANULE, HEADER_SIZE, MIN_BLOCK};
    let mem3_object::Error::Pool(mem3_pool::Error::OutOfMemory { requested, .. }) = error else {
        return String::new();
    };
    match mem3_pool::block_size_for(*requested, MIN_BLOCK) {
        Some(block) if requested + HEADER_SIZE < MIN_BLOCK => {
            format!(
                " (a {block}-byte block: the smallest block, {requested} + {HEADER_SIZE} bytes of block header)"
            )
        }
        Some(block) => format!(
            " (a {block}-byte block: {requested} + {HEADER_SIZE} bytes of block header, rounded up to {GRANULE})"
        ),
        None => " (more than any block can hold)".into(),
    }
}
