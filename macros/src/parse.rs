//! Parsing: `#[network(input = [C, H, W])]` and the struct's fields into [`NetDecl`].
//!
//! The required options of a layer are the generic arguments of the field's type, in
//! PyTorch's order: `Conv2d<1, 6, 5>` (in_channels, out_channels, kernel_size),
//! `MaxPool2d<2>`, `Linear<400, 120>`. Other options go in a `#[layer(...)]` attribute on
//! the field, with PyTorch's keyword names: `#[layer(padding = 2)] conv1: Conv2d<1, 6, 5>`,
//! `#[layer(stride = (2, 1), bias = false)]`. Any option may be given by name there.
use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Expr, Fields, GenericArgument, Ident, Item, Lit, PathArguments, Token, Type};

use crate::ir::*;
use crate::suggest::did_you_mean;

/// Collects errors so that every mistake is reported in one build.
#[derive(Default)]
pub struct Errors(Vec<syn::Error>);

impl Errors {
    pub fn push(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.0.push(syn::Error::new(span, msg));
    }
    pub fn add(&mut self, e: syn::Error) {
        self.0.push(e);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn into_error(self) -> Option<syn::Error> {
        self.0.into_iter().reduce(|mut a, b| {
            a.combine(b);
            a
        })
    }
}

const ATTR_KEYS: &[&str] = &["input", "print"];
pub const LAYER_TYPES: &[&str] = &["Conv2d", "MaxPool2d", "Linear", "Relu", "Flatten"];

/// One `key = value` or `key` of the attribute.
struct AttrArg {
    key: Ident,
    value: Option<Expr>,
}

impl Parse for AttrArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(AttrArg { key, value })
    }
}

fn usize_of(expr: &Expr, what: &str, errors: &mut Errors) -> Option<Spanned<usize>> {
    if let Expr::Lit(l) = expr {
        if let Lit::Int(i) = &l.lit {
            return match i.base10_parse::<usize>() {
                Ok(v) => Some(Spanned { value: v, span: i.span() }),
                Err(_) => {
                    errors.push(i.span(), format!("{what} must be a non-negative integer that fits in usize"));
                    None
                }
            };
        }
    }
    errors.push(expr.span(), format!("{what} must be an integer literal, e.g. `5`"));
    None
}

/// Parses the attribute's arguments.
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
    let mut seen: Vec<String> = Vec::new();
    for arg in args {
        let key = arg.key.to_string();
        if seen.contains(&key) {
            errors.push(arg.key.span(), format!("`{key}` is given twice"));
            continue;
        }
        seen.push(key.clone());
        match key.as_str() {
            "input" => {
                let Some(value) = arg.value else {
                    errors.push(arg.key.span(), "expected `input = [C, H, W]`, e.g. `input = [1, 28, 28]`");
                    continue;
                };
                let Expr::Array(arr) = &value else {
                    errors.push(value.span(), "expected `[C, H, W]`, e.g. `input = [1, 28, 28]`");
                    continue;
                };
                if arr.elems.len() != 3 {
                    errors.push(
                        arr.span(),
                        format!(
                            "expected 3 dimensions [C, H, W] (channels, height, width), found {}",
                            arr.elems.len()
                        ),
                    );
                    continue;
                }
                let dims: Vec<_> = arr.elems.iter().zip(["C", "H", "W"]).filter_map(|(e, n)| usize_of(e, &format!("input dimension {n}"), errors)).collect();
                if dims.len() == 3 {
                    let mut ok = true;
                    for d in &dims {
                        if d.value == 0 {
                            errors.push(d.span, "an input dimension must be at least 1");
                            ok = false;
                        }
                    }
                    if ok {
                        input = Some([dims[0], dims[1], dims[2]]);
                    }
                }
            }
            "print" => {
                if let Some(v) = arg.value {
                    errors.push(v.span(), "`print` takes no value");
                }
                print = true;
            }
            other => errors.push(
                arg.key.span(),
                format!("unknown `#[network]` argument `{other}`{}; expected `input = [C, H, W]` or `print`", did_you_mean(other, ATTR_KEYS)),
            ),
        }
    }
    match input {
        Some(input) => Some(NetAttr { input, print }),
        None => {
            if !seen.iter().any(|k| k == "input") {
                errors.push(Span::call_site(), "missing the input shape: write `#[network(input = [C, H, W])]`, e.g. `#[network(input = [1, 28, 28])]` for MNIST");
            }
            None
        }
    }
}

