import { describe, expect, it } from 'vitest';
import { ModelSlot } from './model-slot.js';

/** A stand-in engine: counts runs, and refuses to run once closed, as InferenceEngine does. */
class FakeEngine {
  closed = false;
  constructor(readonly name: string) {}
  run(): string {
    if (this.closed) throw new Error('The inference engine is closed');
    return this.name;
  }
}

function slotWithLog() {
  const log: string[] = [];
  let loads = 0;
  const slot = new ModelSlot<FakeEngine>({
    close: async (engine) => {
      log.push(`close ${engine.name}`);
      engine.closed = true;
    },
  });
  const load = (key: string) => async () => {
    loads += 1;
    log.push(`load ${key}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
    return new FakeEngine(`${key}#${loads}`);
  };
  return { slot, log, load };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('ModelSlot', () => {
  it('never closes an engine a lease still uses when another run needs another model', async () => {
    const { slot, log, load } = slotWithLog();
    const a = await slot.acquire('A', load('A'));
    const b = slot.acquire('B', load('B'));
    await tick();
    // A's chunk is still running its batches: its engine must keep working.
    expect(a.model.run()).toBe('A#1');
    expect(log).toEqual(['load A']);
    a.release();
    const leaseB = await b;
    expect(log).toEqual(['load A', 'close A#1', 'load B']);
    expect(leaseB.model.run()).toBe('B#2');
    leaseB.release();
  });

  it('loads a fresh model when a run comes back after another model was loaded (A, B, A)', async () => {
    const { slot, load } = slotWithLog();
    const first = await slot.acquire('A', load('A'));
    first.release();
    (await slot.acquire('B', load('B'))).release();
    const again = await slot.acquire('A', load('A'));
    expect(first.model.closed).toBe(true);
    expect(again.model).not.toBe(first.model);
    expect(again.model.run()).toBe('A#3');
    again.release();
  });

  it('shares one model between leases of the same key and counts each lease once', async () => {
    const { slot, log, load } = slotWithLog();
    const [x, y] = await Promise.all([slot.acquire('A', load('A')), slot.acquire('A', load('A'))]);
    expect(x.model).toBe(y.model);
    expect(slot.leases).toBe(2);
    x.release();
    x.release();
    expect(slot.leases).toBe(1);
    y.release();
    expect(slot.leases).toBe(0);
    expect(log).toEqual(['load A']);
  });

  it('gives no new leases on the old model while a switch waits, so the waiting run is not starved', async () => {
    const { slot, load } = slotWithLog();
    const a = await slot.acquire('A', load('A'));
    const b = slot.acquire('B', load('B'));
    await tick();
    let moreA = false;
    const a2 = slot.acquire('A', load('A')).then((lease) => {
      moreA = true;
      return lease;
    });
    await tick();
    expect(moreA).toBe(false);
    a.release();
    const leaseB = await b;
    expect(leaseB.model.name).toBe('B#2');
    leaseB.release();
    const leaseA2 = await a2;
    expect(leaseA2.model.name).toBe('A#3');
    leaseA2.release();
  });

  it('passes a failed load to its caller and lets the next caller try again', async () => {
    const { slot, load } = slotWithLog();
    await expect(
      slot.acquire('A', async () => {
        throw new Error('weights missing');
      }),
    ).rejects.toThrow('weights missing');
    const lease = await slot.acquire('A', load('A'));
    expect(lease.model.run()).toBe('A#1');
    lease.release();
  });

  it('closes its model only after the last lease is released, and refuses new leases', async () => {
    const { slot, log, load } = slotWithLog();
    const lease = await slot.acquire('A', load('A'));
    const closing = slot.close();
    await tick();
    expect(log).toEqual(['load A']);
    await expect(slot.acquire('A', load('A'))).rejects.toThrow('closed');
    lease.release();
    await closing;
    expect(log).toEqual(['load A', 'close A#1']);
  });
});
