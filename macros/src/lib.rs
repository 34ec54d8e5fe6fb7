//! The `#[network]` attribute macro of cubenet.
//!
//! This file is a shim: [`expand::network`] does the work on `proc_macro2` token streams so
//! that unit tests can call it. The phases, one module each: [`parse`] (the attribute and
//! the struct's fields, each option by [`options`]), [`infer`] (shape inference), [`order`]
//! (which layer sequences fuse), [`plan`] (lowering to blocks, arena layout, kernel
//! schedule), [`emit`] (Rust and `#[cube]` code), [`print`] (the printout). Everything
//! particular to a layer kind is in its file under [`layers`], listed once in
//! `layers::layer_kinds!`.
// An `Err` of a layer's `build` is the diagnostic state of a declaration at compile time;
// its size does not matter.
#![allow(clippy::result_large_err)]

use proc_macro::TokenStream;

mod emit;
mod errors;
mod expand;
mod infer;
mod ir;
mod layers;
mod options;
mod order;
mod parse;
mod plan;
mod print;
mod shape;
mod suggest;
#[cfg(test)]
mod tests;

/// Compiles a struct whose fields are an ordered list of layers into a network with fused,
/// statically shaped cubecl kernels for forward, backward and SGD. See the `cubenet` crate
/// documentation for the syntax.
#[proc_macro_attribute]
pub fn network(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::network(attr.into(), item.into()).into()
}
