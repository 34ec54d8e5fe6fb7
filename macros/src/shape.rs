//! Shapes and the shape rules the layer kinds share: PyTorch's output-size formulas, what
//! inference knows of an activation after an error ([`Known`]), where an activation comes
//! from ([`Source`], for messages), and the checks every kind reports the same way (channel
//! and feature counts, windows larger than their input, buffers beyond 32-bit offsets).
//!
//! Each kind's own rule is in its file under [`crate::layers`]; [`crate::infer`] runs them in
//! order.
use proc_macro2::Span;
use syn::Ident;

use crate::errors::Errors;
use crate::ir::{Spanned, Window};

/// The most values one sample may have in any buffer, and the most parameters: the
/// generated kernels index buffers with 32-bit offsets.
pub const MAX_LEN: usize = u32::MAX as usize;

/// The shape of one sample's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `C x H x W`.
    Spatial { c: usize, h: usize, w: usize },
    /// `F` features.
    Flat(usize),
}

impl Shape {
    /// Values per sample; `None` if that overflows `usize`.
    pub fn len(&self) -> Option<usize> {
        match *self {
            Shape::Spatial { c, h, w } => c.checked_mul(h)?.checked_mul(w),
            Shape::Flat(f) => Some(f),
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Shape::Spatial { c, h, w } => write!(f, "{c} x {h} x {w}"),
            Shape::Flat(n) => write!(f, "{n}"),
        }
    }
}

/// Output size of a convolution or pooling along one axis, PyTorch's formula
/// (torch.nn.Conv2d docs): `floor((input + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1`.
/// `None` when the dilated kernel is larger than the padded input (or `stride` or `kernel`
/// is 0). Computed in `u128`, so it never overflows; a result beyond `usize` saturates.
pub fn conv_out_size(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Option<usize> {
    let (input, kernel, stride, padding, dilation) = (
        input as u128,
        kernel as u128,
        stride as u128,
        padding as u128,
        dilation as u128,
    );
    let padded = input + 2 * padding;
    let extent = dilation * kernel.checked_sub(1)? + 1;
    if stride == 0 || padded < extent {
        return None;
    }
    Some(usize::try_from((padded - extent) / stride + 1).unwrap_or(usize::MAX))
}

/// Output size of a max-pool (dilation 1) along one axis: [`conv_out_size`] without
/// `ceil_mode`; with it, torch's `pooling_output_shape` (aten/src/ATen/native/Pool.h):
/// `ceil((input + 2 * padding - kernel) / stride) + 1`, less one when the last window would
/// start at or past `input + padding` (in the right padding), so that every window starts
/// inside the input or the left padding.
pub fn pool_out_size(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    ceil_mode: bool,
) -> Option<usize> {
    let floor = conv_out_size(input, kernel, stride, padding, 1)?;
    if !ceil_mode {
        return Some(floor);
    }
    let (input, kernel, stride, padding) = (
        input as u128,
        kernel as u128,
        stride as u128,
        padding as u128,
    );
    let mut out = (input + 2 * padding - kernel).div_ceil(stride) + 1;
    if (out - 1) * stride >= input + padding {
        out -= 1;
    }
    Some(usize::try_from(out).unwrap_or(usize::MAX))
}

/// A layer with its inferred shapes.
#[derive(Debug)]
pub struct Shaped {
    pub input: Shape,
    pub output: Shape,
}

/// What inference knows of an activation: `None` is a size an earlier error left unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    Spatial {
        c: Option<usize>,
        h: Option<usize>,
        w: Option<usize>,
    },
    Flat(Option<usize>),
    /// After a layer of unknown type.
    Unknown,
}

impl Known {
    pub fn full(self) -> Option<Shape> {
        match self {
            Known::Spatial {
                c: Some(c),
                h: Some(h),
                w: Some(w),
            } => Some(Shape::Spatial { c, h, w }),
            Known::Flat(Some(f)) => Some(Shape::Flat(f)),
            _ => None,
        }
    }
    pub fn channels(self) -> Option<usize> {
        match self {
            Known::Spatial { c, .. } => c,
            _ => None,
        }
    }
}

/// `12`, or `?` for a size that is unknown after an earlier error.
pub fn dim(d: Option<usize>) -> String {
    d.map_or_else(|| "?".to_string(), |d| d.to_string())
}

