//! A conv block: `Conv2d` (+ bias) (+ activation) (+ `MaxPool2d`), forward and backward.
//!
//! Semantics are PyTorch's: NCHW, weights OIHW, cross-correlation, output size
//! `floor((in + 2p - d(k-1) - 1)/s) + 1` (torch.nn.Conv2d / MaxPool2d docs; a `ceil_mode`
//! pool rounds up, and its last window may then run past the padded conv output's end: it
//! covers fewer elements; `h_out` / `w_out` come from the macro's shape inference); max-pool
//! pads with -inf, keeps the first maximum in row-major window order and routes the whole
//! gradient to it (overlapping windows accumulate); relu'(0) = 0. The activation
//! ([`Act`]) is applied before the pool (pool(act(x)) = act(pool(x)) for the monotonic ones).
//!
//! A block without a pool is treated as one with a 1x1 window of stride 1: its "argmax" is
//! the position itself and is not stored.
use cubecl::prelude::*;

use crate::act::{act_grad, activate, Act};
use crate::sgd::sgd_update;

const fn min_usize(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

/// Comptime description of one conv block: shapes, options and where its tensors live.
///
/// Per-sample offsets (`*_act`, `argmax`) are multiplied by the batch capacity `cap` to
/// get the offset in the `acts` / `idx` arena (see the crate docs).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct ConvCfg {
    /// `in_channels` of the conv.
    pub c_in: usize,
    /// Input height (rows).
    pub h_in: usize,
    /// Input width (columns).
    pub w_in: usize,
    /// `out_channels` of the conv.
    pub c_out: usize,
    /// Kernel height and width.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride along H.
    pub sh: usize,
    /// Stride along W.
    pub sw: usize,
    /// Zero padding along H.
    pub ph: usize,
    /// Zero padding along W.
    pub pw: usize,
    /// Dilation along H.
    pub dh: usize,
    /// Dilation along W.
    pub dw: usize,
    /// Conv output height.
    pub h_conv: usize,
    /// Conv output width.
    pub w_conv: usize,
    /// The activation that follows the conv (before the pool).
    pub act: Act,
    /// Whether a max-pool follows (the pool fields below are 1x1/1/0 otherwise).
    pub pool: bool,
    /// Pool kernel height.
    pub pkh: usize,
    /// Pool kernel width.
    pub pkw: usize,
    /// Pool stride along H.
    pub psh: usize,
    /// Pool stride along W.
    pub psw: usize,
    /// Pool padding along H (implicit -inf).
    pub pph: usize,
    /// Pool padding along W.
    pub ppw: usize,
    /// Block output height (after the pool).
    pub h_out: usize,
    /// Block output width.
    pub w_out: usize,
    /// Whether the conv has a bias.
    pub bias: bool,
    /// Offset of the weight (`c_out x c_in x kh x kw`) in the parameter arenas.
    pub w_off: usize,
    /// Offset of the bias (`c_out`) in the parameter arenas.
    pub b_off: usize,
    /// Per-sample offset of the block input in `acts`.
    pub in_act: usize,
    /// Per-sample offset of the block output in `acts`.
    pub out_act: usize,
    /// Per-sample offset of d(loss)/d(input) in `acts` (unused for the first block).
    pub in_grad: usize,
    /// Per-sample offset of d(loss)/d(output) in `acts`.
    pub out_grad: usize,
    /// Per-sample offset in `acts` of the pre-activation (`out_len` floats: the conv value
    /// the block output was computed from), stored only when `act.needs_pre()`.
    pub pre_act: usize,
    /// Per-sample offset of the pool argmax (conv-plane index `y * w_conv + x`) in `idx`.
    pub argmax: usize,
    /// Output channels computed by one forward unit (divides `c_out`).
    pub ocb: usize,
    /// The input gradient is added to what `in_grad` holds (a second consumer of the same
    /// input, e.g. a residual block's projection shortcut) instead of overwriting it.
    pub accumulate: bool,
    /// The tensor at `skip_grad` (same layout as the input) is added to the input gradient:
    /// the gradient reaching the input through a residual block's identity shortcut.
    pub add_skip_grad: bool,
    /// Per-sample offset in `acts` of that tensor.
    pub skip_grad: usize,
}

