"""Convert cubenet's resumable training checkpoints to and from PyTorch optimizer state.

cubenet's resume checkpoint (runtime/src/resume.rs) is one safetensors file holding

  <key>                              every parameter and buffer under its PyTorch
                                     state_dict key (BatchNorm's running_mean / running_var
                                     float32, num_batches_tracked int64, as PyTorch)
  optimizer.<key>.momentum_buffer    SGD momentum buffer of each parameter (always written;
                                     zeros when no momentum step was taken)
  optimizer.<key>.exp_avg            Adam / AdamW first moment    (only after an Adam step)
  optimizer.<key>.exp_avg_sq         Adam / AdamW second moment   (only after an Adam step)

and string metadata in the header: `format` = cubenet-training-checkpoint/1, the run's
position (`epoch`, `batches_done`, `steps`, `loss_sum`, `samples`, `seconds`, `history`),
the data loader's settings (`data.samples`, `data.batch_size`, `data.shuffle`,
`data.drop_last`, `data.seed`, which a resume must match) and, after Adam steps, the Adam
step count `optimizer.step`.

PyTorch's `optimizer.state_dict()` keys the state by the parameter's index in the
optimizer's parameter order (the order of `model.parameters()` when the optimizer was built
from it): `{'state': {i: {'momentum_buffer': t}} or {i: {'step': t, 'exp_avg': t,
'exp_avg_sq': t}}, 'param_groups': [...]}`. Hyper-parameters (lr, momentum, betas, ...) are
not in cubenet's file: they are the run's options, so `to_torch` keeps the ones of the
optimizer you pass.

Semantics kept across the conversion:
  * SGD: cubenet's first step sets `v = g` when `steps == 0` (PyTorch: no momentum_buffer in
    the state yet). So `to_torch` puts a momentum_buffer in the state only when
    `steps > 0` and the group's momentum is non-zero, and `from_torch` refuses momentum
    buffers with `steps == 0` (cubenet would ignore them).
  * Adam / AdamW: one step count for every parameter (`optimizer.step`); PyTorch's per-
    parameter `step` tensors must all agree. The momentum buffers of an Adam run are zeros.
  * Parameters are f32 in both; values are copied bit for bit.
  * Buffers (BatchNorm's running_mean, running_var, num_batches_tracked) are model state,
    not optimizer state: to_torch loads them into the model's buffers (the whole state_dict,
    strict), from_torch writes every buffer back (num_batches_tracked as int64). They get no
    optimizer.* entries.

Python API (import this file, or run it):

  to_torch(path, model, optimizer) -> metadata
      Loads the parameters and buffers into `model` and the optimizer state into
      `optimizer` (a torch.optim.SGD / Adam / AdamW over the model's parameters). Raises
      CheckpointMismatch listing every missing / extra key and shape mismatch. Returns the
      checkpoint's metadata (dict of str), which from_torch can write back unchanged.

  from_torch(model, optimizer, path, metadata=None, **run)
      Writes a checkpoint cubenet's `--resume` accepts. `optimizer` is a torch optimizer or
      its state_dict(). `metadata` (e.g. what to_torch returned) gives the run position and
      loader settings; keyword arguments override single keys (`epoch=2`, `steps=100`,
      `data_samples=60000`, `data_batch_size=64`, `data_seed=42`, ...). Without metadata,
      `data_samples`, `data_batch_size` and `data_seed` are required (they must equal the
      resuming run's loader); the position defaults to the start of epoch 1 with `steps`
      = the Adam step count (SGD: 1 if there are momentum buffers, else 0).

Command line (venv/bin/python scripts/optimizer_state.py ...):

  to-torch CKPT OUT.pt --arch lenet5|cifar-lenet|fashion-bn
           [--optimizer auto|sgd|adam|adamw] [--lr LR] [--lr-decay G] [--momentum M]
           [--weight-decay WD] [--epochs E]
      Writes torch.save({'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
      'cubenet': {'metadata': ..., 'arch': ..., 'optimizer': ...}}). The hyper-parameters
      default to the examples' (examples/fashion_mnist.rs: lr 0.05, StepLR gamma 0.5 per
      epoch, momentum 0.9; examples/cifar10.rs: lr 0.001, momentum 0.9, no schedule;
      examples/fashion_mnist_bn.rs: lr 0.05, momentum 0.9, weight decay 5e-4, cosine
      annealing to 0 over --epochs (default 10) x batches per epoch, stepped per batch); the
      group's lr is the one cubenet uses for the next step (StepLR applied for the epoch of
      the next batch, cosine at the checkpoint's step count, computed as cubenet does: f32
      for SGD, f64 for Adam). `auto` picks adam when the file has Adam state (cubenet does
      not record adam vs adamw), else sgd.

  from-torch IN.pt CKPT --arch lenet5|cifar-lenet|fashion-bn [--epoch E] [--batches-done B]
           [--steps S] [--data-samples N] [--batch-size B] [--seed S] [--no-shuffle]
           [--drop-last]
      IN.pt holds {'model': state_dict, 'optimizer': optimizer state_dict} (and, when it
      came from to-torch, 'cubenet' metadata, reused unless overridden).

  roundtrip CKPT --arch ...      to-torch then from-torch in memory, and checks that every
                                 tensor (bitwise) and metadata value comes back unchanged.
"""

