//! The README's complete program is `examples/quickstart.rs` verbatim (which `cargo test`
//! and CI build), so the README cannot show code that does not compile.
#[test]
fn readme_shows_the_quickstart_example_verbatim() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/quickstart.rs")).unwrap();
    let block = format!("```rust\n{example}```\n");
    assert!(
        readme.contains(&block),
        "README.md must contain examples/quickstart.rs in a ```rust block, verbatim"
    );
}
