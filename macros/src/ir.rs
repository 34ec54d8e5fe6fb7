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

/// The layer types `#[network]` knows, by the name a field's type uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerType {
    Conv2d,
    MaxPool2d,
    Linear,
    Relu,
    Tanh,
    Sigmoid,
    LeakyRelu,
    Gelu,
    Flatten,
    BatchNorm2d,
    BatchNorm1d,
    Dropout,
    AvgPool2d,
    AdaptiveAvgPool2d,
    BasicBlock,
}

impl LayerType {
    pub const ALL: [LayerType; 15] = [
        LayerType::Conv2d,
        LayerType::MaxPool2d,
        LayerType::Linear,
        LayerType::Relu,
        LayerType::Tanh,
        LayerType::Sigmoid,
        LayerType::LeakyRelu,
        LayerType::Gelu,
        LayerType::Flatten,
        LayerType::BatchNorm2d,
        LayerType::BatchNorm1d,
        LayerType::Dropout,
        LayerType::AvgPool2d,
        LayerType::AdaptiveAvgPool2d,
        LayerType::BasicBlock,
    ];
    pub const NAMES: [&'static str; 15] = [
        "Conv2d",
        "MaxPool2d",
        "Linear",
        "Relu",
        "Tanh",
        "Sigmoid",
        "LeakyRelu",
        "Gelu",
        "Flatten",
        "BatchNorm2d",
        "BatchNorm1d",
        "Dropout",
        "AvgPool2d",
        "AdaptiveAvgPool2d",
        "BasicBlock",
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
    /// Whether the layer is an activation (fused into the Conv2d or Linear before it).
    pub fn is_activation(self) -> bool {
        matches!(
            self,
            LayerType::Relu
                | LayerType::Tanh
                | LayerType::Sigmoid
                | LayerType::LeakyRelu
                | LayerType::Gelu
        )
    }
}

/// An activation layer with its options (torch.nn.ReLU, Tanh, Sigmoid, LeakyReLU, GELU).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Relu,
    Tanh,
    Sigmoid,
    /// `negative_slope` (>= 0).
    LeakyRelu(f32),
    /// `approximate = "tanh"` when true.
    Gelu {
        tanh: bool,
    },
}

impl Activation {
    pub fn ty(self) -> LayerType {
        match self {
            Activation::Relu => LayerType::Relu,
            Activation::Tanh => LayerType::Tanh,
            Activation::Sigmoid => LayerType::Sigmoid,
            Activation::LeakyRelu(_) => LayerType::LeakyRelu,
            Activation::Gelu { .. } => LayerType::Gelu,
        }
    }
}

#[derive(Debug)]
pub enum LayerKind {
    Conv2d(Conv2d),
    MaxPool2d(MaxPool2d),
    Linear(Linear),
    Activation(Activation),
    Flatten,
    BatchNorm(BatchNorm),
    Dropout(Dropout),
    AvgPool2d(AvgPool2d),
    BasicBlock(BasicBlock),
    /// A layer whose declaration has errors (already reported).
    Invalid(Invalid),
}

impl LayerKind {
    /// The layer's type; `None` for an unknown type.
    pub fn ty(&self) -> Option<LayerType> {
        match self {
            LayerKind::Conv2d(_) => Some(LayerType::Conv2d),
            LayerKind::MaxPool2d(_) => Some(LayerType::MaxPool2d),
            LayerKind::Linear(_) => Some(LayerType::Linear),
            LayerKind::Activation(a) => Some(a.ty()),
            LayerKind::Flatten => Some(LayerType::Flatten),
            LayerKind::BatchNorm(b) => Some(if b.two_d {
                LayerType::BatchNorm2d
            } else {
                LayerType::BatchNorm1d
            }),
            LayerKind::Dropout(_) => Some(LayerType::Dropout),
            LayerKind::AvgPool2d(a) => Some(if a.adaptive.is_some() {
                LayerType::AdaptiveAvgPool2d
            } else {
                LayerType::AvgPool2d
            }),
            LayerKind::BasicBlock(_) => Some(LayerType::BasicBlock),
            LayerKind::Invalid(i) => i.ty,
        }
    }
    pub fn type_name(&self) -> &'static str {
        self.ty().map_or("?", LayerType::name)
    }
}