import argparse
import math
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgd_fixture_common import LeNet  # noqa: E402

FORMAT = "cubenet-training-checkpoint/1"
PREFIX = "optimizer."
MOMENTUM = ".momentum_buffer"
EXP_AVG = ".exp_avg"
EXP_AVG_SQ = ".exp_avg_sq"
ADAM_STEP = "optimizer.step"
RUN_KEYS = ("epoch", "batches_done", "steps", "loss_sum", "samples", "seconds", "history")
DATA_KEYS = ("data.samples", "data.batch_size", "data.shuffle", "data.drop_last", "data.seed")
RUN_DEFAULTS = {
    "epoch": "1",
    "batches_done": "0",
    "loss_sum": "0",
    "samples": "0",
    "seconds": "0",
    "history": "",
    # The examples' training loaders shuffle and keep the short last batch.
    "data.shuffle": "true",
    "data.drop_last": "false",
}

COUNT_SUFFIX = ".num_batches_tracked"


def bn_net():
    """examples/fashion_mnist_bn.rs `BnNet` (1x28x28), with its state_dict keys."""
    from collections import OrderedDict
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 16, 5, padding=2)), ("bn1", nn.BatchNorm2d(16)),
        ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(16, 32, 5)), ("bn2", nn.BatchNorm2d(32)),
        ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)), ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(800, 128)), ("bn3", nn.BatchNorm1d(128)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(128, 10))]))


ARCHS = {
    # examples/fashion_mnist.rs (= cubenet::zoo::LeNet5): 1x28x28, conv1 padding 2.
    "lenet5": dict(build=lambda: LeNet(in_channels=1, conv1_padding=2), lr=0.05, lr_decay=0.5,
                   momentum=0.9),
    # examples/cifar10.rs (the PyTorch tutorial's CIFAR LeNet): 3x32x32, no padding.
    "cifar-lenet": dict(build=lambda: LeNet(in_channels=3, conv1_padding=0), lr=0.001,
                        lr_decay=1.0, momentum=0.9),
    # examples/fashion_mnist_bn.rs: BatchNorm buffers; per-step cosine schedule over 10 epochs.
    "fashion-bn": dict(build=bn_net, lr=0.05, lr_decay=1.0, momentum=0.9, weight_decay=5e-4,
                       schedule="cosine", epochs=10),
}


class CheckpointMismatch(ValueError):
    """The checkpoint and the model / optimizer do not fit; the message lists every problem."""


def read_checkpoint(path):
    """(tensors: dict name -> tensor, metadata: dict str -> str) of a cubenet checkpoint."""
    with safe_open(path, framework="pt") as f:
        meta = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if meta.get("format") != FORMAT:
        raise CheckpointMismatch(
            f"{path}: not a cubenet training checkpoint (metadata format = "
            f"{meta.get('format')!r}, expected {FORMAT!r})")
    return tensors, meta


def _is_count(name):
    """BatchNorm's batch count: int64 in PyTorch and in cubenet's files."""
    return name.endswith(COUNT_SUFFIX)


def _file_dtype(name):
    return torch.int64 if _is_count(name) else torch.float32


def _state_key(name, suffix):
    return f"{PREFIX}{name}{suffix}"


