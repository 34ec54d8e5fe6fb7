//! The whole expansion: what a valid network expands to, and the errors of wrong ones.
use proc_macro2::TokenStream;
use quote::quote;

use crate::expand::{compile, network};
use crate::print::pretty;

/// The messages of every error `#[network(attr)] item` reports, in order.
fn errors(attr: TokenStream, item: TokenStream) -> Vec<String> {
    let item: syn::Item = syn::parse2(item.clone()).unwrap_or_else(|e| panic!("{item}: {e}"));
    match compile(attr, &item) {
        Ok(_) => Vec::new(),
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    }
}

/// The zoo's LeNet-5 (`src/zoo.rs`).
fn lenet5() -> syn::Item {
    super::zoo_net("LeNet5").1
}

#[test]
fn lenet5_expands_to_twelve_launches_per_step() {
    let item = lenet5();
    let out = compile(quote!(input = [1, 28, 28]), &item).unwrap();
    let code = pretty(&out);
    assert!(
        code.contains("const KERNELS_PER_STEP: usize = 12usize;"),
        "{code}"
    );
    assert!(code.contains("pub fn forward_conv1("), "{code}");
    // The output is Rust that `syn` parses back, and the fallback is never used.
    assert!(!code.contains("compile_error"));
    // Readable: formatted over many lines, not one.
    assert!(code.lines().count() > 200);
}

#[test]
fn print_shows_shapes_plan_and_code() {
    // `cargo test -p cubenet-macros print_ -- --nocapture` shows the printout.
    let item = lenet5();
    let out = compile(quote!(input = [1, 28, 28], print), &item).unwrap();
    assert!(out.to_string().contains("12 kernel launches"));
}

