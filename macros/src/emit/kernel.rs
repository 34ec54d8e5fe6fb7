//! The fused `#[cube]` kernels, the host code launching them and the loop bound of each: a
//! kernel lays its jobs' unit ranges end to end over `ABSOLUTE_POS` and runs each unit's
//! building block (each block kind says which: [`crate::layers::block::BlockOp::call`]).
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::layers::block::{cfg_ident, Block};
use crate::plan::{Job, Kernel, Plan};

/// Block `i`'s configuration for target `t` (host code, or inside `comptime!`).
fn cfg(i: usize) -> TokenStream {
    let c = cfg_ident(i);
    quote!(#c[t])
}

/// Expression for the number of units of `job` (a batch of `n`, target `t`).
fn units(job: Job, blocks: &[Block]) -> TokenStream {
    match job {
        Job::Block(i, phase) => blocks[i].op.units(phase, &cfg(i)),
        Job::Head => quote!(n),
    }
}

/// Host expression bounding the loop iterations of one unit of `job` (see
/// `cubenet_kernels::LOOP_LIMIT`), and what the job is, for error messages; `None` for a
/// job without loops.
fn loops(job: Job, blocks: &[Block], train: bool) -> Option<(TokenStream, String)> {
    match job {
        Job::Block(i, phase) => {
            let b = &blocks[i];
            let e = b.op.loops(phase, &cfg(i), train)?;
            Some((e, format!("{} of `{}`", phase.what(), b.name)))
        }
        Job::Head => Some((
            quote!(HEAD[t].loop_iterations(#train)),
            format!("the loss head (`{}`)", blocks[blocks.len() - 1].name),
        )),
    }
}

/// Device statement running unit `u` of `job`.
fn call(job: Job, blocks: &[Block], train: bool) -> TokenStream {
    match job {
        Job::Block(i, phase) => {
            let c = cfg(i);
            blocks[i].op.call(phase, &quote!(comptime!(#c)), train)
        }
        Job::Head => quote!(head_unit(params, acts, idx, u, comptime!(HEAD[t]), #train, n, cap);),
    }
}

/// A fused kernel: the unit ranges of its jobs laid end to end over `ABSOLUTE_POS`.
pub fn kernel_fn(k: &Kernel, blocks: &[Block], train: bool) -> TokenStream {
    let name = format_ident!("{}", k.name);
    let ends: Vec<Ident> = (0..k.jobs.len()).map(|j| format_ident!("e{}", j)).collect();
    let mut decls = Vec::new();
    for (j, job) in k.jobs.iter().enumerate() {
        let units = units(*job, blocks);
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
        let call = call(*job, blocks, train);
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
            part: &mut [f32],
            lr: f32,
            momentum: f32,
            dampening: f32,
            weight_decay: f32,
            flags: u32,
            seed: u32,
            #[comptime] n: usize,
            #[comptime] cap: usize,
            #[comptime] t: usize,
        ) {
            let pos = ABSOLUTE_POS;
            #(#decls)*
            #body
        }
    }
}

/// Host code launching kernel `k`.
pub fn launch_stmt(k: &Kernel, blocks: &[Block], module: &Ident) -> TokenStream {
    let name = format_ident!("{}", k.name);
    let kname = k.name.as_str();
    let units: Vec<TokenStream> = k.jobs.iter().map(|j| units(*j, blocks)).collect();
    quote! {
        {
            use #module::*;
            let t = state.target();
            let units = 0usize #(+ #units)*;
            let (count, dim) = state.grid(units);
            // SAFETY: the arena lengths come from the same layout the kernel indexes with,
            // and every unit index is bounded by the job's unit count.
            state.before_launch();
            unsafe {
                let [p, v, g, ac, ix, bf, pt] = state.args();
                #module::#name::launch_unchecked(
                    state.client(), count, dim, p, v, g, ac, ix, bf, pt,
                    args.lr, args.momentum, args.dampening, args.weight_decay, args.flags,
                    state.launch_seed(), n, cap, t,
                );
            }
            state.after_launch(#kname);
        }
    }
}

/// Multiply-adds of `job` per sample (see [`crate::layers::block::BlockOp::macs`]).
fn macs(job: Job, blocks: &[Block]) -> usize {
    match job {
        Job::Block(i, phase) => blocks[i].op.macs(phase),
        // Logits and d(input).
        Job::Head => blocks[blocks.len() - 1].op.forward_macs().saturating_mul(2),
    }
}

/// Body of `Network::kernel_plan`: per training (or evaluation) kernel, its units, its
/// longest per-unit loop and the job that runs it, and its multiply-adds, for a batch of `n`
/// on target `t`.
pub fn plan_body(plan: &Plan, module: &Ident) -> TokenStream {
    let kernels = |kernels: &[Kernel], train: bool| -> Vec<TokenStream> {
        kernels
            .iter()
            .map(|k| {
                let name = k.name.as_str();
                let jobs = k.jobs.iter().map(|j| {
                    let units = units(*j, &plan.blocks);
                    let macs = macs(*j, &plan.blocks);
                    let longest = loops(*j, &plan.blocks, train).map(|(e, what)| {
                        quote!(let it = #e; if it > k.longest_loop { k.longest_loop = it; k.longest_job = #what; })
                    });
                    quote! {
                        k.units += #units;
                        k.macs = k.macs.saturating_add(n.saturating_mul(#macs));
                        #longest
                    }
                });
                quote! {{
                    let mut k = ::cubenet::__private::KernelPlan::new(#name);
                    #(#jobs)*
                    plan.push(k);
                }}
            })
            .collect()
    };
    let train = kernels(&plan.train, true);
    let eval = kernels(&plan.eval, false);
    quote! {
        use #module::*;
        let mut plan = ::std::vec::Vec::new();
        if train { #(#train)* } else { #(#eval)* }
        plan
    }
}
