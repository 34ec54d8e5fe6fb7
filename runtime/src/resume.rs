//! Resumable training checkpoints: everything [`crate::trainer::fit`] needs to continue a run
//! exactly where it stopped, in one safetensors file.
//!
//! Tensors: the parameters under their PyTorch `state_dict` keys (`conv1.weight`, ...), so
//! `safetensors.torch.load_file` + `load_state_dict(strict=False)` reads the weights, and each
//! SGD momentum buffer as `optimizer.<key>.momentum_buffer`; after Adam / AdamW steps also its
//! moments as `optimizer.<key>.exp_avg` and `optimizer.<key>.exp_avg_sq`, with the Adam step
//! count in the header (`optimizer.step`). Header metadata (strings): the
//! position in the run (epoch, batches done in it, optimiser steps), the running sums of the
//! epoch in progress, the finished epochs' reports, and the data loader's settings. Random
//! state needs no saving: the shuffle of epoch `e` is a function of `(seed, e)` and the
//! initialisation is overwritten by the saved parameters.
use std::collections::HashMap;
use std::path::Path;

use crate::checkpoint::{ck_err, load_with_metadata, save_with_metadata};
use crate::data::DataLoader;
use crate::error::{Error, Result};
use crate::layout::ParamInfo;
use crate::network::Network;
use crate::report::EpochReport;
use crate::state_dict::{split_named, NamedTensor};

/// Value of the `format` metadata key.
pub const FORMAT: &str = "cubenet-training-checkpoint/1";
const MOMENTUM_PREFIX: &str = "optimizer.";
const MOMENTUM_SUFFIX: &str = ".momentum_buffer";
const EXP_AVG_SUFFIX: &str = ".exp_avg";
const EXP_AVG_SQ_SUFFIX: &str = ".exp_avg_sq";
const ADAM_STEP: &str = "optimizer.step";

fn state_key(param: &str, suffix: &str) -> String {
    format!("{MOMENTUM_PREFIX}{param}{suffix}")
}

/// Takes `optimizer.<key><suffix>` of every parameter out of `tensors` as one flat vector;
/// each missing or misshapen tensor is added to `problems`.
fn take_state(
    tensors: &[NamedTensor],
    params: &[ParamInfo],
    num_params: usize,
    suffix: &str,
    problems: &mut Vec<String>,
) -> Vec<f32> {
    let mut flat = vec![0f32; num_params];
    for p in params {
        let key = state_key(p.name, suffix);
        match tensors.iter().find(|t| t.name == key) {
            Some(t) if t.data.len() == p.numel() => {
                flat[p.offset..p.offset + p.numel()].copy_from_slice(&t.data)
            }
            Some(t) => problems.push(format!(
                "  `{key}`: expected shape {:?}, found {:?}",
                p.shape, t.shape
            )),
            None => problems.push(format!("  missing key `{key}`")),
        }
    }
    flat
}

/// Where a run stands and what it has measured so far.
#[derive(Clone, Debug, PartialEq)]
pub struct RunState {
    /// The epoch in progress (1-based); `epochs + 1` once the last one has finished.
    pub epoch: usize,
    /// Batches of `epoch` already trained on (the next one has this index).
    pub batches_done: usize,
    /// Optimiser steps taken since the start of the run.
    pub steps: u64,
    /// Sum of the per-batch mean losses of `epoch` so far.
    pub loss_sum: f64,
    /// Samples of `epoch` trained on so far.
    pub samples: usize,
    /// Seconds spent training in `epoch` so far.
    pub seconds: f64,
    /// Reports of the finished epochs.
    pub history: Vec<EpochReport>,
}

impl RunState {
    /// The state at the start of a run.
    pub fn start() -> Self {
        RunState {
            epoch: 1,
            batches_done: 0,
            steps: 0,
            loss_sum: 0.0,
            samples: 0,
            seconds: 0.0,
            history: Vec::new(),
        }
    }
}

