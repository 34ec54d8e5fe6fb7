//! The layer table is written twice, in the README (for GitHub) and in the crate docs
//! (`src/lib.rs`, for docs.rs): this test holds the two copies equal, row for row, and checks
//! that every layer kind the macro knows (the `layer_kinds!` list of
//! `macros/src/layers/mod.rs`) has a row.
use std::path::Path;

/// The file at `path` under the repository root.
fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The rows of the markdown table whose header starts with `| layer |`, each with `prefix`
/// (`//! ` for the crate docs) taken off.
fn layer_table(text: &str, prefix: &str) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(prefix).unwrap_or(""))
        .collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("| layer |"))
        .expect("no `| layer |` table");
    lines[start..]
        .iter()
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.to_string())
        .collect()
}

/// The type names of `layer_kinds! { Name => path, .. }`.
fn layer_kinds(source: &str) -> Vec<String> {
    let start = source
        .find("\nlayer_kinds! {")
        .expect("no layer_kinds! list");
    let body = &source[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
    body.lines()
        .filter_map(|l| l.split_once("=>").map(|(name, _)| name.trim().to_string()))
        .collect()
}

#[test]
fn crate_doc_and_readme_layer_tables_are_equal() {
    let readme = layer_table(&read("README.md"), "");
    let crate_doc = layer_table(&read("src/lib.rs"), "//! ");
    assert!(readme.len() > 3, "{readme:#?}");
    for (i, (r, c)) in readme.iter().zip(&crate_doc).enumerate() {
        assert_eq!(r, c, "row {i} differs between README.md and src/lib.rs");
    }
    assert_eq!(readme.len(), crate_doc.len(), "row counts differ");
}

#[test]
fn every_layer_kind_has_a_row() {
    let kinds = layer_kinds(&read("macros/src/layers/mod.rs"));
    assert!(kinds.len() >= 16, "{kinds:?}");
    let table = layer_table(&read("README.md"), "").join("\n");
    let missing: Vec<&String> = kinds
        .iter()
        .filter(|k| !table.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "layer kinds without a row in the table: {missing:?}"
    );
}
