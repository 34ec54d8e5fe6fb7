//! Runs a conv or linear block (forward, then input and weight gradients) on the device and
//! checks every arena against a reference.
use cubecl::client::Client;
use cubenet_kernels::reference::{Sgd, SgdOptions};
use cubenet_kernels::SgdFlags;

use super::blocks::{BlockRef, Layout, IDX_SENTINEL, PARAM_PAD, SENTINEL};
use super::launch::{Arenas, Gpu, SgdArgs};
use super::{f64s, Expect};

/// The arenas before the run, after the forward launch, and after the backward launches.
pub struct Run {
    pub init: Arenas,
    pub fwd: Arenas,
    pub bwd: Arenas,
}

/// Fills the arenas of `lay` for `cap` samples (the first `n` rows of the input `x` and of
/// the upstream gradient `g`, the weight and bias), runs `forward`, reads back, runs
/// `backward`, reads back.
#[allow(clippy::too_many_arguments)]
pub fn run_block(
    client: &Client,
    lay: &Layout,
    n: usize,
    cap: usize,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    g: &[f32],
    forward: impl Fn(&Gpu),
    backward: impl Fn(&Gpu),
) -> Run {
    assert!(
        n <= cap && x.len() == n * lay.in_len && g.len() == n * lay.out_len && w.len() == lay.w_len
    );
    let mut params = vec![SENTINEL; lay.params_len()];
    params[PARAM_PAD..PARAM_PAD + lay.w_len].copy_from_slice(w);
    if let Some(b) = b {
        assert_eq!(b.len(), lay.b_len);
        params[PARAM_PAD + lay.w_len..PARAM_PAD + lay.w_len + lay.b_len].copy_from_slice(b);
    }
    let per_sample = lay.per_sample();
    let mut acts = vec![SENTINEL; per_sample * cap];
    acts[..x.len()].copy_from_slice(x);
    acts[lay.out_grad() * cap..lay.out_grad() * cap + g.len()].copy_from_slice(g);
    let velocity: Vec<f32> = (0..params.len()).map(|i| 0.25 * i as f32 - 1.0).collect();
    let init = Arenas {
        params,
        velocity,
        grads: vec![SENTINEL; lay.params_len()],
        acts,
        idx: vec![IDX_SENTINEL; (1 + lay.out_len) * cap],
        part: vec![SENTINEL; (lay.part_per_sample * cap).max(1)],
    };
    let gpu = Gpu::new(client, &init);
    forward(&gpu);
    let fwd = gpu.read();
    backward(&gpu);
    let bwd = gpu.read();
    Run { init, fwd, bwd }
}

/// Checks a [`run_block`] against the reference `r` for `n` of `cap` rows: the forward writes
/// exactly the output rows (and argmax rows), the backward exactly the input-gradient rows
/// and the parameter gradients, and the parameters and momentum buffer follow `sgd` (which
/// must have been the weight-gradient launch's arguments); nothing else changes.
pub fn check_block(
    what: &str,
    lay: &Layout,
    run: &Run,
    n: usize,
    cap: usize,
    r: &BlockRef,
    sgd: SgdArgs,
) {
    assert_eq!(r.out.len(), n * lay.out_len);
    let (init, fwd, bwd) = (&run.init, &run.fwd, &run.bwd);
    let mut acts = Expect::new(&format!("{what}: acts after forward"), &init.acts);
    acts.set(lay.out_act() * cap, &r.out, &r.out_scale);
    if lay.pre {
        acts.set(lay.pre_act() * cap, &r.pre, &r.out_scale);
    }
    acts.check(&fwd.acts);
    let mut idx = init.idx.clone();
    if lay.pooled {
        let am = r.argmax.as_ref().expect("a pooled block has an argmax");
        for (i, &a) in am.iter().enumerate() {
            idx[cap + i] = a as u32;
        }
    }
    assert_eq!(fwd.idx, idx, "{what}: idx after forward (pool argmax)");
    assert_eq!(
        (&fwd.params, &fwd.velocity, &fwd.grads),
        (&init.params, &init.velocity, &init.grads),
        "{what}: forward touched a parameter arena"
    );

    acts.rename(&format!("{what}: acts after backward"));
    acts.set(lay.in_grad() * cap, &r.grad_x, &r.grad_x_scale);
    if lay.dconv_len > 0 {
        acts.set(lay.dconv() * cap, &r.grad_conv, &r.grad_conv_scale);
    }
    acts.check(&bwd.acts);
    assert_eq!(bwd.idx, idx, "{what}: idx after backward");
    let b_at = PARAM_PAD + lay.w_len;
    let mut grads = Expect::new(&format!("{what}: grads"), &init.grads);
    grads.set(PARAM_PAD, &r.grad_w, &r.grad_w_scale);
    if lay.b_len > 0 {
        grads.set(b_at, &r.grad_b, &r.grad_b_scale);
    }
    grads.check(&bwd.grads);

    if sgd.flags & SgdFlags::NO_UPDATE != 0 {
        assert_eq!(
            bwd.params, init.params,
            "{what}: NO_UPDATE changed a parameter"
        );
        assert_eq!(
            bwd.velocity, init.velocity,
            "{what}: NO_UPDATE changed the momentum buffer"
        );
        return;
    }
    // The f64 SGD step on the reference gradients, from the same parameters and buffer.
    let end = b_at + lay.b_len;
    let (g, gs): (Vec<f64>, Vec<f64>) = {
        let mut g = r.grad_w.clone();
        let mut gs = r.grad_w_scale.clone();
        if lay.b_len > 0 {
            g.extend(&r.grad_b);
            gs.extend(&r.grad_b_scale);
        }
        (g, gs)
    };
    let mut p = f64s(&init.params[PARAM_PAD..end]);
    let v0 = f64s(&init.velocity[PARAM_PAD..end]);
    let mut opt = Sgd::new(SgdOptions {
        lr: sgd.lr as f64,
        momentum: sgd.momentum as f64,
        dampening: sgd.dampening as f64,
        weight_decay: sgd.weight_decay as f64,
        nesterov: sgd.flags & SgdFlags::NESTEROV != 0,
    });
    if sgd.flags & SgdFlags::FIRST_STEP == 0 {
        opt.momentum_buffer = Some(v0.clone());
    }
    let p0 = p.clone();
    opt.step(&mut p, &g);
    let o = opt.options;
    let scale = |i: usize| {
        p0[i].abs() + 4.0 * o.lr * (1.0 + o.momentum) * (gs[i] + g[i].abs() + v0[i].abs())
    };
    let mut params = Expect::new(&format!("{what}: params after SGD"), &init.params);
    params.set(PARAM_PAD, &p, &(0..p.len()).map(scale).collect::<Vec<_>>());
    params.check(&bwd.params);
    let mut vel = Expect::new(&format!("{what}: velocity after SGD"), &init.velocity);
    if let Some(buf) = &opt.momentum_buffer {
        let vs: Vec<f64> = (0..p.len())
            .map(|i| (1.0 + o.momentum) * (gs[i] + g[i].abs() + v0[i].abs() + p0[i].abs()))
            .collect();
        vel.set(PARAM_PAD, buf, &vs);
    }
    vel.check(&bwd.velocity);
}
