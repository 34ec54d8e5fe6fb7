//! The PyTorch parity sequence, written once. A case's values in a fixture sit under one key
//! prefix `<case>.` (as `scripts/*_cases.py` write them):
//!
//! | key | what |
//! |---|---|
//! | `<case>.init.*` | the initial `state_dict` |
//! | `<case>.x<k>`, `<case>.y<k>` | batch `k` (or `x`, `y` for every pass: [`Parity::same_batch`]) |
//! | `<case>.logits` | the logits of batch 1 ([`Parity::logits`]) |
//! | `<case>.<loss key>`, `<case>.grad.*` | the loss and gradients of batch 1 ([`Parity::gradients`]) |
//! | `<case>.loss<k>`, `<case>.step<k>.*` | the loss of step `k` and the `state_dict` after it |
//!
//! [`Parity::run`] makes the network (seed 0, in training mode), loads `init` and checks that its
//! `state_dict` is `init`, then checks, in this order and each only when asked for: the logits of batch 1 (`forward`), the loss and every gradient of
//! batch 1 (`compute_gradients`), and one training step per optimizer given to
//! [`Parity::steps`] on batch `k` (the loss, and the whole `state_dict` after it, BatchNorm
//! buffers included). It returns the network for the checks a test adds (eval mode, Adam's
//! moments, ...); [`Parity::before_step`] and [`Parity::after_step`] add checks around each
//! step. [`Expected`] holds the comparisons, for those checks too.
//!
//! Every comparison is `|got - want| <= tol * max(1, |want|)` ([`assert_close`]); every key
//! set is compared whole (no tensor missing on either side); every gradient PyTorch gives must
//! be non-zero somewhere, or the case would test nothing there.
use std::collections::{BTreeSet, HashMap};

use cubenet::{BatchTargets, NamedTensor, Network, Optimizer};

use super::{assert_close, device, grads, params, Fixture};

/// The buffers of a BatchNorm, by `state_dict` key suffix: in the state, never trained.
pub const BUFFERS: [&str; 3] = [".running_mean", ".running_var", ".num_batches_tracked"];

/// Whether `key` names a BatchNorm buffer.
pub fn is_buffer(key: &str) -> bool {
    BUFFERS.iter().any(|b| key.ends_with(b))
}

/// `<prefix>.<key>`, or `key` alone for the empty prefix.
fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// What a fixture expects of one case (the values under `<case>.`), and the checks against it.
pub struct Expected<'f> {
    /// The fixture.
    pub fx: &'f Fixture,
    case: String,
    tol: f32,
    loss_tol: f32,
}

impl<'f> Expected<'f> {
    /// Case `case` of `fx` (keys `<case>.*`), every value within `tol * max(1, |expected|)`.
    pub fn new(fx: &'f Fixture, case: &str, tol: f32) -> Self {
        Expected {
            fx,
            case: case.to_string(),
            tol,
            loss_tol: tol,
        }
    }

    /// The fixture key `<case>.<key>`.
    pub fn key(&self, key: &str) -> String {
        join(&self.case, key)
    }

    /// The float32 tensor `<case>.<key>`.
    pub fn f32(&self, key: &str) -> Vec<f32> {
        self.fx.f32(&self.key(key))
    }

    /// The state dict `<case>.<prefix>*`.
    pub fn state_dict(&self, prefix: &str) -> Vec<NamedTensor> {
        self.fx.state(&self.key(prefix))
    }

    /// `<case> <what>`, for messages.
    pub fn what(&self, what: &str) -> String {
        if self.case.is_empty() {
            what.to_string()
        } else {
            format!("{} {what}", self.case)
        }
    }

    /// `got` against `<case>.<key>`.
    pub fn values(&self, what: &str, got: &[f32], key: &str) {
        assert_close(&self.what(what), got, &self.f32(key), self.tol);
    }

    /// A loss against `<case>.<key>`, within the loss tolerance.
    pub fn loss(&self, what: &str, got: f32, key: &str) {
        assert_close(&self.what(what), &[got], &self.f32(key), self.loss_tol);
    }

