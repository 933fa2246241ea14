"""Reference for the Training lab's Muon entry: torch.optim.Muon on the weights + AdamW on the biases.

Run with the project's virtual environment (torch 2.13.0 CPU, for reference data only)::

    .venv/bin/python tools/reference_muon_lab.py      (also run by tools/make_reference.py)

A small MLP (64 → 8 → 16 → 10, gdstudio.train.mlp, He init from seed 0) on a fixed batch of the
bundled digits (the first 128 training rows). Each step torch gets the ENGINE's gradient at
torch's current parameters (``p.grad = ...``, no autograd), so only the update rule can differ.
Weights go to torch in ``nn.Linear``'s layout (out, in) = Wᵀ; ``torch.optim.Muon`` steps them,
``torch.optim.AdamW`` (its defaults, single-tensor path) the biases. torch's Newton-Schulz
inputs and outputs are recorded (``torch.optim._muon._zeropower_via_newtonschulz`` wrapped) so a
test can compare the update algebra exactly, apart from the bfloat16 matrix products.

Output: ``tests/data/reference_muon_lab.json`` (cases, torch version) and ``.npz``: per case
``<case>_<dtype>_p<i>`` (steps + 1, *shape) parameters in gdstudio's layout, ``..._nsin<l>`` /
``..._nsout<l>`` (steps, in, out) torch's orthogonalisation input and output for weight l.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.optim._muon as torch_muon

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gdstudio.train.datasets import load_dataset  # noqa: E402
from gdstudio.train.mlp import MLP  # noqa: E402

DATA = ROOT / "tests" / "data"
JSON_FILE = DATA / "reference_muon_lab.json"
NPZ_FILE = DATA / "reference_muon_lab.npz"
HIDDEN = (8, 16)
BATCH = 128
STEPS = 50
ADAMW = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2}
CASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "defaults": ({}, ("float64", "float32")),
    "classic_rms": ({"lr": 0.02, "momentum": 0.9, "nesterov": False, "adjust_lr_fn": "match_rms_adamw",
                     "weight_decay": 0.01}, ("float64",)),
}


def run(kwargs: dict[str, Any], dtype: str) -> dict[str, np.ndarray]:
    data = load_dataset("digits", seed=0, dtype=dtype)
    x, y = data.x_train[:BATCH], data.y_train[:BATCH]
    net = MLP(data.n_features, HIDDEN, data.n_classes, dtype=dtype)
    start = net.init_params(0)
    tensors = [torch.from_numpy(p.T.copy() if i % 2 == 0 else p.copy()) for i, p in enumerate(start)]
    muon = torch.optim.Muon(tensors[0::2], **kwargs)
    adamw = torch.optim.AdamW(tensors[1::2], foreach=False, **ADAMW)  # type: ignore[arg-type]
    calls: list[tuple[np.ndarray, np.ndarray]] = []
    original = torch_muon._zeropower_via_newtonschulz

    def recording(grad: torch.Tensor, ns_coefficients: tuple[float, float, float], ns_steps: int,
                  eps: float) -> torch.Tensor:
        out = original(grad, ns_coefficients, ns_steps, eps)
        calls.append((grad.numpy().T.copy(), out.float().numpy().T.copy()))
        return out

    def params() -> list[np.ndarray]:
        return [t.detach().numpy().T.copy() if i % 2 == 0 else t.detach().numpy().copy() for i, t in enumerate(tensors)]

    traj = [[p] for p in params()]
    torch_muon._zeropower_via_newtonschulz = recording
    try:
        for _ in range(STEPS):
            _, grads = net.loss_and_grad(params(), x, y)
            for i, (t, g) in enumerate(zip(tensors, grads, strict=True)):
                t.grad = torch.from_numpy(g.T.copy() if i % 2 == 0 else g.copy())
            muon.step()
            adamw.step()
            for i, p in enumerate(params()):
                traj[i].append(p)
    finally:
        torch_muon._zeropower_via_newtonschulz = original
    out = {f"p{i}": np.stack(t) for i, t in enumerate(traj)}
    n_w = len(tensors) // 2
    for l in range(n_w):
        out[f"nsin{l}"] = np.stack([calls[s * n_w + l][0] for s in range(STEPS)])
        out[f"nsout{l}"] = np.stack([calls[s * n_w + l][1] for s in range(STEPS)])
    return out


def main() -> None:
    arrays: dict[str, np.ndarray] = {}
    for case, (kwargs, dtypes) in CASES.items():
        for dtype in dtypes:
            for key, value in run(kwargs, dtype).items():
                arrays[f"{case}_{dtype}_{key}"] = value
    np.savez_compressed(NPZ_FILE, **arrays)  # type: ignore[arg-type]
    meta = {"torch": torch.__version__, "hidden": list(HIDDEN), "batch": BATCH, "steps": STEPS, "adamw": ADAMW,
            "cases": {c: {"muon": kw, "dtypes": list(d)} for c, (kw, d) in CASES.items()}}
    JSON_FILE.write_text(json.dumps(meta, indent=1) + "\n")
    print(f"Muon lab reference: {len(arrays)} arrays, {NPZ_FILE.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
