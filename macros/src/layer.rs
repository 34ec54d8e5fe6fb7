//! One field into a [`LayerDecl`]: its type (`Conv2d`), the type's generic arguments (the
//! required options in PyTorch's order) and its `#[layer(name = value, ..)]` attributes (any
//! option by PyTorch's keyword name). A field with errors becomes a [`LayerKind::Invalid`]
//! that keeps what parsed, so that the checks after it still run.
use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Expr, GenericArgument, Ident, Lit, PathArguments, Token, Type};

use crate::ir::*;
use crate::parse::{usize_of, AttrArg, Errors};
use crate::suggest::did_you_mean;

#[derive(Clone, Copy, PartialEq)]
enum OptKind {
    Int,
    Pair,
    Bool,
    /// A finite number >= 0 (integer or float literal).
    Float,
    /// One of these string literals.
    Choice(&'static [&'static str]),
}

struct OptSpec {
    name: &'static str,
    kind: OptKind,
    /// Positional index, if the option may be given positionally.
    positional: Option<usize>,
    required: bool,
    /// Why 0 is not allowed; `None` when it is.
    nonzero: Option<&'static str>,
}

const fn opt(
    name: &'static str,
    kind: OptKind,
    positional: Option<usize>,
    required: bool,
    nonzero: Option<&'static str>,
) -> OptSpec {
    OptSpec {
        name,
        kind,
        positional,
        required,
        nonzero,
    }
}

const CHANNELS: Option<&str> = Some("a layer needs at least one channel");
const FEATURES: Option<&str> = Some("a layer needs at least one feature");
const KERNEL: Option<&str> = Some("a kernel covers at least one pixel");
const STRIDE: Option<&str> = Some("the window moves by at least one pixel");
const DILATION: Option<&str> = Some("1 means adjacent kernel elements");

const CONV2D: &[OptSpec] = &[
    opt("in_channels", OptKind::Int, Some(0), true, CHANNELS),
    opt("out_channels", OptKind::Int, Some(1), true, CHANNELS),
    opt("kernel_size", OptKind::Pair, Some(2), true, KERNEL),
    opt("stride", OptKind::Pair, None, false, STRIDE),
    opt("padding", OptKind::Pair, None, false, None),
    opt("dilation", OptKind::Pair, None, false, DILATION),
    opt("bias", OptKind::Bool, None, false, None),
];
const MAXPOOL2D: &[OptSpec] = &[
    opt("kernel_size", OptKind::Pair, Some(0), true, KERNEL),
    opt("stride", OptKind::Pair, None, false, STRIDE),
    opt("padding", OptKind::Pair, None, false, None),
    // `ceil_mode` (default false): the output size rounds up, `ceil((in + 2p - k) / s) + 1`,
    // less one if the last window would start past the input and the left padding (torch's
    // `pooling_output_shape`); a last window that runs past the input's end covers fewer
    // elements.
    opt("ceil_mode", OptKind::Bool, None, false, None),
];
const LINEAR: &[OptSpec] = &[
    opt("in_features", OptKind::Int, Some(0), true, FEATURES),
    opt("out_features", OptKind::Int, Some(1), true, FEATURES),
    opt("bias", OptKind::Bool, None, false, None),
];
const LEAKY_RELU: &[OptSpec] = &[opt("negative_slope", OptKind::Float, None, false, None)];
/// torch.nn.GELU's `approximate`: "none" (exact, erf) or "tanh".
const GELU_APPROXIMATE: &[&str] = &["none", "tanh"];
const GELU: &[OptSpec] = &[opt(
    "approximate",
    OptKind::Choice(GELU_APPROXIMATE),
    None,
    false,
    None,
)];
const BATCHNORM: &[OptSpec] = &[
    opt("num_features", OptKind::Int, Some(0), true, FEATURES),
    opt("eps", OptKind::Float, None, false, None),
    opt("momentum", OptKind::Float, None, false, None),
];
const DROPOUT: &[OptSpec] = &[opt("p", OptKind::Float, None, false, None)];
const AVGPOOL2D: &[OptSpec] = &[
    opt("kernel_size", OptKind::Pair, Some(0), true, KERNEL),
    opt("stride", OptKind::Pair, None, false, STRIDE),
    opt("padding", OptKind::Pair, None, false, None),
    opt("count_include_pad", OptKind::Bool, None, false, None),
];
const ADAPTIVE_AVGPOOL2D: &[OptSpec] = &[opt(
    "output_size",
    OptKind::Pair,
    Some(0),
    true,
    Some("the output has at least one pixel"),
)];
const BASIC_BLOCK: &[OptSpec] = &[
    opt("inplanes", OptKind::Int, Some(0), true, CHANNELS),
    opt("planes", OptKind::Int, Some(1), true, CHANNELS),
    opt("stride", OptKind::Int, None, false, STRIDE),
    opt("downsample", OptKind::Bool, None, false, None),
];
/// torch.nn.BatchNorm2d's defaults.
const DEFAULT_EPS: f32 = 1e-5;
const DEFAULT_MOMENTUM: f32 = 0.1;
/// torch.nn.Dropout's default `p`.
const DEFAULT_DROPOUT: f32 = 0.5;
/// torch.nn.LeakyReLU's default `negative_slope`.
const DEFAULT_NEGATIVE_SLOPE: f32 = 0.01;
/// Other frameworks' names for options (Keras, TensorFlow, papers), suggested when no
/// option is spelled close to them.
const ALIASES: &[(&str, &str)] = &[
    ("rate", "p"),
    ("prob", "p"),
    ("drop_rate", "p"),
    ("drop_prob", "p"),
    ("epsilon", "eps"),
    ("alpha", "negative_slope"),
    ("slope", "negative_slope"),
];

