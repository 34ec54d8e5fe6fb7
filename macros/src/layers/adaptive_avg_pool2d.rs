//! `AdaptiveAvgPool2d` (torch.nn.AdaptiveAvgPool2d): average pooling to a fixed output size
//! (`AdaptiveAvgPool2d<1>` is global average pooling), lowered to the average-pool block of
//! [`super::avg_pool2d`].
use super::avg_pool2d::AvgPoolBlock;
use super::{At, Invalid, Layer, Lowering, Role};
use crate::errors::Errors;
use crate::ir::{Pair, PoolWindow};
use crate::options::{OptKind, OptSpec, Options};
use crate::shape::{spatial_input, Known, Site, Source};

/// torch.nn.AdaptiveAvgPool2d options.
#[derive(Debug)]
pub struct AdaptiveAvgPool2d {
    pub output_size: Pair,
}

impl Layer for AdaptiveAvgPool2d {
    const OPTIONS: &'static [OptSpec] = &[OptSpec::positional("output_size", 0, OptKind::Pair)
        .nonzero("the output has at least one pixel")];
    const ROLE: Role = Role::Standalone;
    fn build(v: &Options) -> Result<Self, Invalid> {
        match (v.ok, v.pair(0, None)) {
            (true, Some(output_size)) => Ok(AdaptiveAvgPool2d { output_size }),
            _ => Err(Invalid::default()),
        }
    }
    fn infer(&self, site: Site, cur: Known, src: &Source, errors: &mut Errors) -> Known {
        if spatial_input(site, cur, src, errors) {
            Known::Spatial {
                c: cur.channels(),
                h: Some(self.output_size.value.0),
                w: Some(self.output_size.value.1),
            }
        } else {
            Known::Flat(None)
        }
    }
    fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()> {
        let window = PoolWindow {
            kernel_size: self.output_size.value,
            stride: self.output_size.value,
            padding: (0, 0),
        };
        AvgPoolBlock::lower(at, lw, window, true, true)
    }
}
