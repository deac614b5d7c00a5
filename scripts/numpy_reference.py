#!/usr/bin/env python3
"""Independent numpy implementation of the VGG network of vgg-core, for cross-checking `vgg-model predict`.

Reads a torchvision state_dict stored as safetensors (parsed by hand: no `safetensors` or `torch` package needed),
runs the network in float64 and prints the top classes and the requested taps as JSON.

    python3 scripts/numpy_reference.py --model vgg16 --weights w.safetensors --pixels img.rgb224 --top 5 --taps fc7

Input, one of:
  --pixels FILE  raw uint8 RGB pixels, height x width x 3 (HWC), input-size squared (e.g. 224*224*3 bytes),
                 i.e. the image already resized and cropped; normalised here with the ImageNet mean and std:
                 x = (pixel / 255 - mean) / std per channel.
  --input FILE   a .npy float32/float64 array [3, S, S] or [N, 3, S, S], already normalised.

Taps: relu{block}_{layer} (ReLU output of that conv, averaged over height and width), pool5 (the feature output,
averaged over height and width), fc6, fc7 (after ReLU), logits, probs. Same definitions as vgg-core.

Output: {"model", "input_size", "results": [{"top": [{"index", "prob", "logit"}], "taps": {name: [..]}}]}.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import struct
import sys

import numpy as np

CFGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])
BN_EPS = 1e-5

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1"}


def read_safetensors(path: str) -> dict[str, np.ndarray]:
    """Parses a safetensors file: u64 header length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = blob[base + begin : base + end]
        shape = tuple(info["shape"])
        if info["dtype"] == "BF16":
            # bfloat16 is the top half of a float32.
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view("<f4")
        elif info["dtype"] in DTYPES:
            arr = np.frombuffer(raw, dtype=DTYPES[info["dtype"]])
        else:
            raise SystemExit(f"unsupported dtype {info['dtype']} for {name}")
        tensors[name] = arr.reshape(shape)
    return tensors


def parse_model(spec: str) -> tuple[str, list, bool]:
    """Returns (name, layers, batch_norm_from_suffix) for "vgg16", "vgg16_bn" or a list like "[8,'M',16,'M']"."""
    m = re.fullmatch(r"(vgg(?:11|13|16|19))(_bn)?", spec.strip(), re.IGNORECASE)
    if m:
        return m.group(1).lower(), list(CFGS[m.group(1).lower()]), bool(m.group(2))
    body = spec.strip()
    if body.startswith("["):
        body = body[1:-1]
    layers: list = []
    for token in (t.strip().strip("'\"") for t in body.split(",")):
        if token == "":
            continue
        layers.append("M" if token.upper() == "M" else int(token))
    return "custom", layers, False


