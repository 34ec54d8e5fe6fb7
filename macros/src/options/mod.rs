//! A layer's options: the required ones are the generic arguments of the field's type, in
//! PyTorch's order (`Conv2d<1, 6, 5>`), and any option may be given by PyTorch's keyword name
//! in a `#[layer(name = value, ..)]` attribute. Each layer kind declares its options as a
//! list of [`OptSpec`]; this module parses them against that list, reports every mistake on
//! its token and keeps what parsed ([`Options`]), so the checks after a bad option still run.
use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Expr, GenericArgument, Ident, PathArguments, Token};

use crate::errors::Errors;
use crate::ir::{Pair, Spanned};
use crate::suggest::did_you_mean;

mod values;

use values::parse_value;
pub use values::{parse_float, usize_of};

/// What kind of value an option takes.
#[derive(Clone, Copy)]
pub enum OptKind {
    Int,
    /// A number, or a pair `(height, width)`.
    Pair,
    /// A conv's padding: a number, a pair, `"valid"` (no padding) or `"same"` (the output as
    /// large as the input; torch.nn.Conv2d's string paddings).
    Padding,
    Bool,
    /// A finite number >= 0 (integer or float literal), with the option's own range rule.
    Float(&'static FloatRule),
    /// One of these string literals.
    Choice(&'static [&'static str]),
}

/// The range of a float option beyond `>= 0`, and why.
pub struct FloatRule {
    /// The values outside the range, and why.
    pub bad: Option<OutOfRange>,
    /// Appended to "cannot be negative" (starts with ": "), or empty.
    pub negative: &'static str,
}

/// Values a float option refuses, reported as "`x` of L `l` {rule}, found {v}: {why}".
pub struct OutOfRange {
    pub is_bad: fn(f32) -> bool,
    pub rule: &'static str,
    pub why: &'static str,
}

/// One option of a layer kind.
pub struct OptSpec {
    /// PyTorch's keyword name.
    pub name: &'static str,
    pub kind: OptKind,
    /// Position among the type's generic arguments, if it may be given there.
    pub positional: Option<usize>,
    pub required: bool,
    /// Why 0 is not allowed; `None` when it is.
    pub nonzero: Option<&'static str>,
    /// Other frameworks' names for it (Keras, TensorFlow, papers), suggested when no option
    /// is spelled close to what was written.
    pub aliases: &'static [&'static str],
}

impl OptSpec {
    /// A required option that may be given as generic argument `index`.
    pub const fn positional(name: &'static str, index: usize, kind: OptKind) -> Self {
        OptSpec {
            name,
            kind,
            positional: Some(index),
            required: true,
            nonzero: None,
            aliases: &[],
        }
    }
    /// An optional option, given by name only.
    pub const fn named(name: &'static str, kind: OptKind) -> Self {
        OptSpec {
            name,
            kind,
            positional: None,
            required: false,
            nonzero: None,
            aliases: &[],
        }
    }
    /// 0 is not allowed, because of `why`.
    pub const fn nonzero(mut self, why: &'static str) -> Self {
        self.nonzero = Some(why);
        self
    }
    /// Other names for the option, suggested when written.
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }
}

/// Why a channel count cannot be 0.
pub const CHANNELS: &str = "a layer needs at least one channel";
/// Why a feature count cannot be 0.
pub const FEATURES: &str = "a layer needs at least one feature";
/// Why a kernel size cannot be 0.
pub const KERNEL: &str = "a kernel covers at least one pixel";
/// Why a stride cannot be 0.
pub const STRIDE: &str = "the window moves by at least one pixel";
/// Why a dilation cannot be 0.
pub const DILATION: &str = "1 means adjacent kernel elements";

/// A parsed option value.
#[derive(Clone, Copy)]
pub enum Value {
    Int(Spanned<usize>),
    Pair(Pair),
    Bool(bool),
    Float(f32),
    /// Index into the option's choices.
    Choice(usize),
    /// `padding = "same"`, where it is written.
    Same(Span),
}

/// What became of one option.
#[derive(Clone, Copy)]
pub enum Slot {
    /// Not written.
    Absent,
    /// Written, with an error.
    Bad,
    Given(Value),
}

/// One `key = value` or `key` of an attribute's argument list.
pub struct AttrArg {
    pub key: Ident,
    pub value: Option<Expr>,
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

/// Why PyTorch's option `key` of layer type `ty` is not supported (yet), when it is one of
/// PyTorch's options of that module (torch.nn.Conv2d, MaxPool2d, AvgPool2d, BatchNorm, any
/// module's `device` and `dtype`) that cubenet does not take (`inplace` is accepted and
/// ignored, see `parse::accept_inplace`); `None` for any other name (a
/// misspelling: "unknown option").
pub fn unsupported(ty: &str, key: &str) -> Option<&'static str> {
    Some(match (ty, key) {
        (_, "device") | (_, "dtype") => {
            "parameters are f32 and live on the device the network is made on"
        }
        ("Conv2d", "padding_mode") => {
            "cubenet pads with zeros (PyTorch's `padding_mode = \"zeros\"`)"
        }
        ("MaxPool2d", "return_indices") => {
            "the indices of the maxima stay inside the fused kernels"
        }
        ("MaxPool2d", "dilation") => "a max-pool's window is dense (dilation 1)",
        ("AvgPool2d", "divisor_override") => {
            "the divisor is the window size (see `count_include_pad`)"
        }
        ("BatchNorm2d" | "BatchNorm1d", "affine") => {
            "a BatchNorm always has its weight and bias (PyTorch's `affine = True`)"
        }
        ("BatchNorm2d" | "BatchNorm1d", "track_running_stats") => {
            "a BatchNorm always tracks running statistics for eval mode (PyTorch's default)"
        }
        _ => return None,
    })
}

