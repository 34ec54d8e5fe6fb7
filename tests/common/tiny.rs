//! A tiny network (16 features -> 8 -> 2) for tests of the runtime's behaviour, not its
//! numbers: `#[path = "common/tiny.rs"] mod tiny;`.
use cubenet::prelude::*;

#[network(input = [1, 4, 4])]
pub struct Tiny {
    flatten: Flatten,
    fc1: Linear<16, 8>,
    relu1: Relu,
    fc2: Linear<8, 2>,
}
