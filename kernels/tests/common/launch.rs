//! The host side of the test kernels: a network's five arenas on the device, and one
//! launcher per building block.
use cubecl::client::Client;
use cubecl::prelude::*;
use cubecl::server::Handle;
use cubenet_kernels::{AvgPoolCfg, ConvCfg, DropoutCfg, HeadCfg, LinearCfg, NormCfg, SgdFlags};

use super::kernels::*;

/// The run-time SGD arguments of the weight-gradient kernels.
#[derive(Clone, Copy, Debug)]
pub struct SgdArgs {
    pub lr: f32,
    pub momentum: f32,
    pub dampening: f32,
    pub weight_decay: f32,
    pub flags: u32,
}

impl SgdArgs {
    /// Store the gradients, leave the parameters and the momentum buffer alone.
    pub const NO_UPDATE: Self = Self {
        lr: 0.0,
        momentum: 0.0,
        dampening: 0.0,
        weight_decay: 0.0,
        flags: SgdFlags::NO_UPDATE,
    };
    /// A plain momentum step with weight decay, not the first (the momentum buffer holds the
    /// arena's initial values): lr 0.1, momentum 0.9, no dampening, weight decay 0.01.
    pub const MOMENTUM: Self = Self {
        lr: 0.1,
        momentum: 0.9,
        dampening: 0.0,
        weight_decay: 0.01,
        flags: 0,
    };
}

/// Host copies of the five arenas of a network (see the crate docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Arenas {
    pub params: Vec<f32>,
    pub velocity: Vec<f32>,
    pub grads: Vec<f32>,
    pub acts: Vec<f32>,
    pub idx: Vec<u32>,
    /// Weight-gradient partial sums (scratch: never checked).
    pub part: Vec<f32>,
}

/// The arenas on the device.
pub struct Gpu {
    client: Client,
    h: [Handle; 6],
    len: [usize; 6],
}

fn groups(units: usize) -> CubeCount {
    CubeCount::Static(units.div_ceil(64).max(1) as u32, 1, 1)
}

impl Gpu {
    /// Uploads `a` (every arena must be non-empty).
    pub fn new(client: &Client, a: &Arenas) -> Self {
        let h = [
            client.create_from_slice(f32::as_bytes(&a.params)),
            client.create_from_slice(f32::as_bytes(&a.velocity)),
            client.create_from_slice(f32::as_bytes(&a.grads)),
            client.create_from_slice(f32::as_bytes(&a.acts)),
            client.create_from_slice(u32::as_bytes(&a.idx)),
            client.create_from_slice(f32::as_bytes(&a.part)),
        ];
        let len = [
            a.params.len(),
            a.velocity.len(),
            a.grads.len(),
            a.acts.len(),
            a.idx.len(),
            a.part.len(),
        ];
        assert!(len.iter().all(|&l| l > 0), "empty arena");
        Self {
            client: client.clone(),
            h,
            len,
        }
    }

    /// Reads every arena back (a kernel that failed to compile shows up here).
    pub fn read(&self) -> Arenas {
        let bytes = |i: usize| {
            self.client
                .read_one(self.h[i].clone())
                .unwrap_or_else(|e| panic!("reading arena {i} failed: {e:?}"))
        };
        Arenas {
            params: f32::from_bytes(&bytes(0)).to_vec(),
            velocity: f32::from_bytes(&bytes(1)).to_vec(),
            grads: f32::from_bytes(&bytes(2)).to_vec(),
            acts: f32::from_bytes(&bytes(3)).to_vec(),
            idx: u32::from_bytes(&bytes(4)).to_vec(),
            part: f32::from_bytes(&bytes(5)).to_vec(),
        }
    }

    fn arg(&self, i: usize) -> BufferArg {
        unsafe { BufferArg::from_raw_parts(self.h[i].clone(), self.len[i]) }
    }

