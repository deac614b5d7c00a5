import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureSampleImages } from 'vgg-local-kit';
import { s3ClientForTests } from './support/s3.js';
import { duckdbQuery, listFiles, PipelineHarness, readManifest } from './support/pipeline-harness.js';
import { WorkerProcess } from './support/worker-process.js';

// Slow: twenty trials with real worker processes. `npm run test:quick` skips it; CI runs it.
const slow = process.env.VGG_SKIP_SLOW === '1';
const TRIALS = 20;

let imagesDir: string;
let inputs: string[];

beforeAll(async () => {
  imagesDir = await mkdtemp(path.join(tmpdir(), 'vgg-crash-images-'));
  await ensureSampleImages({ dir: imagesDir, count: 240 });
  inputs = (await listFiles(path.join(imagesDir, 'generated'))).map((f) =>
    path.join(imagesDir, 'generated', f),
  );
});

describe.skipIf(slow)('crash safety', () => {
  const harnesses: PipelineHarness[] = [];
  const workers: WorkerProcess[] = [];
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    for (const h of harnesses) await h.close();
  });

  it(`loses and duplicates no row across ${TRIALS} trials of SIGKILL to workers at random moments`, async () => {
    let kills = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
      harnesses.push(h);
      const out = await mkdtemp(path.join(tmpdir(), 'vgg-crash-out-'));
      const runId = `crash-${trial}`;
      const start = () => {
        const w = WorkerProcess.start({
          redisUrl: h.redisUrl,
          prefix: h.prefix,
          cacheDir: h.cacheDir,
          args: ['--chunk-concurrency', '2'],
        });
        workers.push(w);
        return w;
      };
      const pool = [start(), start()];
      await h.submit({ sources: [path.join(imagesDir, 'generated')], out, runId, chunkSize: 16 });
      // Kill one or two workers at random moments during fetch, inference or shard writes, replacing each.
      const killCount = 1 + (trial % 2);
      for (let k = 0; k < killCount; k++) {
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 1_500));
        const victim = pool.splice(Math.floor(Math.random() * pool.length), 1)[0]!;
        victim.kill('SIGKILL');
        kills += 1;
        pool.push(start());
      }
      const status = await h.waitForRun(runId, 120_000);
      await Promise.all(pool.map((w) => w.stop()));

      const manifest = await readManifest(path.join(out, runId));
      const totals = manifest.totals as { rows: number; inputs?: number };
      expect(totals.rows, `trial ${trial}`).toBe(inputs.length);
      expect(status.rows, `trial ${trial}`).toBe(inputs.length);
      const rows = await duckdbQuery(
        `SELECT uri FROM read_parquet('${path.join(out, runId, 'shards', '*.parquet')}')`,
      );
      const uris = rows.map((r) => String(r.uri));
      expect(uris.length, `trial ${trial}: row count`).toBe(inputs.length);
      expect(new Set(uris).size, `trial ${trial}: duplicates`).toBe(inputs.length);
      expect([...uris].sort(), `trial ${trial}: same URIs`).toEqual([...inputs].sort());
      await h.close();
      harnesses.pop();
    }
    expect(kills).toBeGreaterThanOrEqual(TRIALS);
  }, 1_200_000);
});
