import type { S3Client } from '@aws-sdk/client-s3';
import pLimit, { type LimitFunction } from 'p-limit';
import {
  decodeImage,
  imageDecodeThreads,
  isVggError,
  type ResolvedPreprocessOptions,
  startImageDecoders,
} from 'vgg-core';
import {
  type FetchedInput,
  type FetchInputOptions,
  fetchInput,
  type HostLimiter,
  type InputGuard,
  isPipelineError,
} from 'vgg-pipeline';
import type { ImageInference } from './batch-scheduler.js';
import type { BudgetHold, ByteBudget } from './byte-budget.js';
import type { DedupCache, ImageOutcome } from './dedup-cache.js';
import { errorRow, type RowResult } from './chunk-rows.js';
import { addStageMs, type WorkerStats } from './stats.js';

/** Options of {@link ImageStages}. */
export interface ImageStagesOptions {
  s3: S3Client;
  /** What local files and network addresses inputs may reach. */
  guard: Pick<InputGuard, 'checkLocal' | 'dispatcher'>;
  fetchConcurrency: number;
  decodeConcurrency: number;
  /** Images fetched or decoded but not yet inferred, across chunks; bounds memory. */
  maxQueuedImages: number;
  maxInputBytes: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  /** Tries per input on transient fetch failures (5xx, resets, timeouts). */
  fetchAttempts: number;
  stats: WorkerStats;
  /** Fetches one input; replaceable in tests. Default fetchInput. */
  fetch?: (uri: string, options: FetchInputOptions) => Promise<FetchedInput>;
  /** Waits before retry `attempt` of a fetch. Default: exponential backoff with full jitter, at most 5 s. */
  backoff?: (attempt: number) => Promise<void>;
  /** Per-host limits and Retry-After pauses for http(s) inputs. Default: none. */
  hosts?: HostLimiter;
  /** The longest Retry-After honoured, in ms; longer ones fail the input. Default 60_000. */
  maxRetryAfterMs?: number;
  /** Results by sha256, so identical bytes are inferred once per run. Default: none. */
  dedup?: DedupCache;
  /**
   * Bounds the input bytes held: a download holds --max-input-bytes until its size is known, then its size until
   * it is decoded. Default: none.
   */
  budget?: ByteBudget;
}

/** How one chunk's images are turned into rows. */
export interface ImageRequest {
  preprocess: ResolvedPreprocessOptions;
  /** Runs one decoded crop through the model (a BatchScheduler of the chunk's model). */
  infer: (pixels: Uint8Array) => Promise<ImageInference>;
  /** Aborts the chunk's fetches; in-flight stages then reject with the signal's reason. */
  signal: AbortSignal;
  /** Where identical bytes may share one result (the run id); default: no sharing. */
  dedupScope?: string;
}

/**
 * The per-image stages of a chunk: fetch (guarded, retried when transient), decode, infer. Concurrency limits are
 * shared by every chunk of the worker. A bad input is a row with a reason code, never a failed chunk; anything
 * else (an abort, an inference failure) rejects the chunk.
 */
export class ImageStages {
  readonly #options: ImageStagesOptions;
  readonly #fetch: (uri: string, options: FetchInputOptions) => Promise<FetchedInput>;
  readonly #backoff: (attempt: number) => Promise<void>;
  readonly #fetchLimit: LimitFunction;
  readonly #decodeLimit: LimitFunction;
  readonly #queuedLimit: LimitFunction;

  constructor(options: ImageStagesOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? fetchInput;
    this.#backoff = options.backoff ?? jitteredBackoff;
    this.#fetchLimit = pLimit(options.fetchConcurrency);
    this.#decodeLimit = pLimit(options.decodeConcurrency);
    // A decode thread per concurrent decode (vgg-core's pool is process-wide; its default is every core, too many
    // where `vgg-worker --gpus` splits the cores between workers), started now so that their start-up overlaps the
    // model load instead of delaying the first images.
    imageDecodeThreads(options.decodeConcurrency);
    startImageDecoders();
    this.#queuedLimit = pLimit(options.maxQueuedImages);
  }

