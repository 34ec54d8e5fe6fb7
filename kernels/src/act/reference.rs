//! Activations in f64: forward and backward of every activation a block can fuse, from
//! PyTorch's documented definitions (torch.nn.Tanh, Sigmoid, LeakyReLU, GELU, SiLU, ReLU6,
//! Hardswish docs).

/// An activation of the f64 reference (the f64 twin of the kernels' `Act`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `max(x, 0)` (torch.nn.ReLU).
    Relu,
    /// `tanh(x)` (torch.nn.Tanh).
    Tanh,
    /// `1 / (1 + exp(-x))` (torch.nn.Sigmoid).
    Sigmoid,
    /// `x` for `x > 0`, else `negative_slope * x` (torch.nn.LeakyReLU).
    LeakyRelu(f64),
    /// `x Φ(x)` with `Φ(x) = (1 + erf(x / √2)) / 2` (torch.nn.GELU, approximate='none').
    Gelu,
    /// `x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))` (torch.nn.GELU, approximate='tanh').
    GeluTanh,
    /// `x σ(x)`, `σ(x) = 1 / (1 + exp(-x))` (torch.nn.SiLU).
    Silu,
    /// `min(max(x, 0), 6)` (torch.nn.ReLU6).
    Relu6,
    /// `x min(max(x + 3, 0), 6) / 6` (torch.nn.Hardswish).
    Hardswish,
}

/// `√(2/π)`.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of the tanh-approximated GELU (torch.nn.GELU docs).
const KAPPA: f64 = 0.044715;

/// `erf(x)` in f64, to about 1e-15: for `|x| < 6` the series
/// `erf(x) = 2/√π e^{-x²} Σ_{n>=0} 2^n x^{2n+1} / (1·3···(2n+1))` (Abramowitz & Stegun
/// 7.1.6; all terms positive, so no cancellation), and `±1` beyond (`erfc(6) < 3e-17`).
pub fn erf(x: f64) -> f64 {
    let a = x.abs();
    if a >= 6.0 {
        return x.signum();
    }
    let x2 = a * a;
    let mut term = a;
    let mut sum = a;
    let mut n = 0.0;
    while term > sum * 1e-17 {
        n += 1.0;
        term *= 2.0 * x2 / (2.0 * n + 1.0);
        sum += term;
    }
    let v = 2.0 / std::f64::consts::PI.sqrt() * (-x2).exp() * sum;
    v.copysign(x)
}

/// The standard normal CDF `Φ(x) = (1 + erf(x / √2)) / 2`.
pub fn std_normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

impl Activation {
    /// `act(x)`.
    pub fn forward(self, x: f64) -> f64 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::LeakyRelu(s) => {
                if x > 0.0 {
                    x
                } else {
                    s * x
                }
            }
            Activation::Gelu => x * std_normal_cdf(x),
            Activation::GeluTanh => {
                0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + KAPPA * x * x * x)).tanh())
            }
            Activation::Silu => x / (1.0 + (-x).exp()),
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::Hardswish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
        }
    }

    /// `act'(x)` at the pre-activation `x`. At the kinks PyTorch's choice: relu'(0) = 0,
    /// leaky_relu'(0) = negative_slope (`leaky_relu_backward`: `x > 0 ? grad : grad * slope`),
    /// relu6'(0) = relu6'(6) = 0 (`hardtanh_backward`: `x <= 0 || x >= 6 ? 0 : grad`),
    /// hardswish'(-3) = 0 and hardswish'(3) = 1 (`hardswish_backward` of PyTorch 2.x:
    /// `x <= -3 ? 0 : x < 3 ? grad (x/3 + 1/2) : grad`; torch 2.15 gives these values).
    pub fn derivative(self, x: f64) -> f64 {
        match self {
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Tanh => 1.0 - x.tanh().powi(2),
            Activation::Sigmoid => {
                let y = self.forward(x);
                y * (1.0 - y)
            }
            Activation::LeakyRelu(s) => {
                if x > 0.0 {
                    1.0
                } else {
                    s
                }
            }
            Activation::Gelu => {
                let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                std_normal_cdf(x) + x * pdf
            }
            Activation::GeluTanh => {
                let t = (SQRT_2_OVER_PI * (x + KAPPA * x * x * x)).tanh();
                0.5 * (1.0 + t)
                    + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * KAPPA * x * x)
            }
            // d/dx x σ(x) = σ(x) + x σ(x) (1 - σ(x)) (PyTorch's `silu_backward`).
            Activation::Silu => {
                let s = 1.0 / (1.0 + (-x).exp());
                s * (1.0 + x * (1.0 - s))
            }
            Activation::Relu6 => {
                if x > 0.0 && x < 6.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Hardswish => {
                if x <= -3.0 {
                    0.0
                } else if x < 3.0 {
                    x / 3.0 + 0.5
                } else {
                    1.0
                }
            }
        }
    }
}

