//! `BatchNorm2d` and `BatchNorm1d` (torch.nn.BatchNorm2d / BatchNorm1d, affine, tracking
//! running statistics) and the norm block they lower to: the BatchNorm, a residual addition
//! (inside a `BasicBlock`), and the activation and max-pool after it fused
//! (`cubenet_kernels::norm`). A BatchNorm1d is a BatchNorm2d on `F x 1 x 1`.
use proc_macro2::TokenStream;
use quote::quote;

use super::activation::{act_tokens, Activation};
use super::block::{Block, BlockOp, Params, Phase, Scratch, Target};
use super::max_pool2d::pool_cfg_tokens;
use super::{At, Invalid, Layer, Lowering, Role};
use crate::errors::Errors;
use crate::ir::{PoolWindow, Spanned};
use crate::options::{FloatRule, OptKind, OptSpec, Options, OutOfRange, FEATURES};
use crate::shape::{check_channels, check_features, dim, Known, Shape, Site, Source};

/// torch.nn.BatchNorm's defaults.
pub const DEFAULT_EPS: f32 = 1e-5;
pub const DEFAULT_MOMENTUM: f32 = 0.1;

const EPS: FloatRule = FloatRule {
    bad: Some(OutOfRange {
        is_bad: |v| v <= 0.0,
        rule: "must be > 0",
        why: "it keeps the division by the standard deviation finite",
    }),
    negative: ": it must be > 0 (it keeps the division by the standard deviation finite)",
};
const MOMENTUM: FloatRule = FloatRule {
    bad: Some(OutOfRange {
        is_bad: |v| v > 1.0,
        rule: "must be between 0 and 1",
        why: "the running statistics are `(1 - momentum) * running + momentum * batch`",
    }),
    negative: ": it must be between 0 and 1 (the running statistics are `(1 - momentum) * running + momentum * batch`)",
};
const OPTIONS: &[OptSpec] = &[
    OptSpec::positional("num_features", 0, OptKind::Int).nonzero(FEATURES),
    OptSpec::named("eps", OptKind::Float(&EPS)).aliases(&["epsilon"]),
    OptSpec::named("momentum", OptKind::Float(&MOMENTUM)),
];

/// torch.nn.BatchNorm options (always affine, tracking running statistics).
#[derive(Debug)]
pub struct BatchNorm {
    pub num_features: Spanned<usize>,
    pub eps: f32,
    pub momentum: f32,
}

impl BatchNorm {
    fn build(v: &Options) -> Result<Self, Invalid> {
        match (
            v.ok,
            v.int(0),
            v.float(1, DEFAULT_EPS),
            v.float(2, DEFAULT_MOMENTUM),
        ) {
            (true, Some(num_features), Some(eps), Some(momentum)) => Ok(BatchNorm {
                num_features,
                eps,
                momentum,
            }),
            _ => Err(Invalid {
                input: v.int(0),
                output: v.int(0).map(|o| o.value),
                ..Invalid::default()
            }),
        }
    }
    fn lower(&self, at: &At, lw: &mut Lowering, two_d: bool) -> Option<()> {
        let (c, h, w) = match at.shaped.input {
            Shape::Spatial { c, h, w } => (c, h, w),
            Shape::Flat(f) => (f, 1, 1),
        };
        let block = NormBlock {
            num_features: c,
            hw: (h, w),
            eps: self.eps,
            momentum: self.momentum,
            act: None,
            pool: None,
            out_hw: (h, w),
        };
        lw.push(at, Box::new(block), true, two_d);
        Some(())
    }
}

/// torch.nn.BatchNorm2d: on `C x H x W`, `C = num_features`.
#[derive(Debug)]
pub struct BatchNorm2d(pub BatchNorm);

impl Layer for BatchNorm2d {
    const OPTIONS: &'static [OptSpec] = OPTIONS;
    const ROLE: Role = Role::Opens {
        spatial: true,
        matmul: false,
    };
    fn build(v: &Options) -> Result<Self, Invalid> {
        BatchNorm::build(v).map(BatchNorm2d)
    }
    fn infer(&self, site: Site, cur: Known, src: &Source, errors: &mut Errors) -> Known {
        match cur {
            Known::Spatial { c: Some(c), h, w } => {
                check_channels(self.0.num_features, c, h, w, src, errors)
            }
            Known::Flat(f) => errors.push(
                site.ty_span,
                format!(
                    "BatchNorm2d `{}` needs a C x H x W input, but {} {} flat features: use `BatchNorm1d<{}>` on features, or put it before the Flatten",
                    site.name,
                    src.gives(),
                    dim(f),
                    dim(f)
                ),
            ),
            Known::Spatial { c: None, .. } | Known::Unknown => {}
        }
        // It does not change the shape: the layers after it see what it was given.
        cur
    }
    fn infer_invalid(_: &Invalid, _: Site, cur: Known, _: &Source, _: &mut Errors) -> Known {
        cur
    }
    fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()> {
        self.0.lower(at, lw, true)
    }
}

