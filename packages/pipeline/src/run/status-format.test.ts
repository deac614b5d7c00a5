import { describe, expect, it } from 'vitest';
import { progressOf } from './progress.js';
import type { RunStatus } from './run-store-types.js';
import { formatDuration, formatProgressBar, formatStatus } from './status-format.js';

function status(overrides: Partial<RunStatus>): RunStatus {
  return {
    spec: {
      runId: 'r1',
      createdAt: '2026-01-01T00:00:00.000Z',
      model: { model: 'vgg16', seed: 0 },
      preprocess: {},
      input: { keepCols: [] },
      output: { out: '/tmp/out', topK: 5, taps: [], l2Normalize: false, dtype: 'float32', npy: false },
      chunkSize: 10,
    },
    state: 'running',
    totalChunks: 10,
    totalInputs: 100,
    tarShards: 0,
    committedChunks: 4,
    rows: 40,
    ok: 38,
    error: 2,
    modelSha256: null,
    manifestWrittenAt: null,
    finalizeError: null,
    stuck: [],
    records: [],
    ...overrides,
  };
}

describe('run status display', () => {
  it('shows the weights and ONNX URIs without their presigned queries or --redact-params', () => {
    const withModel = (model: RunStatus['spec']['model']) => {
      const s = status({});
      s.spec = { ...s.spec, model, output: { ...s.spec.output, redactParams: ['tenant'] } };
      return formatStatus(progressOf(s, Date.parse('2026-01-01T00:00:20.000Z')));
    };
    const weights = withModel({
      model: 'vgg16',
      seed: 0,
      weights: 'https://u:pw@w.example/v.safetensors?X-Amz-Signature=SIG&X-Amz-Credential=CRED&tenant=T1&v=2',
    });
    expect(weights).toContain('weights=https://w.example/v.safetensors?v=2');
    expect(weights).not.toMatch(/SIG|CRED|T1|pw/);
    const onnx = withModel({ model: 'vgg16', seed: 0, onnx: 'https://w.example/m.onnx?sig=SIG&token=TOK' });
    expect(onnx).toContain('onnx=https://w.example/m.onnx');
    expect(onnx).not.toMatch(/SIG|TOK/);
  });

  it('computes rate and ETA from committed rows', () => {
    const progress = progressOf(status({}), Date.parse('2026-01-01T00:00:20.000Z'));
    expect(progress.imagesPerSecond).toBe(2);
    expect(progress.etaSeconds).toBe(30);
    expect(progress.fraction).toBe(0.4);
  });

  it('counts progress in chunks when tar shards hide how many images a run has', () => {
    const progress = progressOf(
      status({ totalInputs: 10, tarShards: 10, rows: 4000 }),
      Date.parse('2026-01-01T00:00:20.000Z'),
    );
    expect(progress.fraction).toBe(0.4);
    expect(progress.etaSeconds).toBe(30);
    expect(formatStatus(progress)).toContain(
      'images   4000 done, 38 ok, 2 failed (inputs include 10 tar shards)',
    );
    expect(formatProgressBar(progress)).toContain(' 4000/? ');
  });

  it('draws a bar and a summary that says the weights are untrained', () => {
    const progress = progressOf(status({}), Date.parse('2026-01-01T00:00:20.000Z'));
    const bar = formatProgressBar(progress, 80);
    expect(bar).toMatch(/^\[#+\.+\]\s+40\.0%\s+40\/100\s+2\.0 img\/s\s+ETA 30s\s+2 failed$/);
    expect(bar.length).toBeLessThanOrEqual(80);
    expect(formatStatus(progress)).toContain('UNTRAINED');
  });

  it('formats durations for people', () => {
    expect([formatDuration(5), formatDuration(65), formatDuration(3725)]).toEqual(['5s', '1m05s', '1h02m']);
  });

  it('shows a run whose chunks failed without rows as stuck, with the reason and what to do', () => {
    const stuck = [
      { chunkIndex: 3, reason: 'S3 unavailable: 503', workerId: 'w1', at: '2026-01-01T00:00:10.000Z' },
    ];
    const text = formatStatus(progressOf(status({ stuck }), Date.parse('2026-01-01T00:00:20.000Z')));
    expect(text).toMatch(/^run r1 {2}stuck: 1 chunk failed for good without its error rows written/);
    expect(text).toContain('chunk 3: S3 unavailable: 503 (w1');
    expect(text).toContain('submit the run again with the same sources and --run r1');
  });

  it('shows a run whose manifest could not be written, with the reason', () => {
    const done = { committedChunks: 10, rows: 100, finalizeError: 'EACCES: permission denied' };
    const text = formatStatus(progressOf(status(done), Date.parse('2026-01-01T00:00:20.000Z')));
    expect(text).toContain('manifest not written: EACCES: permission denied');
    expect(text).toContain('submit the run again with the same sources and --run r1');
  });
});
