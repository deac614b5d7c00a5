/** A worker's states, in order: it only moves forward. */
export type LifecycleState = 'running' | 'closing' | 'closed';

/** What closing a worker does, step by step. */
export interface CloseSteps {
  /** Stops taking work and lets the work in flight finish. */
  graceful: () => Promise<void>;
  /**
   * Runs when `graceful` has not finished by the deadline: stop the work in flight and hand it back. It gets
   * `budgetMs` (half the overrun) before close() moves on to the release steps regardless.
   */
  force: (budgetMs: number) => Promise<void>;
  /** Releases resources once work has stopped (engines, threads, connections); they run side by side. */
  release: readonly (readonly [name: string, step: () => Promise<void>])[];
}

/** Options of a {@link Lifecycle}. */
export interface LifecycleOptions {
  /** Receives steps that failed or overran; close() itself never rejects. */
  onWarning: (message: string) => void;
  /**
   * How long close() may run past its deadline, in ms: the forced stop gets the first half, the release steps
   * what is left. Default 1500. Any step can hang on a server that does not answer (a Redis QUIT while Redis is
   * frozen, an S3 PUT to a host that accepts and never replies); the process must still stop on time.
   */
  overrunMs?: number;
}

/**
 * The lifecycle of a long-running worker, as BullMQ's Worker.close and Temporal's worker shutdown have it: an
 * explicit state, and a close() that is memoised (every call gets the first call's promise), tolerant of failures
 * (a failing step is reported and the others still run), graceful first and forced at a deadline, and bounded: it
 * settles within the deadline plus `overrunMs`, whatever the servers behind the steps do.
 */
export class Lifecycle {
  readonly #steps: CloseSteps;
  readonly #onWarning: (message: string) => void;
  readonly #overrunMs: number;
  #state: LifecycleState = 'running';
  #closing: Promise<void> | null = null;

  constructor(steps: CloseSteps, options: LifecycleOptions) {
    this.#steps = steps;
    this.#onWarning = options.onWarning;
    this.#overrunMs = options.overrunMs ?? DEFAULT_OVERRUN_MS;
  }

  get state(): LifecycleState {
    return this.#state;
  }

  /** Closes: `graceful` until `deadlineMs`, then `force`, then every release step. Never rejects. */
  close(deadlineMs: number): Promise<void> {
    this.#closing ??= this.#close(deadlineMs);
    return this.#closing;
  }

  async #close(deadlineMs: number): Promise<void> {
    const end = performance.now() + deadlineMs + this.#overrunMs;
    this.#state = 'closing';
    const graceful = this.#steps.graceful().catch((error: unknown) => this.#warn('graceful close', error));
    if ((await within(graceful, deadlineMs)) === 'timeout') {
      const budgetMs = Math.floor(this.#overrunMs / 2);
      const forced = this.#steps.force(budgetMs).catch((error: unknown) => this.#warn('forced close', error));
      if ((await within(Promise.all([graceful, forced]), budgetMs)) === 'timeout') {
        this.#onWarning(`work still running ${budgetMs} ms after the close deadline; closing anyway`);
      }
    }
    const leftMs = Math.max(0, end - performance.now());
    await Promise.all(
      this.#steps.release.map(async ([name, step]) => {
        const done = step().catch((error: unknown) => this.#warn(name, error));
        if ((await within(done, leftMs)) === 'timeout') {
          this.#onWarning(`${name} did not finish within the close deadline; skipped`);
        }
      }),
    );
    this.#state = 'closed';
  }

  #warn(step: string, error: unknown): void {
    this.#onWarning(`${step} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Default of {@link LifecycleOptions.overrunMs}. */
export const DEFAULT_OVERRUN_MS = 1_500;

/** Waits for `promise` at most `ms`; says which came first. */
async function within(promise: Promise<unknown>, ms: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise.then(() => 'done' as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `promise` (settled either way) or `ms`, whichever comes first. */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, Math.max(0, ms));
    }),
  ]);
  clearTimeout(timer);
}