/// The loader settings a checkpoint's position refers to.
fn loader_metadata(loader: &DataLoader) -> Vec<(&'static str, String)> {
    vec![
        ("data.samples", loader.dataset().len().to_string()),
        ("data.batch_size", loader.batch_size().to_string()),
        ("data.shuffle", loader.shuffle().to_string()),
        ("data.drop_last", loader.drop_last().to_string()),
        ("data.seed", loader.seed().to_string()),
        // Checkpoints written before augmentation existed lack it: read as "[]" (none).
        ("data.transforms", format!("{:?}", loader.transforms())),
    ]
}

fn history_to_string(history: &[EpochReport]) -> String {
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    history
        .iter()
        .map(|r| {
            format!(
                "{},{},{},{},{},{}",
                r.epoch,
                r.train_loss,
                r.samples_per_s,
                r.train_seconds,
                opt(r.test_accuracy),
                opt(r.test_loss)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn history_from_string(s: &str) -> Option<Vec<EpochReport>> {
    let opt = |v: &str| -> Option<Option<f64>> {
        if v.is_empty() {
            Some(None)
        } else {
            v.parse().ok().map(Some)
        }
    };
    s.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 6 {
                return None;
            }
            Some(EpochReport {
                epoch: f[0].parse().ok()?,
                train_loss: f[1].parse().ok()?,
                samples_per_s: f[2].parse().ok()?,
                train_seconds: f[3].parse().ok()?,
                test_accuracy: opt(f[4])?,
                test_loss: opt(f[5])?,
            })
        })
        .collect()
}

/// Writes a resumable checkpoint of `net` at `run` for a run over `loader` (atomically, as
/// [`crate::checkpoint::save`]).
///
/// # Errors
/// [`Error::NonFiniteState`] if a parameter or momentum value is NaN or infinite (the file
/// on disk, the last good checkpoint, is then left as it was); read-back and write errors.
pub fn save<N: Network>(path: &Path, net: &N, run: &RunState, loader: &DataLoader) -> Result<()> {
    let layout = N::LAYOUT;
    let params = net.state().read_params()?;
    let velocity = net.state().read_velocity()?;
    let adam = net.state().read_adam_state()?;
    let mut checked = vec![("parameter", &params), ("momentum buffer", &velocity)];
    if let Some((m, v, _)) = &adam {
        checked.extend([("Adam exp_avg", m), ("Adam exp_avg_sq", v)]);
    }
    for (what, values) in checked {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            let name = layout.param_at(i).map_or("?", |p| p.name);
            return Err(Error::NonFiniteState {
                what: format!("{what} of `{name}`"),
                path: path.to_path_buf(),
            });
        }
    }
    // Parameters and buffers (BatchNorm running statistics, batch counts).
    let mut tensors = net.state_dict()?;
    tensors.extend(
        split_named(&velocity, layout.params)
            .into_iter()
            .map(|t| NamedTensor {
                name: format!("{MOMENTUM_PREFIX}{}{MOMENTUM_SUFFIX}", t.name),
                ..t
            }),
    );
    let mut meta: HashMap<String, String> = HashMap::new();
    if let Some((m, v, step)) = &adam {
        for (values, suffix) in [(m, EXP_AVG_SUFFIX), (v, EXP_AVG_SQ_SUFFIX)] {
            tensors.extend(
                split_named(values, layout.params)
                    .into_iter()
                    .map(|t| NamedTensor {
                        name: state_key(&t.name, suffix),
                        ..t
                    }),
            );
        }
        meta.insert(ADAM_STEP.to_string(), step.to_string());
    }
    let mut put = |k: &str, v: String| {
        meta.insert(k.to_string(), v);
    };
    put("format", FORMAT.to_string());
    put("epoch", run.epoch.to_string());
    put("batches_done", run.batches_done.to_string());
    put("steps", run.steps.to_string());
    put("loss_sum", run.loss_sum.to_string());
    put("samples", run.samples.to_string());
    put("seconds", run.seconds.to_string());
    put("history", history_to_string(&run.history));
    for (k, v) in loader_metadata(loader) {
        put(k, v);
    }
    save_with_metadata(path, &tensors, Some(meta))
}

/// Reads a checkpoint written by [`save`] into `net` (parameters, momentum buffers, step
/// count, and the Adam moments and step when the file has them) and returns where the run
/// stood.
///
/// # Errors
/// [`Error::Checkpoint`] naming the file if it is missing, not a training checkpoint, or was
/// written for other loader settings (each difference listed: checkpoint vs. loader);
/// [`Error::StateDict`] if its tensors do not match the network.
pub fn load<N: Network>(path: &Path, net: &mut N, loader: &DataLoader) -> Result<RunState> {
    let (tensors, meta) = load_with_metadata(path)?;
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(ck_err(
            path,
            "not a training checkpoint (a weights-only file cannot be resumed; load it with \
             `load_state_dict`)",
        ));
    }
    let mismatches: Vec<String> = loader_metadata(loader)
        .into_iter()
        .filter_map(|(k, now)| {
            let then = meta.get(k).map(String::as_str);
            let then = then.or((k == "data.transforms").then_some("[]"));
            match then {
                Some(then) if then == now => None,
                then => Some(format!(
                    "{k}: checkpoint {}, loader {now}",
                    then.unwrap_or("(missing)")
                )),
            }
        })
        .collect();
    if !mismatches.is_empty() {
        return Err(ck_err(
            path,
            format!(
                "written for other data settings; resume with the same data, batch size, \
                 shuffling, seed and transforms:\n  {}",
                mismatches.join("\n  ")
            ),
        ));
    }
    let field = |k: &str| -> Result<&String> {
        meta.get(k)
            .ok_or_else(|| ck_err(path, format!("metadata `{k}` is missing")))
    };
    fn parse<T: std::str::FromStr>(path: &Path, k: &str, v: &str) -> Result<T> {
        v.parse()
            .map_err(|_| ck_err(path, format!("metadata `{k}` = `{v}` is not a number")))
    }
    let run = RunState {
        epoch: parse(path, "epoch", field("epoch")?)?,
        batches_done: parse(path, "batches_done", field("batches_done")?)?,
        steps: parse(path, "steps", field("steps")?)?,
        loss_sum: parse(path, "loss_sum", field("loss_sum")?)?,
        samples: parse(path, "samples", field("samples")?)?,
        seconds: parse(path, "seconds", field("seconds")?)?,
        history: history_from_string(field("history")?)
            .ok_or_else(|| ck_err(path, "metadata `history` is malformed"))?,
    };
    if run.epoch == 0 || run.batches_done > loader.num_batches() {
        return Err(ck_err(
            path,
            format!(
                "position epoch {} batch {} is outside the run ({} batches per epoch)",
                run.epoch,
                run.batches_done,
                loader.num_batches()
            ),
        ));
    }
    let (state, params): (Vec<NamedTensor>, Vec<NamedTensor>) = tensors
        .into_iter()
        .partition(|t| t.name.starts_with(MOMENTUM_PREFIX));
    net.load_state_dict(&params)?;
    let layout = N::LAYOUT;
    let mut problems = Vec::new();
    let velocity = take_state(
        &state,
        layout.params,
        layout.num_params,
        MOMENTUM_SUFFIX,
        &mut problems,
    );
    let adam = match meta.get(ADAM_STEP) {
        None => None,
        Some(step) => {
            let step: u64 = parse(path, ADAM_STEP, step)?;
            let m = take_state(
                &state,
                layout.params,
                layout.num_params,
                EXP_AVG_SUFFIX,
                &mut problems,
            );
            let v = take_state(
                &state,
                layout.params,
                layout.num_params,
                EXP_AVG_SQ_SUFFIX,
                &mut problems,
            );
            Some((m, v, step))
        }
    };
    if !problems.is_empty() {
        return Err(Error::StateDict(problems.join("\n")));
    }
    if let Some((m, v, step)) = adam {
        net.state_mut().write_adam_state(&m, &v, step)?;
    }
    net.state_mut().write_velocity(&velocity, run.steps)?;
    Ok(run)
}
