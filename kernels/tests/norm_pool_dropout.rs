//! The BatchNorm block (`norm_*_unit`), Dropout (`dropout_*_unit`) and average-pool
//! (`avg_pool_*_unit`) building blocks against the f64 references on seeded random inputs.
//!
//! As in `conv_blocks.rs`, every case checks whole arenas: the values a launch must write
//! (outputs, pool argmax, running statistics, the per-plane partial sums, `dy`, d(input),
//! parameter gradients, the SGD step) and that nothing else changes (rows >= n of a short
//! batch, the other tensors, the padding around the parameters and buffers).
mod common;

use common::blocks::{max_pool_cfg, reference_act, PoolSpec, IDX_SENTINEL, PARAM_PAD, SENTINEL};
use common::launch::{Arenas, Gpu, SgdArgs};
use common::{abs, check_u32, client, f64s, rng, uniform, Expect};
use cubenet_kernels::dropout::mix_host;
use cubenet_kernels::reference::{self as r, AvgPool2dShape, AvgPoolKind, BatchNormShape};
use cubenet_kernels::{Act, AvgPoolCfg, DropoutCfg, NormCfg, SgdFlags};

// ---------------------------------------------------------------------------------------------
// BatchNorm block
// ---------------------------------------------------------------------------------------------

/// Floats before the running statistics in the test's `bufs` buffer (must stay untouched),
/// and after them.
const BUF_PAD: usize = 2;

/// A norm block as the tests describe it: BatchNorm (+ residual) (+ activation) (+ max-pool).
#[derive(Clone, Copy, Debug)]
struct NormSpec {
    c: usize,
    h: usize,
    w: usize,
    eps: f32,
    momentum: f32,
    act: Act,
    pool: Option<PoolSpec>,
    skip: bool,
}

/// Per-sample offsets of the test layout in `acts`: input, residual input, output,
/// d(output), d(input), `dy`, forward partials (`2c`), backward partials (`2c`).
struct NormLayout {
    in_len: usize,
    out_len: usize,
    skip: usize,
    out: usize,
    out_grad: usize,
    in_grad: usize,
    dy: usize,
    stat: usize,
    gstat: usize,
    per_sample: usize,
}

impl NormSpec {
    fn shape(&self, n: usize) -> BatchNormShape {
        BatchNormShape {
            n,
            c: self.c,
            h: self.h,
            w: self.w,
        }
    }

    fn pool_shape(&self, n: usize) -> Option<r::MaxPool2dShape> {
        self.pool
            .map(|(kernel, stride, padding)| r::MaxPool2dShape {
                n,
                c: self.c,
                h_in: self.h,
                w_in: self.w,
                kernel,
                stride,
                padding,
                ceil_mode: false,
            })
    }

    fn layout(&self) -> NormLayout {
        let in_len = self.c * self.h * self.w;
        let out_len = match self.pool_shape(1) {
            Some(p) => p.output_len(),
            None => in_len,
        };
        let (skip, out) = (in_len, 2 * in_len);
        let out_grad = out + out_len;
        let in_grad = out_grad + out_len;
        let dy = in_grad + in_len;
        let stat = dy + in_len;
        let gstat = stat + 2 * self.c;
        NormLayout {
            in_len,
            out_len,
            skip,
            out,
            out_grad,
            in_grad,
            dy,
            stat,
            gstat,
            per_sample: gstat + 2 * self.c,
        }
    }

    fn cfg(&self) -> NormCfg {
        let l = self.layout();
        let pool = max_pool_cfg(self.pool_shape(1).as_ref(), (self.h, self.w));
        let (h_out, w_out) = (pool.out_h, pool.out_w);
        NormCfg {
            num_features: self.c,
            h: self.h,
            w: self.w,
            eps: self.eps.to_bits(),
            momentum: self.momentum.to_bits(),
            act: self.act,
            pool,
            out_h: h_out,
            out_w: w_out,
            w_off: PARAM_PAD,
            b_off: PARAM_PAD + self.c,
            rm_off: BUF_PAD,
            rv_off: BUF_PAD + self.c,
            in_act: 0,
            out_act: l.out,
            in_grad: l.in_grad,
            out_grad: l.out_grad,
            argmax: 1,
            stat: l.stat,
            gstat: l.gstat,
            dy: l.dy,
            skip: self.skip,
            skip_act: l.skip,
            input_grad: true,
            samples_per_unit: 1,
        }
    }
}

/// The random inputs of one norm case.
struct NormData {
    x: Vec<f32>,
    skip: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    rm: Vec<f32>,
    rv: Vec<f32>,
    g: Vec<f32>,
}

impl NormData {
    fn new(seed: u64, spec: &NormSpec, n: usize) -> Self {
        let mut rng = rng(seed);
        let l = spec.layout();
        // Per-channel offsets so that the channels' means differ.
        let x = uniform(&mut rng, n * l.in_len, -1.5, 1.5)
            .iter()
            .enumerate()
            .map(|(i, v)| v + 0.5 * ((i / (spec.h * spec.w)) % spec.c) as f32 - 0.4)
            .collect();
        Self {
            x,
            skip: uniform(&mut rng, n * l.in_len, -1.0, 1.0),
            gamma: uniform(&mut rng, spec.c, 0.5, 1.5),
            beta: uniform(&mut rng, spec.c, -0.5, 0.5),
            rm: uniform(&mut rng, spec.c, -0.3, 0.3),
            rv: uniform(&mut rng, spec.c, 0.5, 2.0),
            g: uniform(&mut rng, n * l.out_len, -1.0, 1.0),
        }
    }
}

