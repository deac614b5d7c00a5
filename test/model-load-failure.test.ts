// Issue 9 item 2: a run whose model cannot be loaded fails that run, with its reason in `status`; the worker
// process survives, and other runs' chunks go on. Permanent failures (404, a corrupt file) fail at once; transient
// ones (503) are retried.
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveVggConfig, writeSeededWeights } from 'vgg-core';
import { ensureSampleImages } from 'vgg-local-kit';
import { formatStatus, progressOf } from 'vgg-pipeline';
import { listFiles, PipelineHarness, SMALL_MODEL, SMALL_SEED } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';
import { WorkerProcess } from './support/worker-process.js';

const slow = process.env.VGG_SKIP_SLOW === '1';
const cleanups: (() => Promise<void> | void)[] = [];
let imagesDir: string;
let images: string[];

beforeAll(async () => {
  imagesDir = await mkdtemp(path.join(tmpdir(), 'vgg-model-load-'));
  await ensureSampleImages({ dir: imagesDir, count: 16 });
  images = (await listFiles(path.join(imagesDir, 'generated'))).map((f) =>
    path.join(imagesDir, 'generated', f),
  );
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Serves weights: 404 for missing, junk for corrupt, 503 twice then good weights for flaky. */
async function weightsServer(good: Buffer): Promise<{ url: string; requests: Map<string, number> }> {
  const requests = new Map<string, number>();
  const server = createServer((req, res) => {
    const name = req.url ?? '';
    const n = (requests.get(name) ?? 0) + 1;
    requests.set(name, n);
    if (name === '/corrupt.safetensors') return res.writeHead(200).end(Buffer.alloc(4096, 0x5a));
    if (name === '/flaky.safetensors') {
      if (n <= 2) return res.writeHead(503).end('busy');
      return res.writeHead(200).end(good);
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

describe.skipIf(slow)('a run whose model cannot be loaded', () => {
  it('fails that run with its reason in status; the worker survives and the other runs finish', async () => {
    const h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    cleanups.push(() => h.close());
    const local = path.join(imagesDir, 'small.safetensors');
    const { model, ...overrides } = SMALL_MODEL;
    await writeSeededWeights(local, resolveVggConfig(model, overrides), SMALL_SEED);
    const weights = await weightsServer(await readFile(local));
    const worker = WorkerProcess.start({
      redisUrl: h.redisUrl,
      prefix: h.prefix,
      cacheDir: h.cacheDir,
      args: ['--allow-cidrs', '127.0.0.1/32', '--chunk-concurrency', '2'],
    });
    cleanups.push(() => worker.stop());
    const out = await mkdtemp(path.join(tmpdir(), 'vgg-model-load-out-'));
    const submit = (runId: string, weightsFile?: string) =>
      h.submit({
        sources: images,
        out,
        runId,
        chunkSize: 8,
        attempts: 3,
        ...(weightsFile !== undefined ? { weights: `${weights.url}/${weightsFile}` } : {}),
      });
    await submit('missing', 'missing.safetensors');
    await submit('corrupt', 'corrupt.safetensors');
    await submit('good');
    await submit('flaky', 'flaky.safetensors');

    const wait = (runId: string) => h.waitForRun(runId, 90_000);
    const [missing, corrupt, good, flaky] = await Promise.all([
      wait('missing'),
      wait('corrupt'),
      wait('good'),
      wait('flaky'),
    ]);
    // The worker process is still up: no unhandled rejection took it down.
    expect(worker.exited, worker.log.join('')).toBe(false);
    expect(worker.log.join('')).not.toMatch(/unhandled/i);

    expect(good).toMatchObject({ rows: 16, ok: 16 });
    // A transient failure (HTTP 503) is retried, and the run then succeeds.
    expect(flaky).toMatchObject({ rows: 16, ok: 16 });

    for (const [status, reason] of [
      [missing, /HTTP 404/],
      [corrupt, /safetensors/i],
    ] as const) {
      expect(status).toMatchObject({ rows: 16, ok: 0, error: 16 });
      const text = formatStatus(progressOf(status));
      console.info(text);
      expect(text).toMatch(/model could not be loaded/);
      expect(text).toMatch(reason);
    }
    // Permanent failures fail at once: one attempt per chunk, no retries with backoff.
    const failures = worker.log
      .join('')
      .split('\n')
      .filter((line) => line.includes('"type":"chunk-failed"'))
      // Worker log records name the run in pino's `run` field.
      .map((line) => JSON.parse(line) as { run: string; attempt: number; final: boolean });
    for (const runId of ['missing', 'corrupt']) {
      const ofRun = failures.filter((f) => f.run === runId);
      expect(ofRun).toHaveLength(2);
      expect(ofRun.every((f) => f.attempt === 1 && f.final)).toBe(true);
    }
    expect(weights.requests.get('/missing.safetensors')).toBeLessThanOrEqual(2);
  });
});
