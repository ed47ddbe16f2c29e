//! Public-API tests of mem3-pool: the model test (see `model.rs`) on random operation sequences.

// Only `locked` needs `unsafe` (`GlobalAlloc` calls and leaked regions, each with its SAFETY comment).
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod locked;
mod model;

use model::Op;
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u16..700, any::<u8>()).prop_map(|(size, align_log2)| Op::Alloc { size, align_log2: align_log2 % 12 }),
        5 => any::<u16>().prop_map(|index| Op::Free { index }),
        3 => (any::<u16>(), 0u16..1500).prop_map(|(index, size)| Op::Realloc { index, size }),
        1 => any::<u16>().prop_map(|index| Op::Pin { index }),
        1 => any::<u16>().prop_map(|index| Op::Unpin { index }),
        1 => Just(Op::Coalesce),
        1 => Just(Op::Compact),
        1 => any::<u8>().prop_map(|at| Op::CompactPanic { at: at % 32 }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(modulus, unwind_at)| Op::Retain { modulus, unwind_at: unwind_at % 32 }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(modulus, disorder)| Op::RetainOnly { modulus, disorder }),
        1 => any::<u32>().prop_map(|offset| Op::FreeInvalid { offset }),
        1 => any::<u16>().prop_map(|index| Op::FreeStale { index }),
        1 => Just(Op::CompactTrimmed),
        1 => any::<u16>().prop_map(|index| Op::MoveToEnd { index }),
    ]
}

/// `cases` cases natively (or `PROPTEST_CASES`, for longer runs); a handful under Miri, with no failure file
/// (Miri isolates the file system).
fn miri_aware(cases: u32) -> ProptestConfig {
    if cfg!(miri) {
        ProptestConfig { cases: 4, failure_persistence: None, ..ProptestConfig::default() }
    } else {
        let cases =
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases);
        ProptestConfig::with_cases(cases)
    }
}

proptest! {
    #![proptest_config(miri_aware(200))]

    #[test]
    fn pool_matches_model_and_reference(
        best_fit in any::<bool>(),
        deferred in any::<bool>(),
        front_cache in any::<bool>(),
        len in if cfg!(miri) { (1500usize..6000).boxed() } else { prop_oneof![Just(model::MAX_LEN), 2000usize..20_000].boxed() },
        ops in prop::collection::vec(op(), 0..if cfg!(miri) { 40 } else { 300 }),
    ) {
        model::run(model::config(best_fit, deferred, front_cache), len, &ops);
    }
}
