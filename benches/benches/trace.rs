//! Criterion: replaying the two smaller shared traces on every allocator (requests per second).

#![forbid(unsafe_code)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mem3_benches::{Arena, Job, Kind, dispatch, load_trace, workloads::trace_region};
use mem3_trace::{Trace, replay};

struct Bench<'a, 'c> {
    group: &'a mut criterion::BenchmarkGroup<'c, criterion::measurement::WallTime>,
    name: &'a str,
    trace: &'a Trace,
    kind: Kind,
}

impl Job for Bench<'_, '_> {
    type Out = ();
    fn run<A: Arena>(&mut self) {
        let (trace, region) = (self.trace, trace_region(self.trace));
        self.group.bench_function(BenchmarkId::new(self.kind.name(), self.name), |b| {
            b.iter_batched_ref(
                || A::new(region).expect("the allocator can be made"),
                |a| std::hint::black_box(replay(trace, a)),
                criterion::BatchSize::PerIteration,
            )
        });
    }
}

fn traces(c: &mut Criterion) {
    for name in ["gcc-as", "sqlite-mem"] {
        let trace = load_trace(name);
        let mut group = c.benchmark_group(format!("trace/{name}"));
        group.throughput(Throughput::Elements(trace.len() as u64)).sample_size(10);
        for kind in Kind::ALL {
            dispatch(kind, &mut Bench { group: &mut group, name, trace: &trace, kind });
        }
        group.finish();
    }
}

criterion_group!(benches, traces);
criterion_main!(benches);
