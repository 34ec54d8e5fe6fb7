//! What a batch is trained or evaluated against: class indices (cross-entropy) or f32 values
//! (MSE, BCE with logits), borrowed for one upload.
use cubenet_kernels::Loss;

use crate::error::{Error, Result};

/// The targets of a batch of `n` rows, as the network's loss expects them:
/// - [`BatchTargets::Classes`]: `n` class indices `< classes` (`#[network(loss = cross_entropy)]`,
///   the default; PyTorch's `nn.CrossEntropyLoss` with an integer target);
/// - [`BatchTargets::Values`]: `n x classes` f32 values, row-major (`loss = mse`: any finite values;
///   `loss = bce_with_logits`: probabilities in [0, 1], as `nn.BCEWithLogitsLoss`).
///
/// Built from a slice with `.into()`: `&[u32]` / `&Vec<u32>` are class indices, `&[f32]` /
/// `&Vec<f32>` are values, so `net.train_step(&x, &labels, &sgd)` reads as in PyTorch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BatchTargets<'a> {
    /// One class index per row.
    Classes(&'a [u32]),
    /// `classes` values per row, row-major.
    Values(&'a [f32]),
}

impl<'a> From<&'a [u32]> for BatchTargets<'a> {
    fn from(labels: &'a [u32]) -> Self {
        BatchTargets::Classes(labels)
    }
}
impl<'a> From<&'a Vec<u32>> for BatchTargets<'a> {
    fn from(labels: &'a Vec<u32>) -> Self {
        BatchTargets::Classes(labels)
    }
}
impl<'a, const N: usize> From<&'a [u32; N]> for BatchTargets<'a> {
    fn from(labels: &'a [u32; N]) -> Self {
        BatchTargets::Classes(labels)
    }
}
impl<'a> From<&'a [f32]> for BatchTargets<'a> {
    fn from(values: &'a [f32]) -> Self {
        BatchTargets::Values(values)
    }
}
impl<'a> From<&'a Vec<f32>> for BatchTargets<'a> {
    fn from(values: &'a Vec<f32>) -> Self {
        BatchTargets::Values(values)
    }
}
impl<'a, const N: usize> From<&'a [f32; N]> for BatchTargets<'a> {
    fn from(values: &'a [f32; N]) -> Self {
        BatchTargets::Values(values)
    }
}

/// The name of `loss` as written in `#[network(loss = ...)]`.
pub fn loss_name(loss: Loss) -> &'static str {
    match loss {
        Loss::CrossEntropy { .. } => "cross_entropy",
        Loss::Mse => "mse",
        Loss::BceWithLogits => "bce_with_logits",
    }
}

impl BatchTargets<'_> {
    /// Checks the targets of `n` rows against `loss` with `classes` outputs per row.
    ///
    /// # Errors
    /// [`Error::Shape`] naming the loss and the expected kind and shape when the kind or the
    /// length is wrong; [`Error::Label`] for a class index `>= classes`; [`Error::Shape`] for a
    /// non-finite value (or, for BCE, one outside [0, 1]), naming the row and column.
    pub fn check(&self, loss: Loss, n: usize, classes: usize) -> Result<()> {
        let name = loss_name(loss);
        match (self, loss.takes_classes()) {
            (BatchTargets::Classes(l), true) => {
                if l.len() != n {
                    return Err(Error::Shape(format!(
                        "{} labels for {n} images (loss `{name}` takes one class index per row)",
                        l.len()
                    )));
                }
                if let Some((sample, &label)) =
                    l.iter().enumerate().find(|(_, &l)| l as usize >= classes)
                {
                    return Err(Error::Label {
                        sample,
                        label,
                        classes,
                    });
                }
                Ok(())
            }
            (BatchTargets::Values(v), false) => {
                if v.len() != n * classes {
                    return Err(Error::Shape(format!(
                        "{} target values for {n} rows: loss `{name}` takes n x {classes} = {} f32 values (one per output, row-major)",
                        v.len(),
                        n * classes
                    )));
                }
                let bce = matches!(loss, Loss::BceWithLogits);
                if let Some((k, &y)) = v
                    .iter()
                    .enumerate()
                    .find(|(_, y)| !y.is_finite() || (bce && !(0.0..=1.0).contains(*y)))
                {
                    let rule = if bce {
                        "a probability in [0, 1]"
                    } else {
                        "finite"
                    };
                    return Err(Error::Shape(format!(
                        "target [{}, {}] is {y}: loss `{name}` needs every target {rule}",
                        k / classes,
                        k % classes
                    )));
                }
                Ok(())
            }
            (BatchTargets::Classes(_), false) => Err(Error::Shape(format!(
                "this network's loss is `{name}`, which takes f32 targets (n x {classes} values, one per output), not class indices: pass a &[f32] (or a dataset with value targets)"
            ))),
            (BatchTargets::Values(_), true) => Err(Error::Shape(format!(
                "this network's loss is `{name}`, which takes one class index per row (&[u32], < {classes}), not f32 values; for value targets declare `#[network(loss = mse)]` or `loss = bce_with_logits`"
            ))),
        }
    }
}
