//! Arbitrary bytes as a program: assembled and, if that succeeds, run on a small pool with a step limit. No
//! panic, no hang, and the heap passes `check()` at the end.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use mem3_vm::{Options, assemble, with_vm};

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    let Ok(program) = assemble(&source) else { return };
    let options = Options {
        pool_size: Some(4096),
        max_steps: Some(20_000),
        max_stack: 4096,
        max_call_depth: 256,
        ..Options::default()
    };
    let checked = with_vm(&program, &options, |vm| {
        let _ = vm.run(&mut std::io::sink());
        vm.heap().check()
    });
    if let Ok(check) = checked {
        check.unwrap();
    }
});
