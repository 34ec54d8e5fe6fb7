//! `Conv2d` (torch.nn.Conv2d, with `groups` for grouped and depthwise convolution) and the
//! conv block it lowers to: conv + bias, with the activation and max-pool after it fused
//! (`cubenet_kernels::conv`).
use proc_macro2::TokenStream;
use quote::quote;

use super::activation::{act_tokens, Activation};
use super::block::{Block, BlockOp, Params, Phase, Scratch, Target};
use super::max_pool2d::pool_cfg_tokens;
use super::{At, Invalid, Layer, Lowering, Role};
use crate::errors::Errors;
use crate::ir::{Pair, PoolWindow, Spanned, Window};
use crate::options::{OptKind, OptSpec, Options, CHANNELS, DILATION, KERNEL, STRIDE};

/// Why `groups` cannot be 0.
const GROUPS: &str = "groups split the channels into that many groups";
use crate::shape::{check_params, conv_shape, Known, Shape, Site, Source};

/// torch.nn.Conv2d options.
#[derive(Debug)]
pub struct Conv2d {
    pub in_channels: Spanned<usize>,
    pub out_channels: Spanned<usize>,
    pub kernel_size: Pair,
    pub stride: Pair,
    pub padding: Pair,
    /// Padding after beyond `padding` (see [`same_padding`]; 0 but for `"same"`).
    pub padding_extra: (usize, usize),
    pub dilation: Pair,
    /// `groups`: divides `in_channels` and `out_channels` (checked in [`Layer::infer`]).
    pub groups: Spanned<usize>,
    pub bias: bool,
    /// Where `padding = "same"` is written (then `padding` and `padding_extra` come from
    /// [`same_padding`]); checked in [`Layer::infer`]: stride 1.
    pub same: Option<proc_macro2::Span>,
}

/// torch.nn.Conv2d's `padding = "same"`: per axis a total of `d (k - 1)`, `total / 2` before
/// and the rest after (PyTorch's `Conv2d.__init__` / `_conv_forward`: an odd total pads one
/// more row or column after). Returns (`padding`, on both sides; `padding_extra`, after only:
/// `total % 2`). `None` for a dilated kernel so large that `d (k - 1)` overflows.
#[allow(clippy::type_complexity)]
pub fn same_padding(
    kernel_size: (usize, usize),
    dilation: (usize, usize),
) -> Option<((usize, usize), (usize, usize))> {
    let total = |k: usize, d: usize| d.checked_mul(k.checked_sub(1)?);
    let (th, tw) = (
        total(kernel_size.0, dilation.0)?,
        total(kernel_size.1, dilation.1)?,
    );
    Some(((th / 2, tw / 2), (th % 2, tw % 2)))
}

impl Conv2d {
    pub fn window(&self) -> Window {
        Window {
            kernel_size: self.kernel_size,
            stride: self.stride,
            padding: self.padding,
            padding_extra: self.padding_extra,
            dilation: self.dilation,
            ceil_mode: false,
        }
    }
}