/// The f64 reference of the norm block, with the scales (sums of absolute terms) for
/// `common::tol`.
struct NormRef {
    out: Vec<f64>,
    out_scale: Vec<f64>,
    argmax: Option<Vec<usize>>,
    running_mean: Vec<f64>,
    running_var: Vec<f64>,
    running_scale: Vec<f64>,
    /// Per (sample, channel) plane: mean, `sum((x - plane mean)^2)` (`2c` per sample).
    stat: Vec<f64>,
    stat_scale: Vec<f64>,
    dy: Vec<f64>,
    dy_scale: Vec<f64>,
    /// Per plane: `sum(dy)`, `sum((x - batch mean) * dy)` (`2c` per sample).
    gstat: Vec<f64>,
    gstat_scale: Vec<f64>,
    grad_x: Vec<f64>,
    grad_x_scale: Vec<f64>,
    /// d(gamma) then d(beta).
    grad_p: Vec<f64>,
    grad_p_scale: Vec<f64>,
}

fn norm_ref(spec: &NormSpec, n: usize, d: &NormData, train: bool) -> NormRef {
    let s = spec.shape(n);
    let (hw, c) = (spec.h * spec.w, spec.c);
    let (x, skip, gamma, beta) = (f64s(&d.x), f64s(&d.skip), f64s(&d.gamma), f64s(&d.beta));
    let (rm, rv) = (f64s(&d.rm), f64s(&d.rv));
    let (eps, momentum) = (spec.eps as f64, spec.momentum as f64);
    let (mut y, mean, var) = if train {
        let bt = r::batch_norm_train_forward(&s, &x, &gamma, &beta, &rm, &rv, momentum, eps);
        (bt.output, bt.mean, bt.var)
    } else {
        let y = r::batch_norm_eval_forward(&s, &x, &gamma, &beta, &rm, &rv, eps);
        (y, rm.clone(), rv.clone())
    };
    let ch = |i: usize| (i / hw) % c;
    let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let mut y_scale: Vec<f64> = (0..y.len())
        .map(|i| {
            let k = ch(i);
            (x[i].abs() + mean[k].abs()) * invstd[k] * gamma[k].abs() + beta[k].abs()
        })
        .collect();
    if spec.skip {
        for i in 0..y.len() {
            y[i] += skip[i];
            y_scale[i] += skip[i].abs();
        }
    }
    let ra = reference_act(spec.act);
    let a = match ra {
        Some(act) => r::activation_forward(act, &y),
        None => y.clone(),
    };
    let (out, out_scale, argmax, g_a) = match spec.pool_shape(n) {
        Some(ps) => {
            let p = r::max_pool2d_forward(&ps, &a);
            let plane_out = ps.h_out() * ps.w_out();
            let at = |i: usize| (i / plane_out) * hw + p.indices[i];
            let scale = (0..p.indices.len()).map(|i| y_scale[at(i)]).collect();
            let g_a = r::max_pool2d_backward(&ps, &p.indices, &f64s(&d.g));
            (p.output, scale, Some(p.indices), g_a)
        }
        None => (a, y_scale.clone(), None, f64s(&d.g)),
    };
    let dy = match ra {
        Some(act) => r::activation_backward(act, &y, &g_a),
        None => g_a.clone(),
    };
    let dy_scale: Vec<f64> = (0..dy.len())
        .map(|i| g_a[i].abs() * (1.0 + y_scale[i]))
        .collect();
    if !train {
        return NormRef {
            out,
            out_scale,
            argmax,
            running_mean: vec![],
            running_var: vec![],
            running_scale: vec![],
            stat: vec![],
            stat_scale: vec![],
            dy,
            dy_scale,
            gstat: vec![],
            gstat_scale: vec![],
            grad_x: vec![],
            grad_x_scale: vec![],
            grad_p: vec![],
            grad_p_scale: vec![],
        };
    }
    let bt = r::batch_norm_train_forward(&s, &x, &gamma, &beta, &rm, &rv, momentum, eps);
    let grads = r::batch_norm_train_backward(&s, &x, &gamma, eps, &dy);

    // Per-plane partials, straight from their definitions.
    let (mut stat, mut stat_scale) = (vec![0.0; 2 * c * n], vec![0.0; 2 * c * n]);
    let (mut gstat, mut gstat_scale) = (vec![0.0; 2 * c * n], vec![0.0; 2 * c * n]);
    let m = (n * hw) as f64;
    let mut sum_dy = vec![0.0; c];
    let mut sum_abs_dy = vec![0.0; c];
    let mut sum_xhat_dy_abs = vec![0.0; c];
    for smp in 0..n {
        for k in 0..c {
            let plane = (smp * c + k) * hw..(smp * c + k + 1) * hw;
            let pm = plane.clone().map(|i| x[i]).sum::<f64>() / hw as f64;
            let sq = |i: usize| (x[i] - pm).powi(2);
            stat[smp * 2 * c + k] = pm;
            stat_scale[smp * 2 * c + k] =
                plane.clone().map(|i| x[i].abs()).sum::<f64>() / hw as f64;
            stat[smp * 2 * c + c + k] = plane.clone().map(sq).sum();
            stat_scale[smp * 2 * c + c + k] = plane.clone().map(|i| x[i] * x[i]).sum();
            gstat[smp * 2 * c + k] = plane.clone().map(|i| dy[i]).sum();
            gstat_scale[smp * 2 * c + k] = plane.clone().map(|i| dy[i].abs()).sum();
            gstat[smp * 2 * c + c + k] = plane.clone().map(|i| (x[i] - bt.mean[k]) * dy[i]).sum();
            gstat_scale[smp * 2 * c + c + k] = plane
                .clone()
                .map(|i| (x[i].abs() + bt.mean[k].abs()) * dy[i].abs())
                .sum();
            sum_dy[k] += gstat[smp * 2 * c + k];
            sum_abs_dy[k] += gstat_scale[smp * 2 * c + k];
            sum_xhat_dy_abs[k] += gstat_scale[smp * 2 * c + c + k];
        }
    }
    let binv: Vec<f64> = bt.var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let grad_x_scale = (0..x.len())
        .map(|i| {
            let k = ch(i);
            let xh = (x[i].abs() + bt.mean[k].abs()) * binv[k];
            gamma[k].abs()
                * binv[k]
                * (dy[i].abs() + sum_abs_dy[k] / m + xh * sum_xhat_dy_abs[k] * binv[k] / m)
        })
        .collect();
    let mut grad_p = grads.weight.clone();
    grad_p.extend(&grads.bias);
    let mut grad_p_scale: Vec<f64> = (0..c).map(|k| sum_xhat_dy_abs[k] * binv[k]).collect();
    grad_p_scale.extend(&sum_abs_dy);
    let unbiased = m / (m - 1.0);
    let mut running_scale: Vec<f64> = (0..c)
        .map(|k| momentum * stat_scale_mean(&stat_scale, k, c, n) + (1.0 - momentum) * rm[k].abs())
        .collect();
    running_scale.extend(
        (0..c).map(|k| momentum * bt.var[k] * unbiased * 2.0 + (1.0 - momentum) * rv[k].abs()),
    );
    NormRef {
        out,
        out_scale,
        argmax,
        running_mean: bt.running_mean,
        running_var: bt.running_var,
        running_scale,
        stat,
        stat_scale,
        dy,
        dy_scale,
        gstat,
        gstat_scale,
        grad_x: grads.input,
        grad_x_scale,
        grad_p,
        grad_p_scale,
    }
}

