"""The issue's parity cases P1-P4 and P7 on whole small networks, as PyTorch computes them (and
max-pool's ceil_mode: p2d_ceil, ceil_net).

Produces tests/fixtures/network_cases.safetensors for tests/parity_conv.rs and
tests/parity_loss_sgd.rs. Each case is a small network built the same way as the
`#[network]` struct of the same name in those tests (same layers, same field
names, so the `state_dict` keys agree), with fixed weights, run in float32 on the
CPU: nn.CrossEntropyLoss (mean) on the last Linear's outputs.

Many networks start with a "probe": a 1x1 Conv2d whose input has, besides the
real channels, one one-hot channel per pixel (channel R + h*W + w is 1 at (h, w)
and 0 elsewhere), with weight 1 from real channel c to output channel c and 0
from every one-hot channel. The probe passes the real channels through unchanged,
and the gradient of its weight on one-hot channel R + p is the gradient reaching
pixel p of the layer after it: the input gradient of that layer, which a network
otherwise keeps to itself.

Many networks end with Linear(F, 2) whose weight row 0 is an "upstream" tensor u
(flattened), row 1 zero, bias (-u . out, 0), label 1: the logits are (0, 0), so
softmax is (0.5, 0.5) and the gradient reaching the layer before is exactly
0.5 * u. The op's PyTorch gradients for upstream u (keys `<case>.op.*`, float64,
the vector-Jacobian products of `(out * u).sum()`, as scripts/op_cases.py) are
then half the network's gradients.

Keys (float32 unless stated; labels int64):
  <case>.x, <case>.y             the batch (NCHW) and labels
  <case>.init.<key>              the parameters loaded before the step
  <case>.logits, .row_loss, .loss   forward, cross_entropy(reduction='none'), mean
  <case>.grad.<key>              gradient of the mean loss (loss.backward())
  <case>.grad_logits             d(mean loss)/d(logits)
  <case>.op.<name>               float64, op-level values (see above)
SGD cases (p4_bias, p4_net, p7_loader, ceil_net): <case>.x<k>/.y<k> the batch of step k
(1-based), <case>.<variant>.init.<key>, .loss<k> (before step k's update) and
.step<k>.<key> (after it); torch.optim.SGD, with the learning rate of step k set
through param_groups before it.

Rerun from the repository root:
  venv/bin/python scripts/network_cases.py
(environment: scripts/requirements-oracle.txt)
"""

import math
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep scripts/__pycache__ out of the work tree
from sgd_fixture_common import REPO_ROOT, setup_determinism, write_fixture  # noqa: E402

OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "network_cases.safetensors")
F32, F64 = torch.float32, torch.float64
T = {}  # everything written


def put(key, value):
    assert key not in T, key
    T[key] = value.detach().clone().contiguous()


def ints(gen, lo, hi, shape):
    """Seeded small integers in [lo, hi], as float64 (same helper as scripts/op_cases.py)."""
    return torch.randint(lo, hi + 1, shape, generator=gen).to(F64)


def seq(*layers):
    return nn.Sequential(OrderedDict(layers))


def load(model, params):
    """Sets every parameter (float32) from {key: tensor}; every key must be given."""
    sd = {k: v.to(F32).reshape(model.state_dict()[k].shape) for k, v in params.items()}
    model.load_state_dict(sd, strict=True)


def with_probe(x):
    """x: [C, H, W] -> [C + H*W, H, W], the real channels then one one-hot channel per pixel."""
    c, h, w = x.shape
    onehot = torch.eye(h * w, dtype=x.dtype).reshape(h * w, h, w)
    return torch.cat([x, onehot], 0)


def probe_weight(c, h, w):
    """Probe Conv2d(c + h*w, c, 1) weight: identity on the real channels, 0 on the one-hot ones."""
    wt = torch.zeros(c, c + h * w, 1, 1, dtype=F64)
    for i in range(c):
        wt[i, i] = 1.0
    return wt


def head_for(u, out):
    """Linear(F, 2) weight/bias making the logits (0, 0) and the upstream 0.5 * u (label 1)."""
    u = u.reshape(-1)
    wt = torch.stack([u, torch.zeros_like(u)])
    b = torch.tensor([-(u * out.reshape(-1)).sum().item(), 0.0], dtype=F64)
    return wt, b


