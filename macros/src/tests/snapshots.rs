//! Snapshots of the whole expansion of the zoo's networks (`src/zoo.rs`, read here, not
//! copied), so that any change to the generated code shows up as a reviewed diff
//! (`cargo insta review`, or `INSTA_UPDATE=always cargo test -p cubenet-macros snapshots`).
use crate::expand::compile;
use crate::print::pretty;

/// The `#[network(...)]` structs of `src/zoo.rs`: (name, attribute arguments, item).
fn zoo() -> Vec<(String, proc_macro2::TokenStream, syn::Item)> {
    let file: syn::File = syn::parse_str(include_str!("../../../src/zoo.rs")).expect("zoo parses");
    file.items
        .into_iter()
        .filter_map(|item| {
            let syn::Item::Struct(s) = &item else {
                return None;
            };
            let attr = s.attrs.iter().find(|a| a.path().is_ident("network"))?;
            let args = attr.meta.require_list().ok()?.tokens.clone();
            Some((s.ident.to_string(), args, item))
        })
        .collect()
}

fn expansion(name: &str) -> String {
    let (_, attr, item) = zoo()
        .into_iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("no network `{name}` in src/zoo.rs"));
    pretty(&compile(attr, &item).unwrap_or_else(|e| panic!("{name}: {e}")))
}

#[test]
fn lenet5_expansion() {
    insta::assert_snapshot!(expansion("LeNet5"));
}

#[test]
fn fashion_bn_expansion() {
    insta::assert_snapshot!(expansion("FashionBn"));
}

#[test]
fn resnet8_expansion() {
    insta::assert_snapshot!(expansion("ResNet8"));
}

#[test]
fn every_zoo_network_expands() {
    let nets = zoo();
    assert!(nets.len() >= 4, "{}", nets.len());
    for (name, attr, item) in nets {
        compile(attr, &item).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
