//! Optimizers, exactly as `torch.optim`: [`Sgd`], [`Adam`] (and AdamW), the [`Optimizer`]
//! choice, and gradient clipping by global norm ([`clip_coefficient`]). Running a step on the
//! device (kernel arguments, update passes) is in the `step` submodule.
pub(crate) mod step;

use crate::error::{Error, Result};
use crate::layout::ParamInfo;

/// SGD hyper-parameters (torch.optim.SGD: `lr`, `momentum`, `dampening`, `weight_decay`,
/// `nesterov`).
///
/// Update of each parameter `p` with gradient `g` (PyTorch 2.x docs):
/// `g += weight_decay * p`; with momentum, `v = g` on the first step and
/// `v = momentum * v + (1 - dampening) * g` after; `g = g + momentum * v` if Nesterov else
/// `g = v`; `p -= lr * g`. The update runs on the device, fused into the weight-gradient
/// kernels.
///
/// ```
/// let sgd = cubenet_runtime::Sgd::new(0.01).with_momentum(0.9);
/// assert!(sgd.validate().is_ok());
/// assert!(cubenet_runtime::Sgd::new(0.0).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    /// Learning rate (> 0).
    pub lr: f32,
    /// Momentum factor in [0, 1).
    pub momentum: f32,
    /// Dampening for momentum, in [0, 1].
    pub dampening: f32,
    /// L2 penalty (>= 0), added to the gradient.
    pub weight_decay: f32,
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    pub nesterov: bool,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f32) -> Self {
        Self {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
    /// Sets the momentum factor.
    pub fn with_momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }
    /// Sets the dampening.
    pub fn with_dampening(mut self, dampening: f32) -> Self {
        self.dampening = dampening;
        self
    }
    /// Sets the weight decay.
    pub fn with_weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
    /// Turns Nesterov momentum on or off.
    pub fn with_nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// Checks every value; the error names the value and the valid range.
    ///
    /// # Errors
    /// [`Error::Config`] for `lr <= 0` or NaN, momentum outside [0, 1), dampening outside
    /// [0, 1], negative or NaN weight decay, Nesterov with zero momentum or non-zero dampening.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(msg));
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("lr = {} must be a finite number > 0", self.lr));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum = {} must be in [0, 1)", self.momentum));
        }
        if !(0.0..=1.0).contains(&self.dampening) {
            return bad(format!("dampening = {} must be in [0, 1]", self.dampening));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!(
                "weight_decay = {} must be a finite number >= 0",
                self.weight_decay
            ));
        }
        if self.nesterov && (self.momentum == 0.0 || self.dampening != 0.0) {
            return bad(format!(
                "Nesterov momentum requires momentum > 0 and dampening = 0 (got momentum = {}, dampening = {})",
                self.momentum, self.dampening
            ));
        }
        Ok(())
    }
}

/// Adam hyper-parameters, exactly `torch.optim.Adam` (`lr`, `betas`, `eps`, `weight_decay`,
/// `decoupled_weight_decay`); with `decoupled_weight_decay` it is `torch.optim.AdamW`
/// ([`Adam::adamw`]). `amsgrad` is not implemented: [`Adam::validate`] rejects it.
///
/// Update of each parameter `p` with gradient `g` at step `t` (1-based), PyTorch 2.x docs
/// (<https://pytorch.org/docs/stable/generated/torch.optim.Adam.html>,
/// <https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html>):
/// - weight decay: Adam (L2) `g = g + wd * p`; AdamW (decoupled) `p = p * (1 - lr * wd)`;
/// - `m = beta1 * m + (1 - beta1) * g`, `v = beta2 * v + (1 - beta2) * g^2` (both start at 0);
/// - `p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`: `eps` is added
///   after the square root of the bias-corrected second moment, as torch does.
///
/// The update runs on the device as one kernel over every parameter
/// ([`cubenet_kernels::adam`]), in torch's operation order (`_single_tensor_adam`); the
/// hyper-parameters are f64 like Python floats, and the per-step scalars are computed in f64.
///
/// ```
/// use cubenet_runtime::Adam;
/// let adam = Adam::new(1e-3);
/// assert_eq!((adam.betas, adam.eps, adam.weight_decay), ((0.9, 0.999), 1e-8, 0.0));
/// let adamw = Adam::adamw(1e-3);
/// assert!(adamw.decoupled_weight_decay && adamw.weight_decay == 0.01);
/// assert!(Adam::new(1e-3).with_amsgrad(true).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// Learning rate (>= 0).
    pub lr: f64,
    /// `(beta1, beta2)`, each in [0, 1).
    pub betas: (f64, f64),
    /// Term added to the denominator (>= 0).
    pub eps: f64,
    /// Weight decay (>= 0): L2 for Adam, decoupled for AdamW.
    pub weight_decay: f64,
    /// AdamW's decoupled weight decay.
    pub decoupled_weight_decay: bool,
    /// AMSGrad: not implemented, must stay `false`.
    pub amsgrad: bool,
}