    /// The gradient of every parameter of `net` (left by the last `compute_gradients` or
    /// training step) against `<case>.<prefix>*`: the same tensors (buffers aside), each
    /// non-zero in PyTorch's values.
    pub fn grads<N: Network>(&self, what: &str, net: &N, prefix: &str) {
        let what = self.what(what);
        let got = grads(net);
        let want = self.state_dict(prefix);
        assert!(!want.is_empty(), "{what}: the fixture has no gradients");
        assert_eq!(
            got.keys()
                .map(String::as_str)
                .filter(|k| !is_buffer(k))
                .collect::<BTreeSet<_>>(),
            want.iter()
                .map(|t| t.name.as_str())
                .collect::<BTreeSet<_>>(),
            "{what}: gradients (left: cubenet, right: PyTorch)"
        );
        for t in &want {
            let name = &t.name;
            assert!(
                t.data.iter().any(|&v| v != 0.0),
                "{what}: PyTorch's gradient of {name} is zero: the case tests nothing there"
            );
            assert_close(
                &format!("{what}: grad {name}"),
                &got[name],
                &t.data,
                self.tol,
            );
        }
    }

    /// The whole `state_dict` of `net` (parameters and buffers) against `<case>.<prefix>*`.
    pub fn state<N: Network>(&self, what: &str, net: &N, prefix: &str) {
        state_matches(&self.what(what), net, &self.state_dict(prefix), self.tol);
    }
}

/// The whole `state_dict` of `net` against `want`: the same keys, each tensor close.
fn state_matches<N: Network>(what: &str, net: &N, want: &[NamedTensor], tol: f32) {
    let got = params(net);
    assert_eq!(
        got.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        want.iter()
            .map(|t| t.name.as_str())
            .collect::<BTreeSet<_>>(),
        "{what}: state_dict keys (left: cubenet, right: PyTorch)"
    );
    for t in want {
        assert_close(&format!("{what}: {}", t.name), &got[&t.name], &t.data, tol);
    }
}

type BeforeStep<'f, N> = Box<dyn Fn(&Expected<'f>, usize, &mut N, &[f32], &[u32]) + 'f>;
type AfterStep<'f, N> = Box<dyn Fn(&Expected<'f>, usize, &mut N) + 'f>;

/// One parity case of network `N`: what to run and check (see the module docs).
pub struct Parity<'f, N: Network> {
    /// The case's values and the checks against them.
    pub want: Expected<'f>,
    batches: String,
    init: String,
    same_batch: bool,
    capacity: usize,
    logits: Option<String>,
    gradients: Option<String>,
    steps: Vec<Optimizer>,
    clip: Option<f32>,
    every_param_moves: bool,
    before_step: Option<BeforeStep<'f, N>>,
    after_step: Option<AfterStep<'f, N>>,
}

impl<'f, N: Network> Parity<'f, N> {
    /// Case `case` of `fx` (keys `<case>.*`; `""`: keys without a prefix), every value within
    /// `tol * max(1, |expected|)`; capacity 4, nothing checked yet.
    pub fn new(fx: &'f Fixture, case: &str, tol: f32) -> Self {
        Parity {
            want: Expected::new(fx, case, tol),
            batches: case.to_string(),
            init: join(case, "init."),
            same_batch: false,
            capacity: 4,
            logits: None,
            gradients: None,
            steps: Vec::new(),
            clip: None,
            every_param_moves: false,
            before_step: None,
            after_step: None,
        }
    }

    /// The network's batch capacity (default 4).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Another tolerance for the losses.
    pub fn loss_tol(mut self, tol: f32) -> Self {
        self.want.loss_tol = tol;
        self
    }

    /// The batches are `<prefix>.x<k>` / `<prefix>.y<k>` (shared by several runs).
    pub fn batches(mut self, prefix: &str) -> Self {
        self.batches = prefix.to_string();
        self
    }

    /// The initial state is `<prefix>.init.*` (another case's).
    pub fn init(mut self, prefix: &str) -> Self {
        self.init = join(prefix, "init.");
        self
    }

    /// Every pass uses the one batch `x` / `y`.
    pub fn same_batch(mut self) -> Self {
        self.same_batch = true;
        self
    }

    /// Check the logits of batch 1 (`forward`) against `<case>.<key>`.
    pub fn logits(mut self, key: &str) -> Self {
        self.logits = Some(key.to_string());
        self
    }

    /// Check the loss of batch 1 (`compute_gradients`) against `<case>.<loss_key>` and every
    /// gradient against `<case>.grad.*`.
    pub fn gradients(mut self, loss_key: &str) -> Self {
        self.gradients = Some(loss_key.to_string());
        self
    }

    /// One training step per optimizer, step `k` on batch `k`: `train_step` for SGD without
    /// clipping, `train_step_with` otherwise.
    pub fn steps<O: Into<Optimizer>>(mut self, optimizers: impl IntoIterator<Item = O>) -> Self {
        self.steps = optimizers.into_iter().map(Into::into).collect();
        self
    }

    /// Clip the gradients to this global norm in every step.
    pub fn clip(mut self, max_norm: Option<f32>) -> Self {
        self.clip = max_norm;
        self
    }

