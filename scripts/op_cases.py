"""Small hand-checkable op cases, with their expected values computed by PyTorch.

Produces tests/fixtures/op_cases.json and prints every case, so that a test can
cite "PyTorch call <op> in scripts/op_cases.py" as the source of its numbers.

Cases (the P-numbers are the team's names; the "*_b" cases are second members
of the same kind, with seeded small-integer inputs):
  P1_conv2d            conv2d, stride (2,1), padding (1,0), dilation (1,2) + backward
  P1b_conv2d           conv2d 1x2x6x5 -> 3 channels, kernel 3x2, stride (1,2),
                       padding (0,1), dilation (2,1) + backward
  P2_max_pool2d        2x2/2 max-pool with ties + backward
  P2b_max_pool2d_overlap   3x3 stride 2 on 8x8 (overlapping windows, ties, ceil_mode=False)
  P2c_max_pool2d_padding   2x2 stride 2 padding 1 (negative inputs) + backward
  P3_cross_entropy_f64 / P3_cross_entropy_f32   extreme logits, mean reduction
  P3b_cross_entropy    random float64 logits, batch 4, 5 classes
  P4_sgd_momentum      scalar SGD: plain momentum, dampening 0.5, nesterov
  P4b_sgd_weight_decay SGD weight_decay 0.1, momentum 0.9, 3 steps on a 2-vector
  P5_relu              relu forward/backward including x == 0 (grad 0 there)
  P6_conv_relu_pool    conv2d(pad 1) -> relu -> max_pool2d(2) composite + backward
  P6b_linear_relu      linear -> relu composite + backward
  P7_cross_entropy     logits [[2,0,0],[0,1,0]], targets [0,2]

For every case with a backward pass the scalar being differentiated is
sum(output * upstream) (so grads are vector-Jacobian products with `upstream`),
except the cross-entropy cases, where it is the mean loss itself.

JSON layout: {"meta": {...}, "cases": {name: {"description", "call",
"inputs": {name: T}, "outputs": {name: T}, ...}}}, where every tensor T is
{"dtype": "float64"|"float32"|"int64", "shape": [...], "data": nested lists}.
float32 values are written as the exact decimal of the float32 (read them back
as f32). Conv/pool/linear/relu/SGD cases are float64; the SGD cases (P4*) hold
plain numbers and lists instead of T records.

Rerun from the repository root:
  venv/bin/python scripts/op_cases.py
(environment: scripts/requirements-oracle.txt)
"""

import json
import os
import re

import torch
import torch.nn.functional as F

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "op_cases.json")
F64 = torch.float64


def T(t):
    """Tensor -> JSON-able {dtype, shape, data}."""
    t = t.detach()
    dtype = str(t.dtype).replace("torch.", "")
    data = t.tolist()
    return {"dtype": dtype, "shape": list(t.shape), "data": data}


def ints(gen, lo, hi, shape):
    """Seeded small integers in [lo, hi], as float64."""
    return torch.randint(lo, hi + 1, shape, generator=gen).to(F64)


def vjp(fn, upstream, *inputs):
    """Run fn on copies of inputs that require grad; return (out, grads)."""
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = fn(*leaves)
    (out * upstream).sum().backward()
    return out.detach(), [leaf.grad for leaf in leaves]


# ----------------------------------------------------------------------------
# conv2d


def conv_case(description, x, w, b, upstream, stride, padding, dilation):
    fn = lambda x_, w_, b_: F.conv2d(x_, w_, b_, stride=stride, padding=padding, dilation=dilation)
    out, (gx, gw, gb) = vjp(fn, upstream, x, w, b)
    return {
        "description": description,
        "call": f"torch.nn.functional.conv2d(x, weight, bias, stride={stride}, padding={padding}, dilation={dilation}); "
                "(out * upstream).sum().backward()",
        "params": {"stride": list(stride), "padding": list(padding), "dilation": list(dilation)},
        "inputs": {"x": T(x), "weight": T(w), "bias": T(b), "upstream": T(upstream)},
        "outputs": {"output": T(out), "grad_x": T(gx), "grad_weight": T(gw), "grad_bias": T(gb)},
    }