#[derive(Clone, Copy)]
enum Value {
    Int(Spanned<usize>),
    Pair(Pair),
    Bool(bool),
    Float(f32),
    /// Index into the option's choices.
    Choice(usize),
}

fn signature(ty: &str, specs: &[OptSpec]) -> String {
    let pos: Vec<_> = specs
        .iter()
        .filter(|s| s.positional.is_some())
        .map(|s| s.name)
        .collect();
    let named: Vec<_> = specs
        .iter()
        .filter(|s| s.positional.is_none())
        .map(|s| format!("{} = ..", s.name))
        .collect();
    if named.is_empty() {
        format!("`{ty}<{}>`", pos.join(", "))
    } else if pos.is_empty() {
        format!("`{ty}` with optional `#[layer({})]`", named.join(", "))
    } else {
        format!(
            "`{ty}<{}>` with optional `#[layer({})]`",
            pos.join(", "),
            named.join(", ")
        )
    }
}

/// Checks one parsed number (that it is not 0 where 0 is not allowed).
type Check<'a> = dyn Fn(Spanned<usize>, &mut Errors) -> Option<Spanned<usize>> + 'a;

/// A number, or a pair `(h, w)` (a braced `{(h, w)}` in generic arguments).
fn parse_pair(expr: &Expr, what: &str, check: &Check, errors: &mut Errors) -> Option<Pair> {
    // The span of the whole pair: its parentheses (or braces) with what is inside.
    let (tuple, span) = match expr {
        Expr::Tuple(t) => (Some(t), t.paren_token.span.join()),
        Expr::Paren(p) => return parse_pair(&p.expr, what, check, errors),
        Expr::Block(b) => match b.block.stmts.as_slice() {
            [syn::Stmt::Expr(Expr::Tuple(t), None)] => (Some(t), b.block.brace_token.span.join()),
            _ => {
                errors.push_tokens(
                    expr,
                    format!("{what} must be a number or a braced pair `{{(h, w)}}`"),
                );
                return None;
            }
        },
        _ => (None, expr.span()),
    };
    let Some(t) = tuple else {
        let v = check(usize_of(expr, what, errors)?, errors)?;
        return Some(Spanned {
            value: (v.value, v.value),
            span: v.span,
        });
    };
    if t.elems.len() != 2 {
        errors.push(
            span,
            format!(
                "{what} must be a number or a pair `(height, width)`, found {} values",
                t.elems.len()
            ),
        );
        return None;
    }
    let h = usize_of(&t.elems[0], what, errors).and_then(|v| check(v, errors));
    let w = usize_of(&t.elems[1], what, errors).and_then(|v| check(v, errors));
    Some(Spanned {
        value: (h?.value, w?.value),
        span,
    })
}

