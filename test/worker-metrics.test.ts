import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureSampleImages, freePort, RedisServerProcess } from 'vgg-local-kit';
import { DEFAULT_METRICS_PORT } from 'vgg-chunk-worker';
import { readMetricsContract } from './support/infra.js';
import { listFiles, PipelineHarness } from './support/pipeline-harness.js';
import { type MetricFamily, parseExposition, samples, seriesValue } from './support/prometheus.js';
import { s3ClientForTests } from './support/s3.js';
import { WorkerProcess } from './support/worker-process.js';

const contract = readMetricsContract();
let images: string[];
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vgg-metrics-'));
  await ensureSampleImages({ dir, count: 12 });
  images = (await listFiles(path.join(dir, 'generated'))).map((f) => path.join(dir, 'generated', f));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
});

async function scrape(port: number): Promise<{ contentType: string; families: Map<string, MetricFamily> }> {
  const response = await fetch(`http://127.0.0.1:${port}${contract.paths.metrics}`);
  expect(response.status).toBe(200);
  return {
    contentType: response.headers.get('content-type') ?? '',
    families: parseExposition(await response.text()),
  };
}

async function readyz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}${contract.paths.readiness}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function listen(port: number, host: string): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, host, () => resolve(server));
  });
}

describe('the worker metrics endpoint (infra/README.md contract)', () => {
  it('serves probes and, after a run, every contract metric with counts that match the run', async () => {
    const h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    cleanups.push(() => h.close());
    const port = await freePort();
    const worker = WorkerProcess.start({
      redisUrl: h.redisUrl,
      prefix: h.prefix,
      cacheDir: h.cacheDir,
      args: [contract.portFlag, String(port), '--metrics-host', '127.0.0.1'],
    });
    cleanups.push(() => worker.stop());
    await worker.waitForEvent('ready');

    const health = await fetch(`http://127.0.0.1:${port}${contract.paths.liveness}`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    // No model until a run's first chunk: that counts as ready.
    expect(await readyz(port)).toEqual({
      status: 200,
      body: { ready: true, redis: true, model: 'none', stopping: false },
    });
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);

    const out = await mkdtemp(path.join(tmpdir(), 'vgg-metrics-out-'));
    const manifest = path.join(out, 'inputs.txt');
    const missing = path.join(out, 'no-such-image.jpg');
    await writeFile(manifest, [...images, missing].join('\n'));
    await h.submit({ sources: [manifest], out, runId: 'metrics', chunkSize: 5 });
    const status = await h.waitForRun('metrics');
    const chunks = status.records.length;
    expect(chunks).toBe(3);
    const reasons = new Map<string, number>();
    for (const r of status.records)
      for (const [reason, n] of Object.entries(r.errorsByReason))
        reasons.set(reason, (reasons.get(reason) ?? 0) + n);
    expect(status.ok).toBe(images.length);
    expect([...reasons.values()]).toEqual([1]);

    const { contentType, families } = await scrape(port);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    // Every metric the contract lists (and so the dashboard reads) is served.
    expect([...contract.metrics].filter((name) => !families.has(name))).toEqual([]);

    expect(seriesValue(families, 'vgg_worker_images_total', { status: 'ok', reason: '' })).toBe(
      images.length,
    );
    for (const [reason, n] of reasons)
      expect(seriesValue(families, 'vgg_worker_images_total', { status: 'error', reason })).toBe(n);
    const stageCount = (stage: string) => seriesValue(families, 'vgg_worker_stage_seconds', { stage });
    expect(stageCount('fetch')).toBe(images.length + 1);
    expect(stageCount('decode')).toBe(images.length);
    expect(stageCount('batch_wait')).toBe(images.length);
    expect(stageCount('queue_wait')).toBe(chunks);
    expect(stageCount('write')).toBe(chunks);
    const batches = stageCount('inference');
    expect(batches).toBeGreaterThanOrEqual(Math.ceil(images.length / 8));
    const [fill] = samples(families, 'vgg_worker_batch_fill_ratio');
    expect(fill?.count).toBe(batches);
    // Fill ratios are in (0, 1]: the sum is positive and at most the count, and every call is in the bucket le=1.
    expect(fill?.sum).toBeGreaterThan(0);
    expect(fill?.sum).toBeLessThanOrEqual(batches);
    expect(fill?.buckets?.['1']).toBe(batches);
    const [inference] = samples(families, 'vgg_worker_stage_seconds', { stage: 'inference' });
    expect(seriesValue(families, 'vgg_worker_inference_busy_seconds_total')).toBeCloseTo(
      inference?.sum ?? -1,
      6,
    );
    expect(seriesValue(families, 'vgg_worker_model_load_seconds', { provider: 'cpu' })).toBe(1);
    const [info] = samples(families, 'vgg_worker_model_info');
    expect(info?.value).toBe(1);
    expect(info?.labels).toMatchObject({ provider: 'cpu', untrained: 'true' });
    expect(info?.labels?.weights_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(seriesValue(families, 'vgg_worker_chunks_in_flight')).toBe(0);
    expect(seriesValue(families, 'vgg_worker_chunks_total', { outcome: 'done' })).toBe(chunks);
    expect(seriesValue(families, 'vgg_worker_chunks_total', { outcome: 'failed' })).toBe(0);
    expect(seriesValue(families, 'process_resident_memory_bytes')).toBeGreaterThan(10_000_000);
    expect(seriesValue(families, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0);
    expect(families.get('vgg_worker_stage_seconds')?.type).toBe('histogram');
    expect(families.get('vgg_worker_images_total')?.type).toBe('counter');
    expect(families.get('bullmq_job_count')?.type).toBe('gauge');
    // BullMQ's queue-wide counts: done chunks are removed, so nothing is left in any state.
    for (const state of ['waiting', 'active', 'delayed', 'prioritized', 'failed'])
      expect(seriesValue(families, 'bullmq_job_count', { state }), state).toBe(0);
    expect(await readyz(port)).toMatchObject({ status: 200, body: { ready: true, model: 'loaded' } });
    // A chunk delayed for an hour shows in the next scrape, as KEDA and the dashboard would count it.
    const delayed = await h.queue.add('probe', {} as never, { delay: 3_600_000 });
    const later = (await scrape(port)).families;
    expect(seriesValue(later, 'bullmq_job_count', { queue: h.queueName, state: 'delayed' })).toBe(1);
    await delayed.remove();

    worker.kill('SIGTERM');
    expect(await worker.waitForExit()).toBe(0);
  });

  it('fails with a message naming --metrics-port when the given port is taken', async () => {
    const port = await freePort();
    const taken = await listen(port, '127.0.0.1');
    cleanups.push(() => void taken?.close());
    const worker = WorkerProcess.start({
      redisUrl: inject('redisUrl'),
      prefix: 'metrics-taken',
      cacheDir: tmpdir(),
      env: { VGG_METRICS_PORT: String(port), VGG_METRICS_HOST: '127.0.0.1' },
    });
    cleanups.push(() => worker.stop());
    expect(await worker.waitForExit()).toBe(1);
    expect(worker.log.join('')).toContain(
      `Expected a free port for --metrics-port but ${port} on 127.0.0.1 is in use`,
    );
  });

  it('warns and runs without the endpoint when the default port is taken (two workers on one machine)', async () => {
    // Held by this test, or by something else already: either way the worker cannot have it.
    const held = await listen(DEFAULT_METRICS_PORT, '0.0.0.0');
    cleanups.push(() => void held?.close());
    const worker = WorkerProcess.start({
      redisUrl: inject('redisUrl'),
      prefix: 'metrics-default',
      cacheDir: tmpdir(),
      env: { VGG_METRICS_PORT: '' },
    });
    cleanups.push(() => worker.stop());
    const warning = await worker.waitForEvent('warning');
    expect(String(warning.message)).toContain(`metrics port ${DEFAULT_METRICS_PORT} on 0.0.0.0 is in use`);
    await worker.waitForEvent('ready');
    expect(worker.exited).toBe(false);
  });

  it('reports Redis down in /readyz and still serves its own metrics, then recovers', async () => {
    const redis = await RedisServerProcess.create({ searchPath: process.env.PATH ?? '' });
    cleanups.push(() => redis.kill());
    const h = await PipelineHarness.create(redis.url, s3ClientForTests());
    h.redis.on('error', () => undefined);
    cleanups.push(() => h.close());
    const port = await freePort();
    const worker = await h.startWorker({ metricsPort: port, metricsHost: '127.0.0.1' });
    expect(worker.metricsPort).toBe(port);
    expect((await scrape(port)).families.has('bullmq_job_count')).toBe(true);

    await redis.stop();
    const down = await waitFor('readyz to fail', async () => {
      const answer = await readyz(port);
      return answer.status === 503 ? answer : null;
    });
    expect(down.body).toEqual({ ready: false, redis: false, model: 'none', stopping: false });
    const { families } = await scrape(port);
    expect(families.has('vgg_worker_images_total')).toBe(true);
    expect(families.has('process_resident_memory_bytes')).toBe(true);
    expect(families.has('bullmq_job_count')).toBe(false);
    expect((await fetch(`http://127.0.0.1:${port}${contract.paths.liveness}`)).status).toBe(200);

    const again = await RedisServerProcess.create({ port: redis.port, searchPath: process.env.PATH ?? '' });
    cleanups.push(() => again.kill());
    await waitFor('readyz to recover', async () => ((await readyz(port)).status === 200 ? true : null));
    await worker.close(2_000);
    await expect(fetch(`http://127.0.0.1:${port}${contract.paths.liveness}`)).rejects.toThrow();
  });
});
