import * as ort from 'onnxruntime-node';
import type { PreparedModel } from '../prepare-model.js';
import { Xoshiro128 } from '../seeded-init.js';

/** Shared by the prepareModel tests: a batch of random inputs, a plain onnxruntime run, and a diff. */
export const BATCH = 2;

export function randomInput(size: number, seed: number): Float32Array {
  const rng = new Xoshiro128(seed, 99);
  return Float32Array.from({ length: BATCH * 3 * size * size }, () => rng.uniform(-2, 2));
}

export async function runOrt(model: PreparedModel, input: Float32Array, fetches?: string[]) {
  const session = await ort.InferenceSession.create(model.onnxPath, { intraOpNumThreads: 1 });
  try {
    const size = model.identity.inputSize;
    const feeds = { [model.inputName]: new ort.Tensor('float32', input, [BATCH, 3, size, size]) };
    const out = fetches ? await session.run(feeds, fetches) : await session.run(feeds);
    return Object.fromEntries(
      Object.entries(out).map(([k, v]) => [k, { data: v.data as Float32Array, dims: v.dims }]),
    );
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`Lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
