//! `Linear` (torch.nn.Linear) and the linear block it lowers to: `x W^T + b` with the
//! activation after it fused (`cubenet_kernels::linear`). The network's last Linear is the
//! head, fused with softmax cross-entropy (`cubenet_kernels::head`).
use proc_macro2::TokenStream;
use quote::quote;

use super::activation::{act_tokens, Activation};
use super::block::{largest_divisor, Block, BlockOp, Params, Phase, Target};
use super::{At, Invalid, Layer, Lowering, Role};
use crate::errors::Errors;
use crate::ir::Spanned;
use crate::options::{OptKind, OptSpec, Options, FEATURES};
use crate::shape::{check_features, check_params, dim, Known, Site, Source};

/// torch.nn.Linear options.
#[derive(Debug)]
pub struct Linear {
    pub in_features: Spanned<usize>,
    pub out_features: Spanned<usize>,
    pub bias: bool,
}

impl Layer for Linear {
    const OPTIONS: &'static [OptSpec] = &[
        OptSpec::positional("in_features", 0, OptKind::Int).nonzero(FEATURES),
        OptSpec::positional("out_features", 1, OptKind::Int).nonzero(FEATURES),
        OptSpec::named("bias", OptKind::Bool),
    ];
    const ROLE: Role = Role::Opens {
        spatial: false,
        matmul: true,
    };
    fn build(v: &Options) -> Result<Self, Invalid> {
        match (v.ok, v.int(0), v.int(1), v.boolean(2, true)) {
            (true, Some(in_features), Some(out_features), Some(bias)) => Ok(Linear {
                in_features,
                out_features,
                bias,
            }),
            _ => Err(Invalid {
                input: v.int(0),
                output: v.int(1).map(|o| o.value),
                ..Invalid::default()
            }),
        }
    }
    fn infer(&self, site: Site, cur: Known, src: &Source, errors: &mut Errors) -> Known {
        match cur {
            Known::Flat(Some(f)) => check_features(self.in_features, f, src, errors),
            Known::Spatial { c, h, w } => {
                let would = match (c, h, w) {
                    (Some(c), Some(h), Some(w)) => c
                        .checked_mul(h)
                        .and_then(|x| x.checked_mul(w))
                        .map(|n| format!(" (it would give {n} features)"))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                errors.push(
                    site.ty_span,
                    format!(
                        "Linear `{}` needs flat features, but {} {} x {} x {}: add a `Flatten` layer before it{would}",
                        site.name,
                        src.gives(),
                        dim(c),
                        dim(h),
                        dim(w)
                    ),
                );
            }
            Known::Flat(None) | Known::Unknown => {}
        }
        check_params(
            self.in_features.value.checked_mul(self.out_features.value),
            site.name,
            errors,
        );
        Known::Flat(Some(self.out_features.value))
    }
    fn infer_invalid(
        inv: &Invalid,
        _site: Site,
        cur: Known,
        src: &Source,
        errors: &mut Errors,
    ) -> Known {
        if let (Known::Flat(Some(f)), Some(found)) = (cur, inv.input) {
            check_features(found, f, src, errors);
        }
        Known::Flat(inv.output)
    }
    fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()> {
        let block = LinearBlock {
            in_features: self.in_features.value,
            out_features: self.out_features.value,
            act: None,
            bias: self.bias,
        };
        lw.push(at, Box::new(block), true, false);
        Some(())
    }
}

/// A linear block: Linear (+ bias) (+ activation).
#[derive(Clone, Debug)]
pub struct LinearBlock {
    pub in_features: usize,
    pub out_features: usize,
    pub act: Option<Activation>,
    pub bias: bool,
}

/// The fewest `in_features` one split-K range sums.
const MIN_SPLIT_LEN: usize = 256;

impl LinearBlock {
    /// The split-K ranges of its forward sum (`cubenet_kernels::linear::LinearCfg::k_splits`):
    /// the largest of 8, 4, 2 that divides `in_features` into ranges of at least
    /// [`MIN_SPLIT_LEN`], else 1 (800 -> 2, 3136 -> 8, 400 -> 1). The shape alone decides, so
    /// every target sums in the same order.
    fn k_splits(&self) -> usize {
        let f = self.in_features;
        [8, 4, 2]
            .into_iter()
            .find(|&d| f.is_multiple_of(d) && f / d >= MIN_SPLIT_LEN)
            .unwrap_or(1)
    }
}

