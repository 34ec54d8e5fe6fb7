//! The `Layout` the runtime reads: every parameter and buffer with its `state_dict` key,
//! shape and offset, and where each block's output lives.
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::plan::{param_order, Plan};

/// `::cubenet::__private::Layout { .. }` of `plan`.
pub fn layout(plan: &Plan) -> TokenStream {
    let blocks = &plan.blocks;
    let order = param_order(blocks);
    let params: Vec<TokenStream> = order
        .iter()
        .map(|&i| &blocks[i])
        .filter_map(|b| Some((b, b.op.params()?)))
        .flat_map(|(b, p)| {
            let mut v = Vec::new();
            let wname = format!("{}.weight", b.name);
            let (wshape, w_off, fan_in) = (&p.weight, b.w_off, p.fan_in);
            let (winit, binit) = (format_ident!("{}", p.init.0), format_ident!("{}", p.init.1));
            v.push(quote!(::cubenet::__private::ParamInfo { name: #wname, shape: &[#(#wshape),*], offset: #w_off, fan_in: #fan_in, init: ::cubenet::__private::Init::#winit }));
            if let Some(blen) = p.bias {
                let bname = format!("{}.bias", b.name);
                let b_off = b.b_off;
                v.push(quote!(::cubenet::__private::ParamInfo { name: #bname, shape: &[#blen], offset: #b_off, fan_in: #fan_in, init: ::cubenet::__private::Init::#binit }));
            }
            v
        })
        .collect();
    let block_infos: Vec<TokenStream> = blocks
        .iter()
        .map(|b| {
            let name = &b.name;
            let (out_act, out_grad, out_len) = (b.out_act, b.out_grad, b.op.out_len());
            let argmax = if b.op.pooled() {
                let a = b.argmax;
                quote!(::core::option::Option::Some(#a))
            } else {
                quote!(::core::option::Option::None)
            };
            quote!(::cubenet::__private::BlockInfo { name: #name, out_act: #out_act, out_grad: #out_grad, out_len: #out_len, argmax_idx: #argmax })
        })
        .collect();
    let with_stats: Vec<_> = order
        .iter()
        .map(|&i| &blocks[i])
        .filter_map(|b| Some((b, b.op.running_stats()?)))
        .collect();
    let buffers: Vec<TokenStream> = with_stats
        .iter()
        .map(|(b, c)| {
            let (rm, rv) = (b.rm_off, b.rv_off);
            let (mname, vname) = (format!("{}.running_mean", b.name), format!("{}.running_var", b.name));
            quote! {
                ::cubenet::__private::BufferInfo { name: #mname, shape: &[#c], offset: #rm, init: 0.0 },
                ::cubenet::__private::BufferInfo { name: #vname, shape: &[#c], offset: #rv, init: 1.0 },
            }
        })
        .collect();
    let batch_norms: Vec<&str> = with_stats.iter().map(|(b, _)| b.name.as_str()).collect();
    let [c, h, w] = plan.input_shape;
    let (classes, num_params, num_bufs, min_train_batch) = (
        plan.classes,
        plan.num_params,
        plan.num_bufs,
        plan.min_train_batch,
    );
    let (acts_per_sample, idx_per_sample, input_act, loss_act) = (
        plan.acts_per_sample,
        plan.idx_per_sample,
        plan.input_act,
        plan.loss_act,
    );
    let logits_act = blocks[blocks.len() - 1].out_act;
    let (label_idx, correct_idx) = (plan.label_idx, plan.correct_idx);
    let (loss, target_act) = (super::loss_tokens(plan.loss), plan.target_act);
    let (part_a, part_b) = (plan.part_a, plan.part_b);
    let dropout = blocks.iter().any(|b| b.op.cfg_type() == "DropoutCfg");
    quote! {
        ::cubenet::__private::Layout {
            input_shape: [#c, #h, #w],
            classes: #classes,
            params: &[#(#params),*],
            num_params: #num_params,
            blocks: &[#(#block_infos),*],
            acts_per_sample: #acts_per_sample,
            idx_per_sample: #idx_per_sample,
            input_act: #input_act,
            loss_act: #loss_act,
            loss: #loss,
            target_act: #target_act,
            logits_act: #logits_act,
            label_idx: #label_idx,
            correct_idx: #correct_idx,
            buffers: &[#(#buffers)*],
            num_bufs: #num_bufs,
            batch_norms: &[#(#batch_norms),*],
            min_train_batch: #min_train_batch,
            dropout: #dropout,
            part_a: #part_a,
            part_b: #part_b,
        }
    }
}
