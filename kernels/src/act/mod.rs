//! Activations fused into a conv or linear block: ReLU, Tanh, Sigmoid, LeakyReLU, GELU
//! (exact and tanh approximation), SiLU, ReLU6 and Hardswish, forward and backward, with
//! PyTorch's definitions (torch.nn.ReLU / Tanh / Sigmoid / LeakyReLU / GELU / SiLU / ReLU6 /
//! Hardswish docs and the derivative formulas of PyTorch's `tanh_backward`,
//! `sigmoid_backward`, `leaky_relu_backward`, `GeluBackward`, `silu_backward`,
//! `hardtanh_backward` (ReLU6 is `hardtanh(x, 0, 6)`) and `hardswish_backward`).
//!
//! | act | forward | derivative, from |
//! |---|---|---|
//! | `Relu` | `max(x, 0)` | `y > 0 ? 1 : 0` (relu'(0) = 0), output `y` |
//! | `Tanh` | `tanh(x)` | `1 - y^2`, output `y` |
//! | `Sigmoid` | `1 / (1 + e^-x)` | `y (1 - y)`, output `y` |
//! | `LeakyRelu(s)` | `x > 0 ? x : s x` | `y > 0 ? 1 : s` (s >= 0, so `y > 0` iff `x > 0`), output `y` |
//! | `Gelu` | `x Φ(x)`, `Φ(x) = (1 + erf(x / √2)) / 2` | `Φ(x) + x φ(x)`, pre-activation `x` |
//! | `GeluTanh` | `x (1 + tanh(k))/2`, `k = √(2/π) (x + 0.044715 x³)` | see [`act_grad`], pre-activation `x` |
//! | `Silu` | `x / (1 + e^-x)` (`x σ(x)`) | `σ(x) (1 + x (1 - σ(x)))`, pre-activation `x` |
//! | `Relu6` | `min(max(x, 0), 6)` | `0 < y < 6 ? 1 : 0` (0 at x = 0 and x = 6, as `hardtanh_backward`), output `y` |
//! | `Hardswish` | `x min(max(x + 3, 0), 6) / 6` | `x <= -3 ? 0 : x < 3 ? x/3 + 1/2 : 1`, pre-activation `x` |
//!
//! Every derivative but GELU's, SiLU's and Hardswish's is a function of the stored block
//! output, as PyTorch's own backward computes it (`tanh_backward(grad, y)`,
//! `sigmoid_backward(grad, y)`). GELU's, SiLU's and Hardswish's need the pre-activation (none
//! is invertible from its output): a block with one stores it in an extra per-sample region of `acts`
//! (`pre_act` in the block config; under a max-pool, the pre-activation of the selected
//! element), which costs one float per output and no recomputation of the conv or matmul.
//!
//! WGSL has no `erf`; [`std_normal_cdf`] evaluates `Φ` from the complementary error function
//! of Numerical Recipes (W. H. Press et al., *Numerical Recipes in C*, 2nd ed., 1992, §6.2,
//! `erfcc`: a Chebyshev fit with fractional error below 1.2e-7 everywhere). Because it is
//! accurate relative to `erfc`, `Φ(x)` keeps its relative accuracy for negative `x` as well
//! (where `1 + erf` would cancel).
use cubecl::prelude::*;

pub mod reference;

/// The activation of a block (comptime). Parameters are stored as `f32` bits so that the
/// block configs stay `Hash + Eq`.
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq, Eq)]
pub enum Act {
    /// No activation.
    #[default]
    None,
    /// `max(x, 0)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `x > 0 ? x : negative_slope * x`; the slope's `f32::to_bits`, slope >= 0.
    LeakyRelu(u32),
    /// GELU, exact: `x Φ(x)` (torch.nn.GELU(approximate='none')).
    Gelu,
    /// GELU, tanh approximation (torch.nn.GELU(approximate='tanh')).
    GeluTanh,
    /// SiLU (swish): `x σ(x)` (torch.nn.SiLU).
    Silu,
    /// `min(max(x, 0), 6)` (torch.nn.ReLU6).
    Relu6,
    /// `x relu6(x + 3) / 6` (torch.nn.Hardswish).
    Hardswish,
}

impl Act {
    /// `LeakyRelu` with `negative_slope` (must be >= 0: the gradient is taken from the sign
    /// of the output).
    pub const fn leaky_relu(negative_slope: f32) -> Act {
        Act::LeakyRelu(negative_slope.to_bits())
    }
    /// The negative slope of a `LeakyRelu` (0 otherwise).
    pub fn slope(self) -> f32 {
        match self {
            Act::LeakyRelu(bits) => f32::from_bits(bits),
            _ => 0.0,
        }
    }
    /// Whether the backward pass needs the pre-activation (GELU, SiLU, Hardswish) rather than
    /// the output.
    pub const fn needs_pre(self) -> bool {
        matches!(self, Act::Gelu | Act::GeluTanh | Act::Silu | Act::Hardswish)
    }
    /// Whether there is an activation at all.
    pub const fn is_some(self) -> bool {
        !matches!(self, Act::None)
    }
}

/// `1 / √2`.
const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// `1 / √(2π)`, the standard normal density at 0.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
/// `√(2/π)`, PyTorch's `kBeta` of the tanh-approximated GELU (`M_SQRT2 * M_2_SQRTPI * 0.5`).
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
/// PyTorch's `kKappa` of the tanh-approximated GELU.
const GELU_KAPPA: f32 = 0.044_715;

