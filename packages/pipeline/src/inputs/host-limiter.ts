import { schemeOf } from '../uri.js';

/** Options of {@link HostLimiter}. */
export interface HostLimiterOptions {
  /** Requests in flight to one http(s) host (name and port) at most. */
  perHost: number;
}

interface Host {
  active: number;
  waiting: (() => void)[];
  /** No request starts before this time (ms since the epoch): the host asked to be left alone (Retry-After). */
  pausedUntilMs: number;
}

/**
 * Politeness towards the http(s) hosts inputs come from: at most `perHost` requests in flight per host, and a
 * host that answered 429 or 503 with Retry-After gets no request until that time has passed. Other inputs (local
 * files, S3) pass straight through; S3 has its own adaptive retries.
 */
export class HostLimiter {
  readonly #perHost: number;
  readonly #hosts = new Map<string, Host>();

  constructor(options: HostLimiterOptions) {
    this.#perHost = options.perHost;
  }

  /** Runs `task` once the input's host has a free slot and is not paused; the slot is held until it settles. */
  async run<T>(uri: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const name = hostOf(uri);
    if (name === null) return task();
    const host = this.#host(name);
    while (host.active >= this.#perHost) {
      await new Promise<void>((resolve) => host.waiting.push(resolve));
    }
    host.active++;
    try {
      const waitMs = host.pausedUntilMs - Date.now();
      if (waitMs > 0) await sleep(waitMs, signal);
      return await task();
    } finally {
      host.active--;
      host.waiting.shift()?.();
      if (host.active === 0 && host.waiting.length === 0 && host.pausedUntilMs <= Date.now()) {
        this.#hosts.delete(name);
      }
    }
  }

  /** Holds every request to the input's host for `ms` from now (the server's Retry-After). */
  pause(uri: string, ms: number): void {
    const name = hostOf(uri);
    if (name === null) return;
    const host = this.#host(name);
    host.pausedUntilMs = Math.max(host.pausedUntilMs, Date.now() + ms);
  }

  #host(name: string): Host {
    let host = this.#hosts.get(name);
    if (host === undefined) {
      host = { active: 0, waiting: [], pausedUntilMs: 0 };
      this.#hosts.set(name, host);
    }
    return host;
  }
}

function hostOf(uri: string): string | null {
  const scheme = schemeOf(uri);
  if (scheme !== 'http' && scheme !== 'https') return null;
  try {
    return new URL(uri).host.toLowerCase();
  } catch {
    return null;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