fn parse_value(expr: &Expr, spec: &OptSpec, what: &str, errors: &mut Errors) -> Option<Value> {
    let check = |v: Spanned<usize>, errors: &mut Errors| -> Option<Spanned<usize>> {
        match spec.nonzero {
            Some(why) if v.value == 0 => {
                errors.push(v.span, format!("{what} must be at least 1, found 0: {why}"));
                None
            }
            _ => Some(v),
        }
    };
    match spec.kind {
        OptKind::Bool => match expr {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Bool(b), ..
            }) => Some(Value::Bool(b.value)),
            _ => {
                errors.push_tokens(expr, format!("{what} must be `true` or `false`"));
                None
            }
        },
        OptKind::Int => check(usize_of(expr, what, errors)?, errors).map(Value::Int),
        OptKind::Pair => parse_pair(expr, what, &check, errors).map(Value::Pair),
        OptKind::Float => {
            let v = parse_float(expr, spec.name, what, errors)?;
            // Ranges PyTorch accepts and cubenet implements.
            let bad = match spec.name {
                "eps" if v <= 0.0 => Some(("must be > 0", "it keeps the division by the standard deviation finite")),
                "momentum" if v > 1.0 => Some(("must be between 0 and 1", "the running statistics are `(1 - momentum) * running + momentum * batch`")),
                "p" if v >= 1.0 => Some(("must be below 1", "it is the probability of zeroing an element, and at 1 nothing would pass (the scale 1 / (1 - p) is infinite)")),
                _ => None,
            };
            if let Some((rule, why)) = bad {
                errors.push_tokens(expr, format!("{what} {rule}, found {v}: {why}"));
                return None;
            }
            Some(Value::Float(v))
        }
        OptKind::Choice(choices) => match expr {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) => {
                let v = s.value();
                match choices.iter().position(|c| *c == v) {
                    Some(i) => Some(Value::Choice(i)),
                    None => {
                        errors.push(
                            s.span(),
                            format!(
                                "{what} must be {}, found \"{v}\"{}",
                                quoted_choices(choices),
                                did_you_mean(&v, choices)
                            ),
                        );
                        None
                    }
                }
            }
            _ => {
                errors.push_tokens(
                    expr,
                    format!("{what} must be a string: {}", quoted_choices(choices)),
                );
                None
            }
        },
    }
}

/// `"a" or "b"`.
fn quoted_choices(choices: &[&str]) -> String {
    let q: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
    q.join(" or ")
}

/// A finite number >= 0, written as an integer or float literal.
fn parse_float(expr: &Expr, option: &str, what: &str, errors: &mut Errors) -> Option<f32> {
    let parsed = match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(f), ..
        }) => f.base10_parse::<f32>().ok(),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse::<f32>().ok(),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => {
            let why = match option {
                "negative_slope" => ": cubenet takes the activation's gradient from the sign of its output, which needs a slope >= 0",
                "eps" => ": it must be > 0 (it keeps the division by the standard deviation finite)",
                "momentum" => ": it must be between 0 and 1 (the running statistics are `(1 - momentum) * running + momentum * batch`)",
                "p" => ": it is the probability of zeroing an element (0 <= p < 1)",
                _ => "",
            };
            errors.push_tokens(expr, format!("{what} cannot be negative{why}"));
            return None;
        }
        _ => {
            errors.push_tokens(expr, format!("{what} must be a number, e.g. `0.2`"));
            return None;
        }
    };
    match parsed {
        Some(v) if v.is_finite() => Some(v),
        _ => {
            errors.push_tokens(expr, format!("{what} must be a finite f32 number"));
            None
        }
    }
}