    /// Also require every tensor PyTorch gives after a step to differ from its initial value
    /// (or the case would test nothing there).
    pub fn every_param_moves(mut self) -> Self {
        self.every_param_moves = true;
        self
    }

    /// Run `f(want, k, net, x, y)` before step `k` (on batch `x`, `y`).
    pub fn before_step(
        mut self,
        f: impl Fn(&Expected<'f>, usize, &mut N, &[f32], &[u32]) + 'f,
    ) -> Self {
        self.before_step = Some(Box::new(f));
        self
    }

    /// Run `f(want, k, net)` after step `k` and its checks.
    pub fn after_step(mut self, f: impl Fn(&Expected<'f>, usize, &mut N) + 'f) -> Self {
        self.after_step = Some(Box::new(f));
        self
    }

    /// Batch `k` (the one batch with [`Parity::same_batch`]): inputs and class labels (empty
    /// when the targets are f32 values: [`Parity::values`]).
    pub fn batch(&self, k: usize) -> (Vec<f32>, Vec<u32>) {
        let fx = self.want.fx;
        let y = self.y_key(k);
        let labels = if fx.is_f32(&y) {
            Vec::new()
        } else {
            fx.labels(&y)
        };
        (fx.f32(&self.x_key(k)), labels)
    }

    /// The f32 targets of batch `k` (a value loss's), if the fixture's `y` is float32.
    pub fn values(&self, k: usize) -> Option<Vec<f32>> {
        let y = self.y_key(k);
        self.want.fx.is_f32(&y).then(|| self.want.fx.f32(&y))
    }

    fn suffix(&self, k: usize) -> String {
        if self.same_batch {
            String::new()
        } else {
            k.to_string()
        }
    }
    fn x_key(&self, k: usize) -> String {
        join(&self.batches, &format!("x{}", self.suffix(k)))
    }
    fn y_key(&self, k: usize) -> String {
        join(&self.batches, &format!("y{}", self.suffix(k)))
    }

    /// A network of capacity [`Parity::capacity`] (seed 0) holding the initial state, in
    /// training mode; checked against it.
    pub fn network(&self) -> N {
        let what = self.want.what("init");
        let mut net = N::new(&device(), self.capacity, 0).unwrap();
        assert!(net.training(), "{what}: a new network is in training mode");
        let init = self.want.fx.state(&self.init);
        net.load_state_dict(&init).unwrap();
        assert!(net.training(), "{what}: load_state_dict keeps the mode");
        state_matches(&what, &net, &init, self.want.tol);
        net
    }

    /// Runs the sequence (see the module docs) and returns the network.
    pub fn run(&self) -> N {
        let want = &self.want;
        let mut net = self.network();
        let (x, y) = self.batch(1);
        let v1 = self.values(1);
        if let Some(key) = &self.logits {
            want.values("logits", &net.forward(&x).unwrap(), key);
        }
        if let Some(key) = &self.gradients {
            let loss = match &v1 {
                Some(v) => net.compute_gradients(&x, v),
                None => net.compute_gradients(&x, &y),
            }
            .unwrap();
            want.loss("gradient pass: loss", loss, key);
            want.grads("gradient pass", &net, "grad.");
        }
        let init: HashMap<String, Vec<f32>> = self
            .want
            .fx
            .state(&self.init)
            .into_iter()
            .map(|t| (t.name, t.data))
            .collect();
        for (k, optimizer) in (1..).zip(&self.steps) {
            let (x, y) = self.batch(k);
            if let Some(f) = &self.before_step {
                f(want, k, &mut net, &x, &y);
            }
            let values = self.values(k);
            let targets: BatchTargets = match &values {
                Some(v) => v.into(),
                None => (&y).into(),
            };
            let loss = match (optimizer, self.clip) {
                (Optimizer::Sgd(sgd), None) => net.train_step(&x, targets, sgd),
                (optimizer, clip) => net.train_step_with(&x, targets, optimizer, clip),
            }
            .unwrap();
            want.loss(&format!("step {k}: loss"), loss, &format!("loss{k}"));
            let after = format!("step{k}.");
            want.state(&format!("step {k}"), &net, &after);
            if self.every_param_moves {
                for t in want.state_dict(&after) {
                    assert!(
                        t.data != init[&t.name],
                        "{}: PyTorch left {} unchanged: the case tests nothing there",
                        want.what(&format!("step {k}")),
                        t.name
                    );
                }
            }
            if let Some(f) = &self.after_step {
                f(want, k, &mut net);
            }
        }
        net
    }
}