impl Layer for Conv2d {
    const OPTIONS: &'static [OptSpec] = &[
        OptSpec::positional("in_channels", 0, OptKind::Int).nonzero(CHANNELS),
        OptSpec::positional("out_channels", 1, OptKind::Int).nonzero(CHANNELS),
        OptSpec::positional("kernel_size", 2, OptKind::Pair).nonzero(KERNEL),
        OptSpec::named("stride", OptKind::Pair).nonzero(STRIDE),
        OptSpec::named("padding", OptKind::Padding),
        OptSpec::named("dilation", OptKind::Pair).nonzero(DILATION),
        OptSpec::named("bias", OptKind::Bool),
        OptSpec::named("groups", OptKind::Int).nonzero(GROUPS),
    ];
    const ROLE: Role = Role::Opens {
        spatial: true,
        matmul: true,
    };
    fn build(v: &Options) -> Result<Self, Invalid> {
        let same = v.same(4);
        let window = (|| {
            let kernel_size = v.pair(2, None)?;
            let dilation = v.pair(5, Some((1, 1)))?;
            let (padding, padding_extra) = match same {
                Some(span) => {
                    let (value, extra) = same_padding(kernel_size.value, dilation.value)?;
                    (Spanned { value, span }, extra)
                }
                None => (v.pair(4, Some((0, 0)))?, (0, 0)),
            };
            Some(Window {
                kernel_size,
                stride: v.pair(3, Some((1, 1)))?,
                padding,
                padding_extra,
                dilation,
                ceil_mode: false,
            })
        })();
        let groups = v.int_or(7, 1);
        match (v.ok, v.int(0), v.int(1), window, v.boolean(6, true), groups) {
            (true, Some(in_channels), Some(out_channels), Some(w), Some(bias), Some(groups)) => {
                Ok(Conv2d {
                    in_channels,
                    out_channels,
                    kernel_size: w.kernel_size,
                    stride: w.stride,
                    padding: w.padding,
                    padding_extra: w.padding_extra,
                    dilation: w.dilation,
                    groups,
                    bias,
                    same,
                })
            }
            _ => Err(Invalid {
                ty: None,
                input: v.int(0),
                output: v.int(1).map(|o| o.value),
                window,
            }),
        }
    }
    fn infer(&self, site: Site, cur: Known, src: &Source, errors: &mut Errors) -> Known {
        let (kh, kw) = self.kernel_size.value;
        let (in_channels, out_channels, groups) = (
            self.in_channels.value,
            self.out_channels.value,
            self.groups.value,
        );
        if in_channels % groups != 0 || out_channels % groups != 0 {
            // PyTorch: "in_channels must be divisible by groups" / "out_channels must be ...".
            let which = match (in_channels % groups != 0, out_channels % groups != 0) {
                (true, true) => {
                    format!("in_channels ({in_channels}) and out_channels ({out_channels}) are")
                }
                (true, false) => format!("in_channels ({in_channels}) is"),
                (false, _) => format!("out_channels ({out_channels}) is"),
            };
            let divisors: Vec<String> = (1..=in_channels.min(out_channels))
                .filter(|g| in_channels % g == 0 && out_channels % g == 0)
                .map(|g| g.to_string())
                .collect();
            errors.push(
                self.groups.span,
                format!(
                    "`groups` of Conv2d `{}` must divide in_channels and out_channels, but {which} not a multiple of {groups}: each of the {groups} groups gets an equal share of the channels (groups that fit: {})",
                    site.name,
                    divisors.join(", ")
                ),
            );
        }
        if let Some(span) = self.same {
            if self.stride.value != (1, 1) {
                // PyTorch: "padding='same' is not supported for strided convolutions".
                errors.push(
                    span,
                    format!(
                        "`padding = \"same\"` of Conv2d `{}` needs stride 1, as in PyTorch (padding='same' is not supported for strided convolutions); give the padding as a number",
                        site.name
                    ),
                );
                return Known::Unknown;
            }
        }
        let params = [out_channels, in_channels / groups, kh, kw]
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b));
        check_params(params, site.name, errors);
        conv_shape(
            site,
            cur,
            src,
            Some(self.in_channels),
            Some(self.out_channels.value),
            Some(self.window()),
            errors,
        )
    }
    fn infer_invalid(
        inv: &Invalid,
        site: Site,
        cur: Known,
        src: &Source,
        errors: &mut Errors,
    ) -> Known {
        conv_shape(site, cur, src, inv.input, inv.output, inv.window, errors)
    }
    fn lower(&self, at: &At, lw: &mut Lowering) -> Option<()> {
        let (Shape::Spatial { c, h, w }, Shape::Spatial { h: oh, w: ow, .. }) =
            (at.shaped.input, at.shaped.output)
        else {
            return None;
        };
        let block = ConvBlock {
            in_channels: c,
            in_hw: (h, w),
            out_channels: self.out_channels.value,
            groups: self.groups.value,
            kernel_size: self.kernel_size.value,
            stride: self.stride.value,
            padding: self.padding.value,
            padding_extra: self.padding_extra,
            dilation: self.dilation.value,
            conv_hw: (oh, ow),
            act: None,
            pool: None,
            out_hw: (oh, ow),
            bias: self.bias,
        };
        lw.push(at, Box::new(block), true, true);
        Some(())
    }
}

