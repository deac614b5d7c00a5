import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type VggError, VggWeightsError } from './errors.js';
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from './half-float.js';
import { resolveVggConfig } from './model-config.js';
import {
  readSafetensors,
  readSafetensorsHeader,
  type SafetensorsEntry,
  tensorToFloat32,
  writeSafetensors,
} from './safetensors.js';
import { stateDictSpec } from './state-dict.js';
import { checkStateDict } from './weights-check.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vgg-safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Builds a file by hand: header JSON (unpadded) and data bytes. */
async function handMade(name: string, header: unknown, data: Uint8Array): Promise<string> {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  await writeFile(path, Buffer.concat([prefix, json, data]));
  return path;
}

describe('writeSafetensors / readSafetensors', () => {
  it('round-trips F32, F16, BF16 and I64 tensors, converting floats to float32', async () => {
    const values = Float32Array.from([0, 1, -2.5, 0.1, 65504, 1e-7, -3.140625, 1234.5]);
    const path = join(dir, 'mixed.safetensors');
    const entries: SafetensorsEntry[] = [
      { name: 'a.f32', dtype: 'F32', shape: [2, 4], data: values },
      { name: 'b.f16', dtype: 'F16', shape: [8], data: float32ToFloat16(values) },
      { name: 'c.bf16', dtype: 'BF16', shape: [8], data: float32ToBfloat16(values) },
      { name: 'd.i64', dtype: 'I64', shape: [], data: BigInt64Array.from([42n]) },
      // Chunked data, as the seeded init writes it.
      {
        name: 'e.chunks',
        dtype: 'F32',
        shape: [4],
        data: () => [values.subarray(0, 1), values.subarray(1, 4)],
      },
    ];
    const { sha256, byteLength } = await writeSafetensors(path, entries, { metadata: { format: 'pt' } });
    const bytes = await readFile(path);
    expect(byteLength).toBe(bytes.length);
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    // The header is padded so the data area starts 8-byte aligned.
    expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);

    const header = await readSafetensorsHeader(path);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.tensors.get('b.f16')).toMatchObject({ dtype: 'F16', shape: [8], byteLength: 16 });
    const a = header.tensors.get('a.f32')!;
    expect(a.byteOffset).toBe(8 + header.headerLength);

    const tensors = await readSafetensors(path);
    expect(tensorToFloat32(tensors.get('a.f32')!)).toEqual(values);
    expect(tensorToFloat32(tensors.get('e.chunks')!)).toEqual(values.subarray(0, 4));
    const f16 = tensorToFloat32(tensors.get('b.f16')!);
    const bf16 = tensorToFloat32(tensors.get('c.bf16')!);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      expect(Math.abs(f16[i]! - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -24));
      expect(Math.abs(bf16[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -8);
    }
    // Values exactly representable in the narrow format survive unchanged.
    expect([f16[0], f16[1], f16[2], f16[4], f16[6]]).toEqual([0, 1, -2.5, 65504, -3.140625]);
    expect([bf16[0], bf16[1], bf16[2]]).toEqual([0, 1, -2.5]);
    expect(tensors.get('d.i64')?.data.length).toBe(8);
    expect(() => tensorToFloat32(tensors.get('d.i64')!)).toThrow(
      /Expected a float tensor .* but received I64/,
    );
  });

  it('rejects data that does not match the declared shape', async () => {
    await expect(
      writeSafetensors(join(dir, 'short.safetensors'), [
        { name: 'x', dtype: 'F32', shape: [3], data: new Float32Array(2) },
      ]),
    ).rejects.toThrow(/Expected 12 bytes for tensor x \(F32 \[3\]\) but received 8/);
  });
});

describe('readSafetensorsHeader validation', () => {
  it('rejects non-contiguous offsets, wrong sizes, bad dtypes and truncated files', async () => {
    const cases: Array<[string, unknown, number, RegExp]> = [
      [
        'gap',
        {
          a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
          b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
        },
        12,
        /not contiguous: tensor b starts at 8 but the previous tensor ends at 4/,
      ],
      [
        'size',
        { a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } },
        4,
        /needs 8 bytes but data_offsets span 4/,
      ],
      ['dtype', { a: { dtype: 'F128', shape: [1], data_offsets: [0, 4] } }, 4, /unknown dtype "F128"/],
      [
        'tail',
        { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } },
        8,
        /cover 4 bytes but the data area holds 8/,
      ],
      ['shape', { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4, /invalid shape \[-1\]/],
    ];
    for (const [name, header, dataBytes, message] of cases) {
      const path = await handMade(`${name}.safetensors`, header, new Uint8Array(dataBytes));
      await expect(readSafetensorsHeader(path), name).rejects.toThrow(message);
      await expect(readSafetensorsHeader(path)).rejects.toMatchObject({ code: 'VGG_MODEL_FORMAT' });
    }
    const huge = join(dir, 'huge.safetensors');
    const prefix = Buffer.alloc(16);
    prefix.writeBigUInt64LE(1000n);
    await writeFile(huge, prefix);
    await expect(readSafetensorsHeader(huge)).rejects.toThrow(
      /header length 1000 does not fit a 16-byte file/,
    );
    await expect(readSafetensorsHeader(join(dir, 'missing.safetensors'))).rejects.toThrow(/Cannot open/);
  });
});

