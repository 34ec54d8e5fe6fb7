//! Snapshots of the whole expansion of the zoo's networks (`src/zoo.rs`, read here, not
//! copied), so that any change to the generated code shows up as a reviewed diff
//! (`cargo insta review`, or `INSTA_UPDATE=always cargo test -p cubenet-macros snapshots`).
use crate::expand::compile;
use crate::print::pretty;

use super::{zoo, zoo_net};

fn expansion(name: &str) -> String {
    let (attr, item) = zoo_net(name);
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