/// `erfc(z)` for `z >= 0`: Numerical Recipes' `erfcc` (§6.2, fractional error < 1.2e-7).
/// The coefficients are written as published.
#[cube]
#[allow(clippy::excessive_precision)]
pub fn erfc_nonneg(z: f32) -> f32 {
    let t = 1.0f32 / (1.0f32 + 0.5f32 * z);
    let p = -1.265_512_2f32
        + t * (1.000_023_7f32
            + t * (0.374_091_96f32
                + t * (0.096_784_18f32
                    + t * (-0.186_288_06f32
                        + t * (0.278_868_07f32
                            + t * (-1.135_203_9f32
                                + t * (1.488_515_9f32
                                    + t * (-0.822_152_2f32 + t * 0.170_872_77f32))))))));
    t * f32::exp(-z * z + p)
}

/// The standard normal CDF `Φ(x) = (1 + erf(x / √2)) / 2 = erfc(-x / √2) / 2`.
#[cube]
pub fn std_normal_cdf(x: f32) -> f32 {
    let half_tail = 0.5f32 * erfc_nonneg(f32::abs(x) * FRAC_1_SQRT_2);
    let mut cdf = half_tail;
    if x > 0.0 {
        cdf = 1.0f32 - half_tail;
    }
    cdf
}

/// `act(x)`.
#[cube]
pub fn activate(x: f32, #[comptime] act: Act) -> f32 {
    let mut y = x;
    if comptime!(act == Act::Relu) {
        y = max(x, 0.0f32);
    } else if comptime!(act == Act::Tanh) {
        y = f32::tanh(x);
    } else if comptime!(act == Act::Sigmoid) {
        y = 1.0f32 / (1.0f32 + f32::exp(-x));
    } else if comptime!(matches!(act, Act::LeakyRelu(_))) {
        if x <= 0.0 {
            y = x * f32::new(comptime!(act.slope()));
        }
    } else if comptime!(act == Act::Gelu) {
        y = x * std_normal_cdf(x);
    } else if comptime!(act == Act::GeluTanh) {
        let k = SQRT_2_OVER_PI * (x + GELU_KAPPA * x * x * x);
        y = 0.5f32 * x * (1.0f32 + f32::tanh(k));
    } else if comptime!(act == Act::Silu) {
        // PyTorch's `x / (1 + exp(-x))`; -0 for very negative x (exp overflows to inf).
        y = x / (1.0f32 + f32::exp(-x));
    } else if comptime!(act == Act::Relu6) {
        y = min(max(x, 0.0f32), 6.0f32);
    } else if comptime!(act == Act::Hardswish) {
        // PyTorch's `x * min(max(x + 3, 0), 6) / 6`, in that order.
        y = x * min(max(x + 3.0f32, 0.0f32), 6.0f32) / 6.0f32;
    }
    y
}

/// `g * act'(x)`, where `v` is the block output `y = act(x)`, or the pre-activation `x` when
/// [`Act::needs_pre`].
///
/// Tanh-approximated GELU (PyTorch's `GeluBackward` for approximate='tanh'):
/// `t = tanh(k)`, `act' = (1 + t)/2 + x/2 (1 - t²) √(2/π) (1 + 3 · 0.044715 x²)`.
///
/// ReLU6 passes the gradient only where `0 < y < 6` (`hardtanh_backward`: zero at and beyond
/// both bounds). Hardswish (`hardswish_backward` of PyTorch 2.x, checked with torch 2.15):
/// `0` for `x <= -3`, `x/3 + 1/2` for `-3 < x < 3`, `1` for `x >= 3`.
#[cube]
pub fn act_grad(g: f32, v: f32, #[comptime] act: Act) -> f32 {
    let mut d = g;
    if comptime!(act == Act::Relu) {
        if v <= 0.0 {
            d = 0.0;
        }
    } else if comptime!(act == Act::Tanh) {
        d = g * (1.0f32 - v * v);
    } else if comptime!(act == Act::Sigmoid) {
        d = g * (v * (1.0f32 - v));
    } else if comptime!(matches!(act, Act::LeakyRelu(_))) {
        if v <= 0.0 {
            d = g * f32::new(comptime!(act.slope()));
        }
    } else if comptime!(act == Act::Gelu) {
        let pdf = FRAC_1_SQRT_2PI * f32::exp(-0.5f32 * v * v);
        d = g * (std_normal_cdf(v) + v * pdf);
    } else if comptime!(act == Act::GeluTanh) {
        let x2 = v * v;
        let k = SQRT_2_OVER_PI * (v + GELU_KAPPA * x2 * v);
        let t = f32::tanh(k);
        let left = 0.5f32 * (1.0f32 + t);
        let right =
            0.5f32 * v * (1.0f32 - t * t) * SQRT_2_OVER_PI * (1.0f32 + 3.0f32 * GELU_KAPPA * x2);
        d = g * (left + right);
    } else if comptime!(act == Act::Silu) {
        let sig = 1.0f32 / (1.0f32 + f32::exp(-v));
        d = g * (sig * (1.0f32 + v * (1.0f32 - sig)));
    } else if comptime!(act == Act::Relu6) {
        if v <= 0.0f32 || v >= 6.0f32 {
            d = 0.0;
        }
    } else if comptime!(act == Act::Hardswish) {
        if v <= -3.0f32 {
            d = 0.0;
        } else if v < 3.0f32 {
            d = g * (v / 3.0f32 + 0.5f32);
        }
    }
    d
}