/// Parses the annotated item into its layers.
pub fn parse_item(item: &Item, errors: &mut Errors) -> Vec<LayerDecl> {
    const WHAT: &str = "#[network] applies to a struct with named fields, one per layer, e.g. `struct Net { conv1: Conv2d<1, 6, 5>, relu1: Relu, ... }`";
    let s = match item {
        Item::Struct(s) => s,
        Item::Enum(e) => {
            errors.push(e.enum_token.span, format!("{WHAT}; found an enum"));
            return Vec::new();
        }
        other => {
            errors.push(other.span(), format!("{WHAT}; found another kind of item"));
            return Vec::new();
        }
    };
    if !s.generics.params.is_empty() {
        errors.push(s.generics.span(), format!("{WHAT}; generic parameters are not supported: every shape must be known when the macro runs"));
        return Vec::new();
    }
    let fields = match &s.fields {
        Fields::Named(f) => f,
        Fields::Unnamed(f) => {
            errors.push(f.span(), format!("{WHAT}; found a tuple struct"));
            return Vec::new();
        }
        Fields::Unit => {
            errors.push(s.ident.span(), format!("{WHAT}; found a unit struct"));
            return Vec::new();
        }
    };
    let mut layers = Vec::new();
    for field in &fields.named {
        let Some(name) = field.ident.clone() else { continue };
        if let Some(layer) = parse_layer(name, &field.ty, &field.attrs, errors) {
            layers.push(layer);
        }
    }
    layers
}

#[derive(Clone, Copy, PartialEq)]
enum OptKind {
    Int,
    Pair,
    Bool,
}

struct OptSpec {
    name: &'static str,
    kind: OptKind,
    /// Positional index, if the option may be given positionally.
    positional: Option<usize>,
    required: bool,
    /// Whether 0 is allowed.
    zero_ok: bool,
}

const fn opt(name: &'static str, kind: OptKind, positional: Option<usize>, required: bool, zero_ok: bool) -> OptSpec {
    OptSpec { name, kind, positional, required, zero_ok }
}

const CONV2D: &[OptSpec] = &[
    opt("in_channels", OptKind::Int, Some(0), true, false),
    opt("out_channels", OptKind::Int, Some(1), true, false),
    opt("kernel_size", OptKind::Pair, Some(2), true, false),
    opt("stride", OptKind::Pair, None, false, false),
    opt("padding", OptKind::Pair, None, false, true),
    opt("dilation", OptKind::Pair, None, false, false),
    opt("bias", OptKind::Bool, None, false, true),
];
const MAXPOOL2D: &[OptSpec] = &[
    opt("kernel_size", OptKind::Pair, Some(0), true, false),
    opt("stride", OptKind::Pair, None, false, false),
    opt("padding", OptKind::Pair, None, false, true),
];
const LINEAR: &[OptSpec] = &[
    opt("in_features", OptKind::Int, Some(0), true, false),
    opt("out_features", OptKind::Int, Some(1), true, false),
    opt("bias", OptKind::Bool, None, false, true),
];

#[derive(Clone, Copy)]
enum Value {
    Int(Spanned<usize>),
    Pair(Pair),
    Bool(bool),
}

fn signature(ty: &str, specs: &[OptSpec]) -> String {
    let pos: Vec<_> = specs.iter().filter(|s| s.positional.is_some()).map(|s| s.name).collect();
    let named: Vec<_> = specs.iter().filter(|s| s.positional.is_none()).map(|s| format!("{} = ..", s.name)).collect();
    if named.is_empty() {
        format!("`{ty}<{}>`", pos.join(", "))
    } else {
        format!("`{ty}<{}>` with optional `#[layer({})]`", pos.join(", "), named.join(", "))
    }
}

