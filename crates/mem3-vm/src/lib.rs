#![doc = include_str!("../README.md")]

mod asm;
mod error;
mod program;
mod vm;

use std::io::Write;

pub use asm::{assemble, parse_size};
pub use error::{AsmError, AsmErrorKind, RuntimeError, RuntimeErrorKind, SizeError};
pub use mem3_object::{self, HeapStats, ObjectHeap};
pub use program::Program;
pub use vm::{DEFAULT_MAX_CALL_DEPTH, DEFAULT_MAX_STACK, DEFAULT_POOL_SIZE, Options, RunStats, Vm};

/// Makes a pool of [`Options::pool_size_for`] bytes (owned here, freed on return), an [`ObjectHeap`] over
/// it and a [`Vm`] for `program`, and hands the VM to `f`. Use it to run the program and look at the heap
/// afterwards (for statistics or a heap map) without managing the region's lifetime.
///
/// Fails only when the heap cannot be made, e.g. a pool too small to hold the pool's own metadata.
///
/// ```
/// let program = mem3_vm::assemble("push 2\npush 3\nmul\nstore x\n").unwrap();
/// let live = mem3_vm::with_vm(&program, &mem3_vm::Options::default(), |vm| {
///     vm.run(&mut std::io::sink()).unwrap();
///     vm.heap().len()
/// })
/// .unwrap();
/// assert_eq!(live, 3); // 2, 3 and 6: nothing collected them
/// ```
pub fn with_vm<R>(
    program: &Program,
    options: &Options,
    f: impl FnOnce(&mut Vm<'_, '_>) -> R,
) -> Result<R, mem3_object::Error> {
    let mut region = vec![0u8; options.pool_size_for(program)];
    let heap = ObjectHeap::new(&mut region)?;
    let mut vm = Vm::new(program, heap, options.clone());
    Ok(f(&mut vm))
}

/// What [`run_program`] found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The run's figures on success, or the runtime error that stopped it.
    pub result: Result<RunStats, RuntimeError>,
    /// The run's figures, also after an error.
    pub stats: RunStats,
    /// The heap's figures at the end.
    pub heap: HeapStats,
}

/// Runs `program` with `options` in a pool it makes and frees itself, writing the program's output to
/// `out`. Fails only when the heap cannot be made; a runtime error is in [`Outcome::result`].
///
/// ```
/// let program = mem3_vm::assemble("push \"hello, world\"\nprint\n").unwrap();
/// let mut out = Vec::new();
/// let outcome = mem3_vm::run_program(&program, &mem3_vm::Options::default(), &mut out).unwrap();
/// assert!(outcome.result.is_ok());
/// assert_eq!(out, b"hello, world\n");
/// ```
pub fn run_program(
    program: &Program,
    options: &Options,
    out: &mut dyn Write,
) -> Result<Outcome, mem3_object::Error> {
    with_vm(program, options, |vm| {
        let result = vm.run(out);
        Outcome { result, stats: vm.stats(), heap: vm.heap().stats() }
    })
}

#[cfg(test)]
mod tests;
