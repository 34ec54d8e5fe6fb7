//! The training loop: epochs of optimiser steps (SGD, Adam or AdamW, optionally with gradient
//! clipping and learning-rate schedules) over a [`DataLoader`], a progress bar, and test
//! accuracy after each epoch.
use std::path::PathBuf;
use std::time::Instant;

use cubenet_kernels::Loss;
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::{DataLoader, Targets};
use crate::error::{Error, Result};
use crate::network::Network;
use crate::optim::step::step_checked;
use crate::optim::{validate_clip, Optimizer};
pub use crate::report::EpochReport;
use crate::resume::{self, RunState};
pub use crate::schedule::{CosineAnnealingLr, LinearLr, StepLr};
use crate::stop::StopFlag;
use crate::targets::BatchTargets;

/// Settings of [`fit`]. Start from [`TrainConfig::new`] and set the fields you need.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Passes over the training set (>= 1).
    pub epochs: usize,
    /// Optimiser: [`crate::Sgd`] or [`crate::Adam`] (AdamW: [`crate::Adam::adamw`]); its
    /// learning rate is the base of the schedules below.
    pub optimizer: Optimizer,
    /// Clip the gradients by their global L2 norm before each update
    /// (`torch.nn.utils.clip_grad_norm_(params, max_norm)`, see
    /// [`crate::optim::clip_coefficient`]); `None`: no clipping.
    pub clip_grad_norm: Option<f32>,
    /// Show a progress bar (loss, samples/s) on stderr. [`TrainConfig::new`] turns it on
    /// when stderr is a terminal and off otherwise (a log file or a pipe gets no bar), as
    /// most training tools do.
    pub progress: bool,
    /// Print the running mean loss every this many steps (0: never), like the PyTorch
    /// tutorial's `[epoch, step] loss: ...` lines.
    pub log_every: usize,
    /// StepLR schedule, per epoch (`None`: none).
    pub lr_schedule: Option<StepLr>,
    /// Cosine annealing of the rate `lr_schedule` gives, per epoch or per step
    /// ([`CosineAnnealingLr::per_step`]).
    pub cosine: Option<CosineAnnealingLr>,
    /// Linear warm-up: a factor on the rate, counted in optimiser steps since the start of
    /// the run. Step `s` of epoch `e` uses
    /// `warmup.factor(s) * cosine.lr(lr_schedule.lr(base, e), e or s)` (each term left out
    /// when unset; see [`crate::schedule`]).
    pub warmup: Option<LinearLr>,
    /// Resumable checkpoint file ([`crate::resume`]), written atomically at the end of every
    /// epoch, every `checkpoint_every` steps, and when the run is stopped.
    pub checkpoint: Option<PathBuf>,
    /// Also write the checkpoint every this many optimiser steps (0: only at epoch ends and
    /// on a stop).
    pub checkpoint_every: u64,
    /// Continue the run saved in this checkpoint (same network, data and loader settings):
    /// parameters, momentum, step count and data position are restored, so the result is
    /// bitwise that of an uninterrupted run.
    pub resume: Option<PathBuf>,
    /// Checked after every step: when set, the run saves its checkpoint and stops with
    /// [`Error::Interrupted`] (see [`StopFlag::on_ctrl_c`]).
    pub stop: StopFlag,
    /// Stop, as for `stop`, once the run has taken this many optimiser steps in total.
    pub max_steps: Option<u64>,
    /// Replay repeated training steps as recorded device graphs (a CUDA graph on CUDA; wgpu
    /// records its own; cubecl's cpu runtime has none and launches as usual): see
    /// [`NetState::set_graph_capture`](crate::NetState::set_graph_capture). Off by default.
    /// `true` turns it on for the network (it stays on after `fit`); the results are the
    /// same bit for bit.
    pub graph_capture: bool,
}

impl TrainConfig {
    /// `epochs` epochs of `optimizer` (an [`crate::Sgd`], [`crate::Adam`] or
    /// [`Optimizer`]), no clipping, no schedule, no checkpoint; a progress bar when stderr is
    /// a terminal (set `progress` to change it).
    pub fn new(epochs: usize, optimizer: impl Into<Optimizer>) -> Self {
        TrainConfig {
            epochs,
            optimizer: optimizer.into(),
            clip_grad_norm: None,
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            log_every: 0,
            lr_schedule: None,
            cosine: None,
            warmup: None,
            checkpoint: None,
            checkpoint_every: 0,
            resume: None,
            stop: StopFlag::new(),
            max_steps: None,
            graph_capture: false,
        }
    }
}

