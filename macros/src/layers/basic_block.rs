//! `BasicBlock` (torchvision's ResNet `BasicBlock(inplanes, planes, stride, downsample)`):
//! conv1 (3x3, `stride`, padding 1, no bias) -> bn1 -> relu -> conv2 (3x3, padding 1, no
//! bias) -> bn2, plus the shortcut (the input, or `downsample`: a 1x1 conv with `stride`, no
//! bias, and a BatchNorm2d), then relu. It lowers to conv and norm blocks wired as a small
//! graph: bn2 adds the shortcut before its relu; the identity shortcut's gradient is added
//! by conv1's input-gradient kernel, a projection's by its own conv.
use super::activation::Activation;
use super::batch_norm::NormBlock;
use super::block::Src;
use super::conv2d::ConvBlock;
use super::{At, Invalid, Layer, Lowering, Role};
use crate::errors::Errors;
use crate::ir::Spanned;
use crate::options::{OptKind, OptSpec, Options, CHANNELS, STRIDE};
use crate::shape::{check_channels, dim, spatial_input, Known, Shape, Site, Source};

/// torchvision's BasicBlock options.
#[derive(Debug)]
pub struct BasicBlock {
    pub inplanes: Spanned<usize>,
    pub planes: Spanned<usize>,
    pub stride: Spanned<usize>,
    pub downsample: bool,
}

impl Layer for BasicBlock {
    const OPTIONS: &'static [OptSpec] = &[
        OptSpec::positional("inplanes", 0, OptKind::Int).nonzero(CHANNELS),
        OptSpec::positional("planes", 1, OptKind::Int).nonzero(CHANNELS),
        OptSpec::named("stride", OptKind::Int).nonzero(STRIDE),
        OptSpec::named("downsample", OptKind::Bool),
    ];
    const ROLE: Role = Role::Standalone;
    fn build(v: &Options) -> Result<Self, Invalid> {
        match (
            v.ok,
            v.int(0),
            v.int(1),
            v.int_or(2, 1),
            v.boolean(3, false),
        ) {
            (true, Some(inplanes), Some(planes), Some(stride), Some(downsample)) => {
                Ok(BasicBlock {
                    inplanes,
                    planes,
                    stride,
                    downsample,
                })
            }
            _ => Err(Invalid {
                input: v.int(0),
                output: v.int(1).map(|o| o.value),
                ..Invalid::default()
            }),
        }
    }
    /// `planes x ((h - 1) / stride + 1) x ((w - 1) / stride + 1)` (its 3x3 convs with padding
    /// 1). Reports an input with other than `inplanes` channels, and a residual whose shapes
    /// cannot match: without `downsample`, the block adds its input to its output, so
    /// `inplanes == planes` and `stride == 1` are required.
    fn infer(&self, site: Site, cur: Known, src: &Source, errors: &mut Errors) -> Known {
        if !spatial_input(site, cur, src, errors) {
            return Known::Flat(None);
        }
        let Known::Spatial { c, h, w } = cur else {
            return Known::Unknown;
        };
        if let Some(c) = c {
            check_channels(self.inplanes, c, h, w, src, errors);
        }
        let s = self.stride.value;
        let out = |x: Option<usize>| x.map(|x| (x - 1) / s + 1);
        let (oh, ow) = (out(h), out(w));
        // The input's real channel count: a wrong `inplanes` is reported above, once.
        let (inp, planes) = (c.unwrap_or(self.inplanes.value), self.planes.value);
        if !self.downsample && (inp != planes || s != 1) {
            let why = match (inp != planes, s != 1) {
                (true, true) => format!("{inp} -> {planes} channels and stride {s}"),
                (true, false) => format!("{inp} -> {planes} channels"),
                _ => format!("stride {s}"),
            };
            errors.push(
                site.ty_span,
                format!(
                    "BasicBlock `{}` adds its input ({inp} x {} x {}) to its output ({planes} x {} x {}), but these shapes differ ({why}): add `#[layer(downsample = true)]` for a projection shortcut (a 1x1 Conv2d with stride {s} and a BatchNorm2d, as torchvision's ResNet)",
                    site.name,
                    dim(h),
                    dim(w),
                    dim(oh),
                    dim(ow)
                ),
            );
        }
        Known::Spatial {
            c: Some(planes),
            h: oh,
            w: ow,
        }
    }
    fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()> {
        let (
            Shape::Spatial { c, h, w },
            Shape::Spatial {
                c: oc,
                h: oh,
                w: ow,
            },
        ) = (at.shaped.input, at.shaped.output)
        else {
            return None;
        };
        let s = self.stride.value;
        let entry = lw.entry();
        let conv = |in_channels: usize, in_hw: (usize, usize), k: usize, s: usize, p: usize| {
            Box::new(ConvBlock {
                in_channels,
                in_hw,
                out_channels: oc,
                groups: 1,
                kernel_size: (k, k),
                stride: (s, s),
                padding: (p, p),
                padding_extra: (0, 0),
                dilation: (1, 1),
                conv_hw: (oh, ow),
                act: None,
                pool: None,
                out_hw: (oh, ow),
                bias: false,
            })
        };
        let norm = |act: Option<Activation>| Box::new(NormBlock::default_2d(oc, (oh, ow), act));
        // Forward order: the projection shortcut first (its output is added in bn2), then
        // the main path; `rank` keeps torchvision's registration order.
        let shortcut = if self.downsample {
            let ds0 = lw.push_part(at, "downsample.0", 4, entry, conv(c, (h, w), 1, s, 0));
            let ds1 = lw.push_part(at, "downsample.1", 5, Src::Prev, norm(None));
            Some((ds0, ds1))
        } else {
            None
        };
        let conv1 = lw.push_part(at, "conv1", 0, entry, conv(c, (h, w), 3, s, 1));
        lw.push_part(at, "bn1", 1, Src::Prev, norm(Some(Activation::Relu)));
        lw.push_part(at, "conv2", 2, Src::Prev, conv(oc, (oh, ow), 3, 1, 1));
        let bn2 = lw.push_part(at, "bn2", 3, Src::Prev, norm(Some(Activation::Relu)));
        let blocks = &mut lw.blocks;
        match shortcut {
            Some((ds0, ds1)) => {
                // ds0's input gradient is added after conv1's (which comes later in forward
                // order, so earlier in the backward pass).
                blocks[ds0].accumulate = true;
                blocks[ds1].grad_alias = Some(bn2);
                blocks[bn2].skip = Some(Src::Block(ds1));
            }
            None => {
                blocks[bn2].skip = Some(entry);
                blocks[conv1].skip_grad = Some(bn2);
            }
        }
        Some(())
    }
}