def run_case(name, model, params, x, y):
    """Forward + backward of the mean cross-entropy in float32; records everything."""
    load(model, params)
    x = x.to(F32)
    y = torch.as_tensor(y, dtype=torch.int64)
    put(f"{name}.x", x)
    put(f"{name}.y", y)
    for k, v in model.state_dict().items():
        put(f"{name}.init.{k}", v)
    model.zero_grad()
    logits = model(x)
    logits.retain_grad()
    loss = F.cross_entropy(logits, y)
    loss.backward()
    put(f"{name}.logits", logits)
    put(f"{name}.grad_logits", logits.grad)
    put(f"{name}.row_loss", F.cross_entropy(logits.detach(), y, reduction="none"))
    put(f"{name}.loss", loss.reshape(1))
    for k, p in model.named_parameters():
        put(f"{name}.grad.{k}", p.grad)
    print(f"== {name}: loss {loss.item():.9g}, logits {[round(v, 6) for v in logits[0].tolist()]}")
    return logits.detach()


def vjp(name, fn, upstream, **inputs):
    """float64 op-level values: fn(**inputs) and the gradients of (out * upstream).sum()."""
    leaves = {k: v.detach().clone().to(F64).requires_grad_(True) for k, v in inputs.items()}
    out = fn(**leaves)
    (out * upstream).sum().backward()
    put(f"{name}.op.output", out.detach())
    put(f"{name}.op.upstream", upstream)
    for k, leaf in leaves.items():
        put(f"{name}.op.grad_{k}", leaf.grad)
    return out.detach()


# ----------------------------------------------------------------------------
# P1: conv2d, kernel (2, 3), stride (2, 1), padding (1, 0), dilation (1, 2)

P1_OPTS = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))


def p1_inputs():
    x = (7 * torch.arange(5, dtype=F64).reshape(5, 1) + torch.arange(7, dtype=F64)).reshape(1, 5, 7)
    w = torch.tensor([[1, -1, 2], [0, 3, -2]], dtype=F64).reshape(1, 1, 2, 3)
    b = torch.tensor([0.25], dtype=F64)
    u = torch.arange(1, 10, dtype=F64).reshape(1, 1, 3, 3)
    return x, w, b, u


def p1_forward():
    """P1Forward: conv (P1) -> flatten -> fc Linear(9, 9) = identity: the logits are the conv output."""
    x, w, b, _ = p1_inputs()
    model = seq(("conv", nn.Conv2d(1, 1, (2, 3), **P1_OPTS)), ("flatten", nn.Flatten()), ("fc", nn.Linear(9, 9)))
    run_case("p1_forward", model, {"conv.weight": w, "conv.bias": b, "fc.weight": torch.eye(9), "fc.bias": torch.zeros(9)},
             x.unsqueeze(0), [8])


def p1_grad():
    """P1Grad: probe Conv2d(36, 1, 1) -> conv (P1) -> flatten -> fc Linear(9, 2) with upstream u = 1..9."""
    x, w, b, u = p1_inputs()
    out = vjp("p1_grad", lambda x, weight, bias: F.conv2d(x, weight, bias, **P1_OPTS), u, x=x.unsqueeze(0), weight=w, bias=b)
    fw, fb = head_for(u, out)
    model = seq(("probe", nn.Conv2d(36, 1, 1)), ("conv", nn.Conv2d(1, 1, (2, 3), **P1_OPTS)), ("flatten", nn.Flatten()),
                ("fc", nn.Linear(9, 2)))
    params = {"probe.weight": probe_weight(1, 5, 7), "probe.bias": torch.zeros(1), "conv.weight": w, "conv.bias": b,
              "fc.weight": fw, "fc.bias": fb}
    run_case("p1_grad", model, params, with_probe(x).unsqueeze(0), [1])


def p1b():
    """P1b: probe Conv2d(32, 2, 1) -> conv Conv2d(2, 3, (3, 2), stride (1, 2), padding (0, 1),
    dilation (2, 1)) -> flatten -> fc Linear(18, 2); the inputs of P1b in scripts/op_cases.py."""
    opts = dict(stride=(1, 2), padding=(0, 1), dilation=(2, 1))
    g = torch.Generator().manual_seed(101)
    x = ints(g, -3, 3, (1, 2, 6, 5))
    w = ints(g, -2, 2, (3, 2, 3, 2))
    b = ints(g, -2, 2, (3,)) * 0.5
    u = ints(g, -3, 3, (1, 3, 2, 3))
    out = vjp("p1b", lambda x, weight, bias: F.conv2d(x, weight, bias, **opts), u, x=x, weight=w, bias=b)
    fw, fb = head_for(u, out)
    model = seq(("probe", nn.Conv2d(32, 2, 1)), ("conv", nn.Conv2d(2, 3, (3, 2), **opts)), ("flatten", nn.Flatten()),
                ("fc", nn.Linear(18, 2)))
    params = {"probe.weight": probe_weight(2, 6, 5), "probe.bias": torch.zeros(2), "conv.weight": w, "conv.bias": b,
              "fc.weight": fw, "fc.bias": fb}
    run_case("p1b", model, params, with_probe(x[0]).unsqueeze(0), [1])


