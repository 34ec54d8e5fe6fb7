//! The internal representation: the network's input shape and its layers, each keeping the
//! user's tokens (spans) so that every error has a place.
use proc_macro2::Span;
use syn::Ident;

/// A value written by the user, with where it was written.
#[derive(Clone, Copy, Debug)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// `#[network(...)]` arguments.
#[derive(Debug)]
pub struct NetAttr {
    /// `input = [C, H, W]`.
    pub input: [Spanned<usize>; 3],
    /// `print`: print the shapes and fusion plan at compile time.
    pub print: bool,
}

/// One field of the struct.
#[derive(Debug)]
pub struct LayerDecl {
    /// The field name: the layer's name and its parameters' `state_dict` prefix.
    pub name: Ident,
    /// The layer type's identifier (`Conv2d`), for errors on the type.
    pub ty_span: Span,
    pub kind: LayerKind,
}

/// A per-axis option value `(h, w)`; a single number `k` means `(k, k)`.
pub type Pair = Spanned<(usize, usize)>;

#[derive(Debug)]
pub enum LayerKind {
    Conv2d(Conv2d),
    MaxPool2d(MaxPool2d),
    Linear(Linear),
    Relu,
    Flatten,
}

impl LayerKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            LayerKind::Conv2d(_) => "Conv2d",
            LayerKind::MaxPool2d(_) => "MaxPool2d",
            LayerKind::Linear(_) => "Linear",
            LayerKind::Relu => "Relu",
            LayerKind::Flatten => "Flatten",
        }
    }
}

/// torch.nn.Conv2d options.
#[derive(Debug)]
pub struct Conv2d {
    pub in_channels: Spanned<usize>,
    pub out_channels: Spanned<usize>,
    pub kernel_size: Pair,
    pub stride: Pair,
    pub padding: Pair,
    pub dilation: Pair,
    pub bias: bool,
}

/// torch.nn.MaxPool2d options.
#[derive(Debug)]
pub struct MaxPool2d {
    pub kernel_size: Pair,
    pub stride: Pair,
    pub padding: Pair,
}

/// torch.nn.Linear options.
#[derive(Debug)]
pub struct Linear {
    pub in_features: Spanned<usize>,
    pub out_features: Spanned<usize>,
    pub bias: bool,
}

/// The parsed network.
#[derive(Debug)]
pub struct NetDecl {
    pub attr: NetAttr,
    pub layers: Vec<LayerDecl>,
}
