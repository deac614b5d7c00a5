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

import numpy as np
import torch
from PIL import Image

from lpips_formula import pair_scores, read_safetensors, tap_features

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'packages', 'vgg-core', 'test-fixtures', 'pairs')
CFG = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M']


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
            feats[name] = tap_features(features, torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0))

    def score(a: str, b: str, linear: bool) -> dict[str, float]:
        return pair_scores(feats[a], feats[b], lin if linear else None)

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
