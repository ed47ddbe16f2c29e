//! Criterion: talc's random-actions workload on every allocator (operations per second).

#![forbid(unsafe_code)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mem3_benches::{Arena, Job, Kind, dispatch, workloads::random_actions};

const ACTIONS: usize = 20_000;

struct Bench<'a, 'c> {
    group: &'a mut criterion::BenchmarkGroup<'c, criterion::measurement::WallTime>,
    max: usize,
    kind: Kind,
}

impl Job for Bench<'_, '_> {
    type Out = ();
    fn run<A: Arena>(&mut self) {
        let max = self.max;
        self.group.bench_function(BenchmarkId::new(self.kind.name(), max), |b| {
            b.iter_custom(|iters| {
                (0..iters).map(|i| random_actions::<A>(32 << 20, max, ACTIONS, i).elapsed).sum()
            })
        });
    }
}

fn actions(c: &mut Criterion) {
    for max in [1000, 10_000] {
        let mut group = c.benchmark_group(format!("random_actions/max_{max}"));
        group.throughput(Throughput::Elements(ACTIONS as u64)).sample_size(10);
        for kind in Kind::ALL {
            dispatch(kind, &mut Bench { group: &mut group, max, kind });
        }
        group.finish();
    }
}

criterion_group!(benches, actions);
criterion_main!(benches);
