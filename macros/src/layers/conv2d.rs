//! `Conv2d` (torch.nn.Conv2d, with `groups` for grouped and depthwise convolution) and the
//! conv block it lowers to: conv + bias, with the activation and max-pool after it fused
//! (`cubenet_kernels::conv`).
use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::activation::{act_tokens, Activation};
use super::block::{largest_divisor, Block, BlockOp, Params, Phase};
use super::max_pool2d::pool_cfg_tokens;
use super::{At, Invalid, Layer, Lowering, Role};
use crate::errors::Errors;
use crate::ir::{Pair, PoolWindow, Spanned, Window};
use crate::options::{OptKind, OptSpec, Options, CHANNELS, DILATION, KERNEL, STRIDE};

/// Why `groups` cannot be 0.
const GROUPS: &str = "groups split the channels into that many groups";
use crate::shape::{check_params, conv_shape, Known, Shape, Site, Source};

/// torch.nn.Conv2d options.
#[derive(Debug)]
pub struct Conv2d {
    pub in_channels: Spanned<usize>,
    pub out_channels: Spanned<usize>,
    pub kernel_size: Pair,
    pub stride: Pair,
    pub padding: Pair,
    pub dilation: Pair,
    /// `groups`: divides `in_channels` and `out_channels` (checked in [`Layer::infer`]).
    pub groups: Spanned<usize>,
    pub bias: bool,
}

impl Conv2d {
    pub fn window(&self) -> Window {
        Window {
            kernel_size: self.kernel_size,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            ceil_mode: false,
        }
    }
}

impl Layer for Conv2d {
    const OPTIONS: &'static [OptSpec] = &[
        OptSpec::positional("in_channels", 0, OptKind::Int).nonzero(CHANNELS),
        OptSpec::positional("out_channels", 1, OptKind::Int).nonzero(CHANNELS),
        OptSpec::positional("kernel_size", 2, OptKind::Pair).nonzero(KERNEL),
        OptSpec::named("stride", OptKind::Pair).nonzero(STRIDE),
        OptSpec::named("padding", OptKind::Pair),
        OptSpec::named("dilation", OptKind::Pair).nonzero(DILATION),
        OptSpec::named("bias", OptKind::Bool),
        OptSpec::named("groups", OptKind::Int).nonzero(GROUPS),
    ];
    const ROLE: Role = Role::Opens {
        spatial: true,
        matmul: true,
    };
    fn build(v: &Options) -> Result<Self, Invalid> {
        let window = (|| {
            Some(Window {
                kernel_size: v.pair(2, None)?,
                stride: v.pair(3, Some((1, 1)))?,
                padding: v.pair(4, Some((0, 0)))?,
                dilation: v.pair(5, Some((1, 1)))?,
                ceil_mode: false,
            })
        })();
        let groups = v.int_or(7, 1);
        match (v.ok, v.int(0), v.int(1), window, v.boolean(6, true), groups) {
            (true, Some(in_channels), Some(out_channels), Some(w), Some(bias), Some(groups)) => {
                Ok(Conv2d {
                    in_channels,
                    out_channels,
                    kernel_size: w.kernel_size,
                    stride: w.stride,
                    padding: w.padding,
                    dilation: w.dilation,
                    groups,
                    bias,
                })
            }
            _ => Err(Invalid {
                ty: None,
                input: v.int(0),
                output: v.int(1).map(|o| o.value),
                window,
            }),
        }
    }
    fn infer(&self, site: Site, cur: Known, src: &Source, errors: &mut Errors) -> Known {
        let (kh, kw) = self.kernel_size.value;
        let (in_channels, out_channels, groups) = (
            self.in_channels.value,
            self.out_channels.value,
            self.groups.value,
        );
        if in_channels % groups != 0 || out_channels % groups != 0 {
            // PyTorch: "in_channels must be divisible by groups" / "out_channels must be ...".
            let which = match (in_channels % groups != 0, out_channels % groups != 0) {
                (true, true) => {
                    format!("in_channels ({in_channels}) and out_channels ({out_channels}) are")
                }
                (true, false) => format!("in_channels ({in_channels}) is"),
                (false, _) => format!("out_channels ({out_channels}) is"),
            };
            let divisors: Vec<String> = (1..=in_channels.min(out_channels))
                .filter(|g| in_channels % g == 0 && out_channels % g == 0)
                .map(|g| g.to_string())
                .collect();
            errors.push(
                self.groups.span,
                format!(
                    "`groups` of Conv2d `{}` must divide in_channels and out_channels, but {which} not a multiple of {groups}: each of the {groups} groups gets an equal share of the channels (groups that fit: {})",
                    site.name,
                    divisors.join(", ")
                ),
            );
        }
        let params = [out_channels, in_channels / groups, kh, kw]
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b));
        check_params(params, site.name, errors);
        conv_shape(
            site,
            cur,
            src,
            Some(self.in_channels),
            Some(self.out_channels.value),
            Some(self.window()),
            errors,
        )
    }
    fn infer_invalid(
        inv: &Invalid,
        site: Site,
        cur: Known,
        src: &Source,
        errors: &mut Errors,
    ) -> Known {
        conv_shape(site, cur, src, inv.input, inv.output, inv.window, errors)
    }
    fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()> {
        let (Shape::Spatial { c, h, w }, Shape::Spatial { h: oh, w: ow, .. }) =
            (at.shaped.input, at.shaped.output)
        else {
            return None;
        };
        let block = ConvBlock {
            in_channels: c,
            in_hw: (h, w),
            out_channels: self.out_channels.value,
            groups: self.groups.value,
            kernel_size: self.kernel_size.value,
            stride: self.stride.value,
            padding: self.padding.value,
            dilation: self.dilation.value,
            conv_hw: (oh, ow),
            act: None,
            pool: None,
            out_hw: (oh, ow),
            bias: self.bias,
        };
        lw.push(at, Box::new(block), true, true);
        Some(())
    }
}