def p1_conv2d():
    h = torch.arange(5, dtype=F64).reshape(5, 1)
    w_ = torch.arange(7, dtype=F64).reshape(1, 7)
    x = (7 * h + w_).reshape(1, 1, 5, 7)
    w = torch.tensor([[1, -1, 2], [0, 3, -2]], dtype=F64).reshape(1, 1, 2, 3)
    b = torch.tensor([0.25], dtype=F64)
    up = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=F64).reshape(1, 1, 3, 3)
    return conv_case("x[h][w] = 7h + w (1x1x5x7), weight 1x1x2x3, bias 0.25", x, w, b, up,
                     stride=(2, 1), padding=(1, 0), dilation=(1, 2))


def p1b_conv2d():
    g = torch.Generator().manual_seed(101)
    x = ints(g, -3, 3, (1, 2, 6, 5))
    w = ints(g, -2, 2, (3, 2, 3, 2))
    b = ints(g, -2, 2, (3,)) * 0.5
    # output: H = (6 - 2*(3-1) - 1)/1 + 1 = 2, W = floor((5 + 2 - 1*(2-1) - 1)/2) + 1 = 3
    up = ints(g, -3, 3, (1, 3, 2, 3))
    return conv_case("seeded ints (torch.Generator seed 101): x 1x2x6x5, weight 3x2x3x2 (non-square kernel), "
                     "bias 3 (halves)", x, w, b, up, stride=(1, 2), padding=(0, 1), dilation=(2, 1))


# ----------------------------------------------------------------------------
# max_pool2d


