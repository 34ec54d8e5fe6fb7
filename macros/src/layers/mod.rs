//! The layer kinds `#[network]` knows: one list ([`layer_kinds!`]) from which the type
//! names, parsing, shape rules, fusion roles and lowering dispatch, and one file per kind
//! holding its options, its shape rule and its lowering to blocks (the blocks it lowers to,
//! with their emitted kernel calls, are in the same file: [`block`]).
//!
//! Adding a kind: write a file with a type implementing [`Layer`] (and, if it brings a new
//! kind of kernel block, a type implementing [`block::BlockOp`]), add one line to the list
//! below. The compiler then points at whatever is missing; no `match` anywhere else names
//! the kinds.
use proc_macro2::Span;
use syn::Ident;

use crate::errors::Errors;
use crate::ir::{PoolWindow, Spanned, Window};
use crate::options::{OptSpec, Options};
use crate::shape::{Known, Shaped, Site, Source};

pub mod activation;
pub mod adaptive_avg_pool2d;
pub mod avg_pool2d;
pub mod basic_block;
pub mod batch_norm;
pub mod block;
pub mod conv2d;
pub mod dropout;
pub mod flatten;
pub mod linear;
pub mod max_pool2d;

use activation::Activation;
use block::{Block, BlockOp, Src};

/// Generates [`LayerType`] (every name with `ALL` and `NAMES`), [`LayerKind`] and their
/// dispatch from one list of `TypeName => implementing type`. The order is the order in which
/// messages list the layers.
macro_rules! layer_kinds {
    ($($ty:ident => $kind:ty),* $(,)?) => {
        /// A layer type, by the name a field's type uses (`Conv2d`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum LayerType { $($ty),* }

        impl LayerType {
            /// Every layer type.
            pub const ALL: &'static [LayerType] = &[$(LayerType::$ty),*];
            /// Every layer type's name, in the order of [`LayerType::ALL`].
            pub const NAMES: &'static [&'static str] = &[$(stringify!($ty)),*];

            /// The options the type takes.
            pub fn options(self) -> &'static [OptSpec] {
                match self { $(LayerType::$ty => <$kind as Layer>::OPTIONS),* }
            }
            /// How a layer of this type fuses with its neighbours.
            pub fn role(self) -> Role {
                match self { $(LayerType::$ty => <$kind as Layer>::ROLE),* }
            }
            /// The layer from its parsed options (an [`Invalid`] one when they have errors).
            pub fn build(self, v: &Options) -> LayerKind {
                match self {
                    $(LayerType::$ty => match <$kind as Layer>::build(v) {
                        Ok(layer) => LayerKind::$ty(layer),
                        Err(partial) => LayerKind::Invalid(Invalid { ty: Some(self), ..partial }),
                    }),*
                }
            }
            /// What a layer of this type whose declaration has errors still tells the layers
            /// after it.
            pub fn infer_invalid(
                self,
                inv: &Invalid,
                site: Site,
                cur: Known,
                src: &Source,
                errors: &mut Errors,
            ) -> Known {
                match self {
                    $(LayerType::$ty => <$kind as Layer>::infer_invalid(inv, site, cur, src, errors)),*
                }
            }
        }

        /// A parsed layer.
        #[derive(Debug)]
        pub enum LayerKind {
            $($ty($kind),)*
            /// A layer whose declaration has errors (already reported).
            Invalid(Invalid),
        }

        impl LayerKind {
            /// The layer's type; `None` for an unknown type.
            pub fn ty(&self) -> Option<LayerType> {
                match self {
                    $(LayerKind::$ty(_) => Some(LayerType::$ty),)*
                    LayerKind::Invalid(i) => i.ty,
                }
            }
            /// The valid layer, or what is known of it when its declaration has errors.
            pub fn layer(&self) -> Result<&dyn DynLayer, &Invalid> {
                match self {
                    $(LayerKind::$ty(l) => Ok(l),)*
                    LayerKind::Invalid(i) => Err(i),
                }
            }
        }
    };
}

layer_kinds! {
    Conv2d => conv2d::Conv2d,
    MaxPool2d => max_pool2d::MaxPool2d,
    Linear => linear::Linear,
    Relu => activation::Relu,
    Tanh => activation::Tanh,
    Sigmoid => activation::Sigmoid,
    LeakyRelu => activation::LeakyRelu,
    Gelu => activation::Gelu,
    SiLU => activation::SiLU,
    Relu6 => activation::Relu6,
    Hardswish => activation::Hardswish,
    Flatten => flatten::Flatten,
    BatchNorm2d => batch_norm::BatchNorm2d,
    BatchNorm1d => batch_norm::BatchNorm1d,
    Dropout => dropout::Dropout,
    AvgPool2d => avg_pool2d::AvgPool2d,
    AdaptiveAvgPool2d => adaptive_avg_pool2d::AdaptiveAvgPool2d,
    BasicBlock => basic_block::BasicBlock,
}

impl LayerType {
    /// The type's name (`Conv2d`).
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
    /// The type with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.name() == name)
    }
}

/// How a layer fuses with its neighbours (see [`crate::order`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Starts a block: an activation fuses into it, and a MaxPool2d too when `spatial`.
    /// `matmul`: a Conv2d or Linear (a network needs at least one).
    Opens { spatial: bool, matmul: bool },
    /// An activation, fused into the block before it. `monotonic`: it commutes with
    /// max-pooling, so it may follow the pool; `idempotent`: `f(f(x)) = f(x)`; `pytorch`:
    /// the name of PyTorch's module (`GELU`), for messages.
    Activation {
        monotonic: bool,
        idempotent: bool,
        pytorch: &'static str,
    },
    /// A max-pool, fused into the conv or norm block before it.
    MaxPool,
    /// A block of its own, into which nothing fuses.
    Standalone,
    /// Turns `C x H x W` into features; closes the block before it.
    Flatten,
}

