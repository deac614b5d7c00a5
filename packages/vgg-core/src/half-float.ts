// Conversions between float32 and the 16-bit float formats found in safetensors files (IEEE binary16 "F16" and
// bfloat16 "BF16"). Pure integer bit manipulation, so results are identical on every platform.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Decodes IEEE binary16 values into float32 (exact: every half is representable). */
export function float16ToFloat32(
  src: Uint16Array,
  dst: Float32Array = new Float32Array(src.length),
): Float32Array {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = halfBitsToFloatBits(src[i]!);
  return dst;
}

/** Decodes bfloat16 values into float32 (exact: bfloat16 is the top half of a float32). */
export function bfloat16ToFloat32(
  src: Uint16Array,
  dst: Float32Array = new Float32Array(src.length),
): Float32Array {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = (src[i]! << 16) >>> 0;
  return dst;
}

/** Encodes float32 values as IEEE binary16, rounding to nearest even; overflow gives infinity. */
export function float32ToFloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    f32[0] = src[i]!;
    out[i] = floatBitsToHalfBits(u32[0]!);
  }
  return out;
}

/** Encodes float32 values as bfloat16, rounding to nearest even; NaN stays NaN. */
export function float32ToBfloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    f32[0] = src[i]!;
    const bits = u32[0]!;
    if ((bits & 0x7fffffff) > 0x7f800000) {
      out[i] = (bits >>> 16) | 0x0040;
    } else {
      out[i] = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
    }
  }
  return out;
}

function halfBitsToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f;
  let mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  // Subnormal half: normalise it, since every half subnormal is a normal float32.
  let e = 113;
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    e -= 1;
  }
  return (sign | (e << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}

function floatBitsToHalfBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let value = m >>> shift;
    if (rest > half || (rest === half && (value & 1) === 1)) value += 1;
    return sign | value;
  }
  let value = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (value & 1) === 1)) value += 1;
  return sign | value;
}
