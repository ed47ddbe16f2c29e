//! The errors of `mem3-trace`: a malformed or oversized trace, and what a checked replay found wrong.

use crate::HEADER;

/// A malformed trace: the line (1-based) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct TraceError {
    /// The offending line, counting from 1.
    pub line: usize,
    /// What is wrong with it.
    pub kind: TraceErrorKind,
}

/// What is wrong with a line of a trace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceErrorKind {
    /// The first line is not `# mem3 trace v1`.
    #[error("missing header line `{HEADER}`")]
    MissingHeader,
    /// The line's first field is not `a`, `f` or `r`.
    #[error("unknown operation `{0}` (expected `a`, `f` or `r`)")]
    UnknownOp(String),
    /// The line has the wrong number of fields for its operation.
    #[error("`{op}` takes {expected} fields, found {found}")]
    FieldCount {
        /// The operation.
        op: char,
        /// How many fields it takes.
        expected: &'static str,
        /// How many the line has.
        found: usize,
    },
    /// A field that should be a decimal integer is not one (or does not fit a `usize`).
    #[error("bad {field} `{text}`: expected a decimal integer")]
    BadNumber {
        /// Which field: `ID`, `SIZE` or `ALIGN`.
        field: &'static str,
        /// The field's text (cut to 32 characters).
        text: String,
    },
    /// An ID of 2^32 or more.
    #[error("ID {0} is not below 2^32")]
    IdTooLarge(String),
    /// An alignment that is not a power of two.
    #[error("alignment {0} is not a power of two")]
    BadAlign(usize),
    /// An `a` of an ID that is live.
    #[error("ID {0} is already live")]
    LiveId(u32),
    /// An `f` or `r` of an ID that is not live.
    #[error("ID {0} is not live")]
    NotLive(u32),
    /// The input starts like gzip (`1f 8b`) but does not decompress; the line is the one decompression
    /// reached.
    #[error("invalid gzip data: {0}")]
    Gzip(String),
    /// The reader the trace came from failed.
    #[error("cannot read the trace: {0}")]
    Read(String),
    /// The trace is beyond one of the parser's bounds (see [`Limits`](crate::Limits), [`MAX_LINE`](crate::MAX_LINE), [`MAX_LIVE`](crate::MAX_LIVE)); the
    /// line is the one that crossed it.
    #[error("trace too large: more than {limit} {what}")]
    TooLarge {
        /// What was counted: `bytes of text`, `requests`, `blocks live at once`, `bytes in one line` or
        /// `lines`.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// The system allocator refused memory for the parsed form (within the limits).
    #[error("not enough memory for the parsed trace")]
    NoMemory,
}

/// What [`replay_checked`](crate::replay_checked) found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CheckError {
    /// The line of the request after which the fault was found.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}
