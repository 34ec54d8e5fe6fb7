//! `torch.optim.SGD`.

/// Hyper-parameters of `torch.optim.SGD` (same names, same defaults through [`Self::new`];
/// `Default` is all zero).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SgdOptions {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (0: plain SGD, no buffer).
    pub momentum: f64,
    /// Dampening for momentum.
    pub dampening: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
}

impl SgdOptions {
    /// `torch.optim.SGD(params, lr)` defaults: no momentum, dampening, weight decay or Nesterov.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            ..Self::default()
        }
    }
}

/// An SGD optimizer over one flat parameter vector, with its momentum buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct Sgd {
    /// The hyper-parameters; `lr` may be changed between steps (as `param_groups[0]["lr"]`).
    pub options: SgdOptions,
    /// The momentum buffer; `None` until the first step with momentum (torch's
    /// `state["momentum_buffer"]`).
    pub momentum_buffer: Option<Vec<f64>>,
}

impl Sgd {
    /// A fresh optimizer.
    ///
    /// # Panics
    /// If `nesterov` is set without momentum or with dampening (torch raises `ValueError`).
    pub fn new(options: SgdOptions) -> Self {
        assert!(
            !options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0),
            "Nesterov momentum requires a momentum and zero dampening"
        );
        Self {
            options,
            momentum_buffer: None,
        }
    }

    /// One `optimizer.step()`, as `torch.optim.sgd._single_tensor_sgd` (PyTorch 2.x docs'
    /// algorithm): `g = grad + weight_decay * p`; if `momentum != 0`: `b = g` on the first
    /// step, else `b = momentum * b + (1 - dampening) * g`, then `g = g + momentum * b`
    /// (Nesterov) or `g = b`; finally `p = p - lr * g`.
    ///
    /// # Panics
    /// If `params` and `grads` differ in length (or from the momentum buffer).
    pub fn step(&mut self, params: &mut [f64], grads: &[f64]) {
        let o = self.options;
        assert_eq!(
            params.len(),
            grads.len(),
            "sgd: params and grads differ in length"
        );
        let first = self.momentum_buffer.is_none();
        if o.momentum != 0.0 && first {
            self.momentum_buffer = Some(vec![0.0; params.len()]);
        }
        for (i, (p, &grad)) in params.iter_mut().zip(grads).enumerate() {
            let mut d = grad + o.weight_decay * *p;
            if let Some(buf) = self.momentum_buffer.as_mut().filter(|_| o.momentum != 0.0) {
                assert_eq!(buf.len(), grads.len(), "sgd: momentum buffer length");
                buf[i] = if first {
                    d
                } else {
                    o.momentum * buf[i] + (1.0 - o.dampening) * d
                };
                d = if o.nesterov {
                    d + o.momentum * buf[i]
                } else {
                    buf[i]
                };
            }
            *p -= o.lr * d;
        }
    }
}