/// A conv block: Conv2d (+ bias) (+ activation) (+ max-pool).
#[derive(Clone, Debug)]
pub struct ConvBlock {
    pub in_channels: usize,
    pub in_hw: (usize, usize),
    pub out_channels: usize,
    /// `groups` (divides both channel counts).
    pub groups: usize,
    pub kernel_size: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    /// Zero rows and columns after the input beyond `padding` (`padding = "same"` with an
    /// odd total: 1).
    pub padding_extra: (usize, usize),
    pub dilation: (usize, usize),
    /// The conv's output size (before the pool).
    pub conv_hw: (usize, usize),
    /// The fused activation (applied before the pool).
    pub act: Option<Activation>,
    /// The fused max-pool.
    pub pool: Option<PoolWindow>,
    /// The block's output size (after the pool).
    pub out_hw: (usize, usize),
    pub bias: bool,
}

impl ConvBlock {
    /// Whether the forward pass is the tiled one: no pool, or a pool whose windows tile the
    /// conv plane (stride = kernel, no padding, no window past the end).
    fn fast_forward(&self) -> bool {
        self.pool.is_none_or(|p| {
            p.stride == p.kernel_size
                && p.padding == (0, 0)
                && self.out_hw.0 * p.kernel_size.0 <= self.conv_hw.0
                && self.out_hw.1 * p.kernel_size.1 <= self.conv_hw.1
        })
    }
    /// Conv positions per weight-gradient chunk: the longest of [`CHUNK_POSITIONS`] whose
    /// chunks still give the `gpu` row (one partial-sum unit per parameter and chunk) at
    /// least [`GPU_MIN_UNITS`] units at batch [`GPU_REFERENCE_BATCH`], else the shortest.
    /// Longer chunks mean fewer units and fewer partial sums to add (CifarLeNet's conv1 at
    /// 784 positions instead of 392: its weight gradient 0.94 -> 0.80 ms per step on the
    /// `cpu` row); LeNet-5's layers keep 512. Shapes only, never the target: it fixes the
    /// summation order.
    fn chunk_positions(&self) -> usize {
        let units = |p: usize| {
            GPU_REFERENCE_BATCH.div_ceil(self.chunk_samples_of(p))
                * (self.conv_hw.0 / self.chunk_rows_of(p))
                * self.num_params()
        };
        CHUNK_POSITIONS
            .into_iter()
            .find(|&p| units(p) >= GPU_MIN_UNITS)
            .unwrap_or(CHUNK_POSITIONS[CHUNK_POSITIONS.len() - 1])
    }
    /// Conv rows per weight-gradient chunk: the most rows of at most
    /// [`Self::chunk_positions`] positions that divide the conv height.
    fn chunk_rows(&self) -> usize {
        self.chunk_rows_of(self.chunk_positions())
    }
    /// Samples per weight-gradient chunk: whole planes of as many samples as fit
    /// [`Self::chunk_positions`] when a chunk is a whole plane.
    fn chunk_samples(&self) -> usize {
        self.chunk_samples_of(self.chunk_positions())
    }
    fn chunk_rows_of(&self, positions: usize) -> usize {
        let (h, w) = self.conv_hw;
        // Rows packed side by side in one group of 16 lanes (`rows_per_lane_group`).
        let packed = if w < 16 && 16 % w == 0 { 16 / w } else { 1 };
        let fits = |r: &usize| h % r == 0 && r * w <= positions;
        (1..=h)
            .rev()
            .find(|r| fits(r) && r % packed == 0)
            .or_else(|| (1..=h).rev().find(fits))
            .unwrap_or(1)
    }
    fn chunk_samples_of(&self, positions: usize) -> usize {
        let (h, w) = self.conv_hw;
        if self.chunk_rows_of(positions) == h {
            (positions / (h * w).max(1)).max(1)
        } else {
            1
        }
    }
    fn num_params(&self) -> usize {
        let (kh, kw) = self.kernel_size;
        self.out_channels * (self.in_channels / self.groups) * kh * kw
            + if self.bias { self.out_channels } else { 0 }
    }
    /// The register tiles of `target` (see `cubenet_kernels::conv::ConvTiles`).
    fn tiles(&self, target: Target) -> ([usize; 9], bool) {
        let (kh, kw) = self.kernel_size;
        let _ = kh;
        let out_g = self.out_channels / self.groups;
        let in_g = self.in_channels / self.groups;
        let (oh, ow) = self.out_hw;
        let (_, iw) = self.in_hw;
        let (pkh, pkw) = self.pool.map_or((1, 1), |p| p.kernel_size);
        let div = |n: usize, at_most: usize| {
            (1..=n.min(at_most.max(1)))
                .rev()
                .find(|d| n.is_multiple_of(*d))
                .unwrap_or(1)
        };
        match target {
            Target::Cpu => {
                // Measured on a 2-core AVX-512 VM (per-layer sweeps of the tile sizes).
                let (rows, cols, oc) = if self.pool.is_none() && self.stride == (1, 1) {
                    // Stride 1 without a pool: whole rows, about 8 vectors of accumulators, as
                    // many positions as possible (rows narrower than 16 that divide it packed
                    // up to 64 positions, other narrow rows one at a time), then output
                    // channels.
                    let packed = ow < 16 && 16 % ow == 0;
                    let rows = if packed { div(oh, 64 / ow) } else { 1 };
                    let vectors = if packed {
                        (rows * ow).div_ceil(16)
                    } else {
                        rows * ow.div_ceil(16)
                    };
                    (rows, ow, div(out_g, (8 / vectors).max(1)))
                } else {
                    // Otherwise whole rows; one conv row per unit once rows are 16 columns or
                    // wider, else about 32 positions; as many channels as keep the
                    // accumulators within 256 floats.
                    let (rows, cols) = if self.fast_forward() {
                        let conv_cols = ow * pkw;
                        let rows = if conv_cols >= 16 {
                            1
                        } else {
                            div(oh, (32 / (conv_cols * pkh)).max(1))
                        };
                        (rows, ow)
                    } else {
                        (1, 1)
                    };
                    (
                        rows,
                        cols,
                        div(out_g, (256 / (rows * pkh * cols * pkw)).clamp(1, 16)),
                    )
                };
                // Input gradient: one input row per unit (two or more spill registers: 2x
                // slower at 8-16 columns), channels up to 16 vectors of accumulators (16 for
                // planes narrower than 16, else 8).
                let in_rows = 1;
                let col_vectors = iw.div_ceil(16);
                let in_c_max = if iw < 16 {
                    16
                } else {
                    (16 / col_vectors).clamp(1, 8)
                };
                let in_c = div(in_g, in_c_max);
                let wg_oc = div(out_g, (20 / kw).clamp(1, 8));
                // d(conv output): a whole plane per unit (a disjoint pool's gradient is then
                // scattered to the argmaxes: CifarLeNet conv1 0.67 -> 0.19 ms per step).
                let og_rows = self.conv_hw.0;
                (
                    [oc, rows, cols, in_c, in_rows, iw, wg_oc, kw, og_rows],
                    true,
                )
            }
            Target::Gpu => ([1, 1, 1, 1, 1, 1, 1, 1, 1], false),
        }
    }
}

