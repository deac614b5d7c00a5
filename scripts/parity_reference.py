#!/usr/bin/env python3
"""Golden references for vgg-core's 'torchvision' preprocessing, made by real PIL and torchvision.

For every file of the parity corpus this writes the 224x224 crop that torchvision's ImageNet eval transform makes
of PIL's loader, `CenterCrop(224)(Resize(256)(Image.open(f).convert('RGB')))`, as a PNG, and a manifest that the
TypeScript golden test (packages/vgg-core/src/preprocess/torchvision-parity.test.ts) reads. The suite therefore
runs on a fresh clone with no Python at all; this script is only needed to regenerate the references.

The pipeline's two documented deviations are applied on the reference side too, so the test can demand exact
equality:
  * EXIF orientation is applied (ImageOps.exif_transpose) before the conversion. Files with an orientation also
    get a strict reference without it, for `autoOrient: false` (`--no-auto-orient`).
  * 16-bit single-channel grey is scaled to 8 bits (the high byte of the 16-bit value PIL decodes) where PIL's
    convert('RGB') clips it to white.
RLE4 BMP files are read with the absolute-run fix of Pillow 13 (python-pillow/Pillow#9710); Pillow 12.3 garbles
runs of odd length.

Corpus (see packages/vgg-core/test-fixtures/parity/README.md):
  * images/: the edge-case corpus already in the package (from sharp's test fixtures);
  * parity/files/pillow/: test images of Pillow, including the bmpsuite (copied from a Pillow checkout);
  * parity/files/generated/: files made by this script from the photos above (large, ICC, alpha, palette,
    upsampled, BMP variants, 16-bit, Netpbm, AVIF), plus the AVIF files beyond 8 bits per sample that
    scripts/avif-fixtures.mjs makes with sharp (run it first).

Usage (a CPU torch and torchvision suffice; see shared notes for installing them here):
    python scripts/parity_reference.py --pillow /path/to/Pillow            # copy + generate missing inputs, refs
    python scripts/parity_reference.py                                     # refs only, from committed inputs
    python scripts/parity_reference.py --pillow DIR --regenerate-inputs    # rewrite generated inputs too
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import torch

# torchvision's C++ ops may be built for another torch; the transforms used here are pure Python.
torch.library.register_fake = lambda *a, **k: (lambda f: f)  # noqa: E731
import torchvision  # noqa: E402
import torchvision.transforms as T  # noqa: E402
from PIL import BmpImagePlugin, Image, ImageFile, ImageOps, features  # noqa: E402
import PIL  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "packages" / "vgg-core" / "test-fixtures"
PARITY = FIXTURES / "parity"
PILLOW_DIR = PARITY / "files" / "pillow"
GENERATED_DIR = PARITY / "files" / "generated"
REFS_DIR = PARITY / "refs"

TRANSFORM = T.Compose([T.Resize(256), T.CenterCrop(224)])


# --- Pillow 13's RLE decoder (Pillow is MIT-CMU licensed; the fix is python-pillow/Pillow#9710) -----------------
def _rle_decode_pillow13(self, buffer):  # noqa: ANN001, ANN202
    rle4 = self.args[1]
    data = bytearray()
    x = 0
    dest_length = self.state.xsize * self.state.ysize
    while len(data) < dest_length:
        pixels = self.fd.read(1)
        byte = self.fd.read(1)
        if not pixels or not byte:
            break
        num_pixels = pixels[0]
        if num_pixels:
            if x + num_pixels > self.state.xsize:
                num_pixels = max(0, self.state.xsize - x)
            if rle4:
                first_pixel = bytes([byte[0] >> 4])
                second_pixel = bytes([byte[0] & 0x0F])
                for index in range(num_pixels):
                    data += first_pixel if index % 2 == 0 else second_pixel
            else:
                data += byte * num_pixels
            x += num_pixels
        elif byte[0] == 0:
            while len(data) % self.state.xsize != 0:
                data += b"\x00"
            x = 0
        elif byte[0] == 1:
            break
        elif byte[0] == 2:
            bytes_read = self.fd.read(2)
            if len(bytes_read) < 2:
                break
            right, up = bytes_read
            data += b"\x00" * (right + up * self.state.xsize)
            x = len(data) % self.state.xsize
        else:
            data_count = min(dest_length - len(data), byte[0])
            if rle4:
                byte_count = (data_count + 1) // 2
                bytes_read = self.fd.read(byte_count)
                for i, byte_read in enumerate(bytes_read):
                    data += bytes([byte_read >> 4])
                    if i * 2 + 1 < data_count:
                        data += bytes([byte_read & 0x0F])
            else:
                byte_count = data_count
                bytes_read = self.fd.read(byte_count)
                data += bytes_read
            if len(bytes_read) < byte_count or len(data) == dest_length:
                break
            x += byte[0]
            if self.fd.tell() % 2 != 0:
                self.fd.seek(1, os.SEEK_CUR)
    rawmode = "L" if self.mode == "L" else "P"
    self.set_as_raw(bytes(data), rawmode, (0, self.args[-1]))
    return -1, 0


BmpImagePlugin.BmpRleDecoder.decode = _rle_decode_pillow13


# --- the corpus -----------------------------------------------------------------------------------------------------
# Files of the package's edge-case corpus (test-fixtures/images) that PIL opens.
EDGE_CASES = [
    "16-bit-grey-alpha.png", "2569067123_aca715a2ee_o.jpg", "2x2_fdcce6.png", "320x240.jpg", "4.webp",
    "Channel_digital_image_CMYK_color.jpg", "G31D.TIF", "Landscape_1.jpg", "Landscape_3.jpg", "Landscape_5.jpg",
    "Landscape_6.jpg", "Landscape_8.jpg", "Portrait_2.jpg", "Portrait_7.jpg", "animated-loop-3.gif",
    "animated-loop-3.webp", "big-height.webp", "concert.jpg", "flowers.jpeg", "full-transparent.png",
    "gamma_dalai_lama_gray.jpg", "grey-plus-alpha.gif", "pitm.avif", "with-alpha.png",
]

# Pillow's Tests/images files: path -> what it exercises.
PILLOW_FILES = {
    "hopper.jpg": "baseline JPEG, upsampled", "hopper.png": "RGB PNG", "hopper.gif": "palette GIF",
    "hopper.webp": "lossy WebP", "hopper.ppm": "raw PPM", "hopper_8bit.pgm": "raw PGM",
    "hopper_16bit.pgm": "16-bit PGM (scaled)", "hopper_1bit.pbm": "raw PBM", "hopper_8bit_plain.pgm": "plain PGM",
    "hopper_1bit_plain.pbm": "plain PBM", "hopper_gray.jpg": "greyscale JPEG",
    "hopper_orientation_6.jpg": "EXIF orientation 6", "hopper_orientation_3.webp": "WebP with EXIF orientation 3",
    "flower.jpg": "baseline JPEG", "flower2.jpg": "JPEG with an sRGB profile and an Adobe marker",
    "flower.webp": "lossy WebP", "pil_sample_cmyk.jpg": "Adobe CMYK JPEG", "tiff_16bit_RGB.tiff": "16-bit RGB TIFF",
    "16bit.cropped.tif": "16-bit grey TIFF (scaled)", "16bit.MM.cropped.tif": "16-bit big-endian grey TIFF (scaled)",
    "tiff_strip_cmyk_jpeg.tif": "CMYK JPEG-in-TIFF", "tiff_strip_ycbcr_jpeg_2x2_sampling.tif": "YCbCr JPEG-in-TIFF",
    "tiff_tiled_planar_16bit_RGBa.tiff": "tiled planar 16-bit RGBA TIFF", "hopper_lzw.tif": "LZW TIFF",
    "tiff_gray_2_4_bpp/hopper4.tif": "4-bit grey TIFF", "p_trns_single.png": "palette PNG with one transparent entry",
    "l_trns.png": "grey PNG with tRNS", "rgb_trns.png": "RGB PNG with tRNS", "i_trns.png": "16-bit grey PNG with tRNS",
    "pil123p.png": "palette PNG with tRNS alpha", "pil123rgba.png": "RGBA PNG", "transparent.png": "RGBA PNG",
    "transparent.gif": "GIF with a transparent index", "transparent.webp": "lossless WebP with alpha",
    "first_frame_transparency.gif": "GIF whose first frame is transparent", "chi.gif": "animated GIF, frame 0",
    "dispose_bgnd.gif": "animated GIF with background disposal", "different_transparency.gif": "GIF, per-frame transparency",
    "uncompressed_la.png": "grey + alpha PNG", "hopper_bw_500.png": "1-bit PNG", "radial_gradient.png": "grey PNG",
    "test-card.png": "RGB PNG 640x480", "palette_sepia.png": "palette PNG", "icc_profile.png": "RGBA PNG with an ICC profile",
    "hopper.bmp": "24-bit BMP", "hopper_rle8.bmp": "RLE8 BMP", "hopper_rle8_grayscale.bmp": "RLE8 BMP, grey palette",
    "hopper_rle8_row_overflow.bmp": "RLE8 BMP whose runs overflow rows", "rgb32bf-abgr.bmp": "32-bit ABGR bitfields BMP",
}

# Expected reasons for files PIL refuses (or that are broken), and bmpsuite files PIL refuses although they are
# valid: decoded here, and checked against the bmpsuite picture they draw.
BMPSUITE_EXPECT = {
    "bmp/b/badbitcount.bmp": {"error": ["corrupt"]},
    "bmp/b/badheadersize.bmp": {"error": ["corrupt"]},
    "bmp/b/badpalettesize.bmp": {"error": ["corrupt"]},
    "bmp/b/badwidth.bmp": {"error": ["too_many_pixels"]},
    "bmp/b/reallybig.bmp": {"error": ["too_many_pixels"]},
    "bmp/b/shortfile.bmp": {"error": ["truncated"]},
    "bmp/q/rgb24jpeg.bmp": {"error": ["unsupported_format"]},
    "bmp/q/rgb24png.bmp": {"error": ["unsupported_format"]},
    "bmp/g/rgb32bf.bmp": {"sameAs": "bmp/g/rgb24.bmp", "maxDiff": 0},
    "bmp/q/rgb32-111110.bmp": {"sameAs": "bmp/g/rgb24.bmp", "maxDiff": 1},
    "bmp/q/rgb16-231.bmp": {"sameAs": "bmp/g/rgb24.bmp", "maxDiff": 255, "why": "2-3-1 bits per channel"},
    "bmp/q/rgba16-4444.bmp": {"sameAs": "bmp/q/rgba32.bmp", "maxDiff": 17, "why": "4 bits per channel"},
    "bmp/q/rgba32abf.bmp": {"sameAs": "bmp/q/rgba32.bmp", "maxDiff": 0},
    "bmp/q/pal8os2v2-16.bmp": {"sameAs": "bmp/g/pal8.bmp", "maxDiff": 0},
    "bmp/q/pal8oversizepal.bmp": {"sameAs": "bmp/g/pal8.bmp", "maxDiff": 0},
    "bmp/q/pal2.bmp": {"ok": True, "why": "2-bit palette (Windows CE); PIL refuses the depth"},
}

GENERATED_KINDS = {
    "flowers-10bit.pgm": "PGM, maxval 1023 (scaled)", "flowers-13x13.png": "tiny PNG, upsampled 20x",
    "flowers-16bit.ppm": "PPM, maxval 65535", "flowers-255x143.png": "PNG, upsampled",
    "flowers-256x256.png": "PNG at 256x256: no resample, crop only", "flowers-adobergb-16bit.png":
    "16-bit RGB PNG with an Adobe RGB profile", "flowers-cmyk.jpg": "CMYK JPEG 1200x675",
    "flowers-grey-alpha.png": "grey + alpha PNG", "flowers-palette-4bit.png": "4-bit palette PNG",
    "photo-100x300.jpg": "JPEG, upsampled, portrait", "photo-16bit.pgm": "PGM, maxval 65535 (scaled)",
    "photo-200x163.jpg": "JPEG, upsampled", "photo-24bit.bmp": "24-bit BMP, upsampled",
    "photo-2mp-444-progressive.jpg": "progressive 4:4:4 JPEG, 2.1 MP", "photo-314x256.jpg":
    "JPEG with shorter side 256: horizontal pass only", "photo-3mp-q85.jpg": "baseline JPEG, 3.4 MP",
    "photo-3mp.webp": "lossy WebP, 3.4 MP", "photo-565.bmp": "16-bit 5-6-5 bitfields BMP",
    "photo-adobergb.jpg": "JPEG with an Adobe RGB profile, 2.1 MP", "photo-alpha-gradient.png":
    "RGBA PNG, alpha ramp and a fully transparent band, Adobe RGB profile", "photo-bgra-v4.bmp":
    "32-bit BGRA bitfields BMP, v4 header", "photo-exif8.png": "PNG with eXIf orientation 8",
    "photo-grey-1600.jpg": "greyscale JPEG, 2.1 MP", "photo-palette-transparent.gif": "GIF with a transparent index",
    "photo-palette-trns.png": "palette PNG with tRNS", "photo-rle8.bmp": "RLE8 BMP with absolute runs",
    "photo-topdown-v5.bmp": "top-down 24-bit BMP, v5 header",
    "photo-420.avif": "AVIF 4:2:0, 8-bit, full range", "photo-422.avif": "AVIF 4:2:2, 8-bit",
    "photo-444.avif": "AVIF 4:4:4, 8-bit", "photo-201x143-420.avif": "AVIF 4:2:0, odd size, upsampled",
    "flowers-257x331-422.avif": "AVIF 4:2:2, odd width", "flowers-limited-420.avif": "AVIF 4:2:0, limited range",
    "flowers-grey.avif": "AVIF 4:0:0 (grey)", "flowers-alpha-420.avif": "AVIF 4:2:0 with an alpha ramp",
    "photo-10bit-420.avif": "AVIF 4:2:0, 10-bit (libheif encoder)",
    "photo-12bit-420.avif": "AVIF 4:2:0, 12-bit (libheif encoder)",
    "flowers-10bit-444.avif": "AVIF 4:4:4, 10-bit (libheif encoder)",
    "flowers-libheif-420.avif": "AVIF 4:2:0, 8-bit (libheif encoder)",
}

# Files PIL reads that vgg-core refuses, with the reasons it may give.
REFUSED = {
    "parity/files/pillow/tiff_tiled_planar_16bit_RGBa.tiff": {
        "error": ["corrupt", "unsupported_format"],
        "why": "libvips cannot read tiled TIFF with separate planes",
    },
}

# AVIF: sharp decodes with libheif; Pillow with libavif, whose YUV->RGB is libyuv's (6-bit fixed-point matrix,
# bilinear 9-3-3-1 chroma upsampling; 10/12-bit samples truncated to 8 bits first). No decoder on npm gives the YUV
# planes to redo that exactly, so these are the measured maxima (see README, "Parity with PyTorch").
_AVIF_WHY = "AVIF: sharp decodes with libheif, Pillow with libavif + libyuv; YUV->RGB and chroma upsampling differ"
TOLERANCES = {
    f"{folder}{name}": {"maxDiff": max_diff, "why": _AVIF_WHY}
    for folder, name, max_diff in [
        ("images/", "pitm.avif", 6),
        ("parity/files/generated/", "photo-420.avif", 12),
        ("parity/files/generated/", "photo-422.avif", 6),
        ("parity/files/generated/", "photo-444.avif", 1),
        ("parity/files/generated/", "photo-201x143-420.avif", 22),
        ("parity/files/generated/", "flowers-257x331-422.avif", 2),
        ("parity/files/generated/", "flowers-limited-420.avif", 3),
        ("parity/files/generated/", "flowers-alpha-420.avif", 2),
        ("parity/files/generated/", "photo-10bit-420.avif", 9),
        ("parity/files/generated/", "photo-12bit-420.avif", 9),
        ("parity/files/generated/", "flowers-10bit-444.avif", 2),
        ("parity/files/generated/", "flowers-libheif-420.avif", 1),
    ]
}
# Inputs made by scripts/avif-fixtures.mjs (sharp) rather than by this script.
MADE_BY_SHARP = {"photo-10bit-420.avif", "photo-12bit-420.avif", "flowers-10bit-444.avif", "flowers-libheif-420.avif"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def copy_pillow(pillow: Path) -> None:
    src = pillow / "Tests" / "images"
    names = list(PILLOW_FILES) + [
        str(p.relative_to(src)) for p in sorted((src / "bmp").glob("[bgq]/*.bmp"))
    ]
    for name in names:
        target = PILLOW_DIR / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / name, target)
    shutil.copyfile(pillow / "LICENSE", PILLOW_DIR / "LICENSE")
    shutil.copyfile(src / "bmp" / "README.txt", PILLOW_DIR / "bmp" / "README.txt")
    # The Adobe RGB (1998) profile embedded in Pillow's xmp_test.jpg, for the ICC files below.
    profile = Image.open(src / "xmp_test.jpg").info["icc_profile"]
    (GENERATED_DIR / "adobe-rgb-1998.icc").parent.mkdir(parents=True, exist_ok=True)
    (GENERATED_DIR / "adobe-rgb-1998.icc").write_bytes(profile)


# --- generated inputs -----------------------------------------------------------------------------------------------
def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16(path: Path, rgb16: np.ndarray, icc: bytes | None) -> None:
    """16-bit RGB PNG (PIL cannot write one)."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(h))
    chunks = png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    if icc is not None:
        chunks += png_chunk(b"iCCP", b"Adobe RGB (1998)\x00\x00" + zlib.compress(icc))
    chunks += png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)


