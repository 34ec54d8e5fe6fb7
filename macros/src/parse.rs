//! Parsing: `#[network(input = [C, H, W])]` and the struct's fields into [`LayerDecl`]s.
//!
//! The required options of a layer are the generic arguments of the field's type, in
//! PyTorch's order: `Conv2d<1, 6, 5>` (in_channels, out_channels, kernel_size),
//! `MaxPool2d<2>`, `Linear<400, 120>`. Other options go in a `#[layer(...)]` attribute on
//! the field, with PyTorch's keyword names: `#[layer(padding = 2)] conv1: Conv2d<1, 6, 5>`,
//! `#[layer(stride = (2, 1), bias = false)]`. Any option may be given by name there. Which
//! options a type takes is its kind's (`crate::layers`); [`crate::options`] parses them.
use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Expr, Fields, Ident, Item, PathArguments, Token, Type};

use crate::errors::Errors;
use crate::ir::{LossDecl, NetAttr, Spanned};
use crate::layers::{Invalid, LayerDecl, LayerKind, LayerType};
use crate::options::{
    layer_attrs, parse_float, parse_options, usize_of, AttrArg, FloatRule, Options,
};
use crate::suggest::{did_you_mean, nearest};

const ATTR_KEYS: &[&str] = &["input", "print", "loss", "label_smoothing"];

/// The losses `loss = ...` takes.
const LOSSES: &[&str] = &["cross_entropy", "mse", "bce_with_logits"];

/// The arguments, as listed in errors.
const ARGS: &str =
    "`input = [C, H, W]`, `loss = cross_entropy | mse | bce_with_logits`, `label_smoothing = 0.1`, `print`";

/// Parses the attribute's arguments. `None` when the input shape is missing or wrong (an
/// error was pushed).
pub fn parse_attr(attr: TokenStream, errors: &mut Errors) -> Option<NetAttr> {
    let args = match Punctuated::<AttrArg, Token![,]>::parse_terminated.parse2(attr) {
        Ok(a) => a,
        Err(e) => {
            errors.add(e);
            return None;
        }
    };
    let mut input = None;
    let mut print = false;
    let mut loss: Option<Spanned<&'static str>> = None;
    let mut smoothing: Option<Spanned<f32>> = None;
    let mut seen: Vec<Ident> = Vec::new();
    // Whether an unknown argument may have been meant as `input` (then "missing input" would
    // repeat its error).
    let mut input_like = false;
    for arg in args {
        let key = arg.key.to_string();
        if seen.contains(&arg.key) {
            errors.push(
                arg.key.span(),
                format!("`{key}` is given twice in `#[network(...)]`; remove this one"),
            );
            continue;
        }
        seen.push(arg.key.clone());
        match key.as_str() {
            "input" => input = parse_input(&arg, errors),
            "print" => {
                if let Some(v) = arg.value {
                    errors.push_tokens(
                        &v,
                        "`print` takes no value: write `#[network(input = [..], print)]`",
                    );
                }
                print = true;
            }
            "loss" => loss = parse_loss(&arg, errors),
            "label_smoothing" => smoothing = parse_smoothing(&arg, errors),
            other => {
                let suggestion = nearest(other, ATTR_KEYS);
                input_like |=
                    suggestion == Some("input") || matches!(arg.value, Some(Expr::Array(_)));
                errors.push(
                    arg.key.span(),
                    format!(
                        "unknown `#[network]` argument `{other}` (arguments: {ARGS}){}",
                        did_you_mean(other, ATTR_KEYS)
                    ),
                );
            }
        }
    }
    if input.is_none() && !input_like && !seen.iter().any(|k| k == "input") {
        errors.push(
            Span::call_site(),
            "missing the input shape: write `#[network(input = [C, H, W])]`, e.g. `#[network(input = [1, 28, 28])]` for 28 x 28 grayscale images",
        );
    }
    let loss = match (loss.map(|l| l.value), smoothing) {
        (Some("mse"), Some(ls)) | (Some("bce_with_logits"), Some(ls)) => {
            errors.push(
                ls.span,
                format!(
                    "`label_smoothing` applies to `loss = cross_entropy` only, and this network's loss is `{}`; remove it",
                    loss.map_or("", |l| l.value)
                ),
            );
            return None;
        }
        (Some("mse"), None) => LossDecl::Mse,
        (Some("bce_with_logits"), None) => LossDecl::BceWithLogits,
        _ => LossDecl::CrossEntropy {
            label_smoothing: smoothing.map_or(0.0, |s| s.value),
        },
    };
    Some(NetAttr {
        input: input?,
        print,
        loss,
    })
}