impl BlockOp for LinearBlock {
    fn label(&self) -> &'static str {
        "linear"
    }
    fn out_len(&self) -> usize {
        self.out_features
    }
    fn kernels_module(&self) -> &'static str {
        "linear"
    }
    fn act(&self) -> Option<Activation> {
        self.act
    }
    fn set_act(&mut self, act: Activation) -> Option<()> {
        self.act = Some(act);
        Some(())
    }
    fn needs_pre(&self) -> bool {
        self.act.is_some_and(Activation::needs_pre)
    }
    fn params(&self) -> Option<Params> {
        Some(Params {
            weight: vec![self.out_features, self.in_features],
            bias: self.bias.then_some(self.out_features),
            fan_in: self.in_features,
            init: ("Uniform", "Uniform"),
        })
    }
    fn forward_macs(&self) -> usize {
        self.in_features.saturating_mul(self.out_features)
    }
    fn macs(&self, phase: Phase) -> usize {
        match phase {
            Phase::Forward | Phase::InputGrad | Phase::WeightGrad => self.forward_macs(),
            Phase::ForwardSum
            | Phase::Stats
            | Phase::NormGrad
            | Phase::OutGrad
            | Phase::WeightPartial => 0,
        }
    }
    fn forward_phases(&self) -> &'static [Phase] {
        if self.k_splits() > 1 {
            &[Phase::Forward, Phase::ForwardSum]
        } else {
            &[Phase::Forward]
        }
    }
    fn part_len(&self) -> (usize, usize) {
        match self.k_splits() {
            1 => (0, 0),
            k => (k * self.out_features, 0),
        }
    }
    fn cfg_type(&self) -> &'static str {
        "LinearCfg"
    }
    fn cfg(&self, b: &Block, _i: usize, target: Target) -> TokenStream {
        let (in_features, out_features, bias) = (self.in_features, self.out_features, self.bias);
        let act = act_tokens(self.act);
        let (w_off, b_off, in_act, out_act, in_grad, out_grad, pre_act) = (
            b.w_off, b.b_off, b.in_act, b.out_act, b.in_grad, b.out_grad, b.pre_act,
        );
        // cpu: 16 features per explicit vector (`cubenet_kernels::linear::vector`), 8 rows
        // per forward / input-gradient unit, up to 4 outputs per weight-gradient unit.
        // gpu: one output (input feature, weight) per unit: n x out_features x k_splits
        // forward units, n x in_features input-gradient units.
        let (rb, ob, ib, vector): (usize, usize, usize, bool) = match target {
            Target::Cpu => (8, largest_divisor(out_features, &[4, 2, 1]), 1, true),
            Target::Gpu => (1, 1, 1, false),
        };
        let k_splits = self.k_splits();
        let (part_a, part_b) = (b.part_a, b.part_b);
        quote! {
            LinearCfg {
                in_features: #in_features, out_features: #out_features, act: #act, bias: #bias,
                w_off: #w_off, b_off: #b_off, in_act: #in_act, out_act: #out_act,
                in_grad: #in_grad, out_grad: #out_grad, pre_act: #pre_act, rb: #rb, ob: #ob,
                ib: #ib, vector: #vector, k_splits: #k_splits, part_a: #part_a, part_b: #part_b,
            }
        }
    }
    fn call(&self, phase: Phase, c: &TokenStream, _train: bool) -> TokenStream {
        match phase {
            Phase::Forward => quote!(linear_forward_unit(params, acts, part, u, #c, n, cap);),
            Phase::ForwardSum => quote!(linear_forward_sum_unit(params, acts, part, u, #c, cap);),
            Phase::InputGrad => quote!(linear_input_grad_unit(params, acts, u, #c, n, cap);),
            Phase::WeightGrad => quote! {
                linear_weight_grad_unit(params, velocity, grads, acts, u, lr, momentum,
                    dampening, weight_decay, flags, #c, n, cap);
            },
            Phase::Stats | Phase::NormGrad | Phase::OutGrad | Phase::WeightPartial => quote!(),
        }
    }
    fn units(&self, phase: Phase, c: &TokenStream) -> TokenStream {
        match phase {
            Phase::Forward => quote!(#c.forward_units(n)),
            Phase::ForwardSum => quote!(#c.forward_sum_units(n)),
            Phase::InputGrad => quote!(#c.input_grad_units(n)),
            Phase::WeightGrad => quote!(#c.weight_grad_units()),
            Phase::Stats | Phase::NormGrad | Phase::OutGrad | Phase::WeightPartial => {
                quote!(0usize)
            }
        }
    }
    fn loops(&self, phase: Phase, c: &TokenStream, _train: bool) -> Option<TokenStream> {
        match phase {
            Phase::Forward => Some(quote!(#c.forward_loop_iterations())),
            Phase::ForwardSum => Some(quote!(#c.forward_sum_loop_iterations())),
            Phase::InputGrad => Some(quote!(#c.input_grad_loop_iterations())),
            Phase::WeightGrad => Some(quote!(#c.weight_grad_loop_iterations(n))),
            Phase::Stats | Phase::NormGrad | Phase::OutGrad | Phase::WeightPartial => None,
        }
    }
}