/// Where the activation a layer reads comes from, for messages.
pub struct Source {
    /// "the input" or "`pool1`".
    pub producer: String,
    /// For a flat activation: "16 x 5 x 5 from `pool2`" or "the out_features of `fc1`".
    pub features: String,
}

impl Source {
    /// "the input is" or "`pool1` gives".
    pub fn gives(&self) -> String {
        if self.producer == "the input" {
            "the input is".to_string()
        } else {
            format!("{} gives", self.producer)
        }
    }
}

/// The layer a rule runs for, as messages name it.
#[derive(Clone, Copy)]
pub struct Site<'a> {
    /// The field name.
    pub name: &'a Ident,
    /// Where the type is written.
    pub ty_span: Span,
    /// The type's name (`Conv2d`).
    pub ty: &'static str,
}

/// A conv's output (`in_channels` and `window` are `None` where the declaration had errors;
/// `out` is the declared `out_channels`).
pub fn conv_shape(
    site: Site,
    cur: Known,
    src: &Source,
    in_channels: Option<Spanned<usize>>,
    out: Option<usize>,
    window: Option<Window>,
    errors: &mut Errors,
) -> Known {
    if !spatial_input(site, cur, src, errors) {
        // Reported; what the layers after it see is unknown.
        return Known::Flat(None);
    }
    if let (Known::Spatial { c: Some(c), h, w }, Some(found)) = (cur, in_channels) {
        check_channels(found, c, h, w, src, errors);
    }
    let (h, w) = window.map_or((None, None), |win| {
        sizes(site, "kernel", cur, src, win, errors)
    });
    Known::Spatial { c: out, h, w }
}

/// A MaxPool2d's or AvgPool2d's output; `window` is `None` where the declaration had errors.
pub fn pool_shape(
    site: Site,
    cur: Known,
    src: &Source,
    window: Option<Window>,
    errors: &mut Errors,
) -> Known {
    if !spatial_input(site, cur, src, errors) {
        return Known::Flat(None);
    }
    let Some(win) = window else {
        return Known::Spatial {
            c: cur.channels(),
            h: None,
            w: None,
        };
    };
    let (kh, kw) = win.kernel_size.value;
    let (ph, pw) = win.padding.value;
    if ph > kh / 2 || pw > kw / 2 {
        // PyTorch: "pad should be at most half of effective kernel size".
        errors.push(
            win.padding.span,
            format!(
                "{} `{}`: padding {ph} x {pw} is more than half its {kh} x {kw} kernel (at most {} x {}): a window could cover only padding",
                site.ty,
                site.name,
                kh / 2,
                kw / 2
            ),
        );
        return Known::Spatial {
            c: cur.channels(),
            h: None,
            w: None,
        };
    }
    let (h, w) = sizes(site, "window", cur, src, win, errors);
    Known::Spatial {
        c: cur.channels(),
        h,
        w,
    }
}

/// Reports a layer that needs `C x H x W` on a flat input; returns whether the input may be
/// spatial.
pub fn spatial_input(site: Site, cur: Known, src: &Source, errors: &mut Errors) -> bool {
    let Known::Flat(f) = cur else { return true };
    let (name, ty) = (site.name, site.ty);
    let a = if ty.starts_with('A') { "an" } else { "a" };
    errors.push(
        site.ty_span,
        format!("{ty} `{name}` needs a C x H x W input, but {} {} flat features; {a} {ty} must come before the Flatten", src.gives(), dim(f)),
    );
    false
}

/// Reports `found` input channels where `c` arrive (an activation `c x h x w`).
pub fn check_channels(
    found: Spanned<usize>,
    c: usize,
    h: Option<usize>,
    w: Option<usize>,
    src: &Source,
    errors: &mut Errors,
) {
    if found.value != c {
        let gives = match (h, w) {
            (Some(h), Some(w)) => format!("{c} x {h} x {w}"),
            _ => format!("{c} channels"),
        };
        let s = if c == 1 { "" } else { "s" };
        errors.push(
            found.span,
            format!(
                "expected {c} input channel{s} ({} {gives}), found {}",
                src.gives(),
                found.value
            ),
        );
    }
}

/// Reports `found` input features where `f` arrive.
pub fn check_features(found: Spanned<usize>, f: usize, src: &Source, errors: &mut Errors) {
    if found.value != f {
        errors.push(
            found.span,
            format!(
                "expected {f} input features ({}), found {}",
                src.features, found.value
            ),
        );
    }
}

