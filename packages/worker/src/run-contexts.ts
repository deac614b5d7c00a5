import type { ObjectStore, RunSpec } from 'vgg-pipeline';
import type { ColumnLayout } from './chunk-rows.js';

/** What a worker keeps about one run between its chunks. */
export interface RunContext {
  spec: RunSpec;
  /** The run's output directory, `<out>/<runId>/`. */
  store: ObjectStore;
  /**
   * The shard layout of the run's first committed chunk, so every shard of a run has the same columns (also the
   * error-only shard of a chunk that failed before a model loaded).
   */
  layout: ColumnLayout | null;
}

/** Options of {@link RunContexts}. */
export interface RunContextsOptions {
  /** Reads a run's spec and opens its outputs; a rejection is not cached. */
  load: (runId: string) => Promise<RunContext>;
  /** Idle contexts kept at most; the least recently used go first. Default 64. */
  maxIdle?: number;
  /** A context unused this long is dropped, in ms. Default 10 minutes. */
  idleMs?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

interface Entry {
  context: Promise<RunContext>;
  users: number;
  lastUsedMs: number;
}

/**
 * The run contexts of a worker, bounded: a worker that serves many runs over its life keeps only those it uses,
 * dropping idle ones by age and count. A context in use is never dropped.
 */
export class RunContexts {
  readonly #load: (runId: string) => Promise<RunContext>;
  readonly #maxIdle: number;
  readonly #idleMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(options: RunContextsOptions) {
    this.#load = options.load;
    this.#maxIdle = options.maxIdle ?? 64;
    this.#idleMs = options.idleMs ?? 10 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Runs whose context is held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Runs `fn` with the context of `runId`, loading it first when needed. */
  async use<T>(runId: string, fn: (context: RunContext) => Promise<T>): Promise<T> {
    let entry = this.#entries.get(runId);
    if (entry === undefined) {
      const context = this.#load(runId);
      const created: Entry = { context, users: 0, lastUsedMs: this.#now() };
      context.catch(() => {
        if (this.#entries.get(runId) === created) this.#entries.delete(runId);
      });
      this.#entries.set(runId, created);
      entry = created;
    }
    entry.users += 1;
    try {
      return await fn(await entry.context);
    } finally {
      entry.users -= 1;
      entry.lastUsedMs = this.#now();
      this.#evict();
    }
  }

  #evict(): void {
    const now = this.#now();
    const idle = [...this.#entries].filter(([, entry]) => entry.users === 0);
    for (const [runId, entry] of idle) {
      if (now - entry.lastUsedMs >= this.#idleMs) this.#entries.delete(runId);
    }
    const kept = idle.filter(([runId]) => this.#entries.has(runId));
    kept.sort((a, b) => a[1].lastUsedMs - b[1].lastUsedMs);
    for (const [runId] of kept.slice(0, Math.max(0, kept.length - this.#maxIdle)))
      this.#entries.delete(runId);
  }
}
