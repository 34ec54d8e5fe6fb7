//! The printout of a network (`#[network(.., print)]`, `CUBENET_PRINT=1`, `SUMMARY`): every
//! layer's shape, the fusion plan, launches per step, buffer sizes; and the generated code
//! formatted.
use proc_macro2::TokenStream;
use quote::ToTokens;

use crate::ir::LossDecl;
use crate::layers::NetDecl;
use crate::plan::{Job, Plan};
use crate::shape::Shaped;

/// The generated code formatted by `prettyplease` (as rustfmt would, roughly).
pub fn pretty(ts: &TokenStream) -> String {
    match syn::parse2::<syn::File>(ts.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => ts.to_token_stream().to_string(),
    }
}

/// The printout: every layer's shape, the fusion plan, launches per step, buffer sizes.
pub fn summary(decl: &NetDecl, shapes: &[Option<Shaped>], plan: &Plan, name: &str) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let [c, h, w] = decl.attr.input;
    let _ = writeln!(
        s,
        "network {name}: input {} x {} x {} (C x H x W)",
        c.value, h.value, w.value
    );
    let _ = writeln!(s, "layers:");
    // Columns as wide as their longest entry (at least 10, 10 and 14 characters), so that a
    // long name or type (`AdaptiveAvgPool2d`) does not push its row out of line.
    let rows: Vec<[String; 4]> = decl
        .layers
        .iter()
        .zip(shapes)
        .filter_map(|(layer, shaped)| {
            let sh = shaped.as_ref()?;
            Some([
                layer.name.to_string(),
                layer.kind.ty().map_or("?", |t| t.name()).to_string(),
                sh.input.to_string(),
                sh.output.to_string(),
            ])
        })
        .collect();
    let width = |col: usize, min: usize| {
        rows.iter()
            .map(|r| r[col].chars().count())
            .max()
            .unwrap_or(0)
            .max(min)
    };
    let (wn, wt, wi) = (width(0, 10), width(1, 10), width(2, 14));
    for [name, ty, input, output] in &rows {
        let _ = writeln!(s, "  {name:<wn$} {ty:<wt$} {input:>wi$} -> {output}");
    }
    let _ = writeln!(
        s,
        "parameters: {} floats ({} tensors)",
        plan.num_params,
        plan.blocks
            .iter()
            .filter_map(|b| b.op.params())
            .map(|p| 1 + usize::from(p.bias.is_some()))
            .sum::<usize>()
    );
    let _ = writeln!(s, "fused blocks:");
    let head = match plan.loss {
        LossDecl::CrossEntropy { label_smoothing } if label_smoothing > 0.0 => {
            format!("head (+ softmax cross-entropy, label_smoothing {label_smoothing})")
        }
        LossDecl::CrossEntropy { .. } => "head (+ softmax cross-entropy)".to_string(),
        LossDecl::Mse => "head (+ MSE)".to_string(),
        LossDecl::BceWithLogits => "head (+ BCE with logits)".to_string(),
    };
    for (i, b) in plan.blocks.iter().enumerate() {
        let kind = if i + 1 == plan.blocks.len() {
            head.as_str()
        } else {
            b.op.label()
        };
        let _ = writeln!(s, "  B{i} {kind}: {}", b.layers.join(" + "));
    }
    let describe = |jobs: &[Job]| -> String {
        jobs.iter()
            .map(|j| match *j {
                Job::Block(i, phase) => format!("{} B{i}", phase.describe()),
                Job::Head => "head: logits, loss, d(logits), d(input)".to_string(),
            })
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let _ = writeln!(s, "training step: {} kernel launches", plan.train.len());
    // Numbers right-aligned, so that the names line up past 9 kernels.
    let w = plan.train.len().to_string().len();
    for (i, k) in plan.train.iter().enumerate() {
        let _ = writeln!(s, "  {:>w$}. {:<22} {}", i + 1, k.name, describe(&k.jobs));
    }
    let _ = writeln!(s, "evaluation: {} kernel launches", plan.eval.len());
    let _ = writeln!(
        s,
        "buffers: params/velocity/grads {} floats each; acts {} floats and idx {} u32 per sample",
        plan.num_params, plan.acts_per_sample, plan.idx_per_sample
    );
    let macs = plan
        .blocks
        .iter()
        .fold(0usize, |a, b| a.saturating_add(b.op.forward_macs()));
    let _ = write!(
        s,
        "multiply-adds per sample: forward {macs}, training step ~{}",
        macs.saturating_mul(3)
    );
    s
}