def pool_case(description, x, upstream, kernel, stride, padding, ceil_mode=False):
    fn = lambda x_: F.max_pool2d(x_, kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    out, (gx,) = vjp(fn, upstream, x)
    _, idx = F.max_pool2d(x, kernel, stride=stride, padding=padding, ceil_mode=ceil_mode, return_indices=True)
    return {
        "description": description,
        "call": f"torch.nn.functional.max_pool2d(x, {kernel}, stride={stride}, padding={padding}, ceil_mode={ceil_mode}); "
                "(out * upstream).sum().backward()",
        "params": {"kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": ceil_mode},
        "inputs": {"x": T(x), "upstream": T(upstream)},
        "outputs": {"output": T(out), "grad_x": T(gx), "argmax_flat_index": T(idx)},
        "note": "Ties: PyTorch's CPU kernel keeps the first maximum in row-major window order "
                "(argmax_flat_index = h*W + w in the unpadded input). Padding counts as -inf.",
    }


def p2_max_pool2d():
    x = torch.tensor([[1, 3, 2, 2], [3, 0, 2, 2], [0, 0, 5, 1], [0, 0, 1, 5]], dtype=F64).reshape(1, 1, 4, 4)
    up = torch.tensor([[10, 20], [30, 40]], dtype=F64).reshape(1, 1, 2, 2)
    return pool_case("4x4 with ties in three windows, kernel 2 stride 2", x, up, 2, 2, 0)


def p2b_max_pool2d_overlap():
    g = torch.Generator().manual_seed(202)
    x = ints(g, 0, 3, (1, 2, 8, 8))  # 8x8: floor((8-3)/2)+1 = 3 (ceil_mode=True would give 4)
    x[0, 1, 2, 2] = 9.0  # channel 1: (2,2) is the max of all four windows it lies in -> grads accumulate
    up = ints(g, 1, 4, (1, 2, 3, 3))
    return pool_case("seeded ints 0..3 (seed 202), 1x2x8x8, kernel 3 stride 2 (overlapping windows share a "
                     "row/column), ceil_mode=False so row/column 7 is never read; channel 1 has x[2][2]=9, the max of 4 windows, so its "
                     "gradient is the sum of 4 upstream values", x, up, 3, 2, 0)


def p2c_max_pool2d_padding():
    g = torch.Generator().manual_seed(303)
    x = ints(g, -9, -1, (1, 1, 5, 5))  # all negative, so -inf padding must never win
    up = ints(g, 1, 5, (1, 1, 3, 3))
    return pool_case("seeded negative ints (seed 303), 1x1x5x5, kernel 2 stride 2 padding 1 -> 3x3", x, up, 2, 2, 1)


# ----------------------------------------------------------------------------
# cross entropy


def ce_case(description, logits, targets):
    leaf = logits.detach().clone().requires_grad_(True)
    per_row = F.cross_entropy(leaf.detach(), targets, reduction="none")
    mean = F.cross_entropy(leaf, targets)  # reduction='mean'
    mean.backward()
    return {
        "description": description,
        "call": "torch.nn.functional.cross_entropy(logits, targets) (mean) and reduction='none'; mean.backward()",
        "inputs": {"logits": T(logits), "targets": T(targets)},
        "outputs": {"per_row_loss": T(per_row), "mean_loss": T(mean), "grad_logits_of_mean": T(leaf.grad)},
    }


P3_LOGITS = [[1e4, 0, -1e4], [1e4, 0, -1e4], [-1e4, -1e4, -1e4], [1e8, 1e8, -1e8], [100, 0, -100]]
P3_TARGETS = [0, 2, 1, 1, 1]


def p3_cross_entropy(dtype):
    return ce_case(f"extreme logits ({str(dtype).replace('torch.', '')})",
                   torch.tensor(P3_LOGITS, dtype=dtype), torch.tensor(P3_TARGETS, dtype=torch.int64))


def p3b_cross_entropy():
    g = torch.Generator().manual_seed(404)
    logits = torch.randn(4, 5, generator=g, dtype=F64) * 3
    targets = torch.randint(0, 5, (4,), generator=g)
    return ce_case("random float64 logits (torch.randn*3, seed 404), batch 4, 5 classes", logits, targets)


def p7_cross_entropy():
    return ce_case("logits [[2,0,0],[0,1,0]], targets [0,2]",
                   torch.tensor([[2, 0, 0], [0, 1, 0]], dtype=F64), torch.tensor([0, 2]))


# ----------------------------------------------------------------------------
# SGD


def sgd_run(p0, grads, lrs, **kw):
    p = torch.nn.Parameter(torch.tensor(p0, dtype=F64))
    opt = torch.optim.SGD([p], lr=lrs[0], **kw)
    after = []
    for g, lr in zip(grads, lrs):
        opt.param_groups[0]["lr"] = lr
        p.grad = torch.tensor(g, dtype=F64)
        opt.step()
        after.append(p.detach().clone().tolist())
    return after


def p4_sgd_momentum():
    grads, lrs = [1.0, 0.5, -0.25], [0.1, 0.1, 0.01]
    variants = {
        "plain": dict(momentum=0.9),
        "dampening_0.5": dict(momentum=0.9, dampening=0.5),
        "nesterov": dict(momentum=0.9, nesterov=True),
    }
    return {
        "description": "scalar p=1.0, momentum 0.9, gradients 1.0, 0.5, -0.25 with lr 0.1, 0.1, 0.01 "
                       "(lr changed through param_groups between steps)",
        "call": "torch.optim.SGD([p], lr, momentum=0.9, **variant); p.grad = g; opt.step() (float64)",
        "inputs": {"p0": 1.0, "grads": grads, "lrs": lrs, "variants": {k: v for k, v in variants.items()}},
        "outputs": {k: sgd_run(1.0, grads, lrs, **v) for k, v in variants.items()},
        "note": "outputs[variant][i] = parameter after step i+1. On step 1 the momentum buffer is the "
                "gradient itself (no dampening applied).",
    }


def p4b_sgd_weight_decay():
    p0 = [1.0, -2.0]
    grads = [[0.5, -1.0], [0.25, 0.5], [-1.0, 0.0]]
    lrs = [0.1, 0.1, 0.1]
    kw = dict(momentum=0.9, weight_decay=0.1)
    return {
        "description": "p=[1,-2], weight_decay 0.1 (d_p = g + 0.1*p), momentum 0.9, lr 0.1, 3 steps",
        "call": "torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1); p.grad = g; opt.step() (float64)",
        "inputs": {"p0": p0, "grads": grads, "lrs": lrs, "variants": {"weight_decay_0.1": kw}},
        "outputs": {"weight_decay_0.1": sgd_run(p0, grads, lrs, **kw)},
        "note": "outputs[variant][i] = parameter after step i+1",
    }


# ----------------------------------------------------------------------------
# relu and composites


def p5_relu():
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], dtype=F64)
    up = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=F64)
    out, (gx,) = vjp(F.relu, up, x)
    return {
        "description": "relu at x == 0: output 0 and gradient 0 (PyTorch passes the gradient only where x > 0)",
        "call": "torch.nn.functional.relu(x); (out * upstream).sum().backward()",
        "inputs": {"x": T(x), "upstream": T(up)},
        "outputs": {"output": T(out), "grad_x": T(gx)},
    }


