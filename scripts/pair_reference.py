#!/usr/bin/env python3
"""Reference values for vgg-core's pair head and Gram taps, computed independently with PIL, torchvision and torch.

Writes packages/vgg-core/test-fixtures/pairs/: a few small images (made here, deterministically), LPIPS-style
learned linear weights (random, non-negative, LPIPS's tensor names), and reference.json + gram-reference.f32 with,
for each pair, the LPIPS-formula distance and its per-layer terms (with and without the linear weights) and the
feature reconstruction loss at relu2_2, and for each image the normalised Gram matrices at relu1_2 and relu2_2.
The TypeScript test (packages/vgg-core/src/features/pair-reference.test.ts) compares vgg-core's ONNX graphs
against them, so CI needs no Python.

The reference follows the formulas as LPIPS (github.com/richzhang/PerceptualSimilarity, lpips/pretrained_networks.py
and lpips/lpips.py) and Gatys et al. write them, in float64:
  * preprocessing: torchvision's Resize(73) + CenterCrop(64) of PIL's RGB image, ToTensor, then LPIPS's input
    scaling: x * 2 - 1, then (x - shift) / scale with shift [-.030, -.088, -.188], scale [.458, .448, .450];
  * features: torchvision's vgg16().features with the seeded weights, ReLU outputs at indices 3, 8, 15, 22, 29;
  * per layer: f / (sqrt(sum_c f^2) + 1e-10), (a - b)^2, summed over channels (or weighted by lin), mean over space;
  * feature reconstruction loss: mean over C, H, W of (phi(a) - phi(b))^2 at relu2_2;
  * Gram: F F^T / (H W) with F the C x HW map.

Usage (CPU torch + torchvision, see /work/shared/NOTES.md for installing them):
    node scripts/pair-fixture-weights.mjs /tmp/pair-weights.safetensors
    python scripts/pair_reference.py --weights /tmp/pair-weights.safetensors
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import struct

import numpy as np
import torch

# torchvision's C++ ops are built for another torch here; its models and transforms are pure Python.
torch.library.register_fake = lambda *a, **k: (lambda f: f)  # noqa: E731
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms  # noqa: E402

from lpips_formula import LAYERS, pair_scores, read_safetensors, tap_features  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'packages', 'vgg-core', 'test-fixtures', 'pairs')
CHANNELS = {'relu1_2': 64, 'relu2_2': 128, 'relu3_3': 256, 'relu4_3': 512, 'relu5_3': 512}
GRAM_LAYERS = ['relu1_2', 'relu2_2']


def write_safetensors(path: str, tensors: dict[str, np.ndarray]) -> None:
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array, dtype='<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(array.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))


def make_images() -> dict[str, Image.Image]:
    rng = np.random.default_rng(15)
    h, w = 80, 96
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 255 / (w + h)], axis=-1)
    base[20:50, 30:70] = [220, 40, 60]
    a = np.clip(base, 0, 255).astype(np.uint8)
    b = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format='JPEG', quality=8)
    c = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert('RGB'))
    d = rng.integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
    d = np.asarray(Image.fromarray(d).resize((w, h), Image.NEAREST))
    return {name: Image.fromarray(arr) for name, arr in {'a': a, 'b': b, 'c': c, 'd': d}.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--weights', required=True, help='seeded weights from scripts/pair-fixture-weights.mjs')
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)

    images = make_images()
    for name, image in images.items():
        image.save(os.path.join(OUT, f'{name}.png'))
    pairs = [['a', 'b'], ['b', 'a'], ['a', 'c'], ['a', 'a'], ['c', 'd'], ['b', 'd']]

    rng = np.random.default_rng(1515)
    lin = {f'lin{i}.model.1.weight': rng.uniform(0, 1, size=(1, CHANNELS[layer], 1, 1)).astype(np.float32)
           for i, layer in enumerate(LAYERS)}
    write_safetensors(os.path.join(OUT, 'lpips-lin.safetensors'), lin)

    weights = read_safetensors(args.weights)
    with open(args.weights, 'rb') as f:
        weights_sha = hashlib.sha256(f.read()).hexdigest()
    net = torchvision.models.vgg16(weights=None)
    state = {k[len('features.'):]: torch.from_numpy(v.copy()) for k, v in weights.items() if k.startswith('features.')}
    net.features.load_state_dict(state)
    features = net.features.double().eval()

    transform = transforms.Compose([transforms.Resize(73), transforms.CenterCrop(64), transforms.ToTensor()])
    feats: dict[str, dict[str, torch.Tensor]] = {}
    with torch.no_grad():
        for name in images:
            # Reloaded from the PNG as a user's file would be.
            image = Image.open(os.path.join(OUT, f'{name}.png')).convert('RGB')
            feats[name] = tap_features(features, transform(image).unsqueeze(0).double())

    def score(a: str, b: str, linear: bool) -> dict[str, float]:
        return pair_scores(feats[a], feats[b], lin if linear else None)

    grams = []
    offset = 0
    blob = bytearray()
    for name in images:
        for layer in GRAM_LAYERS:
            f = feats[name][layer][0]
            c, h, w = f.shape
            flat = f.reshape(c, h * w)
            gram = (flat @ flat.T) / (h * w)
            upper = gram[np.triu_indices(c)].numpy()
            blob += upper.astype('<f4').tobytes()
            grams.append({'image': name, 'tap': f'gram:{layer}', 'channels': c, 'offset': offset, 'length': len(upper)})
            offset += len(upper)
    with open(os.path.join(OUT, 'gram-reference.f32'), 'wb') as f:
        f.write(bytes(blob))

    reference = {
        'generator': 'scripts/pair_reference.py',
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'model': {'model': 'vgg16', 'classifierWidth': 16, 'inputSize': 64, 'seed': 0, 'weightsSha256': weights_sha},
        'preprocess': {'resizeSize': 73, 'cropSize': 64},
        'images': {name: f'{name}.png' for name in images},
        'pairs': [{'a': a, 'b': b, 'plain': score(a, b, False), 'learned': score(a, b, True)} for a, b in pairs],
        'grams': grams,
    }
    with open(os.path.join(OUT, 'reference.json'), 'w') as f:
        json.dump(reference, f, indent=1)
        f.write('\n')
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
