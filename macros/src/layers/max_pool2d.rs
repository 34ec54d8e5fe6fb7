//! `MaxPool2d` (torch.nn.MaxPool2d): fused into the Conv2d or BatchNorm2d block before it,
//! which applies it after the activation and keeps the argmax (u32) for the backward pass.
//! The building block is `cubenet_kernels::max_pool`.
use super::{At, Invalid, Layer, Lowering, Role};
use crate::errors::Errors;
use crate::ir::{Pair, PoolWindow, Window};
use crate::options::{OptKind, OptSpec, Options, KERNEL, STRIDE};
use crate::shape::{pool_shape, Known, Shape, Site, Source};

/// torch.nn.MaxPool2d options.
#[derive(Debug)]
pub struct MaxPool2d {
    pub kernel_size: Pair,
    pub stride: Pair,
    pub padding: Pair,
    /// `ceil_mode`: round the output size up (torch.nn.MaxPool2d).
    pub ceil_mode: bool,
}

impl MaxPool2d {
    pub fn window(&self) -> Window {
        Window::pool(self.kernel_size, self.stride, self.padding, self.ceil_mode)
    }
}

impl Layer for MaxPool2d {
    const OPTIONS: &'static [OptSpec] = &[
        OptSpec::positional("kernel_size", 0, OptKind::Pair).nonzero(KERNEL),
        OptSpec::named("stride", OptKind::Pair).nonzero(STRIDE),
        OptSpec::named("padding", OptKind::Pair),
        // `ceil_mode` (default false): the output size rounds up, `ceil((in + 2p - k) / s) + 1`,
        // less one if the last window would start past the input and the left padding (torch's
        // `pooling_output_shape`); a last window that runs past the input's end covers fewer
        // elements.
        OptSpec::named("ceil_mode", OptKind::Bool),
    ];
    const ROLE: Role = Role::MaxPool;
    fn build(v: &Options) -> Result<Self, Invalid> {
        let pool = (|| {
            let kernel_size = v.pair(0, None)?;
            Some(MaxPool2d {
                kernel_size,
                stride: v.pair(1, Some(kernel_size.value))?,
                padding: v.pair(2, Some((0, 0)))?,
                ceil_mode: v.boolean(3, false)?,
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
        let Shape::Spatial { h, w, .. } = at.shaped.output else {
            return None;
        };
        let window = PoolWindow {
            kernel_size: self.kernel_size.value,
            stride: self.stride.value,
            padding: self.padding.value,
        };
        lw.fuse_pool(at, window, (h, w))
    }
}

/// The kernels' `MaxPoolCfg` of a block whose max-pool (if any) reads a `in_hw` plane and
/// gives `out_hw` (without a pool: a 1 x 1 window of stride 1, `pooled: false`).
pub fn pool_cfg_tokens(
    pool: Option<PoolWindow>,
    in_hw: (usize, usize),
    out_hw: (usize, usize),
) -> proc_macro2::TokenStream {
    let pooled = pool.is_some();
    let w = pool.unwrap_or(PoolWindow::NONE);
    let ((kernel_h, kernel_w), (stride_h, stride_w), (padding_h, padding_w)) =
        (w.kernel_size, w.stride, w.padding);
    let ((in_h, in_w), (out_h, out_w)) = (in_hw, out_hw);
    quote::quote! {
        MaxPoolCfg {
            pooled: #pooled, kernel_h: #kernel_h, kernel_w: #kernel_w,
            stride_h: #stride_h, stride_w: #stride_w, padding_h: #padding_h, padding_w: #padding_w,
            in_h: #in_h, in_w: #in_w, out_h: #out_h, out_w: #out_w,
        }
    }
}
