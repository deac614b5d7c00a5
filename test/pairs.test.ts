// A pair run end to end: producer --pairs, worker pair stages and pair head, Parquet rows checked with DuckDB
// against the torch reference of packages/vgg-core/test-fixtures/pairs (scripts/pair_reference.py).
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { duckdbQuery, PipelineHarness } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/pairs');
const reference = JSON.parse(await readFile(path.join(fixtures, 'reference.json'), 'utf8')) as {
  pairs: { a: string; b: string; plain: Record<string, number> }[];
};
const expected = (a: string, b: string) => reference.pairs.find((p) => p.a === a && p.b === b)!.plain;

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
      model: 'vgg16',
      classifierWidth: 16,
      inputSize: 64,
      poolSize: 2,
      resizeSize: 73,
      cropSize: 64,
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
});
