//! orca
fn main() {}
