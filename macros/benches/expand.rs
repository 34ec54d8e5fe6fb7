//! Time of one expansion of `#[network]` on the LeNet-5 of the examples (parse, shapes,
//! order, plan, emit), by calling the expansion directly. A proc-macro crate exports only
//! macros, so the macro's modules are compiled into this benchmark by path.
//!
//! `cargo bench -p cubenet-macros --bench expand`
#![allow(dead_code, unused_imports, missing_docs, clippy::result_large_err)]

#[path = "../src/emit/mod.rs"]
mod emit;
#[path = "../src/errors.rs"]
mod errors;
#[path = "../src/expand.rs"]
mod expand;
#[path = "../src/infer.rs"]
mod infer;
#[path = "../src/ir.rs"]
mod ir;
#[path = "../src/layers/mod.rs"]
mod layers;
#[path = "../src/options/mod.rs"]
mod options;
#[path = "../src/order.rs"]
mod order;
#[path = "../src/parse.rs"]
mod parse;
#[path = "../src/plan/mod.rs"]
mod plan;
#[path = "../src/print.rs"]
mod print;
#[path = "../src/shape.rs"]
mod shape;
#[path = "../src/suggest.rs"]
mod suggest;

use criterion::{criterion_group, criterion_main, Criterion};
use quote::quote;

fn lenet5(c: &mut Criterion) {
    // The zoo's LeNet-5, read from `src/zoo.rs`.
    let zoo: syn::File = syn::parse_str(include_str!("../../src/zoo.rs")).expect("zoo parses");
    let item = zoo
        .items
        .into_iter()
        .find_map(|item| match item {
            syn::Item::Struct(s) if s.ident == "LeNet5" => Some(s),
            _ => None,
        })
        .expect("src/zoo.rs has LeNet5");
    let attr = item
        .attrs
        .iter()
        .find(|a| a.path().is_ident("network"))
        .and_then(|a| a.meta.require_list().ok())
        .expect("#[network(...)]")
        .tokens
        .clone();
    let mut item = item;
    item.attrs.retain(|a| !a.path().is_ident("network"));
    let item = quote!(#item);
    let out = expand::network(attr.clone(), item.clone()).to_string();
    assert!(
        out.contains("KERNELS_PER_STEP") && !out.contains("compile_error"),
        "LeNet-5 did not expand"
    );
    c.bench_function("expand LeNet-5", |b| {
        b.iter(|| {
            expand::network(
                std::hint::black_box(attr.clone()),
                std::hint::black_box(item.clone()),
            )
        })
    });
}

criterion_group!(benches, lenet5);
criterion_main!(benches);
