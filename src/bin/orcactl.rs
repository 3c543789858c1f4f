//! orcactl
fn main() {}