/// Reports a layer with more weights than 32-bit offsets address (`None`: beyond `usize`).
pub fn check_params(params: Option<usize>, name: &Ident, errors: &mut Errors) {
    if params.is_none_or(|p| p > MAX_LEN) {
        let n = params.map_or_else(|| "more than usize::MAX".to_string(), |p| p.to_string());
        errors.push(name.span(), format!("`{name}` has {n} weights, more than the {MAX_LEN} a network's parameters may have (32-bit offsets)"));
    }
}

/// Reports an activation of more values per sample than a buffer may hold.
pub fn check_len(shape: Shape, span: Span, who: impl FnOnce() -> String, errors: &mut Errors) {
    let len = shape.len();
    if len.is_none_or(|l| l > MAX_LEN) {
        let n = match (shape, len) {
            (Shape::Flat(f), _) => format!("{f} features"),
            (_, Some(l)) => format!("{shape} = {l} values"),
            (_, None) => format!("{shape} values (more than usize::MAX)"),
        };
        errors.push(span, format!("{} {n} per sample, more than the {MAX_LEN} a buffer may hold (the kernels use 32-bit offsets)", who()));
    }
}

/// The output height and width of a conv or pool window (unknown where the input's are);
/// reports a window larger than its padded input (the output would be empty). `part` is
/// what the message calls the window ("kernel" for a conv).
pub fn sizes(
    site: Site,
    part: &str,
    cur: Known,
    src: &Source,
    win: Window,
    errors: &mut Errors,
) -> (Option<usize>, Option<usize>) {
    let Known::Spatial { c, h, w } = cur else {
        return (None, None);
    };
    let ((kh, kw), (sh, sw), (ph, pw), (dh, dw)) = (
        win.kernel_size.value,
        win.stride.value,
        win.padding.value,
        win.dilation.value,
    );
    // Padding after beyond `padding` lengthens the input it slides over.
    let (eh, ew) = win.padding_extra;
    let (h_pad, w_pad) = (
        h.map(|h| h.saturating_add(eh)),
        w.map(|w| w.saturating_add(ew)),
    );
    let (oh, ow) = if win.ceil_mode {
        (
            h.map(|h| pool_out_size(h, kh, sh, ph, true)),
            w.map(|w| pool_out_size(w, kw, sw, pw, true)),
        )
    } else {
        (
            h_pad.map(|h| conv_out_size(h, kh, sh, ph, dh)),
            w_pad.map(|w| conv_out_size(w, kw, sw, pw, dw)),
        )
    };
    if !matches!(oh, Some(None)) && !matches!(ow, Some(None)) {
        return (oh.flatten(), ow.flatten());
    }
    let (name, ty) = (site.name, site.ty);
    let dilated = if (dh, dw) == (1, 1) {
        String::new()
    } else {
        let span = |k: usize, d: usize| d.saturating_mul(k.saturating_sub(1)).saturating_add(1);
        format!(
            " with dilation {dh} x {dw} (spanning {} x {})",
            span(kh, dh),
            span(kw, dw)
        )
    };
    let padded = if (ph, pw) == (0, 0) {
        String::new()
    } else {
        let pad =
            |x: Option<usize>, p: usize| dim(x.map(|x| x.saturating_add(p.saturating_mul(2))));
        format!(", {} x {} with padding {ph} x {pw}", pad(h, ph), pad(w, pw))
    };
    // A pool: the largest window that fits (without padding), or a global average pool.
    let fix = match (ty, h, w) {
        ("MaxPool2d" | "AvgPool2d", Some(h), Some(w)) => {
            let fits = if (ph, pw) == (0, 0) && h > 0 && w > 0 {
                let (fh, fw) = (kh.min(h), kw.min(w));
                if fh == fw {
                    format!("`{ty}<{fh}>` or ")
                } else {
                    format!("`{ty}<{{({fh}, {fw})}}>` or ")
                }
            } else {
                String::new()
            };
            format!("; use {fits}`AdaptiveAvgPool2d<1>`")
        }
        _ => String::new(),
    };
    errors.push(
        name.span(),
        format!(
            "{ty} `{name}`: its {kh} x {kw} {part}{dilated} is larger than its input ({} {} x {} x {}{padded}): the output would be empty{fix}",
            src.gives(),
            dim(c),
            dim(h),
            dim(w)
        ),
    );
    (oh.flatten(), ow.flatten())
}