def _kind_of_groups(groups):
    kinds = set()
    for g in groups:
        if "betas" in g:
            kinds.add("adam")
        elif "momentum" in g:
            kinds.add("sgd")
        else:
            raise CheckpointMismatch(
                f"optimizer group with keys {sorted(g)} is neither SGD nor Adam / AdamW")
    if len(kinds) != 1:
        raise CheckpointMismatch(f"optimizer groups mix {sorted(kinds)}")
    return kinds.pop()


def _indexed_names(model, optimizer):
    """[(index, name, group)] in the optimizer's state_dict index order.

    With an optimizer object, parameters are matched by identity; with a state_dict, the
    concatenated `params` lists of its groups are taken in `model.named_parameters()`
    order (the order of `model.parameters()` the optimizer was built from)."""
    named = list(model.named_parameters())
    out = []
    if isinstance(optimizer, torch.optim.Optimizer):
        by_id = {id(p): n for n, p in named}
        i = 0
        for g in optimizer.param_groups:
            for p in g["params"]:
                if id(p) not in by_id:
                    raise CheckpointMismatch(
                        f"optimizer parameter {i} (shape {tuple(p.shape)}) is not a "
                        "parameter of the model")
                out.append((i, by_id[id(p)], g))
                i += 1
    else:
        order = [(i, g) for g in optimizer["param_groups"] for i in g["params"]]
        if len(order) != len(named):
            raise CheckpointMismatch(
                f"the optimizer state has {len(order)} parameters, the model "
                f"{len(named)} ({', '.join(n for n, _ in named)})")
        out = [(i, n, g) for (i, g), (n, _) in zip(order, named)]
    names = [n for _, n, _ in out]
    missing = [n for n, _ in named if n not in names]
    if missing:
        raise CheckpointMismatch(f"model parameters not in the optimizer: {missing}")
    return out


def _scalar_dtype():
    # torch.optim keeps Adam's `step` as a tensor of this dtype (_get_scalar_dtype).
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def to_torch(path, model, optimizer):
    """Loads cubenet checkpoint `path` into `model` (parameters) and `optimizer` (state).

    Returns the checkpoint's metadata. Raises CheckpointMismatch listing every problem."""
    tensors, meta = read_checkpoint(path)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError("to_torch needs a torch.optim.Optimizer over the model's parameters")
    entries = _indexed_names(model, optimizer)
    kind = _kind_of_groups(optimizer.param_groups)
    problems = []
    try:
        steps = int(meta["steps"])
    except (KeyError, ValueError):
        raise CheckpointMismatch(f"{path}: metadata `steps` = {meta.get('steps')!r} is not a "
                                 "step count")
    has_adam = ADAM_STEP in meta
    if kind == "sgd" and has_adam:
        problems.append("  the checkpoint holds Adam state (optimizer.step = "
                        f"{meta[ADAM_STEP]}) but the optimizer is SGD")
    if kind == "adam" and not has_adam and steps > 0:
        problems.append(f"  the optimizer is Adam but the checkpoint ({steps} steps) holds no "
                        "Adam state (it was written by an SGD run)")

    # Parameters and buffers (BatchNorm's running statistics and int64 batch counts).
    model_sd = model.state_dict()
    param_names = {n for _, n, _ in entries}
    shapes = {k: tuple(v.shape) for k, v in model_sd.items()}
    expected = dict(shapes)
    for n in param_names:
        expected[_state_key(n, MOMENTUM)] = shapes[n]
        if kind == "adam" and has_adam:
            expected[_state_key(n, EXP_AVG)] = shapes[n]
            expected[_state_key(n, EXP_AVG_SQ)] = shapes[n]
    for k in sorted(expected):
        if k not in tensors:
            problems.append(f"  missing key `{k}` (shape {list(expected[k])})")
        elif tuple(tensors[k].shape) != expected[k]:
            problems.append(f"  `{k}`: expected shape {list(expected[k])}, found "
                            f"{list(tensors[k].shape)}")
    for k in sorted(set(tensors) - set(expected)):
        problems.append(f"  extra key `{k}` (shape {list(tensors[k].shape)})")
    for k, t in tensors.items():
        if k in expected and t.dtype != _file_dtype(k):
            problems.append(f"  `{k}` is {t.dtype}, expected {_file_dtype(k)}")
    for k, v in model_sd.items():
        if v.dtype != _file_dtype(k):
            problems.append(f"  the model's `{k}` is {v.dtype}; cubenet keeps "
                            f"{_file_dtype(k)}")
    if problems:
        raise CheckpointMismatch(f"{path} does not fit the model / optimizer:\n"
                                 + "\n".join(problems))

    model.load_state_dict({k: tensors[k] for k in model_sd}, strict=True)
    state = {}
    if kind == "sgd":
        for i, n, g in entries:
            buf = tensors[_state_key(n, MOMENTUM)]
            if g["momentum"] != 0 and steps > 0:
                state[i] = {"momentum_buffer": buf.clone()}
            elif bool(buf.any()):
                print(f"note: ignoring the non-zero momentum buffer of `{n}` (momentum "
                      f"{g['momentum']}, steps {steps}: PyTorch has none)", file=sys.stderr)
    elif has_adam:
        step = int(meta[ADAM_STEP])
        for i, n, _ in entries:
            state[i] = {
                "step": torch.tensor(float(step), dtype=_scalar_dtype()),
                "exp_avg": tensors[_state_key(n, EXP_AVG)].clone(),
                "exp_avg_sq": tensors[_state_key(n, EXP_AVG_SQ)].clone(),
            }
            if bool(tensors[_state_key(n, MOMENTUM)].any()):
                print(f"note: ignoring the non-zero momentum buffer of `{n}` in an Adam "
                      "checkpoint", file=sys.stderr)
    sd = optimizer.state_dict()
    sd["state"] = state
    optimizer.load_state_dict(sd)
    return meta


