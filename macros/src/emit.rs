//! Code generation: the struct, its `Network` impl, and the fused `#[cube]` kernels.
//!
//! Generated code names only `::cubenet::__private::…` paths; the kernels live in a hidden
//! module per network that imports cubecl from there.
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use syn::ItemStruct;

use crate::ir::Activation;
use crate::plan::{Block, BlockKind, Job, Kernel, Plan};

/// The kernels' comptime `Act` of a block's activation (a LeakyRelu's slope as f32 bits).
fn act_tokens(act: Option<Activation>) -> TokenStream {
    match act {
        None => quote!(Act::None),
        Some(Activation::Relu) => quote!(Act::Relu),
        Some(Activation::Tanh) => quote!(Act::Tanh),
        Some(Activation::Sigmoid) => quote!(Act::Sigmoid),
        Some(Activation::LeakyRelu(slope)) => {
            let bits = slope.to_bits();
            quote!(Act::LeakyRelu(#bits))
        }
        Some(Activation::Gelu { tanh: false }) => quote!(Act::Gelu),
        Some(Activation::Gelu { tanh: true }) => quote!(Act::GeluTanh),
    }
}

fn largest_divisor(n: usize, candidates: &[usize]) -> usize {
    candidates
        .iter()
        .copied()
        .find(|&c| n.is_multiple_of(c))
        .unwrap_or(1)
}

fn cfg_ident(i: usize) -> Ident {
    format_ident!("B{}", i)
}

/// The comptime configuration constant of block `i`.
fn block_const(i: usize, b: &Block) -> TokenStream {
    let name = cfg_ident(i);
    let (w_off, b_off, in_act, out_act, in_grad, out_grad, argmax) = (
        b.w_off, b.b_off, b.in_act, b.out_act, b.in_grad, b.out_grad, b.argmax,
    );
    let pre_act = b.pre_act;
    let act = act_tokens(b.act());
    match &b.kind {
        BlockKind::Conv(c) => {
            let (c_in, h_in, w_in, c_out) = (c.c_in, c.h_in, c.w_in, c.c_out);
            let ((kh, kw), (sh, sw), (ph, pw), (dh, dw)) = (c.k, c.s, c.p, c.d);
            let (h_conv, w_conv) = c.conv_hw;
            let (h_out, w_out) = c.out_hw;
            let bias = c.bias;
            let pool = c.pool.is_some();
            let ((pkh, pkw), (psh, psw), (pph, ppw)) = c.pool.unwrap_or(((1, 1), (1, 1), (0, 0)));
            let ocb = largest_divisor(c_out, &[16, 12, 8, 6, 4, 3, 2, 1]);
            let (accumulate, add_skip_grad, skip_grad) =
                (b.accumulate, b.skip_grad.is_some(), b.skip_grad_off);
            quote! {
                pub const #name: ConvCfg = ConvCfg {
                    c_in: #c_in, h_in: #h_in, w_in: #w_in, c_out: #c_out,
                    kh: #kh, kw: #kw, sh: #sh, sw: #sw, ph: #ph, pw: #pw, dh: #dh, dw: #dw,
                    h_conv: #h_conv, w_conv: #w_conv, act: #act, pool: #pool,
                    pkh: #pkh, pkw: #pkw, psh: #psh, psw: #psw, pph: #pph, ppw: #ppw,
                    h_out: #h_out, w_out: #w_out, bias: #bias, w_off: #w_off, b_off: #b_off,
                    in_act: #in_act, out_act: #out_act, in_grad: #in_grad, out_grad: #out_grad,
                    pre_act: #pre_act, argmax: #argmax, ocb: #ocb,
                    accumulate: #accumulate, add_skip_grad: #add_skip_grad, skip_grad: #skip_grad,
                };
            }
        }
        BlockKind::Norm(nb) => {
            let (c, h, w) = (nb.c, nb.h, nb.w);
            let (eps, momentum) = (nb.eps.to_bits(), nb.momentum.to_bits());
            let pool = nb.pool.is_some();
            let ((pkh, pkw), (psh, psw), (pph, ppw)) = nb.pool.unwrap_or(((1, 1), (1, 1), (0, 0)));
            let (h_out, w_out) = nb.out_hw;
            let (rm_off, rv_off, stat, gstat, dy) = (b.rm_off, b.rv_off, b.stat, b.gstat, b.dy);
            let input_grad = b.needs_input_grad(i);
            let (skip, skip_act) = (b.skip.is_some(), b.skip_act);
            quote! {
                pub const #name: NormCfg = NormCfg {
                    c: #c, h: #h, w: #w, eps: #eps, momentum: #momentum, act: #act, pool: #pool,
                    pkh: #pkh, pkw: #pkw, psh: #psh, psw: #psw, pph: #pph, ppw: #ppw,
                    h_out: #h_out, w_out: #w_out, g_off: #w_off, b_off: #b_off,
                    rm_off: #rm_off, rv_off: #rv_off, in_act: #in_act, out_act: #out_act,
                    in_grad: #in_grad, out_grad: #out_grad, argmax: #argmax, stat: #stat,
                    gstat: #gstat, dy: #dy, skip: #skip, skip_act: #skip_act, input_grad: #input_grad,
                };
            }
        }
        BlockKind::Dropout(d) => {
            let len = d.len;
            let (threshold, scale, salt) = crate::plan::dropout_fields(d.p, d.ordinal);
            quote! {
                pub const #name: DropoutCfg = DropoutCfg {
                    len: #len, threshold: #threshold, scale: #scale, salt: #salt,
                    in_act: #in_act, out_act: #out_act, in_grad: #in_grad, out_grad: #out_grad,
                };
            }
        }
        BlockKind::AvgPool(a) => {
            let (c, h_in, w_in) = (a.c, a.h_in, a.w_in);
            let (h_out, w_out) = a.out_hw;
            let ((kh, kw), (sh, sw), (ph, pw)) = a.window;
            let (adaptive, count_include_pad) = (a.adaptive, a.count_include_pad);
            quote! {
                pub const #name: AvgPoolCfg = AvgPoolCfg {
                    c: #c, h_in: #h_in, w_in: #w_in, h_out: #h_out, w_out: #w_out,
                    kh: #kh, kw: #kw, sh: #sh, sw: #sw, ph: #ph, pw: #pw,
                    adaptive: #adaptive, count_include_pad: #count_include_pad,
                    in_act: #in_act, out_act: #out_act, in_grad: #in_grad, out_grad: #out_grad,
                };
            }
        }
        BlockKind::Linear(l) => {
            let (in_f, out_f, bias) = (l.in_f, l.out_f, l.bias);
            let ob = largest_divisor(out_f, &[4, 2, 1]);
            let ib = largest_divisor(in_f, &[4, 2, 1]);
            quote! {
                pub const #name: LinearCfg = LinearCfg {
                    in_f: #in_f, out_f: #out_f, act: #act, bias: #bias, w_off: #w_off, b_off: #b_off,
                    in_act: #in_act, out_act: #out_act, in_grad: #in_grad, out_grad: #out_grad,
                    pre_act: #pre_act, rb: 4, ob: #ob, ib: #ib,
                };
            }
        }
    }
}

