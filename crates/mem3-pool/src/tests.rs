//! Unit tests of each operation and each error.

use std::vec::Vec;

use crate::*;

#[repr(C, align(4096))]
struct Region<const N: usize>([u8; N]);

fn region<const N: usize>() -> std::boxed::Box<Region<N>> {
    std::boxed::Box::new(Region([0; N]))
}

#[test]
fn smoke() {
    let mut r = region::<4096>();
    for policy in [Policy::FirstFit, Policy::BestFit] {
        let mut pool = Pool::with_config(&mut r.0, Config { policy, ..Config::default() }).unwrap();
        let blocks: Vec<_> = (0..20).map(|i| pool.alloc(i * 7).unwrap()).collect();
        pool.check().unwrap();
        for b in blocks.iter().step_by(2) {
            pool.free(*b).unwrap();
            pool.check().unwrap();
        }
        for b in blocks.iter().skip(1).step_by(2) {
            pool.free(*b).unwrap();
            pool.check().unwrap();
        }
        let s = pool.stats();
        assert_eq!(s.free_blocks, 1);
        assert_eq!(s.largest_free, s.capacity);
    }
}