# ----------------------------------------------------------------------------
# P2: max_pool2d (behind a 1x1 conv: cubenet fuses a pool into the conv before it)

P2_X = [[1, 3, 2, 2], [3, 0, 2, 2], [0, 0, 5, 1], [0, 0, 1, 5]]


def p2_forward():
    """P2Forward: conv Conv2d(1, 1, 1) = identity -> pool MaxPool2d(2) -> flatten -> fc Linear(4, 4) = identity."""
    x = torch.tensor(P2_X, dtype=F64).reshape(1, 1, 4, 4)
    model = seq(("conv", nn.Conv2d(1, 1, 1)), ("pool", nn.MaxPool2d(2)), ("flatten", nn.Flatten()), ("fc", nn.Linear(4, 4)))
    params = {"conv.weight": torch.ones(1), "conv.bias": torch.zeros(1), "fc.weight": torch.eye(4), "fc.bias": torch.zeros(4)}
    run_case("p2_forward", model, params, x, [3])


def pool_probe_case(name, x, u, kernel, stride, padding, ceil_mode=False):
    """probe Conv2d(C + H*W, C, 1) -> pool MaxPool2d(kernel, stride, padding, ceil_mode) -> flatten -> fc Linear(F, 2)."""
    c, h, w = x.shape
    out = vjp(name, lambda x: F.max_pool2d(x, kernel, stride=stride, padding=padding, ceil_mode=ceil_mode), u,
              x=x.unsqueeze(0))
    fw, fb = head_for(u, out)
    model = seq(("probe", nn.Conv2d(c + h * w, c, 1)),
                ("pool", nn.MaxPool2d(kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)),
                ("flatten", nn.Flatten()), ("fc", nn.Linear(out.numel(), 2)))
    params = {"probe.weight": probe_weight(c, h, w), "probe.bias": torch.zeros(c), "fc.weight": fw, "fc.bias": fb}
    run_case(name, model, params, with_probe(x).unsqueeze(0), [1])


def p2_grad():
    """P2Grad: the P2 input behind a probe, upstream [[10, 20], [30, 40]]."""
    x = torch.tensor(P2_X, dtype=F64).reshape(1, 4, 4)
    u = torch.tensor([[10, 20], [30, 40]], dtype=F64).reshape(1, 1, 2, 2)
    pool_probe_case("p2_grad", x, u, 2, 2, 0)


def p2b():
    """P2b: 3x3 stride 2 on 2x8x8 (overlapping windows), the inputs of P2b in scripts/op_cases.py."""
    g = torch.Generator().manual_seed(202)
    x = ints(g, 0, 3, (1, 2, 8, 8))
    x[0, 1, 2, 2] = 9.0
    u = ints(g, 1, 4, (1, 2, 3, 3))
    pool_probe_case("p2b", x[0], u, 3, 2, 0)


def p2c():
    """P2c: 2x2 stride 2 padding 1 on all-negative 1x5x5, the inputs of P2c in scripts/op_cases.py."""
    g = torch.Generator().manual_seed(303)
    x = ints(g, -9, -1, (1, 1, 5, 5))
    u = ints(g, 1, 5, (1, 1, 3, 3))
    pool_probe_case("p2c", x[0], u, 2, 2, 1)


def p2d_ceil():
    """P2d (ceil_mode): 3x3 stride 2 padding 1 ceil_mode=True on 2x6x6 -> 2x4x4 (floor 2x3x3): the
    last row and column of windows start at 5 and cover only row / column 5 of the input.
    Channel 0: seeded integers 0..3 with x[0][5][5] = 9, the maximum of its three partial windows
    and of the full window (2, 2); channel 1: all negative, so a partial window that took a 0 for
    a missing element would show."""
    g = torch.Generator().manual_seed(404)
    x = ints(g, 0, 3, (1, 2, 6, 6))
    x[0, 0, 5, 5] = 9.0
    x[0, 1] = ints(g, -9, -1, (6, 6))
    u = ints(g, 1, 4, (1, 2, 4, 4))
    pool_probe_case("p2d_ceil", x[0], u, 3, 2, 1, ceil_mode=True)


