/** The use of a model by one chunk; release it exactly when the chunk is done with the model. */
export interface ModelLease<M> {
  readonly model: M;
  /** Ends the lease; later calls do nothing. */
  release(): void;
}

/** Options of a {@link ModelSlot}. */
export interface ModelSlotOptions<M> {
  /** Frees a model (closes its engine); called only once no lease on it remains. */
  close: (model: M) => Promise<void>;
}

interface Loaded<M> {
  key: string;
  model: M;
  leases: number;
  /** Resolves each waiter once `leases` drops to 0. */
  drained: (() => void)[];
}

/**
 * Holds at most one loaded model (two VGGs rarely fit a GPU, and loading is slow), lent out by lease. Every lease
 * is counted here and only here, and a model is closed only when its last lease is released: a chunk of another
 * run that needs a different model waits for that, then the slot closes the old model and loads the new one. While
 * a switch waits, no new leases are given on the old model, so the waiting run is not starved.
 */
export class ModelSlot<M> {
  readonly #close: (model: M) => Promise<void>;
  #loaded: Loaded<M> | null = null;
  /** Settles (never rejects) when the switch to another model is over. */
  #switching: Promise<void> | null = null;
  #closed = false;

  constructor(options: ModelSlotOptions<M>) {
    this.#close = options.close;
  }

  /** The loaded model, if any (for describing outputs when a chunk failed before it could lease one). */
  get current(): M | null {
    return this.#loaded?.model ?? null;
  }

  /** Number of leases held on the loaded model. */
  get leases(): number {
    return this.#loaded?.leases ?? 0;
  }

  /**
   * Leases the model for `key`, loading it with `load` when another model (or none) is loaded. Rejects with the
   * load's error; the next caller tries again.
   */
  async acquire(key: string, load: () => Promise<M>): Promise<ModelLease<M>> {
    for (;;) {
      if (this.#closed) throw new Error('The model slot is closed');
      const loaded = this.#loaded;
      if (this.#switching === null && loaded?.key === key) return this.#lease(loaded);
      if (this.#switching !== null) {
        await this.#switching;
        continue;
      }
      // The caller that starts a switch gets the first lease on the new model, so a waiting run is served in turn.
      const switching = this.#switch(key, load);
      // Waiters only need to know when the switch is over; its error goes to this caller alone.
      this.#switching = switching
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => {
          this.#switching = null;
        });
      return await switching;
    }
  }

  /** Refuses new leases, waits for the current ones to end, and closes the model. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#switching;
    const loaded = this.#loaded;
    if (loaded === null) return;
    await drained(loaded);
    this.#loaded = null;
    await this.#close(loaded.model);
  }

  async #switch(key: string, load: () => Promise<M>): Promise<ModelLease<M>> {
    const previous = this.#loaded;
    if (previous !== null) {
      await drained(previous);
      this.#loaded = null;
      await this.#close(previous.model);
    }
    const loaded: Loaded<M> = { key, model: await load(), leases: 0, drained: [] };
    this.#loaded = loaded;
    return this.#lease(loaded);
  }

  #lease(loaded: Loaded<M>): ModelLease<M> {
    loaded.leases += 1;
    let released = false;
    return {
      model: loaded.model,
      release: () => {
        if (released) return;
        released = true;
        loaded.leases -= 1;
        if (loaded.leases === 0) for (const resolve of loaded.drained.splice(0)) resolve();
      },
    };
  }
}

function drained(loaded: Loaded<unknown>): Promise<void> {
  if (loaded.leases === 0) return Promise.resolve();
  return new Promise((resolve) => loaded.drained.push(resolve));
}
