//! The launch plan of a compiled network at a given batch size: per kernel, how many units
//! it launches, the longest serial loop one unit runs, and its multiply-adds
//! ([`Network::kernel_plan`](crate::Network::kernel_plan)); printed by the examples'
//! `--plan` and checked by the structural tests (a GPU needs tens of thousands of units per
//! heavy kernel, and a unit with a long serial loop leaves it idle).
use std::fmt::Write;

use crate::device::Target;

/// One kernel of a training step (or of an evaluation batch) at a given batch size and
/// target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelPlan {
    /// The kernel's name (`forward_conv1`, `backward_update`, ...).
    pub name: &'static str,
    /// Units (shader invocations that do work) it launches.
    pub units: usize,
    /// An upper bound on the loop iterations of one unit: the longest serial chain.
    pub longest_loop: usize,
    /// Which job runs that loop (`the forward pass of `conv1``); empty without loops.
    pub longest_job: &'static str,
    /// Multiply-adds of the whole launch (element-wise work counts one per element;
    /// saturating).
    pub macs: usize,
}

impl KernelPlan {
    /// A kernel with no jobs yet.
    pub fn new(name: &'static str) -> Self {
        KernelPlan {
            name,
            units: 0,
            longest_loop: 0,
            longest_job: "",
            macs: 0,
        }
    }
}

/// The longest loop of any kernel of `plan`, and its job.
pub fn longest_loop(plan: &[KernelPlan]) -> (usize, &'static str) {
    plan.iter()
        .map(|k| (k.longest_loop, k.longest_job))
        .fold((0, ""), |best, k| if k.0 > best.0 { k } else { best })
}

/// The table `--plan` prints: for each training kernel, and each target row, its units and
/// the longest loop of one unit, at a batch of `n`. `plans[t]` is the plan for target
/// `Target::ALL[t]`.
pub fn table(n: usize, plans: &[Vec<KernelPlan>]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "training step at batch {n}:");
    let _ = write!(s, "      {:<37} {:>12}", "kernel", "MACs");
    for t in Target::ALL {
        let _ = write!(
            s,
            " {:>12} {:>12}",
            format!("{} units", t.name()),
            "longest loop"
        );
    }
    s.push('\n');
    let kernels = plans.first().map_or(0, Vec::len);
    for k in 0..kernels {
        let first = &plans[0][k];
        let _ = write!(s, "  {:>2}. {:<37} {:>12}", k + 1, first.name, first.macs);
        for plan in plans {
            let _ = write!(s, " {:>12} {:>12}", plan[k].units, plan[k].longest_loop);
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(name: &'static str, units: usize, longest_loop: usize) -> KernelPlan {
        KernelPlan {
            units,
            longest_loop,
            longest_job: name,
            macs: 7 * units,
            ..KernelPlan::new(name)
        }
    }

    #[test]
    fn longest_loop_is_the_largest_and_names_its_job() {
        let plan = vec![kernel("a", 10, 3), kernel("b", 5, 9), kernel("c", 1, 9)];
        assert_eq!(longest_loop(&plan), (9, "b"));
        assert_eq!(longest_loop(&[]), (0, ""));
    }

    #[test]
    fn table_has_a_row_per_kernel_and_a_column_pair_per_target() {
        let cpu = vec![kernel("forward_conv1", 4, 100), kernel("head_fc", 2, 5)];
        let gpu = vec![kernel("forward_conv1", 4000, 10), kernel("head_fc", 2, 5)];
        let t = table(64, &[cpu, gpu]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(
            lines[0].contains("batch 64") && lines[1].contains("gpu units"),
            "{t}"
        );
        let cols: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            cols,
            ["1.", "forward_conv1", "28", "4", "100", "4000", "10"],
            "{t}"
        );
    }
}
