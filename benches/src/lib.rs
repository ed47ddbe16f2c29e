//! Benchmarks of mem3 against its peers.