def ceil_net():
    """CeilNet: conv Conv2d(1, 2, 3, padding 1) -> relu -> pool MaxPool2d((3, 2), stride 2, padding (1, 0),
    ceil_mode=True) -> flatten -> fc Linear(32, 3); input 1x6x7, conv 2x6x7, pool 2x4x4 (floor 2x3x3;
    the last row of windows covers conv row 5 only, the last column conv column 6 only). PyTorch's
    default init (torch.manual_seed(21)); a batch of 4 (torch.randn, seed 22) for the gradients,
    then two SGD steps (lr 0.1, momentum 0.9) on two more batches of 4."""
    torch.manual_seed(21)
    make = lambda: seq(("conv", nn.Conv2d(1, 2, 3, padding=1)), ("relu", nn.ReLU()),
                       ("pool", nn.MaxPool2d((3, 2), stride=2, padding=(1, 0), ceil_mode=True)),
                       ("flatten", nn.Flatten()), ("fc", nn.Linear(32, 3)))
    init = {k: v.clone() for k, v in make().state_dict().items()}
    g = torch.Generator().manual_seed(22)
    batches = [(torch.randn(4, 1, 6, 7, generator=g), torch.randint(0, 3, (4,), generator=g)) for _ in range(3)]
    run_case("ceil_net", make(), init, *batches[0])
    put_batches("ceil_net", batches[1:])
    sgd_steps("ceil_net", "momentum", make, init, batches[1:], [0.1, 0.1], momentum=0.9)


def relu_pool():
    """ReluPool: probe Conv2d(37, 1, 1) -> conv Conv2d(1, 2, 3, padding 1) -> relu -> pool MaxPool2d(2)
    -> flatten -> fc Linear(18, 2); the inputs of P6_conv_relu_pool in scripts/op_cases.py (relu
    outputs tie at 0 inside pooled windows, and relu'(0) = 0)."""
    g = torch.Generator().manual_seed(606)
    x = ints(g, -2, 2, (1, 1, 6, 6))
    w = ints(g, -1, 1, (2, 1, 3, 3))
    b = torch.tensor([0.0, -1.0], dtype=F64)
    u = ints(g, 1, 3, (1, 2, 3, 3))
    out = vjp("relu_pool", lambda x, weight, bias: F.max_pool2d(F.relu(F.conv2d(x, weight, bias, padding=1)), 2), u,
              x=x, weight=w, bias=b)
    fw, fb = head_for(u, out)
    model = seq(("probe", nn.Conv2d(37, 1, 1)), ("conv", nn.Conv2d(1, 2, 3, padding=1)), ("relu", nn.ReLU()),
                ("pool", nn.MaxPool2d(2)), ("flatten", nn.Flatten()), ("fc", nn.Linear(18, 2)))
    params = {"probe.weight": probe_weight(1, 6, 6), "probe.bias": torch.zeros(1), "conv.weight": w, "conv.bias": b,
              "fc.weight": fw, "fc.bias": fb}
    run_case("relu_pool", model, params, with_probe(x[0]).unsqueeze(0), [1])


# ----------------------------------------------------------------------------
# P3: cross-entropy on huge logits (flatten -> Linear(C, C) = identity: the logits are the input)


def identity_head(name, rows, targets):
    c = len(rows[0])
    model = seq(("flatten", nn.Flatten()), ("fc", nn.Linear(c, c)))
    x = torch.tensor(rows, dtype=F32).reshape(len(rows), c, 1, 1)
    run_case(name, model, {"fc.weight": torch.eye(c), "fc.bias": torch.zeros(c)}, x, targets)


def p3():
    """P3: the issue's rows (also P3_cross_entropy_f32 in scripts/op_cases.py)."""
    identity_head("p3", [[1e4, 0, -1e4], [1e4, 0, -1e4], [-1e4, -1e4, -1e4], [1e8, 1e8, -1e8], [100, 0, -100]],
                  [0, 2, 1, 1, 1])


def p3b():
    """P3b: random logits (torch.randn * 3, seed 404), 4 rows, 5 classes (P3b of scripts/op_cases.py, in float32)."""
    g = torch.Generator().manual_seed(404)
    logits = torch.randn(4, 5, generator=g, dtype=F64) * 3
    targets = torch.randint(0, 5, (4,), generator=g)
    identity_head("p3b", logits.to(F32).tolist(), targets.tolist())


