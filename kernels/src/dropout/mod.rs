//! `Dropout`: in training, each element is kept with probability `1 - p` and scaled by
//! `1 / (1 - p)` (torch.nn.Dropout); in eval mode it is the identity.
//!
//! The mask is a pure function of the launch seed, the layer and the element, so the backward
//! pass recomputes it instead of storing it, and a run is reproducible from the network's
//! seed. Element `i = s * len + e` (sample `s`, element `e` of the sample in C, H, W order) of
//! the `k`-th Dropout of a network (`k` from 0) is kept when
//! `mix(mix(seed ^ salt) ^ i) >= threshold`, with `salt = (k + 1) * 0x9E3779B9`,
//! `threshold = floor(p * 2^32)` and `mix` Chris Wellons' `lowbias32` integer hash
//! (<https://nullprogram.com/blog/2018/07/31/>). The host derives `seed` per training forward
//! pass ([`launch_seed`]). `scripts/norm_cases.py` implements the same mask in Python.
use cubecl::prelude::*;

pub mod reference;

/// Comptime description of one Dropout layer.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct DropoutCfg {
    /// Floats per sample.
    pub len: usize,
    /// `floor(p * 2^32)`: an element whose hash is below it is dropped.
    pub threshold: u32,
    /// `1 / (1 - p)` (computed in f64, rounded to f32) as `f32::to_bits`.
    pub scale: u32,
    /// `(k + 1) * 0x9E3779B9` (wrapping) for the network's `k`-th Dropout.
    pub salt: u32,
    /// Per-sample offset of the input in `acts`.
    pub in_act: usize,
    /// Per-sample offset of the output in `acts`.
    pub out_act: usize,
    /// Per-sample offset of d(loss)/d(input) in `acts` (unused when `!input_grad`).
    pub in_grad: usize,
    /// Per-sample offset of d(loss)/d(output) in `acts`.
    pub out_grad: usize,
}

impl DropoutCfg {
    /// Units of either job for a batch of `n` (one per element).
    pub const fn units(&self, n: usize) -> usize {
        n * self.len
    }
    /// Units of the forward job.
    pub const fn forward_units(&self, n: usize) -> usize {
        self.units(n)
    }
    /// Units of the input-gradient job.
    pub const fn input_grad_units(&self, n: usize) -> usize {
        self.units(n)
    }
}

/// Chris Wellons' `lowbias32` integer hash (host version).
pub const fn mix_host(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The seed of the training forward pass number `counter` (0 for the first) of a network
/// created with `seed`.
pub const fn launch_seed(seed: u64, counter: u64) -> u32 {
    mix_host((seed as u32) ^ mix_host(((seed >> 32) as u32) ^ mix_host(counter as u32)))
}

/// `lowbias32` on the device.
#[cube]
pub fn mix(v: u32) -> u32 {
    let mut x = v;
    x ^= x >> 16u32;
    x *= 0x7feb_352du32;
    x ^= x >> 15u32;
    x *= 0x846c_a68bu32;
    x ^= x >> 16u32;
    x
}

/// The mask factor of element `i`: `scale` when kept, else 0.
#[cube]
pub fn dropout_factor(i: usize, seed: u32, #[comptime] cfg: DropoutCfg) -> f32 {
    let h = mix(mix(seed ^ cfg.salt) ^ (i as u32));
    let mut f = 0.0f32;
    if h >= cfg.threshold {
        f = f32::new(comptime!(f32::from_bits(cfg.scale)));
    }
    f
}

/// Forward unit `unit` (`s * len + e`): `x * factor` in training, `x` in eval mode.
#[cube]
pub fn dropout_forward_unit(
    acts: &mut [f32],
    unit: usize,
    seed: u32,
    #[comptime] train: bool,
    #[comptime] cfg: DropoutCfg,
    #[comptime] cap: usize,
) {
    let x = acts[comptime!(cfg.in_act * cap) + unit];
    let mut y = x;
    if comptime!(train) {
        y = x * dropout_factor(unit, seed, cfg);
    }
    acts[comptime!(cfg.out_act * cap) + unit] = y;
}

/// Input-gradient unit `unit`: `g * factor` with the forward pass's mask.
#[cube]
pub fn dropout_input_grad_unit(
    acts: &mut [f32],
    unit: usize,
    seed: u32,
    #[comptime] cfg: DropoutCfg,
    #[comptime] cap: usize,
) {
    let g = acts[comptime!(cfg.out_grad * cap) + unit];
    acts[comptime!(cfg.in_grad * cap) + unit] = g * dropout_factor(unit, seed, cfg);
}
