//! The gradients of a whole generated network against central finite differences of its own
//! loss, through the public API: every parameter of a network that uses every op (conv2d with
//! per-axis kernel, stride, padding and dilation; relu; overlapping, padded max-pool; a second
//! conv without bias; flatten; linear without bias; relu; the softmax cross-entropy head) on a
//! batch of 3 in a network of capacity 4. Independent of PyTorch: the derivative is measured on the kernels' forward.
//!
//! `d loss / d p_i ~ (L(p + h e_i) - L(p - h e_i)) / 2h` with `h = 1e-3` and `L` the mean of
//! the per-row losses (float32 rows, summed in f64 by `evaluate`). The float32 rounding of `L`
//! (~1e-7) gives errors up to ~1e-4 in the quotient, hence the tolerance
//! `3e-4 + 1e-2 * |fd|`; a wrong gradient is off by far more. The inputs are seeded, so no
//! relu or pool decision flips within `h` (checked: the same seed passes, deterministically).
mod common;

use common::device;
use cubenet::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[network(input = [2, 9, 8])]
pub struct FdNet {
    #[layer(kernel_size = (3, 2), stride = (1, 2), padding = (1, 1), dilation = (2, 1))]
    conv1: Conv2d<2, 3>,
    relu1: Relu,
    #[layer(stride = 2, padding = 1)]
    pool1: MaxPool2d<3>,
    #[layer(padding = (0, 1), bias = false)]
    conv2: Conv2d<3, 4, 2>,
    flatten: Flatten,
    #[layer(bias = false)]
    fc1: Linear<48, 6>,
    relu2: Relu,
    fc2: Linear<6, 3>,
}

#[test]
fn every_gradient_of_a_network_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 3;
    let x: Vec<f32> = (0..n * 2 * 9 * 8)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let y = [2u32, 0, 1];
    let mut net = FdNet::new(&device(), 4, 17).unwrap();
    let base = net.state().read_params().unwrap();
    let loss = net.compute_gradients(&x, &y).unwrap();
    let analytic = net.state().read_grads().unwrap();
    assert!(
        analytic.iter().any(|&g| g.abs() > 1e-3),
        "a trivial gradient tests nothing"
    );

    let mean_loss = |net: &mut FdNet, p: &[f32]| {
        net.state_mut().write_params(p).unwrap();
        net.evaluate(&x, &y).unwrap().1 / n as f64
    };
    let l0 = mean_loss(&mut net, &base);
    assert!(
        (l0 - loss as f64).abs() <= 1e-6 * l0.abs().max(1.0),
        "evaluate {l0} vs compute_gradients {loss}"
    );
    let h = 1e-3f32;
    let mut bad = Vec::new();
    for (i, &a) in analytic.iter().enumerate() {
        let mut p = base.clone();
        p[i] = base[i] + h;
        let up = mean_loss(&mut net, &p);
        p[i] = base[i] - h;
        let down = mean_loss(&mut net, &p);
        // The step actually taken, after float32 rounding of p +- h.
        let step = (base[i] + h) as f64 - (base[i] - h) as f64;
        let fd = (up - down) / step;
        let ok = (a as f64 - fd).abs() <= 3e-4 + 1e-2 * fd.abs(); // false for NaN
        if !ok {
            let name = FdNet::LAYOUT
                .params
                .iter()
                .find(|q| (q.offset..q.offset + q.numel()).contains(&i))
                .unwrap()
                .name;
            bad.push(format!("{name} [{i}]: kernel {a}, finite differences {fd}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} gradients differ:\n{}",
        bad.len(),
        analytic.len(),
        bad.join("\n")
    );
}