/// Accuracy and mean loss of `net` over every batch `loader` yields (all samples, the short
/// last batch included, unless the loader was built with `drop_last`), in eval mode
/// (BatchNorm running statistics, no Dropout); the network's mode is restored afterwards.
///
/// The accuracy fits the loss: cross-entropy, the fraction of rows whose argmax output is the
/// label; BCE with logits, the per-label accuracy (the fraction of the `n x classes` outputs
/// whose sign agrees with `target > 0.5`); MSE has none (0). The loss is the mean per-row loss
/// (for MSE and BCE the mean over every element, as PyTorch's mean reduction).
///
/// # Errors
/// [`Error::Targets`] if the dataset's targets are not of the kind the network's loss takes
/// (class labels for cross-entropy; `classes` f32 values per sample for MSE and BCE); data
/// and kernel errors.
pub fn evaluate<N: Network>(net: &mut N, loader: &DataLoader) -> Result<(f64, f64)> {
    check_targets::<N>(loader, "evaluation")?;
    let was_training = net.training();
    net.eval();
    let result = evaluate_batches(net, loader);
    if was_training {
        net.train();
    }
    result
}

fn evaluate_batches<N: Network>(net: &mut N, loader: &DataLoader) -> Result<(f64, f64)> {
    let mut correct = 0usize;
    let mut loss = 0f64;
    let mut seen = 0usize;
    for batch in loader.epoch(0) {
        let (c, l) = net.evaluate(&batch.images, batch_targets(&batch))?;
        correct += c;
        loss += l;
        seen += batch.len;
    }
    if seen == 0 {
        return Err(Error::Config("the evaluation set is empty".into()));
    }
    let per_row = match N::LAYOUT.loss {
        Loss::BceWithLogits => N::LAYOUT.classes,
        _ => 1,
    };
    Ok((correct as f64 / (seen * per_row) as f64, loss / seen as f64))
}