/// torch.nn.BatchNorm1d: on `F` features, `F = num_features`.
#[derive(Debug)]
pub struct BatchNorm1d(pub BatchNorm);

impl Layer for BatchNorm1d {
    const OPTIONS: &'static [OptSpec] = OPTIONS;
    const ROLE: Role = Role::Opens {
        spatial: false,
        matmul: false,
    };
    fn build(v: &Options) -> Result<Self, Invalid> {
        BatchNorm::build(v).map(BatchNorm1d)
    }
    fn infer(&self, site: Site, cur: Known, src: &Source, errors: &mut Errors) -> Known {
        match cur {
            Known::Flat(Some(f)) => check_features(self.0.num_features, f, src, errors),
            Known::Spatial { c, h, w } => errors.push(
                site.ty_span,
                format!(
                    "BatchNorm1d `{}` needs flat features, but {} {} x {} x {}: use `BatchNorm2d<{}>` on channels, or put it after a `Flatten`",
                    site.name,
                    src.gives(),
                    dim(c),
                    dim(h),
                    dim(w),
                    dim(c)
                ),
            ),
            Known::Flat(None) | Known::Unknown => {}
        }
        // It does not change the shape: the layers after it see what it was given.
        cur
    }
    fn infer_invalid(_: &Invalid, _: Site, cur: Known, _: &Source, _: &mut Errors) -> Known {
        cur
    }
    fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()> {
        self.0.lower(at, lw, false)
    }
}

/// A norm block: BatchNorm (+ residual input) (+ activation) (+ max-pool), on
/// `num_features` planes of `hw` (1 x 1 for a BatchNorm1d).
#[derive(Clone, Debug)]
pub struct NormBlock {
    pub num_features: usize,
    pub hw: (usize, usize),
    pub eps: f32,
    pub momentum: f32,
    pub act: Option<Activation>,
    pub pool: Option<PoolWindow>,
    pub out_hw: (usize, usize),
}

impl NormBlock {
    /// A BatchNorm2d with torch's default eps and momentum followed by `act` (inside a
    /// `BasicBlock`).
    pub fn default_2d(num_features: usize, hw: (usize, usize), act: Option<Activation>) -> Self {
        NormBlock {
            num_features,
            hw,
            eps: DEFAULT_EPS,
            momentum: DEFAULT_MOMENTUM,
            act,
            pool: None,
            out_hw: hw,
        }
    }
}