    pub fn conv_forward(&self, cfg: ConvCfg, n: usize, cap: usize) {
        let units = cfg.forward_units(n);
        unsafe {
            conv_forward_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(0),
                self.arg(3),
                self.arg(4),
                units,
                cfg,
                cap,
            )
        }
    }

    /// d(conv output), when the block has an activation or a pool (else nothing).
    pub fn conv_out_grad(&self, cfg: ConvCfg, n: usize, cap: usize) {
        if !cfg.has_dconv() {
            return;
        }
        let units = cfg.out_grad_units(n);
        unsafe {
            conv_out_grad_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(3),
                self.arg(4),
                units,
                cfg,
                cap,
            )
        }
    }

    pub fn conv_input_grad(&self, cfg: ConvCfg, n: usize, cap: usize) {
        let units = cfg.input_grad_units(n);
        unsafe {
            conv_input_grad_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(0),
                self.arg(3),
                units,
                cfg,
                cap,
            )
        }
    }

    /// The weight gradient's two stages: partial sums, then the final sums with the SGD step.
    pub fn conv_weight_grad(&self, cfg: ConvCfg, n: usize, cap: usize, s: SgdArgs) {
        let units = cfg.weight_partial_units(n);
        unsafe {
            conv_weight_partial_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(3),
                self.arg(5),
                units,
                cfg,
                n,
                cap,
            )
        }
        let units = cfg.weight_final_units();
        unsafe {
            conv_weight_final_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(0),
                self.arg(1),
                self.arg(2),
                self.arg(5),
                units,
                s.lr,
                s.momentum,
                s.dampening,
                s.weight_decay,
                s.flags,
                cfg,
                n,
                cap,
            )
        }
    }

    /// The forward pass, and with a split its second stage (the ranges' sums).
    pub fn linear_forward(&self, cfg: LinearCfg, n: usize, cap: usize) {
        let units = cfg.forward_units(n);
        unsafe {
            linear_forward_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(0),
                self.arg(3),
                self.arg(5),
                units,
                cfg,
                n,
                cap,
            )
        }
        let units = cfg.forward_sum_units(n);
        if units > 0 {
            unsafe {
                linear_forward_sum_k::launch_unchecked(
                    &self.client,
                    groups(units),
                    CubeDim::new_1d(64),
                    self.arg(0),
                    self.arg(3),
                    self.arg(5),
                    units,
                    cfg,
                    cap,
                )
            }
        }
    }

    pub fn linear_input_grad(&self, cfg: LinearCfg, n: usize, cap: usize) {
        let units = cfg.input_grad_units(n);
        unsafe {
            linear_input_grad_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(0),
                self.arg(3),
                units,
                cfg,
                n,
                cap,
            )
        }
    }

    pub fn linear_weight_grad(&self, cfg: LinearCfg, n: usize, cap: usize, s: SgdArgs) {
        let units = cfg.weight_grad_units();
        unsafe {
            linear_weight_grad_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(0),
                self.arg(1),
                self.arg(2),
                self.arg(3),
                units,
                s.lr,
                s.momentum,
                s.dampening,
                s.weight_decay,
                s.flags,
                cfg,
                n,
                cap,
            )
        }
    }

    pub fn head(&self, cfg: HeadCfg, train: bool, n: usize, cap: usize) {
        unsafe {
            head_k::launch_unchecked(
                &self.client,
                groups(n),
                CubeDim::new_1d(64),
                self.arg(0),
                self.arg(3),
                self.arg(4),
                n,
                cfg,
                train,
                n,
                cap,
            )
        }
    }

    /// One SGD step on the first `g.len()` parameters, `g` as their gradients.
    pub fn sgd(&self, g: &[f32], s: SgdArgs) {
        let gh = self.client.create_from_slice(f32::as_bytes(g));
        let units = g.len();
        unsafe {
            sgd_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(0),
                self.arg(1),
                self.arg(2),
                BufferArg::from_raw_parts(gh, units),
                units,
                s.lr,
                s.momentum,
                s.dampening,
                s.weight_decay,
                s.flags,
            )
        }
    }
}

