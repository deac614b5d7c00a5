import { describe, expect, it } from 'vitest';
import type { RunContext } from './run-contexts.js';
import { RunContexts } from './run-contexts.js';

function contexts(options: { maxIdle?: number; idleMs?: number } = {}) {
  const loads: string[] = [];
  let now = 0;
  const runs = new RunContexts({
    ...options,
    now: () => now,
    load: async (runId) => {
      loads.push(runId);
      if (runId.startsWith('missing')) throw new Error(`no run ${runId}`);
      return { spec: { runId }, store: {}, layout: null } as unknown as RunContext;
    },
  });
  return { runs, loads, advance: (ms: number) => (now += ms) };
}

describe('RunContexts', () => {
  it('loads a run once for concurrent and later chunks', async () => {
    const { runs, loads } = contexts();
    const ids = await Promise.all([1, 2, 3].map(() => runs.use('r1', async (c) => c.spec.runId)));
    expect(ids).toEqual(['r1', 'r1', 'r1']);
    await runs.use('r1', async () => undefined);
    expect(loads).toEqual(['r1']);
  });

  it('does not keep a failed load, so the next chunk tries again', async () => {
    const { runs, loads } = contexts();
    await expect(runs.use('missing', async () => undefined)).rejects.toThrow('no run missing');
    await expect(runs.use('missing', async () => undefined)).rejects.toThrow('no run missing');
    expect(loads).toEqual(['missing', 'missing']);
    expect(runs.size).toBe(0);
  });

  it('drops contexts idle for longer than idleMs', async () => {
    const { runs, loads, advance } = contexts({ idleMs: 1_000 });
    await runs.use('old', async () => undefined);
    advance(1_500);
    await runs.use('new', async () => undefined);
    expect(runs.size).toBe(1);
    await runs.use('old', async () => undefined);
    expect(loads).toEqual(['old', 'new', 'old']);
  });

  it('keeps at most maxIdle idle contexts, dropping the least recently used, and never one in use', async () => {
    const { runs, advance } = contexts({ maxIdle: 2 });
    let finish!: () => void;
    const busy = runs.use('busy', () => new Promise<void>((resolve) => (finish = resolve)));
    for (const runId of ['a', 'b', 'c', 'd']) {
      advance(10);
      await runs.use(runId, async () => undefined);
    }
    // 'busy' is in use and 'c', 'd' are the two most recent idle ones.
    expect(runs.size).toBe(3);
    finish();
    await busy;
    expect(runs.size).toBe(2);
  });
});