/// Trains `net` for `cfg.epochs` epochs on `train`, evaluating on `test` after each epoch.
/// Returns the report of every epoch of the run (those before a resume included).
///
/// The network is put in training mode for the steps (PyTorch's `model.train()`) and in eval
/// mode for each evaluation ([`evaluate`]); it is left in training mode.
///
/// After every step the loss and every gradient are checked: the first NaN or infinity
/// stops the run before anything else is saved, so the checkpoint on disk holds the last
/// good state. The gradients are checked on the device
/// ([`cubenet_kernels::finite::flag_non_finite()`]): a step reads back only the per-sample
/// losses and the check's flag, in one read (with `clip_grad_norm`, also the gradients the
/// clipping reads anyway); the gradients are read to name the parameter only when the flag is
/// set.
///
/// The training loader's batch size is checked against the network's capacity before the first
/// step; the test loader may have larger batches (they are evaluated in chunks of the
/// capacity, see [`Network::evaluate`]).
///
/// # Errors
/// [`Error::Targets`] if the training or test dataset's targets are not of the kind the
/// network's loss takes; [`Error::Config`] for `epochs == 0`, a training batch size above the
/// network's capacity (naming both), invalid optimizer, clipping or schedule values, or
/// a resumed checkpoint whose optimizer state does not match `cfg.optimizer`; [`Error::NonFinite`] /
/// [`Error::NonFiniteGradient`] at the first step whose loss / gradient is NaN or infinite;
/// [`Error::Interrupted`] when `cfg.stop` or `cfg.max_steps` stopped the run (after saving
/// it, if `cfg.checkpoint` is set); checkpoint, data and kernel errors.
pub fn fit<N: Network>(
    net: &mut N,
    train: &DataLoader,
    test: Option<&DataLoader>,
    cfg: &TrainConfig,
) -> Result<Vec<EpochReport>> {
    check_targets::<N>(train, "training")?;
    if let Some(test) = test {
        check_targets::<N>(test, "evaluation")?;
    }
    if cfg.epochs == 0 {
        return Err(Error::Config("epochs must be at least 1".into()));
    }
    cfg.optimizer.validate()?;
    validate_clip(cfg.clip_grad_norm)?;
    let cap = net.state().cap();
    if train.batch_size() > cap {
        return Err(Error::Config(format!(
            "the training loader's batch size {} exceeds the capacity of {cap} this network was \
             created with (`new(&device, {cap}, seed)`): create the network with a capacity of at \
             least {}, or give the loader batches of at most {cap}",
            train.batch_size(),
            train.batch_size()
        )));
    }
    crate::schedule::validate(cfg.lr_schedule, cfg.cosine, cfg.warmup).map_err(Error::Config)?;
    net.train();
    if cfg.graph_capture {
        net.state_mut().set_graph_capture(true);
    }
    let mut run = match &cfg.resume {
        Some(path) => {
            let run = resume::load(path, net, train)?;
            // One training-mode forward pass per step so far: the Dropout masks continue
            // where the interrupted run stopped.
            net.state_mut().set_forward_count(run.steps);
            eprintln!(
                "resuming from {}: epoch {}, {} of {} batches done, step {}",
                path.display(),
                run.epoch,
                run.batches_done,
                train.num_batches(),
                run.steps
            );
            run
        }
        None => RunState::start(),
    };
    match (cfg.optimizer, net.state().adam_step()) {
        (Optimizer::Sgd(_), Some(_)) => {
            return Err(Error::Config(
                "the network holds Adam state (from its checkpoint or earlier steps) but the \
                 run is configured with SGD"
                    .into(),
            ))
        }
        (Optimizer::Adam(a), None) if cfg.resume.is_some() && run.steps > 0 => {
            return Err(Error::Config(format!(
                "resuming a run of {} steps with {}, but the checkpoint holds no Adam state \
                 (it was written by an SGD run)",
                run.steps,
                a.name()
            )))
        }
        _ => {}
    }
    let save = |net: &N, run: &RunState| -> Result<()> {
        match &cfg.checkpoint {
            Some(path) => resume::save(path, net, run, train),
            None => Ok(()),
        }
    };
    let batches = train.num_batches();
    while run.epoch <= cfg.epochs {
        let epoch = run.epoch;
        // StepLR in f32 for SGD (its rate is f32), in f64 for Adam.
        let epoch_opt = match (cfg.lr_schedule, cfg.optimizer) {
            (None, o) => o,
            (Some(s), Optimizer::Sgd(mut sgd)) => {
                sgd.lr = s.lr(sgd.lr, epoch - 1);
                Optimizer::Sgd(sgd)
            }
            (Some(s), Optimizer::Adam(mut adam)) => {
                let k = ((epoch - 1) / s.step_size.max(1)) as i32;
                adam.lr *= (s.gamma as f64).powi(k);
                Optimizer::Adam(adam)
            }
        };
        let bar = if cfg.progress {
            let b = ProgressBar::new(batches as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed} < {eta})",
                )
                .expect("static template is valid")
                .progress_chars("=> "),
            );
            b.set_prefix(format!("{epoch}/{}", cfg.epochs));
            b.set_position(run.batches_done as u64);
            b
        } else {
            ProgressBar::hidden()
        };
        let start = Instant::now();
        let seconds_before = run.seconds;
        let (mut running, mut running_n) = (0f64, 0usize);
        for batch in train.epoch_from(epoch as u64, run.batches_done) {
            let done = net.state().steps();
            let mut opt = epoch_opt;
            if let Some(c) = cfg.cosine {
                let t = if c.per_step { done } else { epoch as u64 - 1 };
                opt = opt.with_lr(c.lr(epoch_opt.lr(), t));
            }
            if let Some(w) = cfg.warmup {
                opt = opt.with_lr(opt.lr() * w.factor(done));
            }
            let checked = step_checked(
                net.state_mut(),
                &N::LAYOUT,
                N::launch_train,
                &batch.images,
                batch_targets(&batch),
                &opt,
                cfg.clip_grad_norm,
            )?;
            let loss = checked.loss;
            let step = net.state().steps();
            if !loss.is_finite() {
                bar.abandon();
                return Err(Error::NonFinite {
                    loss,
                    epoch,
                    step,
                    batch: batch.index,
                });
            }
            if !checked.grads_finite {
                if let Some(param) = first_non_finite_gradient::<N>(net, checked.grads)? {
                    bar.abandon();
                    return Err(Error::NonFiniteGradient {
                        param,
                        epoch,
                        step,
                        batch: batch.index,
                    });
                }
            }
            run.loss_sum += loss as f64;
            run.batches_done = batch.index + 1;
            run.samples += batch.len;
            run.steps = step;
            run.seconds = seconds_before + start.elapsed().as_secs_f64();
            running += loss as f64;
            running_n += 1;
            if cfg.log_every > 0 && running_n == cfg.log_every {
                let line = format!(
                    "[{epoch}, {:5}] loss: {:.3}",
                    run.batches_done,
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
            let rate = run.samples as f64 / run.seconds.max(1e-9);
            bar.set_message(format!("loss {loss:.4} {rate:.0} samples/s"));
            bar.inc(1);
            let stop = cfg.stop.is_requested() || cfg.max_steps.is_some_and(|m| step >= m);
            if stop {
                bar.abandon();
                save(net, &run)?;
                return Err(Error::Interrupted {
                    epoch,
                    batches_done: run.batches_done,
                    batches,
                    step,
                    checkpoint: cfg.checkpoint.clone(),
                });
            }
            if cfg.checkpoint_every > 0 && step.is_multiple_of(cfg.checkpoint_every) {
                save(net, &run)?;
            }
        }
        bar.finish_and_clear();
        let (test_accuracy, test_loss) = match test {
            Some(t) => {
                let (a, l) = evaluate(net, t)?;
                (N::LAYOUT.loss.has_accuracy().then_some(a), Some(l))
            }
            None => (None, None),
        };
        let report = EpochReport {
            epoch,
            train_loss: run.loss_sum / run.batches_done.max(1) as f64,
            samples_per_s: run.samples as f64 / run.seconds.max(1e-9),
            train_seconds: run.seconds,
            test_accuracy,
            test_loss,
        };
        let accuracy_name = match N::LAYOUT.loss {
            Loss::BceWithLogits => "test_label_accuracy",
            _ => "test_accuracy",
        };
        let test_part = match (report.test_accuracy, report.test_loss) {
            (Some(a), Some(l)) => format!(" test_loss {l:.4} {accuracy_name} {a:.4}"),
            (None, Some(l)) => format!(" test_loss {l:.4}"),
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
        run.history.push(report);
        run.epoch += 1;
        run.batches_done = 0;
        run.loss_sum = 0.0;
        run.samples = 0;
        run.seconds = 0.0;
        save(net, &run)?;
    }
    Ok(run.history)
}

/// Checks that `loader`'s dataset holds the targets `N`'s loss takes: class labels for
/// cross-entropy, `N::LAYOUT.classes` f32 values per sample for MSE and BCE with logits.
fn check_targets<N: Network>(loader: &DataLoader, set: &'static str) -> Result<()> {
    let layout = N::LAYOUT;
    let loss = crate::targets::loss_name(layout.loss);
    let refuse = |found: &Targets, needs: String| {
        Err(Error::Targets {
            set,
            found: found.describe(),
            loss,
            needs,
        })
    };
    match (loader.dataset().targets(), layout.loss.takes_classes()) {
        (Targets::Classes { .. }, true) => Ok(()),
        (found @ Targets::Values { .. }, true) => refuse(
            found,
            "class labels (a dataset of Targets::Classes; Batch::labels)".into(),
        ),
        (Targets::Values { len_per_sample, .. }, false) if *len_per_sample == layout.classes => {
            Ok(())
        }
        (found, false) => refuse(
            found,
            format!(
                "{} f32 values per sample, one per output (a dataset of Targets::Values; Batch::targets)",
                layout.classes
            ),
        ),
    }
}

/// The targets of `batch` as the network takes them: its class labels, or its f32 values
/// when the dataset holds values.
fn batch_targets(batch: &crate::data::Batch) -> BatchTargets<'_> {
    if batch.targets.is_empty() {
        BatchTargets::Classes(&batch.labels)
    } else {
        BatchTargets::Values(&batch.targets)
    }
}

/// The `state_dict` key of the first parameter whose last gradient is NaN or infinite, in
/// `grads` when the step already read them back (clipping, before the clip), else read now
/// (only after the device-side check found one).
fn first_non_finite_gradient<N: Network>(
    net: &N,
    grads: Option<Vec<f32>>,
) -> Result<Option<String>> {
    let grads = match grads {
        Some(g) => g,
        None => net.state().read_grads()?,
    };
    Ok(grads.iter().position(|g| !g.is_finite()).map(|i| {
        N::LAYOUT
            .param_at(i)
            .map_or_else(|| format!("parameter {i}"), |p| p.name.to_string())
    }))
}