def _meta_str(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if not math.isfinite(v):
            raise CheckpointMismatch(f"metadata value {v} is not finite")
        return repr(v)
    return str(v)


def _f32_contiguous(name, t):
    t = t.detach().to("cpu").contiguous()
    if t.dtype != torch.float32:
        raise CheckpointMismatch(f"`{name}` is {t.dtype}; cubenet checkpoints hold float32")
    if not bool(torch.isfinite(t).all()):
        raise CheckpointMismatch(f"`{name}` holds NaN or infinite values (cubenet refuses "
                                 "to save or resume non-finite state)")
    return t


def _count_contiguous(name, t):
    t = t.detach().to("cpu").contiguous()
    if t.dtype != torch.int64 or t.numel() != 1:
        raise CheckpointMismatch(f"`{name}` is {t.dtype}{list(t.shape)}; expected an int64 "
                                 "scalar (BatchNorm's batch count)")
    if not 0 <= int(t) <= 2 ** 24:
        raise CheckpointMismatch(f"`{name}` = {int(t)}: cubenet keeps batch counts exact "
                                 "only up to 2^24")
    return t


def from_torch(model, optimizer, path, metadata=None, **run):
    """Writes `model` + `optimizer` (object or state_dict) as a cubenet resume checkpoint.

    `metadata`: cubenet metadata to start from (e.g. what to_torch returned). `run`:
    single keys to set, `data_` standing for `data.` (data_samples=60000, steps=10, ...).
    Returns the metadata written."""
    sd = optimizer.state_dict() if isinstance(optimizer, torch.optim.Optimizer) else optimizer
    entries = _indexed_names(model, optimizer)
    kind = _kind_of_groups(sd["param_groups"])
    state = sd["state"]
    unknown = sorted(set(state) - {i for i, _, _ in entries})
    if unknown:
        raise CheckpointMismatch(f"optimizer state for unknown parameter indices {unknown}")

    # Parameters and buffers: cubenet's resume needs the BatchNorm running statistics and
    # batch counts (int64, as PyTorch) as well.
    tensors = {}
    for k, v in model.state_dict().items():
        tensors[k] = _count_contiguous(k, v) if _is_count(k) else _f32_contiguous(k, v)
    momentum_present = False
    adam_steps = {}
    for i, n, _ in entries:
        s = state.get(i, {})
        shape = tensors[n].shape
        expected = {"momentum_buffer"} if kind == "sgd" else {"step", "exp_avg", "exp_avg_sq"}
        if s and set(s) != expected and not (kind == "sgd" and s.get("momentum_buffer") is None
                                             and set(s) <= expected):
            raise CheckpointMismatch(f"state of `{n}` (index {i}) has keys {sorted(s)}, "
                                     f"expected {sorted(expected)}")
        buf = s.get("momentum_buffer") if kind == "sgd" else None
        if buf is not None:
            momentum_present = True
            if tuple(buf.shape) != tuple(shape):
                raise CheckpointMismatch(f"momentum_buffer of `{n}`: shape {list(buf.shape)}, "
                                         f"parameter {list(shape)}")
            tensors[_state_key(n, MOMENTUM)] = _f32_contiguous(n + MOMENTUM, buf)
        else:
            tensors[_state_key(n, MOMENTUM)] = torch.zeros(shape, dtype=torch.float32)
        if kind == "adam" and s:
            step = float(s["step"])
            if step != int(step) or step < 1:
                raise CheckpointMismatch(f"Adam step of `{n}` = {step} is not a count >= 1")
            adam_steps[n] = int(step)
            for key, suffix in (("exp_avg", EXP_AVG), ("exp_avg_sq", EXP_AVG_SQ)):
                if tuple(s[key].shape) != tuple(shape):
                    raise CheckpointMismatch(f"{key} of `{n}`: shape {list(s[key].shape)}, "
                                             f"parameter {list(shape)}")
                tensors[_state_key(n, suffix)] = _f32_contiguous(n + suffix, s[key])
    if adam_steps and len(adam_steps) != len(entries):
        missing = [n for _, n, _ in entries if n not in adam_steps]
        raise CheckpointMismatch(f"Adam state for some parameters only (none for {missing}); "
                                 "cubenet keeps one state for all")
    if len(set(adam_steps.values())) > 1:
        raise CheckpointMismatch(f"Adam step counts differ between parameters: {adam_steps}; "
                                 "cubenet keeps one step count")

    meta = dict(metadata or {})
    for k, v in run.items():
        key = "data." + k[len("data_"):] if k.startswith("data_") else k
        if key not in RUN_KEYS and key not in DATA_KEYS:
            raise TypeError(f"unknown checkpoint field {k!r}")
        meta[key] = _meta_str(v)
    meta["format"] = FORMAT
    meta.pop(ADAM_STEP, None)
    if adam_steps:
        meta[ADAM_STEP] = str(next(iter(adam_steps.values())))
    if "steps" not in meta:
        if adam_steps:
            meta["steps"] = meta[ADAM_STEP]
        else:
            meta["steps"] = "1" if momentum_present else "0"
    for k, v in RUN_DEFAULTS.items():
        meta.setdefault(k, v)
    missing = [k for k in DATA_KEYS if k not in meta]
    if missing:
        raise CheckpointMismatch(
            "the checkpoint needs the resuming run's loader settings; give "
            + ", ".join(k.replace(".", "_") for k in missing)
            + " (they must equal the resuming run's training samples, batch size and seed; "
            "command line: --data-samples, --batch-size, --seed)")
    steps = int(meta["steps"])
    if momentum_present and steps == 0:
        raise CheckpointMismatch("momentum buffers with steps = 0: cubenet's first step "
                                 "would overwrite them (v = g); give steps >= 1")
    if kind == "adam" and not adam_steps and steps > 0:
        print(f"note: Adam without state and steps = {steps}: cubenet refuses to resume this "
              "with Adam", file=sys.stderr)
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, path)
    return meta