/// The options of one layer, from its type's generic arguments (positional) and its
/// `#[layer(...)]` attributes (named). Returns what became of every option, and whether all
/// parsed.
fn parse_options(
    name: &Ident,
    ty: &str,
    args: &PathArguments,
    named: &[AttrArg],
    specs: &[OptSpec],
    attrs_ok: bool,
    errors: &mut Errors,
) -> (Vec<Slot>, bool) {
    let mut values: Vec<Option<Value>> = specs.iter().map(|_| None).collect();
    // Whether (and whether positionally) the user wrote the option, even with a wrong value.
    let mut given: Vec<Option<bool>> = specs.iter().map(|_| None).collect();
    let mut ok = attrs_ok;
    // An unknown or malformed option may be the missing one: then "missing" is not reported.
    let mut excuse_missing = !attrs_ok;
    let mut items: Vec<(Option<&Ident>, Option<&Expr>)> = Vec::new();
    match args {
        PathArguments::None => {}
        PathArguments::AngleBracketed(a) => {
            for arg in &a.args {
                match arg {
                    GenericArgument::Const(e) => items.push((None, Some(e))),
                    GenericArgument::AssocConst(a) => {
                        errors.push(
                            a.ident.span(),
                            format!(
                                "named options go in a `#[layer({} = ..)]` attribute on the field",
                                a.ident
                            ),
                        );
                        (ok, excuse_missing) = (false, true);
                    }
                    GenericArgument::AssocType(a) => {
                        errors.push(
                            a.ident.span(),
                            format!(
                                "named options go in a `#[layer({} = ..)]` attribute on the field",
                                a.ident
                            ),
                        );
                        (ok, excuse_missing) = (false, true);
                    }
                    other => {
                        errors.push_tokens(
                            other,
                            format!("expected a number, as in {}", signature(ty, specs)),
                        );
                        (ok, excuse_missing) = (false, true);
                    }
                }
            }
        }
        PathArguments::Parenthesized(p) => {
            errors.push(
                p.paren_token.span.join(),
                format!(
                    "layer options go in angle brackets: {}",
                    signature(ty, specs)
                ),
            );
            (ok, excuse_missing) = (false, true);
        }
    }
    items.extend(named.iter().map(|a| (Some(&a.key), a.value.as_ref())));
    let mut positional = 0usize;
    for (key, expr) in items {
        let index = match key {
            None => {
                let i = positional;
                positional += 1;
                match specs.iter().position(|s| s.positional == Some(i)) {
                    Some(idx) => idx,
                    None => {
                        let span = expr.map_or_else(Span::call_site, |e| e.span());
                        errors.push(
                            span,
                            format!(
                                "too many generic arguments for {ty} `{name}`: expected {}",
                                signature(ty, specs)
                            ),
                        );
                        ok = false;
                        continue;
                    }
                }
            }
            Some(k) => {
                let ks = k.to_string();
                match specs.iter().position(|s| s.name == ks) {
                    Some(idx) => idx,
                    None => {
                        let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
                        let mut hint = did_you_mean(&ks, &names);
                        if let Some((_, to)) = ALIASES
                            .iter()
                            .find(|(from, to)| *from == ks && names.contains(to))
                        {
                            hint = format!(
                                "; did you mean `{to}`? (cubenet uses PyTorch's option names)"
                            );
                        }
                        errors.push(
                            k.span(),
                            format!(
                                "unknown option `{ks}` for {ty} `{name}` (options: {}){hint}",
                                names.join(", "),
                            ),
                        );
                        (ok, excuse_missing) = (false, true);
                        continue;
                    }
                }
            }
        };
        let spec = &specs[index];
        if let Some(first_positional) = given[index] {
            let first = if first_positional {
                " (once as a generic argument of the type)"
            } else {
                ""
            };
            let span = key.map_or_else(
                || expr.map_or_else(Span::call_site, |e| e.span()),
                |k| k.span(),
            );
            errors.push(
                span,
                format!(
                    "`{}` of {ty} `{name}` is given twice{first}; remove this one",
                    spec.name
                ),
            );
            // Which one was meant is unknown.
            values[index] = None;
            ok = false;
            continue;
        }
        given[index] = Some(key.is_none());
        let Some(expr) = expr else {
            // `#[layer(stride)]`: the key is right, the value is missing.
            let k = key.map_or_else(Span::call_site, |k| k.span());
            errors.push(
                k,
                format!("expected `{} = value` for {ty} `{name}`", spec.name),
            );
            ok = false;
            continue;
        };
        let what = format!("`{}` of {ty} `{name}`", spec.name);
        match parse_value(expr, spec, &what, errors) {
            Some(v) => values[index] = Some(v),
            None => ok = false,
        }
    }
    let missing: Vec<String> = specs
        .iter()
        .zip(&given)
        .filter(|(s, g)| s.required && g.is_none())
        .map(|(s, _)| format!("`{}`", s.name))
        .collect();
    if !missing.is_empty() {
        ok = false;
        if !excuse_missing {
            errors.push(
                name.span(),
                format!(
                    "{ty} `{name}` is missing {}; expected {}",
                    missing.join(", "),
                    signature(ty, specs)
                ),
            );
        }
    }
    let slots = values
        .into_iter()
        .zip(given)
        .map(|(v, g)| match (v, g) {
            (Some(v), _) => Slot::Given(v),
            (None, Some(_)) => Slot::Bad,
            (None, None) => Slot::Absent,
        })
        .collect();
    (slots, ok)
}

