//! Shape inference: PyTorch's output sizes, and the messages of mismatches.
use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;
use crate::infer::infer;
use crate::ir::Spanned;
use crate::parse::parse_item;
use crate::shape::*;
use proc_macro2::Span;

/// PyTorch's formula, torch.nn.Conv2d / MaxPool2d docs, in signed arithmetic:
/// `floor((in + 2p - d(k-1) - 1) / s) + 1`, no output when that is below 1.
fn pytorch(input: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    let num = input as i64 + 2 * p as i64 - d as i64 * (k as i64 - 1) - 1;
    (num >= 0).then(|| (num / s as i64 + 1) as usize)
}

/// Independent count: window starts `o * s` with the last tap inside the padded input.
fn sliding(input: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    let n = (0..)
        .take_while(|o| o * s + d * (k - 1) < input + 2 * p)
        .count();
    (n > 0).then_some(n)
}

#[test]
fn conv_output_size_is_pytorchs_formula() {
    for input in 1..=12 {
        for k in 1..=6 {
            for s in 1..=4 {
                for p in 0..=3 {
                    for d in 1..=3 {
                        let expected = pytorch(input, k, s, p, d);
                        assert_eq!(
                            conv_out_size(input, k, s, p, d),
                            expected,
                            "in {input} k {k} s {s} p {p} d {d}"
                        );
                        assert_eq!(
                            sliding(input, k, s, p, d),
                            expected,
                            "in {input} k {k} s {s} p {p} d {d}"
                        );
                    }
                }
            }
        }
    }
}

/// Values checked with torch.nn.Conv2d / MaxPool2d output shapes.
#[test]
fn conv_output_sizes_match_pytorch() {
    assert_eq!(conv_out_size(28, 5, 1, 2, 1), Some(28)); // LeNet-5 conv1
    assert_eq!(conv_out_size(28, 2, 2, 0, 1), Some(14)); // pool
    assert_eq!(conv_out_size(14, 5, 1, 0, 1), Some(10));
    assert_eq!(conv_out_size(32, 5, 1, 0, 1), Some(28)); // CIFAR LeNet conv1
    assert_eq!(conv_out_size(5, 2, 2, 1, 1), Some(3)); // P1 H axis
    assert_eq!(conv_out_size(7, 3, 1, 0, 2), Some(3)); // P1 W axis, dilation 2
    assert_eq!(conv_out_size(8, 3, 2, 0, 1), Some(3)); // overlapping pool
    assert_eq!(conv_out_size(4, 7, 1, 0, 1), None);
    assert_eq!(conv_out_size(4, 7, 1, 2, 1), Some(2));
    assert_eq!(conv_out_size(1, 1, 1, 0, 1), Some(1));
}

#[test]
fn conv_output_size_never_overflows_or_divides_by_zero() {
    assert_eq!(conv_out_size(4, 3, 0, 0, 1), None);
    assert_eq!(conv_out_size(4, 0, 1, 0, 1), None);
    assert_eq!(
        conv_out_size(usize::MAX, 1, 1, usize::MAX, 1),
        Some(usize::MAX)
    );
    assert_eq!(
        conv_out_size(usize::MAX, usize::MAX, 1, 0, usize::MAX),
        None
    );
    assert_eq!(
        conv_out_size(usize::MAX, usize::MAX, usize::MAX, 0, 1),
        Some(1)
    );
}