# ---------------------------------------------------------------------------------- CLI

def next_step_epoch(meta):
    """The epoch of the step a resumed run takes next (cubenet's fit loop)."""
    batches = batches_per_epoch(meta)
    epoch = int(meta["epoch"])
    return epoch + 1 if int(meta["batches_done"]) >= batches else epoch


def scheduled_lr(kind, lr, gamma, epoch):
    """StepLR(step_size 1) as examples/fashion_mnist.rs applies it: f32 for SGD (`lr *
    gamma.powi(k)`), f64 from the f32 options for Adam."""
    import numpy as np
    k = epoch - 1
    if kind == "sgd":
        g = np.float32(1.0)
        for _ in range(k):
            g = np.float32(g * np.float32(gamma))
        return float(np.float32(lr) * g)
    return float(np.float32(lr)) * float(np.float32(gamma)) ** k


def batches_per_epoch(meta):
    samples, batch = int(meta["data.samples"]), int(meta["data.batch_size"])
    return samples // batch if meta["data.drop_last"] == "true" else -(-samples // batch)


def cosine_lr(kind, lr, meta, epochs):
    """CosineAnnealingLr { t_max: epochs x batches per epoch, eta_min: 0, per_step } at the
    checkpoint's step count, as cubenet's fit loop applies it (f64 from the f32 option,
    rounded to f32 for SGD)."""
    import numpy as np
    t_max = max(epochs * batches_per_epoch(meta), 1)
    x = math.pi * int(meta["steps"]) / t_max
    v = float(np.float32(lr)) * (1.0 + math.cos(x)) / 2.0
    return float(np.float32(v)) if kind == "sgd" else v


