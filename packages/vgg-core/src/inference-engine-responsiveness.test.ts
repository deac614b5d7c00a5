// The engine runs batches off the caller's thread; the rest of InferenceEngine's tests are in inference-engine.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceEngine } from './inference-engine.js';
import type { InferenceRequest } from './inference-protocol.js';
import { type PreparedModel, prepareModel } from './prepare-model.js';

let cacheDir: string;
let heavy: PreparedModel;
const classify: InferenceRequest = { topK: 3, taps: [], l2Normalize: false, dtype: 'float32' };

beforeAll(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'vgg-engine-lag-'));
  // About 1 GFLOP per image: long enough per batch that a run on the main thread would stall it visibly.
  heavy = await prepareModel({
    model: "[32,'M',64,'M',128,'M']",
    classifierWidth: 64,
    numClasses: 10,
    inputSize: 224,
    cacheDir,
  });
});

afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

describe('InferenceEngine responsiveness', () => {
  it("keeps the caller's event loop responsive while a batch runs", async () => {
    const engine = await InferenceEngine.create({ model: heavy, intraOpNumThreads: 1 });
    try {
      const batch = () => Array.from({ length: 8 }, (_, n) => new Uint8Array(224 * 224 * 3).fill(40 * n));
      await engine.run(batch(), classify); // warm-up: first run allocates
      let last = performance.now();
      let maxLagMs = 0;
      let ticks = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        maxLagMs = Math.max(maxLagMs, now - last - 5);
        last = now;
        ticks += 1;
      }, 5);
      const started = performance.now();
      const result = await engine.run(batch(), classify);
      const wallMs = performance.now() - started;
      clearInterval(timer);
      console.info(
        `responsiveness: batch of 8 at 224px ran ${result.inferenceMs.toFixed(0)} ms in the worker; ` +
          `main thread: ${ticks} timer ticks, max lag ${maxLagMs.toFixed(1)} ms`,
      );
      // Long enough that a stall would show (about 160 ms on a quiet 2-core machine, more under load).
      expect(result.inferenceMs).toBeGreaterThan(100);
      expect(wallMs).toBeGreaterThanOrEqual(result.inferenceMs);
      // Run on the main thread, the batch would delay the timer by its whole duration and allow ~1 tick. On two
      // shared cores the OS may still deschedule the main thread briefly, so the bound is relative, not a few ms.
      expect(maxLagMs).toBeLessThan(result.inferenceMs / 3);
      expect(ticks).toBeGreaterThan(wallMs / 5 / 4);
    } finally {
      await engine.close();
    }
  });
});
