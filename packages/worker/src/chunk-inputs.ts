import {
  type ChunkJobData,
  chunkInputSha256,
  INPUTS_METADATA_KEY,
  keptColumnsOf,
  type RunSpec,
  tarMetadataOf,
} from 'vgg-pipeline';
import { errorRow, type RowResult } from './chunk-rows.js';
import type { ImageRequest, ImageStages } from './image-stages.js';
import type { TarShardRows } from './tar-shard-rows.js';

/** What a chunk's commit records besides its rows. */
export interface ChunkFacts {
  /** Extra file metadata of its shard (the tar shard it streamed, so retries and resumes can find it again). */
  metadata?: Record<string, string>;
  /** Non-image members of its tar shard. */
  skippedMembers?: number;
  /** Fingerprint of the chunk's input list (chunkInputSha256), in its record and its shard's metadata. */
  inputSha256?: string;
}

/** A chunk's rows, with the facts its commit records. */
export interface ChunkOutcome {
  rows: RowResult[];
  facts: ChunkFacts;
}

/**
 * The rows of a chunk: a tar chunk's from streaming its shard, an image chunk's one per URI in order, each with
 * the key and kept columns its job carries.
 */
export async function rowsOfChunk(
  data: ChunkJobData,
  spec: RunSpec,
  parts: { stages: ImageStages; tars: TarShardRows },
  request: ImageRequest,
): Promise<ChunkOutcome> {
  if (data.kind === 'tar') {
    const shard = data.uris[0] ?? '';
    const { rows, skippedMembers } = await parts.tars.run(shard, keptColumnsOf(spec), request);
    return { rows, facts: { ...inputFacts(data, spec), skippedMembers } };
  }
  const rows = await parts.stages.run(data.uris, request);
  return { rows: withInputColumns(data, rows), facts: inputFacts(data, spec) };
}

/**
 * The facts of what a chunk read: its fingerprint (over the run's URI columns too: a pair run's b images), and for
 * a tar chunk the shard it streamed.
 */
export function inputFacts(data: ChunkJobData, spec: Pick<RunSpec, 'input'>): ChunkFacts {
  const inputSha256 = chunkInputSha256(data, spec.input);
  return { metadata: { ...tarMetadataOf(data), [INPUTS_METADATA_KEY]: inputSha256 }, inputSha256 };
}

/**
 * The rows of a chunk that failed as a whole: one error row per image, with its key and kept columns, or one for
 * a tar chunk's shard (whose members were never listed), so the chunk is never lost and retry-failed finds it.
 */
export function failedRows(data: ChunkJobData, spec: Pick<RunSpec, 'input'>, reason: string): ChunkOutcome {
  const rows = data.uris.map((uri) => errorRow(uri, reason));
  return {
    rows: data.kind === 'tar' ? rows : withInputColumns(data, rows),
    facts: inputFacts(data, spec),
  };
}

function withInputColumns(data: ChunkJobData, rows: RowResult[]): RowResult[] {
  const { keys, cols } = data;
  if (keys === undefined && cols === undefined) return rows;
  const names = Object.keys(cols ?? {});
  return rows.map((row, i) => ({
    ...row,
    key: keys?.[i] ?? null,
    cols:
      cols === undefined ? null : Object.fromEntries(names.map((name) => [name, cols[name]?.[i] ?? null])),
  }));
}