def p3c():
    """P3c: logits near the float32 limits: a naive exp overflows on every row."""
    identity_head("p3c", [[1e38, -1e38, 0], [1e7, 1e7 + 1, 1e7], [-3e38, -3e38, -3e38], [5e37, 0, -5e37]], [1, 1, 2, 0])


# ----------------------------------------------------------------------------
# P4: SGD


def sgd_steps(name, variant, make_model, params, batches, lrs, **kw):
    model = make_model()
    load(model, params)
    for k, v in model.state_dict().items():
        put(f"{name}.{variant}.init.{k}", v)
    opt = torch.optim.SGD(model.parameters(), lr=lrs[0], **kw)
    for step, ((x, y), lr) in enumerate(zip(batches, lrs), start=1):
        opt.param_groups[0]["lr"] = lr
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        put(f"{name}.{variant}.loss{step}", loss.detach().reshape(1))
        for k, v in model.state_dict().items():
            put(f"{name}.{variant}.step{step}.{k}", v)
    print(f"== {name}.{variant}: " + ", ".join(f"{k} {v.flatten().tolist()}" for k, v in model.state_dict().items()
                                               if v.numel() <= 4))


def put_batches(name, batches):
    for step, (x, y) in enumerate(batches, start=1):
        put(f"{name}.x{step}", x)
        put(f"{name}.y{step}", y)


def p4_bias():
    """P4: flatten -> fc Linear(2, 2), weight [[1, -1], [0, 0]], bias [1, b1]. The batches make the
    gradient of fc.bias[0] exactly 1, then 0.5, then -0.25 (the issue's scalar gradients):
      step 1: 4 rows x = (300, 0), label 1: logits (301, b1') -> softmax (1, 0) -> d bias0 = 1;
      step 2: 4 rows x = (0, 0), label 1: logits = bias, equal after step 1 when b1 is chosen so
              (bias0 + bias1 is constant, as d bias1 = -d bias0) -> softmax (0.5, 0.5) -> 0.5;
      step 3: 4 rows x = (0, 300), labels 0, 1, 1, 1: logits (-300 + b0, b1) -> softmax (0, 1)
              -> d bias0 = (-1 + 0 + 0 + 0) / 4 = -0.25.
    Column 1 of the weight has zero gradient until step 3 and column 0 is multiplied by 0 after
    step 1, so the weight's changes never reach the logits that matter. lr 0.1, 0.1, 0.01."""
    batches = [
        (torch.tensor([[300.0, 0.0]] * 4).reshape(4, 2, 1, 1), torch.tensor([1, 1, 1, 1])),
        (torch.zeros(4, 2, 1, 1), torch.tensor([1, 1, 1, 1])),
        (torch.tensor([[0.0, 300.0]] * 4).reshape(4, 2, 1, 1), torch.tensor([0, 1, 1, 1])),
    ]
    put_batches("p4_bias", batches)
    lrs = [0.1, 0.1, 0.01]
    # bias1 such that bias1 after step 1 equals bias0 after step 1 (0.9, 0.9 and 0.81).
    variants = {
        "momentum": (0.8, dict(momentum=0.9)),
        "dampening": (0.8, dict(momentum=0.9, dampening=0.5)),
        "nesterov": (0.62, dict(momentum=0.9, nesterov=True)),
    }
    for variant, (b1, kw) in variants.items():
        params = {"fc.weight": torch.tensor([[1.0, -1.0], [0.0, 0.0]]), "fc.bias": torch.tensor([1.0, b1])}
        sgd_steps("p4_bias", variant, lambda: seq(("flatten", nn.Flatten()), ("fc", nn.Linear(2, 2))), params, batches,
                  lrs, **kw)


def small_net():
    """SgdNet: conv Conv2d(1, 2, 3) -> relu -> pool MaxPool2d(2) -> flatten -> fc1 Linear(8, 4) -> relu
    -> fc2 Linear(4, 3); input 1x6x6."""
    return seq(("conv", nn.Conv2d(1, 2, 3)), ("relu1", nn.ReLU()), ("pool", nn.MaxPool2d(2)), ("flatten", nn.Flatten()),
               ("fc1", nn.Linear(8, 4)), ("relu2", nn.ReLU()), ("fc2", nn.Linear(4, 3)))