def build_optimizer(model, name, lr, momentum, weight_decay):
    p = model.parameters()
    if name == "sgd":
        # cubenet's SGD options are f32: the same values as Python floats.
        return torch.optim.SGD(p, lr=lr, momentum=float(torch.tensor(momentum)),
                               weight_decay=float(torch.tensor(weight_decay)))
    if name == "adam":
        return torch.optim.Adam(p, lr=lr, weight_decay=float(torch.tensor(weight_decay)))
    if name == "adamw":
        # examples/fashion_mnist.rs: Adam::adamw(lr).with_weight_decay(--weight-decay, 0).
        return torch.optim.AdamW(p, lr=lr, weight_decay=float(torch.tensor(weight_decay)))
    raise ValueError(name)


def load_into_torch(ckpt, arch, optimizer="auto", lr=None, lr_decay=None, momentum=None,
                    weight_decay=None, epochs=None):
    """(model, optimizer, metadata, optimizer name) for checkpoint `ckpt`, hyper-parameters
    defaulting to the example of `arch`."""
    a = ARCHS[arch]
    _, meta = read_checkpoint(ckpt)
    name = optimizer
    if name == "auto":
        name = "adam" if ADAM_STEP in meta else "sgd"
    kind = "sgd" if name == "sgd" else "adam"
    base = a["lr"] if lr is None else lr
    gamma = a["lr_decay"] if lr_decay is None else lr_decay
    if a.get("schedule") == "cosine":
        group_lr = cosine_lr(kind, base, meta, a["epochs"] if epochs is None else epochs)
    else:
        group_lr = scheduled_lr(kind, base, gamma, next_step_epoch(meta))
    wd = a.get("weight_decay", 0.0) if weight_decay is None else weight_decay
    model = a["build"]()
    opt = build_optimizer(model, name, group_lr, a["momentum"] if momentum is None else momentum,
                          wd)
    meta = to_torch(ckpt, model, opt)
    return model, opt, meta, name


def cmd_to_torch(args):
    model, opt, meta, name = load_into_torch(args.ckpt, args.arch, args.optimizer, args.lr,
                                             args.lr_decay, args.momentum, args.weight_decay,
                                             args.epochs)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "cubenet": {"metadata": meta, "arch": args.arch, "optimizer": name}}, args.out)
    sd = opt.state_dict()
    g = {k: v for k, v in sd["param_groups"][0].items() if k != "params"}
    print(f"{args.ckpt} -> {args.out}: {len(list(model.parameters()))} parameters and "
          f"{len(list(model.buffers()))} buffers, optimizer "
          f"{type(opt).__name__} with state for {len(sd['state'])} of them "
          f"({sorted(next(iter(sd['state'].values()), {}))}); epoch {meta['epoch']}, "
          f"batches_done {meta['batches_done']}, steps {meta['steps']}"
          + (f", Adam step {meta[ADAM_STEP]}" if ADAM_STEP in meta else ""))
    print(f"param_groups[0]: {g}")


def cmd_from_torch(args):
    obj = torch.load(args.inp, map_location="cpu", weights_only=True)
    model = ARCHS[args.arch]["build"]()
    model.load_state_dict(obj["model"], strict=True)
    meta = (obj.get("cubenet") or {}).get("metadata")
    run = {}
    for flag, key in (("epoch", "epoch"), ("batches_done", "batches_done"), ("steps", "steps"),
                      ("data_samples", "data_samples"), ("batch_size", "data_batch_size"),
                      ("seed", "data_seed")):
        if getattr(args, flag) is not None:
            run[key] = getattr(args, flag)
    if args.no_shuffle:
        run["data_shuffle"] = False
    if args.drop_last:
        run["data_drop_last"] = True
    meta = from_torch(model, obj["optimizer"], args.ckpt, metadata=meta, **run)
    print(f"{args.inp} -> {args.ckpt}: epoch {meta['epoch']}, batches_done "
          f"{meta['batches_done']}, steps {meta['steps']}"
          + (f", Adam step {meta[ADAM_STEP]}" if ADAM_STEP in meta else "")
          + f"; data {', '.join(f'{k}={meta[k]}' for k in DATA_KEYS)}")