/// `loss = cross_entropy | mse | bce_with_logits` (an identifier or a string literal).
fn parse_loss(arg: &AttrArg, errors: &mut Errors) -> Option<Spanned<&'static str>> {
    let expect = "expected `loss = cross_entropy`, `loss = mse` or `loss = bce_with_logits` (PyTorch's nn.CrossEntropyLoss, nn.MSELoss, nn.BCEWithLogitsLoss)";
    let Some(value) = &arg.value else {
        errors.push(arg.key.span(), expect);
        return None;
    };
    let (name, span) = match value {
        Expr::Path(p) if p.path.get_ident().is_some() => {
            let id = p.path.get_ident()?;
            (id.to_string(), id.span())
        }
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => (s.value(), s.span()),
        _ => {
            errors.push_tokens(value, expect);
            return None;
        }
    };
    match LOSSES.iter().find(|l| **l == name) {
        Some(l) => Some(Spanned::at(*l, span)),
        None => {
            let hint = match name.as_str() {
                "nll"
                | "nll_loss"
                | "l1"
                | "l1_loss"
                | "smooth_l1"
                | "huber"
                | "bce"
                | "binary_cross_entropy"
                | "kl_div"
                | "ctc" => {
                    format!(" (`{name}` is not supported (yet); with raw logits use `bce_with_logits` for BCE)")
                }
                _ => did_you_mean(&name, LOSSES),
            };
            errors.push(span, format!("unknown loss `{name}`: {expect}{hint}"));
            None
        }
    }
}

/// `label_smoothing = ε`, a number in [0, 1] (torch.nn.CrossEntropyLoss).
fn parse_smoothing(arg: &AttrArg, errors: &mut Errors) -> Option<Spanned<f32>> {
    const RULE: FloatRule = FloatRule {
        bad: None,
        negative: ": it is the weight of the uniform distribution, in [0, 1]",
    };
    let Some(value) = &arg.value else {
        errors.push(
            arg.key.span(),
            "expected `label_smoothing = ε` with ε in [0, 1], e.g. `label_smoothing = 0.1`",
        );
        return None;
    };
    let v = parse_float(value, &RULE, "`label_smoothing`", errors)?;
    if v > 1.0 {
        errors.push_tokens(
            value,
            format!("`label_smoothing` must be in [0, 1] (PyTorch's rule), found {v}"),
        );
        return None;
    }
    Some(Spanned::at(v, value.span()))
}

/// `input = [C, H, W]`.
fn parse_input(arg: &AttrArg, errors: &mut Errors) -> Option<[Spanned<usize>; 3]> {
    const EXAMPLE: &str = "e.g. `input = [1, 28, 28]` for 28 x 28 grayscale images";
    let Some(value) = &arg.value else {
        errors.push(
            arg.key.span(),
            format!("expected `input = [C, H, W]`, {EXAMPLE}"),
        );
        return None;
    };
    let Expr::Array(arr) = value else {
        errors.push_tokens(
            value,
            format!("expected the input shape as an array `[C, H, W]`, {EXAMPLE}"),
        );
        return None;
    };
    if arr.elems.len() != 3 {
        errors.push(
            arr.bracket_token.span.join(),
            format!(
                "expected 3 dimensions [C, H, W] (channels, height, width), found {}; {EXAMPLE}",
                arr.elems.len()
            ),
        );
        return None;
    }
    let mut dims = Vec::new();
    for (e, what) in arr.elems.iter().zip(["channels", "height", "width"]) {
        let what = format!("the input {what}");
        if let Some(d) = usize_of(e, &what, errors) {
            if d.value == 0 {
                errors.push(d.span, format!("{what} must be at least 1, found 0"));
            } else {
                dims.push(d);
            }
        }
    }
    match dims[..] {
        [c, h, w] => Some([c, h, w]),
        _ => None,
    }
}

