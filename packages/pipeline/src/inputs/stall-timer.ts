import { FetchError } from '../errors.js';
import type { ResolvedFetchOptions } from './fetch-options.js';

/** Collects chunks up to maxBytes, re-arming the stall timer before each chunk. */
export async function readLimited(
  chunks: AsyncIterable<Uint8Array>,
  uri: string,
  options: ResolvedFetchOptions,
  timer: StallTimer,
  cancel: () => void,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  timer.arm(options.readTimeoutMs);
  for await (const chunk of chunks) {
    total += chunk.byteLength;
    if (total > options.maxBytes) {
      cancel();
      throw new FetchError('too_large', uri, `body exceeds maxBytes ${options.maxBytes}`);
    }
    parts.push(chunk);
    timer.arm(options.readTimeoutMs);
  }
  timer.clear();
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const joined = Buffer.concat(parts, total);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
}

/**
 * An AbortSignal that fires when the caller aborts or when an armed deadline passes, remembering which, so
 * failures can be told apart: caller aborts propagate, deadlines become `timeout` FetchErrors.
 */
export class StallTimer {
  readonly #controller = new AbortController();
  readonly #parent: AbortSignal | undefined;
  readonly #onParentAbort = () => this.#controller.abort(this.#parent?.reason);
  #timeout: NodeJS.Timeout | undefined;
  timedOut = false;
  lastTimeoutMs = 0;

  constructor(parent: AbortSignal | undefined) {
    this.#parent = parent;
    if (parent?.aborted) this.#controller.abort(parent.reason);
    else parent?.addEventListener('abort', this.#onParentAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  arm(timeoutMs: number): void {
    if (this.#timeout !== undefined) clearTimeout(this.#timeout);
    this.lastTimeoutMs = timeoutMs;
    this.#timeout = setTimeout(() => {
      this.timedOut = true;
      this.#controller.abort(this.timeoutError());
    }, timeoutMs);
  }

  timeoutError(): Error {
    return Object.assign(new Error(`stalled for ${this.lastTimeoutMs} ms`), { name: 'TimeoutError' });
  }

  clear(): void {
    if (this.#timeout !== undefined) clearTimeout(this.#timeout);
    this.#timeout = undefined;
    this.#parent?.removeEventListener('abort', this.#onParentAbort);
  }
}
