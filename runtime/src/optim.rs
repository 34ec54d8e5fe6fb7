//! Stochastic gradient descent, exactly as `torch.optim.SGD`.
use crate::error::{Error, Result};

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
        if !(self.lr > 0.0) || !self.lr.is_finite() {
            return bad(format!("lr = {} must be a finite number > 0", self.lr));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum = {} must be in [0, 1)", self.momentum));
        }
        if !(0.0..=1.0).contains(&self.dampening) {
            return bad(format!("dampening = {} must be in [0, 1]", self.dampening));
        }
        if !(self.weight_decay >= 0.0) || !self.weight_decay.is_finite() {
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