impl ConvCfg {
    /// Floats per sample of the block input (`c_in * h_in * w_in`).
    pub const fn in_len(&self) -> usize {
        self.c_in * self.h_in * self.w_in
    }
    /// Floats per sample of the block output (`c_out * h_out * w_out`).
    pub const fn out_len(&self) -> usize {
        self.c_out * self.h_out * self.w_out
    }
    /// Number of parameters (weight and bias).
    pub const fn num_params(&self) -> usize {
        self.c_out * self.c_in * self.kh * self.kw + if self.bias { self.c_out } else { 0 }
    }
    /// Whether every pool window ends inside the pool-padded conv output:
    /// `(h_out - 1) * psh + pkh <= h_conv + 2 * pph`, and likewise along W. Always true in
    /// floor mode; a `ceil_mode` pool's last window may run past the end (it then covers
    /// fewer elements).
    pub const fn pool_fits(&self) -> bool {
        (self.h_out - 1) * self.psh + self.pkh <= self.h_conv + 2 * self.pph
            && (self.w_out - 1) * self.psw + self.pkw <= self.w_conv + 2 * self.ppw
    }
    /// Units of `conv_forward_unit` for a batch of `n`.
    pub const fn forward_units(&self, n: usize) -> usize {
        n * (self.c_out / self.ocb) * self.h_out * self.w_out
    }
    /// Units of `conv_input_grad_unit` for a batch of `n`.
    pub const fn input_grad_units(&self, n: usize) -> usize {
        n * self.h_in * self.w_in
    }
    /// Units of `conv_weight_grad_unit`: one per (out channel, in channel, kernel row), plus
    /// one per bias.
    pub const fn weight_grad_units(&self) -> usize {
        self.c_out * self.c_in * self.kh + if self.bias { self.c_out } else { 0 }
    }
    /// Upper bound on the loop iterations one `conv_forward_unit` invocation runs (every
    /// iteration of every runtime loop, nested ones included; see [`crate::LOOP_LIMIT`]).
    pub const fn forward_loop_iterations(&self) -> usize {
        self.c_in * (1 + self.kh * (1 + self.kw))
    }
    /// Upper bound on the loop iterations of one `conv_input_grad_unit` invocation: per
    /// output channel, the pooled rows x columns whose windows reach the input pixel.
    pub const fn input_grad_loop_iterations(&self) -> usize {
        let ext_h = (self.kh - 1) * self.dh + 1;
        let ext_w = (self.kw - 1) * self.dw + 1;
        let rows = min_usize(self.h_out, ext_h.div_ceil(self.sh) + self.pkh);
        let cols = min_usize(self.w_out, ext_w.div_ceil(self.sw) + self.pkw);
        self.c_out * (1 + rows * (1 + cols))
    }
    /// Upper bound on the loop iterations of one `conv_weight_grad_unit` invocation for a
    /// batch of `n` (the batch loop and, inside it, the loop over output positions).
    pub const fn weight_grad_loop_iterations(&self, n: usize) -> usize {
        n * (1 + self.h_out * self.w_out)
    }
    /// Per-sample offset in `acts` of the value the activation's derivative is computed
    /// from: the pre-activation for GELU, else the block output.
    pub const fn act_src(&self) -> usize {
        if self.act.needs_pre() {
            self.pre_act
        } else {
            self.out_act
        }
    }
    /// Multiply-adds of the forward pass per sample (conv only).
    pub const fn forward_macs(&self) -> usize {
        self.c_out * self.h_conv * self.w_conv * self.c_in * self.kh * self.kw
    }
}

