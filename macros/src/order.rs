//! Layer order: the sequences cubenet fuses. A block is opened by a layer of role
//! [`Role::Opens`] (Conv2d, Linear, BatchNorm) and takes an optional activation and, when it
//! is spatial, an optional MaxPool2d (in either order, except that an activation that is not
//! monotonic, such as GELU, must come before the pool: the kernel applies the activation
//! first, which commutes with max-pooling only for monotonic activations); a
//! [`Role::Standalone`] layer (Dropout, the average pools, BasicBlock) is a block of its own;
//! a Flatten separates the conv blocks from the linear ones; the last layer is the Linear
//! giving the class scores (training applies softmax cross-entropy to them).
//!
//! Mistakes that shape inference already reports (a MaxPool2d on flat features) are not
//! reported again here.
use syn::Ident;

use crate::errors::Errors;
use crate::layers::{LayerDecl, LayerType, Role};

/// The block an activation or MaxPool2d would be fused into.
struct Open<'a> {
    owner: &'a Ident,
    spatial: bool,
    /// The activation already fused, with its type.
    act: Option<(&'a Ident, LayerType)>,
    pool: Option<&'a Ident>,
}

/// Reports every layer that cannot be fused where it stands, and a network that does not end
/// with the Linear giving the class scores.
pub fn check(layers: &[LayerDecl], struct_ident: &Ident, errors: &mut Errors) {
    let Some(last) = layers.last() else {
        errors.push(struct_ident.span(), "the network has no layers: add fields, one per layer, ending with a Linear layer giving the class scores");
        return;
    };
    let unknown = layers.iter().any(|l| l.kind.ty().is_none());
    let matmul = layers
        .iter()
        .any(|l| matches!(l.role(), Some(Role::Opens { matmul: true, .. })));
    if !unknown && !matmul {
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
    for layer in layers {
        let name = &layer.name;
        let Some(t) = layer.kind.ty() else {
            open = None;
            lenient = true;
            flat = false;
            continue;
        };
        match t.role() {
            Role::Opens { spatial, .. } => {
                open = Some(Open {
                    owner: name,
                    spatial,
                    act: None,
                    pool: None,
                });
                flat = !spatial;
                lenient = false;
            }
            Role::Standalone => {
                open = None;
                after = format!("the {} `{name}`", t.name());
                lenient = false;
            }
            Role::Flatten => {
                open = None;
                after = format!("the Flatten `{name}`");
                flat = true;
                lenient = false;
            }
            Role::Activation { .. } if lenient => {}
            Role::Activation {
                monotonic,
                idempotent,
                pytorch,
            } => activation(name, t, monotonic, idempotent, pytorch, &mut open, &after, errors),
            Role::MaxPool if lenient || flat => {}
            Role::MaxPool => match &mut open {
                Some(Open { owner, spatial: true, pool: Some(first), .. }) => errors.push(
                    name.span(),
                    format!(
                        "`{owner}` already has a MaxPool2d (`{first}`); cubenet fuses one pool into each Conv2d or BatchNorm2d: use one pool with a larger kernel, or a Conv2d between them"
                    ),
                ),
                Some(o @ Open { spatial: true, .. }) => o.pool = Some(name),
                Some(Open { spatial: false, .. }) | None => errors.push(
                    name.span(),
                    format!(
                        "MaxPool2d `{name}` must follow a Conv2d or BatchNorm2d (optionally with an activation between; cubenet fuses the pool into that layer's kernel), but it follows {after}"
                    ),
                ),
            },
        }
    }
    let last_name = &last.name;
    let Some(t) = last.kind.ty() else { return };
    if t == LayerType::Linear || lenient {
        return;
    }
    if let (
        Role::Activation { .. },
        Some(Open {
            spatial: false,
            owner,
            ..
        }),
    ) = (t.role(), &open)
    {
        errors.push(
            last_name.span(),
            format!("the last layer must be the Linear giving the class scores (training applies softmax cross-entropy to them): remove `{last_name}` after `{owner}`"),
        );
    } else {
        errors.push(
            last_name.span(),
            format!(
                "the network must end with a Linear layer giving the class scores (training applies softmax cross-entropy to them), but `{last_name}` is a {}",
                t.name()
            ),
        );
    }
}

/// Checks that activation `name` of type `t` can be fused into the open block, and fuses it.
#[allow(clippy::too_many_arguments)]
fn activation<'a>(
    name: &'a Ident,
    t: LayerType,
    monotonic: bool,
    idempotent: bool,
    pytorch: &str,
    open: &mut Option<Open<'a>>,
    after: &str,
    errors: &mut Errors,
) {
    let tn = t.name();
    match open {
        None => errors.push(
            name.span(),
            format!("{tn} `{name}` must follow a Conv2d, Linear or BatchNorm layer (cubenet fuses it into that layer's kernel), but it follows {after}"),
        ),
        Some(Open { owner, act: Some((first, ft)), .. }) if idempotent && *ft == t => {
            let f = tn.to_lowercase();
            errors.push(
                name.span(),
                format!("`{owner}` already has a {tn} (`{first}`), and {f}({f}(x)) = {f}(x): remove `{name}`"),
            )
        }
        Some(Open { owner, act: Some((first, ft)), .. }) => errors.push(
            name.span(),
            format!(
                "`{owner}` already has an activation (the {} `{first}`); cubenet fuses one activation into each Conv2d, Linear or BatchNorm layer: remove `{name}`, or put a layer with weights between them",
                ft.name()
            ),
        ),
        Some(Open { pool: Some(pool), .. }) if !monotonic => errors.push(
            name.span(),
            format!("{tn} `{name}` must come before the MaxPool2d `{pool}`: cubenet applies the activation before the pool, which gives the same result only for monotonic activations, and {pytorch} is not monotonic"),
        ),
        Some(o) => o.act = Some((name, t)),
    }
}
