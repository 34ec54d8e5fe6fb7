//! The macro's entry point on `proc_macro2` streams: parse, infer shapes, plan, emit.
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;

use crate::ir::NetDecl;
use crate::parse::{parse_attr, parse_item, Errors};
use crate::plan::{BlockKind, Plan};
use crate::shape::{infer, Shaped};
use crate::{emit, plan, shape};

/// Expands `#[network(attr)] item`. Never panics on user input: every problem becomes a
/// compile error on the offending token, and a fallback keeps the rest of the crate quiet.
pub fn network(attr: TokenStream, item: TokenStream) -> TokenStream {
    let parsed: syn::Item = match syn::parse2(item.clone()) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = Errors::default();
    let net_attr = parse_attr(attr, &mut errors);
    let layers = parse_item(&parsed, &mut errors);
    let syn::Item::Struct(item_struct) = &parsed else {
        let err = errors.into_error().unwrap_or_else(|| syn::Error::new(parsed.span(), "expected a struct"));
        return err.to_compile_error();
    };
    let Some(net_attr) = net_attr else {
        let err = errors.into_error().expect("parse_attr pushed an error when it returned None");
        return emit::fallback(item_struct, err);
    };
    let decl = NetDecl { attr: net_attr, layers };
    let shapes = infer(&decl, &mut errors);
    let plan = if errors.is_empty() { plan::plan(&decl, &shapes, item_struct.ident.span(), &mut errors) } else { None };
    match (errors.into_error(), plan) {
        (None, Some(plan)) => {
            let summary = summary(&decl, &shapes, &plan, &item_struct.ident.to_string());
            let out = emit::emit(item_struct, &plan, &summary);
            if decl.attr.print || std::env::var_os("CUBENET_PRINT").is_some_and(|v| v == "1" || v == item_struct.ident.to_string().as_str()) {
                eprintln!("{summary}");
                eprintln!("---- generated code ----\n{}", pretty(&out));
            }
            out
        }
        (Some(err), _) => emit::fallback(item_struct, err),
        (None, None) => emit::fallback(item_struct, syn::Error::new(item_struct.ident.span(), "cubenet could not plan this network")),
    }
}

/// The generated code, one item per line group (readable without rustfmt).
fn pretty(ts: &TokenStream) -> String {
    let s = ts.to_token_stream().to_string();
    s.replace(" ; ", ";\n").replace("{ ", "{\n").replace(" }", "\n}")
}

/// The printout: every layer's shape, the fusion plan, launches per step, buffer sizes.
pub fn summary(decl: &NetDecl, shapes: &[Option<Shaped>], plan: &Plan, name: &str) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let [c, h, w] = decl.attr.input;
    let _ = writeln!(s, "network {name}: input {} x {} x {} (C x H x W)", c.value, h.value, w.value);
    let _ = writeln!(s, "layers:");
    for (layer, shaped) in decl.layers.iter().zip(shapes) {
        if let Some(sh) = shaped {
            let _ = writeln!(s, "  {:<10} {:<10} {:>14} -> {}", layer.name.to_string(), layer.kind.type_name(), sh.input.to_string(), sh.output);
        }
    }
    let _ = writeln!(s, "parameters: {} floats ({} tensors)", plan.num_params, plan.blocks.iter().map(|b| 1 + usize::from(b.has_bias())).sum::<usize>());
    let _ = writeln!(s, "fused blocks:");
    for (i, b) in plan.blocks.iter().enumerate() {
        let kind = match b.kind {
            BlockKind::Conv(_) => "conv",
            BlockKind::Linear(_) if i + 1 == plan.blocks.len() => "head (+ softmax cross-entropy)",
            BlockKind::Linear(_) => "linear",
        };
        let _ = writeln!(s, "  B{i} {kind}: {}", b.layers.join(" + "));
    }
    let describe = |jobs: &[crate::plan::Job]| -> String {
        jobs.iter()
            .map(|j| match *j {
                crate::plan::Job::Forward(i) => format!("forward B{i}"),
                crate::plan::Job::Head => "head: logits, loss, d(logits), d(input)".to_string(),
                crate::plan::Job::InputGrad(i) => format!("input grad B{i}"),
                crate::plan::Job::WeightGrad(i) => format!("weight grad + SGD B{i}"),
            })
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let _ = writeln!(s, "training step: {} kernel launches", plan.train.len());
    for (i, k) in plan.train.iter().enumerate() {
        let _ = writeln!(s, "  {}. {:<22} {}", i + 1, k.name, describe(&k.jobs));
    }
    let _ = writeln!(s, "evaluation: {} kernel launches", plan.eval.len());
    let _ = writeln!(
        s,
        "buffers: params/velocity/grads {} floats each; acts {} floats and idx {} u32 per sample",
        plan.num_params, plan.acts_per_sample, plan.idx_per_sample
    );
    let macs: usize = plan.blocks.iter().map(|b| b.forward_macs()).sum();
    let _ = write!(s, "multiply-adds per sample: forward {macs}, training step ~{}", 3 * macs);
    let _ = shape::Shape::Flat(0);
    s
}