impl BlockOp for NormBlock {
    fn label(&self) -> &'static str {
        "batch norm"
    }
    fn out_len(&self) -> usize {
        self.num_features * self.out_hw.0 * self.out_hw.1
    }
    fn macs(&self, phase: Phase) -> usize {
        // One multiply-add per input element and pass over it.
        let len = self.num_features * self.hw.0 * self.hw.1;
        match phase {
            Phase::Forward | Phase::Stats | Phase::InputGrad => len,
            Phase::NormGrad => 2 * len,
            Phase::ForwardSum | Phase::OutGrad | Phase::WeightPartial | Phase::WeightGrad => 0,
        }
    }
    fn kernels_module(&self) -> &'static str {
        "norm"
    }
    fn act(&self) -> Option<Activation> {
        self.act
    }
    fn set_act(&mut self, act: Activation) -> Option<()> {
        self.act = Some(act);
        Some(())
    }
    fn set_pool(&mut self, window: PoolWindow, out_hw: (usize, usize)) -> Option<()> {
        self.pool = Some(window);
        self.out_hw = out_hw;
        Some(())
    }
    fn pooled(&self) -> bool {
        self.pool.is_some()
    }
    fn params(&self) -> Option<Params> {
        // torch.nn.BatchNorm's reset_parameters: weight 1, bias 0.
        Some(Params {
            weight: vec![self.num_features],
            bias: Some(self.num_features),
            fan_in: 0,
            init: ("Ones", "Zeros"),
        })
    }
    fn running_stats(&self) -> Option<usize> {
        Some(self.num_features)
    }
    fn scratch(&self) -> Scratch {
        let c = self.num_features;
        Scratch {
            stat: 2 * c,
            gstat: 2 * c,
            dy: c * self.hw.0 * self.hw.1,
            dconv: 0,
        }
    }
    fn min_train_batch(&self) -> usize {
        if self.hw.0 * self.hw.1 == 1 {
            2
        } else {
            1
        }
    }
    fn mode_dependent(&self) -> bool {
        true
    }
    fn forward_phases(&self) -> &'static [Phase] {
        &[Phase::Stats, Phase::Forward]
    }
    fn backward_phases(&self) -> Vec<Phase> {
        vec![Phase::NormGrad]
    }
    fn cfg_type(&self) -> &'static str {
        "NormCfg"
    }
    fn cfg(&self, b: &Block, _i: usize, target: Target) -> TokenStream {
        let num_features = self.num_features;
        // A channel's whole batch per unit on the cpu (its moments combined once), one
        // plane per unit on a gpu.
        let samples_per_unit: usize = match target {
            Target::Cpu => 0,
            Target::Gpu => 1,
        };
        let (h, w) = self.hw;
        let (eps, momentum) = (self.eps.to_bits(), self.momentum.to_bits());
        let act = act_tokens(self.act);
        let pool = pool_cfg_tokens(self.pool, self.hw, self.out_hw);
        let (out_h, out_w) = self.out_hw;
        let (w_off, b_off, rm_off, rv_off, in_act, out_act, in_grad, out_grad, argmax) = (
            b.w_off, b.b_off, b.rm_off, b.rv_off, b.in_act, b.out_act, b.in_grad, b.out_grad,
            b.argmax,
        );
        let (stat, gstat, dy) = (b.stat, b.gstat, b.dy);
        let input_grad = b.needs_input_grad(_i);
        let (skip, skip_act) = (b.skip.is_some(), b.skip_act);
        quote! {
            NormCfg {
                num_features: #num_features, h: #h, w: #w, eps: #eps, momentum: #momentum,
                act: #act, pool: #pool, out_h: #out_h, out_w: #out_w,
                w_off: #w_off, b_off: #b_off, rm_off: #rm_off, rv_off: #rv_off,
                in_act: #in_act, out_act: #out_act, in_grad: #in_grad, out_grad: #out_grad,
                argmax: #argmax, stat: #stat, gstat: #gstat, dy: #dy, skip: #skip,
                skip_act: #skip_act, input_grad: #input_grad,
                samples_per_unit: #samples_per_unit,
            }
        }
    }
    fn call(&self, phase: Phase, c: &TokenStream, train: bool) -> TokenStream {
        match phase {
            Phase::Forward => {
                quote!(norm_forward_unit(params, acts, idx, bufs, u, #train, #c, n, cap);)
            }
            Phase::Stats => quote!(norm_stats_unit(acts, u, #c, n, cap);),
            Phase::NormGrad => quote!(norm_grad_unit(params, acts, idx, u, #c, n, cap);),
            Phase::InputGrad => quote!(norm_input_grad_unit(params, acts, u, #c, n, cap);),
            Phase::WeightGrad => quote! {
                norm_weight_grad_unit(params, velocity, grads, acts, u, lr, momentum,
                    dampening, weight_decay, flags, #c, n, cap);
            },
            Phase::OutGrad | Phase::WeightPartial | Phase::ForwardSum => quote!(),
        }
    }
    fn units(&self, phase: Phase, c: &TokenStream) -> TokenStream {
        match phase {
            Phase::Forward => quote!(#c.forward_units(n)),
            Phase::Stats | Phase::NormGrad => quote!(#c.units(n)),
            Phase::InputGrad => quote!(#c.input_grad_units(n)),
            Phase::WeightGrad => quote!(#c.weight_grad_units()),
            Phase::OutGrad | Phase::WeightPartial | Phase::ForwardSum => quote!(0usize),
        }
    }
    fn loops(&self, phase: Phase, c: &TokenStream, train: bool) -> Option<TokenStream> {
        Some(match phase {
            Phase::Forward => quote!(#c.forward_loop_iterations(n, #train)),
            Phase::Stats => quote!(#c.stats_loop_iterations(n)),
            Phase::NormGrad => quote!(#c.grad_loop_iterations(n)),
            Phase::InputGrad => quote!(#c.input_grad_loop_iterations(n)),
            Phase::WeightGrad => quote!(#c.weight_grad_loop_iterations(n)),
            Phase::OutGrad | Phase::WeightPartial | Phase::ForwardSum => return None,
        })
    }
}
