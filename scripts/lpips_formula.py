"""The parts of the pair references that both generators share: the seeded weights' reader, VGG16's ReLU taps and
LPIPS's input scaling, and the formulas (float64, torch only: scripts/pair_native_reference.py must run without
torchvision).

  * input scaling: x * 2 - 1, then (x - shift) / scale with shift [-.030, -.088, -.188], scale [.458, .448, .450];
  * per layer: f / (sqrt(sum_c f^2) + 1e-10), (a - b)^2, summed over channels (or weighted by lin), mean over space;
  * feature reconstruction loss: mean over C, H, W of (phi(a) - phi(b))^2 at relu2_2.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import torch

LAYERS = {'relu1_2': 3, 'relu2_2': 8, 'relu3_3': 15, 'relu4_3': 22, 'relu5_3': 29}
CONTENT_LAYER = 'relu2_2'
SHIFT = torch.tensor([-0.030, -0.088, -0.188], dtype=torch.float64).view(1, 3, 1, 1)
SCALE = torch.tensor([0.458, 0.448, 0.450], dtype=torch.float64).view(1, 3, 1, 1)


def read_safetensors(path: str) -> dict[str, np.ndarray]:
    """The F32 tensors of a safetensors file (what scripts/pair-fixture-weights.mjs and the lin file hold)."""
    with open(path, 'rb') as f:
        data = f.read()
    (length,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8 : 8 + length])
    tensors = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32', (name, info['dtype'])
        start, end = info['data_offsets']
        raw = data[8 + length + start : 8 + length + end]
        tensors[name] = np.frombuffer(raw, dtype='<f4').reshape(info['shape'])
    return tensors


def tap_features(features: torch.nn.Sequential, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The ReLU outputs at LAYERS of `x` ([1, 3, H, W] in 0..1, float64), after LPIPS's input scaling."""
    x = (x * 2 - 1 - SHIFT) / SCALE
    out = {}
    for i, module in enumerate(features):
        x = module(x)
        for layer, index in LAYERS.items():
            if i == index:
                out[layer] = x.clone()
    return out


def _unit(f: torch.Tensor) -> torch.Tensor:
    return f / (torch.sqrt(torch.sum(f**2, dim=1, keepdim=True)) + 1e-10)


def pair_scores(
    fa: dict[str, torch.Tensor], fb: dict[str, torch.Tensor], lin: dict[str, np.ndarray] | None
) -> dict[str, float]:
    """LPIPS's per-layer terms and their sum (weighted by `lin` when given), and the feature reconstruction loss."""
    row = {}
    for i, layer in enumerate(LAYERS):
        diff = (_unit(fa[layer]) - _unit(fb[layer])) ** 2
        if lin is not None:
            diff = diff * torch.from_numpy(lin[f'lin{i}.model.1.weight'].astype(np.float64))
        row[f'lpips_{layer}'] = float(diff.sum(dim=1, keepdim=True).mean(dim=[2, 3]).item())
    row['perceptual_distance'] = sum(row[f'lpips_{layer}'] for layer in LAYERS)
    content = (fa[CONTENT_LAYER] - fb[CONTENT_LAYER]) ** 2
    row['feature_reconstruction_loss'] = float(content.mean().item())
    return row
