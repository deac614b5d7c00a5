import { invalidOption } from './errors.js';
import type { VggConfig } from './model-config.js';
import { type SafetensorsEntry, type WriteSafetensorsResult, writeSafetensors } from './safetensors.js';
import { numel, type StateDictEntry, stateDictSpec } from './state-dict.js';

/**
 * Version of the initialisation scheme. It is part of cache keys and of the file metadata; bump it whenever the
 * generated values change, so old caches are not mistaken for new ones.
 */
export const SEEDED_INIT_VERSION = 1;

/** Elements generated per chunk when streaming a tensor to disk (4 MiB of float32). */
const CHUNK_ELEMENTS = 1 << 20;

/**
 * xoshiro128** (Blackman & Vigna). Only 32-bit integer operations (Math.imul, shifts, xor), so every JS engine on
 * every CPU produces the same sequence.
 */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** A generator for one stream of one seed; `seed` may be any non-negative safe integer. */
  constructor(seed: number, stream = 0) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 0x100000000) >>> 0;
    const key = mix32(mix32(lo) ^ mix32(hi ^ 0x5bd1e995) ^ mix32((stream ^ 0x27d4eb2f) >>> 0));
    this.s0 = mix32((key + 0x9e3779b9) | 0);
    this.s1 = mix32((key + 0x3c6ef372) | 0);
    this.s2 = mix32((key + 0xdaa66d2b) | 0);
    this.s3 = mix32((key + 0x78dde6e4) | 0);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 bits, so the value is exact in float32. */
  nextFloat(): number {
    return (this.nextUint32() >>> 8) * 2 ** -24;
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.nextFloat();
  }

  /**
   * Fills `out` with values uniform in [-bound, bound). Each value is (k / 2^23 - 1) * bound rounded to float32,
   * with k a 24-bit integer: two exactly rounded IEEE operations, so the bits are the same everywhere.
   */
  fillUniform(out: Float32Array, bound: number): void {
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    for (let i = 0; i < out.length; i++) {
      const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 8;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = (r * 2 ** -23 - 1) * bound;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }
}

/**
 * Square root by Newton's method with only + and /, which IEEE 754 rounds exactly; ECMAScript leaves Math.sqrt
 * "implementation-approximated", and the init must be bit-identical everywhere.
 */
export function deterministicSqrt(x: number): number {
  if (!(x > 0)) return 0;
  let y = Math.max(x, 1);
  for (let i = 0; i < 200; i++) {
    const next = (y + x / y) / 2;
    if (next >= y) break;
    y = next;
  }
  return y;
}

/**
 * The bound of the uniform distribution each tensor is drawn from. Conv and hidden linear weights use Kaiming
 * (He) uniform for ReLU, sqrt(6 / fanIn), which keeps activation variance steady through depth; the logits layer
 * uses sqrt(3 / fanIn) (variance 1 / fanIn) so logits come out of order 1 and softmax is neither flat nor one-hot.
 * Biases follow PyTorch's default, 1 / sqrt(fanIn).
 */
export function seededBound(entry: StateDictEntry): number {
  switch (entry.role) {
    case 'conv.weight':
    case 'linear.weight':
      return deterministicSqrt((entry.isLogits ? 3 : 6) / entry.fanIn);
    case 'conv.bias':
    case 'linear.bias':
      return 1 / deterministicSqrt(entry.fanIn);
    default:
      return 0;
  }
}

/** Generates one tensor of the seeded init in full (for tests and small models). */
export function seededTensor(entry: StateDictEntry, seed: number): Float32Array {
  const out = new Float32Array(numel(entry.shape));
  for (const chunk of seededChunks(entry, seed, out.length)) out.set(chunk, 0);
  return out;
}

/** The seeded state_dict as safetensors entries whose data are generated chunk by chunk while writing. */
export function seededStateDictEntries(config: VggConfig, seed: number): SafetensorsEntry[] {
  checkSeed(seed);
  return stateDictSpec(config).map((entry): SafetensorsEntry => {
    if (entry.role === 'bn.num_batches_tracked') {
      return { name: entry.name, dtype: 'I64', shape: entry.shape, data: new BigInt64Array(1) };
    }
    return {
      name: entry.name,
      dtype: 'F32',
      shape: entry.shape,
      data: () => seededChunks(entry, seed, CHUNK_ELEMENTS),
    };
  });
}

/** Writes the seeded weights of `config` as a torchvision-layout safetensors file. */
export function writeSeededWeights(
  path: string,
  config: VggConfig,
  seed: number,
): Promise<WriteSafetensorsResult> {
  return writeSafetensors(path, seededStateDictEntries(config, seed), {
    metadata: {
      format: 'pt',
      generator: 'vgg-core seeded-init',
      initVersion: String(SEEDED_INIT_VERSION),
      seed: String(seed),
    },
  });
}

export function checkSeed(seed: unknown): asserts seed is number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw invalidOption('seed', 'non-negative safe integer', seed);
  }
}

function* seededChunks(entry: StateDictEntry, seed: number, chunkElements: number): Generator<Float32Array> {
  const total = numel(entry.shape);
  const buffer = new Float32Array(Math.min(chunkElements, total));
  const constant = constantValue(entry);
  if (constant !== null) {
    buffer.fill(constant);
    for (let done = 0; done < total; done += buffer.length) {
      yield buffer.subarray(0, Math.min(buffer.length, total - done));
    }
    return;
  }
  // One stream per tensor name: tensors do not depend on each other or on their order in the file.
  const rng = new Xoshiro128(seed, fnv1a(entry.name));
  const bound = seededBound(entry);
  for (let done = 0; done < total; done += buffer.length) {
    const chunk = buffer.subarray(0, Math.min(buffer.length, total - done));
    rng.fillUniform(chunk, bound);
    yield chunk;
  }
}

function constantValue(entry: StateDictEntry): number | null {
  switch (entry.role) {
    case 'bn.weight':
    case 'bn.running_var':
      return 1;
    case 'bn.bias':
    case 'bn.running_mean':
      return 0;
    default:
      return null;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function mix32(value: number): number {
  let x = value >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