/// The mean of the per-plane `mean(|x|)` of channel `k` (the scale of its batch mean).
fn stat_scale_mean(stat_scale: &[f64], k: usize, c: usize, n: usize) -> f64 {
    (0..n).map(|s| stat_scale[s * 2 * c + k]).sum::<f64>() / n as f64
}

/// The arenas, and the `bufs` buffer, before a norm run, after its forward launches and
/// after its backward launches.
struct NormRun {
    init: Arenas,
    init_bufs: Vec<f32>,
    fwd: Arenas,
    fwd_bufs: Vec<f32>,
    bwd: Arenas,
    bwd_bufs: Vec<f32>,
}

/// `samples_per_unit`: the units' grouping of samples (see `NormCfg`; 0: the whole batch).
fn run_norm(
    spec: &NormSpec,
    n: usize,
    cap: usize,
    d: &NormData,
    train: bool,
    sgd: SgdArgs,
    samples_per_unit: usize,
) -> NormRun {
    let (l, c) = (spec.layout(), spec.c);
    let cfg = NormCfg {
        samples_per_unit,
        ..spec.cfg()
    };
    let mut params = vec![SENTINEL; PARAM_PAD + 2 * c + 2];
    params[PARAM_PAD..PARAM_PAD + c].copy_from_slice(&d.gamma);
    params[PARAM_PAD + c..PARAM_PAD + 2 * c].copy_from_slice(&d.beta);
    let mut acts = vec![SENTINEL; l.per_sample * cap];
    acts[..d.x.len()].copy_from_slice(&d.x);
    if spec.skip {
        acts[l.skip * cap..l.skip * cap + d.skip.len()].copy_from_slice(&d.skip);
    }
    acts[l.out_grad * cap..l.out_grad * cap + d.g.len()].copy_from_slice(&d.g);
    let mut bufs = vec![SENTINEL; 2 * BUF_PAD + 2 * c];
    bufs[BUF_PAD..BUF_PAD + c].copy_from_slice(&d.rm);
    bufs[BUF_PAD + c..BUF_PAD + 2 * c].copy_from_slice(&d.rv);
    let init = Arenas {
        velocity: (0..params.len()).map(|i| 0.25 * i as f32 - 1.0).collect(),
        grads: vec![SENTINEL; params.len()],
        params,
        acts,
        idx: vec![IDX_SENTINEL; (1 + l.out_len) * cap],
        part: vec![0.0],
    };
    let gpu = Gpu::new(&client(), &init);
    let b = gpu.upload(&bufs);
    if train {
        gpu.norm_stats(cfg, n, cap);
    }
    gpu.norm_forward(&b, train, cfg, n, cap);
    let (fwd, fwd_bufs) = (gpu.read(), gpu.read_buffer(&b));
    if train {
        gpu.norm_grad(cfg, n, cap);
        // d(input) reads gamma, so it runs before the update.
        gpu.norm_input_grad(cfg, n, cap);
        gpu.norm_weight_grad(cfg, n, cap, sgd);
    }
    let (bwd, bwd_bufs) = (gpu.read(), gpu.read_buffer(&b));
    NormRun {
        init,
        init_bufs: bufs,
        fwd,
        fwd_bufs,
        bwd,
        bwd_bufs,
    }
}

