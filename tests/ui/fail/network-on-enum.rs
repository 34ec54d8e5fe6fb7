use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub enum Net {
    Conv1,
    Fc1,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
