//! Where the bytes of mem3's tightest pool go, on each trace in `tests/data` (issue 14): prints the markdown
//! of the section "Where the bytes go" of `docs/benchmarks.md` (the report makes it too).
//! `cargo run --release -p mem3-benches --bin breakdown`

#![forbid(unsafe_code)]

fn main() {
    print!("{}", mem3_benches::space::breakdown_section());
}
