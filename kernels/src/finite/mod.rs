//! A device-side check that every value of an f32 arena is finite, so that the trainer need
//! not read the gradients back after each step to find a NaN or an infinity.
//!
//! [`flag_non_finite()`] runs on a 1-D grid of [`pass_units`] invocations, like the optimizer
//! passes ([`crate::adam`]): invocation `u` checks elements `u, u + units, u + 2 * units, ...
//! < len`. The values are read as their IEEE-754 bits (`u32`), so the test (exponent bits all
//! ones: NaN, +Inf or -Inf) does not depend on how a compiler treats float comparisons with
//! NaN (fast-math may fold `x != x` away).
//!
//! An invocation that finds a non-finite value atomically stores the launch's `stamp` into
//! `flag[0]`; every writer writes the same value, so the result does not depend on their order
//! (deterministic). The host gives every launch a new stamp, so the flag never needs clearing:
//! after the launch, `flag[0] == stamp` if and only if some value was not finite.
use cubecl::prelude::*;

pub use crate::adam::pass_units;

/// The exponent bits of an f32: all ones for NaN and the infinities.
pub const EXPONENT_MASK: u32 = 0x7f80_0000;

/// Whether the f32 with these bits is finite (host twin of the kernel's test).
pub const fn is_finite_bits(bits: u32) -> bool {
    bits & EXPONENT_MASK != EXPONENT_MASK
}

/// Stores `stamp` into `flag[0]` if any of the first `len` f32 values of `values` (passed as
/// their bits) is NaN or infinite; `units` invocations (see the module docs).
#[cube(launch_unchecked)]
pub fn flag_non_finite(values: &[u32], flag: &[Atomic<u32>], len: usize, units: usize, stamp: u32) {
    let u = ABSOLUTE_POS;
    if u < units {
        #[allow(clippy::manual_div_ceil)]
        let chunk = (len + units - 1) / units;
        let mut bad = 0u32;
        for k in 0..chunk {
            let i = u + k * units;
            // Nested, not `&&`: the load must not run for `i >= len`.
            #[allow(clippy::collapsible_if)]
            if i < len {
                if (values[i] & 0x7f80_0000u32) == 0x7f80_0000u32 {
                    bad = 1u32;
                }
            }
        }
        if bad != 0u32 {
            flag[0].store(stamp);
        }
    }
}
