// A pair run end to end: producer --pairs, worker pair stages and pair head, Parquet rows checked with DuckDB
// against the torch reference of packages/vgg-core/test-fixtures/pairs (scripts/pair_reference.py).
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { duckdbQuery, PAIR_TEST_MODEL, PipelineHarness } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/pairs');
const reference = JSON.parse(await readFile(path.join(fixtures, 'reference.json'), 'utf8')) as {
  pairs: { a: string; b: string; plain: Record<string, number> }[];
};
const expected = (a: string, b: string) => reference.pairs.find((p) => p.a === a && p.b === b)!.plain;
const nativeReference = JSON.parse(await readFile(path.join(fixtures, 'native-reference.json'), 'utf8')) as {
  pairs: { a: string; b: string; plain: Record<string, number> }[];
};
const SCORE_COLUMNS = [
  'perceptual_distance',
  'lpips_relu1_2',
  'lpips_relu5_3',
  'feature_reconstruction_loss',
];

let harness: PipelineHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('pair runs', () => {
  it('write one row per pair with the reference scores, and name the failing image of a failed pair', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'vgg-pairs-'));
    for (const name of ['a', 'b', 'c'])
      await copyFile(path.join(fixtures, `${name}.png`), path.join(root, `${name}.png`));
    await writeFile(path.join(root, 'broken.png'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    await writeFile(
      path.join(root, 'pairs.csv'),
      [
        'a,b,key',
        'a.png,b.png,k1',
        'b.png,a.png,k2',
        'a.png,gone.png,k3',
        'broken.png,c.png,k4',
        `a.png,${path.join(root, 'a.png')},k5`,
        'a.png,c.png,k6',
      ].join('\n'),
    );
    harness = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    const out = path.join(root, 'out');
    await harness.startWorker();
    await harness.submit({
      sources: [],
      pairs: path.join(root, 'pairs.csv'),
      keyCol: 'key',
      out,
      runId: 'pairs',
      chunkSize: 4,
      ...PAIR_TEST_MODEL,
      seed: 0,
    });
    const status = await harness.waitForRun('pairs', 180_000);
    expect(status.state).toBe('finalized');
    const rows = await duckdbQuery(
      `SELECT key, uri, b, status, error, perceptual_distance, lpips_relu1_2, lpips_relu5_3, feature_reconstruction_loss
       FROM read_parquet('${path.join(out, 'pairs', 'shards', '*.parquet')}') ORDER BY key`,
    );
    expect(rows.map((r) => [r.key, r.status, r.error])).toEqual([
      ['k1', 'ok', null],
      ['k2', 'ok', null],
      ['k3', 'error', 'b:not_found'],
      ['k4', 'error', 'a:unsupported_format'],
      ['k5', 'ok', null],
      ['k6', 'ok', null],
    ]);
    const [k1, k2, k3, , k5, k6] = rows as Record<string, unknown>[];
    expect(k1!.uri).toBe(path.join(root, 'a.png'));
    expect(k1!.b).toBe(path.join(root, 'b.png'));
    for (const [row, ref] of [
      [k1!, expected('a', 'b')],
      [k6!, expected('a', 'c')],
    ] as const) {
      for (const column of [
        'perceptual_distance',
        'lpips_relu1_2',
        'lpips_relu5_3',
        'feature_reconstruction_loss',
      ]) {
        const value = row[column] as number;
        expect(Math.abs(value - ref[column]!) / ref[column]!, column).toBeLessThan(1e-4);
      }
    }
    expect(k2!.perceptual_distance).toBeCloseTo(k1!.perceptual_distance as number, 6);
    expect(k3!.perceptual_distance).toBeNull();
    expect(k5!.perceptual_distance).toBe(0);
  }, 240_000);

  it('--pair-size native scores same-size pairs whole (96x80, no resize or crop) and refuses pairs of two sizes', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'vgg-pairs-native-'));
    for (const name of ['a', 'b', 'c'])
      await copyFile(path.join(fixtures, `${name}.png`), path.join(root, `${name}.png`));
    const plain = (width: number, height: number) =>
      sharp({ create: { width, height, channels: 3, background: { r: 90, g: 140, b: 30 } } })
        .png()
        .toFile(path.join(root, `${width}x${height}.png`));
    await plain(64, 64);
    await plain(8, 8);
    await writeFile(
      path.join(root, 'pairs.csv'),
      [
        'a,b,key',
        'a.png,b.png,k1',
        'a.png,64x64.png,k2',
        'a.png,a.png,k3',
        'a.png,c.png,k4',
        '8x8.png,8x8.png,k5',
      ].join('\n'),
    );
    harness = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    const out = path.join(root, 'out');
    await harness.startWorker();
    await harness.submit({
      sources: [],
      pairs: path.join(root, 'pairs.csv'),
      pairSize: 'native',
      keyCol: 'key',
      out,
      runId: 'pairs-native',
      chunkSize: 3,
      model: 'vgg16',
      classifierWidth: 16,
      inputSize: 64,
      poolSize: 2,
      // Ignored by --pair-size native (the harness's defaults are for 32-pixel models).
      resizeSize: 73,
      cropSize: 64,
      seed: 0,
    });
    const status = await harness.waitForRun('pairs-native', 180_000);
    expect(status.state).toBe('finalized');
    const rows = (await duckdbQuery(
      `SELECT key, status, error, width, height, ${SCORE_COLUMNS.join(', ')}
       FROM read_parquet('${path.join(out, 'pairs-native', 'shards', '*.parquet')}') ORDER BY key`,
    )) as Record<string, unknown>[];
    expect(rows.map((r) => [r.key, r.status, r.error])).toEqual([
      ['k1', 'ok', null],
      ['k2', 'error', 'size_mismatch:a=96x80,b=64x64'],
      ['k3', 'ok', null],
      ['k4', 'ok', null],
      ['k5', 'error', 'too_small:a=8x8,b=8x8'],
    ]);
    const [k1, k2, k3, k4] = rows;
    expect([k1!.width, k1!.height]).toEqual([96, 80]);
    for (const [row, a, b] of [
      [k1!, 'a', 'b'],
      [k4!, 'a', 'c'],
    ] as const) {
      const ref = nativeReference.pairs.find((p) => p.a === a && p.b === b)!.plain;
      for (const column of SCORE_COLUMNS) {
        expect(Math.abs((row[column] as number) - ref[column]!) / ref[column]!, column).toBeLessThan(1e-4);
      }
    }
    // The crop run's score of the same pair differs: these are the whole images.
    expect(
      Math.abs((k1!.perceptual_distance as number) - expected('a', 'b').perceptual_distance!),
    ).toBeGreaterThan(1e-3);
    for (const column of SCORE_COLUMNS) expect(k3![column]).toBe(0);
    expect(k2!.perceptual_distance).toBeNull();
  }, 240_000);
});
