//! `AvgPool2d` (torch.nn.AvgPool2d) and the average-pool block it and `AdaptiveAvgPool2d`
//! lower to (`cubenet_kernels::avg_pool`): a gather kernel forward and backward, a block of
//! its own.
use proc_macro2::TokenStream;
use quote::quote;

use super::block::{Block, BlockOp, Phase, Target};
use super::{At, Invalid, Layer, Lowering, Role};
use crate::errors::Errors;
use crate::ir::{Pair, PoolWindow, Window};
use crate::options::{OptKind, OptSpec, Options, KERNEL, STRIDE};
use crate::shape::{pool_shape, Known, Shape, Site, Source};

/// torch.nn.AvgPool2d options.
#[derive(Debug)]
pub struct AvgPool2d {
    pub kernel_size: Pair,
    pub stride: Pair,
    pub padding: Pair,
    pub count_include_pad: bool,
}

impl AvgPool2d {
    pub fn window(&self) -> Window {
        Window::pool(self.kernel_size, self.stride, self.padding, false)
    }
}

impl Layer for AvgPool2d {
    const OPTIONS: &'static [OptSpec] = &[
        OptSpec::positional("kernel_size", 0, OptKind::Pair).nonzero(KERNEL),
        OptSpec::named("stride", OptKind::Pair).nonzero(STRIDE),
        OptSpec::named("padding", OptKind::Pair),
        OptSpec::named("count_include_pad", OptKind::Bool),
    ];
    const ROLE: Role = Role::Standalone;
    fn build(v: &Options) -> Result<Self, Invalid> {
        let pool = (|| {
            let kernel_size = v.pair(0, None)?;
            Some(AvgPool2d {
                kernel_size,
                stride: v.pair(1, Some(kernel_size.value))?,
                padding: v.pair(2, Some((0, 0)))?,
                count_include_pad: v.boolean(3, true)?,
            })
        })();
        match pool {
            Some(p) if v.ok => Ok(p),
            _ => Err(Invalid {
                window: pool.map(|p| p.window()),
                ..Invalid::default()
            }),
        }
    }
    fn infer(&self, site: Site, cur: Known, src: &Source, errors: &mut Errors) -> Known {
        pool_shape(site, cur, src, Some(self.window()), errors)
    }
    fn infer_invalid(
        inv: &Invalid,
        site: Site,
        cur: Known,
        src: &Source,
        errors: &mut Errors,
    ) -> Known {
        pool_shape(site, cur, src, inv.window, errors)
    }
    fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()> {
        let window = PoolWindow {
            kernel_size: self.kernel_size.value,
            stride: self.stride.value,
            padding: self.padding.value,
        };
        AvgPoolBlock::lower(at, lw, window, false, self.count_include_pad)
    }
}

/// An average-pool block (AvgPool2d, or AdaptiveAvgPool2d when `adaptive`).
#[derive(Clone, Debug)]
pub struct AvgPoolBlock {
    pub channels: usize,
    pub in_hw: (usize, usize),
    pub out_hw: (usize, usize),
    /// An AvgPool2d's window; unused when adaptive.
    pub window: PoolWindow,
    pub adaptive: bool,
    pub count_include_pad: bool,
}

impl AvgPoolBlock {
    /// Adds the block of average-pool layer `at`.
    pub fn lower(
        at: &At,
        lw: &mut Lowering,
        window: PoolWindow,
        adaptive: bool,
        count_include_pad: bool,
    ) -> Option<()> {
        let (Shape::Spatial { c, h, w }, Shape::Spatial { h: oh, w: ow, .. }) =
            (at.shaped.input, at.shaped.output)
        else {
            return None;
        };
        let block = AvgPoolBlock {
            channels: c,
            in_hw: (h, w),
            out_hw: (oh, ow),
            window,
            adaptive,
            count_include_pad,
        };
        lw.push(at, Box::new(block), false, false);
        Some(())
    }
}

impl BlockOp for AvgPoolBlock {
    fn label(&self) -> &'static str {
        "average pool"
    }
    fn out_len(&self) -> usize {
        self.channels * self.out_hw.0 * self.out_hw.1
    }
    fn kernels_module(&self) -> &'static str {
        "avg_pool"
    }
    fn cfg_type(&self) -> &'static str {
        "AvgPoolCfg"
    }
    fn cfg(&self, b: &Block, _i: usize, _target: Target) -> TokenStream {
        let channels = self.channels;
        let ((in_h, in_w), (out_h, out_w)) = (self.in_hw, self.out_hw);
        let w = self.window;
        let ((kernel_h, kernel_w), (stride_h, stride_w), (padding_h, padding_w)) =
            (w.kernel_size, w.stride, w.padding);
        let (adaptive, count_include_pad) = (self.adaptive, self.count_include_pad);
        let (in_act, out_act, in_grad, out_grad) = (b.in_act, b.out_act, b.in_grad, b.out_grad);
        quote! {
            AvgPoolCfg {
                channels: #channels, in_h: #in_h, in_w: #in_w, out_h: #out_h, out_w: #out_w,
                kernel_h: #kernel_h, kernel_w: #kernel_w, stride_h: #stride_h, stride_w: #stride_w,
                padding_h: #padding_h, padding_w: #padding_w,
                adaptive: #adaptive, count_include_pad: #count_include_pad,
                in_act: #in_act, out_act: #out_act, in_grad: #in_grad, out_grad: #out_grad,
            }
        }
    }
    fn call(&self, phase: Phase, c: &TokenStream, _train: bool) -> TokenStream {
        match phase {
            Phase::Forward => quote!(avg_pool_forward_unit(acts, u, #c, cap);),
            Phase::InputGrad => quote!(avg_pool_input_grad_unit(acts, u, #c, cap);),
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
    fn loops(&self, phase: Phase, c: &TokenStream, _train: bool) -> Option<TokenStream> {
        match phase {
            Phase::Forward => Some(quote!(#c.forward_loop_iterations())),
            Phase::InputGrad => Some(quote!(#c.input_grad_loop_iterations())),
            Phase::Stats
            | Phase::NormGrad
            | Phase::OutGrad
            | Phase::WeightPartial
            | Phase::WeightGrad
            | Phase::ForwardSum => None,
        }
    }
}