/// Infers the shapes of `struct Net { fields }` on a `c x h x w` input.
fn infer_net(input: [usize; 3], fields: TokenStream) -> (Vec<Option<Shape>>, Vec<String>) {
    let item: syn::Item = syn::parse2(quote!(struct Net { #fields })).unwrap();
    let mut errors = Errors::default();
    let layers = parse_item(&item, &mut errors).unwrap();
    let input = input.map(|value| Spanned {
        value,
        span: Span::call_site(),
    });
    let shapes = infer(Some(input), &layers, &mut errors);
    let messages = errors
        .into_error()
        .map(|e| e.into_iter().map(|e| e.to_string()).collect())
        .unwrap_or_default();
    (
        shapes.into_iter().map(|s| s.map(|s| s.output)).collect(),
        messages,
    )
}

fn sp(c: usize, h: usize, w: usize) -> Option<Shape> {
    Some(Shape::Spatial { c, h, w })
}

#[test]
fn conv_with_per_axis_stride_padding_dilation() {
    // torch.nn.Conv2d(3, 8, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2))
    // on 3 x 17 x 20 gives 8 x 9 x 16.
    let (shapes, errors) = infer_net(
        [3, 17, 20],
        quote! {
            #[layer(stride = (2, 1), padding = (1, 2), dilation = (1, 2))]
            conv: Conv2d<3, 8, {(3, 5)}>,
        },
    );
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(shapes, vec![sp(8, 9, 16)]);
    // Every option by name, and scalar values for both axes: 2 x 7 x 7 with k 3, s 2,
    // p 1, d 1 gives 4 x 4 x 4.
    let (shapes, _) = infer_net(
        [2, 7, 7],
        quote! {
            #[layer(in_channels = 2, out_channels = 4, kernel_size = 3, stride = 2, padding = 1, dilation = 1, bias = false)]
            conv: Conv2d,
        },
    );
    assert_eq!(shapes, vec![sp(4, 4, 4)]);
}

/// `torch.nn.functional.max_pool2d(torch.zeros(1, 1, i, 1), (k, 1), (s, 1), (p, 0),
/// ceil_mode=c).shape[2]` (PyTorch 2.15) for `i` in 1..=10 (one string each), then
/// `k` in 1..=4, `s` in 1..=4, `p` in 0..=k/2, one base-36 digit per case, `-` where the
/// window is larger than the padded input.
const TORCH_POOL_CEIL: [&str; 10] = [
    "1111-2-1-1-1-1-1-1-1--2--2--1--1",
    "211113121111-2-2-1-1-13-12-12-11",
    "32112422121113121211-24-23-22-12",
    "42213523221224232212135123122122",
    "53224633222235232222246234223222",
    "63225734232246342322357234233222",
    "74326844332257343322468345233223",
    "84327945332368453323579345334233",
    "95338a5534337945343368a456344333",
    "a5439b5644338a56443379b456344333",
];
/// The same with `ceil_mode=False`.
const TORCH_POOL_FLOOR: [&str; 10] = [
    "1111-2-1-1-1-1-1-1-1--2--1--1--1",
    "211113121111-2-1-1-1-13-12-11-11",
    "32112412121113121111-24-12-12-11",
    "42213523121224121211135123112112",
    "53224623221235231212246123122112",
    "63225734232246232212357234123122",
    "74326834232257342322468234223122",
    "84327945332368342322579345233223",
    "95338a4534237945332368a345234223",
    "a5439b5634338a45342379b456334233",
];

#[test]
fn pool_output_sizes_match_pytorch() {
    for (ceil_mode, table) in [(true, TORCH_POOL_CEIL), (false, TORCH_POOL_FLOOR)] {
        for (i, row) in table.iter().enumerate() {
            let input = i + 1;
            let mut digits = row.chars();
            for k in 1..=4 {
                for s in 1..=4 {
                    for p in 0..=k / 2 {
                        let expected = digits.next().unwrap().to_digit(36).map(|d| d as usize);
                        assert_eq!(
                            pool_out_size(input, k, s, p, ceil_mode),
                            expected,
                            "in {input} k {k} s {s} p {p} ceil_mode {ceil_mode}"
                        );
                    }
                }
            }
            assert_eq!(digits.next(), None);
        }
    }
    // Spot checks (torch.nn.MaxPool2d(.., ceil_mode=True) output sizes): 5 with k 2 s 2
    // gives 3 (floor 2); 7 with k 3 s 2 p 1 gives 4 (floor 4); 10 with k 3 s 4 gives 3
    // (floor 2); 3 with k 2 s 2 p 1 gives 2: ceil((3 + 2 - 2) / 2) + 1 = 3, but that third
    // window would start at 2 * 2 - 1 = 3, past the input, so one fewer.
    assert_eq!(pool_out_size(5, 2, 2, 0, true), Some(3));
    assert_eq!(pool_out_size(5, 2, 2, 0, false), Some(2));
    assert_eq!(pool_out_size(7, 3, 2, 1, true), Some(4));
    assert_eq!(pool_out_size(10, 3, 4, 0, true), Some(3));
    assert_eq!(pool_out_size(10, 3, 4, 0, false), Some(2));
    assert_eq!(pool_out_size(3, 2, 2, 1, true), Some(2));
    assert_eq!(pool_out_size(6, 2, 2, 1, true), Some(4));
    assert_eq!(pool_out_size(1, 2, 2, 0, true), None);
    // The floor path is conv_out_size's, bit for bit.
    for input in 1..=20 {
        for k in 1..=6 {
            for s in 1..=5 {
                for p in 0..=k / 2 {
                    assert_eq!(
                        pool_out_size(input, k, s, p, false),
                        conv_out_size(input, k, s, p, 1)
                    );
                }
            }
        }
    }
}

#[test]
fn pool_ceil_mode() {
    // torch.nn.MaxPool2d(2, ceil_mode=True) on 1 x 5 x 5 gives 1 x 3 x 3;
    // MaxPool2d(3, stride=(2, 4), padding=1, ceil_mode=True) on 2 x 8 x 10 gives 2 x 5 x 3
    // (floor: 2 x 4 x 3; along W a fourth window would start at input column
    // 3 * 4 - 1 = 11, past the input, and is dropped); MaxPool2d(2, padding=1,
    // ceil_mode=True) on 1 x 3 x 6 gives 1 x 2 x 4 (along H the same rule drops a third
    // window starting at row 3).
    let (shapes, errors) = infer_net(
        [1, 5, 5],
        quote! {
            #[layer(ceil_mode = true)]
            pool: MaxPool2d<2>,
        },
    );
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(shapes, vec![sp(1, 3, 3)]);
    let (shapes, errors) = infer_net(
        [2, 8, 10],
        quote! {
            #[layer(stride = (2, 4), padding = 1, ceil_mode = true)]
            pool: MaxPool2d<3>,
        },
    );
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(shapes, vec![sp(2, 5, 3)]);
    let (shapes, errors) = infer_net(
        [1, 3, 6],
        quote! {
            #[layer(padding = 1, ceil_mode = true)]
            pool: MaxPool2d<2>,
        },
    );
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(shapes, vec![sp(1, 2, 4)]);
    // ceil_mode = false is the default.
    let (shapes, errors) = infer_net(
        [1, 5, 5],
        quote! {
            #[layer(ceil_mode = false)]
            pool: MaxPool2d<2>,
        },
    );
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(shapes, vec![sp(1, 2, 2)]);
}

#[test]
fn pool_with_stride_and_padding() {
    // torch.nn.MaxPool2d(3, stride=2, padding=1) on 6 x 9 x 8 gives 6 x 5 x 4;
    // MaxPool2d((2, 3), stride=(1, 3)) on 6 x 5 x 4 gives 6 x 4 x 1.
    let (shapes, errors) = infer_net(
        [6, 9, 8],
        quote! {
            #[layer(stride = 2, padding = 1)]
            pool1: MaxPool2d<3>,
            #[layer(stride = (1, 3))]
            pool2: MaxPool2d<{(2, 3)}>,
        },
    );
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(shapes, vec![sp(6, 5, 4), sp(6, 4, 1)]);
    // The stride defaults to the kernel size, as in PyTorch: 5 x 5 with kernel 2 gives 2 x 2.
    let (shapes, _) = infer_net([1, 5, 5], quote!(pool: MaxPool2d<2>,));
    assert_eq!(shapes, vec![sp(1, 2, 2)]);
}

#[test]
fn flatten_and_linear() {
    let (shapes, errors) = infer_net(
        [16, 5, 5],
        quote! {
            relu: Relu,
            flatten: Flatten,
            fc1: Linear<400, 120>,
            flatten2: Flatten,
            fc2: Linear<120, 10>,
        },
    );
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(
        shapes,
        vec![
            sp(16, 5, 5),
            Some(Shape::Flat(400)),
            Some(Shape::Flat(120)),
            Some(Shape::Flat(120)),
            Some(Shape::Flat(10))
        ]
    );
}

#[test]
fn mismatches_say_what_was_expected_and_where_it_comes_from() {
    let (_, errors) = infer_net(
        [1, 28, 28],
        quote! {
            #[layer(padding = 2)]
            conv1: Conv2d<1, 6, 5>,
            relu1: Relu,
            pool1: MaxPool2d<2>,
            conv2: Conv2d<6, 16, 5>,
            relu2: Relu,
            pool2: MaxPool2d<2>,
            flatten: Flatten,
            fc1: Linear<401, 120>,
            fc2: Linear<121, 10>,
        },
    );
    assert_eq!(
        errors,
        [
            "expected 400 input features (16 x 5 x 5 from `pool2`), found 401",
            "expected 120 input features (the out_features of `fc1`), found 121",
        ]
    );
    let (_, errors) = infer_net(
        [1, 28, 28],
        quote!(conv1: Conv2d<1, 6, 5>, pool1: MaxPool2d<2>, conv2: Conv2d<3, 16, 5>,),
    );
    assert_eq!(
        errors,
        ["expected 6 input channels (`pool1` gives 6 x 12 x 12), found 3"]
    );
}

#[test]
fn inference_goes_on_after_an_error() {
    // conv1's kernel does not fit (its output size is unknown after it), conv2's
    // in_channels is still checked against conv1's out_channels, and fc's in_features,
    // which depends on the unknown size, is not reported.
    let (shapes, errors) = infer_net(
        [1, 4, 4],
        quote! {
            conv1: Conv2d<1, 6, 7>,
            conv2: Conv2d<5, 16, 1>,
            flatten: Flatten,
            fc: Linear<12345, 10>,
        },
    );
    assert_eq!(
        errors,
        [
            "Conv2d `conv1`: its 7 x 7 kernel is larger than its input (the input is 1 x 4 x 4): the output would be empty",
            "expected 6 input channels (`conv1` gives 6 channels), found 5",
        ]
    );
    // Shapes that are not fully known are not reported.
    assert_eq!(shapes, vec![None, None, None, None]);
    // A wrong in_channels does not stop inference: the declared out_channels goes on.
    let (shapes, errors) = infer_net(
        [3, 8, 8],
        quote!(conv1: Conv2d<1, 6, 3>, flatten: Flatten, fc: Linear<383, 10>,),
    );
    assert_eq!(errors.len(), 2);
    assert_eq!(
        errors[1],
        "expected 216 input features (6 x 6 x 6 from `conv1`), found 383"
    );
    assert_eq!(shapes[0], sp(6, 6, 6));
}

#[test]
fn sizes_beyond_32_bit_offsets_are_errors_not_overflows() {
    let (_, errors) = infer_net(
        [1, 1, 1],
        quote! {
            flatten: Flatten,
            fc1: Linear<1, 18446744073709551615>,
            fc2: Linear<18446744073709551615, 18446744073709551615>,
        },
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(
        errors[0].starts_with("`fc1` has 18446744073709551615 weights, more than"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("`fc1` gives 18446744073709551615 features per sample, more than"),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("`fc2` has more than usize::MAX weights"),
        "{errors:?}"
    );
    assert!(
        errors[3].starts_with("`fc2` gives 18446744073709551615 features"),
        "{errors:?}"
    );
    let (_, errors) = infer_net([65536, 65536, 65536], quote!());
    assert_eq!(
        errors,
        ["the input is 65536 x 65536 x 65536 = 281474976710656 values per sample, more than the 4294967295 a buffer may hold (the kernels use 32-bit offsets)"]
    );
}
