//! The training loop: epochs of SGD steps over a [`DataLoader`], a progress bar, and test
//! accuracy after each epoch.
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::data::DataLoader;
use crate::error::{Error, Result};
use crate::model::Network;
use crate::optim::Sgd;

/// Settings of [`fit`].
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Passes over the training set (>= 1).
    pub epochs: usize,
    /// Optimiser.
    pub sgd: Sgd,
    /// Show a progress bar (loss, samples/s) on stderr.
    pub progress: bool,
    /// Print the running mean loss every this many steps (0: never), like the PyTorch
    /// tutorial's `[epoch, step] loss: ...` lines.
    pub log_every: usize,
    /// Learning-rate schedule applied per epoch (`None`: constant `sgd.lr`).
    pub lr_schedule: Option<StepLr>,
}

/// `torch.optim.lr_scheduler.StepLR`: the learning rate of epoch `e` (0-based) is
/// `lr * gamma^floor(e / step_size)`.
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

/// What one epoch measured.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochReport {
    /// Epoch number, 1-based.
    pub epoch: usize,
    /// Mean of the per-batch mean losses.
    pub train_loss: f64,
    /// Training samples per second (wall clock, data loading included).
    pub samples_per_s: f64,
    /// Seconds the epoch's training took.
    pub train_seconds: f64,
    /// Test accuracy in [0, 1], if a test loader was given.
    pub test_accuracy: Option<f64>,
    /// Mean test loss, if a test loader was given.
    pub test_loss: Option<f64>,
}

/// Accuracy (fraction of rows whose argmax logit is the label) and mean loss of `net` over
/// every batch `loader` yields (all samples, the short last batch included, unless the loader
/// was built with `drop_last`).
pub fn evaluate<N: Network>(net: &mut N, loader: &DataLoader) -> Result<(f64, f64)> {
    let mut correct = 0usize;
    let mut loss = 0f64;
    let mut seen = 0usize;
    for batch in loader.epoch(0) {
        let (c, l) = net.evaluate(&batch.images, &batch.labels)?;
        correct += c;
        loss += l;
        seen += batch.len;
    }
    if seen == 0 {
        return Err(Error::Config("the evaluation set is empty".into()));
    }
    Ok((correct as f64 / seen as f64, loss / seen as f64))
}

/// Trains `net` for `cfg.epochs` epochs on `train`, evaluating on `test` after each epoch.
///
/// # Errors
/// [`Error::Config`] for `epochs == 0` or invalid SGD values; [`Error::NonFinite`] at the
/// first step whose loss is NaN or infinite; data and kernel errors.
pub fn fit<N: Network>(
    net: &mut N,
    train: &DataLoader,
    test: Option<&DataLoader>,
    cfg: &TrainConfig,
) -> Result<Vec<EpochReport>> {
    if cfg.epochs == 0 {
        return Err(Error::Config("epochs must be at least 1".into()));
    }
    cfg.sgd.validate()?;
    if let Some(s) = cfg.lr_schedule {
        if s.step_size == 0 || !(s.gamma > 0.0 && s.gamma <= 1.0) {
            return Err(Error::Config(format!(
                "StepLR needs step_size >= 1 and gamma in (0, 1], got step_size = {}, gamma = {}",
                s.step_size, s.gamma
            )));
        }
    }
    let mut reports = Vec::new();
    for epoch in 1..=cfg.epochs {
        let mut sgd = cfg.sgd;
        if let Some(s) = cfg.lr_schedule {
            sgd.lr = s.lr(cfg.sgd.lr, epoch - 1);
        }
        let bar = if cfg.progress {
            let b = ProgressBar::new(train.num_batches() as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed} < {eta})",
                )
                .expect("static template is valid")
                .progress_chars("=> "),
            );
            b.set_prefix(format!("{epoch}/{}", cfg.epochs));
            b
        } else {
            ProgressBar::hidden()
        };
        let start = Instant::now();
        let (mut loss_sum, mut batches, mut samples) = (0f64, 0usize, 0usize);
        let (mut running, mut running_n) = (0f64, 0usize);
        for batch in train.epoch(epoch as u64) {
            let loss = net.train_step(&batch.images, &batch.labels, &sgd)?;
            if !loss.is_finite() {
                bar.abandon();
                return Err(Error::NonFinite {
                    loss,
                    epoch,
                    step: net.state().steps(),
                    batch: batch.index,
                });
            }
            loss_sum += loss as f64;
            batches += 1;
            samples += batch.len;
            running += loss as f64;
            running_n += 1;
            if cfg.log_every > 0 && running_n == cfg.log_every {
                let line = format!(
                    "[{epoch}, {:5}] loss: {:.3}",
                    batches,
                    running / running_n as f64
                );
                if cfg.progress {
                    bar.println(line);
                } else {
                    println!("{line}");
                }
                running = 0.0;
                running_n = 0;
            }
            let rate = samples as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("loss {loss:.4} {rate:.0} samples/s"));
            bar.inc(1);
        }
        let secs = start.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let (test_accuracy, test_loss) = match test {
            Some(t) => {
                let (a, l) = evaluate(net, t)?;
                (Some(a), Some(l))
            }
            None => (None, None),
        };
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / batches.max(1) as f64,
            samples_per_s: samples as f64 / secs.max(1e-9),
            train_seconds: secs,
            test_accuracy,
            test_loss,
        };
        let test_part = match (report.test_accuracy, report.test_loss) {
            (Some(a), Some(l)) => format!(" test_loss {l:.4} test_accuracy {a:.4}"),
            _ => String::new(),
        };
        eprintln!(
            "epoch {}/{}: train_loss {:.4} ({:.0} samples/s, {:.1} s){}",
            epoch,
            cfg.epochs,
            report.train_loss,
            report.samples_per_s,
            report.train_seconds,
            test_part
        );
        reports.push(report);
    }
    Ok(reports)
}
