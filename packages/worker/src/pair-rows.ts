import { type ImageSize, MIN_NATIVE_SIDE, type ResolvedPreprocessOptions } from 'vgg-core';
import type { ChunkJobData, RunSpec } from 'vgg-pipeline';
import { type ChunkOutcome, inputFacts } from './chunk-inputs.js';
import { errorRow, type RowResult } from './chunk-rows.js';
import type { ImageStages } from './image-stages.js';

/** How one chunk of a pair run is turned into rows. */
export interface PairRequest {
  /** The run's preprocessing; with geometry 'native' (`--pair-size native`) images are decoded whole. */
  preprocess: ResolvedPreprocessOptions;
  /** Scores one pair of decoded crops, or of whole images of `size` (a PairScheduler of the chunk's model). */
  score: (a: Uint8Array, b: Uint8Array, size?: ImageSize) => Promise<Float32Array>;
  signal: AbortSignal;
}

const NO_INFERENCE = {
  classIds: new Int32Array(0),
  probs: new Float32Array(0),
  embeddings: {},
};

/**
 * The rows of a pair run's chunk: `uris` are the a images and column `b` the b images. Each pair is one row, in
 * order: both images go through the worker's fetch and decode stages (with their limits and retries), then
 * through the pair scheduler together. When either image fails, the row is an error naming it: `a:not_found`,
 * `b:corrupt`, or both (`a:timeout;b:not_found`). The row's width, height and sha256 are image a's.
 * With geometry 'native', a and b must be the same size (`size_mismatch:a=96x80,b=64x64` otherwise) and each side at
 * least MIN_NATIVE_SIDE (`too_small:a=8x8,b=8x8`).
 */
export async function rowsOfPairChunk(
  data: ChunkJobData,
  spec: Pick<RunSpec, 'input'>,
  stages: Pick<ImageStages, 'run'>,
  request: PairRequest,
): Promise<ChunkOutcome> {
  const bs = data.cols?.b ?? [];
  const rows = await Promise.all(
    data.uris.map(async (a, i) => {
      const cols = columnsAt(data, i);
      const key = data.keys?.[i] ?? null;
      const b = bs[i] ?? null;
      if (data.kind === 'tar') return { ...errorRow(a, 'a:tar_shard_in_pairs'), key, cols };
      if (b === null || b.trim() === '') return { ...errorRow(a, 'b:missing'), key, cols };
      const [left, right] = await Promise.all([decoded(a, stages, request), decoded(b, stages, request)]);
      const reasons = [
        ...(left.pixels === null ? [`a:${left.row.error}`] : []),
        ...(right.pixels === null ? [`b:${right.row.error}`] : []),
      ];
      if (left.pixels === null || right.pixels === null) {
        return { ...errorRow(a, reasons.join(';'), left.row.sha256), key, cols };
      }
      let size: ImageSize | undefined;
      if (request.preprocess.geometry === 'native') {
        const sizes = `a=${left.row.width}x${left.row.height},b=${right.row.width}x${right.row.height}`;
        if (left.row.width !== right.row.width || left.row.height !== right.row.height) {
          return { ...errorRow(a, `size_mismatch:${sizes}`, left.row.sha256), key, cols };
        }
        size = { width: left.row.width ?? 0, height: left.row.height ?? 0 };
        if (size.width < MIN_NATIVE_SIDE || size.height < MIN_NATIVE_SIDE) {
          return { ...errorRow(a, `too_small:${sizes}`, left.row.sha256), key, cols };
        }
      }
      const scores = await request.score(left.pixels, right.pixels, size);
      const row: RowResult = { ...left.row, uri: a, key, cols, scores };
      return row;
    }),
  );
  return { rows, facts: inputFacts(data, spec) };
}

/** One image through the fetch and decode stages, keeping its crop instead of inferring it. */
async function decoded(
  uri: string,
  stages: Pick<ImageStages, 'run'>,
  request: PairRequest,
): Promise<{ row: RowResult; pixels: Uint8Array | null }> {
  let pixels: Uint8Array | null = null;
  // No dedupScope: a shared outcome would skip the decode whose crop the pair needs.
  const [row] = await stages.run([uri], {
    preprocess: request.preprocess,
    signal: request.signal,
    infer: async (crop) => {
      pixels = crop;
      return NO_INFERENCE;
    },
  });
  const result = row ?? errorRow(uri, 'missing');
  return { row: result, pixels: result.status === 'ok' ? pixels : null };
}

function columnsAt(data: ChunkJobData, i: number): Record<string, string | null> | null {
  if (data.cols === undefined) return null;
  return Object.fromEntries(Object.entries(data.cols).map(([name, values]) => [name, values[i] ?? null]));
}
