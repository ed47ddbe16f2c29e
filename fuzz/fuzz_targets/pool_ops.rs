//! Arbitrary operation sequences on pools of arbitrary size, both policies, both coalescing modes, with and without the front cache, checked
//! by the same model harness as the proptest test (shadow model, reference search, `check()` every step).
#![no_main]
#![forbid(unsafe_code)]

#[path = "../../crates/mem3-pool/tests/it/model.rs"]
#[allow(dead_code)]
mod model;

use libfuzzer_sys::{arbitrary::Arbitrary, fuzz_target};

#[derive(Arbitrary, Debug)]
struct Input {
    best_fit: bool,
    deferred: bool,
    front_cache: bool,
    len: u16,
    ops: Vec<model::Op>,
}

fuzz_target!(|input: Input| {
    model::run(
        model::config(input.best_fit, input.deferred, input.front_cache),
        usize::from(input.len) + 256,
        &input.ops,
    );
});
