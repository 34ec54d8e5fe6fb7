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
    let attr = quote!(input = [1, 28, 28]);
    let item = quote! {
        /// LeNet-5 for 1 x 28 x 28 images.
        pub struct LeNet5 {
            #[layer(padding = 2)]
            conv1: Conv2d<1, 6, 5>,
            relu1: Relu,
            pool1: MaxPool2d<2>,
            conv2: Conv2d<6, 16, 5>,
            relu2: Relu,
            pool2: MaxPool2d<2>,
            flatten: Flatten,
            fc1: Linear<400, 120>,
            relu3: Relu,
            fc2: Linear<120, 84>,
            relu4: Relu,
            fc3: Linear<84, 10>,
        }
    };
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