impl Adam {
    /// `torch.optim.Adam(params, lr)`: betas (0.9, 0.999), eps 1e-8, no weight decay.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            amsgrad: false,
        }
    }
    /// `torch.optim.AdamW(params, lr)`: as [`Adam::new`] with decoupled weight decay 0.01.
    pub fn adamw(lr: f64) -> Self {
        Self {
            weight_decay: 0.01,
            decoupled_weight_decay: true,
            ..Self::new(lr)
        }
    }
    /// Sets `betas`.
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.betas = (beta1, beta2);
        self
    }
    /// Sets `eps`.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Sets the weight decay (L2 for Adam, decoupled for AdamW).
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
    /// Sets `amsgrad` (not implemented: `true` fails [`Adam::validate`]).
    pub fn with_amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    /// Checks every value as `torch.optim.Adam` does; the error names the value and the
    /// valid range.
    ///
    /// # Errors
    /// [`Error::Config`] for a negative or non-finite `lr`, `eps` or weight decay, a beta
    /// outside [0, 1), or `amsgrad` (not implemented).
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(msg));
        let (b1, b2) = self.betas;
        for (name, v) in [
            ("lr", self.lr),
            ("eps", self.eps),
            ("weight_decay", self.weight_decay),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!(
                    "{} {name} = {v} must be a finite number >= 0",
                    self.name()
                ));
            }
        }
        for (name, v) in [("betas.0", b1), ("betas.1", b2)] {
            if !(0.0..1.0).contains(&v) {
                return bad(format!("{} {name} = {v} must be in [0, 1)", self.name()));
            }
        }
        if self.amsgrad {
            return bad(format!(
                "{} amsgrad = true is not implemented (set it to false)",
                self.name()
            ));
        }
        Ok(())
    }

    /// `Adam` or `AdamW`.
    pub fn name(&self) -> &'static str {
        if self.decoupled_weight_decay {
            "AdamW"
        } else {
            "Adam"
        }
    }

    /// The kernel scalars of Adam step `t` (1-based) with gradient multiplier `grad_scale`.
    pub fn scalars(&self, t: u64, grad_scale: f32) -> cubenet_kernels::AdamScalars {
        cubenet_kernels::AdamScalars::new(
            self.lr,
            self.betas.0,
            self.betas.1,
            self.eps,
            self.weight_decay,
            self.decoupled_weight_decay,
            t,
            grad_scale,
        )
    }
}

/// The optimizer of a training run: [`Sgd`] or [`Adam`] (AdamW is [`Adam::adamw`]).
///
/// ```
/// use cubenet_runtime::{Adam, Optimizer, Sgd};
/// let o: Optimizer = Adam::adamw(1e-3).into();
/// assert_eq!((o.name(), o.lr()), ("AdamW", 1e-3));
/// assert_eq!(Optimizer::from(Sgd::new(0.5)).with_lr(0.25).lr(), 0.25);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// `torch.optim.SGD`.
    Sgd(Sgd),
    /// `torch.optim.Adam`, or `torch.optim.AdamW` when `decoupled_weight_decay` is set.
    Adam(Adam),
}

impl From<Sgd> for Optimizer {
    fn from(s: Sgd) -> Self {
        Optimizer::Sgd(s)
    }
}

impl From<Adam> for Optimizer {
    fn from(a: Adam) -> Self {
        Optimizer::Adam(a)
    }
}

impl Optimizer {
    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            Optimizer::Sgd(s) => s.lr as f64,
            Optimizer::Adam(a) => a.lr,
        }
    }
    /// The same optimizer with learning rate `lr` (rounded to f32 for SGD).
    pub fn with_lr(mut self, lr: f64) -> Self {
        match &mut self {
            Optimizer::Sgd(s) => s.lr = lr as f32,
            Optimizer::Adam(a) => a.lr = lr,
        }
        self
    }
    /// `SGD`, `Adam` or `AdamW`.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd(_) => "SGD",
            Optimizer::Adam(a) => a.name(),
        }
    }
    /// [`Sgd::validate`] or [`Adam::validate`].
    ///
    /// # Errors
    /// [`Error::Config`] naming the invalid value.
    pub fn validate(&self) -> Result<()> {
        match self {
            Optimizer::Sgd(s) => s.validate(),
            Optimizer::Adam(a) => a.validate(),
        }
    }
}

/// Checks a `clip_grad_norm` setting: `None`, or a finite number > 0.
///
/// # Errors
/// [`Error::Config`] otherwise.
pub fn validate_clip(clip_grad_norm: Option<f32>) -> Result<()> {
    match clip_grad_norm {
        Some(m) if !(m.is_finite() && m > 0.0) => Err(Error::Config(format!(
            "clip_grad_norm = {m} must be a finite number > 0"
        ))),
        _ => Ok(()),
    }
}

/// The total gradient norm and the clipping coefficient of
/// `torch.nn.utils.clip_grad_norm_(params, max_norm)` (PyTorch 2.x,
/// <https://pytorch.org/docs/stable/generated/torch.nn.utils.clip_grad_norm_.html>):
/// `total = ||(||g_1||_2, ..., ||g_k||_2)||_2` over the parameter tensors (= the L2 norm of
/// all gradients together), `coef = min(max_norm / (total + 1e-6), 1)`; every gradient is then
/// multiplied by `coef`. The norms are summed in f64; `total` is rounded to f32 and `coef`
/// computed in f32, as torch does with its f32 tensors.
///
/// ```
/// use cubenet_runtime::{optim::clip_coefficient, ParamInfo};
/// let params = [ParamInfo { name: "w", shape: &[2], offset: 0, fan_in: 1, init: cubenet_runtime::Init::Uniform }];
/// let (total, coef) = clip_coefficient(&[3.0, 4.0], &params, 1.0);
/// assert_eq!(total, 5.0);
/// assert!((coef - 1.0 / (5.0 + 1e-6)).abs() < 1e-7);
/// assert_eq!(clip_coefficient(&[0.3, 0.4], &params, 1.0).1, 1.0);
/// ```
pub fn clip_coefficient(grads: &[f32], params: &[ParamInfo], max_norm: f32) -> (f32, f32) {
    let total = params
        .iter()
        .map(|p| {
            grads[p.offset..p.offset + p.numel()]
                .iter()
                .map(|&g| g as f64 * g as f64)
                .sum::<f64>()
        })
        .sum::<f64>()
        .sqrt() as f32;
    let coef = max_norm / (total + 1e-6);
    (total, if coef < 1.0 { coef } else { 1.0 })
}
