import { tmpdir } from 'node:os';
import { planRun } from 'vgg-pipeline';
import { describe, expect, it } from 'vitest';
import { modelKeyOf } from './loaded-model.js';

const spec = (options: { model?: string; top?: number; taps?: string[] }) =>
  planRun({ out: tmpdir(), runId: 'r', model: '[8,M]', inputSize: 32, ...options }).spec;

describe('modelKeyOf', () => {
  it('asks for a graph with only what the run reads: probs for top-k, then its taps', () => {
    expect(modelKeyOf(spec({ top: 5, taps: ['fc7', 'pool5'] })).outputs).toEqual(['fc7', 'pool5', 'probs']);
    expect(modelKeyOf(spec({ top: 1 })).outputs).toEqual(['probs']);
    expect(modelKeyOf(spec({ taps: ['pool5', 'fc7'] })).key).toBe(
      modelKeyOf(spec({ taps: ['fc7', 'pool5'] })).key,
    );
  });

  it('shares a loaded graph that declares what the run reads', () => {
    const loaded = modelKeyOf(spec({ taps: ['fc7', 'pool5'] }));
    expect(modelKeyOf(spec({ taps: ['pool5'] }), { choice: loaded, leases: 1 })).toBe(loaded);
  });

  it('widens a graph in use by other runs, and narrows an idle one', () => {
    const loaded = modelKeyOf(spec({ taps: ['fc7'] }));
    expect(modelKeyOf(spec({ taps: ['pool5'] }), { choice: loaded, leases: 2 }).outputs).toEqual([
      'fc7',
      'pool5',
      'probs',
    ]);
    expect(modelKeyOf(spec({ taps: ['pool5'] }), { choice: loaded, leases: 0 }).outputs).toEqual([
      'pool5',
      'probs',
    ]);
  });

  it('never shares across models', () => {
    const loaded = modelKeyOf(spec({ taps: ['fc7'] }));
    const other = modelKeyOf(spec({ model: '[16,M]', taps: ['fc7'] }), { choice: loaded, leases: 3 });
    expect(other.key).not.toBe(loaded.key);
    expect(other.outputs).toEqual(['fc7', 'probs']);
  });
});
