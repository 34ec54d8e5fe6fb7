//! `Flatten` (torch.nn.Flatten): `C x H x W` becomes `C * H * W` features, channel first
//! (C-then-H-then-W, NCHW row-major, so no data moves). It closes the block before it.
use super::{At, Invalid, Layer, Lowering, Role};
use crate::errors::Errors;
use crate::options::{OptSpec, Options};
use crate::shape::{Known, Site, Source};

/// torch.nn.Flatten (from dimension 1).
#[derive(Debug)]
pub struct Flatten;

impl Layer for Flatten {
    const OPTIONS: &'static [OptSpec] = &[];
    const ROLE: Role = Role::Flatten;
    fn build(v: &Options) -> Result<Self, Invalid> {
        if v.ok {
            Ok(Flatten)
        } else {
            Err(Invalid::default())
        }
    }
    fn infer(&self, _: Site, cur: Known, _: &Source, _: &mut Errors) -> Known {
        match cur {
            Known::Spatial {
                c: Some(c),
                h: Some(h),
                w: Some(w),
            } => {
                // Within MAX_LEN: the layer before was checked.
                Known::Flat(c.checked_mul(h).and_then(|x| x.checked_mul(w)))
            }
            Known::Spatial { .. } | Known::Unknown => Known::Flat(None),
            Known::Flat(f) => Known::Flat(f),
        }
    }
    fn infer_invalid(_: &Invalid, _: Site, _: Known, _: &Source, _: &mut Errors) -> Known {
        Known::Flat(None)
    }
    fn lower(&self, _: &At, lw: &mut Lowering) -> Option<()> {
        lw.close();
        Some(())
    }
}