def p4_net():
    """P4 second member: SgdNet from PyTorch's default init (torch.manual_seed(7)), three batches
    of 4 (torch.randn, seed 8; labels 0..2), lr 0.1, 0.1, 0.01, for several optimiser settings."""
    torch.manual_seed(7)
    init = {k: v.clone() for k, v in small_net().state_dict().items()}
    g = torch.Generator().manual_seed(8)
    batches = [(torch.randn(4, 1, 6, 6, generator=g), torch.randint(0, 3, (4,), generator=g)) for _ in range(3)]
    put_batches("p4_net", batches)
    lrs = [0.1, 0.1, 0.01]
    variants = {
        "plain": dict(),
        "momentum_wd": dict(momentum=0.9, weight_decay=0.1),
        "dampening_wd": dict(momentum=0.5, dampening=0.3, weight_decay=0.01),
        "nesterov_wd": dict(momentum=0.8, nesterov=True, weight_decay=0.05),
    }
    for variant, kw in variants.items():
        sgd_steps("p4_net", variant, small_net, init, batches, lrs, **kw)


# ----------------------------------------------------------------------------
# P7: a short batch divides by its own size


def p7():
    """P7: flatten -> fc Linear(5, 3), weight [I3 | 0 0], bias 0, so the logits are the first three
    inputs; inputs 3 and 4 flag row 0 and row 1, so fc.weight's gradient column 3 + r is row r's
    d(mean loss)/d(logits). Batch p7_full (4 rows) first, then the issue's p7 (2 rows)."""
    wt = torch.cat([torch.eye(3), torch.zeros(3, 2)], 1)
    params = {"fc.weight": wt, "fc.bias": torch.zeros(3)}
    make = lambda: seq(("flatten", nn.Flatten()), ("fc", nn.Linear(5, 3)))
    full = torch.tensor([[5.0, -3.0, 1.0, 1.0, 0.0], [0.5, 4.0, -2.0, 0.0, 1.0], [-1.0, -1.0, 7.0, 0.0, 0.0],
                         [2.0, 2.0, 2.0, 0.0, 0.0]])
    run_case("p7_full", make(), params, full.reshape(4, 5, 1, 1), [1, 0, 2, 2])
    x = torch.tensor([[2.0, 0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0, 1.0]])
    run_case("p7", make(), params, x.reshape(2, 5, 1, 1), [0, 2])


def p7_loader():
    """P7 second member: LoaderNet (conv Conv2d(1, 2, 3) -> relu -> pool MaxPool2d(2) -> flatten ->
    fc Linear(2, 3); input 1x4x4) trained on 11 samples in file order, batch 4 (4, 4 and a short 3),
    as cubenet's DataLoader builds them: x = (byte / 255 - 0.5) / 0.25 in float32; SGD lr 0.1,
    momentum 0.9. Init: PyTorch's default, torch.manual_seed(11); bytes and labels from seed 12."""
    torch.manual_seed(11)
    make = lambda: seq(("conv", nn.Conv2d(1, 2, 3)), ("relu", nn.ReLU()), ("pool", nn.MaxPool2d(2)),
                       ("flatten", nn.Flatten()), ("fc", nn.Linear(2, 3)))
    init = {k: v.clone() for k, v in make().state_dict().items()}
    g = torch.Generator().manual_seed(12)
    raw = torch.randint(0, 256, (11, 1, 4, 4), generator=g, dtype=torch.int64)
    labels = torch.randint(0, 3, (11,), generator=g)
    put("p7_loader.bytes", raw.to(torch.uint8))
    put("p7_loader.labels", labels)
    x = (raw.to(F32) / 255.0 - 0.5) / 0.25
    batches = [(x[i:i + 4], labels[i:i + 4]) for i in range(0, 11, 4)]
    assert [len(b[1]) for b in batches] == [4, 4, 3]
    put_batches("p7_loader", batches)
    sgd_steps("p7_loader", "momentum", make, init, batches, [0.1, 0.1, 0.1], momentum=0.9)


def main():
    setup_determinism()
    p1_forward()
    p1_grad()
    p1b()
    p2_forward()
    p2_grad()
    p2b()
    p2c()
    relu_pool()
    p3()
    p3b()
    p3c()
    p4_bias()
    p4_net()
    p7()
    p7_loader()
    p2d_ceil()
    ceil_net()
    for k, v in T.items():
        assert v.dtype in (F32, F64, torch.int64, torch.uint8), k
    meta = {"generator": "scripts/network_cases.py", "torch_version": torch.__version__,
            "loss": "CrossEntropyLoss(reduction='mean')"}
    write_fixture(OUT, T, meta)


if __name__ == "__main__":
    main()