/// A conv block: Conv2d (+ bias) (+ activation) (+ max-pool).
#[derive(Clone, Debug)]
pub struct ConvBlock {
    pub in_channels: usize,
    pub in_hw: (usize, usize),
    pub out_channels: usize,
    /// `groups` (divides both channel counts).
    pub groups: usize,
    pub kernel_size: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    /// The conv's output size (before the pool).
    pub conv_hw: (usize, usize),
    /// The fused activation (applied before the pool).
    pub act: Option<Activation>,
    /// The fused max-pool.
    pub pool: Option<PoolWindow>,
    /// The block's output size (after the pool).
    pub out_hw: (usize, usize),
    pub bias: bool,
}

impl BlockOp for ConvBlock {
    fn label(&self) -> &'static str {
        "conv"
    }
    fn out_len(&self) -> usize {
        self.out_channels * self.out_hw.0 * self.out_hw.1
    }
    fn kernels_module(&self) -> &'static str {
        "conv"
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
    fn needs_pre(&self) -> bool {
        self.act.is_some_and(Activation::needs_pre)
    }
    fn params(&self) -> Option<Params> {
        let (kh, kw) = self.kernel_size;
        let in_per_group = self.in_channels / self.groups;
        Some(Params {
            weight: vec![self.out_channels, in_per_group, kh, kw],
            bias: self.bias.then_some(self.out_channels),
            fan_in: in_per_group * kh * kw,
            init: ("Uniform", "Uniform"),
        })
    }
    fn forward_macs(&self) -> usize {
        let (kh, kw) = self.kernel_size;
        [
            self.out_channels,
            self.conv_hw.0,
            self.conv_hw.1,
            self.in_channels / self.groups,
            kh,
            kw,
        ]
        .iter()
        .fold(1usize, |a, &b| a.saturating_mul(b))
    }
    fn cfg(&self, b: &Block, i: usize) -> TokenStream {
        let name = super::block::cfg_ident(i);
        let (in_channels, out_channels, groups) =
            (self.in_channels, self.out_channels, self.groups);
        let (in_h, in_w) = self.in_hw;
        let (kernel_h, kernel_w) = self.kernel_size;
        let (stride_h, stride_w) = self.stride;
        let (padding_h, padding_w) = self.padding;
        let (dilation_h, dilation_w) = self.dilation;
        let (conv_h, conv_w) = self.conv_hw;
        let (out_h, out_w) = self.out_hw;
        let act = act_tokens(self.act);
        let pool = pool_cfg_tokens(self.pool, self.conv_hw, self.out_hw);
        let bias = self.bias;
        let (w_off, b_off, in_act, out_act, in_grad, out_grad, pre_act, argmax) = (
            b.w_off, b.b_off, b.in_act, b.out_act, b.in_grad, b.out_grad, b.pre_act, b.argmax,
        );
        // A forward unit's channels lie in one group.
        let ocb = largest_divisor(out_channels / groups, &[16, 12, 8, 6, 4, 3, 2, 1]);
        let (accumulate, add_skip_grad, skip_grad) =
            (b.accumulate, b.skip_grad.is_some(), b.skip_grad_off);
        quote! {
            pub const #name: ConvCfg = ConvCfg {
                in_channels: #in_channels, out_channels: #out_channels, groups: #groups,
                in_h: #in_h, in_w: #in_w,
                kernel_h: #kernel_h, kernel_w: #kernel_w, stride_h: #stride_h, stride_w: #stride_w,
                padding_h: #padding_h, padding_w: #padding_w,
                dilation_h: #dilation_h, dilation_w: #dilation_w,
                conv_h: #conv_h, conv_w: #conv_w, act: #act, pool: #pool,
                out_h: #out_h, out_w: #out_w, bias: #bias, w_off: #w_off, b_off: #b_off,
                in_act: #in_act, out_act: #out_act, in_grad: #in_grad, out_grad: #out_grad,
                pre_act: #pre_act, argmax: #argmax, ocb: #ocb,
                accumulate: #accumulate, add_skip_grad: #add_skip_grad, skip_grad: #skip_grad,
            };
        }
    }
    fn call(&self, phase: Phase, c: &Ident, _train: bool) -> TokenStream {
        match phase {
            Phase::Forward => quote!(conv_forward_unit(params, acts, idx, u, #c, cap);),
            Phase::InputGrad => quote!(conv_input_grad_unit(params, acts, idx, u, #c, cap);),
            Phase::WeightGrad => quote! {
                conv_weight_grad_unit(params, velocity, grads, acts, idx, u, lr, momentum,
                    dampening, weight_decay, flags, #c, n, cap);
            },
            Phase::Stats | Phase::NormGrad => quote!(),
        }
    }
    fn units(&self, phase: Phase, c: &Ident) -> TokenStream {
        match phase {
            Phase::Forward => quote!(#c.forward_units(n)),
            Phase::InputGrad => quote!(#c.input_grad_units(n)),
            Phase::WeightGrad => quote!(#c.weight_grad_units()),
            Phase::Stats | Phase::NormGrad => quote!(0usize),
        }
    }
    fn loops(&self, phase: Phase, c: &Ident, _train: bool) -> Option<TokenStream> {
        match phase {
            Phase::Forward => Some(quote!(#c.forward_loop_iterations())),
            Phase::InputGrad => Some(quote!(#c.input_grad_loop_iterations())),
            Phase::WeightGrad => Some(quote!(#c.weight_grad_loop_iterations(n))),
            Phase::Stats | Phase::NormGrad => None,
        }
    }
}
