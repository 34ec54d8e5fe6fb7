//! Layer order: the sequences cubenet fuses. A block is a Conv2d or a BatchNorm2d with an optional activation
//! (Relu, Tanh, Sigmoid, LeakyRelu, Gelu) and an optional MaxPool2d (in either order, except
//! that a Gelu must come before the pool: the kernel applies the activation first, which
//! commutes with max-pooling only for monotonic activations), or a Linear or BatchNorm1d with
//! an optional activation; a Dropout, AvgPool2d or AdaptiveAvgPool2d is a block of its own; a
//! Flatten
//! separates the conv blocks from the linear ones; the last layer is the Linear giving the
//! class scores (training applies softmax cross-entropy to them).
//!
//! Mistakes that shape inference already reports (a MaxPool2d on flat features) are not
//! reported again here.
use syn::Ident;

use crate::ir::*;
use crate::parse::Errors;

/// The block an activation or MaxPool2d would be fused into.
struct Open<'a> {
    owner: &'a Ident,
    conv: bool,
    /// The activation already fused, with its type.
    act: Option<(&'a Ident, LayerType)>,
    pool: Option<&'a Ident>,
}

/// Reports every layer that cannot be fused where it stands, and a network that does not end
/// with the Linear giving the class scores.
pub fn check(layers: &[LayerDecl], struct_ident: &Ident, errors: &mut Errors) {
    let types: Vec<Option<LayerType>> = layers.iter().map(|l| l.kind.ty()).collect();
    let Some(last) = layers.last() else {
        errors.push(struct_ident.span(), "the network has no layers: add fields, one per layer, ending with a Linear layer giving the class scores");
        return;
    };
    let unknown = types.contains(&None);
    if !unknown
        && !types
            .iter()
            .any(|t| matches!(t, Some(LayerType::Conv2d | LayerType::Linear)))
    {
        errors.push(
            struct_ident.span(),
            "the network has no Conv2d or Linear layer, so nothing to train: end it with a Linear layer giving the class scores",
        );
        return;
    }
    let mut open: Option<Open> = None;
    // What the activation follows when no block is open.
    let mut after = "the input".to_string();
    // The activation is flat: a MaxPool2d there is a shape error already.
    let mut flat = false;
    // After a layer of unknown type nothing is known about the open block.
    let mut lenient = false;
    for (layer, ty) in layers.iter().zip(&types) {
        let name = &layer.name;
        match ty {
            None => {
                open = None;
                lenient = true;
                flat = false;
            }
            Some(t @ (LayerType::Conv2d | LayerType::Linear)) => {
                let conv = *t == LayerType::Conv2d;
                open = Some(Open { owner: name, conv, act: None, pool: None });
                flat = !conv;
                lenient = false;
            }
            Some(t @ (LayerType::BatchNorm2d | LayerType::BatchNorm1d)) => {
                let conv = *t == LayerType::BatchNorm2d;
                open = Some(Open { owner: name, conv, act: None, pool: None });
                flat = !conv;
                lenient = false;
            }
            Some(
                t @ (LayerType::Dropout
                | LayerType::AvgPool2d
                | LayerType::AdaptiveAvgPool2d
                | LayerType::BasicBlock),
            ) => {
                open = None;
                after = format!("the {} `{name}`", t.name());
                lenient = false;
            }
            Some(LayerType::Flatten) => {
                open = None;
                after = format!("the Flatten `{name}`");
                flat = true;
                lenient = false;
            }
            Some(t) if t.is_activation() && lenient => {}
            Some(t) if t.is_activation() => {
                let t = *t;
                let tn = t.name();
                match &mut open {
                    None => errors.push(
                        name.span(),
                        format!("{tn} `{name}` must follow a Conv2d, Linear or BatchNorm layer (cubenet fuses it into that layer's kernel), but it follows {after}"),
                    ),
                    Some(Open { owner, act: Some((first, LayerType::Relu)), .. }) if t == LayerType::Relu => errors.push(
                        name.span(),
                        format!("`{owner}` already has a Relu (`{first}`), and relu(relu(x)) = relu(x): remove `{name}`"),
                    ),
                    Some(Open { owner, act: Some((first, ft)), .. }) => errors.push(
                        name.span(),
                        format!(
                            "`{owner}` already has an activation (the {} `{first}`); cubenet fuses one activation into each Conv2d, Linear or BatchNorm layer: remove `{name}`, or put a layer with weights between them",
                            ft.name()
                        ),
                    ),
                    Some(Open { pool: Some(pool), .. }) if t == LayerType::Gelu => errors.push(
                        name.span(),
                        format!("Gelu `{name}` must come before the MaxPool2d `{pool}`: cubenet applies the activation before the pool, which gives the same result only for monotonic activations, and GELU is not monotonic"),
                    ),
                    Some(o) => o.act = Some((name, t)),
                }
            }
            Some(LayerType::MaxPool2d) if lenient || flat => {}
            Some(LayerType::MaxPool2d) => match &mut open {
                Some(Open { owner, conv: true, pool: Some(first), .. }) => errors.push(
                    name.span(),
                    format!(
                        "`{owner}` already has a MaxPool2d (`{first}`); cubenet fuses one pool into each Conv2d or BatchNorm2d: use one pool with a larger kernel, or a Conv2d between them"
                    ),
                ),
                Some(o @ Open { conv: true, .. }) => o.pool = Some(name),
                _ => errors.push(
                    name.span(),
                    format!(
                        "MaxPool2d `{name}` must follow a Conv2d or BatchNorm2d (optionally with an activation between; cubenet fuses the pool into that layer's kernel), but it follows {after}"
                    ),
                ),
            },
            // Every activation is handled above.
            Some(_) => {}
        }
    }
    let last_name = &last.name;
    match (last.kind.ty(), &open) {
        (None | Some(LayerType::Linear), _) => {}
        _ if lenient => {}
        (Some(t), Some(Open { conv: false, owner, .. })) if t.is_activation() => errors.push(
            last_name.span(),
            format!("the last layer must be the Linear giving the class scores (training applies softmax cross-entropy to them): remove `{last_name}` after `{owner}`"),
        ),
        (Some(t), _) => errors.push(
            last_name.span(),
            format!(
                "the network must end with a Linear layer giving the class scores (training applies softmax cross-entropy to them), but `{last_name}` is a {}",
                t.name()
            ),
        ),
    }
}