#[test]
fn one_mistake_is_one_error() {
    let cases: &[(TokenStream, TokenStream, &str)] = &[
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { #[layer(kernal_size = 3)] conv: Conv2d<1, 6, 5>, flatten: Flatten, fc: Linear<3456, 10> }),
            "unknown option `kernal_size` for Conv2d `conv` (options: in_channels, out_channels, kernel_size, stride, padding, dilation, bias, groups); did you mean `kernel_size`?",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { #[layer(padding_mode = "reflect")] conv: Conv2d<1, 6, 5>, flatten: Flatten, fc: Linear<3456, 10> }),
            "`padding_mode` is not supported (yet) by Conv2d `conv`: cubenet pads with zeros (PyTorch's `padding_mode = \"zeros\"`); remove it",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6, 5>, #[layer(return_indices = true)] pool: MaxPool2d<2>, flatten: Flatten, fc: Linear<864, 10> }),
            "`return_indices` is not supported (yet) by MaxPool2d `pool`: the indices of the maxima stay inside the fused kernels; remove it",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { #[layer(affine = false)] bn: BatchNorm2d<1>, flatten: Flatten, fc: Linear<784, 10> }),
            "`affine` is not supported (yet) by BatchNorm2d `bn`: a BatchNorm always has its weight and bias (PyTorch's `affine = True`); remove it",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6, 5>, #[layer(inplace = 1)] relu: Relu, flatten: Flatten, fc: Linear<3456, 10> }),
            "`inplace` of Relu `relu` must be `true` or `false`",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { #[layer(dtype = f64)] fc: Linear<784, 10> }),
            "`dtype` is not supported (yet) by Linear `fc`: parameters are f32 and live on the device the network is made on; remove it",
        ),
        (
            quote!(input = [1, 14, 14]),
            quote!(struct Net { conv: Conv2d<1, 6, 1>, pool: MaxPool2d<16>, flatten: Flatten, fc: Linear<6, 10> }),
            "MaxPool2d `pool`: its 16 x 16 window is larger than its input (`conv` gives 6 x 14 x 14): the output would be empty; use `MaxPool2d<14>` or `AdaptiveAvgPool2d<1>`",
        ),
        (
            quote!(input = [1, 14, 9]),
            quote!(struct Net { conv: Conv2d<1, 6, 1>, pool: AvgPool2d<{(3, 12)}>, flatten: Flatten, fc: Linear<6, 10> }),
            "AvgPool2d `pool`: its 3 x 12 window is larger than its input (`conv` gives 6 x 14 x 9): the output would be empty; use `AvgPool2d<{(3, 9)}>` or `AdaptiveAvgPool2d<1>`",
        ),
        (
            // With `padding = 1` meant, fc's 4704 = 6 x 28 x 28 is right: the misspelling must
            // not be followed by "expected 4056 input features" (6 x 26 x 26, padding 0).
            quote!(input = [1, 28, 28]),
            quote!(struct Net { #[layer(paddng = 1)] conv: Conv2d<1, 6, 3>, relu: Relu, flatten: Flatten, fc: Linear<4704, 10> }),
            "unknown option `paddng` for Conv2d `conv` (options: in_channels, out_channels, kernel_size, stride, padding, dilation, bias, groups); did you mean `padding`?",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { #[layer(strid = 2)] conv: Conv2d<1, 6, 3>, pool: MaxPool2d<2>, flatten: Flatten, fc: Linear<216, 10> }),
            "unknown option `strid` for Conv2d `conv` (options: in_channels, out_channels, kernel_size, stride, padding, dilation, bias, groups); did you mean `stride`?",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6, 3>, #[layer(strides = 1)] pool: MaxPool2d<2>, flatten: Flatten, fc: Linear<3750, 10> }),
            "unknown option `strides` for MaxPool2d `pool` (options: kernel_size, stride, padding, ceil_mode); did you mean `stride`?",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { #[layer(padding = "same", stride = 2)] conv: Conv2d<1, 6, 3>, flatten: Flatten, fc: Linear<4704, 10> }),
            "`padding = \"same\"` of Conv2d `conv` needs stride 1, as in PyTorch (padding='same' is not supported for strided convolutions); give the padding as a number",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { #[layer(padding = "sam")] conv: Conv2d<1, 6, 3>, flatten: Flatten, fc: Linear<4704, 10> }),
            "`padding` of Conv2d `conv` must be a number, a pair `(h, w)`, \"same\" or \"valid\", found \"sam\"; did you mean `same`?",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2D<1, 6, 5>, relu: Relu, flatten: Flatten, fc: Linear<3456, 10> }),
            "unknown layer type `Conv2D` (layers: Conv2d, MaxPool2d, Linear, Relu, Tanh, Sigmoid, LeakyRelu, Gelu, SiLU, Relu6, Hardswish, Flatten, BatchNorm2d, BatchNorm1d, Dropout, AvgPool2d, AdaptiveAvgPool2d, BasicBlock); did you mean `Conv2d`?",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { #[layer(padding = 1, padding = 2)] conv: Conv2d<1, 6, 5>, flatten: Flatten, fc: Linear<3456, 10> }),
            "`padding` of Conv2d `conv` is given twice; remove this one",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6>, flatten: Flatten, fc: Linear<3456, 10> }),
            "Conv2d `conv` is missing `kernel_size`; expected `Conv2d<in_channels, out_channels, kernel_size>` with optional `#[layer(stride = .., padding = .., dilation = .., bias = .., groups = ..)]`",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { #[layer(stride = 0)] conv: Conv2d<1, 6, 5>, flatten: Flatten, fc: Linear<3456, 10> }),
            "`stride` of Conv2d `conv` must be at least 1, found 0: the window moves by at least one pixel",
        ),
        (
            quote!(inptu = [1, 28, 28]),
            quote!(struct Net { flatten: Flatten, fc: Linear<784, 10> }),
            "unknown `#[network]` argument `inptu` (arguments: `input = [C, H, W]`, `loss = cross_entropy | mse | bce_with_logits`, `label_smoothing = 0.1`, `print`); did you mean `input`?",
        ),
        (
            quote!(input = [3, 32]),
            quote!(struct Net { flatten: Flatten, fc: Linear<784, 10> }),
            "expected 3 dimensions [C, H, W] (channels, height, width), found 2; e.g. `input = [1, 28, 28]` for 28 x 28 grayscale images",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6, 5>, relu1: Relu, relu2: Relu, flatten: Flatten, fc: Linear<3456, 10> }),
            "`conv` already has a Relu (`relu1`), and relu(relu(x)) = relu(x): remove `relu2`",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6, 5>, pool: MaxPool2d<2>, gelu: Gelu, flatten: Flatten, fc: Linear<864, 10> }),
            "Gelu `gelu` must come before the MaxPool2d `pool`: cubenet applies the activation before the pool, which gives the same result only for monotonic activations, and GELU is not monotonic",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { flatten: Flatten, fc: Linear<784, 10>, t: Tanh, s: Sigmoid, out: Linear<10, 2> }),
            "`fc` already has an activation (the Tanh `t`); cubenet fuses one activation into each Conv2d, Linear or BatchNorm layer: remove `s`, or put a layer with weights between them",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { flatten: Flatten, fc: Linear<784, 10>, #[layer(negative_slope = -0.1)] a: LeakyRelu, out: Linear<10, 2> }),
            "`negative_slope` of LeakyRelu `a` cannot be negative: cubenet takes the activation's gradient from the sign of its output, which needs a slope >= 0",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { flatten: Flatten, fc: Linear<784, 10>, #[layer(approximate = "tanhh")] a: Gelu, out: Linear<10, 2> }),
            "`approximate` of Gelu `a` must be \"none\" or \"tanh\", found \"tanhh\"; did you mean `tanh`?",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { pool: MaxPool2d<2>, flatten: Flatten, fc: Linear<196, 10> }),
            "MaxPool2d `pool` must follow a Conv2d or BatchNorm2d (optionally with an activation between; cubenet fuses the pool into that layer's kernel), but it follows the input",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { flatten: Flatten, fc: Linear<784, 10>, relu: Relu }),
            "the last layer must be the Linear giving the class scores (training applies softmax cross-entropy to them): remove `relu` after `fc`",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { flatten: Flatten, relu: Relu }),
            "the network has no Conv2d or Linear layer, so nothing to train: end it with a Linear layer giving the class scores",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6, 5>, fc: Linear<3456, 10> }),
            "Linear `fc` needs flat features, but `conv` gives 6 x 24 x 24: add a `Flatten` layer before it (it would give 3456 features)",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6, 5>, #[layer(padding = 2)] pool: MaxPool2d<3>, flatten: Flatten, fc: Linear<123, 10> }),
            "MaxPool2d `pool`: padding 2 x 2 is more than half its 3 x 3 kernel (at most 1 x 1): a window could cover only padding",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { #[layers(padding = 2)] conv: Conv2d<1, 6, 5>, flatten: Flatten, fc: Linear<4704, 10> }),
            "unknown attribute `#[layers]` on a layer; options go in `#[layer(name = value, ..)]`; did you mean `layer`?",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6, 5>, flatten: Flatten, conv2: Conv2d<6, 16, 1>, fc: Linear<3456, 10> }),
            "Conv2d `conv2` needs a C x H x W input, but `flatten` gives 3456 flat features; a Conv2d must come before the Flatten",
        ),
        // BatchNorm2d on flat features: no follow-on error on the Linear after it, which
        // gets the features the Flatten gives.
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6, 5>, flatten: Flatten, bn: BatchNorm2d<6>, fc: Linear<3456, 10> }),
            "BatchNorm2d `bn` needs a C x H x W input, but `flatten` gives 3456 flat features: use `BatchNorm1d<3456>` on features, or put it before the Flatten",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6, 5>, bn: BatchNorm1d<6>, flatten: Flatten, fc: Linear<3456, 10> }),
            "BatchNorm1d `bn` needs flat features, but `conv` gives 6 x 24 x 24: use `BatchNorm2d<6>` on channels, or put it after a `Flatten`",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6, 5>, #[layer(eps = -1e-5)] bn: BatchNorm2d<6>, flatten: Flatten, fc: Linear<3456, 10> }),
            "`eps` of BatchNorm2d `bn` cannot be negative: it must be > 0",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { flatten: Flatten, fc: Linear<784, 10>, #[layer(rate = 0.5)] drop: Dropout, out: Linear<10, 2> }),
            "unknown option `rate` for Dropout `drop` (options: p); did you mean `p`? (cubenet uses PyTorch's option names)",
        ),
        (
            quote!(input = [1, 8, 8]),
            quote!(struct Net { conv: Conv2d<1, 6, 5>, avg: AvgPool2d<5>, flatten: Flatten, fc: Linear<6, 10> }),
            "AvgPool2d `avg`: its 5 x 5 window is larger than its input (`conv` gives 6 x 4 x 4): the output would be empty",
        ),
        (
            quote!(input = [1, 28, 28]),
            quote!(struct Net { conv: Conv2d<1, 6, 5>, flatten: Flatten, gap: AdaptiveAvgPool2d<1>, fc: Linear<6, 10> }),
            "AdaptiveAvgPool2d `gap` needs a C x H x W input, but `flatten` gives 3456 flat features; an AdaptiveAvgPool2d must come before the Flatten",
        ),
        (
            quote!(input = [1, 28, 28], loss = mean_squared),
            quote!(struct Net { flatten: Flatten, fc: Linear<784, 10> }),
            "unknown loss `mean_squared`: expected `loss = cross_entropy`, `loss = mse` or `loss = bce_with_logits`",
        ),
        (
            quote!(input = [1, 28, 28], loss = l1_loss),
            quote!(struct Net { flatten: Flatten, fc: Linear<784, 10> }),
            "unknown loss `l1_loss`: expected `loss = cross_entropy`, `loss = mse` or `loss = bce_with_logits` (PyTorch's nn.CrossEntropyLoss, nn.MSELoss, nn.BCEWithLogitsLoss) (`l1_loss` is not supported (yet)",
        ),
        (
            quote!(input = [1, 28, 28], loss = mse, label_smoothing = 0.1),
            quote!(struct Net { flatten: Flatten, fc: Linear<784, 10> }),
            "`label_smoothing` applies to `loss = cross_entropy` only, and this network's loss is `mse`; remove it",
        ),
        (
            quote!(input = [1, 28, 28], label_smoothing = 1.5),
            quote!(struct Net { flatten: Flatten, fc: Linear<784, 10> }),
            "`label_smoothing` must be in [0, 1] (PyTorch's rule), found 1.5",
        ),
    ];
    for (attr, item, expected) in cases {
        let got = errors(attr.clone(), item.clone());
        assert_eq!(got.len(), 1, "{item}: {got:#?}");
        assert!(
            got[0].starts_with(expected),
            "{item}:\n  got      {}\n  expected {expected}",
            got[0]
        );
    }
}

