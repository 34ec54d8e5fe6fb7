//! Blocks: what the layers lower to. A block is one building block of the kernels (a conv
//! with its fused activation and max-pool, a linear layer, a BatchNorm, ...), with its place
//! in the arenas and its wiring to the other blocks. What is particular to a kind of block
//! (its parameters, its kernel configuration, the calls that run it) is behind
//! [`BlockOp`], implemented in the file of the layer kind that lowers to it.
use proc_macro2::{Ident, TokenStream};
use quote::format_ident;

use super::activation::Activation;
use crate::ir::PoolWindow;

/// One phase of a block's work in a training step or an evaluation. Each runs as a range
/// of units of some fused kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The forward pass.
    Forward,
    /// A split-K forward pass's second stage: the ranges' partial sums added in order, the
    /// bias and the activation (after `Forward`, in training and evaluation).
    ForwardSum,
    /// A BatchNorm's per-plane batch statistics (training only, before `Forward`).
    Stats,
    /// A BatchNorm's `dy` and backward partial sums (before `InputGrad`).
    NormGrad,
    /// A conv's d(loss)/d(conv output), routed through its pool and activation (before
    /// `InputGrad`).
    OutGrad,
    /// The gradient with respect to the block's input.
    InputGrad,
    /// The first stage of a split weight-gradient reduction: per-chunk partial sums.
    WeightPartial,
    /// The gradient of the block's parameters (the partial sums added in order, or the
    /// whole reduction for a block without `WeightPartial`), with the fused optimizer update.
    WeightGrad,
}

/// The device classes a network is compiled for: each block has a configuration (tile
/// sizes) per target, and the runtime picks the row from the device (see
/// `cubenet_runtime::device::Target`). Reductions never depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Few large units sized to the cores (cubecl's cpu runtime, Mesa's lavapipe).
    Cpu,
    /// Many small units, 128-256-thread cubes (CUDA, a wgpu GPU adapter).
    Gpu,
}

impl Target {
    /// Every target, in the order of the configuration arrays.
    pub const ALL: [Target; 2] = [Target::Cpu, Target::Gpu];
}

impl Phase {
    /// What the phase is, for the plan printout.
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Forward => "forward",
            Phase::ForwardSum => "split-K sums",
            Phase::Stats => "batch statistics",
            Phase::NormGrad => "dy + partial sums",
            Phase::OutGrad => "d(conv output)",
            Phase::InputGrad => "input grad",
            Phase::WeightPartial => "weight grad partial sums",
            Phase::WeightGrad => "weight grad + SGD",
        }
    }
    /// The name of the kernel that runs this phase of block `id` first.
    pub fn kernel_name(self, id: &str) -> String {
        match self {
            Phase::Forward => format!("forward_{id}"),
            Phase::ForwardSum => format!("forward_{id}_sum"),
            Phase::Stats => format!("stats_{id}"),
            Phase::NormGrad => format!("backward_{id}_stats"),
            Phase::OutGrad => format!("backward_{id}_out"),
            Phase::InputGrad => format!("backward_{id}"),
            Phase::WeightPartial => format!("weight_partial_{id}"),
            Phase::WeightGrad => format!("weight_grad_{id}"),
        }
    }
    /// What the phase computes, for loop-limit messages (`the forward pass of `conv1``).
    pub fn what(self) -> &'static str {
        match self {
            Phase::Forward => "the forward pass",
            Phase::ForwardSum => "the forward pass's split-K sums",
            Phase::Stats => "the batch statistics",
            Phase::NormGrad => "the backward pass",
            Phase::OutGrad => "the output gradient",
            Phase::InputGrad => "the input gradient",
            Phase::WeightPartial => "the weight gradient's partial sums",
            Phase::WeightGrad => "the weight gradient",
        }
    }
}

/// A block's trainable parameters.
#[derive(Clone, Debug)]
pub struct Params {
    /// The weight's shape, PyTorch's layout.
    pub weight: Vec<usize>,
    /// The bias length, if the block has one.
    pub bias: Option<usize>,
    /// The fan-in of the default initialisation.
    pub fan_in: usize,
    /// The initialisation of the weight and of the bias (`Init` variant names of the runtime).
    pub init: (&'static str, &'static str),
}

