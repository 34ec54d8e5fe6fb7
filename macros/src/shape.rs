//! Shape inference and validation: every layer's input and output shape, with an error on
//! the exact token for every mismatch.
//!
//! Inference goes on past an error with what is still known (a conv with the wrong
//! `in_channels` still gives its declared `out_channels`; a layer whose size cannot be
//! computed leaves only that size unknown), so independent mistakes are all reported in one
//! build and none is reported twice.
use proc_macro2::Span;

use crate::ir::*;
use crate::parse::Errors;

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
enum Known {
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
    fn full(self) -> Option<Shape> {
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
    fn channels(self) -> Option<usize> {
        match self {
            Known::Spatial { c, .. } => c,
            _ => None,
        }
    }
}

/// `12`, or `?` for a size that is unknown after an earlier error.
fn dim(d: Option<usize>) -> String {
    d.map_or_else(|| "?".to_string(), |d| d.to_string())
}

/// Where the activation a layer reads comes from, for messages.
struct Source {
    /// "the input" or "`pool1`".
    producer: String,
    /// For a flat activation: "16 x 5 x 5 from `pool2`" or "the out_features of `fc1`".
    features: String,
}

impl Source {
    /// "the input is" or "`pool1` gives".
    fn gives(&self) -> String {
        if self.producer == "the input" {
            "the input is".to_string()
        } else {
            format!("{} gives", self.producer)
        }
    }
}

/// Infers the shape after every layer, reporting every mismatch. `input` is `None` when the
/// attribute's input shape had an error. Returns, per layer, its shapes when they are fully
/// known.
pub fn infer(
    input: Option<[Spanned<usize>; 3]>,
    layers: &[LayerDecl],
    errors: &mut Errors,
) -> Vec<Option<Shaped>> {
    let mut cur = match input {
        Some([c, h, w]) => {
            let shape = Shape::Spatial {
                c: c.value,
                h: h.value,
                w: w.value,
            };
            check_len(shape, c.span, || "the input is".to_string(), errors);
            Known::Spatial {
                c: Some(c.value),
                h: Some(h.value),
                w: Some(w.value),
            }
        }
        None => Known::Spatial {
            c: None,
            h: None,
            w: None,
        },
    };
    let mut src = Source {
        producer: "the input".into(),
        features: String::new(),
    };
    let mut out = Vec::new();
    for layer in layers {
        let name = &layer.name;
        let next = match &layer.kind {
            LayerKind::Conv2d(cv) => {
                let (kh, kw) = cv.kernel_size.value;
                let params = [cv.out_channels.value, cv.in_channels.value, kh, kw]
                    .iter()
                    .try_fold(1usize, |a, &b| a.checked_mul(b));
                check_params(params, layer, errors);
                conv_shape(
                    layer,
                    cur,
                    &src,
                    Some(cv.in_channels),
                    Some(cv.out_channels.value),
                    Some(cv.window()),
                    errors,
                )
            }
            LayerKind::MaxPool2d(p) => pool_shape(
                LayerType::MaxPool2d,
                layer,
                cur,
                &src,
                Some(p.window()),
                errors,
            ),
            LayerKind::AvgPool2d(p) => match p.adaptive {
                None => pool_shape(
                    LayerType::AvgPool2d,
                    layer,
                    cur,
                    &src,
                    Some(p.window()),
                    errors,
                ),
                Some(out) => {
                    if spatial_input(LayerType::AdaptiveAvgPool2d, layer, cur, &src, errors) {
                        Known::Spatial {
                            c: cur.channels(),
                            h: Some(out.value.0),
                            w: Some(out.value.1),
                        }
                    } else {
                        Known::Flat(None)
                    }
                }
            },
            LayerKind::BatchNorm(b) => batch_norm_shape(layer, b, cur, &src, errors),
            LayerKind::Dropout(_) => cur,
            LayerKind::BasicBlock(bb) => basic_block_shape(layer, bb, cur, &src, errors),
            LayerKind::Linear(l) => {
                match cur {
                    Known::Flat(Some(f)) => check_features(l.in_features, f, &src, errors),
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
                            layer.ty_span,
                            format!(
                                "Linear `{name}` needs flat features, but {} {} x {} x {}: add a `Flatten` layer before it{would}",
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
                    l.in_features.value.checked_mul(l.out_features.value),
                    layer,
                    errors,
                );
                Known::Flat(Some(l.out_features.value))
            }
            LayerKind::Activation(_) => cur,
            LayerKind::Flatten => match cur {
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
            },
            LayerKind::Invalid(inv) => match inv.ty {
                Some(LayerType::Conv2d) => {
                    conv_shape(layer, cur, &src, inv.input, inv.output, inv.window, errors)
                }
                Some(t @ (LayerType::MaxPool2d | LayerType::AvgPool2d)) => {
                    pool_shape(t, layer, cur, &src, inv.window, errors)
                }
                Some(LayerType::BatchNorm2d | LayerType::BatchNorm1d | LayerType::Dropout) => cur,
                Some(LayerType::Linear) => {
                    if let (Known::Flat(Some(f)), Some(found)) = (cur, inv.input) {
                        check_features(found, f, &src, errors);
                    }
                    Known::Flat(inv.output)
                }
                Some(t) if t.is_activation() => cur,
                Some(LayerType::Flatten) => Known::Flat(None),
                Some(_) | None => Known::Unknown,
            },
        };
        if let Some(shape) = next.full() {
            if !matches!(layer.kind, LayerKind::Activation(_) | LayerKind::Flatten) {
                check_len(shape, name.span(), || format!("`{name}` gives"), errors);
            }
        }
        out.push(match (cur.full(), next.full(), &layer.kind) {
            (_, _, LayerKind::Invalid(_)) => None,
            (Some(input), Some(output), _) => Some(Shaped { input, output }),
            _ => None,
        });
        match (&layer.kind, cur) {
            (LayerKind::Activation(_), _) => {}
            (LayerKind::Flatten, Known::Spatial { c, h, w }) => {
                src.features =
                    format!("{} x {} x {} from {}", dim(c), dim(h), dim(w), src.producer);
                src.producer = format!("`{name}`");
            }
            (LayerKind::Flatten, _) => {}
            _ => {
                src.producer = format!("`{name}`");
                src.features = format!("the out_features of `{name}`");
            }
        }
        cur = next;
    }
    out
}

/// A Conv2d's output; `window` and the channels are `None` where the declaration had errors.
fn conv_shape(
    layer: &LayerDecl,
    cur: Known,
    src: &Source,
    in_channels: Option<Spanned<usize>>,
    out: Option<usize>,
    window: Option<Window>,
    errors: &mut Errors,
) -> Known {
    if !spatial_input(LayerType::Conv2d, layer, cur, src, errors) {
        // Reported; what the layers after it see is unknown.
        return Known::Flat(None);
    }
    if let (Known::Spatial { c: Some(c), h, w }, Some(found)) = (cur, in_channels) {
        check_channels(found, c, h, w, src, errors);
    }
    let (h, w) = window.map_or((None, None), |win| sizes(layer, cur, src, win, errors));
    Known::Spatial { c: out, h, w }
}

/// A BasicBlock's output: `planes x ((h - 1) / stride + 1) x ((w - 1) / stride + 1)` (its
/// 3x3 convs with padding 1). Reports an input with other than `inplanes` channels, and a
/// residual whose shapes cannot match: without `downsample`, the block adds its input to
/// its output, so `inplanes == planes` and `stride == 1` are required.
fn basic_block_shape(
    layer: &LayerDecl,
    bb: &BasicBlock,
    cur: Known,
    src: &Source,
    errors: &mut Errors,
) -> Known {
    if !spatial_input(LayerType::BasicBlock, layer, cur, src, errors) {
        return Known::Flat(None);
    }
    let Known::Spatial { c, h, w } = cur else {
        return Known::Unknown;
    };
    if let Some(c) = c {
        check_channels(bb.inplanes, c, h, w, src, errors);
    }
    let s = bb.stride.value;
    let out = |x: Option<usize>| x.map(|x| (x - 1) / s + 1);
    let (oh, ow) = (out(h), out(w));
    // The input's real channel count: a wrong `inplanes` is reported above, once.
    let (inp, planes) = (c.unwrap_or(bb.inplanes.value), bb.planes.value);
    if !bb.downsample && (inp != planes || s != 1) {
        let name = &layer.name;
        let why = match (inp != planes, s != 1) {
            (true, true) => format!("{inp} -> {planes} channels and stride {s}"),
            (true, false) => format!("{inp} -> {planes} channels"),
            _ => format!("stride {s}"),
        };
        errors.push(
            layer.ty_span,
            format!(
                "BasicBlock `{name}` adds its input ({inp} x {} x {}) to its output ({planes} x {} x {}), but these shapes differ ({why}): add `#[layer(downsample = true)]` for a projection shortcut (a 1x1 Conv2d with stride {s} and a BatchNorm2d, as torchvision's ResNet)",
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

/// A BatchNorm's output (its input): BatchNorm2d needs `C x H x W` with `C = num_features`,
/// BatchNorm1d flat features with `F = num_features`.
fn batch_norm_shape(
    layer: &LayerDecl,
    b: &BatchNorm,
    cur: Known,
    src: &Source,
    errors: &mut Errors,
) -> Known {
    let name = &layer.name;
    match (b.two_d, cur) {
        (true, Known::Spatial { c: Some(c), h, w }) => {
            check_channels(b.num_features, c, h, w, src, errors);
            cur
        }
        (true, Known::Flat(f)) => {
            errors.push(
                layer.ty_span,
                format!(
                    "BatchNorm2d `{name}` needs a C x H x W input, but {} {} flat features: use `BatchNorm1d<{}>` on features, or put it before the Flatten",
                    src.gives(),
                    dim(f),
                    dim(f)
                ),
            );
            // It does not change the shape: the layers after it see what it was given.
            cur
        }
        (false, Known::Flat(Some(f))) => {
            check_features(b.num_features, f, src, errors);
            cur
        }
        (false, Known::Spatial { c, h, w }) => {
            errors.push(
                layer.ty_span,
                format!(
                    "BatchNorm1d `{name}` needs flat features, but {} {} x {} x {}: use `BatchNorm2d<{}>` on channels, or put it after a `Flatten`",
                    src.gives(),
                    dim(c),
                    dim(h),
                    dim(w),
                    dim(c)
                ),
            );
            // It does not change the shape: the layers after it see what it was given.
            cur
        }
        _ => cur,
    }
}

/// A MaxPool2d's or AvgPool2d's output; `window` is `None` where the declaration had errors.
fn pool_shape(
    ty: LayerType,
    layer: &LayerDecl,
    cur: Known,
    src: &Source,
    window: Option<Window>,
    errors: &mut Errors,
) -> Known {
    if !spatial_input(ty, layer, cur, src, errors) {
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
                ty.name(),
                layer.name,
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
    let (h, w) = sizes(layer, cur, src, win, errors);
    Known::Spatial {
        c: cur.channels(),
        h,
        w,
    }
}

/// Reports a conv or pool on a flat input; returns whether the input may be spatial.
fn spatial_input(
    ty: LayerType,
    layer: &LayerDecl,
    cur: Known,
    src: &Source,
    errors: &mut Errors,
) -> bool {
    let Known::Flat(f) = cur else { return true };
    let name = &layer.name;
    let ty = ty.name();
    let a = if ty.starts_with('A') { "an" } else { "a" };
    errors.push(
        layer.ty_span,
        format!("{ty} `{name}` needs a C x H x W input, but {} {} flat features; {a} {ty} must come before the Flatten", src.gives(), dim(f)),
    );
    false
}

fn check_channels(
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

fn check_features(found: Spanned<usize>, f: usize, src: &Source, errors: &mut Errors) {
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

fn check_params(params: Option<usize>, layer: &LayerDecl, errors: &mut Errors) {
    if params.is_none_or(|p| p > MAX_LEN) {
        let name = &layer.name;
        let n = params.map_or_else(|| "more than usize::MAX".to_string(), |p| p.to_string());
        errors.push(name.span(), format!("`{name}` has {n} weights, more than the {MAX_LEN} a network's parameters may have (32-bit offsets)"));
    }
}

fn check_len(shape: Shape, span: Span, who: impl FnOnce() -> String, errors: &mut Errors) {
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
/// reports a window larger than its padded input (the output would be empty).
fn sizes(
    layer: &LayerDecl,
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
    let (oh, ow) = if win.ceil_mode {
        (
            h.map(|h| pool_out_size(h, kh, sh, ph, true)),
            w.map(|w| pool_out_size(w, kw, sw, pw, true)),
        )
    } else {
        (
            h.map(|h| conv_out_size(h, kh, sh, ph, dh)),
            w.map(|w| conv_out_size(w, kw, sw, pw, dw)),
        )
    };
    if !matches!(oh, Some(None)) && !matches!(ow, Some(None)) {
        return (oh.flatten(), ow.flatten());
    }
    let name = &layer.name;
    let (ty, part) = match layer.kind.ty() {
        Some(t @ (LayerType::MaxPool2d | LayerType::AvgPool2d)) => (t.name(), "window"),
        _ => ("Conv2d", "kernel"),
    };
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
    errors.push(
        name.span(),
        format!(
            "{ty} `{name}`: its {kh} x {kw} {part}{dilated} is larger than its input ({} {} x {} x {}{padded}): the output would be empty",
            src.gives(),
            dim(c),
            dim(h),
            dim(w)
        ),
    );
    (oh.flatten(), ow.flatten())
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::*;
    use crate::parse::parse_item;

    /// PyTorch's formula, torch.nn.Conv2d / MaxPool2d docs, in signed arithmetic:
    /// `floor((in + 2p - d(k-1) - 1) / s) + 1`, no output when that is below 1.
    fn pytorch(input: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
        let num = input as i64 + 2 * p as i64 - d as i64 * (k as i64 - 1) - 1;
        (num >= 0).then(|| (num / s as i64 + 1) as usize)
    }

    /// Independent count: window starts `o * s` with the last tap inside the padded input.
    fn sliding(input: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
        let n = (0..)
            .take_while(|o| o * s + d * (k - 1) < input + 2 * p)
            .count();
        (n > 0).then_some(n)
    }

    #[test]
    fn conv_output_size_is_pytorchs_formula() {
        for input in 1..=12 {
            for k in 1..=6 {
                for s in 1..=4 {
                    for p in 0..=3 {
                        for d in 1..=3 {
                            let expected = pytorch(input, k, s, p, d);
                            assert_eq!(
                                conv_out_size(input, k, s, p, d),
                                expected,
                                "in {input} k {k} s {s} p {p} d {d}"
                            );
                            assert_eq!(
                                sliding(input, k, s, p, d),
                                expected,
                                "in {input} k {k} s {s} p {p} d {d}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Values checked with torch.nn.Conv2d / MaxPool2d output shapes.
    #[test]
    fn conv_output_sizes_match_pytorch() {
        assert_eq!(conv_out_size(28, 5, 1, 2, 1), Some(28)); // LeNet-5 conv1
        assert_eq!(conv_out_size(28, 2, 2, 0, 1), Some(14)); // pool
        assert_eq!(conv_out_size(14, 5, 1, 0, 1), Some(10));
        assert_eq!(conv_out_size(32, 5, 1, 0, 1), Some(28)); // CIFAR LeNet conv1
        assert_eq!(conv_out_size(5, 2, 2, 1, 1), Some(3)); // P1 H axis
        assert_eq!(conv_out_size(7, 3, 1, 0, 2), Some(3)); // P1 W axis, dilation 2
        assert_eq!(conv_out_size(8, 3, 2, 0, 1), Some(3)); // overlapping pool
        assert_eq!(conv_out_size(4, 7, 1, 0, 1), None);
        assert_eq!(conv_out_size(4, 7, 1, 2, 1), Some(2));
        assert_eq!(conv_out_size(1, 1, 1, 0, 1), Some(1));
    }

    #[test]
    fn conv_output_size_never_overflows_or_divides_by_zero() {
        assert_eq!(conv_out_size(4, 3, 0, 0, 1), None);
        assert_eq!(conv_out_size(4, 0, 1, 0, 1), None);
        assert_eq!(
            conv_out_size(usize::MAX, 1, 1, usize::MAX, 1),
            Some(usize::MAX)
        );
        assert_eq!(
            conv_out_size(usize::MAX, usize::MAX, 1, 0, usize::MAX),
            None
        );
        assert_eq!(
            conv_out_size(usize::MAX, usize::MAX, usize::MAX, 0, 1),
            Some(1)
        );
    }

    /// Infers the shapes of `struct Net { fields }` on a `c x h x w` input.
    fn infer_net(input: [usize; 3], fields: TokenStream) -> (Vec<Option<Shape>>, Vec<String>) {
        let item: syn::Item = syn::parse2(quote!(struct Net { #fields })).unwrap();
        let mut errors = Errors::default();
        let layers = parse_item(&item, &mut errors).unwrap();
        let input = input.map(|value| Spanned {
            value,
            span: Span::call_site(),
        });
        let shapes = infer(Some(input), &layers, &mut errors);
        let messages = errors
            .into_error()
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default();
        (
            shapes.into_iter().map(|s| s.map(|s| s.output)).collect(),
            messages,
        )
    }

    fn sp(c: usize, h: usize, w: usize) -> Option<Shape> {
        Some(Shape::Spatial { c, h, w })
    }

    #[test]
    fn conv_with_per_axis_stride_padding_dilation() {
        // torch.nn.Conv2d(3, 8, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2))
        // on 3 x 17 x 20 gives 8 x 9 x 16.
        let (shapes, errors) = infer_net(
            [3, 17, 20],
            quote! {
                #[layer(stride = (2, 1), padding = (1, 2), dilation = (1, 2))]
                conv: Conv2d<3, 8, {(3, 5)}>,
            },
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(shapes, vec![sp(8, 9, 16)]);
        // Every option by name, and scalar values for both axes: 2 x 7 x 7 with k 3, s 2,
        // p 1, d 1 gives 4 x 4 x 4.
        let (shapes, _) = infer_net(
            [2, 7, 7],
            quote! {
                #[layer(in_channels = 2, out_channels = 4, kernel_size = 3, stride = 2, padding = 1, dilation = 1, bias = false)]
                conv: Conv2d,
            },
        );
        assert_eq!(shapes, vec![sp(4, 4, 4)]);
    }

    /// `torch.nn.functional.max_pool2d(torch.zeros(1, 1, i, 1), (k, 1), (s, 1), (p, 0),
    /// ceil_mode=c).shape[2]` (PyTorch 2.15) for `i` in 1..=10 (one string each), then
    /// `k` in 1..=4, `s` in 1..=4, `p` in 0..=k/2, one base-36 digit per case, `-` where the
    /// window is larger than the padded input.
    const TORCH_POOL_CEIL: [&str; 10] = [
        "1111-2-1-1-1-1-1-1-1--2--2--1--1",
        "211113121111-2-2-1-1-13-12-12-11",
        "32112422121113121211-24-23-22-12",
        "42213523221224232212135123122122",
        "53224633222235232222246234223222",
        "63225734232246342322357234233222",
        "74326844332257343322468345233223",
        "84327945332368453323579345334233",
        "95338a5534337945343368a456344333",
        "a5439b5644338a56443379b456344333",
    ];
    /// The same with `ceil_mode=False`.
    const TORCH_POOL_FLOOR: [&str; 10] = [
        "1111-2-1-1-1-1-1-1-1--2--1--1--1",
        "211113121111-2-1-1-1-13-12-11-11",
        "32112412121113121111-24-12-12-11",
        "42213523121224121211135123112112",
        "53224623221235231212246123122112",
        "63225734232246232212357234123122",
        "74326834232257342322468234223122",
        "84327945332368342322579345233223",
        "95338a4534237945332368a345234223",
        "a5439b5634338a45342379b456334233",
    ];

    #[test]
    fn pool_output_sizes_match_pytorch() {
        for (ceil_mode, table) in [(true, TORCH_POOL_CEIL), (false, TORCH_POOL_FLOOR)] {
            for (i, row) in table.iter().enumerate() {
                let input = i + 1;
                let mut digits = row.chars();
                for k in 1..=4 {
                    for s in 1..=4 {
                        for p in 0..=k / 2 {
                            let expected = digits.next().unwrap().to_digit(36).map(|d| d as usize);
                            assert_eq!(
                                pool_out_size(input, k, s, p, ceil_mode),
                                expected,
                                "in {input} k {k} s {s} p {p} ceil_mode {ceil_mode}"
                            );
                        }
                    }
                }
                assert_eq!(digits.next(), None);
            }
        }
        // Spot checks (torch.nn.MaxPool2d(.., ceil_mode=True) output sizes): 5 with k 2 s 2
        // gives 3 (floor 2); 7 with k 3 s 2 p 1 gives 4 (floor 4); 10 with k 3 s 4 gives 3
        // (floor 2); 3 with k 2 s 2 p 1 gives 2: ceil((3 + 2 - 2) / 2) + 1 = 3, but that third
        // window would start at 2 * 2 - 1 = 3, past the input, so one fewer.
        assert_eq!(pool_out_size(5, 2, 2, 0, true), Some(3));
        assert_eq!(pool_out_size(5, 2, 2, 0, false), Some(2));
        assert_eq!(pool_out_size(7, 3, 2, 1, true), Some(4));
        assert_eq!(pool_out_size(10, 3, 4, 0, true), Some(3));
        assert_eq!(pool_out_size(10, 3, 4, 0, false), Some(2));
        assert_eq!(pool_out_size(3, 2, 2, 1, true), Some(2));
        assert_eq!(pool_out_size(6, 2, 2, 1, true), Some(4));
        assert_eq!(pool_out_size(1, 2, 2, 0, true), None);
        // The floor path is conv_out_size's, bit for bit.
        for input in 1..=20 {
            for k in 1..=6 {
                for s in 1..=5 {
                    for p in 0..=k / 2 {
                        assert_eq!(
                            pool_out_size(input, k, s, p, false),
                            conv_out_size(input, k, s, p, 1)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn pool_ceil_mode() {
        // torch.nn.MaxPool2d(2, ceil_mode=True) on 1 x 5 x 5 gives 1 x 3 x 3;
        // MaxPool2d(3, stride=(2, 4), padding=1, ceil_mode=True) on 2 x 8 x 10 gives 2 x 5 x 3
        // (floor: 2 x 4 x 3; along W a fourth window would start at input column
        // 3 * 4 - 1 = 11, past the input, and is dropped); MaxPool2d(2, padding=1,
        // ceil_mode=True) on 1 x 3 x 6 gives 1 x 2 x 4 (along H the same rule drops a third
        // window starting at row 3).
        let (shapes, errors) = infer_net(
            [1, 5, 5],
            quote! {
                #[layer(ceil_mode = true)]
                pool: MaxPool2d<2>,
            },
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(shapes, vec![sp(1, 3, 3)]);
        let (shapes, errors) = infer_net(
            [2, 8, 10],
            quote! {
                #[layer(stride = (2, 4), padding = 1, ceil_mode = true)]
                pool: MaxPool2d<3>,
            },
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(shapes, vec![sp(2, 5, 3)]);
        let (shapes, errors) = infer_net(
            [1, 3, 6],
            quote! {
                #[layer(padding = 1, ceil_mode = true)]
                pool: MaxPool2d<2>,
            },
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(shapes, vec![sp(1, 2, 4)]);
        // ceil_mode = false is the default.
        let (shapes, errors) = infer_net(
            [1, 5, 5],
            quote! {
                #[layer(ceil_mode = false)]
                pool: MaxPool2d<2>,
            },
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(shapes, vec![sp(1, 2, 2)]);
    }

    #[test]
    fn pool_with_stride_and_padding() {
        // torch.nn.MaxPool2d(3, stride=2, padding=1) on 6 x 9 x 8 gives 6 x 5 x 4;
        // MaxPool2d((2, 3), stride=(1, 3)) on 6 x 5 x 4 gives 6 x 4 x 1.
        let (shapes, errors) = infer_net(
            [6, 9, 8],
            quote! {
                #[layer(stride = 2, padding = 1)]
                pool1: MaxPool2d<3>,
                #[layer(stride = (1, 3))]
                pool2: MaxPool2d<{(2, 3)}>,
            },
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(shapes, vec![sp(6, 5, 4), sp(6, 4, 1)]);
        // The stride defaults to the kernel size, as in PyTorch: 5 x 5 with kernel 2 gives 2 x 2.
        let (shapes, _) = infer_net([1, 5, 5], quote!(pool: MaxPool2d<2>,));
        assert_eq!(shapes, vec![sp(1, 2, 2)]);
    }

    #[test]
    fn flatten_and_linear() {
        let (shapes, errors) = infer_net(
            [16, 5, 5],
            quote! {
                relu: Relu,
                flatten: Flatten,
                fc1: Linear<400, 120>,
                flatten2: Flatten,
                fc2: Linear<120, 10>,
            },
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(
            shapes,
            vec![
                sp(16, 5, 5),
                Some(Shape::Flat(400)),
                Some(Shape::Flat(120)),
                Some(Shape::Flat(120)),
                Some(Shape::Flat(10))
            ]
        );
    }

    #[test]
    fn mismatches_say_what_was_expected_and_where_it_comes_from() {
        let (_, errors) = infer_net(
            [1, 28, 28],
            quote! {
                #[layer(padding = 2)]
                conv1: Conv2d<1, 6, 5>,
                relu1: Relu,
                pool1: MaxPool2d<2>,
                conv2: Conv2d<6, 16, 5>,
                relu2: Relu,
                pool2: MaxPool2d<2>,
                flatten: Flatten,
                fc1: Linear<401, 120>,
                fc2: Linear<121, 10>,
            },
        );
        assert_eq!(
            errors,
            [
                "expected 400 input features (16 x 5 x 5 from `pool2`), found 401",
                "expected 120 input features (the out_features of `fc1`), found 121",
            ]
        );
        let (_, errors) = infer_net(
            [1, 28, 28],
            quote!(conv1: Conv2d<1, 6, 5>, pool1: MaxPool2d<2>, conv2: Conv2d<3, 16, 5>,),
        );
        assert_eq!(
            errors,
            ["expected 6 input channels (`pool1` gives 6 x 12 x 12), found 3"]
        );
    }

    #[test]
    fn inference_goes_on_after_an_error() {
        // conv1's kernel does not fit (its output size is unknown after it), conv2's
        // in_channels is still checked against conv1's out_channels, and fc's in_features,
        // which depends on the unknown size, is not reported.
        let (shapes, errors) = infer_net(
            [1, 4, 4],
            quote! {
                conv1: Conv2d<1, 6, 7>,
                conv2: Conv2d<5, 16, 1>,
                flatten: Flatten,
                fc: Linear<12345, 10>,
            },
        );
        assert_eq!(
            errors,
            [
                "Conv2d `conv1`: its 7 x 7 kernel is larger than its input (the input is 1 x 4 x 4): the output would be empty",
                "expected 6 input channels (`conv1` gives 6 channels), found 5",
            ]
        );
        // Shapes that are not fully known are not reported.
        assert_eq!(shapes, vec![None, None, None, None]);
        // A wrong in_channels does not stop inference: the declared out_channels goes on.
        let (shapes, errors) = infer_net(
            [3, 8, 8],
            quote!(conv1: Conv2d<1, 6, 3>, flatten: Flatten, fc: Linear<383, 10>,),
        );
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[1],
            "expected 216 input features (6 x 6 x 6 from `conv1`), found 383"
        );
        assert_eq!(shapes[0], sp(6, 6, 6));
    }

    #[test]
    fn sizes_beyond_32_bit_offsets_are_errors_not_overflows() {
        let (_, errors) = infer_net(
            [1, 1, 1],
            quote! {
                flatten: Flatten,
                fc1: Linear<1, 18446744073709551615>,
                fc2: Linear<18446744073709551615, 18446744073709551615>,
            },
        );
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors[0].starts_with("`fc1` has 18446744073709551615 weights, more than"),
            "{errors:?}"
        );
        assert!(
            errors[1]
                .starts_with("`fc1` gives 18446744073709551615 features per sample, more than"),
            "{errors:?}"
        );
        assert!(
            errors[2].starts_with("`fc2` has more than usize::MAX weights"),
            "{errors:?}"
        );
        assert!(
            errors[3].starts_with("`fc2` gives 18446744073709551615 features"),
            "{errors:?}"
        );
        let (_, errors) = infer_net([65536, 65536, 65536], quote!());
        assert_eq!(
            errors,
            ["the input is 65536 x 65536 x 65536 = 281474976710656 values per sample, more than the 4294967295 a buffer may hold (the kernels use 32-bit offsets)"]
        );
    }
}