/// Parses the annotated item into its layers. Every field becomes a [`LayerDecl`], a field
/// with errors a [`LayerKind::Invalid`], so that the checks after it still run. `None` when
/// the item is not a struct with named fields (an error was pushed).
pub fn parse_item(item: &Item, errors: &mut Errors) -> Option<Vec<LayerDecl>> {
    const WHAT: &str = "#[network] applies to a struct with named fields, one per layer, e.g. `struct Net { conv1: Conv2d<1, 6, 5>, relu1: Relu, .. }`";
    let s = match item {
        Item::Struct(s) => s,
        Item::Enum(e) => {
            errors.push(e.enum_token.span, format!("{WHAT}; found an enum"));
            return None;
        }
        Item::Union(u) => {
            errors.push(u.union_token.span, format!("{WHAT}; found a union"));
            return None;
        }
        other => {
            errors.push(other.span(), format!("{WHAT}; found another kind of item"));
            return None;
        }
    };
    if let Some(param) = s.generics.params.first() {
        errors.push_tokens(param, format!("{WHAT}; generic parameters are not supported: every shape must be known when the macro runs"));
        return None;
    }
    let fields = match &s.fields {
        Fields::Named(f) => f,
        Fields::Unnamed(f) => {
            errors.push(f.paren_token.span.join(), format!("{WHAT}; found a tuple struct: give every layer a name, it is the layer's `state_dict` prefix"));
            return None;
        }
        Fields::Unit => {
            errors.push(s.ident.span(), format!("{WHAT}; found a unit struct"));
            return None;
        }
    };
    let mut layers: Vec<LayerDecl> = Vec::new();
    for field in &fields.named {
        let Some(name) = field.ident.clone() else {
            continue;
        };
        if layers.iter().any(|l| l.name == name) {
            errors.push(name.span(), format!("a layer named `{name}` is already declared; field names are the layers' `state_dict` prefixes and must differ"));
        }
        layers.push(parse_layer(name, &field.ty, &field.attrs, errors));
    }
    Some(layers)
}

/// One field: its type (`Conv2d`) names the kind, whose options are parsed from the type's
/// generic arguments and the field's `#[layer(...)]` attributes. A field with errors becomes
/// a [`LayerKind::Invalid`] that keeps what parsed, so that the checks after it still run.
fn parse_layer(name: Ident, ty: &Type, attrs: &[syn::Attribute], errors: &mut Errors) -> LayerDecl {
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
                did_you_mean(&ty_name, LayerType::NAMES)
            ),
        );
        return LayerDecl {
            name,
            ty_span,
            kind: LayerKind::Invalid(Invalid::default()),
        };
    };
    let named = accept_inplace(&name, &ty_name, named, errors);
    let specs = lt.options();
    if specs.is_empty() {
        // A layer without options: one error on what was written, and the layer stays valid.
        if let Some(a) = named.first() {
            let key = a.key.to_string();
            let msg = match crate::options::unsupported(&ty_name, &key) {
                Some(why) => {
                    format!(
                        "`{key}` is not supported (yet) by {ty_name} `{name}`: {why}; remove it"
                    )
                }
                None => format!("{ty_name} `{name}` takes no options"),
            };
            errors.push(a.key.span(), msg);
        } else if !matches!(seg.arguments, PathArguments::None) {
            errors.push_tokens(
                &seg.arguments,
                format!("{ty_name} `{name}` takes no options"),
            );
        }
        let v = Options {
            slots: &[],
            defaults: true,
            ok: true,
            ty_span,
        };
        return LayerDecl {
            name,
            ty_span,
            kind: lt.build(&v),
        };
    }
    let (slots, ok, defaults) = parse_options(
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
        defaults,
        ok,
        ty_span,
    };
    LayerDecl {
        name,
        ty_span,
        kind: lt.build(&v),
    }
}

/// PyTorch's modules that take `inplace` (torch.nn.ReLU, ReLU6, LeakyReLU, SiLU, Hardswish,
/// Dropout), by cubenet's type name.
const TAKES_INPLACE: &[&str] = &["Relu", "Relu6", "LeakyRelu", "SiLU", "Hardswish", "Dropout"];

/// Takes `inplace = true | false` out of the options of a layer whose PyTorch module has it:
/// it changes nothing observable here (the layer is fused into the kernel before it, which
/// writes its output once either way), so it is accepted and ignored, as a PyTorch user
/// expects. A value other than a bool literal is reported.
fn accept_inplace(
    name: &Ident,
    ty: &str,
    named: Vec<AttrArg>,
    errors: &mut Errors,
) -> Vec<AttrArg> {
    if !TAKES_INPLACE.contains(&ty) {
        return named;
    }
    named
        .into_iter()
        .filter(|a| {
            if a.key != "inplace" {
                return true;
            }
            match &a.value {
                Some(Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Bool(_),
                    ..
                })) => {}
                Some(e) => errors.push_tokens(
                    e,
                    format!("`inplace` of {ty} `{name}` must be `true` or `false`"),
                ),
                None => errors.push(
                    a.key.span(),
                    format!("expected `inplace = true` or `inplace = false` for {ty} `{name}`"),
                ),
            }
            false
        })
        .collect()
}
