//! The `#[network]` attribute macro of cubenet.
//!
//! This file is a shim: [`expand::network`] does the work on `proc_macro2` token streams so
//! that unit tests can call it. The phases, one module each: [`parse`] (the attribute and
//! the struct into [`ir`], each field by [`layer`]), [`shape`] (shape inference and
//! validation), [`order`] (which layer sequences fuse), [`plan`] (fusion into blocks and
//! kernels, arena layout), [`emit`] (Rust and `#[cube]` code).
use proc_macro::TokenStream;

mod emit;
mod expand;
mod ir;
mod layer;
mod order;
mod parse;
mod plan;
mod shape;
mod suggest;

/// Compiles a struct whose fields are an ordered list of layers into a network with fused,
/// statically shaped cubecl kernels for forward, backward and SGD. See the `cubenet` crate
/// documentation for the syntax.
#[proc_macro_attribute]
pub fn network(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::network(attr.into(), item.into()).into()
}