/// Extra per-sample regions of `acts` a block needs beyond its output and output gradient.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scratch {
    /// Floats of forward partial sums (BatchNorm: `2c`).
    pub stat: usize,
    /// Floats of backward partial sums (BatchNorm: `2c`).
    pub gstat: usize,
    /// Floats of `dy` (BatchNorm: its input length).
    pub dy: usize,
    /// Floats of a conv's dense d(conv output) (when it has an activation or a pool).
    pub dconv: usize,
}

/// What a kind of block is: its shapes, parameters, fusion and the code that runs it.
pub trait BlockOp: std::fmt::Debug {
    /// What the plan printout calls it (`conv`, `linear`, `batch norm`).
    fn label(&self) -> &'static str;
    /// Floats of its output per sample.
    fn out_len(&self) -> usize;
    /// The kernels module (`cubenet_kernels::<module>`) whose building blocks it calls.
    fn kernels_module(&self) -> &'static str;
    /// The fused activation.
    fn act(&self) -> Option<Activation> {
        None
    }
    /// Fuses an activation; `None` if the block takes none.
    fn set_act(&mut self, _act: Activation) -> Option<()> {
        None
    }
    /// Fuses a max-pool with output size `out_hw`; `None` if the block takes none.
    fn set_pool(&mut self, _window: PoolWindow, _out_hw: (usize, usize)) -> Option<()> {
        None
    }
    /// Whether a max-pool is fused (its argmax is stored in `idx`).
    fn pooled(&self) -> bool {
        false
    }
    /// Whether the backward pass needs the stored pre-activation (an activation whose
    /// derivative needs its input, in a block that does not recompute it).
    fn needs_pre(&self) -> bool {
        false
    }
    /// Its trainable parameters, if any.
    fn params(&self) -> Option<Params> {
        None
    }
    /// The channels of its running statistics (a BatchNorm's `running_mean` and
    /// `running_var`), if it has them.
    fn running_stats(&self) -> Option<usize> {
        None
    }
    /// Extra per-sample regions of `acts`.
    fn scratch(&self) -> Scratch {
        Scratch::default()
    }
    /// The smallest batch a training-mode forward pass accepts.
    fn min_train_batch(&self) -> usize {
        1
    }
    /// Whether its forward pass differs in eval mode (it then has an eval kernel of its own).
    fn mode_dependent(&self) -> bool {
        false
    }
    /// Its phases in a training forward pass, in order (an evaluation runs them all but
    /// `Stats`).
    fn forward_phases(&self) -> &'static [Phase] {
        &[Phase::Forward]
    }
    /// Its backward phases before the input gradient, in order.
    fn backward_phases(&self) -> Vec<Phase> {
        Vec::new()
    }
    /// Whether its weight gradient is reduced in two stages (`WeightPartial`, then
    /// `WeightGrad`) rather than in `WeightGrad` alone.
    fn split_weight_grad(&self) -> bool {
        false
    }
    /// Floats of its weight-gradient partial sums for a batch capacity `cap`, as
    /// `a * cap + b` (`(a, b)`).
    fn part_len(&self) -> (usize, usize) {
        (0, 0)
    }
    /// Multiply-adds of its forward pass per sample (saturating; only reported).
    fn forward_macs(&self) -> usize {
        0
    }
    /// Multiply-adds (or, for element-wise work, elements) of `phase` per sample
    /// (saturating; reported in the plan, `Network::kernel_plan`). A reduction's second stage
    /// counts 0: its additions are few.
    fn macs(&self, phase: Phase) -> usize {
        match phase {
            Phase::Forward => self.forward_macs(),
            Phase::ForwardSum
            | Phase::Stats
            | Phase::NormGrad
            | Phase::OutGrad
            | Phase::InputGrad
            | Phase::WeightPartial
            | Phase::WeightGrad => 0,
        }
    }
    /// The type of its comptime configuration (`ConvCfg`).
    fn cfg_type(&self) -> &'static str;
    /// Its comptime configuration for `target` (a struct literal).
    fn cfg(&self, b: &Block, i: usize, target: Target) -> TokenStream;
    /// The statement running unit `u` of `phase` (variables in scope: the kernel's
    /// arguments, `u`, `n`, `cap`), with configuration `cfg` (an expression).
    fn call(&self, phase: Phase, cfg: &TokenStream, train: bool) -> TokenStream;
    /// The number of units of `phase` for a batch of `n` (an expression).
    fn units(&self, phase: Phase, cfg: &TokenStream) -> TokenStream;
    /// An upper bound on the loop iterations of one unit of `phase` (`None`: no loops).
    fn loops(&self, phase: Phase, cfg: &TokenStream, train: bool) -> Option<TokenStream>;
}