def conv3x3(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x [C, H, W], w [O, C, 3, 3], padding 1, stride 1, as an im2col matrix product."""
    c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    patches = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2))  # [C, H, W, 3, 3]
    cols = patches.transpose(1, 2, 0, 3, 4).reshape(h * wd, c * 9)
    out = cols @ w.reshape(w.shape[0], c * 9).T + b
    return out.T.reshape(w.shape[0], h, wd)


def max_pool_2x2(x: np.ndarray) -> np.ndarray:
    c, h, w = x.shape
    h2, w2 = h // 2, w // 2
    return x[:, : h2 * 2, : w2 * 2].reshape(c, h2, 2, w2, 2).max(axis=(2, 4))


def adaptive_avg_pool(x: np.ndarray, p: int) -> np.ndarray:
    """torch.nn.AdaptiveAvgPool2d: cell i spans [floor(i*H/p), ceil((i+1)*H/p))."""
    c, h, w = x.shape
    out = np.empty((c, p, p))
    for i in range(p):
        h0, h1 = (i * h) // p, -((-(i + 1) * h) // p)
        for j in range(p):
            w0, w1 = (j * w) // p, -((-(j + 1) * w) // p)
            out[:, i, j] = x[:, h0:h1, w0:w1].mean(axis=(1, 2))
    return out


def forward(image: np.ndarray, layers: list, batch_norm: bool, pool_size: int, sd: dict) -> dict[str, np.ndarray]:
    def get(name: str) -> np.ndarray:
        if name not in sd:
            raise SystemExit(f"weights lack tensor {name}")
        return sd[name].astype(np.float64)

    taps: dict[str, np.ndarray] = {}
    x = image.astype(np.float64)
    module, block, layer = 0, 1, 0
    for spec in layers:
        if spec == "M":
            x = max_pool_2x2(x)
            module += 1
            block += 1
            layer = 0
            continue
        x = conv3x3(x, get(f"features.{module}.weight"), get(f"features.{module}.bias"))
        module += 1
        if batch_norm:
            p = f"features.{module}"
            scale = get(f"{p}.weight") / np.sqrt(get(f"{p}.running_var") + BN_EPS)
            x = (x - get(f"{p}.running_mean")[:, None, None]) * scale[:, None, None] + get(f"{p}.bias")[:, None, None]
            module += 1
        x = np.maximum(x, 0)
        module += 1
        layer += 1
        taps[f"relu{block}_{layer}"] = x.mean(axis=(1, 2))
    taps["pool5"] = x.mean(axis=(1, 2))
    flat = adaptive_avg_pool(x, pool_size).reshape(-1)
    fc6 = np.maximum(get("classifier.0.weight") @ flat + get("classifier.0.bias"), 0)
    fc7 = np.maximum(get("classifier.3.weight") @ fc6 + get("classifier.3.bias"), 0)
    logits = get("classifier.6.weight") @ fc7 + get("classifier.6.bias")
    e = np.exp(logits - logits.max())
    taps.update(fc6=fc6, fc7=fc7, logits=logits, probs=e / e.sum())
    return taps


def load_npy_input(path: str, size: int) -> np.ndarray:
    arr = np.load(path)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1] != 3 or arr.shape[2] != size or arr.shape[3] != size:
        raise SystemExit(f"expected --input of shape [N, 3, {size}, {size}] but received {list(arr.shape)}")
    return arr.astype(np.float64)


def load_pixels(path: str, size: int) -> np.ndarray:
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size != size * size * 3:
        side = math.isqrt(raw.size // 3)
        raise SystemExit(f"expected {size}*{size}*3 = {size * size * 3} bytes in --pixels but received {raw.size} (about {side}x{side})")
    x = raw.reshape(size, size, 3).astype(np.float64) / 255.0
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return x.transpose(2, 0, 1)[None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--weights", required=True, help="safetensors with a torchvision state_dict (F32/F16/BF16/F64)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--pixels", help="raw uint8 HWC RGB file of input-size^2 * 3 bytes")
    src.add_argument("--input", help=".npy normalised float array [3,S,S] or [N,3,S,S]")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--taps", default="", help="comma-separated taps, e.g. fc7,pool5,relu3_3")
    ap.add_argument("--input-size", type=int, default=224)
    ap.add_argument("--classifier-width", type=int, default=4096, help="only checked against the weights")
    ap.add_argument("--num-classes", type=int, default=None, help="only checked against the weights")
    ap.add_argument("--batch-norm", action="store_true")
    ap.add_argument("--pool-size", type=int, default=7)
    args = ap.parse_args()

    name, layers, bn_suffix = parse_model(args.model)
    batch_norm = bn_suffix or args.batch_norm
    sd = read_safetensors(args.weights)
    fc6_w = sd["classifier.0.weight"]
    if fc6_w.shape[0] != args.classifier_width:
        raise SystemExit(f"weights have classifier width {fc6_w.shape[0]}, not --classifier-width {args.classifier_width}")
    classes = sd["classifier.6.weight"].shape[0]
    if args.num_classes is not None and args.num_classes != classes:
        raise SystemExit(f"weights have {classes} classes, not --num-classes {args.num_classes}")

    images = load_pixels(args.pixels, args.input_size) if args.pixels else load_npy_input(args.input, args.input_size)
    wanted = [t for t in (s.strip() for s in args.taps.split(",")) if t]
    results = []
    for image in images:
        out = forward(image, layers, batch_norm, args.pool_size, sd)
        unknown = [t for t in wanted if t not in out]
        if unknown:
            raise SystemExit(f"unknown taps {unknown}; available: {', '.join(out)}")
        probs, logits = out["probs"], out["logits"]
        order = np.argsort(-probs, kind="stable")[: args.top]
        results.append(
            {
                "top": [{"index": int(i), "prob": float(probs[i]), "logit": float(logits[i])} for i in order],
                "taps": {t: [float(v) for v in out[t]] for t in wanted},
            }
        )
    label = name if name != "custom" else f"custom{'_bn' if batch_norm else ''}[{','.join(map(str, layers))}]"
    if name != "custom" and batch_norm:
        label += "_bn"
    json.dump({"model": label, "input_size": args.input_size, "results": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
