//! `torch.optim.Adam` / `torch.optim.AdamW` and `torch.nn.utils.clip_grad_norm_`.

/// Hyper-parameters of `torch.optim.Adam` (same names; [`Self::new`] gives torch's
/// defaults). `decoupled_weight_decay = true` is `torch.optim.AdamW`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamOptions {
    /// Learning rate.
    pub lr: f64,
    /// `betas[0]`, the first-moment decay.
    pub beta1: f64,
    /// `betas[1]`, the second-moment decay.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// Weight decay: L2 (added to the gradient) or, when decoupled, `p *= 1 - lr * wd`.
    pub weight_decay: f64,
    /// AdamW's decoupled weight decay.
    pub decoupled_weight_decay: bool,
}

impl AdamOptions {
    /// `torch.optim.Adam(params, lr)` defaults: betas (0.9, 0.999), eps 1e-8, no weight decay.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
        }
    }
}

/// An Adam optimizer over one flat parameter vector, with its state.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// The hyper-parameters; `lr` may change between steps.
    pub options: AdamOptions,
    /// Steps taken (torch's `state["step"]`).
    pub step: u64,
    /// First moments (`state["exp_avg"]`), zeros before the first step.
    pub exp_avg: Vec<f64>,
    /// Second moments (`state["exp_avg_sq"]`).
    pub exp_avg_sq: Vec<f64>,
}

impl Adam {
    /// A fresh optimizer for `len` parameters.
    pub fn new(options: AdamOptions, len: usize) -> Self {
        Self {
            options,
            step: 0,
            exp_avg: vec![0.0; len],
            exp_avg_sq: vec![0.0; len],
        }
    }

    /// One `optimizer.step()`, the algorithm of the PyTorch 2.x docs
    /// (<https://pytorch.org/docs/stable/generated/torch.optim.Adam.html>, `.../AdamW.html>`):
    /// `t += 1`; `p *= 1 - lr * wd` (decoupled) or `g += wd * p`; `m = b1 m + (1 - b1) g`;
    /// `v = b2 v + (1 - b2) g^2`; `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
    ///
    /// # Panics
    /// If `params`, `grads` and the state differ in length.
    pub fn step(&mut self, params: &mut [f64], grads: &[f64]) {
        let o = self.options;
        assert!(
            params.len() == grads.len() && grads.len() == self.exp_avg.len(),
            "adam: params, grads and state differ in length"
        );
        self.step += 1;
        let t = self.step as f64;
        let bc1 = 1.0 - o.beta1.powf(t);
        let bc2 = 1.0 - o.beta2.powf(t);
        for (i, (p, &grad)) in params.iter_mut().zip(grads).enumerate() {
            let mut g = grad;
            if o.weight_decay != 0.0 {
                if o.decoupled_weight_decay {
                    *p *= 1.0 - o.lr * o.weight_decay;
                } else {
                    g += o.weight_decay * *p;
                }
            }
            let m = o.beta1 * self.exp_avg[i] + (1.0 - o.beta1) * g;
            let v = o.beta2 * self.exp_avg_sq[i] + (1.0 - o.beta2) * g * g;
            self.exp_avg[i] = m;
            self.exp_avg_sq[i] = v;
            *p -= o.lr / bc1 * m / (v.sqrt() / bc2.sqrt() + o.eps);
        }
    }
}

/// `torch.nn.utils.clip_grad_norm_(params, max_norm)` over one flat gradient vector
/// (<https://pytorch.org/docs/stable/generated/torch.nn.utils.clip_grad_norm_.html>):
/// `total = sqrt(sum g^2)`, `coef = max_norm / (total + 1e-6)`, and every gradient is
/// multiplied by `min(coef, 1)`. Returns `total`.
pub fn clip_grad_norm(grads: &mut [f64], max_norm: f64) -> f64 {
    let total = grads.iter().map(|g| g * g).sum::<f64>().sqrt();
    let coef = (max_norm / (total + 1e-6)).min(1.0);
    for g in grads.iter_mut() {
        *g *= coef;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// First step from zero state: `m = (1-b1) g`, `v = (1-b2) g^2`, so the update is
    /// `lr * g / (|g| + eps)`, about `lr * sign(g)`.
    #[test]
    fn the_first_step_moves_each_parameter_by_about_lr() {
        let mut adam = Adam::new(AdamOptions::new(0.1), 2);
        let mut p = vec![1.0, 1.0];
        adam.step(&mut p, &[3.0, -0.5]);
        assert!(
            (p[0] - 0.9).abs() < 1e-7 && (p[1] - 1.1).abs() < 1e-7,
            "{p:?}"
        );
        assert_eq!(adam.step, 1);
    }

    #[test]
    fn clipping_scales_to_the_max_norm_and_leaves_small_gradients() {
        let mut g = vec![3.0, 4.0];
        assert_eq!(clip_grad_norm(&mut g, 1.0), 5.0);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
        let mut g = vec![0.3, 0.4];
        clip_grad_norm(&mut g, 1.0);
        assert_eq!(g, vec![0.3, 0.4]);
    }
}
