// The pool of threads that decode images. PIL's resample and the BMP/Netpbm decoders are JavaScript and take
// milliseconds to tens of milliseconds per image; on the caller's thread they would stall the event loop that
// keeps BullMQ's locks alive. sharp's own work runs on libuv's pool either way.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
// On glibc the main thread must load sharp before worker threads do, so its shared libraries stay loaded until
// every thread has finished (sharp's documentation, "worker threads").
import 'sharp';
import { ImageDecodeError, invalidOption, VggError } from '../errors.js';
import type { ResolvedPreprocessOptions } from '../preprocess-options.js';
import type { DecodedImage } from './decoded-image.js';
import type { DecodeOutcome, DecodeTask } from './decode-thread.js';

let threads = availableParallelism();
let pool: Piscina<DecodeTask, DecodeOutcome> | null = null;

/**
 * Gets or sets how many threads decode images (process-wide, like sharp.concurrency()). Default: the number of
 * CPUs. Setting it replaces the pool; decodes already running finish on the old one.
 */
export function imageDecodeThreads(count?: number): number {
  if (count !== undefined) {
    if (!Number.isSafeInteger(count) || count < 1) throw invalidOption('threads', 'positive integer', count);
    if (count !== threads) {
      threads = count;
      const old = pool;
      pool = null;
      void old?.close();
    }
  }
  return threads;
}

/**
 * Starts the decode threads now rather than on the first decode. Each thread loads sharp and the decoders when it
 * starts (a few hundred ms on a busy core); started early, that overlaps other start-up work such as a model load
 * instead of delaying the first images.
 */
export function startImageDecoders(): void {
  getPool();
}

function getPool(): Piscina<DecodeTask, DecodeOutcome> {
  pool ??= new Piscina<DecodeTask, DecodeOutcome>({
    filename: threadScript(),
    minThreads: threads,
    maxThreads: threads,
    // One image per thread at a time, so a timeout that ends a thread ends only its own image.
    concurrentTasksPerWorker: 1,
    // Idle threads are unref'd by piscina, so the pool never keeps a process alive.
    idleTimeout: 30_000,
  });
  return pool;
}

// Images are handed to the pool only when a thread is free, so a decode's timeout counts its own work, not the
// time it waited behind others.
let running = 0;
const waiting: (() => void)[] = [];

async function acquireThread(): Promise<void> {
  if (running < threads) {
    running += 1;
    return;
  }
  await new Promise<void>((resolve) => waiting.push(resolve));
}

function releaseThread(): void {
  const next = waiting.shift();
  // The slot passes straight to the next waiter.
  if (next) next();
  else running -= 1;
}

/** Decodes in a pool thread. Fails only with ImageDecodeError. */
export async function decodeInPool(
  bytes: Uint8Array,
  options: ResolvedPreprocessOptions,
): Promise<DecodedImage> {
  // A copy in its own ArrayBuffer, transferred: posting a view would copy the whole ArrayBuffer behind it. Not
  // Buffer#slice, which is a view: transferring its memory detaches the caller's bytes (and every Buffer sharing
  // Node's pool), and Node 22+ refuses pooled and native (sharp) memory with DataCloneError.
  const own = new Uint8Array(bytes);
  await acquireThread();
  // A backstop behind sharp's own timeout: piscina ends a thread stuck in JavaScript.
  const signal =
    options.timeoutSeconds > 0 ? AbortSignal.timeout(options.timeoutSeconds * 1000 + 1000) : null;
  let outcome: DecodeOutcome;
  try {
    outcome = await getPool().run({ bytes: own, options }, { transferList: [own.buffer], signal });
  } catch (error) {
    if (signal?.aborted) {
      throw new ImageDecodeError(
        'timeout',
        `Cannot decode image: decoding ran past timeoutSeconds (${options.timeoutSeconds})`,
        { cause: error },
      );
    }
    // A decoder bug on some unusual file must still end as a reason for that one image, never a crash.
    throw new ImageDecodeError('corrupt', `Cannot decode image: the decoder failed (${messageOf(error)})`, {
      cause: error,
    });
  } finally {
    releaseThread();
  }
  if (outcome.ok) return { width: outcome.width, height: outcome.height, pixels: outcome.pixels };
  throw new ImageDecodeError(
    outcome.reason,
    outcome.message,
    outcome.cause === null ? undefined : { cause: new Error(outcome.cause) },
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The compiled thread entry. From dist/ it sits beside this module; when this module runs from src/ (under
 * vitest, which transforms TypeScript but cannot start a .ts worker) the package's dist/ build is used.
 */
function threadScript(): string {
  const candidates = [
    new URL('./decode-thread.js', import.meta.url),
    new URL('../../dist/preprocess/decode-thread.js', import.meta.url),
  ];
  const found = candidates.find((url) => existsSync(url));
  if (found === undefined) {
    throw new VggError(
      'VGG_IMAGE_DECODE',
      `Cannot find the decode thread script (looked for ${candidates.map((url) => fileURLToPath(url)).join(' and ')}); build vgg-core with tsc -b`,
    );
  }
  return found.href;
}