/// PyTorch's `inplace = True` changes nothing observable (the layer is fused into the kernel
/// before it), so it is accepted and ignored where PyTorch's module has it; the network is
/// the same as without it. Sigmoid's module has no `inplace`: there it is an error.
#[test]
fn inplace_is_accepted_where_pytorch_has_it() {
    let with = quote! {
        struct Net {
            conv: Conv2d<1, 6, 5>,
            #[layer(inplace = true)]
            relu: Relu,
            #[layer(inplace = false)]
            drop: Dropout,
            flatten: Flatten,
            fc1: Linear<3456, 10>,
            #[layer(negative_slope = 0.2, inplace = true)]
            act: LeakyRelu,
            fc2: Linear<10, 10>,
            #[layer(inplace = true)]
            act2: Relu6,
            fc3: Linear<10, 10>,
        }
    };
    let without = quote! {
        struct Net {
            conv: Conv2d<1, 6, 5>,
            relu: Relu,
            drop: Dropout,
            flatten: Flatten,
            fc1: Linear<3456, 10>,
            #[layer(negative_slope = 0.2)]
            act: LeakyRelu,
            fc2: Linear<10, 10>,
            act2: Relu6,
            fc3: Linear<10, 10>,
        }
    };
    let expand = |item: TokenStream| {
        let item: syn::Item = syn::parse2(item).unwrap();
        compile(quote!(input = [1, 28, 28]), &item).map(|t| t.to_string())
    };
    let with = expand(with).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(with, expand(without).unwrap());
    let got = errors(
        quote!(input = [1, 28, 28]),
        quote!(
            struct Net {
                conv: Conv2d<1, 6, 5>,
                #[layer(inplace = true)]
                act: Sigmoid,
                flatten: Flatten,
                fc: Linear<3456, 10>,
            }
        ),
    );
    assert_eq!(got, ["Sigmoid `act` takes no options"]);
}