/// Forward unit `unit`: conv + bias (+ activation) (+ max-pool, storing its argmax) for one sample,
/// one output position and `cfg.ocb` output channels.
#[cube]
pub fn conv_forward_unit(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    unit: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let win = comptime!(cfg.pkh * cfg.pkw);
    let ocb = comptime!(cfg.ocb);
    let n_ob = comptime!(cfg.c_out / cfg.ocb);
    let px = unit % cfg.w_out;
    let py = (unit / cfg.w_out) % cfg.h_out;
    let ob = (unit / (cfg.w_out * cfg.h_out)) % n_ob;
    let s = unit / (cfg.w_out * cfg.h_out * n_ob);
    let oc0 = ob * ocb;

    let x_base = comptime!(cfg.in_act * cap) + s * comptime!(cfg.in_len());
    let plane_in = comptime!(cfg.h_in * cfg.w_in);
    let wstride_o = comptime!(cfg.c_in * cfg.kh * cfg.kw);

    let mut acc = Array::<f32>::new(comptime!(cfg.ocb * cfg.pkh * cfg.pkw));
    let mut xs = Array::<f32>::new(comptime!(cfg.pkh * cfg.pkw));
    #[unroll]
    for o in 0..ocb {
        let mut b = 0.0f32;
        if comptime!(cfg.bias) {
            b = params[cfg.b_off + oc0 + o];
        }
        #[unroll]
        for wi in 0..win {
            acc[o * win + wi] = b;
        }
    }

    for c in 0..cfg.c_in {
        for ky in 0..cfg.kh {
            for kx in 0..cfg.kw {
                #[unroll]
                for wi in 0..win {
                    let wy = wi / comptime!(cfg.pkw);
                    let wx = wi % comptime!(cfg.pkw);
                    let yy = py * cfg.psh + wy;
                    let xx = px * cfg.psw + wx;
                    let mut v = 0.0f32;
                    if comptime!(
                        cfg.ph == 0
                            && cfg.pw == 0
                            && cfg.pph == 0
                            && cfg.ppw == 0
                            && cfg.pool_fits()
                    ) {
                        // No padding anywhere and no pool window past the conv output's end
                        // (as in floor mode): every window position and every tap is in
                        // bounds, so no checks.
                        let iy = yy * cfg.sh + ky * cfg.dh;
                        let ix = xx * cfg.sw + kx * cfg.dw;
                        v = acts[x_base + c * plane_in + iy * cfg.w_in + ix];
                    } else if yy >= cfg.pph && xx >= cfg.ppw {
                        let y = yy - cfg.pph;
                        let x = xx - cfg.ppw;
                        let iy = y * cfg.sh + ky * cfg.dh;
                        let ix = x * cfg.sw + kx * cfg.dw;
                        if y < cfg.h_conv
                            && x < cfg.w_conv
                            && iy >= cfg.ph
                            && ix >= cfg.pw
                            && iy - cfg.ph < cfg.h_in
                            && ix - cfg.pw < cfg.w_in
                        {
                            v = acts
                                [x_base + c * plane_in + (iy - cfg.ph) * cfg.w_in + (ix - cfg.pw)];
                        }
                    }
                    xs[wi] = v;
                }
                let w_base = cfg.w_off + oc0 * wstride_o + (c * cfg.kh + ky) * cfg.kw + kx;
                #[unroll]
                for o in 0..ocb {
                    let wv = params[w_base + o * wstride_o];
                    #[unroll]
                    for wi in 0..win {
                        acc[o * win + wi] += wv * xs[wi];
                    }
                }
            }
        }
    }

    let out_base = comptime!(cfg.out_act * cap) + s * comptime!(cfg.out_len());
    let plane_out = comptime!(cfg.h_out * cfg.w_out);
    let am_base = comptime!(cfg.argmax * cap) + s * comptime!(cfg.out_len());
    #[unroll]
    for o in 0..ocb {
        // WGSL has no infinity literal (`f32(-Inf)` fails shader validation), so the maximum
        // starts at the window's first in-bounds value, as PyTorch's index does; the result is
        // the same as starting from -inf (a window always holds one, since padding <= k/2
        // and, in ceil mode, a window starts inside the input or the left padding). Window
        // positions past the conv output's end (ceil mode) are skipped like the padding.
        let mut best = 0.0f32;
        let mut best_pre = 0.0f32;
        let mut best_at = 0u32;
        let mut found = false;
        #[unroll]
        for wi in 0..win {
            let wy = wi / comptime!(cfg.pkw);
            let wx = wi % comptime!(cfg.pkw);
            let yy = py * cfg.psh + wy;
            let xx = px * cfg.psw + wx;
            if yy >= cfg.pph
                && xx >= cfg.ppw
                && yy - cfg.pph < cfg.h_conv
                && xx - cfg.ppw < cfg.w_conv
            {
                let pre = acc[o * win + wi];
                let v = activate(pre, cfg.act);
                if !found || v > best {
                    best = v;
                    best_pre = pre;
                    best_at = ((yy - cfg.pph) * cfg.w_conv + (xx - cfg.ppw)) as u32;
                    found = true;
                }
            }
        }
        let at = (oc0 + o) * plane_out + py * cfg.w_out + px;
        acts[out_base + at] = best;
        if comptime!(cfg.act.needs_pre()) {
            acts[comptime!(cfg.pre_act * cap) + s * comptime!(cfg.out_len()) + at] = best_pre;
        }
        if comptime!(cfg.pool) {
            idx[am_base + at] = best_at;
        }
    }
}

