//! Every generated kernel writes every element of its outputs.
//!
//! Before each step the scratch arenas (activations, their gradients, losses, parameter
//! gradients, pool indices, flags) are filled with NaN / `u32::MAX`. After the step none may
//! remain in the first `n` rows of any output, and the results must be bitwise those of a twin
//! network that was never poisoned (so no kernel reads a value it did not write). Tensor sizes
//! 1, 255, 257, 1000 and 65537 per sample, batches of 1, full batches and a short last batch.
use cubenet::prelude::*;
use cubenet::zoo::LeNet5;
use cubenet::Layout;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Per-sample tensors of 1 and 255 / 257 / 1000 features.
#[network(input = [1, 1, 1])]
pub struct Widths {
    flatten: Flatten,
    fc1: Linear<1, 1>,
    fc2: Linear<1, 255>,
    relu2: Relu,
    fc3: Linear<255, 257>,
    relu3: Relu,
    fc4: Linear<257, 1000>,
    relu4: Relu,
    fc5: Linear<1000, 3>,
}

/// A 65537-feature tensor (2^16 + 1: one more than a power of two, and prime). Its head
/// loops over 2 x 65537 inputs per invocation, more than Mesa's lavapipe runs.
#[network(input = [1, 1, 1])]
pub struct Wide {
    flatten: Flatten,
    fc1: Linear<1, 65537>,
    relu1: Relu,
    fc2: Linear<65537, 2>,
}

/// The widest head lavapipe runs: 2 x 32767 = 65534 loop iterations per invocation.
#[network(input = [1, 1, 1])]
pub struct AtLoopLimit {
    flatten: Flatten,
    fc1: Linear<1, 32767>,
    fc2: Linear<32767, 2>,
}

/// One feature more: 65536 iterations, refused on lavapipe.
#[network(input = [1, 1, 1])]
pub struct OverLoopLimit {
    flatten: Flatten,
    fc1: Linear<1, 32768>,
    fc2: Linear<32768, 2>,
}

/// Odd, non-square conv blocks: with and without pool, strided, padded, without bias.
#[network(input = [3, 13, 11])]
pub struct Convs {
    #[layer(padding = 1)]
    conv1: Conv2d<3, 5, 3>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    #[layer(stride = 2, bias = false)]
    conv2: Conv2d<5, 4, 3>,
    relu2: Relu,
    #[layer(padding = (1, 1))]
    conv3: Conv2d<4, 3, 2>,
    pool3: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<3, 7>,
}

fn batch(rng: &mut ChaCha8Rng, n: usize, layout: &Layout) -> (Vec<f32>, Vec<u32>) {
    let images = (0..n * layout.input_len())
        .map(|_| rng.random_range(-2.0f32..2.0))
        .collect();
    let labels = (0..n)
        .map(|_| rng.random_range(0..layout.classes as u32))
        .collect();
    (images, labels)
}

fn assert_all_finite(what: &str, v: &[f32]) {
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        panic!(
            "{what}: element {i} of {} is {} (never written?)",
            v.len(),
            v[i]
        );
    }
}

/// Bitwise equality, reporting the first differing element and how many differ.
fn assert_same(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let diff: Vec<usize> = (0..a.len())
        .filter(|&i| a[i].to_bits() != b[i].to_bits())
        .collect();
    if let Some(&i) = diff.first() {
        panic!(
            "{what}: {} of {} elements differ from the clean twin; first at {i}: {} vs {}",
            diff.len(),
            a.len(),
            a[i],
            b[i]
        );
    }
}

/// Checks every output of a step (or, without `training`, of an evaluation) on `n` rows.
fn assert_outputs_written<N: Network>(net: &N, n: usize, training: bool, ctx: &str) {
    let s = net.state();
    let l = N::LAYOUT;
    for b in l.blocks {
        let out = s.read_acts(b.out_act, b.out_len, n, ctx).unwrap();
        assert_all_finite(&format!("{ctx}: output of {}", b.name), &out);
        if training {
            let g = s.read_acts(b.out_grad, b.out_len, n, ctx).unwrap();
            assert_all_finite(&format!("{ctx}: gradient of {}'s output", b.name), &g);
        }
        if let Some(a) = b.argmax_idx {
            let idx = s.read_idx(a, b.out_len * n, ctx).unwrap();
            assert!(
                !idx.contains(&u32::MAX),
                "{ctx}: a max-pool index of {} was never written",
                b.name
            );
        }
    }
    let loss = s.read_acts(l.loss_act, 1, n, ctx).unwrap();
    assert_all_finite(&format!("{ctx}: per-row loss"), &loss);
    let correct = s.read_idx(l.correct_idx, n, ctx).unwrap();
    assert!(
        correct.iter().all(|&c| c <= 1),
        "{ctx}: correctness flags {correct:?}"
    );
    if training {
        assert_all_finite(
            &format!("{ctx}: parameter gradients"),
            &s.read_grads().unwrap(),
        );
        assert_all_finite(&format!("{ctx}: parameters"), &s.read_params().unwrap());
        assert_all_finite(&format!("{ctx}: momentum"), &s.read_velocity().unwrap());
    }
}

