//! The interface types `#[network]` fills in: where every parameter, buffer and block output
//! lives in a network's arenas ([`Layout`]), and how each parameter is initialised ([`Init`]).
//! Pure data: nothing here touches a device.

/// One parameter tensor of a network, named as its PyTorch `state_dict` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// `state_dict` key, e.g. `conv1.weight` (OIHW) or `fc1.weight` (out x in).
    pub name: &'static str,
    /// Shape, PyTorch order.
    pub shape: &'static [usize],
    /// Offset (in floats) in the parameter arena.
    pub offset: usize,
    /// Fan-in of the layer (`in_channels * kh * kw` or `in_features`), for the default init.
    pub fan_in: usize,
    /// How the parameter is initialised.
    pub init: Init,
}

/// The initial value of a parameter, as PyTorch's `reset_parameters`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (Conv2d and Linear weights and biases).
    Uniform,
    /// 1 (a BatchNorm's weight).
    Ones,
    /// 0 (a BatchNorm's bias).
    Zeros,
}

/// A buffer of a network: state that is not trained by gradients but saved in the
/// `state_dict` (a BatchNorm's `running_mean` and `running_var`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BufferInfo {
    /// `state_dict` key, e.g. `bn1.running_mean`.
    pub name: &'static str,
    /// Shape (`[num_features]`).
    pub shape: &'static [usize],
    /// Offset (in floats) in the buffer arena.
    pub offset: usize,
    /// Initial value of every element (0 for a running mean, 1 for a running variance).
    pub init: f32,
}

impl BufferInfo {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

impl ParamInfo {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Where one block's output lives (a block is a conv or linear layer together with the relu
/// and max-pool fused after it; see the network's `SUMMARY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// The block's parametric layer, e.g. `conv1` (its `state_dict` prefix).
    pub name: &'static str,
    /// Per-sample offset of the block's output (after its activation / pool) in `acts`.
    pub out_act: usize,
    /// Per-sample offset of d(mean loss)/d(output) in `acts` (written by training steps only).
    pub out_grad: usize,
    /// Floats of the output per sample.
    pub out_len: usize,
    /// Per-sample offset of the max-pool argmax (one u32 per output) in `idx`, if the block
    /// ends with a max-pool.
    pub argmax_idx: Option<usize>,
}

/// Where a network's tensors live in its arenas (see `cubenet_kernels` crate docs), as
/// inferred by `#[network]`. Per-sample offsets are multiplied by the batch capacity.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Input shape of one sample, `[C, H, W]`.
    pub input_shape: [usize; 3],
    /// Number of classes (features of the last linear layer).
    pub classes: usize,
    /// Every parameter, in `state_dict` order.
    pub params: &'static [ParamInfo],
    /// Total number of parameters.
    pub num_params: usize,
    /// Every block, in forward order (the last one's output is the logits).
    pub blocks: &'static [BlockInfo],
    /// Floats per sample in the `acts` arena.
    pub acts_per_sample: usize,
    /// u32 per sample in the `idx` arena.
    pub idx_per_sample: usize,
    /// Per-sample offset of the input batch in `acts`.
    pub input_act: usize,
    /// Per-sample offset of the per-row loss in `acts`.
    pub loss_act: usize,
    /// The training objective (`#[network(loss = ...)]`; cross-entropy by default).
    pub loss: cubenet_kernels::Loss,
    /// Per-sample offset of the f32 targets (`classes` floats) of a value loss (MSE, BCE) in
    /// `acts` (unused for cross-entropy).
    pub target_act: usize,
    /// Per-sample offset of the logits in `acts`.
    pub logits_act: usize,
    /// Per-sample offset of the label in `idx`.
    pub label_idx: usize,
    /// Per-sample offset of the correctness flag in `idx`.
    pub correct_idx: usize,
    /// Every buffer (BatchNorm running statistics), in `state_dict` order.
    pub buffers: &'static [BufferInfo],
    /// Floats of the buffer arena.
    pub num_bufs: usize,
    /// The BatchNorm layers, in order: each has a `<name>.num_batches_tracked` entry in the
    /// `state_dict`.
    pub batch_norms: &'static [&'static str],
    /// The smallest batch a training-mode forward pass accepts: 2 when a BatchNorm sees a
    /// single value per channel and sample (BatchNorm1d, or a 1x1 plane), as PyTorch
    /// requires more than one value per channel to compute a variance.
    pub min_train_batch: usize,
    /// The network has a Dropout layer: its training kernels read the per-step seed
    /// ([`crate::NetState::launch_seed`]).
    pub dropout: bool,
    /// Floats of the `part` arena (the weight gradients' per-chunk partial sums) per sample
    /// of batch capacity: the arena holds `part_a * cap + part_b`.
    pub part_a: usize,
    /// See `part_a`.
    pub part_b: usize,
}

impl Layout {
    /// The parameter whose elements include flat index `i` of the parameter arena.
    pub fn param_at(&self, i: usize) -> Option<&'static ParamInfo> {
        self.params
            .iter()
            .find(|p| (p.offset..p.offset + p.numel()).contains(&i))
    }

    /// The number of samples in `images` (`rows x C x H x W`, NCHW).
    ///
    /// # Errors
    /// [`Error::Shape`](crate::Error::Shape) if `images` is empty or not a whole number of
    /// samples.
    pub fn rows_of(&self, images: &[f32]) -> crate::Result<usize> {
        let len = self.input_len();
        if images.is_empty() || !images.len().is_multiple_of(len) {
            return Err(crate::Error::Shape(format!(
                "the batch holds {} floats, which is not a positive multiple of one sample's {} ({:?}, NCHW)",
                images.len(),
                len,
                self.input_shape
            )));
        }
        Ok(images.len() / len)
    }

    /// Floats of one input sample (`C * H * W`).
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }
}