  /** One row per URI, in order. */
  run(uris: readonly string[], request: ImageRequest): Promise<RowResult[]> {
    return Promise.all(uris.map((uri) => this.#queuedLimit(() => this.#image(uri, request))));
  }

  /**
   * The row of an input whose bytes were read already (a tar member): decoded and inferred as {@link run} does
   * after fetching, within the same limits.
   */
  fromBytes(
    uri: string,
    fetched: FetchedInput,
    request: ImageRequest,
    hold?: BudgetHold,
  ): Promise<RowResult> {
    return this.#queuedLimit(() => this.#decodeAndInfer(uri, fetched, request, hold));
  }

  async #image(uri: string, request: ImageRequest): Promise<RowResult> {
    const { stats } = this.#options;
    request.signal.throwIfAborted();
    // Each attempt holds what its body can take before reading it: the declared size when the server or the file
    // system gives one (so small images are not held back by room kept for the largest allowed), else the cap.
    const budget = this.#options.budget;
    let hold: BudgetHold | undefined;
    const reserve =
      budget &&
      (async (bytes: number) => {
        hold?.release();
        hold = await budget.acquire(INPUT_COPIES * bytes, request.signal);
      });
    const started = performance.now();
    let fetched: FetchedInput;
    try {
      fetched = await this.#fetchLimit(() => this.#fetchWithRetry(uri, request.signal, reserve));
    } catch (error) {
      hold?.release();
      if (isPipelineError(error, 'FETCH_FAILED')) return errorRow(uri, error.reason);
      throw error;
    } finally {
      addStageMs(stats, 'fetch', performance.now() - started);
    }
    // What was read may differ from what was declared (a server that lied, a file that changed).
    hold?.resize(INPUT_COPIES * fetched.bytes.byteLength);
    return this.#decodeAndInfer(uri, fetched, request, hold);
  }

  async #decodeAndInfer(
    uri: string,
    fetched: FetchedInput,
    request: ImageRequest,
    hold: BudgetHold | undefined,
  ): Promise<RowResult> {
    try {
      request.signal.throwIfAborted();
      const { dedup } = this.#options;
      if (dedup === undefined || request.dedupScope === undefined) {
        return { uri, ...(await this.#outcome(fetched, request, hold)) };
      }
      const { outcome, reused } = await dedup.share(request.dedupScope, fetched.sha256, () =>
        this.#outcome(fetched, request, hold),
      );
      return reused ? { uri, ...outcome, duplicate: true } : { uri, ...outcome };
    } finally {
      hold?.release();
    }
  }

  async #outcome(
    fetched: FetchedInput,
    request: ImageRequest,
    hold: BudgetHold | undefined,
  ): Promise<ImageOutcome> {
    const { stats } = this.#options;
    let started = performance.now();
    let decoded: Awaited<ReturnType<typeof decodeImage>>;
    try {
      decoded = await this.#decodeLimit(() => decodeImage(fetched.bytes, request.preprocess));
      // Decoded: the raw bytes are no longer needed (the crop is small), however long inference takes.
      hold?.release();
    } catch (error) {
      if (isVggError(error, 'VGG_IMAGE_DECODE')) {
        const { uri: _uri, ...failed } = errorRow('', error.reason, fetched.sha256);
        return failed;
      }
      throw error;
    } finally {
      addStageMs(stats, 'decode', performance.now() - started);
    }
    started = performance.now();
    const inference = await request.infer(decoded.pixels);
    addStageMs(stats, 'wait', performance.now() - started);
    return {
      status: 'ok',
      error: null,
      width: decoded.width,
      height: decoded.height,
      sha256: fetched.sha256,
      classIds: inference.classIds,
      probs: inference.probs,
      embeddings: inference.embeddings,
    };
  }

  async #fetchWithRetry(
    uri: string,
    signal: AbortSignal,
    reserve: ((bytes: number) => Promise<void>) | undefined,
  ): Promise<FetchedInput> {
    const o = this.#options;
    await o.guard.checkLocal(uri);
    const options: FetchInputOptions = {
      ...(reserve && { reserve }),
      s3: o.s3,
      maxBytes: o.maxInputBytes,
      connectTimeoutMs: o.connectTimeoutMs,
      readTimeoutMs: o.readTimeoutMs,
      dispatcher: o.guard.dispatcher,
      signal,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const fetch = () => this.#fetch(uri, options);
        return await (o.hosts ? o.hosts.run(uri, fetch, signal) : fetch());
      } catch (error) {
        if (!isPipelineError(error, 'FETCH_FAILED') || !error.transient || attempt >= o.fetchAttempts)
          throw error;
        const retryAfterMs = error.retryAfterMs;
        if (retryAfterMs !== undefined && o.hosts !== undefined) {
          // The server said when to come back: the whole host waits (no backoff on top); too long a wait fails the
          // input now, for retry-failed later, rather than holding the chunk.
          if (retryAfterMs > (o.maxRetryAfterMs ?? 60_000)) throw error;
          o.hosts.pause(uri, retryAfterMs);
          continue;
        }
        await this.#backoff(attempt);
      }
    }
  }
}

/**
 * Copies of an input's bytes alive at once, as the budget counts them: a download's chunks and the assembled
 * buffer, then the buffer and the copy transferred to a decode thread.
 */
export const INPUT_COPIES = 2;

/** Exponential backoff with full jitter, so many workers hitting one slow host spread out. */
function jitteredBackoff(attempt: number): Promise<void> {
  const delayMs = Math.random() * Math.min(5_000, 250 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, delayMs));
}
