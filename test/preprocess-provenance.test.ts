// The preprocessing pipeline of a run is recorded where its outputs are described (manifest, Parquet metadata),
// every chunk of the run decodes with it, and the run's model binding refuses a worker that would decode otherwise.
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { prepareModel, resolvePreprocessOptions } from 'vgg-core';
import type { RunModelBinding } from 'vgg-pipeline';
import {
  duckdbQuery,
  PipelineHarness,
  readManifest,
  SMALL_MODEL,
  SMALL_PREPROCESS,
  SMALL_SEED,
} from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/images');

let harness: PipelineHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function inputs(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vgg-provenance-in-'));
  await mkdir(dir, { recursive: true });
  for (const name of ['Landscape_6.jpg', 'with-alpha.png', 'concert.jpg']) {
    await copyFile(path.join(fixtures, name), path.join(dir, name));
  }
  return dir;
}

async function newHarness(): Promise<PipelineHarness> {
  harness = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
  return harness;
}

describe('preprocessing provenance', () => {
  it('records each run its own pipeline in the manifest and the Parquet metadata, one worker serving both', async () => {
    const h = await newHarness();
    const source = await inputs();
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-provenance-out-'));
    await h.startWorker({ workerId: 'w1' });
    await h.submit({ sources: [source], out, runId: 'fast-run', preprocess: 'fast', noAutoOrient: true });
    await h.submit({ sources: [source], out, runId: 'exact-run' });
    for (const [runId, pipeline, autoOrient] of [
      ['fast-run', 'fast', false],
      ['exact-run', 'torchvision', true],
    ] as const) {
      const status = await h.waitForRun(runId);
      expect(status).toMatchObject({ rows: 3, ok: 3 });
      const manifest = await readManifest(path.join(out, runId));
      expect(manifest.preprocessing).toMatchObject({ pipeline, autoOrient });
      const glob = path.join(out, runId, 'shards', '*.parquet');
      const [meta] = await duckdbQuery(
        `SELECT decode(value) AS value FROM parquet_kv_metadata('${glob}') WHERE decode(key) = 'vgg.preprocess'`,
      );
      expect(JSON.parse(String(meta?.value))).toMatchObject({ pipeline, autoOrient });
      // Sizes are reported upright only when the run applies EXIF orientation (Landscape_6 is stored 450x600).
      const [size] = await duckdbQuery(
        `SELECT width, height FROM read_parquet('${glob}') WHERE uri LIKE '%Landscape_6.jpg'`,
      );
      expect(size).toEqual(autoOrient ? { width: 600, height: 450 } : { width: 450, height: 600 });
    }
  });

  it('binds a run to the preprocessing of its first worker; a worker resolving it otherwise is refused', async () => {
    const h = await newHarness();
    const source = await inputs();
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-provenance-out-'));
    await h.submit({ sources: [source], out, runId: 'bound', chunkSize: 1 });
    const model = await prepareModel({ ...SMALL_MODEL, seed: SMALL_SEED, cacheDir: h.cacheDir });
    // A worker of another version bound the run first: the same weights, its preprocessing resolved otherwise.
    const binding = {
      identity: model.identity,
      taps: [],
      preprocessing: { ...resolvePreprocessOptions(SMALL_PREPROCESS), pipeline: 'fast' },
    } as RunModelBinding;
    const first = await h.runStore.bindModel('bound', binding);
    expect(first).toEqual({
      weightsSha256: model.identity.weightsSha256,
      preprocessing: JSON.stringify(binding.preprocessing),
    });
    const other = { ...binding, preprocessing: resolvePreprocessOptions(SMALL_PREPROCESS) };
    expect(await h.runStore.bindModel('bound', other)).toEqual(first);

    const failures: string[] = [];
    await h.startWorker({
      workerId: 'w2',
      onEvent: (event) => {
        if (event.type === 'chunk-failed') failures.push(event.message);
      },
    });
    const status = await h.waitForRun('bound');
    expect(status).toMatchObject({ rows: 3, ok: 0 });
    expect(status.records.every((r) => r.errorsByReason.model_mismatch === 1)).toBe(true);
    expect(failures[0]).toMatch(
      /^Run bound is bound to preprocessing \{.*"pipeline":"fast".*\}, but this worker would decode with/,
    );
  });
});
