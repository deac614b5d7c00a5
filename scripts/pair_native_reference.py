#!/usr/bin/env python3
"""Reference values for pair runs at the images' own size (`--pair-size native`: no Resize, no CenterCrop).

Reads the fixture images that scripts/pair_reference.py made (packages/vgg-core/test-fixtures/pairs/*.png, 96x80)
and writes native-reference.json there: for each pair, LPIPS's formula (with and without the linear weights in
lpips-lin.safetensors) and the feature reconstruction loss at relu2_2, computed in float64 on the full-size images.
It needs torch, numpy and Pillow only: VGG16's feature stack is built here from torch.nn layers (3x3 convolutions
with padding 1, ReLU, 2x2 max pools) and loaded with the same seeded weights.

  * preprocessing: PIL's RGB image at its own size, / 255, then LPIPS's input scaling: x * 2 - 1, then
    (x - shift) / scale with shift [-.030, -.088, -.188], scale [.458, .448, .450];
  * per layer: f / (sqrt(sum_c f^2) + 1e-10), (a - b)^2, summed over channels (or weighted by lin), mean over space.

Usage:
    node scripts/pair-fixture-weights.mjs /tmp/pair-weights.safetensors
    python scripts/pair_native_reference.py --weights /tmp/pair-weights.safetensors
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'packages', 'vgg-core', 'test-fixtures', 'pairs')
CFG = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M']
LAYERS = {'relu1_2': 3, 'relu2_2': 8, 'relu3_3': 15, 'relu4_3': 22, 'relu5_3': 29}
CONTENT_LAYER = 'relu2_2'
SHIFT = torch.tensor([-0.030, -0.088, -0.188], dtype=torch.float64).view(1, 3, 1, 1)
SCALE = torch.tensor([0.458, 0.448, 0.450], dtype=torch.float64).view(1, 3, 1, 1)
DTYPES = {'F32': np.float32, 'F16': np.float16, 'F64': np.float64}


def read_safetensors(path: str) -> dict[str, np.ndarray]:
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    out = {}
    for name, meta in header.items():
        if name == '__metadata__':
            continue
        start, end = meta['data_offsets']
        out[name] = np.frombuffer(body[start:end], dtype=DTYPES[meta['dtype']]).reshape(meta['shape'])
    return out


def vgg16_features() -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    channels = 3
    for v in CFG:
        if v == 'M':
            layers.append(torch.nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [torch.nn.Conv2d(channels, v, kernel_size=3, padding=1), torch.nn.ReLU(inplace=False)]
            channels = v
    return torch.nn.Sequential(*layers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--weights', required=True, help='seeded weights from scripts/pair-fixture-weights.mjs')
    args = parser.parse_args()
    weights = read_safetensors(args.weights)
    with open(args.weights, 'rb') as f:
        weights_sha = hashlib.sha256(f.read()).hexdigest()
    lin = read_safetensors(os.path.join(OUT, 'lpips-lin.safetensors'))
    features = vgg16_features()
    state = {k[len('features.') :]: torch.from_numpy(v.copy()) for k, v in weights.items() if k.startswith('features.')}
    features.load_state_dict(state)
    features = features.double().eval()

    names = ['a', 'b', 'c', 'd']
    feats: dict[str, dict[str, torch.Tensor]] = {}
    sizes = {}
    with torch.no_grad():
        for name in names:
            image = Image.open(os.path.join(OUT, f'{name}.png')).convert('RGB')
            sizes[name] = list(image.size)
            arr = np.asarray(image, dtype=np.float64) / 255.0
            x = torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0) * 2 - 1
            x = (x - SHIFT) / SCALE
            out = {}
            for i, module in enumerate(features):
                x = module(x)
                for layer, index in LAYERS.items():
                    if i == index:
                        out[layer] = x.clone()
            feats[name] = out

    def unit(f: torch.Tensor) -> torch.Tensor:
        return f / (torch.sqrt(torch.sum(f**2, dim=1, keepdim=True)) + 1e-10)

    def score(a: str, b: str, linear: bool) -> dict[str, float]:
        row = {}
        for i, layer in enumerate(LAYERS):
            diff = (unit(feats[a][layer]) - unit(feats[b][layer])) ** 2
            if linear:
                diff = diff * torch.from_numpy(lin[f'lin{i}.model.1.weight'].astype(np.float64))
            row[f'lpips_{layer}'] = float(diff.sum(dim=1, keepdim=True).mean(dim=[2, 3]).item())
        row['perceptual_distance'] = sum(row[f'lpips_{layer}'] for layer in LAYERS)
        content = (feats[a][CONTENT_LAYER] - feats[b][CONTENT_LAYER]) ** 2
        row['feature_reconstruction_loss'] = float(content.mean().item())
        return row

    pairs = [['a', 'b'], ['b', 'a'], ['a', 'c'], ['a', 'a'], ['c', 'd']]
    reference = {
        'generator': 'scripts/pair_native_reference.py',
        'torch': torch.__version__,
        'model': {'model': 'vgg16', 'classifierWidth': 16, 'inputSize': 64, 'seed': 0, 'weightsSha256': weights_sha},
        'sizes': sizes,
        'pairs': [{'a': a, 'b': b, 'plain': score(a, b, False), 'learned': score(a, b, True)} for a, b in pairs],
    }
    with open(os.path.join(OUT, 'native-reference.json'), 'w') as f:
        json.dump(reference, f, indent=1)
        f.write('\n')
    print(f'wrote {OUT}/native-reference.json')


if __name__ == '__main__':
    main()