/// The norm, Dropout and average-pool launchers, and a sixth buffer (the network's `bufs`
/// arena: BatchNorm running statistics) the norm forward takes.
impl Gpu {
    /// Uploads `v` as an extra f32 buffer.
    pub fn upload(&self, v: &[f32]) -> (Handle, usize) {
        assert!(!v.is_empty(), "empty buffer");
        (self.client.create_from_slice(f32::as_bytes(v)), v.len())
    }

    /// Reads an extra f32 buffer back.
    pub fn read_buffer(&self, b: &(Handle, usize)) -> Vec<f32> {
        let bytes = self
            .client
            .read_one(b.0.clone())
            .unwrap_or_else(|e| panic!("reading a buffer failed: {e:?}"));
        f32::from_bytes(&bytes)[..b.1].to_vec()
    }

    pub fn norm_stats(&self, cfg: NormCfg, n: usize, cap: usize) {
        let units = cfg.units(n);
        unsafe {
            norm_stats_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(3),
                units,
                cfg,
                n,
                cap,
            )
        }
    }

    pub fn norm_forward(
        &self,
        bufs: &(Handle, usize),
        train: bool,
        cfg: NormCfg,
        n: usize,
        cap: usize,
    ) {
        let units = cfg.forward_units(n);
        unsafe {
            norm_forward_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(0),
                self.arg(3),
                self.arg(4),
                BufferArg::from_raw_parts(bufs.0.clone(), bufs.1),
                units,
                train,
                cfg,
                n,
                cap,
            )
        }
    }

    pub fn norm_grad(&self, cfg: NormCfg, n: usize, cap: usize) {
        let units = cfg.units(n);
        unsafe {
            norm_grad_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(0),
                self.arg(3),
                self.arg(4),
                units,
                cfg,
                n,
                cap,
            )
        }
    }

    pub fn norm_input_grad(&self, cfg: NormCfg, n: usize, cap: usize) {
        let units = cfg.input_grad_units(n);
        unsafe {
            norm_input_grad_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(0),
                self.arg(3),
                units,
                cfg,
                n,
                cap,
            )
        }
    }

    pub fn norm_weight_grad(&self, cfg: NormCfg, n: usize, cap: usize, s: SgdArgs) {
        let units = cfg.weight_grad_units();
        unsafe {
            norm_weight_grad_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(0),
                self.arg(1),
                self.arg(2),
                self.arg(3),
                units,
                s.lr,
                s.momentum,
                s.dampening,
                s.weight_decay,
                s.flags,
                cfg,
                n,
                cap,
            )
        }
    }

    pub fn dropout_forward(&self, cfg: DropoutCfg, seed: u32, train: bool, n: usize, cap: usize) {
        let units = cfg.forward_units(n);
        unsafe {
            dropout_forward_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(3),
                units,
                seed,
                train,
                cfg,
                cap,
            )
        }
    }

    pub fn dropout_input_grad(&self, cfg: DropoutCfg, seed: u32, n: usize, cap: usize) {
        let units = cfg.input_grad_units(n);
        unsafe {
            dropout_input_grad_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(3),
                units,
                seed,
                cfg,
                cap,
            )
        }
    }

    pub fn avg_pool_forward(&self, cfg: AvgPoolCfg, n: usize, cap: usize) {
        let units = cfg.forward_units(n);
        unsafe {
            avg_pool_forward_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(3),
                units,
                cfg,
                cap,
            )
        }
    }

    pub fn avg_pool_input_grad(&self, cfg: AvgPoolCfg, n: usize, cap: usize) {
        let units = cfg.input_grad_units(n);
        unsafe {
            avg_pool_input_grad_k::launch_unchecked(
                &self.client,
                groups(units),
                CubeDim::new_1d(64),
                self.arg(3),
                units,
                cfg,
                cap,
            )
        }
    }
}
