import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeNpy } from 'vgg-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-npy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function numpyDescribe(file: string): { dtype: string; shape: number[]; first: number[]; sum: number } {
  const script = [
    'import json, sys, numpy as np',
    'a = np.load(sys.argv[1])',
    'print(json.dumps({"dtype": str(a.dtype), "shape": list(a.shape), "first": a[0].astype("float64").tolist(),',
    '                  "sum": float(a.astype("float64").sum())}))',
  ].join('\n');
  const result = spawnSync('python3', ['-c', script, file], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout);
}

describe.skipIf(!hasNumpy)('.npy files loaded by numpy', () => {
  it('loads float32 with the right dtype, shape and values', async () => {
    const data = Float32Array.from({ length: 5 * 3 }, (_, i) => i / 4);
    const file = path.join(dir, 'f32.npy');
    await writeFile(file, encodeNpy(data, [5, 3], 'float32'));
    expect(numpyDescribe(file)).toEqual({
      dtype: 'float32',
      shape: [5, 3],
      first: [0, 0.25, 0.5],
      sum: 26.25,
    });
  });

  it('loads float16 half bits as float16', async () => {
    const bits = Uint16Array.from([0x3c00, 0x4000, 0xbc00, 0x3800]); // 1, 2, -1, 0.5
    const file = path.join(dir, 'f16.npy');
    await writeFile(file, encodeNpy(bits, [2, 2], 'float16'));
    expect(numpyDescribe(file)).toEqual({ dtype: 'float16', shape: [2, 2], first: [1, 2], sum: 2.5 });
  });
});