def compare_checkpoints(a, b):
    """[differences] between two checkpoints: keys, dtypes, shapes, bits, metadata."""
    ta, ma = read_checkpoint(a)
    tb, mb = read_checkpoint(b)
    diffs = []
    for k in sorted(set(ta) | set(tb)):
        if k not in ta or k not in tb:
            diffs.append(f"tensor `{k}` only in {a if k in ta else b}")
        elif ta[k].dtype != tb[k].dtype or ta[k].shape != tb[k].shape:
            diffs.append(f"tensor `{k}`: {ta[k].dtype}{list(ta[k].shape)} vs "
                         f"{tb[k].dtype}{list(tb[k].shape)}")
        elif not (torch.equal(ta[k].view(torch.int32), tb[k].view(torch.int32))
                  if ta[k].is_floating_point() else torch.equal(ta[k], tb[k])):
            diffs.append(f"tensor `{k}`: values differ (bitwise)")
    for k in sorted(set(ma) | set(mb)):
        if ma.get(k) != mb.get(k):
            diffs.append(f"metadata `{k}`: {ma.get(k)!r} vs {mb.get(k)!r}")
    return diffs, len(ta), len(ma)


def cmd_roundtrip(args):
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        model, opt, meta, _ = load_into_torch(args.ckpt, args.arch, args.optimizer)
        pt = os.path.join(d, "state.pt")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                    "cubenet": {"metadata": meta}}, pt)
        obj = torch.load(pt, map_location="cpu", weights_only=True)
        model2 = ARCHS[args.arch]["build"]()
        model2.load_state_dict(obj["model"])
        out = os.path.join(d, "back.safetensors")
        from_torch(model2, obj["optimizer"], out, metadata=obj["cubenet"]["metadata"])
        diffs, nt, nm = compare_checkpoints(args.ckpt, out)
    if diffs:
        print("FAIL: round trip changed the checkpoint:\n  " + "\n  ".join(diffs))
        sys.exit(1)
    print(f"OK: {args.ckpt} -> torch -> cubenet: {nt} tensors bitwise identical, "
          f"{nm} metadata values identical")


def main(argv=None):
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("to-torch", help="cubenet checkpoint -> torch.save file")
    t.add_argument("ckpt")
    t.add_argument("out")
    t.add_argument("--arch", choices=sorted(ARCHS), default="lenet5")
    t.add_argument("--optimizer", choices=["auto", "sgd", "adam", "adamw"], default="auto")
    t.add_argument("--lr", type=float)
    t.add_argument("--lr-decay", type=float)
    t.add_argument("--momentum", type=float)
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--epochs", type=int, help="the run's epochs (cosine schedule's length; "
                   "fashion-bn: default 10)")
    f = sub.add_parser("from-torch", help="torch.save file -> cubenet checkpoint")
    f.add_argument("inp")
    f.add_argument("ckpt")
    f.add_argument("--arch", choices=sorted(ARCHS), default="lenet5")
    f.add_argument("--epoch", type=int)
    f.add_argument("--batches-done", type=int)
    f.add_argument("--steps", type=int)
    f.add_argument("--data-samples", type=int, help="training samples of the resuming run")
    f.add_argument("--batch-size", type=int)
    f.add_argument("--seed", type=int)
    f.add_argument("--no-shuffle", action="store_true")
    f.add_argument("--drop-last", action="store_true")
    r = sub.add_parser("roundtrip", help="check to-torch + from-torch is the identity")
    r.add_argument("ckpt")
    r.add_argument("--arch", choices=sorted(ARCHS), default="lenet5")
    r.add_argument("--optimizer", choices=["auto", "sgd", "adam", "adamw"], default="auto")
    args = ap.parse_args(argv)
    try:
        {"to-torch": cmd_to_torch, "from-torch": cmd_from_torch,
         "roundtrip": cmd_roundtrip}[args.cmd](args)
    except CheckpointMismatch as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