/// Steps a poisoned and a clean twin through full, short and single-row batches.
fn check<N: Network>(cap: usize, sizes: &[usize]) {
    let device = cubenet::default_device();
    let mut poisoned = N::new(&device, cap, 7).unwrap();
    let mut clean = N::new(&device, cap, 7).unwrap();
    let sgd = Sgd::new(0.01).with_momentum(0.9).with_weight_decay(1e-4);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (step, &n) in sizes.iter().enumerate() {
        let (images, labels) = batch(&mut rng, n, &N::LAYOUT);
        let ctx = format!("step {step}, batch of {n} (capacity {cap})");
        poisoned.state_mut().fill_scratch(f32::NAN);
        let a = poisoned.train_step(&images, &labels, &sgd).unwrap();
        assert_outputs_written(&poisoned, n, true, &ctx);
        let b = clean.train_step(&images, &labels, &sgd).unwrap();
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{ctx}: loss differs from the clean twin"
        );
        assert_same(
            &format!("{ctx}: parameters"),
            &poisoned.state().read_params().unwrap(),
            &clean.state().read_params().unwrap(),
        );

        poisoned.state_mut().fill_scratch(f32::NAN);
        let (c1, l1) = poisoned.evaluate(&images, &labels).unwrap();
        assert_outputs_written(&poisoned, n, false, &format!("{ctx}, evaluation"));
        let (c2, l2) = clean.evaluate(&images, &labels).unwrap();
        assert_eq!((c1, l1.to_bits()), (c2, l2.to_bits()), "{ctx}: evaluation");
    }
}

/// Two gradient computations on the same batch with no update in between give identical
/// gradients: nothing accumulates across steps.
fn gradients_do_not_accumulate<N: Network>(cap: usize) {
    let mut net = N::new(&cubenet::default_device(), cap, 3).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (images, labels) = batch(&mut rng, cap, &N::LAYOUT);
    let l1 = net.compute_gradients(&images, &labels).unwrap();
    let g1 = net.state().read_grads().unwrap();
    let p1 = net.state().read_params().unwrap();
    let l2 = net.compute_gradients(&images, &labels).unwrap();
    let g2 = net.state().read_grads().unwrap();
    assert_eq!(l1.to_bits(), l2.to_bits());
    assert!(g1.iter().any(|&g| g != 0.0), "all gradients are zero");
    assert_same("gradients of the second computation", &g2, &g1);
    assert_same(
        "parameters after two computations",
        &net.state().read_params().unwrap(),
        &p1,
    );
}

#[test]
fn widths_1_255_257_1000_write_every_output() {
    check::<Widths>(4, &[4, 4, 3, 1]);
    gradients_do_not_accumulate::<Widths>(4);
}

fn on_lavapipe() -> bool {
    let client = cubenet::default_device().client();
    let name = client.properties().identity.name.clone();
    name.contains("llvmpipe")
}

#[test]
fn width_65537_writes_every_output_or_is_refused_on_lavapipe() {
    if on_lavapipe() {
        let err = Wide::new(&cubenet::default_device(), 3, 7)
            .err()
            .expect("refused");
        let text = err.to_string();
        assert!(
            text.contains("the loss head (`fc2`) runs up to 131074 loop iterations")
                && text.contains("No batch size fits"),
            "{text}"
        );
    } else {
        check::<Wide>(3, &[3, 2, 1]);
        gradients_do_not_accumulate::<Wide>(3);
    }
}

#[test]
fn a_kernel_at_the_loop_limit_writes_every_output() {
    check::<AtLoopLimit>(3, &[3, 1]);
    if on_lavapipe() {
        let text = OverLoopLimit::new(&cubenet::default_device(), 3, 7)
            .err()
            .expect("refused")
            .to_string();
        assert!(text.contains("65536 loop iterations"), "{text}");
    } else {
        check::<OverLoopLimit>(3, &[3, 1]);
    }
}

/// The weight gradient of a linear layer loops over the batch (and its blocks of 32): on
/// lavapipe that bounds the batch size, and the error names the largest that fits.
#[test]
fn a_batch_above_the_loop_limit_is_refused_on_lavapipe_naming_the_largest_that_fits() {
    if !on_lavapipe() {
        return;
    }
    let text = Widths::new(&cubenet::default_device(), 70000, 7)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        text.contains("at batch size 70000")
            && text.contains("the weight gradient of `fc5` runs up to 72188 loop iterations")
            && text.contains("at most 63548"),
        "{text}"
    );
}

#[test]
fn conv_blocks_write_every_output() {
    check::<Convs>(5, &[5, 5, 2, 1]);
    gradients_do_not_accumulate::<Convs>(5);
}

/// The conv weight gradients are reduced in fixed chunks (a few conv rows of one sample), so
/// no LeNet-5 loop grows with more than a small multiple of the batch: the batch of 333 that
/// lavapipe's loop limit refused when one unit summed a weight over the whole batch runs now.
#[test]
fn lenet5_loops_stay_short_and_batch_333_runs_on_lavapipe() {
    let gpu = cubenet::Target::Gpu as usize;
    let (loops, what) = LeNet5::max_loop_iterations(332, true, gpu);
    assert!(loops <= 4096, "{what}: {loops}");
    assert!(
        LeNet5::max_loop_iterations(333, true, gpu).0 <= cubenet::__private::kernels::LOOP_LIMIT
    );
    if on_lavapipe() {
        assert!(LeNet5::new(&cubenet::default_device(), 333, 0).is_ok());
    }
}