/// What became of one option.
#[derive(Clone, Copy)]
enum Slot {
    /// Not written.
    Absent,
    /// Written, with an error.
    Bad,
    Given(Value),
}

/// An option's value, its default when it was not written, `None` when it is unknown.
struct Options<'a> {
    slots: &'a [Slot],
    /// Whether an option that was not written has its default. Not after a `#[layer(...)]`
    /// that did not parse or a misspelled attribute: it may have been meant to set it.
    defaults: bool,
}

impl Options<'_> {
    fn int(&self, i: usize) -> Option<Spanned<usize>> {
        match self.slots.get(i)? {
            Slot::Given(Value::Int(v)) => Some(*v),
            _ => None,
        }
    }
    fn pair(&self, i: usize, default: Option<(usize, usize)>) -> Option<Pair> {
        match self.slots.get(i)? {
            Slot::Given(Value::Pair(p)) => Some(*p),
            Slot::Absent if self.defaults => default.map(|value| Spanned {
                value,
                span: Span::call_site(),
            }),
            _ => None,
        }
    }
    fn float(&self, i: usize, default: f32) -> Option<f32> {
        match self.slots.get(i)? {
            Slot::Given(Value::Float(v)) => Some(*v),
            Slot::Absent if self.defaults => Some(default),
            _ => None,
        }
    }
    fn choice(&self, i: usize, default: usize) -> Option<usize> {
        match self.slots.get(i)? {
            Slot::Given(Value::Choice(v)) => Some(*v),
            Slot::Absent if self.defaults => Some(default),
            _ => None,
        }
    }
    fn boolean(&self, i: usize, default: bool) -> Option<bool> {
        match self.slots.get(i)? {
            Slot::Given(Value::Bool(b)) => Some(*b),
            Slot::Absent if self.defaults => Some(default),
            _ => None,
        }
    }
}

/// The `#[layer(...)]` options of a field; `false` when one of them could not be parsed or
/// another attribute is there.
fn layer_attrs(attrs: &[syn::Attribute], errors: &mut Errors) -> (Vec<AttrArg>, bool) {
    let mut named: Vec<AttrArg> = Vec::new();
    let mut ok = true;
    for attr in attrs {
        let path = attr.path();
        if path.is_ident("layer") {
            match attr.parse_args_with(Punctuated::<AttrArg, Token![,]>::parse_terminated) {
                Ok(args) => named.extend(args),
                Err(e) => {
                    errors.add(e);
                    ok = false;
                }
            }
        } else if !path.is_ident("doc") {
            let shown = path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect::<Vec<_>>()
                .join("::");
            errors.push(
                path.span(),
                format!("unknown attribute `#[{shown}]` on a layer; options go in `#[layer(name = value, ..)]`{}", did_you_mean(&shown, &["layer"])),
            );
            // It may have been meant to set options.
            ok = false;
        }
    }
    (named, ok)
}