def bmp_file(width: int, height: int, bits: int, pixel_rows: list[bytes], *, header: int = 40,
             compression: int = 0, palette: bytes = b"", masks: tuple[int, ...] = (), top_down: bool = False) -> bytes:
    """A BMP with the given info header size (40, 108 or 124), rows already encoded in file order."""
    data = b"".join(pixel_rows)
    info = struct.pack("<IiiHHIIiiII", header, width, -height if top_down else height, 1, bits, compression,
                       len(data), 2835, 2835, len(palette) // 4, 0)
    if header >= 108:
        masks_4 = (tuple(masks) + (0, 0, 0, 0))[:4]
        info += struct.pack("<IIII", *masks_4) + b"BGRs" + b"\x00" * 36 + b"\x00" * 12
        if header == 124:
            info += b"\x00" * 16
    elif masks:
        info += struct.pack("<III", *masks[:3])
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + palette + data


def rle8_encode(indices: np.ndarray) -> list[bytes]:
    """RLE8 rows (bottom-up), encoded runs plus absolute runs, each row ending with an end-of-line marker."""
    rows = []
    for row in indices[::-1]:
        out = bytearray()
        i, n = 0, len(row)
        while i < n:
            run = 1
            while i + run < n and run < 255 and row[i + run] == row[i]:
                run += 1
            if run >= 3 or n - i < 3:
                out += bytes([run, row[i]])
                i += run
            else:
                j = i
                while j < n and j - i < 255 and not (j + 2 < n and row[j] == row[j + 1] == row[j + 2]):
                    j += 1
                count = j - i
                if count < 3:
                    out += bytes([1, row[i]])
                    i += 1
                    continue
                out += bytes([0, count]) + bytes(row[i:j].tolist()) + (b"\x00" if count % 2 else b"")
                i = j
        out += b"\x00\x00"
        rows.append(bytes(out))
    rows[-1] = rows[-1][:-2] + b"\x00\x01"
    return rows


def generate(regenerate: bool) -> None:
    GENERATED_DIR.mkdir(parents=True, exist_ok=True)
    photo = Image.open(FIXTURES / "images" / "2569067123_aca715a2ee_o.jpg").convert("RGB")
    flowers = Image.open(FIXTURES / "images" / "flowers.jpeg").convert("RGB")
    icc = (GENERATED_DIR / "adobe-rgb-1998.icc").read_bytes()

    def sized(img: Image.Image, width: int) -> Image.Image:
        return img.resize((width, round(width * img.height / img.width)), Image.Resampling.LANCZOS)

    def out(name: str):  # noqa: ANN202
        path = GENERATED_DIR / name
        return None if path.exists() and not regenerate else path

    if p := out("photo-3mp-q85.jpg"):
        sized(photo, 2048).save(p, quality=85)
    if p := out("photo-2mp-444-progressive.jpg"):
        sized(photo, 1600).save(p, quality=85, subsampling=0, progressive=True)
    if p := out("photo-3mp.webp"):
        sized(photo, 2048).save(p, quality=80)
    if p := out("flowers-cmyk.jpg"):
        sized(flowers, 1200).convert("CMYK").save(p, quality=85)
    if p := out("photo-adobergb.jpg"):
        sized(photo, 1600).save(p, quality=85, icc_profile=icc)
    if p := out("flowers-adobergb-16bit.png"):
        small = np.asarray(sized(flowers, 320)).astype(np.uint16)
        rng = np.random.default_rng(8)
        write_png16(p, small * 257 + rng.integers(0, 257, small.shape, dtype=np.uint16), icc)
    if p := out("photo-alpha-gradient.png"):
        rgba = np.asarray(sized(photo, 480).convert("RGBA")).copy()
        h, w = rgba.shape[:2]
        alpha = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
        alpha[: h // 4] = 0  # fully transparent band whose hidden colours PIL keeps
        rgba[..., 3] = alpha
        Image.fromarray(rgba, "RGBA").save(p, icc_profile=icc)
    if p := out("flowers-grey-alpha.png"):
        la = sized(flowers, 640).convert("LA")
        a = np.asarray(la).copy()
        a[..., 1] = (np.arange(a.shape[0])[:, None] * 3 % 256).astype(np.uint8)
        Image.fromarray(a, "LA").save(p)
    if p := out("photo-palette-trns.png"):
        pal = sized(photo, 800).quantize(256)
        pal.save(p, transparency=bytes([255 if i % 7 else 0 for i in range(256)]))
    if p := out("flowers-palette-4bit.png"):
        sized(flowers, 640).quantize(16).save(p, bits=4)
    if p := out("photo-palette-transparent.gif"):
        sized(photo, 640).quantize(200).save(p, transparency=3)
    if p := out("photo-grey-1600.jpg"):
        sized(photo, 1600).convert("L").save(p, quality=85)
    if p := out("photo-exif8.png"):
        exif = Image.Exif()
        exif[0x0112] = 8
        sized(flowers, 200).save(p, exif=exif)
    # Upsampled: shorter side under 256, or exactly 256 (one pass only).
    for name, img in [
        ("photo-200x163.jpg", sized(photo, 200)), ("flowers-255x143.png", flowers.resize((255, 143))),
        ("photo-100x300.jpg", photo.resize((100, 300))), ("flowers-13x13.png", flowers.resize((13, 13))),
        ("photo-314x256.jpg", photo.resize((314, 256))), ("flowers-256x256.png", flowers.resize((256, 256))),
    ]:
        if p := out(name):
            img.save(p, quality=90) if name.endswith(".jpg") else img.save(p)
    # BMP variants PIL cannot write itself.
    base = np.asarray(sized(photo, 256))
    h, w = base.shape[:2]
    if p := out("photo-24bit.bmp"):
        sized(photo, 256).save(p)
    if p := out("photo-topdown-v5.bmp"):
        stride = (w * 3 + 3) & ~3
        rows = [base[y, :, ::-1].tobytes().ljust(stride, b"\x00") for y in range(h)]
        p.write_bytes(bmp_file(w, h, 24, rows, header=124, top_down=True))
    if p := out("photo-565.bmp"):
        v = base.astype(np.uint16)
        px = ((v[..., 0] >> 3) << 11) | ((v[..., 1] >> 2) << 5) | (v[..., 2] >> 3)
        stride = (w * 2 + 3) & ~3
        rows = [px[y].astype("<u2").tobytes().ljust(stride, b"\x00") for y in reversed(range(h))]
        p.write_bytes(bmp_file(w, h, 16, rows, compression=3, masks=(0xF800, 0x7E0, 0x1F)))
    if p := out("photo-bgra-v4.bmp"):
        bgra = np.dstack([base[..., ::-1], np.full((h, w), 200, np.uint8)])
        rows = [bgra[y].tobytes() for y in reversed(range(h))]
        p.write_bytes(bmp_file(w, h, 32, rows, header=108, compression=3,
                               masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)))
    if p := out("photo-rle8.bmp"):
        pal_img = sized(photo, 256).quantize(64)
        idx = np.asarray(pal_img)
        pal = pal_img.getpalette()[: 64 * 3]
        palette = b"".join(bytes([pal[i * 3 + 2], pal[i * 3 + 1], pal[i * 3], 0]) for i in range(64))
        p.write_bytes(bmp_file(w, h, 8, rle8_encode(idx), compression=1, palette=palette))
    # AVIF through Pillow's own encoder (libavif): subsamplings, ranges, odd sizes, grey, alpha. Files beyond 8 bits
    # per sample, which Pillow cannot write, are made by scripts/avif-fixtures.mjs (sharp's libheif encoder).
    avif_photo = sized(photo, 480)
    for name, img, kwargs in [
        ("photo-420.avif", avif_photo, {}), ("photo-422.avif", avif_photo, {"subsampling": "4:2:2"}),
        ("photo-444.avif", avif_photo, {"subsampling": "4:4:4"}),
        ("photo-201x143-420.avif", photo.resize((201, 143), Image.Resampling.LANCZOS), {"quality": 85}),
        ("flowers-257x331-422.avif", flowers.resize((257, 331), Image.Resampling.LANCZOS),
         {"quality": 85, "subsampling": "4:2:2"}),
        ("flowers-limited-420.avif", sized(flowers, 480), {"quality": 70, "range": "limited"}),
        ("flowers-grey.avif", sized(flowers, 480).convert("L"), {"quality": 70}),
    ]:
        if p := out(name):
            img.save(p, **{"quality": 60, **kwargs})
    if p := out("flowers-alpha-420.avif"):
        rgba = np.asarray(sized(flowers, 500).convert("RGBA")).copy()
        rgba[..., 3] = (np.arange(rgba.shape[1])[None, :] % 256).astype(np.uint8)
        Image.fromarray(rgba, "RGBA").save(p, quality=80)
    # Netpbm beyond 8 bits.
    if p := out("flowers-16bit.ppm"):
        v = np.asarray(sized(flowers, 256)).astype(np.uint16) * 257
        p.write_bytes(b"P6\n%d %d\n65535\n" % (v.shape[1], v.shape[0]) + v.astype(">u2").tobytes())
    if p := out("flowers-10bit.pgm"):
        g = (np.asarray(sized(flowers, 256).convert("L")).astype(np.uint16) * 4)
        p.write_bytes(b"P5\n# 10-bit grey\n%d %d\n1023\n" % (g.shape[1], g.shape[0]) + g.astype(">u2").tobytes())
    if p := out("photo-16bit.pgm"):
        g = np.asarray(sized(photo, 300).convert("L")).astype(np.uint16) * 257
        p.write_bytes(b"P5\n%d %d\n65535\n" % (g.shape[1], g.shape[0]) + g.astype(">u2").tobytes())


# --- references -----------------------------------------------------------------------------------------------------
def pil_rgb(path: Path, orient: bool) -> tuple[Image.Image, dict]:
    img = Image.open(path)
    info = {"format": img.format, "mode": img.mode, "size": list(img.size)}
    orientation = img.getexif().get(0x0112)
    if orientation and orientation != 1:
        info["orientation"] = orientation
    if orient:
        img = ImageOps.exif_transpose(img)
    deviation = None
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grey (PNG, TIFF; Netpbm grey above maxval 255 opens as 'I' holding v / maxval * 65535)
        img = Image.fromarray((np.asarray(img).astype(np.uint32) >> 8).astype(np.uint8), "L")
        deviation = "16-bit grey scaled to 8 bits (high byte) where PIL clips to 255"
    if deviation:
        info["deviation"] = deviation
    return img.convert("RGB"), info


def crop_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    # A new image, so no ICC profile or transparency of the source rides along into the PNG.
    Image.fromarray(np.asarray(TRANSFORM(img)), "RGB").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def reference(rel: str, source: str, kind: str) -> dict:
    path = FIXTURES / rel
    entry: dict = {"file": rel, "source": source, "kind": kind}
    key = rel.removeprefix("parity/files/").removeprefix("images/")
    expect = BMPSUITE_EXPECT.get(key.removeprefix("pillow/"), {})
    try:
        rgb, info = pil_rgb(path, orient=True)
        entry["pil"] = info
        data = crop_png(rgb)
        name = f"{sha(key.encode())}.png"
        (REFS_DIR / name).write_bytes(data)
        entry["ref"] = f"parity/refs/{name}"
        if "orientation" in info:
            strict, _ = pil_rgb(path, orient=False)
            strict_name = f"{sha(key.encode())}.strict.png"
            (REFS_DIR / strict_name).write_bytes(crop_png(strict))
            entry["refStrict"] = f"parity/refs/{strict_name}"
    except Exception as error:  # noqa: BLE001 - any refusal by PIL is recorded
        entry["pil"] = {"error": f"{type(error).__name__}: {error}"}
    if rel in REFUSED:
        entry["expectError"] = REFUSED[rel]["error"]
        entry["why"] = REFUSED[rel]["why"]
    if rel in TOLERANCES:
        entry["tolerance"] = TOLERANCES[rel]
    if "error" in expect:
        entry["expectError"] = expect["error"]
    elif "sameAs" in expect:
        entry["sameAs"] = {"file": f"parity/files/pillow/{expect['sameAs']}", "maxDiff": expect["maxDiff"]}
        if "why" in expect:
            entry["sameAs"]["why"] = expect["why"]
    elif expect.get("ok"):
        entry["expectOk"] = expect["why"]
    if "error" in entry["pil"] and not ({"expectError", "sameAs", "expectOk"} & entry.keys()):
        sys.exit(f"{rel}: PIL refuses it ({entry['pil']['error']}); say what vgg-core should do in BMPSUITE_EXPECT")
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pillow", type=Path, help="a Pillow source checkout to copy test images from")
    parser.add_argument("--regenerate-inputs", action="store_true", help="rewrite generated input files")
    args = parser.parse_args()
    Image.MAX_IMAGE_PIXELS = 100_000_000  # vgg-core's default maxPixels
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    if args.pillow:
        copy_pillow(args.pillow)
    if not PILLOW_DIR.exists():
        sys.exit("No Pillow test images in the fixtures yet: pass --pillow /path/to/Pillow")
    generate(args.regenerate_inputs)

    if REFS_DIR.exists():
        shutil.rmtree(REFS_DIR)
    REFS_DIR.mkdir(parents=True)
    edge = json.loads((FIXTURES / "images" / "expect.json").read_text())
    entries = [reference(f"images/{n}", "sharp test fixtures (edge-case corpus)", edge[n]["note"]) for n in EDGE_CASES]
    entries += [reference(f"parity/files/pillow/{n}", "Pillow Tests/images", k) for n, k in PILLOW_FILES.items()]
    for path in sorted((PILLOW_DIR / "bmp").glob("[bgq]/*.bmp")):
        rel = path.relative_to(PILLOW_DIR)
        folder = {"b": "bad", "g": "good", "q": "questionable"}[rel.parts[1]]
        entries.append(reference(f"parity/files/pillow/{rel}", "bmpsuite via Pillow (public domain)", f"bmpsuite {folder}"))
    for path in sorted(GENERATED_DIR.iterdir()):
        if path.suffix != ".icc":
            kind = GENERATED_KINDS[path.name]
            source = "made by scripts/avif-fixtures.mjs (sharp)" if path.name in MADE_BY_SHARP else "generated by this script"
            entries.append(reference(f"parity/files/generated/{path.name}", source, kind))
    manifest = {
        "generator": "scripts/parity_reference.py",
        "versions": {"pillow": PIL.__version__, "torchvision": torchvision.__version__, "torch": torch.__version__,
                     "libjpeg_turbo": features.version("libjpeg_turbo"), "webp": features.version("webp"),
                     "libtiff": features.version("libtiff"), "zlib": features.version("zlib"),
                     "libavif": features.version("avif")},
        "transform": "CenterCrop(224)(Resize(256)(ImageOps.exif_transpose(Image.open(f)).convert('RGB')))",
        "entries": entries,
    }
    (PARITY / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    ok = sum(1 for e in entries if "ref" in e)
    print(f"{len(entries)} files, {ok} references, {len(entries) - ok} refused by PIL")


if __name__ == "__main__":
    main()
