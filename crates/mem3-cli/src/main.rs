//! The mem3 command line.
fn main() {}
