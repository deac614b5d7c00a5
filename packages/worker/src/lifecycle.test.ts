import { describe, expect, it } from 'vitest';
import { Lifecycle } from './lifecycle.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const never = () => new Promise<void>(() => undefined);

function recorder() {
  const calls: string[] = [];
  const warnings: string[] = [];
  const step =
    (name: string, run: () => Promise<void> = async () => undefined) =>
    async () => {
      calls.push(name);
      await run();
    };
  return { calls, warnings, step, onWarning: (message: string) => warnings.push(message) };
}

describe('Lifecycle', () => {
  it('closes gracefully within the deadline, then releases, moving running -> closing -> closed', async () => {
    const r = recorder();
    const lifecycle = new Lifecycle(
      {
        graceful: r.step('graceful', () => sleep(10)),
        force: r.step('force'),
        release: [['a', r.step('a')]],
      },
      { onWarning: r.onWarning },
    );
    expect(lifecycle.state).toBe('running');
    const closing = lifecycle.close(1_000);
    expect(lifecycle.state).toBe('closing');
    await closing;
    expect(lifecycle.state).toBe('closed');
    expect(r.calls).toEqual(['graceful', 'a']);
    expect(r.warnings).toEqual([]);
  });

  it('is memoised: every call gets the first close, which runs once', async () => {
    const r = recorder();
    const lifecycle = new Lifecycle(
      { graceful: r.step('graceful', () => sleep(20)), force: r.step('force'), release: [] },
      { onWarning: r.onWarning },
    );
    const first = lifecycle.close(1_000);
    const second = lifecycle.close(5);
    expect(second).toBe(first);
    await Promise.all([first, second]);
    expect(r.calls).toEqual(['graceful']);
  });

  it('forces at the deadline when graceful work overruns', async () => {
    const r = recorder();
    let release!: () => void;
    const graceful = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lifecycle = new Lifecycle(
      {
        graceful: r.step('graceful', () => graceful),
        force: r.step('force', async () => release()),
        release: [],
      },
      { onWarning: r.onWarning },
    );
    const started = performance.now();
    await lifecycle.close(50);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(r.calls).toEqual(['graceful', 'force']);
    expect(r.warnings).toEqual([]);
  });

  it('never rejects: a failing step is reported and the other steps still run', async () => {
    const r = recorder();
    const fail = async () => {
      throw new Error('boom');
    };
    const lifecycle = new Lifecycle(
      {
        graceful: r.step('graceful', fail),
        force: r.step('force'),
        release: [
          ['a', fail],
          ['b', r.step('b')],
        ],
      },
      { onWarning: r.onWarning },
    );
    await expect(lifecycle.close(1_000)).resolves.toBeUndefined();
    expect(r.calls).toEqual(['graceful', 'b']);
    expect(r.warnings).toEqual(['graceful close failed: boom', 'a failed: boom']);
    expect(lifecycle.state).toBe('closed');
  });

  it('settles within the deadline plus the overrun, even when every step hangs', async () => {
    const r = recorder();
    let forceBudgetMs = -1;
    const lifecycle = new Lifecycle(
      {
        graceful: never,
        force: (budgetMs) => {
          forceBudgetMs = budgetMs;
          return never();
        },
        release: [
          ['quit redis', never],
          ['close engine', never],
        ],
      },
      { onWarning: r.onWarning, overrunMs: 80 },
    );
    const started = performance.now();
    await lifecycle.close(30);
    const elapsed = performance.now() - started;
    expect(forceBudgetMs).toBe(40);
    expect(elapsed).toBeGreaterThanOrEqual(105);
    // Deadline 30 + overrun 80, plus timer slack; it used to be the deadline plus two full step timeouts.
    expect(elapsed).toBeLessThan(400);
    expect(r.warnings).toEqual([
      'work still running 40 ms after the close deadline; closing anyway',
      'quit redis did not finish within the close deadline; skipped',
      'close engine did not finish within the close deadline; skipped',
    ]);
    expect(lifecycle.state).toBe('closed');
  });

  it('gives release steps only what is left of the overrun after a forced stop', async () => {
    const r = recorder();
    const lifecycle = new Lifecycle(
      { graceful: never, force: never, release: [['quit redis', never]] },
      { onWarning: r.onWarning, overrunMs: 200 },
    );
    const started = performance.now();
    await lifecycle.close(50);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(245);
    expect(elapsed).toBeLessThan(600);
  });
});
