//! Learning-rate schedules, host-side closed forms of `torch.optim.lr_scheduler`:
//! [`StepLr`], [`CosineAnnealingLr`] and [`LinearLr`] (linear warm-up).
//!
//! Each is a function of a counter `t` (0-based) that [`crate::trainer::fit`] advances per
//! epoch ([`StepLr`]), per epoch or per optimiser step ([`CosineAnnealingLr::per_step`]) or
//! per optimiser step ([`LinearLr`], the warm-up), and they compose in that order: the
//! learning rate of a step is `warmup_factor(step) * cosine(step_lr(base, epoch), t)`.

/// `torch.optim.lr_scheduler.StepLR`: the learning rate of epoch `e` (0-based) is
/// `lr * gamma^floor(e / step_size)`
/// (<https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.StepLR.html>).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLr {
    /// Epochs between decays (>= 1).
    pub step_size: usize,
    /// Multiplicative factor (in (0, 1]).
    pub gamma: f32,
}

impl StepLr {
    /// The learning rate for 0-based `epoch` given the initial `lr`.
    ///
    /// ```
    /// use cubenet_runtime::trainer::StepLr;
    /// let s = StepLr { step_size: 2, gamma: 0.1 };
    /// assert_eq!(s.lr(1.0, 0), 1.0);
    /// assert_eq!(s.lr(1.0, 1), 1.0);
    /// assert!((s.lr(1.0, 2) - 0.1).abs() < 1e-7);
    /// ```
    pub fn lr(&self, lr: f32, epoch: usize) -> f32 {
        lr * self.gamma.powi((epoch / self.step_size.max(1)) as i32)
    }
}

/// `torch.optim.lr_scheduler.CosineAnnealingLR` in its closed form
/// (<https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.CosineAnnealingLR.html>):
/// `lr_t = eta_min + (lr - eta_min) * (1 + cos(pi * t / t_max)) / 2`, for `t` the number of
/// epochs (or, with `per_step`, optimiser steps) done. Like torch's, it is periodic past
/// `t_max` (the rate rises again towards `lr` until `2 * t_max`). torch's scheduler computes
/// the same values recursively; they agree to about 1e-15 (`tests/parity_optim.rs`).
///
/// ```
/// use cubenet_runtime::schedule::CosineAnnealingLr;
/// let c = CosineAnnealingLr { t_max: 4, eta_min: 0.0, per_step: false };
/// assert_eq!(c.lr(0.1, 0), 0.1);
/// assert!((c.lr(0.1, 2) - 0.05).abs() < 1e-15);
/// assert!(c.lr(0.1, 4).abs() < 1e-15);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineAnnealingLr {
    /// Half period, in epochs or steps (>= 1).
    pub t_max: usize,
    /// Minimum learning rate (>= 0).
    pub eta_min: f64,
    /// Count optimiser steps instead of epochs (torch: `scheduler.step()` after every batch).
    pub per_step: bool,
}

impl CosineAnnealingLr {
    /// The learning rate after `t` epochs (or steps) given the base `lr`.
    pub fn lr(&self, lr: f64, t: u64) -> f64 {
        let x = std::f64::consts::PI * t as f64 / self.t_max.max(1) as f64;
        self.eta_min + (lr - self.eta_min) * (1.0 + x.cos()) / 2.0
    }
}

/// `torch.optim.lr_scheduler.LinearLR`, used as a linear warm-up counted in optimiser steps
/// (<https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.LinearLR.html>):
/// the factor at step `t` (0-based) is
/// `start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters`.
///
/// ```
/// use cubenet_runtime::schedule::LinearLr;
/// let w = LinearLr::warmup(0.25, 3); // end_factor 1
/// assert_eq!(w.factor(0), 0.25);
/// assert_eq!(w.factor(1), 0.5);
/// assert_eq!(w.factor(3), 1.0);
/// assert_eq!(w.factor(10), 1.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearLr {
    /// Factor at step 0, in (0, 1].
    pub start_factor: f64,
    /// Factor from step `total_iters` on, in [0, 1].
    pub end_factor: f64,
    /// Steps of the ramp (>= 1).
    pub total_iters: u64,
}

impl LinearLr {
    /// A warm-up from `start_factor` to 1 over `total_iters` steps.
    pub fn warmup(start_factor: f64, total_iters: u64) -> Self {
        Self {
            start_factor,
            end_factor: 1.0,
            total_iters,
        }
    }
    /// The factor at 0-based step `t`.
    pub fn factor(&self, t: u64) -> f64 {
        let n = self.total_iters.max(1);
        self.start_factor + (self.end_factor - self.start_factor) * t.min(n) as f64 / n as f64
    }
}

/// Checks a schedule's values; the message names the value and its valid range.
pub(crate) fn validate(
    step: Option<StepLr>,
    cosine: Option<CosineAnnealingLr>,
    warmup: Option<LinearLr>,
) -> Result<(), String> {
    if let Some(s) = step {
        if s.step_size == 0 || !(s.gamma > 0.0 && s.gamma <= 1.0) {
            return Err(format!(
                "StepLR needs step_size >= 1 and gamma in (0, 1], got step_size = {}, gamma = {}",
                s.step_size, s.gamma
            ));
        }
    }
    if let Some(c) = cosine {
        if c.t_max == 0 || !(c.eta_min.is_finite() && c.eta_min >= 0.0) {
            return Err(format!(
                "CosineAnnealingLR needs t_max >= 1 and a finite eta_min >= 0, got t_max = {}, eta_min = {}",
                c.t_max, c.eta_min
            ));
        }
    }
    if let Some(w) = warmup {
        let start_ok = w.start_factor > 0.0 && w.start_factor <= 1.0;
        if !start_ok || !(0.0..=1.0).contains(&w.end_factor) || w.total_iters == 0 {
            return Err(format!(
                "LinearLR needs start_factor in (0, 1], end_factor in [0, 1] and total_iters >= 1, got {}, {}, {}",
                w.start_factor, w.end_factor, w.total_iters
            ));
        }
    }
    Ok(())
}
