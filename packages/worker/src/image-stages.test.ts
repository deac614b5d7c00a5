import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { resolvePreprocessOptions } from 'vgg-core';
import { FetchError, type FetchInputOptions, fetchInput, InputGuard } from 'vgg-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageInference } from './batch-scheduler.js';
import { ImageStages, type ImageStagesOptions } from './image-stages.js';
import { newWorkerStats } from './stats.js';
import { ByteBudget } from './byte-budget.js';

const fixtures = path.resolve(import.meta.dirname, '../../vgg-core/test-fixtures/images');
const noS3 = {} as S3Client;
const preprocess = resolvePreprocessOptions({ resizeSize: 36, cropSize: 32 });
let dir: string;
let guard: InputGuard;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vgg-stages-'));
  await copyFile(path.join(fixtures, '320x240.jpg'), path.join(dir, 'good.jpg'));
  await writeFile(path.join(dir, 'text.jpg'), 'not an image\n');
  guard = new InputGuard({ allowHosts: [], allowCidrs: [], localRoots: [] });
});
afterAll(async () => {
  await guard.close();
  await rm(dir, { recursive: true, force: true });
});

function stages(overrides: Partial<ImageStagesOptions> = {}) {
  const stats = newWorkerStats();
  const options: ImageStagesOptions = {
    s3: noS3,
    guard,
    fetchConcurrency: 4,
    decodeConcurrency: 2,
    maxQueuedImages: 8,
    maxInputBytes: 1 << 20,
    connectTimeoutMs: 1_000,
    readTimeoutMs: 1_000,
    fetchAttempts: 3,
    stats,
    backoff: async () => undefined,
    ...overrides,
  };
  return { stages: new ImageStages(options), stats };
}

/** An inference that answers with the crop's length as its class, so rows show they were inferred. */
const infer = async (pixels: Uint8Array): Promise<ImageInference> => ({
  classIds: Int32Array.of(pixels.length),
  probs: Float32Array.of(1),
  embeddings: {},
});

describe('ImageStages', () => {
  it('turns each URI into one row in order: inferred, or an error with its reason', async () => {
    const { stages: s, stats } = stages();
    const rows = await s.run(
      [path.join(dir, 'good.jpg'), path.join(dir, 'missing.jpg'), path.join(dir, 'text.jpg')],
      {
        preprocess,
        infer,
        signal: new AbortController().signal,
      },
    );
    expect(rows.map((r) => [r.status, r.error])).toEqual([
      ['ok', null],
      ['error', 'not_found'],
      ['error', 'unsupported_format'],
    ]);
    expect(rows[0]).toMatchObject({ width: 320, height: 240, classIds: Int32Array.of(32 * 32 * 3) });
    expect(rows[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    // A file that did not decode still has the hash of its bytes.
    expect(rows[2]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(stats.stageMs.fetch).toBeGreaterThan(0);
    expect(stats.stageMs.decode).toBeGreaterThan(0);
  });

  it('retries transient fetch failures, up to fetchAttempts, and never permanent ones', async () => {
    const tries = new Map<string, number>();
    const flaky = async (uri: string, options: FetchInputOptions) => {
      const n = (tries.get(uri) ?? 0) + 1;
      tries.set(uri, n);
      if (uri.endsWith('flaky.jpg') && n < 3)
        throw new FetchError('http_error', uri, 'HTTP 503', { transient: true });
      if (uri.endsWith('down.jpg')) throw new FetchError('timeout', uri, 'stalled', { transient: true });
      if (uri.endsWith('gone.jpg')) throw new FetchError('not_found', uri, 'HTTP 404');
      return fetchInput(path.join(dir, 'good.jpg'), options);
    };
    const { stages: s } = stages({ fetch: flaky });
    const rows = await s.run(
      ['https://h.example/flaky.jpg', 'https://h.example/down.jpg', 'https://h.example/gone.jpg'],
      {
        preprocess,
        infer,
        signal: new AbortController().signal,
      },
    );
    expect(rows.map((r) => r.error)).toEqual([null, 'timeout', 'not_found']);
    expect(Object.fromEntries(tries)).toEqual({
      'https://h.example/flaky.jpg': 3,
      'https://h.example/down.jpg': 3,
      'https://h.example/gone.jpg': 1,
    });
  });

  it('refuses local inputs outside the allowed roots as forbidden rows', async () => {
    const confined = new InputGuard({
      allowHosts: [],
      allowCidrs: [],
      localRoots: [path.join(dir, 'inside')],
    });
    try {
      const { stages: s } = stages({ guard: confined });
      const [row] = await s.run([path.join(dir, 'good.jpg')], {
        preprocess,
        infer,
        signal: new AbortController().signal,
      });
      expect(row).toMatchObject({ status: 'error', error: 'forbidden' });
    } finally {
      await confined.close();
    }
  });

  it('fails the chunk, not a row, when it is aborted or inference fails', async () => {
    const { stages: s } = stages();
    const aborted = AbortSignal.abort(new Error('worker shutting down'));
    await expect(s.run([path.join(dir, 'good.jpg')], { preprocess, infer, signal: aborted })).rejects.toThrow(
      'worker shutting down',
    );
    const broken = async () => {
      throw new Error('The inference engine is closed');
    };
    await expect(
      s.run([path.join(dir, 'good.jpg')], {
        preprocess,
        infer: broken,
        signal: new AbortController().signal,
      }),
    ).rejects.toThrow('The inference engine is closed');
  });

  it('holds a download at its declared size, so small images share a budget the largest allowed would fill', async () => {
    // Room for one input of the cap (2 x 1 MiB held by a download of unknown size) but for many of 320x240.jpg.
    const budget = new ByteBudget({ limitBytes: 3 * (1 << 20), baselineBytes: () => 0 });
    let inFlight = 0;
    let mostInFlight = 0;
    const fetch = async (uri: string, options: FetchInputOptions) => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      try {
        return await fetchInput(uri, options);
      } finally {
        inFlight -= 1;
      }
    };
    const { stages: s } = stages({ budget, fetch });
    const uris = Array.from({ length: 8 }, () => path.join(dir, 'good.jpg'));
    const rows = await s.run(uris, { preprocess, infer, signal: new AbortController().signal });
    expect(rows.every((r) => r.status === 'ok')).toBe(true);
    // Held at the cap before the size was known, the second download waited for the first image's decode.
    expect(mostInFlight).toBeGreaterThan(1);
    // Never the 2 MiB a single download held at the cap.
    expect(budget.peakHeldBytes).toBeLessThan(2 * (1 << 20));
    expect(budget.heldBytes).toBe(0);
  });
});
