//! Activations: `Relu`, `Tanh`, `Sigmoid`, `LeakyRelu`, `Gelu`, `SiLU`, `Relu6`, `Hardswish`
//! (torch.nn.ReLU, Tanh, Sigmoid, LeakyReLU, GELU, SiLU, ReLU6, Hardswish). Each is fused into
//! the Conv2d, Linear or BatchNorm block before it, as the kernels' comptime `Act`
//! ([`Activation::tokens`]); formulas and derivatives are in `cubenet_kernels::act`.
use proc_macro2::TokenStream;
use quote::quote;

use super::{At, Invalid, Layer, Lowering, Role};
use crate::errors::Errors;
use crate::options::{FloatRule, OptKind, OptSpec, Options};
use crate::shape::{Known, Site, Source};

/// An activation fused into a block, with its options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Relu,
    Tanh,
    Sigmoid,
    /// `negative_slope` (>= 0).
    LeakyRelu(f32),
    /// `approximate = "tanh"` when true.
    Gelu {
        tanh: bool,
    },
    SiLU,
    Relu6,
    Hardswish,
}

impl Activation {
    /// The kernels' comptime `Act` (a LeakyRelu's slope as f32 bits).
    pub fn tokens(self) -> TokenStream {
        match self {
            Activation::Relu => quote!(Act::Relu),
            Activation::Tanh => quote!(Act::Tanh),
            Activation::Sigmoid => quote!(Act::Sigmoid),
            Activation::LeakyRelu(slope) => {
                let bits = slope.to_bits();
                quote!(Act::LeakyRelu(#bits))
            }
            Activation::Gelu { tanh: false } => quote!(Act::Gelu),
            Activation::Gelu { tanh: true } => quote!(Act::GeluTanh),
            Activation::SiLU => quote!(Act::Silu),
            Activation::Relu6 => quote!(Act::Relu6),
            Activation::Hardswish => quote!(Act::Hardswish),
        }
    }
    /// Whether the derivative needs the pre-activation rather than the output (the output
    /// does not determine it).
    pub fn needs_pre(self) -> bool {
        match self {
            Activation::Relu
            | Activation::Tanh
            | Activation::Sigmoid
            | Activation::LeakyRelu(_)
            | Activation::Relu6 => false,
            Activation::Gelu { .. } | Activation::SiLU | Activation::Hardswish => true,
        }
    }
}

/// `Act::None` or the activation's `Act`.
pub fn act_tokens(act: Option<Activation>) -> TokenStream {
    act.map_or_else(|| quote!(Act::None), Activation::tokens)
}

/// An activation layer: no shape change, fused into the open block.
trait Simple {
    fn activation(&self) -> Activation;
}

/// Implements [`Layer`] for an activation kind with `options`, `monotonic` (commutes with
/// max-pooling) and `idempotent` (`f(f(x)) = f(x)`), built by `build`.
macro_rules! activation_layer {
    ($ty:ident, $pytorch:literal, $options:expr, monotonic: $mono:expr, idempotent: $idem:expr, $build:expr) => {
        impl Layer for $ty {
            const OPTIONS: &'static [OptSpec] = $options;
            const ROLE: Role = Role::Activation {
                monotonic: $mono,
                idempotent: $idem,
                pytorch: $pytorch,
            };
            fn build(v: &Options) -> Result<Self, Invalid> {
                let build: fn(&Options) -> Option<Self> = $build;
                build(v).filter(|_| v.ok).ok_or_else(Invalid::default)
            }
            fn infer(&self, _: Site, cur: Known, _: &Source, _: &mut Errors) -> Known {
                cur
            }
            fn infer_invalid(
                _: &Invalid,
                _: Site,
                cur: Known,
                _: &Source,
                _: &mut Errors,
            ) -> Known {
                cur
            }
            fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()> {
                lw.fuse_act(at, self.activation())
            }
        }
    };
}

/// torch.nn.ReLU.
#[derive(Debug)]
pub struct Relu;
impl Simple for Relu {
    fn activation(&self) -> Activation {
        Activation::Relu
    }
}
activation_layer!(Relu, "ReLU", &[], monotonic: true, idempotent: true, |_| Some(Relu));

/// torch.nn.Tanh.
#[derive(Debug)]
pub struct Tanh;
impl Simple for Tanh {
    fn activation(&self) -> Activation {
        Activation::Tanh
    }
}
activation_layer!(Tanh, "Tanh", &[], monotonic: true, idempotent: false, |_| Some(Tanh));

/// torch.nn.Sigmoid.
#[derive(Debug)]
pub struct Sigmoid;
impl Simple for Sigmoid {
    fn activation(&self) -> Activation {
        Activation::Sigmoid
    }
}
activation_layer!(Sigmoid, "Sigmoid", &[], monotonic: true, idempotent: false, |_| Some(Sigmoid));

/// torch.nn.LeakyReLU(negative_slope); the slope must be >= 0 (the gradient is taken from
/// the sign of the output).
#[derive(Debug)]
pub struct LeakyRelu {
    pub negative_slope: f32,
}
impl Simple for LeakyRelu {
    fn activation(&self) -> Activation {
        Activation::LeakyRelu(self.negative_slope)
    }
}
/// torch.nn.LeakyReLU's default `negative_slope`.
const DEFAULT_NEGATIVE_SLOPE: f32 = 0.01;
const NEGATIVE_SLOPE: FloatRule = FloatRule {
    bad: None,
    negative: ": cubenet takes the activation's gradient from the sign of its output, which needs a slope >= 0",
};
activation_layer!(
    LeakyRelu,
    "LeakyReLU",
    &[OptSpec::named("negative_slope", OptKind::Float(&NEGATIVE_SLOPE)).aliases(&["alpha", "slope"])],
    monotonic: true,
    idempotent: false,
    |v| Some(LeakyRelu { negative_slope: v.float(0, DEFAULT_NEGATIVE_SLOPE)? })
);

/// torch.nn.GELU(approximate): exact (`"none"`, with erf) or the tanh approximation.
#[derive(Debug)]
pub struct Gelu {
    pub tanh: bool,
}
impl Simple for Gelu {
    fn activation(&self) -> Activation {
        Activation::Gelu { tanh: self.tanh }
    }
}
/// torch.nn.GELU's `approximate`: "none" (exact, erf) or "tanh".
const GELU_APPROXIMATE: &[&str] = &["none", "tanh"];
activation_layer!(
    Gelu,
    "GELU",
    &[OptSpec::named("approximate", OptKind::Choice(GELU_APPROXIMATE))],
    monotonic: false,
    idempotent: false,
    |v| Some(Gelu { tanh: v.choice(0, 0)? == 1 })
);

/// torch.nn.SiLU (swish): `x σ(x)`. Not monotonic (its minimum is at x ≈ -1.28), so it must
/// come before a max-pool.
#[derive(Debug)]
pub struct SiLU;
impl Simple for SiLU {
    fn activation(&self) -> Activation {
        Activation::SiLU
    }
}
activation_layer!(SiLU, "SiLU", &[], monotonic: false, idempotent: false, |_| Some(SiLU));

/// torch.nn.ReLU6: `min(max(x, 0), 6)`. Monotonic, so it may follow a max-pool; idempotent.
#[derive(Debug)]
pub struct Relu6;
impl Simple for Relu6 {
    fn activation(&self) -> Activation {
        Activation::Relu6
    }
}
activation_layer!(Relu6, "ReLU6", &[], monotonic: true, idempotent: true, |_| Some(Relu6));

/// torch.nn.Hardswish: `x relu6(x + 3) / 6`. Not monotonic (its minimum is at x = -1.5), so
/// it must come before a max-pool.
#[derive(Debug)]
pub struct Hardswish;
impl Simple for Hardswish {
    fn activation(&self) -> Activation {
        Activation::Hardswish
    }
}
activation_layer!(Hardswish, "Hardswish", &[], monotonic: false, idempotent: false, |_| Some(Hardswish));