/// The most conv positions in one weight-gradient chunk, longest first (see
/// `ConvBlock::chunk_positions`).
const CHUNK_POSITIONS: [usize; 3] = [2048, 1024, 512];
/// The fewest units a heavy `gpu`-row kernel should launch (issue 14's floor; an H200 runs
/// about 270k threads at once).
const GPU_MIN_UNITS: usize = 32_768;
/// The batch size at which [`GPU_MIN_UNITS`] is asked for.
const GPU_REFERENCE_BATCH: usize = 128;

impl BlockOp for ConvBlock {
    fn label(&self) -> &'static str {
        "conv"
    }
    fn out_len(&self) -> usize {
        self.out_channels * self.out_hw.0 * self.out_hw.1
    }
    fn kernels_module(&self) -> &'static str {
        "conv"
    }
    fn act(&self) -> Option<Activation> {
        self.act
    }
    fn set_act(&mut self, act: Activation) -> Option<()> {
        self.act = Some(act);
        Some(())
    }
    fn set_pool(&mut self, window: PoolWindow, out_hw: (usize, usize)) -> Option<()> {
        self.pool = Some(window);
        self.out_hw = out_hw;
        Some(())
    }
    fn pooled(&self) -> bool {
        self.pool.is_some()
    }
    fn needs_pre(&self) -> bool {
        self.act.is_some_and(Activation::needs_pre)
    }
    fn params(&self) -> Option<Params> {
        let (kh, kw) = self.kernel_size;
        let in_per_group = self.in_channels / self.groups;
        Some(Params {
            weight: vec![self.out_channels, in_per_group, kh, kw],
            bias: self.bias.then_some(self.out_channels),
            fan_in: in_per_group * kh * kw,
            init: ("Uniform", "Uniform"),
        })
    }
    fn scratch(&self) -> Scratch {
        let has_dconv = self.act.is_some() || self.pool.is_some();
        Scratch {
            dconv: if has_dconv {
                self.out_channels * self.conv_hw.0 * self.conv_hw.1
            } else {
                0
            },
            ..Scratch::default()
        }
    }
    fn backward_phases(&self) -> Vec<Phase> {
        if self.act.is_some() || self.pool.is_some() {
            vec![Phase::OutGrad]
        } else {
            Vec::new()
        }
    }
    fn split_weight_grad(&self) -> bool {
        true
    }
    fn part_len(&self) -> (usize, usize) {
        (self.conv_hw.0 / self.chunk_rows() * self.num_params(), 0)
    }
    fn macs(&self, phase: Phase) -> usize {
        match phase {
            Phase::Forward | Phase::InputGrad | Phase::WeightPartial => self.forward_macs(),
            Phase::OutGrad => self.out_channels * self.conv_hw.0 * self.conv_hw.1,
            Phase::ForwardSum | Phase::Stats | Phase::NormGrad | Phase::WeightGrad => 0,
        }
    }
    fn forward_macs(&self) -> usize {
        let (kh, kw) = self.kernel_size;
        [
            self.out_channels,
            self.conv_hw.0,
            self.conv_hw.1,
            self.in_channels / self.groups,
            kh,
            kw,
        ]
        .iter()
        .fold(1usize, |a, &b| a.saturating_mul(b))
    }
    fn cfg_type(&self) -> &'static str {
        "ConvCfg"
    }
    fn cfg(&self, b: &Block, _i: usize, target: Target) -> TokenStream {
        let (in_channels, out_channels, groups) =
            (self.in_channels, self.out_channels, self.groups);
        let (in_h, in_w) = self.in_hw;
        let (kernel_h, kernel_w) = self.kernel_size;
        let (stride_h, stride_w) = self.stride;
        let (padding_h, padding_w) = self.padding;
        let (padding_extra_h, padding_extra_w) = self.padding_extra;
        let (dilation_h, dilation_w) = self.dilation;
        let (conv_h, conv_w) = self.conv_hw;
        let (out_h, out_w) = self.out_hw;
        let act = act_tokens(self.act);
        let pool = pool_cfg_tokens(self.pool, self.conv_hw, self.out_hw);
        let bias = self.bias;
        let (w_off, b_off, in_act, out_act, in_grad, out_grad, pre_act, argmax) = (
            b.w_off, b.b_off, b.in_act, b.out_act, b.in_grad, b.out_grad, b.pre_act, b.argmax,
        );
        let dconv = if self.scratch().dconv > 0 {
            b.dconv
        } else {
            b.out_grad
        };
        let (fast_forward, chunk_rows, chunk_samples, part_a, part_b) = (
            self.fast_forward(),
            self.chunk_rows(),
            self.chunk_samples(),
            b.part_a,
            b.part_b,
        );
        let ([oc, rows, cols, in_c, in_rows, in_cols, wg_oc, wg_kx, og_rows], vector) =
            self.tiles(target);
        let (accumulate, add_skip_grad, skip_grad) =
            (b.accumulate, b.skip_grad.is_some(), b.skip_grad_off);
        quote! {
            ConvCfg {
                in_channels: #in_channels, out_channels: #out_channels, groups: #groups,
                in_h: #in_h, in_w: #in_w,
                kernel_h: #kernel_h, kernel_w: #kernel_w, stride_h: #stride_h, stride_w: #stride_w,
                padding_h: #padding_h, padding_w: #padding_w,
                padding_extra_h: #padding_extra_h, padding_extra_w: #padding_extra_w,
                dilation_h: #dilation_h, dilation_w: #dilation_w,
                conv_h: #conv_h, conv_w: #conv_w, act: #act, pool: #pool,
                out_h: #out_h, out_w: #out_w, bias: #bias, w_off: #w_off, b_off: #b_off,
                in_act: #in_act, out_act: #out_act, in_grad: #in_grad, out_grad: #out_grad,
                pre_act: #pre_act, argmax: #argmax, dconv: #dconv, fast_forward: #fast_forward,
                chunk_rows: #chunk_rows, chunk_samples: #chunk_samples, part_a: #part_a,
                part_b: #part_b,
                accumulate: #accumulate, add_skip_grad: #add_skip_grad, skip_grad: #skip_grad,
                tiles: ConvTiles {
                    oc: #oc, rows: #rows, cols: #cols, in_c: #in_c, in_rows: #in_rows,
                    in_cols: #in_cols, wg_oc: #wg_oc, wg_kx: #wg_kx, og_rows: #og_rows,
                    vector: #vector,
                },
            }
        }
    }
    fn call(&self, phase: Phase, c: &TokenStream, _train: bool) -> TokenStream {
        match phase {
            Phase::Forward if self.fast_forward() => {
                quote!(conv_forward_tiled_unit(params, acts, idx, u, #c, cap);)
            }
            Phase::Forward => quote!(conv_forward_unit(params, acts, idx, u, #c, cap);),
            Phase::OutGrad => quote!(conv_out_grad_unit(acts, idx, u, #c, cap);),
            Phase::InputGrad => quote!(conv_input_grad_unit(params, acts, u, #c, cap);),
            Phase::WeightPartial => quote!(conv_weight_partial_unit(acts, part, u, #c, n, cap);),
            Phase::WeightGrad => quote! {
                conv_weight_final_unit(params, velocity, grads, part, u, lr, momentum,
                    dampening, weight_decay, flags, #c, n, cap);
            },
            Phase::Stats | Phase::NormGrad | Phase::ForwardSum => quote!(),
        }
    }
    fn units(&self, phase: Phase, c: &TokenStream) -> TokenStream {
        match phase {
            Phase::Forward => quote!(#c.forward_units(n)),
            Phase::OutGrad => quote!(#c.out_grad_units(n)),
            Phase::InputGrad => quote!(#c.input_grad_units(n)),
            Phase::WeightPartial => quote!(#c.weight_partial_units(n)),
            Phase::WeightGrad => quote!(#c.weight_final_units()),
            Phase::Stats | Phase::NormGrad | Phase::ForwardSum => quote!(0usize),
        }
    }
    fn loops(&self, phase: Phase, c: &TokenStream, _train: bool) -> Option<TokenStream> {
        match phase {
            Phase::Forward => Some(quote!(#c.forward_loop_iterations())),
            Phase::OutGrad => Some(quote!(#c.out_grad_loop_iterations())),
            Phase::InputGrad => Some(quote!(#c.input_grad_loop_iterations())),
            Phase::WeightPartial => Some(quote!(#c.weight_partial_loop_iterations())),
            Phase::WeightGrad => Some(quote!(#c.weight_final_loop_iterations(n))),
            Phase::Stats | Phase::NormGrad | Phase::ForwardSum => None,
        }
    }
}
