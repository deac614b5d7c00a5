// Entry of the decode threads (a piscina pool, see decode-pool.ts). Everything per image that runs in JavaScript
// (PIL's resample, BMP and Netpbm decoding, RGB conversion) happens here, never on the caller's event loop.
import { type ImageErrorReason, ImageDecodeError } from '../errors.js';
import type { ResolvedPreprocessOptions } from '../preprocess-options.js';
import { decodeFast } from './decode-fast.js';
import { decodeTorchvision } from './decode-torchvision.js';

export interface DecodeTask {
  bytes: Uint8Array;
  options: ResolvedPreprocessOptions;
}

/** Errors do not survive postMessage with their fields, so failures come back as data. */
export type DecodeOutcome =
  | { ok: true; width: number; height: number; pixels: Uint8Array<ArrayBuffer> }
  | { ok: false; reason: ImageErrorReason; message: string; cause: string | null };

export default async function decodeTask(task: DecodeTask): Promise<DecodeOutcome> {
  try {
    const image =
      task.options.pipeline === 'fast'
        ? await decodeFast(task.bytes, task.options)
        : await decodeTorchvision(task.bytes, task.options);
    return { ok: true, width: image.width, height: image.height, pixels: image.pixels };
  } catch (error) {
    if (!(error instanceof ImageDecodeError)) throw error;
    const { cause } = error;
    return {
      ok: false,
      reason: error.reason,
      message: error.message,
      cause: cause === undefined ? null : cause instanceof Error ? cause.message : String(cause),
    };
  }
}