/// Input-gradient unit `unit`: d(loss)/d(input) at one input position of one sample, for
/// every input channel (`conv2d_x_backward`, composed with the pool and activation backward).
///
/// Sparse in the pool: it visits the block outputs (pooled positions) whose window can reach
/// this input position, follows each one's argmax to its conv position, and adds
/// `g * W[oc, c, ky, kx]` when that position reads this input through tap `(ky, kx)`.
/// Overlapping windows that share an argmax contribute once each, as in PyTorch.
#[cube]
pub fn conv_input_grad_unit(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    unit: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let ix = unit % cfg.w_in;
    let iy = (unit / cfg.w_in) % cfg.h_in;
    let s = unit / comptime!(cfg.h_in * cfg.w_in);
    let mut acc = Array::<f32>::new(comptime!(cfg.c_in));
    #[unroll]
    for c in 0..comptime!(cfg.c_in) {
        acc[c] = 0.0;
    }
    // Conv rows y with 0 <= iy + ph - y * sh <= (kh - 1) * dh, then the pooled rows whose
    // window [py * psh - pph, py * psh - pph + pkh - 1] meets [y_lo, y_hi].
    let yp = (iy + cfg.ph) as i32;
    let xp = (ix + cfg.pw) as i32;
    let ext_h = comptime!(((cfg.kh - 1) * cfg.dh) as i32);
    let ext_w = comptime!(((cfg.kw - 1) * cfg.dw) as i32);
    let sh = comptime!(cfg.sh as i32);
    let sw = comptime!(cfg.sw as i32);
    let y_lo = max((yp - ext_h + sh - 1) / sh, 0i32);
    let y_hi = min(yp / sh, comptime!(cfg.h_conv as i32 - 1));
    let x_lo = max((xp - ext_w + sw - 1) / sw, 0i32);
    let x_hi = min(xp / sw, comptime!(cfg.w_conv as i32 - 1));
    // Pool window bounds (psh = 1, pkh = 1, pph = 0 without a pool).
    let psh = comptime!(cfg.psh as i32);
    let psw = comptime!(cfg.psw as i32);
    let pph = comptime!(cfg.pph as i32);
    let ppw = comptime!(cfg.ppw as i32);
    let pkh = comptime!(cfg.pkh as i32);
    let pkw = comptime!(cfg.pkw as i32);
    let py_lo = max((y_lo + pph - pkh + 1 + psh - 1) / psh, 0i32);
    let py_hi = min((y_hi + pph) / psh, comptime!(cfg.h_out as i32 - 1));
    let px_lo = max((x_lo + ppw - pkw + 1 + psw - 1) / psw, 0i32);
    let px_hi = min((x_hi + ppw) / psw, comptime!(cfg.w_out as i32 - 1));
    let plane_out = comptime!(cfg.h_out * cfg.w_out);
    let kk = comptime!(cfg.kh * cfg.kw);
    if y_lo <= y_hi && x_lo <= x_hi {
        for oc in 0..cfg.c_out {
            let base = s * comptime!(cfg.out_len()) + oc * plane_out;
            let g_base = comptime!(cfg.out_grad * cap) + base;
            let o_base = comptime!(cfg.act_src() * cap) + base;
            let a_base = comptime!(cfg.argmax * cap) + base;
            let w_base = cfg.w_off + oc * comptime!(cfg.c_in * cfg.kh * cfg.kw);
            let mut py = py_lo;
            while py <= py_hi {
                let mut px = px_lo;
                while px <= px_hi {
                    let at = py as usize * cfg.w_out + px as usize;
                    let mut g = acts[g_base + at];
                    if comptime!(cfg.act.is_some()) {
                        g = act_grad(g, acts[o_base + at], cfg.act);
                    }
                    if g != 0.0 {
                        let mut y = py;
                        let mut x = px;
                        if comptime!(cfg.pool) {
                            let pos = idx[a_base + at];
                            y = (pos / cfg.w_conv as u32) as i32;
                            x = (pos % cfg.w_conv as u32) as i32;
                        }
                        let ty = yp - y * sh;
                        let tx = xp - x * sw;
                        if ty >= 0
                            && ty <= ext_h
                            && tx >= 0
                            && tx <= ext_w
                            && ty % comptime!(cfg.dh as i32) == 0
                            && tx % comptime!(cfg.dw as i32) == 0
                        {
                            let tap = (ty / comptime!(cfg.dh as i32)) as usize * cfg.kw
                                + (tx / comptime!(cfg.dw as i32)) as usize;
                            #[unroll]
                            for c in 0..comptime!(cfg.c_in) {
                                acc[c] += g * params[w_base + c * kk + tap];
                            }
                        }
                    }
                    px += 1;
                }
                py += 1;
            }
        }
    }
    let at = s * comptime!(cfg.in_len()) + iy * cfg.w_in + ix;
    let base = comptime!(cfg.in_grad * cap) + at;
    #[unroll]
    for c in 0..comptime!(cfg.c_in) {
        let i = c * comptime!(cfg.h_in * cfg.w_in);
        let mut g = acc[c];
        if comptime!(cfg.add_skip_grad) {
            g += acts[comptime!(cfg.skip_grad * cap) + at + i];
        }
        if comptime!(cfg.accumulate) {
            g += acts[base + i];
        }
        acts[base + i] = g;
    }
}