/// `act(x)`, elementwise.
pub fn activation_forward(act: Activation, x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| act.forward(v)).collect()
}

/// Backward of [`activation_forward`]: `grad_in = grad_out * act'(x)` at the pre-activation
/// `x`.
///
/// # Panics
/// If the slices differ in length.
pub fn activation_backward(act: Activation, x: &[f64], grad_out: &[f64]) -> Vec<f64> {
    assert_eq!(
        x.len(),
        grad_out.len(),
        "activation_backward: x and grad_out differ in length"
    );
    x.iter()
        .zip(grad_out)
        .map(|(&v, &g)| g * act.derivative(v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_libm_values() {
        // Python's math.erf (C99 erf, correctly rounded to ~1 ulp).
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.5, 0.999_999_256_901_627_6),
        ] {
            assert!((erf(x) - want).abs() < 1e-14, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + want).abs() < 1e-14);
        }
    }

    #[test]
    fn activations_at_known_points() {
        // torch.nn.functional.gelu(torch.tensor(1.0, dtype=torch.float64)) = 0.841344746068543
        assert!((Activation::Gelu.forward(1.0) - 0.841_344_746_068_543).abs() < 1e-14);
        // ... approximate='tanh': 0.8411919906082768
        assert!((Activation::GeluTanh.forward(1.0) - 0.841_191_990_608_276_8).abs() < 1e-14);
        assert_eq!(Activation::LeakyRelu(0.2).forward(-2.0), -0.4);
        assert_eq!(Activation::LeakyRelu(0.2).derivative(0.0), 0.2);
        assert_eq!(Activation::Sigmoid.forward(0.0), 0.5);
        // torch.nn.functional.silu(torch.tensor([1.0, -2.0], dtype=torch.float64))
        // = [0.7310585786300049, -0.23840584404423515]
        assert!((Activation::Silu.forward(1.0) - 0.731_058_578_630_004_9).abs() < 1e-15);
        assert!((Activation::Silu.forward(-2.0) + 0.238_405_844_044_235_15).abs() < 1e-15);
        assert_eq!(Activation::Silu.forward(-800.0), -0.0);
    }

    #[test]
    fn relu6_and_hardswish_at_their_kinks() {
        // torch.nn.ReLU6 / Hardswish on float64 [-4, -3, -1.5, 0, 3, 5, 6, 7], torch 2.15:
        // relu6     [0, 0, 0, 0, 3, 5, 6, 6],             grad [0, 0, 0, 0, 1, 1, 0, 0]
        // hardswish [-0, -0, -0.375, 0, 3, 5, 6, 7],      grad [0, 0, 0, 0.5, 1, 1, 1, 1]
        let x = [-4.0, -3.0, -1.5, 0.0, 3.0, 5.0, 6.0, 7.0];
        let relu6 = [0.0, 0.0, 0.0, 0.0, 3.0, 5.0, 6.0, 6.0];
        let relu6_grad = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let hardswish = [-0.0, -0.0, -0.375, 0.0, 3.0, 5.0, 6.0, 7.0];
        let hardswish_grad = [0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0];
        for i in 0..x.len() {
            assert_eq!(Activation::Relu6.forward(x[i]), relu6[i], "relu6({})", x[i]);
            assert_eq!(
                Activation::Relu6.derivative(x[i]),
                relu6_grad[i],
                "relu6'({})",
                x[i]
            );
            assert_eq!(
                Activation::Hardswish.forward(x[i]),
                hardswish[i],
                "hardswish({})",
                x[i]
            );
            assert_eq!(
                Activation::Hardswish.derivative(x[i]),
                hardswish_grad[i],
                "hardswish'({})",
                x[i]
            );
        }
    }
}