/// Runs a norm block (train: stats, forward, grad, input grad, weight grad; eval: forward)
/// and checks every arena against [`norm_ref`].
fn norm_case(
    what: &str,
    seed: u64,
    spec: NormSpec,
    n: usize,
    cap: usize,
    train: bool,
    sgd: SgdArgs,
) {
    let (l, c) = (spec.layout(), spec.c);
    let d = NormData::new(seed, &spec, n);
    let rf = norm_ref(&spec, n, &d, train);
    if train && spec.act.is_some() && spec.pool.is_none() {
        // The activation's derivative is exercised (not 1 everywhere).
        let changed = rf
            .dy
            .iter()
            .zip(&d.g)
            .filter(|(dy, g)| (**dy - **g as f64).abs() > 1e-9)
            .count();
        assert!(
            changed > 0,
            "{what}: the activation should change some gradients"
        );
    }
    let run = run_norm(&spec, n, cap, &d, train, sgd, 1);
    let (init, fwd, bwd) = (&run.init, &run.fwd, &run.bwd);
    // Units of several samples (the whole batch, or groups of 3 with a short last one) give
    // bitwise the same arenas as one plane per unit.
    let bits = |a: &Arenas, b: &[f32]| {
        let f = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        (
            f(&a.params),
            f(&a.velocity),
            f(&a.grads),
            f(&a.acts),
            a.idx.clone(),
            f(b),
        )
    };
    for group in [0, 3] {
        let other = run_norm(&spec, n, cap, &d, train, sgd, group);
        assert!(
            bits(&other.fwd, &other.fwd_bufs) == bits(fwd, &run.fwd_bufs)
                && bits(&other.bwd, &other.bwd_bufs) == bits(bwd, &run.bwd_bufs),
            "{what}: {group} samples per unit changed a result"
        );
    }

    // Forward: output rows, argmax rows, (train) partials and running statistics.
    let mut acts = Expect::new(&format!("{what}: acts after forward"), &init.acts);
    acts.set(l.out * cap, &rf.out, &rf.out_scale);
    if train {
        acts.set(l.stat * cap, &rf.stat, &rf.stat_scale);
    }
    acts.check(&fwd.acts);
    let am: Vec<u32> = rf
        .argmax
        .as_ref()
        .map(|a| a.iter().map(|&v| v as u32).collect())
        .unwrap_or_default();
    check_u32(
        &format!("{what}: idx after forward (pool argmax)"),
        &fwd.idx,
        &init.idx,
        cap,
        &am,
    );
    let mut bufs = Expect::new(&format!("{what}: running statistics"), &run.init_bufs);
    if train {
        bufs.set(BUF_PAD, &rf.running_mean, &rf.running_scale[..c]);
        bufs.set(BUF_PAD + c, &rf.running_var, &rf.running_scale[c..]);
    }
    bufs.check(&run.fwd_bufs);
    assert_eq!(
        (&fwd.params, &fwd.velocity, &fwd.grads),
        (&init.params, &init.velocity, &init.grads),
        "{what}: forward touched a parameter arena"
    );
    if !train {
        assert_eq!(bwd, fwd);
        return;
    }

    // Backward: dy, the backward partials, d(input), d(gamma), d(beta), the SGD step.
    acts.rename(&format!("{what}: acts after backward"));
    acts.set(l.dy * cap, &rf.dy, &rf.dy_scale);
    acts.set(l.gstat * cap, &rf.gstat, &rf.gstat_scale);
    acts.set(l.in_grad * cap, &rf.grad_x, &rf.grad_x_scale);
    acts.check(&bwd.acts);
    assert_eq!(bwd.idx, fwd.idx, "{what}: idx after backward");
    assert_eq!(
        run.bwd_bufs, run.fwd_bufs,
        "{what}: backward touched the running statistics"
    );
    let mut grads = Expect::new(&format!("{what}: grads"), &init.grads);
    grads.set(PARAM_PAD, &rf.grad_p, &rf.grad_p_scale);
    grads.check(&bwd.grads);
    check_sgd(what, init, bwd, &rf.grad_p, &rf.grad_p_scale, sgd);
}

