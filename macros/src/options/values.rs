//! Parsing one option value: integers, `(h, w)` pairs, booleans, floats with their range
//! rule, string choices; every mistake reported on its token.
use syn::spanned::Spanned as _;
use syn::{Expr, Lit};

use super::{FloatRule, OptKind, OptSpec, Value};
use crate::errors::Errors;
use crate::ir::{Pair, Spanned};
use crate::suggest::did_you_mean;

/// A non-negative integer literal.
pub fn usize_of(expr: &Expr, what: &str, errors: &mut Errors) -> Option<Spanned<usize>> {
    let msg = match expr {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => {
                return match i.base10_parse::<usize>() {
                    Ok(v) => Some(Spanned {
                        value: v,
                        span: i.span(),
                    }),
                    Err(_) => {
                        errors.push(
                            i.span(),
                            format!(
                                "{what} is too large: at most {} on this machine",
                                usize::MAX
                            ),
                        );
                        None
                    }
                };
            }
            Lit::Float(f) => format!("{what} must be a whole number, found `{f}`"),
            _ => format!("{what} must be an integer literal, e.g. `5`"),
        },
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => format!("{what} cannot be negative"),
        _ => format!("{what} must be an integer literal, e.g. `5`"),
    };
    errors.push_tokens(expr, msg);
    None
}

/// Checks one parsed number (that it is not 0 where 0 is not allowed).
type Check<'a> = dyn Fn(Spanned<usize>, &mut Errors) -> Option<Spanned<usize>> + 'a;

/// A number, or a pair `(h, w)` (a braced `{(h, w)}` in generic arguments).
fn parse_pair(expr: &Expr, what: &str, check: &Check, errors: &mut Errors) -> Option<Pair> {
    // The span of the whole pair: its parentheses (or braces) with what is inside.
    let (tuple, span) = match expr {
        Expr::Tuple(t) => (Some(t), t.paren_token.span.join()),
        Expr::Paren(p) => return parse_pair(&p.expr, what, check, errors),
        Expr::Block(b) => match b.block.stmts.as_slice() {
            [syn::Stmt::Expr(Expr::Tuple(t), None)] => (Some(t), b.block.brace_token.span.join()),
            _ => {
                errors.push_tokens(
                    expr,
                    format!("{what} must be a number or a braced pair `{{(h, w)}}`"),
                );
                return None;
            }
        },
        _ => (None, expr.span()),
    };
    let Some(t) = tuple else {
        let v = check(usize_of(expr, what, errors)?, errors)?;
        return Some(Spanned {
            value: (v.value, v.value),
            span: v.span,
        });
    };
    if t.elems.len() != 2 {
        errors.push(
            span,
            format!(
                "{what} must be a number or a pair `(height, width)`, found {} values",
                t.elems.len()
            ),
        );
        return None;
    }
    let h = usize_of(&t.elems[0], what, errors).and_then(|v| check(v, errors));
    let w = usize_of(&t.elems[1], what, errors).and_then(|v| check(v, errors));
    Some(Spanned {
        value: (h?.value, w?.value),
        span,
    })
}

pub(super) fn parse_value(
    expr: &Expr,
    spec: &OptSpec,
    what: &str,
    errors: &mut Errors,
) -> Option<Value> {
    let check = |v: Spanned<usize>, errors: &mut Errors| -> Option<Spanned<usize>> {
        match spec.nonzero {
            Some(why) if v.value == 0 => {
                errors.push(v.span, format!("{what} must be at least 1, found 0: {why}"));
                None
            }
            _ => Some(v),
        }
    };
    match spec.kind {
        OptKind::Bool => match expr {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Bool(b), ..
            }) => Some(Value::Bool(b.value)),
            _ => {
                errors.push_tokens(expr, format!("{what} must be `true` or `false`"));
                None
            }
        },
        OptKind::Int => check(usize_of(expr, what, errors)?, errors).map(Value::Int),
        OptKind::Pair => parse_pair(expr, what, &check, errors).map(Value::Pair),
        OptKind::Padding => match expr {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) => match s.value().as_str() {
                "same" => Some(Value::Same(s.span())),
                "valid" => Some(Value::Pair(Spanned {
                    value: (0, 0),
                    span: s.span(),
                })),
                v => {
                    errors.push(
                        s.span(),
                        format!(
                            "{what} must be a number, a pair `(h, w)`, \"same\" or \"valid\", found \"{v}\"{}",
                            did_you_mean(v, &["same", "valid"])
                        ),
                    );
                    None
                }
            },
            _ => parse_pair(expr, what, &check, errors).map(Value::Pair),
        },
        OptKind::Float(rule) => {
            let v = parse_float(expr, rule, what, errors)?;
            if let Some(r) = &rule.bad {
                if (r.is_bad)(v) {
                    let (rule, why) = (r.rule, r.why);
                    errors.push_tokens(expr, format!("{what} {rule}, found {v}: {why}"));
                    return None;
                }
            }
            Some(Value::Float(v))
        }
        OptKind::Choice(choices) => match expr {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) => {
                let v = s.value();
                match choices.iter().position(|c| *c == v) {
                    Some(i) => Some(Value::Choice(i)),
                    None => {
                        errors.push(
                            s.span(),
                            format!(
                                "{what} must be {}, found \"{v}\"{}",
                                quoted_choices(choices),
                                did_you_mean(&v, choices)
                            ),
                        );
                        None
                    }
                }
            }
            _ => {
                errors.push_tokens(
                    expr,
                    format!("{what} must be a string: {}", quoted_choices(choices)),
                );
                None
            }
        },
    }
}

/// `"a" or "b"`.
fn quoted_choices(choices: &[&str]) -> String {
    let q: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
    q.join(" or ")
}

/// A finite number >= 0, written as an integer or float literal.
pub fn parse_float(expr: &Expr, rule: &FloatRule, what: &str, errors: &mut Errors) -> Option<f32> {
    let parsed = match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(f), ..
        }) => f.base10_parse::<f32>().ok(),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse::<f32>().ok(),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => {
            errors.push_tokens(expr, format!("{what} cannot be negative{}", rule.negative));
            return None;
        }
        _ => {
            errors.push_tokens(expr, format!("{what} must be a number, e.g. `0.2`"));
            return None;
        }
    };
    match parsed {
        Some(v) if v.is_finite() => Some(v),
        _ => {
            errors.push_tokens(expr, format!("{what} must be a finite f32 number"));
            None
        }
    }
}
