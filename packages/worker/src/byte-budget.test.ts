import { describe, expect, it } from 'vitest';
import { ByteBudget } from './byte-budget.js';

const MiB = 1024 * 1024;
const flush = () => new Promise((r) => setImmediate(r));

describe('ByteBudget', () => {
  it('holds holders back until their bytes fit beside the baseline, with a quarter of the room kept for garbage', async () => {
    const budget = new ByteBudget({ limitBytes: 120 * MiB, baselineBytes: () => 40 * MiB });
    const a = await budget.acquire(30 * MiB);
    const b = await budget.acquire(30 * MiB);
    let admitted = false;
    const c = budget.acquire(10 * MiB).then((hold) => {
      admitted = true;
      return hold;
    });
    await flush();
    expect(admitted).toBe(false);
    expect(budget.heldBytes).toBe(60 * MiB);
    a.release();
    await flush();
    expect(admitted).toBe(true);
    expect(budget.heldBytes).toBe(40 * MiB);
    b.release();
    (await c).release();
    expect(budget.heldBytes).toBe(0);
    expect(budget.peakHeldBytes).toBe(60 * MiB);
  });

  it('lets one holder in when nothing is held, whatever its size, so work always progresses', async () => {
    const budget = new ByteBudget({ limitBytes: 10 * MiB, baselineBytes: () => 50 * MiB });
    const big = await budget.acquire(64 * MiB);
    expect(budget.heldBytes).toBe(64 * MiB);
    let second = false;
    void budget.acquire(1).then(() => {
      second = true;
    });
    await flush();
    expect(second).toBe(false);
    big.release();
    await flush();
    expect(second).toBe(true);
  });

  it('admits in order: a small holder does not overtake a large one that waits', async () => {
    const budget = new ByteBudget({ limitBytes: 100 * MiB, baselineBytes: () => 0 });
    const first = await budget.acquire(60 * MiB);
    const order: string[] = [];
    const large = budget.acquire(60 * MiB).then((h) => {
      order.push('large');
      return h;
    });
    const small = budget.acquire(10 * MiB).then((h) => {
      order.push('small');
      return h;
    });
    await flush();
    expect(order).toEqual([]);
    first.release();
    await Promise.all([large, small]);
    expect(order).toEqual(['large', 'small']);
  });

  it('shrinks a reservation to the real size, letting waiters in', async () => {
    const budget = new ByteBudget({ limitBytes: 160 * MiB, baselineBytes: () => 0 });
    const download = await budget.acquire(64 * MiB);
    const waiting = budget.acquire(64 * MiB);
    download.resize(1 * MiB);
    const hold = await waiting;
    expect(budget.heldBytes).toBe(65 * MiB);
    hold.release();
    download.release();
    download.release();
    expect(budget.heldBytes).toBe(0);
  });

  it('rejects a waiter whose signal aborts, and forgets it', async () => {
    const budget = new ByteBudget({ limitBytes: 10, baselineBytes: () => 0 });
    const held = await budget.acquire(10);
    const abort = new AbortController();
    const waiting = budget.acquire(5, abort.signal);
    abort.abort(new Error('worker shutting down'));
    await expect(waiting).rejects.toThrow('worker shutting down');
    held.release();
    expect(budget.heldBytes).toBe(0);
  });
});
