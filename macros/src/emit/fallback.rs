//! What is emitted when the network has errors: the error, plus a struct and a `Network`
//! impl that type-check, so no follow-on errors come from code that uses the network (as
//! thiserror's `fallback.rs`). Also used for an enum or union, under its name.
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// The error with a placeholder network named `ident`.
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
                idx_per_sample: 0, input_act: 0, loss_act: 0, loss: ::cubenet::__private::kernels::Loss::cross_entropy(0.0), target_act: 0, logits_act: 0, label_idx: 0, correct_idx: 0,
                buffers: &[], num_bufs: 0, batch_norms: &[], min_train_batch: 1, dropout: false, part_a: 0, part_b: 0,
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
            fn kernel_plan(_: usize, _: bool, _: usize) -> ::std::vec::Vec<::cubenet::__private::KernelPlan> { ::std::vec::Vec::new() }
        }
    }
}
