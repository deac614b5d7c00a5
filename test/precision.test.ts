// A run's --precision is part of its model: stored in its spec, the manifest and the graph every worker builds
// for it. float16 is meant for CUDA; on this CPU it runs through casts, which is enough to check the wiring.
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseManifest } from 'vgg-pipeline';
import { duckdbQuery, PipelineHarness, readManifest } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images');

let harness: PipelineHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('--precision', () => {
  it('runs a float16 run on a float16 graph whose embeddings match the float32 run to ~1e-3', async () => {
    harness = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    const h = harness;
    const source = await mkdtemp(path.join(tmpdir(), 'vgg-precision-in-'));
    for (const name of ['Landscape_6.jpg', 'concert.jpg']) {
      await copyFile(path.join(fixtures, name), path.join(source, name));
    }
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-precision-out-'));
    const warnings: string[] = [];
    await h.startWorker({
      workerId: 'w1',
      onEvent: (event) => {
        if (event.type === 'warning') warnings.push(event.message);
      },
    });
    await h.submit({ sources: [source], out, runId: 'f32', taps: ['fc7'] });
    await h.submit({ sources: [source], out, runId: 'f16', taps: ['fc7'], precision: 'float16' });
    const embeddings: Record<string, number[][]> = {};
    for (const runId of ['f32', 'f16']) {
      const status = await h.waitForRun(runId);
      expect(status).toMatchObject({ rows: 2, ok: 2 });
      expect(status.spec.model.precision).toBe(runId === 'f16' ? 'float16' : undefined);
      const manifest = parseManifest(JSON.stringify(await readManifest(path.join(out, runId))));
      expect(manifest.spec?.model.precision).toBe(runId === 'f16' ? 'float16' : undefined);
      const rows = await duckdbQuery(
        `SELECT emb_fc7 AS v FROM read_parquet('${path.join(out, runId, 'shards', '*.parquet')}') ORDER BY uri`,
      );
      embeddings[runId] = rows.map((row) => Array.from(row.v as ArrayLike<number>, Number));
    }
    const [a, b] = [embeddings.f32!, embeddings.f16!];
    let maxDiff = 0;
    let maxAbs = 0;
    for (const [i, row] of a.entries()) {
      for (const [j, x] of row.entries()) {
        maxDiff = Math.max(maxDiff, Math.abs(x - (b[i]?.[j] ?? Number.NaN)));
        maxAbs = Math.max(maxAbs, Math.abs(x));
      }
    }
    // Different graphs (half floats inside), same model: close, not equal.
    expect(maxDiff).toBeGreaterThan(0);
    expect(maxDiff / maxAbs).toBeLessThan(1e-2);
    expect(warnings.join('\n')).toMatch(/float16 graph runs on the CPU/);
  });
});
