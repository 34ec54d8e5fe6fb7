//! `Dropout` (torch.nn.Dropout) and its block: in training mode each element is zeroed with
//! probability `p` and the others scaled by `1 / (1 - p)`; the mask is a hash of the network
//! seed, the forward-pass counter, the layer's ordinal and the element, recomputed in the
//! backward pass (`cubenet_kernels::dropout`). In eval mode it is the identity.
use proc_macro2::TokenStream;
use quote::quote;

use super::block::{Block, BlockOp, Phase, Target};
use super::{At, Invalid, Layer, Lowering, Role};
use crate::errors::Errors;
use crate::options::{FloatRule, OptKind, OptSpec, Options, OutOfRange};
use crate::shape::{Known, Site, Source};

/// torch.nn.Dropout's default `p`.
const DEFAULT_P: f32 = 0.5;
const P: FloatRule = FloatRule {
    bad: Some(OutOfRange {
        is_bad: |v| v >= 1.0,
        rule: "must be below 1",
        why: "it is the probability of zeroing an element, and at 1 nothing would pass (the scale 1 / (1 - p) is infinite)",
    }),
    negative: ": it is the probability of zeroing an element (0 <= p < 1)",
};

/// torch.nn.Dropout options.
#[derive(Debug)]
pub struct Dropout {
    /// The probability of zeroing an element, `0 <= p < 1`.
    pub p: f32,
}

impl Layer for Dropout {
    const OPTIONS: &'static [OptSpec] = &[OptSpec::named("p", OptKind::Float(&P)).aliases(&[
        "rate",
        "prob",
        "drop_rate",
        "drop_prob",
    ])];
    const ROLE: Role = Role::Standalone;
    fn build(v: &Options) -> Result<Self, Invalid> {
        match (v.ok, v.float(0, DEFAULT_P)) {
            (true, Some(p)) => Ok(Dropout { p }),
            _ => Err(Invalid::default()),
        }
    }
    fn infer(&self, _: Site, cur: Known, _: &Source, _: &mut Errors) -> Known {
        cur
    }
    fn infer_invalid(_: &Invalid, _: Site, cur: Known, _: &Source, _: &mut Errors) -> Known {
        cur
    }
    fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()> {
        let block = DropoutBlock {
            len: at.shaped.input.len()?,
            p: self.p,
            ordinal: lw.dropouts,
        };
        lw.dropouts += 1;
        lw.push(at, Box::new(block), false, false);
        Some(())
    }
}

/// A dropout block.
#[derive(Clone, Debug)]
pub struct DropoutBlock {
    /// Floats per sample.
    pub len: usize,
    pub p: f32,
    /// Which Dropout of the network this is (from 0): it salts the mask.
    pub ordinal: u32,
}

/// A Dropout's comptime `(threshold, scale bits, salt)` for drop probability `p` and its
/// ordinal among the network's Dropouts (see `cubenet_kernels::dropout`): the threshold is
/// `floor(p * 2^32)`, the scale `1 / (1 - p)` computed in f64 and rounded to f32, the salt
/// `(ordinal + 1) * 0x9E3779B9` (wrapping).
pub fn dropout_fields(p: f32, ordinal: u32) -> (u32, u32, u32) {
    // The f64 the user wrote (`0.3`, not the f32 nearest to it), as PyTorch's Python float.
    let p: f64 = p.to_string().parse().unwrap_or(p as f64);
    let threshold = (p * 4294967296.0).floor().min(u32::MAX as f64) as u32;
    let scale = ((1.0 / (1.0 - p)) as f32).to_bits();
    (
        threshold,
        scale,
        ordinal.wrapping_add(1).wrapping_mul(0x9E37_79B9),
    )
}

impl BlockOp for DropoutBlock {
    fn label(&self) -> &'static str {
        "dropout"
    }
    fn out_len(&self) -> usize {
        self.len
    }
    fn kernels_module(&self) -> &'static str {
        "dropout"
    }
    fn mode_dependent(&self) -> bool {
        true
    }
    fn cfg_type(&self) -> &'static str {
        "DropoutCfg"
    }
    fn cfg(&self, b: &Block, _i: usize, _target: Target) -> TokenStream {
        let len = self.len;
        let (threshold, scale, salt) = dropout_fields(self.p, self.ordinal);
        let (in_act, out_act, in_grad, out_grad) = (b.in_act, b.out_act, b.in_grad, b.out_grad);
        quote! {
            DropoutCfg {
                len: #len, threshold: #threshold, scale: #scale, salt: #salt,
                in_act: #in_act, out_act: #out_act, in_grad: #in_grad, out_grad: #out_grad,
            }
        }
    }
    fn call(&self, phase: Phase, c: &TokenStream, train: bool) -> TokenStream {
        match phase {
            Phase::Forward => quote!(dropout_forward_unit(acts, u, seed, #train, #c, cap);),
            Phase::InputGrad => quote!(dropout_input_grad_unit(acts, u, seed, #c, cap);),
            Phase::Stats
            | Phase::NormGrad
            | Phase::OutGrad
            | Phase::WeightPartial
            | Phase::WeightGrad
            | Phase::ForwardSum => quote!(),
        }
    }
    fn units(&self, phase: Phase, c: &TokenStream) -> TokenStream {
        match phase {
            Phase::Forward => quote!(#c.forward_units(n)),
            Phase::InputGrad => quote!(#c.input_grad_units(n)),
            Phase::Stats
            | Phase::NormGrad
            | Phase::OutGrad
            | Phase::WeightPartial
            | Phase::WeightGrad
            | Phase::ForwardSum => quote!(0usize),
        }
    }
    fn loops(&self, _: Phase, _: &TokenStream, _: bool) -> Option<TokenStream> {
        // Elementwise: no loops.
        None
    }
}