/// What is still known of a layer whose declaration has errors, so that the checks after it
/// go on (and report independent mistakes) without repeating its error.
#[derive(Debug, Default)]
pub struct Invalid {
    /// The layer type, when the type name was valid.
    pub ty: Option<LayerType>,
    /// `in_channels` / `in_features`, when it was given correctly.
    pub input: Option<Spanned<usize>>,
    /// `out_channels` / `out_features`, when it was given correctly.
    pub output: Option<usize>,
    /// A Conv2d's or MaxPool2d's window, when all its options were given correctly.
    pub window: Option<Window>,
}

/// The sliding window of a Conv2d or MaxPool2d (a pool's dilation is 1).
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub kernel_size: Pair,
    pub stride: Pair,
    pub padding: Pair,
    pub dilation: Pair,
    /// MaxPool2d's `ceil_mode` (always `false` for a conv): the output size rounds up, a
    /// last window may run past the input's end.
    pub ceil_mode: bool,
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

impl Conv2d {
    pub fn window(&self) -> Window {
        Window {
            kernel_size: self.kernel_size,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            ceil_mode: false,
        }
    }
}

/// torch.nn.MaxPool2d options.
#[derive(Debug)]
pub struct MaxPool2d {
    pub kernel_size: Pair,
    pub stride: Pair,
    pub padding: Pair,
    /// `ceil_mode`: round the output size up (torch.nn.MaxPool2d).
    pub ceil_mode: bool,
}

impl MaxPool2d {
    pub fn window(&self) -> Window {
        let dilation = Spanned {
            value: (1, 1),
            span: self.kernel_size.span,
        };
        Window {
            kernel_size: self.kernel_size,
            stride: self.stride,
            padding: self.padding,
            dilation,
            ceil_mode: self.ceil_mode,
        }
    }
}

/// torch.nn.Linear options.
#[derive(Debug)]
pub struct Linear {
    pub in_features: Spanned<usize>,
    pub out_features: Spanned<usize>,
    pub bias: bool,
}

/// torch.nn.BatchNorm2d / BatchNorm1d options (always affine, tracking running statistics).
#[derive(Debug)]
pub struct BatchNorm {
    pub num_features: Spanned<usize>,
    /// BatchNorm2d (on `C x H x W`) rather than BatchNorm1d (on flat features).
    pub two_d: bool,
    pub eps: f32,
    pub momentum: f32,
}

/// torch.nn.Dropout options.
#[derive(Debug)]
pub struct Dropout {
    /// The probability of zeroing an element, `0 <= p < 1`.
    pub p: f32,
}

/// torch.nn.AvgPool2d or, when `adaptive` is set, torch.nn.AdaptiveAvgPool2d options.
#[derive(Debug)]
pub struct AvgPool2d {
    pub kernel_size: Pair,
    pub stride: Pair,
    pub padding: Pair,
    pub count_include_pad: bool,
    /// AdaptiveAvgPool2d's `output_size`.
    pub adaptive: Option<Pair>,
}

impl AvgPool2d {
    pub fn window(&self) -> Window {
        Window {
            kernel_size: self.kernel_size,
            stride: self.stride,
            padding: self.padding,
            dilation: Spanned {
                value: (1, 1),
                span: self.kernel_size.span,
            },
            ceil_mode: false,
        }
    }
}

/// torchvision's ResNet `BasicBlock(inplanes, planes, stride, downsample)`: conv1 (3x3,
/// `stride`, padding 1, no bias) -> bn1 -> relu -> conv2 (3x3, padding 1, no bias) -> bn2,
/// plus the shortcut (the input, or `downsample`: a 1x1 conv with `stride`, no bias, and a
/// BatchNorm2d), then relu.
#[derive(Debug)]
pub struct BasicBlock {
    pub inplanes: Spanned<usize>,
    pub planes: Spanned<usize>,
    pub stride: Spanned<usize>,
    pub downsample: bool,
}

/// The parsed network.
#[derive(Debug)]
pub struct NetDecl {
    pub attr: NetAttr,
    pub layers: Vec<LayerDecl>,
}