/// The parameters and momentum buffer after the weight-gradient launch: unchanged with
/// `NO_UPDATE`, else the f64 SGD step on the reference gradients (as `check_block`).
fn check_sgd(what: &str, init: &Arenas, bwd: &Arenas, g: &[f64], gs: &[f64], sgd: SgdArgs) {
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
    let end = PARAM_PAD + g.len();
    let mut p = f64s(&init.params[PARAM_PAD..end]);
    let v0 = f64s(&init.velocity[PARAM_PAD..end]);
    let mut opt = r::Sgd::new(r::SgdOptions {
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
    opt.step(&mut p, g);
    let o = opt.options;
    let scale = |i: usize| {
        p0[i].abs() + 4.0 * o.lr * (1.0 + o.momentum) * (gs[i] + g[i].abs() + v0[i].abs())
    };
    let mut params = Expect::new(&format!("{what}: params after SGD"), &init.params);
    params.set(PARAM_PAD, &p, &(0..p.len()).map(scale).collect::<Vec<_>>());
    params.check(&bwd.params);
    let mut vel = Expect::new(&format!("{what}: velocity after SGD"), &init.velocity);
    if let Some(buf) = opt.momentum_buffer.as_ref().filter(|_| o.momentum != 0.0) {
        let vs: Vec<f64> = (0..p.len())
            .map(|i| (1.0 + o.momentum) * (gs[i] + g[i].abs() + v0[i].abs() + p0[i].abs()))
            .collect();
        vel.set(PARAM_PAD, buf, &vs);
    }
    vel.check(&bwd.velocity);
}

const PLAIN_SGD_LR_0: SgdArgs = SgdArgs {
    lr: 0.0,
    momentum: 0.0,
    dampening: 0.0,
    weight_decay: 0.0,
    flags: 0,
};

fn bn2d(act: Act, pool: Option<PoolSpec>) -> NormSpec {
    NormSpec {
        c: 3,
        h: 6,
        w: 5,
        eps: 1e-5,
        momentum: 0.1,
        act,
        pool,
        skip: false,
    }
}

#[test]
fn batch_norm2d_train_without_activation() {
    norm_case(
        "BatchNorm2d 3x6x5, n 3 of cap 4",
        1,
        bn2d(Act::None, None),
        3,
        4,
        true,
        SgdArgs::NO_UPDATE,
    );
}

#[test]
fn batch_norm2d_train_with_relu_and_gelu() {
    for (i, act) in [Act::Relu, Act::Gelu].into_iter().enumerate() {
        norm_case(
            &format!("BatchNorm2d 3x6x5 + {act:?}, n 2 of cap 3"),
            10 + i as u64,
            bn2d(act, None),
            2,
            3,
            true,
            PLAIN_SGD_LR_0,
        );
    }
}

#[test]
fn batch_norm2d_train_with_activation_and_max_pool() {
    let pools: [PoolSpec; 2] = [((2, 2), (2, 2), (0, 0)), ((3, 2), (2, 1), (1, 0))];
    for (i, act) in [Act::None, Act::Relu, Act::Gelu].into_iter().enumerate() {
        for (j, pool) in pools.into_iter().enumerate() {
            norm_case(
                &format!("BatchNorm2d 3x6x5 + {act:?} + pool {pool:?}, n 3 of cap 4"),
                20 + 2 * i as u64 + j as u64,
                bn2d(act, Some(pool)),
                3,
                4,
                true,
                SgdArgs::NO_UPDATE,
            );
        }
    }
}

/// eps and momentum away from their defaults, a momentum SGD step, and a residual input
/// (ResNet's `relu(bn(x) + skip)`).
#[test]
fn batch_norm2d_train_residual_relu_momentum_step() {
    let spec = NormSpec {
        c: 2,
        h: 4,
        w: 7,
        eps: 0.01,
        momentum: 0.3,
        act: Act::Relu,
        pool: None,
        skip: true,
    };
    let sgd = SgdArgs::MOMENTUM;
    norm_case(
        "BatchNorm2d 2x4x7 + skip + Relu, SGD step",
        30,
        spec,
        2,
        2,
        true,
        sgd,
    );
}

#[test]
fn batch_norm1d_train() {
    for (i, act) in [Act::None, Act::Relu, Act::Gelu].into_iter().enumerate() {
        let spec = NormSpec {
            c: 7,
            h: 1,
            w: 1,
            eps: 1e-5,
            momentum: 0.1,
            act,
            pool: None,
            skip: false,
        };
        let sgd = if i == 0 {
            SgdArgs {
                lr: 0.05,
                momentum: 0.0,
                dampening: 0.0,
                weight_decay: 0.0,
                flags: SgdFlags::FIRST_STEP,
            }
        } else {
            SgdArgs::NO_UPDATE
        };
        norm_case(
            &format!("BatchNorm1d 7 + {act:?}, n 6 of cap 8"),
            40 + i as u64,
            spec,
            6,
            8,
            true,
            sgd,
        );
    }
    // The smallest training batch: 2 values per channel.
    let spec = NormSpec {
        c: 4,
        h: 1,
        w: 1,
        eps: 1e-5,
        momentum: 0.1,
        act: Act::None,
        pool: None,
        skip: false,
    };
    norm_case(
        "BatchNorm1d 4, n 2 of cap 3",
        45,
        spec,
        2,
        3,
        true,
        PLAIN_SGD_LR_0,
    );
}

#[test]
fn batch_norm_eval_forward_uses_running_statistics() {
    let cases = [
        bn2d(Act::None, None),
        bn2d(Act::Relu, Some(((3, 2), (2, 1), (1, 0)))),
        NormSpec {
            skip: true,
            ..bn2d(Act::Gelu, None)
        },
        NormSpec {
            c: 5,
            h: 1,
            w: 1,
            ..bn2d(Act::Relu, None)
        },
    ];
    for (i, spec) in cases.into_iter().enumerate() {
        // Eval accepts a batch of 1.
        let n = if i == 3 { 1 } else { 2 };
        norm_case(
            &format!("eval {spec:?}, n {n} of cap 3"),
            50 + i as u64,
            spec,
            n,
            3,
            false,
            SgdArgs::NO_UPDATE,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Dropout
// ---------------------------------------------------------------------------------------------

/// `lowbias32` as `kernels/src/dropout.rs` documents it (Chris Wellons), written out here.
fn lowbias32(mut x: u32) -> u32 {
    x = (x ^ (x >> 16)).wrapping_mul(0x7feb_352d);
    x = (x ^ (x >> 15)).wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// The documented mask: element `i` of the `k`-th Dropout is kept when
/// `mix(mix(seed ^ salt) ^ i) >= floor(p * 2^32)`, `salt = (k + 1) * 0x9E3779B9`.
fn host_keep(seed: u32, k: u32, p: f32, i: usize) -> bool {
    let salt = (k + 1).wrapping_mul(0x9E37_79B9);
    let threshold = (p as f64 * 4294967296.0).floor() as u32;
    lowbias32(lowbias32(seed ^ salt) ^ i as u32) >= threshold
}

/// Per-sample layout in `acts`: input, output, d(output), d(input), each `len` floats.
fn dropout_cfg(len: usize, p: f32, k: u32) -> DropoutCfg {
    DropoutCfg {
        len,
        threshold: (p as f64 * 4294967296.0).floor() as u32,
        scale: ((1.0 / (1.0 - p as f64)) as f32).to_bits(),
        salt: (k + 1).wrapping_mul(0x9E37_79B9),
        in_act: 0,
        out_act: len,
        out_grad: 2 * len,
        in_grad: 3 * len,
    }
}

/// Runs the Dropout forward (train or eval) and, in training, its input gradient with the
/// same seed, on `n` of `cap` rows; returns (init, after forward, after backward) `acts`.
fn run_dropout(
    cfg: DropoutCfg,
    n: usize,
    cap: usize,
    seed: u32,
    train: bool,
    x: &[f32],
    g: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let len = cfg.len;
    let mut acts = vec![SENTINEL; 4 * len * cap];
    acts[..x.len()].copy_from_slice(x);
    acts[2 * len * cap..2 * len * cap + g.len()].copy_from_slice(g);
    let init = Arenas {
        params: vec![SENTINEL],
        velocity: vec![SENTINEL],
        grads: vec![SENTINEL],
        acts,
        idx: vec![IDX_SENTINEL],
        part: vec![0.0],
    };
    let gpu = Gpu::new(&client(), &init);
    gpu.dropout_forward(cfg, seed, train, n, cap);
    let fwd = gpu.read();
    if train {
        gpu.dropout_input_grad(cfg, seed, n, cap);
    }
    let bwd = gpu.read();
    for a in [&fwd, &bwd] {
        assert_eq!(
            (&a.params, &a.velocity, &a.grads, &a.idx),
            (&init.params, &init.velocity, &init.grads, &init.idx)
        );
    }
    (init.acts, fwd.acts, bwd.acts)
}

/// Nonzero random values (so a dropped element is told from a kept one by its output).
fn nonzero(seed: u64, len: usize) -> Vec<f32> {
    uniform(&mut rng(seed), len, -1.0, 1.0)
        .into_iter()
        .map(|v| if v.abs() < 1e-3 { 0.5 } else { v })
        .collect()
}

/// One Dropout case: the forward output is exactly `x * scale` (f32) or 0, with the mask of
/// the documented hash; the backward is exactly `g * scale` or 0 with the same mask; both
/// match the f64 reference; the other rows and tensors are untouched. Returns the mask.
fn dropout_case(
    what: &str,
    len: usize,
    n: usize,
    cap: usize,
    p: f32,
    k: u32,
    seed: u32,
) -> Vec<bool> {
    let cfg = dropout_cfg(len, p, k);
    let x = nonzero(seed as u64, n * len);
    let g = nonzero(seed as u64 + 1, n * len);
    let (init, fwd, bwd) = run_dropout(cfg, n, cap, seed, true, &x, &g);
    let scale = f32::from_bits(cfg.scale);
    let keep: Vec<bool> = (0..n * len).map(|i| host_keep(seed, k, p, i)).collect();
    let (out_at, ig_at) = (len * cap, 3 * len * cap);
    let bad: Vec<String> = (0..n * len)
        .filter(|&i| {
            let (y, gi) = (fwd[out_at + i], bwd[ig_at + i]);
            if keep[i] {
                y.to_bits() != (x[i] * scale).to_bits() || gi.to_bits() != (g[i] * scale).to_bits()
            } else {
                y != 0.0 || gi != 0.0
            }
        })
        .take(8)
        .map(|i| {
            format!(
                "[{i}] keep {} x {} y {} g {} dx {}",
                keep[i],
                x[i],
                fwd[out_at + i],
                g[i],
                bwd[ig_at + i]
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: mask or values differ: {}",
        bad.join(", ")
    );
    // The mask the kernel applied (x and g are nonzero).
    let applied: Vec<bool> = (0..n * len).map(|i| fwd[out_at + i] != 0.0).collect();
    // Against the f64 reference (scale 1 / (1 - p) in f64).
    let mut e = Expect::new(&format!("{what}: acts"), &init);
    e.set(
        out_at,
        &r::dropout_forward(&f64s(&x), &keep, p as f64),
        &abs(&f64s(&x)),
    );
    e.check(&fwd);
    e.rename(&format!("{what}: acts after backward"));
    e.set(
        ig_at,
        &r::dropout_backward(&keep, p as f64, &f64s(&g)),
        &abs(&f64s(&g)),
    );
    e.check(&bwd);
    applied
}

#[test]
fn dropout_mask_values_and_backward_match_the_documented_hash() {
    let keep = dropout_case("Dropout p 0.3, 2x50 of cap 3", 50, 2, 3, 0.3, 0, 12345);
    assert!(keep.iter().any(|&k| k) && keep.iter().any(|&k| !k));
    // The second Dropout of a network (another salt), another seed, p 0.5 and p 0.9.
    dropout_case("Dropout k 1 p 0.5", 64, 3, 3, 0.5, 1, 777);
    dropout_case("Dropout k 2 p 0.9", 40, 2, 2, 0.9, 2, 0xDEAD_BEEF);
    // p = 0: everything kept, scale 1.
    let keep = dropout_case("Dropout p 0", 30, 1, 2, 0.0, 0, 5);
    assert!(keep.iter().all(|&k| k));
}

/// The kept fraction over 100k elements is within 4 sigma of `1 - p`, and the mask depends
/// on the seed and on the layer's salt (fractions of agreement near the independent value).
#[test]
fn dropout_keeps_about_one_minus_p() {
    let (len, n) = (25_000, 4);
    let total = (len * n) as f64;
    for (i, p) in [0.1f32, 0.5, 0.8].into_iter().enumerate() {
        let seed = 1000 + i as u32;
        let keep = dropout_case(&format!("Dropout p {p}, 4 x 25000"), len, n, n, p, 0, seed);
        let kept = keep.iter().filter(|&&k| k).count() as f64;
        let q = 1.0 - p as f64;
        let sigma = (total * q * (1.0 - q)).sqrt();
        assert!(
            (kept - total * q).abs() <= 4.0 * sigma,
            "p {p}: kept {kept} of {total}, expected {} +- {}",
            total * q,
            4.0 * sigma
        );
        // Another seed and another layer give (nearly) independent masks: both kept with
        // probability q^2.
        for (seed2, k2) in [(seed + 1, 0), (seed, 1)] {
            let other: Vec<bool> = (0..len * n).map(|j| host_keep(seed2, k2, p, j)).collect();
            let both = keep.iter().zip(&other).filter(|(a, b)| **a && **b).count() as f64;
            let s2 = (total * q * q * (1.0 - q * q)).sqrt();
            assert!(
                (both - total * q * q).abs() <= 4.0 * s2,
                "p {p}: masks of (seed {seed}, k 0) and (seed {seed2}, k {k2}) are correlated"
            );
        }
    }
}

#[test]
fn dropout_eval_is_the_identity() {
    let (len, n, cap) = (37, 3, 4);
    let cfg = dropout_cfg(len, 0.5, 0);
    let x = nonzero(60, n * len);
    let g = nonzero(61, n * len);
    let (init, fwd, bwd) = run_dropout(cfg, n, cap, 99, false, &x, &g);
    let mut want = init.clone();
    want[len * cap..len * cap + x.len()].copy_from_slice(&x);
    assert_eq!(fwd, want, "eval Dropout must copy its input");
    assert_eq!(bwd, fwd);
    let r = r::dropout_eval_forward(&f64s(&x));
    assert!(r
        .iter()
        .zip(&fwd[len * cap..])
        .all(|(a, b)| *a == *b as f64));
}

/// The host hash [`lowbias32`] is the one the kernels crate documents (`mix_host`), and
/// differs from the identity.
#[test]
fn host_hash_matches_the_crate_host_hash() {
    for v in [0u32, 1, 2, 0x9E37_79B9, 0xFFFF_FFFF, 123_456_789] {
        assert_eq!(lowbias32(v), mix_host(v), "lowbias32({v:#x})");
    }
    assert_ne!(lowbias32(1), 1);
}

// ---------------------------------------------------------------------------------------------
// AvgPool2d / AdaptiveAvgPool2d
// ---------------------------------------------------------------------------------------------

fn avg_cfg(s: &AvgPool2dShape) -> AvgPoolCfg {
    let (in_len, out_len) = (s.c * s.h_in * s.w_in, s.c * s.h_out() * s.w_out());
    let (kernel, stride, padding, count_include_pad, adaptive) = match s.kind {
        AvgPoolKind::Fixed {
            kernel,
            stride,
            padding,
            ceil_mode,
            count_include_pad,
        } => {
            assert!(!ceil_mode, "the kernel has no ceil_mode");
            (kernel, stride, padding, count_include_pad, false)
        }
        AvgPoolKind::Adaptive { .. } => ((1, 1), (1, 1), (0, 0), true, true),
    };
    AvgPoolCfg {
        channels: s.c,
        in_h: s.h_in,
        in_w: s.w_in,
        out_h: s.h_out(),
        out_w: s.w_out(),
        kernel_h: kernel.0,
        kernel_w: kernel.1,
        stride_h: stride.0,
        stride_w: stride.1,
        padding_h: padding.0,
        padding_w: padding.1,
        adaptive,
        count_include_pad,
        in_act: 0,
        out_act: in_len,
        out_grad: in_len + out_len,
        in_grad: in_len + 2 * out_len,
    }
}

/// Forward and input gradient of an average pool on `n` of `cap` rows against the f64
/// reference; everything else untouched.
fn avg_pool_case(
    what: &str,
    seed: u64,
    h_in: usize,
    w_in: usize,
    kind: AvgPoolKind,
    n: usize,
    cap: usize,
) {
    let c = 2;
    let s = AvgPool2dShape {
        n,
        c,
        h_in,
        w_in,
        kind,
    };
    let cfg = avg_cfg(&s);
    let (in_len, out_len) = (cfg.in_len(), cfg.out_len());
    let mut rng = rng(seed);
    let x = uniform(&mut rng, n * in_len, -1.0, 1.0);
    let g = uniform(&mut rng, n * out_len, -1.0, 1.0);
    let mut acts = vec![SENTINEL; (2 * in_len + 2 * out_len) * cap];
    acts[..x.len()].copy_from_slice(&x);
    acts[cfg.out_grad * cap..cfg.out_grad * cap + g.len()].copy_from_slice(&g);
    let init = Arenas {
        params: vec![SENTINEL],
        velocity: vec![SENTINEL],
        grads: vec![SENTINEL],
        acts,
        idx: vec![IDX_SENTINEL],
        part: vec![0.0],
    };
    let gpu = Gpu::new(&client(), &init);
    gpu.avg_pool_forward(cfg, n, cap);
    let fwd = gpu.read();
    gpu.avg_pool_input_grad(cfg, n, cap);
    let bwd = gpu.read();

    let out = r::avg_pool2d_forward(&s, &f64s(&x));
    let out_scale = r::avg_pool2d_forward(&s, &abs(&f64s(&x)));
    let gx = r::avg_pool2d_backward(&s, &f64s(&g));
    let gx_scale = r::avg_pool2d_backward(&s, &abs(&f64s(&g)));
    let mut e = Expect::new(&format!("{what}: acts after forward"), &init.acts);
    e.set(cfg.out_act * cap, &out, &out_scale);
    e.check(&fwd.acts);
    e.rename(&format!("{what}: acts after backward"));
    e.set(cfg.in_grad * cap, &gx, &gx_scale);
    e.check(&bwd.acts);
    for a in [&fwd, &bwd] {
        assert_eq!(
            (&a.params, &a.velocity, &a.grads, &a.idx),
            (&init.params, &init.velocity, &init.grads, &init.idx),
            "{what}: another arena changed"
        );
    }
}

fn fixed(
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
    count_include_pad: bool,
) -> AvgPoolKind {
    AvgPoolKind::Fixed {
        kernel,
        stride,
        padding,
        ceil_mode: false,
        count_include_pad,
    }
}

#[test]
fn avg_pool2d_matches_reference() {
    let cases = [
        ("k 2 s 2", 6, 6, fixed((2, 2), (2, 2), (0, 0), true)),
        ("k 3 s 2 p 1", 7, 6, fixed((3, 3), (2, 2), (1, 1), true)),
        (
            "k (3,2) s (2,1) p (1,1)",
            7,
            6,
            fixed((3, 2), (2, 1), (1, 1), true),
        ),
        (
            "k (3,2) s (2,1) p (1,1) count_include_pad false",
            7,
            6,
            fixed((3, 2), (2, 1), (1, 1), false),
        ),
        (
            "k 3 s (1,3) p (1,0) count_include_pad false",
            5,
            8,
            fixed((3, 3), (1, 3), (1, 0), false),
        ),
        (
            "k (2,4) s (3,1) p (1,2)",
            8,
            7,
            fixed((2, 4), (3, 1), (1, 2), true),
        ),
        (
            "k 4 s 1 p 2 count_include_pad false",
            5,
            5,
            fixed((4, 4), (1, 1), (2, 2), false),
        ),
    ];
    for (i, (what, h, w, kind)) in cases.into_iter().enumerate() {
        avg_pool_case(
            &format!("AvgPool2d {what} on {h}x{w}, n 2 of cap 3"),
            100 + i as u64,
            h,
            w,
            kind,
            2,
            3,
        );
    }
}

#[test]
fn adaptive_avg_pool2d_matches_reference() {
    let cases = [
        // Uneven, overlapping windows along both axes.
        (7, 5, (3, 2)),
        (5, 7, (4, 5)),
        (10, 9, (4, 6)),
        // Evenly divisible: AvgPool2d k 2 s 2.
        (6, 8, (3, 4)),
        // Global average pool.
        (6, 5, (1, 1)),
        // output = input: the identity.
        (3, 4, (3, 4)),
    ];
    for (i, (h, w, output)) in cases.into_iter().enumerate() {
        avg_pool_case(
            &format!("AdaptiveAvgPool2d {h}x{w} -> {output:?}, n 3 of cap 4"),
            200 + i as u64,
            h,
            w,
            AvgPoolKind::Adaptive { output },
            3,
            4,
        );
    }
}
