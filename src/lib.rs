//! # cubenet
//!
//! A compile-time neural-network code generator. Annotate a struct with [`network`]; its
//! fields are the layers, in order. At `cargo build` the macro infers every shape, rejects a
//! wrong network with a compile error on the offending token, and emits fused, statically
//! shaped forward and backward kernels written in [cubecl](https://github.com/tracel-ai/cubecl)
//! (CUDA, Vulkan/Metal/DX12 through wgpu, or a CPU Vulkan driver such as Mesa's lavapipe).
//!
//! ```no_run
//! use cubenet::prelude::*;
//!
//! /// LeNet-5 for 1 x 28 x 28 images (Fashion-MNIST).
//! #[network(input = [1, 28, 28])]
//! pub struct LeNet5 {
//!     #[layer(padding = 2)]
//!     conv1: Conv2d<1, 6, 5>,              // in_channels, out_channels, kernel_size
//!     relu1: Relu,
//!     pool1: MaxPool2d<2>,                 // kernel_size; stride defaults to it
//!     conv2: Conv2d<6, 16, 5>,
//!     relu2: Relu,
//!     pool2: MaxPool2d<2>,
//!     flatten: Flatten,
//!     fc1: Linear<400, 120>,               // in_features, out_features
//!     relu3: Relu,
//!     fc2: Linear<120, 84>,
//!     relu4: Relu,
//!     fc3: Linear<84, 10>,
//! }
//!
//! # fn main() -> cubenet::Result<()> {
//! let device = cubenet::default_device();
//! let mut net = LeNet5::new(&device, 100, 42)?; // batch capacity 100, init seed 42
//! let images = vec![0.0f32; 100 * 28 * 28];      // N x C x H x W
//! let labels = vec![0u32; 100];
//! let loss = net.train_step(&images, &labels, &Sgd::new(0.01).with_momentum(0.9))?;
//! println!("loss {loss}, {} kernel launches per step", LeNet5::KERNELS_PER_STEP);
//! # Ok(()) }
//! ```
//!
//! ## Layers and options (PyTorch names)
//! | layer | generic arguments | `#[layer(...)]` options (default) |
//! |---|---|---|
//! | `Conv2d` | `in_channels, out_channels, kernel_size` | `stride` (1), `padding` (0; or `"valid"`, or `"same"`: stride 1, one more row or column after than before when `dilation * (kernel_size - 1)` is odd, as in PyTorch), `dilation` (1), `bias` (true), `groups` (1; divides both channel counts, weight `out x in/groups x kh x kw`) |
//! | `MaxPool2d` | `kernel_size` | `stride` (= kernel_size), `padding` (0, at most half the kernel), `ceil_mode` (false) |
//! | `Linear` | `in_features, out_features` | `bias` (true) |
//! | `LeakyRelu` | | `negative_slope` (0.01; must be >= 0) |
//! | `Gelu` | | `approximate` (`"none"`: exact, with erf; or `"tanh"`) |
//! | `Relu`, `Tanh`, `Sigmoid`, `SiLU`, `Relu6`, `Hardswish`, `Flatten` | | |
//! | `BatchNorm2d`, `BatchNorm1d` | `num_features` | `eps` (1e-5), `momentum` (0.1) |
//! | `Dropout` | | `p` (0.5; `0 <= p < 1`) |
//! | `AvgPool2d` | `kernel_size` | `stride` (= kernel_size), `padding` (0), `count_include_pad` (true) |
//! | `AdaptiveAvgPool2d` | `output_size` (`1` for global average pooling) | |
//! | `BasicBlock` | `inplanes, planes` | `stride` (1), `downsample` (false) |
//!
//! A per-axis value is a pair `(height, width)` in `#[layer(...)]`: `#[layer(stride = (2, 1))]`. Parameters are
//! named `<field>.weight` / `<field>.bias` exactly as PyTorch's `state_dict` keys, with
//! PyTorch's layouts (conv OIHW, linear out x in). The last layer must be a `Linear`
//! producing class scores; training minimises softmax cross-entropy over them.
//!
//! Add `print` to the attribute (`#[network(input = [1, 28, 28], print)]`) or set
//! `CUBENET_PRINT=1` while building to print every layer's shape, the fusion plan and the
//! generated code; `Network::SUMMARY` holds the same plan at run time.

// The code `#[network]` emits names `::cubenet::…`; this lets `zoo` use the macro here.
extern crate self as cubenet;

pub mod zoo;

pub use cubenet_macros::network;
pub use cubenet_runtime::{
    checkpoint, curves, data, default_device, describe, infer, optim, resume, schedule, trainer,
    Adam, BatchTargets, BlockInfo, BufferInfo, Device, Error, Init, KernelPlan, Layout,
    NamedTensor, NetState, Network, Optimizer, ParamInfo, Result, Sgd, StopFlag, Target,
};

/// Gives the Vulkan loader a private `XDG_RUNTIME_DIR` when none is set (see
/// `cubenet_runtime::device::quiet_vulkan_loader`). `default_device()` and `Network::new` do this
/// themselves;
/// calling it first in `main` only moves the environment change before any thread starts.
pub use cubenet_runtime::device::quiet_vulkan_loader;

/// Everything a user of `#[network]` needs.
pub mod prelude {
    pub use crate::network;
    pub use cubenet_runtime::data::{
        Batch, DataLoader, DataLoaderBuilder, Dataset, ImageFolder, Normalize, RandomCrop,
        RandomHorizontalFlip, Samples, Split, TargetKind, Targets, Transform,
    };
    pub use cubenet_runtime::schedule::{CosineAnnealingLr, LinearLr};
    pub use cubenet_runtime::trainer::{evaluate, fit, EpochReport, StepLr, TrainConfig};
    pub use cubenet_runtime::{
        default_device, Adam, BatchTargets, Device, Network, Optimizer, Sgd, StopFlag,
    };
}

/// Paths used by the code `#[network]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use cubecl;
    pub use cubenet_kernels as kernels;
    pub use cubenet_runtime::{
        BlockInfo, BufferInfo, Init, KernelPlan, Layout, NetState, Network, ParamInfo, StepArgs,
    };
}
