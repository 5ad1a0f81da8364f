#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

fn main() {}
