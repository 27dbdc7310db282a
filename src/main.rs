//! The `qlint` binary: parses arguments, calls the library, maps the outcome to an exit code.

fn main() {}