/// Where a block's input (or residual input) comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    /// The block before it (the network input for the first block).
    Prev,
    /// The network input.
    Net,
    /// The output of block `i`.
    Block(usize),
}

impl Src {
    /// The block whose output it is (`None`: the network input), for block `i`.
    pub fn resolve(self, i: usize) -> Option<usize> {
        match self {
            Src::Prev => i.checked_sub(1),
            Src::Net => None,
            Src::Block(j) => Some(j),
        }
    }
}

/// One block of the plan.
#[derive(Debug)]
pub struct Block {
    /// Names of the layers fused into this block (for the printout).
    pub layers: Vec<String>,
    /// The parametric layer's name (`state_dict` prefix).
    pub name: String,
    pub op: Box<dyn BlockOp>,
    /// Parameter offsets (weight, bias) in the parameter arena.
    pub w_off: usize,
    pub b_off: usize,
    /// Per-sample offsets in `acts` / `idx`.
    pub in_act: usize,
    pub out_act: usize,
    pub in_grad: usize,
    pub out_grad: usize,
    /// The pre-activation (`out_len` floats), kept for the backward pass of an activation
    /// whose derivative needs it (0 when the block has none).
    pub pre_act: usize,
    pub argmax: usize,
    /// The [`Scratch`] regions' per-sample offsets in `acts`.
    pub stat: usize,
    pub gstat: usize,
    pub dy: usize,
    /// Per-sample offset of the conv's dense d(conv output) in `acts`.
    pub dconv: usize,
    /// The weight-gradient partial sums' offset in the `part` arena: `part_a * cap + part_b`.
    pub part_a: usize,
    pub part_b: usize,
    /// The running statistics' offsets in the buffer arena.
    pub rm_off: usize,
    pub rv_off: usize,
    /// Where the block's input comes from.
    pub input: Src,
    /// A norm block's residual input (added before its activation).
    pub skip: Option<Src>,
    /// The input gradient is added to what is there (a second consumer of the same input,
    /// such as a projection shortcut).
    pub accumulate: bool,
    /// A conv block whose input is a residual's identity shortcut: the norm block (index)
    /// whose `dy` (the gradient of the residual sum) is added to the input gradient.
    pub skip_grad: Option<usize>,
    /// The output gradient is the `dy` of this norm block (a projection shortcut's output is
    /// added into that block's residual sum) instead of a region of its own.
    pub grad_alias: Option<usize>,
    /// Position in PyTorch's `state_dict` order: (layer index, position inside the layer).
    pub rank: (usize, usize),
    /// Resolved offsets: the residual input (`skip`) and the added gradient (`skip_grad`).
    pub skip_act: usize,
    pub skip_grad_off: usize,
}

impl Block {
    /// A block of layer `name` (the `index`-th field), fed by the block before it.
    pub fn new(name: String, index: usize, op: Box<dyn BlockOp>) -> Self {
        Block {
            layers: vec![name.clone()],
            name,
            op,
            w_off: 0,
            b_off: 0,
            in_act: 0,
            out_act: 0,
            in_grad: 0,
            out_grad: 0,
            pre_act: 0,
            argmax: 0,
            stat: 0,
            gstat: 0,
            dy: 0,
            dconv: 0,
            part_a: 0,
            part_b: 0,
            rm_off: 0,
            rv_off: 0,
            input: Src::Prev,
            skip: None,
            accumulate: false,
            skip_grad: None,
            grad_alias: None,
            rank: (index, 0),
            skip_act: 0,
            skip_grad_off: 0,
        }
    }
    /// Whether the block computes the gradient with respect to its input (not for the
    /// network input); block `i`.
    pub fn needs_input_grad(&self, i: usize) -> bool {
        self.input.resolve(i).is_some()
    }
    /// The block's name as an identifier part (`layer1.conv1` -> `layer1_conv1`).
    pub fn ident(&self) -> String {
        self.name.replace('.', "_")
    }
}

/// The name of block `i`'s configuration constant (`B0`).
pub fn cfg_ident(i: usize) -> Ident {
    format_ident!("B{}", i)
}

/// The largest of `candidates` (in the order given) that divides `n`, else 1.
pub fn largest_divisor(n: usize, candidates: &[usize]) -> usize {
    candidates
        .iter()
        .copied()
        .find(|&c| n.is_multiple_of(c))
        .unwrap_or(1)
}