fn parse_value(expr: &Expr, spec: &OptSpec, ty: &str, errors: &mut Errors) -> Option<Value> {
    let what = format!("`{}` of {ty}", spec.name);
    let check = |v: Spanned<usize>, errors: &mut Errors| -> Option<Spanned<usize>> {
        if v.value == 0 && !spec.zero_ok {
            errors.push(v.span, format!("{what} must be at least 1, found 0"));
            None
        } else {
            Some(v)
        }
    };
    match spec.kind {
        OptKind::Bool => {
            if let Expr::Lit(l) = expr {
                if let Lit::Bool(b) = &l.lit {
                    return Some(Value::Bool(b.value));
                }
            }
            errors.push(expr.span(), format!("{what} must be `true` or `false`"));
            None
        }
        OptKind::Int => {
            let v = usize_of(expr, &what, errors)?;
            check(v, errors).map(Value::Int)
        }
        OptKind::Pair => {
            if let Expr::Tuple(t) = expr {
                if t.elems.len() == 2 {
                    let h = usize_of(&t.elems[0], &what, errors).and_then(|v| check(v, errors));
                    let w = usize_of(&t.elems[1], &what, errors).and_then(|v| check(v, errors));
                    return match (h, w) {
                        (Some(h), Some(w)) => Some(Value::Pair(Spanned { value: (h.value, w.value), span: expr.span() })),
                        _ => None,
                    };
                }
                errors.push(expr.span(), format!("{what} must be a number or a pair `(h, w)`"));
                return None;
            }
            if let Expr::Block(b) = expr {
                if let [syn::Stmt::Expr(Expr::Tuple(t), None)] = b.block.stmts.as_slice() {
                    if t.elems.len() == 2 {
                        let h = usize_of(&t.elems[0], &what, errors).and_then(|v| check(v, errors));
                        let w = usize_of(&t.elems[1], &what, errors).and_then(|v| check(v, errors));
                        return match (h, w) {
                            (Some(h), Some(w)) => Some(Value::Pair(Spanned { value: (h.value, w.value), span: expr.span() })),
                            _ => None,
                        };
                    }
                }
                errors.push(expr.span(), format!("{what} must be a number or a braced pair `{{(h, w)}}`"));
                return None;
            }
            let v = usize_of(expr, &what, errors)?;
            check(v, errors).map(|v| Value::Pair(Spanned { value: (v.value, v.value), span: v.span }))
        }
    }
}

fn parse_options(
    name: &Ident,
    ty_ident: &Ident,
    args: &PathArguments,
    named: &[AttrArg],
    specs: &[OptSpec],
    errors: &mut Errors,
) -> Option<Vec<Option<Value>>> {
    let ty = ty_ident.to_string();
    let mut values: Vec<Option<Value>> = specs.iter().map(|_| None).collect();
    let mut ok = true;
    let generic_args = match args {
        PathArguments::None => Vec::new(),
        PathArguments::AngleBracketed(a) => a.args.iter().cloned().collect(),
        PathArguments::Parenthesized(p) => {
            errors.push(p.span(), format!("layer options go in angle brackets: {}", signature(&ty, specs)));
            return None;
        }
    };
    let mut positional = 0usize;
    let mut named_seen = false;
    let mut items: Vec<(Option<&Ident>, &Expr)> = Vec::new();
    for arg in &generic_args {
        match arg {
            GenericArgument::Const(e) => items.push((None, e)),
            GenericArgument::AssocType(a) => {
                errors.push(a.ident.span(), format!("named options go in a `#[layer({} = ...)]` attribute on the field", a.ident));
                ok = false;
            }
            other => {
                errors.push(other.span(), format!("expected a number, as in {}", signature(&ty, specs)));
                ok = false;
            }
        }
    }
    let missing_value = syn::parse_quote!(());
    for a in named {
        match &a.value {
            Some(v) => items.push((Some(&a.key), v)),
            None => {
                errors.push(a.key.span(), format!("expected `{} = value`", a.key));
                ok = false;
                items.push((Some(&a.key), &missing_value));
            }
        }
    }
    for (key, expr) in items {
        let index = match key {
            None => {
                if named_seen {
                    errors.push(expr.span(), "positional options must come before named ones");
                    ok = false;
                    continue;
                }
                let i = positional;
                positional += 1;
                match specs.iter().position(|s| s.positional == Some(i)) {
                    Some(idx) => idx,
                    None => {
                        errors.push(expr.span(), format!("too many positional options for {ty}; expected {}", signature(&ty, specs)));
                        ok = false;
                        continue;
                    }
                }
            }
            Some(k) => {
                named_seen = true;
                let ks = k.to_string();
                match specs.iter().position(|s| s.name == ks) {
                    Some(idx) => idx,
                    None => {
                        let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
                        errors.push(
                            k.span(),
                            format!("unknown option `{ks}` for {ty}{}; valid options: {}", did_you_mean(&ks, &names), names.join(", ")),
                        );
                        ok = false;
                        continue;
                    }
                }
            }
        };
        if values[index].is_some() {
            let span = key.map(|k| k.span()).unwrap_or_else(|| expr.span());
            errors.push(span, format!("`{}` of {ty} is given twice", specs[index].name));
            ok = false;
            continue;
        }
        match parse_value(expr, &specs[index], &ty, errors) {
            Some(v) => values[index] = Some(v),
            None => ok = false,
        }
    }
    for (spec, v) in specs.iter().zip(&values) {
        if spec.required && v.is_none() && ok {
            errors.push(name.span(), format!("{ty} `{name}` is missing `{}`; expected {}", spec.name, signature(&ty, specs)));
            ok = false;
        }
    }
    ok.then_some(values)
}