pub fn parse_layer(
    name: Ident,
    ty: &Type,
    attrs: &[syn::Attribute],
    errors: &mut Errors,
) -> LayerDecl {
    let (named, attrs_ok) = layer_attrs(attrs, errors);
    let seg = match ty {
        Type::Path(tp) if tp.qself.is_none() => tp.path.segments.last(),
        _ => None,
    };
    let Some(seg) = seg else {
        errors.push_tokens(
            ty,
            format!("expected a layer type ({})", LayerType::NAMES.join(", ")),
        );
        return LayerDecl {
            name,
            ty_span: ty.span(),
            kind: LayerKind::Invalid(Invalid::default()),
        };
    };
    let ident = &seg.ident;
    let ty_span = ident.span();
    let ty_name = ident.to_string();
    let Some(lt) = LayerType::from_name(&ty_name) else {
        errors.push(
            ty_span,
            format!(
                "unknown layer type `{ty_name}` (layers: {}){}",
                LayerType::NAMES.join(", "),
                did_you_mean(&ty_name, &LayerType::NAMES)
            ),
        );
        return LayerDecl {
            name,
            ty_span,
            kind: LayerKind::Invalid(Invalid::default()),
        };
    };
    let specs = match lt {
        LayerType::Conv2d => CONV2D,
        LayerType::MaxPool2d => MAXPOOL2D,
        LayerType::Linear => LINEAR,
        LayerType::LeakyRelu => LEAKY_RELU,
        LayerType::Gelu => GELU,
        LayerType::BatchNorm2d | LayerType::BatchNorm1d => BATCHNORM,
        LayerType::Dropout => DROPOUT,
        LayerType::AvgPool2d => AVGPOOL2D,
        LayerType::AdaptiveAvgPool2d => ADAPTIVE_AVGPOOL2D,
        LayerType::BasicBlock => BASIC_BLOCK,
        LayerType::Relu | LayerType::Tanh | LayerType::Sigmoid | LayerType::Flatten => {
            if let Some(a) = named.first() {
                errors.push(a.key.span(), format!("{ty_name} `{name}` takes no options"));
            } else if !matches!(seg.arguments, PathArguments::None) {
                errors.push_tokens(
                    &seg.arguments,
                    format!("{ty_name} `{name}` takes no options"),
                );
            }
            let kind = match lt {
                LayerType::Relu => LayerKind::Activation(Activation::Relu),
                LayerType::Tanh => LayerKind::Activation(Activation::Tanh),
                LayerType::Sigmoid => LayerKind::Activation(Activation::Sigmoid),
                _ => LayerKind::Flatten,
            };
            return LayerDecl {
                name,
                ty_span,
                kind,
            };
        }
    };
    let (slots, ok) = parse_options(
        &name,
        &ty_name,
        &seg.arguments,
        &named,
        specs,
        attrs_ok,
        errors,
    );
    let v = Options {
        slots: &slots,
        defaults: attrs_ok,
    };
    let invalid = |window: Option<Window>| {
        LayerKind::Invalid(Invalid {
            ty: Some(lt),
            input: v.int(0),
            output: v.int(1).map(|o| o.value),
            window,
        })
    };
    let kind = match lt {
        LayerType::Conv2d => {
            let window = (|| {
                Some(Window {
                    kernel_size: v.pair(2, None)?,
                    stride: v.pair(3, Some((1, 1)))?,
                    padding: v.pair(4, Some((0, 0)))?,
                    dilation: v.pair(5, Some((1, 1)))?,
                    ceil_mode: false,
                })
            })();
            match (ok, v.int(0), v.int(1), window, v.boolean(6, true)) {
                (true, Some(in_channels), Some(out_channels), Some(w), Some(bias)) => {
                    LayerKind::Conv2d(Conv2d {
                        in_channels,
                        out_channels,
                        kernel_size: w.kernel_size,
                        stride: w.stride,
                        padding: w.padding,
                        dilation: w.dilation,
                        bias,
                    })
                }
                _ => invalid(window),
            }
        }
        LayerType::MaxPool2d => {
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
                Some(p) if ok => LayerKind::MaxPool2d(p),
                _ => LayerKind::Invalid(Invalid {
                    ty: Some(lt),
                    input: None,
                    output: None,
                    window: pool.map(|p| p.window()),
                }),
            }
        }
        LayerType::LeakyRelu => match (ok, v.float(0, DEFAULT_NEGATIVE_SLOPE)) {
            (true, Some(slope)) => LayerKind::Activation(Activation::LeakyRelu(slope)),
            _ => invalid(None),
        },
        LayerType::Gelu => match (ok, v.choice(0, 0)) {
            (true, Some(c)) => LayerKind::Activation(Activation::Gelu { tanh: c == 1 }),
            _ => invalid(None),
        },
        LayerType::BatchNorm2d | LayerType::BatchNorm1d => match (
            ok,
            v.int(0),
            v.float(1, DEFAULT_EPS),
            v.float(2, DEFAULT_MOMENTUM),
        ) {
            (true, Some(num_features), Some(eps), Some(momentum)) => {
                LayerKind::BatchNorm(BatchNorm {
                    num_features,
                    two_d: lt == LayerType::BatchNorm2d,
                    eps,
                    momentum,
                })
            }
            _ => LayerKind::Invalid(Invalid {
                ty: Some(lt),
                input: v.int(0),
                output: v.int(0).map(|o| o.value),
                window: None,
            }),
        },
        LayerType::BasicBlock => {
            let stride = match v.slots.get(2) {
                Some(Slot::Given(Value::Int(s))) => Some(*s),
                Some(Slot::Absent) if v.defaults => Some(Spanned {
                    value: 1,
                    span: ty_span,
                }),
                _ => None,
            };
            match (ok, v.int(0), v.int(1), stride, v.boolean(3, false)) {
                (true, Some(inplanes), Some(planes), Some(stride), Some(downsample)) => {
                    LayerKind::BasicBlock(BasicBlock {
                        inplanes,
                        planes,
                        stride,
                        downsample,
                    })
                }
                _ => invalid(None),
            }
        }
        LayerType::Dropout => match (ok, v.float(0, DEFAULT_DROPOUT)) {
            (true, Some(p)) => LayerKind::Dropout(Dropout { p }),
            _ => invalid(None),
        },
        LayerType::AvgPool2d => {
            let pool = (|| {
                let kernel_size = v.pair(0, None)?;
                Some(AvgPool2d {
                    kernel_size,
                    stride: v.pair(1, Some(kernel_size.value))?,
                    padding: v.pair(2, Some((0, 0)))?,
                    count_include_pad: v.boolean(3, true)?,
                    adaptive: None,
                })
            })();
            match pool {
                Some(p) if ok => LayerKind::AvgPool2d(p),
                _ => LayerKind::Invalid(Invalid {
                    ty: Some(lt),
                    input: None,
                    output: None,
                    window: pool.map(|p| p.window()),
                }),
            }
        }
        LayerType::AdaptiveAvgPool2d => match (ok, v.pair(0, None)) {
            (true, Some(output_size)) => LayerKind::AvgPool2d(AvgPool2d {
                kernel_size: output_size,
                stride: output_size,
                padding: Spanned {
                    value: (0, 0),
                    span: output_size.span,
                },
                count_include_pad: true,
                adaptive: Some(output_size),
            }),
            _ => invalid(None),
        },
        _ => match (ok, v.int(0), v.int(1), v.boolean(2, true)) {
            (true, Some(in_features), Some(out_features), Some(bias)) => {
                LayerKind::Linear(Linear {
                    in_features,
                    out_features,
                    bias,
                })
            }
            _ => invalid(None),
        },
    };
    LayerDecl {
        name,
        ty_span,
        kind,
    }
}