/// `SUMMARY`'s layer table stays in columns when a type name is longer than the column's
/// usual width (`AdaptiveAvgPool2d` in the zoo's ResNet-8): every row's type starts, and every
/// row's `->` stands, at the same place.
#[test]
fn summary_columns_line_up() {
    let (attr, item) = super::zoo_net("ResNet8");
    let code = pretty(&compile(attr, &item).unwrap());
    let line = code
        .lines()
        .find(|l| l.contains("const SUMMARY"))
        .expect("no SUMMARY");
    let lit = &line[line.find('"').unwrap()..=line.rfind('"').unwrap()];
    let summary = syn::parse_str::<syn::LitStr>(lit).unwrap().value();
    let rows: Vec<&str> = summary
        .lines()
        .skip_while(|l| *l != "layers:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(
        rows.iter().any(|r| r.contains("AdaptiveAvgPool2d")),
        "{summary}"
    );
    let arrow: Vec<usize> = rows.iter().map(|r| r.find(" -> ").unwrap()).collect();
    assert!(arrow.iter().all(|&a| a == arrow[0]), "{summary}");
    let type_at = |r: &str| {
        let name_end = 2 + r[2..].find(' ').unwrap();
        name_end + r[name_end..].find(|c: char| c != ' ').unwrap()
    };
    let types: Vec<usize> = rows.iter().map(|r| type_at(r)).collect();
    assert!(types.iter().all(|&t| t == types[0]), "{summary}");
}

