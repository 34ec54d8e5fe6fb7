//! Shape inference: runs each layer kind's shape rule in order, from the input shape, and
//! reports every mismatch on its token.
//!
//! Inference goes on past an error with what is still known (a conv with the wrong
//! `in_channels` still gives its declared `out_channels`; a layer whose size cannot be
//! computed leaves only that size unknown), so independent mistakes are all reported in one
//! build and none is reported twice.
use crate::errors::Errors;
use crate::ir::Spanned;
use crate::layers::{LayerDecl, Role};
use crate::shape::{check_len, dim, Known, Shape, Shaped, Source};

/// Infers the shape after every layer, reporting every mismatch. `input` is `None` when the
/// attribute's input shape had an error. Returns, per layer, its shapes when they are fully
/// known (and its declaration has no error).
pub fn infer(
    input: Option<[Spanned<usize>; 3]>,
    layers: &[LayerDecl],
    errors: &mut Errors,
) -> Vec<Option<Shaped>> {
    let mut cur = match input {
        Some([c, h, w]) => {
            let shape = Shape::Spatial {
                c: c.value,
                h: h.value,
                w: w.value,
            };
            check_len(shape, c.span, || "the input is".to_string(), errors);
            Known::Spatial {
                c: Some(c.value),
                h: Some(h.value),
                w: Some(w.value),
            }
        }
        None => Known::Spatial {
            c: None,
            h: None,
            w: None,
        },
    };
    let mut src = Source {
        producer: "the input".into(),
        features: String::new(),
    };
    let mut out = Vec::new();
    for layer in layers {
        let name = &layer.name;
        let site = layer.site();
        let valid = layer.kind.layer();
        let next = match valid {
            Ok(l) => l.infer(site, cur, &src, errors),
            Err(inv) => inv.ty.map_or(Known::Unknown, |t| {
                t.infer_invalid(inv, site, cur, &src, errors)
            }),
        };
        // The role of a valid layer (an invalid one is treated as a layer of its own).
        let role = valid.ok().map(|l| l.role());
        let passes_through = matches!(role, Some(Role::Activation { .. } | Role::Flatten));
        if let Some(shape) = next.full() {
            if !passes_through {
                check_len(shape, name.span(), || format!("`{name}` gives"), errors);
            }
        }
        let shaped = (cur.full(), next.full(), valid.is_ok());
        out.push(if let (Some(input), Some(output), true) = shaped {
            Some(Shaped { input, output })
        } else {
            None
        });
        match (role, cur) {
            (Some(Role::Activation { .. }), _) => {}
            (Some(Role::Flatten), Known::Spatial { c, h, w }) => {
                src.features =
                    format!("{} x {} x {} from {}", dim(c), dim(h), dim(w), src.producer);
                src.producer = format!("`{name}`");
            }
            (Some(Role::Flatten), Known::Flat(_) | Known::Unknown) => {}
            (None | Some(Role::Opens { .. } | Role::MaxPool | Role::Standalone), _) => {
                src.producer = format!("`{name}`");
                src.features = format!("the out_features of `{name}`");
            }
        }
        cur = next;
    }
    out
}