/// One layer kind: its options, how it is built from them, its shape rule and its lowering.
pub trait Layer: Sized + std::fmt::Debug {
    /// Its options, PyTorch's names; positional ones are the type's generic arguments.
    const OPTIONS: &'static [OptSpec];
    /// How it fuses with its neighbours.
    const ROLE: Role;
    /// The layer from its options, or what is known of it when they have errors (`ty` is
    /// filled in by the caller).
    fn build(v: &Options) -> Result<Self, Invalid>;
    /// Its output shape from the input's, reporting every mismatch on its token.
    fn infer(&self, site: Site, cur: Known, src: &Source, errors: &mut Errors) -> Known;
    /// What the layers after a declaration with errors see: nothing, unless the kind knows
    /// better from what parsed.
    fn infer_invalid(
        _inv: &Invalid,
        _site: Site,
        _cur: Known,
        _src: &Source,
        _errors: &mut Errors,
    ) -> Known {
        Known::Unknown
    }
    /// Adds its blocks to the plan, or fuses itself into the open block.
    fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()>;
}

/// The object-safe part of [`Layer`], for code that holds any layer.
pub trait DynLayer {
    fn infer(&self, site: Site, cur: Known, src: &Source, errors: &mut Errors) -> Known;
    fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()>;
    fn role(&self) -> Role;
}

impl<T: Layer> DynLayer for T {
    fn infer(&self, site: Site, cur: Known, src: &Source, errors: &mut Errors) -> Known {
        Layer::infer(self, site, cur, src, errors)
    }
    fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()> {
        Layer::lower(self, at, lw)
    }
    fn role(&self) -> Role {
        T::ROLE
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
    /// A Conv2d's or pool's window, when all its options were given correctly.
    pub window: Option<Window>,
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

impl LayerDecl {
    /// The layer as shape rules name it in messages.
    pub fn site(&self) -> Site<'_> {
        Site {
            name: &self.name,
            ty_span: self.ty_span,
            ty: self.kind.ty().map_or("?", LayerType::name),
        }
    }
    /// The role of the layer's type (`None` for an unknown type).
    pub fn role(&self) -> Option<Role> {
        self.kind.ty().map(LayerType::role)
    }
}

/// The parsed network.
#[derive(Debug)]
pub struct NetDecl {
    pub attr: crate::ir::NetAttr,
    pub layers: Vec<LayerDecl>,
}

/// Where a layer is lowered: its name, its position and its shapes.
pub struct At<'a> {
    pub name: String,
    /// Index of the layer in the struct (its parameters' place in `state_dict` order).
    pub index: usize,
    pub shaped: &'a Shaped,
}

/// The blocks made so far, and whether the last one can still take an activation or a pool.
#[derive(Default)]
pub struct Lowering {
    pub blocks: Vec<Block>,
    open_act: bool,
    open_pool: bool,
    /// Dropout layers lowered so far (each salts its mask with its ordinal).
    pub dropouts: u32,
}

impl Lowering {
    /// Adds a block for layer `at`; an activation may fuse into it when `act`, a max-pool
    /// when `pool`. Returns its index.
    pub fn push(&mut self, at: &At, op: Box<dyn BlockOp>, act: bool, pool: bool) -> usize {
        self.blocks.push(Block::new(at.name.clone(), at.index, op));
        self.open_act = act;
        self.open_pool = pool;
        self.blocks.len() - 1
    }
    /// Adds a part of a composite layer (`<name>.<suffix>`, at `rank` inside it) fed by
    /// `input`; nothing fuses into it.
    pub fn push_part(
        &mut self,
        at: &At,
        suffix: &str,
        rank: usize,
        input: Src,
        op: Box<dyn BlockOp>,
    ) -> usize {
        let mut b = Block::new(format!("{}.{suffix}", at.name), at.index, op);
        b.rank = (at.index, rank);
        b.input = input;
        self.blocks.push(b);
        self.close();
        self.blocks.len() - 1
    }
    /// Where the next block's input comes from when it is not the block before (a
    /// composite layer's parts): the last block's output, or the network input.
    pub fn entry(&self) -> Src {
        match self.blocks.len() {
            0 => Src::Net,
            e => Src::Block(e - 1),
        }
    }
    /// Nothing fuses into the last block any more.
    pub fn close(&mut self) {
        self.open_act = false;
        self.open_pool = false;
    }
    /// Fuses activation layer `at` into the open block.
    pub fn fuse_act(&mut self, at: &At, act: Activation) -> Option<()> {
        let b = self.blocks.last_mut().filter(|_| self.open_act)?;
        b.op.set_act(act)?;
        b.layers.push(at.name.clone());
        self.open_act = false;
        Some(())
    }
    /// Fuses max-pool layer `at` into the open block.
    pub fn fuse_pool(&mut self, at: &At, window: PoolWindow, out_hw: (usize, usize)) -> Option<()> {
        let b = self.blocks.last_mut().filter(|_| self.open_pool)?;
        b.op.set_pool(window, out_hw)?;
        b.layers.push(at.name.clone());
        self.open_pool = false;
        Some(())
    }
}