/// `padding = "same"` keeps the input's size (odd kernels; even kernels, where PyTorch pads
/// one more row or column after; dilated ones); `"valid"` is no padding.
#[test]
fn padding_same_and_valid() {
    for (conv, features) in [
        (
            quote!(#[layer(padding = "same")] conv: Conv2d<1, 6, 4>),
            6 * 28 * 28,
        ),
        (
            quote!(#[layer(padding = "same")] conv: Conv2d<1, 6, {(2, 3)}>),
            6 * 28 * 28,
        ),
        (
            quote!(#[layer(padding = "same", dilation = 3)] conv: Conv2d<1, 6, 2>),
            6 * 28 * 28,
        ),
        (
            quote!(#[layer(padding = "same")] conv: Conv2d<1, 6, 5>),
            6 * 28 * 28,
        ),
        (
            quote!(#[layer(padding = "same", dilation = 2)] conv: Conv2d<1, 6, 4>),
            6 * 28 * 28,
        ),
        (
            quote!(#[layer(padding = "same", dilation = (3, 1))] conv: Conv2d<1, 6, {(3, 5)}>),
            6 * 28 * 28,
        ),
        (
            quote!(#[layer(padding = "valid")] conv: Conv2d<1, 6, 5>),
            6 * 24 * 24,
        ),
    ] {
        let item = quote!(struct Net { #conv, flatten: Flatten, fc: Linear<#features, 10> });
        assert_eq!(
            errors(quote!(input = [1, 28, 28]), item.clone()),
            Vec::<String>::new(),
            "{item}"
        );
        let wrong = features + 1;
        let item = quote!(struct Net { #conv, flatten: Flatten, fc: Linear<#wrong, 10> });
        assert_eq!(
            errors(quote!(input = [1, 28, 28]), item.clone()).len(),
            1,
            "{item}"
        );
    }
}

#[test]
fn two_independent_mistakes_are_both_reported() {
    let got = errors(
        quote!(input = [1, 28, 28]),
        quote! {
            struct Net {
                #[layer(padding = 2)]
                conv1: Conv2d<1, 6, 5>,
                relu1: Relu,
                pool1: MaxPool2d<2>,
                conv2: Conv2d<8, 16, 5>,
                relu2: Relu,
                pool2: MaxPool2d<2>,
                flatten: Flatten,
                fc1: Linear<400, 120>,
                relu3: Relu,
                fc2: Linear<100, 10>,
            }
        },
    );
    assert_eq!(
        got,
        [
            "expected 6 input channels (`pool1` gives 6 x 14 x 14), found 8",
            "expected 120 input features (the out_features of `fc1`), found 100",
        ]
    );
    // A parse error and a shape error, and an attribute error with a layer error.
    let got = errors(
        quote!(input = [1, 28, 28], prnt),
        quote!(
            struct Net {
                #[layer(bias = 1)]
                conv: Conv2d<1, 6, 5>,
                flatten: Flatten,
                fc: Linear<3455, 10>,
            }
        ),
    );
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(got[0].starts_with("unknown `#[network]` argument `prnt`"));
    assert_eq!(got[1], "`bias` of Conv2d `conv` must be `true` or `false`");
    assert_eq!(
        got[2],
        "expected 3456 input features (6 x 24 x 24 from `conv`), found 3455"
    );
}

#[test]
fn hostile_input_never_panics() {
    let max = usize::MAX;
    let items = [
        quote!(
            struct Net {
                #[layer(padding = 18446744073709551615)]
                conv: Conv2d<1, 1, 1>,
                flatten: Flatten,
                fc: Linear<1, 1>,
            }
        ),
        quote!(struct Net { #[layer(dilation = #max, stride = #max)] conv: Conv2d<1, 1, #max>, flatten: Flatten, fc: Linear<1, 1> }),
        quote!(struct Net { conv: Conv2d<#max, #max, #max>, pool: MaxPool2d<#max>, flatten: Flatten, fc: Linear<#max, #max> }),
        quote!(
            struct Net {
                conv: Conv2d<1, 99999999999999999999999, 1>,
                fc: Linear<-1, 2.5>,
            }
        ),
        quote!(
            struct Net {
                conv: Conv2d<1, 1, { (1, 2, 3) }>,
                pool: MaxPool2d<{ (0, 0) }>,
                fc: Linear<1, 1, 1>,
            }
        ),
        quote!(
            struct Net {
                #[layer(stride)]
                #[layer(= 3)]
                conv: fn(u8),
                c2: <u8 as X>::Conv2d,
                fc: Linear<in_features = 1>,
                x: [u8; 3],
                y: Vec<u8>,
            }
        ),
        quote!(
            struct Net {
                #[layer(kernel_size = 3)]
                pool: MaxPool2d<2>,
                r: Relu<1>,
                #[layer(x = 1)]
                f: Flatten,
            }
        ),
        quote!(
            struct Net {}
        ),
        quote!(
            struct Net;
        ),
        quote!(
            struct Net(Conv2d<1, 1, 1>);
        ),
        quote!(
            enum Net {
                A,
            }
        ),
        quote!(union Net { a: u8 }),
        quote!(
            fn net() {}
        ),
        quote!(
            struct Net<T> {
                t: T,
            }
        ),
        quote!(
            struct Net {
                conv1: Conv2d<1, 6, 5>,
                conv1: Conv2d<6, 6, 5>,
                flatten: Flatten,
                fc: Linear<2400, 10>,
            }
        ),
    ];
    let attrs = [
        quote!(input = [1, 28, 28]),
        quote!(input = [0, 0, 0]),
        quote!(input = [#max, #max, #max]),
        quote!(input = [1, 28]),
        quote!(input = (1, 28, 28)),
        quote!(input),
        quote!(input = [1, 28, 28], input = [1, 28, 28], print = 1),
        quote!(),
        quote!(= =),
    ];
    for item in &items {
        for attr in &attrs {
            let got = errors(attr.clone(), item.clone());
            assert!(!got.is_empty(), "#[network({attr})] {item} compiled");
            // The public entry point too, fallback included.
            let _ = network(attr.clone(), item.clone());
        }
    }
}

/// PyTorch's split of `padding = "same"` (`Conv2d.__init__`: `total = d (k - 1)`, `total / 2`
/// before, the rest after): (padding on both sides, one more after).
#[test]
fn same_padding_splits_the_total_as_pytorch() {
    use crate::layers::conv2d::same_padding;
    assert_eq!(same_padding((5, 5), (1, 1)), Some(((2, 2), (0, 0))));
    assert_eq!(same_padding((4, 4), (1, 1)), Some(((1, 1), (1, 1))));
    assert_eq!(same_padding((2, 3), (1, 1)), Some(((0, 1), (1, 0))));
    assert_eq!(same_padding((3, 4), (2, 2)), Some(((2, 3), (0, 0))));
    assert_eq!(same_padding((2, 2), (3, 1)), Some(((1, 0), (1, 1))));
    assert_eq!(same_padding((1, 1), (1, 1)), Some(((0, 0), (0, 0))));
    assert_eq!(same_padding((3, 3), (usize::MAX, 1)), None);
}