/// Host expression for the number of units of `job`.
fn units_expr(job: Job) -> TokenStream {
    match job {
        Job::Forward(i) => {
            let c = cfg_ident(i);
            quote!(#c.forward_units(n))
        }
        Job::Head => quote!(n),
        Job::Stats(i) | Job::NormGrad(i) => {
            let c = cfg_ident(i);
            quote!(#c.units(n))
        }
        Job::InputGrad(i) => {
            let c = cfg_ident(i);
            quote!(#c.input_grad_units(n))
        }
        Job::WeightGrad(i) => {
            let c = cfg_ident(i);
            quote!(#c.weight_grad_units())
        }
    }
}

/// Host expression bounding the loop iterations of one unit of `job` (see
/// `cubenet_kernels::LOOP_LIMIT`), and what the job is, for error messages.
fn loop_expr(job: Job, blocks: &[Block], train: bool) -> (TokenStream, String) {
    let name = |i: usize| blocks[i].name.clone();
    let norm = |i: usize| matches!(blocks[i].kind, BlockKind::Norm(_));
    let elementwise = |i: usize| matches!(blocks[i].kind, BlockKind::Dropout(_));
    match job {
        Job::Forward(i) if elementwise(i) => (quote!(0usize), String::new()),
        Job::InputGrad(i) if elementwise(i) => (quote!(0usize), String::new()),
        Job::Forward(i) if norm(i) => {
            let c = cfg_ident(i);
            (
                quote!(#c.forward_loop_iterations(n, #train)),
                format!("the forward pass of `{}`", name(i)),
            )
        }
        Job::Stats(i) => {
            let c = cfg_ident(i);
            (
                quote!(#c.stats_loop_iterations()),
                format!("the batch statistics of `{}`", name(i)),
            )
        }
        Job::NormGrad(i) => {
            let c = cfg_ident(i);
            (
                quote!(#c.grad_loop_iterations(n)),
                format!("the backward pass of `{}`", name(i)),
            )
        }
        Job::InputGrad(i) if norm(i) => {
            let c = cfg_ident(i);
            (
                quote!(#c.input_grad_loop_iterations(n)),
                format!("the input gradient of `{}`", name(i)),
            )
        }
        Job::Forward(i) => {
            let c = cfg_ident(i);
            (
                quote!(#c.forward_loop_iterations()),
                format!("the forward pass of `{}`", name(i)),
            )
        }
        Job::Head => (
            quote!(HEAD.loop_iterations(#train)),
            format!("the loss head (`{}`)", name(blocks.len() - 1)),
        ),
        Job::InputGrad(i) => {
            let c = cfg_ident(i);
            (
                quote!(#c.input_grad_loop_iterations()),
                format!("the input gradient of `{}`", name(i)),
            )
        }
        Job::WeightGrad(i) => {
            let c = cfg_ident(i);
            (
                quote!(#c.weight_grad_loop_iterations(n)),
                format!("the weight gradient of `{}`", name(i)),
            )
        }
    }
}

/// Body of `Network::max_loop_iterations`: the largest per-unit loop count of any job of the
/// training (or evaluation) kernels, with its description.
fn max_loops_body(plan: &Plan, module: &Ident) -> TokenStream {
    let arms = |kernels: &[Kernel], train: bool| -> Vec<TokenStream> {
        kernels
            .iter()
            .flat_map(|k| k.jobs.iter())
            .map(|j| {
                let (e, what) = loop_expr(*j, &plan.blocks, train);
                quote!(let it = #e; if it > best.0 { best = (it, #what); })
            })
            .collect()
    };
    let train = arms(&plan.train, true);
    let eval = arms(&plan.eval, false);
    quote! {
        use #module::*;
        let mut best: (usize, &'static str) = (0, "");
        if train { #(#train)* } else { #(#eval)* }
        best
    }
}

/// Device statement running unit `u` of `job`.
fn job_call(job: Job, blocks: &[Block], train: bool) -> TokenStream {
    match job {
        Job::Forward(i) => {
            let c = cfg_ident(i);
            match blocks[i].kind {
                BlockKind::Conv(_) => quote!(conv_forward_unit(params, acts, idx, u, #c, cap);),
                BlockKind::Linear(_) => quote!(linear_forward_unit(params, acts, u, #c, n, cap);),
                BlockKind::Norm(_) => {
                    quote!(norm_forward_unit(params, acts, idx, bufs, u, #train, #c, n, cap);)
                }
                BlockKind::Dropout(_) => {
                    quote!(dropout_forward_unit(acts, u, seed, #train, #c, cap);)
                }
                BlockKind::AvgPool(_) => quote!(avg_pool_forward_unit(acts, u, #c, cap);),
            }
        }
        Job::Stats(i) => {
            let c = cfg_ident(i);
            quote!(norm_stats_unit(acts, u, #c, cap);)
        }
        Job::NormGrad(i) => {
            let c = cfg_ident(i);
            quote!(norm_grad_unit(params, acts, idx, u, #c, n, cap);)
        }
        Job::Head => quote!(head_unit(params, acts, idx, u, HEAD, #train, n, cap);),
        Job::InputGrad(i) => {
            let c = cfg_ident(i);
            match blocks[i].kind {
                BlockKind::Conv(_) => quote!(conv_input_grad_unit(params, acts, idx, u, #c, cap);),
                BlockKind::Linear(_) => {
                    quote!(linear_input_grad_unit(params, acts, u, #c, n, cap);)
                }
                BlockKind::Norm(_) => quote!(norm_input_grad_unit(params, acts, u, #c, n, cap);),
                BlockKind::Dropout(_) => quote!(dropout_input_grad_unit(acts, u, seed, #c, cap);),
                BlockKind::AvgPool(_) => quote!(avg_pool_input_grad_unit(acts, u, #c, cap);),
            }
        }
        Job::WeightGrad(i) => {
            let c = cfg_ident(i);
            match blocks[i].kind {
                BlockKind::Conv(_) => {
                    quote!(conv_weight_grad_unit(params, velocity, grads, acts, idx, u, lr, momentum, dampening, weight_decay, flags, #c, n, cap);)
                }
                BlockKind::Linear(_) => {
                    quote!(linear_weight_grad_unit(params, velocity, grads, acts, u, lr, momentum, dampening, weight_decay, flags, #c, n, cap);)
                }
                BlockKind::Norm(_) => {
                    quote!(norm_weight_grad_unit(params, velocity, grads, acts, u, lr, momentum, dampening, weight_decay, flags, #c, n, cap);)
                }
                // `plan` schedules no weight gradient for a block without parameters.
                BlockKind::Dropout(_) | BlockKind::AvgPool(_) => quote!(),
            }
        }
    }
}

/// A fused kernel: the unit ranges of its jobs laid end to end over `ABSOLUTE_POS`.
fn kernel_fn(k: &Kernel, blocks: &[Block], train: bool) -> TokenStream {
    let name = format_ident!("{}", k.name);
    let ends: Vec<Ident> = (0..k.jobs.len()).map(|j| format_ident!("e{}", j)).collect();
    let mut decls = Vec::new();
    for (j, job) in k.jobs.iter().enumerate() {
        let units = units_expr(*job);
        let end = &ends[j];
        if j == 0 {
            decls.push(quote!(let #end = comptime!(#units);));
        } else {
            let prev = &ends[j - 1];
            decls.push(quote!(let #end = comptime!(#prev + #units);));
        }
    }
    // Nested if/else, built from the last job backwards.
    let mut body = quote!();
    for (j, job) in k.jobs.iter().enumerate().rev() {
        let call = job_call(*job, blocks, train);
        let end = &ends[j];
        let unit = if j == 0 {
            quote!(let u = pos;)
        } else {
            let prev = &ends[j - 1];
            quote!(let u = pos - #prev;)
        };
        body = if j + 1 == k.jobs.len() {
            quote!(if pos < #end { #unit #call })
        } else {
            quote!(if pos < #end { #unit #call } else { #body })
        };
    }
    quote! {
        #[allow(unused, clippy::all)]
        #[cube(launch_unchecked)]
        pub fn #name(
            params: &mut [f32],
            velocity: &mut [f32],
            grads: &mut [f32],
            acts: &mut [f32],
            idx: &mut [u32],
            bufs: &mut [f32],
            lr: f32,
            momentum: f32,
            dampening: f32,
            weight_decay: f32,
            flags: u32,
            seed: u32,
            #[comptime] n: usize,
            #[comptime] cap: usize,
        ) {
            let pos = ABSOLUTE_POS;
            #(#decls)*
            #body
        }
    }
}

/// Host code launching kernel `k`.
fn launch_stmt(k: &Kernel, module: &Ident) -> TokenStream {
    let name = format_ident!("{}", k.name);
    let kname = k.name.as_str();
    let units: Vec<TokenStream> = k.jobs.iter().map(|j| units_expr(*j)).collect();
    quote! {
        {
            use #module::*;
            let units = 0usize #(+ #units)*;
            let (count, dim) = state.grid(units);
            // SAFETY: the arena lengths come from the same layout the kernel indexes with,
            // and every unit index is bounded by the job's unit count.
            state.before_launch();
            unsafe {
                let [p, v, g, ac, ix, bf] = state.args();
                #module::#name::launch_unchecked(
                    state.client(), count, dim, p, v, g, ac, ix, bf,
                    args.lr, args.momentum, args.dampening, args.weight_decay, args.flags,
                    state.launch_seed(), n, cap,
                );
            }
            state.after_launch(#kname);
        }
    }
}

/// The whole expansion for a valid network.
pub fn emit(item: &ItemStruct, plan: &Plan, summary: &str) -> TokenStream {
    let vis = &item.vis;
    let ident = &item.ident;
    let attrs: Vec<_> = item
        .attrs
        .iter()
        .filter(|a| !a.path().is_ident("network"))
        .collect();
    let module = format_ident!("__cubenet_{}", ident.to_string().to_lowercase());
    let blocks = &plan.blocks;
    let k = blocks.len();
    let consts: Vec<TokenStream> = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| block_const(i, b))
        .collect();
    let head_cfg = cfg_ident(k - 1);
    let (loss_act, label_idx, correct_idx) = (plan.loss_act, plan.label_idx, plan.correct_idx);
    let input_grad = k >= 2;
    let train_kernels: Vec<TokenStream> = plan
        .train
        .iter()
        .map(|kr| kernel_fn(kr, blocks, true))
        .collect();
    // Eval kernels that differ from the training ones (the head, norm and dropout blocks).
    let eval_only: Vec<TokenStream> = plan
        .eval
        .iter()
        .filter(|kr| !plan.train.iter().any(|t| t.name == kr.name))
        .map(|kr| kernel_fn(kr, blocks, false))
        .collect();
    let train_forward = plan.train_forward;
    let train_launches: Vec<TokenStream> = plan
        .train
        .iter()
        .enumerate()
        .map(|(i, kr)| {
            let launch = launch_stmt(kr, &module);
            quote! { #i => #launch, }
        })
        .collect();
    let train_names: Vec<&str> = plan.train.iter().map(|kr| kr.name.as_str()).collect();
    let eval_launches: Vec<TokenStream> = plan
        .eval
        .iter()
        .map(|kr| launch_stmt(kr, &module))
        .collect();
    let eval_head_launch = eval_launches.last().cloned().unwrap_or_default();

    let order = crate::plan::param_order(blocks);
    let params: Vec<TokenStream> = order
        .iter()
        .map(|&i| &blocks[i])
        .flat_map(|b| {
            let mut v = Vec::new();
            let wname = format!("{}.weight", b.name);
            let wshape = b.weight_shape();
            let (w_off, fan_in) = (b.w_off, b.fan_in());
            if !b.has_params() {
                return v;
            }
            // torch.nn.BatchNorm's reset_parameters: weight 1, bias 0.
            let (winit, binit) = if matches!(b.kind, BlockKind::Norm(_)) {
                (quote!(::cubenet::__private::Init::Ones), quote!(::cubenet::__private::Init::Zeros))
            } else {
                (quote!(::cubenet::__private::Init::Uniform), quote!(::cubenet::__private::Init::Uniform))
            };
            v.push(quote!(::cubenet::__private::ParamInfo { name: #wname, shape: &[#(#wshape),*], offset: #w_off, fan_in: #fan_in, init: #winit }));
            if b.has_bias() {
                let bname = format!("{}.bias", b.name);
                let blen = b.out_len_channels();
                let b_off = b.b_off;
                v.push(quote!(::cubenet::__private::ParamInfo { name: #bname, shape: &[#blen], offset: #b_off, fan_in: #fan_in, init: #binit }));
            }
            v
        })
        .collect();
    let block_infos: Vec<TokenStream> = blocks
        .iter()
        .map(|b| {
            let name = &b.name;
            let (out_act, out_grad, out_len) = (b.out_act, b.out_grad, b.out_len());
            let argmax = match &b.kind {
                BlockKind::Conv(c) if c.pool.is_some() => {
                    let a = b.argmax;
                    quote!(::core::option::Option::Some(#a))
                }
                BlockKind::Norm(nb) if nb.pool.is_some() => {
                    let a = b.argmax;
                    quote!(::core::option::Option::Some(#a))
                }
                _ => quote!(::core::option::Option::None),
            };
            quote!(::cubenet::__private::BlockInfo { name: #name, out_act: #out_act, out_grad: #out_grad, out_len: #out_len, argmax_idx: #argmax })
        })
        .collect();
    let buffers: Vec<TokenStream> = order
        .iter()
        .map(|&i| &blocks[i])
        .filter_map(|b| match &b.kind {
            BlockKind::Norm(nb) => {
                let (c, rm, rv) = (nb.c, b.rm_off, b.rv_off);
                let (mname, vname) = (format!("{}.running_mean", b.name), format!("{}.running_var", b.name));
                Some(quote! {
                    ::cubenet::__private::BufferInfo { name: #mname, shape: &[#c], offset: #rm, init: 0.0 },
                    ::cubenet::__private::BufferInfo { name: #vname, shape: &[#c], offset: #rv, init: 1.0 },
                })
            }
            _ => None,
        })
        .collect();
    let batch_norms: Vec<String> = order
        .iter()
        .map(|&i| &blocks[i])
        .filter(|b| matches!(b.kind, BlockKind::Norm(_)))
        .map(|b| b.name.clone())
        .collect();
    let (num_bufs, min_train_batch) = (plan.num_bufs, plan.min_train_batch);
    let input_shape = plan_input(plan);
    let (c, h, w) = (input_shape[0], input_shape[1], input_shape[2]);
    let classes = plan.classes;
    let num_params = plan.num_params;
    let acts_per_sample = plan.acts_per_sample;
    let idx_per_sample = plan.idx_per_sample;
    let input_act = plan.input_act;
    let logits_act = blocks[k - 1].out_act;
    let kernels_per_step = plan.train.len();
    let kernels_per_eval = plan.eval.len();
    let fwd_macs = blocks
        .iter()
        .fold(0usize, |a, b| a.saturating_add(b.forward_macs()));
    let macs_per_sample = fwd_macs.saturating_mul(3);
    let max_loops = max_loops_body(plan, &module);
    let doc_summary = format!("Generated by `#[network]`.\n\n```text\n{summary}\n```");

    quote! {
        #(#attrs)*
        #[doc = #doc_summary]
        #vis struct #ident {
            __state: ::cubenet::__private::NetState,
        }

        #[doc(hidden)]
        #[allow(non_snake_case, unused_imports, clippy::all)]
        mod #module {
            use ::cubenet::__private::cubecl;
            use cubecl::prelude::*;
            use ::cubenet::__private::kernels::act::Act;
            use ::cubenet::__private::kernels::conv::*;
            use ::cubenet::__private::kernels::head::*;
            use ::cubenet::__private::kernels::linear::*;
            use ::cubenet::__private::kernels::norm::*;
            use ::cubenet::__private::kernels::dropout::*;
            use ::cubenet::__private::kernels::avg_pool::*;

            #(#consts)*
            pub const HEAD: HeadCfg = HeadCfg {
                linear: #head_cfg,
                loss_act: #loss_act,
                label: #label_idx,
                correct: #correct_idx,
                input_grad: #input_grad,
            };

            #(#train_kernels)*
            #(#eval_only)*
        }

        #[automatically_derived]
        impl ::cubenet::__private::Network for #ident {
            const LAYOUT: ::cubenet::__private::Layout = ::cubenet::__private::Layout {
                input_shape: [#c, #h, #w],
                classes: #classes,
                params: &[#(#params),*],
                num_params: #num_params,
                blocks: &[#(#block_infos),*],
                acts_per_sample: #acts_per_sample,
                idx_per_sample: #idx_per_sample,
                input_act: #input_act,
                loss_act: #loss_act,
                logits_act: #logits_act,
                label_idx: #label_idx,
                correct_idx: #correct_idx,
                buffers: &[#(#buffers)*],
                num_bufs: #num_bufs,
                batch_norms: &[#(#batch_norms),*],
                min_train_batch: #min_train_batch,
            };
            const KERNELS_PER_STEP: usize = #kernels_per_step;
            const KERNELS_PER_EVAL: usize = #kernels_per_eval;
            const MACS_PER_SAMPLE: usize = #macs_per_sample;
            const SUMMARY: &'static str = #summary;

            fn max_loop_iterations(n: usize, train: bool) -> (usize, &'static str) {
                #max_loops
            }

            fn from_state(state: ::cubenet::__private::NetState) -> Self {
                Self { __state: state }
            }
            fn state(&self) -> &::cubenet::__private::NetState {
                &self.__state
            }
            fn state_mut(&mut self) -> &mut ::cubenet::__private::NetState {
                &mut self.__state
            }
            const TRAIN_KERNELS: &'static [&'static str] = &[#(#train_names),*];
            fn launch_train_kernel(state: &::cubenet::__private::NetState, n: usize, args: ::cubenet::__private::StepArgs, kernel: usize) {
                let cap = state.cap();
                match kernel {
                    #(#train_launches)*
                    _ => {}
                }
            }
            fn launch_eval(state: &::cubenet::__private::NetState, n: usize) {
                let cap = state.cap();
                let args = ::cubenet::__private::StepArgs::NO_UPDATE;
                if state.training() {
                    // PyTorch's train-mode forward: batch statistics, dropout on.
                    for kernel in 0..#train_forward {
                        Self::launch_train_kernel(state, n, args, kernel);
                    }
                    #eval_head_launch
                } else {
                    #(#eval_launches)*
                }
            }
        }
    }
}

fn plan_input(plan: &Plan) -> [usize; 3] {
    plan.input_shape
}

/// What is emitted when the network has errors: the error, plus a struct and a `Network`
/// impl that type-check, so no follow-on errors come from code that uses the network. Also
/// used for an enum or union, under its name.
pub fn fallback(
    vis: &syn::Visibility,
    ident: &Ident,
    attrs: &[syn::Attribute],
    err: syn::Error,
) -> TokenStream {
    let attrs: Vec<_> = attrs
        .iter()
        .filter(|a| !a.path().is_ident("network"))
        .collect();
    let err = err.to_compile_error();
    quote! {
        #err
        #(#attrs)*
        #vis struct #ident {
            __state: ::cubenet::__private::NetState,
        }
        #[automatically_derived]
        impl ::cubenet::__private::Network for #ident {
            const LAYOUT: ::cubenet::__private::Layout = ::cubenet::__private::Layout {
                input_shape: [1, 1, 1], classes: 1, params: &[], num_params: 0, blocks: &[], acts_per_sample: 0,
                idx_per_sample: 0, input_act: 0, loss_act: 0, logits_act: 0, label_idx: 0, correct_idx: 0,
                buffers: &[], num_bufs: 0, batch_norms: &[], min_train_batch: 1,
            };
            const KERNELS_PER_STEP: usize = 0;
            const KERNELS_PER_EVAL: usize = 0;
            const MACS_PER_SAMPLE: usize = 0;
            const SUMMARY: &'static str = "";
            fn from_state(state: ::cubenet::__private::NetState) -> Self { Self { __state: state } }
            fn state(&self) -> &::cubenet::__private::NetState { &self.__state }
            fn state_mut(&mut self) -> &mut ::cubenet::__private::NetState { &mut self.__state }
            const TRAIN_KERNELS: &'static [&'static str] = &[];
            fn launch_train_kernel(_: &::cubenet::__private::NetState, _: usize, _: ::cubenet::__private::StepArgs, _: usize) {}
            fn launch_eval(_: &::cubenet::__private::NetState, _: usize) {}
            fn max_loop_iterations(_: usize, _: bool) -> (usize, &'static str) { (0, "") }
        }
    }
}