def p6_conv_relu_pool():
    g = torch.Generator().manual_seed(606)
    x = ints(g, -2, 2, (1, 1, 6, 6))
    w = ints(g, -1, 1, (2, 1, 3, 3))
    b = torch.tensor([0.0, -1.0], dtype=F64)
    up = ints(g, 1, 3, (1, 2, 3, 3))

    def fn(x_, w_, b_):
        return F.max_pool2d(F.relu(F.conv2d(x_, w_, b_, padding=1)), 2)

    out, (gx, gw, gb) = vjp(fn, up, x, w, b)
    pre = F.conv2d(x, w, b, padding=1)
    return {
        "description": "seeded ints (seed 606): conv2d(1->2, 3x3, padding 1) -> relu -> max_pool2d(2, stride 2)",
        "call": "F.max_pool2d(F.relu(F.conv2d(x, weight, bias, padding=1)), 2); (out * upstream).sum().backward()",
        "inputs": {"x": T(x), "weight": T(w), "bias": T(b), "upstream": T(up)},
        "outputs": {"conv_output": T(pre), "output": T(out), "grad_x": T(gx), "grad_weight": T(gw), "grad_bias": T(gb)},
        "note": "conv_output (pre-activation) is given to locate relu zeros and pooling ties; where a pooled "
                "window is all <= 0 the relu output ties at 0 and PyTorch routes the gradient to the first "
                "position, where relu's backward then zeroes it.",
    }


def p6b_linear_relu():
    g = torch.Generator().manual_seed(707)
    x = ints(g, -3, 3, (2, 4))
    w = ints(g, -2, 2, (3, 4))
    b = ints(g, -2, 2, (3,)) * 0.5
    up = ints(g, -2, 2, (2, 3))

    def fn(x_, w_, b_):
        return F.relu(F.linear(x_, w_, b_))

    out, (gx, gw, gb) = vjp(fn, up, x, w, b)
    return {
        "description": "seeded ints (seed 707): relu(x @ W^T + b), x 2x4, W 3x4 (PyTorch [out, in] layout), b 3",
        "call": "F.relu(F.linear(x, weight, bias)); (out * upstream).sum().backward()",
        "inputs": {"x": T(x), "weight": T(w), "bias": T(b), "upstream": T(up)},
        "outputs": {"pre_activation": T(F.linear(x, w, b)), "output": T(out), "grad_x": T(gx),
                    "grad_weight": T(gw), "grad_bias": T(gb)},
    }


# ----------------------------------------------------------------------------


def show(name, case):
    print(f"== {name}: {case['description']}")
    print(f"   call: {case['call']}")
    for k, v in case["outputs"].items():
        data = v["data"] if isinstance(v, dict) else v
        print(f"   {k} = {json.dumps(data)}")


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    cases = {
        "P1_conv2d": p1_conv2d(),
        "P1b_conv2d": p1b_conv2d(),
        "P2_max_pool2d": p2_max_pool2d(),
        "P2b_max_pool2d_overlap": p2b_max_pool2d_overlap(),
        "P2c_max_pool2d_padding": p2c_max_pool2d_padding(),
        "P3_cross_entropy_f64": p3_cross_entropy(torch.float64),
        "P3_cross_entropy_f32": p3_cross_entropy(torch.float32),
        "P3b_cross_entropy": p3b_cross_entropy(),
        "P4_sgd_momentum": p4_sgd_momentum(),
        "P4b_sgd_weight_decay": p4b_sgd_weight_decay(),
        "P5_relu": p5_relu(),
        "P6_conv_relu_pool": p6_conv_relu_pool(),
        "P6b_linear_relu": p6b_linear_relu(),
        "P7_cross_entropy": p7_cross_entropy(),
    }
    for name, case in cases.items():
        show(name, case)

    doc = {
        "meta": {
            "generator": "scripts/op_cases.py",
            "torch_version": torch.__version__,
            "backward_convention": "grads are of sum(output * upstream); cross-entropy grads are of the mean loss",
        },
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    text = json.dumps(doc, indent=1, allow_nan=False)
    # Put each innermost list of numbers on one line. Only multi-line matches are
    # touched, and JSON strings never span lines, so string contents are unchanged.
    text = re.sub(r"\[(\s*[-+0-9.eE]+(?:,\s*[-+0-9.eE]+)*\s*)\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]"
                  if "\n" in m.group(1) else m.group(0), text)
    assert json.loads(text) == json.loads(json.dumps(doc))
    with open(OUT, "w") as f:
        f.write(text + "\n")
    print(f"wrote {os.path.relpath(OUT, REPO_ROOT)} ({os.path.getsize(OUT)} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