/// Weight-gradient unit `unit`: for `unit < c_out * c_in`, the `kh x kw` weights of one
/// (out, in) channel pair; after that, one bias. The gradient is summed in a fixed order (no
/// atomics), blocked: over each sample's output positions, then over the batch, stored in `grads`, and the SGD step
/// is applied (`sgd_update`).
#[cube]
#[allow(clippy::too_many_arguments)]
pub fn conv_weight_grad_unit(
    params: &mut [f32],
    velocity: &mut [f32],
    grads: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    unit: usize,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    flags: u32,
    #[comptime] cfg: ConvCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let kw = comptime!(cfg.kw);
    let pairs = comptime!(cfg.c_out * cfg.c_in * cfg.kh);
    let plane_out = comptime!(cfg.h_out * cfg.w_out);
    if unit < pairs {
        let ky = unit % cfg.kh;
        let c = (unit / cfg.kh) % cfg.c_in;
        let oc = unit / comptime!(cfg.kh * cfg.c_in);
        let mut acc = Array::<f32>::new(comptime!(cfg.kw));
        #[unroll]
        for k in 0..kw {
            acc[k] = 0.0;
        }
        // Blocked sum: each sample's positions into `part`, then the samples into `acc`, so
        // the f32 error grows with max(n, positions) rather than n * positions.
        let mut part = Array::<f32>::new(comptime!(cfg.kw));
        for s in 0..n {
            #[unroll]
            for k in 0..kw {
                part[k] = 0.0;
            }
            let base = s * comptime!(cfg.out_len()) + oc * plane_out;
            let g_base = comptime!(cfg.out_grad * cap) + base;
            let o_base = comptime!(cfg.act_src() * cap) + base;
            let a_base = comptime!(cfg.argmax * cap) + base;
            let x_base = comptime!(cfg.in_act * cap)
                + s * comptime!(cfg.in_len())
                + c * comptime!(cfg.h_in * cfg.w_in);
            for at in 0..plane_out {
                let mut g = acts[g_base + at];
                if comptime!(cfg.act.is_some()) {
                    g = act_grad(g, acts[o_base + at], cfg.act);
                }
                if g != 0.0 {
                    let mut pos = at;
                    if comptime!(cfg.pool) {
                        pos = idx[a_base + at] as usize;
                    }
                    let y = pos / cfg.w_conv;
                    let x = pos % cfg.w_conv;
                    let iy = y * cfg.sh + ky * cfg.dh;
                    if iy >= cfg.ph && iy - cfg.ph < cfg.h_in {
                        let row = x_base + (iy - cfg.ph) * cfg.w_in;
                        #[unroll]
                        for kx in 0..kw {
                            let ix = x * cfg.sw + kx * cfg.dw;
                            if comptime!(cfg.pw == 0) {
                                part[kx] += g * acts[row + ix];
                            } else if ix >= cfg.pw && ix - cfg.pw < cfg.w_in {
                                part[kx] += g * acts[row + ix - cfg.pw];
                            }
                        }
                    }
                }
            }
            #[unroll]
            for k in 0..kw {
                acc[k] += part[k];
            }
        }
        let p_base = cfg.w_off + unit * kw;
        #[unroll]
        for k in 0..kw {
            sgd_update(
                params,
                velocity,
                grads,
                p_base + k,
                acc[k],
                lr,
                momentum,
                dampening,
                weight_decay,
                flags,
            );
        }
    } else {
        let oc = unit - pairs;
        let mut total = 0.0f32;
        for s in 0..n {
            let base = s * comptime!(cfg.out_len()) + oc * plane_out;
            let g_base = comptime!(cfg.out_grad * cap) + base;
            let o_base = comptime!(cfg.act_src() * cap) + base;
            let mut sub = 0.0f32;
            for at in 0..plane_out {
                let mut g = acts[g_base + at];
                if comptime!(cfg.act.is_some()) {
                    g = act_grad(g, acts[o_base + at], cfg.act);
                }
                sub += g;
            }
            total += sub;
        }
        sgd_update(
            params,
            velocity,
            grads,
            cfg.b_off + oc,
            total,
            lr,
            momentum,
            dampening,
            weight_decay,
            flags,
        );
    }
}
