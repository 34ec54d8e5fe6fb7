//! Unit tests of the macro's phases, on `proc_macro2` token streams.
mod expand;
mod shape;
mod snapshots;

/// The `#[network(...)]` structs of `src/zoo.rs` (read here, not copied): (name, attribute
/// arguments, item).
pub fn zoo() -> Vec<(String, proc_macro2::TokenStream, syn::Item)> {
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

/// The zoo's network `name`: its attribute arguments and item.
pub fn zoo_net(name: &str) -> (proc_macro2::TokenStream, syn::Item) {
    zoo()
        .into_iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, attr, item)| (attr, item))
        .unwrap_or_else(|| panic!("no network `{name}` in src/zoo.rs"))
}
