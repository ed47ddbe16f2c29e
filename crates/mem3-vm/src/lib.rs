#![doc = include_str!("../README.md")]
// The VM reaches memory only through mem3-object's handles; nothing here needs `unsafe`.
#![forbid(unsafe_code)]

mod asm;
mod error;
mod program;
mod vm;

use std::io::Write;

pub use asm::{assemble, parse_size};
pub use error::{AsmError, AsmErrorKind, RuntimeError, RuntimeErrorKind, SizeError};
pub use mem3_object::{self, HeapStats, ObjectHeap};
pub use program::Program;
pub use vm::{
    DEFAULT_MAX_CALL_DEPTH, DEFAULT_MAX_STACK, DEFAULT_POOL_SIZE, Event, Observer, Options,
    RunStats, Vm,
};

/// The largest pool [`with_vm`] and [`run_program`] make: 1 GiB. Pool sizes come from input (`.pool`, the
/// command line's `--pool-size`), so they are bounded before anything is allocated; a larger size is
/// [`mem3_pool::Error::RegionTooLarge`].
pub const MAX_POOL_SIZE: usize = 1 << 30;

/// Makes a pool of [`Options::pool_size_for`] bytes (owned here, freed on return), an [`ObjectHeap`] over
/// it and a [`Vm`] for `program`, and hands the VM to `f`. Use it to run the program and look at the heap
/// afterwards (for statistics or a heap map) without managing the region's lifetime.
///
/// Fails only when the heap cannot be made, and then before `f` runs: a size above [`MAX_POOL_SIZE`]
/// ([`mem3_pool::Error::RegionTooLarge`]), a region the system allocator refuses
/// ([`mem3_pool::Error::RegionUnavailable`]; the region is allocated fallibly, never aborting), or a pool
/// too small to hold the pool's own metadata.
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
    let mut region = zeroed_region(options.pool_size_for(program))?;
    let heap = ObjectHeap::new(&mut region)?;
    let mut vm = Vm::new(program, heap, options.clone());
    Ok(f(&mut vm))
}

/// `len` zero bytes, allocated fallibly: within [`MAX_POOL_SIZE`], and an error instead of an abort when
/// the system allocator refuses.
fn zeroed_region(len: usize) -> Result<Vec<u8>, mem3_pool::Error> {
    if len > MAX_POOL_SIZE {
        return Err(mem3_pool::Error::RegionTooLarge { len, max: MAX_POOL_SIZE });
    }
    let mut region = Vec::new();
    region.try_reserve_exact(len).map_err(|_| mem3_pool::Error::RegionUnavailable { len })?;
    region.resize(len, 0);
    Ok(region)
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
