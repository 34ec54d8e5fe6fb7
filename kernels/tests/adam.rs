//! The optimizer passes over a flat arena (`adam_update` for Adam / AdamW, `sgd_pass`) against
//! the f64 references (`reference::Adam`, `reference::Sgd`) on seeded random parameters and
//! gradients, over several steps (state carried on the device), with a gradient scale (as
//! clipping passes) and arenas longer than one invocation per element (65536 units, 2
//! elements each, a short tail).
mod common;

use common::{assert_close, client, f64s, rng, uniform};
use cubecl::client::Client;
use cubecl::prelude::*;
use cubecl::server::Handle;
use cubenet_kernels::adam::{adam_update, pass_units, sgd_pass};
use cubenet_kernels::reference::{Adam, AdamOptions, Sgd, SgdOptions};
use cubenet_kernels::{AdamScalars, SgdFlags};

fn upload(client: &Client, v: &[f32]) -> Handle {
    client.create_from_slice(f32::as_bytes(v))
}

fn read(client: &Client, h: &Handle) -> Vec<f32> {
    f32::from_bytes(&client.read_one(h.clone()).expect("read back")).to_vec()
}

fn arg(h: &Handle, len: usize) -> BufferArg {
    unsafe { BufferArg::from_raw_parts(h.clone(), len) }
}

fn grid(units: usize) -> CubeCount {
    CubeCount::Static(units.div_ceil(64) as u32, 1, 1)
}

/// Runs `steps` Adam steps of `o` with fresh random gradients each step, scaled by `scale`,
/// on the device and in f64; compares parameters, moments and the stored (scaled) gradients
/// after every step.
fn adam_case(what: &str, seed: u64, len: usize, o: AdamOptions, scale: f32, steps: u64) {
    let client = client();
    let mut rng = rng(seed);
    let p0 = uniform(&mut rng, len, -1.0, 1.0);
    let zeros = vec![0f32; len];
    let (params, grads) = (upload(&client, &p0), upload(&client, &zeros));
    let (m, v) = (upload(&client, &zeros), upload(&client, &zeros));
    let mut reference = Adam::new(o, len);
    let mut want_p = f64s(&p0);
    let units = pass_units(len);
    for t in 1..=steps {
        // Gradients over several magnitudes, some exactly zero.
        let mut g = uniform(&mut rng, len, -1.0, 1.0);
        for (i, x) in g.iter_mut().enumerate() {
            *x *= [1.0, 1e-3, 10.0, 0.0][i % 4];
        }
        client.write(
            &grads,
            cubecl::bytes::Bytes::from_bytes_vec(f32::as_bytes(&g).to_vec()),
        );
        let s = AdamScalars::new(
            o.lr,
            o.beta1,
            o.beta2,
            o.eps,
            o.weight_decay,
            o.decoupled_weight_decay,
            t,
            scale,
        );
        unsafe {
            adam_update::launch_unchecked(
                &client,
                grid(units),
                CubeDim::new_1d(64),
                arg(&params, len),
                arg(&grads, len),
                arg(&m, len),
                arg(&v, len),
                len,
                units,
                s.grad_scale,
                s.weight_decay,
                s.decay_factor,
                s.lerp_weight,
                s.beta2,
                s.one_minus_beta2,
                s.neg_step_size,
                s.bias_correction2_sqrt,
                s.eps,
                s.flags,
            );
        }
        let scaled: Vec<f64> = g.iter().map(|&x| (x * scale) as f64).collect();
        reference.step(&mut want_p, &scaled);
        let at = format!("{what}, step {t}");
        assert_close(
            &format!("{at}: grads"),
            &read(&client, &grads),
            &scaled,
            None,
        );
        assert_close(
            &format!("{at}: exp_avg"),
            &read(&client, &m),
            &reference.exp_avg,
            None,
        );
        assert_close(
            &format!("{at}: exp_avg_sq"),
            &read(&client, &v),
            &reference.exp_avg_sq,
            None,
        );
        assert_close(
            &format!("{at}: params"),
            &read(&client, &params),
            &want_p,
            None,
        );
    }
    // The parameters moved: the comparison is not between two unchanged copies.
    let moved = read(&client, &params)
        .iter()
        .zip(&p0)
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        moved > len / 2,
        "{what}: only {moved} of {len} parameters changed"
    );
}

#[test]
fn adam_matches_the_reference_over_an_arena_of_two_elements_per_invocation() {
    // 70001 floats: 65536 invocations, the first 4465 with two elements.
    adam_case("adam", 1, 70001, AdamOptions::new(1e-2), 1.0, 3);
}

#[test]
fn adam_with_l2_weight_decay_a_small_beta1_and_a_gradient_scale_matches_the_reference() {
    let o = AdamOptions {
        beta1: 0.3, // lerp weight 0.7: torch.lerp's second form
        beta2: 0.99,
        eps: 1e-6,
        weight_decay: 0.1,
        ..AdamOptions::new(3e-2)
    };
    adam_case("adam l2", 2, 37, o, 0.37, 4);
}

#[test]
fn adamw_decoupled_weight_decay_matches_the_reference() {
    let o = AdamOptions {
        weight_decay: 0.05,
        decoupled_weight_decay: true,
        ..AdamOptions::new(2e-2)
    };
    adam_case("adamw", 3, 1000, o, 1.0, 3);
}

/// `sgd_pass` (momentum, dampening 0, weight decay, Nesterov) on scaled stored gradients,
/// two steps (the first initialises the momentum buffer).
#[test]
fn the_sgd_pass_matches_the_reference_on_scaled_gradients() {
    let client = client();
    let mut rng = rng(4);
    let len = 5000;
    let p0 = uniform(&mut rng, len, -1.0, 1.0);
    let zeros = vec![0f32; len];
    let (params, velocity, grads) = (
        upload(&client, &p0),
        upload(&client, &zeros),
        upload(&client, &zeros),
    );
    let o = SgdOptions {
        momentum: 0.9,
        weight_decay: 1e-3,
        nesterov: true,
        ..SgdOptions::new(0.05)
    };
    let mut reference = Sgd::new(o);
    let mut want_p = f64s(&p0);
    let scale = 0.25f32;
    let units = pass_units(len);
    for step in 0..2 {
        let g = uniform(&mut rng, len, -1.0, 1.0);
        client.write(
            &grads,
            cubecl::bytes::Bytes::from_bytes_vec(f32::as_bytes(&g).to_vec()),
        );
        let flags = SgdFlags::NESTEROV | if step == 0 { SgdFlags::FIRST_STEP } else { 0 };
        unsafe {
            sgd_pass::launch_unchecked(
                &client,
                grid(units),
                CubeDim::new_1d(64),
                arg(&params, len),
                arg(&velocity, len),
                arg(&grads, len),
                len,
                units,
                scale,
                o.lr as f32,
                o.momentum as f32,
                o.dampening as f32,
                o.weight_decay as f32,
                flags,
            );
        }
        let scaled: Vec<f64> = g.iter().map(|&x| (x * scale) as f64).collect();
        reference.step(&mut want_p, &scaled);
        assert_close(
            &format!("sgd step {step}: grads"),
            &read(&client, &grads),
            &scaled,
            None,
        );
        assert_close(
            &format!("sgd step {step}: momentum"),
            &read(&client, &velocity),
            reference.momentum_buffer.as_ref().unwrap(),
            None,
        );
        assert_close(
            &format!("sgd step {step}: params"),
            &read(&client, &params),
            &want_p,
            None,
        );
    }
}
