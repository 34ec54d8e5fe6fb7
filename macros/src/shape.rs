//! Shape inference and validation: every layer's input and output shape, with an error on
//! the exact token for every mismatch.
use crate::ir::*;
use crate::parse::Errors;

/// The shape of one sample's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `C x H x W`.
    Spatial { c: usize, h: usize, w: usize },
    /// `F` features.
    Flat(usize),
}

impl Shape {
    pub fn len(&self) -> usize {
        match *self {
            Shape::Spatial { c, h, w } => c * h * w,
            Shape::Flat(f) => f,
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
/// `None` when the dilated kernel is larger than the padded input (or stride is 0).
pub fn conv_out_size(input: usize, kernel: usize, stride: usize, padding: usize, dilation: usize) -> Option<usize> {
    let padded = input.checked_add(padding.checked_mul(2)?)?;
    let extent = dilation.checked_mul(kernel.checked_sub(1)?)?.checked_add(1)?;
    if stride == 0 || padded < extent {
        return None;
    }
    Some((padded - extent) / stride + 1)
}

/// A layer with its inferred shapes.
#[derive(Debug)]
pub struct Shaped {
    pub input: Shape,
    pub output: Shape,
}

/// Infers the shape after every layer. Returns `None` for a layer whose shape could not be
/// inferred (an error was pushed), and stops inferring after it.
pub fn infer(decl: &NetDecl, errors: &mut Errors) -> Vec<Option<Shaped>> {
    let [c, h, w] = decl.attr.input;
    let mut cur = Shape::Spatial { c: c.value, h: h.value, w: w.value };
    let mut origin = String::from("the input");
    let mut out = Vec::new();
    let mut broken = false;
    for layer in &decl.layers {
        if broken {
            out.push(None);
            continue;
        }
        let name = layer.name.to_string();
        let next = match &layer.kind {
            LayerKind::Conv2d(cv) => match cur {
                Shape::Spatial { c, h, w } => {
                    if cv.in_channels.value != c {
                        errors.push(
                            cv.in_channels.span,
                            format!(
                                "expected {c} input channels ({} is {c} x {h} x {w}), found {}",
                                if origin == "the input" { origin.clone() } else { format!("the output of {origin}") },
                                cv.in_channels.value
                            ),
                        );
                    }
                    let (kh, kw) = cv.kernel_size.value;
                    let (sh, sw) = cv.stride.value;
                    let (ph, pw) = cv.padding.value;
                    let (dh, dw) = cv.dilation.value;
                    match (conv_out_size(h, kh, sh, ph, dh), conv_out_size(w, kw, sw, pw, dw)) {
                        (Some(oh), Some(ow)) => Some(Shape::Spatial { c: cv.out_channels.value, h: oh, w: ow }),
                        _ => {
                            errors.push(
                                layer.name.span(),
                                format!(
                                    "Conv2d `{name}`: kernel {kh} x {kw} (dilation {dh} x {dw}) is larger than its padded input: {h} x {w} from {origin} plus padding {ph} x {pw} gives {} x {}",
                                    h + 2 * ph,
                                    w + 2 * pw
                                ),
                            );
                            None
                        }
                    }
                }
                Shape::Flat(f) => {
                    errors.push(layer.ty_span, format!("Conv2d `{name}` needs a C x H x W input, but {origin} gives {f} flat features"));
                    None
                }
            },
            LayerKind::MaxPool2d(p) => match cur {
                Shape::Spatial { c, h, w } => {
                    let (kh, kw) = p.kernel_size.value;
                    let (ph, pw) = p.padding.value;
                    let mut ok = true;
                    if ph > kh / 2 || pw > kw / 2 {
                        errors.push(
                            p.padding.span,
                            format!("MaxPool2d `{name}`: padding {ph} x {pw} must be at most half the kernel size {kh} x {kw} (PyTorch rejects it too)"),
                        );
                        ok = false;
                    }
                    let (sh, sw) = p.stride.value;
                    match (conv_out_size(h, kh, sh, ph, 1), conv_out_size(w, kw, sw, pw, 1)) {
                        (Some(oh), Some(ow)) if ok => Some(Shape::Spatial { c, h: oh, w: ow }),
                        (Some(_), Some(_)) => None,
                        _ => {
                            errors.push(
                                layer.name.span(),
                                format!("MaxPool2d `{name}`: kernel {kh} x {kw} is larger than its padded input {h} x {w} (from {origin}, padding {ph} x {pw})"),
                            );
                            None
                        }
                    }
                }
                Shape::Flat(f) => {
                    errors.push(layer.ty_span, format!("MaxPool2d `{name}` needs a C x H x W input, but {origin} gives {f} flat features"));
                    None
                }
            },
            LayerKind::Linear(l) => match cur {
                Shape::Flat(f) => {
                    if l.in_features.value != f {
                        errors.push(
                            l.in_features.span,
                            format!("expected {f} input features ({origin}), found {}", l.in_features.value),
                        );
                    }
                    Some(Shape::Flat(l.out_features.value))
                }
                Shape::Spatial { c, h, w } => {
                    errors.push(
                        layer.ty_span,
                        format!(
                            "Linear `{name}` needs flat features, but {origin} gives {c} x {h} x {w}; add a `Flatten` layer before it (it would give {} features)",
                            c * h * w
                        ),
                    );
                    None
                }
            },
            LayerKind::Relu => Some(cur),
            LayerKind::Flatten => match cur {
                Shape::Spatial { c, h, w } => Some(Shape::Flat(c * h * w)),
                Shape::Flat(f) => Some(Shape::Flat(f)),
            },
        };
        match next {
            Some(s) => {
                let new_origin = match (&layer.kind, cur) {
                    (LayerKind::Flatten, Shape::Spatial { c, h, w }) => format!("{c} x {h} x {w} from {origin}"),
                    (LayerKind::Relu, _) => origin.clone(),
                    _ => format!("`{name}`"),
                };
                out.push(Some(Shaped { input: cur, output: s }));
                cur = s;
                origin = new_origin;
            }
            None => {
                out.push(None);
                broken = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::conv_out_size;

    /// Expected values from PyTorch's formula, checked with torch.nn.Conv2d / MaxPool2d
    /// output shapes.
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
        assert_eq!(conv_out_size(4, 3, 0, 0, 1), None);
        assert_eq!(conv_out_size(1, 1, 1, 0, 1), Some(1));
    }
}