describe('checkStateDict', () => {
  const config = resolveVggConfig('[4,M,6]', {
    batchNorm: true,
    inputSize: 8,
    poolSize: 2,
    classifierWidth: 5,
    numClasses: 3,
  });
  const entries = (): SafetensorsEntry[] =>
    stateDictSpec(config).map((e) =>
      e.role === 'bn.num_batches_tracked'
        ? { name: e.name, dtype: 'I64', shape: e.shape, data: new BigInt64Array(1) }
        : {
            name: e.name,
            dtype: 'F32',
            shape: e.shape,
            data: new Float32Array(e.shape.reduce((a, b) => a * b, 1)),
          },
    );
  const check = async (name: string, list: SafetensorsEntry[]) => {
    const path = join(dir, `${name}.safetensors`);
    await writeSafetensors(path, list);
    const header = await readSafetensorsHeader(path);
    try {
      checkStateDict(header, config);
    } catch (error) {
      return error;
    }
    return null;
  };

  it('accepts a complete state_dict, with or without num_batches_tracked', async () => {
    expect(await check('complete', entries())).toBeNull();
    expect(
      await check(
        'no-counter',
        entries().filter((e) => !e.name.endsWith('num_batches_tracked')),
      ),
    ).toBeNull();
  });

  it('names a missing tensor and its expected shape', async () => {
    const error = await check(
      'missing',
      entries().filter((e) => e.name !== 'features.1.running_var'),
    );
    expect(error).toBeInstanceOf(VggWeightsError);
    expect(error).toMatchObject({
      code: 'VGG_WEIGHTS',
      problem: 'missing',
      tensor: 'features.1.running_var',
      expectedShape: [4],
      actualShape: null,
    });
    expect((error as VggError).message).toMatch(
      /lack tensor features\.1\.running_var with shape \[4\] required by custom_bn\[4,M,6\]/,
    );
  });

  it('names an extra tensor', async () => {
    const error = await check('extra', [
      ...entries(),
      { name: 'classifier.9.weight', dtype: 'F32', shape: [2], data: new Float32Array(2) },
    ]);
    expect(error).toMatchObject({
      code: 'VGG_WEIGHTS',
      problem: 'unexpected',
      tensor: 'classifier.9.weight',
      actualShape: [2],
    });
  });

  it('names a mis-shaped tensor with expected and actual shapes', async () => {
    const list = entries().map((e) =>
      e.name === 'classifier.0.weight' ? { ...e, shape: [5, 25], data: new Float32Array(125) } : e,
    );
    const error = await check('shape', list);
    expect(error).toMatchObject({
      code: 'VGG_WEIGHTS',
      problem: 'shape',
      tensor: 'classifier.0.weight',
      expectedShape: [5, 24],
      actualShape: [5, 25],
    });
    expect((error as VggError).message).toMatch(
      /Expected shape \[5, 24\] for tensor classifier\.0\.weight .* has \[5, 25\]/,
    );
  });

  it('rejects integer weights and hints at a DataParallel "module." prefix', async () => {
    const ints = entries().map((e) =>
      e.name === 'features.0.bias' ? { ...e, dtype: 'I32' as const, data: new Int32Array(4) } : e,
    );
    expect(await check('int', ints)).toMatchObject({ problem: 'dtype', tensor: 'features.0.bias' });
    const prefixed = entries().map((e) => ({ ...e, name: `module.${e.name}` }));
    expect(((await check('prefixed', prefixed)) as Error).message).toMatch(/strip the "module\." prefix/);
  });
});

describe('half-float conversion', () => {
  it('rounds to nearest even and handles subnormals, infinities and NaN', () => {
    const input = Float32Array.from([
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      2 ** -24,
      2 ** -25,
      70000,
      -Infinity,
      Number.NaN,
      6.1e-5,
    ]);
    const back = float16ToFloat32(float32ToFloat16(input));
    expect(back[0]).toBe(1); // tie rounds to even
    expect(back[1]).toBe(1 + 2 * 2 ** -10);
    expect(back[2]).toBe(2 ** -24); // smallest subnormal
    expect(back[3]).toBe(0); // tie to even (zero)
    expect(back[4]).toBe(Infinity);
    expect(back[5]).toBe(-Infinity);
    expect(back[6]).toBeNaN();
    expect(Math.abs(back[7]! - 6.1e-5)).toBeLessThan(2 ** -24);
    const bf = bfloat16ToFloat32(
      float32ToBfloat16(Float32Array.from([1 + 2 ** -8, 1 + 3 * 2 ** -8, Number.NaN])),
    );
    expect(bf[0]).toBe(1);
    expect(bf[1]).toBe(1 + 2 ** -6);
    expect(bf[2]).toBeNaN();
  });
});
