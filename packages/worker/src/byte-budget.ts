/** Bytes held against a {@link ByteBudget}; resize it once the real size is known, release it once. */
export interface BudgetHold {
  readonly bytes: number;
  /** Changes what is held (a download reserved at its cap shrinks to its size); growing never waits. */
  resize(bytes: number): void;
  /** Gives the bytes back; later calls do nothing. */
  release(): void;
}

/** Options of a {@link ByteBudget}. */
export interface ByteBudgetOptions {
  /** What the process should stay under, in bytes. */
  limitBytes: number;
  /**
   * What the process uses besides the holds (runtime, model, results), in bytes. Default: resident memory less
   * what is held, sampled when the budget is made, on {@link ByteBudget.measureBaseline} and whenever nothing is
   * held.
   */
  baselineBytes?: () => number;
}

/** The share of the room beside the baseline left for input buffers released but not yet collected. */
const GARBAGE_HEADROOM = 0.25;

interface Waiter {
  bytes: number;
  resolve: (hold: BudgetHold) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * A byte budget for the input data a worker holds (downloads, images waiting for decode, tar members read ahead):
 * holders wait, first come first served, until their bytes fit beside the process's baseline under the limit.
 * When nothing is held, one holder is let in whatever its size, so the worker always makes progress.
 */
export class ByteBudget {
  readonly limitBytes: number;
  readonly #measure: () => number;
  readonly #waiting: Waiter[] = [];
  #held = 0;
  #baseline: number;
  #peakHeld = 0;

  constructor(options: ByteBudgetOptions) {
    this.limitBytes = options.limitBytes;
    this.#measure = options.baselineBytes ?? (() => Math.max(0, process.memoryUsage.rss() - this.#held));
    this.#baseline = this.#measure();
  }

  /** Bytes held now. */
  get heldBytes(): number {
    return this.#held;
  }

  /** The most bytes held at once so far. */
  get peakHeldBytes(): number {
    return this.#peakHeld;
  }

  /** What the process was using besides the holds, at the last measurement. */
  get baselineBytes(): number {
    return this.#baseline;
  }

  /** Re-measures the baseline (after a model loaded, say). */
  measureBaseline(): void {
    this.#baseline = this.#measure();
    this.#admit();
  }

  /** Waits until `bytes` fit, then holds them. Rejects with the signal's reason if it aborts first. */
  acquire(bytes: number, signal?: AbortSignal): Promise<BudgetHold> {
    signal?.throwIfAborted();
    if (this.#waiting.length === 0 && this.#fits(bytes)) return Promise.resolve(this.#hold(bytes));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#waiting.indexOf(waiter);
          if (at >= 0) this.#waiting.splice(at, 1);
          reject(signal?.reason);
          this.#admit();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #fits(bytes: number): boolean {
    // Released buffers go back to the OS only after a garbage collection: keep part of the room for them.
    const room = (this.limitBytes - this.#baseline) * (1 - GARBAGE_HEADROOM);
    return this.#held === 0 || this.#held + bytes <= room;
  }

  #hold(initial: number): BudgetHold {
    let bytes = initial;
    let released = false;
    this.#add(bytes);
    return {
      get bytes() {
        return bytes;
      },
      resize: (next) => {
        if (released) return;
        this.#add(next - bytes);
        bytes = next;
        this.#admit();
      },
      release: () => {
        if (released) return;
        released = true;
        this.#add(-bytes);
        if (this.#held === 0) this.#baseline = this.#measure();
        this.#admit();
      },
    };
  }

  #add(delta: number): void {
    this.#held += delta;
    this.#peakHeld = Math.max(this.#peakHeld, this.#held);
  }

  /** Lets waiters in, in order, while the first one fits. */
  #admit(): void {
    for (;;) {
      const next = this.#waiting[0];
      if (next === undefined || !this.#fits(next.bytes)) return;
      this.#waiting.shift();
      next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve(this.#hold(next.bytes));
    }
  }
}