fn int(v: &Option<Value>) -> Spanned<usize> {
    match v {
        Some(Value::Int(i)) => *i,
        _ => Spanned { value: 0, span: Span::call_site() },
    }
}
fn pair(v: &Option<Value>, default: (usize, usize)) -> Pair {
    match v {
        Some(Value::Pair(p)) => *p,
        _ => Spanned { value: default, span: Span::call_site() },
    }
}
fn boolean(v: &Option<Value>, default: bool) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        _ => default,
    }
}

fn parse_layer(name: Ident, ty: &Type, attrs: &[syn::Attribute], errors: &mut Errors) -> Option<LayerDecl> {
    let mut named: Vec<AttrArg> = Vec::new();
    for attr in attrs {
        if attr.path().is_ident("layer") {
            match attr.parse_args_with(Punctuated::<AttrArg, Token![,]>::parse_terminated) {
                Ok(args) => named.extend(args),
                Err(e) => {
                    errors.add(e);
                    return None;
                }
            }
        } else if !attr.path().is_ident("doc") {
            errors.push(attr.path().span(), "unknown attribute on a layer; options go in `#[layer(name = value, ...)]`");
            return None;
        }
    }
    let Type::Path(tp) = ty else {
        errors.push(ty.span(), format!("expected a layer type ({})", LAYER_TYPES.join(", ")));
        return None;
    };
    let seg = tp.path.segments.last()?;
    let ident = &seg.ident;
    let ty_name = ident.to_string();
    let kind = match ty_name.as_str() {
        "Conv2d" => {
            let v = parse_options(&name, ident, &seg.arguments, &named, CONV2D, errors)?;
            LayerKind::Conv2d(Conv2d {
                in_channels: int(&v[0]),
                out_channels: int(&v[1]),
                kernel_size: pair(&v[2], (1, 1)),
                stride: pair(&v[3], (1, 1)),
                padding: pair(&v[4], (0, 0)),
                dilation: pair(&v[5], (1, 1)),
                bias: boolean(&v[6], true),
            })
        }
        "MaxPool2d" => {
            let v = parse_options(&name, ident, &seg.arguments, &named, MAXPOOL2D, errors)?;
            let kernel_size = pair(&v[0], (1, 1));
            LayerKind::MaxPool2d(MaxPool2d { kernel_size, stride: pair(&v[1], kernel_size.value), padding: pair(&v[2], (0, 0)) })
        }
        "Linear" => {
            let v = parse_options(&name, ident, &seg.arguments, &named, LINEAR, errors)?;
            LayerKind::Linear(Linear { in_features: int(&v[0]), out_features: int(&v[1]), bias: boolean(&v[2], true) })
        }
        "Relu" | "Flatten" => {
            if let Some(a) = named.first() {
                errors.push(a.key.span(), format!("{ty_name} takes no options"));
                return None;
            }
            if !matches!(seg.arguments, PathArguments::None) {
                errors.push(seg.arguments.span(), format!("{ty_name} takes no options"));
                return None;
            }
            if ty_name == "Relu" {
                LayerKind::Relu
            } else {
                LayerKind::Flatten
            }
        }
        other => {
            errors.push(
                ident.span(),
                format!("unknown layer `{other}`{}; supported layers: {}", did_you_mean(other, LAYER_TYPES), LAYER_TYPES.join(", ")),
            );
            return None;
        }
    };
    Some(LayerDecl { name, ty_span: ident.span(), kind })
}
