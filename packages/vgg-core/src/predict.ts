import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type ImageErrorReason, invalidOption, isVggError } from './errors.js';
import { float16ToFloat32 } from './half-float.js';
import type { InferenceEngine } from './inference-engine.js';
import type { EmbeddingDtype, InferenceRequest } from './inference-protocol.js';
import { classLabel } from './labels.js';
import { type DecodedImage, decodeImage } from './preprocess-decode.js';

export interface PredictOptions {
  /** Most probable classes reported per image; 0 for none (then taps are required). Default: 5. */
  topK?: number;
  /** Embedding taps reported per image (e.g. 'fc7'). Default: none. */
  taps?: readonly string[];
  /** Scale embeddings to unit L2 norm. Default: false. */
  l2Normalize?: boolean;
  /** Precision the embeddings are computed in before being reported as numbers. Default: 'float32'. */
  dtype?: EmbeddingDtype;
  /** Images decoded together and passed to one engine run. Default: 8. */
  batchSize?: number;
  /**
   * Directory (created if missing) that receives each decoded crop as `<file basename>.rgb`: raw uint8 HWC RGB,
   * cropSize² × 3 bytes, the input of scripts/numpy_reference.py. Files with equal basenames overwrite each other.
   * Default: none.
   */
  dumpPixelsDir?: string;
}

export interface ClassScore {
  classId: number;
  /** ImageNet name for 1000-class models, else `class_<id>`. */
  label: string;
  prob: number;
}

/** Why a file has no prediction: a decode failure, or `unreadable` when the file itself could not be read. */
export type PredictionErrorReason = ImageErrorReason | 'unreadable';

export type Prediction =
  | {
      file: string;
      ok: true;
      /** Size of the image after EXIF orientation, before resizing. */
      width: number;
      height: number;
      top: ClassScore[];
      /** Tap name to values (float16 embeddings are reported as the numbers they encode). */
      embeddings: Record<string, number[]>;
    }
  | { file: string; ok: false; error: PredictionErrorReason; message: string };

type Decoded = { file: string; image: DecodedImage } | Extract<Prediction, { ok: false }>;

/**
 * Classifies local image files with an engine, yielding one prediction per file in the given order. A file that
 * cannot be read or decoded yields an error prediction; it never stops the others. The next batch is decoded
 * while the current one runs.
 */
export async function* predictFiles(
  engine: InferenceEngine,
  files: readonly string[],
  options: PredictOptions = {},
): AsyncGenerator<Prediction, void, undefined> {
  const request: InferenceRequest = {
    topK: options.topK ?? 5,
    taps: options.taps ?? [],
    l2Normalize: options.l2Normalize ?? false,
    dtype: options.dtype ?? 'float32',
  };
  const batchSize = options.batchSize ?? 8;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw invalidOption('batchSize', 'positive integer', batchSize);
  // An empty run validates the request (taps, topK, dtype) before any file is read.
  await engine.run([], request);
  const { dumpPixelsDir } = options;
  if (dumpPixelsDir !== undefined) await mkdir(dumpPixelsDir, { recursive: true });
  const { numClasses } = engine.model.identity;

  const decodeBatch = (first: number) =>
    Promise.all(files.slice(first, first + batchSize).map((file) => decodeFile(engine, file, dumpPixelsDir)));
  const prefetch = (first: number) => {
    const batch = decodeBatch(first);
    // Awaited on the next iteration; until then a failure must not count as unhandled.
    batch.catch(() => undefined);
    return batch;
  };
  let next = prefetch(0);
  for (let first = 0; first < files.length; first += batchSize) {
    const decoded = await next;
    if (first + batchSize < files.length) next = prefetch(first + batchSize);
    const ok = decoded.filter((item): item is Extract<Decoded, { image: DecodedImage }> => 'image' in item);
    const result =
      ok.length > 0
        ? await engine.run(
            ok.map((item) => item.image.pixels),
            request,
          )
        : null;
    let row = 0;
    for (const item of decoded) {
      if (!('image' in item)) {
        yield item;
        continue;
      }
      const k = result!.topK.k;
      const top: ClassScore[] = [];
      for (let i = row * k; i < (row + 1) * k; i += 1) {
        const classId = result!.topK.classIds[i]!;
        top.push({ classId, label: classLabel(classId, numClasses), prob: result!.topK.probs[i]! });
      }
      const embeddings: Record<string, number[]> = {};
      for (const [tap, { dim, data }] of Object.entries(result!.embeddings)) {
        const values = data.subarray(row * dim, (row + 1) * dim);
        embeddings[tap] = Array.from(values instanceof Uint16Array ? float16ToFloat32(values) : values);
      }
      yield {
        file: item.file,
        ok: true,
        width: item.image.width,
        height: item.image.height,
        top,
        embeddings,
      };
      row += 1;
    }
  }
}

async function decodeFile(
  engine: InferenceEngine,
  file: string,
  dumpPixelsDir: string | undefined,
): Promise<Decoded> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    return {
      file,
      ok: false,
      error: 'unreadable',
      message: `Cannot read ${file}: ${(error as Error).message}`,
    };
  }
  try {
    const image = await decodeImage(bytes, engine.preprocess);
    // Written before the run, which takes the pixel buffer away.
    if (dumpPixelsDir !== undefined)
      await writeFile(join(dumpPixelsDir, `${basename(file)}.rgb`), image.pixels);
    return { file, image };
  } catch (error) {
    if (isVggError(error, 'VGG_IMAGE_DECODE'))
      return { file, ok: false, error: error.reason, message: error.message };
    throw error;
  }
}
