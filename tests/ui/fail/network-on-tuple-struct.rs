use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net(Flatten, Linear<784, 10>);

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
