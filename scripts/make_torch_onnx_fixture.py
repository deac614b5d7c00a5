"""Writes packages/vgg-core/test-fixtures/onnx/: a tiny VGG exported by torch.onnx.export, and torch's logits for a
fixed input, so vgg-core's ONNX reader is tested on a real exporter's output (not only on graphs it built itself).

Needs torch, onnx and onnxscript (pip). The model mirrors torchvision's VGG module layout (features / avgpool /
classifier, Dropout at inference), with a small configuration so the file stays a few KB:

    python scripts/make_torch_onnx_fixture.py [--cfg 8,M,16,M] [--out DIR] [--dynamo | --no-dynamo]

With --cfg 64,64,M,128,128,M,256,256,256,M,512,512,512,M,512,512,512,M --width 4096 --classes 1000 --pool 7 it
writes a full VGG16 export (about 528 MB) for benchmarks instead.
"""

import argparse
import json
import os

import torch
from torch import nn


def make_vgg(cfg, width, classes, pool):
    layers, channels = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = v
    model = nn.Module()
    model.features = nn.Sequential(*layers)
    model.avgpool = nn.AdaptiveAvgPool2d((pool, pool))
    model.classifier = nn.Sequential(
        nn.Linear(channels * pool * pool, width),
        nn.ReLU(True),
        nn.Dropout(),
        nn.Linear(width, width),
        nn.ReLU(True),
        nn.Dropout(),
        nn.Linear(width, classes),
    )

    def forward(x):
        x = model.features(x)
        x = model.avgpool(x)
        x = torch.flatten(x, 1)
        return model.classifier(x)

    model.forward = forward
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg", default="8,M,16,M")
    parser.add_argument("--width", type=int, default=12)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--pool", type=int, default=2)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--name", default="tiny-vgg-torch")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "packages", "vgg-core", "test-fixtures", "onnx"))
    parser.add_argument("--dynamo", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    cfg = [v if v == "M" else int(v) for v in args.cfg.split(",")]

    torch.manual_seed(0)
    model = make_vgg(cfg, args.width, args.classes, args.pool).eval()
    x = torch.linspace(-2, 2, 2 * 3 * args.size * args.size).reshape(2, 3, args.size, args.size)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{args.name}.onnx")
    batch = torch.export.Dim("batch") if args.dynamo else None
    torch.onnx.export(
        model,
        (x,),
        path,
        input_names=["input"],
        output_names=["logits"],
        dynamo=args.dynamo,
        external_data=False,
        **(
            {"dynamic_shapes": ({0: batch},)}
            if args.dynamo
            else {"dynamic_axes": {"input": {0: "batch"}, "logits": {0: "batch"}}}
        ),
    )
    with torch.no_grad():
        logits = model(x)
    with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
        json.dump(
            {
                "torch": torch.__version__,
                "cfg": args.cfg,
                "inputSize": args.size,
                "numClasses": args.classes,
                "input": "torch.linspace(-2, 2, 2*3*S*S).reshape(2, 3, S, S)",
                "logits": [[round(float(v), 6) for v in row] for row in logits],
            },
            f,
            indent=1,
        )
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
