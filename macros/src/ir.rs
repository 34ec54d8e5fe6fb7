//! The values every phase shares: a user's value with its place (so every error has a
//! token), per-axis pairs, sliding windows and the `#[network(...)]` arguments. The layers
//! themselves are in [`crate::layers`].
use proc_macro2::Span;

/// A value written by the user, with where it was written.
#[derive(Clone, Copy, Debug)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    /// A value the user did not write (a default), placed at `span`.
    pub fn at(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// A per-axis option value `(height, width)`; a single number `k` means `(k, k)`.
pub type Pair = Spanned<(usize, usize)>;

/// `#[network(...)]` arguments.
#[derive(Debug)]
pub struct NetAttr {
    /// `input = [C, H, W]`.
    pub input: [Spanned<usize>; 3],
    /// `print`: print the shapes and fusion plan at compile time.
    pub print: bool,
    /// `loss = ...` and `label_smoothing = ...`.
    pub loss: LossDecl,
}

/// The training objective (`#[network(loss = cross_entropy | mse | bce_with_logits)]`,
/// PyTorch's `nn.CrossEntropyLoss`, `nn.MSELoss`, `nn.BCEWithLogitsLoss`, mean reduction).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LossDecl {
    /// With `label_smoothing` (0 when not given).
    CrossEntropy {
        label_smoothing: f32,
    },
    Mse,
    BceWithLogits,
}

impl LossDecl {
    /// Whether the targets are f32 values (one per output) rather than class indices.
    pub fn takes_values(&self) -> bool {
        !matches!(self, LossDecl::CrossEntropy { .. })
    }
}

/// The sliding window of a Conv2d or a pool (a pool's dilation is 1), PyTorch's option names.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub kernel_size: Pair,
    pub stride: Pair,
    pub padding: Pair,
    /// Zero rows and columns after the input beyond `padding` (a Conv2d's `padding = "same"`
    /// with an odd total `d (k - 1)`: 1; else 0).
    pub padding_extra: (usize, usize),
    pub dilation: Pair,
    /// MaxPool2d's `ceil_mode` (always `false` for a conv): the output size rounds up, a
    /// last window may run past the input's end.
    pub ceil_mode: bool,
}

impl Window {
    /// A pool's window: dilation 1 (placed on the kernel size, which it belongs to).
    pub fn pool(kernel_size: Pair, stride: Pair, padding: Pair, ceil_mode: bool) -> Self {
        Window {
            kernel_size,
            stride,
            padding,
            padding_extra: (0, 0),
            dilation: Spanned::at((1, 1), kernel_size.span),
            ceil_mode,
        }
    }
}

/// A max-pool fused into a conv or norm block: (kernel_size, stride, padding), each
/// (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolWindow {
    pub kernel_size: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
}

impl PoolWindow {
    /// The window of a block without a pool: 1 x 1, stride 1, no padding.
    pub const NONE: PoolWindow = PoolWindow {
        kernel_size: (1, 1),
        stride: (1, 1),
        padding: (0, 0),
    };
}
