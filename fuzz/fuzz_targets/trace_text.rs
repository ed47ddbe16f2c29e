//! Arbitrary bytes as a trace (plain or gzip): an error naming a line, or a replay on a small pool that
//! leaves the pool consistent. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mem3_pool::{
    Config, Policy,
    trace::{Trace, default_pool_bytes, replay_on_pool_inspect},
};

fuzz_target!(|data: &[u8]| {
    let trace = match Trace::parse(data) {
        Ok(trace) => trace,
        Err(e) => {
            assert!(e.to_string().starts_with("line "), "error without a line: {e}");
            return;
        }
    };
    for policy in [Policy::FirstFit, Policy::BestFit] {
        let config = Config { policy, ..Config::default() };
        let bytes = default_pool_bytes(&trace).min(1 << 20);
        if let Ok((_, check)) = replay_on_pool_inspect(&trace, bytes, config, |pool| pool.check()) {
            check.unwrap();
        }
    }
});