/// `Conv2d<in_channels, ..>` with optional `#[layer(stride = .., ..)]`: how a layer is
/// written, for messages.
pub fn signature(ty: &str, specs: &[OptSpec]) -> String {
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

/// The `#[layer(...)]` options of a field; `false` when one of them could not be parsed or
/// another attribute is there.
pub fn layer_attrs(attrs: &[syn::Attribute], errors: &mut Errors) -> (Vec<AttrArg>, bool) {
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

/// The options of layer `name` of type `ty`, from its type's generic arguments (positional)
/// and its `#[layer(...)]` attributes (named). Returns what became of every option, whether
/// all parsed, and whether the options not written have their defaults: not when something
/// written may have been meant as one of them (a misspelled option such as `paddng = 1`, a
/// malformed argument), so that the shapes after the layer are not computed from a default
/// the user did not mean, which would report a second, wrong error.
pub fn parse_options(
    name: &Ident,
    ty: &str,
    args: &PathArguments,
    named: &[AttrArg],
    specs: &[OptSpec],
    attrs_ok: bool,
    errors: &mut Errors,
) -> (Vec<Slot>, bool, bool) {
    let mut values: Vec<Option<Value>> = specs.iter().map(|_| None).collect();
    // Whether (and whether positionally) the user wrote the option, even with a wrong value.
    let mut given: Vec<Option<bool>> = specs.iter().map(|_| None).collect();
    let mut ok = attrs_ok;
    // An unknown or malformed option may be the missing one: then "missing" is not reported.
    let mut excuse_missing = !attrs_ok;
    let mut items: Vec<(Option<&Ident>, Option<&Expr>)> = Vec::new();
    let named_here = |ident: &Ident, errors: &mut Errors| {
        errors.push(
            ident.span(),
            format!("named options go in a `#[layer({ident} = ..)]` attribute on the field"),
        );
    };
    match args {
        PathArguments::None => {}
        PathArguments::AngleBracketed(a) => {
            for arg in &a.args {
                match arg {
                    GenericArgument::Const(e) => items.push((None, Some(e))),
                    GenericArgument::AssocConst(a) => {
                        named_here(&a.ident, errors);
                        (ok, excuse_missing) = (false, true);
                    }
                    GenericArgument::AssocType(a) => {
                        named_here(&a.ident, errors);
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
                    None if unsupported(ty, &ks).is_some() => {
                        let why = unsupported(ty, &ks).unwrap_or_default();
                        errors.push(
                            k.span(),
                            format!(
                                "`{ks}` is not supported (yet) by {ty} `{name}`: {why}; remove it"
                            ),
                        );
                        // It names a PyTorch option, so it was not meant as another one: the
                        // options not written keep their defaults.
                        ok = false;
                        continue;
                    }
                    None => {
                        let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
                        let mut hint = did_you_mean(&ks, &names);
                        if let Some(to) = specs.iter().find(|s| s.aliases.contains(&ks.as_str())) {
                            hint = format!(
                                "; did you mean `{}`? (cubenet uses PyTorch's option names)",
                                to.name
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
    (slots, ok, !excuse_missing)
}

/// The parsed options of one layer: each option's value, its default when it was not
/// written, `None` when it is unknown (written with an error, or possibly meant by a
/// misspelled attribute).
pub struct Options<'a> {
    pub slots: &'a [Slot],
    /// Whether an option that was not written has its default. Not after a `#[layer(...)]`
    /// that did not parse or a misspelled attribute: it may have been meant to set it.
    pub defaults: bool,
    /// Whether every option parsed and every required one was given.
    pub ok: bool,
    /// Where the layer's type is written, the place of defaults that need one.
    pub ty_span: Span,
}

impl Options<'_> {
    pub fn int(&self, i: usize) -> Option<Spanned<usize>> {
        match self.slots.get(i)? {
            Slot::Given(Value::Int(v)) => Some(*v),
            _ => None,
        }
    }
    /// An integer option with a default, placed on the layer's type when not written.
    pub fn int_or(&self, i: usize, default: usize) -> Option<Spanned<usize>> {
        match self.slots.get(i)? {
            Slot::Given(Value::Int(v)) => Some(*v),
            Slot::Absent if self.defaults => Some(Spanned::at(default, self.ty_span)),
            _ => None,
        }
    }
    pub fn pair(&self, i: usize, default: Option<(usize, usize)>) -> Option<Pair> {
        match self.slots.get(i)? {
            Slot::Given(Value::Pair(p)) => Some(*p),
            Slot::Absent if self.defaults => {
                default.map(|value| Spanned::at(value, Span::call_site()))
            }
            _ => None,
        }
    }
    /// Where `padding = "same"` is written, when it is.
    pub fn same(&self, i: usize) -> Option<Span> {
        match self.slots.get(i)? {
            Slot::Given(Value::Same(span)) => Some(*span),
            _ => None,
        }
    }
    pub fn float(&self, i: usize, default: f32) -> Option<f32> {
        match self.slots.get(i)? {
            Slot::Given(Value::Float(v)) => Some(*v),
            Slot::Absent if self.defaults => Some(default),
            _ => None,
        }
    }
    pub fn choice(&self, i: usize, default: usize) -> Option<usize> {
        match self.slots.get(i)? {
            Slot::Given(Value::Choice(v)) => Some(*v),
            Slot::Absent if self.defaults => Some(default),
            _ => None,
        }
    }
    pub fn boolean(&self, i: usize, default: bool) -> Option<bool> {
        match self.slots.get(i)? {
            Slot::Given(Value::Bool(b)) => Some(*b),
            Slot::Absent if self.defaults => Some(default),
            _ => None,
        }
    }
}
