use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net<L> {
    flatten: Flatten,
    fc1: L,
}

fn main() {}
